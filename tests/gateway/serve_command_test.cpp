// `relaygw serve` and `relaygw certs generate` run as real processes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/sqlite_store.hpp"
#include "gateway/replay/staff_client.hpp"
#include "relay-adapters/events.hpp"
#include "tests/gateway/test_support.hpp"

extern char** environ;

namespace relaygw::gateway::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A relaygw child process with its standard output on a pipe and its standard error in a
// file.
class RelaygwProcess {
 public:
  RelaygwProcess(std::vector<std::string> arguments, const std::string& log_path) {
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    arguments.insert(arguments.begin(), {RELAYGW_BINARY, "--log-level", "info"});
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

  ~RelaygwProcess() {
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
    FAIL("relaygw printed no line matching the expected pattern in time");
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

// `relaygw serve --config CONFIG` as a child process.
class ServeProcess : public RelaygwProcess {
 public:
  ServeProcess(const std::string& config_path, const std::string& log_path)
      : RelaygwProcess({"serve", "--config", config_path}, log_path) {}
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
// The tests stamp steps minutes after they start, ahead of the gateway clock, so that
// conversation times are exact; the clock tolerance allows that.
std::string billing_keys(const std::string& file) {
  return "database = \"" + file + "\"\ndata_dir = \"" + test::source_data_dir() +
         "\"\nclock_tolerance_seconds = 900\n";
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

TEST_CASE("serve replay clock moves by admin API", "[gateway][serve]") {
  test::TempDir dir;
  test::TestPsap psap;
  std::string output;
  REQUIRE(test::run_relaygw({"certs", "generate", "--out", dir.file("certs"), "--provider", "acme"},
                            &output) == 0);
  test::init_billing_database(dir.file("relaygw.db"));
  std::ofstream(dir.file("token")) << "token-for-clock-test\n";
  const std::string config_path = dir.file("relaygw.toml");
  // The default clock tolerance of 5 s, and a replay clock that starts on a fixed day.
  write_serve_config(config_path,
                     "worker_threads = 2\n[server]\nclock_start = \"2026-03-10T13:00:00Z\"\n"
                     "[provider_link]\nlisten = { address = \"127.0.0.1\", port = 0 }\n"
                     "certificate_file = \"certs/server.pem\"\n"
                     "private_key_file = \"certs/server-key.pem\"\n"
                     "client_ca_file = \"certs/ca.pem\"\n"
                     "[tty_lines]\nenabled = false\n"
                     "[admin]\nlisten = { address = \"127.0.0.1\", port = 0 }\n"
                     "token_file = \"token\"\n",
                     psap.port(),
                     "database = \"relaygw.db\"\ndata_dir = \"" + test::source_data_dir() + "\"\n");

  ServeProcess serve(config_path, dir.file("serve.log"));
  const std::regex listening("^(provider_link|admin) listening 127\\.0\\.0\\.1:([0-9]+)$");
  std::map<std::string, std::uint16_t> ports;
  for (int listener = 0; listener < 2; ++listener) {
    const std::smatch bound = serve.wait_for_line(listening, 20s);
    ports[bound[1].str()] = static_cast<std::uint16_t>(std::stoi(bound[2].str()));
  }
  REQUIRE(ports.size() == 2);
  serve.wait_for_line(std::regex("^relaygw serve ready$"), 10s);
  auto move_clock = [&](const std::string& at) {
    return replay::admin_post("127.0.0.1", ports["admin"], "token-for-clock-test", "/clock",
                              {{"at", at}}, 10s);
  };

  test::TlsLineClient client(ports["provider_link"], dir.file("certs/ca.pem"),
                             dir.file("certs/acme.pem"), dir.file("certs/acme-key.pem"));
  REQUIRE(client.connect().empty());
  REQUIRE(client.send(message({{"type", "session.open"},
                               {"session", "S-1"},
                               {"service", "relay-ip"},
                               {"caller", "+12125550101"},
                               {"location", "New York"},
                               {"agent", "CA-1"}})));
  CHECK(read_json(client)["type"] == "ack");
  REQUIRE(client.send(message({{"type", "call.request"},
                               {"session", "S-1"},
                               {"call", "C-1"},
                               {"to", "+13125550104"},
                               {"billing", "sent-paid"},
                               {"idempotency_key", "C-1:request"}})));
  CHECK(read_json(client)["type"] == "quote");
  CHECK(read_json(client)["result"] == "accepted");

  // An hour ahead of the gateway clock is out of range while the clock stays where it is.
  REQUIRE(client.send(message({{"type", "call.connect"},
                               {"call", "C-1"},
                               {"at", "2026-03-10T14:00:45Z"},
                               {"idempotency_key", "C-1:connect"}})));
  const json early = read_json(client);
  CHECK(early["type"] == "error");
  CHECK(early["code"] == "time-out-of-range");

  // Each step is accepted once the clock has moved to it.
  for (const auto& [type, at] : {std::pair{"call.connect", "2026-03-10T14:00:45Z"},
                                 std::pair{"call.disconnect", "2026-03-10T14:12:45Z"}}) {
    INFO(type);
    const Result<json> moved = move_clock(at);
    REQUIRE(moved.is_ok());
    CHECK((*moved)["moved"] == true);
    CHECK((*moved)["clock"].get<std::string>() >= std::string(at).substr(0, 19));
    REQUIRE(client.send(message({{"type", type},
                                 {"call", "C-1"},
                                 {"at", at},
                                 {"idempotency_key", std::string("C-1:") + type}})));
    CHECK(read_json(client)["type"] == "ack");
  }

  // The clock never goes back, and an invalid instant is rejected with the value.
  const Result<json> back = move_clock("2026-03-10T13:30:00Z");
  REQUIRE(back.is_ok());
  CHECK((*back)["moved"] == false);
  CHECK((*back)["clock"].get<std::string>() >= "2026-03-10T14:12:45");
  const Result<json> invalid = move_clock("2026-13-40T99:00:00Z");
  REQUIRE_FALSE(invalid.is_ok());
  CHECK(invalid.status().message().find("400") != std::string::npos);
  CHECK(invalid.status().message().find("is not an RFC 3339 instant") != std::string::npos);

  CHECK(serve.stop(SIGTERM, 20s) == 0);
  const std::string log = read_file(dir.file("serve.log"));
  INFO(log);
  CHECK(log.find("gateway clock moved forward from") != std::string::npos);
  auto store = billing::SqliteStore::open(dir.file("relaygw.db"));
  REQUIRE(store);
  auto call = (*store)->find_call("acme/C-1");
  REQUIRE(call);
  REQUIRE(call->has_value());
  REQUIRE((*call)->posting.has_value());
  CHECK((*call)->posting->conversation_seconds == 720);
}

TEST_CASE("serve ready line names billing cause", "[gateway][serve]") {
  test::TempDir dir;
  test::TestPsap psap;
  std::string output;
  REQUIRE(test::run_relaygw({"certs", "generate", "--out", dir.file("certs"), "--provider", "acme"},
                            &output) == 0);
  std::filesystem::create_directory(dir.file("dirdb"));
  std::ofstream(dir.file("text.db")) << "not a database\n";
  test::init_billing_database(dir.file("good.db"));
  {
    // A relaygw database with its schema but no rate deck stored.
    billing::SqliteOptions options;
    options.create = true;
    auto store = billing::SqliteStore::open(dir.file("nodeck.db"), options);
    REQUIRE(store);
  }
  std::ofstream(dir.file("bad-policy.toml")) << "[credits\n";
  struct Case {
    std::string name;
    std::string billing;  // the [billing] keys
    std::string reason;   // the part that failed and why
    std::string fix;      // the key or command that fixes it
    std::string absent;   // a fix for another cause, which must not appear
  };
  const std::string config_path = dir.file("relaygw.toml");
  const std::vector<Case> cases = {
      {"database is a folder", billing_keys("dirdb"), "is a folder, not a database file",
       "fix [billing] database in " + config_path, "--db"},
      {"database is a text file", billing_keys("text.db"), "is not a relaygw database",
       "fix [billing] database in " + config_path, "--db"},
      {"database has no rate deck", billing_keys("nodeck.db"),
       "database '" + dir.file("nodeck.db") + "' has no rate deck",
       "load one with `relaygw db load-deck --db " + dir.file("nodeck.db"), "fix [billing]"},
      {"number plan folder missing",
       "database = \"good.db\"\ndata_dir = \"" + dir.file("no-such-data") + "\"\n",
       "number plan in '" + dir.file("no-such-data") + "' failed to load",
       "fix [billing] data_dir in " + config_path, "[billing] database"},
      {"credit policy damaged",
       billing_keys("good.db") + "credit_policy_file = \"bad-policy.toml\"\n",
       "credit policy '" + dir.file("bad-policy.toml") + "' failed to load",
       "fix [billing] credit_policy_file in " + config_path, "[billing] database"},
  };
  for (const Case& test : cases) {
    INFO(test.name);
    write_serve_config(config_path, kProviderLinkOnly, psap.port(), test.billing);
    ServeProcess serve(config_path, dir.file("serve.log"));
    const std::smatch ready = serve.wait_for_line(std::regex("^relaygw serve ready.*$"), 20s);
    const std::string line = ready[0].str();
    INFO(line);
    CHECK(line.find("ready in emergency-only mode: billing unavailable: ") != std::string::npos);
    CHECK(line.find(test.reason) != std::string::npos);
    CHECK(line.find(test.fix) != std::string::npos);
    CHECK(line.find(test.absent) == std::string::npos);
    CHECK(serve.stop(SIGTERM, 10s) == 0);
  }
}

TEST_CASE("psap listen reports peer close plainly", "[gateway][serve]") {
  test::TempDir dir;
  struct Case {
    std::string address;
    std::string printed;  // the address as printed, before ":PORT"
  };
  const std::vector<Case> cases = {{"127.0.0.1", "127.0.0.1"}, {"::1", "\\[::1\\]"}};
  for (const Case& test : cases) {
    INFO("--address " << test.address);
    RelaygwProcess psap({"psap", "listen", "--address", test.address, "--port", "0"},
                        dir.file("psap.log"));
    const std::smatch listening =
        psap.wait_for_line(std::regex("^psap listening on " + test.printed + ":([0-9]+)$"), 20s);
    const auto port = static_cast<std::uint16_t>(std::stoi(listening[1].str()));

    boost::asio::io_context io;
    boost::asio::ip::tcp::socket gateway(io);
    gateway.connect({boost::asio::ip::make_address(test.address), port});
    const std::string local = std::to_string(gateway.local_endpoint().port());
    psap.wait_for_line(std::regex("^connected from " + test.printed + ":" + local + "$"), 10s);
    const std::string dispatch = message({{"type", "dispatch"}, {"session", "S-1"}});
    boost::asio::write(gateway, boost::asio::buffer(dispatch));
    psap.wait_for_line(std::regex("^dispatch session=S-1 "), 10s);
    // The gateway reads the ack before it closes, as the real PSAP link does. Closing with
    // unread data would send a reset, which the console reports as a failure.
    std::string ack;
    boost::asio::read_until(gateway, boost::asio::dynamic_buffer(ack), '\n');
    CHECK(ack.find("S-1") != std::string::npos);
    gateway.close();

    const std::smatch closed = psap.wait_for_line(std::regex("^disconnected: .*$"), 10s);
    const std::string line = closed[0].str();
    INFO(line);
    CHECK(std::regex_match(line, std::regex("^disconnected: " + test.printed + ":" + local +
                                            " closed the connection$")));
    CHECK(line.find("End of file") == std::string::npos);
    CHECK(psap.stop(SIGTERM, 10s) == 0);
  }
}

TEST_CASE("serve prints IPv6 listeners in brackets", "[gateway][serve]") {
  test::TempDir dir;
  test::TestPsap psap;
  std::ofstream(dir.file("token")) << "token-for-ipv6-test\n";
  const std::string config_path = dir.file("relaygw.toml");
  write_serve_config(config_path,
                     "[provider_link]\nenabled = false\n"
                     "[tty_lines]\nlisten = { address = \"::1\", port = 0 }\n"
                     "[admin]\nlisten = { address = \"::1\", port = 0 }\ntoken_file = \"token\"\n",
                     psap.port(), billing_keys("relaygw.db"));
  ServeProcess serve(config_path, dir.file("serve.log"));
  serve.wait_for_line(std::regex("^tty_lines listening \\[::1\\]:[0-9]+$"), 20s);
  serve.wait_for_line(std::regex("^admin listening \\[::1\\]:[0-9]+$"), 10s);
  serve.wait_for_line(std::regex("^relaygw serve ready"), 10s);
  CHECK(serve.stop(SIGTERM, 10s) == 0);
  const std::string log = read_file(dir.file("serve.log"));
  INFO(log);
  CHECK(log.find("TTY line listener listening on [::1]:") != std::string::npos);
  CHECK(log.find("admin API listening on [::1]:") != std::string::npos);
  CHECK_FALSE(std::regex_search(log, std::regex("[^\\[]::1:[0-9]")));
}

TEST_CASE("parse errors name option and value", "[gateway][serve]") {
  std::string output;
  CHECK(test::run_relaygw({"psap", "listen", "--port", "0", "--count", "abc"}, &output) != 0);
  CHECK(output.find("--count: the value 'abc' is not a whole number") != std::string::npos);
  CHECK(output.find("Could not convert") == std::string::npos);

  output.clear();
  CHECK(test::run_relaygw({"psap", "listen", "--port", "1", "--port", "2"}, &output) != 0);
  CHECK(output.find("--port is given 2 times; give it once") != std::string::npos);
}

TEST_CASE("commands name bad port and config", "[gateway][serve]") {
  test::TempDir dir;
  const std::string day = std::string(RELAYGW_SOURCE_DIR) + "/data/day/day.toml";
  const std::string binary_config = dir.file("binary.toml");
  std::ofstream(binary_config, std::ios::binary) << std::string("\0\x01\x02\xFF", 4);
  const std::string empty_config = dir.file("empty.toml");
  std::ofstream{empty_config};
  struct Case {
    std::vector<std::string> arguments;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"psap", "listen", "--port", "70000"},
       "--port '70000' is not a TCP port; use 1 to 65535, or 0 to let the system pick"},
      {{"psap", "listen", "--port", "-1"}, "--port '-1' is not a TCP port"},
      {{"psap", "listen", "--port", ""}, "--port is empty; give a TCP port number"},
      {{"psap", "listen", "--port", "abc"}, "--port 'abc' is not a TCP port"},
      {{"psap", "listen", "--port", "+80"}, "--port '+80' is not a TCP port"},
      {{"psap", "listen", "--port", "0x50"}, "--port '0x50' is not a TCP port"},
      {{"psap", "listen", "--port", "99999999999"}, "--port '99999999999' is not a TCP port"},
      {{"replay", "--day", day, "--tty", "127.0.0.1:70000"},
       "--tty '127.0.0.1:70000' has port '70000', which is not a TCP port; use 1 to 65535"},
      {{"replay", "--day", day, "--tty", "127.0.0.1:"},
       "--tty '127.0.0.1:' has port '', which is not a TCP port"},
      {{"replay", "--day", day, "--tty", "127.0.0.1:0"},
       "--tty '127.0.0.1:0' has port '0', which is not a TCP port"},
      {{"replay", "--day", day, "--tty", "::1:7300"},
       "--tty '::1:7300' has an IPv6 address without brackets; write it as [::1]:PORT"},
      {{"replay", "--day", day, "--provider", "7443"}, "--provider '7443' is not ADDRESS:PORT"},
      {{"replay", "--day", day, "--admin", ""}, "--admin is empty; use ADDRESS:PORT"},
      {{"admin", "--url", "http://127.0.0.1:70000", "--token-file", dir.file("token"), "sessions"},
       "invalid port in --url 'http://127.0.0.1:70000': port '70000' is not a TCP port; use 1 "
       "to 65535"},
      {{"admin", "--url", "http://127.0.0.1:", "--token-file", dir.file("token"), "sessions"},
       "invalid port in --url 'http://127.0.0.1:': port is empty"},
      {{"admin", "--url", "http://127.0.0.1:+80", "--token-file", dir.file("token"), "sessions"},
       "invalid port in --url 'http://127.0.0.1:+80': port '+80' is not a TCP port"},
      {{"serve", "--config", dir.path().string()}, "is a folder"},
      {{"serve", "--config", binary_config},
       "configuration file '" + binary_config + "' is not a TOML text file: line 1, column 1"},
      {{"serve", "--config", empty_config},
       "configuration file '" + empty_config + "' is empty; copy config/relaygw.toml"},
      {{"replay", "--day", dir.file("no-such-day.toml")}, "no-such-day.toml' does not exist"},
      {{"replay", "--day", day, "--db", dir.file("x.db"), "--certs", dir.path().string()},
       "--certs requires --provider"},
      {{"replay", "--day", day, "--tty", "127.0.0.1:9", "--admin-token-file", dir.file("t")},
       "--admin-token-file requires --admin"},
      {{"replay", "--day", day, "--tty", "127.0.0.1:9", "--relaygw", dir.file("r")},
       "--relaygw requires --db"},
      {{"replay", "--day", day},
       "nothing to replay: give at least one of --provider ADDRESS:PORT (with --certs), --tty "
       "ADDRESS:PORT or --db FILE"},
      {{"admin", "--url", "http://[::1]", "--token-file", dir.file("token"), "sessions"},
       "invalid --url 'http://[::1]'; give the port, as in http://127.0.0.1:7080 or "
       "http://[::1]:7080"},
      {{"admin", "--url", "http://[::1:7080", "--token-file", dir.file("token"), "sessions"},
       "the IPv6 host has no closing ']'"},
      {{"admin", "--url", "http://::1:7080", "--token-file", dir.file("token"), "sessions"},
       "an IPv6 host needs brackets; write it as http://[::1]:PORT"},
      {{"admin", "--url", "http://[::2]:7080", "--token-file", dir.file("token"), "sessions"},
       "--url host '[::2]' is not a loopback address"},
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
