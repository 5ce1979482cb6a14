// The relay provider link over real TLS on loopback: a gateway Server with certificates made
// by the tests, a real SQLite database and a loopback PSAP.
#include <algorithm>
#include <fstream>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/cards.hpp"
#include "billing/sqlite_store.hpp"
#include "gateway/replay/day.hpp"
#include "gateway/replay/replay.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/provider_listener.hpp"
#include "gateway/server/server.hpp"
#include "gateway/server/session_registry.hpp"
#include "relay-adapters/events.hpp"
#include "tests/gateway/test_support.hpp"

namespace relaygw::gateway::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Gateway {
  explicit Gateway(std::chrono::seconds idle_timeout = 300s) {
    certs = test::make_certificates(dir.file("certs"), {"acme", "beacon"});
    config = test::test_server_config(dir, certs, psap.port());
    config.provider_link.idle_timeout = idle_timeout;
    // These tests stamp steps minutes after the test starts, ahead of the gateway clock, so
    // that conversation times are exact.
    config.billing.clock_tolerance = 900s;
    test::init_billing_database(config.billing.database);
    server = std::make_unique<Server>(config);
    const Status started = server->start();
    INFO(started.message());
    REQUIRE(started);
    port = server->provider_link_endpoint().value().port;
  }

  ~Gateway() { server->stop(); }

  // A connected client with the certificate of `provider` ("acme" or "beacon").
  std::unique_ptr<test::TlsLineClient> client(const std::string& provider) {
    const std::size_t index = provider == "acme" ? 0 : 1;
    auto connection = std::make_unique<test::TlsLineClient>(
        port, certs.ca_certificate, certs.client_certificates[index], certs.client_keys[index]);
    const std::string error = connection->connect();
    INFO(error);
    REQUIRE(error.empty());
    return connection;
  }

  billing::CallRecord stored_call(const std::string& call) {
    auto store = billing::SqliteStore::open(config.billing.database);
    REQUIRE(store);
    auto record = (*store)->find_call(call);
    REQUIRE(record);
    REQUIRE(record->has_value());
    return **record;
  }

  test::TempDir dir;
  test::TestPsap psap;
  DevCertificateFiles certs;
  ServerConfig config;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;
};

// An instant `seconds` after the test started, as RFC 3339: event times must not be before the
// call was requested, which the gateway stamps with the current time.
std::string later(int seconds) {
  static const auto start =
      std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return relay::format_instant(start + std::chrono::seconds(seconds));
}

json read_json(test::TlsLineClient& client) {
  const std::optional<std::string> line = client.read_line();
  REQUIRE(line.has_value());
  const json message = json::parse(*line, nullptr, false);
  INFO(*line);
  REQUIRE(message.is_object());
  return message;
}

std::string session_open(const std::string& session, const std::string& id = "m-open") {
  return json{{"type", "session.open"},   {"id", id},
              {"session", session},       {"service", "relay-ip"},
              {"caller", "+12125550101"}, {"location", "350 5th Ave, New York, NY 10118"},
              {"agent", "CA-4411"}}
             .dump() +
         "\n";
}

std::string call_request(const std::string& session, const std::string& call,
                         const std::string& billing = "collect") {
  return json{{"type", "call.request"},
              {"id", "m-" + call},
              {"session", session},
              {"call", call},
              {"to", "+13125550104"},
              {"billing", billing},
              {"idempotency_key", session + ":" + call + ":request"}}
             .dump() +
         "\n";
}

std::string call_step(const std::string& type, const std::string& call, const std::string& at,
                      const std::string& key) {
  json message = {{"type", type}, {"call", call}, {"at", at}, {"idempotency_key", key}};
  if (type == "call.accept") {
    message["how"] = "tty-text";
    message["by"] = "called party";
  }
  return message.dump() + "\n";
}

// Runs accept, connect and disconnect for `call` and checks each is acknowledged.
void finish_call(test::TlsLineClient& client, const std::string& call) {
  REQUIRE(client.send(call_step("call.accept", call, later(30), call + ":a")));
  CHECK(read_json(client)["of"] == "call.accept");
  REQUIRE(client.send(call_step("call.connect", call, later(60), call + ":c")));
  CHECK(read_json(client)["of"] == "call.connect");
  REQUIRE(client.send(call_step("call.disconnect", call, later(300), call + ":d")));
  const json ack = read_json(client);
  CHECK(ack["type"] == "ack");
  CHECK(ack["of"] == "call.disconnect");
  CHECK(ack["call"] == call);
}

}  // namespace

TEST_CASE("provider link bills relay session end to end", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  const json opened = read_json(*client);
  CHECK(opened["type"] == "ack");
  CHECK(opened["session"] == "S-1");
  CHECK(opened["ref"] == "m-open");

  REQUIRE(client->send(call_request("S-1", "C-7")));
  const json quote = read_json(*client);
  CHECK(quote["type"] == "quote");
  CHECK(quote["call"] == "C-7");
  CHECK(quote["ref"] == "m-C-7");
  const json authorization = read_json(*client);
  CHECK(authorization["type"] == "authorization");
  CHECK(authorization["result"] == "accepted");

  finish_call(*client, "C-7");
  // Billing keeps the provider's call id under the provider's prefix.
  const billing::CallRecord record = gateway.stored_call("acme/C-7");
  CHECK(record.request.access == billing::AccessTag::RelayIp);
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->total > 0);
  CHECK(record.posting->conversation_seconds == 240);
}

TEST_CASE("provider link bills retried request once", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  REQUIRE(client->send(call_request("S-1", "C-1", "sent-paid")));
  const json first_quote = read_json(*client);
  const json first_authorization = read_json(*client);
  REQUIRE(client->send(call_request("S-1", "C-1", "sent-paid")));
  CHECK(read_json(*client) == first_quote);
  CHECK(read_json(*client) == first_authorization);

  REQUIRE(client->send(call_step("call.connect", "C-1", later(60), "C-1:connect")));
  read_json(*client);
  const std::string disconnect = call_step("call.disconnect", "C-1", later(300), "C-1:disconnect");
  REQUIRE(client->send(disconnect));
  CHECK(read_json(*client)["type"] == "ack");
  REQUIRE(client->send(disconnect));
  CHECK(read_json(*client)["type"] == "ack");

  const billing::CallRecord record = gateway.stored_call("acme/C-1");
  REQUIRE(record.posting.has_value());
  std::size_t requests = 0;
  for (const auto& event : record.events) {
    requests += event.event == billing::CallEvent::Requested ? 1 : 0;
  }
  CHECK(requests == 1);
}

TEST_CASE("provider link keeps providers' call ids apart", "[gateway][provider-link]") {
  Gateway gateway;
  auto acme = gateway.client("acme");
  auto beacon = gateway.client("beacon");
  for (auto* client : {acme.get(), beacon.get()}) {
    REQUIRE(client->send(session_open("S-1")));
    CHECK(read_json(*client)["type"] == "ack");
    REQUIRE(client->send(call_request("S-1", "C-1")));
    CHECK(read_json(*client)["type"] == "quote");
    CHECK(read_json(*client)["result"] == "accepted");
  }
  CHECK(gateway.stored_call("acme/C-1").request.id == "acme/C-1");
  CHECK(gateway.stored_call("beacon/C-1").request.id == "beacon/C-1");
}

