// Helpers shared by the credit and dispute commands: the --policy option and record ids
// derived from idempotency keys. Defined in gateway/credit_command.cpp.
#pragma once

#include <string>

#include "billing/credit_policy.hpp"
#include "billing/credits.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {

// Loads the credit policy from `policy_path`. An empty path means policy/credit-policy.toml in
// the --data-dir, and when that default file is missing the built-in defaults apply. A named file
// that cannot be read or parsed fails the command.
billing::CreditPolicy load_policy_option(const DatabaseOptions& options,
                                         const std::string& policy_path,
                                         const std::string& command);

// Returns `prefix` followed by the first 12 hex digits of SHA-256(`key`), so a repeated
// request with the same idempotency key names the same record.
std::string id_from_key(const std::string& prefix, const std::string& key);

// Prints one credit as a line of text.
void print_credit(const billing::CreditRecord& credit);

}  // namespace relaygw::gateway
