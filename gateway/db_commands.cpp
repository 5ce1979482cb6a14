// relaygw db init | db status | db load-deck: create a billing database, show what it holds,
// and store a new rate deck. Also the helpers in gateway/db_support.hpp.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <date/date.h>
#include <fmt/format.h>

#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "billing/directory.hpp"
#include "billing/migrations.hpp"
#include "billing/rating.hpp"
#include "billing/wal_check.hpp"
#include "common/utf8.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"
#include "gateway/logging.hpp"

namespace relaygw::gateway {

namespace {

// How to give an actor, for the message that rejects an empty or blank one.
constexpr std::string_view kActorFix =
    "pass a name such as --actor staff:alice, or leave --actor out to record staff:$USER";

}  // namespace

void add_database_options(CLI::App& command, DatabaseOptions& options, DatabaseUse use) {
  command.add_option("--db", options.db, "Billing database file (SQLite)")->capture_default_str();
  if (use == DatabaseUse::Write || use == DatabaseUse::WriteWithData) {
    // An empty --actor is rejected here, while parsing, because write_context cannot tell it
    // from an --actor left out, which records staff:$USER.
    const CLI::Validator staff_name(
        [](std::string& value) {
          return billing::check_staff_name("the value", value, kActorFix).message();
        },
        "", "STAFF NAME");
    command
        .add_option("--actor", options.actor,
                    "Who makes the change, recorded with it (default: staff:$USER)")
        ->check(staff_name);
  }
  if (use == DatabaseUse::ReadWithData || use == DatabaseUse::WriteWithData) {
    command.add_option("--data-dir", options.data_dir,
                       "Reference data folder with nanp/ (default: the bundled data/)");
  }
}

void fail_command(const std::string& command, const std::string& message) {
  std::cerr << "relaygw " << command << ": " << message << "\n";
  throw CLI::RuntimeError(1);
}

namespace {

// Fails `command` when --actor or one of its ids or keys contains a card number. The actor is
// checked here against the stored cards, because check_identifier_options leaves it out.
void check_identifiers(billing::Store& store, const DatabaseOptions& options,
                       const std::string& command) {
  const Status actor = billing::check_identifier_card_digits(&store, "--actor", options.actor,
                                                             billing::IdentifierKind::StaffName);
  if (!actor) {
    fail_command(command, actor.message());
  }
  check_identifier_options(store, command);
}

}  // namespace

std::unique_ptr<billing::SqliteStore> open_database(const DatabaseOptions& options,
                                                    const std::string& command) {
  auto store = billing::SqliteStore::open(options.db);
  if (!store) {
    fail_command(command, store.status().message());
  }
  check_identifiers(**store, options, command);
  return std::move(store).value();
}

Result<std::unique_ptr<billing::SqliteStore>> open_read_only_store(const DatabaseOptions& options) {
  billing::SqliteOptions read_only;
  read_only.read_only = true;
  auto store = billing::SqliteStore::open(options.db, read_only);
  if (!store) {
    return store.status();
  }
  const int version = (*store)->schema_version();
  if (version < billing::latest_schema_version()) {
    return Status(StatusCode::FailedPrecondition,
                  fmt::format("database '{}' is at schema version {}, and this command reads only "
                              "schema version {}. Commands that only read do not migrate the file, "
                              "so back it up and run `relaygw db migrate --db {}` as a user who "
                              "may write it, or run this command on a migrated copy",
                              options.db, version, billing::latest_schema_version(), options.db));
  }
  return store;
}

std::unique_ptr<billing::SqliteStore> open_database_read_only(const DatabaseOptions& options,
                                                              const std::string& command) {
  auto store = open_read_only_store(options);
  if (!store) {
    fail_command(command, store.status().message());
  }
  check_identifiers(**store, options, command);
  return std::move(store).value();
}

billing::WriteContext write_context(const DatabaseOptions& options) {
  std::string actor = options.actor;
  if (actor.empty()) {
    // $USER, else the login name of the process's user (services and containers often run
    // without $USER), else "unknown".
    const char* user = std::getenv("USER");
    std::string user_name = user != nullptr ? user : "";
    if (user_name.empty()) {
      const passwd* entry = ::getpwuid(::geteuid());
      user_name = entry != nullptr && entry->pw_name != nullptr ? entry->pw_name : "unknown";
    }
    // The actor check names only the actor, not its source, so name $USER and the fix here.
    if (const std::size_t bad = find_invalid_utf8(user_name); bad != std::string_view::npos) {
      std::cerr << "relaygw: $USER is not valid UTF-8 at byte " << bad + 1
                << ", so it cannot name the actor; pass --actor NAME\n";
      throw CLI::RuntimeError(1);
    }
    actor = "staff:" + user_name;
  }
  // The --actor option's own check has passed, while a name taken from $USER is checked here
  // for the first time. Both get the checks of every staff name.
  const bool from_user = options.actor.empty();
  // An actor is stored with every record and printed in full, so a card number typed into it,
  // or set in $USER, would be kept unmasked. open_database also checks it against the stored
  // cards.
  if (const Status checked = billing::check_identifier_card_digits(
          nullptr, from_user ? "the actor from $USER" : "--actor", actor,
          billing::IdentifierKind::StaffName);
      !checked) {
    std::cerr << "relaygw: " << checked.message()
              << (from_user ? ". Pass a name such as --actor staff:alice" : "") << "\n";
    throw CLI::RuntimeError(1);
  }
  if (const Status checked = billing::check_staff_name(
          from_user ? "the actor from $USER" : "--actor", actor,
          from_user ? "pass a name such as --actor staff:alice" : kActorFix);
      !checked) {
    // Staff may not be able to change $USER, so name the option that replaces it.
    std::cerr << "relaygw: " << checked.message()
              << (from_user ? ". Or pass a name such as --actor staff:alice" : "") << "\n";
    throw CLI::RuntimeError(1);
  }
  return billing::WriteContext{
      actor, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())};
}

