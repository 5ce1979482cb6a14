// Migration 13 on real SQLite files: calls stored at schema 11 with numbers as staff typed
// them are found by E.164 lookups afterwards, the call rows stay as written, and the audit and
// record chains still verify.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/migrations.hpp"
#include "billing/record_chain.hpp"
#include "billing/reports.hpp"
#include "billing/sqlite_store.hpp"
#include "billing_test_support.hpp"

using namespace relaygw::billing;

namespace {

// The schema before call create stored E.164 numbers and before migration 13.
constexpr int kTypedNumbersSchema = 11;

class TypedNumbersFixture {
 public:
  TypedNumbersFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-call-numbers-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~TypedNumbersFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string db() const { return (dir_ / "calls.db").string(); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  static Instant instant(const std::string& text) { return parse_instant(text).value(); }

  // Posts one answered call requested at `requested`, with a usage and a tax line.
  static Store::BatchPosting call(const std::string& id, const std::string& from,
                                  const std::string& to, const std::string& billed,
                                  const std::string& requested, bool emergency = false) {
    Store::BatchPosting item;
    item.request.id = id;
    item.request.from = from;
    item.request.to = to;
    item.request.billed_number = billed;
    item.request.emergency = emergency;
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
    item.posting.billable_seconds = emergency ? 0 : 120;
    if (!emergency) {
      item.posting.lines = {{"usage", "Usage", 2'000}, {"tax", "Federal excise tax", 100}};
      item.posting.total = 2'100;
    }
    item.key = IdempotencyKey{"complete-" + id, id};
    return item;
  }

  // Builds the database at schema 11 with calls as `call create` stored them then.
  void build_schema_11() {
    SqliteOptions options;
    options.create = true;
    options.migrate_to = kTypedNumbersSchema;
    auto store = SqliteStore::open(db(), options);
    REQUIRE(store);
    REQUIRE((*store)->schema_version() == kTypedNumbersSchema);
    const std::vector<Store::BatchPosting> calls = {
        // Typed by staff in three forms.
        call("typed", "312-555-0107", "1 (212) 555-0101", "3125550107", "2026-03-02T15:00:00Z"),
        // Stored by the gateway, already in E.164 form.
        call("gateway", "+13125550107", "+12125550101", "+13125550107", "2026-03-03T15:00:00Z"),
        // An emergency call keeps the dialed 1911 as call create does.
        call("emergency", "3125550107", "1911", "", "2026-03-04T15:00:00Z", true),
        // The calling text does not normalize and stays; the called number does.
        call("unreadable", "caller unknown", "2125550101", "", "2026-03-05T15:00:00Z"),
        // Collect: billed to the called line, typed with 1+.
        call("collect", "2125550101", "13125550107", "1-312-555-0107", "2026-03-06T15:00:00Z"),
    };
    REQUIRE((*store)->post_completed_calls(calls, {"staff:test", instant("2026-03-07T00:00:00Z")}));
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

void require_records_verify(SqliteStore& store) {
  auto check = store.verify_records();
  REQUIRE(check);
  for (const RecordProblem& problem : check->problems) {
    UNSCOPED_INFO(problem.table << " row " << problem.row_id << ": " << problem.detail);
  }
  CHECK(check->problems.empty());
  CHECK(store.verify_audit_chain());
}

}  // namespace

TEST_CASE_METHOD(TypedNumbersFixture, "typed call numbers found by E.164",
                 "[billing][store][migration]") {
  build_schema_11();
  const Instant march = instant("2026-03-01T00:00:00Z");
  const Instant april = instant("2026-04-01T00:00:00Z");
  {
    // At schema 11 an E.164 lookup misses the typed calls.
    SqliteOptions options;
    options.read_only = true;
    auto old_store = SqliteStore::open(db(), options);
    REQUIRE(old_store);
    auto ids = (*old_store)->call_ids_of_line("+13125550107", march, april);
    REQUIRE(ids);
    CHECK(*ids == std::vector<std::string>{"gateway"});
  }

  auto opened = SqliteStore::open(db());
  REQUIRE(opened);
  SqliteStore& store = **opened;
  REQUIRE(store.schema_version() == latest_schema_version());

  auto ids = store.call_ids_of_line("+13125550107", march, april);
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"typed", "gateway", "emergency", "collect"});

  auto typed = store.find_call("typed");
  REQUIRE(typed);
  REQUIRE(typed->has_value());
  CHECK((*typed)->request.from == "+13125550107");
  CHECK((*typed)->request.to == "+12125550101");
  CHECK((*typed)->request.billed_number == "+13125550107");

  auto emergency = store.find_call("emergency");
  REQUIRE(emergency);
  REQUIRE(emergency->has_value());
  CHECK((*emergency)->request.from == "+13125550107");
  CHECK((*emergency)->request.to == "1911");

  auto unreadable = store.find_call("unreadable");
  REQUIRE(unreadable);
  REQUIRE(unreadable->has_value());
  CHECK((*unreadable)->request.from == "caller unknown");
  CHECK((*unreadable)->request.to == "+12125550101");

  auto collect = store.find_call("collect");
  REQUIRE(collect);
  REQUIRE(collect->has_value());
  CHECK((*collect)->request.from == "+12125550101");
  CHECK((*collect)->request.to == "+13125550107");
  CHECK((*collect)->request.billed_number == "+13125550107");

  // Reports read the corrected numbers too.
  std::vector<std::string> callers;
  REQUIRE(store.scan_calls_requested(march, april, [&](const CallFact& fact) {
    callers.push_back(fact.from);
    return true;
  }));
  CHECK(callers == std::vector<std::string>{"+13125550107", "+13125550107", "+13125550107",
                                            "caller unknown", "+12125550101"});
  ReportRequest request;
  request.from = {2026, 3, 1};
  request.to = {2026, 3, 31};
  auto emergencies = emergency_calls(store, request);
  REQUIRE(emergencies);
  REQUIRE(emergencies->size() == 1);
  CHECK(emergencies->front().caller == "+13125550107");

  // The call rows keep what was stored; the corrections are new rows that name the call.
  CHECK(raw_query(db(), "SELECT from_number FROM calls WHERE id = 'typed'") == "312-555-0107");
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM call_number_corrections") == "4");
  CHECK(raw_query(db(), "SELECT actor FROM call_number_corrections WHERE call_id = 'typed'") ==
        std::string(kMigrationActor));

  auto rewrite = store.call_number_rewrite();
  REQUIRE(rewrite);
  REQUIRE(rewrite->has_value());
  CHECK((*rewrite)->calls_corrected == 4);
  CHECK((*rewrite)->numbers_not_normalized == 1);
  REQUIRE((*rewrite)->not_normalized.size() == 1);
  CHECK((*rewrite)->not_normalized.front().call_id == "unreadable");
  CHECK((*rewrite)->not_normalized.front().column == "from_number");
  CHECK((*rewrite)->not_normalized.front().number == "caller unknown");

  require_records_verify(store);
}

TEST_CASE_METHOD(TypedNumbersFixture, "number correction runs once",
                 "[billing][store][migration]") {
  build_schema_11();
  {
    auto store = SqliteStore::open(db());
    REQUIRE(store);
  }
  const std::string audit_rows = raw_query(db(), "SELECT COUNT(*) FROM audit_log");
  sqlite3* db_handle = nullptr;
  REQUIRE(sqlite3_open(db().c_str(), &db_handle) == SQLITE_OK);
  auto again = correct_call_numbers(db_handle, instant("2026-04-02T00:00:00Z"));
  sqlite3_close(db_handle);
  REQUIRE(again);
  CHECK(again->calls_corrected == 0);
  CHECK(again->numbers_not_normalized == 0);
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM call_number_corrections") == "4");
  CHECK(raw_query(db(), "SELECT COUNT(*) FROM audit_log") == audit_rows);
}

TEST_CASE_METHOD(TypedNumbersFixture, "edited number correction detected",
                 "[billing][store][migration]") {
  build_schema_11();
  {
    auto store = SqliteStore::open(db());
    REQUIRE(store);
  }
  sqlite3* db_handle = nullptr;
  REQUIRE(sqlite3_open(db().c_str(), &db_handle) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db_handle,
                       "UPDATE call_number_corrections SET from_number = '+13125550199' "
                       "WHERE call_id = 'typed'",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db_handle);

  auto store = SqliteStore::open(db());
  REQUIRE(store);
  auto check = (*store)->verify_records();
  REQUIRE(check);
  REQUIRE(check->problems.size() == 1);
  CHECK(check->problems.front().table == "call_number_corrections");
  CHECK(check->problems.front().kind == "edited");
}

TEST_CASE_METHOD(TypedNumbersFixture, "db migrate prints number corrections",
                 "[billing][commands][migration]") {
  build_schema_11();
  const std::string input = file("stdin.txt");
  std::ofstream(input) << "";
  const auto migrated = testing::run_relaygw("db migrate --db '" + db() + "'", input);
  INFO(migrated.output);
  CHECK(migrated.status == 0);
  CHECK(migrated.output.find("4 calls given E.164 corrections; 1 numbers did not normalize") !=
        std::string::npos);
  CHECK(migrated.output.find("call unreadable from_number 'caller unknown'") != std::string::npos);

  const auto verified = testing::run_relaygw("audit verify --db '" + db() + "'", input);
  INFO(verified.output);
  CHECK(verified.status == 0);
  CHECK(verified.output.find("audit verify: ok") != std::string::npos);
}
