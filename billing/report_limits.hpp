// The calendar dates a report may cover, checked before any report reads the database.
#pragma once

#include <string_view>

#include "billing/rate_deck.hpp"
#include "common/status.hpp"

namespace relaygw::billing {

// First and last local dates a report may name. The range keeps every report instant inside
// the years the IANA rules in date/tz are exercised for and keeps a report's rows and chart
// bars bounded.
inline constexpr LocalDate kFirstReportDate{2000, 1, 1};
inline constexpr LocalDate kLastReportDate{2099, 12, 31};

// Checks that `from` and `to` are calendar dates from kFirstReportDate to kLastReportDate and
// that `to` is not before `from`. The message names the input (`from_name` or `to_name`, by
// default the command-line options --from and --to), its value and the allowed range.
Status check_report_dates(const LocalDate& from, const LocalDate& to,
                          std::string_view from_name = "--from", std::string_view to_name = "--to");

}  // namespace relaygw::billing
