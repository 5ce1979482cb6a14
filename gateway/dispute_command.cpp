// relaygw dispute open | note | investigate | resolve | escalate | show | list: staff commands
// over the dispute library. Each step is appended with the --actor and the current UTC second.
#include <chrono>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/call_records.hpp"
#include "common/card_digits.hpp"
#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/credit_support.hpp"

namespace relaygw::gateway {
namespace {

struct DisputeOptions {
  DatabaseOptions database;
  std::string policy;
  std::string dispute_id;
  std::string call_id;
  std::optional<std::int64_t> line_no;
  std::string account;
  std::string text;
  std::string adjust;
  bool deny = false;
  std::string key;
  bool overdue = false;
  bool json = false;
};

billing::Dispute find_dispute_or_fail(billing::SqliteStore& store, const std::string& id,
                                      const std::string& command) {
  auto dispute = store.find_dispute(id);
  if (!dispute) {
    fail_command(command, dispute.status().message());
  }
  if (!dispute->has_value()) {
    fail_command(command,
                 "dispute '" + id + "' does not exist; list disputes with `relaygw dispute list`");
  }
  return **dispute;
}

std::string line_text(const billing::Dispute& dispute) {
  return dispute.line_no ? "line " + std::to_string(*dispute.line_no) : std::string("whole call");
}

// Describes an adjustment's credit by its state now, so a credit that waits for approval never
// reads as money the customer already has.
std::string credit_text(const billing::DisputeStep& step) {
  std::string credit = "credit " + step.credit_id;
  if (step.credit_amount) {
    credit += " of $" + billing::format_money(*step.credit_amount);
  }
  if (!step.credit_state) {
    return credit;
  }
  switch (*step.credit_state) {
    case billing::CreditState::Pending:
      return credit + " pending approval, not credited yet";
    case billing::CreditState::Applied:
      return credit + " applied";
    case billing::CreditState::Rejected:
      return credit + " rejected, not credited";
  }
  return credit;
}

void print_dispute(const billing::Dispute& dispute) {
  std::cout << fmt::format("dispute {}: call {} ({}), {}, due {}\n", dispute.id, dispute.call_id,
                           line_text(dispute), billing::to_string(dispute.state()),
                           billing::format_instant(dispute.due_at));
  std::cout << fmt::format("  customer's account: {}\n", dispute.customer_account);
  for (const billing::DisputeStep& step : dispute.steps) {
    std::cout << fmt::format("  {:<12} {} by {}", billing::to_string(step.action),
                             billing::format_instant(step.at), step.actor);
    if (!step.credit_id.empty()) {
      std::cout << ", " << credit_text(step);
    }
    if (!step.note.empty()) {
      std::cout << fmt::format(": {}", step.note);
    }
    std::cout << "\n";
  }
}

nlohmann::json dispute_json(const billing::Dispute& dispute) {
  nlohmann::json steps = nlohmann::json::array();
  for (const billing::DisputeStep& step : dispute.steps) {
    nlohmann::json item = {{"action", billing::to_string(step.action)},
                           {"state", billing::to_string(step.state)},
                           {"note", step.note},
                           {"credit_id", step.credit_id},
                           {"actor", step.actor},
                           {"at", billing::format_instant(step.at)}};
    if (step.credit_state) {
      item["credit_state"] = billing::to_string(*step.credit_state);
    }
    if (step.credit_amount) {
      item["credit_amount"] = billing::format_dollars_exact(*step.credit_amount);
    }
    steps.push_back(item);
  }
  return {{"id", dispute.id},
          {"call_id", dispute.call_id},
          {"line", dispute.line_no ? nlohmann::json(*dispute.line_no) : nlohmann::json(nullptr)},
          {"customer_account", dispute.customer_account},
          {"state", billing::to_string(dispute.state())},
          {"due_at", billing::format_instant(dispute.due_at)},
          {"steps", steps}};
}

void output_dispute(const billing::Dispute& dispute, bool json) {
  if (json) {
    std::cout << json_text(dispute_json(dispute)) << "\n";
  } else {
    print_dispute(dispute);
  }
}

void run_open(const DisputeOptions& options) {
  const std::string command = "dispute open";
  const CommandLog log(command);
  if (options.key.empty() || options.account.empty()) {
    fail_command(command, "--key and --account must not be empty");
  }
  const billing::CreditPolicy policy =
      load_policy_option(options.database, options.policy, command);
  auto store = open_database(options.database, command);
  billing::DisputeOpenRequest request;
  request.id = id_from_key("dp-", options.key);
  request.call_id = options.call_id;
  request.line_no = options.line_no;
  request.customer_account = options.account;
  request.due_days = policy.dispute_due_days;
  // The hash covers the account as stored, masked, so no hash of a full card number is kept.
  const std::string request_hash = billing::sha256_hex(fmt::format(
      "{}|{}|{}", options.call_id, options.line_no ? std::to_string(*options.line_no) : "",
      mask_card_number_runs(options.account)));
  auto dispute = store->open_dispute(request, billing::IdempotencyKey{options.key, request_hash},
                                     write_context(options.database));
  if (!dispute) {
    fail_command(command, dispute.status().message());
  }
  output_dispute(*dispute, options.json);
}

void append_step(const DisputeOptions& options, billing::DisputeAction action,
                 const std::string& command) {
  const CommandLog log(command);
  auto store = open_database(options.database, command);
  auto dispute = store->append_dispute_step(options.dispute_id, action, options.text, std::nullopt,
                                            write_context(options.database));
  if (!dispute) {
    fail_command(command, dispute.status().message());
  }
  output_dispute(*dispute, options.json);
}

void print_call_trail(const billing::CallRecord& call) {
  std::cout << fmt::format("Call {}: {} to {}, {}, access {}\n", call.request.id, call.request.from,
                           call.request.to, billing::to_string(call.request.billing),
                           billing::to_string(call.request.access));
  std::cout << "Event trail:\n";
  for (const billing::CallEventRecord& event : call.events) {
    std::cout << fmt::format("  {:<13} {} by {}\n", billing::to_string(event.event),
                             billing::format_instant(event.at), event.actor);
  }
  std::cout << "Authorization and acceptance:\n";
  bool any = false;
  for (const billing::CallEventRecord& event : call.events) {
    if (event.event == billing::CallEvent::Authorized) {
      std::cout << fmt::format("  authorized at {} by {}\n", billing::format_instant(event.at),
                               event.actor);
      any = true;
    }
    if (event.event == billing::CallEvent::Accepted) {
      std::cout << fmt::format(
          "  charges accepted by {} via {} at {} (recorded by {})\n",
          event.accepted_by.empty() ? std::string("(name not recorded)") : event.accepted_by,
          event.acceptance_method ? std::string(billing::to_string(*event.acceptance_method))
                                  : std::string("(method not recorded)"),
          billing::format_instant(event.at), event.actor);
      any = true;
    }
  }
  if (!any) {
    std::cout << "  none recorded\n";
  }
  std::cout << "Charge lines:\n";
  if (!call.posting) {
    std::cout << "  none: the call " << billing::unposted_state(call) << "\n";
    return;
  }
  for (std::size_t i = 0; i < call.posting->lines.size(); ++i) {
    const billing::PostedChargeLine& line = call.posting->lines[i];
    std::cout << fmt::format("  {:>2} {:<10} {:<48} {:>10}\n", i + 1, line.kind, line.description,
                             billing::format_dollars(line.amount));
  }
  std::cout << fmt::format("     {:<59} {:>10}\n", "total",
                           billing::format_dollars(call.posting->total));
}

// Verifies the audit chain and the record chain, prints the result and returns a one-line
// summary for the dispute's investigation step.
std::string print_chain_check(billing::SqliteStore& store, const std::string& command) {
  std::string summary;
  // Both checks read in one transaction, so rows that another connection commits meanwhile do
  // not show up as rows without an audit entry in the dispute's permanent record.
  std::optional<Result<std::int64_t>> audit_read;
  Result<billing::RecordCheck> records = store.read_consistently([&] {
    audit_read.emplace(store.verify_audit_chain());
    return store.verify_records();
  });
  if (!records) {
    fail_command(command, records.status().message());
  }
  const Result<std::int64_t>& audit = *audit_read;
  if (!audit) {
    summary = "audit chain failed: " + audit.status().message();
  } else if (!records->problems.empty()) {
    const billing::RecordProblem& first = records->problems.front();
    summary = fmt::format("record chain failed: {} row {} {}: {}", first.table, first.row_id,
                          first.kind, first.detail);
  } else {
    summary = fmt::format("record chain verified: {} rows and {} audit entries match",
                          records->rows_checked, *audit);
  }
  std::cout << "Record chain verification:\n  " << summary << "\n";
  return summary;
}

void run_investigate(const DisputeOptions& options) {
  const std::string command = "dispute investigate";
  const CommandLog log(command);
  auto store = open_database(options.database, command);
  const billing::Dispute dispute = find_dispute_or_fail(*store, options.dispute_id, command);
  print_dispute(dispute);
  auto call = store->find_call(dispute.call_id);
  if (!call) {
    fail_command(command, call.status().message());
  }
  if (!call->has_value()) {
    fail_command(command,
                 "call '" + dispute.call_id + "' of dispute " + dispute.id + " does not exist");
  }
  print_call_trail(**call);

  auto credits = store->list_credits(dispute.call_id);
  if (!credits) {
    fail_command(command, credits.status().message());
  }
  std::cout << "Credits:\n";
  if (credits->empty()) {
    std::cout << "  none\n";
  }
  for (const billing::CreditRecord& credit : *credits) {
    std::cout << "  ";
    print_credit(credit);
  }

  const std::string summary = print_chain_check(*store, command);
  if (dispute.state() == billing::DisputeState::Resolved) {
    std::cout << "Dispute is resolved, so this investigation is not recorded as a step\n";
    return;
  }
  if (dispute.state() == billing::DisputeState::PendingApproval) {
    std::cout << "Dispute waits for approval of its adjustment credit, so this investigation is "
                 "not recorded as a step\n";
    return;
  }
  auto step = store->append_dispute_step(dispute.id, billing::DisputeAction::Investigated, summary,
                                         std::nullopt, write_context(options.database));
  if (!step) {
    fail_command(command, step.status().message());
  }
}

void run_resolve(const DisputeOptions& options) {
  const std::string command = "dispute resolve";
  const CommandLog log(command);
  if (options.deny == !options.adjust.empty()) {
    fail_command(command, "give exactly one of --adjust DOLLARS or --deny");
  }
  if (options.key.empty()) {
    fail_command(command, "--key is empty; pass a unique idempotency key for this resolution");
  }
  const billing::CreditPolicy policy =
      load_policy_option(options.database, options.policy, command);
  auto store = open_database(options.database, command);
  const billing::Dispute dispute = find_dispute_or_fail(*store, options.dispute_id, command);

  std::optional<billing::CreditRequest> adjustment;
  billing::DisputeAction action = billing::DisputeAction::Denied;
  if (!options.deny) {
    action = billing::DisputeAction::Adjusted;
    const billing::Money amount = parse_money_option(options.adjust, "--adjust", command);
    const std::optional<std::int64_t> line = options.line_no ? options.line_no : dispute.line_no;
    if (!line) {
      fail_command(command, "dispute " + dispute.id +
                                " covers the whole call; pass --line N to name the charge line "
                                "the adjustment credits");
    }
    billing::CreditRequest credit;
    credit.id = id_from_key("cr-", options.key);
    credit.line_no = *line;
    credit.reason = billing::CreditReason::Other;
    credit.reason_text =
        options.text.empty() ? "dispute " + dispute.id + " adjustment" : options.text;
    credit.amount = amount;
    credit.rule = "dispute";
    // The credit policy's threshold applies as it does to `relaygw credit request`.
    credit.approval_above = policy.approval_above;
    adjustment = credit;
  }
  // NOTE: the library keeps no idempotency record for dispute steps. A repeat that matches the
  // last resolution returns the dispute unchanged, but once that adjustment's credit was
  // rejected, the same --key names the same credit id and fails, so a new resolution needs a
  // new --key.
  auto resolved = store->append_dispute_step(dispute.id, action, options.text, adjustment,
                                             write_context(options.database));
  if (!resolved) {
    fail_command(command, resolved.status().message());
  }
  output_dispute(*resolved, options.json);
  if (!options.json && resolved->state() == billing::DisputeState::PendingApproval) {
    const billing::DisputeStep& adjusted = resolved->steps.back();
    std::cout << fmt::format(
        "the adjustment, with the call's other credits, is above the approval amount of ${}, "
        "so the customer is credited only once a staff member other than {} runs `relaygw "
        "credit approve --credit {}`\n",
        billing::format_money(policy.approval_above), adjusted.actor, adjusted.credit_id);
  }
}

void run_show(const DisputeOptions& options) {
  const std::string command = "dispute show";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  output_dispute(find_dispute_or_fail(*store, options.dispute_id, command), options.json);
}

void run_list(const DisputeOptions& options) {
  const std::string command = "dispute list";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  auto disputes = store->list_disputes();
  if (!disputes) {
    fail_command(command, disputes.status().message());
  }
  const billing::Instant now =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::vector<billing::Dispute> listed;
  for (const billing::Dispute& dispute : *disputes) {
    const bool overdue = dispute.state() != billing::DisputeState::Resolved && dispute.due_at < now;
    if (!options.overdue || overdue) {
      listed.push_back(dispute);
    }
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const billing::Dispute& dispute : listed) {
      out.push_back(dispute_json(dispute));
    }
    std::cout << json_text(out) << "\n";
    return;
  }
  for (const billing::Dispute& dispute : listed) {
    std::cout << fmt::format("{}  call {} ({})  {}  due {}  {}\n", dispute.id, dispute.call_id,
                             line_text(dispute), billing::to_string(dispute.state()),
                             billing::format_instant(dispute.due_at), dispute.customer_account);
  }
  std::cout << listed.size() << (options.overdue ? " overdue dispute" : " dispute")
            << (listed.size() == 1 ? "\n" : "s\n");
}

CLI::App* add_step_command(CLI::App& parent, const char* name, const char* description,
                           DatabaseUse use, std::shared_ptr<DisputeOptions>& options) {
  options = std::make_shared<DisputeOptions>();
  CLI::App* command = parent.add_subcommand(name, description);
  add_database_options(*command, options->database, use);
  command->add_flag("--json", options->json, "Print JSON");
  return command;
}

}  // namespace

