// The gateway clock: the instant every listener stamps on calls it times itself (TTY line
// calls, provider call requests, emergency receipt).
//
// By default it is the system clock. A replay of a bundled day sets a start instant with
// start_clock_at(), which the `clock_start` configuration key calls. From then on clock_now()
// returns that instant plus the real time elapsed since the call. A replayed day is then
// stamped on the same date every run and bills the same. Differences between two clock_now()
// values are real durations either way.
//
// A replay moves a started clock forward with advance_clock_to() (the admin API's POST /clock),
// so that a day's provider steps hours apart are each stamped at the gateway clock.
//
// Thread rules: safe from any thread. start_clock_at() is meant for start-up, before the
// listeners run; a later call moves every following stamp at once.
#pragma once

#include <chrono>

#include "common/status.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::gateway::server {

// Starts the gateway clock at `start`, running at real speed from this call on.
void start_clock_at(relay::Instant start);

// Checks that a replay clock may be set to `at`: on or before two days ahead of the last
// instant the billing store takes (billing::last_call_instant()), so calls timed by the clock
// can still be stored. InvalidArgument naming `at`, the limit and the fix otherwise.
Status check_replay_clock(relay::Instant at);

// Moves the gateway clock forward to `at`, from where it runs on at real speed, and returns
// the clock's instant after the move. An `at` at or before the clock leaves it where it is, so
// the clock never goes back. FailedPrecondition when start_clock_at() never ran, because a
// gateway on the system clock bills real time; InvalidArgument when check_replay_clock fails.
Result<relay::Instant> advance_clock_to(relay::Instant at);

// The gateway clock's current instant, UTC, in milliseconds.
relay::Instant clock_now();

// The gateway clock at the system clock's full resolution, for measuring latencies from an
// instant that clock_now() stamped.
std::chrono::system_clock::time_point clock_now_exact();

}  // namespace relaygw::gateway::server
