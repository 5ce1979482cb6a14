#include "billing/report_chart.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <date/date.h>
#include <fmt/format.h>

namespace relaygw::billing {
namespace {

constexpr double kWidth = 960;
constexpr double kHeight = 480;
constexpr double kLeft = 80;    // room for the minutes axis labels
constexpr double kRight = 90;   // room for the revenue axis labels
constexpr double kTop = 60;     // title and legend
constexpr double kBottom = 70;  // date labels
constexpr int kTicks = 5;

// Most bars a chart draws. A longer range is drawn as weekly, monthly or yearly totals, so the
// SVG stays a few hundred kilobytes however long the report range is.
constexpr std::size_t kMaxBars = 120;

enum class Bucket { Day, Week, Month, Year };

std::string_view bucket_noun(Bucket bucket) {
  switch (bucket) {
    case Bucket::Day:
      return "day";
    case Bucket::Week:
      return "week";
    case Bucket::Month:
      return "month";
    case Bucket::Year:
      return "year";
  }
  return "day";
}

// Returns the number of buckets that the days [first, last] fall into.
std::size_t bucket_count(Bucket bucket, date::sys_days first, date::sys_days last) {
  const auto days = static_cast<std::size_t>((last - first).count()) + 1;
  const date::year_month_day a(first);
  const date::year_month_day b(last);
  switch (bucket) {
    case Bucket::Day:
      return days;
    case Bucket::Week:
      return (days + 6) / 7;
    case Bucket::Month:
      return static_cast<std::size_t>((b.year() - a.year()).count() * 12 +
                                      (static_cast<int>(static_cast<unsigned>(b.month())) -
                                       static_cast<int>(static_cast<unsigned>(a.month())))) +
             1;
    case Bucket::Year:
      return static_cast<std::size_t>((b.year() - a.year()).count()) + 1;
  }
  return days;
}

// Returns the label of the bucket that `day` falls in: the day itself, the first day of its
// 7-day week counted from `first`, "YYYY-MM" or "YYYY".
std::string bucket_label(Bucket bucket, date::sys_days first, date::sys_days day) {
  switch (bucket) {
    case Bucket::Day:
      return date::format("%Y-%m-%d", day);
    case Bucket::Week:
      return date::format("%Y-%m-%d", first + date::days{(day - first).count() / 7 * 7});
    case Bucket::Month:
      return date::format("%Y-%m", day);
    case Bucket::Year:
      return date::format("%Y", day);
  }
  return {};
}

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Returns a round axis maximum (1, 2 or 5 times a power of ten) at or above `value`.
double nice_ceiling(double value) {
  if (value <= 0) {
    return 1;
  }
  const double power = std::pow(10.0, std::floor(std::log10(value)));
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * power >= value) {
      return step * power;
    }
  }
  return 10 * power;
}

std::string axis_number(double value) {
  return value == std::floor(value) ? fmt::format("{:.0f}", value) : fmt::format("{:.1f}", value);
}

}  // namespace

