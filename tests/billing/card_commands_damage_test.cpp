// The card commands on a database where a charge line was changed to a real number outside
// relaygw: damage to another card's or line's call must not fail them, damage to the card's own
// call is reported, and a command whose write committed never exits 1. Each test runs the
// relaygw binary on a real database file.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/billing/billing_test_support.hpp"
#include "tests/sqlite_edit.hpp"

namespace {

using Run = relaygw::billing::testing::CommandRun;

constexpr const char* kCard = "5000000000000004";

class CardDamageFixture : public relaygw::billing::testing::CommandDatabaseFixture {
 public:
  CardDamageFixture() : CommandDatabaseFixture("relaygw-card-damage-") {
    REQUIRE(relaygw("card add " + db_option() + "--number " + kCard + " --balance 20.00").status ==
            0);
  }

  // Creates, connects and completes call `id` from 3125550107 to 2125550101 with `billing`
  // ("sent-paid", or "calling-card --card NUMBER"), lasting five minutes.
  void post_call(const std::string& id, const std::string& billing) {
    REQUIRE(relaygw("call create " + db_option() + "--id " + id +
                    " --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101 "
                    "--billing " +
                    billing)
                .status == 0);
    REQUIRE(relaygw("call event " + db_option() + "--id " + id +
                    " --event connected --at 2026-03-10T09:30:00-05:00")
                .status == 0);
    REQUIRE(relaygw("call complete " + db_option() + "--id " + id + " --key " + id +
                    "-end --at 2026-03-10T09:35:00-05:00")
                .status == 0);
  }

  // Stores charge line 1 of call `id` as the real number 12.5, as a hand edit would.
  void damage_line(const std::string& id) {
    relaygw::testing::edit_outside_relaygw(
        path("billing.db"),
        "UPDATE charge_lines SET amount = 12.5 WHERE call_id = '" + id + "' AND line_no = 1");
  }

  // Returns the number of the card's card_ledger rows of kind `kind` ("credit" for the opening
  // balance and each top-up), read with SQLite.
  int ledger_rows(const std::string& kind) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path("billing.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* select = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM card_ledger WHERE number = ? AND kind = ?",
                               -1, &select, nullptr) == SQLITE_OK);
    sqlite3_bind_text(select, 1, kCard, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(select, 2, kind.c_str(), -1, SQLITE_TRANSIENT);
    const int step = sqlite3_step(select);
    const int rows = step == SQLITE_ROW ? sqlite3_column_int(select, 0) : -1;
    sqlite3_finalize(select);
    sqlite3_close(db);
    REQUIRE(step == SQLITE_ROW);
    return rows;
  }

  std::string card_option() const { return std::string("--number ") + kCard + " "; }
};

void check_line_damage_reported(const Run& run, const std::string& call_id) {
  INFO(run.output);
  CHECK(run.output.find("table charge_lines") != std::string::npos);
  CHECK(run.output.find("call " + call_id + " line 1 as a real number '12.5'") !=
        std::string::npos);
  CHECK(run.output.find("relaygw audit verify") != std::string::npos);
}

}  // namespace

TEST_CASE_METHOD(CardDamageFixture, "card commands ignore unrelated damaged call",
                 "[billing][commands][cards]") {
  post_call("c1", std::string("calling-card --card ") + kCard);
  post_call("k1", "sent-paid");
  damage_line("k1");

  const Run shown = relaygw("card show " + db_option() + card_option() + "--json");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  const nlohmann::json before = nlohmann::json::parse(shown.output);
  CHECK(before["uncollected"] == "0.0000");
  const std::string balance = before["balance"].get<std::string>();
  const int credits_before = ledger_rows("credit");

  const Run funded =
      relaygw("card fund " + db_option() + card_option() + "--amount 5.00 --key F2 --json");
  INFO(funded.output);
  REQUIRE(funded.status == 0);
  const nlohmann::json after_fund = nlohmann::json::parse(funded.output);
  CHECK(after_fund["balance"] != balance);
  CHECK(after_fund.count("warning") == 0);
  CHECK(ledger_rows("credit") == credits_before + 1);

  const Run closed = relaygw("card close " + db_option() + card_option() + "--reason lost");
  INFO(closed.output);
  CHECK(closed.status == 0);
  CHECK(closed.output.find("closed") != std::string::npos);
  CHECK(closed.output.find("warning") == std::string::npos);

  const Run refunded = relaygw("card refund " + db_option() + card_option() + "--key R1 --json");
  INFO(refunded.output);
  REQUIRE(refunded.status == 0);
  const nlohmann::json refund = nlohmann::json::parse(refunded.output);
  CHECK(refund["refunded"] == after_fund["balance"]);
  CHECK(refund["balance"] == "0.0000");
}

TEST_CASE_METHOD(CardDamageFixture, "card show reports damage of own call",
                 "[billing][commands][cards]") {
  post_call("c1", std::string("calling-card --card ") + kCard);
  damage_line("c1");

  const Run shown = relaygw("card show " + db_option() + card_option());
  CHECK(shown.status == 1);
  check_line_damage_reported(shown, "c1");
}

TEST_CASE_METHOD(CardDamageFixture, "card fund with own damaged call never stores then fails",
                 "[billing][commands][cards]") {
  post_call("c1", std::string("calling-card --card ") + kCard);
  damage_line("c1");
  const std::string fund = "card fund " + db_option() + card_option() + "--amount 5.00 --key F2";
  const int credits_before = ledger_rows("credit");

  const Run first = relaygw(fund);
  INFO(first.output);
  if (first.status == 0) {
    // The top-up was stored, and the failed read of the card is only a warning.
    CHECK(ledger_rows("credit") == credits_before + 1);
    CHECK(first.output.find("added $5.00 to card ************0004") != std::string::npos);
    CHECK(first.output.find("warning: the change was stored") != std::string::npos);
    check_line_damage_reported(first, "c1");
  } else {
    CHECK(first.status == 1);
    CHECK(ledger_rows("credit") == credits_before);
  }

  // A retry with the same key stores nothing more.
  const Run repeat = relaygw(fund);
  INFO(repeat.output);
  CHECK(repeat.status == first.status);
  CHECK(ledger_rows("credit") == credits_before + (first.status == 0 ? 1 : 0));

  const Run json = relaygw(fund + " --json");
  if (json.status == 0) {
    const std::string::size_type brace = json.output.find('{');
    REQUIRE(brace != std::string::npos);
    const nlohmann::json out = nlohmann::json::parse(json.output.substr(brace));
    CHECK(out["card"] == "************0004");
    CHECK(out.count("warning") == 1);
  }
}

TEST_CASE_METHOD(CardDamageFixture, "card close and unlock with own damaged call exit 0",
                 "[billing][commands][cards]") {
  post_call("c1", std::string("calling-card --card ") + kCard);
  damage_line("c1");

  const Run unlocked = relaygw("card unlock " + db_option() + card_option());
  INFO(unlocked.output);
  CHECK(unlocked.status == 0);
  CHECK(unlocked.output.find("unlocked card ************0004") != std::string::npos);
  check_line_damage_reported(unlocked, "c1");

  const Run closed = relaygw("card close " + db_option() + card_option() + "--reason lost");
  INFO(closed.output);
  CHECK(closed.status == 0);
  CHECK(closed.output.find("closed card ************0004") != std::string::npos);
  check_line_damage_reported(closed, "c1");
}
