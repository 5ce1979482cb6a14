// Re-rating for rating-error credits, and the relay service fund accounts in the journal.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/call_records.hpp"
#include "billing/credit_policy.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::StatusCode;

namespace {

const NumberPlan& number_plan() {
  static const NumberPlan plan = [] {
    auto loaded = NumberPlan::load(std::string(RELAYGW_SOURCE_DIR) + "/data");
    if (!loaded) {
      FAIL(loaded.status().message());
    }
    return std::move(loaded).value();
  }();
  return plan;
}

// `per_minute` everywhere in 60 s increments; the relay fund pays $3.10 a minute for
// relay-tty and $1.20 for captioned calls.
std::string deck_text(const std::string& per_minute) {
  std::string text =
      "name = \"relay fund test\"\n[[version]]\nname = \"v1\"\n"
      "effective = 2020-01-01\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"" + per_minute + "\" }\n";
  }
  text +=
      "[version.accessibility]\n"
      "relay_fund_per_minute = { relay-tty = \"3.1000\", captioned = \"1.2000\" }\n";
  return text;
}

RateDeck deck_at(const std::string& per_minute) {
  auto deck = RateDeck::parse(deck_text(per_minute), "relay-fund-test.toml");
  if (!deck) {
    FAIL(deck.status().message());
  }
  return std::move(deck).value();
}

Instant at(const std::string& text) { return parse_instant(text).value(); }