billing::NumberPlan load_number_plan(const DatabaseOptions& options, const std::string& command) {
  const std::filesystem::path dir = options.data_dir.empty()
                                        ? billing::default_data_dir()
                                        : std::filesystem::path(options.data_dir);
  auto plan = billing::NumberPlan::load(dir);
  if (!plan) {
    fail_command(command, plan.status().message());
  }
  return std::move(plan).value();
}

std::optional<billing::RateDeck> load_deck_in_effect(billing::Store& store,
                                                     std::string_view local_date,
                                                     const std::string& command) {
  auto in_effect = store.rate_deck_in_effect(local_date);
  if (!in_effect) {
    fail_command(command, in_effect.status().message());
  }
  if (!in_effect->has_value()) {
    return std::nullopt;
  }
  auto stored = store.find_rate_deck((*in_effect)->sha256_hex);
  if (!stored) {
    fail_command(command, stored.status().message());
  }
  if (!stored->has_value()) {
    fail_command(command, "rate deck sha256 " + (*in_effect)->sha256_hex +
                              " is listed but its text is missing; restore the database");
  }
  auto deck = billing::RateDeck::parse((*stored)->text, (*stored)->source_path);
  if (!deck) {
    fail_command(command, "the stored rate deck does not parse: " + deck.status().message());
  }
  return std::move(deck).value();
}

std::string read_pin_from_stdin(const std::string& prompt) {
  const bool terminal = isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (terminal) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios silent = saved;
    silent.c_lflag &= static_cast<tcflag_t>(~ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &silent);
  }
  std::string pin;
  std::getline(std::cin, pin);
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  while (!pin.empty() && (pin.back() == '\r' || pin.back() == ' ')) {
    pin.pop_back();
  }
  return pin;
}

billing::Money parse_money_option(const std::string& text, const std::string& option,
                                  const std::string& command) {
  auto amount = billing::parse_dollars_and_cents(text);
  if (!amount) {
    fail_command(command, option + ": " + amount.status().message());
  }
  return *amount;
}

billing::Instant parse_instant_option(const std::string& text, const std::string& option,
                                      const std::string& command) {
  auto instant = billing::parse_instant(text);
  if (!instant) {
    fail_command(command, option + ": " + instant.status().message());
  }
  return *instant;
}

