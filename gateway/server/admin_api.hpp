// AdminApi: the staff HTTP/1.1 JSON API (Boost.Beast) on a loopback address.
//
// Every request needs "Authorization: Bearer TOKEN", where TOKEN is the first line of
// AdminConfig::token_file; the token is compared in constant time and never logged. The
// endpoints, their fields and their errors are listed in docs/admin-api.md. Errors are
// {"error":{"code":...,"message":...}} with 400, 401, 404, 405, 409, 413, 503 or 500.
//
// Sockets run on the caller's io_context, one strand per connection, and every read and write
// has a deadline, so a stalled client holds only its own connection. Request handlers that
// touch SQLite or load rate data run on a small thread pool of their own, so a long report
// does not hold up the io_context's other connections.
//
// Thread rules: call start() and stop() from one thread. The handlers use the references below
// from the pool threads, so each must be safe from any thread, as SessionRegistry, CallService
// and EmergencyDispatcher are.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "common/status.hpp"
#include "gateway/server/config.hpp"

namespace relaygw::gateway::server {

class CallService;
class EmergencyDispatcher;
class SessionRegistry;

struct AdminApiLimits {
  std::size_t max_body_bytes = 64 * 1024;  // a larger body gets 413
  // Deadline for reading one request, and again for writing its response; a client that is
  // slower than this is disconnected.
  std::chrono::milliseconds io_timeout{10'000};
  int handler_threads = 2;
};

// What the API reads and writes. The referenced objects must outlive the AdminApi.
struct AdminApiParts {
  SessionRegistry& sessions;
  // Records staff acceptances; null makes POST /collect/{call}/accept return 503.
  CallService* calls = nullptr;
  // Supplies the emergency figures in GET /queues; null leaves them out.
  EmergencyDispatcher* emergency = nullptr;
  // Database path, NANP data folder and credit policy file for quotes, credits and reports.
  BillingConfig billing;
};

class AdminApi {
 public:
  // Requires: `io` outlives the AdminApi. Nothing is read or bound before start().
  AdminApi(boost::asio::io_context& io, AdminConfig config, AdminApiParts parts,
           AdminApiLimits limits = {});
  // Stops the API if it is running.
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // Reads the token file, checks that the listen address is loopback, binds and starts
  // accepting. Fails with InvalidArgument for a non-loopback or malformed address, NotFound or
  // InvalidArgument for a missing or empty token file, and Unavailable when the bind fails.
  Status start();

  // Stops accepting, closes open connections and waits for running handlers; safe to call
  // twice. It waits for `io` to run the closes, up to 5 seconds for each step.
  // NOTE: called on the only thread running `io`, it waits out both 5-second limits.
  void stop();

  // The bound endpoint after start(), with the port the system chose when the config had 0.
  Endpoint endpoint() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relaygw::gateway::server
