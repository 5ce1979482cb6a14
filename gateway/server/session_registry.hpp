// SessionRegistry: every live session and call in the gateway, for routing, staff monitoring
// and take-over. Adapters add and update entries; the admin API reads snapshots.
//
// Thread rules: every method is safe from any thread. Snapshots are copies; nothing returned
// refers into the registry.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "relay-adapters/events.hpp"

namespace relaygw::gateway::server {

using Clock = std::chrono::system_clock;

struct SessionInfo {
  std::string session_id;
  relay::Adapter adapter = relay::Adapter::TtyLine;
  relay::RelayService service = relay::RelayService::Tty;
  std::string provider_id;    // empty for TTY lines
  std::string caller_number;  // E.164
  std::string agent_id;
  bool emergency = false;
  std::string state;  // free text for staff, for example "menu:billing" or "in-call"
  Clock::time_point opened_at;
};

// The states of an automated collect or third-number call while it waits for the billed
// party.
enum class CollectState {
  Ringing,        // (ringing) routed to the called line, nothing heard yet
  VoicePrompt,    // (voice-prompt) no TTY tones heard; voice prompts would be playing
  TextPrompt,     // (text-prompt) TTY tones heard on the called side; prompts sent as text
  AwaitingStaff,  // (awaiting-staff) no answer the automation can use; waiting for staff
  TakenOver,      // (taken-over) a staff member has the call
  Accepted,       // (accepted)
  Refused,        // (refused)
};

std::string_view to_string(CollectState state);

struct CollectSession {
  std::string call_id;
  std::string session_id;
  std::string called_number;
  std::string billed_number;
  CollectState state = CollectState::Ringing;
  bool tty_tones_heard = false;
  Clock::time_point waiting_since;
  std::string taken_over_by;  // staff id once taken over
};

class SessionRegistry {
 public:
  // Adds or replaces a session.
  void open_session(SessionInfo info);
  void set_session_state(const std::string& session_id, std::string state);
  void close_session(const std::string& session_id);
  std::optional<SessionInfo> find_session(const std::string& session_id) const;
  std::vector<SessionInfo> sessions() const;

  // Automated collect monitoring. The entry's callbacks run outside the registry lock.
  // `on_take_over` runs when staff take the call over, so the adapter can stop its automation.
  // `on_state_change` runs when update_collect changes the state, so the adapter learns of an
  // acceptance that staff recorded.
  void add_collect(CollectSession session,
                   std::function<void(const std::string& staff)> on_take_over = {},
                   std::function<void(CollectState state)> on_state_change = {});
  // Updates state and tones-heard, and notifies the adapter when the state changed; unknown
  // call ids are ignored.
  void update_collect(const std::string& call_id, CollectState state, bool tty_tones_heard);
  void remove_collect(const std::string& call_id);
  std::vector<CollectSession> collect_sessions() const;

  // Hands a waiting collect call to `staff`. Fails with NotFound for an unknown call and with
  // FailedPrecondition when it is already accepted, refused or taken over by someone else.
  Status take_over(const std::string& call_id, const std::string& staff);

 private:
  struct CollectEntry {
    CollectSession session;
    std::function<void(const std::string&)> on_take_over;
    std::function<void(CollectState)> on_state_change;
  };

  mutable std::mutex mutex_;
  std::map<std::string, SessionInfo> sessions_;
  std::map<std::string, CollectEntry> collect_;
};

}  // namespace relaygw::gateway::server