namespace {

struct InitOptions {
  DatabaseOptions database;
  std::string rates;      // empty: DATA_DIR/rates/example.toml
  std::string directory;  // empty: DATA_DIR/directory/sample_lines.csv
  bool no_directory = false;
};

struct StatusOptions {
  DatabaseOptions database;
  bool skip_check = false;
};

std::string read_text_file(const std::filesystem::path& path, const std::string& command) {
  // Opening a FIFO would block until a writer appears, so only regular files are read.
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    fail_command(command, "rate deck '" + path.string() +
                              "' is not a regular file; pass a .toml file or a folder of them "
                              "with --rates");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    fail_command(command, "cannot read rate deck '" + path.string() +
                              "'; pass an existing .toml file or a folder of them with --rates");
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The SHA-256 of a folder deck: of the lines "HASH  NAME\n" that `sha256sum *.toml` prints in
// that folder, one per file in name order.
std::string folder_deck_sha256(const std::vector<billing::StoredDeckFile>& files) {
  std::string manifest;
  for (const billing::StoredDeckFile& file : files) {
    manifest += file.sha256_hex + "  " + file.name + "\n";
  }
  return billing::sha256_hex(manifest);
}

std::string first_effective_date(const billing::RateDeck& deck) {
  if (deck.versions().empty()) {
    return "";
  }
  const billing::LocalDate first = deck.versions().front().effective;
  return fmt::format("{:04}-{:02}-{:02}", first.year, first.month, first.day);
}

// The stored decks seen from one date: the deck in effect then, the decks that take effect
// later, and how many decks neither is.
struct DeckSchedule {
  std::optional<billing::RateDeckHeader> in_effect;  // none when every deck starts later
  // Decks that start after the date, each the most recently stored one of its effective date,
  // by effective date.
  std::vector<billing::RateDeckHeader> pending;
  // Decks that will never be in effect for a call requested on or after the date: replaced by
  // a deck with a later effective date, or by a correction stored later with the same date.
  // Each deck counts once, by SHA-256 and effective date, so an earlier storage of the deck in
  // effect or of a pending deck, stored again after a correction, is not counted.
  std::size_t superseded = 0;
};

// Groups the stored decks by the rule of Store::rate_deck_in_effect as seen on `date`
// ("2026-07-01").
DeckSchedule deck_schedule(billing::Store& store, const std::string& date,
                           const std::string& command) {
  auto decks = store.list_rate_decks();
  if (!decks) {
    fail_command(command, decks.status().message());
  }
  // The most recently stored deck of each effective date, by date. ISO 8601 dates order as
  // text, and an empty date is the earliest.
  std::map<std::string, billing::RateDeckHeader> latest_by_date;
  for (const billing::RateDeckHeader& deck : *decks) {
    latest_by_date[deck.effective_from] = deck;  // listed in the order stored
  }
  DeckSchedule schedule;
  for (const auto& [effective_from, deck] : latest_by_date) {
    if (effective_from <= date) {
      schedule.in_effect = deck;  // the last one on or before `date` wins
    } else {
      schedule.pending.push_back(deck);
    }
  }
  std::set<std::pair<std::string, std::string>> current;
  if (schedule.in_effect) {
    current.emplace(schedule.in_effect->sha256_hex, schedule.in_effect->effective_from);
  }
  for (const billing::RateDeckHeader& deck : schedule.pending) {
    current.emplace(deck.sha256_hex, deck.effective_from);
  }
  std::set<std::pair<std::string, std::string>> superseded;
  for (const billing::RateDeckHeader& deck : *decks) {
    if (!current.contains({deck.sha256_hex, deck.effective_from})) {
      superseded.emplace(deck.sha256_hex, deck.effective_from);
    }
  }
  schedule.superseded = superseded.size();
  return schedule;
}

std::string effective_text(const billing::RateDeckHeader& deck) {
  return deck.effective_from.empty() ? std::string("with no effective date")
                                     : "effective " + deck.effective_from;
}

std::string utc_today() {
  return billing::format_instant(
             std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()))
      .substr(0, 10);
}

// Prints the deck in effect on `today`, as `db status` and `db load-deck` show it.
void print_deck_in_effect(const DeckSchedule& schedule, const std::string& today) {
  if (schedule.in_effect) {
    const billing::RateDeckHeader& deck = *schedule.in_effect;
    std::cout << fmt::format("rate deck in effect today (UTC date {}): '{}', {}, sha256 {}\n",
                             today, deck.name, effective_text(deck), deck.sha256_hex);
  } else {
    std::cout << fmt::format(
        "rate deck in effect today (UTC date {}): none, because every stored deck starts later\n",
        today);
  }
}

// Prints the pending decks and the count of superseded ones.
void print_other_decks(const DeckSchedule& schedule) {
  for (const billing::RateDeckHeader& deck : schedule.pending) {
    std::cout << fmt::format("pending rate deck: '{}', {}, sha256 {}\n", deck.name,
                             effective_text(deck), deck.sha256_hex);
  }
  if (schedule.superseded > 0) {
    std::cout << fmt::format(
        "superseded rate decks: {} (replaced by a deck with a later effective date or by a "
        "correction with the same date; calls that name one keep it)\n",
        schedule.superseded);
  }
}

// Reads a rate deck file, or every .toml file of a folder, checks that it loads as `relaygw
// quote` loads it, and builds its stored form.
billing::StoredRateDeck read_deck(const std::filesystem::path& path, const std::string& command) {
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) {
    const std::string text = read_text_file(path, command);
    auto deck = billing::RateDeck::parse(text, path.string());
    if (!deck) {
      fail_command(command, deck.status().message());
    }
    billing::StoredRateDeck stored;
    stored.name = deck->name();
    stored.text = text;
    stored.sha256_hex = billing::sha256_hex(text);
    stored.source_path = path.string();
    stored.effective_from = first_effective_date(*deck);
    return stored;
  }

  // The quote loader itself reads and checks the folder, so a deck is stored only if quotes
  // can use it, and the files stored are the texts it read.
  auto loaded = billing::read_rate_deck(path, "--rates");
  if (!loaded) {
    fail_command(command, loaded.status().message());
  }
  billing::StoredRateDeck stored;
  for (const billing::RateDeckFile& file : loaded->files) {
    stored.files.push_back({file.name, file.text, billing::sha256_hex(file.text)});
  }
  stored.name = loaded->deck.name();
  stored.text = loaded->merged_text;
  stored.sha256_hex = folder_deck_sha256(stored.files);
  stored.source_path = path.string();
  stored.effective_from = first_effective_date(loaded->deck);
  return stored;
}

std::filesystem::path data_dir(const DatabaseOptions& options) {
  return options.data_dir.empty() ? billing::default_data_dir()
                                  : std::filesystem::path(options.data_dir);
}

// An open descriptor of the database file that one `db init` holds under an exclusive flock()
// until it has finished, so two `db init` runs on one path never both load the deck and the
// directory. Destroy it only after the store, because closing a descriptor of a file releases
// every POSIX lock the process holds on it, SQLite's own locks included.
class InitClaim {
 public:
  explicit InitClaim(int descriptor) : descriptor_(descriptor) {}
  InitClaim(const InitClaim&) = delete;
  InitClaim& operator=(const InitClaim&) = delete;
  ~InitClaim() { ::close(descriptor_); }

 private:
  int descriptor_;
};

