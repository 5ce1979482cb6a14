#include "billing/ledger.hpp"

#include "billing/directory.hpp"

namespace relaygw::billing {

std::string revenue_account_for(const std::string& kind) {
  return kind == "tax" ? std::string("taxes-payable") : "revenue:" + kind;
}

std::string relay_fund_account_for(const std::string& service) { return "relay-fund:" + service; }

std::string card_line_receivable_account(const std::string& billed_line) {
  const Result<std::string> e164 = normalize_line_number(billed_line);
  return "receivable:" + (e164 ? *e164 : billed_line);
}

std::string card_account_for(const std::string& card_number) { return "card:" + card_number; }

std::string card_topup_journal_id(std::int64_t ledger_seq) {
  return "card-topup:" + std::to_string(ledger_seq);
}

std::string card_refund_journal_id(std::int64_t ledger_seq) {
  return "card-refund:" + std::to_string(ledger_seq);
}

std::string format_four_places(Money amount) { return format_dollars(amount, 4); }

std::string describe_mismatch(const ReconciliationMismatch& mismatch,
                              std::string (*format_amount)(Money)) {
  switch (mismatch.kind) {
    case ReconciliationMismatch::Kind::Pair:
      return mismatch.subject + ": " + format_amount(mismatch.amount) + " against " +
             format_amount(mismatch.against);
    case ReconciliationMismatch::Kind::DayTotal:
      return "journal entries of the day sum to " + format_amount(mismatch.amount) + ", not zero";
    case ReconciliationMismatch::Kind::Journal:
      return "journal " + mismatch.subject + " sums to " + format_amount(mismatch.amount);
  }
  return mismatch.subject;
}

}  // namespace relaygw::billing
