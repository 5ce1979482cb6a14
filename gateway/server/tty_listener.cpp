#include "gateway/server/tty_listener.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "gateway/logging.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/host_port.hpp"
#include "relay-adapters/tty_line/caller_turns.hpp"
#include "relay-adapters/tty_line/line_header.hpp"
#include "relay-adapters/tty_line/line_receiver.hpp"
#include "relay-adapters/tty_line/line_transmitter.hpp"
#include "relay-adapters/tty_line/text_menu.hpp"

namespace relaygw::gateway::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using relay::tty_line::MenuStep;

constexpr std::size_t kReadBytes = 4096;
// Reply audio queued for a line beyond this many seconds closes the line: its client stopped
// reading, and the bound keeps one stalled client from holding unbounded memory.
constexpr double kMaxPendingAudioSeconds = 120.0;
// Paced audio goes out in chunks of this length, up to kPacingLead ahead of real time.
constexpr double kPacingChunkSeconds = 0.02;
constexpr auto kPacingLead = std::chrono::milliseconds(60);
constexpr std::string_view kNumberPrompt = "NUMBER TO CALL GA";

// The gateway clock, so a replayed day is stamped on its own date (`clock_start`).
relay::Instant now_instant() { return clock_now(); }

// The outcome of a routed call on the called line, as reported to the calling line.
enum class Answer { Accepted, Refused, Unanswered, Busy };

// The states of a call on the called line.
enum class RingPhase { Ringing, Prompted, AwaitingStaff, TakenOver, Connected };

std::string_view to_string(RingPhase phase) {
  switch (phase) {
    case RingPhase::Ringing:
      return "ringing";
    case RingPhase::Prompted:
      return "text-prompt";
    case RingPhase::AwaitingStaff:
      return "awaiting-staff";
    case RingPhase::TakenOver:
      return "taken-over";
    case RingPhase::Connected:
      return "in-call";
  }
  return "unknown";
}

class Line;

// The called line's record of a call routed to it.
struct IncomingCall {
  std::string call_id;
  std::weak_ptr<Line> caller;
  std::string caller_number;
  std::string caller_name;
  std::string person_name;
  std::string third_number;
  relay::BillingMethod billing = relay::BillingMethod::SentPaid;
  bool monitored = false;  // registered as an automated collect session
};

// The calling line's record of the call it placed.
struct OutgoingCall {
  std::string call_id;
  std::string called_number;
  std::weak_ptr<Line> called;
  bool acceptance_required = false;
  bool monitored = false;
  bool connected = false;
};

// Connection problems logged one by one per window. Later ones in the window are only counted,
// and the count is logged with the first problem of a later window, so a flood of half-open or
// malformed connections cannot flood the log.
constexpr int kLoggedConnectionProblems = 5;
constexpr auto kConnectionProblemWindow = std::chrono::seconds(60);

// State shared by the listener and its lines.
struct Shared {
  Shared(asio::io_context& io_context, TtyLinesConfig lines_config, CallService& call_service,
         SessionRegistry& registry)
      : io(io_context),
        config(std::move(lines_config)),
        calls(call_service),
        sessions(registry),
        acceptor(asio::make_strand(io_context)) {}

  asio::io_context& io;
  TtyLinesConfig config;
  CallService& calls;
  SessionRegistry& sessions;
  std::shared_ptr<spdlog::logger> log = logger("gateway");
  tcp::acceptor acceptor;
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> stopped{false};
  // Listener start in ms since the epoch. Session ids (tty_session_id) include it, so they
  // are unique across restarts, because the menu's call ids and idempotency keys repeat them.
  std::int64_t started_ms = 0;
  std::atomic<std::uint64_t> next_session{1};

  mutable std::mutex mutex;
  std::map<const Line*, std::weak_ptr<Line>> lines;            // every accepted connection
  std::map<std::string, std::weak_ptr<Line>> lines_by_number;  // lines past their header

  std::mutex problem_mutex;
  SteadyClock::time_point problem_window_start{};
  int problems_logged = 0;
  std::uint64_t problems_not_logged = 0;

  // Logs a warning about a connection that never became a line (`line` is the message), at
  // most kLoggedConnectionProblems per kConnectionProblemWindow.
  void log_connection_problem(const std::string& line) {
    std::uint64_t skipped = 0;
    {
      std::lock_guard lock(problem_mutex);
      const SteadyClock::time_point now = SteadyClock::now();
      if (now - problem_window_start >= kConnectionProblemWindow) {
        skipped = problems_not_logged;
        problem_window_start = now;
        problems_logged = 0;
        problems_not_logged = 0;
      }
      if (problems_logged >= kLoggedConnectionProblems) {
        ++problems_not_logged;
        if (problems_not_logged == 1) {
          log->warn("tty line connection problems: {} logged within {} s; further ones are "
                    "counted until the window ends",
                    kLoggedConnectionProblems, kConnectionProblemWindow.count());
        }
        return;
      }
      ++problems_logged;
    }
    if (skipped > 0) {
      log->warn("tty line connection problems: {} more in the previous window were not logged",
                skipped);
    }
    log->warn("{}", line);
  }

