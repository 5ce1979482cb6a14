// Gateway load: many TTY lines streaming real TTY audio at real time into the gateway's TTY
// line listener on loopback, with emergency sessions dispatched to a PSAP during the load.
//
// Each line sends its header, then a recorded TTY turn ending in GA (a corpus WAV), then
// silence until the next cycle, all paced at 8,000 mu-law bytes a second. A line keeps up with
// real time when the gateway's reply to each turn starts soon after the turn ends: a gateway
// that falls behind demodulating would reply later and later. Meanwhile emergency sessions go
// to the EmergencyDispatcher, whose latency (received to written to the PSAP) is reported
// next to the queueing delay of the normal-session io_context, measured by posting a probe to
// it. The load generator and the PSAP run in this process, so their CPU time is counted too;
// the figures split it by thread.
//
// Usage: gateway_load_bench [--lines 1000] [--seconds 120] [--worker-threads 1] ...
// (--help lists every option). The figures go to docs/benchmarks.md.
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "billing/numbering.hpp"
#include "gateway/logging.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/session_registry.hpp"
#include "gateway/server/tty_listener.hpp"
#include "relay-adapters/tty_line/line_header.hpp"
#include "tty/audio_file.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using namespace relaygw::gateway::server;

namespace {

constexpr int kBytesPerSecond = 8000;  // mu-law at 8 kHz
constexpr auto kChunkPeriod = std::chrono::milliseconds(100);
constexpr std::size_t kChunkBytes = kBytesPerSecond / 10;

struct Options {
  int lines = 1000;
  int seconds = 120;
  int worker_threads = 1;
  int cycle_seconds = 15;
  int ramp_seconds = 10;
  int emergency_interval_ms = 200;
  std::string wav =
      (relaygw::billing::default_data_dir() / "tty-corpus" / "clean__d01.wav").string();
  std::string log_level = "err";
};

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

double thread_cpu_seconds(pthread_t thread) {
  clockid_t clock;
  timespec spent{};
  if (pthread_getcpuclockid(thread, &clock) != 0 || clock_gettime(clock, &spent) != 0) {
    return 0.0;
  }
  return static_cast<double>(spent.tv_sec) + static_cast<double>(spent.tv_nsec) / 1e9;
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0.0;
  }
  std::sort(values.begin(), values.end());
  const std::size_t index =
      std::min(values.size() - 1, static_cast<std::size_t>(p * static_cast<double>(values.size())));
  return values[index];
}

std::string summary(const std::vector<double>& values, const char* unit) {
  char text[160];
  std::snprintf(text, sizeof text, "n=%zu p50=%.2f%s p99=%.2f%s max=%.2f%s", values.size(),
                percentile(values, 0.50), unit, percentile(values, 0.99), unit,
                values.empty() ? 0.0 : *std::max_element(values.begin(), values.end()), unit);
  return text;
}

// The caller's audio for one cycle: the recorded turn, then mu-law silence.
std::vector<std::uint8_t> cycle_audio(const Options& options) {
  auto audio = relaygw::tty::read_audio_file(options.wav);
  if (!audio) {
    std::cerr << "gateway_load_bench: " << audio.status().message() << "\n";
    std::exit(1);
  }
  if (audio->sample_rate_hz != 8000.0) {
    std::cerr << "gateway_load_bench: " << options.wav << " is not 8 kHz audio\n";
    std::exit(1);
  }
  std::vector<std::uint8_t> bytes;
  for (float sample : audio->samples) {
    const float clipped = std::clamp(sample, -1.0f, 1.0f);
    bytes.push_back(relaygw::tty::linear_to_mulaw(static_cast<std::int16_t>(clipped * 32767.0f)));
  }
  const std::size_t cycle_bytes = static_cast<std::size_t>(options.cycle_seconds) * kBytesPerSecond;
  if (bytes.size() + kBytesPerSecond > cycle_bytes) {
    std::cerr << "gateway_load_bench: the turn is longer than --cycle-seconds allows\n";
    std::exit(1);
  }
  bytes.resize(cycle_bytes, relaygw::tty::linear_to_mulaw(0));
  return bytes;
}

// One simulated TTY line: streams the cycle audio at real time and times the gateway's replies.
class Line : public std::enable_shared_from_this<Line> {
 public:
  Line(asio::io_context& io, int index, const std::vector<std::uint8_t>& cycle,
       std::size_t turn_bytes)
      : socket_(io), timer_(io), index_(index), cycle_(cycle), turn_bytes_(turn_bytes) {}

