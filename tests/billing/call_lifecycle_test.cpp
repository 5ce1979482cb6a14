// The relaygw call commands over a call's life: who is billed, which refusals apply, how long a
// call may be, and when billing starts. Each test runs the binary as a real process on a real
// database file.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/billing/billing_test_support.hpp"

namespace {

using Run = relaygw::billing::testing::CommandRun;

class CallLifecycleFixture {
 public:
  CallLifecycleFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-call-lifecycle-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    REQUIRE(relaygw("db init").status == 0);
  }
  ~CallLifecycleFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Runs `relaygw COMMAND --db DB ARGUMENTS`; `arguments` is already shell-quoted.
  // Runs `command` on the fixture's database. Only commands that write take --actor.
  Run relaygw(const std::string& command, const std::string& arguments = "") const {
    const bool reads_only = command == "call show" || command.rfind("report ", 0) == 0 ||
                            command == "plans advise";
    return ::relaygw::billing::testing::run_relaygw(
        command + " --db '" + (dir_ / "billing.db").string() + "' " +
        (reads_only ? "" : "--actor staff:test ") + arguments);
  }

  // Creates call `id` and requires that it is authorized.
  void create(const std::string& id, const std::string& arguments) const {
    const Run created = relaygw("call create", "--id " + id + " " + arguments);
    INFO(created.output);
    REQUIRE(created.status == 0);
  }

