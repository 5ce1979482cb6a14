#include "gateway/server/emergency_ids.hpp"

#include "common/card_digits.hpp"

namespace relaygw::gateway::server {

std::optional<std::string> EmergencyIdTable::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto found = masked_by_id_.find(id);
  if (found == masked_by_id_.end()) {
    return std::nullopt;
  }
  return found->second;
}

std::string EmergencyIdTable::mask(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (const auto found = masked_by_id_.find(id); found != masked_by_id_.end()) {
    return found->second;
  }
  // The provider prefix is kept apart, because a digit at its end would otherwise join the
  // id's first digits into one run and be masked.
  const std::size_t slash = id.find('/');
  const std::size_t after_prefix = slash == std::string::npos ? 0 : slash + 1;
  const std::string base =
      id.substr(0, after_prefix) + mask_card_number_runs(id.substr(after_prefix));
  std::string masked = base;
  for (int suffix = 2; masked_ids_.count(masked) != 0; ++suffix) {
    masked = base + "#" + std::to_string(suffix);
  }
  masked_by_id_.emplace(id, masked);
  masked_ids_.insert(masked);
  return masked;
}

}  // namespace relaygw::gateway::server
