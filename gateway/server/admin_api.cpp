#include "gateway/server/admin_api.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/card_digits.hpp"
#include "common/utf8.hpp"
#include "gateway/logging.hpp"
#include "gateway/server/admin_handlers.hpp"
#include "gateway/server/host_port.hpp"
#include "gateway/server/token_file.hpp"

namespace relaygw::gateway::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// How long stop() waits for the acceptor to close and for open connections to end.
constexpr std::chrono::seconds kStopWait{5};

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest sha256(const std::string& text) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

// Compares digests, not the strings, so the time taken depends on neither the token's length
// nor the position of the first wrong character.
bool token_matches(const Digest& expected, const std::string& presented) {
  const Digest digest = sha256(presented);
  return CRYPTO_memcmp(expected.data(), digest.data(), digest.size()) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Decodes %XX escapes, and "+" as a space when `plus_is_space` (query strings).
std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

AdminRequest to_admin_request(const http::request<http::string_body>& message) {
  AdminRequest request;
  request.method = std::string(message.method_string());
  const std::string_view target(message.target().data(), message.target().size());
  const std::size_t question = target.find('?');
  request.path = percent_decode(target.substr(0, question), false);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) {
        continue;  // "a=1&&b=2" or a trailing "&"
      }
      const std::size_t equals = pair.find('=');
      std::string name = percent_decode(pair.substr(0, equals), true);
      std::string value =
          equals == std::string_view::npos ? "" : percent_decode(pair.substr(equals + 1), true);
      if (!request.query.emplace(name, std::move(value)).second &&
          std::find(request.repeated_query.begin(), request.repeated_query.end(), name) ==
              request.repeated_query.end()) {
        request.repeated_query.push_back(std::move(name));
      }
    }
  }
  request.body = message.body();
  return request;
}

// Returns why the decoded path or query of `request` is not UTF-8 text, or nothing when it is.
// Handlers copy these values into JSON replies, and JSON text must be UTF-8.
std::optional<std::string> find_non_utf8(const AdminRequest& request) {
  if (const std::size_t bad = find_invalid_utf8(request.path); bad != std::string::npos) {
    return "the path is not valid UTF-8 at byte " + std::to_string(bad + 1) +
           " after percent-decoding; send ids and names as UTF-8, percent-encoded";
  }
  for (const auto& [name, value] : request.query) {
    if (const std::size_t bad = find_invalid_utf8(name); bad != std::string::npos) {
      return "a query parameter name is not valid UTF-8 at byte " + std::to_string(bad + 1) +
             " after percent-decoding; send it as UTF-8, percent-encoded";
    }
    if (const std::size_t bad = find_invalid_utf8(value); bad != std::string::npos) {
      return "query parameter '" + name + "' is not valid UTF-8 at byte " +
             std::to_string(bad + 1) + " after percent-decoding; send it as UTF-8, percent-encoded";
    }
  }
  return std::nullopt;
}

// Returns where the decoded path or query of `request` contains a control character, or
// nothing when it has none. An id never contains one, and a NUL would end the id in logs and
// tools while the lookup used the whole value.
std::optional<std::string> find_control_character(const AdminRequest& request) {
  auto control_at = [](std::string_view text) {
    return std::find_if(text.begin(), text.end(), [](char c) {
             const auto byte = static_cast<unsigned char>(c);
             return byte < 0x20 || byte == 0x7F;
           }) -
           text.begin();
  };
  if (const auto bad = static_cast<std::size_t>(control_at(request.path));
      bad < request.path.size()) {
    return "the path contains a control character at byte " + std::to_string(bad + 1) +
           " after percent-decoding; remove it";
  }
  for (const auto& [name, value] : request.query) {
    if (const auto bad = static_cast<std::size_t>(control_at(name)); bad < name.size()) {
      return "a query parameter name contains a control character at byte " +
             std::to_string(bad + 1) + " after percent-decoding; remove it";
    }
    if (const auto bad = static_cast<std::size_t>(control_at(value)); bad < value.size()) {
      return "query parameter '" + name + "' contains a control character at byte " +
             std::to_string(bad + 1) + " after percent-decoding; remove it";
    }
  }
  return std::nullopt;
}

