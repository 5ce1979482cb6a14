// The admin API's endpoint handlers, apart from HTTP: each takes the parsed request and
// returns a status and a JSON body. gateway/server/admin_api.cpp does the sockets, the token
// check and the body limit, then calls handle_admin_request() on a handler thread.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/server/admin_api.hpp"

namespace relaygw::gateway::server {

struct AdminRequest {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // without the query, percent-decoded per segment
  std::map<std::string, std::string> query;  // decoded query parameters
  std::string body;
};

struct AdminResponse {
  int status = 200;
  nlohmann::json body;
  std::string allow;  // the Allow header of a 405
};

// Returns {"error":{"code":code,"message":message}} with `status`.
AdminResponse admin_error(int status, const std::string& code, const std::string& message);

// Routes `request` to its endpoint. Unknown paths get 404, a known path with another method
// 405, a body that is not the expected JSON 400. Runs billing and registry work, so it may
// block on SQLite; call it off the io_context.
AdminResponse handle_admin_request(const AdminApiParts& parts, const AdminRequest& request);

}  // namespace relaygw::gateway::server
