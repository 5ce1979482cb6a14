#include "billing/call_time.hpp"

#include <string>

#include <date/date.h>

#include "billing/report_limits.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

std::chrono::sys_seconds first_call_instant() {
  return date::sys_days{date::year{kFirstReportDate.year} / kFirstReportDate.month /
                        kFirstReportDate.day} +
         std::chrono::hours{12};
}

std::chrono::sys_seconds last_call_instant() {
  return date::sys_days{date::year{kLastReportDate.year} / kLastReportDate.month /
                        kLastReportDate.day} +
         std::chrono::hours{10} - std::chrono::seconds{1};
}

Status check_call_time(std::string_view time_name, std::chrono::sys_seconds at) {
  const std::chrono::sys_seconds first = first_call_instant();
  const std::chrono::sys_seconds last = last_call_instant();
  if (at >= first && at <= last) {
    return Status::ok();
  }
  return Status(StatusCode::InvalidArgument,
                std::string(time_name) + " time " + format_instant(at) +
                    " is outside the dates reports accept (" + format_instant(first).substr(0, 10) +
                    " to " + format_instant(last).substr(0, 10) +
                    " local date); send a time from " + format_instant(first) + " to " +
                    format_instant(last) + ", which is inside that range in every time zone");
}

}  // namespace relaygw::billing
