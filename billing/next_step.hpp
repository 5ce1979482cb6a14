// The command-line form of a failed request's next step (common/status.hpp's NextStep), and
// the helper that builds a failed Status ending in it. Billing errors name their fix this way,
// so the admin API can name the same fix as an endpoint or a field instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace relaygw::billing {

// Returns `step` as the `relaygw` command or option that takes it, such as
// "check `relaygw credit list --call c1`".
std::string command_line_step(const NextStep& step);

// Returns `step` in plain words for readers without the command line: a relay provider's
// software and the admin API. It names no `relaygw` command, so the text can be stored with a
// call and sent on the provider link, such as "ask relay center staff to unlock it". Returns
// an empty string for the kinds whose fix is a request field or a gateway setting, which each
// front end names in its own terms.
std::string operator_step(const NextStep& step);

// Returns the name of `kind` as the admin API sends it with an error, such as
// "approve-as-other-staff", so a client can name the step in its own terms.
std::string_view to_string(NextStep::Kind kind);

// Returns the kind that to_string names `name`, or nullopt for an unknown name.
std::optional<NextStep::Kind> parse_next_step_kind(std::string_view name);

// Returns a failed Status whose message is `reason`, `joiner` and command_line_step(`step`).
Status failed_with_step(StatusCode code, std::string_view reason, NextStep step,
                        std::string_view joiner = "; ");

}  // namespace relaygw::billing
