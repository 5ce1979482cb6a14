#include "billing/ledger.hpp"

namespace relaygw::billing {

std::string revenue_account_for(const std::string& kind) {
  return kind == "tax" ? std::string("taxes-payable") : "revenue:" + kind;
}

}  // namespace relaygw::billing
