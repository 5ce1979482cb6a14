// Prepaid card settlement: a call that outlives its hold never takes the card below zero, and
// the charge the card cannot pay stays on the call as uncollected, even with calls racing.
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/credit_report.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;
using namespace relaygw::billing::testing;
using relaygw::Result;
using relaygw::StatusCode;

namespace {

constexpr const char* kCard = "5550142000001";
constexpr const char* kPin = "2468";

// $0.04 a minute at all times: a 60 s first block (400 u), then per second, rounded up.
RateDeck card_deck() {
  return flat_rate_deck("0.0400",
                        "rounding = \"up\"\ninitial_seconds = 60\nadditional_seconds = 1\n");
}

Instant at(const std::string& text) { return parse_instant(text).value(); }

class SettlementFixture {
 public:
  SettlementFixture() : deck_(card_deck()), rater_(&bundled_number_plan(), &deck_) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-settlement-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    store_ = open();
  }
  ~SettlementFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<SqliteStore> open() {
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "billing.db").string(), options);
    REQUIRE(opened);
    return std::move(opened).value();
  }

  void add_prepaid(Money balance) {
    NewCard card;
    card.number = kCard;
    card.opening_balance = balance;
    card.pin_iterations = 1'000;
    REQUIRE(add_card(*store_, card, kPin, WriteContext{"staff:test", at("2026-03-10T13:00:00Z")}));
  }

  // Takes an interim debit of call `id` for the conversation up to `time`, recorded at `time`.
  Result<CardFunds> debit_at(const std::string& id, const std::string& time,
                             const std::string& key) {
    return CallRecords(store_.get(), &rater_)
        .interim_debit(id, at(time), key, WriteContext{"gateway", at(time)});
  }

  // Completes call `id` at `time`, recorded at `time`, with idempotency key `key`.
  Result<CallPosting> complete_at(const std::string& id, const std::string& time,
                                  const std::string& key) {
    return CallRecords(store_.get(), &rater_)
        .complete(Completion{id, at(time), false, key}, WriteContext{"gateway", at(time)});
  }

  // Opens card call `id` at 14:00:00Z and records its authorization, granted or refused, with
  // a hold that covers at most `max_seconds`. Returns the authorization.
  Authorization authorize_call(const std::string& id, std::int64_t max_seconds) {
    const WriteContext context{"gateway", at("2026-03-10T14:00:00Z")};
    CallRequest call;
    call.id = id;
    call.from = "3125550107";
    call.to = "2125550101";
    call.billing = BillingMethod::CallingCard;
    call.card_number = kCard;
    CallRecords records(store_.get(), &rater_);
    REQUIRE(records.open(call, context));

    AuthorizationRequest request;
    request.call_id = id;
    request.from = call.from;
    request.to = call.to;
    request.billing = BillingMethod::CallingCard;
    request.card_number = kCard;
    request.pin = kPin;
    request.max_call_seconds = max_seconds;
    Authorizer authorizer(store_.get(), &bundled_number_plan(), &rater_);
    auto decision = authorizer.authorize(request, context);
    REQUIRE(decision);
    REQUIRE(records.record_authorization(id, *decision, context));
    return *decision;
  }

  // Opens and authorizes a card call whose hold covers at most `max_seconds`, then connects it
  // at 14:00:10Z. Returns the authorization.
  Authorization start_call(const std::string& id, std::int64_t max_seconds) {
    const Authorization decision = authorize_call(id, max_seconds);
    REQUIRE(decision.granted);
    REQUIRE(CallRecords(store_.get(), &rater_)
                .add_event(
                    id, CallEventRecord{
                            CallEvent::Connected, at("2026-03-10T14:00:10Z"), "gateway", {}, {}}));
    return decision;
  }

  CardFunds funds(const std::string& call_id = "") {
    return store_->card_funds(kCard, call_id).value();
  }
  Money uncollected(const std::string& call_id) {
    auto record = store_->find_call(call_id);
    REQUIRE(record);
    REQUIRE(record->has_value());
    auto amount = CallRecords(store_.get(), &rater_).uncollected(**record);
    REQUIRE(amount);
    return *amount;
  }

  RateDeck deck_;
  Rater rater_;
  std::unique_ptr<SqliteStore> store_;

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(SettlementFixture, "card hold states its minutes",
                 "[billing][cards][settlement]") {
  add_prepaid(2'000);
  const Authorization decision = start_call("call-a", 120);
  REQUIRE(decision.max_seconds);
  CHECK(*decision.max_seconds == 120);
  CHECK(decision.held == 800);
  CHECK(decision.message.find("covers at most 2 min 0 s") != std::string::npos);
}

TEST_CASE_METHOD(SettlementFixture, "call beyond hold leaves uncollected",
                 "[billing][cards][settlement]") {
  add_prepaid(2'000);         // five minutes at $0.04
  start_call("call-a", 120);  // a hold of two minutes, 800 u
  // Ten minutes cost 4000 u: the hold pays 800, the free balance 1200, and 2000 is uncollected.
  auto posting = complete_at("call-a", "2026-03-10T14:10:10Z", "end-a");
  REQUIRE(posting);
  CHECK(posting->total == 4'000);
  CHECK(funds().balance == 0);
  CHECK(funds().available == 0);
  CHECK(funds("call-a").debited_for_call == 2'000);
  CHECK(funds("call-a").held_for_call == 0);
  CHECK(uncollected("call-a") == 2'000);

  // A repeated delivery takes nothing more, even after a top-up.
  REQUIRE(store_->append_ledger(kCard, {LedgerEntry{LedgerKind::Credit, 5'000, ""}}, false,
                                std::nullopt,
                                WriteContext{"staff:test", at("2026-03-10T15:00:00Z")}));
  auto again = complete_at("call-a", "2026-03-10T14:10:10Z", "end-a");
  REQUIRE(again);
  CHECK(funds().balance == 5'000);
  CHECK(uncollected("call-a") == 2'000);
}

TEST_CASE_METHOD(SettlementFixture, "interim debit stops at hold", "[billing][cards][settlement]") {
  add_prepaid(2'000);
  start_call("call-a", 120);
  auto interim = debit_at("call-a", "2026-03-10T14:10:10Z", "interim-1");
  REQUIRE(interim);
  CHECK(interim->debited_for_call == 800);
  CHECK(interim->held_for_call == 0);
  CHECK(funds().balance == 1'200);
}

TEST_CASE_METHOD(SettlementFixture, "racing card calls never overdraw",
                 "[billing][cards][settlement]") {
  add_prepaid(2'000);
  start_call("call-a", 120);  // 800 u held
  start_call("call-b", 120);  // 800 u held, 400 u left free
  // Both calls run ten minutes (4000 u each) and settle at once on separate connections.
  std::vector<std::thread> threads;
  std::vector<Result<CallPosting>> results(2, Result<CallPosting>(StatusCode::Internal, "unset"));
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<SqliteStore> own = open();
      CallRecords records(own.get(), &rater_);
      const std::string id = i == 0 ? "call-a" : "call-b";
      results[i] = records.complete(Completion{id, at("2026-03-10T14:10:10Z"), false, "end-" + id},
                                    WriteContext{"gateway", at("2026-03-10T14:10:10Z")});
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (const auto& result : results) {
    INFO(result.status().message());
    REQUIRE(result);
  }
  CHECK(funds().balance == 0);
  CHECK(funds().available == 0);
  CHECK(funds("call-a").debited_for_call + funds("call-b").debited_for_call == 2'000);
  CHECK(funds("call-a").debited_for_call >= 800);
  CHECK(funds("call-b").debited_for_call >= 800);
  CHECK(uncollected("call-a") + uncollected("call-b") == 6'000);
}

TEST_CASE_METHOD(SettlementFixture, "credit report lists uncollected calls",
                 "[billing][cards][settlement][reports]") {
  add_prepaid(2'000);
  start_call("call-a", 120);
  REQUIRE(complete_at("call-a", "2026-03-10T14:10:10Z", "end-a"));
  ReportRequest request;
  request.from = parse_local_date("2026-03-01").value();
  request.to = parse_local_date("2026-03-31").value();
  auto report = credits_and_disputes(*store_, request, at("2026-04-01T00:00:00Z"));
  REQUIRE(report);
  REQUIRE(report->uncollected.size() == 1);
  CHECK(report->uncollected[0].call_id == "call-a");
  CHECK(report->uncollected[0].total == 4'000);
  CHECK(report->uncollected[0].uncollected == 2'000);
  CHECK(report->uncollected_total == 2'000);
  const std::string csv = render_credits_report(*report, ReportFormat::Csv);
  CHECK(csv.find("uncollected,,,1,0.20,,call-a,,\n") != std::string::npos);
  const std::string text = render_credits_report(*report, ReportFormat::Text);
  CHECK(text.find("Uncollected card charges: 1 calls, 0.20") != std::string::npos);

  // A call requested outside the range is left out.
  request.from = parse_local_date("2026-04-01").value();
  request.to = parse_local_date("2026-04-30").value();
  auto april = credits_and_disputes(*store_, request, at("2026-05-01T00:00:00Z"));
  REQUIRE(april);
  CHECK(april->uncollected.empty());
}

TEST_CASE_METHOD(SettlementFixture, "card completion before debit rejected",
                 "[billing][cards][settlement]") {
  add_prepaid(20'000);
  start_call("call-a", 600);  // connected at 14:00:10Z
  auto first = debit_at("call-a", "2026-03-10T14:05:10Z", "debit-1");
  REQUIRE(first);
  CHECK(first->debited_for_call == 2'000);

  auto early_completion = complete_at("call-a", "2026-03-10T14:01:10Z", "end-early");
  REQUIRE_FALSE(early_completion);
  CHECK(early_completion.status().code() == StatusCode::InvalidArgument);
  CHECK(early_completion.status().message().find(
            "completion time 2026-03-10T14:01:10Z is before the last interim debit") !=
        std::string::npos);
  auto record = store_->find_call("call-a");
  REQUIRE(record);
  REQUIRE(record->has_value());
  CHECK_FALSE((*record)->posting);

  auto completed = complete_at("call-a", "2026-03-10T14:06:10Z", "end-a");
  REQUIRE(completed);
  CHECK(completed->total == 2'400);
  CHECK(funds("call-a").debited_for_call == 2'400);
}

TEST_CASE_METHOD(SettlementFixture, "interim debit before last debit rejected",
                 "[billing][cards][settlement]") {
  add_prepaid(20'000);
  start_call("call-a", 600);  // connected at 14:00:10Z
  CallRecords records(store_.get(), &rater_);
  auto first = debit_at("call-a", "2026-03-10T14:05:10Z", "debit-1");
  REQUIRE(first);
  CHECK(first->debited_for_call == 2'000);
  REQUIRE(first->last_debit_covered_until);
  CHECK(*first->last_debit_covered_until == at("2026-03-10T14:05:10Z"));

  // A new debit timed before, or at, the last debit's instant is late, not a retry.
  for (const char* when : {"2026-03-10T14:03:10Z", "2026-03-10T14:05:10Z"}) {
    INFO("debit at " << when);
    auto late = records.interim_debit("call-a", at(when), "debit-2",
                                      WriteContext{"gateway", at("2026-03-10T14:06:00Z")});
    REQUIRE_FALSE(late);
    CHECK(late.status().code() == StatusCode::InvalidArgument);
    CHECK(late.status().message().find(std::string("debit time ") + when +
                                       " is at or before the last interim debit of call "
                                       "'call-a', which covered the conversation to "
                                       "2026-03-10T14:05:10Z") != std::string::npos);
  }
  CHECK(funds("call-a").debited_for_call == 2'000);

  // A true retry returns the first debit's result and debits nothing more.
  auto retry = records.interim_debit("call-a", at("2026-03-10T14:05:10Z"), "debit-1",
                                     WriteContext{"gateway", at("2026-03-10T14:06:00Z")});
  REQUIRE(retry);
  CHECK(retry->debited_for_call == 2'000);
  CHECK(retry->balance == first->balance);
  CHECK(funds("call-a").debited_for_call == 2'000);
  CHECK(funds().balance == 18'000);

  // The same key for another instant is a different request.
  auto reused = debit_at("call-a", "2026-03-10T14:07:10Z", "debit-1");
  REQUIRE_FALSE(reused);
  CHECK(reused.status().code() == StatusCode::AlreadyExists);

  auto later = debit_at("call-a", "2026-03-10T14:07:10Z", "debit-3");
  REQUIRE(later);
  CHECK(later->debited_for_call == 2'800);
  REQUIRE(later->last_debit_covered_until);
  CHECK(*later->last_debit_covered_until == at("2026-03-10T14:07:10Z"));
}

TEST_CASE_METHOD(SettlementFixture, "completion between equal debits rejected",
                 "[billing][cards][settlement]") {
  add_prepaid(20'000);
  start_call("call-a", 600);  // connected at 14:00:10Z
  // Both debits fall in the 60 s first block, so they cost the same 400 u and the second one
  // takes nothing.
  REQUIRE(debit_at("call-a", "2026-03-10T14:00:20Z", "debit-1"));
  auto second = debit_at("call-a", "2026-03-10T14:00:50Z", "debit-2");
  REQUIRE(second);
  CHECK(second->debited_for_call == 400);
  REQUIRE(second->last_debit_covered_until);
  CHECK(*second->last_debit_covered_until == at("2026-03-10T14:00:50Z"));

  auto between = complete_at("call-a", "2026-03-10T14:00:30Z", "end-1");
  REQUIRE_FALSE(between);
  CHECK(between.status().code() == StatusCode::InvalidArgument);
  CHECK(between.status().message().find(
            "completion time 2026-03-10T14:00:30Z is before the last interim debit of call "
            "'call-a', which covered the conversation to 2026-03-10T14:00:50Z") !=
        std::string::npos);
  auto between_debit = debit_at("call-a", "2026-03-10T14:00:40Z", "debit-3");
  REQUIRE_FALSE(between_debit);
  CHECK(between_debit.status().code() == StatusCode::InvalidArgument);

  // A completion at the last debit's instant is on time.
  auto on_time = complete_at("call-a", "2026-03-10T14:00:50Z", "end-2");
  REQUIRE(on_time);
  CHECK(on_time->total == 400);
  CHECK(funds("call-a").debited_for_call == 400);
}

TEST_CASE_METHOD(SettlementFixture, "completion after capped debit rejected",
                 "[billing][cards][settlement]") {
  add_prepaid(20'000);
  start_call("call-a", 120);  // a hold of two minutes, 800 u
  CallRecords records(store_.get(), &rater_);
  // Ten minutes cost 4000 u, but the debit stops at the 800 u hold.
  auto capped = debit_at("call-a", "2026-03-10T14:10:10Z", "debit-1");
  REQUIRE(capped);
  CHECK(capped->debited_for_call == 800);

  auto early = complete_at("call-a", "2026-03-10T14:08:10Z", "end-1");
  REQUIRE_FALSE(early);
  CHECK(early.status().code() == StatusCode::InvalidArgument);
  CHECK(early.status().message().find("completion time 2026-03-10T14:08:10Z is before the last "
                                      "interim debit") != std::string::npos);

  // A disconnect event is held to the same instant.
  const relaygw::Status disconnect = records.add_event(
      "call-a",
      CallEventRecord{CallEvent::Disconnected, at("2026-03-10T14:09:10Z"), "gateway", {}, {}});
  CHECK(disconnect.code() == StatusCode::InvalidArgument);
  CHECK(disconnect.message().find("disconnect time 2026-03-10T14:09:10Z is before the last "
                                  "interim debit") != std::string::npos);
  auto record = store_->find_call("call-a");
  REQUIRE(record);
  REQUIRE(record->has_value());
  CHECK_FALSE(event_time(**record, CallEvent::Disconnected));
  CHECK_FALSE((*record)->posting);

  auto completed = complete_at("call-a", "2026-03-10T14:10:10Z", "end-2");
  REQUIRE(completed);
  CHECK(completed->total == 4'000);
}

TEST_CASE_METHOD(SettlementFixture, "zero debit keeps its instant only",
                 "[billing][cards][settlement]") {
  add_prepaid(20'000);
  start_call("call-a", 600);
  REQUIRE(debit_at("call-a", "2026-03-10T14:00:20Z", "debit-1"));
  const CardFunds before = funds("call-a");
  auto zero = debit_at("call-a", "2026-03-10T14:00:50Z", "debit-2");
  REQUIRE(zero);
  CHECK(zero->balance == before.balance);
  CHECK(zero->available == before.available);
  CHECK(zero->held_for_call == before.held_for_call);
  CHECK(zero->debited_for_call == before.debited_for_call);
  // The zero debit is in the record chain like every other ledger row.
  auto check = store_->verify_records();
  REQUIRE(check);
  CHECK(check->problems.empty());
}

TEST_CASE_METHOD(SettlementFixture, "postpaid card without limit stays usable",
                 "[billing][cards][settlement]") {
  NewCard card;
  card.number = kCard;
  card.funding = CardFunding::Postpaid;
  card.billed_line = "+13125550107";
  card.pin_iterations = 1'000;
  const WriteContext staff{"staff:test", at("2026-03-10T13:00:00Z")};
  REQUIRE(add_card(*store_, card, kPin, staff));
  // Each call on the card screens its billed line in the directory.
  Line line;
  line.number = card.billed_line;
  line.listing_name = "Alvarez, Rosa";
  line.state = "IL";
  line.rate_center = "CHICAGO";
  line.time_zone = "America/Chicago";
  REQUIRE(store_->append_line(line, 0, "billed line of the postpaid card", staff));
  const Authorization first = start_call("call-a", 600);
  CHECK(first.held == 0);
  auto debit = debit_at("call-a", "2026-03-10T14:05:10Z", "debit-1");
  REQUIRE(debit);
  CHECK(debit->debited_for_call == 0);
  auto posting = complete_at("call-a", "2026-03-10T14:10:10Z", "end-a");
  REQUIRE(posting);
  CHECK(posting->total == 4'000);
  CHECK(uncollected("call-a") == 0);

  // The call is billed to the card's line, so the card still has no ledger and no limit.
  CHECK_FALSE(funds().has_entries);
  CHECK(funds().balance == 0);
  CHECK(funds("call-a").debited_for_call == 0);
  const Authorization second = start_call("call-b", 600);
  CHECK(second.granted);
}

TEST_CASE_METHOD(SettlementFixture, "paid-back postpaid card usable again",
                 "[billing][cards][settlement]") {
  NewCard card;
  card.number = kCard;
  card.funding = CardFunding::Postpaid;
  card.billed_line = "+13125550107";
  card.pin_iterations = 1'000;
  const WriteContext staff{"staff:test", at("2026-03-10T13:00:00Z")};
  REQUIRE(add_card(*store_, card, kPin, staff));
  Line line;
  line.number = card.billed_line;
  line.listing_name = "Alvarez, Rosa";
  line.state = "IL";
  line.rate_center = "CHICAGO";
  line.time_zone = "America/Chicago";
  REQUIRE(store_->append_line(line, 0, "billed line of the postpaid card", staff));
  // Settlement before schema 10 debited a card with no limit in full, with no hold to release
  // and no debit instant: a $0.40 call left this one debit row.
  REQUIRE(store_->append_ledger(kCard, {LedgerEntry{LedgerKind::Debit, -4'000, "old-call"}}, false,
                                std::nullopt, staff));
  CHECK(funds().has_entries);
  CHECK(funds().available == -4'000);
  const Authorization owing = authorize_call("call-a", 600);
  CHECK_FALSE(owing.granted);
  CHECK(owing.reason == RefusalReason::InsufficientFunds);

  // A part payment leaves the card owing, so it stays refused.
  REQUIRE(record_card_payment(*store_, kCard, 2'500, IdempotencyKey{"pay-1", "h1"}, staff));
  const Authorization part_paid = authorize_call("call-b", 600);
  CHECK_FALSE(part_paid.granted);
  CHECK(part_paid.reason == RefusalReason::InsufficientFunds);

  // Paid back in full, the card has no limit again: calls go through with no hold, and it
  // takes no further payment.
  auto paid = record_card_payment(*store_, kCard, 1'500, IdempotencyKey{"pay-2", "h2"}, staff);
  REQUIRE(paid);
  CHECK(paid->balance == 0);
  CHECK_FALSE(paid->has_entries);
  const Authorization restored = start_call("call-c", 600);
  CHECK(restored.granted);
  CHECK(restored.held == 0);
  auto posting = complete_at("call-c", "2026-03-10T14:10:10Z", "end-c");
  REQUIRE(posting);
  CHECK(posting->total == 4'000);
  CHECK(funds().balance == 0);
  CHECK(uncollected("call-c") == 0);
  auto extra = record_card_payment(*store_, kCard, 100, IdempotencyKey{"pay-3", "h3"}, staff);
  REQUIRE_FALSE(extra);
  CHECK(extra.status().message().find("has no credit limit") != std::string::npos);
}

TEST_CASE_METHOD(SettlementFixture, "closed card refunds free funds",
                 "[billing][cards][settlement]") {
  add_prepaid(2'000);  // five minutes at $0.04
  const Authorization held = start_call("call-a", 120);
  REQUIRE(held.held == 800);
  const WriteContext staff{"staff:ana", at("2026-03-10T14:00:30Z")};
  REQUIRE(close_card(*store_, kCard, "reported lost", staff));

  // The call in progress keeps its hold, and only the free funds are paid out.
  auto first = refund_card_balance(*store_, kCard, IdempotencyKey{"refund-1", "h1"}, staff);
  REQUIRE(first);
  CHECK(first->amount == 1'200);
  CHECK(first->funds.balance == 800);
  CHECK(first->funds.available == 0);
  auto repeat = refund_card_balance(*store_, kCard, IdempotencyKey{"refund-1", "h1"}, staff);
  REQUIRE(repeat);
  CHECK(repeat->amount == 1'200);
  CHECK(funds().balance == 800);
  auto held_only = refund_card_balance(*store_, kCard, std::nullopt, staff);
  REQUIRE_FALSE(held_only);
  CHECK(held_only.status().code() == StatusCode::FailedPrecondition);
  CHECK(held_only.status().message().find("$0.08 is held for calls in progress") !=
        std::string::npos);

  // The call settles against its hold, and what the hold did not use is refunded next.
  REQUIRE(complete_at("call-a", "2026-03-10T14:01:10Z", "end-a"));
  CHECK(funds().balance == 400);
  CHECK(uncollected("call-a") == 0);
  const WriteContext later{"staff:ana", at("2026-03-10T15:00:00Z")};
  auto rest = refund_card_balance(*store_, kCard, IdempotencyKey{"refund-2", "h2"}, later);
  REQUIRE(rest);
  CHECK(rest->amount == 400);
  CHECK(rest->funds.balance == 0);
  auto nothing = refund_card_balance(*store_, kCard, std::nullopt, later);
  REQUIRE_FALSE(nothing);
  CHECK(nothing.status().message() ==
        "card *********0001 has nothing left to refund; $0.04 was refunded at "
        "2026-03-10T15:00:00Z by staff:ana");
  auto check = store_->verify_records();
  REQUIRE(check);
  CHECK(check->problems.empty());
}

TEST_CASE_METHOD(SettlementFixture, "racing interim debits stay ordered",
                 "[billing][cards][settlement]") {
  add_prepaid(20'000);
  start_call("call-a", 600);  // connected at 14:00:10Z
  // Two debits sent at once on separate connections: the later one always succeeds, and the
  // earlier one succeeds only if the store commits it first.
  const char* times[] = {"2026-03-10T14:03:10Z", "2026-03-10T14:05:10Z"};
  std::vector<std::thread> threads;
  std::vector<Result<CardFunds>> results(2, Result<CardFunds>(StatusCode::Internal, "unset"));
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<SqliteStore> own = open();
      CallRecords records(own.get(), &rater_);
      results[i] = records.interim_debit("call-a", at(times[i]), "debit-" + std::to_string(i),
                                         WriteContext{"gateway", at(times[i])});
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  INFO(results[1].status().message());
  REQUIRE(results[1]);
  if (!results[0]) {
    CHECK(results[0].status().code() == StatusCode::InvalidArgument);
  }
  // Five minutes cost 2000 u, whichever way the two debits were ordered.
  CHECK(funds("call-a").debited_for_call == 2'000);
  REQUIRE(funds("call-a").last_debit_covered_until);
  CHECK(*funds("call-a").last_debit_covered_until == at("2026-03-10T14:05:10Z"));
}

TEST_CASE_METHOD(SettlementFixture, "interim debit capped at 24 hours",
                 "[billing][cards][settlement]") {
  add_prepaid(2'000);
  start_call("call-a", 120);  // connected at 14:00:10Z

  // One second past the 24-hour cap that a completion applies.
  auto late = debit_at("call-a", "2026-03-11T14:00:11Z", "interim-late");
  REQUIRE_FALSE(late);
  CHECK(late.status().code() == StatusCode::InvalidArgument);
  const std::string message = late.status().message();
  CHECK(message.find("call 'call-a'") != std::string::npos);
  CHECK(message.find("debit time 2026-03-11T14:00:11Z") != std::string::npos);
  CHECK(message.find("maximum of 86400 s (24 h)") != std::string::npos);
  CHECK(message.find("at most 2026-03-11T14:00:10Z") != std::string::npos);
  CHECK(funds("call-a").debited_for_call == 0);
  CHECK(funds("call-a").last_debit_covered_until == std::nullopt);

  // Exactly 24 hours is still debited, as a completion at that instant is billed.
  auto at_cap = debit_at("call-a", "2026-03-11T14:00:10Z", "interim-cap");
  REQUIRE(at_cap);
  CHECK(at_cap->debited_for_call == 800);

  // A gateway configured with a shorter maximum passes it in.
  auto shorter = CallRecords(store_.get(), &rater_)
                     .interim_debit("call-a", at("2026-03-11T14:00:20Z"), "interim-short",
                                    WriteContext{"gateway", at("2026-03-11T14:00:20Z")},
                                    std::chrono::hours(1));
  REQUIRE_FALSE(shorter);
  CHECK(shorter.status().message().find("maximum of 3600 s (1 h)") != std::string::npos);
}
