// Credits and disputes report: credits requested in a date range by reason and state,
// disputes opened in that range by state, and every dispute that is overdue at a given
// instant. Reads only through the Store interface.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "billing/money.hpp"
#include "billing/reports.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

struct CreditGroupRow {
  std::string reason;  // credit reason name, such as "dropped-call"
  std::string state;   // pending, applied or rejected
  std::int64_t count = 0;
  Money amount = 0;
};

struct DisputeStateRow {
  std::string state;  // open, escalated or resolved
  std::int64_t count = 0;
};

// An open or escalated dispute past its due instant.
struct OverdueDisputeRow {
  std::string dispute_id;
  std::string call_id;
  std::string state;
  Instant opened_at;
  Instant due_at;
  std::int64_t days_overdue = 0;  // whole days from due_at to as_of
};

// A posted calling-card call whose charge went beyond its card's hold and free funds.
struct UncollectedCallRow {
  std::string call_id;
  Instant requested_at;
  Money total = 0;        // the call's posted total
  Money uncollected = 0;  // the part the card did not pay
};

struct CreditsReport {
  ReportRequest request;
  Instant as_of;
  std::vector<CreditGroupRow> credits;  // sorted by reason, then state
  std::int64_t credit_count = 0;
  Money credits_applied = 0;                    // sum of applied credits in the range
  Money credits_pending = 0;                    // sum of credits still waiting for a supervisor
  std::vector<DisputeStateRow> disputes;        // opened in the range, by current state
  std::vector<OverdueDisputeRow> overdue;       // every overdue dispute, whenever it was opened
  std::vector<UncollectedCallRow> uncollected;  // calls requested in the range, oldest first
  Money uncollected_total = 0;
};

// Builds the report for credits requested and disputes opened in the request's days, for the
// disputes that are overdue at `as_of`, and for the calling-card calls requested in those days
// that left an uncollected amount.
Result<CreditsReport> credits_and_disputes(Store& store, const ReportRequest& request,
                                           Instant as_of);

// Text for people, CSV (one row per credit group, dispute state, overdue dispute and
// uncollected call, with a `section` column) and JSON. Amounts print as dollars with cents.
std::string render_credits_report(const CreditsReport& report, ReportFormat format);

}  // namespace relaygw::billing
