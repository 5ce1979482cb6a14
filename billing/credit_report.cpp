#include "billing/credit_report.hpp"

#include <map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/call_records.hpp"
#include "billing/credits.hpp"
#include "billing/csv.hpp"
#include "billing/disputes.hpp"
#include "common/json_text.hpp"

namespace relaygw::billing {
namespace {

bool in_range(Instant at, const std::pair<Instant, Instant>& range) {
  return at >= range.first && at < range.second;
}

std::string dollars(Money amount) {
  // Credits are whole cents when a policy sets them, but a staff amount may carry four places.
  return amount % kUnitsPerCent == 0 ? format_dollars(amount, 2) : format_dollars(amount, 4);
}

std::string render_json(const CreditsReport& report) {
  nlohmann::json credits = nlohmann::json::array();
  for (const CreditGroupRow& row : report.credits) {
    credits.push_back({{"reason", row.reason},
                       {"state", row.state},
                       {"count", row.count},
                       {"amount", dollars(row.amount)}});
  }
  nlohmann::json disputes = nlohmann::json::array();
  for (const DisputeStateRow& row : report.disputes) {
    disputes.push_back({{"state", row.state}, {"count", row.count}});
  }
  nlohmann::json overdue = nlohmann::json::array();
  for (const OverdueDisputeRow& row : report.overdue) {
    overdue.push_back({{"dispute_id", row.dispute_id},
                       {"call_id", row.call_id},
                       {"state", row.state},
                       {"opened_at", format_instant(row.opened_at)},
                       {"due_at", format_instant(row.due_at)},
                       {"days_overdue", row.days_overdue}});
  }
  nlohmann::json uncollected = nlohmann::json::array();
  for (const UncollectedCallRow& row : report.uncollected) {
    uncollected.push_back({{"call_id", row.call_id},
                           {"requested_at", format_instant(row.requested_at)},
                           {"total", dollars(row.total)},
                           {"uncollected", dollars(row.uncollected)}});
  }
  return json_text(nlohmann::json{{"report", "credits"},
                                  {"from", format_local_date(report.request.from)},
                                  {"to", format_local_date(report.request.to)},
                                  {"time_zone", report.request.time_zone},
                                  {"as_of", format_instant(report.as_of)},
                                  {"credit_count", report.credit_count},
                                  {"credits_applied", dollars(report.credits_applied)},
                                  {"credits_pending", dollars(report.credits_pending)},
                                  {"credits", credits},
                                  {"disputes", disputes},
                                  {"overdue", overdue},
                                  {"uncollected_total", dollars(report.uncollected_total)},
                                  {"uncollected", uncollected}}) +
         "\n";
}

std::string render_csv(const CreditsReport& report) {
  std::string out = "section,reason,state,count,amount,dispute_id,call_id,due_at,days_overdue\n";
  for (const CreditGroupRow& row : report.credits) {
    out += fmt::format("credits,{},{},{},{},,,,\n", row.reason, row.state, row.count,
                       dollars(row.amount));
  }
  for (const DisputeStateRow& row : report.disputes) {
    out += fmt::format("disputes,,{},{},,,,,\n", row.state, row.count);
  }
  // Dispute and call ids come from staff and callers, so they are guarded as text.
  for (const OverdueDisputeRow& row : report.overdue) {
    out += fmt::format("overdue,,{},1,,{},{},{},{}\n", row.state, csv_text_field(row.dispute_id),
                       csv_text_field(row.call_id), format_instant(row.due_at), row.days_overdue);
  }
  for (const UncollectedCallRow& row : report.uncollected) {
    out += fmt::format("uncollected,,,1,{},,{},,\n", dollars(row.uncollected),
                       csv_text_field(row.call_id));
  }
  return out;
}

std::string render_text(const CreditsReport& report) {
  std::string out =
      fmt::format("Credits and disputes, {} to {} ({}), overdue as of {}\n\n",
                  format_local_date(report.request.from), format_local_date(report.request.to),
                  report.request.time_zone, format_instant(report.as_of));
  out += fmt::format("Credits: {} requested, {} applied, {} pending\n", report.credit_count,
                     dollars(report.credits_applied), dollars(report.credits_pending));
  out += fmt::format("  {:<18} {:<9} {:>6} {:>12}\n", "reason", "state", "count", "amount");
  for (const CreditGroupRow& row : report.credits) {
    out += fmt::format("  {:<18} {:<9} {:>6} {:>12}\n", row.reason, row.state, row.count,
                       dollars(row.amount));
  }
  out += "\nDisputes opened, by state now\n";
  for (const DisputeStateRow& row : report.disputes) {
    out += fmt::format("  {:<10} {:>6}\n", row.state, row.count);
  }
  out += fmt::format("\nOverdue disputes: {}\n", report.overdue.size());
  for (const OverdueDisputeRow& row : report.overdue) {
    out += fmt::format("  {:<18} call {:<20} {:<9} due {} ({} days overdue)\n", row.dispute_id,
                       row.call_id, row.state, format_instant(row.due_at), row.days_overdue);
  }
  out += fmt::format("\nUncollected card charges: {} calls, {}\n", report.uncollected.size(),
                     dollars(report.uncollected_total));
  for (const UncollectedCallRow& row : report.uncollected) {
    out +=
        fmt::format("  call {:<24} requested {} total {:>10} uncollected {:>10}\n", row.call_id,
                    format_instant(row.requested_at), dollars(row.total), dollars(row.uncollected));
  }
  return out;
}

// Adds the calling-card calls requested in `range` whose card did not pay their whole total.
Status add_uncollected_calls(Store& store, const std::pair<Instant, Instant>& range,
                             CreditsReport& report) {
  std::vector<std::string> card_calls;
  Status scanned = store.scan_calls_requested(range.first, range.second, [&](const CallFact& call) {
    if (call.billing == BillingMethod::CallingCard && call.posted && call.total > 0) {
      card_calls.push_back(call.call_id);
    }
    return true;
  });
  if (!scanned) {
    return scanned;
  }
  const CallRecords records(&store, nullptr);
  for (const std::string& call_id : card_calls) {
    Result<std::optional<CallRecord>> record = store.find_call(call_id);
    if (!record) {
      return record.status();
    }
    if (!*record) {
      continue;
    }
    Result<Money> uncollected = records.uncollected(**record);
    if (!uncollected) {
      return uncollected.status();
    }
    if (*uncollected > 0) {
      const Instant requested = event_time(**record, CallEvent::Requested).value_or(range.first);
      report.uncollected.push_back({call_id, requested, (*record)->posting->total, *uncollected});
      if (!add_amount_checked(report.uncollected_total, *uncollected)) {
        return amount_sum_overflow(
            "the uncollected card charges of the report, at call " + call_id + ",",
            store.database_path());
      }
    }
  }
  return Status::ok();
}

}  // namespace

Result<CreditsReport> credits_and_disputes(Store& store, const ReportRequest& request,
                                           Instant as_of) {
  Result<std::pair<Instant, Instant>> range = report_range(request);
  if (!range) {
    return range.status();
  }
  CreditsReport report;
  report.request = request;
  report.as_of = as_of;

  Result<std::vector<CreditRecord>> credits = store.list_credits("");
  if (!credits) {
    return credits.status();
  }
  std::map<std::pair<std::string, std::string>, CreditGroupRow> groups;
  for (const CreditRecord& credit : *credits) {
    if (!in_range(credit.at, *range)) {
      continue;
    }
    const std::string reason(to_string(credit.reason));
    const std::string state(to_string(credit.state));
    CreditGroupRow& row = groups[{reason, state}];
    row.reason = reason;
    row.state = state;
    ++row.count;
    ++report.credit_count;
    Money* state_total = credit.state == CreditState::Applied   ? &report.credits_applied
                         : credit.state == CreditState::Pending ? &report.credits_pending
                                                                : nullptr;
    if (!add_amount_checked(row.amount, credit.amount) ||
        (state_total != nullptr && !add_amount_checked(*state_total, credit.amount))) {
      return amount_sum_overflow("the credit amounts of the report, at credit " + credit.id + ",",
                                 store.database_path());
    }
  }
  for (auto& [key, row] : groups) {
    report.credits.push_back(std::move(row));
  }

  Result<std::vector<Dispute>> disputes = store.list_disputes();
  if (!disputes) {
    return disputes.status();
  }
  std::map<std::string, std::int64_t> by_state;
  for (const Dispute& dispute : *disputes) {
    const DisputeState state = dispute.state();
    if (in_range(dispute.at, *range)) {
      ++by_state[std::string(to_string(state))];
    }
    if (state != DisputeState::Resolved && dispute.due_at < as_of) {
      const auto late = std::chrono::floor<std::chrono::days>(as_of - dispute.due_at);
      report.overdue.push_back({dispute.id, dispute.call_id, std::string(to_string(state)),
                                dispute.at, dispute.due_at, late.count()});
    }
  }
  for (const auto& [state, count] : by_state) {
    report.disputes.push_back({state, count});
  }

  Status scanned = add_uncollected_calls(store, *range, report);
  if (!scanned) {
    return scanned;
  }
  return report;
}

std::string render_credits_report(const CreditsReport& report, ReportFormat format) {
  switch (format) {
    case ReportFormat::Json:
      return render_json(report);
    case ReportFormat::Csv:
      return render_csv(report);
    case ReportFormat::Text:
      break;
  }
  return render_text(report);
}

}  // namespace relaygw::billing
