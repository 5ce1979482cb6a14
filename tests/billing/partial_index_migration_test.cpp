// Migration 15 on real SQLite files. Calls posted at schema 14 give the same reports, line
// lookups and call records after the call indexes become partial. The audit and record chains
// still verify, and the queries that read those indexes keep index plans.
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/migrations.hpp"
#include "billing/record_chain.hpp"
#include "billing/reports.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;

namespace {

// The schema before migration 15.
constexpr int kFullIndexSchema = 14;

constexpr const char* kLine = "+13125550107";
constexpr const char* kPostpaidCard = "4000000000000025";

Instant instant(const std::string& text) { return parse_instant(text).value(); }

// Runs `sql` on the file through its own connection and returns every row, each as its
// columns joined by "|", rows joined by "\n".
std::string query_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  INFO(sql);
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  std::string rows;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    if (!rows.empty()) {
      rows += '\n';
    }
    for (int column = 0; column < sqlite3_column_count(statement); ++column) {
      if (column > 0) {
        rows += '|';
      }
      const auto* text = sqlite3_column_text(statement, column);
      rows += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
    }
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

// Returns the detail column of EXPLAIN QUERY PLAN for `sql`, one line per plan step.
std::string query_plan(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + sql;
  INFO(explain);
  REQUIRE(sqlite3_prepare_v2(db, explain.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  std::string plan;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    if (!plan.empty()) {
      plan += '\n';
    }
    plan += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return plan;
}

// One answered call requested at `requested`, with a usage and a tax line, or no lines for an
// emergency call. A collect call gets an accepted event.
Store::BatchPosting posted_call(const std::string& id, const std::string& from,
                                const std::string& to, const std::string& billed,
                                const std::string& card, const std::string& requested,
                                bool emergency = false) {
  Store::BatchPosting item;
  item.request.id = id;
  item.request.from = from;
  item.request.to = to;
  item.request.billed_number = billed;
  item.request.card_number = card;
  item.request.emergency = emergency;
  if (!billed.empty()) {
    item.request.billing = BillingMethod::Collect;
  } else if (!card.empty()) {
    item.request.billing = BillingMethod::CallingCard;
  }
  const Instant start = instant(requested);
  const Instant connected = start + std::chrono::seconds(10);
  item.events = {{CallEvent::Requested, start, "gateway", {}, {}},
                 {CallEvent::Authorized, start + std::chrono::seconds(1), "gateway", {}, {}}};
  if (!billed.empty()) {
    item.events.push_back({CallEvent::Accepted, connected - std::chrono::seconds(2), "gateway",
                           AcceptanceMethod::Voice, "Pat"});
  }
  item.events.push_back({CallEvent::Connected, connected, "gateway", {}, {}});
  item.events.push_back(
      {CallEvent::Disconnected, connected + std::chrono::seconds(120), "gateway", {}, {}});
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

const std::vector<std::string> kCallIds = {"sent-paid", "collect", "card", "emergency", "other",
                                           "april"};

// Builds the database at schema 14 with one call of each kind that the indexes treat apart.
void build_schema_14(const std::string& path) {
  SqliteOptions options;
  options.create = true;
  options.migrate_to = kFullIndexSchema;
  auto store = SqliteStore::open(path, options);
  REQUIRE(store);
  REQUIRE((*store)->schema_version() == kFullIndexSchema);
  const WriteContext staff{"staff:test", instant("2026-03-01T00:00:00Z")};
  Card postpaid;
  postpaid.number = kPostpaidCard;
  postpaid.funding = CardFunding::Postpaid;
  postpaid.billed_line = kLine;
  postpaid.pin = PinHash{"00", 1, "00"};
  REQUIRE((*store)->add_card(postpaid, {}, staff));
  const std::vector<Store::BatchPosting> calls = {
      posted_call("sent-paid", kLine, "+12125550101", "", "", "2026-03-02T15:00:00Z"),
      posted_call("collect", "+12125550101", "+13125550199", kLine, "", "2026-03-03T15:00:00Z"),
      posted_call("card", "+14155550100", "+12125550101", "", kPostpaidCard,
                  "2026-03-04T15:00:00Z"),
      posted_call("emergency", kLine, "911", "", "", "2026-03-05T15:00:00Z", true),
      posted_call("other", "+16175550100", "+12125550101", "", "", "2026-03-06T15:00:00Z"),
      posted_call("april", kLine, "+12125550101", "", "", "2026-04-02T15:00:00Z"),
  };
  REQUIRE((*store)->post_completed_calls(calls, {"staff:test", instant("2026-03-07T00:00:00Z")}));
}

// Describes a call as `call show` reads it: numbers, events and posted lines.
std::string describe_call(SqliteStore& store, const std::string& id) {
  auto record = store.find_call(id);
  REQUIRE(record);
  REQUIRE(record->has_value());
  const CallRecord& call = **record;
  std::string text = call.request.from + " " + call.request.to + " billed " +
                     call.request.billed_number + " card " + call.request.card_number + "\n";
  for (const CallEventRecord& event : call.events) {
    text += std::string(to_string(event.event)) + " " + format_instant(event.at) + " " +
            event.accepted_by + "\n";
  }
  if (call.posting) {
    text += "total " + std::to_string(call.posting->total) + "\n";
    for (const PostedChargeLine& line : call.posting->lines) {
      text += line.kind + " " + std::to_string(line.amount) + "\n";
    }
  }
  return text;
}

// Everything the migration must leave unchanged, read through the store.
struct StoreResults {
  std::vector<std::string> calls;
  std::vector<std::string> line_calls;
  std::vector<std::string> other_line_calls;
  std::int64_t requested_in_march = 0;
  std::string summary;
  std::string emergencies;
  std::vector<std::string> scanned;

  static StoreResults read(SqliteStore& store) {
    const Instant march = instant("2026-03-01T00:00:00Z");
    const Instant april = instant("2026-04-01T00:00:00Z");
    StoreResults results;
    for (const std::string& id : kCallIds) {
      results.calls.push_back(describe_call(store, id));
    }
    auto line_calls = store.call_ids_of_line(kLine, march, april);
    REQUIRE(line_calls);
    results.line_calls = *line_calls;
    auto other_line_calls = store.call_ids_of_line("+12125550101", march, april);
    REQUIRE(other_line_calls);
    results.other_line_calls = *other_line_calls;
    auto requested = store.count_calls_requested(march, april);
    REQUIRE(requested);
    results.requested_in_march = *requested;

    ReportRequest request;
    request.from = {2026, 3, 1};
    request.to = {2026, 3, 31};
    auto summary = summarize_billing(store, request);
    REQUIRE(summary);
    results.summary = render_summary(*summary, ReportFormat::Csv);
    auto emergencies = emergency_calls(store, request);
    REQUIRE(emergencies);
    results.emergencies = render_emergency_calls(*emergencies, request, ReportFormat::Csv);
    REQUIRE(store.scan_calls_requested(march, april, [&](const CallFact& fact) {
      results.scanned.push_back(fact.call_id + " accepted " + std::to_string(fact.accepted) +
                                " total " + std::to_string(fact.total));
      return true;
    }));
    return results;
  }
};

void require_chains_verify(SqliteStore& store) {
  auto check = store.verify_records();
  REQUIRE(check);
  for (const RecordProblem& problem : check->problems) {
    UNSCOPED_INFO(problem.table << " row " << problem.row_id << ": " << problem.detail);
  }
  CHECK(check->problems.empty());
  CHECK(check->rows_checked > 0);
  auto audit = store.verify_audit_chain();
  REQUIRE(audit);
  CHECK(*audit > 0);
}

class PartialIndexFixture {
 public:
  PartialIndexFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-partial-index-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~PartialIndexFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string db() const { return (dir_ / "calls.db").string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(PartialIndexFixture, "partial call indexes keep results",
                 "[billing][store][migration]") {
  build_schema_14(db());
  StoreResults before;
  {
    SqliteOptions options;
    options.read_only = true;
    auto old_store = SqliteStore::open(db(), options);
    REQUIRE(old_store);
    REQUIRE((*old_store)->schema_version() == kFullIndexSchema);
    before = StoreResults::read(**old_store);
  }
  // The schema 14 results are the expected ones, so a comparison below cannot pass on two
  // equally wrong reads.
  CHECK(before.line_calls == std::vector<std::string>{"sent-paid", "collect", "card", "emergency"});
  // Lookups by line match the calling, billed and postpaid card lines, not the called one.
  CHECK(before.other_line_calls == std::vector<std::string>{"collect"});
  CHECK(before.requested_in_march == 5);
  REQUIRE(before.scanned.size() == 5);
  CHECK(before.scanned[1] == "collect accepted 1 total 2100");
  CHECK(before.scanned[3] == "emergency accepted 0 total 0");

  const std::string audit_rows = query_rows(db(), "SELECT COUNT(*) FROM audit_log");
  auto opened = SqliteStore::open(db());
  REQUIRE(opened);
  SqliteStore& store = **opened;
  REQUIRE(store.schema_version() == latest_schema_version());
  REQUIRE(store.schema_version() >= 15);

  const StoreResults after = StoreResults::read(store);
  CHECK(after.calls == before.calls);
  CHECK(after.line_calls == before.line_calls);
  CHECK(after.other_line_calls == before.other_line_calls);
  CHECK(after.requested_in_march == before.requested_in_march);
  CHECK(after.summary == before.summary);
  CHECK(after.emergencies == before.emergencies);
  CHECK(after.scanned == before.scanned);

  // The migration only rebuilds indexes, so it appends no audit row.
  CHECK(query_rows(db(), "SELECT COUNT(*) FROM audit_log") == audit_rows);
  require_chains_verify(store);
}

TEST_CASE_METHOD(PartialIndexFixture, "partial call indexes hold only their rows",
                 "[billing][store][migration]") {
  build_schema_14(db());
  REQUIRE(SqliteStore::open(db()));

  CHECK(query_rows(db(), "SELECT name FROM sqlite_master WHERE name = "
                         "'call_events_by_event_time'") == "");
  CHECK(query_rows(db(), "SELECT sql FROM sqlite_master WHERE name = "
                         "'call_events_requested_by_time'") ==
        "CREATE INDEX call_events_requested_by_time ON call_events (event, at, call_id)\n"
        "  WHERE event = 'requested'");
  // Six calls, each with one requested event and three others, and one accepted event.
  CHECK(query_rows(db(), "SELECT COUNT(*) FROM call_events") == "25");
  CHECK(query_rows(db(), "SELECT COUNT(*) FROM call_events INDEXED BY "
                         "call_events_requested_by_time WHERE event = 'requested'") == "6");
  CHECK(query_rows(db(), "SELECT group_concat(billed_number) FROM calls INDEXED BY "
                         "calls_by_billed_number WHERE billed_number <> ''") == kLine);
  CHECK(query_rows(db(), "SELECT group_concat(id) FROM calls INDEXED BY calls_by_card_number "
                         "WHERE card_number <> ''") == "card");

  // A new call after the migration is indexed as well.
  {
    auto store = SqliteStore::open(db());
    REQUIRE(store);
    REQUIRE((*store)->post_completed_calls(
        {posted_call("may", "+16175550100", "+12125550101", kLine, "", "2026-05-02T15:00:00Z")},
        {"staff:test", instant("2026-05-03T00:00:00Z")}));
    auto ids = (*store)->call_ids_of_line(kLine, instant("2026-05-01T00:00:00Z"),
                                          instant("2026-06-01T00:00:00Z"));
    REQUIRE(ids);
    CHECK(*ids == std::vector<std::string>{"may"});
  }
  CHECK(query_rows(db(), "SELECT COUNT(*) FROM call_events INDEXED BY "
                         "call_events_requested_by_time WHERE event = 'requested'") == "7");
}

// The SQL below is the store's (SqliteStore::count_calls_requested, check_disconnect and
// call_ids_of_line at schema 13 on). A plan that reads a whole table fails here.
TEST_CASE_METHOD(PartialIndexFixture, "partial call indexes keep index plans",
                 "[billing][store][migration]") {
  build_schema_14(db());
  REQUIRE(SqliteStore::open(db()));

  CHECK(query_plan(db(), "SELECT COUNT(*) FROM call_events WHERE event = 'requested' AND "
                         "at >= '2026-03-01' AND at < '2026-04-01'") ==
        "SEARCH call_events USING COVERING INDEX call_events_requested_by_time (event=? AND "
        "at>? AND at<?)");
  // Schema 14's time index served this lookup by reading every disconnected event.
  CHECK(query_plan(db(), "SELECT at FROM call_events WHERE call_id = 'card' AND "
                         "event = 'disconnected'") ==
        "SEARCH call_events USING INDEX call_events_by_call (call_id=?)");

  const std::string line_plan = query_plan(
      db(),
      "SELECT c.id FROM calls c JOIN call_events e ON e.call_id = c.id AND "
      "e.event = 'requested' LEFT JOIN call_number_corrections n ON n.call_id = c.id "
      "WHERE c.id IN (SELECT id FROM calls WHERE from_number = ?1 "
      "UNION SELECT id FROM calls WHERE billed_number = ?1 AND billed_number <> '' "
      "UNION SELECT d.id FROM cards k CROSS JOIN calls d ON d.card_number = k.number "
      "AND d.card_number <> '' WHERE k.funding = 'postpaid' AND k.billed_line = ?1 "
      "UNION SELECT call_id FROM call_number_corrections WHERE "
      "from_number = ?1 OR billed_number = ?1) "
      "AND (COALESCE(n.from_number, c.from_number) = ?1 OR "
      "COALESCE(n.billed_number, c.billed_number) = ?1 OR c.card_number IN "
      "(SELECT number FROM cards WHERE funding = 'postpaid' AND billed_line = ?1)) "
      "AND e.at >= ?2 AND e.at < ?3 ORDER BY e.at, c.id");
  INFO(line_plan);
  CHECK(line_plan.find("SCAN calls") == std::string::npos);
  CHECK(line_plan.find("SCAN d") == std::string::npos);
  CHECK(line_plan.find("USING INDEX calls_by_from_number") != std::string::npos);
  CHECK(line_plan.find("USING INDEX calls_by_billed_number") != std::string::npos);
  CHECK(line_plan.find("USING INDEX calls_by_card_number") != std::string::npos);
}
