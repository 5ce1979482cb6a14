// CallService against a real SQLite database made by `relaygw db init`, a real
// EmergencyDispatcher and a loopback PSAP.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/sqlite_store.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/session_registry.hpp"
#include "tests/gateway/test_support.hpp"

namespace relaygw::gateway::server {
namespace {

using namespace std::chrono_literals;

relay::Instant at(const std::string& text) { return relay::parse_instant(text).value(); }

billing::Instant seconds_at(const std::string& text) {
  return std::chrono::floor<std::chrono::seconds>(at(text));
}

const relay::AuthorizationResult& authorization_of(const std::vector<Reply>& replies) {
  REQUIRE(!replies.empty());
  const auto* result = std::get_if<relay::AuthorizationResult>(&replies.back());
  REQUIRE(result != nullptr);
  return *result;
}

// The one reply in `replies`, which must be an error; fails the test otherwise.
const relay::ErrorReply& error_of(const std::vector<Reply>& replies) {
  REQUIRE(replies.size() == 1);
  const auto* error = std::get_if<relay::ErrorReply>(&replies.front());
  REQUIRE(error != nullptr);
  return *error;
}

bool is_ack(const std::vector<Reply>& replies) {
  return replies.size() == 1 && std::holds_alternative<Ack>(replies.front());
}

// A gateway call service over a fresh database in its own folder.
struct Fixture {
  // `california_only`: the one PSAP route serves only area code 415 and California, with no
  // default, so the fixture's New York and Chicago callers have no route.
  explicit Fixture(bool with_database = true, bool california_only = false) {
    certs = test::make_certificates(dir.file("certs"), {});
    config = test::test_server_config(dir, certs, psap.port());
    if (california_only) {
      for (PsapRoute& route : config.emergency.routes) {
        route.default_route = false;
        route.area_codes = {"415"};
        route.states = {"CA"};
      }
    }
    if (with_database) {
      test::init_billing_database(config.billing.database);
    }
    dispatcher = std::make_unique<EmergencyDispatcher>(config.emergency);
    REQUIRE(dispatcher->start());
    calls = std::make_unique<CallService>(config.billing, registry, *dispatcher);
    storage = calls->start();
  }

  ~Fixture() {
    calls.reset();
    dispatcher->stop();
  }

  std::vector<Reply> open_session(const std::string& session, relay::RelayService service,
                                  const std::string& caller, bool emergency = false) {
    relay::SessionOpened opened;
    opened.session_id = session;
    opened.adapter = relay::Adapter::ProviderLink;
    opened.provider_id = "acme";
    opened.service = service;
    opened.caller_number = caller;
    opened.caller_location = "350 5th Ave, New York, NY 10118";
    opened.agent_id = "CA-4411";
    opened.emergency = emergency;
    return calls->handle(opened, "m-open", at("2026-03-10T15:00:00Z"));
  }

  std::vector<Reply> request(const std::string& session, const std::string& call,
                             const std::string& to, relay::BillingMethod billing,
                             const std::string& key) {
    relay::CallRequested request;
    request.session_id = session;
    request.call_id = call;
    request.dialed_number = to;
    request.billing = billing;
    request.caller_name = "Grace Okafor";
    request.idempotency_key = key;
    return calls->handle(request, "m-request", at("2026-03-10T15:00:05Z"));
  }

  std::vector<Reply> accept(const std::string& call) {
    relay::Acceptance acceptance{call, relay::AcceptanceMethod::TtyText, "called party",
                                 at("2026-03-10T15:00:30Z"), call + "/accept"};
    return calls->handle(acceptance, "m-accept", at("2026-03-10T15:00:30Z"));
  }

  std::vector<Reply> connect(const std::string& call) {
    relay::Connected connected{call, at("2026-03-10T15:01:00Z"), call + "/connect"};
    return calls->handle(connected, "m-connect", at("2026-03-10T15:01:00Z"));
  }

  std::vector<Reply> disconnect(const std::string& call) {
    relay::Disconnected disconnected{call, at("2026-03-10T15:05:00Z"), call + "/disconnect"};
    return calls->handle(disconnected, "m-disconnect", at("2026-03-10T15:05:00Z"));
  }

  // Opens session S-1, relay IP from +12125550101, and authorizes sent-paid call `call` to
  // +13125550104, whose request carries `key`.
  void authorize_sent_paid(const std::string& call, const std::string& key) {
    REQUIRE(is_ack(open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
    const auto replies = request("S-1", call, "+13125550104", relay::BillingMethod::SentPaid, key);
    REQUIRE(authorization_of(replies).accepted);
  }

  // Runs authorize_sent_paid, then connects the call.
  void connect_sent_paid(const std::string& call, const std::string& key) {
    authorize_sent_paid(call, key);
    REQUIRE(is_ack(connect(call)));
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
  SessionRegistry registry;
  std::unique_ptr<EmergencyDispatcher> dispatcher;
  std::unique_ptr<CallService> calls;
  Status storage;
};

// Writes to `path` the bundled example deck renamed to `name`, with every per-minute price
// $1.00 higher, and with its versions' effective dates replaced by `first` and `second`
// (the bundled deck's are 2025-01-01 and 2026-01-01).
void write_dearer_deck(const std::string& path, const std::string& name, const std::string& first,
                       const std::string& second) {
  std::ifstream in(test::source_data_dir() + "/rates/example.toml");
  REQUIRE(in);
  std::ostringstream out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("name = \"Example relay center tariff\"", 0) == 0) {
      line = "name = \"" + name + "\"";
    } else if (line == "effective = 2025-01-01") {
      line = "effective = " + first;
    } else if (line == "effective = 2026-01-01") {
      line = "effective = " + second;
    } else if (line.rfind("per_minute = {", 0) == 0) {
      for (std::size_t at = line.find("\"0."); at != std::string::npos;
           at = line.find("\"0.", at)) {
        line[at + 1] = '1';
      }
    }
    out << line << "\n";
  }
  std::ofstream file(path);
  file << out.str();
  REQUIRE(file.good());
}

// Stores the deck at `path` with `relaygw db load-deck`, as staff do while the gateway runs.
void load_deck(const std::string& database, const std::string& path) {
  std::string output;
  const int status =
      test::run_relaygw({"db", "load-deck", "--db", database, "--rates", path}, &output);
  INFO(output);
  REQUIRE(status == 0);
}

billing::Money total_of(const relay::Quote& quote) {
  return billing::parse_dollars(quote.total).value();
}

const relay::Quote& quote_of(const std::vector<Reply>& replies) {
  REQUIRE(replies.size() == 2);
  const auto* quote = std::get_if<relay::Quote>(&replies.front());
  REQUIRE(quote != nullptr);
  return *quote;
}

}  // namespace

TEST_CASE("call service uses deck loaded while running", "[gateway][call-service][deck]") {
  test::LogCapture log;
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));

