// The record chain kept in the audit log: every write path verifies clean, tampering is found,
// and a schema 6 database with the trigger-kept record_chain table converts.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/credits.hpp"
#include "billing/disputes.hpp"
#include "billing/migrations.hpp"
#include "billing/record_chain.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/sqlite_edit.hpp"

using namespace relaygw::billing;

namespace {

Instant at(const std::string& text) { return parse_instant(text).value(); }

const WriteContext kGateway{"gateway", at("2026-03-10T14:05:00Z")};
const WriteContext kStaff{"staff:alice", at("2026-03-10T16:00:00Z")};

class ChainFixture {
 public:
  ChainFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-chain-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~ChainFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path() const { return (dir_ / "chain.db").string(); }

  std::unique_ptr<SqliteStore> open(int migrate_to = 0) {
    SqliteOptions options;
    options.create = true;
    options.migrate_to = migrate_to;
    auto opened = SqliteStore::open(path(), options);
    REQUIRE(opened);
    return std::move(opened).value();
  }

  // Runs SQL through a separate connection, as someone editing the file outside relaygw would.
  void raw(const std::string& sql) {
    relaygw::testing::edit_outside_relaygw(path(), sql);
  }

  std::int64_t count(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path().c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const std::int64_t value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }

 private:
  std::filesystem::path dir_;
};

// Posts a call billed to a card: usage $1.20 and tax $0.12.
void post_card_call(Store& store, const std::string& id, const std::string& card) {
  CallRequest request;
  request.id = id;
  request.from = "+13125550107";
  request.to = "+12125550101";
  request.card_number = card;
  REQUIRE(store.create_call(request, WriteContext{"gateway", at("2026-03-10T14:00:00Z")}));
  CallEventRecord accepted{CallEvent::Accepted, at("2026-03-10T14:00:05Z"), "gateway",
                           AcceptanceMethod::TtyText, "called party"};
  REQUIRE(store.append_call_event(id, accepted));
  Store::PostingRequest posting;
  posting.posting.call_id = id;
  posting.posting.lines = {{"usage", "usage", 12'000}, {"tax", "tax", 1'200}};
  posting.posting.total = 13'200;
  posting.posting.conversation_seconds = 120;
  posting.disconnect =
      CallEventRecord{CallEvent::Disconnected, at("2026-03-10T14:02:05Z"), "gateway", {}, {}};
  posting.card_number = card;
  posting.card_entries = {LedgerEntry{LedgerKind::Debit, -13'200, id}};
  REQUIRE(store.post_call(posting, IdempotencyKey{"post-" + id, "h-" + id}, kGateway));
}

// Writes through every store method that appends to a chained table.
void write_every_kind(SqliteStore& store) {
  REQUIRE(store.add_rate_deck(StoredRateDeck{"example", "[deck]\nname = \"example\"\n",
                                             sha256_hex("deck"), "2026-01-01", "", "deck.toml"},
                              kStaff));
  Line line;
  line.number = "+13125550107";
  line.listing_name = "Rivera, Ana";
  line.state = "IL";
  line.rate_center = "CHICAGO";
  line.time_zone = "America/Chicago";
  REQUIRE(store.append_line(line, 0, "new listing", kStaff));
  line.is_tty = true;
  REQUIRE(store.append_line(line, 1, "TTY user", kStaff));

  Card card;
  card.number = "4000123412341234";
  card.pin = PinHash{"00", 1, "11"};
  REQUIRE(store.add_card(card, {LedgerEntry{LedgerKind::Credit, 500'000, ""}}, kStaff));
  REQUIRE(store.append_card_state(card.number, CardStatus::Active, 1, 1, "wrong PIN", kGateway));
  REQUIRE(store.append_ledger(card.number, {LedgerEntry{LedgerKind::Hold, -20'000, "c1"}}, true,
                              IdempotencyKey{"hold-c1", "h"}, kGateway));
  REQUIRE(store.append_ledger(card.number, {LedgerEntry{LedgerKind::Release, 20'000, "c1"}}, false,
                              std::nullopt, kGateway));
  post_card_call(store, "c1", card.number);
  post_card_call(store, "c2", card.number);

  Store::BatchPosting batch;
  batch.request.id = "b1";
  batch.request.from = "+13125550107";
  batch.request.to = "+12125550101";
  batch.request.billed_number = "+13125550107";
  batch.events = {{CallEvent::Requested, at("2026-03-10T14:00:00Z"), "gateway", {}, {}},
                  {CallEvent::Disconnected, at("2026-03-10T14:03:00Z"), "gateway", {}, {}}};
  batch.posting.call_id = "b1";
  batch.posting.lines = {{"usage", "usage", 5'000}};
  batch.posting.total = 5'000;
  batch.key = IdempotencyKey{"post-b1", "h-b1"};
  REQUIRE(store.post_completed_calls({batch}, kGateway));

  CreditRequest applied;
  applied.id = "cr1";
  applied.call_id = "c1";
  applied.line_no = 1;
  applied.reason = CreditReason::DroppedCall;
  applied.amount = 2'000;
  REQUIRE(store.request_credit(applied, IdempotencyKey{"credit-cr1", "h"}, kStaff));
  CreditRequest pending = applied;
  pending.id = "cr2";
  pending.amount = 3'000;
  pending.approval_above = 2'500;
  REQUIRE(store.request_credit(pending, IdempotencyKey{"credit-cr2", "h"}, kStaff));
  REQUIRE(store.decide_credit("cr2", true, "approved",
                              WriteContext{"staff:sup", at("2026-03-10T16:30:00Z")}));

  DisputeOpenRequest dispute;
  dispute.id = "d1";
  dispute.call_id = "c2";
  dispute.customer_account = "I never made this call";
  REQUIRE(store.open_dispute(dispute, IdempotencyKey{"dispute-d1", "h"}, kStaff));
  REQUIRE(store.append_dispute_step("d1", DisputeAction::Note, "called the customer", std::nullopt,
                                    kStaff));
  CreditRequest adjustment;
  adjustment.id = "cr3";
  adjustment.line_no = 2;
  adjustment.reason = CreditReason::RatingError;
  REQUIRE(
      store.append_dispute_step("d1", DisputeAction::Adjusted, "tax refunded", adjustment, kStaff));
}

// Posts a call whose calling number is stored as staff typed it, as `call create` did before
// schema 12, so that migration 13 appends its E.164 correction.
void post_typed_call(Store& store) {
  Store::BatchPosting batch;
  batch.request.id = "typed";
  batch.request.from = "312-555-0107";
  batch.request.to = "+12125550101";
  batch.request.billed_number = "+13125550107";
  batch.events = {{CallEvent::Requested, at("2026-03-09T14:00:00Z"), "gateway", {}, {}},
                  {CallEvent::Disconnected, at("2026-03-09T14:03:00Z"), "gateway", {}, {}}};
  batch.posting.call_id = "typed";
  batch.posting.lines = {{"usage", "usage", 5'000}};
  batch.posting.total = 5'000;
  batch.key = IdempotencyKey{"post-typed", "h-typed"};
  REQUIRE(store.post_completed_calls({batch}, kGateway));
}

std::int64_t chained_row_count(ChainFixture& fixture) {
  std::int64_t rows = 0;
  for (const ChainedTable& table : chained_tables()) {
    // Tables of later schema versions are missing from an older database.
    const std::string name(table.name);
    if (fixture.count("SELECT COUNT(*) FROM sqlite_master WHERE name = '" + name + "'") == 0) {
      continue;
    }
    rows += fixture.count("SELECT COUNT(*) FROM " + name);
  }
  return rows;
}

}  // namespace

TEST_CASE_METHOD(ChainFixture, "record chain covers every write path", "[billing][audit]") {
  // Migration 13 is the only writer of call_number_corrections.
  post_typed_call(*open(11));
  auto store = open();
  write_every_kind(*store);
  auto check = store->verify_records();
  REQUIRE(check);
  for (const RecordProblem& problem : check->problems) {
    UNSCOPED_INFO(problem.table << " row " << problem.row_id << " " << problem.kind << ": "
                                << problem.detail);
  }
  CHECK(check->problems.empty());
  CHECK(check->rows_checked == chained_row_count(*this));
  CHECK(store->verify_audit_chain());
  for (const ChainedTable& table : chained_tables()) {
    INFO(table.name);
    CHECK(count("SELECT COUNT(*) FROM " + std::string(table.name)) > 0);
  }
}

TEST_CASE_METHOD(ChainFixture, "record chain keeps no row copies", "[billing][audit]") {
  auto store = open();
  CHECK(store->schema_version() == latest_schema_version());
  write_every_kind(*store);
  CHECK(count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'record_chain'") == 0);
  CHECK(count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'") == 0);
  // Each records entry is 41 bytes, so the entries add up to the chained rows.
  CHECK(count("SELECT SUM(length(records)) / 41 FROM audit_log") == chained_row_count(*this));
}

TEST_CASE_METHOD(ChainFixture, "record chain finds inserted row", "[billing][audit]") {
  auto store = open();
  write_every_kind(*store);
  raw("INSERT INTO journal_entries (journal_id, account, amount, call_id, actor, at) "
      "VALUES ('call:c1', 'revenue:usage', 0, 'c1', 'gateway', '2026-03-10T14:05:00Z')");
  auto check = store->verify_records();
  REQUIRE(check);
  REQUIRE(check->problems.size() == 1);
  CHECK(check->problems[0].table == "journal_entries");
  CHECK(check->problems[0].kind == "added");
}

TEST_CASE_METHOD(ChainFixture, "record chain names missing audit entry", "[billing][audit]") {
  auto store = open();
  write_every_kind(*store);
  // The newest audit entry recorded the newest rows. Deleting it leaves an intact shorter chain.
  raw("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)");
  auto check = store->verify_records();
  REQUIRE(check);
  REQUIRE_FALSE(check->problems.empty());
  const std::string message = check->problems[0].detail;
  INFO(message);
  CHECK(check->problems[0].kind == "added");
  CHECK(message.find("the audit entry of row") != std::string::npos);
  CHECK(message.find("is missing") != std::string::npos);
  CHECK(message.find("the newest audit_log rows may have been deleted") != std::string::npos);
}

TEST_CASE_METHOD(ChainFixture, "record chain finds edited credit", "[billing][audit]") {
  auto store = open();
  write_every_kind(*store);
  raw("UPDATE credits SET amount = 1 WHERE id = 'cr1'");
  auto check = store->verify_records();
  REQUIRE(check);
  REQUIRE(check->problems.size() == 1);
  CHECK(check->problems[0].table == "credits");
  CHECK(check->problems[0].kind == "edited");
  CHECK(check->problems[0].row_id == 1);
}

TEST_CASE_METHOD(ChainFixture, "record chain finds deleted audit row", "[billing][audit]") {
  auto store = open();
  write_every_kind(*store);
  raw("DELETE FROM audit_log WHERE seq = 3");
  auto check = store->verify_records();
  REQUIRE(check);
  REQUIRE_FALSE(check->problems.empty());
  CHECK(check->problems[0].table == "audit_log");
  CHECK(check->problems[0].kind == "chain-broken");
  CHECK(check->problems[0].row_id == 4);
}

TEST_CASE_METHOD(ChainFixture, "schema 6 database converts cleanly", "[billing][audit]") {
  {
    auto old = open(6);
    CHECK(old->schema_version() == 6);
    write_every_kind(*old);
    CHECK(count("SELECT COUNT(*) FROM record_chain") == chained_row_count(*this));
  }
  auto store = open();
  CHECK(store->schema_version() == latest_schema_version());
  CHECK(count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'record_chain'") == 0);
  CHECK(count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'") == 0);
  post_card_call(*store, "c9", "4000123412341234");
  auto check = store->verify_records();
  REQUIRE(check);
  CHECK(check->problems.empty());
  CHECK(check->rows_checked == chained_row_count(*this));
  CHECK(store->verify_audit_chain());

  raw("UPDATE call_events SET at = '2026-03-10T14:00:01Z' WHERE seq = 1");
  auto tampered = store->verify_records();
  REQUIRE(tampered);
  REQUIRE(tampered->problems.size() == 1);
  CHECK(tampered->problems[0].table == "call_events");
  CHECK(tampered->problems[0].kind == "edited");
}

TEST_CASE_METHOD(ChainFixture, "conversion keeps earlier tampering", "[billing][audit]") {
  {
    auto old = open(6);
    write_every_kind(*old);
  }
  raw("UPDATE charge_lines SET amount = 99999 WHERE call_id = 'c1' AND line_no = 1");
  auto store = open();
  auto check = store->verify_records();
  REQUIRE(check);
  REQUIRE(check->problems.size() == 1);
  CHECK(check->problems[0].table == "charge_lines");
  CHECK(check->problems[0].kind == "edited");
  CHECK(check->problems[0].detail.find("converted to schema 7") != std::string::npos);
}
