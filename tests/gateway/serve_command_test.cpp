// `relaygw serve` and `relaygw certs generate` run as real processes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/sqlite_store.hpp"
#include "relay-adapters/events.hpp"
#include "tests/gateway/test_support.hpp"

extern char** environ;

namespace relaygw::gateway::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A `relaygw serve` child process with its standard output on a pipe.
class ServeProcess {
 public:
  ServeProcess(const std::string& config_path, const std::string& log_path) {
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> arguments = {RELAYGW_BINARY, "--log-level", "info",
                                          "serve",        "--config",    config_path};
    std::vector<char*> argv;
    for (std::string& argument : arguments) {
      argv.push_back(argument.data());
    }
    argv.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, RELAYGW_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    REQUIRE(spawned == 0);
    out_fd_ = pipe_fds[0];
  }

  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_fd_);
  }

  // Reads standard output until a line matches `pattern`; returns the match or fails.
  std::smatch wait_for_line(const std::regex& pattern, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        line_ = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        std::smatch match;
        if (std::regex_search(line_, match, pattern)) {
          return match;
        }
        continue;
      }
      pollfd descriptor{out_fd_, POLLIN, 0};
      if (poll(&descriptor, 1, 100) > 0) {
        char chunk[1024];
        const ssize_t n = read(out_fd_, chunk, sizeof(chunk));
        if (n <= 0) {
          break;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
      }
    }
    FAIL("relaygw serve printed no line matching the expected pattern in time");
    return {};
  }

  // Sends `signal` and returns the exit status, or -1 when the process did not exit normally
  // within `timeout`.
  int stop(int signal, std::chrono::milliseconds timeout) {
    kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::string line_;
};

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

json read_json(test::TlsLineClient& client) {
  const std::optional<std::string> line = client.read_line();
  REQUIRE(line.has_value());
  return json::parse(*line, nullptr, false);
}

// An instant `seconds` after the test started, as RFC 3339 (see provider_link_test.cpp).
std::string later(int seconds) {
  static const auto start =
      std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return relay::format_instant(start + std::chrono::seconds(seconds));
}

std::string message(json body) { return body.dump() + "\n"; }

// A provider link on 127.0.0.1 with the files `relaygw certs generate --out certs` writes, and
// the TTY line and admin listeners off.
const std::string kProviderLinkOnly =
    "[provider_link]\n"
    "listen = { address = \"127.0.0.1\", port = 0 }\n"
    "certificate_file = \"certs/server.pem\"\n"
    "private_key_file = \"certs/server-key.pem\"\n"
    "client_ca_file = \"certs/ca.pem\"\n"
    "[tty_lines]\nenabled = false\n"
    "[admin]\nenabled = false\n";

// Writes a `relaygw serve` configuration to `path`: `listeners` (sections), an emergency spool
// and one default PSAP route to the loopback PSAP at `psap_port`, then the [billing] section
// with `billing_keys`.
void write_serve_config(const std::string& path, const std::string& listeners,
                        std::uint16_t psap_port, const std::string& billing_keys) {
  std::ofstream(path) << listeners << "[emergency]\nspool_file = \"spool.jsonl\"\n"
                      << "[[psap]]\nid = \"psap-test\"\naddress = \"127.0.0.1\"\n"
                      << "port = " << psap_port << "\ndefault = true\n"
                      << "[billing]\n"
                      << billing_keys;
}

// [billing] keys for the database `file` in the configuration's folder and the bundled data.
std::string billing_keys(const std::string& file) {
  return "database = \"" + file + "\"\ndata_dir = \"" + test::source_data_dir() + "\"\n";
}

}  // namespace

TEST_CASE("certs generate writes provider certificate", "[gateway][serve]") {
  test::TempDir dir;
  std::string output;
  const int status = test::run_relaygw({"certs", "generate", "--out", dir.file("certs"),
                                        "--provider", "acme", "--provider", "beacon"},
                                       &output);
  INFO(output);
  REQUIRE(status == 0);
  for (const char* name : {"ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "acme.pem",
                           "acme-key.pem", "beacon.pem", "beacon-key.pem"}) {
    INFO(name);
    CHECK(std::filesystem::exists(dir.path() / "certs" / name));
  }
  const auto permissions =
      std::filesystem::status(dir.path() / "certs" / "acme-key.pem").permissions();
  CHECK((permissions & std::filesystem::perms::others_read) == std::filesystem::perms::none);
  CHECK((permissions & std::filesystem::perms::group_read) == std::filesystem::perms::none);

  const int bad = test::run_relaygw(
      {"certs", "generate", "--out", dir.file("certs"), "--provider", "no/slash"}, &output);
  CHECK(bad == 1);
  CHECK(output.find("no/slash") != std::string::npos);
}

