#include "billing/credits.hpp"

#include <array>
#include <utility>

namespace relaygw::billing {
namespace {

constexpr std::array<std::pair<CreditReason, std::string_view>, 6> kReasons = {{
    {CreditReason::Misdialed, "misdialed"},
    {CreditReason::DroppedCall, "dropped-call"},
    {CreditReason::BadConnection, "bad-connection"},
    {CreditReason::DuplicateCharge, "duplicate-charge"},
    {CreditReason::RatingError, "rating-error"},
    {CreditReason::Other, "other"},
}};

}  // namespace

std::string_view to_string(CreditReason reason) {
  for (const auto& [value, name] : kReasons) {
    if (value == reason) {
      return name;
    }
  }
  return "other";
}

std::string_view to_string(CreditState state) {
  switch (state) {
    case CreditState::Pending:
      return "pending";
    case CreditState::Applied:
      return "applied";
    case CreditState::Rejected:
      return "rejected";
  }
  return "pending";
}

std::optional<CreditReason> parse_credit_reason(std::string_view name) {
  for (const auto& [value, text] : kReasons) {
    if (text == name) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace relaygw::billing
