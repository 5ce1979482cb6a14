// Reports over a real SQLite file holding a small hand-made set of posted calls, with the
// expected sums worked out below.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/report_chart.hpp"
#include "billing/reports.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/sqlite_edit.hpp"

using namespace relaygw::billing;

namespace {

class ReportFixture {
 public:
  ReportFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-reports-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "reports.db").string(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
    load_calls();
  }
  ~ReportFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Store& store() { return *store_; }

  // Runs `sql` on the database file through SQLite itself, as an edit outside relaygw would.
  void edit_outside_relaygw(const std::string& sql) {
    relaygw::testing::edit_outside_relaygw((dir_ / "reports.db").string(), sql);
  }

  // Posts call `id` as `call complete --unaccepted` posts a collect or third-number call whose
  // billed party declined: connected for `conversation` seconds, no acceptance, nothing billed.
  void add_declined(const std::string& id, const std::string& requested, BillingMethod billing,
                    AccessTag access, std::int64_t conversation) {
    Store::BatchPosting item = call(id, requested, billing, access, conversation, {});
    item.posting.billable_seconds = 0;
    WriteContext context{"staff:test", parse_instant("2026-04-02T00:00:00Z").value()};
    REQUIRE(store_->post_completed_calls({item}, context));
  }

 private:
  struct Line {
    const char* kind;
    Money amount;
  };

  static Store::BatchPosting call(const std::string& id, const std::string& requested,
                                  BillingMethod billing, AccessTag access,
                                  std::optional<std::int64_t> conversation, std::vector<Line> lines,
                                  bool emergency = false) {
    Store::BatchPosting item;
    item.request.id = id;
    item.request.from = "+13125550107";
    item.request.to = emergency ? "911" : "+12125550101";
    item.request.billing = billing;
    item.request.access = access;
    item.request.emergency = emergency;
    const Instant start = parse_instant(requested).value();
    item.events = {{CallEvent::Requested, start, "gateway", {}, {}}};
    item.posting.call_id = id;
    item.posting.conversation_seconds = conversation;
    item.posting.billable_seconds = conversation ? (*conversation + 59) / 60 * 60 : 0;
    for (const Line& line : lines) {
      item.posting.lines.push_back({line.kind, line.kind, line.amount});
      item.posting.total += line.amount;
    }
    item.key = IdempotencyKey{"complete-" + id, id};
    return item;
  }