  // Stores, with `relaygw db load-deck`, a deck named `name` that charges $0.25 a minute in
  // every jurisdiction from `effective` on.
  void load_flat_deck(const std::string& name, const std::string& effective) const {
    std::string deck = "name = \"" + name + "\"\n[[version]]\nname = \"v1\"\neffective = " +
                       effective + "\n";
    for (const char* jurisdiction :
         {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
      deck += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
              "\"\nper_minute = { night = \"0.2500\" }\n";
    }
    const std::filesystem::path deck_path = dir_ / (name + ".toml");
    std::ofstream(deck_path) << deck;
    const Run loaded = relaygw("db load-deck", "--rates '" + deck_path.string() + "'");
    INFO(loaded.output);
    REQUIRE(loaded.status == 0);
  }

  void event(const std::string& id, const std::string& arguments) const {
    const Run recorded = relaygw("call event", "--id " + id + " " + arguments);
    INFO(recorded.output);
    REQUIRE(recorded.status == 0);
  }

  Run complete(const std::string& id, const std::string& at,
               const std::string& arguments = "") const {
    return relaygw("call complete",
                   "--id " + id + " --key " + id + "-end --at " + at + " " + arguments);
  }

  nlohmann::json show_json(const std::string& id) const {
    const Run shown = relaygw("call show", "--id " + id + " --json");
    INFO(shown.output);
    REQUIRE(shown.status == 0);
    return nlohmann::json::parse(shown.output);
  }

 private:
  std::filesystem::path dir_;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE_METHOD(CallLifecycleFixture, "call create stores billed number",
                 "[billing][commands][calls]") {
  create("col1",
         "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101 --billing collect");
  create("tn1",
         "--at 2026-03-10T09:29:00-07:00 --from 4155550109 --to 2135550101 --billing third-party "
         "--third-number 4155550108");
  create("sp1", "--at 2026-03-10T09:29:00-05:00 --from 312-555-0107 --to 2125550101");
  CHECK(show_json("col1")["billed_number"] == "+12125550101");
  CHECK(show_json("tn1")["billed_number"] == "+14155550108");
  CHECK(show_json("sp1")["billed_number"] == "+13125550107");

  const Run text = relaygw("call show", "--id tn1");
  CHECK(contains(text.output, "billed to +14155550108"));

  // The third line (Chen, Wei) is TTY discount eligible in CA, and the caller's line is not.
  event("tn1", "--event accepted --how voice --by 'Wei Chen' --at 2026-03-10T09:29:30-07:00");
  event("tn1", "--event connected --at 2026-03-10T09:30:00-07:00");
  const Run completed = complete("tn1", "2026-03-10T09:40:00-07:00");
  INFO(completed.output);
  REQUIRE(completed.status == 0);
  CHECK(contains(completed.output, "CA TTY toll discount"));
}

TEST_CASE_METHOD(CallLifecycleFixture, "call create refuses self billing",
                 "[billing][commands][calls]") {
  struct Case {
    const char* id;
    const char* arguments;
    const char* code;
  };
  const Case cases[] = {
      {"tcall", "--to 4155550109 --billing third-party --third-number +12125550101",
       "third-number-is-calling-line"},
      {"tcalled", "--to 4155550109 --billing third-party --third-number '(415) 555-0109'",
       "third-number-is-called-line"},
  };
  for (const Case& test : cases) {
    INFO(test.id);
    const Run created = relaygw(
        "call create", std::string("--id ") + test.id +
                           " --at 2026-03-10T09:29:00-04:00 --from 2125550101 " + test.arguments);
    INFO(created.output);
    CHECK(created.status == 1);
    CHECK(contains(created.output, std::string("refused: ") + test.code));
  }
  // A collect call to the calling line itself is rejected before it is stored, as every call
  // from a line to itself is.
  const Run own = relaygw("call create",
                          "--id own --at 2026-03-10T09:29:00-04:00 --from 2125550101 "
                          "--to 1-212-555-0101 --billing collect");
  INFO(own.output);
  CHECK(own.status == 1);
  CHECK(contains(own.output, "are the same line, +12125550101"));
}

TEST_CASE_METHOD(CallLifecycleFixture, "tty discount for every number form",
                 "[billing][commands][calls]") {
  // +14155550108 is TTY discount eligible in CA: 10 min at 09:30 PDT total 2.84 with the
  // discount and 3.62 without it.
  const char* forms[] = {"4155550108", "+14155550108", "1-415-555-0108", "'(415) 555-0108'",
                         "14155550108"};
  int index = 0;
  for (const char* from : forms) {
    INFO("--from " << from);
    const std::string id = "form" + std::to_string(index++);
    create(id, std::string("--at 2026-03-10T09:29:00-07:00 --to 2135550101 --from ") + from);
    event(id, "--event connected --at 2026-03-10T09:30:00-07:00");
    const Run completed = complete(id, "2026-03-10T09:40:00-07:00");
    INFO(completed.output);
    REQUIRE(completed.status == 0);
    CHECK(contains(completed.output, "CA TTY toll discount"));
    CHECK(show_json(id)["total"] == "2.84");
  }
}

TEST_CASE_METHOD(CallLifecycleFixture, "call complete rejects over 24 hours",
                 "[billing][commands][calls]") {
  create("long", "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101");
  event("long", "--event connected --at 2026-03-10T09:30:00-05:00");
  const Run year = complete("long", "2027-03-10T09:42:00-05:00");
  CHECK(year.status == 1);
  CHECK(contains(year.output, "31536720 s"));
  CHECK(contains(year.output, "maximum of 86400 s (24 h)"));
  CHECK(contains(year.output, "at most 2026-03-11T14:30:00Z"));
  CHECK_FALSE(show_json("long").contains("total"));

  // Exactly 24 hours is still billed.
  const Run day = complete("long", "2026-03-11T09:30:00-05:00");
  INFO(day.output);
  CHECK(day.status == 0);
  CHECK(show_json("long").contains("total"));
}

TEST_CASE_METHOD(CallLifecycleFixture, "late acceptance bills from acceptance",
                 "[billing][commands][calls]") {
  create("late",
         "--billing collect --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101");
  event("late", "--event connected --at 2026-03-10T09:30:00-05:00");
  event("late",
        "--event accepted --how tty-text --by 'Grace Okafor' --at "
        "2026-03-10T09:31:00-05:00");
  const Run completed = complete("late", "2026-03-10T09:42:00-05:00");
  INFO(completed.output);
  REQUIRE(completed.status == 0);
  CHECK(contains(completed.output, "11 min from Tue 09:31"));
  CHECK_FALSE(contains(completed.output, "12 min"));
}

TEST_CASE_METHOD(CallLifecycleFixture, "collect complete needs acceptance",
                 "[billing][commands][calls]") {
  const std::string collect =
      "--billing collect --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101";
  create("none", collect);
  event("none", "--event connected --at 2026-03-10T09:30:00-05:00");

  SECTION("rejected until the acceptance is recorded") {
    const Run rejected = complete("none", "2026-03-10T09:42:00-05:00");
    CHECK(rejected.status == 1);
    CHECK(contains(rejected.output, "no acceptance"));
    CHECK(contains(rejected.output, "relaygw call event --id none --event accepted"));
    CHECK_FALSE(show_json("none").contains("total"));

    event("none",
          "--event accepted --how voice --by 'Grace Okafor' --at "
          "2026-03-10T09:30:00-05:00");
    const Run completed = complete("none", "2026-03-10T09:42:00-05:00");
    INFO(completed.output);
    REQUIRE(completed.status == 0);
    CHECK(show_json("none")["total"] != "0.00");
  }
  SECTION("declined charges post zero with the reason") {
    const Run declined = complete("none", "2026-03-10T09:42:00-05:00", "--unaccepted");
    INFO(declined.output);
    REQUIRE(declined.status == 0);
    CHECK(contains(declined.output, "not billed: no acceptance of the charges recorded"));
    CHECK(show_json("none")["total"] == "0.00");
  }
  SECTION("never connected posts zero with the reason") {
    create("ring", collect);
    const Run completed = complete("ring", "2026-03-10T09:42:00-05:00");
    INFO(completed.output);
    REQUIRE(completed.status == 0);
    CHECK(contains(completed.output, "not billed: never connected"));
  }
}

TEST_CASE_METHOD(CallLifecycleFixture, "zero conversation bills nothing",
                 "[billing][commands][calls]") {
  create("z", "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101");
  event("z", "--event connected --at 2026-03-10T09:30:00-05:00");
  const Run completed = complete("z", "2026-03-10T09:30:00-05:00");
  INFO(completed.output);
  REQUIRE(completed.status == 0);
  CHECK(contains(completed.output, "not billed: no billable conversation"));
  CHECK(show_json("z")["total"] == "0.00");

  // The report counts the call as unanswered (columns calls, answered, emergency) and agrees
  // that it billed nothing.
  const Run summary = relaygw("report summary", "--from 2026-03-10 --to 2026-03-10 --format csv");
  INFO(summary.output);
  CHECK(contains(summary.output, ",1,0,0,"));
  CHECK_FALSE(contains(summary.output, "2.30"));
}

TEST_CASE_METHOD(CallLifecycleFixture, "call show names charge acceptance",
                 "[billing][commands][calls]") {
  const Run created = relaygw("call create",
                              "--id c1 --billing collect --at 2026-03-10T09:29:00-05:00 "
                              "--from 3125550107 --to 2125550101");
  REQUIRE(created.status == 0);
  CHECK(contains(created.output, "call c1 authorized; charges wait for the acceptance of"));
  CHECK_FALSE(contains(created.output, "authorized: authorized"));

  event("c1",
        "--event accepted --how tty-text --by 'Grace Okafor' --at "
        "2026-03-10T09:29:30-05:00");
  const Run shown = relaygw("call show", "--id c1");
  INFO(shown.output);
  CHECK(contains(shown.output, "charges accepted by Grace Okafor (tty-text)"));
}

TEST_CASE_METHOD(CallLifecycleFixture, "call create stores numbers in E.164",
                 "[billing][commands][calls]") {
  const char* froms[] = {"'(312) 555-0107'", "1-312-555-0107", "3125550107", "+13125550107"};
  const char* tos[] = {"'(212) 555-0101'", "1-212-555-0101", "2125550101", "+12125550101"};
  for (int i = 0; i < 4; ++i) {
    const std::string id = "e164-" + std::to_string(i);
    INFO("--from " << froms[i] << " --to " << tos[i]);
    create(id,
           std::string("--at 2026-03-10T09:29:00-05:00 --from ") + froms[i] + " --to " + tos[i]);
    const nlohmann::json shown = show_json(id);
    CHECK(shown["from"] == "+13125550107");
    CHECK(shown["to"] == "+12125550101");
    const Run text = relaygw("call show", "--id " + id);
    CHECK(contains(text.output, "+13125550107 to +12125550101"));
    event(id, "--event connected --at 2026-03-10T09:30:00-05:00");
    const Run completed = complete(id, "2026-03-10T09:35:00-05:00");
    INFO(completed.output);
    REQUIRE(completed.status == 0);
  }

  // A lookup by number finds every call, whichever form staff typed at creation or now.
  const Run advice = relaygw("plans advise",
                             "--line '(312) 555-0107' --as-of "
                             "2026-03-20T00:00:00Z --json");
  INFO(advice.output);
  REQUIRE(advice.status == 0);
  CHECK(nlohmann::json::parse(advice.output)["calls"] == 4);

  // An emergency call skips the number plan but still stores the caller in E.164.
  create("e164-911", "--at 2026-03-10T09:29:00-05:00 --from '(312) 555-0107' --to 911");
  CHECK(show_json("e164-911")["from"] == "+13125550107");
  const Run emergency =
      relaygw("report emergency", "--from 2026-03-10 --to 2026-03-10 --format json");
  INFO(emergency.output);
  REQUIRE(emergency.status == 0);
  CHECK(contains(emergency.output, "\"caller\": \"+13125550107\""));
}

TEST_CASE_METHOD(CallLifecycleFixture, "declined call counts as unanswered",
                 "[billing][commands][calls][reports]") {
  create("declined",
         "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101 "
         "--billing collect --access relay-tty");
  event("declined", "--event connected --at 2026-03-10T09:30:00-05:00");
  const Run completed = complete("declined", "2026-03-10T09:32:00-05:00", "--unaccepted");
  INFO(completed.output);
  REQUIRE(completed.status == 0);
  CHECK(contains(completed.output, "not billed: no acceptance of the charges recorded"));

  const Run summary = relaygw("report summary", "--from 2026-03-10 --to 2026-03-10 --format json");
  INFO(summary.output);
  REQUIRE(summary.status == 0);
  const nlohmann::json report = nlohmann::json::parse(summary.output);
  CHECK(report["total"]["calls"] == 1);
  CHECK(report["total"]["answered"] == 0);
  CHECK(report["total"]["conversation_seconds"] == 0);

  const Run minutes =
      relaygw("report relay-minutes", "--from 2026-03-10 --to 2026-03-10 --format csv");
  INFO(minutes.output);
  REQUIRE(minutes.status == 0);
  // The declined call is not a completed relay call.
  CHECK(contains(minutes.output, "2026-03,relay-tty,IL,0,1,0,0.0\n"));

  // Plan advice re-rates answered calls only, so the declined call billed to the called line
  // is left out.
  const Run advice = relaygw("plans advise",
                             "--line 2125550101 --as-of 2026-03-20T00:00:00Z "
                             "--json");
  INFO(advice.output);
  REQUIRE(advice.status == 0);
  CHECK(nlohmann::json::parse(advice.output)["calls"] == 0);
}

TEST_CASE_METHOD(CallLifecycleFixture, "call show prints stored quote",
                 "[billing][commands][calls]") {
  create("q1", "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101");
  const nlohmann::json first = show_json("q1");
  REQUIRE(first.contains("quote"));
  CHECK(first["quote"]["rate_deck_sha256"].get<std::string>().size() == 64);

  // A new deck of $0.25 a minute everywhere quotes the next call. Its date is after the
  // bundled deck's first version, so it takes over from that deck.
  load_flat_deck("flat quote", "2026-02-01");

  create("q2", "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101");
  const nlohmann::json second = show_json("q2");
  REQUIRE(second.contains("quote"));
  CHECK(second["quote"]["one_minute"] == "0.2500");
  CHECK(second["quote"]["rate_deck_sha256"] != first["quote"]["rate_deck_sha256"]);
  CHECK(show_json("q1")["quote"] == first["quote"]);
  const Run text = relaygw("call show", "--id q2");
  const std::string sha = second["quote"]["rate_deck_sha256"];
  CHECK(contains(text.output,
                 "quoted $0.25 for a one-minute call with rate deck 'flat quote', "
                 "effective 2026-02-01, sha256 " +
                     sha.substr(0, 12) + "\n"));
  CHECK(second["quote"]["rate_deck_name"] == "flat quote");
  CHECK(second["quote"]["rate_deck_effective_from"] == "2026-02-01");
}

TEST_CASE_METHOD(CallLifecycleFixture, "plans advise before a future deck",
                 "[billing][commands][calls]") {
  create("f1", "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101");
  event("f1", "--event connected --at 2026-03-10T09:30:00-05:00");
  REQUIRE(complete("f1", "2026-03-10T09:35:00-05:00").status == 0);

  // A tariff stored now for next year must not stop advice on this year's calls.
  load_flat_deck("next year", "2027-01-01");

  const Run advice =
      relaygw("plans advise", "--line 3125550107 --as-of 2026-03-20T00:00:00Z --json");
  INFO(advice.output);
  REQUIRE(advice.status == 0);
  CHECK(nlohmann::json::parse(advice.output)["calls"] == 1);
}

TEST_CASE_METHOD(CallLifecycleFixture, "plans advise counts only the line's charges",
                 "[billing][commands][calls]") {
  // Rosa's line places a call billed to Wei's line, accepted by voice.
  create("t1",
         "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101 "
         "--billing third-party --third-number 4155550108");
  event("t1", "--event accepted --how voice --by 'Chen Wei' --at 2026-03-10T09:29:30-05:00");
  event("t1", "--event connected --at 2026-03-10T09:30:00-05:00");
  REQUIRE(complete("t1", "2026-03-10T09:35:00-05:00").status == 0);

  const std::string window = " --as-of 2026-03-20T00:00:00Z --json";
  const Run caller = relaygw("plans advise", "--line 3125550107" + window);
  INFO(caller.output);
  REQUIRE(caller.status == 0);
  CHECK(nlohmann::json::parse(caller.output)["calls"] == 0);
  const Run payer = relaygw("plans advise", "--line 4155550108" + window);
  INFO(payer.output);
  REQUIRE(payer.status == 0);
  CHECK(nlohmann::json::parse(payer.output)["calls"] == 1);
}

namespace {

// Returns the lines of `text` from the first that starts with `first` to the first that starts
// with `last`, both included.
std::vector<std::string> lines_between(const std::string& text, const std::string& first,
                                       const std::string& last) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    inside = inside || line.rfind(first, 0) == 0;
    if (inside) {
      lines.push_back(line);
      if (line.rfind(last, 0) == 0) {
        break;
      }
    }
  }
  return lines;
}

}  // namespace

