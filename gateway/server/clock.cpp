#include "gateway/server/clock.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

#include "billing/call_time.hpp"

namespace relaygw::gateway::server {
namespace {

// Milliseconds added to the system clock; 0 until start_clock_at() runs.
std::atomic<std::int64_t> offset_ms{0};
std::atomic<bool> clock_started{false};

relay::Instant system_now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

void start_clock_at(relay::Instant start) {
  offset_ms.store((start - system_now()).count(), std::memory_order_relaxed);
  clock_started.store(true, std::memory_order_relaxed);
}

Status check_replay_clock(relay::Instant at) {
  // A call that starts at the clock may last up to a day, so the clock stops two days short
  // of the last instant the store takes. Past it, every call and emergency record would fail.
  const relay::Instant latest = billing::last_call_instant() - std::chrono::hours(48);
  if (at > latest) {
    return Status(StatusCode::InvalidArgument,
                  "clock instant " + relay::format_instant(at) + " is after " +
                      relay::format_instant(latest) +
                      ", the latest a replay clock may reach, because calls after it could not "
                      "be stored; give an instant on or before it");
  }
  return Status::ok();
}

Result<relay::Instant> advance_clock_to(relay::Instant at) {
  if (!clock_started.load(std::memory_order_relaxed)) {
    return Status(StatusCode::FailedPrecondition,
                  "the gateway clock follows the system clock, so it cannot be moved; set "
                  "[server] clock_start in the configuration to replay a day");
  }
  if (Status allowed = check_replay_clock(at); !allowed) {
    return allowed;
  }
  const std::int64_t requested = (at - system_now()).count();
  std::int64_t current = offset_ms.load(std::memory_order_relaxed);
  // Two moves at once keep the later instant, so the clock never goes back.
  while (requested > current &&
         !offset_ms.compare_exchange_weak(current, requested, std::memory_order_relaxed)) {
  }
  return clock_now();
}

std::chrono::system_clock::time_point clock_now_exact() {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(offset_ms.load(std::memory_order_relaxed));
}

relay::Instant clock_now() {
  return system_now() + std::chrono::milliseconds(offset_ms.load(std::memory_order_relaxed));
}

}  // namespace relaygw::gateway::server
