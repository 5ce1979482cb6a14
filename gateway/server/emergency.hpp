// EmergencyDispatcher: sends emergency sessions to their PSAP ahead of everything else.
//
// It runs on threads of its own (EmergencyConfig::reserved_threads) with its own io_context,
// so no normal session can queue in front of an emergency one. A session to 911, or one a
// provider flags, is dispatched to the PSAP that serves the caller's area code or state, with
// the caller's number and location, the relay provider and the agent id; the caller's text
// follows it. A dropped PSAP leg is redialed every redial_interval, and text typed meanwhile
// is sent once the leg is back. The PSAP text link is defined in docs/protocol.md.
//
// The dispatcher needs no database or rate deck. Each emergency call record is appended to the
// spool file (fsynced) and moved into the store, rated at zero, by flush_spool() once storage
// is available; a record already in the store is not added twice.
//
// Thread rules: every public method is safe from any thread and returns without waiting for
// the network.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "billing/store.hpp"
#include "common/status.hpp"
#include "gateway/server/config.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::billing {
class NumberPlan;
}  // namespace relaygw::billing

namespace relaygw::gateway::server {

struct EmergencySession {
  std::string session_id;
  std::string call_id;  // the emergency call's id in billing
  std::string caller_number;
  std::string caller_location;
  std::string provider_id;  // empty for a TTY line
  std::string agent_id;
  relay::RelayService service = relay::RelayService::Tty;
  relay::Instant received_at{};  // when the gateway received the request, for latency
};

struct DispatchFigures {
  std::uint64_t dispatched = 0;
  std::uint64_t redials = 0;
  std::vector<double> latencies_ms;  // received_at to the dispatch written to the PSAP
};

class EmergencyDispatcher {
 public:
  explicit EmergencyDispatcher(EmergencyConfig config);
  ~EmergencyDispatcher();
  EmergencyDispatcher(const EmergencyDispatcher&) = delete;
  EmergencyDispatcher& operator=(const EmergencyDispatcher&) = delete;

  // Uses `plan` to place a caller's area code in its state for routing. Without it, route_for
  // loads the plan from billing::default_data_dir() on first use, and routes by area code,
  // location and default only if that fails. Requires: called before start().
  void set_number_plan(std::shared_ptr<const billing::NumberPlan> plan);

  // Starts the reserved threads. Fails when no PSAP route is configured, when two routes are
  // the default, or when a route lists an area code that the NANP data does not assign. Logs a
  // warning when no route is the default.
  Status start();
  // Stops the threads after writing what is queued.
  void stop();

  // Queues the dispatch and the spool record; returns at once. A session that no route serves
  // is still kept and spooled with no PSAP route, so that its call is stored as an emergency
  // call with no PSAP; psap_reachable() and psap_routed() return false for it.
  Status dispatch(EmergencySession session);
  // Forwards caller text to the session's PSAP; never stored or logged.
  void forward_text(const std::string& session_id, std::string text);
  // The session ended: the PSAP is told, and the call's disconnect instant is spooled.
  void close(const std::string& session_id, relay::Instant at);

  // Whether the PSAP leg that `session_id` was dispatched on is connected now; false for a
  // session the dispatcher does not have. A dispatch on a leg that is down waits in the spool
  // and goes out when a redial succeeds.
  bool psap_reachable(const std::string& session_id) const;

  // Whether `session_id` is a live session that a PSAP route serves.
  bool psap_routed(const std::string& session_id) const;

  // Moves spooled emergency call records into `store` as zero-rated emergency calls.
  Status flush_spool(billing::Store& store, const billing::WriteContext& context);

  // The PSAP route for a caller, or NotFound when none matches and there is no default.
  Result<PsapRoute> route_for(const std::string& caller_number,
                              const std::string& caller_location) const;

  DispatchFigures figures() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relaygw::gateway::server
