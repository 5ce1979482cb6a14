#include "gateway/server/emergency.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "billing/numbering.hpp"
#include "gateway/logging.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/emergency_spool.hpp"
#include "gateway/server/psap_link.hpp"

namespace relaygw::gateway::server {

namespace asio = boost::asio;

namespace {

// Latency samples kept for figures(); past this the oldest are overwritten.
constexpr std::size_t kMaxLatencySamples = 200'000;
// stop() waits this long for connected PSAP legs to write what is queued.
constexpr std::chrono::seconds kStopDrainTimeout{2};

// US postal codes of the states, the District of Columbia and the territories.
constexpr std::array<std::string_view, 56> kStateCodes = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL",
    "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE",
    "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
    "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI"};

// The area code of a NANP number in E.164 or ten-digit form, or "" for anything else.
std::string area_code_of(const std::string& number) {
  std::string digits;
  for (char c : number) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    }
  }
  if (digits.size() == 11 && digits[0] == '1') {
    return digits.substr(1, 3);
  }
  if (digits.size() == 10) {
    return digits.substr(0, 3);
  }
  return "";
}

// The last two-letter upper-case US state code in a civic address, or "". Addresses put the
// state after the street, so "100 Main St NE, Washington, DC 20002" gives "DC", not "NE".
// NOTE: a state written out in full ("New York") is not recognized.
std::string state_in_location(const std::string& location) {
  std::string found;
  std::string word;
  auto finish_word = [&] {
    if (word.size() == 2 &&
        std::find(kStateCodes.begin(), kStateCodes.end(), word) != kStateCodes.end()) {
      found = word;
    }
    word.clear();
  };
  for (char c : location) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word.push_back(c);
    } else {
      finish_word();
    }
  }
  finish_word();
  return found;
}

bool contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

struct EmergencyDispatcher::State {
  explicit State(EmergencyConfig config_in) : config(std::move(config_in)) {}

  struct LiveSession {
    EmergencySession session;
    std::string route_id;
  };

  EmergencyConfig config;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::map<std::string, std::shared_ptr<PsapLink>> links;  // by route id; fixed after start()
  std::unique_ptr<EmergencySpool> spool;
  bool started = false;

  mutable std::once_flag plan_loaded;
  mutable std::shared_ptr<const billing::NumberPlan> plan;

  mutable std::mutex mutex;  // guards everything below
  std::map<std::string, LiveSession> sessions;
  DispatchFigures figures;
  std::size_t next_sample = 0;

  const billing::NumberPlan* number_plan() const;
  Status check_config() const;
  Status check_area_codes() const;
  void warn_without_default() const;
  std::shared_ptr<PsapLink> link_of(const std::string& route_id) const;
  void record_latency(std::chrono::microseconds latency);
  void on_acked(const EmergencySession& session, const std::string& route_id);
  void fail_over(const std::string& from_route, std::vector<EmergencySession> waiting);
};

const billing::NumberPlan* EmergencyDispatcher::State::number_plan() const {
  std::call_once(plan_loaded, [this] {
    if (plan) {
      return;
    }
    Result<billing::NumberPlan> loaded = billing::NumberPlan::load(billing::default_data_dir());
    if (!loaded) {
      logger("gateway")->warn(
          "emergency routing runs without NANP data, so an area code no route lists goes to the "
          "default route: {}",
          loaded.status().message());
      return;
    }
    plan = std::make_shared<const billing::NumberPlan>(std::move(loaded).value());
  });
  return plan.get();
}