  std::string new_session_id() { return tty_session_id(started_ms, next_session++); }
  std::size_t line_count() const {
    std::lock_guard lock(mutex);
    return lines.size();
  }
  // Registers `line` under `number`; false when another live line has that number.
  bool register_number(const std::string& number, const std::shared_ptr<Line>& line) {
    std::lock_guard lock(mutex);
    auto found = lines_by_number.find(number);
    if (found != lines_by_number.end() && !found->second.expired()) {
      return false;
    }
    lines_by_number[number] = line;
    return true;
  }
  void unregister(const std::string& number, const Line* line) {
    std::lock_guard lock(mutex);
    auto found = lines_by_number.find(number);
    if (found != lines_by_number.end()) {
      std::shared_ptr<Line> current = found->second.lock();
      if (!current || current.get() == line) {
        lines_by_number.erase(found);
      }
    }
    lines.erase(line);
  }
  std::shared_ptr<Line> find_number(const std::string& number) const {
    std::lock_guard lock(mutex);
    auto found = lines_by_number.find(number);
    return found == lines_by_number.end() ? nullptr : found->second.lock();
  }
};

// One TTY line connection. Every member function runs on the line's strand; other lines and
// the registry reach it only through asio::post to executor().
class Line : public std::enable_shared_from_this<Line> {
 public:
  Line(std::shared_ptr<Shared> shared, tcp::socket socket)
      : shared_(std::move(shared)),
        executor_(socket.get_executor()),
        socket_(std::move(socket)),
        idle_timer_(executor_),
        pace_timer_(executor_),
        call_timer_(executor_) {
    boost::system::error_code error;
    const tcp::endpoint remote = socket_.remote_endpoint(error);
    remote_ = error ? "unknown" : format_host_port(remote);
  }

  const asio::any_io_executor& executor() const { return executor_; }

  // Starts reading, or, with `reject_message`, sends it as an error line and closes.
  void start(std::optional<std::string> reject_message) {
    asio::dispatch(executor_, [self = shared_from_this(), reject_message] {
      if (reject_message) {
        self->reject(*reject_message);
        return;
      }
      self->last_read_ = SteadyClock::now();
      self->arm_idle_timer();
      self->do_read();
    });
  }

  void close_from_listener() {
    asio::post(executor_, [self = shared_from_this()] { self->close("gateway stopping"); });
  }

  // Called-line side (posted by the calling line).
  void ring(IncomingCall call);
  void on_caller_ended(const std::string& call_id, const std::string& text);
  void on_caller_taken_over(const std::string& call_id);
  void on_staff_answer(const std::string& call_id, CollectState state);
  // Calling-line side (posted by the called line or the registry).
  void on_answer(const std::string& call_id, Answer answer, const std::string& answered_by);
  void on_called_ended(const std::string& call_id);
  void on_waiting_for_staff(const std::string& call_id);
  void on_taken_over(const std::string& call_id, const std::string& staff);
  void on_collect_state(const std::string& call_id, CollectState state);
  // Either side of a connected call.
  void on_peer_text(const std::string& call_id, const std::string& text);

 private:
  // Connection and audio.
  void do_read();
  void on_read(const boost::system::error_code& error, std::size_t size);
  void reject(const std::string& message);
  bool open_line(const relay::tty_line::LineHeader& header);
  void receive_audio(std::span<const std::uint8_t> bytes);
  void send_text(const std::string& text);
  void kick_writer();
  void arm_idle_timer();
  void close(std::string_view reason);

  // Menu and calls.
  void on_turn(const tty::Turn& turn);
  void run(std::vector<relay::tty_line::MenuAction> actions);
  void place_call(const relay::CallRequested& request);
  void start_call(const relay::CallRequested& request);
  void finish_outgoing(const std::string& text, bool notify_peer);
  void on_outgoing_turn(const tty::Turn& turn);
  std::vector<Reply> send_event(relay::InboundEvent event, const std::string& ref);

  // Called-line automation.
  void on_tones_heard();
  void on_incoming_turn(const tty::Turn& turn);
  void answer_incoming(Answer answer);
  void end_incoming(const std::string& text);
  void arm_call_timer(std::chrono::milliseconds after, void (Line::*handler)());
  void on_detect_timeout();
  void on_acceptance_timeout();

  void update_state();
  std::string number() const { return header_ ? header_->line_number : std::string(); }

  std::shared_ptr<Shared> shared_;
  asio::any_io_executor executor_;
  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  asio::steady_timer pace_timer_;
  asio::steady_timer call_timer_;
  std::uint64_t call_timer_generation_ = 0;

  std::array<std::uint8_t, kReadBytes> read_buffer_{};
  relay::tty_line::HeaderReader header_reader_;
  std::optional<relay::tty_line::LineHeader> header_;
  std::unique_ptr<relay::tty_line::LineReceiver> receiver_;
  std::unique_ptr<relay::tty_line::LineTransmitter> transmitter_;
  relay::tty_line::CallerTurns turns_;
  std::unique_ptr<relay::tty_line::TextMenu> menu_;
  std::string session_id_;
  std::string remote_;  // the client's address and port, for log lines
  bool registered_ = false;

  // Reused receive vectors, so reading allocates nothing once they have grown.
  std::vector<tty::TimedChar> chars_;
  std::vector<tty::CarrierEvent> carrier_;
  std::vector<tty::Turn> finished_turns_;

  // Reply audio: pending_[pending_offset_..] waits, in_flight_ is being written.
  std::vector<std::uint8_t> pending_;
  std::size_t pending_offset_ = 0;
  std::vector<std::uint8_t> in_flight_;
  bool writing_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
  std::size_t bytes_per_second_ = 0;
  std::size_t chunk_bytes_ = 0;
  SteadyClock::time_point next_send_{};
  SteadyClock::time_point last_read_{};

