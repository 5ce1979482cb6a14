#include "gateway/server/provider_listener.hpp"

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "gateway/logging.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/dev_certs.hpp"
#include "gateway/server/host_port.hpp"
#include "relay-adapters/provider_link/link_parser.hpp"
#include "relay-adapters/provider_link/replies.hpp"

namespace relaygw::gateway::server {
namespace {

// Error replies of one connection that are logged one by one; later ones are only counted.
constexpr std::uint64_t kLoggedErrorReplies = 20;

// The OpenSSL reason for an error from Boost.Asio's SSL calls, which Boost prints only as
// "asio.ssl error" for many OpenSSL 3 errors.
std::string ssl_reason(const boost::system::error_code& code) {
  if (code.category() == boost::asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(code.value()));
    if (reason != nullptr) {
      return reason;
    }
  }
  return code.message();
}

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

// Returns the subject CN of the peer certificate, or "" when there is none.
std::string peer_common_name(SSL* ssl_handle) {
  X509* cert = SSL_get1_peer_certificate(ssl_handle);
  if (cert == nullptr) {
    return "";
  }
  std::array<char, 256> name{};
  const int length = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                                               name.data(), static_cast<int>(name.size()));
  X509_free(cert);
  if (length <= 0) {
    return "";
  }
  return std::string(name.data(), static_cast<std::size_t>(length));
}

// Prefixes the provider's ids so they are unique across providers.
void add_provider_prefix(relay::InboundEvent& event, const std::string& prefix) {
  std::visit(
      [&prefix](auto& message) {
        using Message = std::decay_t<decltype(message)>;
        if constexpr (std::is_same_v<Message, relay::SessionOpened> ||
                      std::is_same_v<Message, relay::SessionClosed> ||
                      std::is_same_v<Message, relay::CallerText>) {
          message.session_id = prefix + message.session_id;
        } else if constexpr (std::is_same_v<Message, relay::CallRequested>) {
          message.session_id = prefix + message.session_id;
          message.call_id = prefix + message.call_id;
          message.idempotency_key = prefix + message.idempotency_key;
        } else {
          message.call_id = prefix + message.call_id;
          message.idempotency_key = prefix + message.idempotency_key;
        }
      },
      event);
}

std::string strip_prefix(const std::string& id, const std::string& prefix) {
  if (id.compare(0, prefix.size(), prefix) == 0) {
    return id.substr(prefix.size());
  }
  return id;
}

// Removes `prefix` from every id in a reply's text ("call 'acme/C-7'" becomes "call 'C-7'"),
// because replies carry the provider's own ids. An occurrence that follows a letter, digit,
// '-', '_', '.' or '/' is part of a longer word and stays.
std::string strip_prefix_in_text(const std::string& text, const std::string& prefix) {
  std::string out;
  out.reserve(text.size());
  std::size_t from = 0;
  while (true) {
    const std::size_t found = text.find(prefix, from);
    if (found == std::string::npos) {
      out.append(text, from, std::string::npos);
      return out;
    }
    out.append(text, from, found - from);
    const char before = found == 0 ? ' ' : text[found - 1];
    const bool inside_word = std::isalnum(static_cast<unsigned char>(before)) != 0 ||
                             before == '-' || before == '_' || before == '.' || before == '/';
    if (inside_word) {
      out.append(prefix);
    }
    from = found + prefix.size();
  }
}

}  // namespace

struct ProviderListener::State : std::enable_shared_from_this<ProviderListener::State> {
  State(asio::io_context& io_context, const ProviderLinkConfig& link_config,
        CallService& call_service, ProviderListenerLimits listener_limits)
      : io(io_context),
        config(link_config),
        calls(call_service),
        limits(listener_limits),
        tls(ssl::context::tls_server),
        acceptor(asio::make_strand(io_context)) {}

  class Connection;

  asio::io_context& io;
  const ProviderLinkConfig& config;
  CallService& calls;
  ProviderListenerLimits limits;
  ssl::context tls;
  tcp::acceptor acceptor;
  std::shared_ptr<spdlog::logger> log = logger("gateway");

  mutable std::mutex mutex;
  std::set<std::shared_ptr<Connection>> connections;
  // For each open provider session (prefixed id), the live connections that opened it or sent
  // a message about it. A provider that fails over may use several at once; the session's
  // calls end with the last of them.
  std::map<std::string, std::set<std::uint64_t>> session_holders;
  bool stopping = false;
  std::uint64_t next_connection_id = 1;