  // c1  2026-03-01T03:00Z (Feb 28 21:00 CST)  sent-paid none     125 s  3.00 + 0.09 tax = 3.09
  // c2  2026-03-01T15:00Z                     collect  relay-tty  61 s  2.00 + 2.49 - 1.00
  //                                                                      + 0.10 tax = 3.59
  // c3  2026-03-02T10:00Z                     sent-paid relay-tty 32 s  1.00
  // c4  2026-03-02T12:00Z  emergency 911      sent-paid none     300 s  0.00, no lines
  // c5  2026-03-31T23:30Z                     sent-paid none   unanswered, 0.00
  // c6  2026-04-01T02:00Z (Mar 31 21:00 CDT)  sent-paid relay-ip   3 s  0.50
  void load_calls() {
    std::vector<Store::BatchPosting> batch = {
        call("c1", "2026-03-01T03:00:00Z", BillingMethod::SentPaid, AccessTag::None, 125,
             {{"usage", 30000}, {"tax", 900}}),
        call("c2", "2026-03-01T15:00:00Z", BillingMethod::Collect, AccessTag::RelayTty, 61,
             {{"usage", 20000}, {"surcharge", 24900}, {"discount", -10000}, {"tax", 1000}}),
        call("c3", "2026-03-02T10:00:00Z", BillingMethod::SentPaid, AccessTag::RelayTty, 32,
             {{"usage", 10000}}),
        call("c4", "2026-03-02T12:00:00Z", BillingMethod::SentPaid, AccessTag::None, 300, {}, true),
        call("c5", "2026-03-31T23:30:00Z", BillingMethod::SentPaid, AccessTag::None, std::nullopt,
             {}),
        call("c6", "2026-04-01T02:00:00Z", BillingMethod::SentPaid, AccessTag::RelayIp, 3,
             {{"usage", 5000}}),
    };
    WriteContext context{"staff:test", parse_instant("2026-04-02T00:00:00Z").value()};
    REQUIRE(store_->post_completed_calls(batch, context));
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

ReportRequest march(const std::string& zone, ReportPeriod by = ReportPeriod::Day) {
  ReportRequest request;
  request.from = {2026, 3, 1};
  request.to = {2026, 3, 31};
  request.by = by;
  request.time_zone = zone;
  return request;
}

const SummaryRow* find_row(const std::vector<SummaryRow>& rows, const std::string& period,
                           const std::string& group) {
  for (const SummaryRow& row : rows) {
    if (row.period == period && row.group == group) {
      return &row;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("summary sums UTC days", "[billing][reports]") {
  ReportFixture fixture;
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE(report);

  // UTC March holds c1..c5; c6 is on April 1 in UTC.
  CHECK(report->grand_total.calls == 5);
  CHECK(report->grand_total.total == 30900 + 35900 + 10000);
  CHECK(report->grand_total.answered == 4);
  CHECK(report->grand_total.emergency == 1);
  CHECK(report->grand_total.conversation_seconds == 125 + 61 + 32 + 300);

  const SummaryRow* first = find_row(report->by_period, "2026-03-01", "all");
  REQUIRE(first != nullptr);
  CHECK(first->calls == 2);
  CHECK(first->usage == 50000);
  CHECK(first->surcharges == 24900);
  CHECK(first->discounts == -10000);
  CHECK(first->taxes == 1900);
  CHECK(first->total == 66800);
  CHECK(first->usage + first->surcharges + first->discounts + first->taxes + first->fees ==
        first->total);

  const SummaryRow* second = find_row(report->by_period, "2026-03-02", "all");
  REQUIRE(second != nullptr);
  CHECK(second->calls == 2);
  CHECK(second->total == 10000);
  CHECK(report->by_period.size() == 3);  // March 1, 2 and 31
}

TEST_CASE("summary groups by billing and access", "[billing][reports]") {
  ReportFixture fixture;
  auto report = summarize_billing(fixture.store(), march("UTC", ReportPeriod::Month));
  REQUIRE(report);
  REQUIRE(report->by_period.size() == 1);
  CHECK(report->by_period[0].period == "2026-03");

  const SummaryRow* collect = find_row(report->by_billing, "2026-03", "collect");
  REQUIRE(collect != nullptr);
  CHECK(collect->calls == 1);
  CHECK(collect->total == 35900);
  const SummaryRow* sent_paid = find_row(report->by_billing, "2026-03", "sent-paid");
  REQUIRE(sent_paid != nullptr);
  CHECK(sent_paid->calls == 4);
  CHECK(sent_paid->total == 30900 + 10000);

  const SummaryRow* relay = find_row(report->by_access, "2026-03", "relay-tty");
  REQUIRE(relay != nullptr);
  CHECK(relay->calls == 2);
  CHECK(relay->conversation_seconds == 93);
  CHECK(relay->total == 45900);
  // The daily rows stay per day even when the report is by month.
  CHECK(report->daily.size() == 3);
}

TEST_CASE("summary follows reporting zone days", "[billing][reports]") {
  ReportFixture fixture;
  auto report = summarize_billing(fixture.store(), march("America/Chicago"));
  REQUIRE(report);
  // c1 is on February 28 in Chicago, so it is out; c6 is on March 31 in Chicago, so it is in.
  CHECK(report->grand_total.calls == 5);
  CHECK(report->grand_total.total == 35900 + 10000 + 5000);
  CHECK(find_row(report->by_period, "2026-02-28", "all") == nullptr);
  const SummaryRow* last = find_row(report->by_period, "2026-03-31", "all");
  REQUIRE(last != nullptr);
  CHECK(last->calls == 2);  // c5 at 18:30 CDT and c6 at 21:00 CDT
  CHECK(last->total == 5000);

  auto range = report_range(march("America/Chicago"));
  REQUIRE(range);
  CHECK(format_instant(range->first) == "2026-03-01T06:00:00Z");   // CST, UTC-6
  CHECK(format_instant(range->second) == "2026-04-01T05:00:00Z");  // CDT, UTC-5
}

TEST_CASE("summary rejects edited charge line", "[billing][reports]") {
  ReportFixture fixture;
  REQUIRE(summarize_billing(fixture.store(), march("UTC")));
  // The posting keeps its total, so the line sums and the total no longer agree.
  fixture.edit_outside_relaygw(
      "UPDATE charge_lines SET amount = amount + 10000 WHERE rowid = (SELECT MIN(rowid) FROM "
      "charge_lines)");
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE_FALSE(report);
  CHECK(report.status().code() == relaygw::StatusCode::Corrupt);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("would not equal its columns") != std::string::npos);
  // The same problem that `relaygw audit verify` reports for the edit.
  CHECK(message.find("charge_lines row") != std::string::npos);
  CHECK(message.find("it was changed after it was written") != std::string::npos);
}

TEST_CASE("summary rejects overflowing totals", "[billing][reports]") {
  ReportFixture fixture;
  // c1 and c2 each get one usage line and a total of INT64_MAX, so each call's lines still
  // equal its total, but the month's total leaves the 64-bit range.
  fixture.edit_outside_relaygw(
      "UPDATE charge_lines SET amount = CASE WHEN kind = 'usage' THEN 9223372036854775807 "
      "ELSE 0 END WHERE call_id IN ('c1', 'c2')");
  fixture.edit_outside_relaygw(
      "UPDATE call_postings SET total = 9223372036854775807 WHERE call_id IN ('c1', 'c2')");
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE_FALSE(report);
  CHECK(report.status().code() == relaygw::StatusCode::Corrupt);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("adding call c2 to the summary takes its totals past the 64-bit integer "
                     "range") != std::string::npos);
  // The first row that `relaygw audit verify` finds changed, in charge_lines or call_postings.
  CHECK(message.find("audit verify finds c") != std::string::npos);
  CHECK(message.find("was changed after it was written") != std::string::npos);
  CHECK(message.find("Before reporting on it, run `relaygw audit verify --db ") !=
        std::string::npos);
  CHECK(message.find("reports.db` to find the row") != std::string::npos);
}

TEST_CASE("summary rejects overflowing charge lines", "[billing][reports]") {
  ReportFixture fixture;
  // Two lines of one kind on call c2 whose sum leaves the 64-bit range.
  fixture.edit_outside_relaygw(
      "UPDATE charge_lines SET amount = 9223372036854775807, kind = 'tax' WHERE call_id = 'c2' "
      "AND kind IN ('tax', 'surcharge')");
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE_FALSE(report);
  CHECK(report.status().code() == relaygw::StatusCode::Corrupt);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("the tax charge lines of call c2 sum past the 64-bit integer range") !=
        std::string::npos);
  CHECK(message.find("run `relaygw audit verify --db ") != std::string::npos);
  CHECK(message.find("reports.db") != std::string::npos);
}

TEST_CASE("summary rejects real charge line", "[billing][reports]") {
  ReportFixture fixture;
  // 30000.5 sums to the posted total when read as an integer, so before the type check the
  // summary showed it as $3.00 without a word.
  fixture.edit_outside_relaygw(
      "UPDATE charge_lines SET amount = 30000.5 WHERE call_id = 'c1' AND kind = 'usage'");
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE_FALSE(report);
  CHECK(report.status().code() == relaygw::StatusCode::Corrupt);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("table charge_lines of database '") != std::string::npos);
  CHECK(message.find("stores the amount of call c1 line ") != std::string::npos);
  CHECK(message.find("as a real number '30000.5'") != std::string::npos);
  CHECK(message.find("run `relaygw audit verify --db ") != std::string::npos);
}

TEST_CASE("summary rejects real posted total", "[billing][reports]") {
  ReportFixture fixture;
  fixture.edit_outside_relaygw("UPDATE call_postings SET total = 5000.25 WHERE call_id = 'c6'");
  ReportRequest request = march("UTC");
  request.to = {2026, 4, 30};
  auto report = summarize_billing(fixture.store(), request);
  REQUIRE_FALSE(report);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("table call_postings of database '") != std::string::npos);
  CHECK(message.find("stores the amount of call c6 as a real number '5000.25'") !=
        std::string::npos);
}

