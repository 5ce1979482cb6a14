// Runs the real relaygw binary: relaygw quote as staff use it.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/money.hpp"

using namespace relaygw::billing;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `relaygw` with `arguments` (already shell-quoted) and an optional environment prefix,
// capturing standard output and standard error.
RunResult run_relaygw(const std::string& arguments, const std::string& environment = "") {
  const std::filesystem::path err_path =
      std::filesystem::temp_directory_path() /
      ("relaygw-quote-test-" + std::to_string(::getpid()) + ".err");
  const std::string command = environment + " '" + std::string(RELAYGW_BINARY) + "' " +
                              arguments + " 2>'" + err_path.string() + "'";
  RunResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    result.out.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::ostringstream text;
  text << err.rdbuf();
  result.err = text.str();
  std::filesystem::remove(err_path);
  return result;
}

RunResult run_quote(const std::string& arguments, const std::string& environment = "") {
  return run_relaygw("quote " + arguments, environment);
}

const std::string kCall =
    "--from 212-555-0107 --to 312-555-0142 --start 2026-03-10T09:30:00-05:00 --minutes 5";

Money units(const nlohmann::json& amount) {
  auto parsed = parse_dollars(amount.get<std::string>());
  REQUIRE(parsed);
  return *parsed;
}

}  // namespace

TEST_CASE("quote prints itemized lines", "[billing][quote][cli]") {
  const RunResult result = run_quote(kCall + " --billing collect");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("Total USD") != std::string::npos);
  CHECK(result.out.find("usage") != std::string::npos);
  CHECK(result.out.find("Collect call surcharge") != std::string::npos);
  CHECK(result.out.find("Other payment options") != std::string::npos);
  CHECK(result.out.find("calling-card") != std::string::npos);
}

TEST_CASE("quote JSON lines add to total", "[billing][quote][cli]") {
  for (const char* billing :
       {"sent-paid", "collect", "third-party", "person-to-person", "calling-card"}) {
    for (const char* access : {"none", "tty", "relay-tty", "captioned"}) {
      const RunResult result = run_quote(kCall + " --json --billing " + billing + " --access " +
                                         access + " --handling operator");
      INFO("billing " << billing << " access " << access << " " << result.err);
      REQUIRE(result.exit_code == 0);
      const nlohmann::json quote = nlohmann::json::parse(result.out);
      CHECK(quote["currency"] == "USD");
      Money sum = 0;
      for (const nlohmann::json& line : quote["lines"]) {
        const std::string kind = line["kind"];
        CHECK((kind == "usage" || kind == "surcharge" || kind == "discount" || kind == "tax" ||
               kind == "fee"));
        CHECK(line["description"].get<std::string>().size() > 0);
        if (kind == "discount") {
          CHECK(units(line["amount"]) < 0);
        }
        sum += units(line["amount"]);
      }
      CHECK(format_dollars(sum) == quote["total"].get<std::string>());
      CHECK(quote["alternatives"].size() == 4);
    }
  }
}

TEST_CASE("quote to 911 needs no data", "[billing][quote][cli]") {
  const RunResult result = run_quote(
      "--from 2125550107 --to 911 --billing collect --start 2026-03-10T14:30:00Z "
      "--minutes 30 --access relay-tty --json --deck /nonexistent/deck.toml "
      "--data-dir /nonexistent");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const nlohmann::json quote = nlohmann::json::parse(result.out);
  CHECK(quote["total"] == "0.00");
  CHECK(quote["emergency"] == true);
}

TEST_CASE("quote converts decimal minutes", "[billing][quote][cli]") {
  struct Row {
    const char* minutes;
    int billed;  // example deck: 60 s first, then 6 s increments, 60 s minimum
  };
  for (const Row& row : {Row{"2.5", 150}, Row{"0.25", 60}, Row{"1.01", 66}, Row{"10", 600}}) {
    const RunResult result = run_quote(
        "--from 2125550107 --to 3125550142 --billing sent-paid --start "
        "2026-03-10T14:30:00Z --json --minutes " +
        std::string(row.minutes));
    INFO("minutes " << row.minutes << " " << result.err);
    REQUIRE(result.exit_code == 0);
    CHECK(nlohmann::json::parse(result.out)["billed_seconds"] == row.billed);
  }
}

