// Replay of a bundled day against a running gateway over loopback: the TTY line calls, the
// relay provider calls, the staff credits and dispute, and the emergency calls under load.
//
// The replay checks each call's outcome against the day (authorized or refused) and lists
// every difference as a problem; it does not read billing results, which the reports show.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.hpp"
#include "gateway/replay/day.hpp"

namespace relaygw::gateway::replay {

struct ReplayOptions {
  std::string provider_address = "127.0.0.1";
  std::uint16_t provider_port = 0;  // 0: skip the provider calls and the load
  std::string tty_address = "127.0.0.1";
  std::uint16_t tty_port = 0;  // 0: skip the TTY line calls
  std::string admin_address = "127.0.0.1";
  std::uint16_t admin_port = 0;  // 0: no admin API figures
  std::string admin_token;
  // Folder with ca.pem and, per provider, <provider>.pem and <provider>-key.pem.
  std::string certs_dir;
  std::string database;  // billing database for the staff commands; empty: skip them
  std::string relaygw;   // the relaygw binary that runs the staff commands
  std::chrono::milliseconds timeout{30000};  // per reply or prompt
  // A provider call id of the day: run only the provider calls from it on, then the staff
  // steps, after a replay that stopped there. Empty: run the whole day.
  std::string resume_from;
};

struct CallOutcome {
  std::string id;
  std::string kind;     // "tty-line", "provider" or "emergency"
  std::string service;  // relay service, "tty" for a TTY line
  std::string billing;
  std::string expected;  // "accepted" or "refused"
  std::string result;    // "accepted", "refused" or "failed"
  std::string reason;    // refusal reason code or failure message
  std::string quote_total;
};

struct EmergencyOutcome {
  std::string id;
  std::string kind;
  bool authorized = false;
  // From sending the message that starts the emergency to the gateway's reply, as the client
  // measures it; the PSAP dispatch itself is in the admin API figures.
  double reply_ms = 0.0;
};

struct ReplaySummary {
  std::vector<CallOutcome> calls;
  std::vector<EmergencyOutcome> emergencies;
  int load_sessions_opened = 0;
  int credits_posted = 0;
  int disputes_resolved = 0;
  nlohmann::json admin_queues;  // GET /queues after the day, or null
  std::vector<std::string> problems;
};

// Runs every part of `day` whose endpoint is set in `options`. Fails only when the day cannot
// start (a certificate or a first connection is missing); later differences are problems.
Result<ReplaySummary> run_day(const Day& day, const ReplayOptions& options);

nlohmann::json summary_json(const ReplaySummary& summary);
void print_summary(const ReplaySummary& summary, std::ostream& out);

}  // namespace relaygw::gateway::replay
