// Checks and debug logs shared by the staff commands (line, card, call, profile, quote, credit,
// dispute, report, plans, audit). Text options must be clean UTF-8. Each command logs its
// start, with its options, and its result on the "gateway" logger.
#pragma once

#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "billing/store.hpp"

namespace relaygw::gateway {

// Returns an empty string when `text` is well-formed UTF-8 with no NUL, or a message saying
// what is wrong with it at which byte.
std::string check_utf8_text(const std::string& text);

// Adds a UTF-8 check to every text option of `command` and of its subcommands, so a bad byte
// in --actor, --id or --by is rejected with the option's name before it reaches JSON output or
// the database. Text options other than --text, --note and --reason also reject control
// characters (billing::check_name_text). File path options (--db, --data-dir, --file, --chart,
// --deck, --policy, --token-file) are left out, because a Linux path may be any bytes. Also
// registers each subcommand by its path ("call create") so CommandLog can log the options it
// was given.
// `command` must outlive the parse, as the CLI::App tree does in main.
void add_staff_command_checks(CLI::App& command);

// Adds a check to every integer option of `app` and its subcommands that rejects a value that
// is not a decimal whole number, or is past the 64-bit range, with the value as typed. CLI11
// 2.1 (CLI/TypeTools.hpp) would read "010" as octal, "0x10" as hexadecimal and a value past the
// range as the nearest limit, so a later error would name a value other than the one typed.
// Call it after every option is added.
void add_integer_checks(CLI::App& app);

// Checks each identifier option that the parse gave `command` ("call create"): --id, --key,
// --call, --credit and --dispute, with billing::check_identifier_card_digits against the
// cards in `store`. open_database checks --actor. Fails the command on the first value rejected. A
// command that add_staff_command_checks did not register has no options checked here.
void check_identifier_options(billing::Store& store, const std::string& command);

// Returns "relaygw" and the subcommands that a parse of `app` reached, as "relaygw call create".
std::string parsed_command_path(const CLI::App& app);

// Returns a message naming the unknown subcommand word after a failed parse of `app`, such as
// "relaygw call: unknown subcommand 'shw'; did you mean 'show'? Or run `relaygw call --help`
// to list the subcommands", or an empty string when the failure was something else. A word with
// four or more digits is not shown, because it may contain a PIN or a card number, and a
// subcommand is suggested only when it is within two edits of the word.
std::string unknown_subcommand_message(const CLI::App& app);

// Returns the long option of the command that a parse of `app` reached closest to `name`, such
// as "--name" for "--nmae", or "" when none is close. Names of up to five letters allow one
// edit and longer names two, and two swapped letters count as one edit.
std::string closest_option_name(const CLI::App& app, const std::string& name);

// Returns the message for a command given without its required subcommand, such as
// "relaygw call: a subcommand is required (create, event, debit, complete, show); see
// `relaygw call --help`".
std::string missing_subcommand_message(const CLI::App& app);

// Logs "COMMAND started: --OPTION=VALUE ..." at debug level when made, and "COMMAND done" or
// "COMMAND failed" (an exception, the command's failure, left the run function) when
// destroyed. Card numbers (--card, and --number of card commands) are masked, and so are runs of
// 10 or more digits in free text and identifier options. PINs are never options, so they never
// appear.
class CommandLog {
 public:
  explicit CommandLog(std::string command);
  ~CommandLog();
  CommandLog(const CommandLog&) = delete;
  CommandLog& operator=(const CommandLog&) = delete;

  // Logs "COMMAND done: RESULT" now, in place of the plain "COMMAND done" at the end.
  void done(const std::string& result) const;

 private:
  std::string command_;
  int exceptions_at_start_ = std::uncaught_exceptions();
  mutable bool done_ = false;
};

}  // namespace relaygw::gateway
