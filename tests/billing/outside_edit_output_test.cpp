// What the commands print for rows changed with SQLite outside relaygw: amounts stored as a
// real number, as text or at the edge of the 64-bit range, and text that is not UTF-8. Each test
// runs the relaygw binary on a real database file.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/billing/billing_test_support.hpp"
#include "tests/sqlite_edit.hpp"

namespace {

using Run = relaygw::billing::testing::CommandRun;

constexpr const char* kCard = "5000000000000004";
constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

class OutsideEditFixture : public relaygw::billing::testing::CommandDatabaseFixture {
 public:
  OutsideEditFixture() : CommandDatabaseFixture("relaygw-outside-edit-") {}

  // Runs relaygw like relaygw(), but the output has standard output only.
  Run relaygw_stdout(const std::string& arguments) {
    return ::relaygw::billing::testing::run_relaygw(arguments, path("pin"), false);
  }

  void edit_outside_relaygw(const std::string& sql) {
    relaygw::testing::edit_outside_relaygw(path("billing.db"), sql);
  }

  // Adds card kCard with $20.00 and completes a 10-minute card call `id` on 2026-03-10.
  void card_call(const std::string& id) {
    REQUIRE(relaygw("card add " + db_option() + "--number " + kCard + " --balance 20.00").status ==
            0);
    REQUIRE(relaygw("call create " + db_option() + "--id " + id +
                    " --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101 "
                    "--billing calling-card --card " + kCard)
                .status == 0);
    REQUIRE(relaygw("call event " + db_option() + "--id " + id +
                    " --event connected --at 2026-03-10T09:30:00-05:00")
                .status == 0);
    REQUIRE(relaygw("call complete " + db_option() + "--id " + id + " --key " + id +
                    "-end --at 2026-03-10T09:40:00-05:00")
                .status == 0);
  }

  // Requests a $0.50 credit on line 1 of call `id`, which the default policy applies.
  void credit(const std::string& id, const std::string& key) {
    REQUIRE(relaygw("credit request " + db_option() + "--call " + id +
                    " --line 1 --reason bad-connection --amount 0.50 --key " + key)
                .status == 0);
  }
};

// Checks that `run` failed on a non-integer amount with the message of the reports.
void check_non_integer_failure(const Run& run, const std::string& table, const std::string& row) {
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(run.output.find("table " + table + " of database '") != std::string::npos);
  CHECK(run.output.find("stores the amount of " + row) != std::string::npos);
  CHECK(run.output.find("relaygw audit verify --db ") != std::string::npos);
  CHECK(run.output.find(kCard) == std::string::npos);
}

}  // namespace

TEST_CASE_METHOD(OutsideEditFixture, "card show rejects non-integer ledger amount",
                 "[billing][outside-edit]") {
  card_call("y1");
  REQUIRE(relaygw("card show " + db_option() + "--number " + kCard).status == 0);

  // Without the check, 'abc' is summed as 0 and 2000.5 as 2000.
  edit_outside_relaygw("UPDATE card_ledger SET amount = 'abc' WHERE kind = 'credit'");
  for (const std::string format : {"", " --json"}) {
    const Run text = relaygw("card show " + db_option() + "--number " + kCard + format);
    check_non_integer_failure(text, "card_ledger", "entry 1 as text 'abc'");
  }
  edit_outside_relaygw("UPDATE card_ledger SET amount = 2000.5 WHERE kind = 'credit'");
  const Run real = relaygw("card show " + db_option() + "--number " + kCard);
  check_non_integer_failure(real, "card_ledger", "entry 1 as a real number '2000.5'");
}

TEST_CASE_METHOD(OutsideEditFixture, "call show rejects non-integer amounts",
                 "[billing][outside-edit]") {
  card_call("y1");
  REQUIRE(relaygw("call show " + db_option() + "--id y1").status == 0);

  edit_outside_relaygw("UPDATE call_postings SET total = 13200.5 WHERE call_id = 'y1'");
  check_non_integer_failure(relaygw("call show " + db_option() + "--id y1"), "call_postings",
                            "call y1 as a real number '13200.5'");
  edit_outside_relaygw(
      "UPDATE call_postings SET total = 13200 WHERE call_id = 'y1';"
      "UPDATE charge_lines SET amount = 'twelve' WHERE call_id = 'y1' AND line_no = 1");
  check_non_integer_failure(relaygw("call show " + db_option() + "--id y1 --json"),
                            "charge_lines", "call y1 line 1 as text 'twelve'");
  edit_outside_relaygw(
      "UPDATE charge_lines SET amount = 1 WHERE call_id = 'y1';"
      "UPDATE calls SET quote_total = 0.5 WHERE id = 'y1'");
  check_non_integer_failure(relaygw("call show " + db_option() + "--id y1"), "calls",
                            "the quote of call y1 as a real number '0.5'");
}