// Returns `target` with every byte outside printable ASCII percent-encoded, for logs.
std::string printable_target(std::string_view target) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7F) {
      out.push_back(c);
    } else {
      out += {'%', kHex[byte >> 4], kHex[byte & 0x0F]};
    }
  }
  return out;
}

}  // namespace

struct AdminApi::State {
  State(asio::io_context& io_context, AdminConfig admin_config, AdminApiParts api_parts,
        AdminApiLimits api_limits)
      : io(io_context),
        config(std::move(admin_config)),
        parts(std::move(api_parts)),
        limits(api_limits),
        acceptor(asio::make_strand(io_context)),
        pool(static_cast<std::size_t>(std::max(limits.handler_threads, 1))) {}

  class Connection;

  void do_accept();
  void on_accept(beast::error_code error, tcp::socket socket);

  asio::io_context& io;
  AdminConfig config;
  AdminApiParts parts;
  AdminApiLimits limits;
  Digest token_digest{};
  tcp::acceptor acceptor;
  asio::thread_pool pool;
  Endpoint bound;
  bool running = false;
  AcceptLock accept_lock;

  // Every Connection counts itself here while it exists, so stop() can wait until no handler
  // refers to this State any more.
  std::mutex connections_mutex;
  std::condition_variable connections_changed;
  std::list<std::weak_ptr<Connection>> connections;
  std::size_t live_connections = 0;
  std::uint64_t next_connection_id = 1;
};

