#include "gateway/server/server.hpp"

#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/logging.hpp"
#include "gateway/server/admin_api.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/host_port.hpp"
#include "gateway/server/provider_listener.hpp"
#include "gateway/server/session_registry.hpp"
#include "gateway/server/tty_listener.hpp"

namespace relaygw::gateway::server {
namespace {

namespace asio = boost::asio;

// How often billing storage is retried while it is unavailable, the emergency spool moved into
// the database once it is back, and abandoned provider emergency sessions closed.
constexpr std::chrono::seconds kStorageRetryInterval{5};
// How long a stop waits for running handlers before it stops the io_context outright.
constexpr std::chrono::seconds kStopGrace{10};

}  // namespace

struct Server::State {
  explicit State(ServerConfig server_config)
      : config(std::move(server_config)), work(asio::make_work_guard(io)), retry_timer(io) {}

  ServerConfig config;
  std::shared_ptr<spdlog::logger> log = logger("gateway");
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  asio::steady_timer retry_timer;
  std::vector<std::thread> threads;

  SessionRegistry registry;
  std::unique_ptr<EmergencyDispatcher> dispatcher;
  std::unique_ptr<CallService> calls;
  std::unique_ptr<ProviderListener> provider;
  std::unique_ptr<TtyListener> tty_lines;
  std::unique_ptr<AdminApi> admin;

  std::mutex stop_mutex;
  bool started = false;
  bool stopped = false;
  Status billing_start = Status::ok();

  void schedule_storage_retry() {
    retry_timer.expires_after(kStorageRetryInterval);
    retry_timer.async_wait([this](const boost::system::error_code& error) {
      if (error) {
        return;
      }
      (void)calls->close_abandoned_emergency_sessions(clock_now(),
                                                      config.emergency.provider_reconnect_window);
      const bool was_available = calls->storage_available();
      const Status retried = calls->retry_storage();
      if (retried && !was_available) {
        log->info("billing storage available again; normal calls are accepted");
      }
      schedule_storage_retry();
    });
  }
};

Server::Server(ServerConfig config) : state_(std::make_unique<State>(std::move(config))) {}

Server::~Server() { stop(); }

Status Server::start() {
  State& state = *state_;
  const ServerConfig& config = state.config;
  state.log->info("relaygw serve starting: config={} worker_threads={}", config.source_file,
                  config.worker_threads);

  if (config.clock_start) {
    start_clock_at(*config.clock_start);
    state.log->info("gateway clock starts at {}", relay::format_instant(*config.clock_start));
  }
  state.dispatcher = std::make_unique<EmergencyDispatcher>(config.emergency);
  // The dispatcher logs its own failure.
  Status dispatcher_started = state.dispatcher->start();
  if (!dispatcher_started) {
    return dispatcher_started;
  }

  state.calls = std::make_unique<CallService>(config.billing, state.registry, *state.dispatcher);
  // A failure is logged inside and leaves the service in emergency-only mode.
  state.billing_start = state.calls->start();

  if (config.provider_link.enabled) {
    state.provider =
        std::make_unique<ProviderListener>(state.io, config.provider_link, *state.calls);
    Status listening = state.provider->start();
    if (!listening) {
      return listening;
    }
    const auto bound = state.provider->local_endpoint();
    state.log->info("provider link listening on {}", format_host_port(bound));
  }
  if (config.tty_lines.enabled) {
    state.tty_lines =
        std::make_unique<TtyListener>(state.io, config.tty_lines, *state.calls, state.registry);
    Status listening = state.tty_lines->start();
    if (!listening) {
      state.log->error("TTY line listener not started: {}", listening.message());
      return listening;
    }
    state.log->info("TTY line listener listening on {}",
                    format_host_port(config.tty_lines.listen.address, state.tty_lines->port()));
  }
  if (config.admin.enabled) {
    state.admin = std::make_unique<AdminApi>(
        state.io, config.admin,
        AdminApiParts{state.registry, state.calls.get(), state.dispatcher.get(), config.billing});
    Status listening = state.admin->start();
    if (!listening) {
      state.log->error("admin API not started: {}", listening.message());
      return listening;
    }
  }

  state.schedule_storage_retry();
  const int threads = std::max(1, config.worker_threads);
  for (int i = 0; i < threads; ++i) {
    state.threads.emplace_back([&state] { state.io.run(); });
  }
  {
    std::lock_guard lock(state.stop_mutex);
    state.started = true;
  }
  state.log->info("relaygw serve started: billing {}",
                  state.calls->storage_available() ? "available" : "unavailable (emergency only)");
  return Status::ok();
}

void Server::stop() {
  State& state = *state_;
  {
    std::lock_guard lock(state.stop_mutex);
    if (state.stopped) {
      return;
    }
    state.stopped = true;
  }
  // Stop accepting and close connections first, so no new work arrives.
  if (state.provider) {
    state.provider->stop();
  }
  if (state.tty_lines) {
    state.tty_lines->stop();
  }
  if (state.admin) {
    // Runs while the worker threads still run the io_context, which the API's closes need.
    state.admin->stop();
  }
  asio::post(state.io, [&state] { state.retry_timer.cancel(); });
  state.work.reset();

  // Handlers that are running finish their billing writes; a handler stuck past the grace
  // period is abandoned so the process still exits.
  auto joined = std::async(std::launch::async, [&state] {
    for (std::thread& thread : state.threads) {
      thread.join();
    }
  });
  if (joined.wait_for(kStopGrace) != std::future_status::ready) {
    state.log->error("worker threads still busy {} s after the stop; stopping them now",
                     kStopGrace.count());
    state.io.stop();
    joined.wait();
  }
  state.threads.clear();

  if (state.calls) {
    // The PSAP hears that each open emergency session ended while its leg still runs.
    (void)state.calls->close_emergency_sessions(clock_now());
  }
  if (state.dispatcher) {
    state.dispatcher->stop();
  }
  if (state.calls && state.calls->storage_available()) {
    // Moves emergency records spooled up to now into the database.
    (void)state.calls->retry_storage();
  }
  state.provider.reset();
  state.tty_lines.reset();
  state.admin.reset();
  state.log->info("relaygw serve stopped");
}

Status Server::billing_start_status() const { return state_->billing_start; }

std::optional<Endpoint> Server::provider_link_endpoint() const {
  if (!state_->provider) {
    return std::nullopt;
  }
  const auto bound = state_->provider->local_endpoint();
  return Endpoint{bound.address().to_string(), bound.port()};
}

std::optional<Endpoint> Server::tty_lines_endpoint() const {
  if (!state_->tty_lines) {
    return std::nullopt;
  }
  return Endpoint{state_->config.tty_lines.listen.address, state_->tty_lines->port()};
}

std::optional<Endpoint> Server::admin_endpoint() const {
  if (!state_->admin) {
    return std::nullopt;
  }
  return state_->admin->endpoint();
}

CallService& Server::calls() { return *state_->calls; }

SessionRegistry& Server::sessions() { return state_->registry; }

}  // namespace relaygw::gateway::server
