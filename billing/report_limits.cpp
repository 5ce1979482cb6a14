#include "billing/report_limits.hpp"

#include <string>

#include <fmt/format.h>

namespace relaygw::billing {
namespace {

std::string date_text(const LocalDate& date) {
  return fmt::format("{:04}-{:02}-{:02}", date.year, date.month, date.day);
}

Status check_one(std::string_view name, const LocalDate& date) {
  if (date < kFirstReportDate || date > kLastReportDate) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} {} is outside the dates a report can cover, {} to {}; give a "
                              "date in that range",
                              name, date_text(date), date_text(kFirstReportDate),
                              date_text(kLastReportDate)));
  }
  return Status::ok();
}

}  // namespace

Status check_report_dates(const LocalDate& from, const LocalDate& to, std::string_view from_name,
                          std::string_view to_name) {
  if (Status status = check_one(from_name, from); !status) {
    return status;
  }
  if (Status status = check_one(to_name, to); !status) {
    return status;
  }
  if (to < from) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("report end {} is before its start {}; swap {} and {}",
                              date_text(to), date_text(from), from_name, to_name));
  }
  return Status::ok();
}

}  // namespace relaygw::billing