// Returns the message for a `db init` that finds another one creating the database `db`.
std::string init_in_progress(const std::string& db) {
  return "another `relaygw db init` is creating database '" + db +
         "' now; wait for it, then use that database or choose a new --db path";
}

// Creates the database file (with O_EXCL, so only one process creates it) or, when
// `empty_file`, opens the empty file there, and takes the claim. Fails the command when another
// `db init` holds the claim or has already filled the file.
std::unique_ptr<InitClaim> claim_new_database(const std::string& db, bool empty_file,
                                              const std::string& command) {
  const std::string exists_message =
      "database '" + db +
      "' already exists; choose a new --db path (opening an existing database migrates it "
      "automatically)";
  const int flags = O_RDWR | O_CLOEXEC | (empty_file ? 0 : O_CREAT | O_EXCL);
  const int descriptor = ::open(db.c_str(), flags, 0644);
  if (descriptor < 0) {
    if (errno == EEXIST) {
      fail_command(command, exists_message);
    }
    fail_command(command, "cannot create database '" + db + "': " + std::strerror(errno) +
                              "; check the folder's permissions or choose another --db path");
  }
  auto claim = std::make_unique<InitClaim>(descriptor);
  if (::flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
    fail_command(command, init_in_progress(db));
  }
  // Another `db init` may have filled the empty file before this one took the claim.
  struct stat status {};
  std::error_code error;
  if (::fstat(descriptor, &status) != 0 || status.st_size != 0 ||
      std::filesystem::exists(db + "-wal", error)) {
    fail_command(command, exists_message);
  }
  return claim;
}

// Fails `db init` on the existing file `db` with the fix that fits it. A damaged database
// gets "restore it from a backup, or choose a new --db path", because migrating it cannot
// repair it. The check reads the -wal file and opens the database read-only, so it finds a
// damaged header, schema or log.
// NOTE: damage in other pages is found only by PRAGMA quick_check (`relaygw db status`), which
// this check skips because it reads the whole file.
[[noreturn]] void reject_existing_database(const std::string& db, const std::string& command) {
  const std::string new_path = "or choose a new --db path to create a new database";
  // A file that another `db init` is still filling is neither damaged nor foreign yet. Its
  // claim (InitClaim) is an exclusive flock(), so a shared one fails while it is held.
  if (const int descriptor = ::open(db.c_str(), O_RDONLY | O_CLOEXEC); descriptor >= 0) {
    const bool claimed = ::flock(descriptor, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(descriptor);
    if (claimed) {
      fail_command(command, init_in_progress(db));
    }
  }
  if (const std::optional<std::string> damage = billing::check_wal_file(db)) {
    fail_command(command, "database '" + db + "' exists and is damaged, because its " + *damage +
                              ". To start over instead, choose a new --db path");
  }
  billing::SqliteOptions read_only;
  read_only.read_only = true;
  auto store = billing::SqliteStore::open(db, read_only);
  if (!store && store.status().code() == StatusCode::Corrupt) {
    fail_command(command, store.status().message() + ", " + new_path);
  }
  if (!store && store.status().code() == StatusCode::InvalidArgument) {
    fail_command(command, store.status().message());
  }
  fail_command(command, "database '" + db +
                            "' already exists; choose a new --db path (opening an existing "
                            "database migrates it automatically)");
}

void run_init(const InitOptions& options) {
  const std::string command = "db init";
  // An empty file is no database yet, and `db status` names `db init` for it, so init may use it.
  std::error_code error;
  const bool empty_file = std::filesystem::is_regular_file(options.database.db, error) &&
                          std::filesystem::file_size(options.database.db, error) == 0 &&
                          !std::filesystem::exists(options.database.db + "-wal", error);
  if (std::filesystem::is_directory(options.database.db, error)) {
    fail_command(command, "'" + options.database.db +
                              "' is a folder; pass a new database file path, such as --db " +
                              (std::filesystem::path(options.database.db) / "relaygw.db").string());
  }
  const std::filesystem::path parent = std::filesystem::path(options.database.db).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, error)) {
    fail_command(command, "folder '" + parent.string() + "' of --db '" + options.database.db +
                              "' does not exist; create it first (mkdir -p " + parent.string() +
                              ")");
  }
  if (std::filesystem::exists(options.database.db, error) && !empty_file) {
    reject_existing_database(options.database.db, command);
  }
  const std::filesystem::path deck_path = options.rates.empty()
                                              ? data_dir(options.database) / "rates/example.toml"
                                              : std::filesystem::path(options.rates);
  // Check every input before the file is created, so a bad input leaves nothing behind.
  const billing::StoredRateDeck deck = read_deck(deck_path, command);
  const std::filesystem::path directory_path =
      options.directory.empty() ? data_dir(options.database) / "directory/sample_lines.csv"
                                : std::filesystem::path(options.directory);
  std::ifstream directory;
  if (!options.no_directory) {
    if (std::filesystem::is_directory(directory_path, error)) {
      fail_command(command, "directory CSV '" + directory_path.string() +
                                "' is a folder; pass a CSV file with --directory or use "
                                "--no-directory");
    }
    directory.open(directory_path);
    if (!directory) {
      fail_command(command, "cannot read directory CSV '" + directory_path.string() +
                                "'; pass one with --directory or use --no-directory");
    }
  }

  const billing::WriteContext context = write_context(options.database);

  const std::unique_ptr<InitClaim> claim =
      claim_new_database(options.database.db, empty_file, command);
  billing::SqliteOptions create;
  create.create = true;
  // A step that fails after the file exists removes it again, so the same command can be run
  // once the input is fixed, and no half-made database is left to be taken for a real one.
  const auto remove_files = [&] {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(options.database.db + suffix, error);
    }
  };
  auto store = billing::SqliteStore::open(options.database.db, create);
  if (!store) {
    remove_files();
    fail_command(command, store.status().message() + "; no database was created");
  }
  const auto abandon = [&](const std::string& message) {
    store->reset();
    remove_files();
    fail_command(command, message + "; no database was created");
  };
  const Status added = (*store)->add_rate_deck(deck, context);
  if (!added) {
    abandon(added.message());
  }
  std::optional<billing::ImportReport> report;
  if (!options.no_directory) {
    const billing::NumberPlan plan = load_number_plan(options.database, command);
    auto imported = billing::import_lines_csv(**store, directory, context, &plan);
    if (!imported) {
      abandon(directory_path.string() + ": " + imported.status().message());
    }
    report = std::move(imported).value();
  }
  std::cout << fmt::format("created {} at schema version {}\n", options.database.db,
                           (*store)->schema_version());
  std::cout << fmt::format("rate deck '{}' from {} (sha256 {})\n", deck.name, deck.source_path,
                           deck.sha256_hex);
  if (report) {
    std::cout << fmt::format("directory: {} lines from {}\n", report->added,
                             directory_path.string());
    for (const billing::RowError& row_error : report->errors) {
      std::cerr << fmt::format("{} {}: {}\n", directory_path.string(),
                               billing::describe_row(row_error), row_error.message);
    }
  }
  logger("billing")->info("database created: db={} schema={}", options.database.db,
                          (*store)->schema_version());
}

