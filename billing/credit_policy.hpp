// Credit policy: the configured rules that turn a staff credit request into an amount, a rule
// name and an approval requirement. Loaded from TOML (data/policy/credit-policy.toml).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "billing/call_records.hpp"
#include "billing/credits.hpp"
#include "billing/money.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

struct CreditPolicy {
  std::int64_t dropped_call_seconds = 30;
  std::int64_t wrong_number_hours = 24;
  Money approval_above = 25 * kUnitsPerDollar;
  std::int32_t dispute_due_days = 14;
};

// Parses policy TOML text; missing keys keep their defaults. `origin` names the source in
// error messages.
Result<CreditPolicy> parse_credit_policy(const std::string& text, const std::string& origin);
Result<CreditPolicy> load_credit_policy(const std::string& path);

// What staff asked for, before the policy applies.
struct CreditAsk {
  std::string id;
  std::string call_id;
  std::int64_t line_no = 0;
  CreditReason reason = CreditReason::Other;
  std::string reason_text;
  std::optional<Money> amount;          // staff amount; nullopt asks for the policy amount
  std::optional<Money> rerated_amount;  // rating-error: the line re-rated at actual duration
  // The deck that set rerated_amount, as "rate deck 'NAME' (effective DATE, sha256 PREFIX)",
  // for messages and the credit's reason text. Empty when unknown.
  std::string rerated_with;
  Instant reported_at;  // when the customer reported the problem
};

// Describes a stored deck for messages and credit records: "rate deck 'NAME' (effective DATE,
// sha256 PREFIX)", with the first 12 hex digits of its SHA-256.
std::string describe_rerating_deck(const RateDeckHeader& deck);

// Applies the policy to `ask` for the posted `call`:
// - dropped-call with conversation at most dropped_call_seconds: full line, no approval;
// - misdialed reported within wrong_number_hours of the disconnect: full line;
// - rating-error with rerated_amount: the charged amount minus the re-rated amount, or the
//   staff amount when it is at most that difference. A re-rated amount equal to or above the
//   charge is rejected, with or without a staff amount, because the line was not overcharged;
// - otherwise the staff amount, required.
// A re-rated credit's reason text ends with the re-rated amount and ask.rerated_with.
// Every credit above approval_above waits for a supervisor, except the dropped-call rule.
Result<CreditRequest> apply_credit_policy(const CreditPolicy& policy, const CallRecord& call,
                                          const CreditAsk& ask);

// Applies the policy as above, but first re-rates a rating-error credit, with or without a
// staff amount, through `records` (CallRecords::rerate_call: the deck in effect on the local
// date of the call's request, at the call's actual conversation time). The credit is the
// charged line minus the same line re-rated. A line that the re-rated call no longer has
// re-rates to zero, so it is credited in full.
Result<CreditRequest> apply_credit_policy(const CreditPolicy& policy, const CallRecord& call,
                                          CreditAsk ask, const CallRecords& records);

// Applies the policy as above, re-rating with the store's decks and the number plan in
// `data_dir`. The plan is loaded only for a rating-error credit, and a store without a deck
// then fails with FailedPrecondition.
Result<CreditRequest> apply_credit_policy(const CreditPolicy& policy, const CallRecord& call,
                                          CreditAsk ask, Store& store,
                                          const std::filesystem::path& data_dir);

// Returns the amount of charge line `line_no` (1-based) of `charged` in `rerated`: the line at
// the same position when its kind matches, else the first line of the same kind and
// description, else 0.
Money rerated_line_amount(const CallPosting& charged, const CallPosting& rerated,
                          std::int64_t line_no);

}  // namespace relaygw::billing