TEST_CASE("provider link refuses client without certificate", "[gateway][provider-link]") {
  Gateway gateway;
  test::TlsLineClient client(gateway.port, gateway.certs.ca_certificate);
  const std::string error = client.connect();
  // With TLS 1.3 the client's handshake can finish before the server checks the client
  // certificate, so the refusal may arrive as the first read instead.
  if (error.empty()) {
    client.send(session_open("S-1"));
    CHECK_FALSE(client.read_line().has_value());
    CHECK(client.closed());
  }
  CHECK(gateway.server->sessions().sessions().empty());
}

TEST_CASE("provider link refuses certificate of other CA", "[gateway][provider-link]") {
  Gateway gateway;
  test::TempDir other;
  const DevCertificateFiles foreign = test::make_certificates(other.file("certs"), {"acme"});
  test::TlsLineClient client(gateway.port, gateway.certs.ca_certificate,
                             foreign.client_certificates[0], foreign.client_keys[0]);
  const std::string error = client.connect();
  if (error.empty()) {
    client.send(session_open("S-1"));
    CHECK_FALSE(client.read_line().has_value());
    CHECK(client.closed());
  }
  CHECK(gateway.server->sessions().sessions().empty());
}

TEST_CASE("provider link answers malformed lines and continues", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  REQUIRE(client->send(call_request("S-1", "C-7")));
  CHECK(read_json(*client)["type"] == "quote");
  CHECK(read_json(*client)["result"] == "accepted");

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"this is not json\n", "invalid-json"},
      {R"({"type":"call.teleport","id":"m-x","call":"C-7"})"
       "\n",
       "unknown-type"},
      {R"({"type":"call.connect","id":"m-y","call":"C-7","at":"2030-01-01T00:00:00Z"})"
       "\n",
       "missing-idempotency-key"},
      {R"({"type":"session.open","session":"S-2","service":"relay-ip","caller":"+12125550101","location":"x","agent":"a","provider":"evil"})"
       "\n",
       "unknown-field"},
      {call_step("call.connect", "C-404", later(60), "C-404:c"), "unknown-call"},
  };
  for (const auto& [line, code] : cases) {
    INFO(line);
    REQUIRE(client->send(line));
    const json reply = read_json(*client);
    CHECK(reply["type"] == "error");
    CHECK(reply["code"] == code);
  }
  const json error_with_ref = [&] {
    REQUIRE(client->send(R"({"type":"call.teleport","id":"m-z"})"
                         "\n"));
    return read_json(*client);
  }();
  CHECK(error_with_ref["ref"] == "m-z");

  // The call that was already running still completes on the same connection.
  finish_call(*client, "C-7");
  CHECK(gateway.stored_call("acme/C-7").posting.has_value());
}

TEST_CASE("provider link keeps calls across failover", "[gateway][provider-link]") {
  Gateway gateway;
  auto first = gateway.client("acme");
  auto second = gateway.client("acme");
  REQUIRE(first->send(session_open("R-1")));
  CHECK(read_json(*first)["type"] == "ack");
  REQUIRE(second->send(session_open("R-1")));
  CHECK(read_json(*second)["type"] == "ack");
  REQUIRE(first->send(call_request("R-1", "RC-0", "sent-paid")));
  CHECK(read_json(*first)["type"] == "quote");
  CHECK(read_json(*first)["result"] == "accepted");

  // The first connection drops. The second still owns the session, so the call goes on.
  first->close();
  first.reset();
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(gateway.stored_call("acme/RC-0").posting.has_value());
  REQUIRE(second->send(call_step("call.connect", "RC-0", later(60), "RC-0:c")));
  const json connected = read_json(*second);
  INFO(connected.dump());
  CHECK(connected["type"] == "ack");
  CHECK(connected["of"] == "call.connect");

  // When the last connection holding the session drops, its open call is posted.
  second->close();
  second.reset();
  bool posted = false;
  for (int i = 0; i < 50 && !posted; ++i) {
    std::this_thread::sleep_for(100ms);
    posted = gateway.stored_call("acme/RC-0").posting.has_value();
  }
  CHECK(posted);
}

TEST_CASE("provider link ends session with its connection", "[gateway][provider-link]") {
  Gateway gateway;
  auto first = gateway.client("acme");
  auto other = gateway.client("acme");
  REQUIRE(first->send(session_open("R-2")));
  CHECK(read_json(*first)["type"] == "ack");
  REQUIRE(first->send(call_request("R-2", "RC-2", "sent-paid")));
  CHECK(read_json(*first)["type"] == "quote");
  CHECK(read_json(*first)["result"] == "accepted");
  // Another live connection that never used R-2 does not keep it.
  first->close();
  first.reset();
  bool posted = false;
  for (int i = 0; i < 50 && !posted; ++i) {
    std::this_thread::sleep_for(100ms);
    posted = gateway.stored_call("acme/RC-2").posting.has_value();
  }
  CHECK(posted);
}

TEST_CASE("provider link replies with provider's own ids", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  const std::vector<std::string> lines = {
      call_step("call.connect", "C-404", later(60), "C-404:c"),
      call_request("S-404", "C-1"),
      R"({"type":"session.text","session":"S-405","text":"HELLO GA"})"
      "\n",
  };
  for (const std::string& line : lines) {
    REQUIRE(client->send(line));
    const json reply = read_json(*client);
    INFO(reply.dump());
    CHECK(reply["type"] == "error");
    CHECK(reply["message"].get<std::string>().find("acme/") == std::string::npos);
  }
  REQUIRE(client->send(call_step("call.connect", "C-404", later(60), "C-404:c2")));
  CHECK_THAT(read_json(*client)["message"].get<std::string>(),
             Catch::Matchers::Contains("call 'C-404' does not exist"));
}

TEST_CASE("provider link flags unreachable PSAP", "[gateway][provider-link]") {
  // A loopback port with nothing listening stands for a PSAP console that is down.
  std::uint16_t closed_port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed_port = probe.local_endpoint().port();
  }
  test::TempDir dir;
  const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {"acme"});
  const ServerConfig config = test::test_server_config(dir, certs, closed_port);
  test::init_billing_database(config.billing.database);
  Server server(config);
  REQUIRE(server.start());
  test::TlsLineClient client(server.provider_link_endpoint().value().port, certs.ca_certificate,
                             certs.client_certificates[0], certs.client_keys[0]);
  REQUIRE(client.connect().empty());

  json open = json::parse(session_open("S-E"));
  open["emergency"] = true;
  REQUIRE(client.send(open.dump() + "\n"));
  const json ack = read_json(client);
  CHECK(ack["type"] == "ack");
  CHECK(ack["session"] == "S-E");
  CHECK(ack["psap"] == "unreachable");
  server.stop();
}