Status EmergencyDispatcher::State::check_config() const {
  if (config.routes.empty()) {
    return Status(StatusCode::FailedPrecondition,
                  "no PSAP route is configured, so emergency calls cannot be dispatched; add a "
                  "[[psap]] entry with an id, an endpoint and the states or area codes it serves "
                  "(or default = true)");
  }
  if (config.reserved_threads < 1) {
    return Status(StatusCode::InvalidArgument,
                  "[emergency] reserved_threads = " + std::to_string(config.reserved_threads) +
                      " leaves no thread for emergency work; use 1 or more");
  }
  std::set<std::string> ids;
  std::string default_route_id;
  for (const PsapRoute& route : config.routes) {
    if (route.default_route) {
      if (!default_route_id.empty()) {
        return Status(StatusCode::InvalidArgument,
                      "PSAP routes '" + default_route_id + "' and '" + route.id +
                          "' both have default = true; set it on one route only");
      }
      default_route_id = route.id;
    }
    if (route.id.empty() || !ids.insert(route.id).second) {
      return Status(StatusCode::InvalidArgument, "PSAP route id '" + route.id +
                                                     "' is empty or used twice; give each "
                                                     "[[psap]] entry its own id");
    }
    if (route.endpoint.port == 0) {
      return Status(StatusCode::InvalidArgument,
                    "PSAP route '" + route.id + "' has no endpoint port; set endpoint.port");
    }
  }
  return Status::ok();
}

// Checks each route's area codes against the NANP data, which config.cpp does not load.
Status EmergencyDispatcher::State::check_area_codes() const {
  const billing::NumberPlan* plan = number_plan();
  if (plan == nullptr) {
    return Status::ok();  // number_plan() has warned that routing runs without the data
  }
  for (const PsapRoute& route : config.routes) {
    for (const std::string& npa : route.area_codes) {
      // Exchange 200 and line 0100 are valid in every area code, so only the area code can fail.
      Result<billing::NumberInfo> info = plan->classify(npa + "2000100");
      if (!info) {
        return Status(StatusCode::InvalidArgument,
                      "[[psap]] route '" + route.id + "' has area_codes entry \"" + npa +
                          "\", which is not an assigned area code (" + info.status().message() +
                          "); list the area codes the PSAP serves, such as \"212\"");
      }
    }
  }
  return Status::ok();
}

// Logs a warning naming what the routes cover when none is the default, because an emergency
// call from anywhere else then reaches no PSAP.
void EmergencyDispatcher::State::warn_without_default() const {
  std::vector<std::string> covered;
  for (const PsapRoute& route : config.routes) {
    if (route.default_route) {
      return;
    }
    for (const std::string& state_code : route.states) {
      covered.push_back(state_code);
    }
    for (const std::string& npa : route.area_codes) {
      covered.push_back("area code " + npa);
    }
  }
  std::string list;
  for (const std::string& item : covered) {
    list += (list.empty() ? "" : ", ") + item;
  }
  logger("gateway")->warn(
      "no default [[psap]] route: emergency calls from outside {} reach no PSAP; add a route "
      "with default = true",
      list.empty() ? "(no state or area code)" : list);
}

std::shared_ptr<PsapLink> EmergencyDispatcher::State::link_of(const std::string& route_id) const {
  const auto found = links.find(route_id);
  return found == links.end() ? nullptr : found->second;
}

void EmergencyDispatcher::State::record_latency(std::chrono::microseconds latency) {
  const double latency_ms = static_cast<double>(latency.count()) / 1000.0;
  std::lock_guard lock(mutex);
  if (figures.latencies_ms.size() < kMaxLatencySamples) {
    figures.latencies_ms.push_back(latency_ms);
  } else {
    figures.latencies_ms[next_sample] = latency_ms;
    next_sample = (next_sample + 1) % kMaxLatencySamples;
  }
}

// The ack may come after the session closed, so the call id comes from the link.
void EmergencyDispatcher::State::on_acked(const EmergencySession& session,
                                          const std::string& route_id) {
  spool->append_acked(session.session_id, session.call_id, clock_now(), route_id);
}

