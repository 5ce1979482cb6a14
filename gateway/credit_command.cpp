// relaygw credit request | approve | reject | show | list: staff commands over the credit
// library. The credit policy (data/policy/credit-policy.toml) sets the amount of rule-based
// credits and the amount above which a supervisor must approve.
#include <filesystem>
#include <iostream>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/next_step.hpp"
#include "common/card_digits.hpp"
#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/credit_support.hpp"

namespace relaygw::gateway {

Result<billing::CreditPolicy> load_policy(const std::string& data_dir,
                                          const std::string& policy_path) {
  std::filesystem::path path = policy_path;
  if (policy_path.empty()) {
    const std::filesystem::path dir =
        data_dir.empty() ? billing::default_data_dir() : std::filesystem::path(data_dir);
    path = dir / "policy" / "credit-policy.toml";
    if (!std::filesystem::exists(path)) {
      return billing::CreditPolicy{};
    }
  }
  return billing::load_credit_policy(path.string());
}

billing::CreditPolicy load_policy_option(const DatabaseOptions& options,
                                         const std::string& policy_path,
                                         const std::string& command) {
  Result<billing::CreditPolicy> policy = load_policy(options.data_dir, policy_path);
  if (!policy) {
    fail_command(command, policy.status().message());
  }
  return *policy;
}

std::string id_from_key(const std::string& prefix, const std::string& key) {
  return prefix + billing::sha256_hex(key).substr(0, 12);
}

void print_credit(const billing::CreditRecord& credit) {
  std::cout << fmt::format(
      "credit {}: call {} line {}, {} ${}, {} (rule {}), requested by {} at {}", credit.id,
      credit.call_id, credit.line_no, to_string(credit.reason),
      billing::format_money(credit.amount), to_string(credit.state), credit.rule, credit.actor,
      billing::format_instant(credit.at));
  if (!credit.decided_by.empty()) {
    std::cout << fmt::format(", decided by {}", credit.decided_by);
  }
  if (!credit.reason_text.empty()) {
    std::cout << fmt::format("\n  reason: {}", credit.reason_text);
  }
  if (!credit.dispute_id.empty()) {
    std::cout << fmt::format("\n  resolves dispute {}", credit.dispute_id);
  }
  std::cout << "\n";
}

nlohmann::json credit_json(const billing::CreditRecord& credit) {
  return {{"id", credit.id},
          {"call_id", credit.call_id},
          {"line", credit.line_no},
          {"reason", billing::to_string(credit.reason)},
          {"text", credit.reason_text},
          {"amount", billing::format_dollars_exact(credit.amount)},
          {"rule", credit.rule},
          {"state", billing::to_string(credit.state)},
          {"dispute_id", credit.dispute_id},
          {"requested_by", credit.actor},
          {"requested_at", billing::format_instant(credit.at)},
          {"decided_by", credit.decided_by},
          {"decision_note", credit.decision_note}};
}

std::optional<billing::CreditReason> parse_credit_reason_name(const std::string& name) {
  if (name == "dropped") {
    return billing::CreditReason::DroppedCall;
  }
  if (name == "duplicate") {
    return billing::CreditReason::DuplicateCharge;
  }
  return billing::parse_credit_reason(name);
}

Result<billing::CreditRecord> request_policy_credit(billing::SqliteStore& store,
                                                    const billing::CreditPolicy& policy,
                                                    const CreditFields& fields,
                                                    const billing::WriteContext& context,
                                                    std::string_view field_prefix,
                                                    const std::string& data_dir) {
  const std::string prefix(field_prefix);
  const std::optional<billing::CreditReason> reason = parse_credit_reason_name(fields.reason);
  if (!reason) {
    return Status(StatusCode::InvalidArgument,
                  "invalid " + prefix + "reason '" + fields.reason +
                      "'; use misdialed, dropped, bad-connection, duplicate, rating-error or "
                      "other");
  }
  if (fields.key.empty()) {
    return Status(StatusCode::InvalidArgument,
                  prefix + "key is empty; pass a unique idempotency key for this request");
  }
  std::optional<billing::Money> amount;
  if (!fields.amount.empty()) {
    Result<billing::Money> parsed = billing::parse_dollars_and_cents(fields.amount);
    if (!parsed) {
      return Status(StatusCode::InvalidArgument, prefix + "amount: " + parsed.status().message());
    }
    amount = *parsed;
  }
  auto call = store.find_call(fields.call_id);
  if (!call) {
    return call.status();
  }
  if (!call->has_value()) {
    return billing::failed_with_step(StatusCode::NotFound,
                                     "call '" + fields.call_id + "' does not exist",
                                     {NextStep::Kind::CheckCallId, fields.call_id});
  }

  billing::CreditAsk ask;
  ask.id = id_from_key("cr-", fields.key);
  ask.call_id = fields.call_id;
  ask.line_no = fields.line_no;
  ask.reason = *reason;
  ask.reason_text = fields.text;
  ask.amount = amount;
  ask.reported_at = context.at;
  // A rating-error credit is re-rated with the stored deck in effect on the call's date.
  const std::filesystem::path plan_dir =
      data_dir.empty() ? billing::default_data_dir() : std::filesystem::path(data_dir);
  Result<billing::CreditRequest> request =
      billing::apply_credit_policy(policy, **call, ask, store, plan_dir);
  if (!request) {
    return request.status();
  }
  // The text is hashed as it is stored, masked, so no hash of a full card number is kept.
  const std::string request_hash = billing::sha256_hex(
      fmt::format("{}|{}|{}|{}|{}", fields.call_id, fields.line_no, billing::to_string(*reason),
                  mask_card_number_runs(fields.text),
                  amount ? std::to_string(*amount) : std::string("policy")));
  return store.request_credit(*request, billing::IdempotencyKey{fields.key, request_hash}, context);
}

namespace {

struct CreditOptions : CreditFields {
  DatabaseOptions database;
  std::string policy;
  std::string credit_id;
  bool json = false;
};

void output_credit(const billing::CreditRecord& credit, bool json) {
  if (json) {
    std::cout << json_text(credit_json(credit)) << "\n";
  } else {
    print_credit(credit);
  }
}

void run_request(const CreditOptions& options) {
  const std::string command = "credit request";
  const CommandLog log(command);
  const billing::CreditPolicy policy =
      load_policy_option(options.database, options.policy, command);
  auto store = open_database(options.database, command);
  Result<billing::CreditRecord> credit =
      request_policy_credit(*store, policy, options, write_context(options.database), "--",
                            options.database.data_dir);
  if (!credit) {
    fail_command(command, credit.status().message());
  }
  output_credit(*credit, options.json);
}

void run_decide(const CreditOptions& options, bool approve) {
  const std::string command = approve ? "credit approve" : "credit reject";
  const CommandLog log(command);
  auto store = open_database(options.database, command);
  Result<billing::CreditRecord> credit = store->decide_credit(
      options.credit_id, approve, options.text, write_context(options.database));
  if (!credit) {
    fail_command(command, credit.status().message());
  }
  output_credit(*credit, options.json);
}

void run_show(const CreditOptions& options) {
  const std::string command = "credit show";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  auto credit = store->find_credit(options.credit_id);
  if (!credit) {
    fail_command(command, credit.status().message());
  }
  if (!credit->has_value()) {
    fail_command(command, "credit '" + options.credit_id +
                              "' does not exist; list credits with `relaygw credit list`");
  }
  output_credit(**credit, options.json);
}

void run_list(const CreditOptions& options) {
  const std::string command = "credit list";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  auto credits = store->list_credits(options.call_id);
  if (!credits) {
    fail_command(command, credits.status().message());
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const billing::CreditRecord& credit : *credits) {
      out.push_back(credit_json(credit));
    }
    std::cout << json_text(out) << "\n";
    return;
  }
  for (const billing::CreditRecord& credit : *credits) {
    print_credit(credit);
  }
  std::cout << credits->size() << (credits->size() == 1 ? " credit\n" : " credits\n");
}

void add_common_options(CLI::App& command, CreditOptions& options, DatabaseUse use, bool json) {
  add_database_options(command, options.database, use);
  if (json) {
    command.add_flag("--json", options.json, "Print JSON");
  }
}

}  // namespace