  std::optional<OutgoingCall> outgoing_;
  std::optional<IncomingCall> incoming_;
  RingPhase phase_ = RingPhase::Ringing;
  // The answering transmission that triggered the text prompt is still on, or ended at
  // answer_ends_s_; its turns are greetings, not the Y or N.
  bool answer_carrier_on_ = false;
  double answer_ends_s_ = 0.0;
};

// ---- connection and audio ----

void Line::do_read() {
  socket_.async_read_some(
      asio::buffer(read_buffer_),
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t size) {
        self->on_read(error, size);
      });
}

void Line::on_read(const boost::system::error_code& error, std::size_t size) {
  if (closed_) {
    return;
  }
  if (error) {
    if (error == asio::error::eof || error == asio::error::connection_reset) {
      close("closed by the client");
    } else if (error != asio::error::operation_aborted) {
      if (header_) {
        shared_->log->warn("session={} line={} from {} read failed: {}", session_id_, number(),
                           remote_, error.message());
      } else {
        shared_->log_connection_problem(fmt::format(
            "tty line from {} read failed before its line header: {}", remote_, error.message()));
      }
      close("read failed");
    }
    return;
  }
  last_read_ = SteadyClock::now();
  std::span<const std::uint8_t> bytes(read_buffer_.data(), size);

  if (!header_) {
    Result<std::size_t> used = header_reader_.push(bytes);
    if (!used) {
      reject(used.status().message());
      return;
    }
    if (!header_reader_.done()) {
      do_read();
      return;
    }
    if (!open_line(header_reader_.header())) {
      return;
    }
    bytes = bytes.subspan(used.value());
  }

  if (!bytes.empty()) {
    receive_audio(bytes);
  }
  if (!closed_ && !close_after_write_) {
    do_read();
  }
}

void Line::reject(const std::string& message) {
  shared_->log_connection_problem(fmt::format("tty line from {} rejected: {}", remote_, message));
  std::string text = "ERROR " + message + "\n";
  pending_.assign(text.begin(), text.end());
  close_after_write_ = true;
  kick_writer();
}

bool Line::open_line(const relay::tty_line::LineHeader& header) {
  if (!shared_->register_number(header.line_number, shared_from_this())) {
    reject("line " + header.line_number +
           " is already connected; close the other connection for this number first");
    return false;
  }
  registered_ = true;
  header_ = header;
  session_id_ = shared_->new_session_id();
  receiver_ = std::make_unique<relay::tty_line::LineReceiver>(header);
  transmitter_ = std::make_unique<relay::tty_line::LineTransmitter>(header);
  menu_ = std::make_unique<relay::tty_line::TextMenu>(session_id_, header.line_number);

  const std::size_t bytes_per_sample = header.encoding == tty::AudioEncoding::Pcm16 ? 2 : 1;
  bytes_per_second_ = static_cast<std::size_t>(header.sample_rate_hz) * bytes_per_sample;
  chunk_bytes_ =
      static_cast<std::size_t>(static_cast<double>(header.sample_rate_hz) * kPacingChunkSeconds) *
      bytes_per_sample;

  send_event(relay::tty_line::line_session_opened(header, session_id_), "");
  shared_->log->info(
      "session={} line={} opened: encoding={} rate={}", session_id_, header.line_number,
      header.encoding == tty::AudioEncoding::Pcm16 ? "pcm16" : "ulaw", header.sample_rate_hz);
  run(menu_->start());
  update_state();
  return true;
}

void Line::receive_audio(std::span<const std::uint8_t> bytes) {
  receiver_->push(bytes);
  chars_.clear();
  carrier_.clear();
  receiver_->take_text(chars_);
  receiver_->take_carrier_events(carrier_);

  // Characters and carrier events go to the turn splitter in time order, so a carrier drop
  // makes final only the markers typed before it.
  std::size_t next_char = 0;
  for (const tty::CarrierEvent& event : carrier_) {
    const std::size_t first = next_char;
    while (next_char < chars_.size() && chars_[next_char].time_s < event.time_s) {
      ++next_char;
    }
    turns_.add(std::span<const tty::TimedChar>(chars_.data() + first, next_char - first));
    if (event.on) {
      on_tones_heard();
    } else {
      turns_.end_transmission();
      transmitter_->note_caller_sent();
      if (answer_carrier_on_) {
        answer_carrier_on_ = false;
        answer_ends_s_ = event.time_s;
      }
    }
  }
  turns_.add(std::span<const tty::TimedChar>(chars_.data() + next_char, chars_.size() - next_char));

  finished_turns_.clear();
  turns_.take_turns(finished_turns_);
  std::vector<tty::Turn> turns;
  turns.swap(finished_turns_);
  for (const tty::Turn& turn : turns) {
    if (closed_ || close_after_write_) {
      break;
    }
    on_turn(turn);
  }
  turns.clear();
  finished_turns_.swap(turns);
}

void Line::send_text(const std::string& text) {
  if (closed_ || !transmitter_) {
    return;
  }
  if (pending_offset_ == pending_.size()) {
    pending_.clear();
    pending_offset_ = 0;
  }
  // Each reply ends its line, so the caller's next message or the next reply starts a new
  // line on the TTY's display instead of running on ("...GANO TTY ANSWER YET").
  const std::string line = text.ends_with('\n') ? text : text + "\n";
  auto left_out = transmitter_->transmit(line, pending_);
  if (!left_out) {
    shared_->log->error("session={} reply audio failed: {}", session_id_,
                        left_out.status().message());
    return;
  }
  if (!left_out.value().empty()) {
    shared_->log->debug("session={} {} reply characters have no Baudot code and were left out",
                        session_id_, left_out.value().size());
  }
  const double queued_s = static_cast<double>(pending_.size() - pending_offset_) /
                          static_cast<double>(bytes_per_second_);
  if (queued_s > kMaxPendingAudioSeconds) {
    shared_->log->warn(
        "session={} line={} closed: {:.0f} s of reply audio unsent, the client "
        "is not reading",
        session_id_, number(), queued_s);
    close("client not reading");
    return;
  }
  kick_writer();
}