// Prints the deck in effect today, with its source and files, and the pending decks.
void print_rate_decks(billing::SqliteStore& store) {
  const std::string command = "db status";
  const std::string today = utc_today();
  const DeckSchedule schedule = deck_schedule(store, today, command);
  if (!schedule.in_effect && schedule.pending.empty()) {
    std::cout << "rate deck: none; store one with `relaygw db load-deck`\n";
    return;
  }
  print_deck_in_effect(schedule, today);
  if (schedule.in_effect) {
    auto deck = store.find_rate_deck(schedule.in_effect->sha256_hex);
    if (!deck) {
      fail_command(command, deck.status().message());
    }
    if (deck->has_value()) {
      std::cout << fmt::format("  from {}\n", (*deck)->source_path);
      if ((*deck)->files.size() > 1) {
        for (const billing::StoredDeckFile& file : (*deck)->files) {
          std::cout << fmt::format("  file {} (sha256 {})\n", file.name, file.sha256_hex);
        }
      }
    }
  }
  print_other_decks(schedule);
}

// Prints the result of PRAGMA quick_check and its time, or fails the command with the
// damaged-file message.
void print_quick_check(billing::SqliteStore& store) {
  const auto started = std::chrono::steady_clock::now();
  const Status checked = store.quick_check();
  if (!checked) {
    fail_command("db status", checked.message());
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  std::cout << fmt::format("integrity: ok (PRAGMA quick_check, {:.1f} s)\n", took.count());
}

void run_status(const StatusOptions& options) {
  // The log is checked before SQLite opens the database, and the warning comes first, so it
  // is shown even when the open fails.
  const std::optional<std::string> wal_damage = billing::check_wal_file(options.database.db);
  if (wal_damage) {
    std::cerr << "relaygw db status: warning: " << *wal_damage << "\n";
  }
  // Status only reads, so an older schema is shown as it is and not migrated.
  billing::SqliteOptions read_only;
  read_only.read_only = true;
  auto opened = billing::SqliteStore::open(options.database.db, read_only);
  if (!opened) {
    fail_command("db status", opened.status().message());
  }
  const std::unique_ptr<billing::SqliteStore> store = std::move(opened).value();
  const std::string& db = options.database.db;
  std::cout << fmt::format("database: {}\nschema version: {} (this relaygw supports {})\n", db,
                           store->schema_version(), billing::latest_schema_version());
  if (store->schema_version() < billing::latest_schema_version()) {
    std::cout << fmt::format(
        "schema {} is older than {}; back up the file, then run `relaygw db migrate --db {}` as "
        "a user who may write it. Commands that write migrate it too, and commands that only "
        "read reject it until then\n",
        store->schema_version(), billing::latest_schema_version(), db);
  }
  if (options.skip_check) {
    std::cout << "integrity: not checked (--skip-check)\n";
  } else {
    print_quick_check(*store);
  }
  print_rate_decks(*store);
  auto lines = store->list_lines();
  if (!lines) {
    fail_command("db status", lines.status().message());
  }
  std::cout << fmt::format("directory lines: {}\n", lines->size());
  if (wal_damage) {
    std::cout << "write-ahead log: damaged, see the warning on standard error\n";
    throw CLI::RuntimeError(1);
  }
}

// Prints what migration 13 did to the numbers of calls stored as typed.
void print_call_number_rewrite(billing::SqliteStore& store) {
  auto rewrite = store.call_number_rewrite();
  if (!rewrite) {
    fail_command("db migrate", rewrite.status().message());
  }
  if (!*rewrite) {
    std::cout << "call numbers: every stored call number was already in E.164 form\n";
    return;
  }
  const billing::CallNumberRewrite& counts = **rewrite;
  std::cout << fmt::format(
      "call numbers: {} calls given E.164 corrections; {} numbers did not normalize and stay as "
      "stored\n",
      counts.calls_corrected, counts.numbers_not_normalized);
  for (const billing::UnnormalizedNumber& number : counts.not_normalized) {
    std::cout << fmt::format("  call {} {} '{}'\n", number.call_id, number.column, number.number);
  }
  if (counts.numbers_not_normalized > static_cast<std::int64_t>(counts.not_normalized.size())) {
    std::cout << fmt::format("  and {} more, not listed\n",
                             counts.numbers_not_normalized -
                                 static_cast<std::int64_t>(counts.not_normalized.size()));
  }
  logger("billing")->info(
      "call numbers corrected to E.164: calls={} numbers_not_normalized={}",
      counts.calls_corrected, counts.numbers_not_normalized);
}

// Prints what migration 14 added to the journal.
void print_journal_backfill(billing::SqliteStore& store) {
  auto backfill = store.journal_backfill();
  if (!backfill) {
    fail_command("db migrate", backfill.status().message());
  }
  if (!*backfill) {
    std::cout << "journal: no card top-ups, card refunds or typed receivables to add\n";
    return;
  }
  const billing::JournalBackfill& counts = **backfill;
  std::cout << fmt::format(
      "journal: {} prepaid card top-ups and {} card balance refunds journaled; {} journals moved "
      "from typed receivable accounts to E.164 accounts\n",
      counts.card_topups, counts.card_refunds, counts.receivable_journals);
  logger("billing")->info(
      "journal back-filled: card_topups={} card_refunds={} receivable_journals={}",
      counts.card_topups, counts.card_refunds, counts.receivable_journals);
}

void run_migrate(const DatabaseOptions& options) {
  const std::string command = "db migrate";
  billing::SqliteOptions read_only;
  read_only.read_only = true;
  auto before = billing::SqliteStore::open(options.db, read_only);
  if (!before) {
    fail_command(command, before.status().message());
  }
  const int old_version = (*before)->schema_version();
  before->reset();

  // Opening for writing applies every pending migration in its own transaction.
  auto store = open_database(options, command);
  if (old_version == store->schema_version()) {
    std::cout << fmt::format("{} is already at schema version {}; nothing to migrate\n", options.db,
                             old_version);
    return;
  }
  std::cout << fmt::format("migrated {} from schema version {} to {}\n", options.db, old_version,
                           store->schema_version());
  logger("billing")->info("database migrated: db={} from={} to={}", options.db, old_version,
                          store->schema_version());
  if (old_version < billing::kCallNumberCorrectionsSchema &&
      store->schema_version() >= billing::kCallNumberCorrectionsSchema) {
    print_call_number_rewrite(*store);
  }
  if (old_version < billing::kCardMoneyJournalSchema &&
      store->schema_version() >= billing::kCardMoneyJournalSchema) {
    print_journal_backfill(*store);
  }
}

// An authorized or connected call that is not posted yet, with the instant its rating starts:
// the connect instant, or the authorization instant while it is not connected yet.
struct OpenCall {
  const billing::CallRecord* record;
  billing::Instant start;
};

// Picks from the unposted calls those that are authorized or connected and that the current
// deck will rate. Emergency calls are left out, because they rate to zero under any deck, and
// so are calls that ended unconnected. So are calls whose record names the deck they were
// quoted with, because that deck rates them to the end (billing/call_records.hpp).
std::vector<OpenCall> find_open_calls(const std::vector<billing::CallRecord>& unposted) {
  std::vector<OpenCall> open;
  for (const billing::CallRecord& record : unposted) {
    const bool names_deck = record.request.quote && !record.request.quote->deck_sha256.empty();
    if (record.posting || record.request.emergency || names_deck) {
      continue;
    }
    std::optional<billing::Instant> start =
        billing::event_time(record, billing::CallEvent::Connected);
    // A call that ended before it connected bills zero, so no deck needs to rate it.
    const bool ended = billing::event_time(record, billing::CallEvent::Disconnected).has_value();
    if (!start && !ended) {
      start = billing::event_time(record, billing::CallEvent::Authorized);
    }
    if (start) {
      open.push_back({&record, *start});
    }
  }
  return open;
}

// Returns FailedPrecondition, naming up to ten calls, when `records` cannot rate an open call,
// because that call could then never be completed. Each open call gets the trial rating that
// `relaygw call create` gives a new call (CallRecords::check_rateable), at the instant its
// rating would start.
Status check_open_calls_rate(const std::vector<billing::CallRecord>& unposted,
                             const billing::CallRecords& records,
                             const billing::StoredRateDeck& stored) {
  constexpr std::size_t kMaxListed = 10;
  constexpr std::string_view kTrialPrefix =
      "the call cannot be billed with the current rate deck: ";
  std::vector<std::string> failures;
  std::size_t failed = 0;
  for (const OpenCall& call : find_open_calls(unposted)) {
    const Status rateable = records.check_rateable(call.record->request, call.start);
    if (rateable) {
      continue;
    }
    ++failed;
    if (failures.size() < kMaxListed) {
      // The trial's message names the current deck, but here the deck is the new one.
      std::string reason = rateable.message();
      if (reason.starts_with(kTrialPrefix)) {
        reason.erase(0, kTrialPrefix.size());
      }
      failures.push_back(fmt::format("  call {} from {} to {} (rated from {}): {}",
                                     call.record->request.id, call.record->request.from,
                                     call.record->request.to, billing::format_instant(call.start),
                                     reason));
    }
  }
  if (failed == 0) {
    return Status::ok();
  }
  std::string message = fmt::format(
      "rate deck '{}' from {} was not stored: it cannot rate {} open (authorized or connected) "
      "call{}, which could then never be completed:\n",
      stored.name, stored.source_path, failed, failed == 1 ? "" : "s");
  for (const std::string& failure : failures) {
    message += failure + "\n";
  }
  if (failed > failures.size()) {
    message += fmt::format("  and {} more\n", failed - failures.size());
  }
  message +=
      "add the missing rates or area codes to the deck, or complete those calls first "
      "(relaygw call complete --id ID --key KEY), then load the deck again";
  return Status(StatusCode::FailedPrecondition, message);
}

// Returns the day before `iso_date` ("2026-07-01"), or `iso_date` itself when it does not
// parse.
std::string day_before(const std::string& iso_date) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  char end = '\0';
  if (std::sscanf(iso_date.c_str(), "%4d-%2u-%2u%c", &year, &month, &day, &end) != 3) {
    return iso_date;
  }
  const date::year_month_day parsed{date::year{year}, date::month{month}, date::day{day}};
  if (!parsed.ok()) {
    return iso_date;
  }
  return date::format("%F", date::sys_days(parsed) - date::days(1));
}

