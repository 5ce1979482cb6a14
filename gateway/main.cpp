// relaygw: accessibility relay billing gateway. Subcommands are registered per area in
// gateway/commands.hpp, and an exception that reaches main ends the program with exit status 1.
// A failed write to standard output also ends it with status 1, for every command.
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/output_file.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/logging.hpp"

namespace {

// The option named `name` in `app` or in one of the subcommands parsed, or nullptr.
const CLI::Option* find_parsed_option(const CLI::App* app, const std::string& name) {
  if (const CLI::Option* option = app->get_option_no_throw(name)) {
    return option;
  }
  for (const CLI::App* subcommand : app->get_subcommands()) {
    if (const CLI::Option* option = find_parsed_option(subcommand, name)) {
      return option;
    }
  }
  return nullptr;
}

// Rewrites CLI11's conversion and repeat errors so they name the option, the value and the
// expected form, and a missing subcommand so it lists the subcommands. The texts matched are
// those of CLI11 2.1 (CLI/Error.hpp); other errors keep CLI11's own text. Each message starts
// with the command's name, "relaygw call show: ".
std::string describe_parse_failure(const CLI::App* app, const CLI::Error& error) {
  const std::string text = error.what();
  const std::string path = relaygw::gateway::parsed_command_path(*app);
  const std::string convert_prefix = "Could not convert: ";
  const std::size_t equals = text.find(" = ");
  if (text.rfind(convert_prefix, 0) == 0 && equals != std::string::npos) {
    const std::string name = text.substr(convert_prefix.size(), equals - convert_prefix.size());
    const std::string value = text.substr(equals + 3);
    const CLI::Option* option = find_parsed_option(app, name);
    const std::string expected = option != nullptr && !option->get_type_name().empty()
                                     ? option->get_type_name()
                                     : "a value of the option's type";
    return path + ": invalid value '" + value + "' for " + name + "; expected " + expected +
           " (see --help)\n";
  }
  const std::size_t at_most = text.find(": At Most 1 required but received ");
  if (at_most != std::string::npos) {
    return path + ": " + text.substr(0, at_most) + " is given " +
           text.substr(at_most + std::string(": At Most 1 required but received ").size()) +
           " times; give it once\n";
  }
  // CLI11 lists the unexpected words as given, and one may be a PIN or a card number typed as
  // an option ("--pin 4321"). Only the option names are shown.
  for (const std::string prefix :
       {"The following arguments were not expected: ", "The following argument was not expected: "}) {
    if (text.rfind(prefix, 0) != 0) {
      continue;
    }
    std::istringstream words(text.substr(prefix.size()));
    std::string names;
    std::string hints;
    bool pin_option = false;
    int hidden = 0;
    for (std::string word; words >> word;) {
      if (word.size() > 1 && word[0] == '-') {
        const std::string name = word.substr(0, word.find('='));
        names += (names.empty() ? "" : ", ") + name;
        hidden += word.find('=') != std::string::npos ? 1 : 0;
        pin_option = pin_option || name.find("pin") != std::string::npos;
        const std::string closest = relaygw::gateway::closest_option_name(*app, name);
        if (!closest.empty()) {
          hints += "; did you mean " + closest + " for " + name + "?";
        } else if (name == "--actor") {
          hints += "; only commands that write records take --actor";
        }
      } else {
        ++hidden;
      }
    }
    std::string message = path + ": unexpected " + (names.empty() ? "arguments" : names);
    if (hidden > 0) {
      message += names.empty() ? " (" : " and ";
      message += std::to_string(hidden) + (hidden == 1 ? " value" : " values") +
                 " not shown, since a value may be a PIN or a card number" +
                 (names.empty() ? ")" : "");
    }
    if (pin_option) {
      message += "; a PIN is never an option, it is read from standard input";
    }
    return message + hints + "; run `" + path + " --help` to list the options\n";
  }
  if (text == "A subcommand is required") {
    return relaygw::gateway::missing_subcommand_message(*app) + "\n";
  }
  // Name the command, as the commands' own errors do ("relaygw call show: --id is required"),
  // instead of CLI11's bare message.
  return path + ": " + text + "\nrun `" + path + " --help` to list its options\n";
}

// Sends std::cout to descriptor 1 through a DescriptorStreamBuffer while it exists, so the
// first failed write keeps its errno and main can report it after the command. Output is line
// buffered on a terminal, as C stdio buffers it there. NOTE: the buffer has no lock. That is
// safe because only each command's main thread writes to std::cout and to std::cerr, which
// flushes std::cout first.
class CheckedStandardOutput {
 public:
  CheckedStandardOutput()
      : buffer_(STDOUT_FILENO, ::isatty(STDOUT_FILENO) == 1),
        original_(std::cout.rdbuf(&buffer_)) {}
  ~CheckedStandardOutput() { std::cout.rdbuf(original_); }
  CheckedStandardOutput(const CheckedStandardOutput&) = delete;
  CheckedStandardOutput& operator=(const CheckedStandardOutput&) = delete;