void add_credit_command(CLI::App& app) {
  CLI::App* credit =
      app.add_subcommand("credit", "Request, approve, reject and list credits on charge lines");
  credit->require_subcommand(1);

  auto request_options = std::make_shared<CreditOptions>();
  CLI::App* request = credit->add_subcommand(
      "request",
      "Credit one charge line under the credit policy; repeat with the same --key safely");
  add_common_options(*request, *request_options, DatabaseUse::WriteWithData, true);
  request->add_option("--call", request_options->call_id, "Call id")->required();
  request->add_option("--line", request_options->line_no, "Charge line number, from 1")->required();
  request
      ->add_option("--reason", request_options->reason,
                   "misdialed, dropped, bad-connection, duplicate, rating-error or other")
      ->required();
  request->add_option("--text", request_options->text, "Reason in words (required for other)");
  request->add_option("--amount", request_options->amount,
                      "Credit in dollars, such as 1.25 (default: what the policy sets)");
  request->add_option("--key", request_options->key, "Idempotency key of this request")->required();
  request->add_option("--policy", request_options->policy,
                      "Credit policy TOML (default: policy/credit-policy.toml in --data-dir)");
  request->callback([request_options] { run_request(*request_options); });

  for (const bool approve : {true, false}) {
    auto options = std::make_shared<CreditOptions>();
    CLI::App* decide = credit->add_subcommand(
        approve ? "approve" : "reject",
        approve ? "Approve a pending credit, which posts it" : "Reject a pending credit");
    add_common_options(*decide, *options, DatabaseUse::Write, true);
    decide->add_option("--credit", options->credit_id, "Credit id")->required();
    decide->add_option("--text", options->text, "Note recorded with the decision");
    decide->callback([options, approve] { run_decide(*options, approve); });
  }

  auto show_options = std::make_shared<CreditOptions>();
  CLI::App* show = credit->add_subcommand("show", "Show one credit");
  add_common_options(*show, *show_options, DatabaseUse::Read, true);
  show->add_option("--credit", show_options->credit_id, "Credit id")->required();
  show->callback([show_options] { run_show(*show_options); });

  auto list_options = std::make_shared<CreditOptions>();
  CLI::App* list = credit->add_subcommand("list", "List credits in request order");
  add_common_options(*list, *list_options, DatabaseUse::Read, true);
  list->add_option("--call", list_options->call_id, "Only the credits of this call");
  list->callback([list_options] { run_list(*list_options); });
  add_staff_command_checks(*credit);
}

}  // namespace relaygw::gateway
