// Helpers shared by the commands that use the billing database (db, line, card, call): the
// --db, --actor and --data-dir options, opening the store, and reading a PIN from standard
// input.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/sqlite_store.hpp"

namespace relaygw::gateway {

struct DatabaseOptions {
  std::string db = "relaygw.db";
  std::string actor;     // empty: "staff:" and $USER
  std::string data_dir;  // empty: billing::default_data_dir()
};

// The options of DatabaseOptions that a command reads. Every command takes --db. A command
// gets --actor only when it writes, and --data-dir only when it loads the reference data or
// the default credit policy, so no command accepts an option that it ignores.
enum class DatabaseUse {
  Read,            // --db
  ReadWithData,    // --db and --data-dir
  Write,           // --db and --actor
  WriteWithData,   // --db, --actor and --data-dir
};

// Adds --db, and --actor and --data-dir as `use` selects, to `command`.
void add_database_options(CLI::App& command, DatabaseOptions& options, DatabaseUse use);

// Prints "relaygw COMMAND: MESSAGE" to standard error and throws CLI::RuntimeError(1), so
// relaygw exits with status 1.
[[noreturn]] void fail_command(const std::string& command, const std::string& message);

// Opens the existing database named by --db, or fails the command.
std::unique_ptr<billing::SqliteStore> open_database(const DatabaseOptions& options,
                                                    const std::string& command);

// Opens the existing database named by --db read-only for a command that only reads, or fails
// the command. Nothing is created, migrated or written. A database at an older schema is
// rejected with the fix, because the reading commands expect the numbers and journals that the
// migrations rewrite and back-fill.
std::unique_ptr<billing::SqliteStore> open_database_read_only(const DatabaseOptions& options,
                                                              const std::string& command);

// Opens the database as open_database_read_only does, but returns the failure instead of
// failing the command, for a command that reports it in its own form (JSON).
Result<std::unique_ptr<billing::SqliteStore>> open_read_only_store(const DatabaseOptions& options);

// Returns a WriteContext for the --actor (or "staff:$USER") at the current UTC second.
billing::WriteContext write_context(const DatabaseOptions& options);

// Returns the number plan from --data-dir, or fails the command.
billing::NumberPlan load_number_plan(const DatabaseOptions& options, const std::string& command);

// Loads the stored deck in effect on `local_date` ("2026-07-01", see
// Store::rate_deck_in_effect), or nullopt when the database has none. Exits through
// fail_command when the deck cannot be read or parsed.
std::optional<billing::RateDeck> load_deck_in_effect(billing::Store& store,
                                                     std::string_view local_date,
                                                     const std::string& command);

// Reads one line from standard input as a PIN. When standard input is a terminal it prompts
// on standard error and turns echo off while the PIN is typed.
std::string read_pin_from_stdin(const std::string& prompt);

// Parses a dollar amount option ("12.50") into units, or fails the command naming the option
// and asking for dollars and cents.
billing::Money parse_money_option(const std::string& text, const std::string& option,
                                  const std::string& command);

// Parses an ISO 8601 instant with an offset, or fails the command naming the option.
billing::Instant parse_instant_option(const std::string& text, const std::string& option,
                                      const std::string& command);

}  // namespace relaygw::gateway
