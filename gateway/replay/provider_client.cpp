#include "gateway/replay/provider_client.hpp"

#include <istream>
#include <optional>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "gateway/server/host_port.hpp"

namespace relaygw::gateway::replay {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

struct ProviderClient::State {
  asio::io_context io;
  ssl::context tls{ssl::context::tls_client};
  std::optional<ssl::stream<tcp::socket>> stream;
  asio::streambuf input;

  // Runs the queued operation until `done` or the deadline; on timeout the socket is closed so
  // the operation ends, and the link is unusable after that.
  bool run_until(const bool& done, std::chrono::milliseconds timeout) {
    io.restart();
    io.run_for(timeout);
    if (!done) {
      boost::system::error_code ignored;
      stream->lowest_layer().close(ignored);
      io.restart();
      io.run();
      return false;
    }
    return true;
  }
};

ProviderClient::ProviderClient() : state_(std::make_unique<State>()) {}
ProviderClient::~ProviderClient() { close(); }

Status ProviderClient::connect(const std::string& address, std::uint16_t port,
                               const TlsClientFiles& files, std::chrono::milliseconds timeout) {
  boost::system::error_code error;
  State& state = *state_;
  state.tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                        ssl::context::no_tlsv1_1);
  state.tls.load_verify_file(files.ca_file, error);
  if (!error) {
    state.tls.use_certificate_chain_file(files.certificate_file, error);
  }
  if (!error) {
    state.tls.use_private_key_file(files.private_key_file, ssl::context::pem, error);
  }
  if (error) {
    return Status(StatusCode::InvalidArgument,
                  "cannot load the provider certificate files (" + files.certificate_file + ", " +
                      files.private_key_file + ", CA " + files.ca_file + "): " + error.message() +
                      "; run relaygw certs generate for this provider");
  }
  state.tls.set_verify_mode(ssl::verify_peer);

  const asio::ip::address ip = asio::ip::make_address(address, error);
  if (error) {
    return Status(StatusCode::InvalidArgument, "invalid gateway address \"" + address +
                                                   "\"; use a literal IP such as 127.0.0.1");
  }
  state.stream.emplace(state.io, state.tls);
  bool done = false;
  state.stream->lowest_layer().async_connect(tcp::endpoint(ip, port),
                                             [&](const boost::system::error_code& result) {
                                               error = result;
                                               done = true;
                                             });
  if (!state.run_until(done, timeout) || error) {
    return Status(StatusCode::Unavailable,
                  "cannot connect to the provider link at " +
                      server::format_host_port(address, port) + ": " +
                      (error ? error.message() : "timed out") +
                      "; start relaygw serve and check [provider_link] listen");
  }

  done = false;
  state.stream->async_handshake(ssl::stream_base::client,
                                [&](const boost::system::error_code& result) {
                                  error = result;
                                  done = true;
                                });
  if (!state.run_until(done, timeout) || error) {
    return Status(StatusCode::Unavailable,
                  "TLS handshake with " + server::format_host_port(address, port) +
                      " failed: " + (error ? error.message() : "timed out") +
                      "; check that the gateway and this client use certificates from one CA");
  }
  return Status::ok();
}

Status ProviderClient::send(const nlohmann::json& message) {
  if (!state_->stream) {
    return Status(StatusCode::FailedPrecondition, "the provider link is not connected");
  }
  const std::string line = message.dump() + "\n";
  boost::system::error_code error;
  asio::write(*state_->stream, asio::buffer(line), error);
  if (error) {
    return Status(StatusCode::Unavailable,
                  "writing to the provider link failed: " + error.message());
  }
  return Status::ok();
}

Result<nlohmann::json> ProviderClient::receive(std::chrono::milliseconds timeout) {
  State& state = *state_;
  if (!state.stream) {
    return Status(StatusCode::FailedPrecondition, "the provider link is not connected");
  }
  boost::system::error_code error;
  bool done = false;
  asio::async_read_until(*state.stream, state.input, '\n',
                         [&](const boost::system::error_code& result, std::size_t) {
                           error = result;
                           done = true;
                         });
  if (!state.run_until(done, timeout)) {
    return Status(StatusCode::Unavailable,
                  "no reply from the gateway within " + std::to_string(timeout.count()) + " ms");
  }
  if (error) {
    return Status(StatusCode::Unavailable, "reading the provider link failed: " + error.message());
  }
  std::istream input(&state.input);
  std::string line;
  std::getline(input, line);
  nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
  if (message.is_discarded() || !message.is_object()) {
    return Status(StatusCode::Corrupt,
                  "the gateway sent a line that is not a JSON object: " + line.substr(0, 80));
  }
  return message;
}

Result<std::vector<nlohmann::json>> ProviderClient::exchange(const nlohmann::json& message,
                                                             std::chrono::milliseconds timeout) {
  Status sent = send(message);
  if (!sent.is_ok()) {
    return sent;
  }
  const bool call_request = message.value("type", "") == "call.request";
  const std::string call = message.value("call", "");
  const std::string id = message.value("id", "");
  std::vector<nlohmann::json> replies;
  for (;;) {
    Result<nlohmann::json> reply = receive(timeout);
    if (!reply.is_ok()) {
      return reply.status();
    }
    const std::string type = reply->value("type", "");
    const std::string ref = reply->value("ref", "");
    replies.push_back(std::move(reply.value()));
    const nlohmann::json& last = replies.back();
    if (call_request && type == "authorization" && last.value("call", "") == call) {
      return replies;
    }
    // A call.request that the link rejects gets an error instead of an authorization.
    if ((type == "ack" || type == "error") && !id.empty() && ref == id) {
      return replies;
    }
  }
}

void ProviderClient::close() {
  if (!state_ || !state_->stream) {
    return;
  }
  boost::system::error_code ignored;
  state_->stream->lowest_layer().close(ignored);
  state_->stream.reset();
}

}  // namespace relaygw::gateway::replay
