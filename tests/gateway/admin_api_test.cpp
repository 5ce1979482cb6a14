// The staff admin API over real HTTP on loopback, with a real SessionRegistry, real SQLite
// files made by the relaygw binary, and the relaygw binary as the reference for quotes.
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/cards.hpp"
#include "billing/money.hpp"
#include "billing/sqlite_store.hpp"
#include "gateway/server/admin_api.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/session_registry.hpp"
#include "tests/gateway/test_support.hpp"
#include "tests/sqlite_edit.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using relaygw::gateway::server::AdminApi;
using relaygw::gateway::server::AdminApiLimits;
using relaygw::gateway::server::AdminApiParts;
using relaygw::gateway::server::AdminConfig;
using relaygw::gateway::server::BillingConfig;
using relaygw::gateway::server::CallService;
using relaygw::gateway::server::Clock;
using relaygw::gateway::server::CollectSession;
using relaygw::gateway::server::CollectState;
using relaygw::gateway::server::EmergencyConfig;
using relaygw::gateway::server::EmergencyDispatcher;
using relaygw::gateway::server::SessionInfo;
using relaygw::gateway::server::SessionRegistry;

constexpr const char* kToken = "s3cret-admin-token-7f2c";

struct HttpReply {
  int status = 0;
  json body;
  std::string allow;
  std::string www_authenticate;
};

struct Run {
  int status = -1;
  std::string output;  // standard output only
};

// Runs the relaygw binary with `arguments` (already shell-quoted); standard error is dropped.
Run run_relaygw(const std::string& arguments) {
  const std::string command =
      std::string("'") + RELAYGW_BINARY + "' " + arguments + " </dev/null 2>/dev/null";
  Run run;
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

// A running AdminApi on 127.0.0.1, port chosen by the system, served by one io_context thread
// so that a blocked connection would block every other one.
class AdminApiFixture {
 public:
  AdminApiFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-admin-api-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    std::ofstream(path("token")) << kToken << "\n";
    thread_ = std::thread([this] { io_.run(); });
  }

  ~AdminApiFixture() {
    if (api_) {
      api_->stop();
      api_.reset();
    }
    calls_.reset();
    guard_.reset();
    io_.stop();
    thread_.join();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Starts the API on the fixture's database and, when given, a credit policy file and a call
  // service.
  void start_api(AdminApiLimits limits = {}, const std::string& credit_policy_file = "",
                 CallService* calls = nullptr, const std::string& data_dir = "") {
    AdminConfig config;
    config.listen = {"127.0.0.1", 0};
    config.token_file = path("token");
    BillingConfig billing;
    billing.database = path("billing.db");
    billing.credit_policy_file = credit_policy_file;
    billing.data_dir = data_dir;
    api_ = std::make_unique<AdminApi>(io_, config,
                                      AdminApiParts{registry_, calls, nullptr, billing}, limits);
    const relaygw::Status started = api_->start();
    INFO(started.message());
    REQUIRE(started.is_ok());
    REQUIRE(api_->endpoint().port != 0);
  }

  void stop_api() {
    api_->stop();
    api_.reset();
  }

  // Starts a call service on the fixture's database, which must exist, and returns it. Its
  // billing storage contains the number plan and rate deck that quotes use. The service lives
  // until the fixture ends.
  CallService& start_call_service() {
    EmergencyConfig emergency_config;
    emergency_config.spool_file = path("emergency-spool.jsonl");
    dispatcher_ = std::make_unique<EmergencyDispatcher>(emergency_config);
    service_billing_.database = path("billing.db");
    calls_ = std::make_unique<CallService>(service_billing_, registry_, *dispatcher_);
    const relaygw::Status started = calls_->start();
    INFO(started.message());
    CHECK(started.is_ok());
    return *calls_;
  }

  tcp::endpoint api_endpoint() const {
    return {asio::ip::make_address("127.0.0.1"), api_->endpoint().port};
  }

  // Sends one request on a new connection and reads the response.
  HttpReply request(http::verb method, const std::string& target, const std::string& body = "",
                    std::optional<std::string> authorization = std::string("Bearer ") + kToken) {
    asio::io_context client_io;
    beast::tcp_stream stream(client_io);
    stream.connect(api_endpoint());
    http::request<http::string_body> message(method, target, 11);
    message.set(http::field::host, "127.0.0.1");
    if (authorization) {
      message.set(http::field::authorization, *authorization);
    }
    if (method == http::verb::post) {
      message.set(http::field::content_type, "application/json");
      message.body() = body;
    }
    message.prepare_payload();
    http::write(stream, message);
    return read_reply(stream);
  }

  HttpReply get(const std::string& target) { return request(http::verb::get, target); }
  HttpReply post(const std::string& target, const json& body) {
    return request(http::verb::post, target, body.dump());
  }

  static HttpReply read_reply(beast::tcp_stream& stream) {
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    HttpReply reply;
    reply.status = static_cast<int>(response.result_int());
    reply.body = json::parse(response.body(), nullptr, false);
    reply.allow = std::string(response[http::field::allow]);
    reply.www_authenticate = std::string(response[http::field::www_authenticate]);
    return reply;
  }

  // Creates the database and collect call c1, not yet accepted.
  void create_collect_call() {
    const std::string db = "--db '" + path("billing.db") + "' ";
    REQUIRE(run_relaygw("db init " + db + "--actor staff:test").status == 0);
    REQUIRE(run_relaygw("call create " + db +
                        "--id c1 --from 3125550107 --to 2125550101 --billing collect "
                        "--access relay-tty --at 2026-03-10T14:00:00Z")
                .status == 0);
  }

  // Creates the database and posts collect call c1 from Chicago to New York, accepted by TTY
  // text, five minutes long.
  void post_call() {
    const std::string db = "--db '" + path("billing.db") + "' ";
    REQUIRE(run_relaygw("db init " + db + "--actor staff:test").status == 0);
    REQUIRE(run_relaygw("call create " + db +
                        "--id c1 --from 3125550107 --to 2125550101 --billing collect "
                        "--access relay-tty --at 2026-03-10T14:00:00Z")
                .status == 0);
    REQUIRE(run_relaygw("call event " + db +
                        "--id c1 --event accepted --how tty-text --by 'Grace Okafor' "
                        "--at 2026-03-10T14:00:20Z")
                .status == 0);
    REQUIRE(run_relaygw("call event " + db + "--id c1 --event connected --at 2026-03-10T14:00:21Z")
                .status == 0);
    REQUIRE(run_relaygw("call complete " + db + "--id c1 --at 2026-03-10T14:05:21Z --key end-c1")
                .status == 0);
  }

  SessionRegistry& registry() { return registry_; }

 private:
  std::filesystem::path dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::thread thread_;
  SessionRegistry registry_;
  std::unique_ptr<AdminApi> api_;
  BillingConfig service_billing_;
  std::unique_ptr<EmergencyDispatcher> dispatcher_;
  std::unique_ptr<CallService> calls_;
};

CollectSession waiting_collect(const std::string& call_id) {
  CollectSession collect;
  collect.call_id = call_id;
  collect.session_id = "s-" + call_id;
  collect.called_number = "+12125550101";
  collect.billed_number = "+12125550101";
  collect.state = CollectState::AwaitingStaff;
  collect.tty_tones_heard = true;
  collect.waiting_since = Clock::now() - std::chrono::seconds(30);
  return collect;
}

// Checks that every key of `object` is named, in backquotes, in docs/admin-api.md.
void check_documented(const json& object) {
  static const std::string docs = [] {
    std::ifstream in(std::string(RELAYGW_SOURCE_DIR) + "/docs/admin-api.md");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  REQUIRE_FALSE(docs.empty());
  for (const auto& [key, value] : object.items()) {
    INFO("response field " << key);
    CHECK(docs.find("`" + key + "`") != std::string::npos);
  }
}

}  // namespace

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects missing or wrong token", "[gateway][admin]") {
  relaygw::test::LogCapture log;
  start_api();
  const HttpReply missing = request(http::verb::get, "/health", "", std::nullopt);
  CHECK(missing.status == 401);
  CHECK(missing.www_authenticate == "Bearer");
  CHECK(missing.body["error"]["code"] == "unauthorized");

  const HttpReply wrong = request(http::verb::get, "/health", "", std::string("Bearer nope"));
  CHECK(wrong.status == 401);
  const HttpReply longer =
      request(http::verb::get, "/health", "", std::string("Bearer ") + kToken + "x");
  CHECK(longer.status == 401);
  const HttpReply basic = request(http::verb::get, "/health", "", std::string("Basic ") + kToken);
  CHECK(basic.status == 401);
  const HttpReply unknown_path_without_token =
      request(http::verb::get, "/no-such-thing", "", std::nullopt);
  CHECK(unknown_path_without_token.status == 401);

  const HttpReply good = get("/health");
  CHECK(good.status == 200);
  CHECK(good.body["status"] == "ok");

  // Each 401 is logged once with the remote address, and no token appears in the log.
  INFO(log.text());
  CHECK(log.count("rejected with 401") == 5);
  CHECK(log.count("remote=127.0.0.1:") == 5);
  CHECK(log.count("GET /health rejected with 401: missing token") == 1);
  CHECK(log.count("GET /health rejected with 401: wrong token") == 3);
  CHECK(log.text().find("nope") == std::string::npos);
  CHECK(log.text().find(kToken) == std::string::npos);

  // A card number in the path of a request without a token is masked in the log line.
  const HttpReply card_path =
      request(http::verb::post, "/collect/c-4111111111119876/accept", "{}", std::nullopt);
  CHECK(card_path.status == 401);
  CHECK(log.count("/collect/c-************9876/accept rejected with 401") == 1);
  CHECK(log.text().find("4111111111119876") == std::string::npos);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api unknown path and method", "[gateway][admin]") {
  start_api();
  const HttpReply unknown = get("/calls");
  CHECK(unknown.status == 404);
  CHECK(unknown.body["error"]["code"] == "not-found");
  CHECK(unknown.body["error"]["message"].get<std::string>().find("/calls") != std::string::npos);

  const HttpReply wrong_method = get("/quote");
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.allow == "POST");

  const HttpReply take_over_get = get("/collect/c1/take-over");
  CHECK(take_over_get.status == 405);
  const HttpReply empty_call = post("/collect//take-over", json{{"staff", "s1"}});
  CHECK(empty_call.status == 404);
}