  Status load_certificates();
  void accept();
  void remove(const std::shared_ptr<Connection>& connection);
  void hold_session(const std::string& session_id, std::uint64_t connection_id);
  void forget_session(const std::string& session_id);
  // Removes `connection_id` from the holders of `session_ids` and returns the sessions left
  // with no live connection.
  std::vector<std::string> release_sessions(const std::set<std::string>& session_ids,
                                            std::uint64_t connection_id);
};

class ProviderListener::State::Connection
    : public std::enable_shared_from_this<ProviderListener::State::Connection> {
 public:
  Connection(std::shared_ptr<State> listener, tcp::socket socket, std::uint64_t id)
      : listener_(std::move(listener)),
        strand_(asio::make_strand(listener_->io)),
        stream_(std::move(socket), listener_->tls),
        timer_(strand_),
        id_(id),
        reader_("") {
    boost::system::error_code error;
    const tcp::endpoint remote = stream_.lowest_layer().remote_endpoint(error);
    remote_ = error ? "unknown" : format_host_port(remote);
  }

  void start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->handshake(); });
  }

  // Closes the connection from any thread. A shutdown leaves open calls open in billing.
  void close_for_shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
      self->shutting_down_ = true;
      self->close("gateway stopping");
    });
  }

 private:
  // Closes the connection when `timeout` passes first. `expiry` names what timed out in the log
  // line.
  void arm_timer(std::chrono::milliseconds timeout, std::string_view expiry) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), generation = ++timer_generation_,
                       reason = fmt::format("timed out: {} ({} ms)", expiry, timeout.count())](
                          const boost::system::error_code& error) {
      if (!error && generation == self->timer_generation_) {
        self->close(reason);
      }
    });
  }

  void handshake() {
    arm_timer(listener_->limits.handshake_timeout,
              "TLS handshake not finished within the handshake timeout");
    stream_.async_handshake(
        ssl::stream_base::server,
        asio::bind_executor(strand_,
                            [self = shared_from_this()](const boost::system::error_code& error) {
                              self->on_handshake(error);
                            }));
  }

  void on_handshake(const boost::system::error_code& error) {
    if (closed_) {
      return;
    }
    if (error) {
      listener_->log->warn("provider connection {} from {} refused: TLS handshake failed: {}", id_,
                           remote_, error.message());
      close("");
      return;
    }
    const std::string common_name = peer_common_name(stream_.native_handle());
    if (!is_valid_provider_id(common_name)) {
      listener_->log->warn(
          "provider connection {} from {} refused: certificate CN '{}' is not "
          "a provider id (1 to 64 letters, digits, '-', '_' or '.')",
          id_, remote_, common_name.substr(0, 64));
      close("");
      return;
    }
    provider_id_ = common_name;
    prefix_ = provider_id_ + "/";
    reader_ = relay::provider_link::LinkReader(provider_id_);
    listener_->log->info("provider={} connection {} from {} open", provider_id_, id_, remote_);
    read();
  }

  void read() {
    arm_timer(
        std::chrono::duration_cast<std::chrono::milliseconds>(listener_->config.idle_timeout),
        "nothing received within the idle timeout");
    stream_.async_read_some(
        asio::buffer(buffer_),
        asio::bind_executor(
            strand_, [self = shared_from_this()](const boost::system::error_code& error,
                                                 std::size_t n) { self->on_read(error, n); }));
  }

  void on_read(const boost::system::error_code& error, std::size_t bytes) {
    if (closed_) {
      return;
    }
    if (error) {
      const bool clean = error == asio::error::eof || error == ssl::error::stream_truncated;
      close(clean ? "closed by the provider" : "read failed: " + error.message());
      return;
    }
    reader_.push(std::string_view(buffer_.data(), bytes));
    while (!closed_) {
      const relay::Instant now = clock_now();
      std::optional<relay::provider_link::ParsedLine> parsed = reader_.next(now);
      if (!parsed) {
        break;
      }
      if (auto* rejected = std::get_if<relay::ErrorReply>(&*parsed)) {
        // The message id of a message that failed to parse is echoed as the error's ref only
        // when it contains no card number, as for a parsed message.
        if (!rejected->ref.empty() && listener_->calls.may_contain_card_number(rejected->ref)) {
          rejected->ref.clear();
        }
        log_error_reply("rejected", *rejected);
        enqueue(relay::provider_link::serialize_error(*rejected));
        continue;
      }
      handle(std::get<relay::provider_link::LinkMessage>(std::move(*parsed)), now);
    }
    if (!closed_) {
      read();
    }
  }

  void handle(relay::provider_link::LinkMessage message, relay::Instant now) {
    add_provider_prefix(message.event, prefix_);
    listener_->calls.mask_emergency_card_numbers(message.event, message.ref);
    // Checked before the session is held, so a rejected session.open leaves no session here.
    if (std::optional<relay::ErrorReply> rejected =
            listener_->calls.reject_provider_card_numbers(message.event, message.ref)) {
      enqueue(serialize(*rejected, rejected->ref));
      return;
    }
    const std::string session_id = session_of(message.event);
    if (std::holds_alternative<relay::SessionClosed>(message.event)) {
      sessions_.erase(session_id);
    } else if (!session_id.empty()) {
      sessions_.insert(session_id);
      listener_->hold_session(session_id, id_);
    }
    const std::vector<Reply> replies = listener_->calls.handle(message.event, message.ref, now);
    if (std::holds_alternative<relay::SessionClosed>(message.event)) {
      listener_->forget_session(session_id);
    }
    for (const Reply& reply : replies) {
      enqueue(serialize(reply, message.ref));
    }
  }

  // The prefixed session a message is about. A call step names only its call, so its session
  // comes from the call service, and is "" for a call the gateway has no record of.
  std::string session_of(const relay::InboundEvent& event) const {
    return std::visit(
        [this](const auto& message) -> std::string {
          using Message = std::decay_t<decltype(message)>;
          if constexpr (std::is_same_v<Message, relay::SessionOpened> ||
                        std::is_same_v<Message, relay::SessionClosed> ||
                        std::is_same_v<Message, relay::CallerText> ||
                        std::is_same_v<Message, relay::CallRequested>) {
            return message.session_id;
          } else {
            return listener_->calls.session_of_call(message.call_id);
          }
        },
        event);
  }

  std::string serialize(const Reply& reply, const std::string& ref) {
    if (const auto* quote = std::get_if<relay::Quote>(&reply)) {
      relay::Quote outgoing = *quote;
      outgoing.call_id = strip_prefix(outgoing.call_id, prefix_);
      auto line = relay::provider_link::serialize_quote(outgoing, ref);
      if (line) {
        return *line;
      }
      return internal_error(ref, line.status());
    }
    if (const auto* authorization = std::get_if<relay::AuthorizationResult>(&reply)) {
      relay::AuthorizationResult outgoing = *authorization;
      outgoing.call_id = strip_prefix(outgoing.call_id, prefix_);
      outgoing.message = strip_prefix_in_text(outgoing.message, prefix_);
      auto line = relay::provider_link::serialize_authorization(outgoing, ref);
      if (line) {
        return *line;
      }
      return internal_error(ref, line.status());
    }
    if (const auto* ack = std::get_if<Ack>(&reply)) {
      std::string line =
          relay::provider_link::serialize_ack(ack->of, strip_prefix(ack->id, prefix_), ref);
      if (!ack->psap.empty()) {
        nlohmann::json message = nlohmann::json::parse(line);
        message["psap"] = ack->psap;
        line = message.dump() + "\n";
      }
      return line;
    }
    const auto& error = std::get<relay::ErrorReply>(reply);
    log_error_reply("refused", error);
    relay::ErrorReply outgoing = error;
    outgoing.message = strip_prefix_in_text(outgoing.message, prefix_);
    return relay::provider_link::serialize_error(outgoing);
  }

  // Logs an error reply of this connection: each of the first kLoggedErrorReplies, then one
  // line saying the rest are only counted, so a provider sending bad messages in a loop cannot
  // flood the log. close() logs the count.
  void log_error_reply(std::string_view verb, const relay::ErrorReply& error) {
    ++error_replies_;
    if (error_replies_ <= kLoggedErrorReplies) {
      // A message with no id, or none that could be read, has no ref, and "-" keeps the
      // field present for tools that split the line on spaces.
      listener_->log->warn("provider={} connection {} message {}: ref={} code={} {}",
                           provider_id_, id_, verb, error.ref.empty() ? "-" : error.ref,
                           error.code, error.message);
    }
    if (error_replies_ == kLoggedErrorReplies) {
      listener_->log->warn(
          "provider={} connection {}: {} messages rejected; further rejections on this "
          "connection are counted and logged when it closes",
          provider_id_, id_, kLoggedErrorReplies);
    }
  }

  std::string internal_error(const std::string& ref, const Status& status) {
    listener_->log->error("provider={} connection {} reply could not be serialized: {}",
                          provider_id_, id_, status.message());
    return relay::provider_link::serialize_error(
        relay::ErrorReply{ref, "internal", "the gateway could not format its reply"});
  }

  void enqueue(std::string line) {
    if (closed_) {
      return;
    }
    if (queue_.size() >= listener_->limits.max_queued_replies) {
      listener_->log->warn(
          "provider={} connection {} closed: {} replies waiting, so the "
          "provider is not reading them",
          provider_id_, id_, queue_.size());
      close("");
      return;
    }
    if (line.empty() || line.back() != '\n') {
      line.push_back('\n');
    }
    queue_.push_back(std::move(line));
    if (!writing_) {
      write();
    }
  }

  void write() {
    writing_ = true;
    asio::async_write(stream_, asio::buffer(queue_.front()),
                      asio::bind_executor(strand_, [self = shared_from_this()](
                                                       const boost::system::error_code& error,
                                                       std::size_t) { self->on_write(error); }));
  }

  void on_write(const boost::system::error_code& error) {
    writing_ = false;
    if (closed_) {
      return;
    }
    if (error) {
      close("write failed: " + error.message());
      return;
    }
    queue_.pop_front();
    if (!queue_.empty()) {
      write();
    }
  }

  void close(const std::string& reason) {
    if (closed_) {
      return;
    }
    closed_ = true;
    ++timer_generation_;
    timer_.cancel();
    boost::system::error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    if (!reason.empty()) {
      listener_->log->info("provider={} connection {} from {} closed: {}", provider_id_, id_,
                           remote_, reason);
    }
    if (error_replies_ > kLoggedErrorReplies) {
      listener_->log->warn("provider={} connection {} rejected {} messages in all, {} not logged",
                           provider_id_, id_, error_replies_,
                           error_replies_ - kLoggedErrorReplies);
    }
    if (!shutting_down_) {
      // Calls end only in sessions that no other live connection of the provider has used.
      const relay::Instant now = clock_now();
      for (const std::string& session_id : listener_->release_sessions(sessions_, id_)) {
        listener_->calls.connection_lost(session_id, now);
      }
    }
    sessions_.clear();
    listener_->remove(shared_from_this());
  }

  std::shared_ptr<State> listener_;
  asio::strand<asio::io_context::executor_type> strand_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  std::uint64_t id_;
  std::string remote_;
  std::string provider_id_;
  std::string prefix_;
  relay::provider_link::LinkReader reader_;
  std::array<char, 16 * 1024> buffer_{};
  std::deque<std::string> queue_;
  std::set<std::string> sessions_;  // prefixed ids of sessions opened here and not closed
  std::uint64_t error_replies_ = 0;  // error replies sent on this connection
  bool writing_ = false;
  bool closed_ = false;
  bool shutting_down_ = false;
};