// One client connection: reads requests under a deadline, checks the token, runs the handler
// on the pool and writes the response, until the client closes, times out or sends bad HTTP.
class AdminApi::State::Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Requires: state.connections_mutex is held, as live_connections changes.
  Connection(State& state, tcp::socket socket, std::uint64_t id)
      : state_(state), limits_(state.limits), stream_(std::move(socket)), id_(id) {
    ++state_.live_connections;
  }

  ~Connection() {
    std::lock_guard lock(state_.connections_mutex);
    --state_.live_connections;
    state_.connections_changed.notify_all();
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  // Closes the socket on its strand; any operation in progress completes with an error.
  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(limits_.max_body_bytes);
    stream_.expires_after(limits_.io_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Connection::on_read, shared_from_this()));
  }

  void on_read(beast::error_code error, std::size_t) {
    if (error == http::error::end_of_stream || error == asio::error::operation_aborted) {
      close_now();
      return;
    }
    if (error == beast::error::timeout) {
      logger("gateway")->warn("admin connection={} timed out reading a request; closed", id_);
      close_now();
      return;
    }
    if (error == http::error::body_limit) {
      write_error(413, "body-too-large",
                  "the request body exceeds " + std::to_string(limits_.max_body_bytes) +
                      " bytes; send a smaller body");
      return;
    }
    if (error) {
      write_error(400, "invalid-http", "the request is not valid HTTP/1.1: " + error.message());
      return;
    }

    request_ = parser_->release();
    if (!authorized()) {
      // The presented token is never logged, only whether one was sent.
      const std::string_view target(request_.target().data(), request_.target().size());
      logger("gateway")->warn(
          "admin connection={} remote={} {} {} rejected with 401: {} token", id_, remote_address(),
          std::string(request_.method_string()),
          mask_card_number_runs(printable_target(target.substr(0, target.find('?')))),
          request_.find(http::field::authorization) == request_.end() ? "missing" : "wrong");
      AdminResponse response = admin_error(
          401, "unauthorized", "missing or wrong token; send Authorization: Bearer TOKEN");
      write(response, request_.keep_alive(), true);
      return;
    }

    AdminRequest request = to_admin_request(request_);
    std::optional<std::string> fault = find_non_utf8(request);
    const char* code = "invalid-utf8";
    if (!fault) {
      fault = find_control_character(request);
      code = "invalid-argument";
    }
    if (fault) {
      const std::string_view target(request_.target().data(), request_.target().size());
      logger("gateway")->warn(
          "admin connection={} {} {} rejected with 400: {}", id_, request.method,
          mask_card_number_runs(printable_target(target.substr(0, target.find('?')))), *fault);
      write(admin_error(400, code, *fault), request_.keep_alive(), false);
      return;
    }

    // Handlers may block on SQLite, so they run on the pool and the response comes back to
    // this connection's strand.
    asio::post(state_.pool, [self = shared_from_this(), request = std::move(request)] {
      AdminResponse response;
      try {
        response = handle_admin_request(self->state_.parts, self->state_.accept_lock, request);
      } catch (const std::exception& error) {
        logger("gateway")->error("admin connection={} {} {} failed: {}", self->id_, request.method,
                                 mask_card_number_runs(request.path), error.what());
        response = admin_error(500, "internal", "the request failed inside the gateway");
      }
      // A call id in the path may contain a card number, which the handler then rejected.
      logger("gateway")->debug("admin connection={} {} {} status={}", self->id_, request.method,
                               mask_card_number_runs(request.path), response.status);
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)] {
        self->write(response, self->request_.keep_alive(), false);
      });
    });
  }

  std::string remote_address() {
    beast::error_code error;
    const tcp::endpoint remote = stream_.socket().remote_endpoint(error);
    if (error) {
      return "unknown";
    }
    return format_host_port(remote);
  }

  bool authorized() const {
    const auto header = request_.find(http::field::authorization);
    if (header == request_.end()) {
      return false;
    }
    const std::string_view value(header->value().data(), header->value().size());
    constexpr std::string_view kScheme = "Bearer ";
    if (value.size() <= kScheme.size() || value.substr(0, kScheme.size()) != kScheme) {
      return false;
    }
    return token_matches(state_.token_digest, std::string(value.substr(kScheme.size())));
  }

  // Sends an error for a request that could not be read, then closes the connection because
  // the rest of the stream cannot be trusted.
  void write_error(int status, const std::string& code, const std::string& message) {
    logger("gateway")->warn("admin connection={} request rejected: status={} {}", id_, status,
                            message);
    write(admin_error(status, code, message), false, false);
  }

  void write(const AdminResponse& response, bool keep_alive, bool unauthorized) {
    if (closed_) {
      return;
    }
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), 11);
    message->set(http::field::server, "relaygw-admin");
    message->set(http::field::content_type, "application/json");
    if (!response.allow.empty()) {
      message->set(http::field::allow, response.allow);
    }
    if (unauthorized) {
      message->set(http::field::www_authenticate, "Bearer");
    }
    message->keep_alive(keep_alive);
    // Replacing invalid UTF-8 keeps a stray byte in a stored name from ending the process.
    message->body() =
        response.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    message->prepare_payload();

    stream_.expires_after(limits_.io_timeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message](beast::error_code error, std::size_t) {
                        self->on_write(error, message->keep_alive());
                      });
  }

  void on_write(beast::error_code error, bool keep_alive) {
    if (error) {
      if (error != asio::error::operation_aborted) {
        logger("gateway")->warn("admin connection={} writing the response failed: {}", id_,
                                error.message());
      }
      close_now();
      return;
    }
    if (!keep_alive) {
      close_now();
      return;
    }
    do_read();
  }

  void close_now() {
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  State& state_;  // outlives every Connection: stop() waits for them all to end
  const AdminApiLimits limits_;
  bool closed_ = false;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  std::uint64_t id_;
};

void AdminApi::State::do_accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
    on_accept(error, std::move(socket));
  });
}

void AdminApi::State::on_accept(beast::error_code error, tcp::socket socket) {
  if (error == asio::error::operation_aborted || !acceptor.is_open()) {
    return;
  }
  if (error) {
    logger("gateway")->error("admin API accept failed: {}", error.message());
  } else {
    std::shared_ptr<Connection> connection;
    {
      std::lock_guard lock(connections_mutex);
      connection = std::make_shared<Connection>(*this, std::move(socket), next_connection_id++);
      connections.remove_if([](const std::weak_ptr<Connection>& weak) { return weak.expired(); });
      connections.push_back(connection);
    }
    connection->start();
  }
  do_accept();
}