TEST_CASE_METHOD(AdminApiFixture, "admin clock needs replay clock", "[gateway][admin]") {
  // No configuration in this process sets [server] clock_start, so the gateway clock follows
  // the system clock and cannot be moved.
  start_api();
  const HttpReply rejected = post("/clock", json{{"at", "2099-01-01T00:00:00Z"}});
  CHECK(rejected.status == 409);
  CHECK(rejected.body["error"]["code"] == "failed-precondition");
  CHECK(rejected.body["error"]["message"].get<std::string>().find("[server] clock_start") !=
        std::string::npos);
  const HttpReply missing = post("/clock", json::object());
  CHECK(missing.status == 400);
  CHECK(missing.body["error"]["code"] == "missing-field");
  const HttpReply invalid = post("/clock", json{{"at", "tomorrow"}});
  CHECK(invalid.status == 400);
  CHECK(invalid.body["error"]["message"].get<std::string>().find("\"tomorrow\" is not an RFC "
                                                                 "3339 instant") !=
        std::string::npos);
  CHECK(get("/clock").status == 405);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects non-UTF-8 targets", "[gateway][admin]") {
  // These ended the gateway process when the error reply quoted the bytes as JSON text.
  relaygw::test::LogCapture log;
  start_api();
  struct Row {
    http::verb method;
    std::string target;
    std::string expected;
  };
  const Row rows[] = {
      {http::verb::post, "/collect/c%C0%AF/take-over", "the path is not valid UTF-8 at byte 11"},
      {http::verb::post, "/collect/c\xC0\xAF/take-over", "the path is not valid UTF-8 at byte 11"},
      {http::verb::post, "/credits/x%C0/approve", "the path is not valid UTF-8 at byte 11"},
      {http::verb::get, "/nosuch%ED%A0%80", "the path is not valid UTF-8 at byte 8"},
      {http::verb::get, "/reports/summary?from=2026-01-01&to=2026-01-02&time_zone=%C0",
       "query parameter 'time_zone' is not valid UTF-8 at byte 1"},
      {http::verb::get, "/credits?call%FF=c1", "a query parameter name is not valid UTF-8"},
  };
  for (const Row& row : rows) {
    INFO(row.target);
    const HttpReply reply = request(row.method, row.target, R"({"staff":"ana"})");
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == "invalid-utf8");
    CHECK_THAT(reply.body["error"]["message"].get<std::string>(), Catch::Contains(row.expected));
  }
  // A decoded control character (here NUL) in an id is rejected, not looked up.
  for (const std::string target : {"/credits?call=r1%00", "/credits/cr%0A1/approve"}) {
    INFO(target);
    const HttpReply reply = request(target.find("approve") != std::string::npos
                                        ? http::verb::post
                                        : http::verb::get,
                                    target, R"({"staff":"ana"})");
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == "invalid-argument");
    CHECK_THAT(reply.body["error"]["message"].get<std::string>(),
               Catch::Contains("control character"));
  }
  CHECK(get("/health").status == 200);
  INFO(log.text());
  CHECK(log.count("rejected with 400") == 8);
  CHECK(log.count("/collect/c%C0%AF/take-over") == 2);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects malformed JSON", "[gateway][admin]") {
  start_api();
  struct Row {
    std::string target;
    std::string body;
    std::string code;
  };
  const Row rows[] = {
      {"/quote", "{\"from\": ", "invalid-json"},
      {"/quote", "[1, 2]", "invalid-json"},
      // A repeated field would otherwise take its last value.
      {"/quote",
       "{\"from\":\"3125550107\",\"to\":\"2125550101\",\"billing\":\"collect\","
       "\"start\":\"2026-03-10T09:30:00-05:00\",\"minutes\":\"12\",\"minutes\":\"1\"}",
       "invalid-json"},
      {"/quote", "{\"from\":\"2125550107\"}", "missing-field"},
      {"/quote", "{\"from\":\"2125550107\",\"deck\":\"/etc/passwd\"}", "unknown-field"},
      {"/collect/c1/take-over", "{\"staff\": true}", "invalid-field"},
      {"/collect/c1/take-over", "{}", "missing-field"},
      {"/credits",
       "{\"call\":\"c1\",\"line\":\"one\",\"reason\":\"other\",\"key\":\"k\","
       "\"staff\":\"s1\"}",
       "invalid-field"},
  };
  for (const Row& row : rows) {
    const HttpReply reply = request(http::verb::post, row.target, row.body);
    INFO("POST " << row.target << " " << row.body << " -> " << reply.body.dump());
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == row.code);
  }
}

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects oversize body", "[gateway][admin]") {
  AdminApiLimits limits;
  limits.max_body_bytes = 1024;
  start_api(limits);

  // Only the header is sent, so the API must respond from Content-Length alone.
  asio::io_context client_io;
  beast::tcp_stream stream(client_io);
  stream.connect(api_endpoint());
  const std::string header =
      std::string("POST /quote HTTP/1.1\r\nHost: 127.0.0.1\r\n") + "Authorization: Bearer " +
      kToken + "\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n";
  asio::write(stream, asio::buffer(header));
  const HttpReply reply = read_reply(stream);
  CHECK(reply.status == 413);
  CHECK(reply.body["error"]["code"] == "body-too-large");

  // A body under the limit on a new connection is read as usual.
  const HttpReply small = post("/quote", json{{"from", "x"}});
  CHECK(small.status == 400);
}

TEST_CASE_METHOD(AdminApiFixture, "admin take-over notifies adapter once", "[gateway][admin]") {
  start_api();
  std::atomic<int> calls{0};
  std::string notified_staff;
  registry().add_collect(waiting_collect("c7"), [&](const std::string& staff) {
    notified_staff = staff;
    ++calls;
  });

  const HttpReply listed = get("/collect");
  REQUIRE(listed.status == 200);
  REQUIRE(listed.body["collect"].size() == 1);
  const json& entry = listed.body["collect"][0];
  CHECK(entry["call_id"] == "c7");
  CHECK(entry["state"] == "awaiting-staff");
  CHECK(entry["tty_tones_heard"] == true);
  CHECK(entry["seconds_waiting"].get<double>() >= 30.0);
  check_documented(entry);

  const HttpReply taken = post("/collect/c7/take-over", json{{"staff", "s-ana"}});
  CHECK(taken.status == 200);
  CHECK(taken.body["state"] == "taken-over");
  CHECK(taken.body["taken_over_by"] == "s-ana");
  CHECK(calls == 1);
  CHECK(notified_staff == "s-ana");

  const HttpReply second = post("/collect/c7/take-over", json{{"staff", "s-ben"}});
  CHECK(second.status == 409);
  // The same code as an accept by a staff member who does not hold the call.
  CHECK(second.body["error"]["code"] == "taken-over");
  CHECK_THAT(second.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("taken over by s-ana"));
  CHECK(calls == 1);

  const HttpReply unknown = post("/collect/c99/take-over", json{{"staff", "s-ana"}});
  CHECK(unknown.status == 404);

  const HttpReply accept_without_service =
      post("/collect/c7/accept", json{{"staff", "s-ana"}, {"how", "voice"}});
  CHECK(accept_without_service.status == 503);
}

TEST_CASE_METHOD(AdminApiFixture, "admin accept records through call service", "[gateway][admin]") {
  create_collect_call();
  EmergencyConfig emergency_config;
  emergency_config.spool_file = path("emergency-spool.jsonl");
  EmergencyDispatcher dispatcher(emergency_config);
  BillingConfig billing;
  billing.database = path("billing.db");
  CallService calls(billing, registry(), dispatcher);
  const relaygw::Status started = calls.start();
  INFO(started.message());
  REQUIRE(started.is_ok());
  start_api({}, "", &calls);
  registry().add_collect(waiting_collect("c1"));

  REQUIRE(post("/collect/c1/take-over", json{{"staff", "s-ana"}}).status == 200);
  const HttpReply other_staff = post("/collect/c1/accept", json{{"staff", "s-ben"}});
  CHECK(other_staff.status == 409);
  CHECK(other_staff.body["error"]["code"] == "taken-over");

  const HttpReply accepted =
      post("/collect/c1/accept", json{{"staff", "s-ana"}, {"how", "tty-text"}});
  INFO(accepted.body.dump());
  REQUIRE(accepted.status == 200);
  CHECK(accepted.body["accepted"] == true);
  const HttpReply listed = get("/collect");
  CHECK(listed.body["collect"][0]["state"] == "accepted");

  // A repeat carries the same default key, so it records nothing new and gets the first
  // response, also once the TTY line has connected the call and removed it from the registry.
  registry().remove_collect("c1");
  const HttpReply repeated =
      post("/collect/c1/accept", json{{"staff", "s-ana"}, {"how", "tty-text"}});
  INFO(repeated.body.dump());
  CHECK(repeated.status == 200);
  CHECK(repeated.body == accepted.body);

  // The default key with another staff member or method is a second acceptance.
  const HttpReply other_method =
      post("/collect/c1/accept", json{{"staff", "s-ana"}, {"how", "voice"}});
  CHECK(other_method.status == 409);
  CHECK(other_method.body["error"]["code"] == "invalid-state");
  CHECK_THAT(other_method.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("already accepted by s-ana"));

  // A new key after the call has left GET /collect requests acceptance of a settled call again.
  const HttpReply new_key =
      post("/collect/c1/accept", json{{"staff", "s-ana"}, {"key", "acc-late"}});
  INFO(new_key.body.dump());
  CHECK(new_key.status == 409);
  CHECK(new_key.body["error"]["code"] == "failed-precondition");
  CHECK_THAT(new_key.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("'c1' was already accepted by staff:s-ana"));
  const HttpReply unknown_call = post("/collect/c9/accept", json{{"staff", "s-ana"}});
  CHECK(unknown_call.status == 404);
  CHECK(unknown_call.body["error"]["code"] == "not-found");
  stop_api();

  const Run shown = run_relaygw("call show --db '" + path("billing.db") + "' --id c1 --json");
  REQUIRE(shown.status == 0);
  const json call = json::parse(shown.output);
  int acceptances = 0;
  for (const json& event : call["events"]) {
    if (event["event"] == "accepted") {
      ++acceptances;
      CHECK(event["by"] == "staff:s-ana");
      CHECK(event["how"] == "tty-text");
    }
  }
  CHECK(acceptances == 1);
}

