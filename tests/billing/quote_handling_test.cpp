// Runs the real relaygw binary: the handling that `quote` and `call create` use when staff give
// no --handling, and the quote header that shows it.
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/billing/billing_test_support.hpp"

using relaygw::billing::testing::CommandRun;
using relaygw::billing::testing::run_relaygw;

namespace {

// A temp folder for one database, removed at the end of the test.
class QuoteHandlingFixture {
 public:
  QuoteHandlingFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-quote-handling-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~QuoteHandlingFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string db_option() const { return "--db '" + (dir_ / "billing.db").string() + "' "; }

  // Writes `text` to a file to use as a command's standard input, and returns its path.
  std::string input(const std::string& name, const std::string& text) const {
    const std::filesystem::path path = dir_ / name;
    FILE* file = std::fopen(path.string().c_str(), "w");
    REQUIRE(file != nullptr);
    std::fputs(text.c_str(), file);
    std::fclose(file);
    return path.string();
  }

 private:
  std::filesystem::path dir_;
};

const std::string kCardCall =
    "--from 3125550107 --to 2125550101 --billing calling-card --access none ";

}  // namespace

TEST_CASE_METHOD(QuoteHandlingFixture, "quote default matches posted call",
                 "[billing][quote][cli]") {
  const CommandRun quoted =
      run_relaygw("quote " + kCardCall + "--start 2026-03-10T14:00:00Z --minutes 5 --json");
  INFO(quoted.output);
  REQUIRE(quoted.status == 0);
  const nlohmann::json quote = nlohmann::json::parse(quoted.output);

  REQUIRE(run_relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  const CommandRun card =
      run_relaygw("card add " + db_option() + "--number 5550142000004 --balance 50.00",
                  input("pin", "739164\n"));
  INFO(card.output);
  REQUIRE(card.status == 0);
  const CommandRun created = run_relaygw("call create " + db_option() + "--id h1 " + kCardCall +
                                             "--card 5550142000004 --at 2026-03-10T14:00:00Z",
                                         input("pin", "739164\n"));
  INFO(created.output);
  REQUIRE(created.status == 0);
  REQUIRE(run_relaygw("call event " + db_option() +
                      "--id h1 --event connected --at 2026-03-10T14:00:00Z")
              .status == 0);
  const CommandRun completed = run_relaygw("call complete " + db_option() +
                                           "--id h1 --key h1-end --at 2026-03-10T14:05:00Z");
  INFO(completed.output);
  REQUIRE(completed.status == 0);

  const CommandRun show = run_relaygw("call show " + db_option() + "--id h1 --json");
  INFO(show.output);
  REQUIRE(show.status == 0);
  const nlohmann::json call = nlohmann::json::parse(show.output);
  CHECK(call["handling"] == "operator");
  CHECK(call["total"] == quote["total"]);
  CHECK(quote["handling"] == "operator");

  // Quoting with the handling named gives the same total, and automated handling another one.
  const CommandRun named = run_relaygw("quote " + kCardCall +
                                       "--start 2026-03-10T14:00:00Z --minutes 5 --json "
                                       "--handling operator");
  REQUIRE(named.status == 0);
  CHECK(nlohmann::json::parse(named.output)["total"] == quote["total"]);
  const CommandRun automated = run_relaygw("quote " + kCardCall +
                                           "--start 2026-03-10T14:00:00Z --minutes 5 --json "
                                           "--handling automated");
  REQUIRE(automated.status == 0);
  CHECK(nlohmann::json::parse(automated.output)["total"] != quote["total"]);
}

TEST_CASE("quote header names the handling", "[billing][quote][cli]") {
  const std::string call = "quote " + kCardCall + "--start 2026-03-10T14:00:00Z --minutes 5";
  const CommandRun by_default = run_relaygw(call);
  INFO(by_default.output);
  REQUIRE(by_default.status == 0);
  CHECK(by_default.output.find("operator handling (the default") != std::string::npos);

  const CommandRun automated = run_relaygw(call + " --handling automated");
  INFO(automated.output);
  REQUIRE(automated.status == 0);
  CHECK(automated.output.find("automated handling,") != std::string::npos);
  CHECK(automated.output.find("the default") == std::string::npos);
}