void add_dispute_command(CLI::App& app) {
  CLI::App* dispute = app.add_subcommand(
      "dispute", "Open, note, investigate, resolve, escalate and list billing disputes");
  dispute->require_subcommand(1);
  std::shared_ptr<DisputeOptions> options;

  CLI::App* open = add_step_command(*dispute, "open",
                                    "Open a dispute on a call or one charge line; repeat with "
                                    "the same --key safely",
                                    DatabaseUse::WriteWithData, options);
  open->add_option("--call", options->call_id, "Call id")->required();
  open->add_option("--line", options->line_no, "Charge line number (default: the whole call)");
  open->add_option("--account", options->account, "The customer's account of what went wrong")
      ->required();
  open->add_option("--key", options->key, "Idempotency key of this request")->required();
  open->add_option("--policy", options->policy,
                   "Credit policy TOML that sets disputes.due_days (default: "
                   "policy/credit-policy.toml in --data-dir)");
  open->callback([options] { run_open(*options); });

  CLI::App* note = add_step_command(*dispute, "note", "Add a note to a dispute",
                                    DatabaseUse::Write, options);
  note->add_option("--dispute", options->dispute_id, "Dispute id")->required();
  note->add_option("--text", options->text, "Note text")->required();
  note->callback(
      [options] { append_step(*options, billing::DisputeAction::Note, "dispute note"); });

  CLI::App* escalate =
      add_step_command(*dispute, "escalate", "Escalate a dispute to a supervisor",
                       DatabaseUse::Write, options);
  escalate->add_option("--dispute", options->dispute_id, "Dispute id")->required();
  escalate->add_option("--text", options->text, "Why it is escalated");
  escalate->callback(
      [options] { append_step(*options, billing::DisputeAction::Escalated, "dispute escalate"); });

  CLI::App* investigate = add_step_command(
      *dispute, "investigate",
      "Print the call's event trail, acceptance records, charge lines, credits and the record "
      "chain check, and record the investigation",
      DatabaseUse::Write, options);
  investigate->add_option("--dispute", options->dispute_id, "Dispute id")->required();
  investigate->callback([options] { run_investigate(*options); });

  CLI::App* resolve = add_step_command(
      *dispute, "resolve", "Resolve a dispute with an adjustment credit or a denial",
      DatabaseUse::WriteWithData, options);
  resolve->add_option("--dispute", options->dispute_id, "Dispute id")->required();
  resolve->add_option("--adjust", options->adjust, "Credit this many dollars, such as 2.50");
  resolve->add_flag("--deny", options->deny, "Deny the dispute with no credit");
  resolve->add_option("--line", options->line_no,
                      "Charge line the adjustment credits (default: the dispute's line)");
  resolve->add_option("--text", options->text, "Note recorded with the resolution");
  resolve->add_option("--key", options->key, "Idempotency key of this resolution")->required();
  resolve->add_option("--policy", options->policy,
                      "Credit policy TOML whose credits.approval_above sets the adjustment "
                      "that waits for approval (default: policy/credit-policy.toml in "
                      "--data-dir)");
  resolve->callback([options] { run_resolve(*options); });

  CLI::App* show = add_step_command(
      *dispute, "show", "Show a dispute's state and steps, with the state of its credit",
      DatabaseUse::Read, options);
  show->add_option("--dispute", options->dispute_id, "Dispute id")->required();
  show->callback([options] { run_show(*options); });

  CLI::App* list = add_step_command(*dispute, "list", "List disputes", DatabaseUse::Read, options);
  list->add_flag("--overdue", options->overdue,
                 "Only open or escalated disputes past their due date");
  list->callback([options] { run_list(*options); });
  add_staff_command_checks(*dispute);
}

}  // namespace relaygw::gateway
