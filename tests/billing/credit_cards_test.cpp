// Credits on calling-card calls and the card commands (the maximum prepaid balance, refunds of
// closed cards, refusal of unusable cards before a quote), run as real relaygw processes on
// real database files.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using relaygw::billing::AccountBalance;
using relaygw::billing::Money;
using relaygw::billing::parse_dollars;
using relaygw::billing::SqliteOptions;
using relaygw::billing::SqliteStore;

namespace {

using Run = relaygw::billing::testing::CommandRun;

class CardCreditFixture {
 public:
  CardCreditFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-credit-cards-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    std::ofstream(path("pin")) << "1234\n";
    REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  }
  ~CardCreditFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string db_option() const { return "--db '" + path("billing.db") + "' "; }

  // Runs relaygw with `arguments` (already shell-quoted) and the PIN 1234 on standard input.
  Run relaygw(const std::string& arguments) {
    return ::relaygw::billing::testing::run_relaygw(arguments, path("pin"));
  }

  // Creates, connects and completes card call `id` from 3125550107 to 2125550101, starting at
  // 09:30 Chicago time on `day` and lasting `minutes`. Returns the completion's output.
  Run card_call(const std::string& id, const std::string& card, int minutes = 10,
                const std::string& day = "2026-03-10") {
    const Run created = relaygw("call create " + db_option() + "--id " + id + " --at " + day +
                                "T09:29:00-05:00 --from 3125550107 --to 2125550101 "
                                "--billing calling-card --card " +
                                card);
    REQUIRE(created.status == 0);
    REQUIRE(relaygw("call event " + db_option() + "--id " + id + " --event connected --at " + day +
                    "T09:30:00-05:00")
                .status == 0);
    const std::string end = "T09:" + std::to_string(30 + minutes) + ":00-05:00";
    const Run completed = relaygw("call complete " + db_option() + "--id " + id + " --key " + id +
                                  "-end --at " + day + end);
    REQUIRE(completed.status == 0);
    return completed;
  }