TEST_CASE("reconcile rejects non-integer amounts", "[billing][reports]") {
  struct Edit {
    const char* sql;
    const char* expected;
  };
  // The fixture posts every call at 2026-04-02T00:00:00Z.
  const Edit edits[] = {
      {"UPDATE call_postings SET total = 30900.5 WHERE call_id = 'c1'",
       "table call_postings of database '"},
      {"UPDATE charge_lines SET amount = 'x' WHERE call_id = 'c3'",
       "stores the amount of call c3 line "},
      {"UPDATE journal_entries SET amount = amount + 0.25 WHERE seq = (SELECT MIN(seq) FROM "
       "journal_entries WHERE journal_id = 'call:c2')",
       "stores the amount of entry "},
  };
  for (const Edit& edit : edits) {
    DYNAMIC_SECTION(edit.sql) {
      ReportFixture fixture;
      REQUIRE(fixture.store().reconcile_day("2026-04-02"));
      fixture.edit_outside_relaygw(edit.sql);
      auto day = fixture.store().reconcile_day("2026-04-02");
      REQUIRE_FALSE(day);
      CHECK(day.status().code() == relaygw::StatusCode::Corrupt);
      const std::string message = day.status().message();
      INFO(message);
      CHECK(message.find(edit.expected) != std::string::npos);
      CHECK(message.find("run `relaygw audit verify --db ") != std::string::npos);
    }
  }
}

