#include "billing/ledger.hpp"

namespace relaygw::billing {

std::string revenue_account_for(const std::string& kind) {
  return kind == "tax" ? std::string("taxes-payable") : "revenue:" + kind;
}

std::string relay_fund_account_for(const std::string& service) { return "relay-fund:" + service; }

}  // namespace relaygw::billing
