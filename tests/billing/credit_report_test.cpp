// The credits and disputes report on a real SQLite file, in text, CSV and JSON.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/credit_report.hpp"
#include "billing/credits.hpp"
#include "billing/disputes.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/sqlite_edit.hpp"

using namespace relaygw::billing;

namespace {

Instant at(const std::string& text) { return parse_instant(text).value(); }

class ReportFixture {
 public:
  ReportFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-credit-report-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "report.db").string(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
  }
  ~ReportFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Store& store() { return *store_; }
  const std::filesystem::path& dir_path() const { return dir_; }

  // Runs `sql` on the database file through SQLite itself, as an edit outside relaygw would.
  void edit_outside_relaygw(const std::string& sql) {
    relaygw::testing::edit_outside_relaygw((dir_ / "report.db").string(), sql);
  }

  // Posts a call with usage $1.20 and tax $0.12.
  void post_call(const std::string& id) {
    CallRequest request;
    request.id = id;
    request.from = "+13125550107";
    request.to = "+12125550101";
    request.billed_number = "+13125550107";
    REQUIRE(store().create_call(request, WriteContext{"gateway", at("2026-03-10T14:00:00Z")}));
    Store::PostingRequest posting;
    posting.posting.call_id = id;
    posting.posting.lines = {{"usage", "usage", 12'000}, {"tax", "tax", 1'200}};
    posting.posting.total = 13'200;
    REQUIRE(store().post_call(posting, IdempotencyKey{"post-" + id, "h"},
                              WriteContext{"gateway", at("2026-03-10T14:05:00Z")}));
  }
  void credit(const std::string& id, const std::string& call_id, CreditReason reason, Money amount,
              const std::string& when, std::optional<Money> approval_above = {}) {
    CreditRequest request;
    request.id = id;
    request.call_id = call_id;
    request.line_no = 1;
    request.reason = reason;
    request.reason_text = reason == CreditReason::Other ? "goodwill" : "";
    request.amount = amount;
    request.approval_above = approval_above;
    REQUIRE(store().request_credit(request, IdempotencyKey{"k-" + id, "h"},
                                   WriteContext{"staff:alice", at(when)}));
  }
  void dispute(const std::string& id, const std::string& call_id, const std::string& when,
               int due_days) {
    DisputeOpenRequest request{id, call_id, std::nullopt, "customer account", due_days};
    REQUIRE(store().open_dispute(request, IdempotencyKey{"d-" + id, "h"},
                                 WriteContext{"staff:alice", at(when)}));
  }