  nlohmann::json card_json(const std::string& card) {
    const Run shown = relaygw("card show " + db_option() + "--number " + card + " --json");
    REQUIRE(shown.status == 0);
    return nlohmann::json::parse(shown.output);
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(CardCreditFixture, "credit on paid card call collects", "[billing][credits]") {
  REQUIRE(relaygw("card add " + db_option() + "--number 5000000000000004 --balance 20.00").status ==
          0);
  card_call("y3", "5000000000000004");
  CHECK(card_json("5000000000000004")["uncollected"] == "0.0000");

  REQUIRE(relaygw("credit request " + db_option() +
                  "--call y3 --line 1 --reason bad-connection --amount 0.50 --key CR-1")
              .status == 0);
  REQUIRE(relaygw("credit request " + db_option() +
                  "--call y3 --line 1 --reason bad-connection --amount 0.25 --key CR-2")
              .status == 0);
  const nlohmann::json card = card_json("5000000000000004");
  CHECK(card["uncollected"] == "0.0000");

  const Run shown = relaygw("call show " + db_option() + "--id y3");
  REQUIRE(shown.status == 0);
  CHECK(shown.output.find("uncollected") == std::string::npos);

  const Run report =
      relaygw("report credits " + db_option() + "--from 2026-03-10 --to 2026-03-10 --json");
  REQUIRE(report.status == 0);
  const nlohmann::json credits = nlohmann::json::parse(report.output);
  CHECK(credits["uncollected"].empty());
  CHECK(credits["uncollected_total"] == "0.00");
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

TEST_CASE_METHOD(CardCreditFixture, "credit writes off uncollected first", "[billing][credits]") {
  REQUIRE(relaygw("card add " + db_option() + "--number 5000000000000004 --balance 5.00").status ==
          0);
  REQUIRE(relaygw("call create " + db_option() +
                  "--id long --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101 "
                  "--billing calling-card --card 5000000000000004")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option() +
                  "--id long --event connected --at 2026-03-10T09:30:00-05:00")
              .status == 0);
  REQUIRE(relaygw("call complete " + db_option() +
                  "--id long --key long-end --at 2026-03-10T11:30:00-05:00")
              .status == 0);
  const nlohmann::json before = card_json("5000000000000004");
  CHECK(before["balance"] == "0.0000");
  const Money owed = parse_dollars(before["uncollected"].get<std::string>()).value();
  REQUIRE(owed > 10'000);

  // A $1.00 credit writes off $1.00 of what the card never paid and refunds nothing.
  REQUIRE(relaygw("credit request " + db_option() +
                  "--call long --line 1 --reason bad-connection --amount 1.00 --key w1")
              .status == 0);
  const nlohmann::json after = card_json("5000000000000004");
  CHECK(after["balance"] == "0.0000");
  CHECK(parse_dollars(after["uncollected"].get<std::string>()).value() == owed - 10'000);
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

TEST_CASE_METHOD(CardCreditFixture, "credit on postpaid card bills line", "[billing][credits]") {
  REQUIRE(relaygw("card add " + db_option() +
                  "--number 4000000000000009 --funding postpaid --billed-line 2125550102")
              .status == 0);
  card_call("pc", "4000000000000009");
  REQUIRE(relaygw("credit request " + db_option() +
                  "--call pc --line 2 --reason bad-connection --amount 2.99 --key k1")
              .status == 0);
  const Run disputed = relaygw("dispute open " + db_option() +
                               "--call pc --line 1 --account 'line was noisy' --key d1 --json");
  REQUIRE(disputed.status == 0);
  const std::string dispute_id = nlohmann::json::parse(disputed.output)["id"];
  REQUIRE(relaygw("dispute resolve " + db_option() + "--dispute " + dispute_id +
                  " --adjust 0.50 --key d1-end")
              .status == 0);

  const Run shown = relaygw("card show " + db_option() + "--number 4000000000000009");
  REQUIRE(shown.status == 0);
  CHECK(shown.output.find("no spending limit") != std::string::npos);
  CHECK(shown.output.find("balance") == std::string::npos);
  const Run call = relaygw("call show " + db_option() + "--id pc");
  REQUIRE(call.status == 0);
  CHECK(call.output.find("uncollected") == std::string::npos);

  // The next call is authorized, and its charges and the credit land on the billed line.
  card_call("pc2", "4000000000000009", 5, "2026-03-11");
  CHECK(relaygw("audit verify " + db_option()).status == 0);
  const Run reconciled = relaygw("audit reconcile " + db_option() + "--date 2026-03-10");
  INFO(reconciled.output);
  CHECK(reconciled.status == 0);

  auto store = SqliteStore::open(path("billing.db"), SqliteOptions{});
  REQUIRE(store);
  const auto balances = (*store)->account_balances();
  REQUIRE(balances);
  Money line_balance = 0;
  for (const AccountBalance& account : *balances) {
    CHECK(account.account.rfind("card:", 0) != 0);
    if (account.account == "receivable:+12125550102") {
      line_balance = account.balance;
    }
  }
  const Money first = (*store)->find_call("pc").value()->posting->total;
  const Money second = (*store)->find_call("pc2").value()->posting->total;
  CHECK(line_balance == first - 29'900 - 5'000 + second);
}

TEST_CASE_METHOD(CardCreditFixture, "sub-cent credits and balances rejected",
                 "[billing][credits]") {
  REQUIRE(relaygw("call create " + db_option() +
                  "--id s --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option() +
                  "--id s --event connected --at 2026-03-10T09:30:00-05:00")
              .status == 0);
  REQUIRE(
      relaygw("call complete " + db_option() + "--id s --key s-e --at 2026-03-10T09:33:00-05:00")
          .status == 0);

  const Run credit = relaygw("credit request " + db_option() +
                             "--call s --line 1 --reason bad-connection --amount 0.001 --key c1");
  CHECK(credit.status == 1);
  // 0.00 is no valid credit, so only 0.01 is suggested.
  CHECK(credit.output.find("credit amount 0.0010 is not a whole number of cents; use 0.01\n") !=
        std::string::npos);

  const Run balance =
      relaygw("card add " + db_option() + "--number 4000000000000005 --balance 5.001");
  CHECK(balance.status == 1);
  CHECK(balance.output.find("opening balance 5.0010 is not a whole number of cents; use 5.00 or "
                            "5.01") != std::string::npos);
  const Run limit = relaygw("card add " + db_option() +
                            "--number 4000000000000013 --funding postpaid --limit 10.0050 "
                            "--billed-line 2125550102");
  CHECK(limit.status == 1);
  CHECK(limit.output.find("credit limit 10.0050 is not a whole number of cents") !=
        std::string::npos);

  const Run disputed = relaygw("dispute open " + db_option() +
                               "--call s --line 1 --account 'charged twice' --key d1 --json");
  REQUIRE(disputed.status == 0);
  const std::string dispute_id = nlohmann::json::parse(disputed.output)["id"];
  const Run adjusted = relaygw("dispute resolve " + db_option() + "--dispute " + dispute_id +
                               " --adjust 0.105 --key d1-end");
  CHECK(adjusted.status == 1);
  CHECK(adjusted.output.find("credit amount 0.1050 is not a whole number of cents") !=
        std::string::npos);

  const Run listed = relaygw("credit list " + db_option() + "--json");
  REQUIRE(listed.status == 0);
  CHECK(nlohmann::json::parse(listed.output).empty());
}

TEST_CASE_METHOD(CardCreditFixture, "credit approval needs second person", "[billing][credits]") {
  REQUIRE(relaygw("call create " + db_option() +
                  "--id big --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option() +
                  "--id big --event connected --at 2026-03-10T09:30:00-05:00")
              .status == 0);
  REQUIRE(relaygw("call complete " + db_option() +
                  "--id big --key big-e --at 2026-03-10T18:30:00-05:00")
              .status == 0);

  const Run requested = relaygw("credit request " + db_option() +
                                "--actor clerk:bob --call big --line 1 --reason bad-connection "
                                "--amount 40 --key k1 --json");
  REQUIRE(requested.status == 0);
  const nlohmann::json credit = nlohmann::json::parse(requested.output);
  CHECK(credit["state"] == "pending");
  const std::string id = credit["id"];

  const Run own = relaygw("credit approve " + db_option() + "--actor clerk:bob --credit " + id);
  CHECK(own.status == 1);
  CHECK(own.output.find("was requested by clerk:bob, so clerk:bob cannot approve it") !=
        std::string::npos);
  // Another spelling of the same actor is the same person.
  for (const char* same : {"Clerk:Bob", "CLERK:BOB", "'clerk:bob '", "' clerk:bob'"}) {
    INFO("actor " << same);
    const Run respelled =
        relaygw("credit approve " + db_option() + "--actor " + same + " --credit " + id);
    CHECK(respelled.status == 1);
    CHECK(respelled.output.find("cannot approve it") != std::string::npos);
  }
  const Run other =
      relaygw("credit approve " + db_option() + "--actor staff:sup --credit " + id + " --json");
  REQUIRE(other.status == 0);
  CHECK(nlohmann::json::parse(other.output)["state"] == "applied");
  CHECK(nlohmann::json::parse(other.output)["decided_by"] == "staff:sup");
}

TEST_CASE_METHOD(CardCreditFixture, "credit approval counts earlier credits",
                 "[billing][credits]") {
  REQUIRE(relaygw("call create " + db_option() +
                  "--id big --at 2026-03-10T09:29:00-05:00 --from 3125550107 --to 2125550101")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option() +
                  "--id big --event connected --at 2026-03-10T09:30:00-05:00")
              .status == 0);
  REQUIRE(relaygw("call complete " + db_option() +
                  "--id big --key big-e --at 2026-03-10T18:30:00-05:00")
              .status == 0);

  // The default threshold is $25.00: the first piece is at it, the second would pass it.
  const Run first = relaygw("credit request " + db_option() +
                            "--call big --line 1 --reason bad-connection --amount 25 --key k1 "
                            "--json");
  REQUIRE(first.status == 0);
  CHECK(nlohmann::json::parse(first.output)["state"] == "applied");
  const Run second = relaygw("credit request " + db_option() +
                             "--call big --line 1 --reason bad-connection --amount 0.01 --key k2 "
                             "--json");
  REQUIRE(second.status == 0);
  CHECK(nlohmann::json::parse(second.output)["state"] == "pending");
  // Another line of the same call counts too.
  const Run tax = relaygw("credit request " + db_option() +
                          "--call big --line 2 --reason bad-connection --amount 0.01 --key k3 "
                          "--json");
  REQUIRE(tax.status == 0);
  CHECK(nlohmann::json::parse(tax.output)["state"] == "pending");
}

TEST_CASE_METHOD(CardCreditFixture, "postpaid card billed line screened", "[billing][cards]") {
  const struct {
    const char* line;
    const char* message;
  } kRefused[] = {
      {"2125550103", "billed line +12125550103 is a payphone line and cannot be billed"},
      {"3125550105", "billed line +13125550105 is an inmate line and cannot be billed"},
      {"3125550104", "billed line +13125550104 has screening 'no-third-number'"},
      {"2145550115", "billed line +12145550115 has screening 'both'"},
      {"2125550199", "billed line +12125550199 is not in the directory"},
  };
  for (const auto& refused : kRefused) {
    INFO(refused.line);
    const Run added =
        relaygw("card add " + db_option() +
                "--number 4000000000000009 --funding postpaid --billed-line " + refused.line);
    CHECK(added.status == 1);
    CHECK(added.output.find(refused.message) != std::string::npos);
  }
  const Run prepaid = relaygw("card add " + db_option() +
                              "--number 4000000000000009 --balance 5.00 --billed-line 2125550102");
  CHECK(prepaid.status == 1);
  CHECK(prepaid.output.find("is set on a prepaid card") != std::string::npos);

  const Run shown = relaygw("card show " + db_option() + "--number 4000000000000009");
  CHECK(shown.status == 1);
  CHECK(shown.output.find("does not exist") != std::string::npos);

  const Run accepted = relaygw("card add " + db_option() +
                               "--number 4000000000000009 --funding postpaid --billed-line "
                               "212-555-0102");
  CHECK(accepted.status == 0);
  CHECK(accepted.output.find("postpaid billed to +12125550102") != std::string::npos);
}

TEST_CASE_METHOD(CardCreditFixture, "card fund tops up once per key", "[billing][cards]") {
  REQUIRE(relaygw("card add " + db_option() + "--number 6000000000000001 --balance 1.00").status ==
          0);
  const Run refused = relaygw("call create " + db_option() +
                              "--id a --at 2026-03-10T09:29:00-05:00 --from 3125550107 "
                              "--to 2125550101 --billing calling-card --card 6000000000000001");
  CHECK(refused.output.find("insufficient-funds") != std::string::npos);

  const std::string fund = "card fund " + db_option() +
                           "--actor staff:ana --number 6000000000000001 --amount 10.00 --key "
                           "top-1 --json";
  const Run first = relaygw(fund);
  REQUIRE(first.status == 0);
  const Run repeat = relaygw(fund);
  REQUIRE(repeat.status == 0);
  CHECK(nlohmann::json::parse(repeat.output)["balance"] == "11.0000");
  CHECK(first.output.find("6000000000000001") == std::string::npos);

  const Run conflict =
      relaygw("card fund " + db_option() + "--number 6000000000000001 --amount 20.00 --key top-1");
  CHECK(conflict.status == 1);
  CHECK(card_json("6000000000000001")["balance"] == "11.0000");

  const Run sub_cent =
      relaygw("card fund " + db_option() + "--number 6000000000000001 --amount 0.005 --key top-2");
  CHECK(sub_cent.status == 1);
  CHECK(sub_cent.output.find("amount 0.0050 is not a whole number of cents") != std::string::npos);
  const Run negative =
      relaygw("card fund " + db_option() + "--number 6000000000000001 --amount 0 --key top-3");
  CHECK(negative.status == 1);

  REQUIRE(relaygw("card add " + db_option() +
                  "--number 4000000000000009 --funding postpaid --billed-line 2125550102")
              .status == 0);
  const Run postpaid =
      relaygw("card fund " + db_option() + "--number 4000000000000009 --amount 5.00 --key top-4");
  CHECK(postpaid.status == 1);
  CHECK(postpaid.output.find("only prepaid cards take top-ups") != std::string::npos);

  // The ledger row stores who added the funds, and the call now goes through.
  auto store = SqliteStore::open(path("billing.db"), SqliteOptions{});
  REQUIRE(store);
  CHECK((*store)->card_funds("6000000000000001", "").value().balance == 110'000);
  store->reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path("billing.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT actor, amount FROM card_ledger WHERE kind = 'credit' "
                             "ORDER BY seq DESC LIMIT 1",
                             -1, &select, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(select) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(select, 0))) == "staff:ana");
  CHECK(sqlite3_column_int64(select, 1) == 100'000);
  sqlite3_finalize(select);
  sqlite3_close(db);
  const Run call = relaygw("call create " + db_option() +
                           "--id b --at 2026-03-10T09:29:00-05:00 --from 3125550107 "
                           "--to 2125550101 --billing calling-card --card 6000000000000001");
  CHECK(call.status == 0);
  CHECK(call.output.find("authorized") != std::string::npos);
}

TEST_CASE_METHOD(CardCreditFixture, "closed card rejects every call", "[billing][cards]") {
  REQUIRE(relaygw("card add " + db_option() + "--number 6000000000000001 --balance 20.00").status ==
          0);
  const Run closed =
      relaygw("card close " + db_option() + "--number 6000000000000001 --reason 'reported stolen'");
  REQUIRE(closed.status == 0);
  CHECK(closed.output.find("closed") != std::string::npos);
  CHECK(closed.output.find("6000000000000001") == std::string::npos);

  const Run call = relaygw("call create " + db_option() +
                           "--id a --at 2026-03-10T09:29:00-05:00 --from 3125550107 "
                           "--to 2125550101 --billing calling-card --card 6000000000000001");
  CHECK(call.output.find("card-closed") != std::string::npos);
  const Run again = relaygw("card close " + db_option() + "--number 6000000000000001 --reason x");
  CHECK(again.status == 1);
  CHECK(again.output.find("already closed") != std::string::npos);
  const Run unlock = relaygw("card unlock " + db_option() + "--number 6000000000000001");
  CHECK(unlock.status == 1);
  const Run fund =
      relaygw("card fund " + db_option() + "--number 6000000000000001 --amount 5.00 --key top-1");
  CHECK(fund.status == 1);
  CHECK(fund.output.find("is closed and takes no funds") != std::string::npos);
  const Run no_reason =
      relaygw("card close " + db_option() + "--number 6000000000000002 --reason ''");
  CHECK(no_reason.status == 1);
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

TEST_CASE_METHOD(CardCreditFixture, "card fund stops at maximum balance", "[billing][cards]") {
  REQUIRE(
      relaygw("card add " + db_option() + "--number 6000000000000001 --balance 990.00").status ==
      0);
  const std::string fund = "card fund " + db_option() + "--number 6000000000000001 ";
  const Run over = relaygw(fund + "--amount 20.00 --key top-1");
  INFO(over.output);
  CHECK(over.status == 1);
  CHECK(over.output.find("adding $20.00 to card ************0001, whose balance is $990.00, "
                         "would pass the $1,000.00 maximum balance of a prepaid card; add at "
                         "most $10.00") != std::string::npos);
  CHECK(card_json("6000000000000001")["balance"] == "990.0000");

  const Run to_ceiling = relaygw(fund + "--amount 10.00 --key top-2");
  REQUIRE(to_ceiling.status == 0);
  CHECK(card_json("6000000000000001")["balance"] == "1000.0000");
  // A retry of the top-up that reached the maximum prints its first result.
  const Run retry = relaygw(fund + "--amount 10.00 --key top-2 --json");
  INFO(retry.output);
  CHECK(retry.status == 0);
  CHECK(nlohmann::json::parse(retry.output)["balance"] == "1000.0000");
  const Run one_cent = relaygw(fund + "--amount 0.01 --key top-3");
  CHECK(one_cent.status == 1);
  INFO(one_cent.output);
  CHECK(one_cent.output.find("card ************0001 is at its maximum balance of $1,000.00, so no "
                             "funds can be added until calls spend some of it") !=
        std::string::npos);
  CHECK(one_cent.output.find("add at most") == std::string::npos);

  // The largest amount the parser takes is rejected by the maximum balance, not by an overflow
  // in a ledger sum, and repeating it changes nothing.
  for (const char* key : {"top-4", "top-5", "top-6"}) {
    const Run huge = relaygw(fund + "--amount 999999999999.99 --key " + std::string(key));
    INFO(huge.output);
    CHECK(huge.status == 1);
    CHECK(huge.output.find("card ************0001 is at its maximum balance of $1,000.00") !=
          std::string::npos);
    CHECK(huge.output.find("overflow") == std::string::npos);
  }
  const Run too_long = relaygw(fund + "--amount 9223372036854775807 --key top-7");
  CHECK(too_long.status == 1);
  CHECK(too_long.output.find("more than 12 digits before the decimal point") != std::string::npos);
  CHECK(card_json("6000000000000001")["balance"] == "1000.0000");

  const Run opening =
      relaygw("card add " + db_option() + "--number 6000000000000027 --balance 1000.01");
  CHECK(opening.status == 1);
  CHECK(opening.output.find("adding $1,000.01 to card ************0027, whose balance is $0.00, "
                            "would pass the $1,000.00 maximum balance of a prepaid card; add at "
                            "most $1,000.00") != std::string::npos);
  // The amount that the message suggests, as printed, is accepted.
  const Run suggested =
      relaygw("card add " + db_option() + "--number 6000000000000027 --balance 1,000.00");
  INFO(suggested.output);
  CHECK(suggested.status == 0);
  CHECK(card_json("6000000000000027")["balance"] == "1000.0000");
  const Run limit = relaygw("card add " + db_option() +
                            "--number 4000000000000009 --funding postpaid --billed-line "
                            "2125550102 --limit 100000.01");
  CHECK(limit.status == 1);
  CHECK(limit.output.find("credit limit $100,000.01 of card ************0009 is above the "
                          "$100,000.00 maximum") != std::string::npos);
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

TEST_CASE_METHOD(CardCreditFixture, "closed card balance refunded once", "[billing][cards]") {
  REQUIRE(relaygw("card add " + db_option() + "--number 6000000000000001 --balance 20.00").status ==
          0);
  card_call("r1", "6000000000000001");
  const std::string left = card_json("6000000000000001")["balance"];
  const Money left_units = parse_dollars(left).value();
  REQUIRE(left_units > 0);
  REQUIRE(left_units < 200'000);

  const std::string refund = "card refund " + db_option() + "--number 6000000000000001 ";
  const Run open = relaygw(refund + "--key refund-1");
  CHECK(open.status == 1);
  CHECK(open.output.find("card ************0001 is active and its balance can still pay for "
                         "calls; close it with `relaygw card close") != std::string::npos);

  REQUIRE(relaygw("card close " + db_option() + "--number 6000000000000001 --reason cancelled")
              .status == 0);
  const nlohmann::json closed = card_json("6000000000000001");
  CHECK(closed["balance"] == left);
  CHECK(closed["available"] == "0.0000");
  CHECK(closed["refundable"] == left);
  const Run shown = relaygw("card show " + db_option() + "--number 6000000000000001");
  // Text shows dollars and cents, where JSON keeps four decimals.
  const std::string left_cents = left.substr(0, left.size() - 2);
  CHECK(shown.output.find("available $0.00, $" + left_cents +
                          " left to refund with `relaygw card refund`") != std::string::npos);
  CHECK(shown.output.find("fractions of a cent") == std::string::npos);

  const std::string paid = refund + "--actor staff:ana --key refund-2 --json";
  const Run first = relaygw(paid);
  INFO(first.output);
  REQUIRE(first.status == 0);
  const nlohmann::json after = nlohmann::json::parse(first.output);
  CHECK(after["balance"] == "0.0000");
  CHECK(after["refundable"] == "0.0000");
  CHECK(after["refunded"] == left);
  CHECK(first.output.find("6000000000000001") == std::string::npos);
  const Run repeat = relaygw(paid);
  CHECK(repeat.status == 0);
  CHECK(nlohmann::json::parse(repeat.output)["balance"] == "0.0000");
  const Run again = relaygw(refund + "--actor staff:ana");
  CHECK(again.status == 1);
  CHECK(again.output.find("card ************0001 has nothing left to refund; $" +
                          left.substr(0, left.size() - 2) + " was refunded at ") !=
        std::string::npos);
  CHECK(again.output.find("by staff:ana") != std::string::npos);
  const Run other_card =
      relaygw("card refund " + db_option() + "--number 6000000000000027 --key refund-2");
  CHECK(other_card.status == 1);
  CHECK(relaygw("card show " + db_option() + "--number 6000000000000001")
            .output.find("nothing left to refund") != std::string::npos);

  REQUIRE(relaygw("card add " + db_option() +
                  "--number 4000000000000009 --funding postpaid --billed-line 2125550102")
              .status == 0);
  REQUIRE(relaygw("card close " + db_option() + "--number 4000000000000009 --reason cancelled")
              .status == 0);
  const Run postpaid = relaygw("card refund " + db_option() + "--number 4000000000000009");
  CHECK(postpaid.status == 1);
  CHECK(postpaid.output.find("is postpaid and bills line +12125550102, so it has no balance to "
                             "refund") != std::string::npos);
  const Run unknown = relaygw("card refund " + db_option() + "--number 6000000000000035");
  CHECK(unknown.status == 1);
  CHECK(unknown.output.find("card ************0035 does not exist") != std::string::npos);

  // One refund row, negative, with who paid it out, and no call.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path("billing.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT actor, amount, call_id FROM card_ledger WHERE kind = 'refund'",
                             -1, &select, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(select) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(select, 0))) == "staff:ana");
  CHECK(sqlite3_column_int64(select, 1) == -left_units);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(select, 2))).empty());
  CHECK(sqlite3_step(select) == SQLITE_DONE);
  sqlite3_finalize(select);
  sqlite3_close(db);
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

TEST_CASE_METHOD(CardCreditFixture, "unusable card refused before quote", "[billing][cards]") {
  REQUIRE(relaygw("card add " + db_option() + "--number 6000000000000001 --balance 20.00").status ==
          0);
  REQUIRE(relaygw("card add " + db_option() + "--number 6000000000000027 --balance 20.00").status ==
          0);
  REQUIRE(
      relaygw("card close " + db_option() + "--number 6000000000000027 --reason stolen").status ==
      0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"6000000000000035", "card-not-found"},
      {"6000000000000027", "card-closed"},
      {"12345", "invalid-request"},
  };
  for (const auto& [number, reason] : cases) {
    INFO(reason);
    const std::string id = "q-" + reason;
    const Run created = relaygw("call create " + db_option() + "--id " + id +
                                " --at 2026-03-10T09:29:00-05:00 --from 3125550107 "
                                "--to 2125550101 --billing calling-card --card " +
                                number);
    INFO(created.output);
    CHECK(created.status == 1);
    CHECK(created.output.find("refused: " + reason) != std::string::npos);
    const Run shown = relaygw("call show " + db_option() + "--id " + id + " --json");
    REQUIRE(shown.status == 0);
    const nlohmann::json call = nlohmann::json::parse(shown.output);
    CHECK_FALSE(call.contains("quote"));
    CHECK(shown.output.find("\"reason_code\": \"" + reason + "\"") != std::string::npos);
  }
  // A usable card goes on to the PIN check and hold, and its call is quoted.
  const Run granted = relaygw("call create " + db_option() +
                              "--id q-ok --at 2026-03-10T09:29:00-05:00 --from 3125550107 "
                              "--to 2125550101 --billing calling-card --card 6000000000000001");
  REQUIRE(granted.status == 0);
  const Run shown = relaygw("call show " + db_option() + "--id q-ok --json");
  REQUIRE(shown.status == 0);
  CHECK(nlohmann::json::parse(shown.output).contains("quote"));
}

TEST_CASE_METHOD(CardCreditFixture, "card amount errors name value and fix", "[billing][cards]") {
  REQUIRE(relaygw("card add " + db_option() + "--number 6000000000000001 --balance 10.00").status ==
          0);
  const Run letters =
      relaygw("card fund " + db_option() + "--number 6000000000000001 --amount abc --key f-1");
  INFO(letters.output);
  CHECK(letters.status == 1);
  CHECK(letters.output.find("--amount: invalid dollar amount 'abc'; write dollars and cents with "
                            "no $ sign, and commas only between groups of three digits, such as "
                            "25.00 or 1,000.00") != std::string::npos);
  CHECK(letters.output.find("four decimals") == std::string::npos);

  const Run negative =
      relaygw("card add " + db_option() + "--number 6000000000000027 --balance -5.00");
  INFO(negative.output);
  CHECK(negative.status == 1);
  CHECK(negative.output.find("invalid --balance '-5.00': an opening balance cannot be negative") !=
        std::string::npos);

  // 0.001 rounds down to 0.00, which a top-up rejects, so only 0.01 is suggested.
  const Run tiny =
      relaygw("card fund " + db_option() + "--number 6000000000000001 --amount 0.001 --key f-2");
  INFO(tiny.output);
  CHECK(tiny.status == 1);
  CHECK(tiny.output.find("amount 0.0010 is not a whole number of cents; use 0.01\n") !=
        std::string::npos);
  const Run suggested =
      relaygw("card fund " + db_option() + "--number 6000000000000001 --amount 0.01 --key f-3");
  CHECK(suggested.status == 0);

  // An opening balance may be zero, so 0.00 is suggested there.
  const Run opening =
      relaygw("card add " + db_option() + "--number 6000000000000035 --balance 0.001");
  CHECK(opening.status == 1);
  CHECK(opening.output.find("--balance: opening balance 0.0010 is not a whole number of cents; "
                            "use 0.00 or 0.01") != std::string::npos);

  const Run shown = relaygw("card show " + db_option() + "--number 6000000000000001");
  CHECK(shown.output.find("balance $10.01, available $10.01") != std::string::npos);
}
