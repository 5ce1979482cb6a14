// The emergency part of a replay: many normal provider sessions are opened and held while the
// day's emergency calls arrive from providers and from a TTY line, then all are closed.
#include <array>
#include <chrono>
#include <thread>

#include "gateway/logging.hpp"
#include "gateway/replay/steps.hpp"
#include "tty/audio_file.hpp"

namespace relaygw::gateway::replay {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct LoadCaller {
  const char* number;
  const char* location;
};

// Callers from the bundled directory, with locations in their states.
constexpr std::array<LoadCaller, 5> kLoadCallers = {{
    {"+13125550104", "1060 W Addison St, Chicago, IL 60613"},
    {"+14155550109", "1 Market St, San Francisco, CA 94105"},
    {"+12125550102", "350 5th Ave, New York, NY 10118"},
    {"+18085550112", "500 Ala Moana Blvd, Honolulu, HI 96813"},
    {"+13035550110", "1375 Sherman St, Denver, CO 80203"},
}};
constexpr std::array<const char*, 6> kServices = {"tty",       "relay-tty", "relay-ip",
                                                  "captioned", "video",     "speech"};

double elapsed_ms(SteadyClock::time_point since) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - since).count();
}

// Sends every message on `link`, then reads until each has its ack or error. Returns how
// many were acked.
int send_pipelined(ReplayContext& context, ProviderClient& link,
                   const std::vector<nlohmann::json>& messages) {
  for (const nlohmann::json& message : messages) {
    Status sent = link.send(message);
    if (!sent.is_ok()) {
      context.problem("load: " + sent.message());
      return 0;
    }
  }
  int acked = 0;
  std::size_t answered = 0;
  while (answered < messages.size()) {
    auto reply = link.receive(context.options.timeout);
    if (!reply.is_ok()) {
      context.problem("load: " + reply.status().message());
      break;
    }
    const std::string type = reply->value("type", "");
    if (type == "ack") {
      ++acked;
      ++answered;
    } else if (type == "error") {
      context.problem("load: " + reply->dump());
      ++answered;
    }
  }
  return acked;
}

struct LoadLinks {
  std::vector<std::unique_ptr<ProviderClient>> links;
  std::vector<std::vector<std::string>> sessions;  // per link
};

LoadLinks open_load(ReplayContext& context) {
  LoadLinks load;
  const LoadSetup& setup = context.day.load;
  for (int index = 0; index < setup.connections; ++index) {
    auto link = context.open_link(setup.provider);
    if (!link.is_ok()) {
      context.problem("load: " + link.status().message());
      return load;
    }
    load.links.push_back(std::move(link.value()));
    load.sessions.emplace_back();
  }
  std::vector<std::vector<nlohmann::json>> messages(load.links.size());
  for (int index = 0; index < setup.open_sessions; ++index) {
    const LoadCaller& caller = kLoadCallers[index % kLoadCallers.size()];
    const std::string session = "load-" + std::to_string(index + 1);
    const std::size_t link = index % load.links.size();
    load.sessions[link].push_back(session);
    messages[link].push_back({{"type", "session.open"},
                              {"id", context.message_id()},
                              {"session", session},
                              {"service", kServices[index % kServices.size()]},
                              {"caller", caller.number},
                              {"location", caller.location},
                              {"agent", "CA-" + std::to_string(5000 + index)}});
  }
  for (std::size_t link = 0; link < load.links.size(); ++link) {
    context.summary.load_sessions_opened +=
        send_pipelined(context, *load.links[link], messages[link]);
  }
  return load;
}

void close_load(ReplayContext& context, LoadLinks& load) {
  for (std::size_t link = 0; link < load.links.size(); ++link) {
    std::vector<nlohmann::json> messages;
    for (const std::string& session : load.sessions[link]) {
      messages.push_back(
          {{"type", "session.close"}, {"id", context.message_id()}, {"session", session}});
    }
    send_pipelined(context, *load.links[link], messages);
    load.links[link]->close();
  }
}