  // C-ref runs its whole life under the bundled deck, and C-old is connected under it.
  const auto ref_replies =
      fixture.request("S-1", "C-ref", "+13125550104", relay::BillingMethod::SentPaid, "k-ref");
  const billing::Money bundled_quote = total_of(quote_of(ref_replies));
  REQUIRE(is_ack(fixture.connect("C-ref")));
  REQUIRE(is_ack(fixture.disconnect("C-ref")));
  const billing::CallRecord reference = fixture.stored_call("C-ref");
  REQUIRE(reference.posting);
  REQUIRE(reference.request.quote);
  const std::string bundled_sha = reference.request.quote->deck_sha256;
  CHECK_FALSE(bundled_sha.empty());
  REQUIRE(authorization_of(fixture.request("S-1", "C-old", "+13125550104",
                                          relay::BillingMethod::SentPaid, "k-old"))
              .accepted);
  REQUIRE(is_ack(fixture.connect("C-old")));

  const std::string deck_file = fixture.dir.file("dearer.toml");
  write_dearer_deck(deck_file, "Dearer tariff", "2025-01-01", "2026-01-01");
  load_deck(fixture.config.billing.database, deck_file);

  // A new call is quoted, stored and posted with the new deck, without a restart.
  const auto new_replies =
      fixture.request("S-1", "C-new", "+13125550104", relay::BillingMethod::SentPaid, "k-new");
  CHECK(authorization_of(new_replies).accepted);
  const billing::Money dearer_quote = total_of(quote_of(new_replies));
  CHECK(dearer_quote > bundled_quote);
  REQUIRE(is_ack(fixture.connect("C-new")));
  REQUIRE(is_ack(fixture.disconnect("C-new")));
  const billing::CallRecord dearer = fixture.stored_call("C-new");
  REQUIRE(dearer.request.quote);
  const std::string dearer_sha = dearer.request.quote->deck_sha256;
  CHECK(dearer_sha != bundled_sha);
  CHECK(dearer.request.quote->one_minute > reference.request.quote->one_minute);
  REQUIRE(dearer.posting);
  CHECK(dearer.posting->total > reference.posting->total);

  // The call in progress at the load is posted with the deck it was quoted with.
  REQUIRE(is_ack(fixture.disconnect("C-old")));
  const billing::CallRecord in_progress = fixture.stored_call("C-old");
  REQUIRE(in_progress.request.quote);
  CHECK(in_progress.request.quote->deck_sha256 == bundled_sha);
  REQUIRE(in_progress.posting);
  CHECK(in_progress.posting->total == reference.posting->total);

  // A TTY menu quote after the load uses the new deck too.
  relay::CallRequested menu;
  menu.session_id = "S-1";
  menu.call_id = "C-menu";
  menu.dialed_number = "+13125550104";
  menu.billing = relay::BillingMethod::SentPaid;
  auto menu_quote = fixture.calls->quote(menu, at("2026-03-10T15:00:05Z"));
  REQUIRE(menu_quote);
  CHECK(total_of(*menu_quote) == dearer_quote);

  CHECK(log.count("rate deck switched") == 1);
  CHECK(log.count("old deck 'Example relay center tariff' sha256=" + bundled_sha) == 1);
  CHECK(log.count("new deck 'Dearer tariff' sha256=" + dearer_sha) == 1);
}

TEST_CASE("call service keeps deck until its date", "[gateway][call-service][deck]") {
  test::LogCapture log;
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
  const auto before =
      fixture.request("S-1", "C-1", "+13125550104", relay::BillingMethod::SentPaid, "k-1");
  const std::string bundled_sha = fixture.stored_call("C-1").request.quote->deck_sha256;

  // The dearer deck's first version starts after the fixture's calls on 2026-03-10.
  const std::string deck_file = fixture.dir.file("next-year.toml");
  write_dearer_deck(deck_file, "Next year's tariff", "2026-06-01", "2027-01-01");
  load_deck(fixture.config.billing.database, deck_file);

  const auto after =
      fixture.request("S-1", "C-2", "+13125550104", relay::BillingMethod::SentPaid, "k-2");
  CHECK(authorization_of(after).accepted);
  CHECK(total_of(quote_of(after)) == total_of(quote_of(before)));
  CHECK(fixture.stored_call("C-2").request.quote->deck_sha256 == bundled_sha);
  CHECK(log.count("rate deck switched") == 0);
}

TEST_CASE("call service posts collect call with tag", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));

  const auto replies =
      fixture.request("S-1", "C-7", "+13125550104", relay::BillingMethod::Collect, "k-7");
  REQUIRE(replies.size() == 2);
  const auto* quote = std::get_if<relay::Quote>(&replies.front());
  REQUIRE(quote != nullptr);
  CHECK(quote->call_id == "C-7");
  CHECK_FALSE(quote->lines.empty());
  const auto& authorization = authorization_of(replies);
  CHECK(authorization.accepted);
  CHECK(authorization.call_id == "C-7");

  auto progress = fixture.calls->progress("C-7");
  REQUIRE(progress);
  CHECK(progress->authorized);
  CHECK(progress->acceptance_required);
  CHECK(progress->billed_number == "+13125550104");

  CHECK(is_ack(fixture.accept("C-7")));
  CHECK(is_ack(fixture.connect("C-7")));
  CHECK(is_ack(fixture.disconnect("C-7")));

  const billing::CallRecord record = fixture.stored_call("C-7");
  CHECK(record.request.access == billing::AccessTag::RelayIp);
  CHECK(record.request.billing == billing::BillingMethod::Collect);
  CHECK(record.request.from == "+12125550101");
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->total > 0);
  CHECK(record.posting->conversation_seconds == 240);
}

TEST_CASE("call service repeats replies for repeated key", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayTty, "+12125550101")));
  const auto first =
      fixture.request("S-1", "C-1", "+13125550104", relay::BillingMethod::SentPaid, "k-1");
  const auto second =
      fixture.request("S-1", "C-1", "+13125550104", relay::BillingMethod::SentPaid, "k-1");
  REQUIRE(first.size() == second.size());
  CHECK(authorization_of(second).accepted == authorization_of(first).accepted);

  REQUIRE(is_ack(fixture.connect("C-1")));
  REQUIRE(is_ack(fixture.disconnect("C-1")));
  REQUIRE(is_ack(fixture.disconnect("C-1")));
  const billing::CallRecord record = fixture.stored_call("C-1");
  std::size_t disconnects = 0;
  for (const auto& event : record.events) {
    disconnects += event.event == billing::CallEvent::Disconnected ? 1 : 0;
  }
  CHECK(disconnects == 1);

  SECTION("same key with another request is a conflict") {
    const auto conflict =
        fixture.request("S-1", "C-2", "+13125550104", relay::BillingMethod::SentPaid, "k-1");
    const relay::ErrorReply& error = error_of(conflict);
    CHECK(error.code == "idempotency-conflict");
    CHECK(error.ref == "m-request");
  }
}

