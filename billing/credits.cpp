#include "billing/credits.hpp"

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "common/card_digits.hpp"
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
  const TextFault fault = find_text_fault(text, true);
  std::string fix;
  switch (fault.kind) {
    case TextFaultKind::None:
      return Status::ok();
    case TextFaultKind::NotUtf8:
      fix = "names and ids must be UTF-8 text, so retype it as UTF-8 and retry";
      break;
    case TextFaultKind::LineBreak:
      fix = "a name or id is one line, so remove the line break and retry";
      break;
    case TextFaultKind::NulByte:
    case TextFaultKind::ControlCharacter:
      fix = "names and ids must be UTF-8 text with no control characters, so remove it and retry";
      break;
    case TextFaultKind::BidiControl:
      fix =
          "it changes the order in which the text around it is displayed, so remove it and "
          "retry";
      break;
  }
  return Status(StatusCode::InvalidArgument,
                std::string(field) + " " + fault.description + "; " + fix);
}

Status check_name_length(std::string_view field, std::string_view text) {
  if (text.size() <= kMaxNameBytes) {
    return Status::ok();
  }
  return Status(StatusCode::InvalidArgument,
                std::string(field) + " is " + std::to_string(text.size()) +
                    " bytes long, and a name or id may be at most " +
                    std::to_string(kMaxNameBytes) + " bytes; shorten it and retry");
}

bool has_visible_character(std::string_view text) {
  for (std::size_t offset = 0; offset < text.size();) {
    const std::size_t length = utf8_char_length(text, offset);
    if (!card_digits_detail::is_invisible_or_space(utf8_code_point(text, offset, length))) {
      return true;
    }
    offset += length;
  }
  return false;
}

Status check_staff_name(std::string_view field, std::string_view text, std::string_view blank_fix) {
  if (text.empty()) {
    return Status(StatusCode::InvalidArgument,
                  std::string(field) + " is empty; " + std::string(blank_fix));
  }
  if (Status checked = check_name_text(field, text); !checked) {
    return checked;
  }
  // A name of only spaces or of characters that display as nothing (the zero-width space,
  // say) shows as no one in records and reports.
  if (!has_visible_character(text)) {
    return Status(StatusCode::InvalidArgument,
                  std::string(field) +
                      " is blank: it contains only spaces or characters that display as "
                      "nothing; " +
                      std::string(blank_fix));
  }
  return check_name_length(field, text);
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
      nearest.push_back(format_money(candidate));
    }
  }
  std::string message =
      std::string(field) + " " + format_money(amount) + " is not a whole number of cents";
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
