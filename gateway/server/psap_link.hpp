// PsapLink: one persistent TCP leg from the gateway to a PSAP's text link (newline-delimited
// JSON, defined in docs/protocol.md).
//
// The leg connects at start() and is redialed every redial_interval after it drops. Messages
// sent while it is down wait in a queue and go out, in order, once it is back. Dispatches go
// ahead of queued text and close messages, and a dispatch the PSAP has not acknowledged is
// sent again on the next connection. After max_redials failed dials in a row the leg stops
// dialing and hands its unacknowledged dispatches to `on_gave_up`; a later send dials again.
//
// Thread rules: every public method is safe from any thread and returns at once. The work runs
// on a strand of the io_context passed in, and the hooks run on that strand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "gateway/server/config.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::gateway::server {

struct EmergencySession;
struct PsapLinkSteps;

// The JSON lines of the PSAP text link, each ending in '\n'.
std::string psap_dispatch_message(const EmergencySession& session);
std::string psap_text_message(const std::string& session_id, const std::string& text);
std::string psap_close_message(const std::string& session_id, relay::Instant at);
std::string psap_ack_message(const std::string& session_id);

struct PsapLinkOptions {
  std::string route_id;
  Endpoint endpoint;
  std::chrono::milliseconds redial_interval{500};
  int max_redials = 20;
  // Bytes of text and close messages kept while the leg is down; text past this is dropped
  // and counted. Dispatches are never dropped.
  std::size_t max_queued_bytes = 1 << 20;
};

struct PsapLinkHooks {
  // A dispatch was written to the PSAP socket for the first time; `latency` is measured from
  // the session's received_at.
  std::function<void(const std::string& session_id, std::chrono::microseconds latency)>
      on_dispatch_written;
  // The PSAP acknowledged the dispatch of `session`.
  std::function<void(const EmergencySession& session)> on_acked;
  std::function<void()> on_redial;
  // The leg gave up after max_redials; these dispatches were never acknowledged.
  std::function<void(std::vector<EmergencySession> waiting)> on_gave_up;
};

class PsapLink : public std::enable_shared_from_this<PsapLink> {
 public:
  // Use create(): the leg's handlers keep it alive through shared_from_this.
  static std::shared_ptr<PsapLink> create(boost::asio::io_context& io, PsapLinkOptions options,
                                          PsapLinkHooks hooks);
  ~PsapLink();
  PsapLink(const PsapLink&) = delete;
  PsapLink& operator=(const PsapLink&) = delete;

  // Dials the PSAP.
  void start();
  // Closes the socket and cancels the redial timer; queued messages are dropped.
  void stop();

  void send_dispatch(const EmergencySession& session);
  void send_text(const std::string& session_id, std::string text);
  void send_close(const std::string& session_id, relay::Instant at);

  bool connected() const;
  // Messages waiting to be written, dispatches included.
  std::size_t queued_messages() const;
  std::uint64_t dropped_text_messages() const;

 private:
  friend struct PsapLinkSteps;
  struct Impl;
  explicit PsapLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relaygw::gateway::server
