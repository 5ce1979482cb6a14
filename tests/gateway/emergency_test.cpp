// EmergencyDispatcher and the PSAP text link, over real TCP on loopback against a PSAP test
// server, with the spool flushed into a real SQLite file.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/call_records.hpp"
#include "billing/numbering.hpp"
#include "billing/sqlite_store.hpp"
#include "gateway/server/emergency.hpp"
#include "tests/gateway/test_support.hpp"

using namespace relaygw::gateway::server;
using nlohmann::json;
using relaygw::StatusCode;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::seconds kWait{10};

std::shared_ptr<const relaygw::billing::NumberPlan> number_plan() {
  static const std::shared_ptr<const relaygw::billing::NumberPlan> plan = [] {
    auto loaded = relaygw::billing::NumberPlan::load(std::string(RELAYGW_SOURCE_DIR) + "/data");
    REQUIRE(loaded.is_ok());
    return std::make_shared<const relaygw::billing::NumberPlan>(std::move(loaded).value());
  }();
  return plan;
}

relaygw::relay::Instant now_ms() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

// A PSAP on loopback: records every JSON line it receives and acks each dispatch. It can drop
// every connection and stop listening, then listen again on the same port.
class PsapServer {
 public:
  PsapServer() : work_(io_.get_executor()) {
    listen(0);
    thread_ = std::thread([this] { io_.run(); });
  }

  ~PsapServer() {
    run_on_io([this] { close_everything(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }

  Endpoint endpoint() const { return Endpoint{"127.0.0.1", port_}; }

  // Closes every connection and the listening socket.
  void go_down() {
    run_on_io([this] { close_everything(); });
  }

  void come_back() {
    run_on_io([this] { listen(port_); });
  }

  int connections() const {
    std::lock_guard lock(mutex_);
    return connections_;
  }

  std::vector<json> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }

  // Waits until `count` messages of `type` arrived; returns false on timeout.
  bool wait_for(const std::string& type, std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return count_locked(type) >= count; });
  }

  std::vector<json> of_type(const std::string& type) const {
    std::vector<json> found;
    for (const json& message : messages()) {
      if (message.value("type", "") == type) {
        found.push_back(message);
      }
    }
    return found;
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    asio::streambuf buffer;
  };

  std::size_t count_locked(const std::string& type) const {
    std::size_t count = 0;
    for (const json& message : messages_) {
      count += message.value("type", "") == type ? 1 : 0;
    }
    return count;
  }

  void run_on_io(std::function<void()> work) {
    std::promise<void> done;
    asio::post(io_, [&] {
      work();
      done.set_value();
    });
    done.get_future().wait();
  }

  void listen(std::uint16_t port) {
    acceptor_.emplace(io_);
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor_->open(endpoint.protocol());
    acceptor_->set_option(tcp::acceptor::reuse_address(true));
    acceptor_->bind(endpoint);
    acceptor_->listen();
    port_ = acceptor_->local_endpoint().port();
    accept();
  }

  void accept() {
    auto connection = std::make_shared<Connection>(io_);
    acceptor_->async_accept(connection->socket, [this, connection](boost::system::error_code ec) {
      if (ec) {
        return;
      }
      {
        std::lock_guard lock(mutex_);
        ++connections_;
      }
      open_.push_back(connection);
      read(connection);
      accept();
    });
  }

  void read(std::shared_ptr<Connection> connection) {
    asio::async_read_until(
        connection->socket, connection->buffer, '\n',
        [this, connection](boost::system::error_code ec, std::size_t length) {
          if (ec) {
            return;
          }
          std::string line(asio::buffers_begin(connection->buffer.data()),
                           asio::buffers_begin(connection->buffer.data()) + length);
          connection->buffer.consume(length);
          const json message = json::parse(line);
          if (message.value("type", "") == "dispatch") {
            auto ack = std::make_shared<std::string>(
                json{{"type", "ack"}, {"session", message["session"]}}.dump() + "\n");
            asio::async_write(connection->socket, asio::buffer(*ack),
                              [ack](boost::system::error_code, std::size_t) {});
          }
          {
            std::lock_guard lock(mutex_);
            messages_.push_back(message);
          }
          changed_.notify_all();
          read(connection);
        });
  }