Status ProviderListener::State::load_certificates() {
  if (SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1) {
    return Status(StatusCode::Internal, "setting TLS 1.2 as the lowest version failed");
  }
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  struct FileStep {
    const char* key;
    const char* content;
    const std::string* path;
    void (*load)(ssl::context&, const std::string&);
  };
  const FileStep steps[] = {
      {"certificate_file", "certificate chain", &config.certificate_file,
       [](ssl::context& context, const std::string& path) {
         context.use_certificate_chain_file(path);
       }},
      {"private_key_file", "private key that matches certificate_file", &config.private_key_file,
       [](ssl::context& context, const std::string& path) {
         context.use_private_key_file(path, ssl::context::pem);
       }},
      {"client_ca_file", "CA certificate", &config.client_ca_file,
       [](ssl::context& context, const std::string& path) { context.load_verify_file(path); }},
  };
  for (const FileStep& step : steps) {
    // OpenSSL reports a missing or unreadable file only as "asio.ssl error", so the file is
    // checked first to name the real cause.
    std::FILE* probe = std::fopen(step.path->c_str(), "r");
    if (probe == nullptr) {
      const int cause = errno;
      return Status(StatusCode::InvalidArgument,
                    fmt::format("[provider_link] {} '{}' cannot be read: {}; point it at a "
                                "readable PEM file (`relaygw certs generate` makes test ones)",
                                step.key, *step.path, std::strerror(cause)));
    }
    std::fclose(probe);
    try {
      step.load(tls, *step.path);
    } catch (const boost::system::system_error& error) {
      return Status(StatusCode::InvalidArgument,
                    fmt::format("[provider_link] {} '{}' is not a usable PEM file ({}); point "
                                "it at a PEM {} (`relaygw certs generate` makes test ones)",
                                step.key, *step.path, ssl_reason(error.code()), step.content));
    }
  }
  tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return Status::ok();
}

