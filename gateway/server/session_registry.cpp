#include "gateway/server/session_registry.hpp"

#include <utility>

namespace relaygw::gateway::server {

std::string_view to_string(CollectState state) {
  switch (state) {
    case CollectState::Ringing:
      return "ringing";
    case CollectState::VoicePrompt:
      return "voice-prompt";
    case CollectState::TextPrompt:
      return "text-prompt";
    case CollectState::AwaitingStaff:
      return "awaiting-staff";
    case CollectState::TakenOver:
      return "taken-over";
    case CollectState::Accepted:
      return "accepted";
    case CollectState::Refused:
      return "refused";
  }
  return "unknown";
}

void SessionRegistry::open_session(SessionInfo info) {
  std::lock_guard lock(mutex_);
  std::string id = info.session_id;
  sessions_.insert_or_assign(std::move(id), std::move(info));
}

void SessionRegistry::set_session_state(const std::string& session_id, std::string state) {
  std::lock_guard lock(mutex_);
  auto found = sessions_.find(session_id);
  if (found != sessions_.end()) {
    found->second.state = std::move(state);
  }
}

void SessionRegistry::close_session(const std::string& session_id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session_id);
}

std::optional<SessionInfo> SessionRegistry::find_session(const std::string& session_id) const {
  std::lock_guard lock(mutex_);
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) {
    return std::nullopt;
  }
  return found->second;
}

std::vector<SessionInfo> SessionRegistry::sessions() const {
  std::lock_guard lock(mutex_);
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (const auto& [id, info] : sessions_) {
    out.push_back(info);
  }
  return out;
}

void SessionRegistry::add_collect(CollectSession session,
                                  std::function<void(const std::string&)> on_take_over,
                                  std::function<void(CollectState)> on_state_change) {
  std::lock_guard lock(mutex_);
  std::string id = session.call_id;
  collect_.insert_or_assign(std::move(id), CollectEntry{std::move(session), std::move(on_take_over),
                                                        std::move(on_state_change)});
}

void SessionRegistry::update_collect(const std::string& call_id, CollectState state,
                                     bool tty_tones_heard) {
  std::function<void(CollectState)> notify;
  {
    std::lock_guard lock(mutex_);
    auto found = collect_.find(call_id);
    if (found == collect_.end()) {
      return;
    }
    CollectSession& session = found->second.session;
    if (session.state != state) {
      notify = found->second.on_state_change;
    }
    session.state = state;
    session.tty_tones_heard = session.tty_tones_heard || tty_tones_heard;
  }
  if (notify) {
    notify(state);
  }
}

void SessionRegistry::remove_collect(const std::string& call_id) {
  std::lock_guard lock(mutex_);
  collect_.erase(call_id);
}

std::vector<CollectSession> SessionRegistry::collect_sessions() const {
  std::lock_guard lock(mutex_);
  std::vector<CollectSession> out;
  out.reserve(collect_.size());
  for (const auto& [id, entry] : collect_) {
    out.push_back(entry.session);
  }
  return out;
}

Status SessionRegistry::take_over(const std::string& call_id, const std::string& staff) {
  std::function<void(const std::string&)> notify;
  {
    std::lock_guard lock(mutex_);
    auto found = collect_.find(call_id);
    if (found == collect_.end()) {
      return Status(StatusCode::NotFound,
                    "no live collect call " + call_id + "; list them with GET /collect");
    }
    CollectSession& session = found->second.session;
    if (session.state == CollectState::Accepted || session.state == CollectState::Refused) {
      return Status(StatusCode::FailedPrecondition, "collect call " + call_id + " is already " +
                                                        std::string(to_string(session.state)) +
                                                        "; nothing is left to take over");
    }
    if (session.state == CollectState::TakenOver && session.taken_over_by != staff) {
      return Status(
          StatusCode::FailedPrecondition,
          "collect call " + call_id + " is already taken over by " + session.taken_over_by);
    }
    session.state = CollectState::TakenOver;
    session.taken_over_by = staff;
    notify = found->second.on_take_over;
  }
  if (notify) {
    notify(staff);
  }
  return Status::ok();
}

}  // namespace relaygw::gateway::server
