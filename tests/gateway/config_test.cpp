// load_config on the shipped sample and on files with mistakes.
#include <fstream>

#include <catch2/catch.hpp>

#include "gateway/server/config.hpp"
#include "tests/gateway/test_support.hpp"

namespace relaygw::gateway::server {
namespace {

std::string write_file(const test::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("relaygw.toml");
  std::ofstream(path) << text;
  return path;
}

// Loads `text` and returns the error message; fails the test if it loads.
std::string load_error(const std::string& text) {
  test::TempDir dir;
  auto config = load_config(write_file(dir, text));
  REQUIRE_FALSE(config);
  return config.status().message();
}

const char* const kMinimal = R"(
[provider_link]
certificate_file = "certs/server.pem"
private_key_file = "certs/server-key.pem"
client_ca_file = "certs/ca.pem"
[admin]
enabled = false
)";

}  // namespace

TEST_CASE("config sample listens on loopback only", "[gateway][config]") {
  const std::string path = std::string(RELAYGW_SOURCE_DIR) + "/config/relaygw.toml";
  auto config = load_config(path);
  INFO((config ? "" : config.status().message()));
  REQUIRE(config);
  CHECK(config->provider_link.listen.address == "127.0.0.1");
  CHECK(config->tty_lines.listen.address == "127.0.0.1");
  CHECK(config->admin.listen.address == "127.0.0.1");
  REQUIRE_FALSE(config->emergency.routes.empty());
  bool has_default = false;
  for (const PsapRoute& route : config->emergency.routes) {
    CHECK(route.endpoint.address == "127.0.0.1");
    has_default = has_default || route.default_route;
  }
  CHECK(has_default);
  // Relative paths are resolved against the file's folder.
  const std::string config_dir = std::string(RELAYGW_SOURCE_DIR) + "/config/";
  CHECK(config->provider_link.certificate_file == config_dir + "certs/server.pem");
  CHECK(config->billing.database == std::string(RELAYGW_SOURCE_DIR) + "/out/relaygw.db");
  CHECK(config->emergency.spool_file ==
        std::string(RELAYGW_SOURCE_DIR) + "/out/emergency-spool.jsonl");
}

