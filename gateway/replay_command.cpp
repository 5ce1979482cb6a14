// relaygw replay: drives a bundled day of a relay center against a running gateway over
// loopback and prints what happened.
#include <csignal>
#include <iostream>
#include <set>
#include <string>

#include <CLI/CLI.hpp>

#include "common/json_text.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"
#include "gateway/replay/day.hpp"
#include "gateway/replay/replay.hpp"
#include "gateway/server/host_port.hpp"
#include "gateway/server/token_file.hpp"

namespace relaygw::gateway {
namespace {

struct ReplayCommandOptions {
  std::string day_file;
  std::string provider;
  std::string tty;
  std::string admin;
  std::string admin_token_file;
  std::string certs_dir;
  std::string database;
  std::string relaygw = "/proc/self/exe";
  std::string resume_from;
  int timeout_ms = 30000;
  bool json = false;
  bool list_audio = false;
};

// Splits "ADDRESS:PORT" or "[IPV6]:PORT", or fails the command with a message naming the option.
void parse_endpoint(const std::string& text, const std::string& option, std::string& address,
                    std::uint16_t& port) {
  const Result<server::HostPort> parsed = server::parse_host_port(text, option);
  if (!parsed) {
    fail_command("replay", parsed.status().message());
  }
  address = parsed->address;
  port = parsed->port;
}

std::string read_token(const std::string& path) {
  Result<std::string> token = server::read_token_file(
      path, "--admin-token-file",
      "pass the file that [admin] token_file names in the running gateway's configuration");
  if (!token) {
    fail_command("replay", token.status().message());
  }
  return *token;
}

// Prints each recorded answer as "AUDIO<TAB>TEXT", once per file, for scripts/make-day-audio.
void list_audio(const replay::Day& day) {
  std::set<std::string> seen;
  auto print = [&](const replay::TtyAnswer& answer) {
    if (seen.insert(answer.audio).second) {
      std::cout << answer.audio << "\t" << answer.text << "\n";
    }
  };
  for (const replay::TtyCall& call : day.tty_calls) {
    for (const replay::TtyAnswer& answer : call.answers) {
      print(answer);
    }
    for (const replay::TtyAnswer& answer : call.called_answers) {
      print(answer);
    }
  }
  for (const replay::EmergencyCall& call : day.emergencies) {
    for (const replay::TtyAnswer& answer : call.answers) {
      print(answer);
    }
  }
  print(replay::TtyAnswer{"SK SK", "tty-hangup.wav"});
}

void run_replay(const ReplayCommandOptions& command) {
  auto day = replay::load_day(command.day_file);
  if (!day.is_ok()) {
    fail_command("replay", day.status().message());
  }
  if (command.list_audio) {
    list_audio(*day);
    return;
  }
  if (command.provider.empty() && command.tty.empty() && command.database.empty()) {
    fail_command("replay",
                 "nothing to replay: give at least one of --provider ADDRESS:PORT (with --certs), "
                 "--tty ADDRESS:PORT or --db FILE");
  }
  replay::ReplayOptions options;
  if (!command.provider.empty()) {
    parse_endpoint(command.provider, "--provider", options.provider_address, options.provider_port);
    if (command.certs_dir.empty()) {
      fail_command("replay", "--provider needs --certs DIR with the providers' certificates");
    }
  }
  if (!command.tty.empty()) {
    parse_endpoint(command.tty, "--tty", options.tty_address, options.tty_port);
  }
  if (!command.admin.empty()) {
    parse_endpoint(command.admin, "--admin", options.admin_address, options.admin_port);
    if (command.admin_token_file.empty()) {
      fail_command("replay", "--admin needs --admin-token-file FILE");
    }
    options.admin_token = read_token(command.admin_token_file);
  }
  options.certs_dir = command.certs_dir;
  options.database = command.database;
  options.relaygw = command.relaygw;
  options.timeout = std::chrono::milliseconds(command.timeout_ms);
  options.resume_from = command.resume_from;

  // A staff command that exits before reading its standard input must not kill the replay.
  std::signal(SIGPIPE, SIG_IGN);
  auto summary = replay::run_day(*day, options);
  if (!summary.is_ok()) {
    fail_command("replay", summary.status().message());
  }
  if (command.json) {
    std::cout << json_text(replay::summary_json(*summary)) << "\n";
  } else {
    replay::print_summary(*summary, std::cout);
  }
  if (!summary->problems.empty()) {
    throw CLI::RuntimeError(1);
  }
}

}  // namespace

void add_replay_command(CLI::App& app) {
  auto options = std::make_shared<ReplayCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "replay", "Drive a bundled day of relay calls against a running gateway on loopback");
  command->add_option("--day", options->day_file, "Day file, such as data/day/day.toml")
      ->required();
  CLI::Option* provider = command->add_option(
      "--provider", options->provider,
      "Relay provider TLS listener, ADDRESS:PORT (omit to skip provider calls)");
  command->add_option("--tty", options->tty,
                      "TTY line listener, ADDRESS:PORT (omit to skip TTY line calls)");
  CLI::Option* admin = command->add_option(
      "--admin", options->admin,
      "Admin API, ADDRESS:PORT: moves the gateway clock to each provider step and reads the "
      "emergency dispatch figures");
  // An option that only serves another one is rejected without it, not ignored.
  command
      ->add_option("--admin-token-file", options->admin_token_file,
                   "File whose first line is the admin API token")
      ->needs(admin);
  command
      ->add_option("--certs", options->certs_dir,
                   "Folder with ca.pem and each provider's PROVIDER.pem and PROVIDER-key.pem")
      ->needs(provider);
  CLI::Option* database =
      command->add_option("--db", options->database,
                          "Billing database for the staff steps: cards, credits and the dispute "
                          "(omit to skip them)");
  command
      ->add_option("--relaygw", options->relaygw,
                   "relaygw binary that runs the staff commands (default: this program)")
      ->needs(database);
  command
      ->add_option("--resume-from", options->resume_from,
                   "Provider call id to resume at after the gateway stopped mid-replay: skips "
                   "the card setup, TTY line and emergency calls and the provider calls before it")
      ->needs(provider);
  command
      ->add_option("--timeout-ms", options->timeout_ms,
                   "How long to wait for each reply or prompt, in milliseconds")
      ->capture_default_str();
  command->add_flag("--json", options->json, "Print the summary as JSON");
  command->add_flag("--list-audio", options->list_audio,
                    "Print each TTY answer's audio file and text, and exit");
  command->callback([options, command] {
    // An endpoint option given as "" is an error, not the same as leaving the option out.
    for (const char* name : {"--provider", "--tty", "--admin"}) {
      const CLI::Option* option = command->get_option(name);
      if (option->count() > 0 && option->as<std::string>().empty()) {
        fail_command("replay", server::parse_host_port("", name).status().message());
      }
    }
    run_replay(*options);
  });
}

}  // namespace relaygw::gateway
