// Credits, disputes, the journal and the record chain on real SQLite files.
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/credit_policy.hpp"
#include "billing/credits.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::StatusCode;

namespace {

Instant at(const std::string& text) { return parse_instant(text).value(); }

class OperationsFixture {
 public:
  OperationsFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-ops-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    store_ = open();
  }
  ~OperationsFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path() const { return (dir_ / "ops.db").string(); }
  std::unique_ptr<SqliteStore> open() {
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open(path(), options);
    REQUIRE(opened);
    return std::move(opened).value();
  }
  SqliteStore& store() { return *store_; }

  // Posts a call billed to a line: usage $1.20 and tax $0.12, connected for `seconds`.
  void post_call(const std::string& id, std::int64_t seconds, const std::string& card = "") {
    CallRequest request;
    request.id = id;
    request.from = "+13125550107";
    request.to = "+12125550101";
    request.billed_number = card.empty() ? "+13125550107" : "";
    request.card_number = card;
    REQUIRE(store().create_call(request, WriteContext{"gateway", at("2026-03-10T14:00:00Z")}));
    REQUIRE(store().append_call_event(
        id, CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:10Z"), "gateway", {}, {}}));
    Store::PostingRequest posting;
    posting.posting.call_id = id;
    posting.posting.lines = {{"usage", "usage", 12'000}, {"tax", "tax", 1'200}};
    posting.posting.total = 13'200;
    posting.posting.conversation_seconds = seconds;
    posting.disconnect = CallEventRecord{CallEvent::Disconnected,
                                         at("2026-03-10T14:00:10Z") + std::chrono::seconds(seconds),
                                         "gateway",
                                         {},
                                         {}};
    if (!card.empty()) {
      posting.card_number = card;
      posting.card_entries = {LedgerEntry{LedgerKind::Debit, -13'200, id}};
    }
    REQUIRE(store().post_call(posting, IdempotencyKey{"post-" + id, "h-" + id},
                              WriteContext{"gateway", at("2026-03-10T14:05:00Z")}));
    require_balanced();
  }
  void require_balanced() {
    auto check = store().check_journal();
    REQUIRE(check);
    CHECK(check->total == 0);
    CHECK(check->imbalances.empty());
  }
  CallRecord call(const std::string& id) { return store().find_call(id).value().value(); }
  std::string raw(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path().c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(code == SQLITE_OK);
    return message;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

CreditAsk ask(const std::string& id, const std::string& call_id, std::int64_t line,
              CreditReason reason) {
  CreditAsk request;
  request.id = id;
  request.call_id = call_id;
  request.line_no = line;
  request.reason = reason;
  request.reported_at = at("2026-03-10T15:00:00Z");
  return request;
}

const WriteContext kStaff{"staff:alice", at("2026-03-10T16:00:00Z")};

}  // namespace

TEST_CASE_METHOD(OperationsFixture, "credit policy dropped call credits in full",
                 "[billing][credits]") {
  post_call("c1", 12);
  auto request = apply_credit_policy(CreditPolicy{}, call("c1"),
                                     ask("cr1", "c1", 1, CreditReason::DroppedCall));
  REQUIRE(request);
  CHECK(request->rule == "dropped-call");
  auto credit = store().request_credit(*request, IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE(credit);
  CHECK(credit->amount == 12'000);
  CHECK(credit->state == CreditState::Applied);
  require_balanced();
  CHECK(store().credit_remaining("c1", 1).value() == 0);
}

TEST_CASE_METHOD(OperationsFixture, "credit policy long call needs amount", "[billing][credits]") {
  post_call("c1", 300);
  auto request = apply_credit_policy(CreditPolicy{}, call("c1"),
                                     ask("cr1", "c1", 1, CreditReason::DroppedCall));
  REQUIRE_FALSE(request);
  CHECK(request.status().message().find("--amount") != std::string::npos);
}

TEST_CASE_METHOD(OperationsFixture, "credit policy wrong number window", "[billing][credits]") {
  post_call("c1", 300);
  CreditAsk inside = ask("cr1", "c1", 1, CreditReason::Misdialed);
  auto request = apply_credit_policy(CreditPolicy{}, call("c1"), inside);
  REQUIRE(request);
  CHECK(request->rule == "wrong-number");
  CreditAsk late = inside;
  late.reported_at = at("2026-03-12T15:00:00Z");
  auto refused = apply_credit_policy(CreditPolicy{}, call("c1"), late);
  REQUIRE_FALSE(refused);
  CHECK(refused.status().message().find("within 24 hours of its end") != std::string::npos);
  CHECK(refused.status().message().find("call c1 ended at ") != std::string::npos);
  CHECK(refused.status().message().find("--amount DOLLARS") != std::string::npos);
}

TEST_CASE_METHOD(OperationsFixture, "credit policy names why nothing is credited",
                 "[billing][credits]") {
  post_call("c1", 300);
  CreditAsk rerate = ask("cr1", "c1", 1, CreditReason::RatingError);
  rerate.rerated_amount = 12'000;  // what line 1 charged
  auto same = apply_credit_policy(CreditPolicy{}, call("c1"), rerate);
  REQUIRE_FALSE(same);
  CHECK(same.status().message().find("gives 1.20, the same as the 1.20 charged") !=
        std::string::npos);
  CHECK(same.status().message().find("request reason 'other'") != std::string::npos);
  rerate.rerated_amount = 13'000;
  auto higher = apply_credit_policy(CreditPolicy{}, call("c1"), rerate);
  REQUIRE_FALSE(higher);
  CHECK(higher.status().message().find("gives 1.30, more than the 1.20 charged") !=
        std::string::npos);
  // A staff amount does not skip the check.
  rerate.rerated_amount = 12'000;
  rerate.amount = 1'000;
  auto with_amount = apply_credit_policy(CreditPolicy{}, call("c1"), rerate);
  REQUIRE_FALSE(with_amount);
  CHECK(with_amount.status().code() == StatusCode::FailedPrecondition);
  rerate.amount = std::nullopt;
  rerate.rerated_amount = -100;
  auto negative = apply_credit_policy(CreditPolicy{}, call("c1"), rerate);
  REQUIRE_FALSE(negative);
  CHECK(negative.status().message().find("is negative") != std::string::npos);

  CallRecord unbilled = call("c1");
  unbilled.posting->lines.clear();
  auto nothing = apply_credit_policy(CreditPolicy{}, unbilled,
                                     ask("cr2", "c1", 1, CreditReason::DroppedCall));
  REQUIRE_FALSE(nothing);
  CHECK(nothing.status().message() ==
        "call c1 has no charge lines (it was billed nothing), so it has nothing to credit");
}

TEST_CASE_METHOD(OperationsFixture, "credit policy re-rate credits difference",
                 "[billing][credits]") {
  post_call("c1", 300);
  CreditAsk rerate = ask("cr1", "c1", 1, CreditReason::RatingError);
  rerate.rerated_amount = 9'000;
  rerate.rerated_with = "rate deck 'fixed' (effective 2026-01-01, sha256 0123456789ab)";
  auto request = apply_credit_policy(CreditPolicy{}, call("c1"), rerate);
  REQUIRE(request);
  CHECK(request->rule == "re-rate");
  CHECK(request->reason_text ==
        "re-rated to 0.90 against 1.20 charged with rate deck 'fixed' (effective 2026-01-01, "
        "sha256 0123456789ab)");
  auto credit = store().request_credit(*request, IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE(credit);
  CHECK(credit->amount == 3'000);
  require_balanced();
}

TEST_CASE_METHOD(OperationsFixture, "rating error amount capped at overcharge",
                 "[billing][credits]") {
  post_call("c1", 300);
  CreditAsk rerate = ask("cr1", "c1", 1, CreditReason::RatingError);
  rerate.rerated_amount = 9'000;
  rerate.amount = 3'100;
  auto too_much = apply_credit_policy(CreditPolicy{}, call("c1"), rerate);
  REQUIRE_FALSE(too_much);
  CHECK(too_much.status().code() == StatusCode::InvalidArgument);
  CHECK(too_much.status().message().find("an overcharge of 0.30") != std::string::npos);
  CHECK(too_much.status().message().find("request at most 0.30 as rating-error") !=
        std::string::npos);

  rerate.amount = 2'000;
  auto part = apply_credit_policy(CreditPolicy{}, call("c1"), rerate);
  REQUIRE(part);
  CHECK(part->rule == "manual");
  REQUIRE(part->amount);
  CHECK(*part->amount == 2'000);
}

TEST_CASE_METHOD(OperationsFixture, "rating error overcharge credited once",
                 "[billing][credits]") {
  // Re-rating finds $0.30 overcharged on a $1.20 line. Requests under new keys must not
  // credit that overcharge again, whether the policy or staff set the amount.
  post_call("c1", 300);
  CreditAsk rerate = ask("cr1", "c1", 1, CreditReason::RatingError);
  rerate.rerated_amount = 9'000;
  rerate.amount = 2'000;
  auto part = store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"), rerate).value(),
                                     IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE(part);
  CHECK(part->amount == 2'000);

  // The policy amount is what is left of the overcharge: $0.10.
  rerate.id = "cr2";
  rerate.amount.reset();
  auto rest = store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"), rerate).value(),
                                     IdempotencyKey{"k2", "h2"}, kStaff);
  REQUIRE(rest);
  CHECK(rest->amount == 1'000);

  rerate.id = "cr3";
  auto again = store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"), rerate).value(),
                                      IdempotencyKey{"k3", "h3"}, kStaff);
  REQUIRE_FALSE(again);
  CHECK(again.status().code() == StatusCode::FailedPrecondition);
  CHECK(again.status().message().find("overcharged $0.30") != std::string::npos);
  CHECK(again.status().message().find("no rating error is left to credit") != std::string::npos);

  rerate.id = "cr4";
  rerate.amount = 100;
  auto manual = store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"), rerate).value(),
                                       IdempotencyKey{"k4", "h4"}, kStaff);
  REQUIRE_FALSE(manual);
  CHECK(manual.status().code() == StatusCode::FailedPrecondition);

  // A retry of the first request under its key still returns the first credit.
  rerate.id = "cr1";
  rerate.amount = 2'000;
  auto retried = store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"), rerate).value(),
                                        IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE(retried);
  CHECK(retried->id == "cr1");
  CHECK(retried->amount == 2'000);
  require_balanced();
}

TEST_CASE_METHOD(OperationsFixture, "credit above threshold waits for approval",
                 "[billing][credits]") {
  post_call("c1", 300);
  CreditPolicy policy;
  policy.approval_above = 5'000;
  CreditAsk big = ask("cr1", "c1", 1, CreditReason::BadConnection);
  big.amount = 8'000;
  auto credit = store().request_credit(apply_credit_policy(policy, call("c1"), big).value(),
                                       IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE(credit);
  CHECK(credit->state == CreditState::Pending);
  CHECK(store().check_journal().value().entries == 3);  // the call only
  auto approved = store().decide_credit("cr1", true, "checked the trail",
                                        WriteContext{"staff:sup", at("2026-03-10T17:00:00Z")});
  REQUIRE(approved);
  CHECK(approved->state == CreditState::Applied);
  CHECK(approved->decided_by == "staff:sup");
  CHECK(store().check_journal().value().entries == 5);
  require_balanced();
  auto again = store().decide_credit("cr1", false, "", kStaff);
  REQUIRE_FALSE(again);
  CHECK(again.status().code() == StatusCode::FailedPrecondition);
}

TEST_CASE_METHOD(OperationsFixture, "rejected credit frees the line", "[billing][credits]") {
  post_call("c1", 300);
  CreditPolicy policy;
  policy.approval_above = 0;
  CreditAsk all = ask("cr1", "c1", 1, CreditReason::DuplicateCharge);
  all.amount = 12'000;
  REQUIRE(store().request_credit(apply_credit_policy(policy, call("c1"), all).value(),
                                 IdempotencyKey{"k1", "h1"}, kStaff));
  CHECK(store().credit_remaining("c1", 1).value() == 0);
  REQUIRE(store().decide_credit("cr1", false, "not a duplicate", kStaff));
  CHECK(store().credit_remaining("c1", 1).value() == 12'000);
  require_balanced();
}

TEST_CASE_METHOD(OperationsFixture, "repeated credit request applies once", "[billing][credits]") {
  post_call("c1", 300);
  CreditAsk part = ask("cr1", "c1", 1, CreditReason::BadConnection);
  part.amount = 2'000;
  const CreditRequest request = apply_credit_policy(CreditPolicy{}, call("c1"), part).value();
  auto first = store().request_credit(request, IdempotencyKey{"k1", "h1"}, kStaff);
  auto second = store().request_credit(request, IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(second->id == "cr1");
  CHECK(store().list_credits("c1").value().size() == 1);
  CHECK(store().credit_remaining("c1", 1).value() == 10'000);
  auto conflicting = store().request_credit(request, IdempotencyKey{"k1", "other"}, kStaff);
  CHECK_FALSE(conflicting);
}

TEST_CASE_METHOD(OperationsFixture, "credit larger than charge rejected", "[billing][credits]") {
  post_call("c1", 300);
  CreditAsk big = ask("cr1", "c1", 2, CreditReason::Other);
  big.reason_text = "goodwill";
  big.amount = 1'300;
  auto credit = store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"), big).value(),
                                       IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE_FALSE(credit);
  CHECK(credit.status().code() == StatusCode::FailedPrecondition);
  CHECK(credit.status().message().find("credit of $0.13 exceeds the $0.12 left to credit") !=
        std::string::npos);
  CHECK(store().list_credits("").value().empty());
  require_balanced();
}

TEST_CASE_METHOD(OperationsFixture, "credit other reason needs text", "[billing][credits]") {
  post_call("c1", 300);
  CreditAsk other = ask("cr1", "c1", 1, CreditReason::Other);
  other.amount = 100;
  auto credit =
      store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"), other).value(),
                             IdempotencyKey{"k1", "h1"}, kStaff);
  REQUIRE_FALSE(credit);
  CHECK(credit.status().code() == StatusCode::InvalidArgument);
}

TEST_CASE_METHOD(OperationsFixture, "concurrent credits never exceed charge",
                 "[billing][credits]") {
  post_call("c1", 300);
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  std::vector<bool> succeeded(kThreads, false);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto store = open();
      CreditRequest request;
      request.id = "cr" + std::to_string(i);
      request.call_id = "c1";
      request.line_no = 1;
      request.reason = CreditReason::BadConnection;
      request.amount = 5'000;
      for (int attempt = 0; attempt < 20; ++attempt) {
        auto credit =
            store->request_credit(request, IdempotencyKey{"k" + std::to_string(i), "h"}, kStaff);
        if (credit || credit.status().code() != StatusCode::Unavailable) {
          succeeded[static_cast<std::size_t>(i)] = credit.is_ok();
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  int granted = 0;
  for (bool ok : succeeded) {
    granted += ok ? 1 : 0;
  }
  CHECK(granted == 2);  // 2 x $0.50 fit in $1.20, a third does not
  CHECK(store().credit_remaining("c1", 1).value() == 2'000);
  require_balanced();
}

TEST_CASE_METHOD(OperationsFixture, "card refund restores balance", "[billing][credits]") {
  Card card;
  card.number = "4000123412341234";
  card.funding = CardFunding::Prepaid;
  card.pin = PinHash{"00", 1, "00"};
  REQUIRE(store().add_card(card, {LedgerEntry{LedgerKind::Credit, 200'000, ""}},
                           WriteContext{"staff:alice", at("2026-03-01T00:00:00Z")}));
  post_call("c1", 10, card.number);
  CHECK(store().card_funds(card.number, "").value().balance == 200'000 - 13'200);
  auto request = apply_credit_policy(CreditPolicy{}, call("c1"),
                                     ask("cr1", "c1", 1, CreditReason::DroppedCall));
  REQUIRE(store().request_credit(request.value(), IdempotencyKey{"k1", "h1"}, kStaff));
  CHECK(store().card_funds(card.number, "").value().balance == 200'000 - 1'200);
  require_balanced();
  bool card_account_seen = false;
  const auto balances = store().account_balances();
  REQUIRE(balances);
  for (const AccountBalance& account : *balances) {
    if (account.account == "card:" + card.number) {
      card_account_seen = true;
      // The card's liability: the opening balance less the call, plus the credit back, which
      // is minus the card's balance.
      CHECK(account.balance == -(200'000 - 1'200));
    }
  }
  CHECK(card_account_seen);
}

TEST_CASE_METHOD(OperationsFixture, "dispute resolved twice rejected", "[billing][disputes]") {
  post_call("c1", 300);
  DisputeOpenRequest open_request{"d1", "c1", 1, "I never made this call", 14};
  auto opened = store().open_dispute(open_request, IdempotencyKey{"dk1", "h"}, kStaff);
  REQUIRE(opened);
  CHECK(opened->state() == DisputeState::Open);
  REQUIRE(store().append_dispute_step("d1", DisputeAction::Note, "called customer back",
                                      std::nullopt, kStaff));
  REQUIRE(store().append_dispute_step("d1", DisputeAction::Escalated, "needs a supervisor",
                                      std::nullopt, kStaff));
  CreditRequest adjustment;
  adjustment.id = "cr-d1";
  adjustment.line_no = 1;
  adjustment.reason = CreditReason::BadConnection;
  adjustment.amount = 4'000;
  auto resolved = store().append_dispute_step("d1", DisputeAction::Adjusted, "line was noisy",
                                              adjustment, WriteContext{"staff:sup", kStaff.at});
  REQUIRE(resolved);
  CHECK(resolved->state() == DisputeState::Resolved);
  CHECK(resolved->steps.size() == 4);
  CHECK(resolved->steps.back().credit_id == "cr-d1");
  CHECK(store().find_credit("cr-d1").value()->dispute_id == "d1");
  require_balanced();
  auto twice = store().append_dispute_step("d1", DisputeAction::Denied, "", std::nullopt, kStaff);
  REQUIRE_FALSE(twice);
  CHECK(twice.status().code() == StatusCode::FailedPrecondition);
  CHECK(twice.status().message().find("already resolved (adjusted) by staff:sup") !=
        std::string::npos);
}

TEST_CASE_METHOD(OperationsFixture, "dispute open repeated takes effect once",
                 "[billing][disputes]") {
  post_call("c1", 300);
  DisputeOpenRequest request{"d1", "c1", std::nullopt, "charged twice", 3};
  REQUIRE(store().open_dispute(request, IdempotencyKey{"dk1", "h"}, kStaff));
  REQUIRE(store().open_dispute(request, IdempotencyKey{"dk1", "h"}, kStaff));
  const auto disputes = store().list_disputes();
  REQUIRE(disputes);
  REQUIRE(disputes->size() == 1);
  CHECK(disputes->front().due_at == kStaff.at + std::chrono::days(3));
  CHECK_FALSE(store().open_dispute(DisputeOpenRequest{"d2", "nope", std::nullopt, "x", 3},
                                   IdempotencyKey{"dk2", "h"}, kStaff));
}

TEST_CASE_METHOD(OperationsFixture, "reconciliation agrees for a day", "[billing][ledger]") {
  post_call("c1", 12);
  post_call("c2", 300);
  REQUIRE(store().request_credit(apply_credit_policy(CreditPolicy{}, call("c1"),
                                                     ask("cr1", "c1", 1, CreditReason::DroppedCall))
                                     .value(),
                                 IdempotencyKey{"k1", "h1"}, kStaff));
  auto day = store().reconcile_day("2026-03-10");
  REQUIRE(day);
  CHECK(day->calls_posted == 2);
  CHECK(day->call_totals == 26'400);
  CHECK(day->credit_amounts == 12'000);
  CHECK(day->agrees());
  raw("UPDATE charge_lines SET amount = 99999 WHERE call_id = 'c2' AND line_no = 1");
  auto tampered = store().reconcile_day("2026-03-10");
  REQUIRE(tampered);
  CHECK_FALSE(tampered->agrees());
  CHECK_FALSE(store().reconcile_day("2026-13-40"));
}

TEST_CASE_METHOD(OperationsFixture, "journal check reports imbalance", "[billing][ledger]") {
  post_call("c1", 300);
  raw("UPDATE journal_entries SET amount = amount + 1 WHERE seq = 1");
  auto check = store().check_journal();
  REQUIRE(check);
  CHECK(check->total == 1);
  REQUIRE(check->imbalances.size() == 1);
  CHECK(check->imbalances.front().journal_id == "call:c1");
}

TEST_CASE_METHOD(OperationsFixture, "record check passes untouched database", "[billing][audit]") {
  post_call("c1", 300);
  auto check = store().verify_records();
  REQUIRE(check);
  CHECK(check->problems.empty());
  CHECK(check->rows_checked >= 10);
}

TEST_CASE_METHOD(OperationsFixture, "record check finds edited charge", "[billing][audit]") {
  post_call("c1", 300);
  raw("UPDATE charge_lines SET amount = 99999 WHERE call_id = 'c1' AND line_no = 1");
  auto check = store().verify_records();
  REQUIRE(check);
  REQUIRE(check->problems.size() == 1);
  CHECK(check->problems[0].table == "charge_lines");
  CHECK(check->problems[0].kind == "edited");
  CHECK(check->problems[0].row_id == 1);
  CHECK(check->problems[0].detail.find("no longer matches its recorded SHA-256") !=
        std::string::npos);
}

TEST_CASE_METHOD(OperationsFixture, "record check finds removed row", "[billing][audit]") {
  post_call("c1", 300);
  raw("DELETE FROM call_events WHERE event = 'connected'");
  auto check = store().verify_records();
  REQUIRE(check);
  REQUIRE(check->problems.size() == 1);
  CHECK(check->problems[0].table == "call_events");
  CHECK(check->problems[0].kind == "removed");
}

TEST_CASE_METHOD(OperationsFixture, "record check finds swapped rows", "[billing][audit]") {
  post_call("c1", 300);
  raw("UPDATE call_events SET seq = -seq WHERE seq IN (1, 2);"
      "UPDATE call_events SET seq = 2 WHERE seq = -1;"
      "UPDATE call_events SET seq = 1 WHERE seq = -2;");
  auto check = store().verify_records();
  REQUIRE(check);
  REQUIRE_FALSE(check->problems.empty());
  CHECK(check->problems[0].table == "call_events");
  CHECK(check->problems[0].kind == "reordered");
}

TEST_CASE_METHOD(OperationsFixture, "record check finds edited chain", "[billing][audit]") {
  post_call("c1", 300);
  // Rewriting a recorded hash to match an edited row breaks the audit row's own hash.
  raw("UPDATE audit_log SET records = zeroblob(length(records)) WHERE action = 'post'");
  auto check = store().verify_records();
  REQUIRE(check);
  REQUIRE_FALSE(check->problems.empty());
  CHECK(check->problems[0].table == "audit_log");
  CHECK(check->problems[0].kind == "chain-broken");
}

TEST_CASE_METHOD(OperationsFixture, "dispute resolve repeated is one resolution",
                 "[billing][disputes]") {
  post_call("c1", 300);
  REQUIRE(store().open_dispute(DisputeOpenRequest{"d1", "c1", 1, "line was noisy", 14},
                               IdempotencyKey{"dk1", "h"}, kStaff));
  CreditRequest adjustment;
  adjustment.id = "cr-d1";
  adjustment.line_no = 1;
  adjustment.reason = CreditReason::BadConnection;
  adjustment.amount = 4'000;
  auto first =
      store().append_dispute_step("d1", DisputeAction::Adjusted, "noisy", adjustment, kStaff);
  REQUIRE(first);
  auto again =
      store().append_dispute_step("d1", DisputeAction::Adjusted, "noisy", adjustment, kStaff);
  REQUIRE(again);
  CHECK(again->steps.size() == first->steps.size());
  CHECK(again->steps.back().credit_id == "cr-d1");
  auto credits = store().list_credits("c1");
  REQUIRE(credits);
  CHECK(credits->size() == 1);
  require_balanced();

  // The same action with another amount is a different outcome.
  CreditRequest larger = adjustment;
  larger.amount = 5'000;
  auto different =
      store().append_dispute_step("d1", DisputeAction::Adjusted, "noisy", larger, kStaff);
  REQUIRE_FALSE(different);
  CHECK(different.status().code() == StatusCode::FailedPrecondition);
  CHECK(different.status().message().find("different outcome") != std::string::npos);
  auto denied = store().append_dispute_step("d1", DisputeAction::Denied, "", std::nullopt, kStaff);
  CHECK(denied.status().code() == StatusCode::FailedPrecondition);
  auto records = store().verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());
}

TEST_CASE_METHOD(OperationsFixture, "dispute deny repeated is one resolution",
                 "[billing][disputes]") {
  post_call("c1", 300);
  REQUIRE(store().open_dispute(DisputeOpenRequest{"d1", "c1", std::nullopt, "not mine", 14},
                               IdempotencyKey{"dk1", "h"}, kStaff));
  auto first = store().append_dispute_step("d1", DisputeAction::Denied, "caller confirmed",
                                           std::nullopt, kStaff);
  REQUIRE(first);
  auto again = store().append_dispute_step("d1", DisputeAction::Denied, "caller confirmed",
                                           std::nullopt, kStaff);
  REQUIRE(again);
  CHECK(again->steps.size() == 2);
  CreditRequest adjustment;
  adjustment.id = "cr-d1";
  adjustment.line_no = 1;
  adjustment.amount = 100;
  auto adjusted =
      store().append_dispute_step("d1", DisputeAction::Adjusted, "", adjustment, kStaff);
  CHECK(adjusted.status().code() == StatusCode::FailedPrecondition);
  CHECK(store().list_credits("c1").value().empty());
}

TEST_CASE("staff names refuse malformed UTF-8", "[billing][credits][utf8]") {
  // Overlong forms and surrogates passed the old check, which looked only at the byte shapes.
  const std::string bad = GENERATE(as<std::string>{}, "Zo\xE0\x80\xAB", "Zo\xED\xA0\x80",
                                   "Zo\xC0\xAF", "Zo\xF4\x90\x80\x80", "Zo\xC3");
  const relaygw::Status status = check_name_text("staff", bad);
  REQUIRE_FALSE(status);
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto lead = static_cast<unsigned char>(bad[2]);
  CHECK(status.message() == std::string("staff is not UTF-8 (byte 0x") + kHex[lead >> 4] +
                                kHex[lead & 0x0F] +
                                " at position 3); names and ids must be UTF-8 text, so retype "
                                "it as UTF-8 and retry");
  CHECK(check_name_text("staff", "Zo\xC3\xAB"));
}

TEST_CASE("staff name check rejects blank names", "[billing][credits]") {
  const std::string fix = "pass a name";
  const relaygw::Status empty = check_staff_name("--actor", "", fix);
  CHECK(empty.code() == StatusCode::InvalidArgument);
  CHECK(empty.message() == "--actor is empty; pass a name");
  // Spaces, no-break and ideographic spaces, and characters that display as nothing.
  const std::string blank = GENERATE(as<std::string>{}, " ", "   ", "\xC2\xA0", "\xE3\x80\x80",
                                     "\xE2\x80\x8B", " \xE2\x80\x8D ", "\xC2\xAD");
  INFO(blank);
  const relaygw::Status status = check_staff_name("--actor", blank, fix);
  CHECK(status.code() == StatusCode::InvalidArgument);
  CHECK(status.message() ==
        "--actor is blank: it contains only spaces or characters that display as nothing; pass "
        "a name");
}

TEST_CASE("staff name check rejects forging text", "[billing][credits]") {
  const std::string fix = "pass a name";
  // "ana" then RIGHT-TO-LEFT OVERRIDE, which would display "gro.live" as "evil.org".
  const relaygw::Status override_status =
      check_staff_name("field staff", "ana\xE2\x80\xAEgro.live", fix);
  CHECK(override_status.code() == StatusCode::InvalidArgument);
  CHECK(override_status.message() ==
        "field staff contains bidirectional control character U+202E at position 4; it changes "
        "the order in which the text around it is displayed, so remove it and retry");
  const relaygw::Status separator = check_staff_name("field staff",
                                                     "ana\xE2\x80\xA8"
                                                     "bob",
                                                     fix);
  CHECK(separator.message() ==
        "field staff contains line separator U+2028 at position 4; a name or id is one line, so "
        "remove the line break and retry");
  const relaygw::Status isolate = check_staff_name("field staff", "\xE2\x81\xA6", fix);
  CHECK(isolate.message().find("U+2066 at position 1") != std::string::npos);
  const relaygw::Status control = check_staff_name("field staff", " \x1b ", fix);
  CHECK(control.message().find("control character U+001B") != std::string::npos);
  const relaygw::Status too_long = check_staff_name("field staff", std::string(201, 's'), fix);
  CHECK(too_long.message().find("201 bytes long") != std::string::npos);

  CHECK(check_staff_name("field staff", std::string(200, 's'), fix));
  CHECK(check_staff_name("field staff", "Zo\xC3\xAB O'Neil", fix));
  // Arabic and Hebrew names display right to left with no control character.
  CHECK(check_staff_name("field staff", "\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF", fix));
  CHECK(check_staff_name("field staff", "\xD7\xA9\xD7\xA8\xD7\x94 k", fix));
}

namespace {

// A $0.60 adjustment of dispute d1 on line 1 that waits for approval above $0.50.
CreditRequest pending_adjustment() {
  CreditRequest adjustment;
  adjustment.id = "cr-d1";
  adjustment.line_no = 1;
  adjustment.reason = CreditReason::Other;
  adjustment.reason_text = "dispute d1 adjustment";
  adjustment.amount = 6'000;
  adjustment.approval_above = 5'000;
  return adjustment;
}

}  // namespace

TEST_CASE_METHOD(OperationsFixture, "dispute adjustment above threshold waits",
                 "[billing][disputes]") {
  post_call("c1", 300);
  REQUIRE(store().open_dispute(DisputeOpenRequest{"d1", "c1", 1, "line was noisy", 14},
                               IdempotencyKey{"dk1", "h"}, kStaff));
  const CreditRequest adjustment = pending_adjustment();
  auto resolved =
      store().append_dispute_step("d1", DisputeAction::Adjusted, "noisy", adjustment, kStaff);
  REQUIRE(resolved);
  CHECK(resolved->state() == DisputeState::PendingApproval);
  CHECK(to_string(resolved->state()) == "pending-approval");
  REQUIRE(resolved->steps.back().credit_state);
  CHECK(*resolved->steps.back().credit_state == CreditState::Pending);
  CHECK(store().find_credit("cr-d1").value()->state == CreditState::Pending);
  // Nothing is credited while the credit waits: the journal has no credits account yet.
  auto balances = store().account_balances();
  REQUIRE(balances);
  for (const AccountBalance& account : *balances) {
    CHECK(account.account.rfind("credits:", 0) == std::string::npos);
  }

  // Every other step waits for the decision, and a repeated resolve changes nothing.
  auto note = store().append_dispute_step("d1", DisputeAction::Note, "x", std::nullopt, kStaff);
  REQUIRE_FALSE(note);
  CHECK(note.status().code() == StatusCode::FailedPrecondition);
  CHECK(note.status().message().find("waits for approval") != std::string::npos);
  auto again =
      store().append_dispute_step("d1", DisputeAction::Adjusted, "noisy", adjustment, kStaff);
  REQUIRE(again);
  CHECK(again->steps.size() == resolved->steps.size());

  // The requester cannot approve the credit; another staff member can, and that resolves it.
  auto self = store().decide_credit("cr-d1", true, "", kStaff);
  REQUIRE_FALSE(self);
  CHECK(self.status().code() == StatusCode::PermissionDenied);
  CHECK(store().find_dispute("d1").value()->state() == DisputeState::PendingApproval);
  REQUIRE(store().decide_credit("cr-d1", true, "checked", WriteContext{"staff:sup", kStaff.at}));
  auto approved = store().find_dispute("d1");
  REQUIRE(approved);
  CHECK((*approved)->state() == DisputeState::Resolved);
  CHECK(*(*approved)->steps.back().credit_state == CreditState::Applied);
  require_balanced();
  auto records = store().verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());
}

TEST_CASE_METHOD(OperationsFixture, "rejected dispute adjustment reopens dispute",
                 "[billing][disputes]") {
  post_call("c1", 300);
  REQUIRE(store().open_dispute(DisputeOpenRequest{"d1", "c1", 1, "line was noisy", 14},
                               IdempotencyKey{"dk1", "h"}, kStaff));
  REQUIRE(store().append_dispute_step("d1", DisputeAction::Escalated, "needs a supervisor",
                                      std::nullopt, kStaff));
  const CreditRequest adjustment = pending_adjustment();
  REQUIRE(store().append_dispute_step("d1", DisputeAction::Adjusted, "noisy", adjustment, kStaff));
  REQUIRE(store().decide_credit("cr-d1", false, "too much", WriteContext{"staff:sup", kStaff.at}));
  auto reopened = store().find_dispute("d1");
  REQUIRE(reopened);
  CHECK((*reopened)->state() == DisputeState::Escalated);
  CHECK(*(*reopened)->steps.back().credit_state == CreditState::Rejected);

  // Below the threshold an adjustment is applied at once and resolves the dispute.
  CreditRequest smaller = adjustment;
  smaller.id = "cr-d1-2";
  smaller.amount = 2'000;
  auto resolved =
      store().append_dispute_step("d1", DisputeAction::Adjusted, "partial", smaller, kStaff);
  REQUIRE(resolved);
  CHECK(resolved->state() == DisputeState::Resolved);
  CHECK(*resolved->steps.back().credit_state == CreditState::Applied);
  require_balanced();
}

// Every amount a hint suggests is one the caller accepts: zero only where zero is valid, and
// nothing above the caller's maximum.
TEST_CASE("whole cents hint suggests accepted values", "[billing][credits]") {
  const relaygw::Status positive = check_whole_cents("amount", 10);
  REQUIRE_FALSE(positive);
  CHECK(positive.message() == "amount 0.0010 is not a whole number of cents; use 0.01");

  const relaygw::Status zero_valid = check_whole_cents("opening balance", 10, 0);
  REQUIRE_FALSE(zero_valid);
  CHECK(zero_valid.message() ==
        "opening balance 0.0010 is not a whole number of cents; use 0.00 or 0.01");

  const relaygw::Status capped = check_whole_cents("credit amount", 10'050, 100, 10'000);
  REQUIRE_FALSE(capped);
  CHECK(capped.message() == "credit amount 1.0050 is not a whole number of cents; use 1.00");

  const relaygw::Status both = check_whole_cents("amount", 12'345'678);
  REQUIRE_FALSE(both);
  // Every amount is written as format_money writes it, which parse_dollars_and_cents accepts.
  CHECK(both.message() ==
        "amount 1,234.5678 is not a whole number of cents; use 1,234.56 or "
        "1,234.57");

  const relaygw::Status none = check_whole_cents("amount", -10);
  REQUIRE_FALSE(none);
  CHECK(none.message() == "amount -0.0010 is not a whole number of cents; give dollars and cents");

  CHECK(check_whole_cents("amount", 12'300));
}

TEST_CASE("credit policy rejects unknown names", "[billing][credits]") {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"[credits]\napproval_abvoe = \"1.00\"\n",
       "unknown key credits.approval_abvoe; the known keys of [credits] are "
       "dropped_call_seconds, wrong_number_hours, approval_above"},
      {"[credit]\napproval_above = \"1.00\"\n",
       "unknown section [credit]; the known sections are [credits] and [disputes]"},
      {"approval_above = \"1.00\"\n", "unknown key approval_above"},
      {"[disputes]\ndue = 3\n", "the known keys of [disputes] are due_days"},
      // Out of range: a due date thousands of years out wraps to 1970, and an hour-long
      // "dropped" call would be credited in full without approval.
      {"[disputes]\ndue_days = 3000000\n",
       "disputes.due_days = 3000000; it must be a whole number from 1 to 365"},
      {"[disputes]\ndue_days = 0\n", "disputes.due_days = 0; it must be a whole number from 1"},
      {"[credits]\ndropped_call_seconds = 3601\n",
       "credits.dropped_call_seconds = 3601; it must be a whole number from 0 to 3600"},
      {"[credits]\nwrong_number_hours = \"24\"\n",
       "credits.wrong_number_hours is not an integer; it must be a whole number from 0 to 720"},
  };
  for (const Case& item : cases) {
    INFO(item.text);
    auto policy = parse_credit_policy(item.text, "pol.toml");
    REQUIRE_FALSE(policy);
    CHECK_THAT(policy.status().message(), Catch::Matchers::Contains("credit policy pol.toml"));
    CHECK_THAT(policy.status().message(), Catch::Matchers::Contains(item.expected));
  }

  auto bundled =
      load_credit_policy(std::string(RELAYGW_SOURCE_DIR) + "/data/policy/credit-policy.toml");
  INFO((bundled ? "" : bundled.status().message()));
  REQUIRE(bundled);
  CHECK(bundled->approval_above == 25 * kUnitsPerDollar);
}
