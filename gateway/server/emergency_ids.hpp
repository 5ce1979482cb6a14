// Masked forms of the provider ids of emergency sessions and calls that contain a card number.
// Other provider messages with such an id are rejected (CallService::reject_provider_card_numbers),
// but an emergency message never is, so the gateway replaces the id with a masked form before
// anything logs, stores, dispatches or echoes it.
//
// Thread rules: every method is safe from any thread.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace relaygw::gateway::server {

class EmergencyIdTable {
 public:
  // Returns the masked form that mask() gave `id` earlier, or nullopt.
  std::optional<std::string> find(const std::string& id) const;

  // Returns `id`, a prefixed provider id ("acme/E-4111111111111111"), with every run of 10 or
  // more digits after its provider prefix masked to its last four (mask_card_number_runs):
  // "acme/E-************1111". The same id always gets the same form. When another id already
  // has that form, "#2", "#3" and so on is appended, so two sessions or calls never share an
  // id. A provider id cannot contain '*' or '#', so no masked form equals an unmasked id.
  // NOTE: the table keeps every masked id until the gateway stops; only emergency messages
  // with card numbers in their ids add to it.
  std::string mask(const std::string& id);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> masked_by_id_;
  std::set<std::string> masked_ids_;
};

}  // namespace relaygw::gateway::server
