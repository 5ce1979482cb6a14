#include "gateway/logging.hpp"

#include <array>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace relaygw::gateway {

namespace {

constexpr std::array<const char*, 4> kLoggerNames = {"tty", "relay", "billing", "gateway"};

}  // namespace

bool init_logging(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  bool valid = parsed != spdlog::level::off || level == "off";
  if (!valid) {
    parsed = spdlog::level::info;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : kLoggerNames) {
    spdlog::drop(name);
    auto created = std::make_shared<spdlog::logger>(name, sink);
    created->set_level(parsed);
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %v", spdlog::pattern_time_type::utc);
    spdlog::register_logger(created);
  }
  return valid;
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  auto created = spdlog::stderr_color_mt(name);
  return created;
}

}  // namespace relaygw::gateway
