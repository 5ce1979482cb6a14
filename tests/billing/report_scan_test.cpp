// SqliteStore::scan_calls_requested against a reference query on a real SQLite file: the
// scan that reports read gives each call the same facts as the earlier form of its SQL, which
// looked up the accepted event with one subquery per row.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/reports.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;

namespace {

Instant at(const std::string& text) { return parse_instant(text).value(); }

// The scan's SQL before the accepted events were joined, kept as the reference.
constexpr const char* kReferenceScan =
    "SELECT e.call_id, COALESCE(n.from_number, c.from_number), c.billing, c.emergency, "
    "p.call_id IS NOT NULL, p.total, l.kind, l.amount, "
    "EXISTS (SELECT 1 FROM call_events a WHERE a.call_id = e.call_id AND "
    "a.event = 'accepted') "
    "FROM call_events e JOIN calls c ON c.id = e.call_id "
    "LEFT JOIN call_number_corrections n ON n.call_id = e.call_id "
    "LEFT JOIN call_postings p ON p.call_id = e.call_id "
    "LEFT JOIN charge_lines l ON l.call_id = p.call_id "
    "WHERE e.event = 'requested' AND e.at >= ? AND e.at < ? "
    "ORDER BY e.at, e.call_id";

// What the reference query gives one call.
struct ReferenceFact {
  std::string from;
  bool posted = false;
  Money total = 0;
  Money lines = 0;
  bool accepted = false;
  int rows = 0;
};

class ScanFixture {
 public:
  ScanFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-report-scan-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto store = SqliteStore::open(path(), options);
    REQUIRE(store);
    store_ = std::move(store).value();
  }
  ~ScanFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path() const { return (dir_ / "scan.db").string(); }
  SqliteStore& store() { return *store_; }