TEST_CASE_METHOD(OutsideEditFixture, "report credits rejects overflowing sums",
                 "[billing][outside-edit]") {
  card_call("y1");
  credit("y1", "CR-1");
  credit("y1", "CR-2");
  const std::string report =
      "report credits " + db_option() + "--from 2026-03-10 --to 2026-03-10 --json";
  REQUIRE(relaygw(report).status == 0);

  // INT64_MAX plus $0.50 wraps around to a negative amount without the check.
  edit_outside_relaygw("UPDATE credits SET amount = 9223372036854775807 WHERE rowid = 1");
  const Run overflow = relaygw(report);
  INFO(overflow.output);
  CHECK(overflow.status == 1);
  // The credits are dated today, outside the report's range, so the sum that overflows is the
  // credits of call y1 when the report adds up what the card did not pay.
  CHECK(overflow.output.find("the applied credits of call y1") != std::string::npos);
  CHECK(overflow.output.find("sum past the 64-bit integer range") != std::string::npos);
  CHECK(overflow.output.find("run `relaygw audit verify --db " + path("billing.db") + "`") !=
        std::string::npos);
  CHECK(overflow.output.find("-922") == std::string::npos);
}

// Returns the message of `run`'s error line, which starts with "relaygw COMMAND: ", without that
// prefix, so two commands' messages compare.
std::string error_message(const Run& run, const std::string& command) {
  const std::string prefix = "relaygw " + command + ": ";
  const std::size_t start = run.output.find(prefix);
  if (start == std::string::npos) {
    return "";
  }
  const std::size_t end = run.output.find('\n', start);
  return run.output.substr(start + prefix.size(), end - start - prefix.size());
}

TEST_CASE_METHOD(OutsideEditFixture, "card near 64-bit limit reported damaged",
                 "[billing][outside-edit]") {
  card_call("y1");
  // card_call's ledger: the $20.00 credit, the call's hold and its release, and its debit.
  SECTION("credits sum past INT64_MAX") {
    edit_outside_relaygw(
        "UPDATE card_ledger SET amount = 9223372036854775807 WHERE kind = 'credit'");
  }
  SECTION("credits sum to 2^62 without an overflow") {
    edit_outside_relaygw(
        "UPDATE card_ledger SET amount = 4611686018427387904 - "
        "(SELECT amount FROM card_ledger WHERE kind = 'release') WHERE kind = 'credit'");
  }
  SECTION("charges sum past INT64_MIN") {
    edit_outside_relaygw(
        "UPDATE card_ledger SET amount = -9223372036854775807 WHERE kind = 'debit'");
  }
  const std::string damaged =
      "card ************0004 is damaged: its card_ledger credits or charges sum to "
      "$461,168,601,842,738.7904 or more";
  const std::string verify = "run `relaygw audit verify --db " + path("billing.db") + "`";

  const Run card = relaygw("card show " + db_option() + "--number " + kCard);
  const Run card_json = relaygw("card show " + db_option() + "--number " + kCard + " --json");
  const Run call = relaygw("call show " + db_option() + "--id y1");
  const Run call_json = relaygw("call show " + db_option() + "--id y1 --json");
  for (const Run* run : {&card, &card_json, &call, &call_json}) {
    INFO(run->output);
    CHECK(run->status == 1);
    CHECK(run->output.find(damaged) != std::string::npos);
    CHECK(run->output.find(verify) != std::string::npos);
    CHECK(run->output.find(kCard) == std::string::npos);
  }
  // Both commands print one message for the same damage.
  CHECK_FALSE(error_message(card, "card show").empty());
  CHECK(error_message(card, "card show") == error_message(call, "call show"));
  CHECK(error_message(card_json, "card show") == error_message(call_json, "call show"));

  // The card pays for no further call.
  const Run create = relaygw("call create " + db_option() +
                             "--id y2 --at 2026-03-10T10:29:00-05:00 --from 3125550107 "
                             "--to 2125550101 --billing calling-card --card " + kCard);
  INFO(create.output);
  CHECK(create.status == 1);
  CHECK(create.output.find("call y2 refused: card-ledger-damaged") != std::string::npos);
  CHECK(create.output.find(damaged) != std::string::npos);
  CHECK(create.output.find(verify) != std::string::npos);
}