void Line::kick_writer() {
  if (writing_ || closed_) {
    return;
  }
  const std::size_t available = pending_.size() - pending_offset_;
  if (available == 0) {
    if (close_after_write_) {
      close("session ended");
    }
    return;
  }

  std::size_t size = available;
  if (header_ && shared_->config.realtime_pacing) {
    size = std::min(available, chunk_bytes_);
    const SteadyClock::time_point now = SteadyClock::now();
    next_send_ = std::max(next_send_, now);
    if (next_send_ > now + kPacingLead) {
      writing_ = true;
      pace_timer_.expires_at(next_send_ - kPacingLead);
      pace_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
        self->writing_ = false;
        if (!error) {
          self->kick_writer();
        }
      });
      return;
    }
    next_send_ += std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(
        static_cast<double>(size) / static_cast<double>(bytes_per_second_)));
  }

  in_flight_.assign(pending_.begin() + static_cast<std::ptrdiff_t>(pending_offset_),
                    pending_.begin() + static_cast<std::ptrdiff_t>(pending_offset_ + size));
  pending_offset_ += size;
  writing_ = true;
  asio::async_write(
      socket_, asio::buffer(in_flight_),
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
        self->writing_ = false;
        if (self->closed_) {
          return;
        }
        if (error) {
          if (error != asio::error::operation_aborted) {
            self->shared_->log->warn("session={} line={} write failed: {}", self->session_id_,
                                     self->number(), error.message());
          }
          self->close("write failed");
          return;
        }
        self->kick_writer();
      });
}

void Line::arm_idle_timer() {
  idle_timer_.expires_at(last_read_ + shared_->config.idle_timeout);
  idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (error || self->closed_) {
      return;
    }
    if (SteadyClock::now() >= self->last_read_ + self->shared_->config.idle_timeout) {
      if (self->header_) {
        self->shared_->log->info("session={} line={} closed: no audio for {} s",
                                 self->session_id_, self->number(),
                                 self->shared_->config.idle_timeout.count());
      } else {
        self->shared_->log_connection_problem(
            fmt::format("tty line from {} closed: no line header within the {} s idle timeout",
                        self->remote_, self->shared_->config.idle_timeout.count()));
      }
      self->close("idle");
      return;
    }
    self->arm_idle_timer();
  });
}

void Line::close(std::string_view reason) {
  if (closed_) {
    return;
  }
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  idle_timer_.cancel();
  pace_timer_.cancel();
  call_timer_.cancel();

  if (outgoing_) {
    finish_outgoing("", true);
  }
  if (incoming_) {
    IncomingCall call = std::move(*incoming_);
    incoming_.reset();
    if (std::shared_ptr<Line> caller = call.caller.lock()) {
      if (phase_ == RingPhase::Connected) {
        asio::post(caller->executor(),
                   [caller, id = call.call_id] { caller->on_called_ended(id); });
      } else {
        asio::post(caller->executor(),
                   [caller, id = call.call_id] { caller->on_answer(id, Answer::Unanswered, ""); });
      }
    }
  }
  if (header_) {
    shared_->calls.connection_lost(session_id_, now_instant());
    shared_->log->info("session={} line={} closed: {}", session_id_, number(), reason);
  }
  shared_->unregister(registered_ ? number() : std::string(), this);
}

// ---- menu and calls ----

void Line::on_turn(const tty::Turn& turn) {
  if (incoming_) {
    on_incoming_turn(turn);
  } else if (outgoing_) {
    on_outgoing_turn(turn);
  } else {
    run(menu_->on_turn(turn));
  }
  update_state();
}

void Line::run(std::vector<relay::tty_line::MenuAction> actions) {
  using namespace relay::tty_line;
  for (MenuAction& action : actions) {
    if (closed_) {
      return;
    }
    if (auto* text = std::get_if<SendText>(&action)) {
      send_text(text->text);
    } else if (auto* quote = std::get_if<RequestQuote>(&action)) {
      Result<relay::Quote> priced = shared_->calls.quote(quote->request, now_instant());
      if (!priced) {
        shared_->log->warn("session={} call={} quote failed: {}", session_id_,
                           quote->request.call_id, priced.status().message());
      }
      run(menu_->on_quote(priced));
    } else if (auto* place = std::get_if<PlaceCall>(&action)) {
      place_call(place->request);
    } else if (std::get_if<StartEmergency>(&action) != nullptr) {
      relay::SessionOpened opened = line_session_opened(*header_, session_id_);
      opened.emergency = true;
      shared_->log->warn("session={} line={} dialed 911: emergency session opened", session_id_,
                         number());
      send_event(opened, "");
    } else if (auto* forward = std::get_if<ForwardText>(&action)) {
      send_event(relay::CallerText{session_id_, std::move(forward->text)}, "");
    } else if (std::get_if<EndSession>(&action) != nullptr) {
      close_after_write_ = true;
      kick_writer();
    }
  }
}