  void close_everything() {
    boost::system::error_code ignored;
    if (acceptor_) {
      acceptor_->close(ignored);
    }
    for (auto& connection : open_) {
      connection->socket.shutdown(tcp::socket::shutdown_both, ignored);
      connection->socket.close(ignored);
    }
    open_.clear();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::optional<tcp::acceptor> acceptor_;
  std::vector<std::shared_ptr<Connection>> open_;  // io thread only
  std::uint16_t port_ = 0;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<json> messages_;
  int connections_ = 0;
};

// A fresh folder under the system temp folder, removed at the end of the test.
class TempFolder {
 public:
  TempFolder() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("relaygw-emergency-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

PsapRoute route(std::string id, const PsapServer& server, std::vector<std::string> states,
                std::vector<std::string> area_codes, bool is_default = false) {
  return PsapRoute{std::move(id), server.endpoint(), std::move(states), std::move(area_codes),
                   is_default};
}

EmergencyConfig config_with(std::vector<PsapRoute> routes, const TempFolder& folder) {
  EmergencyConfig config;
  config.routes = std::move(routes);
  config.redial_interval = std::chrono::milliseconds(50);
  config.max_redials = 200;
  config.spool_file = (folder.path() / "emergency-spool.jsonl").string();
  return config;
}

EmergencySession session(std::string id, std::string caller, std::string location = "") {
  EmergencySession built;
  built.session_id = id;
  built.call_id = "call-" + id;
  built.caller_number = std::move(caller);
  built.caller_location = std::move(location);
  built.provider_id = "provider-a";
  built.agent_id = "ca-1042";
  built.service = relaygw::relay::RelayService::RelayIp;
  built.received_at = now_ms();
  return built;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits until the spool file has `count` lines containing `needle`; false after kWait.
bool wait_for_spool_records(const std::string& path, const std::string& needle,
                            std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string line;
    std::size_t found = 0;
    while (std::getline(in, line)) {
      found += line.find(needle) != std::string::npos ? 1 : 0;
    }
    if (found >= count) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

relaygw::billing::WriteContext flush_context() {
  return {"gateway", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())};
}

}  // namespace

TEST_CASE("emergency dispatch routes by area code, state, default", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer new_york;
  PsapServer california;
  PsapServer fallback;
  EmergencyDispatcher dispatcher(config_with(
      {route("psap-ny", new_york, {"NY"}, {"212"}), route("psap-ca", california, {"CA"}, {}),
       route("psap-default", fallback, {}, {}, true)},
      folder));
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());

  // Area code 212 is listed on the New York route.
  REQUIRE(dispatcher.dispatch(session("s-npa", "+12125550100")).is_ok());
  // 617 (Massachusetts) is listed nowhere, but the location names California.
  REQUIRE(dispatcher.dispatch(session("s-loc", "+16175550100", "100 Main St NE, Fresno, CA 93721"))
              .is_ok());
  // 310 is in California by the NANP data; there is no location.
  REQUIRE(dispatcher.dispatch(session("s-nanp", "+13105550100")).is_ok());
  // 617 with no location: Massachusetts has no route, so the default takes it.
  REQUIRE(dispatcher.dispatch(session("s-default", "+16175550100")).is_ok());

  REQUIRE(new_york.wait_for("dispatch", 1));
  REQUIRE(california.wait_for("dispatch", 2));
  REQUIRE(fallback.wait_for("dispatch", 1));
  const json first = new_york.of_type("dispatch").at(0);
  CHECK(first["session"] == "s-npa");
  CHECK(first["call"] == "call-s-npa");
  CHECK(first["caller_number"] == "+12125550100");
  CHECK(first["provider"] == "provider-a");
  CHECK(first["agent"] == "ca-1042");
  CHECK(first["service"] == "relay-ip");
  CHECK(first.contains("received_at"));
  std::vector<std::string> california_sessions;
  for (const json& message : california.of_type("dispatch")) {
    california_sessions.push_back(message["session"].get<std::string>());
  }
  CHECK_THAT(california_sessions,
             Catch::Matchers::UnorderedEquals(std::vector<std::string>{"s-loc", "s-nanp"}));
  CHECK(fallback.of_type("dispatch").at(0)["session"] == "s-default");
  CHECK(fallback.of_type("dispatch").size() == 1);
  CHECK(new_york.of_type("dispatch").size() == 1);

  // The PSAP can read a dispatch before the dispatcher's write handler records its latency.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (dispatcher.figures().latencies_ms.size() < 4 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const DispatchFigures figures = dispatcher.figures();
  CHECK(figures.dispatched == 4);
  CHECK(figures.latencies_ms.size() == 4);
}

TEST_CASE("emergency route lookup table", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer unused;
  EmergencyDispatcher dispatcher(config_with(
      {route("psap-ny", unused, {"NY"}, {"212", "646"}), route("psap-dc", unused, {"DC"}, {})},
      folder));
  dispatcher.set_number_plan(number_plan());

  struct Case {
    std::string caller;
    std::string location;
    std::string expected;  // route id, or "" for NotFound
  };
  const std::vector<Case> cases = {
      {"+16465550100", "", "psap-ny"},
      {"6465550100", "", "psap-ny"},
      {"+15185550100", "", "psap-ny"},  // 518 is upstate New York by NANP data
      {"+13105550100", "100 Main St NE, Washington, DC 20002", "psap-dc"},
      {"+13105550100", "38.8977,-77.0365", ""},
      {"+13105550100", "", ""},
      {"", "", ""},
  };
  for (const Case& item : cases) {
    INFO("caller '" << item.caller << "' location '" << item.location << "'");
    const auto found = dispatcher.route_for(item.caller, item.location);
    if (item.expected.empty()) {
      REQUIRE_FALSE(found.is_ok());
      CHECK(found.status().code() == StatusCode::NotFound);
      CHECK_THAT(found.status().message(), Catch::Matchers::Contains("set default = true"));
    } else {
      REQUIRE(found.is_ok());
      CHECK(found->id == item.expected);
    }
  }
}

TEST_CASE("emergency caller text follows dispatch", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  EmergencyDispatcher dispatcher(config_with({route("psap", psap, {}, {}, true)}, folder));
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());

  REQUIRE(dispatcher.dispatch(session("s1", "+12125550100", "1 Centre St, New York, NY")).is_ok());
  dispatcher.forward_text("s1", "FIRE IN KITCHEN GA");
  dispatcher.forward_text("s1", "2 PEOPLE INSIDE GA");
  dispatcher.close("s1", now_ms());
  REQUIRE(psap.wait_for("close", 1));

  const std::vector<json> messages = psap.messages();
  REQUIRE(messages.size() == 4);
  CHECK(messages[0]["type"] == "dispatch");
  CHECK(messages[0]["location"] == "1 Centre St, New York, NY");
  CHECK(messages[1]["type"] == "text");
  CHECK(messages[1]["session"] == "s1");
  CHECK(messages[1]["text"] == "FIRE IN KITCHEN GA");
  CHECK(messages[2]["text"] == "2 PEOPLE INSIDE GA");
  CHECK(messages[3]["type"] == "close");
  CHECK(messages[3]["session"] == "s1");
  CHECK(messages[3].contains("at"));
}

TEST_CASE("emergency leg redialed with queued text", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  EmergencyDispatcher dispatcher(config_with({route("psap", psap, {}, {}, true)}, folder));
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());
  REQUIRE(dispatcher.dispatch(session("s1", "+12125550100")).is_ok());
  REQUIRE(psap.wait_for("dispatch", 1));