TEST_CASE("report range rejects bad input", "[billing][reports]") {
  ReportRequest request = march("Mars/Olympus");
  auto range = report_range(request);
  REQUIRE_FALSE(range);
  CHECK(range.status().message().find("Mars/Olympus") != std::string::npos);

  request = march("UTC");
  request.to = {2026, 2, 1};
  CHECK_FALSE(report_range(request));
  CHECK_FALSE(parse_local_date("2026-02-30"));
  CHECK_FALSE(parse_local_date("03/01/2026"));
  CHECK(parse_local_date("2026-02-28").value() == LocalDate{2026, 2, 28});
}

TEST_CASE("relay minutes round after summing", "[billing][reports]") {
  CHECK(seconds_to_tenths_of_minute(0) == 0);
  CHECK(seconds_to_tenths_of_minute(2) == 0);
  CHECK(seconds_to_tenths_of_minute(3) == 1);
  CHECK(seconds_to_tenths_of_minute(6) == 1);
  CHECK(seconds_to_tenths_of_minute(8) == 1);
  CHECK(seconds_to_tenths_of_minute(9) == 2);
  CHECK(seconds_to_tenths_of_minute(93) == 16);

  ReportFixture fixture;
  auto state_of = [](const std::string& number) {
    return number == "+13125550107" ? std::string("IL") : std::string();
  };
  auto rows = relay_minutes(fixture.store(), march("America/Chicago"), state_of);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  // relay-ip sorts before relay-tty.
  CHECK((*rows)[0].service == "relay-ip");
  CHECK((*rows)[0].conversation_seconds == 3);
  CHECK((*rows)[0].tenths_of_minute == 1);
  CHECK((*rows)[1].month == "2026-03");
  CHECK((*rows)[1].service == "relay-tty");
  CHECK((*rows)[1].state == "IL");
  CHECK((*rows)[1].calls == 2);
  CHECK((*rows)[1].conversation_seconds == 93);
  // 61 s and 32 s rounded one by one would give 1.0 + 0.5 = 1.5 minutes; summed first, 1.6.
  CHECK((*rows)[1].tenths_of_minute == 16);

  const std::string csv = render_relay_minutes(*rows, march("America/Chicago"), ReportFormat::Csv);
  CHECK(csv.find("2026-03,relay-tty,IL,2,0,93,1.6\n") != std::string::npos);
}

TEST_CASE("emergency report lists free calls", "[billing][reports]") {
  ReportFixture fixture;
  auto rows = emergency_calls(fixture.store(), march("America/Chicago"));
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  const EmergencyCallRow& row = rows->front();
  CHECK(row.call_id == "c4");
  CHECK(row.caller == "+13125550107");
  CHECK(row.dialed == "911");
  CHECK(row.billed == 0);
  CHECK(row.psap == "not recorded");
  CHECK(row.local_time == "2026-03-02 06:00:00 CST");
  CHECK(row.conversation_seconds == 300);
}