std::vector<Reply> Line::send_event(relay::InboundEvent event, const std::string& ref) {
  std::vector<Reply> replies = shared_->calls.handle(event, ref, now_instant());
  for (const Reply& reply : replies) {
    if (const auto* error = std::get_if<relay::ErrorReply>(&reply)) {
      shared_->log->warn("session={} {} was rejected: code={} {}", session_id_,
                         relay::describe(event), error->code, error->message);
    }
  }
  return replies;
}

void Line::place_call(const relay::CallRequested& request) {
  std::vector<Reply> replies = send_event(request, request.call_id);
  std::optional<relay::AuthorizationResult> result;
  for (const Reply& reply : replies) {
    if (const auto* authorization = std::get_if<relay::AuthorizationResult>(&reply)) {
      result = *authorization;
    } else if (const auto* error = std::get_if<relay::ErrorReply>(&reply); error && !result) {
      result = relay::AuthorizationResult{request.call_id, false, error->code, error->message};
    }
  }
  if (!result) {
    result = relay::AuthorizationResult{request.call_id, false, "internal",
                                        "The gateway gave no authorization. Try again."};
  }
  shared_->log->info("session={} call={} authorization: accepted={} reason={}", session_id_,
                     request.call_id, result->accepted, result->reason_code);
  run(menu_->on_authorization(*result));
  if (result->accepted && menu_->step() == MenuStep::InCall) {
    start_call(request);
  }
}

void Line::start_call(const relay::CallRequested& request) {
  std::optional<CallProgress> progress = shared_->calls.progress(request.call_id);
  OutgoingCall call;
  call.call_id = request.call_id;
  call.called_number = request.dialed_number;
  call.acceptance_required = progress && progress->acceptance_required;
  outgoing_ = call;

  std::shared_ptr<Line> called = shared_->find_number(request.dialed_number);
  if (!called || called.get() == this) {
    shared_->log->info("session={} call={} unanswered: no line {} is connected", session_id_,
                       request.call_id, request.dialed_number);
    finish_outgoing("NO ANSWER AT " +
                        relay::tty_line::format_number_for_tty(request.dialed_number) +
                        ". NOT BILLED",
                    false);
    return;
  }
  outgoing_->called = called;

  if (outgoing_->acceptance_required) {
    CollectSession collect;
    collect.call_id = request.call_id;
    collect.session_id = session_id_;
    collect.called_number = request.dialed_number;
    collect.billed_number = progress->billed_number;
    collect.waiting_since = Clock::time_point(clock_now());
    std::weak_ptr<Line> weak_self = weak_from_this();
    shared_->sessions.add_collect(
        collect,
        [weak_self, call_id = request.call_id](const std::string& staff) {
          if (std::shared_ptr<Line> self = weak_self.lock()) {
            asio::post(self->executor(),
                       [self, call_id, staff] { self->on_taken_over(call_id, staff); });
          }
        },
        [weak_self, call_id = request.call_id](CollectState state) {
          if (std::shared_ptr<Line> self = weak_self.lock()) {
            asio::post(self->executor(),
                       [self, call_id, state] { self->on_collect_state(call_id, state); });
          }
        });
    outgoing_->monitored = true;
  }

  IncomingCall incoming;
  incoming.call_id = request.call_id;
  incoming.caller = weak_from_this();
  incoming.caller_number = number();
  incoming.caller_name = request.caller_name;
  incoming.person_name = request.person_name;
  incoming.third_number = request.third_number;
  incoming.billing = request.billing;
  incoming.monitored = outgoing_->monitored;
  shared_->log->info("session={} call={} routed to line {}", session_id_, request.call_id,
                     request.dialed_number);
  asio::post(called->executor(), [called, incoming] { called->ring(incoming); });
}

void Line::finish_outgoing(const std::string& text, bool notify_peer) {
  OutgoingCall call = std::move(*outgoing_);
  outgoing_.reset();
  const std::string key = call.call_id + "/disconnect";
  send_event(relay::Disconnected{call.call_id, now_instant(), key}, call.call_id);
  if (call.monitored) {
    shared_->sessions.remove_collect(call.call_id);
  }
  shared_->log->info("session={} call={} ended: connected={}", session_id_, call.call_id,
                     call.connected);
  if (notify_peer) {
    if (std::shared_ptr<Line> peer = call.called.lock()) {
      asio::post(peer->executor(), [peer, id = call.call_id] {
        peer->on_caller_ended(id, "CALL ENDED BY THE OTHER PARTY");
      });
    }
  }
  if (!closed_) {
    run(menu_->on_call_ended(text));
    update_state();
  }
}

void Line::on_outgoing_turn(const tty::Turn& turn) {
  if (turn.marker == tty::TurnMarker::StopKeying) {
    if (outgoing_->connected) {
      if (std::shared_ptr<Line> peer = outgoing_->called.lock()) {
        std::string text = turn.text.empty() ? "SK SK" : turn.text + " SK SK";
        asio::post(peer->executor(),
                   [peer, id = outgoing_->call_id, text] { peer->on_peer_text(id, text); });
      }
    }
    finish_outgoing(outgoing_->connected ? "CALL ENDED" : "CALL CANCELLED. NOT BILLED", true);
    return;
  }
  if (!outgoing_->connected) {
    return;  // typing while the call rings reaches nobody
  }
  if (std::shared_ptr<Line> peer = outgoing_->called.lock()) {
    std::string text = turn.text;
    if (turn.marker != tty::TurnMarker::None) {
      text += text.empty() ? "" : " ";
      text += tty::to_string(turn.marker);
    }
    asio::post(peer->executor(),
               [peer, id = outgoing_->call_id, text] { peer->on_peer_text(id, text); });
  }
}