AdminApi::AdminApi(asio::io_context& io, AdminConfig config, AdminApiParts parts,
                   AdminApiLimits limits)
    : state_(std::make_unique<State>(io, std::move(config), std::move(parts), limits)) {}

AdminApi::~AdminApi() { stop(); }

Status AdminApi::start() {
  State& state = *state_;
  beast::error_code error;
  const asio::ip::address address = asio::ip::make_address(state.config.listen.address, error);
  if (error) {
    return Status(StatusCode::InvalidArgument, "[admin] listen.address '" +
                                                   state.config.listen.address +
                                                   "' is not an IP address; use 127.0.0.1 or ::1");
  }
  if (!address.is_loopback()) {
    return Status(StatusCode::InvalidArgument,
                  "[admin] listen.address '" + state.config.listen.address +
                      "' is not a loopback address; the admin API binds only 127.0.0.1 or ::1");
  }
  Result<std::string> token =
      read_token_file(state.config.token_file, "[admin] token_file",
                      "create the file with the admin token on its first line, or set [admin] "
                      "enabled = false");
  if (!token) {
    return token.status();
  }
  state.token_digest = sha256(*token);

  const tcp::endpoint endpoint(address, state.config.listen.port);
  state.acceptor.open(endpoint.protocol(), error);
  if (!error) {
    state.acceptor.set_option(asio::socket_base::reuse_address(true), error);
  }
  if (!error) {
    state.acceptor.bind(endpoint, error);
  }
  if (!error) {
    state.acceptor.listen(asio::socket_base::max_listen_connections, error);
  }
  if (error) {
    beast::error_code ignored;
    state.acceptor.close(ignored);
    return Status(StatusCode::Unavailable,
                  "[admin] cannot listen on " +
                      format_host_port(state.config.listen.address, state.config.listen.port) +
                      ": " + error.message() + "; choose a free port");
  }
  const tcp::endpoint local = state.acceptor.local_endpoint();
  state.bound = Endpoint{local.address().to_string(), local.port()};
  state.running = true;
  asio::dispatch(state.acceptor.get_executor(), [&state] { state.do_accept(); });
  logger("gateway")->info("admin API listening on {}",
                          format_host_port(state.bound.address, state.bound.port));
  return Status::ok();
}

void AdminApi::stop() {
  State& state = *state_;
  if (!state.running) {
    return;
  }
  state.running = false;

  // The acceptor is closed on its strand. When the io_context does not run, nothing else uses
  // the acceptor, so it is closed here after a short wait.
  auto closed = std::make_shared<std::promise<void>>();
  std::future<void> acceptor_closed = closed->get_future();
  asio::post(state.acceptor.get_executor(), [&state, closed] {
    beast::error_code ignored;
    state.acceptor.close(ignored);
    closed->set_value();
  });
  if (acceptor_closed.wait_for(kStopWait) != std::future_status::ready) {
    beast::error_code ignored;
    state.acceptor.close(ignored);
  }

  std::vector<std::shared_ptr<State::Connection>> open_connections;
  {
    std::lock_guard lock(state.connections_mutex);
    for (const std::weak_ptr<State::Connection>& weak : state.connections) {
      if (auto connection = weak.lock()) {
        open_connections.push_back(std::move(connection));
      }
    }
    state.connections.clear();
  }
  // A Connection's destructor takes connections_mutex, so the last references are dropped
  // outside it.
  for (const auto& connection : open_connections) {
    connection->close();
  }
  open_connections.clear();

  std::unique_lock lock(state.connections_mutex);
  // NOTE: when the io_context is not running, connections cannot finish; after this wait their
  // handlers must never run again, or they would use a destroyed AdminApi.
  if (!state.connections_changed.wait_for(lock, kStopWait,
                                          [&state] { return state.live_connections == 0; })) {
    logger("gateway")->warn("admin API stop: {} connections did not close in time",
                            state.live_connections);
  }
  lock.unlock();

  // Waits for handlers still running; their responses go to closed sockets.
  state.pool.join();
  logger("gateway")->info("admin API stopped");
}

Endpoint AdminApi::endpoint() const { return state_->bound; }

}  // namespace relaygw::gateway::server
