#include "tests/gateway/test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <spdlog/sinks/base_sink.h>

#include "gateway/logging.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/psap_link.hpp"

namespace relaygw::test {

class LogCapture::Sink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

  std::string text_with_levels() {
    std::lock_guard lock(mutex_);
    return text_with_levels_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    text_.append(message.payload.data(), message.payload.size());
    text_ += '\n';
    const spdlog::string_view_t level = spdlog::level::to_string_view(message.level);
    text_with_levels_.append(level.data(), level.size());
    text_with_levels_ += ' ';
    text_with_levels_.append(message.payload.data(), message.payload.size());
    text_with_levels_ += '\n';
  }
  void flush_() override {}

 private:
  std::string text_;
  std::string text_with_levels_;  // each line starts with its level name and a space
};

LogCapture::LogCapture() : sink_(std::make_shared<Sink>()) {
  gateway::logger("gateway")->sinks().push_back(sink_);
}

LogCapture::~LogCapture() {
  auto& sinks = gateway::logger("gateway")->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
}

std::string LogCapture::text() const { return sink_->text(); }

namespace {

// Returns the number of lines of `all` that start with `prefix` and contain `fragment`.
std::size_t count_lines(const std::string& all, const std::string& fragment,
                        const std::string& prefix = "") {
  std::size_t found = 0;
  std::size_t line_start = 0;
  while (line_start < all.size()) {
    std::size_t line_end = all.find('\n', line_start);
    if (line_end == std::string::npos) {
      line_end = all.size();
    }
    const std::string line = all.substr(line_start, line_end - line_start);
    if (line.rfind(prefix, 0) == 0 && line.find(fragment) != std::string::npos) {
      ++found;
    }
    line_start = line_end + 1;
  }
  return found;
}

}  // namespace

std::size_t LogCapture::count(const std::string& fragment) const {
  return count_lines(text(), fragment);
}

std::size_t LogCapture::count_at_level(const std::string& level,
                                       const std::string& fragment) const {
  return count_lines(sink_->text_with_levels(), fragment, level + " ");
}

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

TempDir::TempDir() {
  std::random_device random;
  const std::filesystem::path base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::filesystem::path candidate =
        base / ("relaygw-gateway-test-" + std::to_string(random()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  FAIL("could not create a temporary folder under " << base);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

int run_relaygw(const std::vector<std::string>& arguments, std::string* output) {
  std::string command = std::string("'") + RELAYGW_BINARY + "'";
  for (const std::string& argument : arguments) {
    command += " '" + argument + "'";
  }
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  std::array<char, 4096> chunk{};
  std::size_t read = 0;
  while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    text.append(chunk.data(), read);
  }
  const int status = pclose(pipe);
  if (output != nullptr) {
    *output = text;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void init_billing_database(const std::string& path) {
  std::string output;
  const int status = run_relaygw({"db", "init", "--db", path, "--actor", "test"}, &output);
  INFO(output);
  REQUIRE(status == 0);
}

gateway::server::DevCertificateFiles make_certificates(const std::string& dir,
                                                       const std::vector<std::string>& providers) {
  auto files = gateway::server::generate_dev_certificates({dir, providers, 2});
  INFO((files ? std::string() : files.status().message()));
  REQUIRE(files);
  return *files;
}

std::string source_data_dir() { return std::string(RELAYGW_SOURCE_DIR) + "/data"; }

TlsLineClient::TlsLineClient(std::uint16_t port, const std::string& ca_file,
                             const std::string& certificate_file, const std::string& key_file)
    : tls_(ssl::context::tls_client), port_(port) {
  tls_.load_verify_file(ca_file);
  tls_.set_verify_mode(ssl::verify_peer);
  if (!certificate_file.empty()) {
    tls_.use_certificate_chain_file(certificate_file);
    tls_.use_private_key_file(key_file, ssl::context::pem);
  }
  stream_ = std::make_unique<ssl::stream<tcp::socket>>(io_, tls_);
}

TlsLineClient::~TlsLineClient() { close(); }

bool TlsLineClient::run_until(bool& done, std::chrono::milliseconds timeout) {
  io_.restart();
  io_.run_for(timeout);
  if (!done) {
    boost::system::error_code ignored;
    stream_->lowest_layer().cancel(ignored);
    io_.restart();
    io_.run_for(std::chrono::seconds(1));
  }
  return done;
}

std::string TlsLineClient::connect(std::chrono::milliseconds timeout) {
  boost::system::error_code error;
  stream_->lowest_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), error);
  if (error) {
    return "connect: " + error.message();
  }
  SSL_set_tlsext_host_name(stream_->native_handle(), "localhost");
  bool done = false;
  boost::system::error_code handshake_error;
  stream_->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& result) {
    handshake_error = result;
    done = true;
  });
  if (!run_until(done, timeout)) {
    return "handshake timed out";
  }
  return handshake_error ? "handshake: " + handshake_error.message() : "";
}