  psap.go_down();
  // Give the dispatcher time to see the drop, so the text below is typed while the leg is down.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  dispatcher.forward_text("s1", "ARE YOU THERE GA");
  REQUIRE(dispatcher.dispatch(session("s2", "+12125550199")).is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(psap.of_type("text").empty());
  psap.come_back();

  REQUIRE(psap.wait_for("text", 1));
  REQUIRE(psap.wait_for("dispatch", 2));
  CHECK(psap.of_type("text").at(0)["text"] == "ARE YOU THERE GA");
  CHECK(psap.of_type("dispatch").at(1)["session"] == "s2");
  CHECK(psap.connections() == 2);
  CHECK(dispatcher.figures().redials >= 1);
  CHECK(dispatcher.figures().dispatched == 2);
}

TEST_CASE("emergency dispatch fails over after max redials", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer dead;
  PsapServer fallback;
  dead.go_down();  // nothing listens on its port now
  EmergencyConfig config = config_with(
      {route("psap-ny", dead, {}, {"212"}), route("psap-default", fallback, {}, {}, true)}, folder);
  config.max_redials = 3;
  EmergencyDispatcher dispatcher(config);
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());

  REQUIRE(dispatcher.dispatch(session("s1", "+12125550100")).is_ok());
  REQUIRE(fallback.wait_for("dispatch", 1));
  CHECK(fallback.of_type("dispatch").at(0)["session"] == "s1");
  // Text typed after the fail-over goes to the route that took the dispatch.
  dispatcher.forward_text("s1", "HELP GA");
  REQUIRE(fallback.wait_for("text", 1));
  CHECK(dead.messages().empty());
}

TEST_CASE("emergency dispatcher without routes fails", "[gateway][emergency]") {
  TempFolder folder;
  EmergencyDispatcher dispatcher(config_with({}, folder));
  const relaygw::Status status = dispatcher.start();
  REQUIRE_FALSE(status.is_ok());
  CHECK(status.code() == StatusCode::FailedPrecondition);
  CHECK_THAT(status.message(), Catch::Matchers::Contains("no PSAP route is configured"));
  CHECK_THAT(status.message(), Catch::Matchers::Contains("[[psap]]"));
  CHECK(dispatcher.dispatch(session("s1", "+12125550100")).code() ==
        StatusCode::FailedPrecondition);
}

TEST_CASE("emergency dispatcher refuses unwritable spool", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  EmergencyConfig config = config_with({route("psap", psap, {}, {}, true)}, folder);
  config.spool_file = (folder.path() / "missing-folder" / "spool.jsonl").string();
  EmergencyDispatcher dispatcher(config);
  const relaygw::Status status = dispatcher.start();
  REQUIRE_FALSE(status.is_ok());
  CHECK(status.code() == StatusCode::Unavailable);
  CHECK_THAT(status.message(), Catch::Matchers::Contains("missing-folder/spool.jsonl"));
  CHECK_THAT(status.message(), Catch::Matchers::Contains("spool_file"));
}

TEST_CASE("emergency spool flushed once database returns", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  const EmergencyConfig config = config_with({route("psap", psap, {}, {}, true)}, folder);
  // The database folder does not exist yet, so the store cannot open.
  const std::filesystem::path database = folder.path() / "not-yet" / "relaygw.db";
  REQUIRE_FALSE(relaygw::billing::SqliteStore::open(database.string(), {.create = true}).is_ok());

  {
    EmergencyDispatcher dispatcher(config);
    dispatcher.set_number_plan(number_plan());
    REQUIRE(dispatcher.start().is_ok());
    REQUIRE(dispatcher.dispatch(session("s1", "+12125550100")).is_ok());
    REQUIRE(dispatcher.dispatch(session("s2", "+13105550100")).is_ok());
    REQUIRE(psap.wait_for("dispatch", 2));
    // Both acks reach the spool before the calls close, so both calls are connected. An ack
    // after the close would be a late one.
    REQUIRE(wait_for_spool_records(config.spool_file, "\"record\":\"acked\"", 2));
    dispatcher.close("s1", now_ms());
    dispatcher.close("s2", now_ms());
    REQUIRE(psap.wait_for("close", 2));
  }  // stopping writes the spool

  const std::string spooled = read_file(config.spool_file);
  CHECK(spooled.find("\"record\":\"dispatch\"") != std::string::npos);
  CHECK(spooled.find("\"record\":\"close\"") != std::string::npos);

  std::filesystem::create_directories(database.parent_path());
  auto store = relaygw::billing::SqliteStore::open(database.string(), {.create = true});
  REQUIRE(store.is_ok());
  EmergencyDispatcher restarted(config);
  REQUIRE(restarted.flush_spool(**store, flush_context()).is_ok());
  CHECK(read_file(config.spool_file).empty());

  for (const char* call_id : {"call-s1", "call-s2"}) {
    INFO(call_id);
    auto record = (*store)->find_call(call_id);
    REQUIRE(record.is_ok());
    REQUIRE(record->has_value());
    const relaygw::billing::CallRecord& call = **record;
    CHECK(call.request.emergency);
    CHECK(call.request.to == "911");
    CHECK(call.request.access == relaygw::billing::AccessTag::RelayIp);
    REQUIRE(call.posting.has_value());
    CHECK(call.posting->total == 0);
    CHECK(relaygw::billing::event_time(call, relaygw::billing::CallEvent::Connected));
    CHECK(relaygw::billing::event_time(call, relaygw::billing::CallEvent::Disconnected));
  }

  // A flush that stopped before truncating the spool runs again on the same records.
  std::ofstream(config.spool_file) << spooled;
  REQUIRE(restarted.flush_spool(**store, flush_context()).is_ok());
  REQUIRE(restarted.flush_spool(**store, flush_context()).is_ok());
  const auto day_start = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  auto count = (*store)->count_calls_requested(day_start - std::chrono::days(1),
                                               day_start + std::chrono::days(2));
  REQUIRE(count.is_ok());
  CHECK(*count == 2);
  CHECK(read_file(config.spool_file).empty());
}

