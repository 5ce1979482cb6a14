// The parts of a replay, shared by replay.cpp and the files that run each part.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/replay/day.hpp"
#include "gateway/replay/provider_client.hpp"
#include "gateway/replay/replay.hpp"
#include "gateway/replay/tty_client.hpp"

namespace relaygw::gateway::replay {

struct ReplayContext {
  const Day& day;
  const ReplayOptions& options;
  ReplaySummary& summary;
  // One open link per provider, made on first use.
  std::map<std::string, std::unique_ptr<ProviderClient>> links;
  int next_message = 0;
  // Set once the admin API returned a response, so a later connection failure means that the
  // gateway stopped, not that the admin API is off.
  bool admin_answered = false;
  // Set when the gateway stopped responding during the provider calls, so the rest are skipped.
  bool gateway_lost = false;

  // Returns the provider's open link, connecting it first if needed.
  Result<ProviderClient*> link(const std::string& provider);
  // Opens a new link for `provider` that the caller owns.
  Result<std::unique_ptr<ProviderClient>> open_link(const std::string& provider);
  // A message id unique within this replay, for replies to name in `ref`.
  std::string message_id();
  void problem(const std::string& text) { summary.problems.push_back(text); }
};

// The billing call id the gateway gives a provider's call: the provider id, a slash and the
// provider's call id, so two providers' calls never share an id.
std::string billing_call_id(const std::string& provider, const std::string& call);

// Runs `command` of the relaygw binary against the database with the replay's actor, and
// returns its JSON output or a problem naming the command.
Result<nlohmann::json> run_staff_command(ReplayContext& context, std::vector<std::string> command,
                                         const std::string& input = {});

// Returns the message of a failed admin API request with its fix. The fix is to start the
// gateway with the admin API on, or to start it again when the API responded earlier.
std::string admin_failure(const ReplayContext& context, const Status& status);

Status add_cards(ReplayContext& context);
void run_provider_calls(ReplayContext& context);
void run_tty_calls(ReplayContext& context);
void run_staff_steps(ReplayContext& context);
void run_emergencies_under_load(ReplayContext& context);

// Drives one TTY line through `answers`: waits for each prompt, then sends the answer's audio.
// Records the prompts in `prompts`; returns the first failure.
Status answer_prompts(TtyLineClient& line, const std::vector<TtyAnswer>& answers,
                      const std::string& audio_dir, std::chrono::milliseconds timeout,
                      std::vector<std::string>& prompts);

}  // namespace relaygw::gateway::replay
