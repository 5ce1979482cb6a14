#include "gateway/server/psap_link.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "gateway/logging.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/host_port.hpp"

namespace relaygw::gateway::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Maximum line length accepted from a PSAP; an ack is under 100 bytes.
constexpr std::size_t kMaxInboundLine = 64 * 1024;

std::string to_line(const nlohmann::json& message) {
  // Replace invalid UTF-8 (a provider may relay any bytes) instead of throwing.
  return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string psap_dispatch_message(const EmergencySession& session) {
  return to_line({{"type", "dispatch"},
                  {"session", session.session_id},
                  {"call", session.call_id},
                  {"caller_number", session.caller_number},
                  {"location", session.caller_location},
                  {"provider", session.provider_id},
                  {"agent", session.agent_id},
                  {"service", relay::to_string(session.service)},
                  {"received_at", relay::format_instant(session.received_at)}});
}

std::string psap_text_message(const std::string& session_id, const std::string& text) {
  return to_line({{"type", "text"}, {"session", session_id}, {"text", text}});
}

std::string psap_close_message(const std::string& session_id, relay::Instant at) {
  return to_line({{"type", "close"}, {"session", session_id}, {"at", relay::format_instant(at)}});
}

std::string psap_ack_message(const std::string& session_id) {
  return to_line({{"type", "ack"}, {"session", session_id}});
}

struct PsapLink::Impl {
  Impl(asio::io_context& io, PsapLinkOptions options_in, PsapLinkHooks hooks_in)
      : strand(asio::make_strand(io)),
        socket(strand),
        redial_timer(strand),
        options(std::move(options_in)),
        hooks(std::move(hooks_in)),
        read_buffer(kMaxInboundLine),
        log(logger("gateway")) {}

  struct Outgoing {
    std::string line;
    std::string session_id;
    bool dispatch = false;
    bool resend = false;           // a dispatch sent again after a redial is not timed again
    relay::Instant received_at{};  // dispatches only
  };

  asio::strand<asio::io_context::executor_type> strand;
  tcp::socket socket;
  asio::steady_timer redial_timer;
  PsapLinkOptions options;
  PsapLinkHooks hooks;
  asio::streambuf read_buffer;
  std::shared_ptr<spdlog::logger> log;

  // Everything below is touched only on the strand, apart from the atomics.
  std::deque<Outgoing> dispatch_queue;
  std::deque<Outgoing> message_queue;
  std::size_t queued_message_bytes = 0;
  std::map<std::string, EmergencySession> unacknowledged;
  std::optional<Outgoing> in_flight;
  std::uint64_t generation = 0;  // changes on every connection, so old handlers are ignored
  bool connecting = false;
  bool redial_scheduled = false;
  bool stopped = true;
  bool gave_up = false;
  int failed_dials = 0;
  std::atomic<bool> is_connected{false};
  std::atomic<std::size_t> queued{0};
  std::atomic<std::uint64_t> dropped_text{0};
};

std::shared_ptr<PsapLink> PsapLink::create(asio::io_context& io, PsapLinkOptions options,
                                           PsapLinkHooks hooks) {
  return std::shared_ptr<PsapLink>(
      new PsapLink(std::make_unique<Impl>(io, std::move(options), std::move(hooks))));
}

PsapLink::PsapLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PsapLink::~PsapLink() = default;

bool PsapLink::connected() const { return impl_->is_connected.load(); }

std::size_t PsapLink::queued_messages() const { return impl_->queued.load(); }

std::uint64_t PsapLink::dropped_text_messages() const { return impl_->dropped_text.load(); }

// The strand-side steps, kept out of the class so the header stays free of Asio details.
struct PsapLinkSteps {
  std::shared_ptr<PsapLink> self;
  PsapLink::Impl* link;

  void update_queued() const {
    link->queued =
        link->dispatch_queue.size() + link->message_queue.size() + (link->in_flight ? 1 : 0);
  }

  void connect() const {
    link->connecting = true;
    boost::system::error_code error;
    const asio::ip::address address = asio::ip::make_address(link->options.endpoint.address, error);
    if (error) {
      link->log->error("psap route={} invalid address '{}': {}; set a literal IP address",
                       link->options.route_id, link->options.endpoint.address, error.message());
      link->connecting = false;
      give_up();
      return;
    }
    link->socket = tcp::socket(link->strand);
    const tcp::endpoint endpoint(address, link->options.endpoint.port);
    link->socket.async_connect(
        endpoint, asio::bind_executor(link->strand, [steps = *this](boost::system::error_code ec) {
          steps.on_connect(ec);
        }));
  }

  void on_connect(boost::system::error_code error) const {
    link->connecting = false;
    if (link->stopped) {
      return;
    }
    if (error) {
      ++link->failed_dials;
      // max_redials counts the first dial too, and 0 gives up after it as 1 does.
      link->log->warn("psap route={} dial {} of {} to {} failed: {}", link->options.route_id,
                      link->failed_dials, std::max(1, link->options.max_redials),
                      format_host_port(link->options.endpoint.address, link->options.endpoint.port),
                      error.message());
      if (link->failed_dials >= link->options.max_redials) {
        give_up();
      } else {
        schedule_redial();
      }
      return;
    }
    link->failed_dials = 0;
    link->gave_up = false;
    ++link->generation;
    link->is_connected = true;
    link->socket.set_option(tcp::no_delay(true), error);
    link->log->info("psap route={} connected to {}", link->options.route_id,
                    format_host_port(link->options.endpoint.address, link->options.endpoint.port));
    requeue_unacknowledged();
    read();
    write();
  }

  // Dispatches written on an earlier connection and never acknowledged go out again first.
  void requeue_unacknowledged() const {
    std::set<std::string> queued;
    for (const auto& item : link->dispatch_queue) {
      queued.insert(item.session_id);
    }
    std::deque<PsapLink::Impl::Outgoing> resend;
    for (const auto& [id, session] : link->unacknowledged) {
      if (!queued.contains(id)) {
        resend.push_back({psap_dispatch_message(session), id, true, true, session.received_at});
      }
    }
    link->dispatch_queue.insert(link->dispatch_queue.begin(), resend.begin(), resend.end());
    update_queued();
  }

  void schedule_redial() const {
    link->redial_scheduled = true;
    link->redial_timer.expires_after(link->options.redial_interval);
    link->redial_timer.async_wait(
        asio::bind_executor(link->strand, [steps = *this](boost::system::error_code ec) {
          steps.link->redial_scheduled = false;
          if (ec || steps.link->stopped || steps.link->is_connected) {
            return;
          }
          if (steps.link->hooks.on_redial) {
            steps.link->hooks.on_redial();
          }
          steps.connect();
        }));
  }

  // Starts dialing again when the leg is idle (never started, or gave up earlier).
  void ensure_dialing() const {
    if (link->stopped || link->is_connected || link->connecting || link->redial_scheduled) {
      return;
    }
    link->failed_dials = 0;
    connect();
  }

  void give_up() const {
    link->gave_up = true;
    std::vector<EmergencySession> waiting;
    std::string ids;
    for (auto& [id, session] : link->unacknowledged) {
      ids += (ids.empty() ? "" : ",") + id;
      waiting.push_back(std::move(session));
    }
    link->unacknowledged.clear();
    link->dispatch_queue.clear();
    update_queued();
    link->log->error("psap route={} unreachable after {} dials; stopped dialing; sessions={}",
                     link->options.route_id, link->failed_dials, ids.empty() ? "none" : ids);
    if (link->hooks.on_gave_up && !waiting.empty()) {
      link->hooks.on_gave_up(std::move(waiting));
    }
  }

  void drop(const boost::system::error_code& error) const {
    if (!link->is_connected) {
      return;
    }
    link->is_connected = false;
    ++link->generation;
    boost::system::error_code ignored;
    link->socket.close(ignored);
    link->read_buffer.consume(link->read_buffer.size());
    link->log->warn(
        "psap route={} leg dropped: {}; redialing every {} ms with {} message(s) queued",
        link->options.route_id, error.message(), link->options.redial_interval.count(),
        link->queued.load());
    if (!link->stopped) {
      schedule_redial();
    }
  }

  void write() const {
    if (link->in_flight || !link->is_connected) {
      return;
    }
    std::deque<PsapLink::Impl::Outgoing>* queue = nullptr;
    if (!link->dispatch_queue.empty()) {
      queue = &link->dispatch_queue;
    } else if (!link->message_queue.empty()) {
      queue = &link->message_queue;
      link->queued_message_bytes -= queue->front().line.size();
    } else {
      return;
    }
    link->in_flight = std::move(queue->front());
    queue->pop_front();
    const std::uint64_t generation = link->generation;
    asio::async_write(
        link->socket, asio::buffer(link->in_flight->line),
        asio::bind_executor(link->strand,
                            [steps = *this, generation](boost::system::error_code ec, std::size_t) {
                              steps.on_write(ec, generation);
                            }));
  }

  void on_write(boost::system::error_code error, std::uint64_t generation) const {
    PsapLink::Impl::Outgoing written = std::move(*link->in_flight);
    link->in_flight.reset();
    if (error) {
      // Not known to have reached the PSAP: it goes out again, first, after the redial.
      if (written.dispatch) {
        link->dispatch_queue.push_front(std::move(written));
      } else {
        link->queued_message_bytes += written.line.size();
        link->message_queue.push_front(std::move(written));
      }
      update_queued();
      if (generation == link->generation) {
        drop(error);
      } else {
        write();  // the write was on a connection that is gone; a redial may have finished
      }
      return;
    }
    if (written.dispatch && !written.resend && link->hooks.on_dispatch_written) {
      // received_at is on the gateway clock, which clock_start may set apart from the system
      // clock.
      const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
          clock_now_exact() - written.received_at);
      link->hooks.on_dispatch_written(written.session_id, latency);
    }
    update_queued();
    write();
  }

  void read() const {
    const std::uint64_t generation = link->generation;
    asio::async_read_until(
        link->socket, link->read_buffer, '\n',
        asio::bind_executor(link->strand, [steps = *this, generation](boost::system::error_code ec,
                                                                      std::size_t length) {
          steps.on_read(ec, length, generation);
        }));
  }

  void on_read(boost::system::error_code error, std::size_t length,
               std::uint64_t generation) const {
    if (generation != link->generation) {
      return;
    }
    if (error) {
      drop(error);
      return;
    }
    std::string line(asio::buffers_begin(link->read_buffer.data()),
                     asio::buffers_begin(link->read_buffer.data()) + length);
    link->read_buffer.consume(length);
    handle_line(line);
    read();
  }

  void handle_line(const std::string& line) const {
    const nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
    if (message.is_discarded() || !message.is_object() || !message.contains("type") ||
        !message["type"].is_string()) {
      link->log->warn(
          "psap route={} sent a line that is not a JSON object with a \"type\"; "
          "ignored ({} bytes)",
          link->options.route_id, line.size());
      return;
    }
    const std::string type = message["type"].get<std::string>();
    if (type != "ack") {
      link->log->warn("psap route={} sent unknown message type '{}'; ignored",
                      link->options.route_id, type);
      return;
    }
    const std::string session_id = message.value("session", "");
    const auto found = link->unacknowledged.find(session_id);
    if (found == link->unacknowledged.end()) {
      link->log->debug("psap route={} acknowledged session={} twice or unknown",
                       link->options.route_id, session_id);
      return;
    }
    const EmergencySession session = std::move(found->second);
    link->unacknowledged.erase(found);
    link->log->debug("psap route={} acknowledged session={}", link->options.route_id, session_id);
    if (link->hooks.on_acked) {
      link->hooks.on_acked(session);
    }
  }
};

