// Disputes on a call or a charge line. Each step (opened, note, investigated, escalated,
// adjusted, denied) is appended with who and when; adjusted and denied resolve the dispute,
// and a resolved dispute takes no further steps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "billing/credits.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

enum class DisputeAction { Opened, Note, Investigated, Escalated, Adjusted, Denied };
// PendingApproval: resolved with an adjustment whose credit waits for a second staff member's
// approval, so the customer is not credited yet. It is derived from the credit's decisions
// when the dispute is read. The stored step state is "resolved", and a rejected
// adjustment returns the dispute to the state it had before the adjustment.
enum class DisputeState { Open, Escalated, Resolved, PendingApproval };

std::string_view to_string(DisputeAction action);
std::string_view to_string(DisputeState state);
std::optional<DisputeAction> parse_dispute_action(std::string_view name);

struct DisputeStep {
  DisputeAction action = DisputeAction::Opened;
  DisputeState state = DisputeState::Open;  // state after this step, as read now
  std::string note;                         // free text, masked like Dispute::customer_account
  std::string credit_id;  // adjusted only
  std::string actor;
  Instant at;
  std::optional<CreditState> credit_state = std::nullopt;  // adjusted only: its state now
  std::optional<Money> credit_amount = std::nullopt;       // adjusted only: the credit, in units
};

struct Dispute {
  std::string id;
  std::string call_id;
  std::optional<std::int64_t> line_no;  // nullopt: the whole call
  // The customer's account of what went wrong, free text. Runs of 10 or more digits, such as
  // a card number, are stored and read with all but their last four digits masked.
  std::string customer_account;
  Instant due_at;
  std::string actor;
  Instant at;
  std::vector<DisputeStep> steps;  // in order; the first is Opened
  DisputeState state() const { return steps.empty() ? DisputeState::Open : steps.back().state; }
};

struct DisputeOpenRequest {
  std::string id;
  std::string call_id;
  std::optional<std::int64_t> line_no;
  std::string customer_account;
  std::int32_t due_days = 14;
};

}  // namespace relaygw::billing
