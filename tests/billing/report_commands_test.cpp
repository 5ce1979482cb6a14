// relaygw report, run as a real process on a real database file.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/credits.hpp"
#include "billing/disputes.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;

namespace {

using Run = relaygw::billing::testing::CommandRun;

class ReportCommandFixture {
 public:
  ReportCommandFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-report-commands-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    REQUIRE(relaygw("db init --db '" + db() + "' --actor staff:test").status == 0);
    post_calls();
  }
  ~ReportCommandFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string db() const { return path("billing.db"); }

  Run relaygw(const std::string& arguments) {
    return ::relaygw::billing::testing::run_relaygw(arguments);
  }

 private:
  // Two relay calls from Chicago on 2026-03-01 UTC (90 s and 45 s, 1.00 and 0.50) and one
  // emergency call on 2026-03-02 billed zero.
  void post_calls() {
    auto store = SqliteStore::open(db());
    REQUIRE(store);
    std::vector<Store::BatchPosting> batch;
    const char* ids[] = {"r1", "r2", "e1"};
    const char* times[] = {"2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-02T12:00:00Z"};
    const std::int64_t seconds[] = {90, 45, 60};
    const Money usage[] = {10000, 5000, 0};
    for (int i = 0; i < 3; ++i) {
      Store::BatchPosting item;
      item.request.id = ids[i];
      item.request.from = "+13125550107";
      item.request.emergency = i == 2;
      item.request.to = i == 2 ? "911" : "+12125550101";
      item.request.access = i == 2 ? AccessTag::None : AccessTag::RelayTty;
      item.events = {{CallEvent::Requested, parse_instant(times[i]).value(), "gateway", {}, {}}};
      item.posting.call_id = ids[i];
      item.posting.conversation_seconds = seconds[i];
      if (usage[i] != 0) {
        item.posting.lines.push_back({"usage", "Usage", usage[i]});
        item.posting.total = usage[i];
      }
      item.key = IdempotencyKey{std::string("k-") + ids[i], ids[i]};
      batch.push_back(item);
    }
    REQUIRE((*store)->post_completed_calls(batch, {"staff:test", batch[0].events[0].at}));
  }

  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE("report summary prints json and chart", "[billing][reports][command]") {
  ReportCommandFixture fixture;
  const std::string chart = fixture.path("chart.svg");
  Run run = fixture.relaygw("report summary --from 2026-03-01 --to 2026-03-07 --json --db '" +
                            fixture.db() + "' --chart '" + chart + "'");
  REQUIRE(run.status == 0);
  const nlohmann::json json = nlohmann::json::parse(run.output);
  CHECK(json["total"]["calls"] == 3);
  CHECK(json["total"]["total"] == "1.50");
  CHECK(json["by_period"].size() == 2);
  CHECK(json["by_period"][0]["period"] == "2026-03-01");
  CHECK(json["by_period"][0]["conversation_minutes"] == "2.3");  // 135 s

  std::ifstream file(chart);
  REQUIRE(file);
  std::stringstream svg;
  svg << file.rdbuf();
  CHECK(svg.str().find("<svg ") != std::string::npos);
  CHECK(svg.str().find("</svg>") != std::string::npos);
}

TEST_CASE("report relay-minutes prints csv", "[billing][reports][command]") {
  ReportCommandFixture fixture;
  Run run = fixture.relaygw(
      "report relay-minutes --from 2026-03-01 --to 2026-03-31 --format csv "
      "--db '" +
      fixture.db() + "'");
  REQUIRE(run.status == 0);
  CHECK(run.output ==
        "month,service,state,calls,not_completed,conversation_seconds,minutes\n"
        "2026-03,relay-tty,IL,2,0,135,2.3\n");
}

TEST_CASE("report emergency prints text", "[billing][reports][command]") {
  ReportCommandFixture fixture;
  Run run = fixture.relaygw("report emergency --from 2026-03-01 --to 2026-03-31 --db '" +
                            fixture.db() + "' --time-zone America/Chicago");
  REQUIRE(run.status == 0);
  CHECK(run.output.find("Emergency calls, 2026-03-01 to 2026-03-31 (America/Chicago): 1") !=
        std::string::npos);
  CHECK(run.output.find("2026-03-02 06:00:00 CST") != std::string::npos);
}

TEST_CASE("report rejects bad options", "[billing][reports][command]") {
  ReportCommandFixture fixture;
  const std::string db = " --db '" + fixture.db() + "'";
  Run swapped = fixture.relaygw("report summary --from 2026-03-31 --to 2026-03-01" + db);
  CHECK(swapped.status != 0);
  CHECK(swapped.output.find("swap --from and --to") != std::string::npos);
  Run week = fixture.relaygw("report summary --from 2026-03-01 --to 2026-03-02 --by week" + db);
  CHECK(week.status != 0);
  CHECK(week.output.find("invalid --by 'week'") != std::string::npos);
  Run date = fixture.relaygw("report emergency --from 2026-3-1 --to 2026-03-02" + db);
  CHECK(date.status != 0);
  CHECK(date.output.find("2026-3-1") != std::string::npos);
  Run zone =
      fixture.relaygw("report summary --from 2026-03-01 --to 2026-03-02 --time-zone Nowhere" + db);
  CHECK(zone.status != 0);
  CHECK(zone.output.find("unknown time zone 'Nowhere'") != std::string::npos);
  Run missing = fixture.relaygw("report summary --from 2026-03-01 --to 2026-03-02 --db '" +
                                fixture.path("missing.db") + "'");
  CHECK(missing.status != 0);
  Run help = fixture.relaygw("report summary --help");
  CHECK(help.status == 0);
  CHECK(help.output.find("--chart") != std::string::npos);

  const std::string range = "report summary --from 2026-03-01 --to 2026-03-02" + db;
  Run both = fixture.relaygw(range + " --format csv --json");
  INFO(both.output);
  CHECK(both.status != 0);
  CHECK(both.output.find("--format excludes --json") != std::string::npos);
  CHECK(both.output.find("\"calls\"") == std::string::npos);

  Run folder = fixture.relaygw(range + " --chart '" + fixture.path("") + "'");
  INFO(folder.output);
  CHECK(folder.status != 0);
  CHECK(folder.output.find("is a folder; give the path of the SVG file to write") !=
        std::string::npos);

  // Only relay-minutes loads the reference data, and no report writes.
  Run data = fixture.relaygw("report emergency --from 2026-03-01 --to 2026-03-02 --data-dir /x" +
                             db);
  CHECK(data.status != 0);
  Run actor = fixture.relaygw(range + " --actor staff:x");
  CHECK(actor.status != 0);
}

TEST_CASE("report credits prints json", "[billing][reports][command]") {
  ReportCommandFixture fixture;
  {
    auto store = SqliteStore::open(fixture.db());
    REQUIRE(store);
    const WriteContext staff{"staff:test", parse_instant("2026-03-03T09:00:00Z").value()};
    CreditRequest credit;
    credit.id = "cr1";
    credit.call_id = "r1";
    credit.line_no = 1;
    credit.reason = CreditReason::BadConnection;
    credit.amount = 2'500;
    REQUIRE((*store)->request_credit(credit, IdempotencyKey{"k-cr1", "h"}, staff));
    REQUIRE((*store)->open_dispute(DisputeOpenRequest{"d1", "r2", std::nullopt, "too long", 2},
                                   IdempotencyKey{"k-d1", "h"}, staff));
  }
  const std::string db = " --db '" + fixture.db() + "'";
  Run run = fixture.relaygw("report credits --from 2026-03-01 --to 2026-03-31 --json" +
                            std::string(" --as-of 2026-03-10T09:00:00Z") + db);
  REQUIRE(run.status == 0);
  const nlohmann::json json = nlohmann::json::parse(run.output);
  CHECK(json["credits_applied"] == "0.25");
  REQUIRE(json["credits"].size() == 1);
  CHECK(json["credits"][0]["reason"] == "bad-connection");
  REQUIRE(json["overdue"].size() == 1);
  CHECK(json["overdue"][0]["dispute_id"] == "d1");
  CHECK(json["overdue"][0]["days_overdue"] == 5);

  Run csv = fixture.relaygw("report credits --from 2026-03-01 --to 2026-03-31 --format csv" +
                            std::string(" --as-of 2026-03-10T09:00:00Z") + db);
  REQUIRE(csv.status == 0);
  CHECK(csv.output.find("credits,bad-connection,applied,1,0.25,,,,\n") != std::string::npos);
  Run bad =
      fixture.relaygw("report credits --from 2026-03-01 --to 2026-03-31 --as-of yesterday" + db);
  CHECK(bad.status != 0);
  CHECK(bad.output.find("--as-of") != std::string::npos);
}