TEST_CASE("emergency spool completes half-stored call", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  const EmergencyConfig config = config_with({route("psap", psap, {}, {}, true)}, folder);
  const std::string database = (folder.path() / "relaygw.db").string();
  auto store = relaygw::billing::SqliteStore::open(database, {.create = true});
  REQUIRE(store.is_ok());

  EmergencyDispatcher dispatcher(config);
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());
  REQUIRE(dispatcher.dispatch(session("s1", "+12125550100")).is_ok());
  REQUIRE(dispatcher.dispatch(session("live", "+12125550101")).is_ok());
  REQUIRE(psap.wait_for("dispatch", 2));
  dispatcher.close("s1", now_ms());

  // An earlier flush stopped after opening call-s1 in the store and before completing it.
  relaygw::billing::CallRequest request;
  request.id = "call-s1";
  request.from = "+12125550100";
  request.to = "911";
  request.emergency = true;
  const relaygw::billing::CallRecords records(store->get(), nullptr);
  relaygw::billing::WriteContext earlier = flush_context();
  earlier.at -= std::chrono::seconds(5);
  REQUIRE(records.open(request, earlier).is_ok());

  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  auto record = (*store)->find_call("call-s1");
  REQUIRE(record.is_ok());
  REQUIRE(record->has_value());
  REQUIRE((*record)->posting.has_value());
  CHECK((*record)->posting->total == 0);
  // The live session stays in the spool until it closes.
  auto live = (*store)->find_call("call-live");
  REQUIRE(live.is_ok());
  CHECK_FALSE(live->has_value());
  CHECK(read_file(config.spool_file).find("call-live") != std::string::npos);

  dispatcher.close("live", now_ms());
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  live = (*store)->find_call("call-live");
  REQUIRE(live.is_ok());
  REQUIRE(live->has_value());
  CHECK((*live)->posting.has_value());
  CHECK(read_file(config.spool_file).empty());
}

TEST_CASE("emergency spool times TTY call closed before ack", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  const EmergencyConfig config = config_with({route("psap-chicago", psap, {}, {}, true)}, folder);
  // A TTY line's 911 call: the line hung up 40 s after the dispatch, and the PSAP's
  // acknowledgement arrived after that (on another route, after a fail-over).
  std::ofstream(config.spool_file)
      << R"({"record":"dispatch","session":"line-1","call":"line-1/emergency","caller_number":"+13125550107","provider":"","agent":"","service":"tty","received_at":"2026-03-10T15:00:00.000Z","route":"psap-chicago"})"
      << "\n"
      << R"({"record":"close","session":"line-1","call":"line-1/emergency","at":"2026-03-10T15:00:40.000Z"})"
      << "\n"
      << R"({"record":"acked","session":"line-1","call":"line-1/emergency","at":"2026-03-10T15:00:41.000Z","route":"psap-backup"})"
      << "\n";
  auto store = relaygw::billing::SqliteStore::open((folder.path() / "relaygw.db").string(),
                                                   {.create = true});
  REQUIRE(store.is_ok());
  EmergencyDispatcher dispatcher(config);
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());

  auto record = (*store)->find_call("line-1/emergency");
  REQUIRE(record.is_ok());
  REQUIRE(record->has_value());
  const relaygw::billing::CallRecord& call = **record;
  CHECK(call.request.emergency);
  CHECK(call.request.access == relaygw::billing::AccessTag::Tty);
  // The acknowledgement after the close is a late one, so the route stays the first one.
  CHECK(call.request.psap_route == "psap-chicago");
  CHECK(call.request.requested_person.empty());
  REQUIRE(call.posting.has_value());
  CHECK(call.posting->total == 0);
  CHECK(call.posting->conversation_seconds == 40);
  const std::optional<relaygw::billing::LatePsapAck> late = relaygw::billing::late_psap_ack(call);
  REQUIRE(late);
  CHECK(late->psap_route == "psap-backup");
  CHECK(relaygw::billing::format_instant(late->at) == "2026-03-10T15:00:41Z");
  CHECK(late->after_disconnect);
  CHECK(read_file(config.spool_file).empty());
  store->reset();

  // The emergency report shows both PSAP routes in every format.
  for (const char* format : {"text", "csv", "json"}) {
    INFO("format " << format);
    std::string output;
    const int status = relaygw::test::run_relaygw(
        {"report", "emergency", "--db", (folder.path() / "relaygw.db").string(), "--from",
         "2026-03-10", "--to", "2026-03-10", "--time-zone", "UTC", "--format", format},
        &output);
    INFO(output);
    REQUIRE(status == 0);
    CHECK(output.find("psap-chicago") != std::string::npos);
    CHECK(output.find("psap-backup") != std::string::npos);
    CHECK(output.find("not recorded") == std::string::npos);
    if (std::string(format) == "csv") {
      // The caller's number starts with '+', so the CSV writer guards it as text.
      CHECK(output.find(",\"'+13125550107\",911,psap-chicago,40,0.00,2026-03-10T15:00:41Z,"
                        "psap-backup,41\n") != std::string::npos);
    }
  }
}