TEST_CASE("call service bills retry after restart once", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  fixture.connect_sent_paid("C-3", "k-3");
  REQUIRE(is_ack(fixture.disconnect("C-3")));
  const billing::CallRecord before = fixture.stored_call("C-3");
  REQUIRE(before.posting.has_value());

  // A new service on the same database has an empty reply cache.
  fixture.calls =
      std::make_unique<CallService>(fixture.config.billing, fixture.registry, *fixture.dispatcher);
  REQUIRE(fixture.calls->start());
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
  const auto again =
      fixture.request("S-1", "C-3", "+13125550104", relay::BillingMethod::SentPaid, "k-3");
  CHECK(authorization_of(again).accepted);
  CHECK(is_ack(fixture.connect("C-3")));
  CHECK(is_ack(fixture.disconnect("C-3")));

  const billing::CallRecord after = fixture.stored_call("C-3");
  REQUIRE(after.posting.has_value());
  CHECK(after.posting->total == before.posting->total);
  CHECK(after.events.size() == before.events.size());
}

TEST_CASE("call service rejects reused disconnect key", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  fixture.connect_sent_paid("C-3", "k-3");
  REQUIRE(is_ack(fixture.disconnect("C-3")));

  // After a restart the reply cache is empty, so only the store can spot the reuse.
  fixture.calls =
      std::make_unique<CallService>(fixture.config.billing, fixture.registry, *fixture.dispatcher);
  REQUIRE(fixture.calls->start());
  fixture.connect_sent_paid("C-4", "k-4");

  // C-4's disconnect carries the key C-3's disconnect used.
  const relay::Disconnected reused{"C-4", at("2026-03-10T15:09:00Z"), "C-3/disconnect"};
  const auto replies = fixture.calls->handle(reused, "m-reused", at("2026-03-10T15:09:00Z"));
  const relay::ErrorReply& error = error_of(replies);
  CHECK(error.code == "idempotency-conflict");
  CHECK_FALSE(fixture.stored_call("C-4").posting.has_value());

  // A second disconnect of C-3 at another time, with a new key, is not a replay either.
  const relay::Disconnected later{"C-3", at("2026-03-10T15:19:00Z"), "C-3/disconnect-again"};
  const auto later_replies = fixture.calls->handle(later, "m-later", at("2026-03-10T15:19:00Z"));
  REQUIRE(later_replies.size() == 1);
  CHECK(std::holds_alternative<relay::ErrorReply>(later_replies.front()));

  // C-4's own disconnect still posts it.
  REQUIRE(is_ack(fixture.disconnect("C-4")));
  CHECK(fixture.stored_call("C-4").posting.has_value());
}

TEST_CASE("call service rejects implausible step time", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  fixture.authorize_sent_paid("C-5", "k-5");

  // The gateway clock reads 15:01 on 2026-03-10; the provider stamped the connect in 2099.
  const relay::Connected future{"C-5", at("2099-01-01T00:00:00Z"), "C-5/connect-2099"};
  const auto replies = fixture.calls->handle(future, "m-2099", at("2026-03-10T15:01:00Z"));
  const relay::ErrorReply& error = error_of(replies);
  CHECK(error.code == "time-out-of-range");
  CHECK(error.ref == "m-2099");
  CHECK_THAT(error.message, Catch::Matchers::Contains("\"at\" = 2099-01-01T00:00:00.000Z"));
  CHECK_THAT(error.message, Catch::Matchers::Contains("(2026-03-10T15:01:00.000Z)"));
  CHECK_THAT(error.message, Catch::Matchers::Contains("no later than 2026-03-10T15:01:05.000Z"));
  CHECK_FALSE(billing::event_time(fixture.stored_call("C-5"), billing::CallEvent::Connected));

  // Stamped 13 hours in the past, beyond max_clock_skew_seconds.
  const relay::Connected past{"C-5", at("2026-03-10T02:00:00Z"), "C-5/connect-past"};
  const auto past_replies = fixture.calls->handle(past, "m-past", at("2026-03-10T15:01:00Z"));
  const relay::ErrorReply& late = error_of(past_replies);
  CHECK(late.code == "time-out-of-range");
  CHECK_THAT(late.message, Catch::Matchers::Contains("between 2026-03-10T03:01:00.000Z and "
                                                     "2026-03-10T15:01:05.000Z"));

  // The same step with its real instant is recorded.
  CHECK(is_ack(fixture.connect("C-5")));
  CHECK(billing::event_time(fixture.stored_call("C-5"), billing::CallEvent::Connected));
}

TEST_CASE("call service rejects step ahead of clock", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(fixture.config.billing.clock_tolerance == 5s);
  fixture.connect_sent_paid("C-7", "k-7");  // connected at 15:01:00

  // The gateway clock reads 15:01:00; the provider hangs up 11 hours ahead of it.
  const relay::Disconnected hours{"C-7", at("2026-03-11T02:01:00Z"), "C-7/disconnect-11h"};
  const auto hours_replies = fixture.calls->handle(hours, "m-11h", at("2026-03-10T15:01:00Z"));
  const relay::ErrorReply& error = error_of(hours_replies);
  CHECK(error.code == "time-out-of-range");
  CHECK_THAT(error.message, Catch::Matchers::Contains("\"at\" = 2026-03-11T02:01:00.000Z"));
  CHECK_THAT(error.message, Catch::Matchers::Contains("39600 s ahead of the gateway clock "
                                                      "(2026-03-10T15:01:00.000Z)"));
  CHECK_THAT(error.message, Catch::Matchers::Contains("clock_tolerance_seconds"));
  CHECK_THAT(error.message, Catch::Matchers::Contains("correct the provider's clock"));
  CHECK_FALSE(fixture.stored_call("C-7").posting.has_value());

  // A hangup one second past the tolerance is rejected, and one at the tolerance is drift.
  const relay::Disconnected six{"C-7", at("2026-03-10T15:03:06Z"), "C-7/disconnect-6s"};
  CHECK(error_of(fixture.calls->handle(six, "m-6s", at("2026-03-10T15:03:00Z"))).code ==
        "time-out-of-range");
  CHECK_FALSE(fixture.stored_call("C-7").posting.has_value());
  const relay::Disconnected five{"C-7", at("2026-03-10T15:03:05Z"), "C-7/disconnect-5s"};
  REQUIRE(is_ack(fixture.calls->handle(five, "m-5s", at("2026-03-10T15:03:00Z"))));
  const billing::CallRecord record = fixture.stored_call("C-7");
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->conversation_seconds == 125);
}

