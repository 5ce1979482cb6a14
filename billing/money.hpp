// Money as an integer count of 1/10,000 US dollar ("units"), never a floating-point value.
// Rates and balances keep four decimal places; charges printed on a quote or invoice are
// rounded to whole cents (100 units) line by line, and a total is the sum of its lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace relaygw::billing {

using Money = std::int64_t;

inline constexpr Money kUnitsPerDollar = 10'000;
inline constexpr Money kUnitsPerCent = 100;

enum class CentRounding { Up, HalfUp, HalfEven };

// Rounds `numerator / denominator` units to a whole number of cents, returned in units.
// Requires: denominator > 0. Exact for any int64 inputs whose product fits the caller's math.
Money round_to_cents(Money numerator, std::int64_t denominator, CentRounding rounding);

// Formats `amount` units as dollars with `decimals` places (2 or 4): 48500 -> "4.85",
// -1200 -> "-0.12". With 2 places the amount must already be whole cents; otherwise the
// sub-cent digits are cut off, which callers avoid by rounding first.
std::string format_dollars(Money amount, int decimals = 2);

// Formats `amount` in cents when it is whole cents ("0.22") and with four places otherwise
// ("0.2250"), so that no entered sub-cent amount is hidden.
std::string format_dollars_exact(Money amount);

// Formats `amount` for people to read: dollars and cents with thousands separators
// ("1,000.00", "-12.50"), or with four places when the amount has sub-cent units ("0.2250"),
// so that such units are never hidden.
std::string format_money(Money amount);

// Parses a dollar amount with at most four decimals ("0.1290", "-5", "12.5") into units.
// Rejects anything else with a message naming `text`.
Result<Money> parse_dollars(std::string_view text);

// Parses a dollar amount that a person enters, such as a card top-up, as parse_dollars does,
// but also with thousands separators as format_money writes them ("1,000.00"), so an amount
// copied from a message parses. Its error message requests dollars and cents ("25.00").
// The caller checks that the amount is whole cents (check_whole_cents in billing/credits.hpp).
Result<Money> parse_dollars_and_cents(std::string_view typed);

// Adds `value` to `sum` and returns true, or returns false and leaves `sum` unchanged when the
// result would leave the 64-bit range, which only amounts written outside relaygw reach.
[[nodiscard]] inline bool add_amount_checked(Money& sum, Money value) {
  Money result = 0;
  if (__builtin_add_overflow(sum, value, &result)) {
    return false;
  }
  sum = result;
  return true;
}

// Returns the Corrupt status for amounts that sum past the 64-bit range. `what` names them and
// where the sum stopped ("the credits of the report, at credit cr-1"). The message asks to run
// `relaygw audit verify --db DATABASE` on `database`, the file the amounts were read from
// (Store::database_path), because only amounts written outside relaygw reach that range.
Status amount_sum_overflow(std::string_view what, std::string_view database);

}  // namespace relaygw::billing
