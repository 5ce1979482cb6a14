// Credits and refunds on posted charge lines. A credit is appended once with its reason, the
// policy rule that set it, and a state that a supervisor may change from pending to applied or
// rejected. An applied credit posts a balanced journal and, for a calling card, restores the
// card's funds with a refund entry.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "billing/money.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

enum class CreditReason {
  Misdialed,
  DroppedCall,
  BadConnection,
  DuplicateCharge,
  RatingError,
  Other
};
enum class CreditState { Pending, Applied, Rejected };

std::string_view to_string(CreditReason reason);
std::string_view to_string(CreditState state);
std::optional<CreditReason> parse_credit_reason(std::string_view name);

// Checks a stored name or id, such as an actor, a staff name or who accepted a call. These
// names are printed on terminals and written to the audit log, so each must display as the
// text it contains. It must be valid UTF-8 with no line break (U+2028 and U+2029 included), no
// control character (C0 U+0000 to U+001F, DEL U+007F or C1 U+0080 to U+009F) and no
// bidirectional control (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069). The
// InvalidArgument message names `field`, the character and its byte offset.
Status check_name_text(std::string_view field, std::string_view text);

// Maximum length in bytes of a name or id that staff enter, such as an actor or a staff name.
// Every such value ends up in records, the audit log and reports, so one stray paste must not
// copy a whole document into each of them. It matches the directory's listing name limit.
inline constexpr std::size_t kMaxNameBytes = 200;

// Checks that a name or id is at most kMaxNameBytes bytes long. The InvalidArgument message
// starts with `field` and names the length and the limit.
Status check_name_length(std::string_view field, std::string_view text);

// Checks an actor or staff name where staff or a configuration file give it: it must contain a
// visible character, then pass check_name_text and check_name_length. Every front end that
// takes such a name (--actor, the admin API's staff field, [billing] actor) calls this, so all
// of them accept the same names. `field` names the value as the front end does ("--actor",
// "field staff"). The InvalidArgument message for an empty or blank name ends with
// `blank_fix`, which says how to give a name there.
Status check_staff_name(std::string_view field, std::string_view text, std::string_view blank_fix);

// Returns whether `text` has a character that displays as something: not only spaces and
// characters that display as nothing, such as the zero-width space. A byte that is not UTF-8
// counts as visible.
bool has_visible_character(std::string_view text);

// Checks that `amount` is a whole number of cents, as every charge line is, so credits,
// adjustments and card balances never leave a fraction of a cent behind. The InvalidArgument
// message names `field` and the amount, and suggests the nearest whole-cent amounts that lie
// from `minimum` to `maximum`, the range the caller accepts, or none when neither does.
Status check_whole_cents(std::string_view field, Money amount, Money minimum = kUnitsPerCent,
                         Money maximum = std::numeric_limits<Money>::max());

// What a caller asks the store to append. The policy (billing/credit_policy.hpp) fills `rule`,
// `amount` and `needs_approval`.
struct CreditRequest {
  std::string id;  // caller-chosen credit id, unique
  std::string call_id;
  std::int64_t line_no = 0;  // 1-based charge line of the call
  CreditReason reason = CreditReason::Other;
  std::string reason_text;              // staff text; required for CreditReason::Other
  std::optional<Money> amount;          // units; nullopt credits all that is left on the line
  std::string rule = "manual";          // policy rule that set the amount
  std::optional<Money> approval_above;  // amounts above this wait for a supervisor
  std::string dispute_id;               // dispute this credit resolves, empty when none
  // Rating-error credits: what re-rating found overcharged on the line. Earlier pending and
  // applied rating-error credits on the line count against it, so one overcharge is credited
  // once however many requests name it.
  std::optional<Money> overcharge;
};

struct CreditRecord {
  std::string id;
  std::string call_id;
  std::int64_t line_no = 0;
  CreditReason reason = CreditReason::Other;
  std::string reason_text;
  Money amount = 0;
  std::string rule;
  std::string dispute_id;
  CreditState state = CreditState::Pending;
  std::string actor;       // who requested it
  Instant at;              // when it was requested
  std::string decided_by;  // who approved or rejected it; empty while pending
  std::string decision_note;
};

}  // namespace relaygw::billing
