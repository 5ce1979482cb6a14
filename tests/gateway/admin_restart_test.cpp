// The admin API of a whole gateway Server (provider link over TLS, admin API on loopback HTTP)
// stopped and started again on the same SQLite file: accepts that repeat after the restart.
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/sqlite_store.hpp"
#include "gateway/server/server.hpp"
#include "gateway/server/session_registry.hpp"
#include "tests/gateway/test_support.hpp"
#include "tests/sqlite_edit.hpp"

namespace relaygw::gateway::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

constexpr const char* kToken = "restart-admin-token-41d9";

struct HttpReply {
  int status = 0;
  json body;
};

// A gateway Server with the admin API on 127.0.0.1, on a database that `relaygw db init` made
// and that contains collect calls c1 and c2, not yet accepted.
struct AdminGateway {
  AdminGateway() {
    certs = test::make_certificates(dir.file("certs"), {"acme"});
    config = test::test_server_config(dir, certs, psap.port());
    std::ofstream(dir.file("token")) << kToken << "\n";
    config.admin.enabled = true;
    config.admin.listen = {"127.0.0.1", 0};
    config.admin.token_file = dir.file("token");
    test::init_billing_database(config.billing.database);
    for (const std::string call : {"c1", "c2"}) {
      std::string output;
      const int status =
          test::run_relaygw({"call", "create", "--db", config.billing.database, "--id", call,
                             "--from", "3125550107", "--to", "2125550101", "--billing", "collect",
                             "--access", "relay-tty", "--at", "2026-03-10T14:00:00Z"},
                            &output);
      INFO(output);
      REQUIRE(status == 0);
    }
    start();
  }

  ~AdminGateway() { server->stop(); }

  void start() {
    server = std::make_unique<Server>(config);
    const Status started = server->start();
    INFO(started.message());
    REQUIRE(started);
    admin_port = server->admin_endpoint().value().port;
  }

  void restart() {
    server->stop();
    start();
  }

  // Puts `call_id` in the registry as a collect call waiting for staff, as the TTY line does.
  void add_waiting_collect(const std::string& call_id) {
    CollectSession collect;
    collect.call_id = call_id;
    collect.session_id = "s-" + call_id;
    collect.called_number = "+12125550101";
    collect.billed_number = "+12125550101";
    collect.state = CollectState::AwaitingStaff;
    collect.tty_tones_heard = true;
    collect.waiting_since = Clock::now();
    server->sessions().add_collect(collect);
  }

  HttpReply post(const std::string& target, const json& body) const {
    boost::asio::io_context client_io;
    beast::tcp_stream stream(client_io);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), admin_port});
    http::request<http::string_body> message(http::verb::post, target, 11);
    message.set(http::field::host, "127.0.0.1");
    message.set(http::field::authorization, std::string("Bearer ") + kToken);
    message.set(http::field::content_type, "application/json");
    message.body() = body.dump();
    message.prepare_payload();
    http::write(stream, message);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return {static_cast<int>(response.result_int()),
            json::parse(response.body(), nullptr, /*allow_exceptions=*/false)};
  }

  // The number of accepted events stored for `call_id`.
  int stored_acceptances(const std::string& call_id) const {
    auto store = billing::SqliteStore::open(config.billing.database);
    REQUIRE(store);
    auto record = (*store)->find_call(call_id);
    REQUIRE(record);
    REQUIRE(record->has_value());
    int accepted = 0;
    for (const billing::CallEventRecord& event : (*record)->events) {
      accepted += event.event == billing::CallEvent::Accepted ? 1 : 0;
    }
    return accepted;
  }

  // Runs one SQL statement on the billing database with a connection of its own.
  void exec_sql(const std::string& sql) const {
    relaygw::testing::edit_outside_relaygw(config.billing.database, sql);
  }

  // Whether an accept response is stored under the client key `key`.
  bool stored_accept_response(const std::string& key) const {
    auto store = billing::SqliteStore::open(config.billing.database);
    REQUIRE(store);
    auto row = (*store)->find_stored_request("admin-api:accept:" + key);
    REQUIRE(row);
    return row->has_value();
  }

  test::TempDir dir;
  test::TestPsap psap;
  DevCertificateFiles certs;
  ServerConfig config;
  std::unique_ptr<Server> server;
  std::uint16_t admin_port = 0;
};

}  // namespace

TEST_CASE("admin accept stores response with acceptance", "[gateway][admin]") {
  AdminGateway gateway;
  gateway.add_waiting_collect("c1");
  // The write of the accept response fails, as when the gateway stops after the acceptance's
  // commit and before a separate commit of its response.
  gateway.exec_sql(
      "CREATE TRIGGER fail_accept_response BEFORE INSERT ON idempotency_keys "
      "WHEN NEW.scope = 'admin-accept' BEGIN SELECT RAISE(ABORT, 'response write failed'); END");
  const json body = {{"staff", "s-ana"}, {"how", "voice"}, {"key", "acc-crash"}};
  const HttpReply failed = gateway.post("/collect/c1/accept", body);
  INFO(failed.body.dump());
  CHECK(failed.status == 503);
  CHECK(failed.body["error"]["code"] == "unavailable");
  // Neither the acceptance nor its response is stored, so a retry is a new request.
  CHECK(gateway.stored_acceptances("c1") == 0);
  CHECK_FALSE(gateway.stored_accept_response("acc-crash"));

  gateway.exec_sql("DROP TRIGGER fail_accept_response");
  gateway.restart();
  // The TTY line registers the call again while it still waits for staff.
  gateway.add_waiting_collect("c1");
  const HttpReply accepted = gateway.post("/collect/c1/accept", body);
  INFO(accepted.body.dump());
  REQUIRE(accepted.status == 200);
  CHECK(gateway.stored_acceptances("c1") == 1);
  CHECK(gateway.stored_accept_response("acc-crash"));

  // A retry after the acceptance was committed gets the first response, with no live call.
  gateway.restart();
  const HttpReply repeated = gateway.post("/collect/c1/accept", body);
  INFO(repeated.body.dump());
  CHECK(repeated.status == 200);
  CHECK(repeated.body == accepted.body);
  gateway.server->stop();
  CHECK(gateway.stored_acceptances("c1") == 1);
  std::string verified;
  const int verify_status =
      test::run_relaygw({"audit", "verify", "--db", gateway.config.billing.database}, &verified);
  INFO(verified);
  CHECK(verify_status == 0);
}