TEST_CASE("serve stops on SIGTERM keeping records", "[gateway][serve]") {
  test::TempDir dir;
  test::TestPsap psap;
  std::string output;
  REQUIRE(test::run_relaygw({"certs", "generate", "--out", dir.file("certs"), "--provider", "acme"},
                            &output) == 0);
  test::init_billing_database(dir.file("relaygw.db"));
  const std::string config_path = dir.file("relaygw.toml");
  write_serve_config(config_path, "worker_threads = 2\n" + kProviderLinkOnly, psap.port(),
                     billing_keys("relaygw.db"));

  const std::regex listening("^provider_link listening 127\\.0\\.0\\.1:([0-9]+)$");
  const json session = {{"type", "session.open"}, {"session", "S-1"},
                        {"service", "relay-tty"}, {"caller", "+12125550101"},
                        {"location", "New York"}, {"agent", "CA-1"}};
  {
    ServeProcess serve(config_path, dir.file("serve-1.log"));
    const std::smatch bound = serve.wait_for_line(listening, 20s);
    const auto port = static_cast<std::uint16_t>(std::stoi(bound[1].str()));
    serve.wait_for_line(std::regex("^relaygw serve ready$"), 10s);

    test::TlsLineClient client(port, dir.file("certs/ca.pem"), dir.file("certs/acme.pem"),
                               dir.file("certs/acme-key.pem"));
    REQUIRE(client.connect().empty());
    REQUIRE(client.send(message(session)));
    CHECK(read_json(client)["type"] == "ack");
    for (const std::string call : {"C-done", "C-open"}) {
      REQUIRE(client.send(message({{"type", "call.request"},
                                   {"session", "S-1"},
                                   {"call", call},
                                   {"to", "+13125550104"},
                                   {"billing", "sent-paid"},
                                   {"idempotency_key", call + ":request"}})));
      CHECK(read_json(client)["type"] == "quote");
      CHECK(read_json(client)["result"] == "accepted");
      REQUIRE(client.send(message({{"type", "call.connect"},
                                   {"call", call},
                                   {"at", later(60)},
                                   {"idempotency_key", call + ":connect"}})));
      CHECK(read_json(client)["type"] == "ack");
    }
    REQUIRE(client.send(message({{"type", "call.disconnect"},
                                 {"call", "C-done"},
                                 {"at", later(240)},
                                 {"idempotency_key", "C-done:disconnect"}})));
    CHECK(read_json(client)["type"] == "ack");

    const int status = serve.stop(SIGTERM, 20s);
    INFO(read_file(dir.file("serve-1.log")));
    CHECK(status == 0);
    const std::string log = read_file(dir.file("serve-1.log"));
    CHECK(log.find("provider link listening on 127.0.0.1:") != std::string::npos);
    CHECK(log.find("relaygw serve stopped") != std::string::npos);
  }

  std::string verify_output;
  const int verified =
      test::run_relaygw({"audit", "verify", "--db", dir.file("relaygw.db")}, &verify_output);
  INFO(verify_output);
  CHECK(verified == 0);
  {
    auto store = billing::SqliteStore::open(dir.file("relaygw.db"));
    REQUIRE(store);
    auto done = (*store)->find_call("acme/C-done");
    REQUIRE(done);
    REQUIRE(done->has_value());
    CHECK((*done)->posting.has_value());
    CHECK((*done)->request.access == billing::AccessTag::RelayTty);
    // A shutdown posts nothing on the provider's behalf: the open call stays open.
    auto open = (*store)->find_call("acme/C-open");
    REQUIRE(open);
    REQUIRE(open->has_value());
    CHECK_FALSE((*open)->posting.has_value());
  }

  // After a restart the provider disconnects the open call, and it is posted once.
  ServeProcess serve(config_path, dir.file("serve-2.log"));
  const std::smatch bound = serve.wait_for_line(listening, 20s);
  const auto port = static_cast<std::uint16_t>(std::stoi(bound[1].str()));
  test::TlsLineClient client(port, dir.file("certs/ca.pem"), dir.file("certs/acme.pem"),
                             dir.file("certs/acme-key.pem"));
  REQUIRE(client.connect().empty());
  for (int delivery = 0; delivery < 2; ++delivery) {
    REQUIRE(client.send(message({{"type", "call.disconnect"},
                                 {"call", "C-open"},
                                 {"at", later(360)},
                                 {"idempotency_key", "C-open:disconnect"}})));
    CHECK(read_json(client)["type"] == "ack");
  }
  CHECK(serve.stop(SIGINT, 20s) == 0);
  auto store = billing::SqliteStore::open(dir.file("relaygw.db"));
  REQUIRE(store);
  auto open = (*store)->find_call("acme/C-open");
  REQUIRE(open);
  REQUIRE(open->has_value());
  REQUIRE((*open)->posting.has_value());
  CHECK((*open)->posting->conversation_seconds == 300);
}

