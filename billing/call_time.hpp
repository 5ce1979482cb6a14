// The instants a call step (request, connect, disconnect, quote start) may have.
#pragma once

#include <chrono>
#include <string_view>

#include "common/status.hpp"

namespace relaygw::billing {

// First and last instants a call step may have: 2000-01-01T12:00:00Z and
// 2099-12-31T09:59:59Z. They keep every step inside the local dates reports accept
// (kFirstReportDate to kLastReportDate) in every time zone from -12:00 to +14:00, so any
// report can show the call.
std::chrono::sys_seconds first_call_instant();
std::chrono::sys_seconds last_call_instant();

// Checks that `at` is from first_call_instant() to last_call_instant(). Otherwise fails with
// InvalidArgument and a message that starts with `time_name` and " time", such as "request
// time" or "--start time", and names the instant and the accepted range.
Status check_call_time(std::string_view time_name, std::chrono::sys_seconds at);

}  // namespace relaygw::billing