  void start(tcp::endpoint gateway, SteadyClock::time_point at) {
    next_chunk_ = at;
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this(), gateway](boost::system::error_code ec) {
      if (!ec) {
        self->connect(gateway);
      }
    });
  }

  void stop() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

  // Replies that began within this many seconds of the turn's end; late ones count apart.
  std::vector<double> reply_latencies_s;
  double max_send_lag_s = 0.0;  // how late the generator itself sent a chunk
  bool connected = false;
  bool closed_by_gateway = false;
  int turns_sent = 0;
  int turns_unanswered = 0;

 private:
  void connect(tcp::endpoint gateway) {
    socket_.async_connect(gateway, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        self->closed_by_gateway = true;
        return;
      }
      self->connected = true;
      boost::system::error_code ignored;
      self->socket_.set_option(tcp::no_delay(true), ignored);
      relaygw::relay::tty_line::LineHeader header;
      header.line_number = "+1212" + std::to_string(5000000 + self->index_);
      header.encoding = relaygw::tty::AudioEncoding::Mulaw;
      self->header_ = relaygw::relay::tty_line::format_line_header(header);
      asio::async_write(self->socket_, asio::buffer(self->header_),
                        [self](boost::system::error_code error, std::size_t) {
                          if (!error) {
                            self->next_chunk_ = SteadyClock::now();
                            self->send_chunk();
                            self->read();
                          }
                        });
    });
  }

  void send_chunk() {
    const double lag = std::chrono::duration<double>(SteadyClock::now() - next_chunk_).count();
    max_send_lag_s = std::max(max_send_lag_s, lag);
    const std::size_t offset = position_ % cycle_.size();
    const std::uint8_t* data = cycle_.data() + offset;
    position_ += kChunkBytes;
    const bool turn_ended = offset < turn_bytes_ && offset + kChunkBytes >= turn_bytes_;
    asio::async_write(
        socket_, asio::buffer(data, kChunkBytes),
        [self = shared_from_this(), turn_ended](boost::system::error_code ec, std::size_t) {
          if (ec) {
            return;
          }
          if (turn_ended) {
            if (self->awaiting_reply_) {
              ++self->turns_unanswered;
            }
            ++self->turns_sent;
            self->awaiting_reply_ = true;
            self->turn_ended_at_ = SteadyClock::now();
          }
          self->next_chunk_ += kChunkPeriod;
          self->timer_.expires_at(self->next_chunk_);
          self->timer_.async_wait([self](boost::system::error_code error) {
            if (!error) {
              self->send_chunk();
            }
          });
        });
  }

  void read() {
    socket_.async_read_some(
        asio::buffer(inbound_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t length) {
          if (ec) {
            if (ec != asio::error::operation_aborted) {
              self->closed_by_gateway = true;
              self->timer_.cancel();
            }
            return;
          }
          if (length > 0 && self->awaiting_reply_) {
            self->awaiting_reply_ = false;
            self->reply_latencies_s.push_back(
                std::chrono::duration<double>(SteadyClock::now() - self->turn_ended_at_).count());
          }
          self->read();
        });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  int index_;
  const std::vector<std::uint8_t>& cycle_;
  std::size_t turn_bytes_;
  std::string header_;
  std::size_t position_ = 0;
  SteadyClock::time_point next_chunk_;
  bool awaiting_reply_ = false;
  SteadyClock::time_point turn_ended_at_;
  std::array<std::uint8_t, 4096> inbound_{};
};

// A PSAP on loopback that acks every dispatch and counts what arrives.
class BenchPsap {
 public:
  BenchPsap() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~BenchPsap() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  pthread_t native_thread() { return thread_.native_handle(); }
  std::atomic<std::uint64_t> dispatches{0};
  std::atomic<std::uint64_t> lines{0};