TEST_CASE("quote for zero minutes is free", "[billing][quote][cli]") {
  // A call with no conversation bills nothing when completed, so its quote must agree, for
  // every payment option.
  for (const char* billing : {"sent-paid", "collect", "calling-card", "person-to-person"}) {
    const RunResult result = run_quote(
        "--from 2125550107 --to 3125550142 --start 2026-03-10T14:30:00Z --json --minutes 0 "
        "--billing " +
        std::string(billing));
    INFO(billing << " " << result.err);
    REQUIRE(result.exit_code == 0);
    const nlohmann::json quote = nlohmann::json::parse(result.out);
    CHECK(quote["total"] == "0.00");
    Money sum = 0;
    for (const nlohmann::json& line : quote["lines"]) {
      sum += units(line["amount"]);
    }
    CHECK(sum == 0);
  }
  const RunResult text = run_quote(
      "--from 2125550107 --to 3125550142 --start 2026-03-10T14:30:00Z --minutes 0 "
      "--billing collect");
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("Billed: 60 s") == std::string::npos);
  CHECK(text.out.find("no charge") != std::string::npos);
}

TEST_CASE("quote rejects bad input by name", "[billing][quote][cli]") {
  struct Row {
    std::string arguments;
    const char* named;
  };
  const std::string start = " --start 2026-03-10T14:30:00Z --minutes 5";
  const Row rows[] = {
      {"--from 2125550107 --to 3125550142 --billing prepaid" + start, "prepaid"},
      {"--from 2125550107 --to 3125550142 --billing collect --access braille" + start, "braille"},
      {"--from 2125550107 --to 3125550142 --billing collect --handling robot" + start, "robot"},
      {"--from 2125550107 --to 31255501 --billing collect" + start, "31255501"},
      {"--from 0125550107 --to 3125550142 --billing collect" + start, "0125550107"},
      {"--from 2125550107 --to 3125550142 --billing collect --minutes 5 --start "
       "'2026-03-10 09:30'",
       "2026-03-10 09:30"},
      {"--from 2125550107 --to 3125550142 --billing collect --minutes 5 --start "
       "2026-03-10T09:30:00",
       "2026-03-10T09:30:00"},
      {"--from 2125550107 --to 3125550142 --billing collect --start 2026-03-10T14:30:00Z "
       "--minutes -1",
       "-1"},
      {"--from 2125550107 --to 3125550142 --billing collect --start 2026-03-10T14:30:00Z "
       "--minutes five",
       "five"},
      {"--from 2125550107 --to 3125550142 --billing collect --deck /nonexistent/x.toml" + start,
       "/nonexistent/x.toml"},
      {"--from 2125550107 --to 3125550142 --billing collect --data-dir /nonexistent" + start,
       "/nonexistent"},
  };
  for (const Row& row : rows) {
    const RunResult result = run_quote(row.arguments);
    INFO("arguments " << row.arguments << "\nstderr " << result.err);
    CHECK(result.exit_code != 0);
    CHECK(result.err.find(row.named) != std::string::npos);
  }
}

TEST_CASE("quote reads data dir from environment", "[billing][quote][cli]") {
  const RunResult result = run_quote(kCall + " --billing collect", "RELAYGW_DATA_DIR=/nonexistent");
  CHECK(result.exit_code != 0);
  CHECK(result.err.find("/nonexistent/nanp") != std::string::npos);
}

TEST_CASE("quote uses the deck given", "[billing][quote][cli]") {
  const std::filesystem::path deck_path =
      std::filesystem::temp_directory_path() /
      ("relaygw-quote-deck-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(deck_path) << R"(
[[version]]
name = "flat"
effective = 2020-01-01
[[version.rate]]
jurisdiction = "interstate"
per_minute = { night = "0.5000" }
)";
  const RunResult result =
      run_quote(kCall + " --billing sent-paid --json --deck '" + deck_path.string() + "'");
  std::filesystem::remove(deck_path);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const nlohmann::json quote = nlohmann::json::parse(result.out);
  CHECK(quote["total"] == "2.50");
  CHECK(quote["deck_version"] == "flat");
}

TEST_CASE("quote to premium needs sent paid", "[billing][quote][cli]") {
  const std::string premium_call =
      "--from 212-555-0107 --to 900-555-0142 --start 2026-03-10T09:30:00-05:00 --minutes 2";
  for (const char* billing : {"collect", "third-party", "person-to-person", "calling-card"}) {
    const RunResult refused = run_quote(premium_call + " --billing " + billing);
    INFO("billing " << billing << ": " << refused.err);
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("900-555-0142") != std::string::npos);
    CHECK(refused.err.find("sent-paid") != std::string::npos);
  }
  const RunResult sent_paid = run_quote(premium_call + " --billing sent-paid --json");
  INFO(sent_paid.err);
  REQUIRE(sent_paid.exit_code == 0);
  const nlohmann::json quote = nlohmann::json::parse(sent_paid.out);
  for (const nlohmann::json& other : quote["alternatives"]) {
    CHECK(other["total"] == "not allowed");
  }
}

