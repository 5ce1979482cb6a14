// Output that cannot be written: standard output on /dev/full, an output file on /dev/full or
// in a missing folder, and a file write that fails part way. A file size limit of zero
// (`ulimit -f 0`) makes that write fail as a full disk would. Each command must exit 1, name
// what it could not write and the system's reason, and leave no partial file behind.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/gateway/test_support.hpp"

namespace relaygw::gateway {
namespace {

namespace fs = std::filesystem;

struct ShellRun {
  int status = -1;
  std::string errors;  // standard error
};

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// Runs `script` with /bin/sh and returns its exit status and standard error. The script
// redirects standard output itself.
ShellRun run_shell(const std::string& script) {
  const std::string command = "sh -c " + quoted(script) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  ShellRun run;
  std::array<char, 4096> chunk{};
  std::size_t read = 0;
  while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    run.errors.append(chunk.data(), read);
  }
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The shell words that run relaygw with `arguments`. No argument may contain a single quote,
// because the script is itself single-quoted.
std::string relaygw_words(const std::vector<std::string>& arguments) {
  std::string words = std::string("\"") + RELAYGW_BINARY + "\"";
  for (const std::string& argument : arguments) {
    words += " \"" + argument + "\"";
  }
  return words;
}

// Runs relaygw with standard output redirected to `target`.
ShellRun run_with_stdout(const std::vector<std::string>& arguments, const std::string& target) {
  return run_shell(relaygw_words(arguments) + " >" + target);
}

// Runs relaygw where no file may grow beyond 0 bytes, so every write to a regular file fails
// with EFBIG ("File too large"). The shell leaves SIGXFSZ at its default, which ends the
// process, so relaygw must ignore the signal itself to report the error and remove its
// temporary file. Standard output goes to /dev/null.
ShellRun run_without_file_space(const std::vector<std::string>& arguments) {
  return run_shell("ulimit -f 0; exec " + relaygw_words(arguments) + " >/dev/null");
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The names in `dir`, sorted, so a test can see that no temporary file was left behind.
std::vector<std::string> folder_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A billing database with one call and a TTY recording, for the commands below.
class OutputFixture {
 public:
  OutputFixture() {
    test::init_billing_database(db());
    std::string output;
    const int created =
        test::run_relaygw({"call", "create", "--db", db(), "--actor", "test", "--id", "c1",
                           "--from", "3125550107", "--to", "2125550101", "--billing", "collect",
                           "--access", "relay-tty", "--at", "2026-03-10T09:30:00-05:00"},
                          &output);
    INFO(output);
    REQUIRE(created == 0);
    const int encoded =
        test::run_relaygw({"tty", "encode", "--text", "HELLO GA", "-o", wav()}, &output);
    INFO(output);
    REQUIRE(encoded == 0);
  }

  std::string db() const { return dir.file("center.db"); }
  std::string wav() const { return dir.file("hello.wav"); }

  test::TempDir dir;
};

TEST_CASE("standard output on full disk fails", "[gateway][output]") {
  OutputFixture fixture;
  const std::string db = fixture.db();
  const std::vector<std::vector<std::string>> commands = {
      {"report", "summary", "--db", db, "--from", "2026-03-01", "--to", "2026-03-31"},
      {"report", "summary", "--db", db, "--from", "2026-03-01", "--to", "2026-03-31", "--json"},
      {"report", "summary", "--db", db, "--from", "2026-03-01", "--to", "2026-03-31", "--format",
       "csv"},
      {"call", "show", "--db", db, "--id", "c1"},
      {"line", "export", "--db", db},
      {"line", "export", "--db", db, "--file", "-"},
      {"credit", "list", "--db", db, "--json"},
      {"audit", "verify", "--db", db, "--json"},
      {"tty", "decode", fixture.wav()},
      {"certs", "generate", "--out", fixture.dir.file("certs"), "--provider", "x"},
      {"--help"},
  };
  for (const std::vector<std::string>& arguments : commands) {
    INFO(relaygw_words(arguments));
    // The command itself succeeds, so only the lost output can fail it.
    const ShellRun written = run_with_stdout(arguments, "/dev/null");
    INFO(written.errors);
    REQUIRE(written.status == 0);

    const ShellRun lost = run_with_stdout(arguments, "/dev/full");
    INFO(lost.errors);
    CHECK(lost.status == 1);
    CHECK_THAT(lost.errors, Catch::Contains("writing standard output failed"));
    CHECK_THAT(lost.errors, Catch::Contains("No space left on device"));
  }
}

TEST_CASE("line export unwritable file fails", "[gateway][output]") {
  OutputFixture fixture;
  const std::string db = fixture.db();

  SECTION("device that is full") {
    const ShellRun run =
        run_with_stdout({"line", "export", "--db", db, "--file", "/dev/full"}, "/dev/null");
    INFO(run.errors);
    CHECK(run.status == 1);
    CHECK_THAT(run.errors, Catch::Contains("writing '/dev/full' failed: No space left on device"));
  }
  SECTION("missing folder") {
    const std::string path = fixture.dir.file("missing/export.csv");
    const ShellRun run =
        run_with_stdout({"line", "export", "--db", db, "--file", path}, "/dev/null");
    INFO(run.errors);
    CHECK(run.status == 1);
    CHECK_THAT(run.errors,
               Catch::Contains("cannot create '" + path + "': No such file or directory"));
    CHECK_FALSE(fs::exists(path));
  }
  SECTION("write that fails part way") {
    const fs::path out = fixture.dir.path() / "out";
    fs::create_directories(out);
    const std::string path = (out / "export.csv").string();
    std::ofstream(path) << "earlier export\n";

    const ShellRun run = run_without_file_space({"line", "export", "--db", db, "--file", path});
    INFO(run.errors);
    CHECK(run.status == 1);
    CHECK_THAT(run.errors, Catch::Contains("writing '" + path + "' failed: File too large"));
    CHECK(read_text(path) == "earlier export\n");
    CHECK(folder_names(out) == std::vector<std::string>{"export.csv"});
  }
  SECTION("symbolic link kept") {
    const std::string target = fixture.dir.file("target.csv");
    const std::string link = fixture.dir.file("link.csv");
    std::ofstream(target) << "earlier export\n";
    fs::create_symlink(target, link);
    const ShellRun run =
        run_with_stdout({"line", "export", "--db", db, "--file", link}, "/dev/null");
    INFO(run.errors);
    CHECK(run.status == 0);
    CHECK(fs::is_symlink(link));
    CHECK(read_text(target).rfind("number,listing_name,", 0) == 0);
  }
  SECTION("replaced file keeps its mode") {
    const std::string path = fixture.dir.file("private.csv");
    std::ofstream(path) << "earlier export\n";
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    const ShellRun run =
        run_with_stdout({"line", "export", "--db", db, "--file", path}, "/dev/null");
    INFO(run.errors);
    CHECK(run.status == 0);
    CHECK(read_text(path).rfind("number,listing_name,", 0) == 0);
    CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  }
  SECTION("file written whole") {
    const std::string path = fixture.dir.file("export.csv");
    const ShellRun run =
        run_with_stdout({"line", "export", "--db", db, "--file", path}, "/dev/null");
    INFO(run.errors);
    CHECK(run.status == 0);
    CHECK(read_text(path).rfind("number,listing_name,", 0) == 0);
  }
}

TEST_CASE("report chart unwritable file fails", "[gateway][output]") {
  OutputFixture fixture;
  const std::vector<std::string> report = {"report",     "summary",    "--db",
                                           fixture.db(), "--from",     "2026-03-01",
                                           "--to",       "2026-03-31", "--chart"};

  SECTION("device that is full") {
    std::vector<std::string> arguments = report;
    arguments.push_back("/dev/full");
    const ShellRun run = run_with_stdout(arguments, "/dev/null");
    INFO(run.errors);
    CHECK(run.status == 1);
    CHECK_THAT(run.errors,
               Catch::Contains("--chart: writing '/dev/full' failed: No space left on device"));
  }
  SECTION("write that fails part way") {
    const fs::path out = fixture.dir.path() / "out";
    fs::create_directories(out);
    std::vector<std::string> arguments = report;
    arguments.push_back((out / "chart.svg").string());
    const ShellRun run = run_without_file_space(arguments);
    INFO(run.errors);
    CHECK(run.status == 1);
    CHECK_THAT(run.errors, Catch::Contains("chart.svg' failed: File too large"));
    CHECK(folder_names(out).empty());
  }
}

TEST_CASE("certs generate without space fails", "[gateway][output]") {
  test::TempDir dir;
  const fs::path out = dir.path() / "certs";
  const ShellRun run =
      run_without_file_space({"certs", "generate", "--out", out.string(), "--provider", "x"});
  INFO(run.errors);
  CHECK(run.status == 1);
  CHECK_THAT(run.errors, Catch::Contains("ca.pem' failed: File too large"));
  // No empty or partial PEM file is left to look like a certificate.
  REQUIRE(fs::is_directory(out));
  CHECK(folder_names(out).empty());
}

TEST_CASE("tty encode without space fails", "[gateway][output]") {
  test::TempDir dir;
  const std::string path = dir.file("call.wav");
  const ShellRun run = run_without_file_space({"tty", "encode", "--text", "HELLO GA", "-o", path});
  INFO(run.errors);
  CHECK(run.status == 1);
  CHECK_THAT(run.errors, Catch::Contains("writing '" + path + "' failed: File too large"));
  CHECK(folder_names(dir.path()).empty());
}

}  // namespace
}  // namespace relaygw::gateway