// A leg gave up: its waiting dispatches go to the default route, or, when the failed leg is
// the default route or there is none, to the same leg again, which dials anew.
void EmergencyDispatcher::State::fail_over(const std::string& from_route,
                                           std::vector<EmergencySession> waiting) {
  std::string target = from_route;
  for (const PsapRoute& route : config.routes) {
    if (route.default_route) {
      target = route.id;
    }
  }
  for (EmergencySession& session : waiting) {
    {
      std::lock_guard lock(mutex);
      const auto found = sessions.find(session.session_id);
      if (found != sessions.end()) {
        found->second.route_id = target;
      }
    }
    logger("gateway")->error(
        "emergency dispatch session={} call={} never reached psap route={}; retrying on route={}",
        session.session_id, session.call_id, from_route, target);
    link_of(target)->send_dispatch(session);
  }
}

EmergencyDispatcher::EmergencyDispatcher(EmergencyConfig config)
    : state_(std::make_unique<State>(std::move(config))) {}

EmergencyDispatcher::~EmergencyDispatcher() { stop(); }

void EmergencyDispatcher::set_number_plan(std::shared_ptr<const billing::NumberPlan> plan) {
  state_->plan = std::move(plan);
}

Status EmergencyDispatcher::start() {
  State& state = *state_;
  if (state.started) {
    return Status(StatusCode::FailedPrecondition, "the emergency dispatcher is already started");
  }
  Status status = state.check_config();
  if (!status) {
    logger("gateway")->error("emergency dispatcher not started: {}", status.message());
    return status;
  }
  status = state.check_area_codes();  // also loads the plan now, not on the first call
  if (!status) {
    logger("gateway")->error("emergency dispatcher not started: {}", status.message());
    return status;
  }
  state.warn_without_default();
  // Emergency records that cannot be spooled would be lost while the database is down, so an
  // unwritable spool stops the start instead of failing on the first emergency call.
  if (std::FILE* probe = std::fopen(state.config.spool_file.c_str(), "a")) {
    std::fclose(probe);
  } else {
    status = Status(StatusCode::Unavailable,
                    "emergency spool file '" + state.config.spool_file +
                        "' cannot be opened for appending: " + std::strerror(errno) +
                        "; set [emergency] spool_file to a writable path");
    logger("gateway")->error("emergency dispatcher not started: {}", status.message());
    return status;
  }
  state.spool = std::make_unique<EmergencySpool>(state.config.spool_file);

  for (const PsapRoute& route : state.config.routes) {
    PsapLinkOptions options{route.id, route.endpoint, state.config.redial_interval,
                            state.config.max_redials};
    PsapLinkHooks hooks;
    hooks.on_dispatch_written = [&state](const std::string&, std::chrono::microseconds latency) {
      state.record_latency(latency);
    };
    hooks.on_acked = [&state, id = route.id](const EmergencySession& session) {
      state.on_acked(session, id);
    };
    hooks.on_redial = [&state] {
      std::lock_guard lock(state.mutex);
      ++state.figures.redials;
    };
    hooks.on_gave_up = [&state, id = route.id](std::vector<EmergencySession> waiting) {
      state.fail_over(id, std::move(waiting));
    };
    state.links[route.id] = PsapLink::create(state.io, std::move(options), std::move(hooks));
  }

  state.io.restart();
  state.work.emplace(state.io.get_executor());
  for (int i = 0; i < state.config.reserved_threads; ++i) {
    state.threads.emplace_back([&state] { state.io.run(); });
  }
  for (auto& [id, link] : state.links) {
    link->start();
  }
  state.started = true;
  logger("gateway")->info("emergency dispatcher started: routes={} reserved_threads={} spool={}",
                          state.links.size(), state.config.reserved_threads,
                          state.config.spool_file);
  return Status::ok();
}

