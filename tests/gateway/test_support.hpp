// Helpers shared by the gateway tests: a temporary folder, a billing database made by the real
// `relaygw db init`, development certificates, a line-based TLS client for the relay provider
// link, and a loopback PSAP that records and acknowledges what the gateway dispatches.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "gateway/server/config.hpp"
#include "gateway/server/dev_certs.hpp"

namespace relaygw::test {

// A new empty folder under the system temporary folder, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Copies every line the "gateway" logger writes while it exists, so a test can check what
// was logged. Create it before the part under test starts logging.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const;
  // Number of lines that contain `fragment`.
  std::size_t count(const std::string& fragment) const;
  // Number of lines logged at `level` ("info", "warning", as spdlog names them) that contain
  // `fragment`.
  std::size_t count_at_level(const std::string& level, const std::string& fragment) const;

 private:
  class Sink;
  std::shared_ptr<Sink> sink_;
};

// Runs `relaygw` (RELAYGW_BINARY) with `arguments`, each passed as one argument; returns the
// exit status and fills `output` with standard output and standard error when given.
int run_relaygw(const std::vector<std::string>& arguments, std::string* output = nullptr);

// Creates a billing database at `path` with `relaygw db init`, which loads the bundled rate
// deck and sample directory. Fails the test when the command fails.
void init_billing_database(const std::string& path);

// Generates development certificates in `dir` for `providers`, failing the test on error.
gateway::server::DevCertificateFiles make_certificates(const std::string& dir,
                                                       const std::vector<std::string>& providers);

// The bundled NANP data folder, for configurations that need it.
std::string source_data_dir();

// A TLS client that sends and receives newline-delimited lines, with a timeout on each step.
// It trusts `ca_file` for the server and presents `certificate_file` when that is not empty.
class TlsLineClient {
 public:
  TlsLineClient(std::uint16_t port, const std::string& ca_file,
                const std::string& certificate_file = "", const std::string& key_file = "");
  ~TlsLineClient();

  // Connects and completes the TLS handshake. Returns "" on success or the error text.
  std::string connect(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Writes `text` as is (add '\n' to end a line). Returns false when the write failed.
  bool send(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Reads one line without its newline; nullopt on timeout, error or end of stream.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // True once a read found the connection closed or failed (not merely timed out).
  bool closed() const { return closed_; }

  void close();

 private:
  // Runs the io_context until `done` or `timeout`; on timeout cancels the socket's operations.
  bool run_until(bool& done, std::chrono::milliseconds timeout);

  boost::asio::io_context io_;
  boost::asio::ssl::context tls_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream_;
  std::uint16_t port_;
  std::string buffer_;
  bool closed_ = false;
};

// A raw TCP connection to a port, for clients that never complete TLS.
boost::asio::ip::tcp::socket connect_plain(boost::asio::io_context& io, std::uint16_t port);

// A loopback PSAP text link: accepts the gateway's legs, records every line it receives and
// acknowledges each dispatch.
class TestPsap {
 public:
  TestPsap();
  ~TestPsap();

  std::uint16_t port() const { return port_; }
  // Lines received so far, in order.
  std::vector<std::string> lines() const;
  // Waits until a received line contains `needle`; returns false after `timeout`.
  bool wait_for(const std::string& needle,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  void accept();

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  std::thread thread_;
};

// A ServerConfig for tests: every listener on 127.0.0.1 port 0, the provider link using the
// certificates in `certs`, one default PSAP route to `psap_port`, and the database and spool
// in `dir`. The TTY and admin listeners are off.
gateway::server::ServerConfig test_server_config(const TempDir& dir,
                                                 const gateway::server::DevCertificateFiles& certs,
                                                 std::uint16_t psap_port);

}  // namespace relaygw::test