TEST_CASE("summary renders csv and json", "[billing][reports]") {
  ReportFixture fixture;
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE(report);
  const std::string csv = render_summary(*report, ReportFormat::Csv);
  CHECK(csv.rfind("period,group_by,group,calls", 0) == 0);
  CHECK(csv.find("2026-03-01,period,all,2,2,0,186,3.1,300,5.00,2.49,-1.00,0.19,0.00,6.68\n") !=
        std::string::npos);
  CHECK(csv.find("total,total,all,5,4,1,518,8.6,") != std::string::npos);
  const std::string json = render_summary(*report, ReportFormat::Json);
  CHECK(json.find("\"total\": \"7.68\"") != std::string::npos);
  const std::string text = render_summary(*report, ReportFormat::Text);
  CHECK(text.find("7.68") != std::string::npos);
}

TEST_CASE("progress reports the final count", "[billing][reports]") {
  ReportFixture fixture;
  ReportRequest request = march("UTC");
  std::int64_t last_done = -1;
  std::int64_t last_total = -1;
  request.progress = [&](std::int64_t done, std::int64_t total) {
    last_done = done;
    last_total = total;
  };
  REQUIRE(summarize_billing(fixture.store(), request));
  CHECK(last_done == 5);
  CHECK(last_total == 5);
}

namespace {

// Checks that every tag opened in `xml` is closed in order; returns the first problem or "".
std::string check_well_formed(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t at = 0;
  while ((at = xml.find('<', at)) != std::string::npos) {
    const std::size_t end = xml.find('>', at);
    if (end == std::string::npos) {
      return "unclosed '<' at " + std::to_string(at);
    }
    const std::string tag = xml.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') {
      continue;
    }
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) {
        return "unexpected </" + tag.substr(1) + ">";
      }
      open.pop_back();
      continue;
    }
    if (tag.back() == '/') {
      continue;
    }
    open.push_back(tag.substr(0, tag.find(' ')));
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t found = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++found;
  }
  return found;
}

}  // namespace

TEST_CASE("chart is well formed svg", "[billing][reports][chart]") {
  ReportFixture fixture;
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE(report);
  const std::string svg =
      render_daily_chart_svg(report->daily, {2026, 3, 1}, {2026, 3, 31}, "Minutes & <revenue>");
  CHECK(check_well_formed(svg) == "");
  CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(svg.find("Minutes &amp; &lt;revenue&gt;") != std::string::npos);
  CHECK(svg.find("<g id=\"minutes\"") != std::string::npos);
  CHECK(svg.find("<g id=\"revenue\"") != std::string::npos);
  CHECK(svg.find("<g id=\"legend\"") != std::string::npos);
  // One bar and one revenue marker per day of March.
  CHECK(count(svg, "<circle ") == 31);
  CHECK(svg.find("2026-03-01: $6.68") != std::string::npos);
  CHECK(svg.find("2026-03-02: 5.5 min") != std::string::npos);
  CHECK(svg.find("Revenue per day (USD)") != std::string::npos);
}

TEST_CASE("summary counts declined calls unanswered", "[billing][reports]") {
  ReportFixture fixture;
  fixture.add_declined("d1", "2026-03-05T10:00:00Z", BillingMethod::Collect, AccessTag::RelayTty,
                       45);
  fixture.add_declined("d2", "2026-03-05T11:00:00Z", BillingMethod::ThirdNumber, AccessTag::None,
                       20);
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE(report);
  // c1..c5 as before, plus two declined calls that are calls but not answered.
  CHECK(report->grand_total.calls == 7);
  CHECK(report->grand_total.answered == 4);
  CHECK(report->grand_total.conversation_seconds == 125 + 61 + 32 + 300);
  const SummaryRow* day = find_row(report->by_period, "2026-03-05", "all");
  REQUIRE(day != nullptr);
  CHECK(day->calls == 2);
  CHECK(day->answered == 0);
  CHECK(day->conversation_seconds == 0);
  const SummaryRow* third = find_row(report->by_billing, "2026-03-05", "third-party");
  REQUIRE(third != nullptr);
  CHECK(third->answered == 0);
  // The billed collect call c2 still counts as answered.
  const SummaryRow* collect = find_row(report->by_billing, "2026-03-01", "collect");
  REQUIRE(collect != nullptr);
  CHECK(collect->answered == 1);
}

