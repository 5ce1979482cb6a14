// Helpers shared by the credit and dispute commands and the admin API: the credit policy,
// record ids derived from idempotency keys, credit requests and their JSON. Defined in
// gateway/credit_command.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "billing/credit_policy.hpp"
#include "billing/credits.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {

// One credit request as text: the fields of `relaygw credit request` and of the admin API's
// POST /credits.
struct CreditFields {
  std::string call_id;
  std::int64_t line_no = 0;
  std::string reason;  // a library reason name, or the short forms "dropped" and "duplicate"
  std::string text;
  std::string amount;  // dollars, such as "1.25"; empty: the amount the policy sets
  std::string key;     // idempotency key
};

// Loads the credit policy from `policy_path`. An empty path means policy/credit-policy.toml in
// `data_dir` (empty: billing::default_data_dir()), and when that default file is missing the
// built-in defaults apply.
Result<billing::CreditPolicy> load_policy(const std::string& data_dir,
                                          const std::string& policy_path);

// Loads the credit policy from `policy_path`. An empty path means policy/credit-policy.toml in
// the --data-dir, and when that default file is missing the built-in defaults apply. A named file
// that cannot be read or parsed fails the command.
billing::CreditPolicy load_policy_option(const DatabaseOptions& options,
                                         const std::string& policy_path,
                                         const std::string& command);

// Returns `prefix` followed by the first 12 hex digits of SHA-256(`key`), so a repeated
// request with the same idempotency key names the same record.
std::string id_from_key(const std::string& prefix, const std::string& key);

// Parses a credit reason name; accepts the short forms "dropped" and "duplicate" too.
std::optional<billing::CreditReason> parse_credit_reason_name(const std::string& name);

// Checks `fields`, applies `policy` to the call's charge line and records the credit request
// in `store`. A repeated key with the same fields returns the first record. Errors name the
// field as `field_prefix` + name ("--reason" on the command line, "reason" in JSON), with
// InvalidArgument for bad input and NotFound for an unknown call. A rating-error credit
// re-rates the call with the number plan in `data_dir` (empty: billing::default_data_dir()).
Result<billing::CreditRecord> request_policy_credit(billing::SqliteStore& store,
                                                    const billing::CreditPolicy& policy,
                                                    const CreditFields& fields,
                                                    const billing::WriteContext& context,
                                                    std::string_view field_prefix,
                                                    const std::string& data_dir = "");

// The `relaygw credit show --json` object.
nlohmann::json credit_json(const billing::CreditRecord& credit);

// Prints one credit as a line of text.
void print_credit(const billing::CreditRecord& credit);

}  // namespace relaygw::gateway