// Returns the earliest effective date after `date` among `decks`, or "" when none is later.
std::string next_effective_date(const std::vector<billing::RateDeckHeader>& decks,
                                const std::string& date) {
  std::string next;
  for (const billing::RateDeckHeader& deck : decks) {
    if (deck.effective_from > date && (next.empty() || deck.effective_from < next)) {
      next = deck.effective_from;
    }
  }
  return next;
}

// Prints whether the deck just stored (or found stored already) is in effect today, pending or
// superseded, and the schedule of stored decks.
void print_load_result(billing::Store& store, const billing::StoredRateDeck& stored) {
  const std::string command = "db load-deck";
  const std::string today = utc_today();
  const DeckSchedule schedule = deck_schedule(store, today, command);
  const auto is_stored = [&](const billing::RateDeckHeader& deck) {
    return deck.sha256_hex == stored.sha256_hex && deck.effective_from == stored.effective_from;
  };
  if (schedule.in_effect && is_stored(*schedule.in_effect)) {
    std::cout << "it is in effect today (UTC date): calls requested from now on are rated with "
                 "it, and calls already requested keep the deck they were quoted with\n";
  } else if (stored.effective_from > today) {
    std::cout << fmt::format(
        "it is pending: calls requested from {} on (local date at the calling number's rate "
        "center) are rated with it, until a deck with a later effective date takes over\n",
        stored.effective_from);
  } else if (schedule.in_effect) {
    // The deck stored last for its date, which this one is, is in effect from its date until
    // the next later effective date, so backdated calls still use it.
    auto decks = store.list_rate_decks();
    if (!decks) {
      fail_command(command, decks.status().message());
    }
    const std::string last_day = day_before(next_effective_date(*decks, stored.effective_from));
    const std::string dates = stored.effective_from.empty()
                                  ? "up to " + last_day
                                  : stored.effective_from + " to " + last_day;
    const billing::RateDeckHeader& current = *schedule.in_effect;
    std::cout << fmt::format(
        "it is superseded: deck '{}' ({}, sha256 {}) has a later effective date and is in "
        "effect for calls requested today. The stored deck is in effect only for calls dated "
        "{} (local date at the calling number's rate center), such as calls created with an "
        "earlier `relaygw call create --at`, calls the gateway stores late, and rating-error "
        "credits on calls of those dates. To replace deck '{}', load a deck whose first version "
        "is effective on or after {}\n",
        current.name, effective_text(current), current.sha256_hex, dates, current.name,
        current.effective_from);
  }
  print_deck_in_effect(schedule, today);
  print_other_decks(schedule);
}