  // Writes what is buffered. Returns the errno of the first failed write, or 0.
  int flush() {
    buffer_.flush();
    return buffer_.error();
  }

 private:
  relaygw::DescriptorStreamBuffer buffer_;
  std::streambuf* original_;
};

// Registers every subcommand on `app`, parses `argv` and runs the command chosen. Returns the
// exit status.
int run_command(CLI::App& app, int argc, char** argv) {
  app.failure_message(describe_parse_failure);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("relaygw ") + RELAYGW_VERSION);
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
  relaygw::gateway::add_integer_checks(app);

  // CLI11 gives each kind of option error its own exit status (105 for a value that fails its
  // check, 106 for a missing option, and so on). Every bad input exits with status 1 instead,
  // as the command errors do, so scripts need to test one value.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (const std::string unknown = relaygw::gateway::unknown_subcommand_message(app);
        !unknown.empty()) {
      std::cerr << unknown << "\n";
      return 1;
    }
    // `audit verify|reconcile --json` prints a JSON report for every failure, usage errors too.
    // A command that failed once running (CLI::RuntimeError) has printed its report already.
    if (error.get_exit_code() != 0 && dynamic_cast<const CLI::RuntimeError*>(&error) == nullptr) {
      std::string message = describe_parse_failure(&app, error);
      while (!message.empty() && message.back() == '\n') {
        message.pop_back();
      }
      for (std::size_t at = message.find('\n'); at != std::string::npos;
           at = message.find('\n', at)) {
        message.replace(at, 1, "; ");
      }
      if (const std::string report = relaygw::gateway::audit_parse_failure_report(app, message);
          !report.empty()) {
        std::cout << report << "\n";
      }
    }
    return app.exit(error) == 0 ? 0 : 1;
  } catch (const std::exception& error) {
    std::cerr << "relaygw: " << error.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A write past the file size limit (ulimit -f) then fails with EFBIG, which the command
  // reports, instead of killing the process and leaving a temporary output file behind.
  std::signal(SIGXFSZ, SIG_IGN);
  CheckedStandardOutput output;
  CLI::App app{"relaygw: TTY and relay billing gateway for relay centers"};
  int status = run_command(app, argc, argv);
  // A command whose output is lost has failed, even when it ran to the end: a full disk or a
  // closed reader must not leave a script with exit status 0 and an empty report.
  if (const int error = output.flush(); error != 0) {
    std::cerr << relaygw::gateway::parsed_command_path(app)
              << ": writing standard output failed: " << std::strerror(error)
              << "; the command ran, and any change it makes to a database is stored, so check "
                 "with the matching show or list command before running it again, with "
                 "standard output on a writable file or disk\n";
    status = status == 0 ? 1 : status;
  }
  return status;
}