TEST_CASE("call service clamps drift before request", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  fixture.authorize_sent_paid("C-8", "k-8");  // requested at 15:00:05 by the gateway clock

  // The provider's clock runs 2 s behind: its connect is stamped before the request.
  const relay::Connected behind{"C-8", at("2026-03-10T15:00:03Z"), "C-8/connect"};
  REQUIRE(is_ack(fixture.calls->handle(behind, "m-connect", at("2026-03-10T15:00:05Z"))));
  CHECK(billing::event_time(fixture.stored_call("C-8"), billing::CallEvent::Connected) ==
        std::optional<billing::Instant>(seconds_at("2026-03-10T15:00:05Z")));
  // The retry of the same connect is the same step.
  CHECK(is_ack(fixture.calls->handle(behind, "m-connect-2", at("2026-03-10T15:00:06Z"))));

  // A hangup 2 s before the connect is clamped to it, so it bills no conversation.
  const relay::Disconnected early{"C-8", at("2026-03-10T15:00:03Z"), "C-8/disconnect"};
  REQUIRE(is_ack(fixture.calls->handle(early, "m-disconnect", at("2026-03-10T15:00:06Z"))));
  const billing::CallRecord record = fixture.stored_call("C-8");
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->conversation_seconds == 0);

  // A step further before the request than the tolerance stays rejected.
  REQUIRE(authorization_of(fixture.request("S-1", "C-9", "+13125550104",
                                           relay::BillingMethod::SentPaid, "k-9"))
              .accepted);
  const relay::Connected far{"C-9", at("2026-03-10T14:59:59Z"), "C-9/connect"};
  const auto far_replies = fixture.calls->handle(far, "m-far", at("2026-03-10T15:00:05Z"));
  const relay::ErrorReply& error = error_of(far_replies);
  CHECK(error.code == "invalid-state");
  CHECK_FALSE(billing::event_time(fixture.stored_call("C-9"), billing::CallEvent::Connected));
}

TEST_CASE("call service caps call length", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(fixture.config.billing.max_call_length == std::chrono::hours(24));
  fixture.connect_sent_paid("C-6", "k-6");

  // Connected at 15:01 and hung up 30 hours later: billed as 24 hours.
  const relay::Disconnected late{"C-6", at("2026-03-11T21:01:00Z"), "C-6/disconnect"};
  REQUIRE(is_ack(fixture.calls->handle(late, "m-late", at("2026-03-11T21:01:00Z"))));
  const billing::CallRecord record = fixture.stored_call("C-6");
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->conversation_seconds == 24 * 3600);
  CHECK(billing::event_time(record, billing::CallEvent::Disconnected) ==
        std::optional<billing::Instant>(
            std::chrono::floor<std::chrono::seconds>(at("2026-03-11T15:01:00Z"))));
  CHECK(record.events.back().event == billing::CallEvent::Disconnected);
  CHECK(record.events.back().actor == "gateway-test/length-capped");

  // A restart empties the reply cache; the same disconnect is still a replay, not a conflict.
  fixture.calls =
      std::make_unique<CallService>(fixture.config.billing, fixture.registry, *fixture.dispatcher);
  REQUIRE(fixture.calls->start());
  CHECK(is_ack(fixture.calls->handle(late, "m-late-again", at("2026-03-11T21:01:05Z"))));
}

TEST_CASE("call service authorizes by billing party", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));

  struct Case {
    const char* call;
    relay::BillingMethod billing;
    const char* to;
    const char* third;
    bool accepted;
    const char* reason;   // the refusal's reason code; "" when accepted
    const char* message;  // part of the reply's message
  };
  const Case cases[] = {
      {"C-8", relay::BillingMethod::SentPaid, "+13125550104", "", true, "",
       "authorized; charges go to the calling line +12125550101"},
      {"C-own", relay::BillingMethod::Collect, "(212) 555-0101", "", false, "collect-to-own-line",
       "(212) 555-0101"},
      {"C-third-called", relay::BillingMethod::ThirdParty, "+13125550104", "1-312-555-0104", false,
       "third-number-is-called-line", "1-312-555-0104"},
      {"C-third-caller", relay::BillingMethod::ThirdParty, "+13125550104", "2125550101", false,
       "third-number-is-calling-line", "2125550101"},
  };
  for (const Case& test : cases) {
    INFO(test.call);
    relay::CallRequested request;
    request.session_id = "S-1";
    request.call_id = test.call;
    request.dialed_number = test.to;
    request.billing = test.billing;
    request.third_number = test.third;
    request.idempotency_key = std::string(test.call) + "/request";
    const auto replies = fixture.calls->handle(request, "m", at("2026-03-10T15:00:05Z"));
    const auto& authorization = authorization_of(replies);
    CHECK(authorization.accepted == test.accepted);
    CHECK(authorization.reason_code == test.reason);
    CHECK_THAT(authorization.message, Catch::Matchers::Contains(test.message));
  }
}

TEST_CASE("call service rejects reused call id", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  fixture.authorize_sent_paid("C-8", "k-8");

  // The same call id with another number and a new key is a different call, not a retry.
  const auto other_number =
      fixture.request("S-1", "C-8", "+13125550106", relay::BillingMethod::SentPaid, "k-8b");
  const relay::ErrorReply& error = error_of(other_number);
  CHECK(error.code == "invalid-state");
  CHECK(error.message.find("send a new call id") != std::string::npos);

  // A new key names a new request, so the same call under a new key is rejected too.
  const auto same_call =
      fixture.request("S-1", "C-8", "3125550104", relay::BillingMethod::SentPaid, "k-8c");
  CHECK(error_of(same_call).code == "invalid-state");
  CHECK(fixture.stored_call("C-8").request.to == "+13125550104");
}

TEST_CASE("call service refuses blocked collect call", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::Tty, "+12125550101")));
  // The sample directory lists +13125550106 (a hotel front desk) as refusing collect calls.
  const auto replies =
      fixture.request("S-1", "C-9", "+13125550106", relay::BillingMethod::Collect, "k-9");
  const auto& refused = authorization_of(replies);
  CHECK_FALSE(refused.accepted);
  CHECK(refused.reason_code == "collect-blocked");
  const auto connect = fixture.connect("C-9");
  const relay::ErrorReply& error = error_of(connect);
  CHECK(error.code == "invalid-state");
}

