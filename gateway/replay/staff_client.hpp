// The staff side of the replay: the admin API over HTTP on loopback, and the staff commands of
// this relaygw binary run against the billing database.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.hpp"

namespace relaygw::gateway::replay {

// Sends GET `target` to the admin API at http://`address`:`port` with the bearer token and
// returns the JSON body. Fails on a connection error, a timeout, a status other than 200 or a
// body that is not JSON. A connection error names the address and the error, but no fix.
Result<nlohmann::json> admin_get(const std::string& address, std::uint16_t port,
                                 const std::string& token, const std::string& target,
                                 std::chrono::milliseconds timeout);

// Sends POST `target` with the JSON `body` to the admin API, as admin_get sends GET, and
// returns the JSON body of the response. Fails as admin_get does.
Result<nlohmann::json> admin_post(const std::string& address, std::uint16_t port,
                                  const std::string& token, const std::string& target,
                                  const nlohmann::json& body, std::chrono::milliseconds timeout);

struct CommandOutput {
  int exit_status = 0;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs `program` with `arguments`, writes `input` to its standard input and waits for it.
// Fails only when the program cannot be started.
Result<CommandOutput> run_program(const std::string& program,
                                  const std::vector<std::string>& arguments,
                                  const std::string& input = {});

}  // namespace relaygw::gateway::replay
