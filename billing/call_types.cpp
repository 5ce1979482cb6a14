#include "billing/call_types.hpp"

#include <array>
#include <utility>

namespace relaygw::billing {
namespace {

constexpr std::array<std::pair<BillingMethod, std::string_view>, 5> kBillingNames{{
    {BillingMethod::SentPaid, "sent-paid"},
    {BillingMethod::Collect, "collect"},
    {BillingMethod::ThirdNumber, "third-party"},
    {BillingMethod::PersonToPerson, "person-to-person"},
    {BillingMethod::CallingCard, "calling-card"},
}};

constexpr std::array<std::pair<AccessTag, std::string_view>, 7> kAccessNames{{
    {AccessTag::None, "none"},
    {AccessTag::Tty, "tty"},
    {AccessTag::RelayTty, "relay-tty"},
    {AccessTag::RelayIp, "relay-ip"},
    {AccessTag::Captioned, "captioned"},
    {AccessTag::Video, "video"},
    {AccessTag::Speech, "speech"},
}};

constexpr std::array<std::pair<Handling, std::string_view>, 2> kHandlingNames{{
    {Handling::Automated, "automated"},
    {Handling::OperatorAssisted, "operator"},
}};

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                         Enum value) {
  for (const auto& [entry, name] : table) {
    if (entry == value) {
      return name;
    }
  }
  return "unknown";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                             std::string_view name) {
  for (const auto& [entry, entry_name] : table) {
    if (entry_name == name) {
      return entry;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(BillingMethod method) { return name_of(kBillingNames, method); }
std::string_view to_string(AccessTag tag) { return name_of(kAccessNames, tag); }
std::string_view to_string(Handling handling) { return name_of(kHandlingNames, handling); }

std::optional<BillingMethod> parse_billing_method(std::string_view name) {
  return value_of(kBillingNames, name);
}
std::optional<AccessTag> parse_access_tag(std::string_view name) {
  return value_of(kAccessNames, name);
}
std::optional<Handling> parse_handling(std::string_view name) {
  // "operator-assisted" is accepted as the long form of "operator".
  if (name == "operator-assisted") {
    return Handling::OperatorAssisted;
  }
  return value_of(kHandlingNames, name);
}

bool is_relay_service(AccessTag tag) {
  return tag == AccessTag::RelayTty || tag == AccessTag::RelayIp || tag == AccessTag::Captioned ||
         tag == AccessTag::Video || tag == AccessTag::Speech;
}

}  // namespace relaygw::billing