// Prints which deck `added`, stored just now, replaces as the deck of its effective date, and
// an identical copy stored before that deck, which storing it again brings back.
void print_replaced_deck(billing::Store& store, const billing::RateDeckHeader& added) {
  auto decks = store.list_rate_decks();
  if (!decks) {
    fail_command("db load-deck", decks.status().message());
  }
  const billing::RateDeckHeader* replaced = nullptr;
  const billing::RateDeckHeader* earlier_copy = nullptr;
  for (const billing::RateDeckHeader& deck : *decks) {
    if (deck.seq >= added.seq || deck.effective_from != added.effective_from) {
      continue;
    }
    replaced = &deck;  // listed in the order stored, so the last one is the deck replaced
    if (deck.sha256_hex == added.sha256_hex) {
      earlier_copy = &deck;
    }
  }
  if (replaced == nullptr) {
    return;
  }
  std::cout << fmt::format(
      "it replaces deck '{}' (sha256 {}, stored {} by {}), the deck stored last with the same "
      "effective date\n",
      replaced->name, replaced->sha256_hex, replaced->stored_at, replaced->actor);
  if (earlier_copy != nullptr) {
    std::cout << fmt::format(
        "this same deck was stored before, on {} by {}, and is the deck of that date again\n",
        earlier_copy->stored_at, earlier_copy->actor);
  }
}