TEST_CASE("quote collect only to billable lines", "[billing][quote][cli]") {
  const std::string start = " --start 2026-03-10T09:30:00-05:00 --minutes 2";
  for (const char* called : {"+442071234567", "011442071234567", "411", "8005551212"}) {
    const RunResult refused =
        run_quote(std::string("--from 212-555-0107 --to ") + called + " --billing collect" + start);
    INFO("called " << called << ": " << refused.err);
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find(std::string("called number ") + called) != std::string::npos);
    CHECK(refused.err.find("cannot be billed collect") != std::string::npos);
  }
  const RunResult sent_paid =
      run_quote("--from 212-555-0107 --to +442071234567 --billing sent-paid --json" + start);
  INFO(sent_paid.err);
  REQUIRE(sent_paid.exit_code == 0);
  const nlohmann::json quote = nlohmann::json::parse(sent_paid.out);
  for (const nlohmann::json& other : quote["alternatives"]) {
    INFO(other.dump());
    CHECK((other["billing"] == "collect") == (other["total"] == "not allowed"));
  }
}

TEST_CASE("quote rejects start outside call times", "[billing][quote][cli]") {
  struct Case {
    std::string arguments;
    std::string expected;
  };
  const std::string call = "--from 212-555-0107 --to 312-555-0142 --billing sent-paid ";
  const std::vector<Case> cases = {
      {"--start 2100-01-01T00:00:00Z --minutes 5", "--start time 2100-01-01T00:00:00Z"},
      {"--start 2099-12-31T23:00:00-05:00 --minutes 5", "--start time 2100-01-01T04:00:00Z"},
      {"--start 1999-12-31T23:00:00Z --minutes 5", "--start time 1999-12-31T23:00:00Z"},
      {"--start 2000-01-01T11:59:59Z --minutes 5", "--start time 2000-01-01T11:59:59Z"},
      {"--start 2099-12-31T09:00:00Z --minutes 90",
       "--start 2099-12-31T09:00:00Z plus --minutes 90 ends the call at 2099-12-31T10:30:00Z"},
  };
  for (const Case& bad : cases) {
    const RunResult result = run_quote(call + bad.arguments);
    INFO(bad.arguments << ": " << result.err);
    CHECK(result.exit_code == 1);
    CHECK(result.out.empty());
    CHECK(result.err.find(bad.expected) != std::string::npos);
    CHECK(result.err.find("2099-12-31T09:59:59Z") != std::string::npos);
  }

  // The last accepted instant is quoted like any other time.
  const RunResult last = run_quote(call + "--start 2099-12-31T09:58:59Z --minutes 1");
  INFO(last.err);
  CHECK(last.exit_code == 0);
}