TEST_CASE("provider link logs the handshake timeout", "[gateway][provider-link]") {
  test::LogCapture log;
  test::TempDir dir;
  test::TestPsap psap;
  const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {"acme"});
  const ServerConfig config = test::test_server_config(dir, certs, psap.port());
  SessionRegistry registry;
  EmergencyDispatcher dispatcher(config.emergency);
  REQUIRE(dispatcher.start());
  {
    CallService calls(config.billing, registry, dispatcher);
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    ProviderListenerLimits limits;
    limits.handshake_timeout = 200ms;
    ProviderListener listener(io, config.provider_link, calls, limits);
    REQUIRE(listener.start());

    // A client that opens TCP and never starts TLS.
    boost::asio::io_context raw_io;
    boost::asio::ip::tcp::socket raw = test::connect_plain(raw_io, listener.local_endpoint().port());
    for (int i = 0; i < 50 && log.count("timed out") == 0; ++i) {
      std::this_thread::sleep_for(50ms);
    }
    listener.stop();
    work.reset();
    runner.join();
  }
  dispatcher.stop();
  INFO(log.text());
  CHECK(log.count("timed out: TLS handshake not finished within the handshake timeout (200 ms)") ==
        1);
  CHECK(log.count("idle timeout") == 0);
  CHECK(log.count("from 127.0.0.1:") >= 1);
}

TEST_CASE("provider link counts rejections past twenty", "[gateway][provider-link]") {
  test::LogCapture log;
  {
    Gateway gateway;
    auto client = gateway.client("acme");
    for (int i = 0; i < 50; ++i) {
      REQUIRE(client->send("not json " + std::to_string(i) + "\n"));
      CHECK(read_json(*client)["code"] == "invalid-json");
    }
    client.reset();
  }
  INFO(log.text());
  CHECK(log.count("message rejected") == 20);
  // A line that is not JSON has no id, so its ref is a placeholder, never empty.
  CHECK(log.count("message rejected: ref=- code=invalid-json") == 20);
  CHECK(log.count("ref= ") == 0);
  CHECK(log.count("further rejections on this connection are counted") == 1);
  CHECK(log.count("rejected 50 messages in all, 30 not logged") == 1);
}

TEST_CASE("provider link serves others past stalled client", "[gateway][provider-link]") {
  Gateway gateway(3s);

  // One client sends half a line and stops, and another sends many requests and never reads.
  auto half_line = gateway.client("acme");
  REQUIRE(half_line->send(R"({"type":"session.open","session":"S-h)"));
  auto never_reads = gateway.client("acme");
  std::string burst;
  for (int i = 0; i < 2000; ++i) {
    burst += session_open("S-burst-" + std::to_string(i), "m-" + std::to_string(i));
  }
  REQUIRE(never_reads->send(burst, 10s));

  // A third opens TCP and never starts TLS.
  boost::asio::io_context raw_io;
  boost::asio::ip::tcp::socket raw = test::connect_plain(raw_io, gateway.port);

  auto healthy = gateway.client("beacon");
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(healthy->send(session_open("S-1")));
  CHECK(read_json(*healthy)["type"] == "ack");
  REQUIRE(healthy->send(call_request("S-1", "C-1")));
  CHECK(read_json(*healthy)["type"] == "quote");
  CHECK(read_json(*healthy)["result"] == "accepted");
  finish_call(*healthy, "C-1");
  // Loose bound: the stalled clients must not make the healthy one wait for the idle timeout.
  CHECK(std::chrono::steady_clock::now() - started < 3s);

  // The half-line client is closed by the idle timeout.
  CHECK_FALSE(half_line->read_line(8s).has_value());
  CHECK(half_line->closed());
}

TEST_CASE("server logs each start and stop once", "[gateway][provider-link]") {
  test::LogCapture log;
  {
    test::TempDir dir;
    test::TestPsap psap;
    const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {});
    ServerConfig config = test::test_server_config(dir, certs, psap.port());
    std::ofstream(dir.file("admin-token")) << "token-for-log-test\n";
    config.admin.enabled = true;
    config.admin.listen.port = 0;
    config.admin.token_file = dir.file("admin-token");
    test::init_billing_database(config.billing.database);
    Server server(config);
    const Status started = server.start();
    INFO(started.message());
    REQUIRE(started);
    server.stop();
  }
  INFO(log.text());
  CHECK(log.count("provider link listening") == 1);
  CHECK(log.count("admin API listening") == 1);
  CHECK(log.count("provider link stopped") == 1);
  CHECK(log.count("admin API stopped") == 1);
  CHECK(log.count("token-for-log-test") == 0);
}

TEST_CASE("server logs dispatcher failure once", "[gateway][provider-link]") {
  test::LogCapture log;
  test::TempDir dir;
  test::TestPsap psap;
  const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {});
  ServerConfig config = test::test_server_config(dir, certs, psap.port());
  config.emergency.routes.clear();
  Server server(config);
  REQUIRE_FALSE(server.start());
  INFO(log.text());
  CHECK(log.count("emergency dispatcher not started") == 1);
}

TEST_CASE("provider link names unusable certificate file", "[gateway][provider-link]") {
  test::TempDir dir;
  test::TestPsap psap;
  const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {});
  ServerConfig config = test::test_server_config(dir, certs, psap.port());
  config.tty_lines.enabled = false;
  config.admin.enabled = false;

  SECTION("missing certificate") {
    config.provider_link.certificate_file = dir.file("certs/missing.pem");
    Server server(config);
    const Status started = server.start();
    REQUIRE_FALSE(started);
    CHECK_THAT(started.message(), Catch::Matchers::Contains("certificate_file"));
    CHECK_THAT(started.message(), Catch::Matchers::Contains(dir.file("certs/missing.pem")));
    CHECK_THAT(started.message(), Catch::Matchers::Contains("No such file or directory"));
    CHECK_THAT(started.message(), !Catch::Matchers::Contains("asio.ssl error"));
  }
  SECTION("key that is not PEM") {
    const std::string garbage = dir.file("certs/garbage-key.pem");
    std::ofstream(garbage) << "not a key\n";
    config.provider_link.private_key_file = garbage;
    Server server(config);
    const Status started = server.start();
    REQUIRE_FALSE(started);
    INFO(started.message());
    CHECK_THAT(started.message(), Catch::Matchers::Contains("private_key_file"));
    CHECK_THAT(started.message(), Catch::Matchers::Contains(garbage));
    CHECK_THAT(started.message(), Catch::Matchers::Contains("private key"));
    CHECK_THAT(started.message(), !Catch::Matchers::Contains("asio.ssl error"));
  }
}