TEST_CASE("emergency spool rejects orphan records once", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  const EmergencyConfig config = config_with({route("psap", psap, {}, {}, true)}, folder);
  const std::string orphan_close =
      R"({"record":"close","session":"gone","call":"call-gone","at":"2026-03-10T15:00:40.000Z"})";
  const std::string late_ack =
      R"({"record":"acked","session":"s9","call":"call-s9","at":"2026-03-10T15:00:41.000Z","route":"psap"})";
  std::ofstream(config.spool_file) << orphan_close << "\n" << late_ack << "\n";
  relaygw::test::LogCapture log;
  auto store = relaygw::billing::SqliteStore::open((folder.path() / "relaygw.db").string(),
                                                   {.create = true});
  REQUIRE(store.is_ok());
  EmergencyDispatcher dispatcher(config);
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());

  // Both lines leave the spool for the rejects file, so the next flush has nothing to report.
  CHECK(read_file(config.spool_file).empty());
  const std::string rejected = read_file(config.spool_file + ".rejected");
  CHECK(rejected == orphan_close + "\n" + late_ack + "\n");
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  CHECK(read_file(config.spool_file + ".rejected") == rejected);
  INFO(log.text());
  CHECK(log.count("no dispatch record (call-gone, call-s9)") == 1);
  // The second flush moved nothing, so it logs below the info level.
  CHECK(log.count("flushed: stored=0 already_stored=0 kept_open=0 rejected_lines=2") == 1);
  CHECK(log.count("flushed:") == 1);
  auto gone = (*store)->find_call("call-gone");
  REQUIRE(gone.is_ok());
  CHECK_FALSE(gone->has_value());
}

TEST_CASE("emergency spool records PSAP ack after close", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  psap.go_down();  // the PSAP is down from the dispatch until after the caller hangs up
  const EmergencyConfig config = config_with({route("psap", psap, {}, {}, true)}, folder);
  const std::string database = (folder.path() / "relaygw.db").string();
  auto store = relaygw::billing::SqliteStore::open(database, {.create = true});
  REQUIRE(store.is_ok());
  relaygw::test::LogCapture log;
  EmergencyDispatcher dispatcher(config);
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());
  // The caller hangs up 3 s before the PSAP comes back, so the ack's instant is seconds after
  // the disconnect and the two cannot be confused.
  EmergencySession caller = session("s1", "+12125550100");
  caller.received_at = now_ms() - std::chrono::seconds(5);
  REQUIRE(dispatcher.dispatch(caller).is_ok());
  const relaygw::relay::Instant hung_up = now_ms() - std::chrono::seconds(3);
  dispatcher.close("s1", hung_up);

  // The PSAP comes back, receives the dispatch it missed and acknowledges it before the flush.
  const relaygw::billing::Instant before_ack =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  psap.come_back();
  REQUIRE(psap.wait_for("dispatch", 1));
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (read_file(config.spool_file).find("\"record\":\"acked\"") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string spooled = read_file(config.spool_file);
  INFO(spooled);
  const std::size_t close_at = spooled.find("\"record\":\"close\"");
  const std::size_t ack_at = spooled.find("\"record\":\"acked\"");
  REQUIRE(spooled.find("\"record\":\"dispatch\"") != std::string::npos);
  REQUIRE(close_at != std::string::npos);
  REQUIRE(ack_at != std::string::npos);
  REQUIRE(close_at < ack_at);
  const relaygw::billing::Instant after_ack =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());

  // One flush stores the call and its late acknowledgement, as two flushes around the ack would.
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  CHECK(read_file(config.spool_file).empty());
  CHECK_FALSE(std::filesystem::exists(config.spool_file + ".rejected"));
  INFO(log.text());
  CHECK(log.count("flushed: stored=1 already_stored=0 kept_open=0 rejected_lines=0 "
                  "late_acks=1") == 1);
  auto stored = (*store)->find_call("call-s1");
  REQUIRE(stored.is_ok());
  REQUIRE(stored->has_value());
  const relaygw::billing::CallRecord& call = **stored;
  CHECK(call.request.psap_route == "psap");
  CHECK_FALSE(relaygw::billing::event_time(call, relaygw::billing::CallEvent::Connected));
  const std::optional<relaygw::billing::Instant> disconnected =
      relaygw::billing::event_time(call, relaygw::billing::CallEvent::Disconnected);
  REQUIRE(disconnected);
  CHECK(*disconnected == std::chrono::floor<std::chrono::seconds>(hung_up));
  const std::optional<relaygw::billing::LatePsapAck> late = relaygw::billing::late_psap_ack(call);
  REQUIRE(late);
  CHECK(late->psap_route == "psap");
  CHECK(late->at >= before_ack);
  CHECK(late->at <= after_ack);
  CHECK(late->at > *disconnected);
  CHECK(late->after_disconnect);
  CHECK(late->seconds_after_request >= 5);
  REQUIRE(call.posting.has_value());
  CHECK(call.posting->total == 0);
  CHECK_FALSE(call.posting->conversation_seconds.has_value());

  // A flush that stopped before truncating the spool, and an ack delivered twice, store
  // nothing more.
  const std::size_t ack_line_end = spooled.find('\n', ack_at);
  const std::size_t ack_line_start = spooled.rfind('\n', ack_at) + 1;
  const std::string ack_line = spooled.substr(ack_line_start, ack_line_end + 1 - ack_line_start);
  std::ofstream(config.spool_file) << spooled << ack_line;
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  CHECK(read_file(config.spool_file).empty());
  CHECK_FALSE(std::filesystem::exists(config.spool_file + ".rejected"));
  CHECK(log.count("flushed: stored=0 already_stored=1 kept_open=0 rejected_lines=0 "
                  "late_acks=2") == 1);
  stored = (*store)->find_call("call-s1");
  REQUIRE(stored.is_ok());
  REQUIRE(stored->has_value());
  std::size_t psap_events = 0;
  for (const relaygw::billing::CallEventRecord& event : (*stored)->events) {
    psap_events += event.event == relaygw::billing::CallEvent::PsapAcknowledged ? 1 : 0;
  }
  CHECK(psap_events == 1);
  CHECK_FALSE(relaygw::billing::event_time(**stored, relaygw::billing::CallEvent::Connected));
  const std::string day = relaygw::billing::format_instant(*disconnected).substr(0, 10);
  dispatcher.stop();
  store->reset();

  // `call show` and `report emergency` print it as they print an ack that came after a flush.
  std::string shown;
  REQUIRE(relaygw::test::run_relaygw({"call", "show", "--id", "call-s1", "--db", database},
                                     &shown) == 0);
  INFO(shown);
  CHECK(shown.find("psap-acknowledged " + relaygw::billing::format_instant(late->at)) !=
        std::string::npos);
  CHECK(shown.find("conversation none: PSAP route psap acknowledged the dispatch at") !=
        std::string::npos);
  CHECK(shown.find("not connected") == std::string::npos);
  std::string report;
  REQUIRE(relaygw::test::run_relaygw({"report", "emergency", "--db", database, "--from", day,
                                      "--to", day, "--time-zone", "UTC", "--format", "text"},
                                     &report) == 0);
  INFO(report);
  CHECK(report.find("PSAP route psap acknowledged late") != std::string::npos);
  CHECK(report.find(", after the call ended") != std::string::npos);
}