TEST_CASE("config reads every section's keys", "[gateway][config]") {
  test::TempDir dir;
  auto config = load_config(
      write_file(dir, "worker_threads = 3\n[server]\nclock_start = \"2026-03-10T15:00:00Z\"\n" +
                          std::string(kMinimal) + R"(
[tty_lines]
listen = { address = "::1", port = 0 }
max_lines = 10
tty_detect_timeout_seconds = 4
acceptance_timeout_seconds = 30
idle_timeout_seconds = 60
[emergency]
reserved_threads = 2
redial_interval_ms = 250
max_redials = 5
spool_file = "/var/tmp/spool.jsonl"
[[psap]]
id = "psap-a"
address = "127.0.0.1"
port = 7911
states = ["NY", "NJ"]
area_codes = ["212"]
[billing]
database = "data/gw.db"
actor = "gateway-2"
)"));
  INFO((config ? "" : config.status().message()));
  REQUIRE(config);
  CHECK(config->worker_threads == 3);
  REQUIRE(config->clock_start.has_value());
  CHECK(relay::format_instant(*config->clock_start) == "2026-03-10T15:00:00.000Z");
  CHECK(config->tty_lines.listen.address == "::1");
  CHECK(config->tty_lines.listen.port == 0);
  CHECK(config->tty_lines.max_lines == 10);
  CHECK(config->tty_lines.tty_detect_timeout == std::chrono::seconds(4));
  CHECK(config->tty_lines.acceptance_timeout == std::chrono::seconds(30));
  CHECK(config->tty_lines.idle_timeout == std::chrono::seconds(60));
  CHECK(config->emergency.reserved_threads == 2);
  CHECK(config->emergency.redial_interval == std::chrono::milliseconds(250));
  CHECK(config->emergency.max_redials == 5);
  CHECK(config->emergency.spool_file == "/var/tmp/spool.jsonl");
  REQUIRE(config->emergency.routes.size() == 1);
  CHECK(config->emergency.routes[0].states == std::vector<std::string>{"NY", "NJ"});
  CHECK(config->emergency.routes[0].area_codes == std::vector<std::string>{"212"});
  CHECK(config->emergency.routes[0].endpoint.port == 7911);
  CHECK(config->billing.database == dir.file("data/gw.db"));
  CHECK(config->billing.actor == "gateway-2");
}

TEST_CASE("config errors name file key and fix", "[gateway][config]") {
  SECTION("port out of range") {
    const std::string message = load_error(std::string(kMinimal) + R"(
[tty_lines]
listen = { address = "127.0.0.1", port = 70000 }
)");
    CHECK(message.find("relaygw.toml") != std::string::npos);
    CHECK(message.find("[tty_lines]") != std::string::npos);
    CHECK(message.find("70000") != std::string::npos);
    CHECK(message.find("65535") != std::string::npos);
  }
  SECTION("replay clock past the storable range") {
    // Calls stamped after 2099-12-31T09:59:59Z cannot be stored, so a replay clock that
    // starts there would lose every call and emergency record of the day.
    const std::string message = load_error(std::string(kMinimal) +
                                           "[server]\nclock_start = \"2099-12-31T23:59:59Z\"\n");
    CHECK(message.find("[server]") != std::string::npos);
    CHECK(message.find("2099-12-31T23:59:59") != std::string::npos);
    CHECK(message.find("2099-12-29T09:59:59") != std::string::npos);
  }
  SECTION("misspelt key") {
    const std::string message =
        load_error(std::string(kMinimal) + "[billing]\ndatabse = \"x.db\"\n");
    CHECK(message.find("databse") != std::string::npos);
    CHECK(message.find("database") != std::string::npos);
  }
  SECTION("billing actor that staff names may not be") {
    // The actor is stored with every write, as a staff name given with --actor is.
    const struct {
      std::string toml_value;
      std::string expected;
    } cases[] = {
        {R"("")", "actor is empty; name who the gateway records"},
        {R"("  ")", "actor is blank"},
        {R"("\u3000\u200B")", "actor is blank"},
        {R"("gw\u202Eyaw")", "bidirectional control character U+202E at position 3"},
        {R"("gw\u2066")", "U+2066"},
        {R"("gw\u2028bel")", "line separator U+2028"},
        {R"("gw\u0007bel")", "control character U+0007"},
        {R"("gw\nbel")", "line break"},
        {"\"" + std::string(201, 'g') + "\"", "201 bytes"},
        {R"("4111 1111 1111 9876")", "card number"},
    };
    for (const auto& bad : cases) {
      INFO(bad.toml_value);
      const std::string message =
          load_error(std::string(kMinimal) + "[billing]\nactor = " + bad.toml_value + "\n");
      CHECK(message.find("[billing]") != std::string::npos);
      CHECK(message.find(bad.expected) != std::string::npos);
      CHECK(message.find("4111 1111 1111 9876") == std::string::npos);
    }
  }
  SECTION("address that is a host name") {
    const std::string message =
        load_error(std::string(kMinimal) + "[tty_lines]\nlisten.address = \"localhost\"\n");
    CHECK(message.find("localhost") != std::string::npos);
    CHECK(message.find("IP address") != std::string::npos);
  }
  SECTION("PSAP route with bad state") {
    const std::string message = load_error(std::string(kMinimal) + R"(
[[psap]]
id = "p"
address = "127.0.0.1"
port = 9
states = ["New York"]
)");
    CHECK(message.find("New York") != std::string::npos);
    CHECK(message.find("two-letter") != std::string::npos);
  }
  SECTION("PSAP route with unknown state") {
    const std::string message = load_error(std::string(kMinimal) + R"(
[[psap]]
id = "p"
address = "127.0.0.1"
port = 9
states = ["NY", "ZZ"]
)");
    CHECK(message.find("\"ZZ\"") != std::string::npos);
    CHECK(message.find("postal code") != std::string::npos);
  }
  SECTION("PSAP route with port 0") {
    const std::string message = load_error(std::string(kMinimal) + R"(
[[psap]]
id = "p"
address = "127.0.0.1"
port = 0
default = true
)");
    CHECK(message.find("port = 0") != std::string::npos);
    CHECK(message.find("1 to 65535") != std::string::npos);
    CHECK(message.find("has no port") == std::string::npos);
  }
  SECTION("two default PSAP routes") {
    const std::string message = load_error(std::string(kMinimal) + R"(
[[psap]]
id = "psap-a"
address = "127.0.0.1"
port = 9
default = true
[[psap]]
id = "psap-b"
address = "127.0.0.1"
port = 10
default = true
)");
    CHECK(message.find("[[psap]] number 2") != std::string::npos);
    CHECK(message.find("\"psap-a\" is already the default") != std::string::npos);
    CHECK(message.find("one route only") != std::string::npos);
  }
  SECTION("credit policy file is the configuration") {
    const std::string message =
        load_error(std::string(kMinimal) + "[billing]\ncredit_policy_file = \"relaygw.toml\"\n");
    CHECK(message.find("relaygw.toml\" is this configuration file itself") != std::string::npos);
    CHECK(message.find("credit-policy.toml") != std::string::npos);
  }
  SECTION("clock skew out of range") {
    const std::string message =
        load_error(std::string(kMinimal) + "[billing]\nmax_clock_skew_seconds = 5\n");
    CHECK(message.find("max_clock_skew_seconds = 5") != std::string::npos);
    CHECK(message.find("60 to 604800") != std::string::npos);
  }
  SECTION("clock tolerance out of range") {
    const std::string message =
        load_error(std::string(kMinimal) + "[billing]\nclock_tolerance_seconds = 90000\n");
    CHECK(message.find("clock_tolerance_seconds = 90000") != std::string::npos);
    CHECK(message.find("0 to 86400") != std::string::npos);
  }
  SECTION("two listeners on one port") {
    const std::string message = load_error(std::string(kMinimal) + R"(
[tty_lines]
listen = { address = "127.0.0.1", port = 7443 }
)");
    CHECK(message.find("7443") != std::string::npos);
  }
  SECTION("provider link without certificates") {
    const std::string message = load_error("[admin]\nenabled = false\n");
    CHECK(message.find("certificate_file") != std::string::npos);
    CHECK(message.find("relaygw certs generate") != std::string::npos);
  }
  SECTION("TOML syntax error") {
    const std::string message = load_error("worker_threads = = 2\n");
    CHECK(message.find("line 1") != std::string::npos);
  }
  SECTION("wrong value type") {
    const std::string message = load_error("worker_threads = \"two\"\n" + std::string(kMinimal));
    CHECK(message.find("worker_threads") != std::string::npos);
  }
}

TEST_CASE("config rejects quoted ports", "[gateway][config]") {
  for (const std::string port : {"\"\"", "\"7443\"", "\"abc\""}) {
    INFO("port = " << port);
    const std::string message = load_error(std::string(kMinimal) +
                                           "[tty_lines]\nlisten = { address = \"127.0.0.1\", "
                                           "port = " +
                                           port + " }\n");
    CHECK(message.find("[tty_lines] listen.port = " + port + " is not a TCP port") !=
          std::string::npos);
    CHECK(message.find("without quotes") != std::string::npos);
  }

  // A PSAP route is dialed, so its message offers no port 0.
  const std::string message = load_error(std::string(kMinimal) +
                                         "[[psap]]\nid = \"p\"\naddress = \"127.0.0.1\"\n"
                                         "port = \"7911\"\ndefault = true\n");
  CHECK(message.find("port = \"7911\" is not a TCP port") != std::string::npos);
  CHECK(message.find("1 to 65535") != std::string::npos);
  CHECK(message.find("or 0") == std::string::npos);
}

TEST_CASE("config rejects non-text files", "[gateway][config]") {
  struct Case {
    std::string name;
    std::string bytes;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"empty file", "", "is empty; copy config/relaygw.toml there"},
      {"only blank lines", "\n  \n\t\r\n", "is empty; copy config/relaygw.toml there"},
      {"binary file",
       std::string("\x7F"
                   "ELF\x02\x01\x01\0\0\0",
                   10),
       "is not a TOML text file: line 1, column 1 has the control byte 0x7F"},
      {"NUL byte on line two", std::string("worker_threads = 2\nx\0y", 22),
       "is not a TOML text file: line 2, column 2 has the control byte 0x00"},
      {"Latin-1 text", "# caf\xE9 menu\nworker_threads = 2\n",
       "is not a TOML text file: line 1, column 6 has the byte 0xE9, which is not valid UTF-8"},
      {"overlong UTF-8", "worker_threads = 2\n# \xC0\xAF\n",
       "line 2, column 3 has the byte 0xC0, which is not valid UTF-8"},
      {"UTF-16 surrogate in UTF-8", "# \xED\xA0\x80\n",
       "line 1, column 3 has the byte 0xED, which is not valid UTF-8"},
  };
  test::TempDir dir;
  for (const Case& test : cases) {
    INFO(test.name);
    const std::string path = dir.file("relaygw.toml");
    std::ofstream(path, std::ios::binary) << test.bytes;
    auto config = load_config(path);
    REQUIRE_FALSE(config);
    const std::string& message = config.status().message();
    INFO(message);
    CHECK(config.status().code() == StatusCode::InvalidArgument);
    CHECK(message.find("configuration file '" + path + "'") != std::string::npos);
    CHECK(message.find(test.expected) != std::string::npos);
    // These messages come before the TOML parser, so none quotes its wording.
    CHECK(message.find("Encountered") == std::string::npos);
  }

  // Text in UTF-8 beyond ASCII stays valid.
  const std::string path = dir.file("accents.toml");
  std::ofstream(path, std::ios::binary) << "# caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x9E\n"
                                        << kMinimal;
  auto config = load_config(path);
  INFO((config ? "" : config.status().message()));
  CHECK(config);
}