TEST_CASE("provider link stores emergency call without PSAP route", "[gateway][provider-link]") {
  test::LogCapture log;
  test::TempDir dir;
  test::TestPsap psap;
  const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {"acme"});
  ServerConfig config = test::test_server_config(dir, certs, psap.port());
  REQUIRE(config.emergency.routes.size() == 1);
  config.emergency.routes[0].default_route = false;
  config.emergency.routes[0].states = {"NY"};
  test::init_billing_database(config.billing.database);
  Server server(config);
  REQUIRE(server.start());
  CHECK(log.count("no default [[psap]] route: emergency calls from outside NY reach no PSAP") ==
        1);

  test::TlsLineClient client(server.provider_link_endpoint().value().port, certs.ca_certificate,
                             certs.client_certificates[0], certs.client_keys[0]);
  REQUIRE(client.connect().empty());
  json open = json::parse(session_open("E-1"));
  open["caller"] = "+13125550107";
  open["location"] = "100 Main St, Chicago, IL 60601";
  open["emergency"] = true;
  REQUIRE(client.send(open.dump() + "\n"));
  const json open_ack = read_json(client);
  CHECK(open_ack["of"] == "session.open");
  CHECK(open_ack["psap"] == "unreachable");

  REQUIRE(client.send(R"({"type":"session.text","session":"E-1","text":"HELP FIRE"})"
                      "\n"));
  const json text_ack = read_json(client);
  CHECK(text_ack["of"] == "session.text");
  CHECK(text_ack["psap"] == "unreachable");

  json request = json::parse(call_request("E-1", "C-911", "sent-paid"));
  request["to"] = "911";
  REQUIRE(client.send(request.dump() + "\n"));
  const json authorization = read_json(client);
  CHECK(authorization["type"] == "authorization");
  CHECK(authorization["result"] == "accepted");
  CHECK(authorization["reason"] == "psap-unreachable");
  CHECK_THAT(authorization["message"].get<std::string>(),
             Catch::Matchers::Contains("no PSAP route serves this caller"));

  REQUIRE(client.send(R"({"type":"session.close","session":"E-1"})"
                      "\n"));
  CHECK(read_json(client)["of"] == "session.close");
  client.close();
  server.stop();  // moves the spool into the database

  for (const std::string& line : psap.lines()) {
    CHECK(line.find("E-1") == std::string::npos);
  }
  auto store = billing::SqliteStore::open(config.billing.database);
  REQUIRE(store);
  auto record = (*store)->find_call("acme/E-1/emergency");
  REQUIRE(record);
  REQUIRE(record->has_value());
  const billing::CallRecord& call = **record;
  CHECK(call.request.emergency);
  CHECK(call.request.psap_route.empty());
  CHECK(call.request.from == "+13125550107");
  REQUIRE(call.posting.has_value());
  CHECK(call.posting->total == 0);
}

}  // namespace relaygw::gateway::server

namespace relaygw::gateway::server {
namespace {

std::string call_request_with_key(const std::string& session, const std::string& call,
                                  const std::string& to, const std::string& key) {
  return json{{"type", "call.request"}, {"session", session}, {"call", call},
              {"to", to},               {"billing", "sent-paid"}, {"idempotency_key", key}}
             .dump() +
         "\n";
}

}  // namespace

TEST_CASE("provider link gives reused emergency id own record", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-3")));
  read_json(*client);
  REQUIRE(client->send(call_request("S-3", "C-3", "sent-paid")));
  CHECK(read_json(*client)["type"] == "quote");
  CHECK(read_json(*client)["result"] == "accepted");

  REQUIRE(client->send(call_request_with_key("S-3", "C-3", "911", "S-3:C-3:911")));
  const json emergency = read_json(*client);
  CHECK(emergency["type"] == "authorization");
  CHECK(emergency["result"] == "accepted");
  CHECK_THAT(emergency["message"].get<std::string>(),
             Catch::Matchers::Contains("call 'C-3/emergency'"));
  REQUIRE(gateway.psap.wait_for("dispatch"));
  REQUIRE(gateway.psap.wait_for("acme/C-3/emergency"));
  REQUIRE(client->send(json{{"type", "session.close"}, {"session", "S-3"}}.dump() + "\n"));
  CHECK(read_json(*client)["type"] == "ack");
  REQUIRE(gateway.server->calls().retry_storage());

  const billing::CallRecord billed = gateway.stored_call("acme/C-3");
  CHECK_FALSE(billed.request.emergency);
  for (const billing::CallEventRecord& event : billed.events) {
    CHECK(event.event != billing::CallEvent::Connected);
  }
  const billing::CallRecord record = gateway.stored_call("acme/C-3/emergency");
  CHECK(record.request.emergency);
  CHECK(record.posting.has_value());
}

TEST_CASE("provider link rejects new key for used call id", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  const std::string first = call_request_with_key("S-1", "C-1", "+13125550104", "k-first");
  REQUIRE(client->send(first));
  const json quote = read_json(*client);
  const json authorization = read_json(*client);
  CHECK(authorization["result"] == "accepted");

  REQUIRE(client->send(call_request_with_key("S-1", "C-1", "+13125550104", "k-second")));
  const json rejected = read_json(*client);
  CHECK(rejected["type"] == "error");
  CHECK(rejected["code"] == "invalid-state");
  CHECK_THAT(rejected["message"].get<std::string>(), Catch::Matchers::Contains("new call id"));

  REQUIRE(client->send(first));
  CHECK(read_json(*client) == quote);
  CHECK(read_json(*client) == authorization);
}

TEST_CASE("provider link repeats replies after restart", "[gateway][provider-link]") {
  Gateway gateway;
  const std::string request = call_request_with_key("S-1", "C-1", "+13125550104", "k-request");
  // The first connection stays open until the gateway stops, so the call stays open too.
  auto first = gateway.client("acme");
  REQUIRE(first->send(session_open("S-1")));
  read_json(*first);
  REQUIRE(first->send(request));
  const json quote = read_json(*first);
  const json authorization = read_json(*first);
  CHECK(quote["type"] == "quote");
  CHECK(authorization["result"] == "accepted");
  gateway.server->stop();
  gateway.server = std::make_unique<Server>(gateway.config);
  REQUIRE(gateway.server->start());
  gateway.port = gateway.server->provider_link_endpoint().value().port;

  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  // A step of the call before the retry leaves the retry a repeat of the first request.
  REQUIRE(client->send(call_step("call.disconnect", "C-1", later(30), "C-1:d")));
  CHECK(read_json(*client)["type"] == "ack");
  REQUIRE(client->send(request));
  CHECK(read_json(*client) == quote);
  CHECK(read_json(*client) == authorization);
  // A new key for the call id is rejected as using a taken id.
  REQUIRE(client->send(call_request_with_key("S-1", "C-1", "+13125550199", "k-other")));
  CHECK(read_json(*client)["code"] == "invalid-state");
}

namespace {

// Stops the gateway and starts a new one on the same database, so every reply cache is empty.
void restart(Gateway& gateway) {
  gateway.server->stop();
  gateway.server = std::make_unique<Server>(gateway.config);
  REQUIRE(gateway.server->start());
  gateway.port = gateway.server->provider_link_endpoint().value().port;
}

// A retry, or a message that reuses a key or call id of `call.request` C-1 (key k-request).
struct KeyProbe {
  const char* name;
  std::string message;
};

std::vector<KeyProbe> key_probes() {
  return {
      {"same request, new key", call_request_with_key("S-1", "C-1", "+13125550104", "k-other")},
      {"same key, other number", call_request_with_key("S-1", "C-1", "+13125550199", "k-request")},
      {"same key, other call id", call_request_with_key("S-1", "C-9", "+13125550104", "k-request")},
  };
}

}  // namespace

TEST_CASE("provider link checks request keys after restart", "[gateway][provider-link]") {
  Gateway gateway;
  const std::string request = call_request_with_key("S-1", "C-1", "+13125550104", "k-request");
  // The first connection stays open until the gateway stops, so the call stays open too.
  auto first = gateway.client("acme");
  REQUIRE(first->send(session_open("S-1")));
  read_json(*first);
  REQUIRE(first->send(request));
  const json quote = read_json(*first);
  const json authorization = read_json(*first);
  REQUIRE(quote["type"] == "quote");
  REQUIRE(authorization["result"] == "accepted");

  // The error codes that the reply cache returns, which the store must return after a restart.
  std::vector<std::string> cached_codes;
  for (const KeyProbe& probe : key_probes()) {
    REQUIRE(first->send(probe.message));
    cached_codes.push_back(read_json(*first)["code"].get<std::string>());
  }
  const std::vector<std::string> expected = {"invalid-state", "idempotency-conflict",
                                             "idempotency-conflict"};
  REQUIRE(cached_codes == expected);

  restart(gateway);
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  std::size_t index = 0;
  for (const KeyProbe& probe : key_probes()) {
    INFO(probe.name);
    REQUIRE(client->send(probe.message));
    const json reply = read_json(*client);
    CHECK(reply["type"] == "error");
    CHECK(reply["code"] == cached_codes[index++]);
  }
  // The same key and request after the probes is still a retry.
  REQUIRE(client->send(request));
  CHECK(read_json(*client) == quote);
  CHECK(read_json(*client) == authorization);

  // Nothing was stored for the probes: C-9 does not exist, and C-1 keeps its first request.
  auto store = billing::SqliteStore::open(gateway.config.billing.database);
  REQUIRE(store);
  auto probe_call = (*store)->find_call("acme/C-9");
  REQUIRE(probe_call);
  CHECK_FALSE(probe_call->has_value());
  const billing::CallRecord call = gateway.stored_call("acme/C-1");
  CHECK(call.request.to == "+13125550104");
  CHECK(call.request.request_key == "acme/k-request");
  CHECK(call.request.request_hash.size() == 64);
}

TEST_CASE("provider link repeats card hold after restart", "[gateway][provider-link]") {
  Gateway gateway;
  constexpr const char* kCard = "6000000000000076";
  {
    auto store = billing::SqliteStore::open(gateway.config.billing.database);
    REQUIRE(store);
    billing::NewCard card;
    card.number = kCard;
    // A prepaid balance, so the authorization places a hold and names it.
    card.opening_balance = 20 * billing::kUnitsPerDollar;
    card.pin_iterations = 1'000;
    const billing::WriteContext staff{
        "staff:test", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())};
    REQUIRE(billing::add_card(**store, card, "7305", staff));
  }
  const std::string request =
      json{{"type", "call.request"}, {"session", "S-1"},           {"call", "C-card"},
           {"to", "+13125550104"},   {"billing", "calling-card"},  {"card", kCard},
           {"pin", "7305"},          {"idempotency_key", "k-card"}}
          .dump() +
      "\n";
  auto first = gateway.client("acme");
  REQUIRE(first->send(session_open("S-1")));
  read_json(*first);
  REQUIRE(first->send(request));
  const json quote = read_json(*first);
  const json authorization = read_json(*first);
  REQUIRE(quote["type"] == "quote");
  REQUIRE(authorization["result"] == "accepted");
  const std::string message = authorization["message"].get<std::string>();
  CHECK_THAT(message, Catch::Matchers::Contains("the hold of $"));
  CHECK(message.find(kCard) == std::string::npos);

