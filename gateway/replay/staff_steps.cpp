// The staff part of a replay: calling cards before the day, credits and a dispute after it,
// all through the relaygw staff commands against the billing database.
#include "gateway/logging.hpp"
#include "gateway/replay/staff_client.hpp"
#include "gateway/replay/steps.hpp"

namespace relaygw::gateway::replay {
namespace {

constexpr const char* kActor = "staff:replay";

void run_credit(ReplayContext& context, const CreditStep& step) {
  const ProviderCall& call = *context.day.find_provider_call(step.call);
  const std::string call_id = billing_call_id(call.provider, call.id);
  std::vector<std::string> command = {
      "credit",   "request",   "--call", call_id,  "--line", std::to_string(step.line),
      "--reason", step.reason, "--key",  step.key, "--json"};
  if (!step.amount.empty()) {
    command.insert(command.end(), {"--amount", step.amount});
  }
  auto credit = run_staff_command(context, command);
  if (!credit.is_ok()) {
    return;
  }
  std::string state = credit->value("state", "");
  if (state == "pending") {
    auto approved =
        run_staff_command(context, {"credit", "approve", "--credit", credit->value("id", ""),
                                    "--text", "approved by the replay supervisor", "--json"});
    if (!approved.is_ok()) {
      return;
    }
    state = approved->value("state", "");
  }
  if (state == "applied") {
    ++context.summary.credits_posted;
  } else {
    context.problem("credit on " + call_id + " ended in state \"" + state + "\"");
  }
}

void run_dispute(ReplayContext& context, const DisputeStep& step) {
  const ProviderCall& call = *context.day.find_provider_call(step.call);
  const std::string call_id = billing_call_id(call.provider, call.id);
  auto opened = run_staff_command(
      context, {"dispute", "open", "--call", call_id, "--line", std::to_string(step.line),
                "--account", step.account, "--key", step.key, "--json"});
  if (!opened.is_ok()) {
    return;
  }
  const std::string dispute_id = opened->value("id", "");
  auto investigated =
      run_staff_command(context, {"dispute", "investigate", "--dispute", dispute_id, "--json"});
  if (!investigated.is_ok()) {
    return;
  }
  std::vector<std::string> resolve = {
      "dispute", "resolve", "--dispute", dispute_id, "--key", step.key + "/resolve", "--json"};
  if (step.adjust.empty()) {
    resolve.push_back("--deny");
  } else {
    resolve.insert(resolve.end(), {"--adjust", step.adjust});
  }
  if (!step.note.empty()) {
    resolve.insert(resolve.end(), {"--text", step.note});
  }
  auto resolved = run_staff_command(context, resolve);
  if (resolved.is_ok()) {
    ++context.summary.disputes_resolved;
  }
}

}  // namespace

Result<nlohmann::json> run_staff_command(ReplayContext& context, std::vector<std::string> command,
                                         const std::string& input) {
  const std::string name = command[0] + " " + command[1];
  command.insert(command.begin() + 2, {"--db", context.options.database, "--actor", kActor});
  auto output = run_program(context.options.relaygw, command, input);
  if (!output.is_ok()) {
    context.problem("relaygw " + name + ": " + output.status().message());
    return output.status();
  }
  if (output->exit_status != 0) {
    std::string message = output->err.empty() ? output->out : output->err;
    while (!message.empty() && message.back() == '\n') {
      message.pop_back();
    }
    context.problem("relaygw " + name + " failed: " + message);
    return Status(StatusCode::FailedPrecondition, message);
  }
  nlohmann::json parsed = nlohmann::json::parse(output->out, nullptr, false);
  if (parsed.is_discarded()) {
    // Commands without --json print text; the exit status is what counts for them.
    return nlohmann::json(output->out);
  }
  return parsed;
}

Status add_cards(ReplayContext& context) {
  for (const CardSetup& card : context.day.cards) {
    auto added = run_staff_command(
        context, {"card", "add", "--number", card.number, "--balance", card.balance},
        card.pin + "\n");
    if (!added.is_ok()) {
      return added.status();
    }
  }
  return Status::ok();
}

void run_staff_steps(ReplayContext& context) {
  for (const CreditStep& step : context.day.credits) {
    run_credit(context, step);
  }
  for (const DisputeStep& step : context.day.disputes) {
    run_dispute(context, step);
  }
  logger("gateway")->info("replay staff credits_posted={} disputes_resolved={}",
                          context.summary.credits_posted, context.summary.disputes_resolved);
}

}  // namespace relaygw::gateway::replay