TEST_CASE("admin accept repeats after restart", "[gateway][admin]") {
  AdminGateway gateway;
  gateway.add_waiting_collect("c1");
  gateway.add_waiting_collect("c2");

  const json default_key_body = {{"staff", "s-ana"}, {"how", "tty-text"}};
  const HttpReply first_default = gateway.post("/collect/c1/accept", default_key_body);
  INFO(first_default.body.dump());
  REQUIRE(first_default.status == 200);
  const json client_key_body = {{"staff", "s-ana"}, {"how", "keypad"}, {"key", "acc-9"}};
  const HttpReply first_client = gateway.post("/collect/c2/accept", client_key_body);
  INFO(first_client.body.dump());
  REQUIRE(first_client.status == 200);

  // The new Server's registry is empty, so only the stored responses can be returned.
  gateway.restart();

  const HttpReply repeated_default = gateway.post("/collect/c1/accept", default_key_body);
  INFO(repeated_default.body.dump());
  CHECK(repeated_default.status == 200);
  CHECK(repeated_default.body == first_default.body);
  const HttpReply repeated_client = gateway.post("/collect/c2/accept", client_key_body);
  INFO(repeated_client.body.dump());
  CHECK(repeated_client.status == 200);
  CHECK(repeated_client.body == first_client.body);

  // A different request under a used key gets the same codes as before the restart.
  const HttpReply changed_client = gateway.post(
      "/collect/c2/accept", json{{"staff", "s-ana"}, {"how", "voice"}, {"key", "acc-9"}});
  INFO(changed_client.body.dump());
  CHECK(changed_client.status == 409);
  CHECK(changed_client.body["error"]["code"] == "idempotency-conflict");
  CHECK_THAT(changed_client.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("'acc-9'"));
  const HttpReply changed_default =
      gateway.post("/collect/c1/accept", json{{"staff", "s-ben"}, {"how", "tty-text"}});
  INFO(changed_default.body.dump());
  CHECK(changed_default.status == 409);
  CHECK(changed_default.body["error"]["code"] == "invalid-state");
  CHECK_THAT(changed_default.body["error"]["message"].get<std::string>(),
             Catch::Matchers::Contains("already accepted by s-ana (how tty-text)"));

  // A key never stored requests acceptance of a settled call again.
  const HttpReply new_key = gateway.post(
      "/collect/c2/accept", json{{"staff", "s-ana"}, {"how", "keypad"}, {"key", "acc-10"}});
  CHECK(new_key.status == 409);
  CHECK(new_key.body["error"]["code"] == "failed-precondition");

  gateway.server->stop();
  CHECK(gateway.stored_acceptances("c1") == 1);
  CHECK(gateway.stored_acceptances("c2") == 1);
  std::string verified;
  const int verify_status =
      test::run_relaygw({"audit", "verify", "--db", gateway.config.billing.database}, &verified);
  INFO(verified);
  CHECK(verify_status == 0);
}

TEST_CASE("admin accept keys apart from credit keys", "[gateway][admin]") {
  AdminGateway gateway;
  auto store = billing::SqliteStore::open(gateway.config.billing.database);
  REQUIRE(store);
  // A credit request stores its client key as is, under scope "credit".
  const billing::WriteContext context{
      "staff:s-ana", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())};
  const billing::IdempotencyKey shared{"shared-7", "hash-of-a-credit"};
  const Status credit_key = (*store)->store_request_result(shared, "credit", "cr-1", context);
  REQUIRE(credit_key);
  const Status stored_again = (*store)->store_request_result(shared, "credit", "cr-1", context);
  CHECK(stored_again.code() == StatusCode::AlreadyExists);
  CHECK_THAT(stored_again.message(), Catch::Matchers::Contains("'shared-7'"));
  gateway.add_waiting_collect("c1");

  const HttpReply accepted = gateway.post(
      "/collect/c1/accept", json{{"staff", "s-ana"}, {"how", "voice"}, {"key", "shared-7"}});
  INFO(accepted.body.dump());
  CHECK(accepted.status == 200);

  // The stored key of an accept is distinct, so the credit's row is unchanged.
  auto credit_row = (*store)->find_stored_request("shared-7");
  REQUIRE(credit_row);
  REQUIRE(credit_row->has_value());
  CHECK((*credit_row)->scope == "credit");
  auto accept_row = (*store)->find_stored_request("admin-api:accept:shared-7");
  REQUIRE(accept_row);
  REQUIRE(accept_row->has_value());
  CHECK((*accept_row)->scope == "admin-accept");
}

}  // namespace relaygw::gateway::server
