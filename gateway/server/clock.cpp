#include "gateway/server/clock.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace relaygw::gateway::server {
namespace {

// Milliseconds added to the system clock; 0 until start_clock_at() runs.
std::atomic<std::int64_t> offset_ms{0};

relay::Instant system_now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

void start_clock_at(relay::Instant start) {
  offset_ms.store((start - system_now()).count(), std::memory_order_relaxed);
}

std::chrono::system_clock::time_point clock_now_exact() {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(offset_ms.load(std::memory_order_relaxed));
}

relay::Instant clock_now() {
  return system_now() + std::chrono::milliseconds(offset_ms.load(std::memory_order_relaxed));
}

}  // namespace relaygw::gateway::server
