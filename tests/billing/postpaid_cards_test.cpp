// Postpaid calling cards: the billed line in rating, posting and plan advice, its screening at
// every authorization, and payments that give the credit limit back. Schema migration 11 moves
// the postpaid card journal entries of earlier versions to the billed line. Commands run as
// real relaygw processes on real database files.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/cards.hpp"
#include "billing/ledger.hpp"
#include "billing/migrations.hpp"
#include "billing/record_chain.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;

namespace {

using Run = relaygw::billing::testing::CommandRun;

// A postpaid card billed to +14155550108, a CA line certified for the TTY toll discount.
constexpr const char* kEligibleCard = "4000000000000017";
// A postpaid card billed to +12125550102, a NY business line with no screening.
constexpr const char* kBusinessCard = "4000000000000025";
constexpr const char* kPrepaidCard = "6000000000000019";

class PostpaidFixture {
 public:
  PostpaidFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-postpaid-cards-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    std::ofstream(path("pin")) << "1234\n";
    REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  }
  ~PostpaidFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string db_option() const { return "--db '" + path("billing.db") + "' "; }

  // Runs relaygw with `arguments` (already shell-quoted) and the PIN 1234 on standard input.
  Run relaygw(const std::string& arguments) {
    return ::relaygw::billing::testing::run_relaygw(arguments, path("pin"));
  }

  void add_card(const std::string& options) {
    const Run added = relaygw("card add " + db_option() + options);
    INFO(added.output);
    REQUIRE(added.status == 0);
  }

  Run create_card_call(const std::string& id, const std::string& card, const std::string& from,
                       const std::string& day = "2026-03-10") {
    return relaygw("call create " + db_option() + "--id " + id + " --at " + day +
                   "T17:29:00Z --from " + from + " --to 2125550101 --billing calling-card --card " +
                   card);
  }

  // Creates, connects and completes card call `id` to 2125550101 from 17:30Z on `day`,
  // lasting `minutes`.
  void card_call(const std::string& id, const std::string& card, const std::string& from,
                 int minutes = 10, const std::string& day = "2026-03-10") {
    const Run created = create_card_call(id, card, from, day);
    INFO(created.output);
    REQUIRE(created.status == 0);
    REQUIRE(relaygw("call event " + db_option() + "--id " + id + " --event connected --at " + day +
                    "T17:30:00Z")
                .status == 0);
    const std::chrono::minutes end = std::chrono::hours(17) + std::chrono::minutes(30 + minutes);
    const std::string at = day + "T" + two_digits(end.count() / 60) + ":" +
                           two_digits(end.count() % 60) + ":00Z";
    const Run completed =
        relaygw("call complete " + db_option() + "--id " + id + " --key " + id + "-end --at " + at);
    INFO(completed.output);
    REQUIRE(completed.status == 0);
  }

  nlohmann::json call_json(const std::string& id) {
    const Run shown = relaygw("call show " + db_option() + "--id " + id + " --json");
    REQUIRE(shown.status == 0);
    return nlohmann::json::parse(shown.output);
  }

  nlohmann::json card_json(const std::string& card) {
    const Run shown = relaygw("card show " + db_option() + "--number " + card + " --json");
    REQUIRE(shown.status == 0);
    return nlohmann::json::parse(shown.output);
  }

  Money account_balance(const std::string& account) {
    auto store = SqliteStore::open(path("billing.db"), SqliteOptions{});
    REQUIRE(store);
    const auto balances = (*store)->account_balances();
    REQUIRE(balances);
    for (const AccountBalance& balance : *balances) {
      if (balance.account == account) {
        return balance.balance;
      }
    }
    return 0;
  }

 private:
  static std::string two_digits(long value) {
    return (value < 10 ? "0" : "") + std::to_string(value);
  }

  std::filesystem::path dir_;
};

bool has_discount_line(const nlohmann::json& call) {
  for (const nlohmann::json& line : call.at("lines")) {
    if (line.at("kind") == "discount" &&
        line.at("description").get<std::string>().find("CA TTY toll discount") !=
            std::string::npos) {
      return true;
    }
  }
  return false;
}