class FundFixture {
 public:
  FundFixture()
      : deck_(deck_at("0.1000")),
        wrong_deck_(deck_at("0.3000")),
        rater_(&number_plan(), &deck_),
        wrong_rater_(&number_plan(), &wrong_deck_) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-fund-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "fund.db").string(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
  }
  ~FundFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  CallRecords calls() { return CallRecords(store_.get(), &rater_); }
  CallRecords wrong_calls() { return CallRecords(store_.get(), &wrong_rater_); }
  SqliteStore& store() { return *store_; }

  // A sent-paid call connected at 14:00:00 and completed `seconds` later through `records`.
  CallPosting post(const CallRecords& records, const std::string& id, AccessTag access,
                   std::int64_t seconds) {
    CallRequest request;
    request.id = id;
    request.from = "3125550107";
    request.to = "2125550101";
    request.access = access;
    const WriteContext context{"gateway", at("2026-03-10T13:59:00Z")};
    REQUIRE(records.open(request, context));
    REQUIRE(records.add_event(
        id, CallEventRecord{CallEvent::Authorized, at("2026-03-10T13:59:30Z"), "gateway", {}, {}}));
    REQUIRE(records.add_event(
        id, CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:00Z"), "gateway", {}, {}}));
    const Instant ended = at("2026-03-10T14:00:00Z") + std::chrono::seconds(seconds);
    auto posted = records.complete(Completion{id, ended, false, "complete-" + id},
                                   WriteContext{"gateway", ended});
    REQUIRE(posted);
    return *posted;
  }

  Money balance_of(const std::string& account) {
    auto balances = store().account_balances();
    REQUIRE(balances);
    for (const AccountBalance& balance : *balances) {
      if (balance.account == account) {
        return balance.balance;
      }
    }
    return 0;
  }

 private:
  RateDeck deck_;
  RateDeck wrong_deck_;
  Rater rater_;
  Rater wrong_rater_;
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

CreditAsk rating_error(const std::string& call_id) {
  CreditAsk ask;
  ask.id = "cr-" + call_id;
  ask.call_id = call_id;
  ask.line_no = 1;
  ask.reason = CreditReason::RatingError;
  ask.reported_at = at("2026-03-11T09:00:00Z");
  return ask;
}

}  // namespace

TEST_CASE_METHOD(FundFixture, "rating error credit re-rates call", "[billing][credits]") {
  // Posted with a deck that charged $0.30 a minute; the current deck charges $0.10.
  const CallPosting posted = post(wrong_calls(), "c1", AccessTag::None, 300);
  REQUIRE(posted.lines.size() == 1);
  CHECK(posted.lines[0].amount == 15'000);
  auto record = store().find_call("c1");
  REQUIRE(record);
  REQUIRE(record->has_value());

  auto request = apply_credit_policy(CreditPolicy{}, **record, rating_error("c1"), calls());
  REQUIRE(request);
  CHECK(request->rule == "re-rate");
  REQUIRE(request->amount);
  CHECK(*request->amount == 15'000 - 5'000);
  auto credit = store().request_credit(*request, IdempotencyKey{"k1", "h1"},
                                       WriteContext{"staff:alice", at("2026-03-11T09:00:00Z")});
  REQUIRE(credit);
  CHECK(credit->state == CreditState::Applied);
  CHECK(credit->amount == 10'000);
}

TEST_CASE_METHOD(FundFixture, "rating error credit uses stored deck", "[billing][credits]") {
  post(wrong_calls(), "c1", AccessTag::None, 300);
  auto record = store().find_call("c1");
  REQUIRE(record);
  const std::string data_dir = std::string(RELAYGW_SOURCE_DIR) + "/data";
  auto no_deck =
      apply_credit_policy(CreditPolicy{}, **record, rating_error("c1"), store(), data_dir);
  CHECK(no_deck.status().code() == StatusCode::FailedPrecondition);

  const std::string text = deck_text("0.1000");
  REQUIRE(
      store().add_rate_deck(StoredRateDeck{"fixed", text, sha256_hex(text), "", "", "fixed.toml"},
                            WriteContext{"staff:alice", at("2026-03-11T08:00:00Z")}));
  auto request =
      apply_credit_policy(CreditPolicy{}, **record, rating_error("c1"), store(), data_dir);
  REQUIRE(request);
  CHECK(request->rule == "re-rate");
  REQUIRE(request->amount);
  CHECK(*request->amount == 10'000);
}

TEST_CASE_METHOD(FundFixture, "re-rate uses actual duration", "[billing][credits]") {
  post(calls(), "c1", AccessTag::None, 300);
  auto rerated = calls().rerate("c1");
  REQUIRE(rerated);
  CHECK(rerated->total == 5'000);
  CHECK(rerated->billable_seconds == 300);
  REQUIRE(rerated->conversation_seconds);
  CHECK(*rerated->conversation_seconds == 300);

  // The same deck re-rates to the charge, so there is nothing to credit.
  auto record = store().find_call("c1");
  REQUIRE(record);
  auto request = apply_credit_policy(CreditPolicy{}, **record, rating_error("c1"), calls());
  CHECK(request.status().code() == StatusCode::FailedPrecondition);
  CHECK(request.status().message().find("so the charge was right") != std::string::npos);
}

TEST_CASE_METHOD(FundFixture, "re-rate rejects unposted call", "[billing][credits]") {
  CallRequest request;
  request.id = "open-call";
  request.from = "3125550107";
  request.to = "2125550101";
  REQUIRE(calls().open(request, WriteContext{"gateway", at("2026-03-10T13:59:00Z")}));
  auto rerated = calls().rerate("open-call");
  CHECK(rerated.status().code() == StatusCode::FailedPrecondition);
  CHECK(calls().rerate("no-such-call").status().code() == StatusCode::NotFound);
}

TEST_CASE_METHOD(FundFixture, "relay call posts relay fund", "[billing][ledger]") {
  // 450 s are 75 tenths of a minute: 7.5 minutes at $3.10 is $23.25.
  const CallPosting posted = post(calls(), "r1", AccessTag::RelayTty, 450);
  CHECK(posted.relay_fund == 232'500);
  CHECK(posted.total == 8 * 1'000);
  CHECK(balance_of("relay-fund:relay-tty") == 232'500);
  CHECK(balance_of("revenue:relay-service") == -232'500);
  // A sent-paid call is owed by the calling line.
  const std::string caller = store().find_call("r1").value().value().request.from;
  CHECK(balance_of("receivable:" + caller) == 8'000);

  // 61 s are 10 tenths, because only 3 seconds or more round up: $1.20 from the captioned fund.
  post(calls(), "r2", AccessTag::Captioned, 61);
  CHECK(balance_of("relay-fund:captioned") == 12'000);
  auto journal = store().check_journal();
  REQUIRE(journal);
  CHECK(journal->balanced());
}

TEST_CASE_METHOD(FundFixture, "voice call posts no relay fund", "[billing][ledger]") {
  const CallPosting posted = post(calls(), "v1", AccessTag::None, 450);
  CHECK(posted.relay_fund == 0);
  const CallPosting tty = post(calls(), "t1", AccessTag::Tty, 450);
  CHECK(tty.relay_fund == 0);
  CHECK(balance_of("revenue:relay-service") == 0);
}

TEST_CASE_METHOD(FundFixture, "reconcile shows relay funds", "[billing][ledger]") {
  post(calls(), "r1", AccessTag::RelayTty, 450);
  post(calls(), "r2", AccessTag::Captioned, 61);
  post(calls(), "v1", AccessTag::None, 60);
  auto day = store().reconcile_day("2026-03-10");
  REQUIRE(day);
  CHECK(day->agrees());
  CHECK(day->relay_fund_entries == 232'500 + 12'000);
  CHECK(day->relay_service_revenue == 232'500 + 12'000);
  REQUIRE(day->relay_funds.size() == 2);
  CHECK(day->relay_funds[0].account == "relay-fund:captioned");
  CHECK(day->relay_funds[0].balance == 12'000);
  CHECK(day->relay_funds[1].account == "relay-fund:relay-tty");
  CHECK(day->relay_funds[1].balance == 232'500);
}

TEST_CASE("deck rejects relay fund for voice", "[billing][deck]") {
  std::string text = "name = \"bad\"\n[[version]]\nname = \"v1\"\neffective = 2020-01-01\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"0.1000\" }\n";
  }
  text += "[version.accessibility]\nrelay_fund_per_minute = { none = \"1.0000\" }\n";
  auto deck = RateDeck::parse(text, "bad.toml");
  REQUIRE_FALSE(deck);
  CHECK(deck.status().message().find("relay_fund_per_minute.none") != std::string::npos);
}
