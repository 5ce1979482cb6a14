// A chart of daily conversation minutes (bars, left axis) and revenue (line, right axis) as a
// self-contained SVG document, written by hand so that reports need no plotting library.
#pragma once

#include <string>
#include <vector>

#include "billing/reports.hpp"

namespace relaygw::billing {

// Renders `daily` (one row per day, oldest first, as SummaryReport::daily) with `title` above
// the plot. Days without calls inside the range are drawn as zero. A range of more than 120
// days is drawn as weekly, monthly or yearly totals, whichever first needs at most 120 bars,
// and a note under the plot names the period used. Text is XML-escaped.
std::string render_daily_chart_svg(const std::vector<SummaryRow>& daily, const LocalDate& from,
                                   const LocalDate& to, const std::string& title);

}  // namespace relaygw::billing
