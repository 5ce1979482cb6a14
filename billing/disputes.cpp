#include "billing/disputes.hpp"

#include <array>
#include <utility>

namespace relaygw::billing {
namespace {

constexpr std::array<std::pair<DisputeAction, std::string_view>, 6> kActions = {{
    {DisputeAction::Opened, "opened"},
    {DisputeAction::Note, "note"},
    {DisputeAction::Investigated, "investigated"},
    {DisputeAction::Escalated, "escalated"},
    {DisputeAction::Adjusted, "adjusted"},
    {DisputeAction::Denied, "denied"},
}};

}  // namespace

std::string_view to_string(DisputeAction action) {
  for (const auto& [value, name] : kActions) {
    if (value == action) {
      return name;
    }
  }
  return "note";
}

std::string_view to_string(DisputeState state) {
  switch (state) {
    case DisputeState::Open:
      return "open";
    case DisputeState::Escalated:
      return "escalated";
    case DisputeState::Resolved:
      return "resolved";
    case DisputeState::PendingApproval:
      return "pending-approval";
  }
  return "open";
}

std::optional<DisputeAction> parse_dispute_action(std::string_view name) {
  for (const auto& [value, text] : kActions) {
    if (text == name) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace relaygw::billing
