#include "billing/reports.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <sstream>

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/call_records.hpp"
#include "billing/csv.hpp"
#include "billing/next_step.hpp"
#include "billing/record_chain.hpp"
#include "common/json_text.hpp"
#include "common/text_table.hpp"

namespace relaygw::billing {
namespace {

constexpr std::int64_t kProgressEvery = 20'000;

date::year_month_day to_ymd(const LocalDate& day) {
  return date::year{day.year} / date::month{static_cast<unsigned>(day.month)} /
         date::day{static_cast<unsigned>(day.day)};
}

LocalDate from_ymd(const date::year_month_day& ymd) {
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

Result<const date::time_zone*> find_zone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return Status(
        StatusCode::InvalidArgument,
        "unknown time zone '" + name + "'; use an IANA zone name such as UTC or America/Chicago");
  }
}

// Maps UTC instants to local days of one zone. Calls arrive in time order, so the day of the
// previous call is cached and the zone rules are consulted once per day, not once per call.
class DayBucketer {
 public:
  explicit DayBucketer(const date::time_zone* zone) : zone_(zone) {}

  LocalDate day_of(Instant instant) {
    if (instant < day_start_ || instant >= day_end_) {
      const auto local = zone_->to_local(instant);
      const auto local_day = date::floor<date::days>(local);
      day_ = from_ymd(date::year_month_day{local_day});
      day_start_ = zone_->to_sys(date::local_seconds{local_day}, date::choose::earliest);
      day_end_ =
          zone_->to_sys(date::local_seconds{local_day + date::days{1}}, date::choose::earliest);
    }
    return day_;
  }

