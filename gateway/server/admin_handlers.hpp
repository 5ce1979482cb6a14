// The admin API's endpoint handlers, apart from HTTP: each takes the parsed request and
// returns a status and a JSON body. gateway/server/admin_api.cpp does the sockets, the token
// check and the body limit, then calls handle_admin_request() on a handler thread.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/server/admin_api.hpp"

namespace relaygw::gateway::server {

struct AdminRequest {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // without the query, percent-decoded per segment
  std::map<std::string, std::string> query;  // decoded query parameters
  std::vector<std::string> repeated_query;    // names that appear more than once in the query
  std::string body;
};

struct AdminResponse {
  int status = 200;
  nlohmann::json body;
  std::string allow;  // the Allow header of a 405
};

// The lock held for a whole POST /collect/{call}/accept, so two concurrent requests with one
// key record the acceptance once. The first successful response for each key is stored in
// the billing database's idempotency_keys table, so a retry gets it again, also after the
// collect call has left the SessionRegistry and after a gateway restart.
struct AcceptLock {
  std::mutex mutex;
};

// Returns the message of `status` for a client of the admin API or the provider link, which
// cannot run relaygw commands on the server: a next step that billing attached is named as an
// endpoint, a request field or the gateway operator's task, not as the command-line step that
// message() ends with.
std::string api_message(const Status& status);

// Returns {"error":{"code":code,"message":message}} with `status`.
AdminResponse admin_error(int status, const std::string& code, const std::string& message);

// Routes `request` to its endpoint. Unknown paths get 404, a known path with another method
// 405, a body that is not the expected JSON 400. Runs billing and registry work, so it may
// block on SQLite; call it off the io_context.
// Unknown or repeated query parameters get 400.
AdminResponse handle_admin_request(const AdminApiParts& parts, AcceptLock& accept_lock,
                                   const AdminRequest& request);

}  // namespace relaygw::gateway::server
