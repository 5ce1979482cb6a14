// The order of the calling-card checks: the card exists, it is not locked, its PIN is right,
// and only then its closed state, the numbers, rating and funds. Runs the Authorizer on a real
// SQLite file, and `relaygw call create` as a real process.
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/authorization.hpp"
#include "billing/cards.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::StatusCode;
using relaygw::billing::testing::CommandRun;

namespace {

constexpr const char* kCard = "5550142000001";
constexpr const char* kPin = "2468";
constexpr const char* kWrongPin = "1357";

class PinOrderFixture {
 public:
  PinOrderFixture()
      : deck_(testing::flat_rate_deck("0.0400")), rater_(&testing::bundled_number_plan(), &deck_) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-pin-order-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~PinOrderFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Opens the fixture's database, creating it, for the library tests.
  SqliteStore& store() {
    if (!store_) {
      SqliteOptions options;
      options.create = true;
      auto opened = SqliteStore::open(db_path(), options);
      REQUIRE(opened);
      store_ = std::move(opened).value();
    }
    return *store_;
  }
  WriteContext context() const {
    return WriteContext{"gateway", parse_instant("2026-03-10T14:00:00Z").value()};
  }
  void add_prepaid() {
    NewCard card;
    card.number = kCard;
    card.opening_balance = 10'000;
    card.pin_iterations = 1'000;
    REQUIRE(add_card(store(), card, kPin, context()));
  }
  CardState card_state() {
    Result<std::optional<CardState>> found = store().find_card(kCard);
    REQUIRE(found);
    REQUIRE(found->has_value());
    return **found;
  }
  AuthorizationRequest card_request(const std::string& pin, const std::string& to = "2125550101") {
    AuthorizationRequest request;
    request.call_id = "call-test";
    request.from = "3125550107";
    request.to = to;
    request.billing = BillingMethod::CallingCard;
    request.card_number = kCard;
    request.pin = pin;
    return request;
  }
  Authorization authorize(const AuthorizationRequest& request) {
    const Authorizer authorizer(&store(), &testing::bundled_number_plan(), &rater_);
    Result<Authorization> decision = authorizer.authorize(request, context());
    REQUIRE(decision);
    return *decision;
  }

  const Rater& rater_for_tests() const { return rater_; }