 private:
  const date::time_zone* zone_;
  LocalDate day_;
  Instant day_start_ = Instant::max();
  Instant day_end_ = Instant::min();
};

std::string format_month(const LocalDate& day) {
  return fmt::format("{:04}-{:02}", day.year, day.month);
}

std::string period_name(const LocalDate& day, ReportPeriod by) {
  return by == ReportPeriod::Day ? format_local_date(day) : format_month(day);
}

// Returns the conversation seconds of `call` if it was answered, else 0. A declined call
// (is_declined_call) counts as not answered, with no conversation, although a connect and a
// disconnect are stored for it.
std::int64_t answered_seconds(const CallFact& call) {
  if (!call.conversation_seconds || is_declined_call(call.billing, call.emergency, call.accepted,
                                                     call.billable_seconds.value_or(0))) {
    return 0;
  }
  return std::max<std::int64_t>(0, *call.conversation_seconds);
}

// Adds `value` to `sum`, or returns false and leaves `sum` unchanged when the result would
// leave the 64-bit range, which only amounts written outside relaygw reach.
bool add_checked(std::int64_t& sum, std::int64_t value) {
  std::int64_t result = 0;
  if (__builtin_add_overflow(sum, value, &result)) {
    return false;
  }
  sum = result;
  return true;
}

// Returns the sum of `call`'s charge line columns, or nullopt when it leaves the 64-bit range.
std::optional<Money> charge_line_sum(const CallFact& call) {
  Money lines = 0;
  for (Money amount : {call.usage, call.surcharges, call.discounts, call.taxes, call.fees}) {
    if (!add_checked(lines, amount)) {
      return std::nullopt;
    }
  }
  return lines;
}

// Adds `call` to `row`. Returns false when a sum would leave the 64-bit range, and then the
// row is incomplete.
bool add_call(SummaryRow& row, const CallFact& call) {
  ++row.calls;
  bool fits = true;
  if (const std::int64_t seconds = answered_seconds(call); seconds > 0) {
    ++row.answered;
    fits = add_checked(row.conversation_seconds, seconds) && fits;
  }
  row.emergency += call.emergency ? 1 : 0;
  fits = add_checked(row.billable_seconds, call.billable_seconds.value_or(0)) && fits;
  fits = add_checked(row.usage, call.usage) && fits;
  fits = add_checked(row.surcharges, call.surcharges) && fits;
  fits = add_checked(row.discounts, call.discounts) && fits;
  fits = add_checked(row.taxes, call.taxes) && fits;
  fits = add_checked(row.fees, call.fees) && fits;
  fits = add_checked(row.total, call.total) && fits;
  return fits;
}

// Reads every call of the request's range, reporting progress, and hands it to `visit` with
// its local reporting day.
Status scan_range(Store& store, const ReportRequest& request,
                  const std::function<void(const CallFact&, const LocalDate&)>& visit) {
  Result<std::pair<Instant, Instant>> range = report_range(request);
  if (!range) {
    return range.status();
  }
  Result<const date::time_zone*> zone = find_zone(request.time_zone);
  if (!zone) {
    return zone.status();
  }
  std::int64_t total = 0;
  if (request.progress) {
    Result<std::int64_t> counted = store.count_calls_requested(range->first, range->second);
    if (!counted) {
      return counted.status();
    }
    total = *counted;
  }
  DayBucketer days(*zone);
  std::int64_t done = 0;
  Status scanned =
      store.scan_calls_requested(range->first, range->second, [&](const CallFact& call) {
        visit(call, days.day_of(call.requested_at));
        ++done;
        if (request.progress && done % kProgressEvery == 0) {
          request.progress(done, total);
        }
        return true;
      });
  if (scanned && request.progress) {
    request.progress(done, total);
  }
  return scanned;
}

std::vector<SummaryRow> rows_of(std::map<std::pair<std::string, std::string>, SummaryRow>& map) {
  std::vector<SummaryRow> rows;
  rows.reserve(map.size());
  for (auto& [key, row] : map) {
    row.period = key.first;
    row.group = key.second;
    rows.push_back(row);
  }
  return rows;
}

std::string minutes_text(std::int64_t seconds) {
  const std::int64_t tenths = seconds_to_tenths_of_minute(seconds);
  return fmt::format("{}.{}", tenths / 10, tenths % 10);
}

nlohmann::json summary_row_json(const SummaryRow& row) {
  return {{"period", row.period},
          {"group", row.group},
          {"calls", row.calls},
          {"answered", row.answered},
          {"emergency", row.emergency},
          {"conversation_seconds", row.conversation_seconds},
          {"conversation_minutes", minutes_text(row.conversation_seconds)},
          {"billable_seconds", row.billable_seconds},
          {"usage", format_dollars(row.usage)},
          {"surcharges", format_dollars(row.surcharges)},
          {"discounts", format_dollars(row.discounts)},
          {"taxes", format_dollars(row.taxes)},
          {"fees", format_dollars(row.fees)},
          {"total", format_dollars(row.total)}};
}

constexpr std::string_view kSummaryCsvHeader =
    "period,group_by,group,calls,answered,emergency,conversation_seconds,conversation_minutes,"
    "billable_seconds,usage,surcharges,discounts,taxes,fees,total\n";

std::string summary_csv_line(const SummaryRow& row, std::string_view group_by) {
  return fmt::format(
      "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_plain_field(row.period),
      csv_plain_field(group_by), csv_plain_field(row.group), row.calls, row.answered, row.emergency,
      row.conversation_seconds, minutes_text(row.conversation_seconds), row.billable_seconds,
      format_dollars(row.usage), format_dollars(row.surcharges), format_dollars(row.discounts),
      format_dollars(row.taxes), format_dollars(row.fees), format_dollars(row.total));
}

std::string summary_text_line(const SummaryRow& row, bool show_period) {
  return fmt::format("{:<10} {:<18} {:>8} {:>8} {:>10} {:>12} {:>11} {:>10} {:>10} {:>12}\n",
                     show_period ? row.period : "", row.group, row.calls, row.answered,
                     minutes_text(row.conversation_seconds), format_dollars(row.usage),
                     format_dollars(row.surcharges), format_dollars(row.discounts),
                     format_dollars(row.taxes + row.fees), format_dollars(row.total));
}

std::string range_title(const ReportRequest& request) {
  return fmt::format("{} to {} ({}), by {}", format_local_date(request.from),
                     format_local_date(request.to), request.time_zone,
                     request.by == ReportPeriod::Day ? "day" : "month");
}

}  // namespace

std::optional<ReportPeriod> parse_report_period(std::string_view name) {
  if (name == "day") {
    return ReportPeriod::Day;
  }
  if (name == "month") {
    return ReportPeriod::Month;
  }
  return std::nullopt;
}

std::optional<ReportFormat> parse_report_format(std::string_view name) {
  if (name == "text") {
    return ReportFormat::Text;
  }
  if (name == "csv") {
    return ReportFormat::Csv;
  }
  if (name == "json") {
    return ReportFormat::Json;
  }
  return std::nullopt;
}

std::string format_local_date(const LocalDate& date) {
  return fmt::format("{:04}-{:02}-{:02}", date.year, date.month, date.day);
}