TEST_CASE("emergency spool keeps repeated on-time ack", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  const EmergencyConfig config = config_with({route("psap", psap, {}, {}, true)}, folder);
  // The PSAP acknowledged 2 s into the call, then sent the same ack again after the close.
  std::ofstream(config.spool_file)
      << R"({"record":"dispatch","session":"s2","call":"call-s2","caller_number":"+12125550100","provider":"provider-a","agent":"ca-1042","service":"relay-ip","received_at":"2026-03-10T15:00:00.000Z","route":"psap"})"
      << "\n"
      << R"({"record":"acked","session":"s2","call":"call-s2","at":"2026-03-10T15:00:02.000Z","route":"psap"})"
      << "\n"
      << R"({"record":"close","session":"s2","call":"call-s2","at":"2026-03-10T15:00:40.000Z"})"
      << "\n"
      << R"({"record":"acked","session":"s2","call":"call-s2","at":"2026-03-10T15:00:41.000Z","route":"psap"})"
      << "\n";
  auto store = relaygw::billing::SqliteStore::open((folder.path() / "relaygw.db").string(),
                                                   {.create = true});
  REQUIRE(store.is_ok());
  EmergencyDispatcher dispatcher(config);
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());

  auto record = (*store)->find_call("call-s2");
  REQUIRE(record.is_ok());
  REQUIRE(record->has_value());
  const std::optional<relaygw::billing::Instant> connected =
      relaygw::billing::event_time(**record, relaygw::billing::CallEvent::Connected);
  REQUIRE(connected);
  CHECK(relaygw::billing::format_instant(*connected) == "2026-03-10T15:00:02Z");
  CHECK_FALSE(relaygw::billing::late_psap_ack(**record));
  REQUIRE((*record)->posting.has_value());
  CHECK((*record)->posting->conversation_seconds == 38);
  CHECK((*record)->posting->total == 0);
}