TEST_CASE("call service refuses unusable card unquoted", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  {
    auto store = billing::SqliteStore::open(fixture.config.billing.database);
    REQUIRE(store);
    const billing::WriteContext staff{"staff:test", seconds_at("2026-03-10T14:00:00Z")};
    for (const char* number : {"6000000000000027", "6000000000000035"}) {
      billing::NewCard card;
      card.number = number;
      card.opening_balance = 100'000;
      card.pin_iterations = 1'000;
      REQUIRE(billing::add_card(**store, card, "1234", staff));
    }
    REQUIRE(billing::close_card(**store, "6000000000000027", "reported stolen", staff));
    auto state = (*store)->find_card("6000000000000035");
    REQUIRE(state);
    REQUIRE((*store)->append_card_state("6000000000000035", billing::CardStatus::Locked, 3,
                                        (**state).version, "wrong PIN, card locked", staff));
  }
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"6000000000000019", "card-not-found"},
      {"6000000000000027", "card-closed"},
      {"6000000000000035", "card-locked"},
  };
  for (const auto& [number, reason] : cases) {
    INFO(reason);
    const std::string call_id = "C-" + reason;
    relay::CallRequested request;
    request.session_id = "S-1";
    request.call_id = call_id;
    request.dialed_number = "+13125550104";
    request.billing = relay::BillingMethod::CallingCard;
    request.card_number = relay::SecretDigits(relay::SecretDigits::Kind::CardNumber, number);
    request.pin = relay::SecretDigits(relay::SecretDigits::Kind::Pin, "1234");
    request.idempotency_key = call_id + "/request";
    // A TTY menu requests a quote before it sends the call request, and gets the refusal
    // instead. A quote checks no PIN, so it does not reveal that a card is closed.
    const Result<relay::Quote> quote = fixture.calls->quote(request, at("2026-03-10T15:00:04Z"));
    if (reason == "card-closed") {
      CHECK(quote);
    } else {
      REQUIRE_FALSE(quote);
      CHECK(quote.status().code() == StatusCode::FailedPrecondition);
      CHECK(quote.status().message().rfind(reason + ": card ", 0) == 0);
    }

    const auto replies = fixture.calls->handle(request, "m-" + reason, at("2026-03-10T15:00:05Z"));

    // The refusal is the only reply: no quote goes to the caller first.
    REQUIRE(replies.size() == 1);
    const auto& refused = authorization_of(replies);
    CHECK_FALSE(refused.accepted);
    CHECK(refused.reason_code == reason);
    CHECK(refused.message.find(number) == std::string::npos);

    const billing::CallRecord record = fixture.stored_call(call_id);
    CHECK_FALSE(record.request.quote.has_value());
    CHECK_FALSE(billing::event_time(record, billing::CallEvent::Quoted).has_value());
    const auto refusal_event = std::find_if(record.events.begin(), record.events.end(),
                                            [](const billing::CallEventRecord& event) {
                                              return event.event == billing::CallEvent::Refused;
                                            });
    REQUIRE(refusal_event != record.events.end());
    CHECK(refusal_event->reason_code == reason);
  }
}

TEST_CASE("call service refusals after pin store no quote", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  constexpr const char* kFunded = "6000000000000050";
  constexpr const char* kEmpty = "6000000000000068";
  {
    auto store = billing::SqliteStore::open(fixture.config.billing.database);
    REQUIRE(store);
    const billing::WriteContext staff{"staff:test", seconds_at("2026-03-10T14:00:00Z")};
    // One cent pays for no first block of any call.
    const std::pair<const char*, billing::Money> kBalances[] = {{kFunded, 100'000}, {kEmpty, 100}};
    for (const auto& [number, balance] : kBalances) {
      billing::NewCard card;
      card.number = number;
      card.opening_balance = balance;
      card.pin_iterations = 1'000;
      REQUIRE(billing::add_card(**store, card, "1234", staff));
    }
  }
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));

  const struct {
    const char* call;
    const char* to;
    relay::BillingMethod billing;
    const char* card;
    const char* reason;
  } kCases[] = {
      {"C-premium", "+19005550100", relay::BillingMethod::CallingCard, kFunded, "premium-blocked"},
      {"C-funds", "+13125550104", relay::BillingMethod::CallingCard, kEmpty, "insufficient-funds"},
      // The sample directory lists +13125550106, a hotel front desk, as refusing collect calls.
      {"C-collect", "+13125550106", relay::BillingMethod::Collect, "", "collect-blocked"},
  };
  for (const auto& test : kCases) {
    INFO(test.reason);
    relay::CallRequested request;
    request.session_id = "S-1";
    request.call_id = test.call;
    request.dialed_number = test.to;
    request.billing = test.billing;
    if (test.billing == relay::BillingMethod::CallingCard) {
      request.card_number = relay::SecretDigits(relay::SecretDigits::Kind::CardNumber, test.card);
      request.pin = relay::SecretDigits(relay::SecretDigits::Kind::Pin, "1234");
    }
    request.idempotency_key = std::string(test.call) + "/request";
    const auto replies = fixture.calls->handle(request, "m-" + std::string(test.call),
                                               at("2026-03-10T15:00:05Z"));

    // The refusal is the only reply, as for a wrong PIN: no quote goes to the caller first.
    REQUIRE(replies.size() == 1);
    const auto& refused = authorization_of(replies);
    CHECK_FALSE(refused.accepted);
    CHECK(refused.reason_code == test.reason);
    const billing::CallRecord record = fixture.stored_call(test.call);
    CHECK_FALSE(record.request.quote.has_value());
    CHECK_FALSE(billing::event_time(record, billing::CallEvent::Quoted).has_value());
    CHECK(billing::event_time(record, billing::CallEvent::Refused).has_value());
  }

  // No refused call left a hold on either card.
  auto store = billing::SqliteStore::open(fixture.config.billing.database);
  REQUIRE(store);
  for (const char* number : {kFunded, kEmpty}) {
    auto funds = (*store)->card_funds(number, "");
    REQUIRE(funds);
    CHECK(funds->available == funds->balance);
  }

  // The funded card's call to an ordinary number is quoted and held as before.
  relay::CallRequested granted;
  granted.session_id = "S-1";
  granted.call_id = "C-granted";
  granted.dialed_number = "+13125550104";
  granted.billing = relay::BillingMethod::CallingCard;
  granted.card_number = relay::SecretDigits(relay::SecretDigits::Kind::CardNumber, kFunded);
  granted.pin = relay::SecretDigits(relay::SecretDigits::Kind::Pin, "1234");
  granted.idempotency_key = "C-granted/request";
  const auto replies = fixture.calls->handle(granted, "m-granted", at("2026-03-10T15:00:06Z"));
  CHECK(replies.size() == 2);
  CHECK(authorization_of(replies).accepted);
  CHECK(fixture.stored_call("C-granted").request.quote.has_value());
}

