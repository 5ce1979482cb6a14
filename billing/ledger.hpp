// The double-entry journal (journal_entries). Each call posting, each applied credit and each
// movement of card money (a prepaid card's top-up or balance refund, a postpaid card's payment)
// is one journal whose entries sum to zero. Amounts are in units, debit positive and credit
// negative.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "billing/money.hpp"

namespace relaygw::billing {

struct AccountBalance {
  std::string account;  // for example "receivable:+13125550142" or "revenue:usage"
  Money balance = 0;    // sum of the account's entries
};

// A journal whose entries do not sum to zero.
struct JournalImbalance {
  std::string journal_id;
  Money sum = 0;
};

struct JournalCheck {
  std::int64_t journals = 0;
  std::int64_t entries = 0;
  Money total = 0;  // sum of every entry; zero when the journal balances
  std::vector<JournalImbalance> imbalances;
  bool balanced() const { return total == 0 && imbalances.empty(); }
};

// One disagreement found by a reconciliation.
struct ReconciliationMismatch {
  enum class Kind {
    Pair,      // `subject`: `amount` against `against`, two sums that should be equal
    DayTotal,  // the journal entries of the day sum to `amount`, not zero
    Journal,   // journal `subject` sums to `amount`, not zero
  };
  Kind kind = Kind::Pair;
  std::string subject;  // what was compared, or the journal id
  Money amount = 0;
  Money against = 0;  // Pair only
};

// Returns `mismatch` as a plain sentence, with each amount written by `format_amount`, such
// as "call totals against charge lines: 4.8500 against 4.9000".
std::string describe_mismatch(const ReconciliationMismatch& mismatch,
                              std::string (*format_amount)(Money));

// Formats `amount` with four decimal places ("4.8500"), as the JSON reconciliation report
// writes every amount.
std::string format_four_places(Money amount);

// One UTC day's calls, charges, credits and journal entries, and whether they agree.
struct Reconciliation {
  std::string date;  // YYYY-MM-DD, UTC
  std::int64_t calls_posted = 0;
  Money call_totals = 0;   // sum of call_postings.total
  Money charge_lines = 0;  // sum of the charge lines of those calls
  Money call_journal = 0;  // sum of customer-side entries of those calls' journals
  std::int64_t credits_applied = 0;
  Money credit_amounts = 0;                 // credits applied that day
  Money credit_journal = 0;                 // credit-side entries of those credits' journals
  Money relay_fund_entries = 0;             // "relay-fund:*" entries of those calls' journals
  Money relay_service_revenue = 0;          // "revenue:relay-service" entries, negated
  std::int64_t card_topups = 0;             // prepaid card top-ups and opening balances
  Money card_topup_amounts = 0;             // card_ledger amounts of those top-ups
  Money card_topup_journal = 0;             // card-account entries of their journals, negated
  std::int64_t card_refunds = 0;            // balance refunds of closed prepaid cards
  Money card_refund_amounts = 0;            // amounts paid out by those refunds (positive)
  Money card_refund_journal = 0;            // card-account entries of their journals
  std::vector<AccountBalance> relay_funds;  // that day's entries per relay fund account
  JournalCheck journal;                     // balance of that day's journal entries
  std::vector<ReconciliationMismatch> mismatches;  // empty when everything agrees
  bool agrees() const { return mismatches.empty(); }
};

// The journal account a charge line of `kind` is posted to.
std::string revenue_account_for(const std::string& kind);

// The relay service fund account of a relay service (an access tag name such as "relay-tty"):
// "relay-fund:relay-tty". It is debited with what the fund owes for a relay call.
std::string relay_fund_account_for(const std::string& service);

// The receivable account of the line a postpaid card bills: "receivable:" and the line in
// E.164 ("receivable:+14155550108"), as calls billed to that line use since schema 14. A card
// added before `card add` normalized --billed-line may store its line as typed, so the line is
// normalized here. A line that does not normalize is used as stored.
std::string card_line_receivable_account(const std::string& billed_line);

// The account of a calling card: "card:" and the full card number. A prepaid card's account
// is a liability, credited with its top-ups and debited with its calls and balance refunds.
// NOTE: the name contains the full card number, so no command prints a card account. A command
// that lists accounts must print the masked form (mask_card_number) in its place.
std::string card_account_for(const std::string& card_number);

// The account that receives and pays out money: card top-ups, card balance refunds and
// payments of postpaid card charges.
inline constexpr std::string_view kCashAccount = "cash";

// The journals of a prepaid card's top-up (or opening balance) and of its balance refund, named
// after the card_ledger row that records the movement ("card-topup:SEQ", "card-refund:SEQ"), so
// each row has exactly one journal and the name never contains the card number.
std::string card_topup_journal_id(std::int64_t ledger_seq);
std::string card_refund_journal_id(std::int64_t ledger_seq);

// The account credited with the relay service part of relay calls.
inline constexpr std::string_view kRelayServiceRevenueAccount = "revenue:relay-service";

}  // namespace relaygw::billing
