#include "gateway/replay/replay.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "gateway/logging.hpp"
#include "gateway/replay/staff_client.hpp"
#include "gateway/replay/steps.hpp"

namespace relaygw::gateway::replay {
namespace {

// Checks what each enabled part needs before any call is placed.
Status check_options(const Day& day, const ReplayOptions& options) {
  if (options.provider_port != 0) {
    for (const std::string& provider : day.providers()) {
      for (const std::string& name :
           {std::string("ca.pem"), provider + ".pem", provider + "-key.pem"}) {
        const std::filesystem::path path = std::filesystem::path(options.certs_dir) / name;
        if (!std::filesystem::exists(path)) {
          return Status(StatusCode::NotFound, "certificate file " + path.string() +
                                                  " not found; run relaygw certs "
                                                  "generate --out " +
                                                  options.certs_dir + " --provider " + provider);
        }
      }
    }
  }
  if (!options.resume_from.empty()) {
    if (options.provider_port == 0) {
      return Status(StatusCode::InvalidArgument,
                    "--resume-from " + options.resume_from +
                        " needs --provider, because it resumes the provider calls");
    }
    if (day.find_provider_call(options.resume_from) == nullptr) {
      return Status(StatusCode::NotFound, "--resume-from " + options.resume_from +
                                              " names no [[provider_call]] id of " +
                                              day.source_file +
                                              "; pass the call id that the stopped replay named");
    }
  }
  if (!options.database.empty() && !std::filesystem::exists(options.database)) {
    return Status(StatusCode::NotFound,
                  "database " + options.database + " not found; create it with relaygw db init");
  }
  return Status::ok();
}

void fetch_admin_figures(ReplayContext& context) {
  const ReplayOptions& options = context.options;
  // A stopped gateway is already a problem with its fix.
  if (options.admin_port == 0 || context.gateway_lost) {
    return;
  }
  auto queues = admin_get(options.admin_address, options.admin_port, options.admin_token, "/queues",
                          options.timeout);
  if (!queues.is_ok()) {
    context.problem("admin API: " + admin_failure(context, queues.status()));
    return;
  }
  context.admin_answered = true;
  context.summary.admin_queues = std::move(queues.value());
}

// Finds the emergency dispatch latency figures in the admin API's /queues answer: the first
// value under a key named "latency_ms", which is {count, p50, p99, max} in milliseconds.
const nlohmann::json* find_latency(const nlohmann::json& node) {
  if (!node.is_object()) {
    return nullptr;
  }
  for (const auto& [key, value] : node.items()) {
    if (key == "latency_ms" && value.is_object()) {
      return &value;
    }
    if (const nlohmann::json* found = find_latency(value)) {
      return found;
    }
  }
  return nullptr;
}

}  // namespace

Result<ReplaySummary> run_day(const Day& day, const ReplayOptions& options) {
  Status checked = check_options(day, options);
  if (!checked.is_ok()) {
    return checked;
  }
  ReplaySummary summary;
  ReplayContext context{day, options, summary, {}, 0};
  logger("gateway")->info("replay start day={} date={}", day.source_file, day.date);

  // A resumed replay skips the parts that ran before the provider calls.
  const bool resuming = !options.resume_from.empty();
  if (resuming) {
    logger("gateway")->info("replay resumes at provider call={}", options.resume_from);
  }
  if (!options.database.empty() && !resuming) {
    Status cards = add_cards(context);
    if (!cards.is_ok()) {
      return cards;
    }
  }
  if (options.provider_port != 0) {
    // A first connection shows that the provider link is up. It closes at once, because the
    // gateway would close it as idle while the TTY line calls run.
    auto first = context.open_link(day.providers().front());
    if (!first.is_ok()) {
      return first.status();
    }
    (*first)->close();
  }
  // The TTY line calls and the emergency calls are stamped by the running gateway clock, near
  // the day's clock_start. The provider calls come last, because each of their steps moves the
  // clock forward to its own instant, hours later.
  if (options.tty_port != 0 && !resuming) {
    run_tty_calls(context);
  }
  if (!resuming) {
    run_emergencies_under_load(context);
  }
  if (options.provider_port != 0) {
    run_provider_calls(context);
  }
  for (auto& [name, link] : context.links) {
    link->close();
  }
  // The staff steps need the provider calls, so a replay that lost the gateway stops here.
  if (!options.database.empty() && !context.gateway_lost) {
    run_staff_steps(context);
  }
  fetch_admin_figures(context);
  logger("gateway")->info("replay stop calls={} problems={}", summary.calls.size(),
                          summary.problems.size());
  return summary;
}

nlohmann::json summary_json(const ReplaySummary& summary) {
  nlohmann::json calls = nlohmann::json::array();
  for (const CallOutcome& call : summary.calls) {
    calls.push_back({{"id", call.id},
                     {"kind", call.kind},
                     {"service", call.service},
                     {"billing", call.billing},
                     {"expected", call.expected},
                     {"result", call.result},
                     {"reason", call.reason},
                     {"quote_total", call.quote_total}});
  }
  nlohmann::json emergencies = nlohmann::json::array();
  for (const EmergencyOutcome& emergency : summary.emergencies) {
    emergencies.push_back({{"id", emergency.id},
                           {"kind", emergency.kind},
                           {"authorized", emergency.authorized},
                           {"reply_ms", emergency.reply_ms}});
  }
  return {{"calls", calls},
          {"emergencies", emergencies},
          {"load_sessions_opened", summary.load_sessions_opened},
          {"credits_posted", summary.credits_posted},
          {"disputes_resolved", summary.disputes_resolved},
          {"admin_queues", summary.admin_queues},
          {"problems", summary.problems}};
}

void print_summary(const ReplaySummary& summary, std::ostream& out) {
  std::map<std::string, std::pair<int, int>> by_kind;  // accepted, refused
  for (const CallOutcome& call : summary.calls) {
    auto& counts = by_kind[call.kind + " " + call.service];
    (call.result == "accepted" ? counts.first : counts.second)++;
  }
  out << "Replayed calls (authorized / refused) by adapter and relay service:\n";
  for (const auto& [kind, counts] : by_kind) {
    out << fmt::format("  {:<28} {:>3} / {:<3}\n", kind, counts.first, counts.second);
  }
  out << fmt::format("Normal sessions open during the emergency calls: {}\n",
                     summary.load_sessions_opened);
  for (const EmergencyOutcome& emergency : summary.emergencies) {
    // A TTY line's figure spans the whole text exchange at 45.45 bit/s: the greeting, the
    // caller typing 911 and the gateway's reply text. The gateway opens the emergency session
    // as soon as it reads 911, and the PSAP latency line below measures that.
    const std::string measured =
        emergency.kind == "tty"
            ? fmt::format("TTY text exchange {:.1f} s", emergency.reply_ms / 1000.0)
            : fmt::format("gateway reply {:.1f} ms", emergency.reply_ms);
    out << fmt::format("  emergency {:<26} {:<17} {}  {}\n", emergency.id, emergency.kind,
                       emergency.authorized ? "dispatched" : "NOT AUTHORIZED", measured);
  }
  if (const nlohmann::json* latency = find_latency(summary.admin_queues)) {
    const double kMissing = -1.0;
    out << fmt::format(
        "PSAP dispatch latency, received to written to the PSAP (gateway figures, {} "
        "dispatches): p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n",
        latency->value("count", 0), latency->value("p50", kMissing),
        latency->value("p99", kMissing), latency->value("max", kMissing));
  }
  out << fmt::format("Credits applied: {}   disputes resolved: {}\n", summary.credits_posted,
                     summary.disputes_resolved);
  if (summary.problems.empty()) {
    out << "Every call ended as the day expects.\n";
    return;
  }
  out << summary.problems.size() << " problem(s):\n";
  for (const std::string& problem : summary.problems) {
    out << "  " << problem << "\n";
  }
}

}  // namespace relaygw::gateway::replay
