// The admin API's endpoint handlers, apart from HTTP: each takes the parsed request and
// returns a status and a JSON body. gateway/server/admin_api.cpp does the sockets, the token
// check and the body limit, then calls handle_admin_request() on a handler thread.
#pragma once

#include <cstddef>
#include <deque>
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

// The first successful response of POST /collect/{call}/accept for each idempotency key, so a
// client that retries after a timeout gets that response again, also after the collect call
// has left the SessionRegistry.
// NOTE: the responses are kept in memory only. After a gateway restart, a retried accept of a
// collect call that is no longer live gets 404.
struct AcceptResponses {
  static constexpr std::size_t kMaxKeys = 4096;  // the oldest key is dropped beyond this

  struct Entry {
    std::string fingerprint;  // call, staff and how of the first request
    std::string staff;
    std::string how;
    AdminResponse response;
  };

  // Held for a whole accept, so two concurrent requests with one key record it once.
  std::mutex mutex;
  std::map<std::string, Entry> by_key;
  std::deque<std::string> order;  // keys, oldest first
};

// Returns {"error":{"code":code,"message":message}} with `status`.
AdminResponse admin_error(int status, const std::string& code, const std::string& message);

// Routes `request` to its endpoint. Unknown paths get 404, a known path with another method
// 405, a body that is not the expected JSON 400. Runs billing and registry work, so it may
// block on SQLite; call it off the io_context.
// Unknown or repeated query parameters get 400.
AdminResponse handle_admin_request(const AdminApiParts& parts, AcceptResponses& accepts,
                                   const AdminRequest& request);

}  // namespace relaygw::gateway::server