TEST_CASE_METHOD(OutsideEditFixture, "card just under damage bound still shown",
                 "[billing][outside-edit]") {
  card_call("y1");
  // The credits sum to one unit less than 2^62, so every sum of them still fits.
  edit_outside_relaygw(
      "UPDATE card_ledger SET amount = 4611686018427387903 - "
      "(SELECT amount FROM card_ledger WHERE kind = 'release') WHERE kind = 'credit'");
  const Run card = relaygw("card show " + db_option() + "--number " + kCard + " --json");
  INFO(card.output);
  REQUIRE(card.status == 0);
  const Run call = relaygw("call show " + db_option() + "--id y1");
  INFO(call.output);
  CHECK(call.status == 0);
}

TEST_CASE_METHOD(OutsideEditFixture, "json output replaces invalid UTF-8",
                 "[billing][outside-edit]") {
  card_call("y1");
  // One byte that starts a two-byte character and nothing after it, stored as text.
  edit_outside_relaygw(
      "UPDATE line_versions SET listing_name = CAST(X'4FC3' AS TEXT) "
      "WHERE number = '+12125550101';"
      "UPDATE call_events SET actor = CAST(X'C3' AS TEXT) WHERE call_id = 'y1';"
      "UPDATE charge_lines SET description = CAST(X'75C3' AS TEXT) WHERE call_id = 'y1'");

  const Run line = relaygw_stdout("line show " + db_option() + "--number +12125550101 --json");
  INFO(line.output);
  REQUIRE(line.status == 0);
  const nlohmann::json line_json = nlohmann::json::parse(line.output);
  CHECK(line_json["listing_name"] == std::string("O") + kReplacement);

  const Run call = relaygw_stdout("call show " + db_option() + "--id y1 --json");
  INFO(call.output);
  REQUIRE(call.status == 0);
  const nlohmann::json call_json = nlohmann::json::parse(call.output);
  CHECK(call_json["events"][0]["actor"] == kReplacement);

  // The edits show up as changed rows.
  const Run verify = relaygw("audit verify " + db_option());
  INFO(verify.output);
  CHECK(verify.status == 1);
}

TEST_CASE_METHOD(OutsideEditFixture, "audit json reports usage errors", "[billing][outside-edit]") {
  struct Case {
    std::string arguments;
    std::string message;   // part of the error message
    nlohmann::json date;   // of a reconcile report; null for verify
  };
  const Case cases[] = {
      {"audit reconcile " + db_option() + "--json", "--date is required", nullptr},
      {"audit reconcile " + db_option() + "--json --date 2026-03-10 --date 2026-03-11",
       "--date is given 2 times", "2026-03-10"},
      {"audit reconcile " + db_option() + "--json --date \"$(printf '2026\\303')\"",
       "not UTF-8", std::string("2026") + kReplacement},
      {"audit reconcile " + db_option() + "--json --date 2026-02-30", "is invalid",
       "2026-02-30"},
      {"audit verify " + db_option() + "--json --bogus", "unexpected --bogus", nullptr},
  };
  for (const Case& item : cases) {
    INFO(item.arguments);
    const Run run = relaygw_stdout(item.arguments);
    INFO(run.output);
    CHECK(run.status == 1);
    const nlohmann::json report = nlohmann::json::parse(run.output);
    CHECK(report["error"]["code"] == "invalid-argument");
    CHECK(report["error"]["message"].get<std::string>().find(item.message) != std::string::npos);
    if (item.arguments.rfind("audit verify", 0) == 0) {
      CHECK(report["ok"] == false);
    } else {
      CHECK(report["agrees"] == false);
      CHECK(report["date"] == item.date);
    }
  }
  // Without --json a usage error prints nothing on standard output.
  const Run text = relaygw_stdout("audit reconcile " + db_option());
  CHECK(text.status == 1);
  CHECK(text.output.empty());
}