TEST_CASE("config billing time limits read", "[gateway][config]") {
  test::TempDir dir;
  auto defaults = load_config(write_file(dir, kMinimal));
  REQUIRE(defaults);
  CHECK(defaults->billing.max_clock_skew == std::chrono::hours(12));
  CHECK(defaults->billing.max_call_length == std::chrono::hours(24));
  CHECK(defaults->billing.clock_tolerance == std::chrono::seconds(5));
  auto config = load_config(write_file(
      dir, std::string(kMinimal) +
               "[billing]\nmax_clock_skew_seconds = 600\nmax_call_length_seconds = 7200\n"
               "clock_tolerance_seconds = 30\n"));
  REQUIRE(config);
  CHECK(config->billing.max_clock_skew == std::chrono::seconds(600));
  CHECK(config->billing.clock_tolerance == std::chrono::seconds(30));
  CHECK(config->billing.max_call_length == std::chrono::seconds(7200));
}

TEST_CASE("config folder path is rejected", "[gateway][config]") {
  test::TempDir dir;
  auto config = load_config(dir.path().string());
  REQUIRE_FALSE(config);
  CHECK(config.status().code() == StatusCode::InvalidArgument);
  CHECK(config.status().message().find("is a folder") != std::string::npos);
  CHECK(config.status().message().find(dir.path().string()) != std::string::npos);
}

TEST_CASE("config missing file is not found", "[gateway][config]") {
  auto config = load_config("/nonexistent/relaygw.toml");
  REQUIRE_FALSE(config);
  CHECK(config.status().code() == StatusCode::NotFound);
  CHECK(config.status().message().find("/nonexistent/relaygw.toml") != std::string::npos);
}

}  // namespace relaygw::gateway::server