// A surcharge description longer than any fixed column widens the column, so every amount of
// the posting still ends in the same column.
TEST_CASE_METHOD(CallLifecycleFixture, "call show aligns long charge lines",
                 "[billing][commands][calls]") {
  const std::string long_description =
      "Sent-paid relay call surcharge for the state telecommunications relay fund, 2026";
  std::string deck =
      "name = \"long lines\"\n[[version]]\nname = \"v1\"\neffective = 2026-02-01\n"
      "[[version.surcharge]]\nbilling = \"sent-paid\"\namount = \"1234.5600\"\ndescription = \"" +
      long_description + "\"\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    deck += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"0.2500\" }\n";
  }
  const std::string deck_path =
      (std::filesystem::temp_directory_path() /
       ("relaygw-long-lines-" + std::to_string(std::random_device()()) + ".toml"))
          .string();
  std::ofstream(deck_path) << deck;
  const Run loaded = relaygw("db load-deck", "--rates '" + deck_path + "'");
  std::filesystem::remove(deck_path);
  INFO(loaded.output);
  REQUIRE(loaded.status == 0);

  create("long", "--at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101");
  event("long", "--event connected --at 2026-03-10T09:30:00-05:00");
  REQUIRE(complete("long", "2026-03-10T09:33:00-05:00").status == 0);
  const Run shown = relaygw("call show", "--id long");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  REQUIRE(contains(shown.output, long_description));
  const std::vector<std::string> table = lines_between(shown.output, "  usage", "  total");
  REQUIRE(table.size() >= 3);
  for (const std::string& line : table) {
    INFO(line);
    CHECK(line.size() == table.front().size());
  }
  CHECK(contains(shown.output, " 1234.56\n"));
}
