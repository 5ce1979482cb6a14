// Registration of the relaygw subcommands. Each function adds its subcommands to `app` and
// runs them from their callbacks; a callback that fails throws CLI::RuntimeError with a
// non-zero exit code after printing a plain message to standard error.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace relaygw::gateway {

// relaygw tty decode / tty encode
void add_tty_decode_command(CLI::App& tty);
void add_tty_encode_command(CLI::App& tty);

// relaygw quote
void add_quote_command(CLI::App& app);

// relaygw db, line, card and call: the billing database and the staff commands over it
void add_db_commands(CLI::App& app);
void add_line_commands(CLI::App& app);
void add_card_commands(CLI::App& app);
void add_call_commands(CLI::App& app);

// relaygw report, plans and profile: staff reports, calling plan advice and billing profiles
void add_report_command(CLI::App& app);
void add_plans_command(CLI::App& app);
void add_profile_command(CLI::App& app);

// relaygw audit: record and journal verification, daily reconciliation
void add_audit_command(CLI::App& app);

// Returns the JSON report that `relaygw audit verify|reconcile --json` prints to standard output
// when its options fail to parse, with an "error" of code "invalid-argument" and `message`.
// Returns an empty string when the parsed command is another one or has no --json.
std::string audit_parse_failure_report(const CLI::App& app, const std::string& message);

// relaygw credit and dispute: credits on charge lines and billing disputes
void add_credit_command(CLI::App& app);
void add_dispute_command(CLI::App& app);

// relaygw admin: a client of the staff admin API of a running gateway
void add_admin_command(CLI::App& app);

// relaygw psap listen: a loopback PSAP console for demos and staff training
void add_psap_command(CLI::App& app);

// relaygw serve and certs: the gateway server and its development certificates
void add_serve_command(CLI::App& app);
void add_certs_command(CLI::App& app);

// relaygw replay: a bundled day of relay calls driven against a running gateway
void add_replay_command(CLI::App& app);

}  // namespace relaygw::gateway