TEST_CASE("relay minutes leave out declined calls", "[billing][reports]") {
  ReportFixture fixture;
  fixture.add_declined("d1", "2026-03-05T10:00:00Z", BillingMethod::Collect, AccessTag::RelayTty,
                       45);
  auto state_of = [](const std::string& number) {
    return number == "+13125550107" ? std::string("IL") : std::string();
  };
  auto rows = relay_minutes(fixture.store(), march("America/Chicago"), state_of);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[1].service == "relay-tty");
  // The declined call is counted apart from the completed calls and adds no minutes.
  CHECK((*rows)[1].calls == 2);
  CHECK((*rows)[1].not_completed == 1);
  CHECK((*rows)[1].conversation_seconds == 93);
  CHECK((*rows)[1].tenths_of_minute == 16);

  const std::string text = render_relay_minutes(*rows, march("America/Chicago"),
                                                ReportFormat::Text);
  CHECK(text.find("calls: completed relay calls") != std::string::npos);
  CHECK(text.find("not_completed: refused, declined") != std::string::npos);
  const std::string csv = render_relay_minutes(*rows, march("America/Chicago"), ReportFormat::Csv);
  CHECK(csv.find("month,service,state,calls,not_completed,conversation_seconds,minutes\n") == 0);
  CHECK(csv.find("2026-03,relay-tty,IL,2,1,93,1.6\n") != std::string::npos);
}

TEST_CASE("chart leaves out declined minutes", "[billing][reports][chart]") {
  ReportFixture fixture;
  fixture.add_declined("d1", "2026-03-05T10:00:00Z", BillingMethod::Collect, AccessTag::RelayTty,
                       600);
  auto report = summarize_billing(fixture.store(), march("UTC"));
  REQUIRE(report);
  const SummaryRow* day = nullptr;
  for (const SummaryRow& row : report->daily) {
    if (row.period == "2026-03-05") {
      day = &row;
    }
  }
  REQUIRE(day != nullptr);
  CHECK(day->calls == 1);
  CHECK(day->conversation_seconds == 0);
  const std::string svg =
      render_daily_chart_svg(report->daily, {2026, 3, 1}, {2026, 3, 31}, "Minutes and revenue");
  CHECK(svg.find("2026-03-05: 10.0 min") == std::string::npos);
}

// Call ids and PSAP ids have no fixed length, so a long one widens its column and the columns
// after it stay aligned.
TEST_CASE("emergency text aligns long values", "[billing][reports]") {
  ReportRequest request;
  request.from = LocalDate{2026, 3, 1};
  request.to = LocalDate{2026, 3, 31};
  request.time_zone = "America/Chicago";
  EmergencyCallRow short_row;
  short_row.call_id = "e1";
  short_row.requested_at = parse_instant("2026-03-02T12:00:00Z").value();
  short_row.local_time = "2026-03-02 06:00:00 CST";
  short_row.caller = "+13125550107";
  short_row.dialed = "911";
  short_row.psap = "IL-COOK";
  short_row.conversation_seconds = 60;
  EmergencyCallRow long_row = short_row;
  long_row.call_id = "provider-a:session-0123456789abcdef:call-0123456789abcdef";
  long_row.psap = "IL-COOK-COUNTY-CENTRAL-BACKUP-ROUTE";
  long_row.conversation_seconds = 123456789;
  long_row.billed = 1'234'500;

  const std::string text =
      render_emergency_calls({short_row, long_row}, request, ReportFormat::Text);
  INFO(text);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  REQUIRE(lines.size() == 5);  // title, blank line, header, two calls
  const std::string& header = lines[2];
  for (std::size_t i = 2; i < lines.size(); ++i) {
    INFO(lines[i]);
    // Every row ends in the right-aligned billed column, at the same width.
    CHECK(lines[i].size() == header.size());
    // The caller and PSAP columns start where their headings start.
    CHECK(lines[i].find(i == 2 ? "caller" : "+13125550107") == header.find("caller"));
    CHECK(lines[i].find(i == 2 ? "PSAP" : "IL-COOK") == header.find("PSAP"));
  }
  CHECK(lines[4].find("123.45") == header.size() - 6);
}