void PsapLink::start() {
  PsapLinkSteps steps{shared_from_this(), impl_.get()};
  asio::post(impl_->strand, [steps] {
    steps.link->stopped = false;
    steps.ensure_dialing();
  });
}

void PsapLink::stop() {
  PsapLinkSteps steps{shared_from_this(), impl_.get()};
  asio::post(impl_->strand, [steps] {
    steps.link->stopped = true;
    steps.link->is_connected = false;
    steps.link->redial_timer.cancel();
    boost::system::error_code ignored;
    steps.link->socket.close(ignored);
  });
}

void PsapLink::send_dispatch(const EmergencySession& session) {
  PsapLinkSteps steps{shared_from_this(), impl_.get()};
  asio::post(impl_->strand, [steps, session] {
    Impl& link = *steps.link;
    if (!link.unacknowledged.emplace(session.session_id, session).second) {
      return;  // already queued or sent; the ack is still awaited
    }
    link.dispatch_queue.push_back(
        {psap_dispatch_message(session), session.session_id, true, false, session.received_at});
    steps.update_queued();
    if (!link.is_connected) {
      link.log->error(
          "emergency dispatch session={} call={} cannot reach psap route={} now because the leg "
          "is down; queued and redialing",
          session.session_id, session.call_id, link.options.route_id);
      steps.ensure_dialing();
      return;
    }
    steps.write();
  });
}