void ProviderListener::State::accept() {
  acceptor.async_accept(
      asio::make_strand(io),
      [self = shared_from_this()](const boost::system::error_code& error, tcp::socket socket) {
        if (error) {
          if (error != asio::error::operation_aborted) {
            self->log->error("provider link accept failed: {}", error.message());
          }
          std::lock_guard lock(self->mutex);
          if (self->stopping || !self->acceptor.is_open()) {
            return;
          }
        } else {
          std::shared_ptr<Connection> connection;
          {
            std::lock_guard lock(self->mutex);
            if (self->stopping) {
              return;
            }
            connection =
                std::make_shared<Connection>(self, std::move(socket), self->next_connection_id++);
            self->connections.insert(connection);
          }
          connection->start();
        }
        self->accept();
      });
}

void ProviderListener::State::remove(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mutex);
  connections.erase(connection);
}

void ProviderListener::State::hold_session(const std::string& session_id,
                                           std::uint64_t connection_id) {
  std::lock_guard lock(mutex);
  session_holders[session_id].insert(connection_id);
}

void ProviderListener::State::forget_session(const std::string& session_id) {
  std::lock_guard lock(mutex);
  session_holders.erase(session_id);
}

std::vector<std::string> ProviderListener::State::release_sessions(
    const std::set<std::string>& session_ids, std::uint64_t connection_id) {
  std::lock_guard lock(mutex);
  std::vector<std::string> released;
  for (const std::string& session_id : session_ids) {
    auto found = session_holders.find(session_id);
    if (found == session_holders.end() || found->second.erase(connection_id) == 0) {
      // Closed, or reopened since by other connections only.
      continue;
    }
    if (found->second.empty()) {
      session_holders.erase(found);
      released.push_back(session_id);
    }
  }
  return released;
}