TEST_CASE("call service wrong pin gets no quote", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  constexpr const char* kNumber = "6000000000000043";
  {
    auto store = billing::SqliteStore::open(fixture.config.billing.database);
    REQUIRE(store);
    const billing::WriteContext staff{"staff:test", seconds_at("2026-03-10T14:00:00Z")};
    billing::NewCard card;
    card.number = kNumber;
    card.opening_balance = 100'000;
    card.pin_iterations = 1'000;
    REQUIRE(billing::add_card(**store, card, "1234", staff));
  }
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));

  relay::CallRequested request;
  request.session_id = "S-1";
  request.call_id = "C-wrong";
  request.dialed_number = "+13125550104";
  request.billing = relay::BillingMethod::CallingCard;
  request.card_number = relay::SecretDigits(relay::SecretDigits::Kind::CardNumber, kNumber);
  request.pin = relay::SecretDigits(relay::SecretDigits::Kind::Pin, "4321");
  request.idempotency_key = "C-wrong/request";
  const auto replies = fixture.calls->handle(request, "m-wrong", at("2026-03-10T15:00:05Z"));

  // The refusal is the only reply: no quote goes to the caller, and none is stored.
  REQUIRE(replies.size() == 1);
  const auto& refused = authorization_of(replies);
  CHECK_FALSE(refused.accepted);
  CHECK(refused.reason_code == "wrong-pin");
  const billing::CallRecord record = fixture.stored_call("C-wrong");
  CHECK_FALSE(record.request.quote.has_value());
  CHECK_FALSE(billing::event_time(record, billing::CallEvent::Quoted).has_value());

  auto store = billing::SqliteStore::open(fixture.config.billing.database);
  REQUIRE(store);
  auto state = (*store)->find_card(kNumber);
  REQUIRE(state);
  REQUIRE(state->has_value());
  CHECK((**state).failed_pin_attempts == 1);
  auto funds = (*store)->card_funds(kNumber, "C-wrong");
  REQUIRE(funds);
  CHECK(funds->held_for_call == 0);
}

TEST_CASE("call service refuses calls without storage", "[gateway][call-service]") {
  Fixture fixture(false);
  CHECK_FALSE(fixture.storage);
  CHECK_FALSE(fixture.calls->storage_available());
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
  const auto replies =
      fixture.request("S-1", "C-1", "+13125550104", relay::BillingMethod::SentPaid, "k-1");
  REQUIRE(replies.size() == 1);
  const auto& refused = authorization_of(replies);
  CHECK_FALSE(refused.accepted);
  CHECK(refused.reason_code == "rating-unavailable");

  SECTION("911 still goes to the PSAP with no quote") {
    const auto emergency =
        fixture.request("S-1", "C-911", "911", relay::BillingMethod::SentPaid, "k-911");
    REQUIRE(emergency.size() == 1);
    CHECK(authorization_of(emergency).accepted);
    auto progress = fixture.calls->progress("C-911");
    REQUIRE(progress);
    CHECK(progress->emergency);
    CHECK(fixture.psap.wait_for("\"dispatch\""));
    CHECK(fixture.psap.wait_for("+12125550101"));
  }
}

TEST_CASE("call service dispatches flagged session at open", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(is_ack(fixture.open_session("S-E", relay::RelayService::Video, "+12125550101", true)));
  CHECK(fixture.psap.wait_for("S-E"));
  // A call in a flagged session skips billing even to an ordinary number.
  const auto replies =
      fixture.request("S-E", "C-E", "+13125550104", relay::BillingMethod::Collect, "k-e");
  REQUIRE(replies.size() == 1);
  CHECK(authorization_of(replies).accepted);

  relay::CallerText text{"S-E", "HELP AT 12 ELM ST GA"};
  CHECK(is_ack(fixture.calls->handle(text, "", at("2026-03-10T15:00:10Z"))));
  CHECK(fixture.psap.wait_for("HELP AT 12 ELM ST GA"));
}

TEST_CASE("call service rejects call for unknown session", "[gateway][call-service]") {
  Fixture fixture;
  const auto replies =
      fixture.request("S-404", "C-1", "+13125550104", relay::BillingMethod::SentPaid, "k-1");
  const relay::ErrorReply& error = error_of(replies);
  CHECK(error.code == "unknown-session");
  CHECK(error.message.find("S-404") != std::string::npos);
}

TEST_CASE("call service posts open calls on connection loss", "[gateway][call-service]") {
  Fixture fixture;
  fixture.connect_sent_paid("C-5", "k-5");
  fixture.calls->connection_lost("S-1", at("2026-03-10T15:03:00Z"));
  const billing::CallRecord record = fixture.stored_call("C-5");
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->conversation_seconds == 120);
  CHECK_FALSE(fixture.registry.find_session("S-1").has_value());
}

TEST_CASE("call service reports failed emergency dispatch", "[gateway][call-service]") {
  Fixture fixture(true, true);
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+13125550107")));
  const auto replies =
      fixture.request("S-1", "C-911", "911", relay::BillingMethod::SentPaid, "k-911");
  REQUIRE(replies.size() == 1);
  const auto& authorization = authorization_of(replies);
  CHECK(authorization.accepted);
  CHECK(authorization.message.find("could not dispatch it to a PSAP") != std::string::npos);
  CHECK(authorization.message.find("Reach 911 by another route") != std::string::npos);
  CHECK(authorization.message.find("connected to emergency services") == std::string::npos);
}