void PsapLink::send_text(const std::string& session_id, std::string text) {
  PsapLinkSteps steps{shared_from_this(), impl_.get()};
  asio::post(impl_->strand, [steps, session_id, text = std::move(text)] {
    Impl& link = *steps.link;
    std::string line = psap_text_message(session_id, text);
    if (!link.is_connected &&
        link.queued_message_bytes + line.size() > link.options.max_queued_bytes) {
      const std::uint64_t dropped = ++link.dropped_text;
      // Log the 1st, 2nd, 4th, 8th ... drop so a long outage cannot flood the log.
      if ((dropped & (dropped - 1)) == 0) {
        link.log->error(
            "psap route={} session={} text dropped: {} bytes already queued while the leg is "
            "down; {} text message(s) dropped so far",
            link.options.route_id, session_id, link.queued_message_bytes, dropped);
      }
      return;
    }
    link.queued_message_bytes += line.size();
    link.message_queue.push_back({std::move(line), session_id, false});
    steps.update_queued();
    steps.ensure_dialing();
    steps.write();
  });
}

void PsapLink::send_close(const std::string& session_id, relay::Instant at) {
  PsapLinkSteps steps{shared_from_this(), impl_.get()};
  asio::post(impl_->strand, [steps, session_id, at] {
    std::string line = psap_close_message(session_id, at);
    steps.link->queued_message_bytes += line.size();
    steps.link->message_queue.push_back({std::move(line), session_id, false});
    steps.update_queued();
    steps.ensure_dialing();
    steps.write();
  });
}

}  // namespace relaygw::gateway::server