// The seconds in "longest call the card pays for: N s" of a `call create` output, or -1.
long held_seconds(const std::string& output) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex("longest call the card pays for: ([0-9]+) s"))) {
    return -1;
  }
  return std::stol(match[1].str());
}

}  // namespace

TEST_CASE_METHOD(PostpaidFixture, "postpaid card call rated for billed line",
                 "[billing][cards][postpaid]") {
  add_card("--number " + std::string(kEligibleCard) +
           " --funding postpaid --billed-line 4155550108");
  add_card("--number " + std::string(kPrepaidCard) + " --balance 20.00");

  // +14155550109 is a CA line without the discount; the postpaid card bills +14155550108.
  card_call("pp", kEligibleCard, "4155550109");
  const nlohmann::json postpaid = call_json("pp");
  CHECK(postpaid.value("billed_number", "") == "+14155550108");
  CHECK(has_discount_line(postpaid));

  // A prepaid card has no billed line, so the calling line's profile still decides.
  card_call("pre", kPrepaidCard, "4155550109");
  const nlohmann::json prepaid = call_json("pre");
  CHECK_FALSE(prepaid.contains("billed_number"));
  CHECK_FALSE(has_discount_line(prepaid));

  // The charge is posted to the billed line, net of the discount.
  const Money total = parse_dollars(postpaid.at("total").get<std::string>()).value();
  const Money prepaid_total = parse_dollars(prepaid.at("total").get<std::string>()).value();
  CHECK(total < prepaid_total);
  CHECK(account_balance("receivable:+14155550108") == total);
  CHECK(account_balance("card:" + std::string(kEligibleCard)) == 0);
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

TEST_CASE_METHOD(PostpaidFixture, "postpaid card hold priced for billed line",
                 "[billing][cards][postpaid]") {
  add_card("--number " + std::string(kEligibleCard) +
           " --funding postpaid --limit 5.00 --billed-line 4155550108");
  add_card("--number 4000000000000033 --funding postpaid --limit 5.00 --billed-line 4155550109");
  const Run eligible = create_card_call("h1", kEligibleCard, "4155550109");
  const Run plain = create_card_call("h2", "4000000000000033", "4155550109");
  INFO(eligible.output);
  INFO(plain.output);
  REQUIRE(eligible.status == 0);
  REQUIRE(plain.status == 0);
  // The same limit covers a longer call when the billed line gets the 50% CA discount.
  CHECK(held_seconds(plain.output) > 0);
  CHECK(held_seconds(eligible.output) > held_seconds(plain.output));
}

TEST_CASE_METHOD(PostpaidFixture, "plans advice counts postpaid card calls",
                 "[billing][cards][postpaid][plans]") {
  add_card("--number " + std::string(kEligibleCard) +
           " --funding postpaid --billed-line 4155550108");
  card_call("pp", kEligibleCard, "4155550109");
  const Run advised = relaygw("plans advise " + db_option() +
                              "--line 415-555-0108 --as-of 2026-03-20T00:00:00Z --json");
  INFO(advised.output);
  REQUIRE(advised.status == 0);
  const nlohmann::json advice = nlohmann::json::parse(advised.output);
  CHECK(advice.at("calls") == 1);
  CHECK(advice.at("actual") == call_json("pp").at("total"));
}

TEST_CASE_METHOD(PostpaidFixture, "postpaid card line screened at each call",
                 "[billing][cards][postpaid]") {
  add_card("--number " + std::string(kBusinessCard) +
           " --funding postpaid --billed-line 2125550102");
  const struct {
    const char* change;
    const char* message;
  } kChanges[] = {
      {"--screening both",
       "card ************0025 bills line +12125550102, which has screening 'both' and does not "
       "accept charges from another line or card; choose another billing method"},
      {"--screening none --type payphone",
       "card ************0025 bills line +12125550102, which is a payphone line and cannot be "
       "billed"},
  };
  int call = 0;
  for (const auto& change : kChanges) {
    INFO(change.change);
    REQUIRE(relaygw("line change " + db_option() + "--number 2125550102 " + change.change +
                    " --reason 'line changed after card add'")
                .status == 0);
    const std::string id = "s" + std::to_string(++call);
    const Run refused = create_card_call(id, kBusinessCard, "3125550107");
    INFO(refused.output);
    CHECK(refused.status == 1);
    CHECK(refused.output.find("refused: card-line-not-billable") != std::string::npos);
    CHECK(refused.output.find(change.message) != std::string::npos);
    CHECK(refused.output.find(kBusinessCard) == std::string::npos);
    const nlohmann::json events = call_json(id).at("events");
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().at("reason_code") == "card-line-not-billable");
  }

  // The right PIN was given each time, so the card is not locked, and the call goes through
  // once the line takes charges again.
  REQUIRE(relaygw("line change " + db_option() +
                  "--number 2125550102 --type business --reason 'line restored'")
              .status == 0);
  CHECK(card_json(kBusinessCard).at("status") == "active");
  const Run granted = create_card_call("s3", kBusinessCard, "3125550107");
  INFO(granted.output);
  CHECK(granted.status == 0);
}

