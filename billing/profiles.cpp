#include "billing/profiles.hpp"

namespace relaygw::billing {
namespace {

std::vector<std::pair<std::string, std::string>> profile_fields(const Line& line) {
  return {{"listing_name", line.listing_name},
          {"line_type", std::string(to_string(line.type))},
          {"screening", std::string(to_string(line.screening))},
          {"state", line.state},
          {"rate_center", line.rate_center},
          {"time_zone", line.time_zone},
          {"pic", line.pic},
          {"is_tty", line.is_tty ? "true" : "false"},
          {"tty_discount_eligible", line.tty_discount_eligible ? "true" : "false"}};
}

ProfileChange change_of(const LineVersion& version, const Line& before) {
  ProfileChange change;
  change.number = version.line.number;
  change.version = version.version;
  change.actor = version.actor;
  change.at = version.at;
  change.reason = version.reason;
  change.fields = diff_lines(before, version.line);
  return change;
}

}  // namespace

std::vector<FieldChange> diff_lines(const Line& before, const Line& after) {
  const auto old_fields = profile_fields(before);
  const auto new_fields = profile_fields(after);
  std::vector<FieldChange> changes;
  for (std::size_t i = 0; i < old_fields.size(); ++i) {
    if (old_fields[i].second != new_fields[i].second) {
      changes.push_back({old_fields[i].first, old_fields[i].second, new_fields[i].second});
    }
  }
  return changes;
}

Result<std::vector<ProfileChange>> profile_history(Store& store, std::string_view number) {
  Result<std::string> normalized = normalize_line_number(number);
  if (!normalized) {
    return normalized.status();
  }
  Result<std::vector<LineVersion>> versions = store.line_history(*normalized);
  if (!versions) {
    return versions.status();
  }
  if (versions->empty()) {
    return Status(StatusCode::NotFound, "line " + *normalized +
                                            " is not in the directory; add it with `relaygw "
                                            "line add`");
  }
  std::vector<ProfileChange> changes;
  const LineVersion* previous = nullptr;
  for (const LineVersion& version : *versions) {
    if (previous == nullptr) {
      // The first version sets every field.
      ProfileChange created = change_of(version, version.line);
      for (const auto& [name, value] : profile_fields(version.line)) {
        created.fields.push_back({name, "", value});
      }
      changes.push_back(created);
    } else {
      changes.push_back(change_of(version, previous->line));
    }
    previous = &version;
  }
  return changes;
}

Result<ProfileChange> change_profile(Store& store, std::string_view number,
                                     const LineChange& change, const std::string& reason,
                                     const WriteContext& context, const NumberPlan* plan) {
  Result<LineVersion> current = find_current_line(store, number);
  if (!current) {
    return current.status();
  }
  const std::string& normalized = current->line.number;
  const Line before = current->line;
  const Line after = apply_line_change(before, change);
  if (diff_lines(before, after).empty()) {
    return Status(StatusCode::InvalidArgument,
                  "the change to line " + normalized +
                      " sets no field to a new value; pass at least one field that differs");
  }
  Result<LineVersion> changed = change_line(store, normalized, change, reason, context, plan);
  if (!changed) {
    return changed.status();
  }
  // Another writer may have appended a version in between, so the old values come from the
  // version this change superseded, not from the read above.
  Result<std::vector<ProfileChange>> history = profile_history(store, normalized);
  if (!history) {
    return history.status();
  }
  for (const ProfileChange& entry : *history) {
    if (entry.version == changed->version) {
      return entry;
    }
  }
  return change_of(*changed, before);
}

}  // namespace relaygw::billing
