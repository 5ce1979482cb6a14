// relaygw: accessibility relay billing gateway. Subcommands are registered per area in
// gateway/commands.hpp, and an exception that reaches main ends the program with exit status 1.
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/logging.hpp"

int main(int argc, char** argv) {
  CLI::App app{"relaygw: TTY and relay billing gateway for relay centers"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level,
                 "Log level on standard error: trace, debug, info, warn, err, critical or off")
      ->capture_default_str();
  app.parse_complete_callback([&log_level] {
    if (!relaygw::gateway::init_logging(log_level)) {
      throw CLI::ValidationError("--log-level",
                                 "invalid level '" + log_level +
                                     "'; use trace, debug, info, warn, err, critical or off");
    }
  });

  CLI::App* tty = app.add_subcommand("tty", "Decode and encode US TTY (Baudot) audio");
  tty->require_subcommand(1);
  relaygw::gateway::add_tty_decode_command(*tty);
  relaygw::gateway::add_tty_encode_command(*tty);
  relaygw::gateway::add_quote_command(app);
  relaygw::gateway::add_db_commands(app);
  relaygw::gateway::add_line_commands(app);
  relaygw::gateway::add_card_commands(app);
  relaygw::gateway::add_call_commands(app);
  relaygw::gateway::add_report_command(app);
  relaygw::gateway::add_profile_command(app);
  relaygw::gateway::add_plans_command(app);
  relaygw::gateway::add_audit_command(app);
  relaygw::gateway::add_credit_command(app);
  relaygw::gateway::add_dispute_command(app);
  relaygw::gateway::add_admin_command(app);
  relaygw::gateway::add_psap_command(app);
  relaygw::gateway::add_serve_command(app);
  relaygw::gateway::add_certs_command(app);
  relaygw::gateway::add_replay_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (const std::string unknown = relaygw::gateway::unknown_subcommand_message(app);
        !unknown.empty()) {
      std::cerr << "relaygw: " << unknown << "\n";
      return error.get_exit_code();
    }
    return app.exit(error);
  } catch (const std::exception& error) {
    std::cerr << "relaygw: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