namespace {

// A temporary folder holding a billing database that `relaygw db init` created, with two more
// flat decks stored: "spring" ($0.25 a minute from 2026-02-01) and "summer" ($0.50 a minute
// from 2026-06-01). Both start after the example deck that `db init` stores.
class QuoteDatabase {
 public:
  QuoteDatabase() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-quote-db-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    run("db init --db '" + db() + "'");
    load_deck("spring", "2026-02-01", "0.2500");
    load_deck("summer", "2026-06-01", "0.5000");
  }
  ~QuoteDatabase() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string db() const { return (dir_ / "billing.db").string(); }
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }

 private:
  void run(const std::string& arguments) const {
    const std::string command =
        "'" + std::string(RELAYGW_BINARY) + "' " + arguments + " >/dev/null 2>&1 </dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
  }
  void load_deck(const std::string& name, const std::string& effective,
                 const std::string& per_minute) const {
    std::string deck = "name = \"" + name + "\"\n[[version]]\nname = \"" + name +
                       " v1\"\neffective = " + effective + "\n";
    for (const char* jurisdiction :
         {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
      deck += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
              "\"\nper_minute = { night = \"" + per_minute + "\" }\n";
    }
    const std::filesystem::path deck_path = dir_ / (name + ".toml");
    std::ofstream(deck_path) << deck;
    run("db load-deck --db '" + db() + "' --rates '" + deck_path.string() + "'");
  }

  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE("quote names the bundled deck", "[billing][quote][cli]") {
  const RunResult text = run_quote(kCall + " --billing sent-paid");
  INFO(text.err);
  REQUIRE(text.exit_code == 0);
  CHECK(
      text.out.find("Rate deck: 'Example relay center tariff', effective 2025-01-01, read from ") !=
      std::string::npos);
  CHECK(text.out.find("(no --db given)") != std::string::npos);

  const RunResult json = run_quote(kCall + " --billing sent-paid --json");
  REQUIRE(json.exit_code == 0);
  const nlohmann::json deck = nlohmann::json::parse(json.out)["deck"];
  CHECK(deck["source"] == "file");
  CHECK(deck["name"] == "Example relay center tariff");
  CHECK(deck["effective_from"] == "2025-01-01");
  CHECK_FALSE(deck.contains("sha256"));
}

TEST_CASE("quote db uses deck in effect", "[billing][quote][cli]") {
  const QuoteDatabase database;
  const std::string call =
      "--from 212-555-0107 --to 312-555-0142 --minutes 5 --billing "
      "sent-paid --json --db '" +
      database.db() + "' --start ";

  const RunResult spring = run_quote(call + "2026-03-10T09:30:00-05:00");
  INFO(spring.err);
  REQUIRE(spring.exit_code == 0);
  const nlohmann::json spring_quote = nlohmann::json::parse(spring.out);
  CHECK(spring_quote["total"] == "1.25");
  CHECK(spring_quote["deck_version"] == "spring v1");
  CHECK(spring_quote["deck"]["source"] == "database");
  CHECK(spring_quote["deck"]["name"] == "spring");
  CHECK(spring_quote["deck"]["effective_from"] == "2026-02-01");
  CHECK(spring_quote["deck"]["database"] == database.db());
  CHECK(spring_quote["deck"]["sha256"].get<std::string>().size() == 64);

  const RunResult summer = run_quote(call + "2026-07-01T09:30:00-04:00");
  INFO(summer.err);
  REQUIRE(summer.exit_code == 0);
  const nlohmann::json summer_quote = nlohmann::json::parse(summer.out);
  CHECK(summer_quote["total"] == "2.50");
  CHECK(summer_quote["deck"]["name"] == "summer");
  CHECK(summer_quote["deck"]["sha256"] != spring_quote["deck"]["sha256"]);

  // 02:00 UTC on June 1 is still May 31 in New York, the caller's rate center, so the spring
  // deck prices it, as `call create` would.
  const RunResult evening = run_quote(call + "2026-06-01T02:00:00Z");
  INFO(evening.err);
  REQUIRE(evening.exit_code == 0);
  CHECK(nlohmann::json::parse(evening.out)["deck"]["name"] == "spring");

  const RunResult text = run_quote(
      "--from 212-555-0107 --to 312-555-0142 --minutes 5 "
      "--billing sent-paid --start 2026-03-10T09:30:00-05:00 --db '" +
      database.db() + "'");
  REQUIRE(text.exit_code == 0);
  const std::string short_sha = spring_quote["deck"]["sha256"].get<std::string>().substr(0, 12);
  CHECK(text.out.find("Rate deck: 'spring', effective 2026-02-01, sha256 " + short_sha +
                      ", in effect in database " + database.db()) != std::string::npos);
}

TEST_CASE("quote db must be a relaygw database", "[billing][quote][cli]") {
  const QuoteDatabase database;
  const std::filesystem::path missing = database.path("missing.db");
  const RunResult absent =
      run_quote(kCall + " --billing sent-paid --db '" + missing.string() + "'");
  CHECK(absent.exit_code == 1);
  CHECK(absent.err.find("database '" + missing.string() + "' does not exist") != std::string::npos);
  CHECK(absent.err.find("relaygw db init --db " + missing.string()) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(missing));

  const std::filesystem::path notes = database.path("notes.txt");
  const std::string notes_text(200, 'x');
  std::ofstream(notes) << notes_text;
  const RunResult other = run_quote(kCall + " --billing sent-paid --db '" + notes.string() + "'");
  CHECK(other.exit_code == 1);
  CHECK(other.err.find("'" + notes.string() + "' is not a relaygw database") != std::string::npos);
  CHECK(other.err.find("relaygw db init --db") != std::string::npos);
  std::ifstream reread(notes);
  std::ostringstream content;
  content << reread.rdbuf();
  CHECK(content.str() == notes_text);

  const RunResult both = run_quote(kCall + " --billing sent-paid --db '" + database.db() +
                                   "' --deck '" + notes.string() + "'");
  CHECK(both.exit_code == 1);
  CHECK(both.err.find("both choose the rate deck; give only one of them") != std::string::npos);
}

namespace {

// The descriptions of a quote's or posting's discount lines.
std::vector<std::string> discounts(const nlohmann::json& lines) {
  std::vector<std::string> found;
  for (const nlohmann::json& line : lines) {
    if (line["kind"] == "discount") {
      found.push_back(line["description"].get<std::string>());
    }
  }
  return found;
}

}  // namespace

// The bundled directory lists +1 415-555-0108 as certified for California's TTY toll discount,
// which the example deck grants to an eligible billed line whatever the access tag.
TEST_CASE("quote db prices billed line discount", "[billing][quote][cli]") {
  std::random_device random;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("relaygw-quote-lines-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(dir);
  struct RemoveDir {
    std::filesystem::path path;
    ~RemoveDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove_dir{dir};
  const std::string db = (dir / "billing.db").string();
  REQUIRE(run_relaygw("db init --db '" + db + "'").exit_code == 0);
  const std::string call =
      " --start 2026-03-10T10:00:00-08:00 --minutes 10 --access captioned --json";
  const std::string discount = "CA TTY toll discount (50.00% of usage)";

  const RunResult eligible = run_quote("--from 4155550108 --to 2125550101 --billing sent-paid --db '" +
                                       db + "'" + call);
  INFO(eligible.err);
  REQUIRE(eligible.exit_code == 0);
  const nlohmann::json quote = nlohmann::json::parse(eligible.out);
  CHECK(discounts(quote["lines"]) == std::vector<std::string>{discount});

  // Without --db the quote cannot see the directory, so only the access tag counts, and
  // captioned is not one of the tags the example deck discounts.
  const RunResult no_db =
      run_quote("--from 4155550108 --to 2125550101 --billing sent-paid" + call);
  REQUIRE(no_db.exit_code == 0);
  CHECK(discounts(nlohmann::json::parse(no_db.out)["lines"]).empty());

  // The posted call bills the quoted total.
  const std::string target = " --db '" + db + "'";
  REQUIRE(run_relaygw("call create --id cap1 --from 4155550108 --to 2125550101 --access captioned "
                      "--at 2026-03-10T10:00:00-08:00" + target)
              .exit_code == 0);
  REQUIRE(run_relaygw("call event --id cap1 --event connected --at 2026-03-10T10:00:00-08:00" +
                      target)
              .exit_code == 0);
  REQUIRE(run_relaygw("call complete --id cap1 --key cap1-end --at 2026-03-10T10:10:00-08:00" +
                      target)
              .exit_code == 0);
  const RunResult shown = run_relaygw("call show --id cap1 --json" + target);
  INFO(shown.err);
  REQUIRE(shown.exit_code == 0);
  const nlohmann::json posted = nlohmann::json::parse(shown.out);
  CHECK(posted["total"] == quote["total"]);

  // A third-party quote takes the third line's eligibility.
  const std::string third_party =
      "--from 4155550107 --to 2125550101 --billing third-party --db '" + db + "'" + call;
  const RunResult unnamed = run_quote(third_party);
  REQUIRE(unnamed.exit_code == 0);
  CHECK(discounts(nlohmann::json::parse(unnamed.out)["lines"]).empty());
  const RunResult named = run_quote(third_party + " --third-number 415-555-0108");
  INFO(named.err);
  REQUIRE(named.exit_code == 0);
  CHECK(discounts(nlohmann::json::parse(named.out)["lines"]) == std::vector<std::string>{discount});

  const RunResult bad = run_quote(third_party + " --third-number 555");
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("--third-number") != std::string::npos);
  const RunResult calling = run_quote(third_party + " --third-number 415-555-0107");
  CHECK(calling.exit_code != 0);
  CHECK(calling.err.find("--third-number +14155550107 is the calling line") != std::string::npos);
  const RunResult called = run_quote(third_party + " --third-number 2125550101");
  CHECK(called.exit_code != 0);
  CHECK(called.err.find("is the called line") != std::string::npos);
  const RunResult blank = run_quote(third_party + " --third-number ' '");
  CHECK(blank.exit_code != 0);
  CHECK(blank.err.find("--third-number is blank") != std::string::npos);
}
