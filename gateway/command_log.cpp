#include "gateway/command_log.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "common/card_digits.hpp"
#include "common/edit_distance.hpp"
#include "common/utf8.hpp"
#include "gateway/logging.hpp"

namespace relaygw::gateway {
namespace {

constexpr std::array<std::string_view, 9> kPathOptions = {"--db",    "--data-dir",  "--file",
                                                          "--chart", "--deck",      "--policy",
                                                          "--rates", "--directory", "--token-file"};

// Free-text options, which may hold any UTF-8 text. Every other text option is a name, an id,
// a number or a keyword, and is also checked for control characters.
constexpr std::array<std::string_view, 3> kFreeTextOptions = {"--text", "--note", "--reason"};

// Options besides the free text whose values staff type freely, so a caller's card number may
// be pasted into them. The command log masks card-number-length digit runs in their values.
constexpr std::array<std::string_view, 3> kTypedTextOptions = {"--person", "--account", "--name"};

// Options whose values are ids, keys or a staff name, stored with records and printed in full,
// so check_identifier_options rejects a card number in them.
struct IdentifierOption {
  std::string_view name;
  billing::IdentifierKind kind;
};
constexpr std::array<IdentifierOption, 7> kIdentifierOptions = {{
    {"--id", billing::IdentifierKind::Id},
    {"--key", billing::IdentifierKind::Key},
    {"--call", billing::IdentifierKind::Id},
    {"--credit", billing::IdentifierKind::Id},
    {"--dispute", billing::IdentifierKind::Id},
    {"--actor", billing::IdentifierKind::StaffName},
    {"--by", billing::IdentifierKind::StaffName},  // who accepted a call's charges
}};

const IdentifierOption* find_identifier_option(std::string_view name) {
  for (const IdentifierOption& option : kIdentifierOptions) {
    if (option.name == name) {
      return &option;
    }
  }
  return nullptr;
}

// Longest accepted free text, in bytes. Every value ends up in records, the audit log and
// reports, so one stray paste must not copy a whole document into each of them. Names and ids
// have the shorter limit billing::kMaxNameBytes.
constexpr std::size_t kMaxFreeTextBytes = 2000;

std::string check_length(const std::string& value, std::size_t limit, std::string_view kind) {
  if (value.size() <= limit) {
    return {};
  }
  return "the value is " + std::to_string(value.size()) + " bytes long, and " +
         std::string(kind) + " may be at most " + std::to_string(limit) +
         " bytes; shorten it and retry";
}

bool is_free_text_option(const CLI::Option& option) {
  for (std::string_view name : kFreeTextOptions) {
    if (option.check_lname(std::string(name.substr(2)))) {
      return true;
    }
  }
  return false;
}

bool is_path_option(const CLI::Option& option) {
  for (std::string_view name : kPathOptions) {
    if (option.check_lname(std::string(name.substr(2)))) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string check_utf8_text(const std::string& text) {
  return find_text_fault(text, false).description;
}

namespace {

// Subcommands registered by add_staff_command_checks, by path such as "call create". Filled
// while main builds the CLI::App tree, before any command runs, and read-only afterwards.
std::map<std::string, const CLI::App*>& registered_commands() {
  static std::map<std::string, const CLI::App*> commands;
  return commands;
}

void add_checks(CLI::App& command, const std::string& path, const CLI::Validator& utf8,
                const CLI::Validator& name, const CLI::Validator& free_text) {
  registered_commands()[path] = &command;
  for (CLI::Option* option : command.get_options()) {
    if (option->get_type_size() != 0 && !is_path_option(*option) &&
        option->get_type_name() == "TEXT") {
      option->check(utf8);
      option->check(is_free_text_option(*option) ? free_text : name);
    }
  }
  for (CLI::App* subcommand : command.get_subcommands({})) {
    add_checks(*subcommand, path + " " + subcommand->get_name(), utf8, name, free_text);
  }
}

std::string describe_options(const std::string& path) {
  auto found = registered_commands().find(path);
  if (found == registered_commands().end()) {
    return "(options not registered)";
  }
  const bool card_command = path.rfind("card ", 0) == 0;
  std::string details;
  for (const CLI::Option* option : found->second->get_options()) {
    if (option->count() == 0) {
      continue;
    }
    const std::string name = option->get_name(false, true);
    const bool card_number = name == "--card" || (card_command && name == "--number");
    for (const std::string& value : option->results()) {
      details += details.empty() ? "" : " ";
      details += name;
      if (option->get_type_size() != 0) {
        if (card_number) {
          details += "=" + billing::mask_card_number(value);
        } else if (is_free_text_option(*option) ||
                   std::find(kTypedTextOptions.begin(), kTypedTextOptions.end(), name) !=
                       kTypedTextOptions.end() ||
                   find_identifier_option(name) != nullptr) {
          // A reason may quote a card number, and an id that contains one is rejected only after
          // this line is logged.
          details += "=" + mask_card_number_runs(value);
        } else {
          // A card number may also be typed into a phone number or other option. Runs longer
          // than any E.164 number are masked, so phone numbers stay readable in the log.
          details += "=" + mask_card_number_runs(value, kMinMaskedPhoneNumberDigits);
        }
      }
    }
  }
  return details.empty() ? "no options" : details;
}

}  // namespace

void add_staff_command_checks(CLI::App& command) {
  const CLI::Validator utf8(
      [](std::string& value) {
        const std::string fault = check_utf8_text(value);
        return fault.empty() ? std::string() : "the value " + fault + "; retype it as UTF-8 text";
      },
      "", "UTF-8");
  const CLI::Validator name(
      [](std::string& value) {
        const std::string fault = billing::check_name_text("the value", value).message();
        return fault.empty() ? billing::check_name_length("the value", value).message() : fault;
      },
      "", "NAME");
  const CLI::Validator free_text(
      [](std::string& value) { return check_length(value, kMaxFreeTextBytes, "free text"); }, "",
      "TEXT");
  add_checks(command, command.get_name(), utf8, name, free_text);
}

namespace {

// Checks an integer option's value and rewrites it in the one form that CLI11's base-0 reading
// takes as decimal: no '+' and no leading zeros ("-007" becomes "-7").
std::string check_integer_value(std::string& value, bool is_unsigned) {
  std::string_view digits = value;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
    digits.remove_prefix(1);
  }
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  // A card number may be typed into the wrong option, so digit runs in the value are masked,
  // unless the value is one run longer than any card number.
  const std::string displayed_value = all_digits && digits.size() > kMaxCardNumberDigits
                                          ? value
                                          : mask_card_number_runs(value);
  if (!all_digits) {
    return "the value '" + displayed_value +
           "' is not a whole number; give decimal digits only, such as 12";
  }
  if (is_unsigned && negative) {
    return "the value '" + displayed_value + "' is negative; give a whole number of 0 or more";
  }

  const std::size_t first_nonzero = digits.find_first_not_of('0');
  const std::string normalized =
      first_nonzero == std::string_view::npos
          ? std::string("0")
          : (negative ? "-" : "") + std::string(digits.substr(first_nonzero));

  bool in_range = false;
  if (is_unsigned) {
    std::uint64_t parsed = 0;
    const auto [end, error] =
        std::from_chars(normalized.data(), normalized.data() + normalized.size(), parsed);
    in_range = error == std::errc() && end == normalized.data() + normalized.size();
  } else {
    std::int64_t parsed = 0;
    const auto [end, error] =
        std::from_chars(normalized.data(), normalized.data() + normalized.size(), parsed);
    in_range = error == std::errc() && end == normalized.data() + normalized.size();
  }
  if (!in_range) {
    return "the value '" + displayed_value + "' is out of range; give a whole number from " +
           (is_unsigned ? std::string("0 to ") + std::to_string(UINT64_MAX)
                        : std::to_string(INT64_MIN) + " to " + std::to_string(INT64_MAX));
  }
  value = normalized;
  return {};
}

}  // namespace

void add_integer_checks(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    const std::string type = option->get_type_name();
    if (option->get_type_size() == 0 || (type != "INT" && type != "UINT")) {
      continue;
    }
    const bool is_unsigned = type == "UINT";
    // A transform, unlike a check, passes its rewritten value on to the conversion.
    option->transform(CLI::Validator(
        [is_unsigned](std::string& value) { return check_integer_value(value, is_unsigned); },
        "", type));
  }
  for (CLI::App* subcommand : app.get_subcommands({})) {
    add_integer_checks(*subcommand);
  }
}

void check_identifier_options(billing::Store& store, const std::string& command) {
  const auto found = registered_commands().find(command);
  if (found == registered_commands().end()) {
    return;
  }
  for (const CLI::Option* option : found->second->get_options()) {
    // open_database and write_context check the actor.
    const IdentifierOption* identifier = find_identifier_option(option->get_name(false, true));
    if (identifier == nullptr || identifier->name == "--actor" || option->count() == 0) {
      continue;
    }
    for (const std::string& value : option->results()) {
      const Status checked =
          billing::check_identifier_card_digits(&store, identifier->name, value, identifier->kind);
      if (!checked) {
        std::cerr << "relaygw " << command << ": " << checked.message() << "\n";
        throw CLI::RuntimeError(1);
      }
    }
  }
}

namespace {

// Returns the deepest subcommand that a parse of `app` reached, and its path into `path`. After
// a parse, CLI11 names the root app after argv[0], which may be a full path, so the path starts
// with "relaygw".
const CLI::App* deepest_parsed(const CLI::App& app, std::string& path) {
  path = "relaygw";
  const CLI::App* current = &app;
  while (true) {
    const std::vector<const CLI::App*> parsed =
        current->get_subcommands([](const CLI::App* subcommand) { return subcommand->parsed(); });
    if (parsed.empty()) {
      return current;
    }
    current = parsed.front();
    path += " " + current->get_name();
  }
}

}  // namespace

std::string parsed_command_path(const CLI::App& app) {
  std::string path;
  deepest_parsed(app, path);
  return path;
}

namespace {

// Returns the names of the subcommands that `app` lists in its help, in the order added.
std::vector<std::string> listed_subcommands(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* subcommand : app.get_subcommands({})) {
    if (!subcommand->get_name().empty() && !subcommand->get_group().empty()) {
      names.push_back(subcommand->get_name());
    }
  }
  return names;
}

// Returns the name in `names` closest to `word`, or "" when none is within two edits and
// closer than the word's own length, so that a short or unrelated word gets no suggestion.
std::string closest_name(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  std::size_t best_distance = std::min<std::size_t>(3, word.size());
  for (const std::string& name : names) {
    const std::size_t distance = edit_distance(word, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best;
}

// True when `word` has as many digits as the shortest PIN, so it may contain a PIN or a card
// number.
bool may_hold_pin(std::string_view word) {
  constexpr std::ptrdiff_t kMinPinDigits = 4;
  return std::count_if(word.begin(), word.end(),
                       [](unsigned char c) { return std::isdigit(c) != 0; }) >= kMinPinDigits;
}

}  // namespace

std::string closest_option_name(const CLI::App& app, const std::string& name) {
  std::string path;
  const CLI::App* command = deepest_parsed(app, path);
  // Short names get one edit at most, so "--pin" is not taken for "--id".
  const std::string word = name.rfind("--", 0) == 0 ? name.substr(2) : name;
  std::size_t best_distance = word.size() <= 5 ? 2 : 3;
  std::string best;
  for (const CLI::Option* option : command->get_options()) {
    for (const std::string& long_name : option->get_lnames()) {
      std::size_t distance = edit_distance(word, long_name);
      // Two swapped letters ("nmae") count as one edit.
      std::string sorted_word = word;
      std::string sorted_name = long_name;
      std::sort(sorted_word.begin(), sorted_word.end());
      std::sort(sorted_name.begin(), sorted_name.end());
      if (distance == 2 && sorted_word == sorted_name) {
        distance = 1;
      }
      if (distance < best_distance) {
        best = "--" + long_name;
        best_distance = distance;
      }
    }
  }
  return best;
}

std::string missing_subcommand_message(const CLI::App& app) {
  std::string path;
  const CLI::App* current = deepest_parsed(app, path);
  std::string names;
  for (const std::string& name : listed_subcommands(*current)) {
    names += (names.empty() ? "" : ", ") + name;
  }
  return path + ": a subcommand is required (" + names + "); see `" + path + " --help`";
}

std::string unknown_subcommand_message(const CLI::App& app) {
  std::string path;
  const CLI::App* current = deepest_parsed(app, path);
  if (current->get_require_subcommand_min() == 0) {
    return {};
  }
  for (const std::string& word : current->remaining()) {
    if (word.empty() || word.front() == '-') {
      continue;
    }
    const std::string help = "run `" + path + " --help` to list the subcommands";
    if (may_hold_pin(word)) {
      return path + ": unknown subcommand (not shown, since its digits may be a PIN or a card "
                    "number); " +
             help;
    }
    const std::string suggestion = closest_name(word, listed_subcommands(*current));
    if (suggestion.empty()) {
      return path + ": unknown subcommand '" + word + "'; " + help;
    }
    return path + ": unknown subcommand '" + word + "'; did you mean '" + suggestion + "'? Or " +
           help;
  }
  return {};
}

CommandLog::CommandLog(std::string command) : command_(std::move(command)) {
  logger("gateway")->debug("{} started: {}", command_, describe_options(command_));
}

CommandLog::~CommandLog() {
  if (done_) {
    return;
  }
  if (std::uncaught_exceptions() > exceptions_at_start_) {
    logger("gateway")->debug("{} failed", command_);
  } else {
    logger("gateway")->debug("{} done", command_);
  }
}

void CommandLog::done(const std::string& result) const {
  done_ = true;
  logger("gateway")->debug("{} done: {}", command_, result);
}

}  // namespace relaygw::gateway
