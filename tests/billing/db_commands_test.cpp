// The relaygw db, line, card and call commands, run as real processes on real database files.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include "billing/migrations.hpp"
#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/rating.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

namespace {

using Run = relaygw::billing::testing::CommandRun;

class CommandFixture {
 public:
  CommandFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-db-commands-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~CommandFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string db() const { return path("billing.db"); }

  // Runs relaygw with `arguments` (already shell-quoted), feeding `input` on standard input.
  Run relaygw(const std::string& arguments, const std::string& input = "") {
    const std::string input_file = path("stdin.txt");
    std::ofstream(input_file) << input;
    return ::relaygw::billing::testing::run_relaygw(arguments, input_file);
  }
  Run init() {
    Run run = relaygw("db init --db '" + db() + "' --actor staff:test");
    REQUIRE(run.status == 0);
    return run;
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(CommandFixture, "db init loads deck and directory", "[billing][commands]") {
  const Run created = init();
  CHECK(created.output.find("schema version " +
                            std::to_string(relaygw::billing::latest_schema_version())) !=
        std::string::npos);
  CHECK(created.output.find("directory: 15 lines") != std::string::npos);
  const Run status = relaygw("db status --db '" + db() + "'");
  CHECK(status.status == 0);
  CHECK(status.output.find("sha256 ") != std::string::npos);
  CHECK(status.output.find("directory lines: 15") != std::string::npos);

  const Run again = relaygw("db init --db '" + db() + "'");
  CHECK(again.status == 1);
  CHECK(again.output.find("already exists") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "concurrent db init loads once", "[billing][commands]") {
  // Both a new path and an empty file (which db init also accepts) are raced by four processes.
  for (const bool empty_file : {false, true}) {
    DYNAMIC_SECTION("empty file " << empty_file) {
      if (empty_file) {
        std::ofstream touched(db());
      }
      constexpr int kRuns = 4;
      std::ostringstream script;
      script << "for i in $(seq " << kRuns << "); do ('" << RELAYGW_BINARY << "' db init --db '"
             << db() << "' --actor staff:init$i >'" << path("out") << "'$i 2>&1; echo $? >'"
             << path("rc") << "'$i) & done; wait";
      std::ofstream(path("race.sh")) << script.str() << "\n";
      REQUIRE(std::system(("bash '" + path("race.sh") + "'").c_str()) == 0);

      int created = 0;
      for (int run = 1; run <= kRuns; ++run) {
        std::ifstream rc_file(path("rc" + std::to_string(run)));
        int status = -1;
        rc_file >> status;
        std::ifstream out_file(path("out" + std::to_string(run)));
        const std::string output((std::istreambuf_iterator<char>(out_file)),
                                 std::istreambuf_iterator<char>());
        INFO("run " << run << ": " << output);
        if (status == 0) {
          ++created;
          continue;
        }
        CHECK(status == 1);
        const bool named = output.find("already exists") != std::string::npos ||
                           output.find("another `relaygw db init` is creating") !=
                               std::string::npos;
        CHECK(named);
      }
      CHECK(created == 1);

      sqlite3* raw = nullptr;
      REQUIRE(sqlite3_open(db().c_str(), &raw) == SQLITE_OK);
      const auto count = [raw](const char* sql) {
        sqlite3_stmt* statement = nullptr;
        REQUIRE(sqlite3_prepare_v2(raw, sql, -1, &statement, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
        const int value = sqlite3_column_int(statement, 0);
        sqlite3_finalize(statement);
        return value;
      };
      CHECK(count("SELECT COUNT(*) FROM rate_decks") == 1);
      CHECK(count("SELECT COUNT(*) FROM line_versions") == 15);
      sqlite3_close(raw);
    }
  }
}

TEST_CASE_METHOD(CommandFixture, "db init checks directory area codes", "[billing][commands]") {
  std::ofstream(path("lines.csv"))
      << "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,is_tty,"
         "tty_discount_eligible\n"
         "7735550120,Good Line,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "9995550150,No Such Area,business,none,IL,CHICAGO,America/Chicago,,no,no\n";
  const Run created =
      relaygw("db init --db '" + db() + "' --directory '" + path("lines.csv") + "'");
  INFO(created.output);
  CHECK(created.output.find("directory: 1 lines") != std::string::npos);
  CHECK(created.output.find("row 3: ") != std::string::npos);
  CHECK(created.output.find("area code 999 is not assigned") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "failed db init leaves no database", "[billing][commands]") {
  // A directory file whose header lacks columns fails after the database file was made.
  std::ofstream(path("header-only.csv")) << "number\n";
  const Run bad_header =
      relaygw("db init --db '" + db() + "' --directory '" + path("header-only.csv") + "'");
  INFO(bad_header.output);
  CHECK(bad_header.status == 1);
  CHECK(bad_header.output.find("no column 'listing_name'") != std::string::npos);
  CHECK(bad_header.output.find("no database was created") != std::string::npos);
  CHECK(bad_header.output.find("created " + db()) == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(db()));
  CHECK_FALSE(std::filesystem::exists(db() + "-wal"));

  const Run folder = relaygw("db init --db '" + db() + "' --directory '" + path("") + "'");
  CHECK(folder.status == 1);
  CHECK(folder.output.find("is a folder") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(db()));

  // A rejected --actor, blank or holding a card number, is found before the file is made.
  for (const std::string actor : {"'   '", "'staff 4111 1111 1111 9876'"}) {
    const Run bad_actor = relaygw("db init --db '" + db() + "' --no-directory --actor " + actor);
    INFO(bad_actor.output);
    CHECK(bad_actor.status == 1);
    CHECK(bad_actor.output.find("--actor") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(db()));
  }

  // The same command then works once the input is fixed.
  CHECK(relaygw("db init --db '" + db() + "' --no-directory").status == 0);
}

TEST_CASE_METHOD(CommandFixture, "db commands check the actor text", "[billing][commands]") {
  // db init and db load-deck take --actor, which is stored with every record they write, so it
  // gets the checks of every other command's --actor.
  const std::string too_long = "staff:" + std::string(195, 'a');  // 201 bytes
  const Run long_init = relaygw("db init --db '" + db() + "' --no-directory --actor " + too_long);
  INFO(long_init.output);
  CHECK(long_init.status == 1);
  CHECK(long_init.output.find("--actor") != std::string::npos);
  CHECK(long_init.output.find("201 bytes long, and a name or id may be at most 200 bytes") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(db()));

  const Run control = relaygw("db init --db '" + db() + "' --no-directory --actor \"$(printf 'a\\033b')\"");
  INFO(control.output);
  CHECK(control.status == 1);
  CHECK(control.output.find("control character U+001B") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(db()));

  const std::string longest = "staff:" + std::string(194, 'a');  // 200 bytes
  const Run init = relaygw("db init --db '" + db() + "' --no-directory --actor " + longest);
  INFO(init.output);
  REQUIRE(init.status == 0);

  const Run long_load = relaygw("db load-deck --db '" + db() + "' --rates '" +
                                std::string(RELAYGW_SOURCE_DIR) +
                                "/data/rates/example.toml' --actor " + too_long);
  INFO(long_load.output);
  CHECK(long_load.status == 1);
  CHECK(long_load.output.find("at most 200 bytes") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "commands need an existing database", "[billing][commands]") {
  const Run missing = relaygw("line show --db '" + path("typo.db") + "' --number 3125550107");
  CHECK(missing.status == 1);
  CHECK(missing.output.find("does not exist") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path("typo.db")));

  const Run bad_deck =
      relaygw("db init --db '" + db() + "' --rates '" + path("missing.toml") + "'");
  CHECK(bad_deck.status == 1);
  CHECK(bad_deck.output.find("missing.toml") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(db()));
}

TEST_CASE_METHOD(CommandFixture, "newer database refused by commands", "[billing][commands]") {
  init();
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db().c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw,
                       "INSERT INTO schema_version VALUES (999, 'future', '2030-01-01T00:00:00Z')",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  const Run status = relaygw("db status --db '" + db() + "'");
  CHECK(status.status == 1);
  CHECK(status.output.find("version 999 is newer than this relaygw supports") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "line import reports each quote error", "[billing][commands]") {
  init();
  // Row 3 has a stray quote inside an unquoted field and row 5 a quote that never closes. Row
  // 7 has a line break inside a quoted field, so it spans lines 7 and 8, and row 8 starts on
  // line 9, where a spreadsheet shows it as row 8.
  std::ofstream(path("quotes.csv"))
      << "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,is_tty,"
         "tty_discount_eligible\n"
         "7735550120,Good Line,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550121,Pat O\"Hara,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550122,Second Good,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550123,\"Unclosed name,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550124,\"Poe, Ann\",business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550125,\"Two\nline name\",business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550126,Bad Zone,business,none,IL,CHICAGO,Central Time,,no,no\n"
         "7735550127,Last Good,business,none,IL,CHICAGO,America/Chicago,,no,no\n";
  const Run imported =
      relaygw("line import --db '" + db() + "' --file '" + path("quotes.csv") + "'");
  INFO(imported.output);
  CHECK(imported.status == 1);
  CHECK(imported.output.find("row 3: quote inside unquoted CSV field 2") != std::string::npos);
  CHECK(imported.output.find("row 5: unclosed quote in CSV field 2") != std::string::npos);
  CHECK(imported.output.find("row 7: invalid listing name") != std::string::npos);
  CHECK(imported.output.find("row 8 (line 9): unknown time zone 'Central Time'") !=
        std::string::npos);
  CHECK(imported.output.find("4 added, 0 changed, 0 unchanged, 4 rejected") != std::string::npos);
  for (const char* good : {"7735550120", "7735550122", "7735550124", "7735550127"}) {
    INFO("number " << good);
    CHECK(relaygw("line show --db '" + db() + "' --number " + good).status == 0);
  }
  for (const char* bad : {"7735550121", "7735550123", "7735550125", "7735550126"}) {
    INFO("number " << bad);
    CHECK(relaygw("line show --db '" + db() + "' --number " + bad).status == 1);
  }
}

TEST_CASE_METHOD(CommandFixture, "line import reports bad rows", "[billing][commands]") {
  init();
  std::ofstream(path("lines.csv"))
      << "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,is_tty,"
         "tty_discount_eligible\n"
         "7735550120,Good Line,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550121,Bad Zone,business,none,IL,CHICAGO,Central Time,,no,no\n";
  const Run imported =
      relaygw("line import --db '" + db() + "' --file '" + path("lines.csv") + "'");
  CHECK(imported.status == 1);
  CHECK(imported.output.find("row 3: unknown time zone 'Central Time'") != std::string::npos);
  CHECK(imported.output.find("1 added, 0 changed, 0 unchanged, 1 rejected") != std::string::npos);
  CHECK(relaygw("line show --db '" + db() + "' --number 7735550120").status == 0);
  CHECK(relaygw("line show --db '" + db() + "' --number 7735550121").status == 1);
  const Run folder = relaygw("line import --db '" + db() + "' --file '" + path("") + "'");
  CHECK(folder.status == 1);
  CHECK(folder.output.find("is a folder; pass a CSV file with --file") != std::string::npos);

  const Run changed = relaygw("line change --db '" + db() +
                              "' --number 7735550120 --screening both --reason 'fraud hold'");
  CHECK(changed.status == 0);
  const Run history = relaygw("line show --db '" + db() + "' --number 7735550120 --history --json");
  REQUIRE(history.status == 0);
  const nlohmann::json versions = nlohmann::json::parse(history.output);
  REQUIRE(versions.size() == 2);
  CHECK(versions[1]["screening"] == "both");
  CHECK(versions[1]["reason"] == "fraud hold");
  CHECK(versions[0]["screening"] == "none");
}

TEST_CASE_METHOD(CommandFixture, "card pin only from standard input", "[billing][commands]") {
  init();
  const Run added = relaygw(
      "card add --db '" + db() + "' --number 5550142000077 --balance 2.50 --pin-stdin", "4826\n");
  CHECK(added.status == 0);
  CHECK(added.output.find("*********0077") != std::string::npos);
  CHECK(added.output.find("5550142000077") == std::string::npos);
  CHECK(added.output.find("4826") == std::string::npos);
  CHECK(added.output.find("balance $2.50,") != std::string::npos);

  const Run argument = relaygw("card add --db '" + db() + "' --number 5550142000078 --pin 4826");
  CHECK(argument.status != 0);
  const Run shown = relaygw("card show --db '" + db() + "' --number 5550142000078");
  CHECK(shown.status == 1);
  CHECK(shown.output.find("5550142000078") == std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "call completed twice posts once", "[billing][commands]") {
  init();
  const std::string db_option = "--db '" + db() + "' ";
  REQUIRE(relaygw("call create " + db_option +
                  "--id c1 --from 3125550107 --to 2125550101 --billing collect "
                  "--access relay-tty --at 2026-03-10T14:00:00Z")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option +
                  "--id c1 --event accepted --how tty-text --by 'Grace Okafor' "
                  "--at 2026-03-10T14:00:20Z")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option + "--id c1 --event connected --at 2026-03-10T14:00:21Z")
              .status == 0);
  const std::string complete =
      "call complete " + db_option + "--id c1 --at 2026-03-10T14:05:21Z --key end-c1";
  const Run first = relaygw(complete);
  const Run second = relaygw(complete);
  REQUIRE(first.status == 0);
  REQUIRE(second.status == 0);
  CHECK(first.output == second.output);

  const Run shown = relaygw("call show " + db_option + "--id c1 --json");
  REQUIRE(shown.status == 0);
  const nlohmann::json call = nlohmann::json::parse(shown.output);
  CHECK(call["events"].size() == 6);
  CHECK(call["session_seconds"] == 321);
  CHECK(call["conversation_seconds"] == 300);
  // The printed lines add up to the total, in cents.
  long cents = 0;
  for (const nlohmann::json& line : call["lines"]) {
    const std::string amount = line["amount"];
    const std::size_t dot = amount.find('.');
    cents += std::stol(amount.substr(0, dot)) * 100 + std::stol(amount.substr(dot + 1));
  }
  const std::string total = call["total"];
  CHECK(cents == std::stol(total.substr(0, total.find('.'))) * 100 +
                     std::stol(total.substr(total.find('.') + 1)));
  CHECK(cents > 0);

  const Run conflicting =
      relaygw("call complete " + db_option + "--id c1 --at 2026-03-10T14:06:00Z --key end-c1");
  CHECK(conflicting.status == 1);
  CHECK(conflicting.output.find("already disconnected") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "call create emergency and refusal", "[billing][commands]") {
  const Run run = relaygw("call create --db '" + path("none.db") +
                          "' --from 3125550107 --to 911 --access relay-tty");
  CHECK(run.status == 0);
  CHECK(run.output.find("emergency call authorized") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path("none.db")));

  init();
  const Run payphone = relaygw("call create --db '" + db() +
                               "' --from 3125550107 --to 2125550103 --billing collect");
  CHECK(payphone.status == 1);
  CHECK(payphone.output.find("refused: line-not-billable") != std::string::npos);
}

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Splits the bundled deck into two files: the name, rate centers and 2025 version, then the
// 2026 version. `relaygw quote` merges the two back into the bundled deck.
void write_split_deck(const std::filesystem::path& folder) {
  const std::string text =
      read_file(std::filesystem::path(RELAYGW_SOURCE_DIR) / "data/rates/example.toml");
  const std::size_t first = text.find("\n[[version]]\n");
  REQUIRE(first != std::string::npos);
  const std::size_t second = text.find("\n[[version]]\n", first + 1);
  REQUIRE(second != std::string::npos);
  std::filesystem::create_directories(folder);
  std::ofstream(folder / "a-2025.toml") << text.substr(0, second + 1);
  std::ofstream(folder / "b-2026.toml") << text.substr(second + 1);
  std::ofstream(folder / "README.txt") << "not part of the deck\n";
}

}  // namespace

TEST_CASE_METHOD(CommandFixture, "db load-deck stores a deck folder", "[billing][commands]") {
  using namespace relaygw::billing;
  const std::filesystem::path folder = path("deck");
  write_split_deck(folder);
  const Run created =
      relaygw("db init --no-directory --db '" + db() + "' --rates '" + folder.string() + "'");
  REQUIRE(created.status == 0);
  const Run loaded = relaygw("db load-deck --db '" + db() + "' --rates '" + folder.string() + "'");
  INFO(loaded.output);
  REQUIRE(loaded.status == 0);
  CHECK(loaded.output.find("2 files from " + folder.string()) != std::string::npos);
  CHECK(loaded.output.find("; nothing changed") != std::string::npos);

  auto store = SqliteStore::open(db());
  REQUIRE(store);
  auto stored = (*store)->current_rate_deck();
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  const StoredRateDeck& deck = **stored;
  REQUIRE(deck.files.size() == 2);
  CHECK(deck.files[0].name == "a-2025.toml");
  CHECK(deck.files[1].name == "b-2026.toml");
  CHECK(deck.files[0].text == read_file(folder / "a-2025.toml"));
  CHECK(deck.files[1].text == read_file(folder / "b-2026.toml"));
  // The deck's hash is what `sha256sum *.toml | sha256sum` prints in the folder.
  const std::string manifest = sha256_hex(deck.files[0].text) + "  a-2025.toml\n" +
                               sha256_hex(deck.files[1].text) + "  b-2026.toml\n";
  CHECK(deck.sha256_hex == sha256_hex(manifest));
  CHECK(deck.effective_from == "2025-01-01");
  CHECK(deck.name == "Example relay center tariff");

  const Run status = relaygw("db status --db '" + db() + "'");
  CHECK(status.status == 0);
  CHECK(status.output.find("file b-2026.toml (sha256 " + deck.files[1].sha256_hex) !=
        std::string::npos);

  // Rating from the stored deck gives what rating from the folder gives, in both versions.
  auto plan = NumberPlan::load(default_data_dir());
  REQUIRE(plan);
  auto from_folder = RateDeck::load(folder);
  REQUIRE(from_folder);
  auto from_store = RateDeck::parse(deck.text, deck.source_path);
  REQUIRE(from_store);
  const Rater folder_rater(&*plan, &*from_folder);
  const Rater store_rater(&*plan, &*from_store);
  int compared = 0;
  for (const char* start :
       {"2025-06-10T15:00:00Z", "2026-03-10T23:30:00Z", "2026-07-04T16:00:00Z"}) {
    for (const char* to : {"2125550101", "4155550108", "3125550142", "011442079460000"}) {
      for (const AccessTag access : {AccessTag::None, AccessTag::RelayTty}) {
        CallToRate call;
        call.from = "3125550107";
        call.to = to;
        call.billing = access == AccessTag::None ? BillingMethod::Collect : BillingMethod::SentPaid;
        call.access = access;
        call.start = parse_instant(start).value();
        call.billable_seconds = 425;
        auto expected = folder_rater.rate(call);
        auto actual = store_rater.rate(call);
        INFO(start << " to " << to);
        REQUIRE(expected.is_ok() == actual.is_ok());
        if (!expected) {
          continue;
        }
        CHECK(actual->total == expected->total);
        REQUIRE(actual->lines.size() == expected->lines.size());
        for (std::size_t i = 0; i < expected->lines.size(); ++i) {
          CHECK(actual->lines[i].description == expected->lines[i].description);
          CHECK(actual->lines[i].amount == expected->lines[i].amount);
        }
        ++compared;
      }
    }
  }
  CHECK(compared >= 12);
}

TEST_CASE_METHOD(CommandFixture, "db load-deck rejects a bad folder", "[billing][commands]") {
  init();
  const std::filesystem::path folder = path("clash");
  write_split_deck(folder);
  // A second file with the 2026 version's effective date cannot merge.
  std::filesystem::copy_file(folder / "b-2026.toml", folder / "c-copy.toml");
  const Run clash = relaygw("db load-deck --db '" + db() + "' --rates '" + folder.string() + "'");
  CHECK(clash.status == 1);
  CHECK(clash.output.find("same effective date") != std::string::npos);

  std::filesystem::create_directories(path("empty-deck"));
  const Run empty =
      relaygw("db load-deck --db '" + db() + "' --rates '" + path("empty-deck") + "'");
  CHECK(empty.status == 1);
  CHECK(empty.output.find("has no .toml files") != std::string::npos);
  const Run status = relaygw("db status --db '" + db() + "'");
  CHECK(status.output.find("from " + std::string(RELAYGW_SOURCE_DIR)) != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "db status changes no missing or empty file",
                 "[billing][commands]") {
  const Run missing = relaygw("db status --db '" + path("missing.db") + "'");
  CHECK(missing.status == 1);
  CHECK(missing.output.find("relaygw db init --db " + path("missing.db")) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path("missing.db")));

  std::ofstream(path("empty.db")).close();
  const Run empty = relaygw("db status --db '" + path("empty.db") + "'");
  CHECK(empty.status == 1);
  CHECK(empty.output.find("there is no database in '" + path("empty.db") + "'") !=
        std::string::npos);
  CHECK(empty.output.find("relaygw db init --db " + path("empty.db")) != std::string::npos);
  CHECK(std::filesystem::file_size(path("empty.db")) == 0);
  CHECK_FALSE(std::filesystem::exists(path("empty.db") + "-wal"));

  // The command it names then works on that file.
  const Run created = relaygw("db init --no-directory --db '" + path("empty.db") + "'");
  CHECK(created.status == 0);
  CHECK(relaygw("db status --db '" + path("empty.db") + "'").status == 0);
}

TEST_CASE_METHOD(CommandFixture, "db status names a non-database file", "[billing][commands]") {
  std::ofstream(path("notes.txt")) << "call list for March\n";
  const Run text = relaygw("db status --db '" + path("notes.txt") + "'");
  CHECK(text.status == 1);
  CHECK(text.output.find("'" + path("notes.txt") + "' is not a relaygw database") !=
        std::string::npos);
  CHECK(text.output.find("file is not a database") == std::string::npos);
  CHECK(read_file(path("notes.txt")) == "call list for March\n");

  const Run folder = relaygw("call show --id c1 --db '" + path("") + "'");
  CHECK(folder.status == 1);
  CHECK(folder.output.find("is a folder, not a database file") != std::string::npos);
}

// SQLite waits for ever to read a FIFO, so a FIFO in place of the database or its log must be
// reported before SQLite opens it.
TEST_CASE_METHOD(CommandFixture, "commands name a FIFO database file", "[billing][commands]") {
  init();
  std::filesystem::remove(db() + "-wal");
  REQUIRE(::mkfifo((db() + "-wal").c_str(), 0600) == 0);
  for (const std::string& command : {"db status", "call show --id c1"}) {
    INFO(command);
    const Run run = relaygw(command + " --db '" + db() + "'");
    CHECK(run.status == 1);
    CHECK(run.output.find("'" + db() + "-wal' is a FIFO, not a regular file") !=
          std::string::npos);
    CHECK(run.output.find("move it aside") != std::string::npos);
  }
  // db init stops at the existing database before anything opens it.
  const Run again = relaygw("db init --db '" + db() + "'");
  CHECK(again.status == 1);
  CHECK(again.output.find("already exists") != std::string::npos);
  CHECK(std::filesystem::is_fifo(db() + "-wal"));

  REQUIRE(::mkfifo(path("pipe.db").c_str(), 0600) == 0);
  const Run pipe = relaygw("db status --db '" + path("pipe.db") + "'");
  CHECK(pipe.status == 1);
  CHECK(pipe.output.find("'" + path("pipe.db") + "' is a FIFO") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "call create rejects a used id", "[billing][commands]") {
  init();
  const std::string create = "call create --db '" + db() +
                             "' --id c1 --from 3125550107 --to 2125550101 "
                             "--at 2026-03-10T14:00:00Z";
  REQUIRE(relaygw(create).status == 0);
  const Run again = relaygw(create);
  CHECK(again.status == 1);
  CHECK(again.output.find("call id 'c1' already exists") != std::string::npos);
  CHECK(again.output.find("relaygw call show --db " + db() + " --id c1") != std::string::npos);
  CHECK(again.output.find("constraint") == std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "db status names the migrate command", "[billing][commands]") {
  using namespace relaygw::billing;
  // The version before the latest in the list, which may skip a number.
  const int older = migrations()[migrations().size() - 2].version;
  {
    SqliteOptions options;
    options.create = true;
    options.migrate_to = older;
    auto created = SqliteStore::open(db(), options);
    REQUIRE(created);
  }
  const Run status = relaygw("db status --db '" + db() + "'");
  INFO(status.output);
  CHECK(status.status == 0);
  CHECK(status.output.find("schema " + std::to_string(older) + " is older than " +
                           std::to_string(latest_schema_version())) != std::string::npos);
  const std::string named = "relaygw db migrate --db " + db();
  REQUIRE(status.output.find(named) != std::string::npos);

  // The command the message names migrates the file, and a second run changes nothing.
  const Run migrated = relaygw("db migrate --db '" + db() + "'");
  INFO(migrated.output);
  CHECK(migrated.status == 0);
  CHECK(migrated.output.find("from schema version " + std::to_string(older) + " to " +
                             std::to_string(latest_schema_version())) != std::string::npos);
  const Run again = relaygw("db migrate --db '" + db() + "'");
  CHECK(again.status == 0);
  CHECK(again.output.find("nothing to migrate") != std::string::npos);
  const Run current = relaygw("db status --db '" + db() + "'");
  CHECK(current.output.find("is older than") == std::string::npos);
  CHECK(current.output.find("schema version: " + std::to_string(latest_schema_version()) + " (") !=
        std::string::npos);
}

namespace {

// A deck with one version from 2020-01-01 that rates every jurisdiction except international.
void write_domestic_deck(const std::filesystem::path& file) {
  std::string text =
      "name = \"domestic only\"\n[[version]]\nname = \"v1\"\neffective = 2020-01-01\n";
  for (const char* jurisdiction : {"local", "intralata", "interlata-intrastate", "interstate"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"0.1000\" }\n";
  }
  std::ofstream(file) << text;
}

// Stores authorized call `id` to London as schema 11 stored calls, with no quote, so it names
// no deck and the current deck rates it when it completes.
void insert_unquoted_call(const std::string& db, const std::string& id) {
  sqlite3* db_handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &db_handle) == SQLITE_OK);
  const std::string sql =
      "INSERT INTO calls (id, from_number, to_number, billing, access, handling, billed_number, "
      "card_number, requested_person, emergency, actor, at) VALUES ('" + id +
      "', '+13125550107', '+442079460000', 'sent-paid', 'none', 'automated', '', '', '', 0, "
      "'staff:test', '2026-03-10T14:00:00Z'); "
      "INSERT INTO call_events (call_id, event, at, actor) VALUES ('" + id +
      "', 'authorized', '2026-03-10T14:00:01Z', 'staff:test')";
  const int inserted = sqlite3_exec(db_handle, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db_handle);
  REQUIRE(inserted == SQLITE_OK);
}

}  // namespace

TEST_CASE_METHOD(CommandFixture, "db load-deck keeps open calls rateable", "[billing][commands]") {
  init();
  const std::string db_option = "--db '" + db() + "' ";
  // c1 names no deck and needs an international rate. c3 is domestic, e1 is an emergency call,
  // and q1 to London names the bundled deck, which rates it to the end, so none of those three
  // stops the load.
  insert_unquoted_call(db(), "c1");
  REQUIRE(relaygw("call create " + db_option +
                  "--id c3 --from 3125550107 --to 2125550101 --at 2026-03-10T15:00:00Z")
              .status == 0);
  REQUIRE(relaygw("call create " + db_option +
                  "--id e1 --from 3125550107 --to 911 --at 2026-03-10T15:00:00Z")
              .status == 0);
  REQUIRE(relaygw("call create " + db_option +
                  "--id q1 --from 3125550107 --to 011442079460000 --at 2026-03-10T14:00:00Z")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option + "--id q1 --event connected --at 2026-03-10T14:00:30Z")
              .status == 0);

  write_domestic_deck(path("domestic.toml"));
  const std::string load = "db load-deck " + db_option + "--rates '" + path("domestic.toml") + "'";
  const Run refused = relaygw(load);
  INFO(refused.output);
  CHECK(refused.status == 1);
  CHECK(refused.output.find("cannot rate 1 open (authorized or connected) call,") !=
        std::string::npos);
  CHECK(refused.output.find("call c1 from +13125550107 to +442079460000 (rated from "
                            "2026-03-10T14:00:01Z): rate deck version 'v1' has no international "
                            "rate") != std::string::npos);
  CHECK(refused.output.find("call c3 ") == std::string::npos);
  CHECK(refused.output.find("call e1 ") == std::string::npos);
  CHECK(refused.output.find("call q1 ") == std::string::npos);
  CHECK(refused.output.find("current rate deck") == std::string::npos);
  CHECK(refused.output.find("add the missing rates or area codes to the deck, or complete those "
                            "calls first") != std::string::npos);
  const Run status = relaygw("db status " + db_option);
  CHECK(status.output.find("Example relay center tariff") != std::string::npos);

  // Once c1 is completed, nothing open needs the new deck to rate London.
  REQUIRE(
      relaygw("call complete " + db_option + "--id c1 --at 2026-03-10T15:01:00Z --key k1").status ==
      0);
  const Run loaded = relaygw(load);
  INFO(loaded.output);
  CHECK(loaded.status == 0);
  CHECK(loaded.output.find("rate deck 'domestic only' stored") != std::string::npos);
  // Its effective date is before the bundled deck's, so that deck stays in effect.
  const Run after_load = relaygw("db status " + db_option);
  CHECK(after_load.output.find("in effect today (UTC date ") != std::string::npos);
  CHECK(after_load.output.find("superseded rate decks: 1 ") != std::string::npos);

  // q1 still completes with the bundled deck's international rate.
  const Run completed =
      relaygw("call complete " + db_option + "--id q1 --at 2026-03-10T14:05:30Z --key kq1");
  INFO(completed.output);
  CHECK(completed.status == 0);
  CHECK(completed.output.find("call q1 posted") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "db load-deck lists ten open calls", "[billing][commands]") {
  init();
  const std::string db_option = "--db '" + db() + "' ";
  for (int i = 1; i <= 12; ++i) {
    insert_unquoted_call(db(), "intl" + std::to_string(i));
  }
  write_domestic_deck(path("domestic.toml"));
  const Run refused =
      relaygw("db load-deck " + db_option + "--rates '" + path("domestic.toml") + "'");
  INFO(refused.output);
  CHECK(refused.status == 1);
  CHECK(refused.output.find("cannot rate 12 open") != std::string::npos);
  std::size_t listed = 0;
  for (std::size_t at = refused.output.find("  call intl"); at != std::string::npos;
       at = refused.output.find("  call intl", at + 1)) {
    ++listed;
  }
  CHECK(listed == 10);
  CHECK(refused.output.find("and 2 more") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "db load-deck sees call opened meanwhile", "[billing][commands]") {
  init();
  write_domestic_deck(path("domestic.toml"));
  // This connection holds the write lock while load-deck starts, then opens a call to London
  // that the domestic deck cannot rate. load-deck lists the open calls only once it holds the
  // write lock itself, so it must see that call and store nothing.
  sqlite3* db_handle = nullptr;
  REQUIRE(sqlite3_open(db().c_str(), &db_handle) == SQLITE_OK);
  sqlite3_busy_timeout(db_handle, 10'000);
  REQUIRE(sqlite3_exec(db_handle, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const std::string command = std::string("'") + RELAYGW_BINARY + "' db load-deck --db '" + db() +
                              "' --rates '" + path("domestic.toml") + "' </dev/null 2>&1";
  FILE* load = popen(command.c_str(), "r");
  REQUIRE(load != nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const char* open_call =
      "INSERT INTO calls (id, from_number, to_number, billing, access, handling, billed_number, "
      "card_number, requested_person, emergency, actor, at) VALUES ('race-1', '+13125550107', "
      "'+442079460000', 'sent-paid', 'none', 'automated', '', '', '', 0, 'staff:test', "
      "'2026-03-10T14:00:00Z'); "
      "INSERT INTO call_events (call_id, event, at, actor) VALUES "
      "('race-1', 'authorized', '2026-03-10T14:00:01Z', 'staff:test'); COMMIT";
  const int committed = sqlite3_exec(db_handle, open_call, nullptr, nullptr, nullptr);
  sqlite3_close(db_handle);
  REQUIRE(committed == SQLITE_OK);

  std::string output;
  char buffer[4096];
  std::size_t read = 0;
  while ((read = fread(buffer, 1, sizeof(buffer), load)) > 0) {
    output.append(buffer, read);
  }
  const int status = pclose(load);
  INFO(output);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(output.find("cannot rate 1 open (authorized or connected) call,") != std::string::npos);
  CHECK(output.find("call race-1 from +13125550107 to +442079460000") != std::string::npos);
  const Run shown = relaygw("db status --db '" + db() + "'");
  CHECK(shown.output.find("Example relay center tariff") != std::string::npos);
  CHECK(shown.output.find("domestic only") == std::string::npos);
}

namespace {

// Writes a deck named `name` whose one version is effective on `effective`, with one rate for
// every jurisdiction, and returns its path.
std::string write_dated_deck(const std::filesystem::path& path, const std::string& name,
                             const std::string& effective) {
  std::string text =
      "name = \"" + name + "\"\n[[version]]\nname = \"v1\"\neffective = " + effective + "\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"0.1000\" }\n";
  }
  std::ofstream(path) << text;
  return path.string();
}

std::string utc_today() {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  return relaygw::billing::format_instant(now).substr(0, 10);
}

}  // namespace

TEST_CASE_METHOD(CommandFixture, "db load-deck names deck in effect", "[billing][commands]") {
  const std::string today = utc_today();
  const Run created = relaygw("db init --no-directory --db '" + db() + "' --rates '" +
                              write_dated_deck(path("2021.toml"), "deck 2021", "2021-01-01") + "'");
  REQUIRE(created.status == 0);

  const Run future = relaygw("db load-deck --db '" + db() + "' --rates '" +
                             write_dated_deck(path("2099.toml"), "deck 2099", "2099-01-01") + "'");
  INFO(future.output);
  REQUIRE(future.status == 0);
  CHECK(future.output.find("it is pending: calls requested from 2099-01-01 on") !=
        std::string::npos);
  CHECK(future.output.find("rate deck in effect today (UTC date " + today +
                           "): 'deck 2021', "
                           "effective 2021-01-01") != std::string::npos);
  CHECK(future.output.find("pending rate deck: 'deck 2099', effective 2099-01-01") !=
        std::string::npos);

  // An older deck stored again does not replace the deck with the later date.
  const Run older = relaygw("db load-deck --db '" + db() + "' --rates '" +
                            write_dated_deck(path("2020.toml"), "deck 2020", "2020-01-01") + "'");
  INFO(older.output);
  REQUIRE(older.status == 0);
  CHECK(older.output.find("it is superseded: deck 'deck 2021' (effective 2021-01-01, sha256 ") !=
        std::string::npos);
  // Calls dated before 2021 are still rated with it, and the output names those dates.
  CHECK(older.output.find("in effect only for calls dated 2020-01-01 to 2020-12-31") !=
        std::string::npos);
  CHECK(older.output.find("no new call is rated") == std::string::npos);
  CHECK(older.output.find("load a deck whose first version is effective on or after 2021-01-01") !=
        std::string::npos);
  CHECK(older.output.find("superseded rate decks: 1 ") != std::string::npos);

  // A correction with the same date as the deck in effect replaces it.
  const Run correction =
      relaygw("db load-deck --db '" + db() + "' --rates '" +
              write_dated_deck(path("2021-fix.toml"), "deck 2021 fix", "2021-01-01") + "'");
  INFO(correction.output);
  REQUIRE(correction.status == 0);
  CHECK(correction.output.find("it is in effect today") != std::string::npos);

  const Run status = relaygw("db status --db '" + db() + "'");
  INFO(status.output);
  REQUIRE(status.status == 0);
  CHECK(status.output.find("rate deck in effect today (UTC date " + today +
                           "): 'deck 2021 fix', "
                           "effective 2021-01-01") != std::string::npos);
  CHECK(status.output.find("  from " + path("2021-fix.toml")) != std::string::npos);
  CHECK(status.output.find("pending rate deck: 'deck 2099', effective 2099-01-01") !=
        std::string::npos);
  CHECK(status.output.find("superseded rate decks: 2 ") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "db status with only a future deck", "[billing][commands]") {
  const Run created = relaygw("db init --no-directory --db '" + db() + "' --rates '" +
                              write_dated_deck(path("2099.toml"), "deck 2099", "2099-01-01") + "'");
  REQUIRE(created.status == 0);
  const Run status = relaygw("db status --db '" + db() + "'");
  INFO(status.output);
  REQUIRE(status.status == 0);
  CHECK(status.output.find("): none, because every stored deck starts later") != std::string::npos);
  CHECK(status.output.find("pending rate deck: 'deck 2099', effective 2099-01-01") !=
        std::string::npos);
  CHECK(status.output.find("superseded") == std::string::npos);
}

namespace {

// Returns the SHA-256 of the file at `path`, as db load-deck stores a one-file deck.
std::string file_sha256(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return relaygw::billing::sha256_hex(text);
}

// Returns how many rate decks the database at `path` stores.
int stored_deck_count(const std::string& path) {
  auto store = relaygw::billing::SqliteStore::open(path);
  REQUIRE(store);
  auto decks = (*store)->list_rate_decks();
  REQUIRE(decks);
  return static_cast<int>(decks->size());
}

}  // namespace

TEST_CASE_METHOD(CommandFixture, "db load-deck same deck changes nothing", "[billing][commands]") {
  const std::string deck_2021 = write_dated_deck(path("2021.toml"), "deck 2021", "2021-01-01");
  REQUIRE(relaygw("db init --no-directory --actor staff:alice --db '" + db() + "' --rates '" +
                  deck_2021 + "'")
              .status == 0);

  const Run again =
      relaygw("db load-deck --actor staff:bob --db '" + db() + "' --rates '" + deck_2021 + "'");
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK(again.output.find("rate deck 'deck 2021' (sha256 " + file_sha256(deck_2021) +
                          "), effective 2021-01-01, is already stored on ") != std::string::npos);
  CHECK(again.output.find(" by staff:alice; nothing changed") != std::string::npos);
  CHECK(again.output.find("it is in effect today") != std::string::npos);
  CHECK(again.output.find("superseded") == std::string::npos);
  CHECK(stored_deck_count(db()) == 1);

  const Run status = relaygw("db status --db '" + db() + "'");
  INFO(status.output);
  CHECK(status.output.find("superseded") == std::string::npos);
}

// Staff who load a correction and then the deck it corrected expect that deck back in effect.
TEST_CASE_METHOD(CommandFixture, "db load-deck brings back corrected deck", "[billing][commands]") {
  const std::string deck_2021 = write_dated_deck(path("2021.toml"), "deck 2021", "2021-01-01");
  const std::string fix = write_dated_deck(path("fix.toml"), "deck 2021 fix", "2021-01-01");
  REQUIRE(relaygw("db init --no-directory --actor staff:alice --db '" + db() + "' --rates '" +
                  deck_2021 + "'")
              .status == 0);
  REQUIRE(relaygw("db load-deck --actor staff:bob --db '" + db() + "' --rates '" + fix + "'")
              .status == 0);

  const Run back =
      relaygw("db load-deck --actor staff:carol --db '" + db() + "' --rates '" + deck_2021 + "'");
  INFO(back.output);
  REQUIRE(back.status == 0);
  CHECK(back.output.find("rate deck 'deck 2021' stored (sha256 " + file_sha256(deck_2021)) !=
        std::string::npos);
  CHECK(back.output.find("it replaces deck 'deck 2021 fix' (sha256 " + file_sha256(fix)) !=
        std::string::npos);
  CHECK(back.output.find("by staff:bob), the deck stored last with the same effective date") !=
        std::string::npos);
  CHECK(back.output.find("this same deck was stored before, on ") != std::string::npos);
  CHECK(back.output.find(" by staff:alice, and is the deck of that date again") !=
        std::string::npos);
  CHECK(back.output.find("it is in effect today") != std::string::npos);
  CHECK(stored_deck_count(db()) == 3);

  // Now it is the deck stored last for its date, so a fourth load changes nothing.
  const Run fourth = relaygw("db load-deck --db '" + db() + "' --rates '" + deck_2021 + "'");
  INFO(fourth.output);
  CHECK(fourth.status == 0);
  CHECK(fourth.output.find(" by staff:carol; nothing changed") != std::string::npos);
  CHECK(stored_deck_count(db()) == 3);
}

TEST_CASE_METHOD(CommandFixture, "superseded deck rates backdated calls", "[billing][commands]") {
  REQUIRE(relaygw("db init --db '" + db() + "' --rates '" +
                  write_dated_deck(path("2021.toml"), "deck 2021", "2021-01-01") + "'")
              .status == 0);
  const std::string deck_2020 = write_dated_deck(path("2020.toml"), "deck 2020", "2020-01-01");
  const Run older = relaygw("db load-deck --db '" + db() + "' --rates '" + deck_2020 + "'");
  INFO(older.output);
  REQUIRE(older.status == 0);
  CHECK(older.output.find("in effect only for calls dated 2020-01-01 to 2020-12-31") !=
        std::string::npos);

  // A call dated in 2020, inside the printed dates, is quoted with the superseded deck.
  const Run created = relaygw("call create --db '" + db() +
                              "' --id old --from 3125550107 --to 2125550101 "
                              "--at 2020-06-01T15:00:00Z");
  INFO(created.output);
  REQUIRE(created.status == 0);
  const Run shown = relaygw("call show --db '" + db() + "' --id old --json");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(shown.output.find("\"rate_deck_sha256\": \"" + file_sha256(deck_2020) + "\"") !=
        std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "call before every deck names earliest date",
                 "[billing][commands]") {
  REQUIRE(relaygw("db init --db '" + db() + "' --rates '" +
                  write_dated_deck(path("2021.toml"), "deck 2021", "2021-01-01") + "'")
              .status == 0);
  REQUIRE(relaygw("db load-deck --db '" + db() + "' --rates '" +
                  write_dated_deck(path("2022.toml"), "deck 2022", "2022-01-01") + "'")
              .status == 0);

  const Run created = relaygw("call create --db '" + db() +
                              "' --id early --from 3125550107 --to 2125550101 "
                              "--at 2020-06-01T15:00:00Z");
  INFO(created.output);
  CHECK(created.status == 1);
  CHECK(created.output.find("no stored rate deck is in effect on 2020-06-01") !=
        std::string::npos);
  CHECK(created.output.find("the earliest effective date stored is 2021-01-01, of deck "
                            "'deck 2021'") != std::string::npos);
  CHECK(created.output.find("load a deck whose first [[version]] is effective on or before "
                            "2020-06-01") != std::string::npos);
  // The newest deck is not blamed.
  CHECK(created.output.find("deck 2022") == std::string::npos);

  const Run quoted = relaygw("quote --db '" + db() +
                             "' --from 3125550107 --to 2125550101 --billing sent-paid "
                             "--minutes 2 --start 2020-06-01T10:00:00-05:00");
  INFO(quoted.output);
  CHECK(quoted.status == 1);
  CHECK(quoted.output.find("no stored rate deck is in effect on 2020-06-01") != std::string::npos);
  CHECK(quoted.output.find("the earliest effective date stored is 2021-01-01") !=
        std::string::npos);
  CHECK(quoted.output.find("add a [[version]] with an earlier effective date") ==
        std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "db status counts reloaded deck once", "[billing][commands]") {
  // Deck 2021 is replaced by a correction with the same date and then stored again, so the
  // correction is the only superseded deck. Deck 2021's first storage is the deck in effect.
  const std::string deck_2021 = write_dated_deck(path("2021.toml"), "deck 2021", "2021-01-01");
  const std::string fix = write_dated_deck(path("fix.toml"), "deck 2021 fix", "2021-01-01");
  REQUIRE(
      relaygw("db init --no-directory --db '" + db() + "' --rates '" + deck_2021 + "'").status ==
      0);
  REQUIRE(relaygw("db load-deck --db '" + db() + "' --rates '" + fix + "'").status == 0);
  const Run corrected = relaygw("db status --db '" + db() + "'");
  INFO(corrected.output);
  CHECK(corrected.output.find("superseded rate decks: 1 (") != std::string::npos);

  const Run back = relaygw("db load-deck --db '" + db() + "' --rates '" + deck_2021 + "'");
  INFO(back.output);
  REQUIRE(back.status == 0);
  CHECK(stored_deck_count(db()) == 3);
  CHECK(back.output.find("superseded rate decks: 1 (") != std::string::npos);
  const Run status = relaygw("db status --db '" + db() + "'");
  INFO(status.output);
  REQUIRE(status.status == 0);
  CHECK(status.output.find("'deck 2021', effective 2021-01-01") != std::string::npos);
  CHECK(status.output.find("superseded rate decks: 1 (") != std::string::npos);

  // A pending deck stored again after its own correction counts once too.
  const std::string deck_2099 = write_dated_deck(path("2099.toml"), "deck 2099", "2099-01-01");
  const std::string fix_2099 =
      write_dated_deck(path("fix2099.toml"), "deck 2099 fix", "2099-01-01");
  for (const std::string& deck : {deck_2099, fix_2099, deck_2099}) {
    REQUIRE(relaygw("db load-deck --db '" + db() + "' --rates '" + deck + "'").status == 0);
  }
  const Run pending = relaygw("db status --db '" + db() + "'");
  INFO(pending.output);
  CHECK(pending.output.find("pending rate deck: 'deck 2099', effective 2099-01-01") !=
        std::string::npos);
  CHECK(pending.output.find("superseded rate decks: 2 (") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "plans advise before every deck names earliest",
                 "[billing][commands][plans]") {
  REQUIRE(relaygw("db init --db '" + db() + "' --rates '" +
                  write_dated_deck(path("2021.toml"), "deck 2021", "2021-01-01") + "'")
              .status == 0);
  REQUIRE(relaygw("db load-deck --db '" + db() + "' --rates '" +
                  write_dated_deck(path("2022.toml"), "deck 2022", "2022-01-01") + "'")
              .status == 0);

  const Run advised =
      relaygw("plans advise --db '" + db() + "' --line 3125550107 --as-of 2020-06-01T15:00:00Z");
  INFO(advised.output);
  CHECK(advised.status == 1);
  CHECK(advised.output.find("no stored rate deck is in effect on 2020-06-01 (the UTC date of "
                            "--as-of): the earliest effective date stored is 2021-01-01, of "
                            "deck 'deck 2021'") != std::string::npos);
  CHECK(advised.output.find("load a deck whose first [[version]] is effective on or before "
                            "2020-06-01 with `relaygw db load-deck`") != std::string::npos);
  CHECK(advised.output.find("deck 2022") == std::string::npos);

  const Run later =
      relaygw("plans advise --db '" + db() + "' --line 3125550107 --as-of 2021-06-01T15:00:00Z");
  INFO(later.output);
  CHECK(later.status == 0);
}

TEST_CASE_METHOD(CommandFixture, "line import names missing columns", "[billing][commands]") {
  init();
  // Row 4 starts on line 5, because row 3 has a line break inside a quoted field.
  std::ofstream(path("lines.csv"))
      << "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,is_tty,"
         "tty_discount_eligible\n"
         "7735550120,Good Line,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550124,\"Two\nLines\",business\n"
         "7735550121,Short Row,business,none,IL,CHICAGO,America/Chicago\n"
         "7735550122,Long Row,business,none,IL,CHICAGO,America/Chicago,,no,no,extra\n"
         "7735550123,One Short,business,none,IL,CHICAGO,America/Chicago,,no\n";
  const Run imported =
      relaygw("line import --db '" + db() + "' --file '" + path("lines.csv") + "'");
  INFO(imported.output);
  CHECK(imported.status == 1);
  CHECK(imported.output.find("row 3: the row has 3 fields, but the header has 10 columns, so "
                             "the row is missing screening, state, rate_center, time_zone, pic, "
                             "is_tty, tty_discount_eligible; give every column a field") !=
        std::string::npos);
  CHECK(imported.output.find("row 4 (line 5): the row has 7 fields, but the header has 10 "
                             "columns, so the row is missing pic, is_tty, "
                             "tty_discount_eligible; give every column a field") !=
        std::string::npos);
  CHECK(imported.output.find("row 5 (line 6): the row has 11 fields, but the header has 10 "
                             "columns, so the row has 1 extra after column "
                             "tty_discount_eligible") != std::string::npos);
  CHECK(imported.output.find("row 6 (line 7): the row has 9 fields, but the header has 10 "
                             "columns, so the row is missing tty_discount_eligible;") !=
        std::string::npos);
  CHECK(imported.output.find("1 added, 0 changed, 0 unchanged, 4 rejected") != std::string::npos);
}

namespace {

// Runs `statements` on `db` as separate transactions through SQLite, after emptying its
// write-ahead log, and closes the connection without the checkpoint that would copy the new
// frames into the database file and delete the log. Returns the log's bytes.
std::vector<char> write_kept_wal(const std::string& db,
                                 const std::vector<std::string>& statements) {
  sqlite3* connection = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &connection) == SQLITE_OK);
  REQUIRE(sqlite3_db_config(connection, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr) == SQLITE_OK);
  std::vector<std::string> all = {"PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA wal_autocheckpoint=0"};
  all.insert(all.end(), statements.begin(), statements.end());
  for (const std::string& sql : all) {
    INFO(sql);
    REQUIRE(sqlite3_exec(connection, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  REQUIRE(sqlite3_close(connection) == SQLITE_OK);
  std::ifstream file(db + "-wal", std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// Flips one byte of the page stored in frame `frame` (from 1) of a log of `page_size` pages.
void damage_wal_frame(const std::string& db, std::vector<char> bytes, std::size_t frame,
                      std::size_t page_size) {
  bytes[32 + (frame - 1) * (24 + page_size) + 24 + 100] ^= 0x01;
  std::ofstream(db + "-wal", std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<long>(bytes.size()));
}

std::size_t wal_page_size(const std::vector<char>& bytes) {
  std::size_t size = 0;
  for (int i = 8; i < 12; ++i) {
    size = (size << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return size;
}

const std::vector<std::string> kScratchTransactions = {
    "CREATE TABLE scratch (x BLOB)", "INSERT INTO scratch VALUES (randomblob(3000))",
    "INSERT INTO scratch VALUES (randomblob(3000))",
    "INSERT INTO scratch VALUES (randomblob(3000))",
    "INSERT INTO scratch VALUES (randomblob(3000))"};

}  // namespace

TEST_CASE_METHOD(CommandFixture, "db status warns of damaged wal", "[billing][commands][wal]") {
  init();
  const std::vector<char> intact = write_kept_wal(db(), kScratchTransactions);
  REQUIRE(intact.size() > 32 + 6 * (24 + wal_page_size(intact)));
  const Run clean = relaygw("db status --db '" + db() + "'");
  INFO(clean.output);
  CHECK(clean.status == 0);
  CHECK(clean.output.find("write-ahead log") == std::string::npos);

  damage_wal_frame(db(), intact, 3, wal_page_size(intact));
  std::ifstream before_file(db() + "-wal", std::ios::binary);
  const std::vector<char> before{std::istreambuf_iterator<char>(before_file),
                                 std::istreambuf_iterator<char>()};
  const Run status = relaygw("db status --db '" + db() + "'");
  INFO(status.output);
  CHECK(status.status == 1);
  CHECK(status.output.find("relaygw db status: warning: write-ahead log '" + db() +
                           "-wal' is damaged: frame 3 (database page ") != std::string::npos);
  CHECK(status.output.find("does not match its checksum") != std::string::npos);
  CHECK(status.output.find("Restore the database from a backup") != std::string::npos);
  CHECK(status.output.find("copy '" + db() + "-wal' aside") != std::string::npos);
  // The rest of the status is still shown, and the log is left as it was.
  CHECK(status.output.find("directory lines: 15") != std::string::npos);
  CHECK(status.output.find("write-ahead log: damaged") != std::string::npos);
  std::ifstream after_file(db() + "-wal", std::ios::binary);
  const std::vector<char> after{std::istreambuf_iterator<char>(after_file),
                                std::istreambuf_iterator<char>()};
  CHECK(after == before);
}

TEST_CASE_METHOD(CommandFixture, "db init names damaged database", "[billing][commands][wal]") {
  init();
  const std::vector<char> intact = write_kept_wal(db(), kScratchTransactions);
  damage_wal_frame(db(), intact, 3, wal_page_size(intact));
  const Run damaged_wal = relaygw("db init --db '" + db() + "' --no-directory");
  INFO(damaged_wal.output);
  CHECK(damaged_wal.status == 1);
  CHECK(damaged_wal.output.find("database '" + db() +
                                "' exists and is damaged, because its "
                                "write-ahead log '" +
                                db() + "-wal' is damaged") != std::string::npos);
  CHECK(damaged_wal.output.find("Restore the database from a backup") != std::string::npos);
  CHECK(damaged_wal.output.find("choose a new --db path") != std::string::npos);
  CHECK(damaged_wal.output.find("migrate") == std::string::npos);

  // A header whose page size is not a power of two: SQLite rejects the file as not a database.
  const std::string header_db = path("header.db");
  std::filesystem::copy_file(db(), header_db);
  {
    std::fstream file(header_db, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(16);
    file.put('\x12');
    file.put('\x34');
  }
  const Run damaged_header = relaygw("db init --db '" + header_db + "' --no-directory");
  INFO(damaged_header.output);
  CHECK(damaged_header.status == 1);
  CHECK(damaged_header.output.find("database '" + header_db + "' is damaged") != std::string::npos);
  CHECK(damaged_header.output.find("restore it from a backup, or choose a new --db path") !=
        std::string::npos);
  CHECK(damaged_header.output.find("migrate") == std::string::npos);

  // A healthy database keeps the message that it exists.
  const std::string healthy_db = path("healthy.db");
  REQUIRE(relaygw("db init --db '" + healthy_db + "' --no-directory").status == 0);
  const Run again = relaygw("db init --db '" + healthy_db + "' --no-directory");
  CHECK(again.status == 1);
  CHECK(again.output.find("already exists; choose a new --db path") != std::string::npos);
}

TEST_CASE_METHOD(CommandFixture, "line import hints name columns", "[billing][commands]") {
  init();
  const std::string header =
      "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,is_tty,"
      "tty_discount_eligible";
  std::ofstream(path("lines.csv"))
      << header << "\n"
      << "7735550130,Trailing Commas,business,none,IL,CHICAGO,America/Chicago,,no,no,,,\n"
         "7735550131,Trailing Extra,business,none,IL,CHICAGO,America/Chicago,,no,no,,x\n"
         ",No Number,business,none,IL,CHICAGO,America/Chicago,,no,no\n"
         "7735550132,No Zone,business,none,IL,CHICAGO,,,,\n"
         "7735550133,Empty Tail,,,,\n";
  const Run imported =
      relaygw("line import --db '" + db() + "' --file '" + path("lines.csv") + "'");
  INFO(imported.output);
  CHECK(imported.status == 1);
  CHECK(imported.output.find("row 2: the row has 13 fields, but the header has 10 columns, so "
                             "the row has 3 extra after column tty_discount_eligible, all empty; "
                             "remove the trailing commas after the tty_discount_eligible "
                             "field") != std::string::npos);
  CHECK(imported.output.find("row 3: the row has 12 fields, but the header has 10 columns, so "
                             "the row has 2 extra after column tty_discount_eligible; put double "
                             "quotes around a field that contains a comma") != std::string::npos);
  CHECK(imported.output.find("row 4: the number field is empty") != std::string::npos);
  CHECK(imported.output.find("row 5: line +17735550132 has no time zone; give its IANA zone "
                             "name") != std::string::npos);
  CHECK(imported.output.find("row 6: the row has 6 fields, but the header has 10 columns, so "
                             "the row is missing time_zone, pic, is_tty, "
                             "tty_discount_eligible") != std::string::npos);

  // A header row with trailing commas has columns without names.
  std::ofstream(path("unnamed.csv")) << header << ",\n"
                                     << "7735550134,Short,business,none,IL,CHICAGO,"
                                        "America/Chicago,,no,no\n";
  const Run unnamed =
      relaygw("line import --db '" + db() + "' --file '" + path("unnamed.csv") + "'");
  INFO(unnamed.output);
  CHECK(unnamed.output.find("row 2: the row has 10 fields, but the header has 11 columns, so "
                            "the row is missing column 11 (unnamed)") != std::string::npos);
  std::ofstream(path("unnamed2.csv")) << header << ",,\n";
  const Run two_unnamed =
      relaygw("line import --db '" + db() + "' --file '" + path("unnamed2.csv") + "'");
  INFO(two_unnamed.output);
  CHECK(two_unnamed.status == 1);
  CHECK(two_unnamed.output.find("the CSV header has no name for columns 11 and 12; remove the "
                                "trailing commas from the header row") != std::string::npos);
}