TEST_CASE_METHOD(AdminApiFixture, "admin accept key reused", "[gateway][admin]") {
  create_collect_call();
  CallService& calls = start_call_service();
  start_api({}, "", &calls);
  registry().add_collect(waiting_collect("c1"));

  const json first_body = {{"staff", "s-ana"}, {"how", "keypad"}, {"key", "acc-1"}};
  const HttpReply first = post("/collect/c1/accept", first_body);
  INFO(first.body.dump());
  REQUIRE(first.status == 200);

  const HttpReply repeated = post("/collect/c1/accept", first_body);
  CHECK(repeated.status == 200);
  CHECK(repeated.body == first.body);

  const HttpReply changed =
      post("/collect/c1/accept", json{{"staff", "s-ana"}, {"how", "voice"}, {"key", "acc-1"}});
  INFO(changed.body.dump());
  CHECK(changed.status == 409);
  CHECK(changed.body["error"]["code"] == "idempotency-conflict");
  CHECK_THAT(changed.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("'acc-1'"));

  // The call is still listed as accepted, and a new key requests its acceptance again.
  const HttpReply new_key =
      post("/collect/c1/accept", json{{"staff", "s-ana"}, {"how", "keypad"}, {"key", "acc-2"}});
  INFO(new_key.body.dump());
  CHECK(new_key.status == 409);
  CHECK(new_key.body["error"]["code"] == "failed-precondition");
  CHECK_THAT(new_key.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("'c1' is already accepted"));
}

TEST_CASE_METHOD(AdminApiFixture, "admin queues count sessions by state", "[gateway][admin]") {
  start_api();
  SessionInfo in_call;
  in_call.session_id = "s1";
  in_call.state = "in-call";
  in_call.opened_at = Clock::now();
  registry().open_session(in_call);
  SessionInfo menu = in_call;
  menu.session_id = "s2";
  menu.state = "menu:billing";
  registry().open_session(menu);
  SessionInfo emergency = in_call;
  emergency.session_id = "s3";
  emergency.emergency = true;
  registry().open_session(emergency);
  registry().add_collect(waiting_collect("c1"));
  CollectSession accepted = waiting_collect("c2");
  accepted.state = CollectState::Accepted;
  registry().add_collect(accepted);

  const HttpReply sessions = get("/sessions");
  REQUIRE(sessions.status == 200);
  CHECK(sessions.body["sessions"].size() == 3);
  check_documented(sessions.body["sessions"][0]);

  const HttpReply queues = get("/queues");
  REQUIRE(queues.status == 200);
  CHECK(queues.body["sessions"]["total"] == 3);
  CHECK(queues.body["sessions"]["emergency"] == 1);
  CHECK(queues.body["sessions"]["by_state"]["in-call"] == 2);
  CHECK(queues.body["sessions"]["by_state"]["menu:billing"] == 1);
  CHECK(queues.body["collect"]["waiting"] == 1);
  CHECK(queues.body["collect"]["by_state"]["accepted"] == 1);
  CHECK(queues.body["emergency"].is_null());
  check_documented(queues.body);
  check_documented(queues.body["sessions"]);
  check_documented(queues.body["collect"]);
}

TEST_CASE_METHOD(AdminApiFixture, "admin quote equals quote command", "[gateway][admin]") {
  // `relaygw db init` stores the bundled deck, which `relaygw quote` reads from data/rates.
  relaygw::test::init_billing_database(path("billing.db"));
  start_api({}, "", &start_call_service());
  const Run command = run_relaygw(
      "quote --from 3125550107 --to 2125550101 --billing collect --access relay-tty "
      "--start 2026-03-10T09:30:00-05:00 --minutes 7.5 --json");
  REQUIRE(command.status == 0);
  // The command without --db names the bundled deck file. The API names the deck in effect in
  // its database, as `relaygw quote --db` does.
  json expected = json::parse(command.output);
  CHECK(expected["deck"]["source"] == "file");
  expected.erase("deck");
  const Run with_db = run_relaygw(
      "quote --from 3125550107 --to 2125550101 --billing collect --access relay-tty "
      "--start 2026-03-10T09:30:00-05:00 --minutes 7.5 --json --db '" + path("billing.db") + "'");
  REQUIRE(with_db.status == 0);
  const json expected_with_deck = json::parse(with_db.output);

  const HttpReply reply = post("/quote", json{{"from", "3125550107"},
                                              {"to", "2125550101"},
                                              {"billing", "collect"},
                                              {"access", "relay-tty"},
                                              {"start", "2026-03-10T09:30:00-05:00"},
                                              {"minutes", "7.5"}});
  REQUIRE(reply.status == 200);
  CHECK(reply.body == expected_with_deck);
  REQUIRE(reply.body.contains("deck"));
  CHECK(reply.body["deck"]["source"] == "database");
  CHECK(reply.body["deck"]["sha256"].get<std::string>().size() == 64);
  CHECK(reply.body["deck"]["effective_from"].is_string());
  check_documented(reply.body["deck"]);
  json without_deck = reply.body;
  without_deck.erase("deck");
  CHECK(without_deck == expected);
  CHECK(reply.body["lines"].size() >= 1);
  // Neither names the handling, so both quote the operator handling that `call create` uses.
  CHECK(reply.body["handling"] == "operator");

  const HttpReply bad = post("/quote", json{{"from", "3125550107"},
                                            {"to", "2125550101"},
                                            {"billing", "prepaid"},
                                            {"start", "2026-03-10T09:30:00-05:00"},
                                            {"minutes", "2"}});
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["message"].get<std::string>().find("prepaid") != std::string::npos);
}