bool TlsLineClient::send(const std::string& text, std::chrono::milliseconds timeout) {
  bool done = false;
  boost::system::error_code write_error;
  asio::async_write(*stream_, asio::buffer(text),
                    [&](const boost::system::error_code& result, std::size_t) {
                      write_error = result;
                      done = true;
                    });
  return run_until(done, timeout) && !write_error;
}

std::optional<std::string> TlsLineClient::read_line(std::chrono::milliseconds timeout) {
  bool done = false;
  boost::system::error_code read_error;
  std::size_t length = 0;
  asio::async_read_until(*stream_, asio::dynamic_buffer(buffer_), '\n',
                         [&](const boost::system::error_code& result, std::size_t n) {
                           read_error = result;
                           length = n;
                           done = true;
                         });
  if (!run_until(done, timeout)) {
    return std::nullopt;
  }
  if (read_error) {
    closed_ = true;
    return std::nullopt;
  }
  std::string line = buffer_.substr(0, length - 1);
  buffer_.erase(0, length);
  return line;
}

void TlsLineClient::close() {
  boost::system::error_code ignored;
  stream_->lowest_layer().close(ignored);
}

tcp::socket connect_plain(asio::io_context& io, std::uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return socket;
}

namespace {

// Reads lines from one PSAP leg and acknowledges each dispatch.
void serve_psap_leg(std::shared_ptr<tcp::socket> socket, std::shared_ptr<std::string> buffer,
                    std::mutex& mutex, std::vector<std::string>& lines) {
  asio::async_read_until(
      *socket, asio::dynamic_buffer(*buffer), '\n',
      [socket, buffer, &mutex, &lines](const boost::system::error_code& error, std::size_t n) {
        if (error) {
          return;
        }
        const std::string line = buffer->substr(0, n - 1);
        buffer->erase(0, n);
        {
          std::lock_guard lock(mutex);
          lines.push_back(line);
        }
        const nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
        if (message.is_object() && message.value("type", "") == "dispatch") {
          auto ack = std::make_shared<std::string>(
              gateway::server::psap_ack_message(message.value("session", "")));
          asio::async_write(*socket, asio::buffer(*ack),
                            [ack](const boost::system::error_code&, std::size_t) {});
        }
        serve_psap_leg(socket, buffer, mutex, lines);
      });
}

}  // namespace

TestPsap::TestPsap() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

TestPsap::~TestPsap() {
  io_.stop();
  thread_.join();
}

void TestPsap::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    if (error) {
      return;
    }
    serve_psap_leg(std::make_shared<tcp::socket>(std::move(socket)),
                   std::make_shared<std::string>(), mutex_, lines_);
    accept();
  });
}

std::vector<std::string> TestPsap::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

bool TestPsap::wait_for(const std::string& needle, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const std::string& line : lines()) {
      if (line.find(needle) != std::string::npos) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

gateway::server::ServerConfig test_server_config(const TempDir& dir,
                                                 const gateway::server::DevCertificateFiles& certs,
                                                 std::uint16_t psap_port) {
  gateway::server::ServerConfig config;
  config.source_file = "test";
  config.worker_threads = 2;
  config.provider_link.listen = {"127.0.0.1", 0};
  config.provider_link.certificate_file = certs.server_certificate;
  config.provider_link.private_key_file = certs.server_key;
  config.provider_link.client_ca_file = certs.ca_certificate;
  config.tty_lines.enabled = false;
  config.admin.enabled = false;
  gateway::server::PsapRoute route;
  route.id = "psap-test";
  route.endpoint = {"127.0.0.1", psap_port};
  route.default_route = true;
  config.emergency.routes.push_back(route);
  config.emergency.redial_interval = std::chrono::milliseconds(50);
  config.emergency.spool_file = dir.file("emergency-spool.jsonl");
  config.billing.database = dir.file("relaygw.db");
  config.billing.data_dir = source_data_dir();
  config.billing.actor = "gateway-test";
  return config;
}

}  // namespace relaygw::test