TEST_CASE("serve ready line names missing billing", "[gateway][serve]") {
  test::TempDir dir;
  test::TestPsap psap;
  std::string output;
  REQUIRE(test::run_relaygw({"certs", "generate", "--out", dir.file("certs"), "--provider", "acme"},
                            &output) == 0);
  std::filesystem::create_directory(dir.file("dirdb"));
  std::ofstream(dir.file("text.db")) << "not a database\n";
  struct Case {
    std::string database;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"dirdb", "is a folder, not a database file"},
      {"text.db", "is not a relaygw database"},
  };
  for (const Case& test : cases) {
    INFO(test.database);
    const std::string config_path = dir.file("relaygw-" + test.database + ".toml");
    write_serve_config(config_path, kProviderLinkOnly, psap.port(), billing_keys(test.database));
    ServeProcess serve(config_path, dir.file("serve-" + test.database + ".log"));
    const std::smatch ready = serve.wait_for_line(std::regex("^relaygw serve ready.*$"), 20s);
    const std::string line = ready[0].str();
    INFO(line);
    CHECK(line.find("ready in emergency-only mode: billing unavailable") != std::string::npos);
    CHECK(line.find(test.reason) != std::string::npos);
    CHECK(line.find("fix [billing] database in " + config_path) != std::string::npos);
    CHECK(line.find("--db") == std::string::npos);
    CHECK(serve.stop(SIGTERM, 10s) == 0);
  }
}

TEST_CASE("parse errors name option and value", "[gateway][serve]") {
  std::string output;
  CHECK(test::run_relaygw({"psap", "listen", "--port", "abc"}, &output) != 0);
  CHECK(output.find("invalid value 'abc' for --port; expected") != std::string::npos);
  CHECK(output.find("Could not convert") == std::string::npos);

  output.clear();
  CHECK(test::run_relaygw({"psap", "listen", "--port", "1", "--port", "2"}, &output) != 0);
  CHECK(output.find("--port is given 2 times; give it once") != std::string::npos);
}

TEST_CASE("commands name bad port and config", "[gateway][serve]") {
  test::TempDir dir;
  struct Case {
    std::vector<std::string> arguments;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"psap", "listen", "--port", "70000"},
       "invalid --port 70000; use a TCP port from 1 to 65535"},
      {{"psap", "listen", "--port", "-1"}, "invalid --port -1"},
      {{"replay", "--day", std::string(RELAYGW_SOURCE_DIR) + "/data/day/day.toml", "--tty",
        "127.0.0.1:70000"},
       "--tty \"127.0.0.1:70000\" has port 70000, which is not a TCP port; use 1 to 65535"},
      {{"admin", "--url", "http://127.0.0.1:70000", "--token-file", dir.file("token"), "sessions"},
       "invalid port in --url 'http://127.0.0.1:70000'; use 1 to 65535"},
      {{"serve", "--config", dir.path().string()}, "is a folder"},
      {{"replay", "--day", dir.file("no-such-day.toml")}, "no-such-day.toml' does not exist"},
  };
  for (const Case& test : cases) {
    std::string output;
    const int status = test::run_relaygw(test.arguments, &output);
    INFO(test.arguments[0] << " " << test.arguments[1] << ": " << output);
    CHECK(status == 1);
    CHECK(output.find(test.expected) != std::string::npos);
  }
}

}  // namespace relaygw::gateway::server
