// ProviderListener: the relay provider link, a TLS 1.2+ listener with mutual certificate
// authentication. Each connection belongs to one relay provider, whose id is the subject CN of
// its client certificate (signed by client_ca_file). Each line the provider sends is parsed by
// relay::provider_link::LinkReader, handled by CallService, and answered with the serialized
// replies in order.
//
// Ids: a provider chooses its own session ids, call ids and idempotency keys, so two providers
// may use the same ones. The listener prefixes each with "<provider id>/" before it reaches
// CallService ("acme/C-7"), which keeps them unique in the session registry and in billing,
// and strips the prefix again from the ids in replies.
//
// Each connection runs on its own strand with a bounded write queue and an idle timeout, so a
// provider that stalls (half a line sent, or replies never read) holds up no other connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/status.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/config.hpp"

namespace relaygw::gateway::server {

struct ProviderListenerLimits {
  // Replies waiting to be written to one connection. A provider that lets more pile up is not
  // reading, and its connection is closed.
  std::size_t max_queued_replies = 4096;
  // Time a new connection has to finish the TLS handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
};

class ProviderListener {
 public:
  // Keeps the references, which must outlive the listener. Connections run on `io`.
  ProviderListener(boost::asio::io_context& io, const ProviderLinkConfig& config,
                   CallService& calls, ProviderListenerLimits limits = {});
  ~ProviderListener();
  ProviderListener(const ProviderListener&) = delete;
  ProviderListener& operator=(const ProviderListener&) = delete;

  // Loads the certificates, binds and starts accepting. Fails with InvalidArgument naming a
  // certificate or key file that cannot be loaded, or Unavailable when the address cannot be
  // bound.
  Status start();

  // The bound address and port (the real port when the configuration asked for 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  // Stops accepting and closes every connection. Calls that are open stay open in billing, so
  // a provider can disconnect them after a restart; unlike a dropped connection, a shutdown
  // posts nothing on the provider's behalf.
  void stop();

  // Connections that are open now.
  std::size_t connection_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace relaygw::gateway::server
