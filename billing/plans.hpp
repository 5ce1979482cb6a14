// Calling plan advice: what one line's recent calls would have cost under each calling plan of
// the rate deck and each payment method, and which combination is cheapest.
//
// Each answered, non-emergency call is re-rated by the Rater under every payment method. Pay
// per call ("no plan") is that rating. Under a plan, usage lines are repriced: the plan's
// included minutes (per month, times the months in the window) are used first, in call order,
// then the plan's rate for the call's jurisdiction (or the deck rate when the plan lists none).
// Surcharges and fees stay; the TTY discount scales with the new usage when the plan keeps it.
//
// Credits: the comparison is net of the credits applied (approved) on the line's calls, because
// the line never paid them. Pending and rejected credits do not count. A call's cost under every
// option is reduced in the proportion its applied credits took off its posted total, so a call
// credited in full (a misdial) costs nothing under any option, as it would be credited there too.
#pragma once

#include <string>
#include <vector>

#include "billing/rating.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

struct PlanOption {
  std::string plan;  // plan name, or "no plan" for deck rates
  BillingMethod billing = BillingMethod::SentPaid;
  Money monthly_fees = 0;  // fee times the months in the window
  Money calls = 0;         // usage, surcharges, discounts, taxes and fees of the calls
  Money total = 0;         // monthly_fees + calls
};

struct PlanAdvice {
  std::string line;  // E.164
  Instant from;      // as_of minus the window
  Instant to;        // as_of
  int window_days = 90;
  std::int64_t calls = 0;           // answered, non-emergency calls compared
  std::int64_t billed_minutes = 0;  // under the deck's billing increments
  Money posted = 0;                 // what the line's calls were posted at
  Money credits = 0;                // credits applied on those calls, as of the advice
  Money actual = 0;                 // posted - credits: what the line was charged net
  std::vector<PlanOption> options;  // cheapest first
  Money saving = 0;                 // actual - options.front().total; negative when dearer
};

// Compares the calls of `line` in the `window_days` before `as_of`. Fails with NotFound when
// the line is not in the directory and Unavailable when the deck has no version for as_of.
Result<PlanAdvice> advise_plans(Store& store, const Rater& rater, const RateDeck& deck,
                                const std::string& line, Instant as_of, int window_days = 90);

}  // namespace relaygw::billing
