// The double-entry journal (journal_entries). Each call posting and each applied credit is one
// journal whose entries sum to zero; amounts are units, debit positive and credit negative.
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
  std::vector<AccountBalance> relay_funds;  // that day's entries per relay fund account
  JournalCheck journal;                     // balance of that day's journal entries
  std::vector<std::string> mismatches;      // plain sentences, empty when everything agrees
  bool agrees() const { return mismatches.empty(); }
};

// The journal account a charge line of `kind` is posted to.
std::string revenue_account_for(const std::string& kind);

// The relay service fund account of a relay service (an access tag name such as "relay-tty"):
// "relay-fund:relay-tty". It is debited with what the fund owes for a relay call.
std::string relay_fund_account_for(const std::string& service);

// The account credited with the relay service part of relay calls.
inline constexpr std::string_view kRelayServiceRevenueAccount = "revenue:relay-service";

}  // namespace relaygw::billing
