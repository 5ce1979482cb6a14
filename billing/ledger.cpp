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

}  // namespace relaygw::billing
