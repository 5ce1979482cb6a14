#include "billing/report_limits.hpp"

#include <string>

#include <fmt/format.h>

namespace relaygw::billing {
namespace {

std::string date_text(const LocalDate& date) {
  return fmt::format("{:04}-{:02}-{:02}", date.year, date.month, date.day);
}

Status check_one(const char* option, const LocalDate& date) {
  if (date < kFirstReportDate || date > kLastReportDate) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} {} is outside the dates a report can cover, {} to {}; give a "
                              "date in that range",
                              option, date_text(date), date_text(kFirstReportDate),
                              date_text(kLastReportDate)));
  }
  return Status::ok();
}

}  // namespace

Status check_report_dates(const LocalDate& from, const LocalDate& to) {
  if (Status status = check_one("--from", from); !status) {
    return status;
  }
  if (Status status = check_one("--to", to); !status) {
    return status;
  }
  if (to < from) {
    return Status(StatusCode::InvalidArgument, "report end " + date_text(to) +
                                                   " is before its start " + date_text(from) +
                                                   "; swap --from and --to");
  }
  return Status::ok();
}

}  // namespace relaygw::billing
