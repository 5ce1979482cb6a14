// relaygw psap listen: a PSAP console on loopback for demos and staff training. It accepts the
// gateway's PSAP text link (docs/protocol.md), prints each dispatch, text and close it
// receives, and acknowledges each dispatch.
#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "gateway/commands.hpp"
#include "gateway/logging.hpp"
#include "gateway/server/host_port.hpp"
#include "gateway/server/psap_link.hpp"

namespace relaygw::gateway {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Maximum line length accepted from the gateway; a dispatch is well under 1 KiB.
constexpr std::size_t kMaxLine = 64 * 1024;

struct ListenOptions {
  std::string address = "127.0.0.1";
  // Kept as text and read by server::parse_port, so that an empty or non-numeric value is
  // rejected by name rather than converted to port 0.
  std::string port;
  std::uint64_t count = 0;
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "relaygw psap listen: " << message << "\n";
  throw CLI::RuntimeError(1);
}

std::string field(const nlohmann::json& message, const char* key) {
  if (!message.contains(key) || !message[key].is_string()) {
    return "";
  }
  return message[key].get<std::string>();
}

// One printed line per message, in the order received.
std::string describe(const nlohmann::json& message) {
  const std::string type = field(message, "type");
  if (type == "dispatch") {
    return "dispatch session=" + field(message, "session") + " call=" + field(message, "call") +
           " caller=" + field(message, "caller_number") + " location=\"" +
           field(message, "location") + "\" provider=" + field(message, "provider") +
           " agent=" + field(message, "agent") + " service=" + field(message, "service") +
           " received_at=" + field(message, "received_at");
  }
  if (type == "text") {
    return "text session=" + field(message, "session") + ": " + field(message, "text");
  }
  if (type == "close") {
    return "close session=" + field(message, "session") + " at=" + field(message, "at");
  }
  return "unknown message type '" + type + "' ignored";
}

class Console {
 public:
  Console(asio::io_context& io, const ListenOptions& options, std::uint16_t port)
      : io_(io), acceptor_(io), limit_(options.count) {
    boost::system::error_code error;
    const asio::ip::address address = asio::ip::make_address(options.address, error);
    if (error) {
      fail("invalid --address '" + options.address + "'; use a literal IP such as 127.0.0.1");
    }
    if (!address.is_loopback()) {
      fail("--address " + options.address +
           " is not a loopback address; this console listens on 127.0.0.1 or ::1 only");
    }
    const tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), error);
    if (!error) {
      acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
    }
    if (!error) {
      acceptor_.bind(endpoint, error);
    }
    if (!error) {
      acceptor_.listen(asio::socket_base::max_listen_connections, error);
    }
    if (error) {
      fail("cannot listen on " + server::format_host_port(address.to_string(), port) + ": " +
           error.message() + "; choose a free --port");
    }
    const std::string bound = server::format_host_port(acceptor_.local_endpoint());
    std::cout << "psap listening on " << bound << std::endl;
    logger("gateway")->info("psap console listening on {}", bound);
  }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
      if (error) {
        return;  // the acceptor was closed at exit
      }
      const tcp::endpoint remote = socket.remote_endpoint(error);
      auto connection = std::make_shared<Connection>(std::move(socket));
      connection->peer = error ? "an unknown address" : server::format_host_port(remote);
      std::cout << "connected from " << connection->peer << std::endl;
      read(connection);
      accept();
    });
  }

 private:
  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)), buffer(kMaxLine) {}
    tcp::socket socket;
    asio::streambuf buffer;
    std::string peer;  // ADDRESS:PORT of the gateway, for messages
  };

  void read(std::shared_ptr<Connection> connection) {
    asio::async_read_until(connection->socket, connection->buffer, '\n',
                           [this, connection](boost::system::error_code error, std::size_t length) {
                             if (error) {
                               report_disconnect(*connection, error);
                               return;
                             }
                             std::string line(
                                 asio::buffers_begin(connection->buffer.data()),
                                 asio::buffers_begin(connection->buffer.data()) + length);
                             connection->buffer.consume(length);
                             handle(connection, line);
                             read(connection);
                           });
  }

  // A gateway that closes its end (end of file) has ended the link normally; any other error is
  // printed with its system message.
  static void report_disconnect(const Connection& connection,
                                const boost::system::error_code& error) {
    if (error == asio::error::eof) {
      std::cout << "disconnected: " << connection.peer << " closed the connection" << std::endl;
      return;
    }
    if (error == asio::error::not_found) {
      std::cout << "disconnected: " << connection.peer << " sent a line over " << kMaxLine
                << " bytes" << std::endl;
      return;
    }
    std::cout << "disconnected: connection from " << connection.peer
              << " failed: " << error.message() << std::endl;
  }

  void handle(const std::shared_ptr<Connection>& connection, const std::string& line) {
    const nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
    if (message.is_discarded() || !message.is_object()) {
      std::cout << "invalid line ignored: not a JSON object (" << line.size() << " bytes)"
                << std::endl;
      return;
    }
    std::cout << describe(message) << std::endl;
    if (field(message, "type") == "dispatch") {
      auto ack = std::make_shared<std::string>(server::psap_ack_message(field(message, "session")));
      asio::async_write(connection->socket, asio::buffer(*ack),
                        [ack](boost::system::error_code, std::size_t) {});
    }
    if (limit_ > 0 && ++received_ >= limit_) {
      // Let the last ack go out before the loop ends.
      asio::post(io_, [this] { io_.stop(); });
    }
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::uint64_t limit_ = 0;
  std::uint64_t received_ = 0;
};

void run_listen(const ListenOptions& options) {
  const Result<std::uint16_t> port =
      server::parse_port(options.port, "--port", server::PortZero::PickFree);
  if (!port) {
    fail(port.status().message());
  }
  asio::io_context io;
  Console console(io, options, *port);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](boost::system::error_code, int) { io.stop(); });
  console.accept();
  io.run();
  logger("gateway")->info("psap console stopped");
}

}  // namespace

void add_psap_command(CLI::App& app) {
  CLI::App* psap = app.add_subcommand("psap", "PSAP text link tools for demos and training");
  psap->require_subcommand(1);
  auto options = std::make_shared<ListenOptions>();
  CLI::App* listen = psap->add_subcommand(
      "listen",
      "Accept the gateway's PSAP text link, print what arrives and acknowledge dispatches");
  listen
      ->add_option("--port", options->port,
                   "TCP port to listen on, 1 to 65535; 0 lets the system pick a free one")
      ->required();
  listen->add_option("--address", options->address, "Loopback address to listen on")
      ->capture_default_str();
  listen
      ->add_option("--count", options->count,
                   "Exit after this many messages; 0 runs until interrupted")
      ->capture_default_str();
  listen->callback([options] { run_listen(*options); });
}

}  // namespace relaygw::gateway