TEST_CASE("call service rejects changed session open", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
  // The same open again is a repeated delivery.
  CHECK(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
  // Another caller or service would move the session's later calls to them.
  const relay::ErrorReply caller =
      error_of(fixture.open_session("S-1", relay::RelayService::RelayIp, "+14155550108"));
  CHECK(caller.code == "invalid-state");
  CHECK(caller.message.find("already open for caller +12125550101") != std::string::npos);
  CHECK(caller.message.find("send session.close first") != std::string::npos);
  const auto replies =
      fixture.request("S-1", "C-1", "+13125550104", relay::BillingMethod::SentPaid, "k-1");
  REQUIRE(authorization_of(replies).accepted);
  const billing::CallRecord record = fixture.stored_call("C-1");
  CHECK(record.request.from == "+12125550101");
  CHECK(record.request.access == billing::AccessTag::RelayIp);
  const relay::ErrorReply service =
      error_of(fixture.open_session("S-1", relay::RelayService::Video, "+12125550101"));
  CHECK(service.code == "invalid-state");
  // The one change allowed: the session becomes an emergency session and goes to a PSAP.
  CHECK(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101", true)));
  CHECK(fixture.psap.wait_for("S-1"));

}

TEST_CASE("call service rejects connect at another time", "[gateway][call-service]") {
  Fixture fixture;
  fixture.connect_sent_paid("C-1", "k-1");  // connected at 15:01:00
  relay::Connected later{"C-1", at("2026-03-10T15:01:30Z"), "C-1/connect-again"};
  const relay::ErrorReply error =
      error_of(fixture.calls->handle(later, "m-again", at("2026-03-10T15:01:30Z")));
  CHECK(error.code == "invalid-state");
  CHECK(error.message.find("already has this step at 2026-03-10T15:01:00Z") != std::string::npos);
  // The same instant under another key is the same step, delivered again.
  relay::Connected same{"C-1", at("2026-03-10T15:01:00Z"), "C-1/connect-same"};
  CHECK(is_ack(fixture.calls->handle(same, "m-same", at("2026-03-10T15:01:30Z"))));

  REQUIRE(is_ack(fixture.disconnect("C-1")));
  const billing::CallRecord record = fixture.stored_call("C-1");
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->conversation_seconds == 240);
}

TEST_CASE("call service posts ahead-of-clock call on loss", "[gateway][call-service]") {
  Fixture fixture;
  fixture.connect_sent_paid("C-1", "k-1");  // the provider stamped the connect 15:01:00
  // The gateway clock reads 15:00:40 when the connection drops.
  fixture.calls->connection_lost("S-1", at("2026-03-10T15:00:40Z"));
  const billing::CallRecord record = fixture.stored_call("C-1");
  REQUIRE(record.posting.has_value());
  CHECK(record.posting->conversation_seconds == 0);
  CHECK(billing::event_time(record, billing::CallEvent::Disconnected) ==
        std::optional<billing::Instant>(seconds_at("2026-03-10T15:01:00Z")));
}

TEST_CASE("call service tells provider PSAP is down", "[gateway][call-service]") {
  // A loopback port with nothing listening stands for a PSAP console that is down.
  std::uint16_t closed_port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(
        io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed_port = probe.local_endpoint().port();
  }
  test::TempDir dir;
  const DevCertificateFiles certs = test::make_certificates(dir.file("certs"), {});
  const ServerConfig config = test::test_server_config(dir, certs, closed_port);
  test::init_billing_database(config.billing.database);
  SessionRegistry registry;
  EmergencyDispatcher dispatcher(config.emergency);
  REQUIRE(dispatcher.start());
  {
    CallService calls(config.billing, registry, dispatcher);
    REQUIRE(calls.start());
    relay::SessionOpened opened;
    opened.session_id = "S-E";
    opened.adapter = relay::Adapter::ProviderLink;
    opened.provider_id = "acme";
    opened.service = relay::RelayService::Video;
    opened.caller_number = "+12125550101";
    opened.caller_location = "350 5th Ave, New York, NY 10118";
    opened.agent_id = "CA-4411";
    opened.emergency = true;
    const auto open_replies = calls.handle(opened, "m-open", at("2026-03-10T15:00:00Z"));
    REQUIRE(open_replies.size() == 1);
    const auto* ack = std::get_if<Ack>(&open_replies.front());
    REQUIRE(ack != nullptr);
    CHECK(ack->psap == "unreachable");

    opened.session_id = "S-2";
    opened.emergency = false;
    REQUIRE(is_ack(calls.handle(opened, "m-open-2", at("2026-03-10T15:00:01Z"))));
    relay::CallRequested request;
    request.session_id = "S-2";
    request.call_id = "C-911";
    request.dialed_number = "911";
    request.idempotency_key = "k-911";
    const auto replies = calls.handle(request, "m-911", at("2026-03-10T15:00:02Z"));
    const relay::AuthorizationResult& authorization = authorization_of(replies);
    CHECK(authorization.accepted);
    CHECK(authorization.reason_code == "psap-unreachable");
    CHECK_THAT(authorization.message, Catch::Matchers::Contains("cannot be reached"));
  }
  dispatcher.stop();
}

TEST_CASE("call service names emergency record of session", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(is_ack(fixture.open_session("S-E", relay::RelayService::Video, "+12125550101", true)));
  REQUIRE(fixture.psap.wait_for("S-E"));
  // Every call of a dispatched session is covered by the session's one emergency record.
  const auto replies =
      fixture.request("S-E", "C-E1", "+13125550104", relay::BillingMethod::Collect, "k-e1");
  const auto& authorization = authorization_of(replies);
  CHECK(authorization.accepted);
  CHECK(authorization.message.find("already connected to emergency services") !=
        std::string::npos);
  CHECK(authorization.message.find("Its record is call 'S-E/emergency'") != std::string::npos);
}

TEST_CASE("call service closes abandoned emergency session", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(is_ack(fixture.open_session("S-E", relay::RelayService::Video, "+12125550101", true)));
  REQUIRE(fixture.psap.wait_for("S-E"));
  fixture.calls->connection_lost("S-E", at("2026-03-10T15:01:00Z"));
  CHECK(fixture.registry.find_session("S-E").has_value());
  CHECK(fixture.calls->close_abandoned_emergency_sessions(at("2026-03-10T15:05:59Z"), 300s) == 0);
  CHECK(fixture.registry.find_session("S-E").has_value());
  CHECK(fixture.calls->close_abandoned_emergency_sessions(at("2026-03-10T15:06:00Z"), 300s) == 1);
  CHECK_FALSE(fixture.registry.find_session("S-E").has_value());
  CHECK(fixture.psap.wait_for("\"close\""));
  const relay::ErrorReply error =
      error_of(fixture.calls->handle(relay::CallerText{"S-E", "HELLO GA"}, "",
                                     at("2026-03-10T15:06:10Z")));
  CHECK(error.code == "unknown-session");
}

TEST_CASE("call service keeps resumed emergency session", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(is_ack(fixture.open_session("S-E", relay::RelayService::Video, "+12125550101", true)));
  REQUIRE(fixture.psap.wait_for("S-E"));
  fixture.calls->connection_lost("S-E", at("2026-03-10T15:01:00Z"));
  // The provider reconnects and goes on with the session.
  relay::CallerText text{"S-E", "BACK AGAIN GA"};
  CHECK(is_ack(fixture.calls->handle(text, "", at("2026-03-10T15:02:00Z"))));
  CHECK(fixture.calls->close_abandoned_emergency_sessions(at("2026-03-10T15:30:00Z"), 300s) == 0);
  CHECK(fixture.registry.find_session("S-E").has_value());
  // A gateway stop closes it to the PSAP.
  CHECK(fixture.calls->close_emergency_sessions(at("2026-03-10T15:31:00Z")) == 1);
  CHECK_FALSE(fixture.registry.find_session("S-E").has_value());
  CHECK(fixture.psap.wait_for("\"close\""));
}

TEST_CASE("call service rejects card numbers in ids", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  {
    auto store = billing::SqliteStore::open(fixture.config.billing.database);
    REQUIRE(store);
    billing::NewCard card;
    card.number = "3125550188";
    card.opening_balance = 100'000;
    card.pin_iterations = 1'000;
    REQUIRE(billing::add_card(**store, card, "1234",
                              {"staff:test", seconds_at("2026-03-10T14:00:00Z")}));
  }
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));

  // The provider's own ids are checked, after the "<provider>/" that the link adds.
  const relay::ErrorReply stored_card = error_of(fixture.request(
      "S-1", "acme/C-3125550188", "+13125550104", relay::BillingMethod::SentPaid, "acme/k-1"));
  CHECK(stored_card.code == "invalid-value");
  CHECK(stored_card.message.find("call 'C-******0188' contains the number of a calling card") !=
        std::string::npos);
  CHECK(stored_card.message.find("3125550188") == std::string::npos);

  const relay::ErrorReply long_run = error_of(fixture.request(
      "S-1", "C-2", "+13125550104", relay::BillingMethod::SentPaid, "k-4111111111111111"));
  CHECK(long_run.code == "invalid-value");
  CHECK(long_run.message.find("idempotency_key 'k-************1111' contains a run of 16 digits") !=
        std::string::npos);

  // Nothing was recorded for either, and a retry with a clean key is processed afresh.
  auto store = billing::SqliteStore::open(fixture.config.billing.database);
  REQUIRE(store);
  for (const char* call : {"acme/C-3125550188", "C-2"}) {
    auto record = (*store)->find_call(call);
    REQUIRE(record);
    CHECK_FALSE(record->has_value());
  }
  CHECK(authorization_of(
            fixture.request("S-1", "C-2", "+13125550104", relay::BillingMethod::SentPaid, "k-2"))
            .accepted);

  // A provider id that ends in digits does not join the digits of the id after its '/'.
  CHECK(authorization_of(fixture.request("S-1", "p12345/456789012", "+13125550104",
                                         relay::BillingMethod::SentPaid, "p12345/k-3"))
            .accepted);

  // A step's key is checked too.
  relay::Connected connected{"C-2", at("2026-03-10T15:01:00Z"), "C-2/connect-3125550188"};
  const relay::ErrorReply step =
      error_of(fixture.calls->handle(connected, "m-connect", at("2026-03-10T15:01:00Z")));
  CHECK(step.code == "invalid-value");
  CHECK(step.message.find("idempotency_key 'connect-******0188'") != std::string::npos);
  CHECK(is_ack(fixture.connect("C-2")));

  // An emergency call is never held up by its ids.
  const auto emergency = fixture.request("S-1", "C-911-4111111111111111", "911",
                                         relay::BillingMethod::SentPaid, "k-4111111111111111-911");
  CHECK(authorization_of(emergency).accepted);
}