TEST_CASE("emergency spool records PSAP ack after store", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  psap.go_down();  // the PSAP is down from the dispatch until after the caller hangs up
  const EmergencyConfig config = config_with({route("psap", psap, {}, {}, true)}, folder);
  const std::string database = (folder.path() / "relaygw.db").string();
  auto store = relaygw::billing::SqliteStore::open(database, {.create = true});
  REQUIRE(store.is_ok());
  relaygw::test::LogCapture log;
  EmergencyDispatcher dispatcher(config);
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());
  REQUIRE(dispatcher.dispatch(session("s1", "+12125550100")).is_ok());
  dispatcher.close("s1", now_ms());

  // The call is stored with no connect, because no PSAP acknowledged it yet.
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  auto stored = (*store)->find_call("call-s1");
  REQUIRE(stored.is_ok());
  REQUIRE(stored->has_value());
  REQUIRE((*stored)->posting.has_value());
  CHECK_FALSE(relaygw::billing::event_time(**stored, relaygw::billing::CallEvent::Connected));
  CHECK_FALSE(relaygw::billing::late_psap_ack(**stored));
  CHECK(read_file(config.spool_file).empty());

  // The PSAP comes back, receives the dispatch it missed and acknowledges it.
  psap.come_back();
  REQUIRE(psap.wait_for("dispatch", 1));
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (read_file(config.spool_file).find("\"record\":\"acked\"") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string ack_line = read_file(config.spool_file);
  REQUIRE(ack_line.find("\"record\":\"acked\"") != std::string::npos);
  CHECK(ack_line.find("\"record\":\"dispatch\"") == std::string::npos);

  // The ack has no dispatch record in the spool, but its call is stored, so it is recorded.
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  CHECK(read_file(config.spool_file).empty());
  CHECK_FALSE(std::filesystem::exists(config.spool_file + ".rejected"));
  INFO(log.text());
  CHECK(log.count("flushed: stored=0 already_stored=0 kept_open=0 rejected_lines=0 "
                  "late_acks=1") == 1);
  CHECK(log.count("no dispatch record") == 0);
  auto acknowledged = (*store)->find_call("call-s1");
  REQUIRE(acknowledged.is_ok());
  REQUIRE(acknowledged->has_value());
  const std::optional<relaygw::billing::LatePsapAck> late =
      relaygw::billing::late_psap_ack(**acknowledged);
  REQUIRE(late);
  CHECK(late->psap_route == "psap");
  CHECK(late->seconds_after_request >= 0);
  CHECK(late->after_disconnect);
  CHECK_FALSE(
      relaygw::billing::event_time(**acknowledged, relaygw::billing::CallEvent::Connected));
  CHECK((*acknowledged)->posting->total == 0);

  // A flush that stopped before truncating the spool, and an ack delivered twice, store
  // nothing more.
  std::ofstream(config.spool_file) << ack_line << ack_line;
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());
  CHECK(read_file(config.spool_file).empty());
  CHECK_FALSE(std::filesystem::exists(config.spool_file + ".rejected"));
  CHECK(log.count("late_acks=2") == 1);
  acknowledged = (*store)->find_call("call-s1");
  REQUIRE(acknowledged.is_ok());
  std::size_t psap_events = 0;
  for (const relaygw::billing::CallEventRecord& event : (*acknowledged)->events) {
    psap_events += event.event == relaygw::billing::CallEvent::PsapAcknowledged ? 1 : 0;
  }
  CHECK(psap_events == 1);
  const std::string day =
      relaygw::billing::format_instant(
          *relaygw::billing::event_time(**acknowledged, relaygw::billing::CallEvent::Requested))
          .substr(0, 10);
  dispatcher.stop();
  store->reset();

  // `call show` and `report emergency` print the late acknowledgement in place of "not
  // connected".
  std::string shown;
  REQUIRE(relaygw::test::run_relaygw({"call", "show", "--id", "call-s1", "--db", database},
                                     &shown) == 0);
  INFO(shown);
  CHECK(shown.find("psap-acknowledged") != std::string::npos);
  CHECK(shown.find("conversation none: PSAP route psap acknowledged the dispatch at") !=
        std::string::npos);
  CHECK(shown.find("not connected") == std::string::npos);
  std::string report;
  REQUIRE(relaygw::test::run_relaygw({"report", "emergency", "--db", database, "--from", day,
                                      "--to", day, "--time-zone", "UTC", "--format", "json"},
                                     &report) == 0);
  INFO(report);
  const json calls = json::parse(report)["calls"];
  REQUIRE(calls.size() == 1);
  CHECK(calls[0]["late_psap_ack"]["psap"] == "psap");
  CHECK(calls[0]["billed"] == "0.00");
}

TEST_CASE("emergency spool moves unstorable call aside", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  const EmergencyConfig config = config_with({route("psap-chicago", psap, {}, {}, true)}, folder);
  auto store = relaygw::billing::SqliteStore::open((folder.path() / "relaygw.db").string(),
                                                   {.create = true});
  REQUIRE(store.is_ok());
  // Both "taken" and "taken/emergency" are normal calls, so the emergency record of "taken"
  // has no id it may use. "reused" is a normal call, so its record goes to "reused/emergency".
  for (const std::string id : {"taken", "taken/emergency", "reused"}) {
    relaygw::billing::CallRequest request;
    request.id = id;
    request.from = "+13125550107";
    request.to = "+12125550101";
    REQUIRE((*store)->create_call(request, flush_context()).is_ok());
  }
  auto spooled_call = [](const std::string& session, const std::string& call) {
    return R"({"record":"dispatch","session":")" + session + R"(","call":")" + call +
           R"(","caller_number":"+13125550107","provider":"acme","agent":"A","service":"relay-ip","received_at":"2026-03-10T15:00:00.000Z","route":"psap-chicago"})"
           "\n" R"({"record":"close","session":")" +
           session + R"(","call":")" + call + R"(","at":"2026-03-10T15:01:00.000Z"})" "\n";
  };
  std::ofstream(config.spool_file) << spooled_call("s-1", "taken") << spooled_call("s-2", "reused")
                                   << spooled_call("s-3", "later");
  EmergencyDispatcher dispatcher(config);
  REQUIRE(dispatcher.flush_spool(**store, flush_context()).is_ok());

  CHECK(read_file(config.spool_file).empty());
  const std::string rejected = read_file(config.spool_file + ".rejected");
  CHECK(rejected.find(R"("call":"taken")") != std::string::npos);
  CHECK(rejected.find(R"("call":"later")") == std::string::npos);
  for (const std::string id : {"reused/emergency", "later"}) {
    auto record = (*store)->find_call(id);
    REQUIRE(record.is_ok());
    INFO(id);
    REQUIRE(record->has_value());
    CHECK((*record)->request.emergency);
    CHECK((*record)->posting.has_value());
  }
  // The normal calls got no emergency events.
  for (const std::string id : {"taken", "reused"}) {
    auto record = (*store)->find_call(id);
    REQUIRE(record.is_ok());
    REQUIRE(record->has_value());
    CHECK((*record)->events.empty());
    CHECK_FALSE((*record)->posting.has_value());
  }
  store->reset();
}

TEST_CASE("emergency spool marks call cut off by stop", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  const EmergencyConfig config = config_with({route("psap-chicago", psap, {}, {}, true)}, folder);
  auto store = relaygw::billing::SqliteStore::open((folder.path() / "relaygw.db").string(),
                                                   {.create = true});
  REQUIRE(store.is_ok());
  EmergencyDispatcher first(config);
  REQUIRE(first.start().is_ok());
  EmergencySession open = session("s-open", "+13125550107");
  REQUIRE(first.dispatch(open).is_ok());
  // A flush while the session is live keeps it and records that it was open at the flush.
  const relaygw::billing::WriteContext seen{
      "gateway", std::chrono::floor<std::chrono::seconds>(open.received_at) + std::chrono::seconds(90)};
  REQUIRE(first.flush_spool(**store, seen).is_ok());
  const std::string spooled = read_file(config.spool_file);
  CHECK(spooled.find(R"("record":"alive")") != std::string::npos);
  // The gateway is killed: the spool keeps the dispatch and alive records, with no close.
  std::ofstream(config.spool_file) << spooled;

  EmergencyDispatcher restarted(config);
  REQUIRE(restarted.flush_spool(**store, flush_context()).is_ok());
  auto record = (*store)->find_call("call-s-open");
  REQUIRE(record.is_ok());
  REQUIRE(record->has_value());
  const relaygw::billing::CallRecord& call = **record;
  REQUIRE(call.posting.has_value());
  CHECK(call.posting->session_seconds == 90);
  CHECK(call.events.back().event == relaygw::billing::CallEvent::Disconnected);
  CHECK(call.events.back().actor == "gateway/gateway-stopped");
  store->reset();
}

