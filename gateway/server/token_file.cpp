#include "gateway/server/token_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace relaygw::gateway::server {

Result<std::string> read_token_file(const std::string& path, std::string_view setting,
                                    std::string_view fix) {
  namespace fs = std::filesystem;
  if (path.empty()) {
    return Status(StatusCode::InvalidArgument, fmt::format("{} is not set; {}", setting, fix));
  }
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found) {
    return Status(StatusCode::NotFound,
                  fmt::format("{} '{}' does not exist; {}", setting, path, fix));
  }
  if (status.type() == fs::file_type::directory) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} '{}' is a folder, not a token file; {}", setting, path, fix));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Status(StatusCode::PermissionDenied,
                  fmt::format("{} '{}' cannot be opened for reading ({}); check its permissions",
                              setting, path, std::strerror(errno)));
  }
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} '{}' is empty; {}", setting, path, fix));
  }
  std::string token = text.substr(0, text.find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) {
    return Status(
        StatusCode::InvalidArgument,
        fmt::format("{} '{}' has an empty first line; put the admin token there", setting, path));
  }
  return token;
}

}  // namespace relaygw::gateway::server