  // Credits and disputes in March 2026, seen on 2026-04-01.
  CreditsReport march_report() {
    post_call("c1");
    post_call("c2");
    post_call("c3");
    credit("cr1", "c1", CreditReason::DroppedCall, 2'000, "2026-03-10T15:00:00Z");
    credit("cr2", "c2", CreditReason::DroppedCall, 3'000, "2026-03-11T15:00:00Z");
    credit("cr3", "c3", CreditReason::BadConnection, 9'000, "2026-03-12T15:00:00Z", 5'000);
    credit("cr4", "c3", CreditReason::Other, 1'000, "2026-04-02T15:00:00Z");  // after the range
    REQUIRE(store().decide_credit("cr3", false, "not justified",
                                  WriteContext{"staff:sup", at("2026-03-13T09:00:00Z")}));
    dispute("d1", "c1", "2026-03-10T16:00:00Z", 14);  // due 03-24, overdue on 04-01
    dispute("d2", "c2", "2026-03-25T16:00:00Z", 14);  // due 04-08, not overdue
    dispute("d3", "c3", "2026-02-01T16:00:00Z", 3);   // opened before the range, overdue
    dispute("d4", "c3", "2026-03-05T16:00:00Z", 3);   // resolved, so never overdue
    REQUIRE(store().append_dispute_step("d4", DisputeAction::Denied, "", std::nullopt,
                                        WriteContext{"staff:sup", at("2026-03-06T09:00:00Z")}));
    REQUIRE(store().append_dispute_step("d1", DisputeAction::Escalated, "", std::nullopt,
                                        WriteContext{"staff:sup", at("2026-03-20T09:00:00Z")}));
    ReportRequest request;
    request.from = parse_local_date("2026-03-01").value();
    request.to = parse_local_date("2026-03-31").value();
    auto report = credits_and_disputes(store(), request, at("2026-04-01T12:00:00Z"));
    REQUIRE(report);
    return *report;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace

TEST_CASE_METHOD(ReportFixture, "credit report groups reason and state", "[billing][reports]") {
  const CreditsReport report = march_report();
  CHECK(report.credit_count == 3);
  CHECK(report.credits_applied == 5'000);
  CHECK(report.credits_pending == 0);
  REQUIRE(report.credits.size() == 2);
  CHECK(report.credits[0].reason == "bad-connection");
  CHECK(report.credits[0].state == "rejected");
  CHECK(report.credits[0].count == 1);
  CHECK(report.credits[0].amount == 9'000);
  CHECK(report.credits[1].reason == "dropped-call");
  CHECK(report.credits[1].state == "applied");
  CHECK(report.credits[1].count == 2);
  CHECK(report.credits[1].amount == 5'000);
}

TEST_CASE_METHOD(ReportFixture, "credit report rejects real amount", "[billing][reports]") {
  march_report();
  // 2000.5 reads as 2000, so the report would show the credit as $0.20 without the check.
  edit_outside_relaygw("UPDATE credits SET amount = 2000.5 WHERE id = 'cr1'");
  ReportRequest request;
  request.from = parse_local_date("2026-03-01").value();
  request.to = parse_local_date("2026-03-31").value();
  auto report = credits_and_disputes(store(), request, at("2026-04-01T12:00:00Z"));
  REQUIRE_FALSE(report);
  CHECK(report.status().code() == relaygw::StatusCode::Corrupt);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("table credits of database '") != std::string::npos);
  CHECK(message.find("stores the amount of credit cr1 (call c1 line 1) as a real number "
                     "'2000.5'") != std::string::npos);
  CHECK(message.find("run `relaygw audit verify --db ") != std::string::npos);
  CHECK_FALSE(store().find_credit("cr1"));
}

TEST_CASE_METHOD(ReportFixture, "credit report rejects overflowing sum", "[billing][reports]") {
  march_report();
  // cr1 and cr2 are both applied dropped-call credits, so their group and the applied total
  // would wrap around to a negative amount.
  edit_outside_relaygw("UPDATE credits SET amount = 9223372036854775807 WHERE id = 'cr1'");
  ReportRequest request;
  request.from = parse_local_date("2026-03-01").value();
  request.to = parse_local_date("2026-03-31").value();
  auto report = credits_and_disputes(store(), request, at("2026-04-01T12:00:00Z"));
  REQUIRE_FALSE(report);
  CHECK(report.status().code() == relaygw::StatusCode::Corrupt);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("the credit amounts of the report, at credit cr") != std::string::npos);
  CHECK(message.find("sum past the 64-bit integer range, so an amount was written or changed "
                     "outside relaygw") != std::string::npos);
  // The command must name the database the report read, so staff can paste it.
  CHECK(message.find("run `relaygw audit verify --db " + (dir_path() / "report.db").string() +
                     "` to find the row") != std::string::npos);
}

TEST_CASE_METHOD(ReportFixture, "credit report lists overdue disputes", "[billing][reports]") {
  const CreditsReport report = march_report();
  // Opened in March: d1 escalated, d2 open, d4 resolved; d3 was opened in February.
  REQUIRE(report.disputes.size() == 3);
  CHECK(report.disputes[0].state == "escalated");
  CHECK(report.disputes[0].count == 1);
  CHECK(report.disputes[1].state == "open");
  CHECK(report.disputes[1].count == 1);
  CHECK(report.disputes[2].state == "resolved");
  CHECK(report.disputes[2].count == 1);

  REQUIRE(report.overdue.size() == 2);
  CHECK(report.overdue[0].dispute_id == "d1");
  CHECK(report.overdue[0].state == "escalated");
  CHECK(format_instant(report.overdue[0].due_at) == "2026-03-24T16:00:00Z");
  CHECK(report.overdue[0].days_overdue == 7);
  CHECK(report.overdue[1].dispute_id == "d3");
  CHECK(report.overdue[1].days_overdue == 55);
}

TEST_CASE_METHOD(ReportFixture, "credit report renders three formats", "[billing][reports]") {
  const CreditsReport report = march_report();

  const nlohmann::json json =
      nlohmann::json::parse(render_credits_report(report, ReportFormat::Json));
  CHECK(json["report"] == "credits");
  CHECK(json["credits_applied"] == "0.50");
  CHECK(json["credits"].size() == 2);
  CHECK(json["credits"][1]["amount"] == "0.50");
  CHECK(json["disputes"].size() == 3);
  CHECK(json["overdue"].size() == 2);
  CHECK(json["overdue"][0]["dispute_id"] == "d1");
  CHECK(json["as_of"] == "2026-04-01T12:00:00Z");

  const std::string csv = render_credits_report(report, ReportFormat::Csv);
  CHECK(csv.rfind("section,reason,state,count,amount,dispute_id,call_id,due_at,days_overdue\n",
                  0) == 0);
  CHECK(csv.find("credits,dropped-call,applied,2,0.50,,,,\n") != std::string::npos);
  CHECK(csv.find("disputes,,open,1,,,,,\n") != std::string::npos);
  CHECK(csv.find("overdue,,escalated,1,,d1,c1,2026-03-24T16:00:00Z,7\n") != std::string::npos);

  const std::string text = render_credits_report(report, ReportFormat::Text);
  CHECK(text.find("Credits: 3 requested, 0.50 applied, 0.00 pending") != std::string::npos);
  CHECK(text.find("Overdue disputes: 2") != std::string::npos);
  CHECK(text.find("d3") != std::string::npos);
}

TEST_CASE_METHOD(ReportFixture, "credit report rejects reversed range", "[billing][reports]") {
  ReportRequest request;
  request.from = parse_local_date("2026-03-31").value();
  request.to = parse_local_date("2026-03-01").value();
  auto report = credits_and_disputes(store(), request, at("2026-04-01T12:00:00Z"));
  CHECK_FALSE(report);
}

TEST_CASE("credit report csv guards formula ids", "[billing][reports][csv]") {
  CreditsReport report;
  report.request.from = parse_local_date("2026-03-01").value();
  report.request.to = parse_local_date("2026-03-31").value();
  report.as_of = at("2026-04-01T12:00:00Z");
  report.credits.push_back({"dropped-call", "applied", 1, -15'000});
  report.overdue.push_back({"=HYPERLINK(\"http://x\")", "@call", "open", at("2026-03-01T12:00:00Z"),
                            at("2026-03-04T12:00:00Z"), 28});
  const std::string csv = render_credits_report(report, ReportFormat::Csv);
  // Ids typed by people are text and get the apostrophe; amounts stay numbers.
  CHECK(csv.find("overdue,,open,1,,\"'=HYPERLINK(\"\"http://x\"\")\",\"'@call\",") !=
        std::string::npos);
  CHECK(csv.find("credits,dropped-call,applied,1,-1.50,,,,\n") != std::string::npos);
}