TEST_CASE_METHOD(PostpaidFixture, "card payment restores postpaid limit",
                 "[billing][cards][postpaid]") {
  add_card("--number " + std::string(kBusinessCard) +
           " --funding postpaid --limit 5.00 --billed-line 2125550102");
  // Two hours cost more than the limit, so the card's limit is used up.
  card_call("long", kBusinessCard, "3125550107", 120);
  CHECK(card_json(kBusinessCard).at("available") == "0.0000");
  const Run refused = create_card_call("next", kBusinessCard, "3125550107", "2026-03-11");
  CHECK(refused.status == 1);
  CHECK(refused.output.find("insufficient-funds") != std::string::npos);
  CHECK(refused.output.find("relaygw card payment") != std::string::npos);

  const std::string payment = "card payment " + db_option() + "--actor staff:ana --number " +
                              kBusinessCard + " --amount 4.00 --key pay-1 --json";
  const Run first = relaygw(payment);
  INFO(first.output);
  REQUIRE(first.status == 0);
  CHECK(nlohmann::json::parse(first.output).at("available") == "4.0000");
  CHECK(first.output.find(kBusinessCard) == std::string::npos);
  const Run repeat = relaygw(payment);
  REQUIRE(repeat.status == 0);
  CHECK(nlohmann::json::parse(repeat.output).at("available") == "4.0000");

  const Run conflict = relaygw("card payment " + db_option() + "--number " + kBusinessCard +
                               " --amount 3.00 --key pay-1");
  CHECK(conflict.status == 1);
  CHECK(conflict.output.find("pay-1") != std::string::npos);
  const Run too_much = relaygw("card payment " + db_option() + "--number " + kBusinessCard +
                               " --amount 1.01 --key pay-2");
  CHECK(too_much.status == 1);
  CHECK(too_much.output.find("payment $1.01 on card ************0025 is more than the $1.00 "
                             "the card owes against its limit; record at most $1.00") !=
        std::string::npos);
  const Run sub_cent = relaygw("card payment " + db_option() + "--number " + kBusinessCard +
                               " --amount 0.005 --key pay-3");
  CHECK(sub_cent.status == 1);
  CHECK(card_json(kBusinessCard).at("available") == "4.0000");

  add_card("--number " + std::string(kPrepaidCard) + " --balance 1.00");
  const Run prepaid = relaygw("card payment " + db_option() + "--number " + kPrepaidCard +
                              " --amount 1.00 --key pay-4");
  CHECK(prepaid.status == 1);
  CHECK(prepaid.output.find("relaygw card fund") != std::string::npos);
  add_card("--number " + std::string(kEligibleCard) +
           " --funding postpaid --billed-line 4155550108");
  const Run unlimited = relaygw("card payment " + db_option() + "--number " + kEligibleCard +
                                " --amount 1.00 --key pay-5");
  CHECK(unlimited.status == 1);
  CHECK(unlimited.output.find("has no credit limit") != std::string::npos);

  // The payment is a ledger entry with who made it, and a journal that moves the amount from
  // the line's receivable to cash. Cash also contains the prepaid card's $1.00 opening balance.
  CHECK(account_balance("cash") == 40'000 + 10'000);
  const Money charged = parse_dollars(call_json("long").at("total").get<std::string>()).value();
  CHECK(account_balance("receivable:+12125550102") == charged - 40'000);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path("billing.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT actor, amount, COUNT(*) FROM card_ledger WHERE kind = "
                             "'payment'",
                             -1, &select, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(select) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(select, 0))) == "staff:ana");
  CHECK(sqlite3_column_int64(select, 1) == 40'000);
  CHECK(sqlite3_column_int64(select, 2) == 1);
  sqlite3_finalize(select);
  sqlite3_close(db);
  CHECK(relaygw("audit verify " + db_option()).status == 0);

  // $4.00 of limit covers the $3.33 first block of an operator-handled call.
  const Run next = create_card_call("next2", kBusinessCard, "3125550107", "2026-03-11");
  INFO(next.output);
  CHECK(next.status == 0);
}