  restart(gateway);
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  REQUIRE(client->send(request));
  CHECK(read_json(*client) == quote);
  CHECK(read_json(*client) == authorization);

  // The hold is stored once, with the authorized event, and the retry placed no second hold.
  const billing::CallRecord call = gateway.stored_call("acme/C-card");
  const auto authorized = std::find_if(call.events.begin(), call.events.end(),
                                       [](const billing::CallEventRecord& event) {
                                         return event.event == billing::CallEvent::Authorized;
                                       });
  REQUIRE(authorized != call.events.end());
  REQUIRE(authorized->hold_amount.has_value());
  REQUIRE(authorized->hold_max_seconds.has_value());
  auto store = billing::SqliteStore::open(gateway.config.billing.database);
  REQUIRE(store);
  auto funds = (*store)->card_funds(kCard, "acme/C-card");
  REQUIRE(funds);
  CHECK(funds->held_for_call == *authorized->hold_amount);
}

TEST_CASE("provider link retries request after storage outage", "[gateway][provider-link]") {
  test::TempDir dir;
  test::TestPsap psap;
  const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {"acme"});
  ServerConfig config = test::test_server_config(dir, certs, psap.port());
  // The database does not exist yet, so billing is unavailable at start.
  Server server(config);
  REQUIRE(server.start().is_ok());
  REQUIRE_FALSE(server.billing_start_status().is_ok());
  test::TlsLineClient client(server.provider_link_endpoint().value().port, certs.ca_certificate,
                             certs.client_certificates[0], certs.client_keys[0]);
  REQUIRE(client.connect().empty());
  REQUIRE(client.send(session_open("S-1")));
  read_json(client);
  const std::string request = call_request_with_key("S-1", "C-1", "+13125550104", "k-1");
  REQUIRE(client.send(request));
  const json refused = read_json(client);
  CHECK(refused["reason"] == "rating-unavailable");

  test::init_billing_database(config.billing.database);
  REQUIRE(server.calls().retry_storage());
  REQUIRE(client.send(request));
  CHECK(read_json(client)["type"] == "quote");
  CHECK(read_json(client)["result"] == "accepted");
  server.stop();
}

TEST_CASE("provider link rejects second disconnect", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  REQUIRE(client->send(call_request("S-1", "C-1", "sent-paid")));
  read_json(*client);
  read_json(*client);
  REQUIRE(client->send(call_step("call.connect", "C-1", later(60), "C-1:c")));
  read_json(*client);
  REQUIRE(client->send(call_step("call.disconnect", "C-1", later(300), "C-1:d")));
  CHECK(read_json(*client)["type"] == "ack");
  REQUIRE(client->send(call_step("call.disconnect", "C-1", later(400), "C-1:d2")));
  const json rejected = read_json(*client);
  CHECK(rejected["type"] == "error");
  CHECK(rejected["code"] == "invalid-state");
}

}  // namespace relaygw::gateway::server