TEST_CASE("emergency close is not before dispatch", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  EmergencyDispatcher dispatcher(
      config_with({route("psap-chicago", psap, {}, {}, true)}, folder));
  REQUIRE(dispatcher.start().is_ok());
  EmergencySession early = session("s-early", "+13125550107");
  REQUIRE(dispatcher.dispatch(early).is_ok());
  // The provider's clock runs two hours behind the gateway's.
  dispatcher.close("s-early", early.received_at - std::chrono::hours(2));
  REQUIRE(psap.wait_for("close", 1));
  const json close = psap.of_type("close").at(0);
  CHECK(close["at"] == relaygw::relay::format_instant(early.received_at));
}

TEST_CASE("emergency dispatcher rejects bad route sets", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer psap;
  SECTION("two default routes") {
    EmergencyDispatcher dispatcher(config_with(
        {route("psap-a", psap, {}, {}, true), route("psap-b", psap, {}, {}, true)}, folder));
    dispatcher.set_number_plan(number_plan());
    const relaygw::Status status = dispatcher.start();
    REQUIRE_FALSE(status.is_ok());
    CHECK_THAT(status.message(), Catch::Matchers::Contains("'psap-a' and 'psap-b'"));
    CHECK_THAT(status.message(), Catch::Matchers::Contains("one route only"));
  }
  SECTION("unassigned area code") {
    EmergencyDispatcher dispatcher(
        config_with({route("psap-a", psap, {}, {"212", "999"}, true)}, folder));
    dispatcher.set_number_plan(number_plan());
    const relaygw::Status status = dispatcher.start();
    REQUIRE_FALSE(status.is_ok());
    CHECK(status.code() == StatusCode::InvalidArgument);
    CHECK_THAT(status.message(), Catch::Matchers::Contains("'psap-a'"));
    CHECK_THAT(status.message(), Catch::Matchers::Contains("\"999\""));
    CHECK_THAT(status.message(), Catch::Matchers::Contains("not an assigned area code"));
  }
}

TEST_CASE("emergency session without route is spooled", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer new_york;
  const EmergencyConfig config = config_with({route("psap-ny", new_york, {"NY"}, {})}, folder);
  relaygw::test::LogCapture log;
  {
    EmergencyDispatcher dispatcher(config);
    dispatcher.set_number_plan(number_plan());
    REQUIRE(dispatcher.start().is_ok());
    CHECK(log.count("no default [[psap]] route: emergency calls from outside NY reach no PSAP") ==
          1);

    // 312 is Chicago, and the location names Illinois: no route serves it.
    REQUIRE(dispatcher.dispatch(session("s-il", "+13125550107", "100 Main St, Chicago, IL"))
                .is_ok());
    CHECK_FALSE(dispatcher.psap_routed("s-il"));
    CHECK_FALSE(dispatcher.psap_reachable("s-il"));
    dispatcher.forward_text("s-il", "HELP FIRE");
    CHECK(log.count("no PSAP route serves the session") == 1);
    dispatcher.close("s-il", now_ms());
    CHECK(dispatcher.figures().dispatched == 0);
  }
  CHECK(new_york.of_type("dispatch").empty());
  CHECK(new_york.of_type("close").empty());

  auto store = relaygw::billing::SqliteStore::open((folder.path() / "relaygw.db").string(),
                                                   {.create = true});
  REQUIRE(store.is_ok());
  EmergencyDispatcher restarted(config);
  REQUIRE(restarted.flush_spool(**store, flush_context()).is_ok());
  CHECK(read_file(config.spool_file).empty());
  auto record = (*store)->find_call("call-s-il");
  REQUIRE(record.is_ok());
  REQUIRE(record->has_value());
  const relaygw::billing::CallRecord& call = **record;
  CHECK(call.request.emergency);
  CHECK(call.request.psap_route.empty());
  REQUIRE(call.posting.has_value());
  CHECK(call.posting->total == 0);
  CHECK_FALSE(relaygw::billing::event_time(call, relaygw::billing::CallEvent::Connected));
}

TEST_CASE("emergency zero redials logs one dial", "[gateway][emergency]") {
  TempFolder folder;
  PsapServer dead;
  PsapServer fallback;
  dead.go_down();  // nothing listens on its port now
  EmergencyConfig config = config_with(
      {route("psap-ny", dead, {}, {"212"}), route("psap-default", fallback, {}, {}, true)}, folder);
  config.max_redials = 0;
  relaygw::test::LogCapture log;
  EmergencyDispatcher dispatcher(config);
  dispatcher.set_number_plan(number_plan());
  REQUIRE(dispatcher.start().is_ok());

  REQUIRE(dispatcher.dispatch(session("s1", "+12125550100")).is_ok());
  REQUIRE(fallback.wait_for("dispatch", 1));
  INFO(log.text());
  CHECK(log.count("psap route=psap-ny dial 1 of 1 to") >= 1);
  CHECK(log.count("dial 1 of 0") == 0);
}