void Line::on_answer(const std::string& call_id, Answer answer, const std::string& answered_by) {
  if (closed_) {
    return;
  }
  if (!outgoing_ || outgoing_->call_id != call_id) {
    return;
  }
  const std::string called = relay::tty_line::format_number_for_tty(outgoing_->called_number);
  switch (answer) {
    case Answer::Busy:
      finish_outgoing("LINE " + called + " IS BUSY. NOT BILLED", false);
      return;
    case Answer::Unanswered:
      finish_outgoing("NO ANSWER AT " + called + ". NOT BILLED", false);
      return;
    case Answer::Refused:
      finish_outgoing("CALL NOT ACCEPTED AT " + called + ". NOT BILLED", false);
      return;
    case Answer::Accepted:
      break;
  }

  const relay::Instant now = now_instant();
  if (outgoing_->acceptance_required) {
    send_event(relay::Acceptance{call_id, relay::AcceptanceMethod::TtyText, answered_by, now,
                                 call_id + "/accept"},
               call_id);
  }
  send_event(relay::Connected{call_id, now, call_id + "/connect"}, call_id);
  if (outgoing_->monitored) {
    shared_->sessions.remove_collect(call_id);
    outgoing_->monitored = false;
  }
  outgoing_->connected = true;
  shared_->log->info("session={} call={} connected", session_id_, call_id);
  send_text("CALL ACCEPTED. CONNECTED");
  update_state();
}

void Line::on_called_ended(const std::string& call_id) {
  if (closed_ || !outgoing_ || outgoing_->call_id != call_id) {
    return;
  }
  finish_outgoing("CALL ENDED BY THE OTHER PARTY", false);
}

void Line::on_waiting_for_staff(const std::string& call_id) {
  if (closed_ || !outgoing_ || outgoing_->call_id != call_id) {
    return;
  }
  send_text("NO TTY ANSWER YET. AN OPERATOR WILL HELP. PLEASE HOLD");
}

void Line::on_taken_over(const std::string& call_id, const std::string& staff) {
  if (closed_ || !outgoing_ || outgoing_->call_id != call_id) {
    return;
  }
  shared_->log->info("session={} call={} taken over by staff={}; automation stopped", session_id_,
                     call_id, staff);
  send_text("AN OPERATOR HAS YOUR CALL. PLEASE HOLD");
  if (std::shared_ptr<Line> peer = outgoing_->called.lock()) {
    asio::post(peer->executor(), [peer, call_id] { peer->on_caller_taken_over(call_id); });
  }
}

// Staff recorded the billed party's reply through the admin API, so the called line, which
// staff took over, connects or refuses the call.
void Line::on_collect_state(const std::string& call_id, CollectState state) {
  if (closed_ || !outgoing_ || outgoing_->call_id != call_id) {
    return;
  }
  if (state != CollectState::Accepted && state != CollectState::Refused) {
    return;
  }
  if (std::shared_ptr<Line> peer = outgoing_->called.lock()) {
    asio::post(peer->executor(), [peer, call_id, state] { peer->on_staff_answer(call_id, state); });
  }
}

void Line::on_peer_text(const std::string& call_id, const std::string& text) {
  const bool mine = (outgoing_ && outgoing_->call_id == call_id && outgoing_->connected) ||
                    (incoming_ && incoming_->call_id == call_id && phase_ == RingPhase::Connected);
  if (!closed_ && mine) {
    send_text(text);
  }
}

// ---- called-line automation ----

bool needs_text_prompt(const IncomingCall& call) {
  return call.billing == relay::BillingMethod::Collect ||
         call.billing == relay::BillingMethod::ThirdParty ||
         call.billing == relay::BillingMethod::PersonToPerson;
}

std::string announcement(const IncomingCall& call) {
  const std::string from = relay::tty_line::format_number_for_tty(call.caller_number);
  const std::string name = call.caller_name.empty() ? "A CALLER" : call.caller_name;
  switch (call.billing) {
    case relay::BillingMethod::Collect:
      return "COLLECT CALL FROM " + name + " AT " + from + ". ACCEPT CHARGES Y OR N GA";
    case relay::BillingMethod::ThirdParty:
      return "CALL FROM " + name + " AT " + from + " BILLED TO " +
             relay::tty_line::format_number_for_tty(call.third_number) +
             ". ACCEPT THE CALL Y OR N GA";
    case relay::BillingMethod::PersonToPerson:
      return "CALL FOR " + call.person_name + " FROM " + from + ". IS " + call.person_name +
             " THERE Y OR N GA";
    case relay::BillingMethod::SentPaid:
    case relay::BillingMethod::CallingCard:
      break;
  }
  return "CALL FROM " + from + ". CONNECTED";
}

void Line::ring(IncomingCall call) {
  const bool idle =
      !closed_ && header_ && !incoming_ && !outgoing_ && menu_->step() == MenuStep::Number;
  if (!idle) {
    if (std::shared_ptr<Line> caller = call.caller.lock()) {
      asio::post(caller->executor(),
                 [caller, id = call.call_id] { caller->on_answer(id, Answer::Busy, ""); });
    }
    return;
  }
  incoming_ = std::move(call);
  phase_ = RingPhase::Ringing;
  answer_carrier_on_ = false;
  answer_ends_s_ = 0.0;
  arm_call_timer(shared_->config.tty_detect_timeout, &Line::on_detect_timeout);
  update_state();
}