TEST_CASE("call service checks person and third number", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  {
    auto store = billing::SqliteStore::open(fixture.config.billing.database);
    REQUIRE(store);
    billing::NewCard card;
    card.number = "3125550188";
    card.opening_balance = 100'000;
    card.pin_iterations = 1'000;
    REQUIRE(billing::add_card(**store, card, "1234",
                              {"staff:test", seconds_at("2026-03-10T14:00:00Z")}));
  }
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
  const auto request = [&](const std::string& call, const std::string& to,
                           relay::BillingMethod billing, const std::string& person,
                           const std::string& third) {
    relay::CallRequested request;
    request.session_id = "S-1";
    request.call_id = call;
    request.dialed_number = to;
    request.billing = billing;
    request.person_name = person;
    request.third_number = third;
    request.idempotency_key = call + "/request";
    return fixture.calls->handle(request, "m-" + call, at("2026-03-10T15:00:05Z"));
  };

  const relay::ErrorReply long_run = error_of(request(
      "C-1", "+13125550104", relay::BillingMethod::PersonToPerson, "Ann 4111 1111 1111 9876", ""));
  CHECK(long_run.code == "invalid-value");
  CHECK_THAT(long_run.message,
             Catch::Matchers::Contains("person 'Ann **** **** **** 9876' contains a run of 16"));
  CHECK_THAT(long_run.message, !Catch::Matchers::Contains("4111 1111"));

  const relay::ErrorReply stored_card = error_of(request(
      "C-2", "+13125550104", relay::BillingMethod::PersonToPerson, "Ann at 312 555 0188", ""));
  CHECK(stored_card.code == "invalid-value");
  CHECK_THAT(stored_card.message, Catch::Matchers::Contains("person 'Ann at *** *** 0188'"));

  // Nothing was recorded for either.
  {
    auto store = billing::SqliteStore::open(fixture.config.billing.database);
    REQUIRE(store);
    for (const char* call : {"C-1", "C-2"}) {
      auto record = (*store)->find_call(call);
      REQUIRE(record);
      CHECK_FALSE(record->has_value());
    }
  }

  // A third number longer than any phone number is refused with only its last four digits.
  const relay::AuthorizationResult third = authorization_of(
      request("C-3", "+13125550104", relay::BillingMethod::ThirdParty, "", "4111111111119876"));
  CHECK_FALSE(third.accepted);
  CHECK_THAT(third.message, Catch::Matchers::Contains("'************9876'"));
  CHECK_THAT(third.message, !Catch::Matchers::Contains("4111111111119876"));

  // A name with a phone number passes, and an emergency call is never held up by its person.
  CHECK(authorization_of(request("C-4", "+13125550104", relay::BillingMethod::PersonToPerson,
                                 "Ann (312) 555-0107", ""))
            .accepted);
  CHECK(authorization_of(
            request("C-5", "911", relay::BillingMethod::PersonToPerson, "Ann 3125550188", ""))
            .accepted);
}

TEST_CASE("call service step names operator", "[gateway][call-service]") {
  Fixture fixture;
  REQUIRE(fixture.storage);
  const std::string number = "6000000000000027";
  {
    auto store = billing::SqliteStore::open(fixture.config.billing.database);
    REQUIRE(store);
    billing::NewCard card;
    card.number = number;
    card.opening_balance = 100'000;
    card.pin_iterations = 1'000;
    REQUIRE(billing::add_card(**store, card, "1234",
                              {"staff:test", seconds_at("2026-03-10T14:00:00Z")}));
  }
  REQUIRE(is_ack(fixture.open_session("S-1", relay::RelayService::RelayIp, "+12125550101")));
  relay::CallRequested request;
  request.session_id = "S-1";
  request.call_id = "C-1";
  request.dialed_number = "+13125550104";
  request.billing = relay::BillingMethod::CallingCard;
  request.card_number = relay::SecretDigits(relay::SecretDigits::Kind::CardNumber, number);
  request.pin = relay::SecretDigits(relay::SecretDigits::Kind::Pin, "1234");
  request.idempotency_key = "C-1/request";
  REQUIRE(authorization_of(fixture.calls->handle(request, "m-1", at("2026-03-10T15:00:05Z")))
              .accepted);
  REQUIRE(is_ack(fixture.connect("C-1")));

  // Card ledger amounts written outside relaygw sum past the 64-bit range. The store's
  // message names `relaygw audit verify` for the command line, and the provider gets the
  // operator's task instead.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(fixture.config.billing.database.c_str(), &db) == SQLITE_OK);
  const int edited = sqlite3_exec(db, "UPDATE card_ledger SET amount = 9223372036854775807",
                                  nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(edited == SQLITE_OK);

  const std::vector<Reply> replies = fixture.disconnect("C-1");
  REQUIRE(replies.size() == 1);
  const auto* error = std::get_if<relay::ErrorReply>(&replies.front());
  REQUIRE(error != nullptr);
  INFO(error->message);
  CHECK(error->message.find("card ************0027 is damaged: its card_ledger credits or "
                            "charges sum to") != std::string::npos);
  CHECK(error->message.find("ask the gateway's operator to find the changed row") !=
        std::string::npos);
  CHECK(error->message.find("relaygw audit") == std::string::npos);
}

}  // namespace relaygw::gateway::server
