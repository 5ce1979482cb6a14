// The relay provider part of a replay: one session per provider call, over TLS.
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "gateway/logging.hpp"
#include "gateway/replay/staff_client.hpp"
#include "gateway/replay/steps.hpp"

namespace relaygw::gateway::replay {
namespace {

nlohmann::json session_open(ReplayContext& context, const ProviderCall& call,
                            const std::string& session) {
  return {{"type", "session.open"},  {"id", context.message_id()}, {"session", session},
          {"service", call.service}, {"caller", call.caller},      {"location", call.location},
          {"agent", call.agent}};
}

nlohmann::json call_request(ReplayContext& context, const ProviderCall& call,
                            const std::string& session) {
  nlohmann::json request = {{"type", "call.request"},
                            {"id", context.message_id()},
                            {"session", session},
                            {"call", call.id},
                            {"to", call.to},
                            {"billing", call.billing},
                            {"idempotency_key", session + ":request"}};
  if (!call.caller_name.empty()) {
    request["caller_name"] = call.caller_name;
  }
  if (!call.third_number.empty()) {
    request["third_number"] = call.third_number;
  }
  if (!call.person.empty()) {
    request["person"] = call.person;
  }
  if (!call.card.empty()) {
    request["card"] = call.card;
    request["pin"] = call.pin;
  }
  return request;
}

// Sends one message that must be acked; a refusal or error becomes a problem.
bool expect_ack(ReplayContext& context, ProviderClient& link, nlohmann::json message,
                const std::string& call_id) {
  const std::string type = message["type"];
  auto replies = link.exchange(message, context.options.timeout);
  if (!replies.is_ok()) {
    context.problem("call " + call_id + ": " + type + ": " + replies.status().message());
    return false;
  }
  const nlohmann::json& last = replies->back();
  if (last.value("type", "") != "ack") {
    context.problem("call " + call_id + ": " + type + " was answered " + last.dump());
    return false;
  }
  return true;
}

// Moves the gateway clock forward to the step instant `at` through the admin API, so a step
// that the day stamps hours after the gateway clock started is not ahead of that clock. Without
// the admin API the step goes as it is, and the gateway needs a [billing]
// clock_tolerance_seconds that covers the day.
void advance_gateway_clock(ReplayContext& context, const std::string& at,
                           const std::string& call_id) {
  const ReplayOptions& options = context.options;
  if (options.admin_port == 0) {
    return;
  }
  auto moved = admin_post(options.admin_address, options.admin_port, options.admin_token, "/clock",
                          {{"at", at}}, options.timeout);
  if (!moved) {
    context.problem("call " + call_id + ": moving the gateway clock to " + at +
                    " failed: " + admin_failure(context, moved.status()));
    return;
  }
  context.admin_answered = true;
}

// Runs the call after its authorization: acceptance, connect and disconnect, each after the
// gateway clock has reached its instant.
void finish_call(ReplayContext& context, ProviderClient& link, const ProviderCall& call,
                 const std::string& session) {
  const std::string key = session;
  if (!call.accept_how.empty()) {
    advance_gateway_clock(context, call.accept_at, call.id);
    expect_ack(context, link,
               {{"type", "call.accept"},
                {"id", context.message_id()},
                {"call", call.id},
                {"how", call.accept_how},
                {"by", call.accept_by},
                {"at", call.accept_at},
                {"idempotency_key", key + ":accept"}},
               call.id);
  }
  if (!call.connect.empty()) {
    advance_gateway_clock(context, call.connect, call.id);
    expect_ack(context, link,
               {{"type", "call.connect"},
                {"id", context.message_id()},
                {"call", call.id},
                {"at", call.connect},
                {"idempotency_key", key + ":connect"}},
               call.id);
    advance_gateway_clock(context, call.disconnect, call.id);
    expect_ack(context, link,
               {{"type", "call.disconnect"},
                {"id", context.message_id()},
                {"call", call.id},
                {"at", call.disconnect},
                {"idempotency_key", key + ":disconnect"}},
               call.id);
  }
}

void run_provider_call(ReplayContext& context, const ProviderCall& call) {
  CallOutcome outcome{call.id,     "provider", call.service, call.billing,
                      call.expect, "failed",   "",           ""};
  auto link = context.link(call.provider);
  if (!link.is_ok()) {
    outcome.reason = link.status().message();
    context.problem("call " + call.id + ": " + outcome.reason);
    context.summary.calls.push_back(outcome);
    return;
  }
  ProviderClient& client = *link.value();
  const std::string session = "day-" + call.id;

  if (expect_ack(context, client, session_open(context, call, session), call.id)) {
    auto replies = client.exchange(call_request(context, call, session), context.options.timeout);
    if (!replies.is_ok()) {
      outcome.reason = replies.status().message();
    } else {
      for (const nlohmann::json& reply : *replies) {
        if (reply.value("type", "") == "quote") {
          outcome.quote_total = reply.value("total", "");
        }
      }
      const nlohmann::json& last = replies->back();
      if (last.value("type", "") == "authorization") {
        outcome.result = last.value("result", "") == "accepted" ? "accepted" : "refused";
        outcome.reason = last.value("reason", "");
      } else {
        outcome.reason = last.dump();
      }
    }
  }
  if (outcome.result == "accepted") {
    finish_call(context, client, call, session);
  }
  expect_ack(context, client,
             {{"type", "session.close"}, {"id", context.message_id()}, {"session", session}},
             call.id);

  if (outcome.result != call.expect) {
    context.problem("call " + call.id + ": expected " + call.expect + ", got " + outcome.result +
                    (outcome.reason.empty() ? "" : " (" + outcome.reason + ")"));
  }
  logger("gateway")->info("replay call={} provider={} result={} reason={}", call.id, call.provider,
                          outcome.result, outcome.reason);
  context.summary.calls.push_back(std::move(outcome));
}

}  // namespace

std::string billing_call_id(const std::string& provider, const std::string& call) {
  return provider + "/" + call;
}

Result<std::unique_ptr<ProviderClient>> ReplayContext::open_link(const std::string& provider) {
  const std::filesystem::path dir = options.certs_dir;
  TlsClientFiles files{(dir / "ca.pem").string(), (dir / (provider + ".pem")).string(),
                       (dir / (provider + "-key.pem")).string()};
  auto client = std::make_unique<ProviderClient>();
  Status connected =
      client->connect(options.provider_address, options.provider_port, files, options.timeout);
  if (!connected.is_ok()) {
    return connected;
  }
  return client;
}

Result<ProviderClient*> ReplayContext::link(const std::string& provider) {
  auto found = links.find(provider);
  if (found != links.end()) {
    return found->second.get();
  }
  auto opened = open_link(provider);
  if (!opened.is_ok()) {
    return opened.status();
  }
  ProviderClient* client = opened.value().get();
  links.emplace(provider, std::move(opened.value()));
  return client;
}

std::string ReplayContext::message_id() { return "replay-" + std::to_string(++next_message); }

std::string admin_failure(const ReplayContext& context, const Status& status) {
  if (context.admin_answered) {
    return status.message() +
           "; the admin API responded earlier in this replay, so the gateway stopped. Start "
           "relaygw serve again on the same database";
  }
  return status.message() +
         "; start relaygw serve with [admin] enabled and pass its address with --admin";
}

namespace {

// After a provider call with a problem: whether the gateway still accepts a new provider
// link. Every open link is dropped, because a link that failed cannot be used again. Returns
// the failure when no new link could be made.
std::optional<Status> probe_gateway(ReplayContext& context, const std::string& provider) {
  for (auto& [name, link] : context.links) {
    link->close();
  }
  context.links.clear();
  auto probe = context.link(provider);
  if (probe.is_ok()) {
    return std::nullopt;
  }
  return probe.status();
}

}  // namespace

void run_provider_calls(ReplayContext& context) {
  const std::vector<ProviderCall>& calls = context.day.provider_calls;
  std::size_t first = 0;
  if (!context.options.resume_from.empty()) {
    while (first < calls.size() && calls[first].id != context.options.resume_from) {
      ++first;
    }
  }
  for (std::size_t index = first; index < calls.size(); ++index) {
    const ProviderCall& call = calls[index];
    const std::size_t problems_before = context.summary.problems.size();
    run_provider_call(context, call);
    if (context.summary.problems.size() == problems_before) {
      continue;
    }
    const std::optional<Status> lost = probe_gateway(context, call.provider);
    if (!lost) {
      continue;
    }
    // The call that failed may be half done, so the replay resumes with it. The gateway
    // returns the first reply to each message of it that was already stored.
    context.gateway_lost = true;
    context.problem(fmt::format(
        "the gateway stopped answering during provider call {} ({} of {} provider calls): {}. "
        "Start relaygw serve again on the same database, then run relaygw replay with the same "
        "options and --resume-from {} to send the rest",
        call.id, index + 1, calls.size(), lost->message(), call.id));
    logger("gateway")->error("replay stopped: the gateway stopped answering at provider call={} "
                             "({} of {}): {}",
                             call.id, index + 1, calls.size(), lost->message());
    return;
  }
}

}  // namespace relaygw::gateway::replay
