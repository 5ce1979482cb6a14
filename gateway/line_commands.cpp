// relaygw line add | change | show | import | export: the directory (line information
// database). Every change is stored as a new line version with the actor and time.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/directory.hpp"
#include "common/json_text.hpp"
#include "common/output_file.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {
namespace {

struct LineOptions {
  DatabaseOptions database;
  std::string number;
  std::optional<std::string> name;
  std::optional<std::string> type;
  std::optional<std::string> screening;
  std::optional<std::string> state;
  std::optional<std::string> rate_center;
  std::optional<std::string> time_zone;
  std::optional<std::string> pic;
  std::optional<bool> tty;
  std::optional<bool> tty_discount;
  std::string reason = "changed by staff";
  std::string file;
  bool history = false;
  bool json = false;
};

void add_field_options(CLI::App& command, LineOptions& options) {
  command.add_option("--name", options.name, "Listing name");
  command.add_option("--type", options.type,
                     "Line type: residential, business, payphone, inmate, hotel, cellular or "
                     "government");
  command.add_option("--screening", options.screening,
                     "Billed-number screening: none, no-collect, no-third-number or both");
  command.add_option("--state", options.state, "Two-letter state code, such as IL");
  command.add_option("--rate-center", options.rate_center, "Rate center name");
  command.add_option("--time-zone", options.time_zone,
                     "IANA time zone of the rate center, such as America/Chicago");
  command.add_option("--pic", options.pic,
                     "Preferred long-distance carrier (4-digit code; empty for none)");
  command.add_option("--tty", options.tty, "true when the line is a TTY");
  command.add_option("--tty-discount", options.tty_discount,
                     "true when the subscriber is certified for the state TTY toll discount");
}

// Builds the change that the options describe, failing on an unknown type or screening name.
billing::LineChange change_from(const LineOptions& options, const std::string& command) {
  billing::LineChange change;
  change.listing_name = options.name;
  if (options.type) {
    change.type = billing::parse_line_type(*options.type);
    if (!change.type) {
      fail_command(command, "invalid --type '" + *options.type +
                                "'; use residential, business, payphone, inmate, hotel, "
                                "cellular or government");
    }
  }
  if (options.screening) {
    change.screening = billing::parse_screening(*options.screening);
    if (!change.screening) {
      fail_command(command, "invalid --screening '" + *options.screening +
                                "'; use none, no-collect, no-third-number or both");
    }
  }
  change.state = options.state;
  change.rate_center = options.rate_center;
  change.time_zone = options.time_zone;
  change.pic = options.pic;
  change.is_tty = options.tty;
  change.tty_discount_eligible = options.tty_discount;
  return change;
}

nlohmann::json line_json(const billing::LineVersion& version) {
  const billing::Line& line = version.line;
  return {{"number", line.number},
          {"listing_name", line.listing_name},
          {"line_type", billing::to_string(line.type)},
          {"screening", billing::to_string(line.screening)},
          {"state", line.state},
          {"rate_center", line.rate_center},
          {"time_zone", line.time_zone},
          {"pic", line.pic},
          {"is_tty", line.is_tty},
          {"tty_discount_eligible", line.tty_discount_eligible},
          {"version", version.version},
          {"changed_by", version.actor},
          {"changed_at", billing::format_instant(version.at)},
          {"reason", version.reason}};
}

void print_line(const billing::LineVersion& version) {
  const billing::Line& line = version.line;
  std::cout << fmt::format(
      "{}  {}\n  type {}, screening {}, {} {} ({})\n  carrier {}, TTY {}, TTY discount {}\n"
      "  version {} by {} at {}: {}\n",
      line.number, line.listing_name, billing::to_string(line.type),
      billing::to_string(line.screening), line.rate_center, line.state, line.time_zone,
      line.pic.empty() ? "none" : line.pic, line.is_tty ? "yes" : "no",
      line.tty_discount_eligible ? "yes" : "no", version.version, version.actor,
      billing::format_instant(version.at), version.reason);
}

void run_add(const LineOptions& options) {
  const std::string command = "line add";
  const CommandLog log(command);
  const billing::LineChange fields = change_from(options, command);
  billing::Line line;
  line.number = options.number;
  line.listing_name = fields.listing_name.value_or("");
  line.type = fields.type.value_or(billing::LineType::Residential);
  line.screening = fields.screening.value_or(billing::Screening::None);
  line.state = fields.state.value_or("");
  line.rate_center = fields.rate_center.value_or("");
  line.time_zone = fields.time_zone.value_or("");
  line.pic = fields.pic.value_or("");
  line.is_tty = fields.is_tty.value_or(false);
  line.tty_discount_eligible = fields.tty_discount_eligible.value_or(false);
  auto store = open_database(options.database, command);
  const billing::NumberPlan plan = load_number_plan(options.database, command);
  auto added = billing::add_line(*store, line, write_context(options.database), &plan);
  if (!added) {
    fail_command(command, added.status().message());
  }
  print_line(*added);
}

void run_change(const LineOptions& options) {
  const std::string command = "line change";
  const CommandLog log(command);
  auto store = open_database(options.database, command);
  const billing::NumberPlan plan = load_number_plan(options.database, command);
  auto changed = billing::change_line(*store, options.number, change_from(options, command),
                                      options.reason, write_context(options.database), &plan);
  if (!changed) {
    fail_command(command, changed.status().message());
  }
  print_line(*changed);
}

void run_show(const LineOptions& options) {
  const std::string command = "line show";
  const CommandLog log(command);
  auto number = billing::normalize_line_number(options.number);
  if (!number) {
    fail_command(command, number.status().message());
  }
  auto store = open_database_read_only(options.database, command);
  auto versions = store->line_history(*number);
  if (!versions) {
    fail_command(command, versions.status().message());
  }
  if (versions->empty()) {
    fail_command(command, "line " + *number + " is not in the directory");
  }
  if (!options.history) {
    versions->erase(versions->begin(), versions->end() - 1);
  }
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const billing::LineVersion& version : *versions) {
      list.push_back(line_json(version));
    }
    std::cout << json_text(options.history ? list : list.back()) << "\n";
    return;
  }
  for (const billing::LineVersion& version : *versions) {
    print_line(version);
  }
}