namespace relaygw::gateway::server {
namespace {

// A call.request that the gateway refuses before quoting, and the reason it must give.
struct RefusedRequest {
  std::string reason;
  json message;
};

// One refused request per refusal reason that needs no stored card, each with its own call id
// and key. The caller of session S-1 is +12125550101.
std::vector<RefusedRequest> refused_requests() {
  const auto request = [](const std::string& call, const std::string& to,
                          const std::string& billing) {
    return json{{"type", "call.request"}, {"session", "S-1"}, {"call", call},
                {"to", to},               {"billing", billing}, {"idempotency_key", "k-" + call}};
  };
  json third_party = request("C-third", "+13125550104", "third-party");
  third_party["third_number"] = "+12125550101";
  return {
      {"invalid-request", request("C-invalid", "+10005550104", "sent-paid")},
      {"collect-to-own-line", request("C-own", "+12125550101", "collect")},
      {"third-number-is-calling-line", third_party},
  };
}

}  // namespace

TEST_CASE("provider link repeats refusals after restart", "[gateway][provider-link]") {
  Gateway gateway;
  std::vector<json> first_refusals;
  {
    auto first = gateway.client("acme");
    REQUIRE(first->send(session_open("S-1")));
    read_json(*first);
    for (const RefusedRequest& refused : refused_requests()) {
      INFO(refused.reason);
      REQUIRE(first->send(refused.message.dump() + "\n"));
      const json reply = read_json(*first);
      CHECK(reply["type"] == "authorization");
      CHECK(reply["result"] == "refused");
      CHECK(reply["reason"] == refused.reason);
      first_refusals.push_back(reply);
    }
  }

  restart(gateway);
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  std::size_t index = 0;
  for (const RefusedRequest& refused : refused_requests()) {
    INFO(refused.reason);
    // The key stays bound to the refused request: a valid request under it is a conflict,
    // also before the refused request is repeated.
    json changed = refused.message;
    changed["to"] = "+13125550199";
    changed["billing"] = "sent-paid";
    changed.erase("third_number");
    REQUIRE(client->send(changed.dump() + "\n"));
    const json conflict = read_json(*client);
    CHECK(conflict["type"] == "error");
    CHECK(conflict["code"] == "idempotency-conflict");

    REQUIRE(client->send(refused.message.dump() + "\n"));
    CHECK(read_json(*client) == first_refusals[index++]);

    // Each refused call is stored once, with its request and its refusal.
    const billing::CallRecord call =
        gateway.stored_call("acme/" + refused.message["call"].get<std::string>());
    CHECK(call.request.request_key == "acme/" + refused.message["idempotency_key"].get<std::string>());
    std::vector<billing::CallEvent> kinds;
    for (const billing::CallEventRecord& event : call.events) {
      kinds.push_back(event.event);
    }
    const std::vector<billing::CallEvent> expected = {billing::CallEvent::Requested,
                                                      billing::CallEvent::Refused};
    CHECK(kinds == expected);
    CHECK(call.events.back().reason_code == refused.reason);
  }
}

}  // namespace relaygw::gateway::server

namespace relaygw::gateway::server {

TEST_CASE("replay names call to resume after gateway stops", "[gateway][replay]") {
  Gateway gateway;
  // Enough calls that the gateway stops while the replay still has calls to send.
  constexpr int kCalls = 40;
  replay::Day day;
  day.source_file = "test day";
  day.date = later(0).substr(0, 10);
  day.clock_start = later(0);
  for (int index = 1; index <= kCalls; ++index) {
    replay::ProviderCall call;
    call.id = "P-" + std::to_string(index);
    call.provider = "acme";
    call.service = "relay-ip";
    call.caller = "+12125550101";
    call.location = "350 5th Ave, New York, NY 10118";
    call.agent = "CA-4411";
    call.to = "+13125550104";
    call.billing = "sent-paid";
    call.connect = later(60 + index);
    call.disconnect = later(120 + index);
    call.expect = "accepted";
    day.provider_calls.push_back(call);
  }
  replay::ReplayOptions options;
  options.provider_port = gateway.port;
  options.certs_dir = gateway.dir.file("certs");
  options.timeout = 5s;

  test::LogCapture log;
  std::optional<Result<replay::ReplaySummary>> stopped;
  std::thread runner([&] { stopped = replay::run_day(day, options); });
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (log.count("replay call=P-2 ") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  gateway.server->stop();
  runner.join();
  REQUIRE(stopped.has_value());
  REQUIRE(stopped->is_ok());
  const replay::ReplaySummary& first = stopped->value();
  REQUIRE_FALSE(first.problems.empty());
  REQUIRE(first.calls.size() < static_cast<std::size_t>(kCalls));
  // One problem for the stop, not one for each call left, and no advice to enable the admin API.
  const std::string& last = first.problems.back();
  INFO(last);
  CHECK_THAT(last, Catch::Matchers::Contains("the gateway stopped answering during provider call"));
  CHECK_THAT(last, Catch::Matchers::Contains(" of 40 provider calls"));
  CHECK_THAT(last, Catch::Matchers::Contains("Connection refused"));
  CHECK(first.problems.size() <= 4);
  for (const std::string& problem : first.problems) {
    CHECK(problem.find("[admin] enabled") == std::string::npos);
  }
  const std::string marker = "--resume-from ";
  const std::size_t at = last.find(marker);
  REQUIRE(at != std::string::npos);
  const std::size_t id_start = at + marker.size();
  const std::string resume_id = last.substr(id_start, last.find(' ', id_start) - id_start);
  CHECK_THAT(last, Catch::Matchers::Contains("provider call " + resume_id + " ("));

  // A new gateway on the same database, and the replay resumed where it stopped.
  gateway.server = std::make_unique<Server>(gateway.config);
  REQUIRE(gateway.server->start());
  options.provider_port = gateway.server->provider_link_endpoint().value().port;
  options.resume_from = resume_id;
  const Result<replay::ReplaySummary> resumed = replay::run_day(day, options);
  REQUIRE(resumed.is_ok());
  // Only the call that the stop cut short may differ: the stopping gateway posted it already.
  for (const std::string& problem : resumed->problems) {
    INFO(problem);
    CHECK_THAT(problem, Catch::Matchers::StartsWith("call " + resume_id + ":"));
  }
  gateway.server->stop();

  // Every call of the day is stored once and posted.
  for (const replay::ProviderCall& call : day.provider_calls) {
    INFO(call.id);
    const billing::CallRecord record = gateway.stored_call("acme/" + call.id);
    CHECK(record.posting.has_value());
    const auto requests = std::count_if(
        record.events.begin(), record.events.end(),
        [](const auto& event) { return event.event == billing::CallEvent::Requested; });
    CHECK(requests == 1);
  }
}

}  // namespace relaygw::gateway::server

namespace relaygw::gateway::server {
namespace {

// Adds a prepaid card with `balance` units and PIN 7305 to the gateway's database.
void add_prepaid_card(Gateway& gateway, const std::string& number, billing::Money balance) {
  auto store = billing::SqliteStore::open(gateway.config.billing.database);
  REQUIRE(store);
  billing::NewCard card;
  card.number = number;
  card.opening_balance = balance;
  card.max_pin_attempts = 1;
  card.pin_iterations = 1'000;
  const billing::WriteContext staff{
      "staff:test", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())};
  REQUIRE(billing::add_card(**store, card, "7305", staff));
}

std::string card_request(const std::string& call, const std::string& card,
                         const std::string& pin) {
  return json{{"type", "call.request"}, {"session", "S-1"},          {"call", call},
              {"to", "+13125550104"},   {"billing", "calling-card"}, {"card", card},
              {"pin", pin},             {"idempotency_key", "k-" + call}}
             .dump() +
         "\n";
}

}  // namespace

TEST_CASE("provider link refusals name no command", "[gateway][provider-link]") {
  Gateway gateway;
  add_prepaid_card(gateway, "6000000000000084", 100);  // $0.01, short of any first block
  add_prepaid_card(gateway, "6000000000000092", 20 * billing::kUnitsPerDollar);
  std::vector<std::string> requests = {card_request("C-short", "6000000000000084", "7305"),
                                       card_request("C-wrong", "6000000000000092", "1111"),
                                       card_request("C-locked", "6000000000000092", "7305")};
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"insufficient-funds",
       "choose another billing method, or ask relay center staff to add funds to the card"},
      {"wrong-pin", "the card is now locked"},
      {"card-locked", "card ************0092 is locked after wrong PINs; ask relay center staff "
                      "to unlock it"},
  };
  std::vector<json> first_refusals;
  {
    auto client = gateway.client("acme");
    REQUIRE(client->send(session_open("S-1")));
    read_json(*client);
    for (std::size_t i = 0; i < requests.size(); ++i) {
      REQUIRE(client->send(requests[i]));
      json reply = read_json(*client);
      if (reply["type"] == "quote") {
        reply = read_json(*client);
      }
      INFO(reply.dump());
      CHECK(reply["result"] == "refused");
      CHECK(reply["reason"] == expected[i].first);
      const std::string message = reply["message"].get<std::string>();
      CHECK(message.find("relaygw") == std::string::npos);
      CHECK_THAT(message, Catch::Matchers::EndsWith(expected[i].second));
      first_refusals.push_back(reply);
    }
  }

  // A retry after a restart replays the stored refusal, which names no command either.
  restart(gateway);
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    REQUIRE(client->send(requests[i]));
    json reply = read_json(*client);
    if (reply["type"] == "quote") {
      reply = read_json(*client);
    }
    CHECK(reply == first_refusals[i]);
  }
  const billing::CallRecord stored = gateway.stored_call("acme/C-locked");
  CHECK(stored.events.back().reason_message.find("relaygw") == std::string::npos);
}