void run_provider_emergency(ReplayContext& context, const EmergencyCall& call) {
  EmergencyOutcome outcome{call.id, call.kind, false, 0.0};
  CallOutcome record{call.id, "emergency", call.service, "emergency", "accepted", "failed", "", ""};
  auto opened = context.open_link(call.provider);
  if (!opened.is_ok()) {
    context.problem("emergency " + call.id + ": " + opened.status().message());
    context.summary.emergencies.push_back(outcome);
    context.summary.calls.push_back(record);
    return;
  }
  ProviderClient& link = *opened.value();
  const std::string session = "day-" + call.id;
  const std::string key = session;
  const auto timeout = context.options.timeout;

  nlohmann::json open = {{"type", "session.open"}, {"id", context.message_id()},
                         {"session", session},     {"service", call.service},
                         {"caller", call.caller},  {"location", call.location},
                         {"agent", call.agent}};
  if (call.kind == "provider-flagged") {
    open["emergency"] = true;
  }
  auto open_replies = link.exchange(open, timeout);
  const auto requested_at = SteadyClock::now();
  auto replies = link.exchange({{"type", "call.request"},
                                {"id", context.message_id()},
                                {"session", session},
                                {"call", call.id},
                                {"to", call.to},
                                {"billing", "sent-paid"},
                                {"idempotency_key", key + ":request"}},
                               timeout);
  outcome.reply_ms = elapsed_ms(requested_at);
  if (open_replies.is_ok() && replies.is_ok() &&
      replies->back().value("type", "") == "authorization") {
    outcome.authorized = replies->back().value("result", "") == "accepted";
    record.reason = replies->back().value("reason", "");
  } else {
    record.reason = replies.is_ok() ? replies->back().dump() : replies.status().message();
  }
  record.result = outcome.authorized ? "accepted" : "refused";

  if (outcome.authorized) {
    if (!call.text.empty()) {
      // session.text is forwarded to the PSAP; its ack is not awaited for long.
      auto sent = link.exchange({{"type", "session.text"},
                                 {"id", context.message_id()},
                                 {"session", session},
                                 {"text", call.text}},
                                std::chrono::seconds(5));
      (void)sent;
    }
    for (const auto& [type, at] :
         {std::pair{"call.connect", call.connect}, std::pair{"call.disconnect", call.disconnect}}) {
      const std::string suffix = std::string(type).substr(5);
      auto acked = link.exchange({{"type", type},
                                  {"id", context.message_id()},
                                  {"call", call.id},
                                  {"at", at},
                                  {"idempotency_key", key + ":" + suffix}},
                                 timeout);
      if (!acked.is_ok() || acked->back().value("type", "") != "ack") {
        context.problem("emergency " + call.id + ": " + type + " was not acked: " +
                        (acked.is_ok() ? acked->back().dump() : acked.status().message()));
      }
    }
  } else {
    context.problem("emergency " + call.id + " was not authorized: " + record.reason);
  }
  auto closed = link.exchange(
      {{"type", "session.close"}, {"id", context.message_id()}, {"session", session}}, timeout);
  (void)closed;
  link.close();
  logger("gateway")->info("replay emergency={} kind={} authorized={} reply_ms={:.1f}", call.id,
                          call.kind, outcome.authorized, outcome.reply_ms);
  context.summary.emergencies.push_back(outcome);
  context.summary.calls.push_back(record);
}

void run_tty_emergency(ReplayContext& context, const EmergencyCall& call) {
  EmergencyOutcome outcome{call.id, call.kind, false, 0.0};
  CallOutcome record{call.id, "emergency", "tty", "emergency", "accepted", "failed", "", ""};
  TtyLineClient line;
  std::vector<std::string> prompts;
  Status status = line.connect(context.options.tty_address, context.options.tty_port, call.line,
                               context.options.timeout);
  const auto started = SteadyClock::now();
  if (status.is_ok()) {
    status =
        answer_prompts(line, call.answers, context.day.audio_dir, context.options.timeout, prompts);
  }
  if (status.is_ok()) {
    outcome.authorized = true;
    outcome.reply_ms = elapsed_ms(started);
    record.result = "accepted";
    std::this_thread::sleep_for(std::chrono::seconds(context.day.tty_talk_seconds));
    auto hang_up = tty::read_audio_file(context.day.audio_dir + "/tty-hangup.wav");
    if (hang_up.is_ok()) {
      (void)line.send_audio(*hang_up);
      auto closing = line.wait_prompt(std::chrono::seconds(10));
      (void)closing;
    }
  } else {
    record.reason = status.message();
    context.problem("emergency " + call.id + ": " + status.message());
  }
  line.close();
  logger("gateway")->info("replay emergency={} kind=tty authorized={}", call.id,
                          outcome.authorized);
  context.summary.emergencies.push_back(outcome);
  context.summary.calls.push_back(record);
}

}  // namespace

void run_emergencies_under_load(ReplayContext& context) {
  LoadLinks load;
  if (context.options.provider_port != 0 && context.day.load.open_sessions > 0) {
    load = open_load(context);
    logger("gateway")->info("replay load sessions_open={}", context.summary.load_sessions_opened);
  }
  for (const EmergencyCall& call : context.day.emergencies) {
    if (call.kind == "tty") {
      if (context.options.tty_port != 0) {
        run_tty_emergency(context, call);
      }
    } else if (context.options.provider_port != 0) {
      run_provider_emergency(context, call);
    }
  }
  close_load(context, load);
}

}  // namespace relaygw::gateway::replay
