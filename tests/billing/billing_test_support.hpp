// Helpers for billing tests: the bundled number plan, a flat-rate deck, and running the relaygw
// binary as a real process.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"

namespace relaygw::billing::testing {

// Sets $USER, or unsets it for a null value, while it exists. The relaygw commands a test runs
// inherit this process's environment, so the earlier value is restored when the test ends.
class ScopedUserVariable {
 public:
  explicit ScopedUserVariable(const char* value) {
    const char* saved = std::getenv("USER");
    had_value_ = saved != nullptr;
    saved_ = had_value_ ? saved : "";
    const int changed = value != nullptr ? ::setenv("USER", value, 1) : ::unsetenv("USER");
    REQUIRE(changed == 0);
  }
  ~ScopedUserVariable() {
    if (had_value_) {
      ::setenv("USER", saved_.c_str(), 1);
    } else {
      ::unsetenv("USER");
    }
  }
  ScopedUserVariable(const ScopedUserVariable&) = delete;
  ScopedUserVariable& operator=(const ScopedUserVariable&) = delete;

 private:
  bool had_value_ = false;
  std::string saved_;
};

// Returns the number plan loaded once from the repository's data/ folder.
inline const NumberPlan& bundled_number_plan() {
  static const NumberPlan plan = [] {
    auto loaded = NumberPlan::load(std::string(RELAYGW_SOURCE_DIR) + "/data");
    if (!loaded) {
      FAIL(loaded.status().message());
    }
    return std::move(loaded).value();
  }();
  return plan;
}

// Returns a deck with one version in force from 2020-01-01 that charges `per_minute` (a
// dollar string such as "0.0400") in every jurisdiction and period. `version_settings` is
// TOML added to the version, such as "initial_seconds = 60\n".
inline RateDeck flat_rate_deck(const std::string& per_minute,
                               const std::string& version_settings = "") {
  std::string text =
      "name = \"flat rate test\"\n[[version]]\nname = \"v1\"\neffective = "
      "2020-01-01\n" +
      version_settings;
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"" + per_minute + "\" }\n";
  }
  auto deck = RateDeck::parse(text, "flat-rate-test.toml");
  if (!deck) {
    FAIL(deck.status().message());
  }
  return std::move(deck).value();
}

struct CommandRun {
  int status = -1;
  std::string output;  // standard output and standard error together
};

// Runs relaygw with `arguments` (already shell-quoted) and standard input from the file
// `input`. The output has standard error after standard output unless `with_stderr` is false.
inline CommandRun run_relaygw(const std::string& arguments,
                              const std::string& input = "/dev/null", bool with_stderr = true) {
  const std::string command = std::string("'") + RELAYGW_BINARY + "' " + arguments + " <'" +
                              input + (with_stderr ? "' 2>&1" : "' 2>/dev/null");
  CommandRun run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t read = 0;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    run.output.append(buffer, read);
  }
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// A temporary folder with a database made by `relaygw db init` (billing.db) and a PIN file
// (1234) that relaygw() feeds on standard input. The folder is removed afterwards.
class CommandDatabaseFixture {
 public:
  explicit CommandDatabaseFixture(const std::string& folder_prefix) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           (folder_prefix + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    std::ofstream(path("pin")) << "1234\n";
    REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  }
  ~CommandDatabaseFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  CommandDatabaseFixture(const CommandDatabaseFixture&) = delete;
  CommandDatabaseFixture& operator=(const CommandDatabaseFixture&) = delete;

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string db_option() const { return "--db '" + path("billing.db") + "' "; }

  // Runs relaygw with `arguments` (already shell-quoted) and the PIN 1234 on standard input.
  // The output has standard output and standard error together.
  CommandRun relaygw(const std::string& arguments) { return run_relaygw(arguments, path("pin")); }

 private:
  std::filesystem::path dir_;
};

}  // namespace relaygw::billing::testing
