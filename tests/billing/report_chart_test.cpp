// The SVG chart of a summary report: one bar per day for short ranges, and weekly, monthly or
// yearly totals, with a note under the plot, when a range would need more than 120 bars.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/report_chart.hpp"
#include "billing/report_limits.hpp"

using namespace relaygw::billing;

namespace {

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

std::size_t bar_count(const std::string& svg) {
  const std::size_t start = svg.find("<g id=\"minutes\"");
  const std::size_t end = svg.find("</g>", start);
  return count_of(svg.substr(start, end - start), "<rect ");
}

SummaryRow day_row(const std::string& day, std::int64_t seconds, Money total) {
  SummaryRow row;
  row.period = day;
  row.conversation_seconds = seconds;
  row.total = total;
  return row;
}

}  // namespace

TEST_CASE("chart draws one bar per day", "[billing][reports][chart]") {
  const std::string svg = render_daily_chart_svg({day_row("2026-03-02", 600, 12'000)}, {2026, 3, 1},
                                                 {2026, 3, 31}, "March");
  CHECK(bar_count(svg) == 31);
  CHECK(svg.find("Conversation minutes per day") != std::string::npos);
  CHECK(svg.find("id=\"aggregated\"") == std::string::npos);
}

TEST_CASE("chart aggregates long ranges", "[billing][reports][chart]") {
  const std::vector<SummaryRow> rows = {day_row("2026-03-02", 600, 12'000),
                                        day_row("2026-03-03", 1'200, 24'000),
                                        day_row("2026-04-15", 60, 1'000)};
  // 365 days: 53 weeks.
  const std::string year = render_daily_chart_svg(rows, {2026, 1, 1}, {2026, 12, 31}, "2026");
  CHECK(bar_count(year) == 53);
  CHECK(year.find("Conversation minutes per week") != std::string::npos);
  CHECK(year.find("365 days shown as 53 week totals") != std::string::npos);
  // 2026-03-02 and 2026-03-03 fall in the week that starts 2026-02-26 and add up.
  CHECK(year.find("<title>2026-02-26: 30.0 min</title>") != std::string::npos);

  // Ten years: 522 weeks would be too many, so 120 months.
  const std::string decade = render_daily_chart_svg(rows, {2020, 1, 1}, {2029, 12, 31}, "2020s");
  CHECK(bar_count(decade) == 120);
  CHECK(decade.find("per month") != std::string::npos);
  CHECK(decade.find("<title>2026-03: 30.0 min</title>") != std::string::npos);

  // The whole report range: 100 yearly bars.
  const std::string century =
      render_daily_chart_svg(rows, kFirstReportDate, kLastReportDate, "all");
  CHECK(bar_count(century) == 100);
  CHECK(century.find("per year") != std::string::npos);
  CHECK(century.size() < 200'000);
}

TEST_CASE("report dates stay in range", "[billing][reports]") {
  CHECK(check_report_dates({2000, 1, 1}, {2099, 12, 31}));
  const relaygw::Status late = check_report_dates({2026, 3, 1}, {9999, 12, 31});
  CHECK(late.code() == relaygw::StatusCode::InvalidArgument);
  CHECK(late.message().find("--to 9999-12-31 is outside") != std::string::npos);
  const relaygw::Status early = check_report_dates({0, 1, 1}, {2026, 3, 1});
  CHECK(early.message().find("--from 0000-01-01 is outside") != std::string::npos);
  const relaygw::Status reversed = check_report_dates({2026, 3, 2}, {2026, 3, 1});
  CHECK(reversed.message().find("swap --from and --to") != std::string::npos);
}