Result<LocalDate> parse_local_date(std::string_view text) {
  // Read the digits directly: date::parse of a year_month_day goes through a seconds field
  // that GCC 12 reports as maybe used uninitialized.
  auto digits = [&text](std::size_t from, std::size_t count) {
    int value = 0;
    for (std::size_t i = from; i < from + count; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return -1;
      }
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const bool shaped = text.size() == 10 && text[4] == '-' && text[7] == '-';
  const int year = shaped ? digits(0, 4) : -1;
  const int month = shaped ? digits(5, 2) : -1;
  const int day = shaped ? digits(8, 2) : -1;
  const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                                 date::day{static_cast<unsigned>(day)}};
  if (year < 0 || month < 0 || day < 0) {
    return Status(StatusCode::InvalidArgument,
                  "invalid date '" + std::string(text) + "'; write it as YYYY-MM-DD");
  }
  if (!ymd.ok()) {
    return Status(StatusCode::InvalidArgument,
                  "invalid date '" + std::string(text) +
                      "': there is no such day in the calendar; check the month and day");
  }
  return from_ymd(ymd);
}

Result<std::pair<Instant, Instant>> report_range(const ReportRequest& request) {
  if (!to_ymd(request.from).ok() || !to_ymd(request.to).ok()) {
    return Status(StatusCode::InvalidArgument, "report dates must be real calendar dates");
  }
  if (request.to < request.from) {
    return Status(StatusCode::InvalidArgument,
                  "report end " + format_local_date(request.to) + " is before its start " +
                      format_local_date(request.from) + "; swap --from and --to");
  }
  Result<const date::time_zone*> zone = find_zone(request.time_zone);
  if (!zone) {
    return zone.status();
  }
  const date::local_days first{to_ymd(request.from)};
  const date::local_days after_last = date::local_days{to_ymd(request.to)} + date::days{1};
  const Instant start = (*zone)->to_sys(date::local_seconds{first}, date::choose::earliest);
  const Instant end = (*zone)->to_sys(date::local_seconds{after_last}, date::choose::earliest);
  return std::make_pair(start, end);
}

namespace {

// Returns the first problem that the record check of `relaygw audit verify` finds, as the end
// of a message about changed records.
std::string first_record_problem(Store& store) {
  Result<RecordCheck> check = store.verify_records();
  if (check && !check->problems.empty()) {
    const RecordProblem& problem = check->problems.front();
    return "audit verify finds " + problem.table + " row " + std::to_string(problem.row_id) + " " +
           problem.kind + ": " + problem.detail;
  }
  return "the billing records were changed outside relaygw";
}

// Rejects a summary over `call`, whose charge lines do not sum to its posted total, with the
// first problem that the record check of `relaygw audit verify` finds.
Status tampered_posting(Store& store, const CallFact& call) {
  const std::optional<Money> lines = charge_line_sum(call);
  const std::string lines_text =
      lines ? "sum to " + format_dollars(*lines, 2) : std::string("sum past the 64-bit range");
  return Status(StatusCode::Corrupt,
                "call " + call.call_id + " has charge lines that " + lines_text +
                    " but a posted total of " + format_dollars(call.total, 2) +
                    ", so the summary's total would not equal its columns; " +
                    first_record_problem(store) +
                    ". Restore the database from a backup before reporting on it");
}

// Rejects a summary whose totals would leave the 64-bit range when `call` is added. No real
// charges come near that, so an amount of this call or of an earlier one was changed.
Status overflowing_totals(Store& store, const CallFact& call) {
  return failed_with_step(StatusCode::Corrupt,
                          "adding call " + call.call_id +
                              " to the summary takes its totals past the 64-bit integer range, "
                              "so an amount of this call or of an earlier one was written or "
                              "changed outside relaygw; " +
                              first_record_problem(store),
                          {NextStep::Kind::VerifyDatabase, store.database_path()},
                          ". Before reporting on it, ");
}

}  // namespace