  // A posted call requested at `requested` with `accepted_events` accepted events. An answered
  // call that is not `billed` keeps its conversation time and bills nothing, as a declined
  // collect call does.
  static Store::BatchPosting call(const std::string& id, BillingMethod billing,
                                  const std::string& requested, int accepted_events,
                                  bool answered, bool billed = true) {
    Store::BatchPosting item;
    item.request.id = id;
    item.request.from = "+13125550107";
    item.request.to = "+12125550101";
    item.request.billing = billing;
    item.request.billed_number = "+13125550107";
    const Instant start = at(requested);
    item.events = {{CallEvent::Requested, start, "gateway", {}, {}}};
    for (int i = 0; i < accepted_events; ++i) {
      item.events.push_back({CallEvent::Accepted, start + std::chrono::seconds(5 + i), "gateway",
                             AcceptanceMethod::TtyText, "billed party"});
    }
    if (answered) {
      item.events.push_back({CallEvent::Connected, start + std::chrono::seconds(10), "gateway",
                             {}, {}});
    }
    item.events.push_back(
        {CallEvent::Disconnected, start + std::chrono::seconds(130), "gateway", {}, {}});
    item.posting.call_id = id;
    item.posting.session_seconds = 130;
    if (answered && !billed) {
      item.posting.conversation_seconds = 120;
      item.posting.billable_seconds = 0;
    } else if (answered) {
      item.posting.conversation_seconds = 120;
      item.posting.billable_seconds = 120;
      item.posting.lines = {{"usage", "Usage", 2'000},
                            {"surcharge", "Operator surcharge", 15'000},
                            {"tax", "Federal excise tax", 510}};
      item.posting.total = 17'510;
    } else {
      item.posting.billable_seconds = 0;
    }
    item.key = IdempotencyKey{"complete-" + id, id};
    return item;
  }

  // Runs the reference query over [from, to) and returns its facts by call id, in order.
  std::vector<std::pair<std::string, ReferenceFact>> reference(Instant from, Instant to) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path().c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, kReferenceScan, -1, &statement, nullptr) == SQLITE_OK);
    const std::string from_text = format_instant(from);
    const std::string to_text = format_instant(to);
    sqlite3_bind_text(statement, 1, from_text.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(statement, 2, to_text.c_str(), -1, SQLITE_TRANSIENT);
    std::vector<std::pair<std::string, ReferenceFact>> facts;
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const std::string id = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      if (facts.empty() || facts.back().first != id) {
        ReferenceFact fact;
        fact.from = reinterpret_cast<const char*>(sqlite3_column_text(statement, 1));
        fact.posted = sqlite3_column_int(statement, 4) != 0;
        fact.total = sqlite3_column_int64(statement, 5);
        fact.accepted = sqlite3_column_int(statement, 8) != 0;
        facts.emplace_back(id, fact);
      }
      facts.back().second.lines += sqlite3_column_int64(statement, 7);
      ++facts.back().second.rows;
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return facts;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace

TEST_CASE_METHOD(ScanFixture, "report scan matches reference query", "[billing][reports]") {
  const std::vector<Store::BatchPosting> calls = {
      // Accepted collect call with three charge lines.
      call("collect-accepted", BillingMethod::Collect, "2026-03-02T10:00:00Z", 1, true),
      // Declined collect call: connected but never accepted, billed nothing.
      call("collect-declined", BillingMethod::Collect, "2026-03-02T11:00:00Z", 0, true, false),
      // A repeated accepted event must not count the call's lines twice.
      call("third-twice", BillingMethod::ThirdNumber, "2026-03-03T10:00:00Z", 2, true),
      call("sent-paid", BillingMethod::SentPaid, "2026-03-03T11:00:00Z", 0, true),
      call("unanswered", BillingMethod::Collect, "2026-03-04T10:00:00Z", 1, false),
      // Requested in range and accepted after its end.
      call("late-accept", BillingMethod::Collect, "2026-03-31T23:59:58Z", 1, true),
      // Outside the range.
      call("april", BillingMethod::Collect, "2026-04-01T00:00:00Z", 1, true),
      call("february", BillingMethod::Collect, "2026-02-28T23:59:59Z", 1, true),
  };
  REQUIRE(store().post_completed_calls(calls, {"gateway", at("2026-04-02T00:00:00Z")}));
  // Requested but never completed: no posting and no charge lines.
  CallRequest open;
  open.id = "open";
  open.from = "+13125550107";
  open.to = "+12125550101";
  open.billing = BillingMethod::Collect;
  REQUIRE(store().create_call(open, {"gateway", at("2026-03-05T10:00:00Z")}));
  REQUIRE(store().append_call_event(
      "open", {CallEvent::Requested, at("2026-03-05T10:00:00Z"), "gateway", {}, {}}));
  REQUIRE(store().append_call_event("open", {CallEvent::Accepted, at("2026-03-05T10:00:05Z"),
                                             "gateway", AcceptanceMethod::Voice, "called"}));

  const Instant from = at("2026-03-01T00:00:00Z");
  const Instant to = at("2026-04-01T00:00:00Z");
  const auto expected = reference(from, to);
  std::vector<CallFact> scanned;
  REQUIRE(store().scan_calls_requested(from, to, [&](const CallFact& fact) {
    scanned.push_back(fact);
    return true;
  }));

  REQUIRE(expected.size() == 7);
  REQUIRE(scanned.size() == expected.size());
  for (std::size_t i = 0; i < scanned.size(); ++i) {
    const CallFact& fact = scanned[i];
    const ReferenceFact& reference_fact = expected[i].second;
    INFO("call " << expected[i].first);
    CHECK(fact.call_id == expected[i].first);
    CHECK(fact.from == reference_fact.from);
    CHECK(fact.posted == reference_fact.posted);
    CHECK(fact.total == reference_fact.total);
    CHECK(fact.usage + fact.surcharges + fact.discounts + fact.taxes + fact.fees ==
          reference_fact.lines);
    CHECK(fact.accepted == reference_fact.accepted);
  }
  // The cases the accepted flag must tell apart.
  std::map<std::string, bool> accepted;
  for (const CallFact& fact : scanned) {
    accepted[fact.call_id] = fact.accepted;
  }
  CHECK(accepted["collect-accepted"]);
  CHECK_FALSE(accepted["collect-declined"]);
  CHECK(accepted["third-twice"]);
  CHECK_FALSE(accepted["sent-paid"]);
  CHECK(accepted["unanswered"]);
  CHECK(accepted["late-accept"]);
  CHECK(accepted["open"]);

  // The summary built on the scan counts the declined call as unanswered.
  ReportRequest request;
  request.from = {2026, 3, 1};
  request.to = {2026, 3, 31};
  auto summary = summarize_billing(store(), request);
  REQUIRE(summary);
  CHECK(summary->grand_total.calls == 7);
  CHECK(summary->grand_total.answered == 4);
  CHECK(summary->grand_total.total == 4 * 17'510);
}