void run_load_deck(const DatabaseOptions& options, const std::string& rates) {
  const std::string command = "db load-deck";
  auto store = open_database(options, command);
  const billing::StoredRateDeck stored = read_deck(rates, command);
  auto deck = billing::RateDeck::parse(stored.text, stored.source_path);
  if (!deck) {
    fail_command(command, deck.status().message());
  }
  // The plan and the deck are loaded before the store takes the write lock, so the lock is held
  // only for the listing and the trial ratings.
  const billing::NumberPlan plan = load_number_plan(options, command);
  const billing::Rater rater(&plan, &*deck);
  const billing::CallRecords records(store.get(), &rater);
  const Result<billing::RateDeckAddition> added = store->add_rate_deck_checked(
      stored,
      [&](const std::vector<billing::CallRecord>& unposted) {
        return check_open_calls_rate(unposted, records, stored);
      },
      write_context(options));
  if (!added) {
    fail_command(command, added.status().message());
  }
  const std::string effective = stored.effective_from.empty()
                                    ? std::string("with no effective date")
                                    : "effective " + stored.effective_from;
  if (!added->stored) {
    std::cout << fmt::format(
        "rate deck '{}' (sha256 {}), {}, is already stored on {} by {}; nothing changed\n",
        stored.name, stored.sha256_hex, effective, added->deck.stored_at, added->deck.actor);
    print_load_result(*store, stored);
    if (!stored.files.empty()) {
      std::cout << fmt::format("{} files from {}\n", stored.files.size(), stored.source_path);
    }
    return;
  }
  std::cout << fmt::format("rate deck '{}' stored (sha256 {}), {}\n", stored.name,
                           stored.sha256_hex, effective);
  print_replaced_deck(*store, added->deck);
  print_load_result(*store, stored);
  if (!stored.files.empty()) {
    std::cout << fmt::format("{} files from {}\n", stored.files.size(), stored.source_path);
  }
}

}  // namespace

void add_db_commands(CLI::App& app) {
  CLI::App* db = app.add_subcommand("db", "Create and inspect the billing database");
  db->require_subcommand(1);

  auto init_options = std::make_shared<InitOptions>();
  CLI::App* init = db->add_subcommand(
      "init", "Create a database with the bundled rate deck and sample directory");
  add_database_options(*init, init_options->database, DatabaseUse::WriteWithData);
  init->add_option("--rates", init_options->rates,
                   "Rate deck to store: a .toml file, or a folder whose .toml files are merged "
                   "as `relaygw quote` merges them (default: DATA_DIR/rates/example.toml)");
  init->add_option("--directory", init_options->directory,
                   "Directory CSV to import (default: DATA_DIR/directory/sample_lines.csv)");
  init->add_flag("--no-directory", init_options->no_directory, "Import no directory lines");
  init->callback([init_options] { run_init(*init_options); });

  auto status_options = std::make_shared<StatusOptions>();
  CLI::App* status = db->add_subcommand(
      "status", "Check the file's integrity and show schema version, rate deck and counts");
  add_database_options(*status, status_options->database, DatabaseUse::Read);
  status->add_flag("--skip-check", status_options->skip_check,
                   "Skip PRAGMA quick_check, which reads every page of the file and takes tens "
                   "of seconds on a file of a million calls");
  status->callback([status_options] { run_status(*status_options); });

  auto migrate_options = std::make_shared<DatabaseOptions>();
  CLI::App* migrate = db->add_subcommand(
      "migrate", "Apply pending schema migrations to an existing database (back it up first)");
  add_database_options(*migrate, *migrate_options, DatabaseUse::Read);
  migrate->callback([migrate_options] { run_migrate(*migrate_options); });

  auto deck_options = std::make_shared<DatabaseOptions>();
  auto rates = std::make_shared<std::string>();
  CLI::App* load_deck =
      db->add_subcommand("load-deck",
                         "Store a rate deck file or folder, in effect from its first version's "
                         "date; loading the deck stored last for that date again changes nothing");
  add_database_options(*load_deck, *deck_options, DatabaseUse::WriteWithData);
  load_deck
      ->add_option("--rates", *rates,
                   "Rate deck: a .toml file, or a folder whose .toml files are merged as "
                   "`relaygw quote` merges them")
      ->required();
  load_deck->callback([deck_options, rates] { run_load_deck(*deck_options, *rates); });
  // --actor is checked as every command's is: UTF-8, no control characters, at most 200 bytes.
  add_staff_command_checks(*db);
}

}  // namespace relaygw::gateway