// The bundled directory lists +1 415-555-0108 as eligible for California's TTY toll discount.
TEST_CASE_METHOD(AdminApiFixture, "admin quote prices line discount", "[gateway][admin]") {
  relaygw::test::init_billing_database(path("billing.db"));
  start_api({}, "", &start_call_service());
  const Run command = run_relaygw(
      "quote --from 4155550107 --to 2125550101 --billing third-party --third-number 4155550108 "
      "--access captioned --start 2026-03-10T10:00:00-08:00 --minutes 10 --json --db '" +
      path("billing.db") + "'");
  INFO(command.output);
  REQUIRE(command.status == 0);
  const json expected = json::parse(command.output);

  const json request = {{"from", "4155550107"},     {"to", "2125550101"},
                        {"billing", "third-party"}, {"third_number", "4155550108"},
                        {"access", "captioned"},    {"start", "2026-03-10T10:00:00-08:00"},
                        {"minutes", "10"}};
  const HttpReply reply = post("/quote", request);
  REQUIRE(reply.status == 200);
  CHECK(reply.body == expected);
  bool discounted = false;
  for (const json& line : reply.body["lines"]) {
    discounted = discounted || line["description"] == "CA TTY toll discount (50.00% of usage)";
  }
  CHECK(discounted);

  // The admin client sends --third-number as third_number.
  std::string client_output;
  const int client_status = relaygw::test::run_relaygw(
      {"admin", "--url", "http://127.0.0.1:" + std::to_string(api_endpoint().port()),
       "--token-file", path("token"), "--json", "quote", "--from", "4155550107", "--to",
       "2125550101", "--billing", "third-party", "--third-number", "4155550108", "--access",
       "captioned", "--start", "2026-03-10T10:00:00-08:00", "--minutes", "10"},
      &client_output);
  INFO(client_output);
  REQUIRE(client_status == 0);
  CHECK(json::parse(client_output.substr(client_output.find('{')))["total"] == expected["total"]);

  json unlisted = request;
  unlisted["third_number"] = "4155550142";
  const HttpReply plain = post("/quote", unlisted);
  REQUIRE(plain.status == 200);
  const auto plain_total = relaygw::billing::parse_dollars(plain.body["total"].get<std::string>());
  const auto discounted_total =
      relaygw::billing::parse_dollars(reply.body["total"].get<std::string>());
  REQUIRE(plain_total);
  REQUIRE(discounted_total);
  CHECK(*plain_total > *discounted_total);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects JSON float money", "[gateway][admin]") {
  post_call();
  start_api({}, "", &start_call_service());
  const std::string quote_fields =
      "\"from\":\"3125550107\",\"to\":\"2125550101\",\"billing\":\"collect\","
      "\"start\":\"2026-03-10T09:30:00-05:00\"";
  const std::string credit_fields =
      "\"call\":\"c1\",\"line\":1,\"reason\":\"bad-connection\",\"key\":\"CR-F\","
      "\"staff\":\"s-ana\"";
  struct Row {
    std::string target;
    std::string body;
    std::string message;  // a part the error message must contain
  };
  const Row rows[] = {
      {"/quote", "{" + quote_fields + ",\"minutes\":1e3}",
       "field 'minutes' is the JSON number 1e3"},
      {"/quote", "{" + quote_fields + ",\"minutes\":1e-400}",
       "field 'minutes' is the JSON number 1e-400"},
      {"/quote", "{" + quote_fields + ",\"minutes\":7.5}", "such as \"7.5\", or a whole number"},
      {"/credits", "{" + credit_fields + ",\"amount\":0.10}",
       "field 'amount' is the JSON number 0.10"},
      {"/credits", "{" + credit_fields + ",\"amount\":10}",
       "send money as a string of dollars and cents, such as \"0.10\""},
      // A whole number beyond 64 bits is out of range, not a fraction.
      {"/quote", "{" + quote_fields + ",\"minutes\":99999999999999999999}",
       "field 'minutes' is the whole number 99999999999999999999, which is out of range"},
      {"/quote", "{" + quote_fields + ",\"minutes\":99999999999999999999}",
       "send 0 to 1440 minutes"},
      // The message for the line names the form that POST /credits accepts.
      {"/credits", "{\"call\":\"c1\",\"line\":1.0,\"reason\":\"bad-connection\",\"key\":"
                   "\"CR-F\",\"staff\":\"s-ana\"}",
       "send the charge line number as a whole JSON number, such as 1"},
      {"/credits", "{\"call\":\"c1\",\"line\":\"1\",\"reason\":\"bad-connection\",\"key\":"
                   "\"CR-F\",\"staff\":\"s-ana\"}",
       "send the charge line number as a whole JSON number, such as 1"},
  };
  for (const Row& row : rows) {
    const HttpReply reply = request(http::verb::post, row.target, row.body);
    INFO("POST " << row.target << " " << row.body << " -> " << reply.body.dump());
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == "invalid-field");
    const std::string message = reply.body["error"]["message"];
    CHECK_THAT(message, Catch::Matchers::Contains(row.message));
    if (message.find("whole number 9999") != std::string::npos) {
      CHECK(message.find("floating point") == std::string::npos);
    }
  }
  // Nothing was credited.
  auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
  REQUIRE(store.is_ok());
  auto stored = (*store)->list_credits("c1");
  REQUIRE(stored.is_ok());
  CHECK(stored->empty());

  // Whole minutes are exact and still accepted.
  const HttpReply whole = request(http::verb::post, "/quote", "{" + quote_fields +
                                                                  ",\"minutes\":3}");
  INFO(whole.body.dump());
  CHECK(whole.status == 200);
}

TEST_CASE_METHOD(AdminApiFixture, "admin quote uses database rate deck", "[gateway][admin]") {
  // A copy of the bundled deck whose day rate per minute is 0.5000 in place of 0.1290.
  std::ifstream bundled(relaygw::test::source_data_dir() + "/rates/example.toml");
  std::stringstream deck_text;
  deck_text << bundled.rdbuf();
  std::string pricey = deck_text.str();
  const std::string cheap_rate = "day = \"0.1290\"";
  REQUIRE(pricey.find(cheap_rate) != std::string::npos);
  for (std::size_t at = pricey.find(cheap_rate); at != std::string::npos;
       at = pricey.find(cheap_rate, at)) {
    pricey.replace(at, cheap_rate.size(), "day = \"0.5000\"");
  }
  std::ofstream(path("pricey.toml")) << pricey;

  relaygw::test::init_billing_database(path("billing.db"));
  const std::string db = "--db '" + path("billing.db") + "' ";
  REQUIRE(run_relaygw("db load-deck " + db + "--rates '" + path("pricey.toml") + "'").status == 0);
  start_api({}, "", &start_call_service());

  const std::string call =
      "--from 3125550107 --to 2125550101 --billing collect --start 2026-03-10T09:30:00-05:00 "
      "--minutes 7.5 --json";
  const Run with_pricey = run_relaygw("quote " + call + " --deck '" + path("pricey.toml") + "'");
  REQUIRE(with_pricey.status == 0);
  const Run with_bundled = run_relaygw("quote " + call);
  REQUIRE(with_bundled.status == 0);
  // The command names the deck file it read, and the API names the stored deck.
  json pricey_quote = json::parse(with_pricey.output);
  pricey_quote.erase("deck");
  const json bundled_quote = json::parse(with_bundled.output);
  REQUIRE(pricey_quote["total"] != bundled_quote["total"]);

  const json request = {{"from", "3125550107"},
                        {"to", "2125550101"},
                        {"billing", "collect"},
                        {"start", "2026-03-10T09:30:00-05:00"},
                        {"minutes", "7.5"}};
  const HttpReply reply = post("/quote", request);
  INFO(reply.body.dump());
  REQUIRE(reply.status == 200);
  CHECK(reply.body["total"] == pricey_quote["total"]);
  json reply_without_deck = reply.body;
  reply_without_deck.erase("deck");
  CHECK(reply_without_deck == pricey_quote);

  // `relaygw quote --db` picks the same deck from the database as the service.
  const Run with_db = run_relaygw("quote " + call + " " + db);
  REQUIRE(with_db.status == 0);
  json db_quote = json::parse(with_db.output);
  CHECK(db_quote["deck"]["source"] == "database");
  CHECK(db_quote["deck"]["name"] == "Example relay center tariff");
  CHECK(reply.body == db_quote);

  // A deck loaded into the database while the service runs prices the next quote, with no
  // restart.
  REQUIRE(run_relaygw("db load-deck " + db + "--rates '" + relaygw::test::source_data_dir() +
                      "/rates/example.toml'")
              .status == 0);
  const HttpReply after_reload = post("/quote", request);
  REQUIRE(after_reload.status == 200);
  CHECK(after_reload.body["total"] == bundled_quote["total"]);
}

TEST_CASE_METHOD(AdminApiFixture, "admin quote maps failures to statuses", "[gateway][admin]") {
  const json request = {{"from", "3125550107"},
                        {"to", "2125550101"},
                        {"billing", "collect"},
                        {"start", "2026-03-10T09:30:00-05:00"},
                        {"minutes", "2"}};

  SECTION("no call service") {
    start_api();
    const HttpReply reply = post("/quote", request);
    INFO(reply.body.dump());
    CHECK(reply.status == 503);
    CHECK(reply.body["error"]["code"] == "rating-unavailable");
    // An API client cannot run a command on the server, so the step names the operator.
    CHECK_THAT(reply.body["error"]["message"].get<std::string>(),
               Catch::Matchers::EndsWith("; ask the gateway's operator to run the admin API "
                                         "inside the gateway server"));
    CHECK(reply.body["error"]["message"].get<std::string>().find("relaygw") == std::string::npos);

    // An emergency call is quoted at zero without any rate deck.
    json emergency = request;
    emergency["to"] = "911";
    emergency["billing"] = "sent-paid";
    const HttpReply free = post("/quote", emergency);
    INFO(free.body.dump());
    CHECK(free.status == 200);
    CHECK(free.body["emergency"] == true);
    CHECK(free.body["total"] == "0.00");
  }

  SECTION("billing storage failed to open") {
    // No database at path("billing.db"), so the call service runs in emergency-only mode.
    EmergencyConfig emergency_config;
    emergency_config.spool_file = path("emergency-spool.jsonl");
    EmergencyDispatcher dispatcher(emergency_config);
    BillingConfig billing;
    billing.database = path("no-such-folder") + "/billing.db";
    CallService calls(billing, registry(), dispatcher);
    CHECK_FALSE(calls.start().is_ok());
    start_api({}, "", &calls);
    const HttpReply reply = post("/quote", request);
    INFO(reply.body.dump());
    CHECK(reply.status == 503);
    CHECK(reply.body["error"]["code"] == "rating-unavailable");
    CHECK(reply.body["error"]["message"].get<std::string>().find("no-such-folder") !=
          std::string::npos);
    stop_api();
  }

  SECTION("start before every deck version") {
    relaygw::test::init_billing_database(path("billing.db"));
    start_api({}, "", &start_call_service());
    json early = request;
    // The bundled deck's first version is in force from 2025-01-01.
    early["start"] = "2020-03-10T09:30:00-05:00";
    const HttpReply reply = post("/quote", early);
    INFO(reply.body.dump());
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == "not-ratable");
    const std::string message = reply.body["error"]["message"];
    CHECK(message.find("no stored rate deck is in effect on 2020-03-10") != std::string::npos);
    CHECK(message.find("the earliest effective date stored is 2025-01-01") != std::string::npos);
    // The command line's next step names `relaygw db load-deck`, and the API names the operator.
    CHECK_THAT(message, Catch::Matchers::EndsWith(
                            "; ask the gateway's operator to load a deck whose first [[version]] "
                            "is effective on or before 2020-03-10"));
    CHECK(message.find("relaygw") == std::string::npos);
  }

  SECTION("start outside call times") {
    relaygw::test::init_billing_database(path("billing.db"));
    start_api({}, "", &start_call_service());
    json late = request;
    late["start"] = "2100-01-01T00:00:00Z";
    const HttpReply reply = post("/quote", late);
    INFO(reply.body.dump());
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == "invalid-argument");
    const std::string message = reply.body["error"]["message"];
    CHECK(message.find("start time 2100-01-01T00:00:00Z") != std::string::npos);
    CHECK(message.find("from 2000-01-01T12:00:00Z to 2099-12-31T09:59:59Z") != std::string::npos);
  }
}

