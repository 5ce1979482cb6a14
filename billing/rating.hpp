// Rater: turns one call into itemized charge lines using a NumberPlan and a RateDeck. It is
// pure and in memory: no I/O, no clock, no logging. The same input always gives the same
// lines, and a Rater may be used from any number of threads at once.
//
// Rounding: each printed line is rounded once to whole cents with the deck version's rounding
// rule, and the total is the sum of the printed lines.
//
// Jurisdiction, decided from the numbering data because no LATA data is available:
//   international  the two numbers are in different countries, or either is outside NANP;
//   local          same rate center (an exact NPA-NXX place name) in the same state;
//   intraLATA      same area code (NPA), different or unknown rate center;
//   interLATA intrastate   same state, different area code;
//   interstate     different states of the same country.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "billing/call_types.hpp"
#include "billing/money.hpp"
#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "common/status.hpp"

namespace relaygw::billing {

struct CallToRate {
  std::string from;  // calling number; its rate center's local time decides rate periods
  std::string to;    // called number as dialed
  BillingMethod billing = BillingMethod::SentPaid;
  AccessTag access = AccessTag::None;
  Handling handling = Handling::Automated;
  std::chrono::sys_seconds start{};    // UTC instant the call was answered (or would start)
  std::int64_t billable_seconds = 0;   // conversation time from UTC instants, not relay time
  bool answered = true;                // false: rated to zero, no connect fee, no minimum
  bool person_reached = false;         // person-to-person surcharge applies only when true
  bool tty_discount_eligible = false;  // the billed line is certified for a state TTY discount
  bool emergency = false;              // flagged emergency: rated to zero like 911
};

enum class ChargeKind { Usage, Surcharge, Discount, Tax, Fee };
std::string_view to_string(ChargeKind kind);  // "usage", "surcharge", ...

struct ChargeLine {
  ChargeKind kind = ChargeKind::Usage;
  std::string description;
  Money amount = 0;          // whole cents in units; negative for discounts
  std::string period;        // usage lines: the rate period
  std::int64_t seconds = 0;  // usage lines: billed seconds in this segment
  Money per_minute = 0;      // usage lines: the rate applied, in units per minute
};

struct RatedCall {
  std::vector<ChargeLine> lines;
  Money total = 0;  // always the sum of lines[].amount
  std::string currency = "USD";
  bool emergency = false;
  std::optional<Jurisdiction> jurisdiction;  // none for emergency and free service calls
  std::optional<int> miles;                  // V&H distance when both rate centers have it
  std::vector<std::string> periods;          // rate periods used, in call order
  std::int64_t billed_seconds = 0;           // after minimum and increments
  std::string deck_version;                  // name of the version used, empty if none
  std::string time_zone;                     // zone that decided the periods
  Money voice_equivalent = 0;                // toll charges of the same call by voice
  // Relay service compensation the relay service fund pays for this call, in whole cents:
  // the deck's relay_fund_per_minute times the conversation time in tenths of a minute (6
  // seconds a tenth, 3 seconds round up). Never part of `lines` or `total`.
  Money relay_fund = 0;
};

class Rater {
 public:
  // Keeps pointers to `plan` and `deck`, which must outlive the Rater. Either may be null:
  // emergency calls are still rated (to zero); any other call then fails with Unavailable.
  Rater(const NumberPlan* plan, const RateDeck* deck) : plan_(plan), deck_(deck) {}

  // Rates one call. Fails with InvalidArgument for a bad number or negative duration,
  // NotFound when the deck has no version or rate for the call, Unavailable without data.
  Result<RatedCall> rate(const CallToRate& call) const;

  // Returns what the first billed block of an answered call costs in total: the least any
  // answered call can cost. Emergency calls return 0. `call.billable_seconds` is ignored.
  Result<Money> minimum_charge(const CallToRate& call) const;

  // Returns the most seconds that `balance` pays for, counting every line of the quote, or 0
  // when the balance does not cover minimum_charge. Capped at `limit_seconds`; emergency and
  // free calls return `limit_seconds`.
  Result<std::int64_t> max_seconds_for_balance(const CallToRate& call, Money balance,
                                               std::int64_t limit_seconds = 86'400) const;

  const NumberPlan* plan() const { return plan_; }
  const RateDeck* deck() const { return deck_; }

 private:
  const NumberPlan* plan_;
  const RateDeck* deck_;
};

// Returns the local date ("2026-07-01") at the rate center of calling number `from` at `at`:
// the date that picks a deck version (RateDeck::version_for) and the deck in effect
// (Store::rate_deck_in_effect). Fails as Rater::rate does for a number with no time zone.
Result<std::string> originating_local_date(const NumberPlan& plan, std::string_view from,
                                           std::chrono::sys_seconds at);

}  // namespace relaygw::billing
