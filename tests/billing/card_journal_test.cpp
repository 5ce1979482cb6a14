// Prepaid card money in the double-entry journal on real SQLite files. Top-ups, opening
// balances and balance refunds post balanced journals between "cash" and the card's account.
// Schema migration 14 adds those journals to older databases and moves the receivables of
// calls stored with typed numbers to their E.164 accounts.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "billing/ledger.hpp"
#include "billing/migrations.hpp"
#include "billing/record_chain.hpp"
#include "billing/sqlite_store.hpp"
#include "billing_test_support.hpp"

using namespace relaygw::billing;

namespace {

constexpr const char* kRefundedCard = "6000000000000019";
constexpr const char* kFundedCard = "6000000000000027";

// The schema before call create stored E.164 numbers and before migration 13.
constexpr int kTypedNumbersSchema = 11;

Instant instant(const std::string& text) { return parse_instant(text).value(); }

class CardJournalFixture {
 public:
  CardJournalFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-card-journal-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~CardJournalFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string db() const { return (dir_ / "billing.db").string(); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  std::unique_ptr<SqliteStore> open(int schema = 0) {
    SqliteOptions options;
    options.create = true;
    options.migrate_to = schema;
    auto opened = SqliteStore::open(db(), options);
    REQUIRE(opened);
    return std::move(opened).value();
  }

  static void add_prepaid(SqliteStore& store, const std::string& number, Money opening,
                          const WriteContext& context) {
    Card card;
    card.number = number;
    card.funding = CardFunding::Prepaid;
    card.pin = PinHash{"00", 1, "00"};
    std::vector<LedgerEntry> entries;
    if (opening > 0) {
      entries.push_back(LedgerEntry{LedgerKind::Credit, opening, ""});
    }
    REQUIRE(store.add_card(card, entries, context));
  }

  // Posts one answered call requested at `requested`: usage $0.20 and tax $0.01.
  static Store::BatchPosting call(const std::string& id, const std::string& from,
                                  const std::string& billed, const std::string& requested) {
    Store::BatchPosting item;
    item.request.id = id;
    item.request.from = from;
    item.request.to = "2125550101";
    item.request.billed_number = billed;
    const Instant start = instant(requested);
    const Instant connected = start + std::chrono::seconds(10);
    item.events = {{CallEvent::Requested, start, "staff:test", {}, {}},
                   {CallEvent::Connected, connected, "staff:test", {}, {}},
                   {CallEvent::Disconnected, connected + std::chrono::seconds(120), "staff:test",
                    {},
                    {}}};
    item.posting.call_id = id;
    item.posting.session_seconds = 130;
    item.posting.conversation_seconds = 120;
    item.posting.billable_seconds = 120;
    item.posting.lines = {{"usage", "Usage", 2'000}, {"tax", "Federal excise tax", 100}};
    item.posting.total = 2'100;
    item.key = IdempotencyKey{"complete-" + id, id};
    return item;
  }

  // Builds a database at schema 11: calls stored with typed and E.164 numbers, a credit on a
  // typed call, and two prepaid cards with opening balances, a top-up and a balance refund.
  void build_schema_11() {
    auto store = open(kTypedNumbersSchema);
    REQUIRE(store->schema_version() == kTypedNumbersSchema);
    const WriteContext staff{"staff:test", instant("2026-03-07T00:00:00Z")};
    REQUIRE(store->post_completed_calls(
        {
            call("typed", "312-555-0107", "3125550107", "2026-03-02T15:00:00Z"),
            // Sent-paid: no billed number, so the calling line owes it.
            call("sent-paid", "(312) 555-0107", "", "2026-03-03T15:00:00Z"),
            call("gateway", "+13125550107", "+13125550107", "2026-03-04T15:00:00Z"),
        },
        staff));
    CreditRequest credit;
    credit.id = "cr-typed";
    credit.call_id = "typed";
    credit.line_no = 1;
    credit.reason = CreditReason::DroppedCall;
    credit.amount = 500;
    REQUIRE(store->request_credit(credit, IdempotencyKey{"credit-typed", "h"}, staff));

    const WriteContext march8{"staff:alice", instant("2026-03-08T10:00:00Z")};
    add_prepaid(*store, kRefundedCard, 100'000, march8);
    add_prepaid(*store, kFundedCard, 30'000, march8);
    REQUIRE(fund_card(*store, kRefundedCard, 50'000, IdempotencyKey{"topup-1", "h"}, march8));
    const WriteContext march9{"staff:bob", instant("2026-03-09T10:00:00Z")};
    REQUIRE(close_card(*store, kRefundedCard, "lost", march9));
    auto refund = refund_card_balance(*store, kRefundedCard, std::nullopt, march9);
    REQUIRE(refund);
    REQUIRE(refund->amount == 150'000);
  }

 private:
  std::filesystem::path dir_;
};

// Runs `sql` on the file through its own connection and returns the first column of the
// first row as text.
std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  std::string value;
  if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

std::map<std::string, Money> balances_of(SqliteStore& store) {
  auto balances = store.account_balances();
  REQUIRE(balances);
  std::map<std::string, Money> by_account;
  for (const AccountBalance& balance : *balances) {
    by_account[balance.account] = balance.balance;
  }
  return by_account;
}

void require_verified(SqliteStore& store) {
  auto journal = store.check_journal();
  REQUIRE(journal);
  for (const JournalImbalance& imbalance : journal->imbalances) {
    UNSCOPED_INFO("journal " << imbalance.journal_id << " sums to " << imbalance.sum);
  }
  CHECK(journal->balanced());
  auto records = store.verify_records();
  REQUIRE(records);
  for (const RecordProblem& problem : records->problems) {
    UNSCOPED_INFO(problem.table << " row " << problem.row_id << ": " << problem.detail);
  }
  CHECK(records->problems.empty());
  CHECK(store.verify_audit_chain());
}

void require_day_agrees(SqliteStore& store, const std::string& date) {
  auto day = store.reconcile_day(date);
  REQUIRE(day);
  for (const ReconciliationMismatch& mismatch : day->mismatches) {
    UNSCOPED_INFO(date << ": " << describe_mismatch(mismatch, format_four_places));
  }
  CHECK(day->agrees());
}

}  // namespace

TEST_CASE_METHOD(CardJournalFixture, "card top-up posts journal",
                 "[billing][cards][journal]") {
  auto store = open();
  const WriteContext staff{"staff:alice", instant("2026-03-10T09:00:00Z")};
  add_prepaid(*store, kFundedCard, 20'000, staff);
  REQUIRE(fund_card(*store, kFundedCard, 50'000, IdempotencyKey{"topup-1", "h"}, staff));

  const std::string account = card_account_for(kFundedCard);
  auto balances = balances_of(*store);
  CHECK(balances[account] == -70'000);
  CHECK(balances[std::string(kCashAccount)] == 70'000);
  CHECK(store->card_funds(kFundedCard, "").value().balance == 70'000);

  // Each top-up is one journal named after its card_ledger row, by the staff who made it.
  const std::string seq = raw_query(
      db(), "SELECT MAX(seq) FROM card_ledger WHERE kind = 'credit' AND amount = 50000");
  CHECK(raw_query(db(), "SELECT group_concat(account || ' ' || amount || ' ' || actor, '; ') "
                        "FROM journal_entries WHERE journal_id = 'card-topup:" +
                            seq + "'") == "cash 50000 staff:alice; " + account + " -50000 staff:alice");
  CHECK(raw_query(db(), "SELECT COUNT(DISTINCT journal_id) FROM journal_entries WHERE "
                        "journal_id LIKE 'card-topup:%'") == "2");
  // No journal id names the card.
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM journal_entries WHERE journal_id LIKE '%" +
                            std::string(kFundedCard) + "%'") == "0");

  require_verified(*store);
  auto day = store->reconcile_day("2026-03-10");
  REQUIRE(day);
  CHECK(day->agrees());
  CHECK(day->card_topups == 2);
  CHECK(day->card_topup_amounts == 70'000);
  CHECK(day->card_topup_journal == 70'000);
}

TEST_CASE_METHOD(CardJournalFixture, "retried top-up journals once",
                 "[billing][cards][journal]") {
  auto store = open();
  const WriteContext staff{"staff:alice", instant("2026-03-10T09:00:00Z")};
  add_prepaid(*store, kFundedCard, 0, staff);
  const IdempotencyKey key{"topup-retried", "h"};
  REQUIRE(fund_card(*store, kFundedCard, 50'000, key, staff));
  REQUIRE(fund_card(*store, kFundedCard, 50'000, key, staff));

  CHECK(raw_query(db(), "SELECT COUNT(*) FROM card_ledger") == "1");
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM journal_entries") == "2");
  auto balances = balances_of(*store);
  CHECK(balances[card_account_for(kFundedCard)] == -50'000);
  CHECK(balances[std::string(kCashAccount)] == 50'000);
  require_verified(*store);
}

TEST_CASE_METHOD(CardJournalFixture, "card refund posts journal", "[billing][cards][journal]") {
  auto store = open();
  const WriteContext staff{"staff:alice", instant("2026-03-10T09:00:00Z")};
  add_prepaid(*store, kRefundedCard, 40'000, staff);
  const WriteContext later{"staff:bob", instant("2026-03-11T09:00:00Z")};
  REQUIRE(close_card(*store, kRefundedCard, "lost", later));
  const IdempotencyKey key{"refund-1", "h"};
  auto refund = refund_card_balance(*store, kRefundedCard, key, later);
  REQUIRE(refund);
  CHECK(refund->amount == 40'000);
  // A retry returns the first refund and journals nothing more.
  REQUIRE(refund_card_balance(*store, kRefundedCard, key, later));

  const std::string seq = raw_query(db(), "SELECT seq FROM card_ledger WHERE kind = 'refund'");
  const std::string account = card_account_for(kRefundedCard);
  CHECK(raw_query(db(), "SELECT group_concat(account || ' ' || amount || ' ' || at, '; ') FROM "
                        "journal_entries WHERE journal_id = 'card-refund:" +
                            seq + "'") ==
        "cash -40000 2026-03-11T09:00:00Z; " + account + " 40000 2026-03-11T09:00:00Z");
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM journal_entries WHERE journal_id LIKE "
                        "'card-refund:%'") == "2");
  auto balances = balances_of(*store);
  CHECK(balances[account] == 0);
  CHECK(balances[std::string(kCashAccount)] == 0);
  require_verified(*store);

  auto day = store->reconcile_day("2026-03-11");
  REQUIRE(day);
  CHECK(day->agrees());
  CHECK(day->card_refunds == 1);
  CHECK(day->card_refund_amounts == 40'000);
  CHECK(day->card_refund_journal == 40'000);
  CHECK(day->card_topups == 0);
}

TEST_CASE_METHOD(CardJournalFixture, "missing top-up journal found by reconcile",
                 "[billing][cards][journal]") {
  auto store = open();
  add_prepaid(*store, kFundedCard, 20'000, {"staff:alice", instant("2026-03-10T09:00:00Z")});
  store.reset();
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db().c_str(), &handle) == SQLITE_OK);
  REQUIRE(sqlite3_exec(handle, "DELETE FROM journal_entries", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(handle);

  store = open();
  auto day = store->reconcile_day("2026-03-10");
  REQUIRE(day);
  CHECK_FALSE(day->agrees());
  CHECK(day->card_topup_amounts == 20'000);
  CHECK(day->card_topup_journal == 0);
  REQUIRE(day->mismatches.size() == 1);
  CHECK(describe_mismatch(day->mismatches.front(), format_four_places) ==
        "card top-ups against top-up journal entries: 2.0000 against 0.0000");
  store.reset();

  // The text report prints dollars and cents, and the JSON report keeps four places.
  const std::string input = file("stdin.txt");
  std::ofstream(input) << "";
  const auto text =
      testing::run_relaygw("audit reconcile --db '" + db() + "' --date 2026-03-10", input);
  INFO(text.output);
  CHECK(text.status == 1);
  CHECK(text.output.find("  MISMATCH: card top-ups against top-up journal entries: $2.00 "
                         "against $0.00\n") != std::string::npos);
  CHECK(text.output.find("2.0000") == std::string::npos);
  const auto json =
      testing::run_relaygw("audit reconcile --db '" + db() + "' --date 2026-03-10 --json", input);
  INFO(json.output);
  CHECK(json.status == 1);
  const nlohmann::json report =
      nlohmann::json::parse(json.output.substr(0, json.output.rfind('}') + 1));
  REQUIRE(report["mismatches"].size() == 1);
  CHECK(report["mismatches"][0] ==
        "card top-ups against top-up journal entries: 2.0000 against 0.0000");
  CHECK(report["card_topup_amounts"] == "2.0000");
}

TEST_CASE_METHOD(CardJournalFixture, "overflowing journal sum names table",
                 "[billing][cards][journal]") {
  // Amounts written by hand that no real charge reaches make SQLite's SUM overflow. The
  // commands that sum name the table and the fix instead of SQLite's bare message.
  auto store = open();
  add_prepaid(*store, kFundedCard, 20'000, {"staff:alice", instant("2026-03-10T09:00:00Z")});
  store.reset();
  raw_query(db(), "UPDATE journal_entries SET amount = 9223372036854775807");

  store = open();
  auto day = store->reconcile_day("2026-03-10");
  REQUIRE_FALSE(day);
  CHECK(day.status().code() == relaygw::StatusCode::Corrupt);
  CHECK(day.status().message().find("summing amounts in table journal_entries of database '" +
                                    db() + "' overflowed the 64-bit integer range") !=
        std::string::npos);
  CHECK(day.status().message().find("run `relaygw audit verify --db " + db() + "`") !=
        std::string::npos);
  auto journal = store->check_journal();
  REQUIRE_FALSE(journal);
  CHECK(journal.status().message().find("table journal_entries") != std::string::npos);
  store.reset();

  const std::string input = file("stdin.txt");
  std::ofstream(input) << "";
  const auto reconciled =
      testing::run_relaygw("audit reconcile --db '" + db() + "' --date 2026-03-10", input);
  INFO(reconciled.output);
  CHECK(reconciled.status == 1);
  CHECK(reconciled.output.find("summing amounts in table") != std::string::npos);
  CHECK(reconciled.output.find("run `relaygw audit verify --db ") != std::string::npos);

  // audit verify reports the changed rows first, and the overflow as a later problem.
  const auto verified = testing::run_relaygw("audit verify --db '" + db() + "' --json", input);
  INFO(verified.output);
  CHECK(verified.status == 1);
  const nlohmann::json report =
      nlohmann::json::parse(verified.output.substr(0, verified.output.rfind('}') + 1));
  REQUIRE(report["problems"].size() >= 2);
  CHECK(report["problems"][0]["table"] == "journal_entries");
  CHECK(report["problems"][0].contains("row_id"));
  CHECK(report["problems"].back()["detail"].get<std::string>().find("overflowed") !=
        std::string::npos);
  CHECK(report["journal_total"].is_null());
}

TEST_CASE_METHOD(CardJournalFixture, "reconcile json reports overflow",
                 "[billing][cards][journal]") {
  auto store = open();
  add_prepaid(*store, kFundedCard, 20'000, {"staff:alice", instant("2026-03-10T09:00:00Z")});
  store.reset();
  raw_query(db(), "UPDATE journal_entries SET amount = 9223372036854775807");
  const std::string input = file("stdin.txt");
  std::ofstream(input) << "";

  // Standard output contains one JSON object, which cerr's flush of cout puts before the message
  // on standard error.
  const auto reconciled =
      testing::run_relaygw("audit reconcile --db '" + db() + "' --date 2026-03-10 --json", input);
  INFO(reconciled.output);
  CHECK(reconciled.status == 1);
  REQUIRE(reconciled.output.rfind('}') != std::string::npos);
  const nlohmann::json report = nlohmann::json::parse(
      reconciled.output.substr(0, reconciled.output.rfind('}') + 1), nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["date"] == "2026-03-10");
  CHECK(report["agrees"] == false);
  CHECK(report["error"]["code"] == "corrupt");
  CHECK(report["error"]["message"].get<std::string>().find(
            "summing amounts in table journal_entries") != std::string::npos);

  // A database that cannot be opened is reported as JSON too, by audit verify as well.
  const std::string missing = file("missing.db");
  for (const std::string command : {"audit reconcile --date 2026-03-10", "audit verify"}) {
    const auto failed = testing::run_relaygw(command + " --db '" + missing + "' --json", input);
    INFO(failed.output);
    CHECK(failed.status == 1);
    REQUIRE(failed.output.rfind('}') != std::string::npos);
    const nlohmann::json error = nlohmann::json::parse(
        failed.output.substr(0, failed.output.rfind('}') + 1), nullptr, false);
    REQUIRE(error.is_object());
    CHECK(error["error"]["code"] == "not-found");
    CHECK(error["error"]["message"].get<std::string>().find(missing) != std::string::npos);
  }
}

TEST_CASE_METHOD(CardJournalFixture, "schema 11 journals back-filled",
                 "[billing][cards][journal][migration]") {
  build_schema_11();
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM journal_entries WHERE journal_id LIKE 'card-%'") ==
        "0");

  const auto before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto store = open();
  const auto after = std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now());
  REQUIRE(store->schema_version() == latest_schema_version());

  auto balances = balances_of(*store);
  // Typed receivables are empty, and their calls and the credit are on the E.164 line: three
  // calls of $0.21 less the $0.05 credit.
  CHECK(balances["receivable:3125550107"] == 0);
  CHECK(balances["receivable:(312) 555-0107"] == 0);
  CHECK(balances["receivable:+13125550107"] == 3 * 2'100 - 500);
  // The refunded card's account is empty. The other card's account and cash contain its
  // opening balance.
  CHECK(balances[card_account_for(kRefundedCard)] == 0);
  CHECK(balances[card_account_for(kFundedCard)] == -30'000);
  CHECK(balances[std::string(kCashAccount)] == 30'000);
  CHECK(balances["revenue:usage"] == -3 * 2'000);

  // Top-ups and the refund keep their own instants; the moves are dated when the migration ran.
  CHECK(raw_query(db(), "SELECT COUNT(DISTINCT journal_id) FROM journal_entries WHERE "
                        "journal_id LIKE 'card-topup:%' AND actor = 'migration' AND "
                        "at = '2026-03-08T10:00:00Z'") == "3");
  CHECK(raw_query(db(), "SELECT COUNT(DISTINCT journal_id) FROM journal_entries WHERE "
                        "journal_id LIKE 'card-refund:%' AND actor = 'migration' AND "
                        "at = '2026-03-09T10:00:00Z'") == "1");
  CHECK(raw_query(db(), "SELECT group_concat(journal_id, ' ') FROM (SELECT DISTINCT journal_id "
                        "FROM journal_entries WHERE journal_id LIKE 'reclass:e164:%' "
                        "ORDER BY journal_id)") ==
        "reclass:e164:call:sent-paid reclass:e164:call:typed reclass:e164:credit:cr-typed");
  const Instant moved_at = instant(raw_query(
      db(), "SELECT MIN(at) FROM journal_entries WHERE journal_id LIKE 'reclass:e164:%'"));
  CHECK(moved_at >= before);
  CHECK(moved_at <= after);
  // The old rows stay as they were.
  CHECK(raw_query(db(), "SELECT amount FROM journal_entries WHERE journal_id = 'call:typed' AND "
                        "account = 'receivable:3125550107'") == "2100");

  auto backfill = store->journal_backfill();
  REQUIRE(backfill);
  REQUIRE(backfill->has_value());
  CHECK((*backfill)->card_topups == 3);
  CHECK((*backfill)->card_refunds == 1);
  CHECK((*backfill)->receivable_journals == 3);

  require_verified(*store);
  for (const char* date : {"2026-03-02", "2026-03-07", "2026-03-08", "2026-03-09"}) {
    require_day_agrees(*store, date);
  }
  auto topup_day = store->reconcile_day("2026-03-08");
  REQUIRE(topup_day);
  CHECK(topup_day->card_topups == 3);
  CHECK(topup_day->card_topup_journal == 180'000);

  // A credit applied after the migration goes to the E.164 receivable too.
  CreditRequest credit;
  credit.id = "cr-after";
  credit.call_id = "typed";
  credit.line_no = 1;
  credit.reason = CreditReason::DroppedCall;
  credit.amount = 300;
  REQUIRE(store->request_credit(credit, IdempotencyKey{"credit-after", "h"},
                                {"staff:test", instant("2026-04-01T00:00:00Z")}));
  balances = balances_of(*store);
  CHECK(balances["receivable:3125550107"] == 0);
  CHECK(balances["receivable:+13125550107"] == 3 * 2'100 - 800);
}

TEST_CASE_METHOD(CardJournalFixture, "journal back-fill runs once",
                 "[billing][cards][journal][migration]") {
  build_schema_11();
  open().reset();
  const std::string entries = raw_query(db(), "SELECT COUNT(*) FROM journal_entries");
  const std::string audit_rows = raw_query(db(), "SELECT COUNT(*) FROM audit_log");

  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db().c_str(), &handle) == SQLITE_OK);
  REQUIRE(sqlite3_exec(handle, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto again = backfill_journals(handle, instant("2026-05-01T00:00:00Z"));
  REQUIRE(sqlite3_exec(handle, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(handle);
  REQUIRE(again);
  CHECK(again->card_topups == 0);
  CHECK(again->card_refunds == 0);
  CHECK(again->receivable_journals == 0);
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM journal_entries") == entries);
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM audit_log") == audit_rows);
}

TEST_CASE_METHOD(CardJournalFixture, "db migrate prints journal back-fill",
                 "[billing][commands][journal][migration]") {
  build_schema_11();
  const std::string input = file("stdin.txt");
  std::ofstream(input) << "";
  const auto migrated = testing::run_relaygw("db migrate --db '" + db() + "'", input);
  INFO(migrated.output);
  CHECK(migrated.status == 0);
  CHECK(migrated.output.find("journal: 3 prepaid card top-ups and 1 card balance refunds "
                             "journaled; 3 journals moved from typed receivable accounts to "
                             "E.164 accounts") != std::string::npos);
  CHECK(migrated.output.find(kRefundedCard) == std::string::npos);

  const auto verified = testing::run_relaygw("audit verify --db '" + db() + "'", input);
  INFO(verified.output);
  CHECK(verified.status == 0);
  CHECK(verified.output.find("audit verify: ok") != std::string::npos);

  const auto reconciled =
      testing::run_relaygw("audit reconcile --db '" + db() + "' --date 2026-03-08", input);
  INFO(reconciled.output);
  CHECK(reconciled.status == 0);
  CHECK(reconciled.output.find("card top-ups      3 totalling $18.00 (journal $18.00)") !=
        std::string::npos);
  CHECK(reconciled.output.find(kFundedCard) == std::string::npos);

  const auto again = testing::run_relaygw("db migrate --db '" + db() + "'", input);
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK(again.output.find("nothing to migrate") != std::string::npos);
}

TEST_CASE_METHOD(CardJournalFixture, "prepaid card call journals balance",
                 "[billing][cards][journal][commands]") {
  const std::string pin = file("pin");
  std::ofstream(pin) << "1234\n";
  const std::string db_option = "--db '" + db() + "' ";
  auto run = [&](const std::string& arguments) {
    const auto ran = testing::run_relaygw(arguments, pin);
    INFO(arguments << "\n" << ran.output);
    CHECK(ran.output.find(kFundedCard) == std::string::npos);
    REQUIRE(ran.status == 0);
    return ran;
  };
  run("db init " + db_option + "--actor staff:test");
  run("card add " + db_option + "--number " + kFundedCard + " --balance 20.00");
  run("card fund " + db_option + "--number " + kFundedCard + " --amount 5.00 --key topup-1");
  run("card fund " + db_option + "--number " + kFundedCard + " --amount 5.00 --key topup-1");
  run("call create " + db_option +
      "--id c1 --at 2026-03-10T17:29:00Z --from 3125550107 --to 2125550101 "
      "--billing calling-card --card " +
      kFundedCard);
  run("call event " + db_option + "--id c1 --event connected --at 2026-03-10T17:30:00Z");
  run("call complete " + db_option + "--id c1 --key c1-end --at 2026-03-10T17:40:00Z");

  Money total = 0;
  {
    auto store = open();
    auto call = store->find_call("c1");
    REQUIRE(call);
    REQUIRE(call->has_value());
    REQUIRE((*call)->posting);
    total = (*call)->posting->total;
    REQUIRE(total > 0);
    const Money card_balance = store->card_funds(kFundedCard, "").value().balance;
    CHECK(card_balance == 250'000 - total);
    // The card's account is minus its ledger balance: what the holder paid and has not used.
    auto balances = balances_of(*store);
    CHECK(balances[card_account_for(kFundedCard)] == -card_balance);
    CHECK(balances[std::string(kCashAccount)] == 250'000);
  }

  run("card close " + db_option + "--number " + kFundedCard + " --reason lost");
  run("card refund " + db_option + "--number " + kFundedCard + " --key refund-1");
  auto store = open();
  auto balances = balances_of(*store);
  CHECK(balances[card_account_for(kFundedCard)] == 0);
  CHECK(balances[std::string(kCashAccount)] == total);
  require_verified(*store);
  store.reset();

  const auto call_day = run("audit reconcile " + db_option + "--date 2026-03-10 --json");
  CHECK(nlohmann::json::parse(call_day.output).at("agrees") == true);
  // The card commands store the time they ran, so their day is read from the ledger.
  const std::string card_date =
      raw_query(db(), "SELECT substr(MIN(at), 1, 10) FROM card_ledger WHERE kind = 'credit'");
  const auto card_day = run("audit reconcile " + db_option + "--date " + card_date + " --json");
  const auto report = nlohmann::json::parse(card_day.output);
  CHECK(report.at("agrees") == true);
  CHECK(report.at("card_topups") == 2);
  CHECK(report.at("card_topup_journal") == "25.0000");
  CHECK(report.at("card_refunds") == 1);
  CHECK(report.at("card_refund_journal") == format_dollars(250'000 - total, 4));
  run("audit verify " + db_option);
}