namespace {

// Appends journal `journal_id` as a relaygw version before migration 11 posted it, with its
// rows in the record chain, through a raw connection to `path`.
void append_old_journal(const std::string& path, const std::string& journal_id,
                        const std::string& call_id,
                        const std::vector<std::pair<std::string, Money>>& entries) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  std::string records;
  for (const auto& [account, amount] : entries) {
    const std::string sql =
        "INSERT INTO journal_entries (journal_id, account, amount, call_id, actor, at) VALUES ('" +
        journal_id + "', '" + account + "', " + std::to_string(amount) + ", '" + call_id +
        "', 'gateway', '2026-03-10T18:00:00Z')";
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    std::string canonical;
    append_canonical_text(canonical, journal_id);
    append_canonical_text(canonical, account);
    append_canonical_integer(canonical, amount);
    append_canonical_text(canonical, call_id);
    append_canonical_text(canonical, "gateway");
    append_canonical_text(canonical, "2026-03-10T18:00:00Z");
    append_record_entry(records, ChainedTableId::JournalEntries, sqlite3_last_insert_rowid(db),
                        canonical);
  }
  REQUIRE(append_audit_row(db, "gateway", "call", call_id, "post", "{}", records));
  REQUIRE(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

std::string query_text(const std::string& path, const std::string& sql) {
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

Money balance_of(SqliteStore& store, const std::string& account) {
  const auto balances = store.account_balances();
  REQUIRE(balances);
  for (const AccountBalance& balance : *balances) {
    if (balance.account == account) {
      return balance.balance;
    }
  }
  return 0;
}

}  // namespace

TEST_CASE_METHOD(PostpaidFixture, "schema 10 postpaid card entries move",
                 "[billing][cards][postpaid][store]") {
  const std::string file = path("schema10.db");
  const WriteContext staff{"staff:test", parse_instant("2026-03-10T14:00:00Z").value()};
  {
    SqliteOptions options;
    options.create = true;
    options.migrate_to = 10;
    auto store = SqliteStore::open(file, options);
    REQUIRE(store);
    REQUIRE((*store)->schema_version() == 10);
    Card postpaid;
    postpaid.number = kBusinessCard;
    postpaid.funding = CardFunding::Postpaid;
    postpaid.billed_line = "+12125550102";
    postpaid.pin = PinHash{"00", 1, "00"};
    REQUIRE((*store)->add_card(postpaid, {}, staff));
    Card prepaid = postpaid;
    prepaid.number = kPrepaidCard;
    prepaid.funding = CardFunding::Prepaid;
    prepaid.billed_line.clear();
    REQUIRE((*store)->add_card(prepaid, {LedgerEntry{LedgerKind::Credit, 100'000, ""}}, staff));
  }
  // A postpaid card call and a credit on it, posted to the card account as earlier versions
  // did, and a prepaid card call, whose card account is right.
  const std::string postpaid_account = "card:" + std::string(kBusinessCard);
  const std::string prepaid_account = "card:" + std::string(kPrepaidCard);
  append_old_journal(file, "call:old", "old", {{postpaid_account, 12'300}, {"revenue:usage", -12'300}});
  append_old_journal(file, "credit:cr-old", "old",
                     {{"credits:bad-connection", 2'000}, {postpaid_account, -2'000}});
  append_old_journal(file, "call:pre", "pre", {{prepaid_account, 5'000}, {"revenue:usage", -5'000}});

  const auto before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto store = SqliteStore::open(file, SqliteOptions{});
  REQUIRE(store);
  const auto after = std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now());
  CHECK((*store)->schema_version() == latest_schema_version());
  CHECK(balance_of(**store, postpaid_account) == 0);
  CHECK(balance_of(**store, "receivable:+12125550102") == 10'300);
  // Migration 14 credits the prepaid card's account with its opening balance.
  CHECK(balance_of(**store, prepaid_account) == 5'000 - 100'000);

  // Each moved journal gets a reclass journal of two rows by the migration, dated when it ran.
  CHECK(query_text(file, "SELECT COUNT(*) FROM journal_entries WHERE journal_id LIKE "
                         "'reclass:%' AND actor = 'migration'") == "4");
  CHECK(query_text(file, "SELECT group_concat(journal_id || ' ' || account || ' ' || amount, "
                         "'; ') FROM journal_entries WHERE journal_id = 'reclass:call:old'") ==
        "reclass:call:old " + postpaid_account + " -12300; reclass:call:old receivable:+12125550102 "
                                                 "12300");
  const Instant moved_at =
      parse_instant(query_text(file, "SELECT MIN(at) FROM journal_entries WHERE journal_id LIKE "
                                     "'reclass:%'"))
          .value();
  CHECK(moved_at >= before);
  CHECK(moved_at <= after);
  // The old rows stay as they were.
  CHECK(query_text(file, "SELECT amount FROM journal_entries WHERE journal_id = 'call:old' AND "
                         "account = '" +
                             postpaid_account + "'") == "12300");
  CHECK(query_text(file, "SELECT COUNT(*) FROM journal_entries WHERE account = '" +
                             prepaid_account + "' AND journal_id NOT LIKE 'card-topup:%'") == "1");

  const auto journal = (*store)->check_journal();
  REQUIRE(journal);
  CHECK(journal->balanced());
  const auto records = (*store)->verify_records();
  REQUIRE(records);
  for (const RecordProblem& problem : records->problems) {
    UNSCOPED_INFO(problem.table << " row " << problem.row_id << ": " << problem.detail);
  }
  CHECK(records->problems.empty());
  CHECK((*store)->verify_audit_chain());
  store->reset();

  // A second run of the step appends nothing.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(reclassify_postpaid_card_entries(db, moved_at + std::chrono::hours(1)));
  REQUIRE(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  CHECK(query_text(file, "SELECT COUNT(*) FROM journal_entries WHERE journal_id LIKE "
                         "'reclass:%'") == "4");
  auto reopened = SqliteStore::open(file, SqliteOptions{});
  REQUIRE(reopened);
  CHECK(balance_of(**reopened, "receivable:+12125550102") == 10'300);
  CHECK(balance_of(**reopened, postpaid_account) == 0);
  CHECK((*reopened)->verify_audit_chain());
}

TEST_CASE_METHOD(PostpaidFixture, "typed card line receivables move",
                 "[billing][cards][postpaid][migration]") {
  const std::string file = path("schema14.db");
  const WriteContext staff{"staff:test", parse_instant("2026-03-10T14:00:00Z").value()};
  // A card added before `card add` normalized --billed-line stores the line as typed.
  const std::string typed_account = "receivable:212-555-0102";
  const std::string e164_account = "receivable:+12125550102";
  {
    SqliteOptions options;
    options.create = true;
    options.migrate_to = 14;
    auto store = SqliteStore::open(file, options);
    REQUIRE(store);
    REQUIRE((*store)->schema_version() == 14);
    Card postpaid;
    postpaid.number = kBusinessCard;
    postpaid.funding = CardFunding::Postpaid;
    postpaid.billed_line = "212-555-0102";
    postpaid.pin = PinHash{"00", 1, "00"};
    REQUIRE((*store)->add_card(postpaid, {LedgerEntry{LedgerKind::Credit, 500'000, ""}}, staff));
    // The card's call took $12.30 of its $50.00 limit.
    REQUIRE((*store)->append_ledger(kBusinessCard,
                                    {LedgerEntry{LedgerKind::Debit, -123'000, "old"}}, false,
                                    std::nullopt, staff));
  }
  // The call and a payment of $5.00, journaled on the typed line as earlier versions did.
  append_old_journal(file, "call:old", "old",
                     {{typed_account, 123'000}, {"revenue:usage", -123'000}});
  append_old_journal(file, "payment:pm-old", "", {{"cash", 50'000}, {typed_account, -50'000}});

  const auto before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  {
    auto store = SqliteStore::open(file, SqliteOptions{});
    REQUIRE(store);
    CHECK((*store)->schema_version() == latest_schema_version());
    CHECK(balance_of(**store, typed_account) == 0);
    CHECK(balance_of(**store, e164_account) == 73'000);
  }
  const auto after = std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now());

  // Each journal on the typed account gets a reclass journal of two rows, dated when the
  // migration ran, and the old rows stay as they were.
  CHECK(query_text(file, "SELECT group_concat(journal_id || ' ' || account || ' ' || amount, "
                         "'; ') FROM journal_entries WHERE journal_id = 'reclass:e164:call:old'") ==
        "reclass:e164:call:old " + typed_account + " -123000; reclass:e164:call:old " +
            e164_account + " 123000");
  CHECK(query_text(file, "SELECT COUNT(*) FROM journal_entries WHERE journal_id = "
                         "'reclass:e164:payment:pm-old' AND actor = 'migration'") == "2");
  const Instant moved_at =
      parse_instant(query_text(file, "SELECT MIN(at) FROM journal_entries WHERE journal_id LIKE "
                                     "'reclass:e164:%'"))
          .value();
  CHECK(moved_at >= before);
  CHECK(moved_at <= after);
  CHECK(query_text(file, "SELECT amount FROM journal_entries WHERE journal_id = 'call:old' AND "
                         "account = '" + typed_account + "'") == "123000");
  CHECK(query_text(file, "SELECT payload FROM audit_log WHERE entity = 'journal' AND action = "
                         "'reclassify-card-lines'") == "{\"receivable_journals\":2}");

  // A second run appends nothing.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const relaygw::Result<std::int64_t> again =
      reclassify_card_line_receivables(db, moved_at + std::chrono::hours(1));
  REQUIRE(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  REQUIRE(again);
  CHECK(*again == 0);
  CHECK(query_text(file, "SELECT COUNT(*) FROM journal_entries WHERE journal_id LIKE "
                         "'reclass:e164:%'") == "4");

  // A new payment goes to the E.164 account.
  {
    auto store = SqliteStore::open(file, SqliteOptions{});
    REQUIRE(store);
    REQUIRE(record_card_payment(**store, kBusinessCard, 20'000, IdempotencyKey{"pay-new", "h"},
                                staff));
    CHECK(balance_of(**store, typed_account) == 0);
    CHECK(balance_of(**store, e164_account) == 53'000);
  }

  // The record chain, the journal and each day still check out.
  const std::string db_option = "--db '" + file + "' ";
  const Run verified = relaygw("audit verify " + db_option);
  INFO(verified.output);
  CHECK(verified.status == 0);
  for (const std::string& date :
       {std::string("2026-03-10"), format_instant(moved_at).substr(0, 10)}) {
    const Run reconciled = relaygw("audit reconcile " + db_option + "--date " + date);
    INFO(reconciled.output);
    CHECK(reconciled.status == 0);
  }
}

TEST_CASE("card line receivable is e164", "[billing][cards][postpaid]") {
  CHECK(card_line_receivable_account("212-555-0102") == "receivable:+12125550102");
  CHECK(card_line_receivable_account("+12125550102") == "receivable:+12125550102");
  // A line that does not normalize keeps the account it always had.
  CHECK(card_line_receivable_account("555") == "receivable:555");
}