void EmergencyDispatcher::stop() {
  State& state = *state_;
  if (!state.started) {
    return;
  }
  state.started = false;

  // Let connected legs write what is queued; a leg that is down would only wait for a redial.
  const auto deadline = std::chrono::steady_clock::now() + kStopDrainTimeout;
  auto busy = [&state] {
    return std::any_of(state.links.begin(), state.links.end(), [](const auto& entry) {
      return entry.second->connected() && entry.second->queued_messages() > 0;
    });
  };
  while (busy() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  for (auto& [id, link] : state.links) {
    link->stop();
  }
  state.work.reset();
  for (std::thread& thread : state.threads) {
    thread.join();
  }
  state.threads.clear();
  state.links.clear();
  state.spool.reset();  // writes the records still queued
  logger("gateway")->info("emergency dispatcher stopped");
}

Status EmergencyDispatcher::dispatch(EmergencySession session) {
  State& state = *state_;
  if (!state.started) {
    return Status(StatusCode::FailedPrecondition,
                  "the emergency dispatcher is not started; call start() first");
  }
  if (session.session_id.empty() || session.call_id.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "an emergency session needs a session id and a call id; session='" +
                      session.session_id + "' call='" + session.call_id + "'");
  }
  Result<PsapRoute> route = route_for(session.caller_number, session.caller_location);
  if (!route) {
    // The session is still kept and spooled, with no route, so that the call is stored as an
    // emergency call with no PSAP and psap_reachable() returns false for it.
    logger("gateway")->error(
        "emergency dispatch session={} call={} reaches no PSAP, and is stored with no PSAP "
        "route: {}",
        session.session_id, session.call_id, route.status().message());
    {
      std::lock_guard lock(state.mutex);
      if (!state.sessions.emplace(session.session_id, State::LiveSession{session, ""}).second) {
        return Status::ok();
      }
    }
    state.spool->append_dispatch(session, "");
    return Status::ok();
  }
  {
    std::lock_guard lock(state.mutex);
    if (!state.sessions.emplace(session.session_id, State::LiveSession{session, route->id})
             .second) {
      return Status::ok();  // a repeated dispatch of a live session is sent once
    }
    ++state.figures.dispatched;
  }
  state.link_of(route->id)->send_dispatch(session);
  state.spool->append_dispatch(session, route->id);
  logger("gateway")->info("emergency dispatch session={} call={} route={} service={}",
                          session.session_id, session.call_id, route->id,
                          relay::to_string(session.service));
  return Status::ok();
}

void EmergencyDispatcher::forward_text(const std::string& session_id, std::string text) {
  State& state = *state_;
  std::string route_id;
  bool live = false;
  {
    std::lock_guard lock(state.mutex);
    const auto found = state.sessions.find(session_id);
    if (found != state.sessions.end()) {
      route_id = found->second.route_id;
      live = true;
    }
  }
  if (live && route_id.empty()) {
    logger("gateway")->warn(
        "caller text for session={} dropped: no PSAP route serves the session ({} bytes)",
        session_id, text.size());
    return;
  }
  if (!live || !state.started) {
    logger("gateway")->warn(
        "caller text for session={} dropped: no live emergency session "
        "({} bytes)",
        session_id, text.size());
    return;
  }
  state.link_of(route_id)->send_text(session_id, std::move(text));
}

void EmergencyDispatcher::close(const std::string& session_id, relay::Instant at) {
  State& state = *state_;
  std::optional<State::LiveSession> closed;
  {
    std::lock_guard lock(state.mutex);
    const auto found = state.sessions.find(session_id);
    if (found != state.sessions.end()) {
      closed = std::move(found->second);
      state.sessions.erase(found);
    }
  }
  if (!closed || !state.started) {
    logger("gateway")->warn("close for session={} ignored: no live emergency session", session_id);
    return;
  }
  // A provider clock that runs behind the gateway's stamps the close before the dispatch. The
  // PSAP and the spool get the dispatch instant then, so no call ends before it began.
  const relay::Instant close_at = std::max(at, closed->session.received_at);
  if (close_at != at) {
    logger("gateway")->warn(
        "emergency session={} call={} close at={} is before its dispatch at {}; the close is "
        "sent and recorded at the dispatch instant",
        session_id, closed->session.call_id, relay::format_instant(at),
        relay::format_instant(closed->session.received_at));
  }
  if (!closed->route_id.empty()) {
    state.link_of(closed->route_id)->send_close(session_id, close_at);
  }
  state.spool->append_close(session_id, closed->session.call_id, close_at);
  logger("gateway")->info("emergency session closed session={} call={} route={}", session_id,
                          closed->session.call_id, closed->route_id);
}

