// JSON text for output: the --json forms of the commands, reports and admin API bodies.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace relaygw {

// Returns `value` as JSON text, indented by `indent` spaces (-1 for one line). A string that is
// not valid UTF-8, such as a name changed by hand in the database, gets U+FFFD in place of each
// invalid byte, where nlohmann::json::dump would throw, so the output stays valid JSON.
inline std::string json_text(const nlohmann::json& value, int indent = 2) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace relaygw