Result<SummaryReport> summarize_billing(Store& store, const ReportRequest& request) {
  std::map<std::pair<std::string, std::string>, SummaryRow> by_period;
  std::map<std::pair<std::string, std::string>, SummaryRow> by_billing;
  std::map<std::pair<std::string, std::string>, SummaryRow> by_access;
  std::map<std::pair<std::string, std::string>, SummaryRow> daily;
  SummaryReport report;
  report.request = request;
  report.grand_total.period = "total";
  report.grand_total.group = "all";

  // The store posts a total equal to the sum of its charge lines, so a call where they differ
  // was changed outside relaygw. Its report total would not be the sum of its columns.
  std::optional<CallFact> first_mismatch;
  std::optional<CallFact> first_overflow;
  Status scanned = scan_range(store, request, [&](const CallFact& call, const LocalDate& day) {
    const std::optional<Money> lines = charge_line_sum(call);
    if (call.posted && lines != call.total && !first_mismatch) {
      first_mismatch = call;
    }
    const std::string period = period_name(day, request.by);
    bool fits = add_call(by_period[{period, "all"}], call);
    fits = add_call(by_billing[{period, std::string(to_string(call.billing))}], call) && fits;
    fits = add_call(by_access[{period, std::string(to_string(call.access))}], call) && fits;
    fits = add_call(daily[{format_local_date(day), "all"}], call) && fits;
    fits = add_call(report.grand_total, call) && fits;
    if (!fits && !first_overflow) {
      first_overflow = call;
    }
  });
  if (!scanned) {
    return scanned;
  }
  if (first_mismatch) {
    return tampered_posting(store, *first_mismatch);
  }
  if (first_overflow) {
    return overflowing_totals(store, *first_overflow);
  }
  report.by_period = rows_of(by_period);
  report.by_billing = rows_of(by_billing);
  report.by_access = rows_of(by_access);
  report.daily = rows_of(daily);
  return report;
}

std::int64_t seconds_to_tenths_of_minute(std::int64_t seconds) { return (seconds + 3) / 6; }

// Which calls the relay-minutes columns count, printed in the report's header.
constexpr const char* kRelayMinutesCalls =
    "completed relay calls, with conversation time, emergency calls included";
constexpr const char* kRelayMinutesNotCompleted =
    "refused, declined, unanswered and unposted relay calls, which add no minutes";

Result<std::vector<RelayMinutesRow>> relay_minutes(Store& store, const ReportRequest& request,
                                                   const StateLookup& state_of) {
  struct Key {
    std::string month;
    std::string service;
    std::string state;
    bool operator<(const Key& other) const {
      return std::tie(month, service, state) < std::tie(other.month, other.service, other.state);
    }
  };
  std::map<Key, RelayMinutesRow> rows;
  std::map<std::string, std::string> states;  // cache: calling number -> state

  Status scanned = scan_range(store, request, [&](const CallFact& call, const LocalDate& day) {
    if (!is_relay_service(call.access)) {
      return;
    }
    auto cached = states.find(call.from);
    if (cached == states.end()) {
      std::string state = state_of ? state_of(call.from) : std::string();
      cached = states.emplace(call.from, state.empty() ? "unknown" : state).first;
    }
    RelayMinutesRow& row =
        rows[{format_month(day), std::string(to_string(call.access)), cached->second}];
    const std::int64_t seconds = answered_seconds(call);
    if (seconds > 0) {
      ++row.calls;
      row.conversation_seconds += seconds;
    } else {
      ++row.not_completed;
    }
  });
  if (!scanned) {
    return scanned;
  }
  std::vector<RelayMinutesRow> result;
  for (auto& [key, row] : rows) {
    row.month = key.month;
    row.service = key.service;
    row.state = key.state;
    row.tenths_of_minute = seconds_to_tenths_of_minute(row.conversation_seconds);
    result.push_back(row);
  }
  return result;
}

Result<std::vector<EmergencyCallRow>> emergency_calls(Store& store, const ReportRequest& request) {
  Result<const date::time_zone*> zone = find_zone(request.time_zone);
  if (!zone) {
    return zone.status();
  }
  std::vector<EmergencyCallRow> rows;
  Status scanned = scan_range(store, request, [&](const CallFact& call, const LocalDate&) {
    if (!call.emergency) {
      return;
    }
    EmergencyCallRow row;
    row.call_id = call.call_id;
    row.requested_at = call.requested_at;
    row.local_time =
        date::format("%Y-%m-%d %H:%M:%S %Z", date::make_zoned(*zone, call.requested_at));
    row.caller = call.from;
    row.dialed = call.to;
    row.conversation_seconds = call.conversation_seconds;
    row.billed = call.total;
    rows.push_back(row);
  });
  if (!scanned) {
    return scanned;
  }
  // The scan does not read the call's PSAP route, so each emergency call is read once more
  // here.
  for (EmergencyCallRow& row : rows) {
    Result<std::optional<CallRecord>> record = store.find_call(row.call_id);
    if (!record) {
      return record.status();
    }
    const std::string psap = *record ? (*record)->request.psap_route : std::string();
    row.psap = psap.empty() ? "not recorded" : psap;
    if (*record) {
      row.late_psap_ack = late_psap_ack(**record);
    }
    if (row.late_psap_ack) {
      row.late_psap_ack_local_time = date::format(
          "%Y-%m-%d %H:%M:%S %Z", date::make_zoned(*zone, row.late_psap_ack->at));
    }
  }
  return rows;
}