bool EmergencyDispatcher::psap_reachable(const std::string& session_id) const {
  const State& state = *state_;
  std::string route_id;
  {
    std::lock_guard lock(state.mutex);
    const auto found = state.sessions.find(session_id);
    if (found == state.sessions.end()) {
      return false;
    }
    route_id = found->second.route_id;
  }
  const std::shared_ptr<PsapLink> link = state.link_of(route_id);
  return link != nullptr && link->connected();
}

bool EmergencyDispatcher::psap_routed(const std::string& session_id) const {
  std::lock_guard lock(state_->mutex);
  const auto found = state_->sessions.find(session_id);
  return found != state_->sessions.end() && !found->second.route_id.empty();
}

Status EmergencyDispatcher::flush_spool(billing::Store& store,
                                        const billing::WriteContext& context) {
  State& state = *state_;
  std::optional<EmergencySpool> standalone;
  EmergencySpool* spool = state.spool.get();
  if (spool == nullptr) {
    // Not started: flush what an earlier run left behind.
    standalone.emplace(state.config.spool_file);
    spool = &*standalone;
  }
  std::set<std::string> live;
  {
    std::lock_guard lock(state.mutex);
    for (const auto& [id, session] : state.sessions) {
      live.insert(id);
    }
  }
  Result<SpoolFlushCounts> counts = spool->flush(store, context, live);
  if (!counts) {
    logger("gateway")->error("emergency spool {} not flushed: {}", spool->path(),
                             counts.status().message());
    return counts.status();
  }
  // Storage retries flush every few seconds, so a flush that moved nothing logs at debug.
  const bool moved_something =
      counts->stored + counts->already_stored + counts->rejected_lines + counts->late_acks > 0;
  logger("gateway")->log(
      moved_something ? spdlog::level::info : spdlog::level::debug,
      "emergency spool {} flushed: stored={} already_stored={} kept_open={} rejected_lines={} "
      "late_acks={}",
      spool->path(), counts->stored, counts->already_stored, counts->kept_open,
      counts->rejected_lines, counts->late_acks);
  return Status::ok();
}

Result<PsapRoute> EmergencyDispatcher::route_for(const std::string& caller_number,
                                                 const std::string& caller_location) const {
  const State& state = *state_;
  const std::string npa = area_code_of(caller_number);
  if (!npa.empty()) {
    for (const PsapRoute& route : state.config.routes) {
      if (contains(route.area_codes, npa)) {
        return route;
      }
    }
  }

  std::string state_code = state_in_location(caller_location);
  std::string nanp_state;
  if (const billing::NumberPlan* plan = state.number_plan(); plan && !npa.empty()) {
    Result<billing::NumberInfo> info = plan->classify(caller_number);
    if (info) {
      nanp_state = info->state;
    }
  }
  for (const std::string& candidate : {state_code, nanp_state}) {
    if (candidate.empty()) {
      continue;
    }
    for (const PsapRoute& route : state.config.routes) {
      if (contains(route.states, candidate)) {
        return route;
      }
    }
  }

  for (const PsapRoute& route : state.config.routes) {
    if (route.default_route) {
      return route;
    }
  }
  return Status(StatusCode::NotFound,
                "no PSAP route serves area code '" + npa + "' or state '" +
                    (state_code.empty() ? nanp_state : state_code) +
                    "', and no route is the default; add the area code or state to a [[psap]] "
                    "entry, or set default = true on one");
}

DispatchFigures EmergencyDispatcher::figures() const {
  std::lock_guard lock(state_->mutex);
  return state_->figures;
}

}  // namespace relaygw::gateway::server