TEST_CASE_METHOD(AdminApiFixture, "admin client names token file faults", "[gateway][admin]") {
  start_api();
  const std::string url = "http://127.0.0.1:" + std::to_string(api_endpoint().port());
  std::ofstream(path("empty-token"));
  std::ofstream(path("blank-token")) << "  \n\n";
  std::ofstream(path("wrong-token")) << "not-the-token\n";
  std::filesystem::create_directory(path("token-folder"));
  struct Case {
    std::string file;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {path("empty-token"), "--token-file '" + path("empty-token") + "' is empty"},
      {path("blank-token"), "--token-file '" + path("blank-token") + "' is empty"},
      {path("token-folder"), "--token-file '" + path("token-folder") + "' is a folder"},
      {path("no-such-token"), "--token-file '" + path("no-such-token") + "' does not exist"},
      {path("wrong-token"),
       "rejected the token in --token-file '" + path("wrong-token") + "' (HTTP 401)"},
  };
  for (const Case& test : cases) {
    std::string output;
    const int status = relaygw::test::run_relaygw(
        {"admin", "--url", url, "--token-file", test.file, "health"}, &output);
    INFO(test.file << ": " << output);
    CHECK(status == 1);
    CHECK(output.find(test.expected) != std::string::npos);
    // Each message names the file a CLI user passes, not the HTTP header an HTTP client sends.
    CHECK(output.find("[admin] token_file") != std::string::npos);
    CHECK(output.find("Authorization") == std::string::npos);
    CHECK(output.find("not-the-token") == std::string::npos);
  }
}

