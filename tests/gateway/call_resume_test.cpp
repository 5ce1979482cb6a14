// CallService with a call.request retried after the gateway stored the call and not its
// decision. SQLite triggers on a real database fail one write the way a crash or a storage
// error would, and the retry must finish the call once.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/sqlite_store.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/session_registry.hpp"
#include "tests/gateway/test_support.hpp"
#include "tests/sqlite_edit.hpp"

namespace relaygw::gateway::server {
namespace {

constexpr const char* kCard = "6000000000000050";

relay::Instant at(const std::string& text) { return relay::parse_instant(text).value(); }

// Makes every insert of a call event named `event` fail, as a storage error would.
std::string fail_event_sql(const std::string& trigger, const std::string& event) {
  return "CREATE TRIGGER " + trigger + " BEFORE INSERT ON call_events WHEN NEW.event = '" + event +
         "' BEGIN SELECT RAISE(ABORT, 'test: " + event + " write failed'); END";
}

// Makes every card release fail, so the hold of a failed authorization stays open, as when
// the gateway stops between the hold and its decision.
constexpr const char* kFailReleaseSql =
    "CREATE TRIGGER fail_release BEFORE INSERT ON card_ledger WHEN NEW.kind = 'release' "
    "BEGIN SELECT RAISE(ABORT, 'test: release write failed'); END";

std::size_t count_events(const billing::CallRecord& record, billing::CallEvent event) {
  std::size_t count = 0;
  for (const billing::CallEventRecord& stored : record.events) {
    count += stored.event == event ? 1 : 0;
  }
  return count;
}

const relay::Quote* quote_in(const std::vector<Reply>& replies) {
  return replies.empty() ? nullptr : std::get_if<relay::Quote>(&replies.front());
}

const relay::AuthorizationResult& authorization_of(const std::vector<Reply>& replies) {
  REQUIRE(!replies.empty());
  const auto* result = std::get_if<relay::AuthorizationResult>(&replies.back());
  REQUIRE(result != nullptr);
  return *result;
}

const relay::ErrorReply& error_of(const std::vector<Reply>& replies) {
  REQUIRE(replies.size() == 1);
  const auto* error = std::get_if<relay::ErrorReply>(&replies.front());
  REQUIRE(error != nullptr);
  return *error;
}

bool is_ack(const std::vector<Reply>& replies) {
  return replies.size() == 1 && std::holds_alternative<Ack>(replies.front());
}

// A gateway call service over a database made by `relaygw db init`, with a prepaid card.
struct ResumeFixture {
  ResumeFixture() {
    certs = test::make_certificates(dir.file("certs"), {});
    config = test::test_server_config(dir, certs, psap.port());
    test::init_billing_database(config.billing.database);
    {
      auto store = billing::SqliteStore::open(config.billing.database);
      REQUIRE(store);
      billing::NewCard card;
      card.number = kCard;
      card.opening_balance = 100'000;
      card.pin_iterations = 1'000;
      const billing::WriteContext staff{
          "staff:test", std::chrono::floor<std::chrono::seconds>(at("2026-03-10T14:00:00Z"))};
      REQUIRE(billing::add_card(**store, card, "1234", staff));
    }
    dispatcher = std::make_unique<EmergencyDispatcher>(config.emergency);
    REQUIRE(dispatcher->start());
    restart();
  }

  ~ResumeFixture() {
    calls.reset();
    dispatcher->stop();
  }

  // A new service on the same database, with an empty reply cache, as after a crash, and
  // session S-1 open again.
  void restart() {
    calls.reset();
    calls = std::make_unique<CallService>(config.billing, registry, *dispatcher);
    REQUIRE(calls->start());
    relay::SessionOpened opened;
    opened.session_id = "S-1";
    opened.adapter = relay::Adapter::ProviderLink;
    opened.provider_id = "acme";
    opened.service = relay::RelayService::RelayIp;
    opened.caller_number = "+12125550101";
    opened.caller_location = "350 5th Ave, New York, NY 10118";
    opened.agent_id = "CA-4411";
    REQUIRE(is_ack(calls->handle(opened, "m-open", at("2026-03-10T15:00:00Z"))));
  }

  static relay::CallRequested sent_paid(const std::string& call, const std::string& key) {
    relay::CallRequested request;
    request.session_id = "S-1";
    request.call_id = call;
    request.dialed_number = "+13125550104";
    request.billing = relay::BillingMethod::SentPaid;
    request.caller_name = "Grace Okafor";
    request.idempotency_key = key;
    return request;
  }