ProviderListener::ProviderListener(asio::io_context& io, const ProviderLinkConfig& config,
                                   CallService& calls, ProviderListenerLimits limits)
    : state_(std::make_shared<State>(io, config, calls, limits)) {}

ProviderListener::~ProviderListener() { stop(); }

Status ProviderListener::start() {
  Status loaded = state_->load_certificates();
  if (!loaded) {
    state_->log->error("provider link not started: {}", loaded.message());
    return loaded;
  }
  const std::string& address = state_->config.listen.address;
  boost::system::error_code error;
  const asio::ip::address ip = asio::ip::make_address(address, error);
  if (error) {
    const Status invalid(StatusCode::InvalidArgument,
                         fmt::format("[provider_link] listen.address '{}' is not an IP address; "
                                     "use a literal address such as 127.0.0.1",
                                     address));
    state_->log->error("provider link not started: {}", invalid.message());
    return invalid;
  }
  const tcp::endpoint endpoint(ip, state_->config.listen.port);
  tcp::acceptor& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), error);
  if (!error) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  }
  if (!error) {
    acceptor.bind(endpoint, error);
  }
  if (!error) {
    acceptor.listen(asio::socket_base::max_listen_connections, error);
  }
  if (error) {
    const Status failed(
        StatusCode::Unavailable,
        fmt::format("[provider_link] cannot listen on {}: {}; choose a free "
                    "port or stop the program that uses it",
                    format_host_port(address, state_->config.listen.port), error.message()));
    state_->log->error("provider link not started: {}", failed.message());
    return failed;
  }
  state_->accept();
  return Status::ok();
}

tcp::endpoint ProviderListener::local_endpoint() const {
  boost::system::error_code error;
  return state_->acceptor.local_endpoint(error);
}

void ProviderListener::stop() {
  std::set<std::shared_ptr<State::Connection>> open;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) {
      return;
    }
    state_->stopping = true;
    open = state_->connections;
  }
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (const auto& connection : open) {
    connection->close_for_shutdown();
  }
  state_->log->info("provider link stopped: {} connections closing", open.size());
}

std::size_t ProviderListener::connection_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->connections.size();
}

}  // namespace relaygw::gateway::server