std::string render_summary(const SummaryReport& report, ReportFormat format) {
  const std::vector<std::pair<std::string_view, const std::vector<SummaryRow>*>> sections = {
      {"period", &report.by_period},
      {"billing", &report.by_billing},
      {"access", &report.by_access}};
  if (format == ReportFormat::Json) {
    nlohmann::json json = {{"report", "summary"},
                           {"from", format_local_date(report.request.from)},
                           {"to", format_local_date(report.request.to)},
                           {"time_zone", report.request.time_zone},
                           {"by", report.request.by == ReportPeriod::Day ? "day" : "month"},
                           {"currency", "USD"},
                           {"total", summary_row_json(report.grand_total)}};
    for (const auto& [name, rows] : sections) {
      nlohmann::json list = nlohmann::json::array();
      for (const SummaryRow& row : *rows) {
        list.push_back(summary_row_json(row));
      }
      json["by_" + std::string(name)] = list;
    }
    return json_text(json) + "\n";
  }
  std::string out;
  if (format == ReportFormat::Csv) {
    out = std::string(kSummaryCsvHeader);
    for (const auto& [name, rows] : sections) {
      for (const SummaryRow& row : *rows) {
        out += summary_csv_line(row, name);
      }
    }
    out += summary_csv_line(report.grand_total, "total");
    return out;
  }

  out = "Billing summary, " + range_title(report.request) + ", amounts in USD\n";
  const std::string header = fmt::format(
      "{:<10} {:<18} {:>8} {:>8} {:>10} {:>12} {:>11} {:>10} {:>10} {:>12}\n", "period", "group",
      "calls", "answered", "minutes", "usage", "surcharges", "discounts", "tax+fees", "total");
  for (const auto& [name, rows] : sections) {
    out += "\nBy " +
           std::string(name == "period"    ? "period"
                       : name == "billing" ? "billing method"
                                           : "access tag") +
           "\n" + header;
    std::string last_period;
    for (const SummaryRow& row : *rows) {
      out += summary_text_line(row, row.period != last_period);
      last_period = row.period;
    }
  }
  out += "\n" + header + summary_text_line(report.grand_total, true);
  return out;
}

std::string render_relay_minutes(const std::vector<RelayMinutesRow>& rows,
                                 const ReportRequest& request, ReportFormat format) {
  if (format == ReportFormat::Json) {
    nlohmann::json list = nlohmann::json::array();
    for (const RelayMinutesRow& row : rows) {
      list.push_back({{"month", row.month},
                      {"service", row.service},
                      {"state", row.state},
                      {"calls", row.calls},
                      {"not_completed", row.not_completed},
                      {"conversation_seconds", row.conversation_seconds},
                      {"minutes", minutes_text(row.conversation_seconds)}});
    }
    return json_text(nlohmann::json{
               {"report", "relay-minutes"},
               {"from", format_local_date(request.from)},
               {"to", format_local_date(request.to)},
               {"time_zone", request.time_zone},
               {"rounding",
                "seconds summed per row, then rounded to 0.1 minute, "
                "half up"},
               {"counts",
                {{"calls", kRelayMinutesCalls}, {"not_completed", kRelayMinutesNotCompleted}}},
               {"rows", list}}) +
           "\n";
  }
  std::string out;
  if (format == ReportFormat::Csv) {
    out = "month,service,state,calls,not_completed,conversation_seconds,minutes\n";
    for (const RelayMinutesRow& row : rows) {
      out += fmt::format("{},{},{},{},{},{},{}\n", csv_plain_field(row.month),
                         csv_plain_field(row.service), csv_text_field(row.state), row.calls,
                         row.not_completed, row.conversation_seconds,
                         minutes_text(row.conversation_seconds));
    }
    return out;
  }
  out = fmt::format(
      "Relay conversation minutes, {} to {} ({})\nSeconds are summed per row, then rounded to "
      "0.1 minute (half up).\ncalls: {}.\nnot_completed: {}.\n\n{:<8} {:<10} {:<8} {:>8} "
      "{:>13} {:>12}\n",
      format_local_date(request.from), format_local_date(request.to), request.time_zone,
      kRelayMinutesCalls, kRelayMinutesNotCompleted, "month", "service", "state", "calls",
      "not_completed", "minutes");
  for (const RelayMinutesRow& row : rows) {
    out += fmt::format("{:<8} {:<10} {:<8} {:>8} {:>13} {:>12}\n", row.month, row.service,
                       row.state, row.calls, row.not_completed,
                       minutes_text(row.conversation_seconds));
  }
  if (rows.empty()) {
    out += "(no relay calls in range)\n";
  }
  return out;
}