  static relay::CallRequested card_call(const std::string& call, const std::string& key) {
    relay::CallRequested request = sent_paid(call, key);
    request.billing = relay::BillingMethod::CallingCard;
    request.card_number = relay::SecretDigits(relay::SecretDigits::Kind::CardNumber, kCard);
    request.pin = relay::SecretDigits(relay::SecretDigits::Kind::Pin, "1234");
    return request;
  }

  std::vector<Reply> send(const relay::CallRequested& request, const std::string& when) {
    return calls->handle(request, "m-request", at(when));
  }

  void exec_sql(const std::string& sql) const {
    relaygw::testing::edit_outside_relaygw(config.billing.database, sql);
  }

  billing::CallRecord stored_call(const std::string& call) const {
    auto store = billing::SqliteStore::open(config.billing.database);
    REQUIRE(store);
    auto record = (*store)->find_call(call);
    REQUIRE(record);
    REQUIRE(record->has_value());
    return **record;
  }

  billing::CardFunds card_funds(const std::string& call) const {
    auto store = billing::SqliteStore::open(config.billing.database);
    REQUIRE(store);
    auto funds = (*store)->card_funds(kCard, call);
    REQUIRE(funds);
    return *funds;
  }

  test::TempDir dir;
  test::TestPsap psap;
  DevCertificateFiles certs;
  ServerConfig config;
  SessionRegistry registry;
  std::unique_ptr<EmergencyDispatcher> dispatcher;
  std::unique_ptr<CallService> calls;
};

}  // namespace

TEST_CASE("retry decides call stored without decision", "[gateway][call-service][resume]") {
  ResumeFixture fixture;
  const relay::CallRequested request = ResumeFixture::sent_paid("C-1", "k-1");

  // The authorized event fails to store: the call, its requested and quoted events stay.
  fixture.exec_sql(fail_event_sql("fail_authorized", "authorized"));
  const auto failed = fixture.send(request, "2026-03-10T15:00:05Z");
  REQUIRE(failed.size() == 2);
  const relay::Quote* first_quote = quote_in(failed);
  REQUIRE(first_quote != nullptr);
  CHECK(authorization_of(failed).reason_code == "rating-unavailable");
  const billing::CallRecord undecided = fixture.stored_call("C-1");
  CHECK(count_events(undecided, billing::CallEvent::Quoted) == 1);
  CHECK(count_events(undecided, billing::CallEvent::Authorized) == 0);

  // The provider retries the same request in the same run once storage works again.
  fixture.exec_sql("DROP TRIGGER fail_authorized");
  const auto retried = fixture.send(request, "2026-03-10T15:00:08Z");
  REQUIRE(retried.size() == 2);
  const relay::Quote* retried_quote = quote_in(retried);
  REQUIRE(retried_quote != nullptr);
  CHECK(retried_quote->total == first_quote->total);
  const relay::AuthorizationResult& granted = authorization_of(retried);
  CHECK(granted.accepted);
  CHECK(granted.reason_code.empty());
  CHECK(granted.message == "authorized; charges go to the calling line +12125550101");

  const billing::CallRecord decided = fixture.stored_call("C-1");
  CHECK(count_events(decided, billing::CallEvent::Requested) == 1);
  CHECK(count_events(decided, billing::CallEvent::Quoted) == 1);
  CHECK(count_events(decided, billing::CallEvent::Authorized) == 1);
  CHECK(count_events(decided, billing::CallEvent::Refused) == 0);

  // After a restart the reply comes from the stored decision, and nothing more is stored.
  fixture.restart();
  const auto repeated = fixture.send(request, "2026-03-10T15:00:10Z");
  REQUIRE(repeated.size() == 2);
  CHECK(authorization_of(repeated).accepted);
  CHECK(authorization_of(repeated).message == granted.message);
  CHECK(fixture.stored_call("C-1").events.size() == decided.events.size());

  // The call goes on as any authorized call.
  const relay::Connected connected{"C-1", at("2026-03-10T15:01:00Z"), "C-1/connect"};
  CHECK(is_ack(fixture.calls->handle(connected, "m-connect", at("2026-03-10T15:01:00Z"))));
}

TEST_CASE("retry holds card once after crash", "[gateway][call-service][resume]") {
  ResumeFixture fixture;
  const relay::CallRequested request = ResumeFixture::card_call("C-2", "k-2");

  // The hold is placed, then neither the authorized event nor the release is stored: the
  // state a crash between the hold and the decision leaves.
  fixture.exec_sql(fail_event_sql("fail_authorized", "authorized"));
  fixture.exec_sql(kFailReleaseSql);
  const auto failed = fixture.send(request, "2026-03-10T15:00:05Z");
  CHECK(authorization_of(failed).reason_code == "rating-unavailable");
  const billing::Money left_open = fixture.card_funds("C-2").held_for_call;
  REQUIRE(left_open > 0);

  fixture.exec_sql("DROP TRIGGER fail_authorized; DROP TRIGGER fail_release");
  fixture.restart();
  const auto retried = fixture.send(request, "2026-03-10T15:00:20Z");
  REQUIRE(retried.size() == 2);
  CHECK(quote_in(retried) != nullptr);
  const relay::AuthorizationResult& granted = authorization_of(retried);
  REQUIRE(granted.accepted);
  CHECK(granted.message.find("authorized on card ************0050") != std::string::npos);
  CHECK(granted.message.find(kCard) == std::string::npos);

  // One decision, and one open hold: the one the authorized event names.
  const billing::CallRecord decided = fixture.stored_call("C-2");
  CHECK(count_events(decided, billing::CallEvent::Authorized) == 1);
  CHECK(count_events(decided, billing::CallEvent::Quoted) == 1);
  const auto authorized =
      std::find_if(decided.events.begin(), decided.events.end(),
                   [](const auto& event) { return event.event == billing::CallEvent::Authorized; });
  REQUIRE(authorized != decided.events.end());
  REQUIRE(authorized->hold_amount.has_value());
  const billing::CardFunds funds = fixture.card_funds("C-2");
  CHECK(funds.held_for_call == *authorized->hold_amount);
  CHECK(funds.held_for_call == left_open);
  CHECK(funds.available == funds.balance - funds.held_for_call);
  CHECK(funds.balance == 100'000);

  // A further retry changes nothing.
  const auto repeated = fixture.send(request, "2026-03-10T15:00:30Z");
  CHECK(authorization_of(repeated).message == granted.message);
  CHECK(fixture.card_funds("C-2").available == funds.available);

  // The call settles against that one hold and leaves none open.
  const relay::Connected connected{"C-2", at("2026-03-10T15:01:00Z"), "C-2/connect"};
  REQUIRE(is_ack(fixture.calls->handle(connected, "m-connect", at("2026-03-10T15:01:00Z"))));
  const relay::Disconnected disconnected{"C-2", at("2026-03-10T15:05:00Z"), "C-2/disconnect"};
  REQUIRE(is_ack(fixture.calls->handle(disconnected, "m-disconnect", at("2026-03-10T15:05:00Z"))));
  const billing::CallRecord posted = fixture.stored_call("C-2");
  REQUIRE(posted.posting.has_value());
  const billing::CardFunds settled = fixture.card_funds("C-2");
  CHECK(settled.held_for_call == 0);
  CHECK(settled.balance == 100'000 - posted.posting->total);
  CHECK(settled.available == settled.balance);

  fixture.calls.reset();
  std::string verified;
  const int verify_status =
      test::run_relaygw({"audit", "verify", "--db", fixture.config.billing.database}, &verified);
  INFO(verified);
  CHECK(verify_status == 0);
}

TEST_CASE("retry stores missing requested event", "[gateway][call-service][resume]") {
  ResumeFixture fixture;
  const relay::CallRequested request = ResumeFixture::sent_paid("C-3", "k-3");

  // CallRecords::open stores the call row, then its requested event in a second transaction.
  fixture.exec_sql(fail_event_sql("fail_requested", "requested"));
  const auto failed = fixture.send(request, "2026-03-10T15:00:05Z");
  REQUIRE(failed.size() == 1);
  CHECK(authorization_of(failed).reason_code == "rating-unavailable");
  CHECK(fixture.stored_call("C-3").events.empty());

  fixture.exec_sql("DROP TRIGGER fail_requested");
  fixture.restart();
  const auto retried = fixture.send(request, "2026-03-10T15:00:20Z");
  REQUIRE(retried.size() == 2);
  CHECK(quote_in(retried) != nullptr);
  CHECK(authorization_of(retried).accepted);
  const billing::CallRecord decided = fixture.stored_call("C-3");
  CHECK(count_events(decided, billing::CallEvent::Requested) == 1);
  CHECK(count_events(decided, billing::CallEvent::Quoted) == 1);
  CHECK(count_events(decided, billing::CallEvent::Authorized) == 1);
}

TEST_CASE("retry refusal of undecided call frees hold", "[gateway][call-service][resume]") {
  ResumeFixture fixture;
  relay::CallRequested request = ResumeFixture::card_call("C-4", "k-4");
  fixture.exec_sql(fail_event_sql("fail_authorized", "authorized"));
  fixture.exec_sql(kFailReleaseSql);
  const auto failed = fixture.send(request, "2026-03-10T15:00:05Z");
  CHECK(authorization_of(failed).reason_code == "rating-unavailable");
  REQUIRE(fixture.card_funds("C-4").held_for_call > 0);
  fixture.exec_sql("DROP TRIGGER fail_authorized; DROP TRIGGER fail_release");
  fixture.restart();

  // Only the PIN digits differ, so this is the same request, and the retry checks its PIN.
  request.pin = relay::SecretDigits(relay::SecretDigits::Kind::Pin, "4321");
  const auto retried = fixture.send(request, "2026-03-10T15:00:20Z");
  const relay::AuthorizationResult& refused = authorization_of(retried);
  CHECK_FALSE(refused.accepted);
  CHECK(refused.reason_code == "wrong-pin");
  // The quote stored by the first delivery is part of the replies, as later repeats send it.
  CHECK(retried.size() == 2);

  const billing::CallRecord decided = fixture.stored_call("C-4");
  CHECK(count_events(decided, billing::CallEvent::Refused) == 1);
  CHECK(count_events(decided, billing::CallEvent::Authorized) == 0);
  const billing::CardFunds funds = fixture.card_funds("C-4");
  CHECK(funds.held_for_call == 0);
  CHECK(funds.available == funds.balance);
}

TEST_CASE("other request for undecided call is rejected", "[gateway][call-service][resume]") {
  ResumeFixture fixture;
  fixture.exec_sql(fail_event_sql("fail_authorized", "authorized"));
  const auto failed = fixture.send(ResumeFixture::sent_paid("C-5", "k-5"), "2026-03-10T15:00:05Z");
  CHECK(authorization_of(failed).reason_code == "rating-unavailable");
  fixture.exec_sql("DROP TRIGGER fail_authorized");
  fixture.restart();

  // A new key is a new request, which must use a new call id.
  const auto new_key =
      fixture.send(ResumeFixture::sent_paid("C-5", "k-5b"), "2026-03-10T15:00:20Z");
  CHECK(error_of(new_key).code == "invalid-state");
  CHECK(error_of(new_key).message.find("send a new call id") != std::string::npos);

  // The same key with another dialed number is another request under that key.
  relay::CallRequested other_number = ResumeFixture::sent_paid("C-5", "k-5");
  other_number.dialed_number = "+13125550106";
  const auto conflict = fixture.send(other_number, "2026-03-10T15:00:21Z");
  CHECK(error_of(conflict).code == "idempotency-conflict");

  // Neither decided the call.
  const billing::CallRecord record = fixture.stored_call("C-5");
  CHECK(count_events(record, billing::CallEvent::Authorized) == 0);
  CHECK(count_events(record, billing::CallEvent::Refused) == 0);

  SECTION("a disconnected undecided call stays a duplicate") {
    // Staff closed the undecided call, so nothing is left to authorize.
    {
      auto store = billing::SqliteStore::open(fixture.config.billing.database);
      REQUIRE(store);
      const billing::CallRecords records(store->get(), nullptr);
      const billing::Instant when =
          std::chrono::floor<std::chrono::seconds>(at("2026-03-10T15:00:30Z"));
      REQUIRE(records.add_event(
          "C-5",
          billing::CallEventRecord{billing::CallEvent::Disconnected, when, "staff:test", {}, {}}));
    }
    const auto retried =
        fixture.send(ResumeFixture::sent_paid("C-5", "k-5"), "2026-03-10T15:00:40Z");
    const relay::AuthorizationResult& duplicate = authorization_of(retried);
    CHECK_FALSE(duplicate.accepted);
    CHECK(duplicate.reason_code == "duplicate-call");
    CHECK(count_events(fixture.stored_call("C-5"), billing::CallEvent::Authorized) == 0);
  }
  SECTION("the same request decides it") {
    const auto retried =
        fixture.send(ResumeFixture::sent_paid("C-5", "k-5"), "2026-03-10T15:00:40Z");
    CHECK(authorization_of(retried).accepted);
    CHECK(count_events(fixture.stored_call("C-5"), billing::CallEvent::Authorized) == 1);
  }
}

}  // namespace relaygw::gateway::server