TEST_CASE("provider link names no command for second posting", "[gateway][provider-link]") {
  Gateway gateway;
  auto client = gateway.client("acme");
  REQUIRE(client->send(session_open("S-1")));
  read_json(*client);
  REQUIRE(client->send(call_request("S-1", "C-1", "sent-paid")));
  read_json(*client);
  read_json(*client);
  REQUIRE(client->send(call_step("call.connect", "C-1", later(60), "C-1:c")));
  read_json(*client);
  REQUIRE(client->send(call_step("call.disconnect", "C-1", later(300), "C-1:d")));
  REQUIRE(read_json(*client)["type"] == "ack");
  // The same disconnect under another key reaches the posting, which the call already has.
  REQUIRE(client->send(call_step("call.disconnect", "C-1", later(300), "C-1:d2")));
  const json rejected = read_json(*client);
  INFO(rejected.dump());
  CHECK(rejected["code"] == "invalid-state");
  const std::string message = rejected["message"].get<std::string>();
  CHECK_THAT(message, Catch::Matchers::Contains("call C-1 is already posted under another "
                                                "idempotency key"));
  CHECK_THAT(message, Catch::Matchers::EndsWith("ask relay center staff to check the call's "
                                                "posted charges and to credit any wrong charge"));
  CHECK(message.find("relaygw") == std::string::npos);
  CHECK(message.find(gateway.config.billing.database) == std::string::npos);
}

TEST_CASE("provider link rejects card numbers in ids", "[gateway][provider-link]") {
  test::LogCapture log;
  Gateway gateway;
  constexpr const char* kStored = "5550142000004";  // 13 digits, found only as a stored card
  add_prepaid_card(gateway, kStored, 20 * billing::kUnitsPerDollar);
  auto client = gateway.client("acme");

  SECTION("session id") {
    for (const std::string& session :
         {std::string("S-4111111111111111"), "S-" + std::string(kStored)}) {
      INFO(session);
      REQUIRE(client->send(session_open(session)));
      const json rejected = read_json(*client);
      CHECK(rejected["type"] == "error");
      CHECK(rejected["code"] == "invalid-value");
      CHECK(rejected["ref"] == "m-open");
      const std::string message = rejected["message"].get<std::string>();
      CHECK_THAT(message, Catch::Matchers::StartsWith("session 'S-*********"));
      CHECK(message.find(session) == std::string::npos);
      CHECK_FALSE(gateway.server->sessions().find_session("acme/" + session).has_value());
      // A call.request naming that session is rejected for its id, not with unknown-session,
      // whose message would quote the id in full.
      REQUIRE(client->send(call_request(session, "C-1", "sent-paid")));
      const json request_rejected = read_json(*client);
      CHECK(request_rejected["code"] == "invalid-value");
      CHECK(request_rejected["message"].get<std::string>().find(session) == std::string::npos);
    }
    // A session with a 10-digit phone number in its id is accepted.
    REQUIRE(client->send(session_open("S-2125550101")));
    CHECK(read_json(*client)["type"] == "ack");
    CHECK(gateway.server->sessions().find_session("acme/S-2125550101").has_value());
  }
  SECTION("message id") {
    REQUIRE(client->send(session_open("S-1", "m-4111111111111111")));
    const json rejected = read_json(*client);
    CHECK(rejected["code"] == "invalid-value");
    CHECK_FALSE(rejected.contains("ref"));
    CHECK_THAT(rejected["message"].get<std::string>(),
               Catch::Matchers::StartsWith("id 'm-************1111'"));
    REQUIRE(client->send(call_request("S-1", "C-1", "sent-paid")));
    CHECK(read_json(*client)["code"] == "unknown-session");
  }
  SECTION("accepting party") {
    REQUIRE(client->send(session_open("S-1")));
    read_json(*client);
    REQUIRE(client->send(call_request("S-1", "C-1")));
    CHECK(read_json(*client)["type"] == "quote");
    CHECK(read_json(*client)["result"] == "accepted");
    json accept = json::parse(call_step("call.accept", "C-1", later(30), "C-1:a"));
    accept["by"] = "card " + std::string(kStored);
    REQUIRE(client->send(accept.dump() + "\n"));
    const json rejected = read_json(*client);
    CHECK(rejected["code"] == "invalid-value");
    CHECK_THAT(rejected["message"].get<std::string>(),
               Catch::Matchers::StartsWith("by 'card *********0004' contains the number of a "
                                           "calling card"));
    const billing::CallRecord call = gateway.stored_call("acme/C-1");
    for (const billing::CallEventRecord& event : call.events) {
      CHECK(event.event != billing::CallEvent::Accepted);
    }
    // The same acceptance with a plain name is recorded.
    accept["by"] = "called party";
    REQUIRE(client->send(accept.dump() + "\n"));
    CHECK(read_json(*client)["of"] == "call.accept");
  }
  SECTION("emergency session and call") {
    // Emergency calls skip every billing check, the card number check of ids included, but
    // their ids are masked.
    json open = json::parse(session_open("E-4111111111111111", "m-4111111111111111"));
    open["emergency"] = true;
    REQUIRE(client->send(open.dump() + "\n"));
    const json open_ack = read_json(*client);
    CHECK(open_ack["type"] == "ack");
    CHECK(open_ack["ref"] == "m-************1111");
    CHECK(open_ack["session"] == "E-************1111");

    REQUIRE(client->send(session_open("S-1")));
    read_json(*client);
    json request = json::parse(call_request_with_key("S-1", "C-911", "911", "k-911"));
    request["id"] = "m-4111111111111111";
    REQUIRE(client->send(request.dump() + "\n"));
    CHECK(read_json(*client)["result"] == "accepted");
    json accept = json::parse(call_step("call.accept", "C-911", later(30), "C-911:a"));
    accept["by"] = "card 4111111111111111";
    REQUIRE(client->send(accept.dump() + "\n"));
    CHECK(read_json(*client)["type"] == "ack");
  }
  // No rejected value reached the log in full.
  CHECK(log.count("4111111111111111") == 0);
  CHECK(log.count(kStored) == 0);
}

}  // namespace relaygw::gateway::server

