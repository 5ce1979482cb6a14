// relaygw profile show | change | history: billing profiles of directory lines. A change is a
// new line version with the actor, time and reason; history prints each version's old and new
// field values.
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/profiles.hpp"
#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {
namespace {

struct ProfileOptions {
  DatabaseOptions database;
  std::string line;
  std::optional<std::string> name;
  std::optional<std::string> type;
  std::optional<std::string> screening;
  std::optional<std::string> pic;
  std::optional<bool> tty;
  std::optional<bool> tty_discount;
  std::string reason;
  bool json = false;
};

nlohmann::json change_json(const billing::ProfileChange& change) {
  nlohmann::json fields = nlohmann::json::array();
  for (const billing::FieldChange& field : change.fields) {
    fields.push_back({{"field", field.field}, {"old", field.old_value}, {"new", field.new_value}});
  }
  return {{"number", change.number},    {"version", change.version},
          {"changed_by", change.actor}, {"changed_at", billing::format_instant(change.at)},
          {"reason", change.reason},    {"fields", fields}};
}

void print_change(const billing::ProfileChange& change) {
  std::cout << fmt::format("{} version {} by {} at {}: {}\n", change.number, change.version,
                           change.actor, billing::format_instant(change.at), change.reason);
  for (const billing::FieldChange& field : change.fields) {
    std::cout << fmt::format("  {}: '{}' -> '{}'\n", field.field, field.old_value, field.new_value);
  }
}

std::vector<billing::ProfileChange> history_or_fail(billing::Store& store, const std::string& line,
                                                    const std::string& command) {
  auto history = billing::profile_history(store, line);
  if (!history) {
    fail_command(command, history.status().message());
  }
  return *history;
}

void run_show(const ProfileOptions& options) {
  const std::string command = "profile show";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  const auto history = history_or_fail(*store, options.line, command);
  auto current = store->find_line(history.back().number);
  if (!current || !*current) {
    fail_command(command, "line " + history.back().number + " could not be read");
  }
  const billing::Line& line = (*current)->line;
  if (options.json) {
    std::cout << json_text(nlohmann::json{{"number", line.number},
                                          {"listing_name", line.listing_name},
                                          {"line_type", billing::to_string(line.type)},
                                          {"screening", billing::to_string(line.screening)},
                                          {"pic", line.pic},
                                          {"is_tty", line.is_tty},
                                          {"tty_discount_eligible", line.tty_discount_eligible},
                                          {"version", (*current)->version},
                                          {"changed_by", (*current)->actor},
                                          {"changed_at", billing::format_instant((*current)->at)}})
              << "\n";
    return;
  }
  std::cout << fmt::format(
      "{}  {}\n  line type {}\n  billed-number screening {}\n  carrier {}\n  TTY {}, TTY "
      "discount {}\n  version {}, changed by {} at {}\n",
      line.number, line.listing_name, billing::to_string(line.type),
      billing::to_string(line.screening), line.pic.empty() ? "none" : line.pic,
      line.is_tty ? "yes" : "no", line.tty_discount_eligible ? "eligible" : "not eligible",
      (*current)->version, (*current)->actor, billing::format_instant((*current)->at));
}

void run_change(const ProfileOptions& options) {
  const std::string command = "profile change";
  const CommandLog log(command);
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
  change.pic = options.pic;
  change.is_tty = options.tty;
  change.tty_discount_eligible = options.tty_discount;
  auto store = open_database(options.database, command);
  const billing::NumberPlan plan = load_number_plan(options.database, command);
  auto changed = billing::change_profile(*store, options.line, change, options.reason,
                                         write_context(options.database), &plan);
  if (!changed) {
    fail_command(command, changed.status().message());
  }
  if (options.json) {
    std::cout << json_text(change_json(*changed)) << "\n";
  } else {
    print_change(*changed);
  }
}

void run_history(const ProfileOptions& options) {
  const std::string command = "profile history";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  const auto history = history_or_fail(*store, options.line, command);
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const billing::ProfileChange& change : history) {
      list.push_back(change_json(change));
    }
    std::cout << json_text(list) << "\n";
    return;
  }
  for (const billing::ProfileChange& change : history) {
    print_change(change);
  }
}

void add_line_option(CLI::App& command, ProfileOptions& options, DatabaseUse use) {
  add_database_options(command, options.database, use);
  command.add_option("--line", options.line, "Line number (10-digit or E.164)")->required();
  command.add_flag("--json", options.json, "Print JSON");
}

}  // namespace

void add_profile_command(CLI::App& app) {
  CLI::App* profile =
      app.add_subcommand("profile", "Show and change billing profiles of directory lines");
  profile->require_subcommand(1);

  auto show_options = std::make_shared<ProfileOptions>();
  CLI::App* show = profile->add_subcommand("show", "Show a line's billing profile");
  add_line_option(*show, *show_options, DatabaseUse::Read);
  show->callback([show_options] { run_show(*show_options); });

  auto change_options = std::make_shared<ProfileOptions>();
  CLI::App* change = profile->add_subcommand(
      "change", "Change billing profile fields; stored as a new line version with --actor");
  add_line_option(*change, *change_options, DatabaseUse::WriteWithData);
  change->add_option("--name", change_options->name, "Listing name");
  change->add_option("--type", change_options->type,
                     "Line type: residential, business, payphone, inmate, hotel, cellular or "
                     "government");
  change->add_option("--screening", change_options->screening,
                     "Billed-number screening: none, no-collect, no-third-number or both");
  change->add_option("--pic", change_options->pic,
                     "Preferred long-distance carrier (4-digit code; empty for none)");
  change->add_option("--tty", change_options->tty, "true when the line is a TTY");
  change->add_option("--tty-discount", change_options->tty_discount,
                     "true when the subscriber is certified for the state TTY toll discount");
  change->add_option("--reason", change_options->reason, "Why the profile changed, for the audit")
      ->required();
  change->callback([change_options] { run_change(*change_options); });

  auto history_options = std::make_shared<ProfileOptions>();
  CLI::App* history = profile->add_subcommand(
      "history", "List every change of a line: who, when, why, old and new values");
  add_line_option(*history, *history_options, DatabaseUse::Read);
  history->callback([history_options] { run_history(*history_options); });
  add_staff_command_checks(*profile);
}

}  // namespace relaygw::gateway