void Line::on_tones_heard() {
  if (!incoming_ || (phase_ != RingPhase::Ringing && phase_ != RingPhase::AwaitingStaff)) {
    return;
  }
  shared_->log->info("session={} call={} TTY tones heard on the called line", session_id_,
                     incoming_->call_id);
  answer_carrier_on_ = true;
  if (!needs_text_prompt(*incoming_)) {
    send_text(announcement(*incoming_));
    answer_incoming(Answer::Accepted);
    return;
  }
  phase_ = RingPhase::Prompted;
  if (incoming_->monitored) {
    shared_->sessions.update_collect(incoming_->call_id, CollectState::TextPrompt, true);
  }
  send_text(announcement(*incoming_));
  arm_call_timer(shared_->config.acceptance_timeout, &Line::on_acceptance_timeout);
  update_state();
}

void Line::on_incoming_turn(const tty::Turn& turn) {
  if (phase_ == RingPhase::Connected) {
    std::string text = turn.text;
    if (turn.marker != tty::TurnMarker::None) {
      text += text.empty() ? "" : " ";
      text += turn.marker == tty::TurnMarker::StopKeying ? "SK SK" : tty::to_string(turn.marker);
    }
    std::shared_ptr<Line> caller = incoming_->caller.lock();
    if (caller) {
      asio::post(caller->executor(),
                 [caller, id = incoming_->call_id, text] { caller->on_peer_text(id, text); });
    }
    if (turn.marker == tty::TurnMarker::StopKeying) {
      if (caller) {
        asio::post(caller->executor(),
                   [caller, id = incoming_->call_id] { caller->on_called_ended(id); });
      }
      end_incoming("CALL ENDED");
    }
    return;
  }
  if (phase_ != RingPhase::Prompted) {
    return;  // the answer greeting, or text while staff have the call
  }
  if (answer_carrier_on_ || turn.start_s < answer_ends_s_) {
    return;  // typed before the announcement reached the called party
  }
  if (turn.marker == tty::TurnMarker::StopKeying) {
    answer_incoming(Answer::Refused);
    return;
  }
  std::optional<bool> yes = relay::tty_line::parse_yes_no(turn.text);
  if (!yes) {
    send_text("TYPE Y OR N GA");
    return;
  }
  answer_incoming(*yes ? Answer::Accepted : Answer::Refused);
}

void Line::answer_incoming(Answer answer) {
  ++call_timer_generation_;
  call_timer_.cancel();
  std::shared_ptr<Line> caller = incoming_->caller.lock();
  const std::string call_id = incoming_->call_id;
  if (incoming_->monitored) {
    const bool accepted = answer == Answer::Accepted;
    shared_->sessions.update_collect(
        call_id, accepted ? CollectState::Accepted : CollectState::Refused, true);
  }
  shared_->log->info("session={} call={} called line answered: {}", session_id_, call_id,
                     answer == Answer::Accepted ? "accepted" : "not accepted");
  if (caller) {
    asio::post(caller->executor(), [caller, call_id, answer, by = number()] {
      caller->on_answer(call_id, answer, by);
    });
  }
  if (answer == Answer::Accepted && caller) {
    phase_ = RingPhase::Connected;
    if (needs_text_prompt(*incoming_)) {
      send_text("CONNECTED");
    }
    update_state();
    return;
  }
  end_incoming(answer == Answer::Accepted ? "CALLER HUNG UP" : "CALL NOT ACCEPTED");
}

void Line::end_incoming(const std::string& text) {
  ++call_timer_generation_;
  call_timer_.cancel();
  incoming_.reset();
  answer_carrier_on_ = false;
  send_text(text + "\n" + std::string(kNumberPrompt));
  update_state();
}

void Line::on_caller_ended(const std::string& call_id, const std::string& text) {
  if (closed_ || !incoming_ || incoming_->call_id != call_id) {
    return;
  }
  end_incoming(phase_ == RingPhase::Ringing ? "CALLER HUNG UP" : text);
}

void Line::on_caller_taken_over(const std::string& call_id) {
  if (closed_ || !incoming_ || incoming_->call_id != call_id) {
    return;
  }
  ++call_timer_generation_;
  call_timer_.cancel();
  phase_ = RingPhase::TakenOver;
  update_state();
}

void Line::on_staff_answer(const std::string& call_id, CollectState state) {
  if (closed_ || !incoming_ || incoming_->call_id != call_id || phase_ != RingPhase::TakenOver) {
    return;
  }
  shared_->log->info("session={} call={} staff recorded the billed party's reply: {}", session_id_,
                     call_id, to_string(state));
  answer_incoming(state == CollectState::Accepted ? Answer::Accepted : Answer::Refused);
}

void Line::arm_call_timer(std::chrono::milliseconds after, void (Line::*handler)()) {
  const std::uint64_t generation = ++call_timer_generation_;
  call_timer_.expires_after(after);
  call_timer_.async_wait(
      [self = shared_from_this(), generation, handler](const boost::system::error_code& error) {
        if (error || self->closed_ || generation != self->call_timer_generation_) {
          return;
        }
        ((*self).*handler)();
      });
}

void Line::on_detect_timeout() {
  if (!incoming_ || phase_ != RingPhase::Ringing) {
    return;
  }
  if (!needs_text_prompt(*incoming_)) {
    if (std::shared_ptr<Line> caller = incoming_->caller.lock()) {
      asio::post(caller->executor(), [caller, id = incoming_->call_id] {
        caller->on_answer(id, Answer::Unanswered, "");
      });
    }
    end_incoming("MISSED CALL FROM " +
                 relay::tty_line::format_number_for_tty(incoming_->caller_number));
    return;
  }
  shared_->log->info("session={} call={} no TTY tones within {} s; waiting for staff", session_id_,
                     incoming_->call_id, shared_->config.tty_detect_timeout.count());
  phase_ = RingPhase::AwaitingStaff;
  if (incoming_->monitored) {
    shared_->sessions.update_collect(incoming_->call_id, CollectState::AwaitingStaff, false);
  }
  if (std::shared_ptr<Line> caller = incoming_->caller.lock()) {
    asio::post(caller->executor(),
               [caller, id = incoming_->call_id] { caller->on_waiting_for_staff(id); });
  }
  arm_call_timer(shared_->config.acceptance_timeout, &Line::on_acceptance_timeout);
  update_state();
}