std::string render_daily_chart_svg(const std::vector<SummaryRow>& daily, const LocalDate& from,
                                   const LocalDate& to, const std::string& title) {
  // One slot per calendar day of the range, zero where no calls were made, or per week, month
  // or year when a slot per day would pass kMaxBars.
  std::map<std::string, const SummaryRow*> by_day;
  for (const SummaryRow& row : daily) {
    by_day[row.period] = &row;
  }
  struct Day {
    std::string label;
    double minutes = 0;
    double dollars = 0;
  };
  std::vector<Day> days;
  const date::sys_days first = date::year{from.year} / from.month / from.day;
  const date::sys_days last = date::year{to.year} / to.month / to.day;
  Bucket bucket = Bucket::Day;
  for (Bucket wider : {Bucket::Week, Bucket::Month, Bucket::Year}) {
    if (first <= last && bucket_count(bucket, first, last) > kMaxBars) {
      bucket = wider;
    }
  }
  for (date::sys_days day = first; day <= last; day += date::days{1}) {
    const std::string label = bucket_label(bucket, first, day);
    if (days.empty() || days.back().label != label) {
      days.push_back(Day{label});
    }
    if (auto found = by_day.find(date::format("%Y-%m-%d", day)); found != by_day.end()) {
      days.back().minutes += static_cast<double>(found->second->conversation_seconds) / 60.0;
      days.back().dollars += static_cast<double>(found->second->total) / kUnitsPerDollar;
    }
  }
  if (days.empty()) {
    days.push_back({format_local_date(from)});
  }
  const std::string per = std::string(bucket_noun(bucket));

  double max_minutes = 0;
  double max_dollars = 0;
  for (const Day& day : days) {
    max_minutes = std::max(max_minutes, day.minutes);
    max_dollars = std::max(max_dollars, day.dollars);
  }
  const double minutes_top = nice_ceiling(max_minutes);
  const double dollars_top = nice_ceiling(max_dollars);
  const double plot_width = kWidth - kLeft - kRight;
  const double plot_height = kHeight - kTop - kBottom;
  const double slot = plot_width / static_cast<double>(days.size());
  const double base = kTop + plot_height;

  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<title>{2}</title>\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{3}\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">{2}</text>\n",
      kWidth, kHeight, escape_xml(title), kWidth / 2);

  // Grid lines and both axes' tick labels.
  svg += "<g id=\"axes\">\n";
  for (int tick = 0; tick <= kTicks; ++tick) {
    const double y = base - plot_height * tick / kTicks;
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#dddddd\"/>\n"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n"
        "<text x=\"{6}\" y=\"{4:.1f}\">{7}</text>\n",
        kLeft, y, kWidth - kRight, kLeft - 6, y + 4, axis_number(minutes_top * tick / kTicks),
        kWidth - kRight + 6, "$" + axis_number(dollars_top * tick / kTicks));
  }
  svg += fmt::format(
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n"
      "<line x1=\"{3}\" y1=\"{1}\" x2=\"{3}\" y2=\"{2}\" stroke=\"black\"/>\n"
      "<line x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" y2=\"{2}\" stroke=\"black\"/>\n"
      "<text transform=\"translate(20 {4}) rotate(-90)\" text-anchor=\"middle\">"
      "Conversation minutes per {6}</text>\n"
      "<text transform=\"translate({5} {4}) rotate(90)\" text-anchor=\"middle\">"
      "Revenue per {6} (USD)</text>\n",
      kLeft, kTop, base, kWidth - kRight, kTop + plot_height / 2, kWidth - 20, per);
  if (bucket != Bucket::Day) {
    svg += fmt::format(
        "<text id=\"aggregated\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">"
        "{} days shown as {} {} totals, because a chart has at most {} bars</text>\n",
        kWidth / 2, kHeight - 6, (last - first).count() + 1, days.size(), per, kMaxBars);
  }
  // Date labels: at most about 15, so they never overlap.
  const std::size_t label_every = std::max<std::size_t>(1, (days.size() + 14) / 15);
  for (std::size_t i = 0; i < days.size(); i += label_every) {
    const double x = kLeft + slot * (static_cast<double>(i) + 0.5);
    svg += fmt::format(
        "<text transform=\"translate({:.1f} {:.1f}) rotate(-45)\" text-anchor=\"end\">{}</text>\n",
        x, base + 14, days[i].label);
  }
  svg += "</g>\n";

  // Minutes as bars.
  svg += "<g id=\"minutes\" fill=\"#4e79a7\">\n";
  for (std::size_t i = 0; i < days.size(); ++i) {
    const double height = plot_height * days[i].minutes / minutes_top;
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\">"
        "<title>{}: {:.1f} min</title></rect>\n",
        kLeft + slot * static_cast<double>(i) + slot * 0.15, base - height, slot * 0.7, height,
        days[i].label, days[i].minutes);
  }
  svg += "</g>\n";

  // Revenue as a line with a marker per day.
  std::string points;
  std::string markers;
  for (std::size_t i = 0; i < days.size(); ++i) {
    const double x = kLeft + slot * (static_cast<double>(i) + 0.5);
    const double y = base - plot_height * days[i].dollars / dollars_top;
    points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", x, y);
    markers += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\"><title>{}: ${:.2f}</title></circle>\n", x, y,
        days[i].label, days[i].dollars);
  }
  svg += fmt::format(
      "<g id=\"revenue\" fill=\"#e15759\">\n<polyline points=\"{}\" fill=\"none\" "
      "stroke=\"#e15759\" stroke-width=\"2\"/>\n{}</g>\n",
      points, markers);

  // Legend.
  svg += fmt::format(
      "<g id=\"legend\">\n"
      "<rect x=\"{0}\" y=\"36\" width=\"12\" height=\"12\" fill=\"#4e79a7\"/>\n"
      "<text x=\"{1}\" y=\"46\">Conversation minutes (left axis)</text>\n"
      "<line x1=\"{2}\" y1=\"42\" x2=\"{3}\" y2=\"42\" stroke=\"#e15759\" stroke-width=\"2\"/>\n"
      "<text x=\"{4}\" y=\"46\">Revenue, USD (right axis)</text>\n</g>\n</svg>\n",
      kLeft, kLeft + 18, kLeft + 260, kLeft + 280, kLeft + 286);
  return svg;
}

}  // namespace relaygw::billing
