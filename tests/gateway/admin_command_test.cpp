// `relaygw admin` option checks, run through the relaygw binary. Every command points --url
// at 127.0.0.1 port 1, where nothing listens, so a command that passes its checks fails to
// connect instead of reaching a server.
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/gateway/test_support.hpp"

namespace {

using relaygw::test::run_relaygw;
using relaygw::test::TempDir;

constexpr const char* kNoServerUrl = "http://127.0.0.1:1";
// An overlong encoding of '/', on which nlohmann::json::dump throws type_error 316.
const std::string kOverlongSlash = "an\xC0\xAF";

struct Rejection {
  std::string name;
  std::vector<std::string> arguments;  // after `relaygw admin --url ... --token-file ...`
  std::string option;                  // the option the message must name
};

std::vector<std::string> admin_arguments(const TempDir& dir, const std::vector<std::string>& rest) {
  std::vector<std::string> arguments = {"admin", "--url", kNoServerUrl, "--token-file",
                                        dir.file("token")};
  arguments.insert(arguments.end(), rest.begin(), rest.end());
  return arguments;
}

}  // namespace

TEST_CASE("admin command rejects invalid UTF-8", "[gateway][admin]") {
  TempDir dir;
  std::ofstream(dir.file("token")) << "test-token\n";
  const std::vector<Rejection> cases = {
      {"take-over staff", {"take-over", "--staff", kOverlongSlash, "c1"}, "--staff"},
      {"take-over call id", {"take-over", "--staff", "ana", kOverlongSlash}, "call"},
      {"accept staff", {"accept", "c1", "--staff", kOverlongSlash}, "--staff"},
      {"accept key", {"accept", "c1", "--staff", "ana", "--key", kOverlongSlash}, "--key"},
      {"quote access",
       {"quote", "--from", "3125550107", "--to", "2125550101", "--start",
        "2026-03-10T09:30:00-05:00", "--minutes", "2", "--access", kOverlongSlash},
       "--access"},
      {"quote from",
       {"quote", "--from", kOverlongSlash, "--to", "2125550101", "--start",
        "2026-03-10T09:30:00-05:00", "--minutes", "2"},
       "--from"},
      {"credit request text",
       {"credit", "request", "--call", "c1", "--line", "1", "--reason", "dropped-call", "--text",
        kOverlongSlash, "--key", "k1", "--staff", "ana"},
       "--text"},
      {"credit approve note",
       {"credit", "approve", "--credit", "cr1", "--staff", "ana", "--note", kOverlongSlash},
       "--note"},
      {"credit reject staff",
       {"credit", "reject", "--credit", "cr1", "--staff", kOverlongSlash},
       "--staff"},
      {"credit list call", {"credit", "list", "--call", kOverlongSlash}, "--call"},
      {"report time zone",
       {"report", "summary", "--from", "2026-03-01", "--to", "2026-03-31", "--time-zone",
        kOverlongSlash},
       "--time-zone"},
  };
  for (const Rejection& test : cases) {
    INFO(test.name);
    std::string output;
    const int status = run_relaygw(admin_arguments(dir, test.arguments), &output);
    INFO(output);
    CHECK(status != 0);
    CHECK(output.find(test.option + ": the value is not UTF-8 (byte 0x") != std::string::npos);
    CHECK(output.find("json.exception") == std::string::npos);
    // The check runs while parsing, before any connection is tried.
    CHECK(output.find("127.0.0.1:1") == std::string::npos);
  }
}

TEST_CASE("admin command rejects control characters in ids", "[gateway][admin]") {
  TempDir dir;
  std::ofstream(dir.file("token")) << "test-token\n";
  std::string output;
  const int status =
      run_relaygw(admin_arguments(dir, {"take-over", "--staff", "an\x1b[2Ja", "c1"}), &output);
  INFO(output);
  CHECK(status != 0);
  CHECK(output.find("--staff") != std::string::npos);
  CHECK(output.find("127.0.0.1:1") == std::string::npos);
}

TEST_CASE("admin command rejects blank staff names", "[gateway][admin]") {
  TempDir dir;
  std::ofstream(dir.file("token")) << "test-token\n";
  struct Case {
    std::vector<std::string> arguments;
    std::string expected;
  };
  const Case cases[] = {
      {{"take-over", "--staff", "", "c1"}, "--staff: the value is empty"},
      {{"accept", "--staff", "   ", "c1"}, "--staff: the value is blank"},
      {{"credit", "approve", "--credit", "cr1", "--staff", "\xE2\x80\x8B"},
       "--staff: the value is blank"},
      {{"credit", "request", "--call", "c1", "--line", "1", "--reason", "dropped", "--key", "k1",
        "--staff", "ana\xE2\x80\xAE"},
       "--staff: the value contains bidirectional control character U+202E at position 4"},
      {{"credit", "reject", "--credit", "cr\xE2\x81\xA6", "--staff", "sup"},
       "--credit: the value contains bidirectional control character U+2066 at position 3"},
  };
  for (const Case& test : cases) {
    std::string output;
    const int status = run_relaygw(admin_arguments(dir, test.arguments), &output);
    INFO(output);
    CHECK(status != 0);
    CHECK(output.find(test.expected) != std::string::npos);
    // The check runs while parsing, before any connection is tried.
    CHECK(output.find("127.0.0.1:1") == std::string::npos);
  }
}

TEST_CASE("admin command accepts UTF-8 free text", "[gateway][admin]") {
  TempDir dir;
  std::ofstream(dir.file("token")) << "test-token\n";
  std::string output;
  // Non-ASCII text passes the checks, so the command gets as far as connecting.
  const int status =
      run_relaygw(admin_arguments(dir, {"credit", "approve", "--credit", "cr1", "--staff", "José",
                                        "--note", "café\nsecond line"}),
                  &output);
  INFO(output);
  CHECK(status != 0);
  CHECK(output.find("not valid UTF-8") == std::string::npos);
  CHECK(output.find("127.0.0.1:1") != std::string::npos);
}