TEST_CASE_METHOD(AdminApiFixture, "admin credit request lands in SQLite", "[gateway][admin]") {
  post_call();
  // Credits above 0.10 wait for a supervisor, so the approval below has work to do.
  std::ofstream(path("policy.toml")) << "[credits]\napproval_above = \"0.10\"\n";
  start_api({}, path("policy.toml"));
  const json ask = {{"call", "c1"},     {"line", 1},      {"reason", "bad-connection"},
                    {"amount", "0.25"}, {"key", "CR-77"}, {"staff", "s-ana"}};
  const HttpReply created = post("/credits", ask);
  INFO(created.body.dump());
  REQUIRE(created.status == 201);
  CHECK(created.body["call_id"] == "c1");
  CHECK(created.body["amount"] == "0.25");
  check_documented(created.body);
  CHECK(created.body["requested_by"] == "staff:s-ana");
  CHECK(created.body["state"] == "pending");
  const std::string credit_id = created.body["id"];

  const HttpReply repeated = post("/credits", ask);
  CHECK(repeated.status == 201);
  CHECK(repeated.body["id"] == credit_id);

  // The same key with another amount gets the provider link's code for a reused key.
  json changed = ask;
  changed["amount"] = "0.30";
  const HttpReply conflict = post("/credits", changed);
  INFO(conflict.body.dump());
  CHECK(conflict.status == 409);
  CHECK(conflict.body["error"]["code"] == "idempotency-conflict");
  CHECK_THAT(conflict.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("'CR-77'"));

  // The record is in the database file, read back without the API.
  auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
  REQUIRE(store.is_ok());
  auto stored = (*store)->list_credits("c1");
  REQUIRE(stored.is_ok());
  REQUIRE(stored->size() == 1);
  CHECK((*stored)[0].id == credit_id);
  CHECK((*stored)[0].amount == 2'500);

  const HttpReply listed = get("/credits?call=c1");
  REQUIRE(listed.status == 200);
  CHECK(listed.body["credits"].size() == 1);
  CHECK(listed.body["credits"][0]["amount"] == "0.25");

  const HttpReply unknown_call = post("/credits", json{{"call", "c404"},
                                                       {"line", 1},
                                                       {"reason", "dropped"},
                                                       {"key", "CR-78"},
                                                       {"staff", "s-ana"}});
  CHECK(unknown_call.status == 404);

  const HttpReply approved =
      post("/credits/" + credit_id + "/approve", json{{"staff", "s-sup"}, {"note", "checked"}});
  INFO(approved.body.dump());
  CHECK(approved.status == 200);
  CHECK(approved.body["state"] == "applied");
  CHECK(approved.body["amount"] == "0.25");
  CHECK(approved.body["decided_by"] == "staff:s-sup");

  const HttpReply approved_again =
      post("/credits/" + credit_id + "/approve", json{{"staff", "s-sup"}});
  CHECK(approved_again.status == 409);

  const HttpReply unknown_credit = post("/credits/cr-none/approve", json{{"staff", "s-sup"}});
  CHECK(unknown_credit.status == 404);
  const std::string unknown_message = unknown_credit.body["error"]["message"];
  CHECK_THAT(unknown_message, Catch::Matchers::Contains("credit 'cr-none' does not exist"));
  CHECK_THAT(unknown_message, Catch::Matchers::Contains("GET /credits"));
  CHECK(unknown_message.find("relaygw") == std::string::npos);

  // Messages shared with `relaygw credit request` name fields here, not options.
  struct Case {
    json body;
    std::string expected;
  };
  const Case cases[] = {
      {json{{"call", "c1"}, {"line", 1}, {"reason", "bad-connection"}, {"key", "CR-79"},
            {"staff", "s-ana"}},
       "send field 'amount' in dollars and cents"},
      {json{{"call", "c1"}, {"line", 1}, {"reason", "other"}, {"amount", "0.01"},
            {"key", "CR-80"}, {"staff", "s-ana"}},
       "send field 'text' naming the reason"},
  };
  for (const Case& test : cases) {
    const HttpReply reply = post("/credits", test.body);
    INFO(test.body.dump() << " -> " << reply.body.dump());
    CHECK(reply.status == 400);
    const std::string message = reply.body["error"]["message"];
    CHECK_THAT(message, Catch::Matchers::Contains(test.expected));
    CHECK(message.find("relaygw") == std::string::npos);
    CHECK(message.find("--") == std::string::npos);
  }
}

TEST_CASE_METHOD(AdminApiFixture, "admin approves dispute adjustment", "[gateway][admin]") {
  post_call();
  std::ofstream(path("policy.toml")) << "[credits]\napproval_above = \"0.10\"\n";
  const std::string db = "--db '" + path("billing.db") + "' ";
  const std::string policy = "--policy '" + path("policy.toml") + "' ";
  const auto opened = run_relaygw("dispute open " + db +
                                  "--call c1 --line 1 --account 'noisy line' --key D-1 --json");
  REQUIRE(opened.status == 0);
  const std::string dispute_id = json::parse(opened.output)["id"];
  const auto resolved = run_relaygw("dispute resolve " + db + policy + "--actor staff:s-ana " +
                                    "--dispute " + dispute_id + " --adjust 0.25 --key R-1 --json");
  INFO(resolved.output);
  REQUIRE(resolved.status == 0);
  CHECK(json::parse(resolved.output)["state"] == "pending-approval");
  start_api({}, path("policy.toml"));

  const HttpReply listed = get("/credits?call=c1");
  REQUIRE(listed.status == 200);
  REQUIRE(listed.body["credits"].size() == 1);
  const json credit = listed.body["credits"][0];
  CHECK(credit["dispute_id"] == dispute_id);
  CHECK(credit["state"] == "pending");
  const std::string credit_id = credit["id"];

  // The staff member who resolved the dispute cannot approve its adjustment.
  const HttpReply self = post("/credits/" + credit_id + "/approve", json{{"staff", "s-ana"}});
  CHECK(self.status == 403);
  const HttpReply approved = post("/credits/" + credit_id + "/approve", json{{"staff", "s-sup"}});
  INFO(approved.body.dump());
  CHECK(approved.status == 200);
  CHECK(approved.body["state"] == "applied");

  auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
  REQUIRE(store.is_ok());
  auto dispute = (*store)->find_dispute(dispute_id);
  REQUIRE(dispute.is_ok());
  REQUIRE(dispute->has_value());
  CHECK((*dispute)->state() == relaygw::billing::DisputeState::Resolved);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects control characters in staff",
                 "[gateway][admin]") {
  post_call();
  start_api();
  const json body = {
      {"call", "c1"}, {"reason", "misdialed"}, {"key", "CR-ESC"}, {"staff", "s-\x1b[31mred"}};
  const HttpReply created = post("/credits", body);
  INFO(created.body.dump());
  CHECK(created.status == 400);
  CHECK(created.body["error"]["code"] == "invalid-field");
  CHECK(created.body["error"]["message"].get<std::string>().find("staff") != std::string::npos);
  auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
  REQUIRE(store.is_ok());
  auto credits = (*store)->list_credits("c1");
  REQUIRE(credits.is_ok());
  CHECK(credits->empty());
}

TEST_CASE_METHOD(AdminApiFixture, "admin api limits staff name length", "[gateway][admin]") {
  post_call();
  start_api();
  // The command line limits --actor to 200 bytes, and the staff name becomes the actor.
  json body = {{"call", "c1"},
               {"line", 1},
               {"reason", "bad-connection"},
               {"amount", "0.05"},
               {"key", "CR-LONG"}};
  body["staff"] = std::string(201, 's');
  const HttpReply too_long = post("/credits", body);
  INFO(too_long.body.dump());
  CHECK(too_long.status == 400);
  CHECK(too_long.body["error"]["code"] == "invalid-field");
  CHECK(too_long.body["error"]["message"] ==
        "field staff is 201 bytes long, and a name or id may be at most 200 bytes; shorten it "
        "and retry");
  const HttpReply take_over = post("/collect/c1/take-over", json{{"staff", std::string(201, 's')}});
  CHECK(take_over.status == 400);

  body["staff"] = std::string(200, 's');
  const HttpReply longest = post("/credits", body);
  INFO(longest.body.dump());
  CHECK(longest.status == 201);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api replaces invalid UTF-8", "[gateway][admin]") {
  post_call();
  start_api();
  const json body = {{"call", "c1"},     {"line", 1},     {"reason", "other"}, {"text", "goodwill"},
                     {"amount", "0.05"}, {"key", "CR-U"}, {"staff", "s-ana"}};
  const HttpReply created = post("/credits", body);
  INFO(created.body.dump());
  REQUIRE(created.status == 201);
  // A byte that starts a two-byte character, with nothing after it, stored as text.
  relaygw::testing::edit_outside_relaygw(path("billing.db"),
                                         "UPDATE credits SET reason_text = CAST(X'67C3' AS TEXT)");
  const HttpReply listed = get("/credits?call=c1");
  INFO(listed.body.dump());
  REQUIRE(listed.status == 200);
  REQUIRE(listed.body["credits"].size() == 1);
  CHECK(listed.body["credits"][0]["text"] == "g\xEF\xBF\xBD");
}

TEST_CASE_METHOD(AdminApiFixture, "admin summary report reads the database", "[gateway][admin]") {
  post_call();
  start_api();
  const HttpReply report = get("/reports/summary?from=2026-03-01&to=2026-03-31");
  INFO(report.body.dump());
  REQUIRE(report.status == 200);
  CHECK(report.body["report"] == "summary");
  CHECK(report.body["total"]["calls"] == 1);

  const HttpReply bad_date = get("/reports/summary?from=2026-13-01&to=2026-03-31");
  CHECK(bad_date.status == 400);

  // The same date range rule as `relaygw report`, worded for query parameters.
  const HttpReply far_date = get("/reports/summary?from=2026-03-01&to=9999-12-31");
  INFO(far_date.body.dump());
  CHECK(far_date.status == 400);
  CHECK(far_date.body.dump().find("9999-12-31") != std::string::npos);
  CHECK(far_date.body.dump().find("query parameter to") != std::string::npos);

  const HttpReply reversed = get("/reports/summary?from=2026-03-01&to=2026-02-01");
  INFO(reversed.body.dump());
  CHECK(reversed.status == 400);
  const std::string reversed_message = reversed.body["error"]["message"];
  CHECK_THAT(reversed_message,
             Catch::Matchers::Contains("swap query parameter from and query parameter to"));
  CHECK(reversed_message.find("--") == std::string::npos);

  const HttpReply unknown = get("/reports/summary?from=2026-03-01&to=2026-03-31&bogus=1");
  INFO(unknown.body.dump());
  CHECK(unknown.status == 400);
  CHECK(unknown.body["error"]["code"] == "invalid-argument");
  CHECK_THAT(unknown.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("unknown query parameter 'bogus'"));
  CHECK_THAT(unknown.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("from, to, by, time_zone"));

  const HttpReply repeated =
      get("/reports/summary?from=2026-03-01&to=2026-03-31&from=2026-02-01");
  INFO(repeated.body.dump());
  CHECK(repeated.status == 400);
  CHECK_THAT(repeated.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("query parameter 'from' appears more than once"));

  // Endpoints without query parameters reject any. An empty pair is not a parameter.
  const HttpReply health = get("/health?verbose=1");
  CHECK(health.status == 400);
  CHECK_THAT(health.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("GET /health takes no query parameters"));
  CHECK(get("/reports/summary?from=2026-03-01&&to=2026-03-31&").status == 200);
}

TEST_CASE_METHOD(AdminApiFixture, "admin stalled client blocks no one", "[gateway][admin]") {
  start_api();

  // The stalled client sends half a request line and then nothing.
  asio::io_context client_io;
  tcp::socket stalled(client_io);
  stalled.connect(api_endpoint());
  asio::write(stalled, asio::buffer(std::string("GET /health HT")));

  const HttpReply other = get("/health");
  CHECK(other.status == 200);

  // The stalled connection is still open, so the response above did not wait for its deadline.
  stalled.non_blocking(true);
  char byte = 0;
  boost::system::error_code error;
  stalled.read_some(asio::buffer(&byte, 1), error);
  CHECK(error == asio::error::would_block);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api closes stalled client", "[gateway][admin]") {
  AdminApiLimits limits;
  limits.io_timeout = std::chrono::milliseconds(300);
  start_api(limits);

  asio::io_context client_io;
  tcp::socket stalled(client_io);
  stalled.connect(api_endpoint());
  asio::write(stalled, asio::buffer(std::string("GET /health HT")));

  // A blocking read returns once the API gives up on the request and closes the socket.
  char byte = 0;
  boost::system::error_code error;
  stalled.read_some(asio::buffer(&byte, 1), error);
  CHECK((error == asio::error::eof || error == asio::error::connection_reset));
}

TEST_CASE("admin start names token file faults", "[gateway][admin]") {
  relaygw::test::TempDir dir;
  std::filesystem::create_directory(dir.file("token-folder"));
  std::ofstream(dir.file("empty-token"));
  std::ofstream(dir.file("blank-first-line")) << "\ntoken-on-line-two\n";
  struct Case {
    std::string file;
    relaygw::StatusCode code;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {dir.file("token-folder"), relaygw::StatusCode::InvalidArgument,
       "[admin] token_file '" + dir.file("token-folder") + "' is a folder, not a token file"},
      {dir.file("empty-token"), relaygw::StatusCode::InvalidArgument,
       "[admin] token_file '" + dir.file("empty-token") + "' is empty"},
      {dir.file("blank-first-line"), relaygw::StatusCode::InvalidArgument,
       "has an empty first line; put the admin token there"},
      {dir.file("no-such-token"), relaygw::StatusCode::NotFound, "does not exist"},
  };
  asio::io_context io;
  SessionRegistry registry;
  for (const Case& test : cases) {
    AdminConfig config;
    config.listen = {"127.0.0.1", 0};
    config.token_file = test.file;
    AdminApi api(io, config, AdminApiParts{registry, nullptr, nullptr, BillingConfig{}});
    const relaygw::Status started = api.start();
    INFO(test.file << ": " << started.message());
    CHECK(started.code() == test.code);
    CHECK(started.message().find(test.expected) != std::string::npos);
    CHECK(started.message().find("token-on-line-two") == std::string::npos);
  }
}

TEST_CASE("admin api rejects non-loopback address", "[gateway][admin]") {
  asio::io_context io;
  SessionRegistry registry;
  for (const std::string address : {"0.0.0.0", "192.0.2.10", "::", "localhost"}) {
    AdminConfig config;
    config.listen = {address, 0};
    config.token_file = "/nonexistent/token";
    AdminApi api(io, config, AdminApiParts{registry, nullptr, nullptr, BillingConfig{}});
    const relaygw::Status started = api.start();
    INFO("address " << address << ": " << started.message());
    CHECK(started.code() == relaygw::StatusCode::InvalidArgument);
    CHECK(started.message().find("'" + address + "'") != std::string::npos);
  }

  AdminConfig no_token;
  no_token.listen = {"127.0.0.1", 0};
  no_token.token_file = "/nonexistent/token";
  AdminApi api(io, no_token, AdminApiParts{registry, nullptr, nullptr, BillingConfig{}});
  const relaygw::Status started = api.start();
  CHECK(started.code() == relaygw::StatusCode::NotFound);
  CHECK(started.message().find("/nonexistent/token") != std::string::npos);
}

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects blank staff and bad keys",
                 "[gateway][admin]") {
  post_call();
  start_api();
  const json credit = {{"call", "c1"},     {"line", 1},     {"reason", "bad-connection"},
                       {"amount", "0.05"}, {"key", "CR-1"}, {"staff", "ana"}};
  struct Case {
    std::string target;
    json body;
    std::string message;
  };
  auto with = [&credit](const std::string& field, const std::string& value) {
    json body = credit;
    body[field] = value;
    return body;
  };
  const std::string blank_fix = "; send the staff member's name, such as \"ana\"";
  const std::string control_fix =
      "; names and ids must be UTF-8 text with no control characters, so remove it and retry";
  const std::string bidi_fix =
      "; it changes the order in which the text around it is displayed, so remove it and retry";
  const Case cases[] = {
      {"/credits", with("staff", "  "),
       "field staff is blank: it contains only spaces or characters that display as nothing" +
           blank_fix},
      // U+3000 IDEOGRAPHIC SPACE and U+200B ZERO WIDTH SPACE.
      {"/credits", with("staff", "\xE3\x80\x80\xE2\x80\x8B"),
       "field staff is blank: it contains only spaces or characters that display as nothing" +
           blank_fix},
      {"/credits", with("staff", "ana\xE2\x80\xAEnib"),
       "field staff contains bidirectional control character U+202E at position 4" + bidi_fix},
      {"/credits", with("staff", "ana\xE2\x80\xA8" "bob"),
       "field staff contains line separator U+2028 at position 4; a name or id is one line, so "
       "remove the line break and retry"},
      {"/credits", with("key", "CR\x07x"),
       "field key contains control character U+0007 at position 3" + control_fix},
      {"/credits", with("key", "CR\xC2\x9Bx"),
       "field key contains control character U+009B at position 3" + control_fix},
      {"/credits", with("key", "CR\xE2\x81\xA7x"),
       "field key contains bidirectional control character U+2067 at position 3" + bidi_fix},
      {"/credits", with("call", "c\xE2\x80\x8F" "1"),
       "field call contains bidirectional control character U+200F at position 2" + bidi_fix},
      {"/collect/c1/take-over", json{{"staff", " "}},
       "field staff is blank: it contains only spaces or characters that display as nothing" +
           blank_fix},
      {"/collect/c1/accept", json{{"staff", "ana"}, {"key", "A\x1b[2J"}},
       "field key contains control character U+001B at position 2" + control_fix},
      {"/credits/cr1/approve", json{{"staff", "\xE2\x80\x8E "}},
       "field staff contains bidirectional control character U+200E at position 1" + bidi_fix},
      {"/credits/cr%E2%80%AE1/reject", json{{"staff", "sup"}},
       "the credit id in the path contains bidirectional control character U+202E at position 3" +
           bidi_fix},
  };
  for (const Case& test : cases) {
    const HttpReply reply = post(test.target, test.body);
    INFO(test.target << " " << test.body.dump() << " -> " << reply.body.dump());
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == "invalid-field");
    CHECK(reply.body["error"]["message"] == test.message);
  }
  const HttpReply query = get("/credits?call=c%E2%81%A91");
  INFO(query.body.dump());
  CHECK(query.status == 400);
  CHECK(query.body["error"]["message"] ==
        "query parameter call contains bidirectional control character U+2069 at position 2" +
            bidi_fix);

  auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
  REQUIRE(store.is_ok());
  auto credits = (*store)->list_credits("");
  REQUIRE(credits.is_ok());
  CHECK(credits->empty());
  // The same request with clean fields is stored, so the rejections above were for the text.
  const HttpReply created = post("/credits", credit);
  INFO(created.body.dump());
  CHECK(created.status == 201);
}

