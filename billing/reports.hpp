// Staff reports over the billing store: billing summary, relay minutes and emergency calls,
// rendered as text for people and CSV or JSON for machines.
//
// Reporting days: a call belongs to the day (or month) on which it was requested, in the
// report's time zone (an IANA name, "UTC" by default). A report from DATE to DATE covers
// 00:00 of the first date to 24:00 of the last date in that zone, so a call requested at
// 2026-03-01T03:00Z falls on 2026-02-28 in America/Chicago.
//
// Relay minutes: conversation seconds (answer to hangup, never session time) are summed per
// month, relay service and state, and only then rounded to a tenth of a minute, half up
// (6 seconds make a tenth; 3 seconds round up). Rounding each call first would overstate the
// minutes that relay funds pay for.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "billing/call_records.hpp"
#include "billing/rate_deck.hpp"
#include "billing/store.hpp"
#include "common/status.hpp"

namespace relaygw::billing {

enum class ReportPeriod { Day, Month };
enum class ReportFormat { Text, Csv, Json };

std::optional<ReportPeriod> parse_report_period(std::string_view name);  // "day", "month"
std::optional<ReportFormat> parse_report_format(std::string_view name);  // "text", "csv", "json"

struct ReportRequest {
  LocalDate from;  // first reporting day, inclusive
  LocalDate to;    // last reporting day, inclusive
  ReportPeriod by = ReportPeriod::Day;
  std::string time_zone = "UTC";  // IANA zone that decides reporting days
  // Called every few thousand calls with the calls read so far and the total in range.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

// Checks the request (from <= to, a known zone) and returns the UTC range [from, to) it covers.
Result<std::pair<Instant, Instant>> report_range(const ReportRequest& request);

// Totals of one group of calls. Money in units; every amount is a sum of posted charge lines,
// so usage + surcharges + discounts + taxes + fees == total.
struct SummaryRow {
  std::string period;  // "2026-03-01" by day, "2026-03" by month
  std::string group;   // "all", a billing method name or an access tag name
  std::int64_t calls = 0;
  std::int64_t answered = 0;  // calls with conversation time
  std::int64_t emergency = 0;
  std::int64_t conversation_seconds = 0;
  std::int64_t billable_seconds = 0;
  Money usage = 0;
  Money surcharges = 0;
  Money discounts = 0;
  Money taxes = 0;
  Money fees = 0;
  Money total = 0;
};

struct SummaryReport {
  ReportRequest request;
  std::vector<SummaryRow> by_period;   // group "all", one row per period with calls
  std::vector<SummaryRow> by_billing;  // per period and billing method
  std::vector<SummaryRow> by_access;   // per period and access tag
  std::vector<SummaryRow> daily;       // group "all" per day, whatever `by` is (for the chart)
  SummaryRow grand_total;              // period "total"
};

Result<SummaryReport> summarize_billing(Store& store, const ReportRequest& request);

struct RelayMinutesRow {
  std::string month;    // "2026-03"
  std::string service;  // access tag name: relay-tty, relay-ip, captioned, video or speech
  std::string state;    // state of the calling number, "unknown" when it cannot be placed
  // Completed relay calls: calls with conversation time, emergency calls included. These are
  // the calls whose minutes a TRS fund administrator reimburses.
  std::int64_t calls = 0;
  // Relay calls with no conversation time (refused, declined, unanswered or not yet posted).
  // They add no minutes and are not in `calls`.
  std::int64_t not_completed = 0;
  std::int64_t conversation_seconds = 0;
  std::int64_t tenths_of_minute = 0;  // conversation_seconds rounded as described above
};

// Rounds seconds to tenths of a minute, half up: 6 seconds are one tenth.
std::int64_t seconds_to_tenths_of_minute(std::int64_t seconds);

// Places a calling number in its state ("CA"), or returns "" when it cannot.
using StateLookup = std::function<std::string(const std::string& number)>;

// Relay minutes per month, service and state. Months follow the request's zone; `by` is
// ignored because relay funds count by month.
Result<std::vector<RelayMinutesRow>> relay_minutes(Store& store, const ReportRequest& request,
                                                   const StateLookup& state_of);

struct EmergencyCallRow {
  std::string call_id;
  Instant requested_at;
  std::string local_time;  // requested_at in the report zone, "2026-03-01 21:00:00 CST"
  std::string caller;
  std::string dialed;
  // PSAP route id of the call; "not recorded" when the call has none, as for calls stored
  // before schema 9
  std::string psap;
  std::optional<std::int64_t> conversation_seconds;
  Money billed = 0;  // always 0 unless a charge was posted by mistake, which the report shows
  // The call's first PSAP acknowledgement that came after the call was stored (late_psap_ack),
  // or nullopt when there is none, and its instant in the report zone.
  std::optional<LatePsapAck> late_psap_ack;
  std::string late_psap_ack_local_time;
};

Result<std::vector<EmergencyCallRow>> emergency_calls(Store& store, const ReportRequest& request);

// Renderings. Amounts print as dollars with cents ("12.34"), minutes with one decimal.
std::string render_summary(const SummaryReport& report, ReportFormat format);
std::string render_relay_minutes(const std::vector<RelayMinutesRow>& rows,
                                 const ReportRequest& request, ReportFormat format);
std::string render_emergency_calls(const std::vector<EmergencyCallRow>& rows,
                                   const ReportRequest& request, ReportFormat format);

// Formats a date as "2026-03-01".
std::string format_local_date(const LocalDate& date);
// Parses "2026-03-01", naming the text in the error.
Result<LocalDate> parse_local_date(std::string_view text);

}  // namespace relaygw::billing
