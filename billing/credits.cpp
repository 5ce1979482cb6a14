#include "billing/credits.hpp"

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "common/utf8.hpp"

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

// Describes code point `code` (a control character) as "contains control character U+001B".
std::string describe_control(unsigned code) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text = "contains control character U+00";
  text.push_back(kHex[(code >> 4) & 0x0F]);
  text.push_back(kHex[code & 0x0F]);
  return text;
}

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

Status check_name_text(std::string_view field, std::string_view text) {
  auto reject = [&](std::string_view what, std::size_t offset) {
    return Status(StatusCode::InvalidArgument,
                  std::string(field) + " " + std::string(what) + " at byte " +
                      std::to_string(offset + 1) +
                      "; names and ids must be UTF-8 text with no control characters, so "
                      "remove it and retry");
  };
  std::size_t offset = 0;
  while (offset < text.size()) {
    const auto lead = static_cast<unsigned char>(text[offset]);
    if (lead < 0x20 || lead == 0x7F) {
      return reject(describe_control(lead), offset);
    }
    const std::size_t length = utf8_char_length(text, offset);
    if (length == 0) {
      return reject("is not valid UTF-8", offset);
    }
    // U+0080 to U+009F (C1 controls) are encoded as C2 80 to C2 9F.
    const auto second = length == 2 ? static_cast<unsigned char>(text[offset + 1]) : 0;
    if (lead == 0xC2 && second <= 0x9F) {
      return reject(describe_control(second), offset);
    }
    offset += length;
  }
  return Status::ok();
}

Status check_whole_cents(std::string_view field, Money amount, Money minimum, Money maximum) {
  const Money fraction = amount % kUnitsPerCent;
  if (fraction == 0) {
    return Status::ok();
  }
  const Money below = amount - (fraction < 0 ? fraction + kUnitsPerCent : fraction);
  std::vector<std::string> nearest;
  for (const Money candidate : {below, below + kUnitsPerCent}) {
    if (candidate >= minimum && candidate <= maximum) {
      // Plain digits, because the amount parsers reject thousands separators.
      nearest.push_back(format_dollars(candidate));
    }
  }
  std::string message =
      std::string(field) + " " + format_dollars_exact(amount) + " is not a whole number of cents";
  if (nearest.size() == 2) {
    message += "; use " + nearest[0] + " or " + nearest[1];
  } else if (nearest.size() == 1) {
    message += "; use " + nearest[0];
  } else {
    message += "; give dollars and cents";
  }
  return Status(StatusCode::InvalidArgument, message);
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
