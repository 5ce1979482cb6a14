// Billing profiles: the billing-relevant fields of a directory line (billed-number screening,
// TTY discount eligibility, preferred carrier, listing name, line type) and the history of
// their changes. Profiles are stored as directory line versions (billing/directory.hpp), so a
// change here is a new line version with its actor, time, reason and audit entry; this module
// adds the field-by-field view of what each version changed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "billing/directory.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

struct FieldChange {
  std::string field;  // the CSV column name, such as "screening"
  std::string old_value;
  std::string new_value;
};

// One version of a line as a change: who, when, why and which fields changed. Version 1 lists
// every field with an empty old value.
struct ProfileChange {
  std::string number;
  std::int64_t version = 0;
  std::string actor;
  Instant at;
  std::string reason;
  std::vector<FieldChange> fields;
};

// Returns the fields that differ between `before` and `after`, in CSV column order.
std::vector<FieldChange> diff_lines(const Line& before, const Line& after);

// Returns every change of `number` (10-digit or E.164), oldest first. NotFound when the line is
// not in the directory.
Result<std::vector<ProfileChange>> profile_history(Store& store, std::string_view number);

// Applies `change` as a new line version, validated as change_line validates it (with `plan`,
// also against the numbering data). Fails with InvalidArgument when the change sets no field
// or sets every field to its current value, so the history never contains an empty change.
Result<ProfileChange> change_profile(Store& store, std::string_view number,
                                     const LineChange& change, const std::string& reason,
                                     const WriteContext& context, const NumberPlan* plan = nullptr);

}  // namespace relaygw::billing
