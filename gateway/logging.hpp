// One named spdlog logger per folder ("tty", "relay", "billing", "gateway"), so each level
// can be raised on its own. Lines about a session carry their ids first as key=value.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace relaygw::gateway {

// Creates the per-folder loggers writing to standard error at `level` ("trace" .. "off").
// Returns false and leaves the level at "info" when `level` is not a spdlog level name.
bool init_logging(const std::string& level);

// Returns the logger named `name`, creating it if init_logging has not run.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

}  // namespace relaygw::gateway