namespace relaygw::gateway::server {

TEST_CASE("provider link rejects card phone numbers", "[gateway][provider-link]") {
  test::LogCapture log;
  Gateway gateway;
  // A 10-digit card whose number is also a phone number, as many calling cards are.
  constexpr const char* kCard = "3125550188";
  add_prepaid_card(gateway, kCard, 20 * billing::kUnitsPerDollar);
  auto client = gateway.client("acme");

  const auto check_rejected = [&](const json& rejected, const std::string& start) {
    INFO(rejected.dump());
    CHECK(rejected["type"] == "error");
    CHECK(rejected["code"] == "invalid-value");
    const std::string message = rejected["message"].get<std::string>();
    CHECK_THAT(message, Catch::Matchers::StartsWith(start));
    CHECK_THAT(message, Catch::Matchers::Contains("holds a phone number"));
    CHECK(message.find(kCard) == std::string::npos);
  };

  SECTION("caller") {
    json open = json::parse(session_open("S-1"));
    open["caller"] = "+13125550188";
    REQUIRE(client->send(open.dump() + "\n"));
    const json rejected = read_json(*client);
    CHECK(rejected["ref"] == "m-open");
    check_rejected(rejected, "caller '+*******0188' contains the number of a calling card");
    CHECK_FALSE(gateway.server->sessions().find_session("acme/S-1").has_value());
  }
  SECTION("dialed number") {
    REQUIRE(client->send(session_open("S-1")));
    CHECK(read_json(*client)["type"] == "ack");
    REQUIRE(client->send(call_request_with_key("S-1", "C-1", "3125550188", "k-1")));
    check_rejected(read_json(*client), "to '******0188' contains the number of a calling card");
    REQUIRE(client->send(call_request_with_key("S-1", "C-1", "+13125550188", "k-2")));
    check_rejected(read_json(*client), "to '+*******0188' contains the number of a calling card");
    auto store = billing::SqliteStore::open(gateway.config.billing.database);
    REQUIRE(store);
    auto call = (*store)->find_call("acme/C-1");
    REQUIRE(call);
    CHECK_FALSE(call->has_value());
    // The same call to a number that is no card goes ahead.
    REQUIRE(client->send(call_request_with_key("S-1", "C-1", "+13125550104", "k-ok")));
    CHECK(read_json(*client)["type"] == "quote");
    CHECK(read_json(*client)["result"] == "accepted");
  }
  SECTION("third number") {
    REQUIRE(client->send(session_open("S-1")));
    CHECK(read_json(*client)["type"] == "ack");
    json request = json::parse(call_request("S-1", "C-1", "third-party"));
    request["third_number"] = "312-555-0188";
    REQUIRE(client->send(request.dump() + "\n"));
    const json invalid = read_json(*client);
    CHECK(invalid["code"] == "invalid-value");
    CHECK_THAT(invalid["message"].get<std::string>(),
               Catch::Matchers::Contains("\"***-***-0188\""));
    request["third_number"] = "3125550188";
    REQUIRE(client->send(request.dump() + "\n"));
    check_rejected(read_json(*client), "third_number '******0188' contains the number");
  }
  SECTION("message id of an invalid message") {
    REQUIRE(client->send(R"({"type":"session.reopen","id":"m-3125550188"})"
                         "\n"));
    const json rejected = read_json(*client);
    CHECK(rejected["code"] == "unknown-type");
    CHECK_FALSE(rejected.contains("ref"));
  }
  CHECK(log.count(kCard) == 0);
}

TEST_CASE("provider link masks emergency card ids", "[gateway][provider-link]") {
  test::LogCapture log;
  Gateway gateway;
  constexpr const char* kStored = "5550142000004";  // 13 digits, found only as a stored card
  add_prepaid_card(gateway, kStored, 20 * billing::kUnitsPerDollar);
  auto client = gateway.client("acme");

  // A flagged session whose ids contain card numbers goes to its PSAP at once.
  json open = json::parse(session_open("E-4111111111111111", "m-4111111111111111"));
  open["emergency"] = true;
  open["agent"] = "CA-" + std::string(kStored);
  REQUIRE(client->send(open.dump() + "\n"));
  const json open_ack = read_json(*client);
  CHECK(open_ack["type"] == "ack");
  CHECK(open_ack["session"] == "E-************1111");
  CHECK(open_ack["ref"] == "m-************1111");
  REQUIRE(gateway.psap.wait_for("acme/E-************1111/emergency"));
  CHECK(gateway.server->sessions().find_session("acme/E-************1111").has_value());

  // Later messages name the session by the id the provider sent.
  REQUIRE(client->send(
      json{{"type", "session.text"}, {"session", "E-4111111111111111"}, {"text", "FIRE GA"}}
          .dump() +
      "\n"));
  const json text_ack = read_json(*client);
  CHECK(text_ack["of"] == "session.text");
  CHECK(text_ack["session"] == "E-************1111");
  REQUIRE(gateway.psap.wait_for("FIRE GA"));

  // Another session whose ids differ only in masked digits stays apart.
  json second = json::parse(session_open("E-4222222222221111", "m-2"));
  second["emergency"] = true;
  REQUIRE(client->send(second.dump() + "\n"));
  CHECK(read_json(*client)["session"] == "E-************1111#2");

  // A 911 call in a normal session, with a card number in its call id and key.
  REQUIRE(client->send(session_open("S-1")));
  CHECK(read_json(*client)["type"] == "ack");
  REQUIRE(client->send(
      call_request_with_key("S-1", "C-5555555555554444", "911", "k-" + std::string(kStored))));
  const json authorization = read_json(*client);
  CHECK(authorization["result"] == "accepted");
  CHECK(authorization["call"] == "C-************4444");
  REQUIRE(gateway.psap.wait_for("acme/C-************4444"));
  json accept = json::parse(call_step("call.accept", "C-5555555555554444", later(30), "k-a"));
  REQUIRE(client->send(accept.dump() + "\n"));
  const json accept_ack = read_json(*client);
  CHECK(accept_ack["type"] == "ack");
  CHECK(accept_ack["call"] == "C-************4444");

  for (const std::string& session :
       {std::string("E-4111111111111111"), std::string("S-1"), std::string("E-4222222222221111")}) {
    REQUIRE(client->send(json{{"type", "session.close"}, {"session", session}}.dump() + "\n"));
    CHECK(read_json(*client)["of"] == "session.close");
  }
  REQUIRE(gateway.server->calls().retry_storage());
  const billing::CallRecord flagged = gateway.stored_call("acme/E-************1111/emergency");
  CHECK(flagged.request.emergency);
  const billing::CallRecord dialed = gateway.stored_call("acme/C-************4444");
  CHECK(dialed.request.emergency);

  for (const std::string& number :
       {std::string("4111111111111111"), std::string("4222222222221111"),
        std::string("5555555555554444"), std::string(kStored)}) {
    INFO(number);
    CHECK(log.count(number) == 0);
    for (const std::string& line : gateway.psap.lines()) {
      CHECK(line.find(number) == std::string::npos);
    }
  }
}

}  // namespace relaygw::gateway::server
