// Server: the running gateway behind `relaygw serve`. It owns one io_context run by
// worker_threads threads for normal sessions, the EmergencyDispatcher (which runs on threads
// of its own), the CallService and the listeners, and starts and stops them in order.
//
// Stopping: the listeners stop accepting and close their connections, handlers that are
// running finish their billing writes, the dispatcher writes what it has queued, and the
// emergency spool is moved into the database when it is available. Every write that was
// committed before the stop is in SQLite, so nothing recorded is lost.
#pragma once

#include <memory>
#include <optional>

#include "common/status.hpp"
#include "gateway/server/config.hpp"

namespace relaygw::gateway::server {

class CallService;
class SessionRegistry;

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts the dispatcher, the call service and the enabled listeners, and logs each bound
  // address. Billing that cannot start leaves the server in emergency-only mode, retried every
  // few seconds; a listener or the dispatcher that cannot start fails the whole start.
  Status start();

  // Stops everything as described above; safe to call twice.
  void stop();

  // Bound endpoints of the running listeners; nullopt for a listener that is off.
  std::optional<Endpoint> provider_link_endpoint() const;
  std::optional<Endpoint> tty_lines_endpoint() const;
  std::optional<Endpoint> admin_endpoint() const;

  // Result of opening billing during start(): ok, or why the server runs in emergency-only
  // mode. Later retries that succeed do not change it.
  Status billing_start_status() const;

  CallService& calls();
  SessionRegistry& sessions();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relaygw::gateway::server