 private:
  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    asio::streambuf buffer;
    std::string ack;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        return;
      }
      read(std::make_shared<Connection>(std::move(socket)));
      accept();
    });
  }

  void read(std::shared_ptr<Connection> connection) {
    asio::async_read_until(
        connection->socket, connection->buffer, '\n',
        [this, connection](boost::system::error_code ec, std::size_t length) {
          if (ec) {
            return;
          }
          std::string line(asio::buffers_begin(connection->buffer.data()),
                           asio::buffers_begin(connection->buffer.data()) + length);
          connection->buffer.consume(length);
          ++lines;
          const nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
          if (!message.is_discarded() && message.value("type", "") == "dispatch") {
            ++dispatches;
            // Acks are small and rare, so a blocking write keeps this PSAP simple.
            const std::string ack =
                nlohmann::json{{"type", "ack"}, {"session", message["session"]}}.dump() + "\n";
            boost::system::error_code ignored;
            asio::write(connection->socket, asio::buffer(ack), ignored);
          }
          read(connection);
        });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

// Posts a probe to the normal-session io_context every 50 ms and records how long it waited.
class QueueProbe {
 public:
  explicit QueueProbe(asio::io_context& io) : io_(io), timer_(timer_io_) {}
  void start() {
    schedule();
    thread_ = std::thread([this] { timer_io_.run(); });
  }
  void stop() {
    asio::post(timer_io_, [this] { timer_.cancel(); });
    thread_.join();
  }
  std::vector<double> delays_ms() {
    std::lock_guard lock(mutex_);
    return delays_ms_;
  }

 private:
  void schedule() {
    timer_.expires_after(std::chrono::milliseconds(50));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) {
        return;
      }
      const SteadyClock::time_point posted = SteadyClock::now();
      asio::post(io_, [this, posted] {
        const double waited =
            std::chrono::duration<double, std::milli>(SteadyClock::now() - posted).count();
        std::lock_guard lock(mutex_);
        delays_ms_.push_back(waited);
      });
      schedule();
    });
  }

  asio::io_context& io_;
  asio::io_context timer_io_;
  asio::steady_timer timer_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<double> delays_ms_;
};

