#include "billing/money.hpp"

#include <cassert>
#include <string>

#include "billing/next_step.hpp"

namespace relaygw::billing {
namespace {

// GCC and Clang provide 128-bit integers; __extension__ keeps -Wpedantic quiet about it.
__extension__ typedef __int128 Wide;

}  // namespace

Money round_to_cents(Money numerator, std::int64_t denominator, CentRounding rounding) {
  assert(denominator > 0);
  // Work in 128 bits so that rate x seconds x basis points cannot overflow on the way.
  const Wide step = static_cast<Wide>(denominator) * kUnitsPerCent;
  const Wide value = numerator;
  const bool negative = value < 0;
  const Wide magnitude = negative ? -value : value;
  Wide cents = magnitude / step;
  const Wide remainder = magnitude % step;

  // Rounding acts on the magnitude, so a discount rounds the same way as the charge it offsets.
  if (remainder != 0) {
    switch (rounding) {
      case CentRounding::Up:
        cents += 1;
        break;
      case CentRounding::HalfUp:
        if (2 * remainder >= step) {
          cents += 1;
        }
        break;
      case CentRounding::HalfEven:
        if (2 * remainder > step || (2 * remainder == step && cents % 2 == 1)) {
          cents += 1;
        }
        break;
    }
  }
  const Money units = static_cast<Money>(cents * kUnitsPerCent);
  return negative ? -units : units;
}

std::string format_dollars(Money amount, int decimals) {
  const bool negative = amount < 0;
  const std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(amount + 1)) + 1 : static_cast<std::uint64_t>(amount);
  const std::uint64_t dollars = magnitude / kUnitsPerDollar;
  std::uint64_t fraction = magnitude % kUnitsPerDollar;
  std::string digits = std::to_string(fraction + kUnitsPerDollar).substr(1);  // four digits
  if (decimals <= 2) {
    digits.resize(2);
  }
  std::string text = negative && magnitude != 0 ? "-" : "";
  text += std::to_string(dollars);
  text += '.';
  text += digits;
  return text;
}

std::string format_dollars_exact(Money amount) {
  return format_dollars(amount, amount % kUnitsPerCent == 0 ? 2 : 4);
}

std::string format_money(Money amount) {
  const std::string plain = format_dollars_exact(amount);
  const std::size_t digits_start = plain.front() == '-' ? 1 : 0;
  const std::size_t dot = plain.find('.');
  std::string grouped = plain.substr(0, digits_start);
  for (std::size_t i = digits_start; i < dot; ++i) {
    if (i > digits_start && (dot - i) % 3 == 0) {
      grouped += ',';
    }
    grouped += plain[i];
  }
  return grouped + plain.substr(dot);
}

namespace {

// Returns `text` without its thousands separators when each ',' sits between groups of three
// digits before the decimal point, as format_money writes them ("1,000.00"), and `text`
// unchanged otherwise.
std::string without_thousands_separators(std::string_view text) {
  const std::size_t sign = !text.empty() && (text.front() == '-' || text.front() == '+') ? 1 : 0;
  const std::string_view whole = text.substr(sign, text.find('.') - sign);
  if (whole.find(',') == std::string_view::npos ||
      text.find(',', sign + whole.size()) != std::string_view::npos) {
    return std::string(text);
  }
  std::string digits;
  std::size_t group_start = 0;
  while (true) {
    const std::size_t comma = whole.find(',', group_start);
    const std::string_view group = whole.substr(group_start, comma - group_start);
    const bool first = group_start == 0;
    // The first group has one to three digits and no leading zero, as "1,000" is written.
    const bool valid_size = first ? !group.empty() && group.size() <= 3 && group.front() != '0'
                                  : group.size() == 3;
    if (!valid_size || group.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::string(text);
    }
    digits += group;
    if (comma == std::string_view::npos) {
      break;
    }
    group_start = comma + 1;
  }
  return std::string(text.substr(0, sign)) + digits + std::string(text.substr(sign + whole.size()));
}

}  // namespace

Result<Money> parse_dollars_and_cents(std::string_view typed) {
  const std::string plain = without_thousands_separators(typed);
  const std::string_view text = plain;
  Result<Money> amount = parse_dollars(text);
  if (amount) {
    return amount;
  }
  std::string_view whole = text.substr(0, text.find('.'));
  if (!whole.empty() && (whole.front() == '-' || whole.front() == '+')) {
    whole.remove_prefix(1);
  }
  const bool too_long = whole.size() > 12;
  return Result<Money>(StatusCode::InvalidArgument,
                       (too_long ? "dollar amount '" + std::string(typed) +
                                       "' has more than 12 digits before the decimal point"
                                 : "invalid dollar amount '" + std::string(typed) + "'") +
                           "; write dollars and cents with no $ sign, and commas only between "
                           "groups of three digits, such as 25.00 or 1,000.00");
}

Result<Money> parse_dollars(std::string_view text) {
  auto invalid = [text] {
    return Result<Money>(StatusCode::InvalidArgument,
                         "invalid dollar amount '" + std::string(text) +
                             "'; write a decimal number with at most four decimals, such as "
                             "0.1290");
  };
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  const auto dot = rest.find('.');
  const std::string_view whole = rest.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : rest.substr(dot + 1);
  if (whole.size() > 12) {
    return Result<Money>(StatusCode::InvalidArgument,
                         "dollar amount '" + std::string(text) +
                             "' has more than 12 digits before the decimal point; write at most "
                             "999999999999.9999");
  }
  if (whole.empty() || fraction.size() > 4 || (dot != std::string_view::npos && fraction.empty())) {
    return invalid();
  }
  Money units = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') {
      return invalid();
    }
    units = units * 10 + (c - '0');
  }
  Money fraction_units = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const char c = i < fraction.size() ? fraction[i] : '0';
    if (c < '0' || c > '9') {
      return invalid();
    }
    fraction_units = fraction_units * 10 + (c - '0');
  }
  units = units * kUnitsPerDollar + fraction_units;
  return negative ? -units : units;
}

Status amount_sum_overflow(std::string_view what, std::string_view database) {
  return failed_with_step(StatusCode::Corrupt,
                          std::string(what) +
                              " sum past the 64-bit integer range, so an amount was written or "
                              "changed outside relaygw",
                          {NextStep::Kind::VerifyDatabase, std::string(database)});
}

}  // namespace relaygw::billing