std::string render_emergency_calls(const std::vector<EmergencyCallRow>& rows,
                                   const ReportRequest& request, ReportFormat format) {
  auto seconds_text = [](const std::optional<std::int64_t>& seconds) {
    return seconds ? std::to_string(*seconds) : std::string();
  };
  if (format == ReportFormat::Json) {
    nlohmann::json list = nlohmann::json::array();
    for (const EmergencyCallRow& row : rows) {
      nlohmann::json late_ack = nullptr;
      if (row.late_psap_ack) {
        late_ack = {{"at", format_instant(row.late_psap_ack->at)},
                    {"local_time", row.late_psap_ack_local_time},
                    {"psap", row.late_psap_ack->psap_route},
                    {"seconds_after_request", row.late_psap_ack->seconds_after_request}};
      }
      list.push_back({{"call_id", row.call_id},
                      {"requested_at", format_instant(row.requested_at)},
                      {"local_time", row.local_time},
                      {"caller", row.caller},
                      {"dialed", row.dialed},
                      {"psap", row.psap},
                      {"conversation_seconds", row.conversation_seconds
                                                   ? nlohmann::json(*row.conversation_seconds)
                                                   : nlohmann::json(nullptr)},
                      {"billed", format_dollars(row.billed)},
                      {"late_psap_ack", late_ack}});
    }
    return json_text(nlohmann::json{{"report", "emergency"},
                                    {"from", format_local_date(request.from)},
                                    {"to", format_local_date(request.to)},
                                    {"time_zone", request.time_zone},
                                    {"count", rows.size()},
                                    {"calls", list}}) +
           "\n";
  }
  std::string out;
  if (format == ReportFormat::Csv) {
    out =
        "call_id,requested_at,local_time,caller,dialed,psap,conversation_seconds,billed,"
        "late_psap_ack_at,late_psap_ack_psap,late_psap_ack_seconds\n";
    for (const EmergencyCallRow& row : rows) {
      // Call ids, numbers and PSAP ids come from providers and configuration, so they are
      // written as guarded text.
      out += fmt::format("{},{},{},{},{},{},{},{},", csv_text_field(row.call_id),
                         format_instant(row.requested_at), csv_plain_field(row.local_time),
                         csv_text_field(row.caller), csv_text_field(row.dialed),
                         csv_text_field(row.psap), seconds_text(row.conversation_seconds),
                         format_dollars(row.billed));
      if (row.late_psap_ack) {
        out += fmt::format("{},{},{}\n", format_instant(row.late_psap_ack->at),
                           csv_text_field(row.late_psap_ack->psap_route),
                           row.late_psap_ack->seconds_after_request);
      } else {
        out += ",,\n";
      }
    }
    return out;
  }
  out = fmt::format("Emergency calls, {} to {} ({}): {}\n\n", format_local_date(request.from),
                    format_local_date(request.to), request.time_zone, rows.size());
  // Columns take the width of their longest value, because call ids and PSAP ids come from
  // providers and configuration and have no fixed length.
  using Align = TextTable::Align;
  TextTable table({Align::Left, Align::Left, Align::Left, Align::Left, Align::Left, Align::Right,
                   Align::Right});
  table.add_row({"call", "local time", "caller", "dialed", "PSAP", "seconds", "billed"});
  for (const EmergencyCallRow& row : rows) {
    table.add_row({row.call_id, row.local_time, row.caller, row.dialed, row.psap,
                   seconds_text(row.conversation_seconds), format_dollars(row.billed)});
    if (row.late_psap_ack) {
      table.add_note(fmt::format("  PSAP route {} acknowledged late, at {}, {} s after the "
                                 "request{}",
                                 row.late_psap_ack->psap_route, row.late_psap_ack_local_time,
                                 row.late_psap_ack->seconds_after_request,
                                 row.late_psap_ack->after_disconnect ? ", after the call ended"
                                                                     : ""));
    }
  }
  out += table.render();
  return out;
}

}  // namespace relaygw::billing
