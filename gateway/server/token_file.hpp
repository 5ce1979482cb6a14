// Reading the admin API bearer token from its file, shared by the server ([admin] token_file)
// and its clients (relaygw admin --token-file, relaygw replay --admin-token-file).
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"

namespace relaygw::gateway::server {

// Returns the first line of the file at `path`, without trailing spaces or carriage return.
// A path that is unset, missing, a folder or empty fails with a message that starts with
// `setting` (such as "--token-file") and the path, and ends with `fix`, which names where the
// right file is. An unreadable file and one with an empty first line get their own fix. No
// message contains the token.
Result<std::string> read_token_file(const std::string& path, std::string_view setting,
                                    std::string_view fix);

}  // namespace relaygw::gateway::server