void run_import(const LineOptions& options) {
  const std::string command = "line import";
  const CommandLog log(command);
  std::error_code error;
  if (std::filesystem::is_directory(options.file, error)) {
    fail_command(command, "'" + options.file + "' is a folder; pass a CSV file with --file");
  }
  std::ifstream file(options.file);
  if (!file) {
    fail_command(command, "cannot read '" + options.file + "' (" + std::strerror(errno) +
                              "); pass a CSV file that exists and you may read");
  }
  auto store = open_database(options.database, command);
  const billing::NumberPlan plan = load_number_plan(options.database, command);
  auto report = billing::import_lines_csv(*store, file, write_context(options.database), &plan);
  if (!report) {
    fail_command(command, report.status().message());
  }
  for (const billing::RowError& error : report->errors) {
    std::cerr << fmt::format("{} {}: {}\n", options.file, billing::describe_row(error),
                             error.message);
  }
  std::cout << fmt::format("{} added, {} changed, {} unchanged, {} rejected\n", report->added,
                           report->changed, report->unchanged, report->errors.size());
  if (!report->errors.empty()) {
    throw CLI::RuntimeError(1);  // the good rows are stored; the status flags the bad ones
  }
}

void run_export(const LineOptions& options) {
  const std::string command = "line export";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  if (options.file.empty() || options.file == "-") {
    // A failed write leaves std::cout bad, and main reports it with the system's reason.
    const Status written = billing::export_lines_csv(*store, std::cout);
    if (!written && std::cout) {
      fail_command(command, written.message());
    }
    return;
  }
  Result<std::unique_ptr<OutputFile>> file = OutputFile::create(options.file);
  if (!file) {
    fail_command(command, file.status().message());
  }
  Status written = billing::export_lines_csv(*store, (*file)->stream());
  // After a failed write, commit() returns the failure with the system's reason.
  if (written || !(*file)->stream()) {
    written = (*file)->commit();
  }
  if (!written) {
    fail_command(command, written.message());
  }
}

}  // namespace

void add_line_commands(CLI::App& app) {
  CLI::App* line = app.add_subcommand("line", "Add, change, show, import and export lines");
  line->require_subcommand(1);

  auto add_options = std::make_shared<LineOptions>();
  CLI::App* add = line->add_subcommand("add", "Add a line to the directory");
  add_database_options(*add, add_options->database, DatabaseUse::WriteWithData);
  add->add_option("--number", add_options->number, "Line number (10-digit or E.164)")->required();
  add_field_options(*add, *add_options);
  add->callback([add_options] { run_add(*add_options); });

  auto change_options = std::make_shared<LineOptions>();
  CLI::App* change = line->add_subcommand("change", "Change fields of a line (new version)");
  add_database_options(*change, change_options->database, DatabaseUse::WriteWithData);
  change->add_option("--number", change_options->number, "Line number")->required();
  add_field_options(*change, *change_options);
  change->add_option("--reason", change_options->reason, "Why the line changed, for the audit")
      ->capture_default_str();
  change->callback([change_options] { run_change(*change_options); });

  auto show_options = std::make_shared<LineOptions>();
  CLI::App* show = line->add_subcommand("show", "Show a line");
  add_database_options(*show, show_options->database, DatabaseUse::Read);
  show->add_option("--number", show_options->number, "Line number")->required();
  show->add_flag("--history", show_options->history, "Show every version, oldest first");
  show->add_flag("--json", show_options->json, "Print JSON");
  show->callback([show_options] { run_show(*show_options); });

  auto import_options = std::make_shared<LineOptions>();
  CLI::App* import_command = line->add_subcommand(
      "import", "Import lines from CSV; bad rows are reported and skipped, exit status 1");
  add_database_options(*import_command, import_options->database, DatabaseUse::WriteWithData);
  import_command->add_option("--file", import_options->file, "CSV file with a header row")
      ->required();
  import_command->callback([import_options] { run_import(*import_options); });

  auto export_options = std::make_shared<LineOptions>();
  CLI::App* exported = line->add_subcommand("export", "Export the current lines as CSV");
  add_database_options(*exported, export_options->database, DatabaseUse::Read);
  exported->add_option("--file", export_options->file, "Output file (default: standard output)");
  exported->callback([export_options] { run_export(*export_options); });
  add_staff_command_checks(*line);
}

}  // namespace relaygw::gateway