int run(const Options& options) {
  relaygw::gateway::init_logging(options.log_level);
  const std::vector<std::uint8_t> cycle = cycle_audio(options);
  const std::size_t turn_bytes =
      relaygw::tty::read_audio_file(options.wav)->samples.size();  // checked by cycle_audio
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("relaygw-load-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(folder);

  // The emergency side: one reserved thread and a PSAP on loopback.
  BenchPsap psap;
  EmergencyConfig emergency;
  emergency.routes.push_back(PsapRoute{"psap-bench", {"127.0.0.1", psap.port()}, {}, {}, true});
  emergency.reserved_threads = 1;
  emergency.spool_file = (folder / "emergency-spool.jsonl").string();
  EmergencyDispatcher dispatcher(emergency);
  if (!dispatcher.start().is_ok()) {
    return 1;
  }

  // The normal side. The database file does not exist, so billing runs in emergency-only
  // mode: each line still demodulates and runs its menu, but no call is posted.
  SessionRegistry registry;
  BillingConfig billing;
  billing.database = (folder / "absent" / "relaygw.db").string();
  CallService calls(billing, registry, dispatcher);
  (void)calls.start();
  asio::io_context normal_io;
  auto normal_work = asio::make_work_guard(normal_io);
  TtyLinesConfig tty;
  tty.listen = {"127.0.0.1", 0};
  tty.max_lines = static_cast<std::size_t>(options.lines) + 16;
  TtyListener listener(normal_io, tty, calls, registry);
  if (!listener.start().is_ok()) {
    return 1;
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < options.worker_threads; ++i) {
    workers.emplace_back([&normal_io] { normal_io.run(); });
  }
  QueueProbe probe(normal_io);
  probe.start();

  // The load generator: every line starts within the ramp, spread evenly.
  asio::io_context client_io;
  const tcp::endpoint gateway(asio::ip::make_address("127.0.0.1"), listener.port());
  std::vector<std::shared_ptr<Line>> lines;
  const SteadyClock::time_point start = SteadyClock::now();
  for (int i = 0; i < options.lines; ++i) {
    lines.push_back(std::make_shared<Line>(client_io, i, cycle, turn_bytes));
    lines.back()->start(gateway, start + std::chrono::milliseconds(options.ramp_seconds * 1000 * i /
                                                                   options.lines));
  }
  std::thread client([&client_io] { client_io.run(); });

  // Emergency sessions arrive during the load, after the ramp, each with two text turns.
  std::atomic<bool> running{true};
  std::atomic<int> emergency_sessions{0};
  std::thread emergency_caller([&] {
    std::this_thread::sleep_for(std::chrono::seconds(options.ramp_seconds));
    int n = 0;
    while (running) {
      EmergencySession session;
      session.session_id = "bench-e" + std::to_string(n);
      session.call_id = "call-bench-e" + std::to_string(n);
      session.caller_number = "+13125550" + std::to_string(100 + n % 900);
      session.caller_location = "121 N LaSalle St, Chicago, IL 60602";
      session.service = relaygw::relay::RelayService::RelayIp;
      session.received_at = clock_now();
      if (dispatcher.dispatch(session).is_ok()) {
        ++emergency_sessions;
      }
      dispatcher.forward_text(session.session_id, "CALLER NEEDS AMBULANCE GA");
      if (n >= 4) {
        dispatcher.close("bench-e" + std::to_string(n - 4), clock_now());
      }
      ++n;
      std::this_thread::sleep_for(std::chrono::milliseconds(options.emergency_interval_ms));
    }
  });

  const double cpu_start = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
  const double wall = seconds_since(start);
  const double cpu_total = process_cpu_seconds() - cpu_start;
  double cpu_workers = 0.0;
  for (std::thread& worker : workers) {
    cpu_workers += thread_cpu_seconds(worker.native_handle());
  }
  const double cpu_client = thread_cpu_seconds(client.native_handle());
  const double cpu_psap = thread_cpu_seconds(psap.native_thread());
  const std::size_t connected_at_end = listener.connected_lines();

  running = false;
  emergency_caller.join();
  asio::post(client_io, [&lines] {
    for (auto& line : lines) {
      line->stop();
    }
  });
  client.join();
  probe.stop();
  listener.stop();
  normal_work.reset();
  normal_io.stop();
  for (std::thread& worker : workers) {
    worker.join();
  }
  const DispatchFigures figures = dispatcher.figures();
  dispatcher.stop();
  std::filesystem::remove_all(folder);

  // Per-line keep-up: every turn gets a reply, and none later than 2 s after the turn ended.
  std::vector<double> replies_ms;
  std::vector<double> line_max_s;
  double max_send_lag = 0.0;
  int lines_connected = 0;
  int lines_closed = 0;
  int lines_behind = 0;
  int turns = 0;
  int unanswered = 0;
  for (const auto& line : lines) {
    lines_connected += line->connected ? 1 : 0;
    lines_closed += line->closed_by_gateway ? 1 : 0;
    turns += line->turns_sent;
    unanswered += line->turns_unanswered;
    max_send_lag = std::max(max_send_lag, line->max_send_lag_s);
    double worst = 0.0;
    for (double latency : line->reply_latencies_s) {
      replies_ms.push_back(latency * 1000.0);
      worst = std::max(worst, latency);
    }
    line_max_s.push_back(worst);
    lines_behind += (worst > 2.0 || line->reply_latencies_s.empty()) ? 1 : 0;
  }

  std::printf(
      "gateway load: %d lines, %d s, %d worker thread(s), 1 emergency thread, "
      "%u hardware threads\n",
      options.lines, options.seconds, options.worker_threads, std::thread::hardware_concurrency());
  std::printf("lines: connected %d, still connected at end %zu, closed by gateway %d\n",
              lines_connected, connected_at_end, lines_closed);
  std::printf("turns sent %d, unanswered before the next turn %d\n", turns, unanswered);
  std::printf("reply start after turn end: %s\n", summary(replies_ms, " ms").c_str());
  std::printf("lines behind real time (a reply over 2 s late, or none): %d\n", lines_behind);
  std::printf("load generator max send lag: %.1f ms\n", max_send_lag * 1000.0);
  std::printf(
      "cpu: %.2f cores in all (%.1f s over %.1f s); normal workers %.1f s, load "
      "generator %.1f s, psap %.1f s, rest (emergency, spool, kernel) %.1f s\n",
      cpu_total / wall, cpu_total, wall, cpu_workers, cpu_client, cpu_psap,
      cpu_total - cpu_workers - cpu_client - cpu_psap);
  std::printf("normal io_context queue delay: %s\n", summary(probe.delays_ms(), " ms").c_str());
  std::printf("emergency: sessions %d, dispatched %llu, received by psap %llu, redials %llu\n",
              emergency_sessions.load(), static_cast<unsigned long long>(figures.dispatched),
              static_cast<unsigned long long>(psap.dispatches.load()),
              static_cast<unsigned long long>(figures.redials));
  std::printf("emergency dispatch latency (received to written to psap): %s\n",
              summary(figures.latencies_ms, " ms").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Gateway load: TTY lines at real time with emergency dispatches"};
  app.add_option("--lines", options.lines, "Concurrent TTY lines")->capture_default_str();
  app.add_option("--seconds", options.seconds, "Run length in seconds, ramp included")
      ->capture_default_str();
  app.add_option("--worker-threads", options.worker_threads,
                 "Threads on the normal-session io_context")
      ->capture_default_str();
  app.add_option("--cycle-seconds", options.cycle_seconds,
                 "Seconds between the starts of a line's turns")
      ->capture_default_str();
  app.add_option("--ramp-seconds", options.ramp_seconds, "Seconds over which the lines connect")
      ->capture_default_str();
  app.add_option("--emergency-interval-ms", options.emergency_interval_ms,
                 "Milliseconds between emergency sessions")
      ->capture_default_str();
  app.add_option("--wav", options.wav, "8 kHz TTY recording of one turn ending in GA")
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "Gateway log level")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return run(options);
}