  std::string db_path() const { return (dir_ / "billing.db").string(); }
  std::string db_option() const { return "--db '" + db_path() + "' --actor staff:test "; }
  // Writes `text` to a file in the test folder and returns its path, as a command's standard
  // input.
  std::string input(const std::string& name, const std::string& text) const {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  CommandRun relaygw(const std::string& arguments, const std::string& stdin_path = "/dev/null") {
    return testing::run_relaygw(arguments, stdin_path);
  }
  // Returns the first column of the first row of `sql`, run on the fixture's database.
  long long query_number(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_path().c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const long long value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }
  // Stores, with `relaygw db load-deck`, a deck that rates local calls only, so a call to
  // another area code cannot be rated.
  void load_local_only_deck() {
    const std::string deck_path =
        input("local.toml",
              "name = \"local only\"\n[[version]]\nname = \"v1\"\neffective = 2020-01-01\n"
              "[[version.rate]]\njurisdiction = \"local\"\nper_minute = { night = \"0.2500\" }\n");
    const CommandRun loaded =
        relaygw("db load-deck " + db_option() + "--rates '" + deck_path + "'");
    INFO(loaded.output);
    REQUIRE(loaded.status == 0);
  }

 private:
  RateDeck deck_;
  Rater rater_;
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace

TEST_CASE_METHOD(PinOrderFixture, "locked card refused before pin", "[billing][authorization]") {
  add_prepaid();
  const CardState active = card_state();
  REQUIRE(store().append_card_state(kCard, CardStatus::Locked, 3, active.version,
                                    "wrong PIN, card locked", context()));
  const std::int64_t version = card_state().version;

  for (const char* pin : {kPin, kWrongPin}) {
    INFO("PIN " << pin);
    const Authorization decision = authorize(card_request(pin));
    CHECK(decision.reason == RefusalReason::CardLocked);
    // No PIN was checked, so nothing was recorded.
    CHECK(card_state().version == version);
    CHECK(card_state().failed_pin_attempts == 3);
  }
}

TEST_CASE_METHOD(PinOrderFixture, "closed card reported only after pin",
                 "[billing][authorization]") {
  add_prepaid();
  REQUIRE(close_card(store(), kCard, "reported stolen", context()));

  const Authorization wrong = authorize(card_request(kWrongPin));
  CHECK(wrong.reason == RefusalReason::WrongPin);
  CHECK(wrong.message.find("closed") == std::string::npos);
  CHECK(wrong.message.find("2 attempts left") != std::string::npos);
  CHECK(card_state().status == CardStatus::Closed);
  CHECK(card_state().failed_pin_attempts == 1);

  const Authorization right = authorize(card_request(kPin));
  CHECK(right.reason == RefusalReason::CardClosed);
  CHECK(right.message.find(kCard) == std::string::npos);
  CHECK(card_state().status == CardStatus::Closed);
  CHECK(card_state().failed_pin_attempts == 1);
}

TEST_CASE_METHOD(PinOrderFixture, "closed card locks after wrong pins",
                 "[billing][authorization]") {
  add_prepaid();  // three attempts
  REQUIRE(close_card(store(), kCard, "reported stolen", context()));
  CHECK(authorize(card_request(kWrongPin)).reason == RefusalReason::WrongPin);
  CHECK(authorize(card_request(kWrongPin)).reason == RefusalReason::WrongPin);
  const Authorization third = authorize(card_request(kWrongPin));
  CHECK(third.reason == RefusalReason::WrongPin);
  CHECK(third.message.find("now locked") != std::string::npos);

  // Out of attempts, the closed card is refused as locked even with the right PIN, so its PIN
  // cannot be guessed and its closed state is not revealed.
  const std::int64_t version = card_state().version;
  const Authorization right = authorize(card_request(kPin));
  CHECK(right.reason == RefusalReason::CardLocked);
  CHECK(card_state().version == version);
  CHECK(card_state().status == CardStatus::Closed);

  // Staff who see "locked" learn why unlock cannot help, and what to do instead.
  auto unlocked = unlock_card(store(), kCard, context());
  REQUIRE_FALSE(unlocked);
  CHECK(unlocked.status().message().find("is closed and cannot be unlocked") != std::string::npos);
  CHECK(unlocked.status().message().find("Issue the cardholder a new card") != std::string::npos);
}

TEST_CASE_METHOD(PinOrderFixture, "wrong pin counts for any destination",
                 "[billing][authorization]") {
  add_prepaid();
  // A pay-per-call number, which a card may not pay for, and a number that does not classify.
  for (const char* to : {"9005550100", "9995550100"}) {
    INFO("to " << to);
    const std::int32_t before = card_state().failed_pin_attempts;
    const Authorization decision = authorize(card_request(kWrongPin, to));
    CHECK(decision.reason == RefusalReason::WrongPin);
    CHECK(card_state().failed_pin_attempts == before + 1);
  }
  // With the right PIN the destination is checked, and the count restarts.
  const Authorization premium = authorize(card_request(kPin, "9005550100"));
  CHECK(premium.reason == RefusalReason::PremiumBlocked);
  CHECK(card_state().failed_pin_attempts == 0);
}

TEST_CASE_METHOD(PinOrderFixture, "quote check skips pin and closed state",
                 "[billing][authorization]") {
  add_prepaid();
  const Authorizer authorizer(&store(), &testing::bundled_number_plan(), nullptr);
  AuthorizationRequest request = card_request("");

  Result<std::optional<Authorization>> open = authorizer.reject_unusable_card(request);
  REQUIRE(open);
  CHECK_FALSE(open->has_value());

  REQUIRE(close_card(store(), kCard, "reported stolen", context()));
  Result<std::optional<Authorization>> closed = authorizer.reject_unusable_card(request);
  REQUIRE(closed);
  CHECK_FALSE(closed->has_value());

  request.card_number = "5550142999999";
  Result<std::optional<Authorization>> unknown = authorizer.reject_unusable_card(request);
  REQUIRE(unknown);
  REQUIRE(unknown->has_value());
  CHECK((*unknown)->reason == RefusalReason::CardNotFound);
}

TEST_CASE_METHOD(PinOrderFixture, "wrong pin stores no quote", "[billing][cards][cli]") {
  REQUIRE(relaygw("db init " + db_option()).status == 0);
  REQUIRE(relaygw("card add " + db_option() + "--number " + kCard + " --balance 10.00",
                  input("pin", std::string(kPin) + "\n"))
              .status == 0);
  const std::string call = "call create " + db_option() +
                           "--from 3125550107 --to 2125550101 --billing calling-card --card " +
                           kCard + " --at 2026-03-10T14:00:00Z ";

  const CommandRun wrong = relaygw(call + "--id w1", input("wrong", std::string(kWrongPin) + "\n"));
  INFO(wrong.output);
  CHECK(wrong.status == 1);
  CHECK(wrong.output.find("call w1 refused: wrong-pin") != std::string::npos);
  // The call is stored with its refusal, and with no quote and no hold.
  CHECK(query_number("SELECT COUNT(*) FROM calls WHERE id = 'w1'") == 1);
  CHECK(query_number("SELECT COUNT(*) FROM calls WHERE quote_total IS NOT NULL") == 0);
  CHECK(query_number("SELECT COUNT(*) FROM call_events WHERE event = 'quoted'") == 0);
  CHECK(query_number("SELECT COUNT(*) FROM card_ledger WHERE kind = 'hold'") == 0);
  CHECK(query_number("SELECT failed_pin_attempts FROM card_states ORDER BY version DESC "
                     "LIMIT 1") == 1);

  // The right PIN stores a quote and a hold.
  const CommandRun right = relaygw(call + "--id r1", input("right", std::string(kPin) + "\n"));
  INFO(right.output);
  CHECK(right.status == 0);
  CHECK(query_number("SELECT COUNT(*) FROM calls WHERE quote_total IS NOT NULL") == 1);
  CHECK(query_number("SELECT COUNT(*) FROM card_ledger WHERE kind = 'hold'") == 1);
}

TEST_CASE_METHOD(PinOrderFixture, "wrong pin to unratable number counts", "[billing][cards][cli]") {
  REQUIRE(relaygw("db init " + db_option()).status == 0);
  REQUIRE(relaygw("card add " + db_option() + "--number " + kCard + " --balance 10.00",
                  input("pin", std::string(kPin) + "\n"))
              .status == 0);
  load_local_only_deck();
  // Chicago to New York is interstate, which the stored deck has no rate for.
  const std::string call = "call create " + db_option() +
                           "--from 3125550107 --to 2125550101 --billing calling-card --card " +
                           kCard + " --at 2026-03-10T14:00:00Z ";
  const std::string wrong_pin = input("wrong", std::string(kWrongPin) + "\n");

  for (int attempt = 1; attempt <= 3; ++attempt) {
    const std::string id = "u" + std::to_string(attempt);
    const CommandRun refused = relaygw(call + "--id " + id, wrong_pin);
    INFO(refused.output);
    CHECK(refused.status == 1);
    CHECK(refused.output.find("call " + id + " refused: wrong-pin") != std::string::npos);
    CHECK(query_number("SELECT failed_pin_attempts FROM card_states ORDER BY version DESC "
                       "LIMIT 1") == attempt);
  }
  // Three wrong PINs locked the card, so even the right PIN to a local number is refused.
  const CommandRun locked = relaygw("call create " + db_option() +
                                        "--id u4 --from 3125550107 --to 3125550199 "
                                        "--billing calling-card --card " +
                                        kCard + " --at 2026-03-10T14:01:00Z",
                                    input("right", std::string(kPin) + "\n"));
  INFO(locked.output);
  CHECK(locked.status == 1);
  CHECK(locked.output.find("call u4 refused: card-locked") != std::string::npos);
  CHECK(query_number("SELECT COUNT(*) FROM calls WHERE quote_total IS NOT NULL") == 0);
}

TEST_CASE_METHOD(PinOrderFixture, "find refusal places no hold", "[billing][authorization]") {
  add_prepaid();
  const Authorizer authorizer(&store(), &testing::bundled_number_plan(), &rater_for_tests());
  const CardState card = card_state();

  // A refusal after the PIN is found without a hold, and a call that would be granted too.
  Result<std::optional<Authorization>> premium =
      authorizer.find_refusal(card_request(kPin, "9005550100"), context(), &card);
  REQUIRE(premium);
  REQUIRE(premium->has_value());
  CHECK((*premium)->reason == RefusalReason::PremiumBlocked);
  Result<std::optional<Authorization>> ordinary =
      authorizer.find_refusal(card_request(kPin), context(), &card);
  REQUIRE(ordinary);
  CHECK_FALSE(ordinary->has_value());
  Result<CardFunds> untouched = store().card_funds(kCard, "");
  REQUIRE(untouched);
  CHECK(untouched->available == untouched->balance);

  // authorize() places the hold, and release_hold gives it back.
  const AuthorizationRequest request = card_request(kPin);
  Result<Authorization> granted = authorizer.authorize(request, context(), &card);
  REQUIRE(granted);
  REQUIRE(granted->granted);
  REQUIRE(granted->held > 0);
  Result<CardFunds> held = store().card_funds(kCard, "");
  REQUIRE(held);
  CHECK(held->available == held->balance - granted->held);
  REQUIRE(authorizer.release_hold(request, *granted, context()));
  Result<CardFunds> released = store().card_funds(kCard, "");
  REQUIRE(released);
  CHECK(released->available == released->balance);
}

TEST_CASE_METHOD(PinOrderFixture, "find refusal checks funds", "[billing][authorization]") {
  NewCard poor;
  poor.number = kCard;
  poor.opening_balance = 100;  // one cent, less than any call's first block
  poor.pin_iterations = 1'000;
  REQUIRE(add_card(store(), poor, kPin, context()));
  const Authorizer authorizer(&store(), &testing::bundled_number_plan(), &rater_for_tests());
  const CardState card = card_state();
  Result<std::optional<Authorization>> refused =
      authorizer.find_refusal(card_request(kPin), context(), &card);
  REQUIRE(refused);
  REQUIRE(refused->has_value());
  CHECK((*refused)->reason == RefusalReason::InsufficientFunds);
  CHECK((*refused)->message.find("less than the $") != std::string::npos);
}
