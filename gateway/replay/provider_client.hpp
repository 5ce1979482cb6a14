// ProviderClient: one relay provider's TLS link to the gateway, as the replay drives it.
//
// It presents the provider's client certificate, checks the gateway's certificate against the
// CA, and exchanges newline-delimited JSON messages (docs/protocol.md, relay provider link).
// Every wait has a deadline, so a gateway that stops answering fails the replay instead of
// hanging it.
//
// Thread rules: one instance per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.hpp"

namespace relaygw::gateway::replay {

struct TlsClientFiles {
  std::string ca_file;           // CA that signed the gateway's certificate, PEM
  std::string certificate_file;  // the provider's client certificate, PEM
  std::string private_key_file;  // its key, PEM
};

class ProviderClient {
 public:
  ProviderClient();
  ~ProviderClient();
  ProviderClient(const ProviderClient&) = delete;
  ProviderClient& operator=(const ProviderClient&) = delete;

  // Connects to `address`:`port` (a literal IP) and completes the TLS handshake.
  Status connect(const std::string& address, std::uint16_t port, const TlsClientFiles& files,
                 std::chrono::milliseconds timeout);

  // Writes `message` as one line.
  Status send(const nlohmann::json& message);

  // Reads the next message, or fails with Unavailable after `timeout`.
  Result<nlohmann::json> receive(std::chrono::milliseconds timeout);

  // Sends `message` and reads replies until the one that settles it: for a call.request the
  // authorization of its call (a quote may come first), otherwise the ack or error whose
  // `ref` is the message's `id`. Returns every reply read, the settling one last.
  Result<std::vector<nlohmann::json>> exchange(const nlohmann::json& message,
                                               std::chrono::milliseconds timeout);

  void close();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relaygw::gateway::replay
