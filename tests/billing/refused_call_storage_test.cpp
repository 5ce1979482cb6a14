// What `relaygw call create` stores for a refused call: the call, its requested, validated and
// refused events, and no quote, quoted event or hold, whichever check refused it. Commands run
// as real relaygw processes on a real database file.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "tests/billing/billing_test_support.hpp"

namespace {

using Run = relaygw::billing::testing::CommandRun;

constexpr const char* kPrepaidCard = "6000000000000019";
constexpr const char* kPoorCard = "6000000000000027";
constexpr const char* kPostpaidCard = "4000000000000025";
constexpr const char* kLockedCard = "6000000000000035";

class RefusedCallFixture {
 public:
  RefusedCallFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-refused-calls-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    std::ofstream(path("pin")) << "1234\n";
    std::ofstream(path("wrong-pin")) << "4321\n";
    REQUIRE(relaygw("db init " + db_option()).status == 0);
  }
  ~RefusedCallFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string db_option() const {
    return "--db '" + path("billing.db") + "' --actor staff:test ";
  }

  // Runs relaygw with `arguments` (already shell-quoted) and `pin_file` on standard input.
  Run relaygw(const std::string& arguments, const std::string& pin_file = "pin") {
    return ::relaygw::billing::testing::run_relaygw(arguments, path(pin_file));
  }

  void add_card(const std::string& options) {
    const Run added = relaygw("card add " + db_option() + options);
    INFO(added.output);
    REQUIRE(added.status == 0);
  }

  // Returns the first column of the first row of `sql`, run on the fixture's database.
  long long query_number(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path("billing.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const long long value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }

  long long count_events(const std::string& id, const std::string& event) const {
    return query_number("SELECT COUNT(*) FROM call_events WHERE call_id = '" + id +
                        "' AND event = '" + event + "'");
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(RefusedCallFixture, "refused calls store no quote", "[billing][cards][cli]") {
  add_card(std::string("--number ") + kPrepaidCard + " --balance 25.00");
  add_card(std::string("--number ") + kPoorCard + " --balance 0.01");
  add_card(std::string("--number ") + kPostpaidCard +
           " --funding postpaid --limit 100.00 --billed-line 2125550102");
  add_card(std::string("--number ") + kLockedCard + " --balance 25.00 --max-pin-attempts 1");
  REQUIRE(relaygw("line change " + db_option() +
                  "--number 2125550102 --type payphone --reason 'line changed after card add'")
              .status == 0);
  // One wrong PIN locks the card that allows one attempt.
  REQUIRE(relaygw("call create " + db_option() +
                      "--id lock --from 3125550107 --to 2125550101 --billing calling-card "
                      "--card " + kLockedCard + " --at 2026-03-10T17:28:00Z",
                  "wrong-pin")
              .status == 1);

  const std::string card = "--billing calling-card --card ";
  const struct {
    const char* id;
    std::string options;
    const char* pin_file;
    const char* reason;
  } kRefusals[] = {
      {"wrong-pin", "--to 2125550101 " + card + kPrepaidCard, "wrong-pin", "wrong-pin"},
      {"locked", "--to 2125550101 " + card + kLockedCard, "pin", "card-locked"},
      {"premium", "--to 9005550100 " + card + kPrepaidCard, "pin", "premium-blocked"},
      {"no-funds", "--to 2125550101 " + card + kPoorCard, "pin", "insufficient-funds"},
      {"payphone", "--to 2125550101 " + card + kPostpaidCard, "pin", "card-line-not-billable"},
      // The sample directory lists +13125550106, a hotel front desk, as refusing collect calls.
      {"collect", "--to 3125550106 --billing collect", "pin", "collect-blocked"},
      {"third", "--to 2125550101 --billing third-party --third-number 2125550101", "pin",
       "third-number-is-called-line"},
  };
  for (const auto& refusal : kRefusals) {
    INFO(refusal.id);
    const std::string id = refusal.id;
    const Run refused = relaygw("call create " + db_option() + "--id " + id +
                                    " --from 3125550107 --at 2026-03-10T17:29:00Z " +
                                    refusal.options,
                                refusal.pin_file);
    INFO(refused.output);
    CHECK(refused.status == 1);
    CHECK(refused.output.find("call " + id + " refused: " + refusal.reason) != std::string::npos);
    CHECK(query_number("SELECT COUNT(*) FROM calls WHERE id = '" + id + "'") == 1);
    CHECK(query_number("SELECT COUNT(*) FROM calls WHERE id = '" + id +
                       "' AND quote_total IS NOT NULL") == 0);
    CHECK(query_number("SELECT COUNT(*) FROM card_ledger WHERE call_id = '" + id + "'") == 0);
    CHECK(count_events(id, "requested") == 1);
    CHECK(count_events(id, "validated") == 1);
    CHECK(count_events(id, "quoted") == 0);
    CHECK(count_events(id, "refused") == 1);
    CHECK(query_number("SELECT COUNT(*) FROM call_events WHERE call_id = '" + id + "'") == 3);
  }

  // A granted card call is stored with its quote and a hold.
  const Run granted = relaygw("call create " + db_option() +
                              "--id granted --from 3125550107 --to 2125550101 "
                              "--at 2026-03-10T17:29:00Z " +
                              card + kPrepaidCard);
  INFO(granted.output);
  CHECK(granted.status == 0);
  CHECK(query_number("SELECT COUNT(*) FROM calls WHERE id = 'granted' AND quote_total IS NOT "
                     "NULL") == 1);
  CHECK(query_number("SELECT COUNT(*) FROM card_ledger WHERE call_id = 'granted' AND kind = "
                     "'hold'") == 1);
}
