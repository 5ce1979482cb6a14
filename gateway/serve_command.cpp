// relaygw serve: runs the gateway server from a configuration file until SIGINT or SIGTERM.
// relaygw certs generate: writes development certificates for the relay provider link.
#include <csignal>
#include <iostream>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"
#include "gateway/logging.hpp"
#include "gateway/server/config.hpp"
#include "gateway/server/dev_certs.hpp"
#include "gateway/server/host_port.hpp"
#include "gateway/server/server.hpp"

namespace relaygw::gateway {
namespace {

void run_serve(const std::string& config_path) {
  const std::string command = "serve";
  auto config = server::load_config(config_path);
  if (!config) {
    fail_command(command, config.status().message());
  }

  // The signal handlers are installed before anything starts, so a SIGTERM that arrives
  // during start-up still stops the server cleanly.
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code& error, int number) {
    if (!error) {
      logger("gateway")->info("signal {} received; stopping", number);
    }
  });

  server::Server gateway(*config);
  const Status started = gateway.start();
  if (!started) {
    gateway.stop();
    fail_command(command, started.message());
  }
  // One line per listener on standard output, so scripts can find ports chosen with port 0.
  if (auto endpoint = gateway.provider_link_endpoint()) {
    std::cout << "provider_link listening "
              << server::format_host_port(endpoint->address, endpoint->port) << "\n";
  }
  if (auto endpoint = gateway.tty_lines_endpoint()) {
    std::cout << "tty_lines listening "
              << server::format_host_port(endpoint->address, endpoint->port) << "\n";
  }
  if (auto endpoint = gateway.admin_endpoint()) {
    std::cout << "admin listening " << server::format_host_port(endpoint->address, endpoint->port)
              << "\n";
  }
  const Status billing = gateway.billing_start_status();
  if (billing) {
    std::cout << "relaygw serve ready\n" << std::flush;
  } else {
    // The message names the part that failed (database, rate deck, number plan or credit
    // policy) and the key or command that fixes it.
    std::cout << "relaygw serve ready in emergency-only mode: billing unavailable: "
              << billing.message() << "\n"
              << std::flush;
  }

  signals_io.run();
  gateway.stop();
  std::cout << "relaygw serve stopped\n" << std::flush;
}

void run_certs_generate(const server::DevCertificateRequest& request) {
  auto files = server::generate_dev_certificates(request);
  if (!files) {
    fail_command("certs generate", files.status().message());
  }
  std::cout << fmt::format("CA certificate      {}\n", files->ca_certificate);
  std::cout << fmt::format("server certificate  {}\n", files->server_certificate);
  for (std::size_t i = 0; i < files->client_certificates.size(); ++i) {
    std::cout << fmt::format("provider {:<10} {}\n", request.provider_ids[i],
                             files->client_certificates[i]);
  }
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto config_path = std::make_shared<std::string>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the gateway server: relay provider link, TTY lines, emergency routing");
  serve->add_option("--config", *config_path, "Configuration file (TOML), see config/relaygw.toml")
      ->required();
  serve->callback([config_path] { run_serve(*config_path); });
}

void add_certs_command(CLI::App& app) {
  CLI::App* certs = app.add_subcommand(
      "certs", "Development certificates for the relay provider link (loopback tests only)");
  certs->require_subcommand(1);
  auto request = std::make_shared<server::DevCertificateRequest>();
  CLI::App* generate = certs->add_subcommand(
      "generate",
      "Write a test CA (reused when DIR has one), a server certificate for 127.0.0.1, ::1 and "
      "localhost, and one client certificate per provider");
  generate->add_option("--out", request->out_dir, "Folder for the PEM files")->required();
  generate->add_option("--provider", request->provider_ids,
                       "Relay provider id, written as the client certificate's CN; repeat for "
                       "more providers");
  generate->add_option("--days", request->valid_days, "Validity in days, 1 to 3650")
      ->capture_default_str();
  generate->callback([request] { run_certs_generate(*request); });
}

}  // namespace relaygw::gateway