TEST_CASE_METHOD(AdminApiFixture, "admin client names commands as next step", "[gateway][admin]") {
  post_call();
  std::ofstream(path("policy.toml")) << "[credits]\napproval_above = \"0.10\"\n";
  start_api({}, path("policy.toml"));
  const HttpReply pending = post("/credits", json{{"call", "c1"},
                                                  {"line", 1},
                                                  {"reason", "bad-connection"},
                                                  {"amount", "0.25"},
                                                  {"key", "CR-1"},
                                                  {"staff", "s-ana"}});
  INFO(pending.body.dump());
  REQUIRE(pending.status == 201);
  const std::string credit_id = pending.body["id"];

  // The API sends the step apart from the message, and the message ends with its text.
  const HttpReply self = post("/credits/" + credit_id + "/approve", json{{"staff", "s-ana"}});
  INFO(self.body.dump());
  REQUIRE(self.status == 403);
  const json& step = self.body["error"]["next_step"];
  CHECK(step["kind"] == "approve-as-other-staff");
  CHECK(step["subject"] == credit_id);
  const std::string api_text =
      "a supervisor other than the requester must send POST /credits/" + credit_id + "/approve";
  CHECK(step["text"] == api_text);
  CHECK_THAT(self.body["error"]["message"].get<std::string>(),
             Catch::Matchers::EndsWith("; " + api_text));
  CHECK(post("/credits/cr-none/approve", json{{"staff", "s-sup"}})
            .body["error"]["next_step"]["kind"] == "list-credits");

  const std::vector<std::string> admin = {
      "admin", "--url", "http://127.0.0.1:" + std::to_string(api_endpoint().port()), "--token-file",
      path("token")};
  auto run_admin = [&admin](const std::vector<std::string>& rest, std::string& output) {
    std::vector<std::string> arguments = admin;
    arguments.insert(arguments.end(), rest.begin(), rest.end());
    return relaygw::test::run_relaygw(arguments, &output);
  };
  struct Case {
    std::vector<std::string> arguments;
    std::string expected;
  };
  const Case cases[] = {
      {{"credit", "approve", "--credit", credit_id, "--staff", "s-ana"},
       "relaygw admin: HTTP 403 permission-denied: credit '" + credit_id +
           "' was requested by staff:s-ana, so staff:s-ana cannot approve it; a supervisor other "
           "than the requester must run `relaygw admin credit approve --credit " +
           credit_id + " --staff NAME`\n"},
      {{"credit", "reject", "--credit", "cr-none", "--staff", "s-sup"},
       "credit 'cr-none' does not exist; list credits with `relaygw admin credit list`\n"},
      {{"credit", "request", "--call", "c1", "--line", "1", "--reason", "bad-connection", "--key",
        "CR-2", "--staff", "s-ana"},
       "; pass --amount DOLLARS\n"},
      {{"credit", "request", "--call", "c404", "--line", "1", "--reason", "dropped", "--key",
        "CR-3", "--staff", "s-ana"},
       "call 'c404' does not exist; check the id with `relaygw call show`\n"},
  };
  for (const Case& test : cases) {
    std::string output;
    const int status = run_admin(test.arguments, output);
    INFO(output);
    CHECK(status == 1);
    CHECK_THAT(output, Catch::Matchers::EndsWith(test.expected));
    CHECK(output.find("POST /") == std::string::npos);
    CHECK(output.find("GET /") == std::string::npos);
    CHECK(output.find("send field") == std::string::npos);
  }
}

TEST_CASE_METHOD(AdminApiFixture, "admin and command line name next step", "[gateway][admin]") {
  post_call();
  std::ofstream(path("policy.toml")) << "[credits]\napproval_above = \"0.10\"\n";
  std::filesystem::create_directory(path("empty-data"));
  start_api({}, path("policy.toml"), nullptr, path("empty-data"));
  const std::string db = path("billing.db");

  // Line 1 is credited in full and waits for approval, so nothing is left to credit on it.
  auto store = relaygw::billing::SqliteStore::open(db);
  REQUIRE(store);
  auto call = (*store)->find_call("c1");
  REQUIRE(call);
  REQUIRE(call->has_value());
  REQUIRE((*call)->posting.has_value());
  const std::string line_amount =
      relaygw::billing::format_dollars((*call)->posting->lines.at(0).amount, 2);
  const HttpReply full = post("/credits", json{{"call", "c1"},
                                               {"line", 1},
                                               {"reason", "bad-connection"},
                                               {"amount", line_amount},
                                               {"key", "CR-full"},
                                               {"staff", "s-ana"}});
  INFO(full.body.dump());
  REQUIRE(full.status == 201);
  const std::string credit_id = full.body["id"];

  // Each case fails one way through `relaygw credit` and through the API. The command line
  // keeps its message, and the API names the same fix as an endpoint or a field. A message
  // that names a file or an instant is checked by its end only.
  struct Case {
    std::vector<std::string> command;
    std::string command_message;
    std::string target;
    json body;
    int status;
    std::string api_message;
    bool whole_message;
  };
  auto request = [&](const std::vector<std::string>& fields) {
    std::vector<std::string> command = {"credit", "request", "--db", db, "--actor", "staff:s-ana"};
    command.insert(command.end(), fields.begin(), fields.end());
    return command;
  };
  const std::string policy = path("policy.toml");
  const std::vector<Case> cases = {
      {request({"--policy", policy, "--call", "c1", "--line", "1", "--reason", "bad-connection",
                "--key", "CR-a"}),
       "no policy rule sets the amount of this bad-connection credit on call c1; pass --amount "
       "DOLLARS",
       "/credits",
       json{{"call", "c1"},
            {"line", 1},
            {"reason", "bad-connection"},
            {"key", "CR-a"},
            {"staff", "s-ana"}},
       400,
       "no policy rule sets the amount of this bad-connection credit on call c1; send field "
       "'amount' in dollars and cents, such as \"0.10\"",
       true},
      {request({"--policy", policy, "--call", "c1", "--line", "1", "--reason", "misdialed", "--key",
                "CR-b"}),
       "Z, so pass --amount DOLLARS", "/credits",
       json{{"call", "c1"},
            {"line", 1},
            {"reason", "misdialed"},
            {"key", "CR-b"},
            {"staff", "s-ana"}},
       400, "Z, so send field 'amount' in dollars and cents, such as \"0.10\"", false},
      {request({"--policy", policy, "--call", "c1", "--line", "1", "--reason", "other", "--amount",
                "0.01", "--key", "CR-c"}),
       "credit reason 'other' needs a text naming the reason; pass --text", "/credits",
       json{{"call", "c1"},
            {"line", 1},
            {"reason", "other"},
            {"amount", "0.01"},
            {"key", "CR-c"},
            {"staff", "s-ana"}},
       400,
       "credit reason 'other' needs a text naming the reason; send field 'text' naming the "
       "reason",
       true},
      {request({"--policy", policy, "--call", "c404", "--line", "1", "--reason", "dropped", "--key",
                "CR-d"}),
       "call 'c404' does not exist; check the id with `relaygw call show`", "/credits",
       json{{"call", "c404"},
            {"line", 1},
            {"reason", "dropped"},
            {"key", "CR-d"},
            {"staff", "s-ana"}},
       404, "call 'c404' does not exist; check field 'call'", true},
      {request({"--policy", policy, "--call", "c1", "--line", "1", "--reason", "bad-connection",
                "--amount", "0.01", "--key", "CR-e"}),
       "call c1 line 1 has nothing left to credit (0.00 after earlier credits); check "
       "`relaygw credit list --call c1`",
       "/credits",
       json{{"call", "c1"},
            {"line", 1},
            {"reason", "bad-connection"},
            {"amount", "0.01"},
            {"key", "CR-e"},
            {"staff", "s-ana"}},
       409,
       "call c1 line 1 has nothing left to credit (0.00 after earlier credits); list the "
       "call's credits with GET /credits?call=c1",
       true},
      {request({"--policy", policy, "--data-dir", path("empty-data"), "--call", "c1", "--line", "1",
                "--reason", "rating-error", "--key", "CR-f"}),
       "' not found; pass --data-dir or set RELAYGW_DATA_DIR to the folder that contains nanp/",
       "/credits",
       json{{"call", "c1"},
            {"line", 1},
            {"reason", "rating-error"},
            {"key", "CR-f"},
            {"staff", "s-ana"}},
       404,
       "' not found; ask the gateway's operator to set [billing] data_dir to the folder that "
       "contains nanp/",
       false},
      {{"credit", "approve", "--db", db, "--actor", "staff:s-ana", "--credit", credit_id},
       "credit '" + credit_id +
           "' was requested by staff:s-ana, so staff:s-ana cannot approve it; a supervisor "
           "other than the requester must run `relaygw credit approve`",
       "/credits/" + credit_id + "/approve",
       json{{"staff", "s-ana"}},
       403,
       "credit '" + credit_id +
           "' was requested by staff:s-ana, so staff:s-ana cannot approve it; a supervisor "
           "other than the requester must send POST /credits/" +
           credit_id + "/approve",
       true},
      {{"credit", "approve", "--db", db, "--actor", "staff:s-sup", "--credit", "cr-none"},
       "credit 'cr-none' does not exist; list credits with `relaygw credit list`",
       "/credits/cr-none/approve",
       json{{"staff", "s-sup"}},
       404,
       "credit 'cr-none' does not exist; list credits with GET /credits",
       true},
      {request({"--policy", path("no-policy.toml"), "--call", "c1", "--line", "1", "--reason",
                "dropped", "--key", "CR-g"}),
       "credit policy file '" + path("no-policy.toml") +
           "' cannot be read; pass --policy with a readable file or omit it for the defaults",
       "", json(), 0, "", true},
  };
  for (const Case& test : cases) {
    std::string output;
    const int exit_status = relaygw::test::run_relaygw(test.command, &output);
    INFO(test.command_message << "\n  command output: " << output);
    CHECK(exit_status == 1);
    CHECK_THAT(output, Catch::Matchers::Contains(test.command_message));
    if (test.target.empty()) {
      continue;
    }

    const HttpReply reply = post(test.target, test.body);
    INFO("API reply: " << reply.body.dump());
    CHECK(reply.status == test.status);
    const std::string message = reply.body["error"]["message"];
    if (test.whole_message) {
      CHECK(message == test.api_message);
    } else {
      CHECK_THAT(message, Catch::Matchers::EndsWith(test.api_message));
    }
    // Commands are written "`relaygw ...`". The folder names of this test contain "relaygw-".
    CHECK(message.find("relaygw ") == std::string::npos);
    CHECK(message.find('`') == std::string::npos);
    CHECK(message.find("--") == std::string::npos);
  }

  // The API's credit policy file is the gateway operator's to fix.
  stop_api();
  start_api({}, path("no-policy.toml"));
  const HttpReply no_policy = post(
      "/credits",
      json{
          {"call", "c1"}, {"line", 1}, {"reason", "dropped"}, {"key", "CR-g"}, {"staff", "s-ana"}});
  CHECK(no_policy.status == 503);
  CHECK(no_policy.body["error"]["message"] ==
        "credit policy file '" + path("no-policy.toml") +
            "' cannot be read; ask the gateway's operator to fix [billing] credit_policy_file");
}