void Line::on_acceptance_timeout() {
  if (!incoming_ || (phase_ != RingPhase::Prompted && phase_ != RingPhase::AwaitingStaff)) {
    return;
  }
  shared_->log->info("session={} call={} not accepted within {} s", session_id_, incoming_->call_id,
                     shared_->config.acceptance_timeout.count());
  if (std::shared_ptr<Line> caller = incoming_->caller.lock()) {
    asio::post(caller->executor(), [caller, id = incoming_->call_id] {
      caller->on_answer(id, Answer::Unanswered, "");
    });
  }
  end_incoming("NO ANSWER. CALL ENDED");
}

void Line::update_state() {
  if (!header_ || closed_) {
    return;
  }
  std::string state;
  if (incoming_) {
    state = "called:" + std::string(to_string(phase_));
  } else if (outgoing_) {
    state = outgoing_->connected ? "in-call" : "calling";
  } else {
    state = "menu:" + std::string(relay::tty_line::to_string(menu_->step()));
  }
  shared_->sessions.set_session_state(session_id_, std::move(state));
}

void do_accept(const std::shared_ptr<Shared>& shared) {
  shared->acceptor.async_accept(
      asio::make_strand(shared->io),
      [shared](const boost::system::error_code& error, tcp::socket socket) {
        if (error) {
          if (error == asio::error::operation_aborted || shared->stopped) {
            return;
          }
          shared->log->warn("tty line accept failed: {}", error.message());
        } else {
          std::optional<std::string> reject;
          if (shared->line_count() >= shared->config.max_lines) {
            reject =
                fmt::format("the gateway has its maximum of {} TTY lines connected; retry later",
                            shared->config.max_lines);
          }
          auto line = std::make_shared<Line>(shared, std::move(socket));
          {
            std::lock_guard lock(shared->mutex);
            shared->lines[line.get()] = line;
          }
          line->start(reject);
        }
        if (!shared->stopped) {
          do_accept(shared);
        }
      });
}

}  // namespace

std::string tty_session_id(std::int64_t started_ms, std::uint64_t counter) {
  return fmt::format("tty-{}-s{}", started_ms, counter);
}

struct TtyListener::State {
  std::shared_ptr<Shared> shared;
};

TtyListener::TtyListener(boost::asio::io_context& io, TtyLinesConfig config, CallService& calls,
                         SessionRegistry& sessions)
    : state_(std::make_shared<State>()) {
  state_->shared = std::make_shared<Shared>(io, std::move(config), calls, sessions);
}

TtyListener::~TtyListener() { stop(); }

Status TtyListener::start() {
  Shared& shared = *state_->shared;
  const Endpoint& listen = shared.config.listen;
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(listen.address, error);
  if (error) {
    return Status(StatusCode::InvalidArgument,
                  "[tty_lines] listen.address \"" + listen.address +
                      "\" is not a literal IP address; use one such as 127.0.0.1");
  }
  const tcp::endpoint endpoint(address, listen.port);
  shared.acceptor.open(endpoint.protocol(), error);
  if (!error) {
    shared.acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  }
  if (!error) {
    shared.acceptor.bind(endpoint, error);
  }
  if (!error) {
    shared.acceptor.listen(asio::socket_base::max_listen_connections, error);
  }
  if (error) {
    return Status(StatusCode::Unavailable,
                  fmt::format("cannot listen for TTY lines on {}: {}; choose a free port in "
                              "[tty_lines] listen.port",
                              format_host_port(listen.address, listen.port), error.message()));
  }
  shared.port = shared.acceptor.local_endpoint().port();
  const auto started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  shared.started_ms = started_ms.count();
  shared.log->info("tty line listener bound: {} max_lines={} realtime_pacing={}",
                   format_host_port(listen.address, shared.port.load()), shared.config.max_lines,
                   shared.config.realtime_pacing);
  asio::dispatch(shared.acceptor.get_executor(), [shared = state_->shared] { do_accept(shared); });
  return Status::ok();
}

void TtyListener::stop() {
  std::shared_ptr<Shared> shared = state_->shared;
  if (shared->stopped.exchange(true)) {
    return;
  }
  asio::post(shared->acceptor.get_executor(), [shared] {
    boost::system::error_code ignored;
    shared->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<Line>> lines;
  {
    std::lock_guard lock(shared->mutex);
    for (const auto& [key, weak] : shared->lines) {
      if (std::shared_ptr<Line> line = weak.lock()) {
        lines.push_back(line);
      }
    }
  }
  for (const std::shared_ptr<Line>& line : lines) {
    line->close_from_listener();
  }
  shared->log->info("tty line listener stopped: {} lines closing", lines.size());
}

std::uint16_t TtyListener::port() const { return state_->shared->port; }

std::size_t TtyListener::connected_lines() const {
  std::lock_guard lock(state_->shared->mutex);
  return state_->shared->lines_by_number.size();
}

}  // namespace relaygw::gateway::server
