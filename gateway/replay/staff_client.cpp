#include "gateway/replay/staff_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gateway/server/host_port.hpp"

namespace relaygw::gateway::replay {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

// Sends one request to the admin API; `body` is sent as JSON when it is not null.
Result<nlohmann::json> admin_request(http::verb method, const std::string& address,
                                     std::uint16_t port, const std::string& token,
                                     const std::string& target, const nlohmann::json& body,
                                     std::chrono::milliseconds timeout) {
  const std::string where = std::string(http::to_string(method)) + " http://" +
                            server::format_host_port(address, port) + target;
  boost::system::error_code error;
  const asio::ip::address ip = asio::ip::make_address(address, error);
  if (error) {
    return Status(StatusCode::InvalidArgument, "invalid admin API address \"" + address +
                                                   "\"; use a literal IP such as "
                                                   "127.0.0.1");
  }
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  stream.connect(asio::ip::tcp::endpoint(ip, port), error);
  if (error) {
    // The caller adds the fix, because only the caller tracks whether the admin API responded
    // before.
    return Status(StatusCode::Unavailable,
                  "cannot connect to the admin API at " + where + ": " + error.message());
  }

  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, server::format_host_port(address, port));
  request.set(http::field::authorization, "Bearer " + token);
  if (!body.is_null()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body.dump();
  }
  request.prepare_payload();
  http::write(stream, request, error);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!error) {
    http::read(stream, buffer, response, error);
  }
  if (error) {
    return Status(StatusCode::Unavailable, where + " failed: " + error.message());
  }
  if (response.result() != http::status::ok) {
    return Status(StatusCode::Unavailable, where + " answered " +
                                               std::to_string(response.result_int()) + ": " +
                                               response.body().substr(0, 200));
  }
  nlohmann::json parsed = nlohmann::json::parse(response.body(), nullptr, false);
  if (parsed.is_discarded()) {
    return Status(StatusCode::Corrupt, where + " answered a body that is not JSON");
  }
  return parsed;
}

}  // namespace

Result<nlohmann::json> admin_get(const std::string& address, std::uint16_t port,
                                 const std::string& token, const std::string& target,
                                 std::chrono::milliseconds timeout) {
  return admin_request(http::verb::get, address, port, token, target, nullptr, timeout);
}

Result<nlohmann::json> admin_post(const std::string& address, std::uint16_t port,
                                  const std::string& token, const std::string& target,
                                  const nlohmann::json& body, std::chrono::milliseconds timeout) {
  return admin_request(http::verb::post, address, port, token, target, body, timeout);
}

namespace {

// Reads both output pipes until they close, writing `input` to the child as it takes it.
void pump_pipes(int in_fd, int out_fd, int err_fd, const std::string& input, CommandOutput& out) {
  std::size_t written = 0;
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  std::array<char, 4096> buffer{};
  while (out_fd >= 0 || err_fd >= 0) {
    std::array<pollfd, 3> entries{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0},
                                  pollfd{in_fd, POLLOUT, 0}};
    if (::poll(entries.data(), entries.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (int index = 0; index < 2; ++index) {
      int& fd = index == 0 ? out_fd : err_fd;
      if (fd < 0 || entries[index].revents == 0) {
        continue;
      }
      const ssize_t count = ::read(fd, buffer.data(), buffer.size());
      if (count <= 0) {
        ::close(fd);
        fd = -1;
      } else {
        (index == 0 ? out.out : out.err).append(buffer.data(), static_cast<std::size_t>(count));
      }
    }
    if (in_fd >= 0 && entries[2].revents != 0) {
      const ssize_t count = ::write(in_fd, input.data() + written, input.size() - written);
      if (count > 0) {
        written += static_cast<std::size_t>(count);
      }
      if (count <= 0 || written == input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) {
    ::close(in_fd);
  }
}

}  // namespace

Result<CommandOutput> run_program(const std::string& program,
                                  const std::vector<std::string>& arguments,
                                  const std::string& input) {
  int in_pipe[2];
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Status(StatusCode::Internal, std::string("pipe() failed: ") + std::strerror(errno));
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& argument : arguments) {
    argv.push_back(const_cast<char*>(argument.c_str()));
  }
  argv.push_back(nullptr);

  const pid_t child = ::fork();
  if (child < 0) {
    return Status(StatusCode::Internal, std::string("fork() failed: ") + std::strerror(errno));
  }
  if (child == 0) {
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execv(program.c_str(), argv.data());
    _exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  CommandOutput output;
  pump_pipes(in_pipe[1], out_pipe[0], err_pipe[0], input, output);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  output.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (output.exit_status == 127 && output.out.empty() && output.err.empty()) {
    return Status(StatusCode::NotFound,
                  "cannot run " + program + "; pass the relaygw binary with --relaygw");
  }
  return output;
}

}  // namespace relaygw::gateway::replay