using relaygw::testing::edit_outside_relaygw;

TEST_CASE_METHOD(AdminApiFixture, "admin api rejects card numbers in ids", "[gateway][admin]") {
  post_call();
  {
    auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
    REQUIRE(store);
    relaygw::billing::NewCard card;
    card.number = "3125550188";
    card.opening_balance = 500;
    card.pin_iterations = 1'000;
    REQUIRE(relaygw::billing::add_card(**store, card, "4821",
                                       {"staff:test", std::chrono::floor<std::chrono::seconds>(
                                                          std::chrono::system_clock::now())}));
  }
  start_api();
  const json ask = {{"call", "c1"},     {"line", 1},     {"reason", "bad-connection"},
                    {"amount", "0.05"}, {"key", "CR-1"}, {"staff", "s-ana"}};
  const std::string stored = "contains the number of a calling card in this database";
  struct Case {
    std::string target;
    json body;  // null for a GET
    std::string message;
  };
  const auto with = [&ask](const std::string& field, const std::string& value) {
    json body = ask;
    body[field] = value;
    return body;
  };
  const std::vector<Case> cases = {
      {"/credits", with("staff", "clerk 4111 1111 1111 1111"),
       "field staff 'clerk **** **** **** 1111' contains a run of 16 digits"},
      {"/credits", with("key", "CR-3125550188"), "field key 'CR-******0188' " + stored},
      {"/credits", with("call", "c-3125550188"), "field call 'c-******0188' " + stored},
      {"/credits?call=3125550188", nullptr, "query parameter call '******0188' " + stored},
      {"/credits/cr-4111111111111111/approve", json{{"staff", "s-ana"}},
       "the credit id in the path 'cr-************1111' contains a run of 16 digits"},
      {"/collect/c-3125550188/take-over", json{{"staff", "s-ana"}},
       "the call id in the path 'c-******0188' " + stored},
      {"/collect/c1/accept", json{{"staff", "s-ana"}, {"key", "acc-4111111111111111"}},
       "field key 'acc-************1111' contains a run of 16 digits"},
  };
  for (const Case& item : cases) {
    INFO(item.target << " " << item.body.dump());
    const HttpReply reply = item.body.is_null() ? get(item.target) : post(item.target, item.body);
    INFO(reply.body.dump());
    CHECK(reply.status == 400);
    CHECK(reply.body["error"]["code"] == "invalid-field");
    const std::string message = reply.body["error"]["message"];
    CHECK(message.find(item.message) != std::string::npos);
    CHECK(message.find("without the card number") != std::string::npos);
    CHECK(message.find("3125550188") == std::string::npos);
    CHECK(message.find("4111111111111111") == std::string::npos);
  }

  // A phone number that is no stored card stays valid in a staff name and a key.
  const HttpReply phone = post("/credits", with("staff", "desk 3125550107"));
  INFO(phone.body.dump());
  CHECK(phone.status == 201);
  CHECK(phone.body["requested_by"] == "staff:desk 3125550107");
  auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
  REQUIRE(store);
  auto credits = (*store)->list_credits("c1");
  REQUIRE(credits);
  CHECK(credits->size() == 1);
}

TEST_CASE_METHOD(AdminApiFixture, "admin database faults name operator", "[gateway][admin]") {
  // The command line names `relaygw db init`, and the API names the operator instead.
  start_api();
  const HttpReply missing = get("/credits");
  INFO(missing.body.dump());
  CHECK(missing.status == 503);
  CHECK_THAT(missing.body["error"]["message"].get<std::string>(),
             Catch::Matchers::EndsWith("' does not exist; ask the gateway's operator to create "
                                       "the billing database or to fix [billing] database"));
  CHECK(run_relaygw("credit list --db '" + path("billing.db") + "'").status == 1);

  std::ofstream(path("billing.db")) << "not a database, but long enough to have a header\n";
  const HttpReply not_sqlite = get("/credits");
  INFO(not_sqlite.body.dump());
  CHECK(not_sqlite.status == 503);
  CHECK_THAT(not_sqlite.body["error"]["message"].get<std::string>(),
             Catch::Matchers::EndsWith("is not a relaygw database (it is not an SQLite file); ask "
                                       "the gateway's operator to fix [billing] database"));
  stop_api();
  std::filesystem::remove(path("billing.db"));

  // Charge lines whose sum leaves the 64-bit range were changed outside relaygw.
  post_call();
  auto call = [&] {
    auto store = relaygw::billing::SqliteStore::open(path("billing.db"));
    REQUIRE(store);
    auto found = (*store)->find_call("c1");
    REQUIRE(found);
    REQUIRE(found->has_value());
    return **found;
  }();
  REQUIRE(call.posting.has_value());
  REQUIRE(call.posting->lines.size() >= 2);
  edit_outside_relaygw(path("billing.db"),
                       "UPDATE charge_lines SET amount = 9223372036854775807, kind = 'tax' "
                       "WHERE call_id = 'c1'");
  start_api();
  const HttpReply report = get("/reports/summary?from=2026-03-01&to=2026-03-31");
  INFO(report.body.dump());
  CHECK(report.status == 500);
  const std::string message = report.body["error"]["message"];
  CHECK(message.find("sum past the 64-bit integer range") != std::string::npos);
  CHECK_THAT(message, Catch::Matchers::EndsWith(
                          "; ask the gateway's operator to find the changed row of the billing "
                          "database and restore the database from a backup"));
  CHECK(message.find("relaygw audit") == std::string::npos);
}

TEST_CASE_METHOD(AdminApiFixture, "admin quote without deck names operator", "[gateway][admin]") {
  relaygw::test::init_billing_database(path("billing.db"));
  start_api({}, "", &start_call_service());
  // The decks leave the file after the call service loaded one, as if removed by hand.
  edit_outside_relaygw(path("billing.db"), "DELETE FROM rate_deck_files; DELETE FROM rate_decks");
  const HttpReply reply = post("/quote", json{{"from", "3125550107"},
                                              {"to", "2125550101"},
                                              {"billing", "collect"},
                                              {"start", "2026-03-10T09:30:00-05:00"},
                                              {"minutes", "2"}});
  INFO(reply.body.dump());
  CHECK(reply.status == 503);
  CHECK(reply.body["error"]["code"] == "rating-unavailable");
  const std::string message = reply.body["error"]["message"];
  CHECK_THAT(message, Catch::Matchers::EndsWith(
                          "has no rate deck; ask the gateway's operator to load a rate deck "
                          "into the [billing] database"));
  CHECK(message.find("relaygw db") == std::string::npos);
}
