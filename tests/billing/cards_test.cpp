// Calling cards: masking, PBKDF2 PIN hashes, lockout after wrong PINs, unlock.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/cards.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::StatusCode;

namespace {

constexpr const char* kCard = "5550142123456789";
constexpr const char* kPin = "80317";
// Low iteration count keeps the tests fast; the count is stored per card.
constexpr std::int32_t kTestIterations = 1'000;

class CardFixture {
 public:
  CardFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-cards-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    store_ = open();
  }
  ~CardFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<SqliteStore> open() {
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "cards.db").string(), options);
    REQUIRE(opened);
    return std::move(opened).value();
  }
  SqliteStore& store() { return *store_; }
  WriteContext context() const {
    return WriteContext{"gateway", parse_instant("2026-03-10T16:00:00Z").value()};
  }
  void add(std::int32_t max_attempts = 3) {
    NewCard card;
    card.number = kCard;
    card.opening_balance = 50'000;
    card.max_pin_attempts = max_attempts;
    card.pin_iterations = kTestIterations;
    REQUIRE(add_card(*store_, card, kPin, context()));
  }
  Result<CardState> check(const std::string& pin) {
    return check_card_pin(*store_, kCard, pin, context());
  }
  std::string database_bytes() {
    std::string bytes;
    for (const char* suffix : {"", "-wal"}) {
      std::ifstream file((dir_ / "cards.db").string() + suffix, std::ios::binary);
      bytes.append(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
    return bytes;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace

TEST_CASE("card number mask keeps last four", "[billing][cards]") {
  CHECK(mask_card_number("5550142123456789") == "************6789");
  CHECK(mask_card_number("3125550142") == "******0142");
  CHECK(mask_card_number("12345") == "*2345");
  CHECK(mask_card_number("1234") == "****");
  CHECK(mask_card_number("") == "");
  // A mistyped number in fullwidth digits keeps whole UTF-8 characters: one star for each
  // masked character and the last four characters as typed.
  CHECK(mask_card_number("\uFF15\uFF15\uFF15\uFF10\uFF11\uFF12\uFF13\uFF14") ==
        "****\uFF11\uFF12\uFF13\uFF14");
  CHECK(mask_card_number("31255\u00E90142") == "******0142");
}

TEST_CASE("pin hash is salted and verifies", "[billing][cards]") {
  auto first = hash_pin("4321", kTestIterations);
  auto second = hash_pin("4321", kTestIterations);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->iterations == kTestIterations);
  CHECK(first->salt_hex.size() == 32);
  CHECK(first->hash_hex.size() == 64);
  CHECK(first->salt_hex != second->salt_hex);
  CHECK(first->hash_hex != second->hash_hex);
  CHECK(verify_pin("4321", *first));
  CHECK(verify_pin("4321", *second));
  CHECK_FALSE(verify_pin("4322", *first));
  CHECK_FALSE(verify_pin("", *first));
  PinHash damaged = *first;
  damaged.hash_hex = "zz";
  CHECK_FALSE(verify_pin("4321", damaged));
  // The default iteration count is the slow one.
  CHECK(kDefaultPinIterations >= 600'000);
}

TEST_CASE("invalid pins and card numbers rejected", "[billing][cards]") {
  for (const char* pin : {"", "123", "123456789", "12a4", "12 34"}) {
    INFO("pin length " << std::string(pin).size());
    const relaygw::Status status = validate_pin(pin);
    CHECK(status.code() == StatusCode::InvalidArgument);
    if (std::string(pin).size() >= 3) {
      CHECK(status.message().find(pin) == std::string::npos);
    }
  }
  const relaygw::Status bad_number = validate_card_number("55501421234x6789");
  CHECK(bad_number.code() == StatusCode::InvalidArgument);
  CHECK(bad_number.message().find("55501421234x6789") == std::string::npos);
  CHECK(bad_number.message().find("6789") != std::string::npos);
}

TEST_CASE_METHOD(CardFixture, "card locks after three wrong pins", "[billing][cards]") {
  add();
  REQUIRE(check(kPin));
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto wrong = check("00000");
    REQUIRE_FALSE(wrong);
    CHECK(wrong.status().code() == StatusCode::PermissionDenied);
  }
  auto locking = check("00000");
  REQUIRE_FALSE(locking);
  CHECK(locking.status().message().find("now locked") != std::string::npos);
  // Once locked, even the right PIN is refused.
  auto locked = check(kPin);
  REQUIRE_FALSE(locked);
  CHECK(locked.status().code() == StatusCode::FailedPrecondition);
  CHECK(store().find_card(kCard)->value().status == CardStatus::Locked);

  auto unlocked = unlock_card(store(), kCard, WriteContext{"staff:sup1", context().at});
  REQUIRE(unlocked);
  CHECK(unlocked->status == CardStatus::Active);
  CHECK(unlocked->failed_pin_attempts == 0);
  CHECK(check(kPin));
}

TEST_CASE_METHOD(CardFixture, "correct pin resets failure count", "[billing][cards]") {
  add();
  REQUIRE_FALSE(check("11111"));
  REQUIRE_FALSE(check("11111"));
  auto good = check(kPin);
  REQUIRE(good);
  CHECK(good->failed_pin_attempts == 0);
  // Two more wrong PINs do not lock: the count restarted.
  REQUIRE_FALSE(check("11111"));
  REQUIRE_FALSE(check("11111"));
  CHECK(store().find_card(kCard)->value().status == CardStatus::Active);
}

TEST_CASE_METHOD(CardFixture, "lockout threshold is configurable", "[billing][cards]") {
  add(5);
  for (int attempt = 1; attempt <= 4; ++attempt) {
    REQUIRE_FALSE(check("22222"));
  }
  CHECK(store().find_card(kCard)->value().status == CardStatus::Active);
  REQUIRE_FALSE(check("22222"));
  CHECK(store().find_card(kCard)->value().status == CardStatus::Locked);
}

TEST_CASE_METHOD(CardFixture, "lockout threshold has a ceiling", "[billing][cards]") {
  for (const std::int32_t attempts : {0, kMaxPinAttempts + 1, 1'000'000}) {
    INFO("max attempts " << attempts);
    NewCard card;
    card.number = kCard;
    card.opening_balance = 50'000;
    card.max_pin_attempts = attempts;
    card.pin_iterations = kTestIterations;
    const relaygw::Status added = add_card(store(), card, kPin, context());
    REQUIRE_FALSE(added);
    CHECK(added.message().find("use 1 to 10") != std::string::npos);
  }
  add(kMaxPinAttempts);
  CHECK(store().find_card(kCard)->value().card.max_pin_attempts == kMaxPinAttempts);
}

TEST_CASE_METHOD(CardFixture, "concurrent wrong pins are all counted", "[billing][cards]") {
  add(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    // Each thread has its own connection, as separate gateway processes would.
    threads.emplace_back([this] {
      auto own = open();
      (void)check_card_pin(*own, kCard, "99999", context());
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  auto state = store().find_card(kCard);
  REQUIRE(state->has_value());
  CHECK((*state)->failed_pin_attempts == 8);
  CHECK((*state)->status == CardStatus::Locked);
}

TEST_CASE_METHOD(CardFixture, "pin and card number never stored plain", "[billing][cards]") {
  add();
  REQUIRE_FALSE(check("77777"));
  const std::string bytes = database_bytes();
  CHECK(bytes.find(kPin) == std::string::npos);
  CHECK(bytes.find("77777") == std::string::npos);
  // The card number is stored once, as the key of its card row; the audit log masks it.
  CHECK(bytes.find("************6789") != std::string::npos);
  auto duplicate = [&] {
    NewCard card;
    card.number = kCard;
    card.pin_iterations = kTestIterations;
    return add_card(store(), card, kPin, context());
  }();
  CHECK(duplicate.code() == StatusCode::AlreadyExists);
  CHECK(duplicate.message().find(kCard) == std::string::npos);
}

TEST_CASE_METHOD(CardFixture, "refund of locked card names the fix", "[billing][cards]") {
  add(1);
  REQUIRE_FALSE(check("22222"));
  REQUIRE(store().find_card(kCard)->value().status == CardStatus::Locked);
  auto refunded = refund_card_balance(store(), kCard, std::nullopt, context());
  REQUIRE_FALSE(refunded);
  CHECK(refunded.status().code() == StatusCode::FailedPrecondition);
  const std::string& message = refunded.status().message();
  CHECK(message.find("card ************6789 is locked after wrong PINs, not closed") !=
        std::string::npos);
  CHECK(message.find("close the card first with `relaygw card close --number NUMBER") !=
        std::string::npos);
  CHECK(message.find(kCard) == std::string::npos);
}

TEST_CASE_METHOD(CardFixture, "negative opening balance named", "[billing][cards]") {
  NewCard card;
  card.number = kCard;
  card.opening_balance = -50'000;
  card.pin_iterations = kTestIterations;
  const relaygw::Status added = add_card(store(), card, kPin, context());
  REQUIRE_FALSE(added);
  CHECK(added.message().find("opening balance -5.00 of card ************6789 is negative") !=
        std::string::npos);
}

TEST_CASE("maximum balance message fits the room", "[billing][cards]") {
  const relaygw::Status full = check_max_prepaid_balance(kCard, kMaxPrepaidBalance, 100);
  REQUIRE_FALSE(full);
  CHECK(full.message() ==
        "card ************6789 is at its maximum balance of $1,000.00, so no funds can be added "
        "until calls spend some of it");
  // Less than a cent of room: no top-up of whole cents fits either.
  const relaygw::Status almost = check_max_prepaid_balance(kCard, kMaxPrepaidBalance - 50, 100);
  REQUIRE_FALSE(almost);
  CHECK(almost.message().find("has a balance of $999.9950, less than a cent below its maximum "
                              "balance of $1,000.00") != std::string::npos);
  CHECK(almost.message().find("add at most") == std::string::npos);
  // Room with a fraction of a cent suggests the whole cents that fit.
  const relaygw::Status room =
      check_max_prepaid_balance(kCard, kMaxPrepaidBalance - 10'050, 20'000);
  REQUIRE_FALSE(room);
  CHECK(room.message().find("add at most $1.00") != std::string::npos);
}

TEST_CASE_METHOD(CardFixture, "identifier card digits rule", "[billing][cards]") {
  add();  // kCard, 16 digits
  NewCard short_card;
  short_card.number = "3125550188";
  short_card.opening_balance = 500;
  short_card.pin_iterations = kTestIterations;
  REQUIRE(add_card(store(), short_card, kPin, context()));

  struct Case {
    std::string value;
    bool accepted;
    std::string message;  // part of the message of a rejection
  };
  const std::string stored = "contains the number of a calling card in this database";
  const Case cases[] = {
      {"c-3125550107", true, ""},               // a phone number that is no card
      {"c-13125550107", true, ""},              // with the leading 1
      {"tty-1733439000000-s100-c1", true, ""},  // milliseconds since the epoch
      {"c-(312) 555-0107", true, ""},
      {"c-+1 312 555 0107", true, ""},
      {"c-2026-03-10", true, ""},
      {"", true, ""},
      {"c-3125550188", false, "--id 'c-******0188' " + stored},
      {"c-13125550188", false, stored},  // the card inside a longer run
      {"c-312.555.0188", false, "--id 'c-***.***.0188' " + stored},
      {"c-55501421234567", false, "a run of 14 digits"},
      {"c-5550 1421 2345 6789", false, "--id 'c-**** **** **** 6789' contains a run of 16"},
      {"c-\xEF\xBC\x93\xEF\xBC\x91\xEF\xBC\x92"
       "5550188",
       false, stored},  // fullwidth 312
      {"20260310-3125550107", false, "a run of 18 digits"},
      {"c-2026-03-10-3125550107", false, "a run of 18 digits"},
      {"c-4111:1111:1111:9876", false, "--id 'c-****:****:****:9876' contains a run of 16"},
      {"c-4111@1111#1111+9876", false, "a run of 16 digits"},
      {"c-4111\u30001111\u30001111\u30009876", false, "a run of 16 digits"},
      {"c-4111\uff0d1111\uff0d1111\uff0d9876", false, "a run of 16 digits"},
      {"c-4111--1111--1111--9876", false, "a run of 16 digits"},
      {"c-4-1-1-1-1-1-1-1-1-1-1-1-9-8-7-6", false, "a run of 16 digits"},
      {"c-\u096a\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u096f"
       "\u096e\u096d\u096c",
       false, "a run of 16 digits"},
      {"c-\u0663\u0661\u0662\u0665\u0665\u0665\u0660\u0661\u0668\u0668", false,
       stored},  // Arabic-Indic 3125550188
      {"c-\U0001d7d1\U0001d7cf\U0001d7d0\U0001d7d3\U0001d7d3\U0001d7d3\U0001d7ce"
       "\U0001d7cf\U0001d7d6\U0001d7d6",
       false, stored},  // mathematical bold 3125550188
  };
  for (const Case& item : cases) {
    INFO(item.value);
    const relaygw::Status checked =
        check_identifier_card_digits(&store(), "--id", item.value, IdentifierKind::Id);
    CHECK(checked.is_ok() == item.accepted);
    if (!item.accepted) {
      CHECK(checked.code() == StatusCode::InvalidArgument);
      CHECK(checked.message().find(item.message) != std::string::npos);
      CHECK(checked.message().find("Choose an id without the card number") != std::string::npos);
      CHECK(checked.message().find("3125550188") == std::string::npos);
      CHECK(checked.message().find("5550142123456789") == std::string::npos);
    }
  }

  // Without a store only long runs are rejected, and the message names the kind of value.
  CHECK(check_identifier_card_digits(nullptr, "--actor", "clerk 3125550188",
                                     IdentifierKind::StaffName));
  const relaygw::Status actor = check_identifier_card_digits(
      nullptr, "--actor", "clerk 5550142123456789", IdentifierKind::StaffName);
  REQUIRE_FALSE(actor);
  CHECK(actor.message().find("Choose a staff name without the card number") != std::string::npos);
}

TEST_CASE_METHOD(CardFixture, "identifier date-times are no cards", "[billing][cards]") {
  add();  // kCard, 16 digits
  struct Case {
    std::string value;
    bool accepted;
  };
  const Case cases[] = {
      {"shift 2026-12-06 14:05:09", true},
      {"shift 2026-12-06 14:05", true},
      {"Grace Okafor 2024-02-29 23:59:59", true},
      {"from 2026-12-06 14:05:09 to 2026-12-06 22:05:09", true},
      // A bare run of 14 digits may be a card number, dated or not.
      {"shift 20261206140509", false},
      {"shift 2026-12-06 14:05:60", false},
      {"shift 2026-02-30 14:05:09", false},
      {"shift 2026-12-06 14:05:09 4111", false},
      // Card numbers grouped as printed stay rejected.
      {"clerk 4111 1111 1111 1111", false},
      {"clerk 4111-1111-1111-1111", false},
      {"clerk 3782 822463 10005", false},
      {"clerk 3056-930902-5904", false},
      {"clerk 5550 1421 2345 6789", false},
  };
  for (const Case& item : cases) {
    INFO(item.value);
    for (Store* store : {static_cast<Store*>(&this->store()), static_cast<Store*>(nullptr)}) {
      const relaygw::Status checked =
          check_identifier_card_digits(store, "--actor", item.value, IdentifierKind::StaffName);
      CHECK(checked.is_ok() == item.accepted);
    }
  }
  const relaygw::Status rejected = check_identifier_card_digits(
      nullptr, "--actor", "shift 20261206140509", IdentifierKind::StaffName);
  CHECK_THAT(rejected.message(),
             Catch::Contains("a date and time such as 2026-12-06 14:05:09 is accepted"));
}

TEST_CASE_METHOD(CardFixture, "phone numbers equal to cards rejected", "[billing][cards]") {
  add();  // kCard, 16 digits: never a phone number
  for (const char* number : {"3125550188", "13125550199", "442079460958"}) {
    NewCard card;
    card.number = number;
    card.opening_balance = 500;
    card.pin_iterations = kTestIterations;
    REQUIRE(add_card(store(), card, kPin, context()));
  }
  struct Case {
    std::string number;
    std::string masked;  // the masked number in the message, or "" when accepted
  };
  const Case cases[] = {
      {"+13125550107", ""},
      {"3125550107", ""},
      {"+442079460959", ""},
      {"911", ""},
      {"3125550188", "******0188"},
      {"+3125550188", "+******0188"},
      {"+13125550188", "+*******0188"},  // the card inside the E.164 form
      {"3125550199", "******0199"},      // stored as +13125550199, which is a card
      {"+13125550199", "+*******0199"},
      {"+442079460958", "+********0958"},
      {"011442079460958", "***********0958"},
  };
  for (const Case& item : cases) {
    INFO(item.number);
    const relaygw::Status checked = check_phone_number_card_digits(store(), "to", item.number);
    if (item.masked.empty()) {
      CHECK(checked.is_ok());
      continue;
    }
    CHECK(checked.code() == StatusCode::InvalidArgument);
    CHECK_THAT(checked.message(),
               Catch::StartsWith("to '" + item.masked +
                                 "' contains the number of a calling card in this database"));
    CHECK_THAT(checked.message(), Catch::Contains("Check that to holds a phone number"));
    CHECK(checked.message().find(item.number) == std::string::npos);
  }
}

TEST_CASE_METHOD(CardFixture, "identifier of earlier call accepted", "[billing][cards]") {
  // A call stored before a card with the same digits was added stays reachable by its id.
  CallRequest call;
  call.id = "c-3125550199";
  call.from = "+13125550199";
  call.to = "+12125550101";
  REQUIRE(store().create_call(call, context()));
  NewCard card;
  card.number = "3125550199";
  card.opening_balance = 500;
  card.pin_iterations = kTestIterations;
  REQUIRE(add_card(store(), card, kPin, context()));

  CHECK(check_identifier_card_digits(&store(), "--id", "c-3125550199", IdentifierKind::Id));
  const relaygw::Status new_id =
      check_identifier_card_digits(&store(), "--id", "c-3125550199-b", IdentifierKind::Id);
  CHECK(new_id.code() == StatusCode::InvalidArgument);
  const relaygw::Status key =
      check_identifier_card_digits(&store(), "--key", "c-3125550199", IdentifierKind::Key);
  CHECK(key.code() == StatusCode::InvalidArgument);

  // TTY session ids once joined the start time and the counter with a hyphen alone, a 14-digit
  // run that is rejected now. A call stored with such an id stays reachable.
  call.id = "tty-1733439000000-1-c1";
  REQUIRE(store().create_call(call, context()));
  CHECK(check_identifier_card_digits(&store(), "--id", call.id, IdentifierKind::Id));
  const relaygw::Status unstored =
      check_identifier_card_digits(&store(), "--id", "tty-1733439000000-2-c1", IdentifierKind::Id);
  CHECK(unstored.code() == StatusCode::InvalidArgument);
  const relaygw::Status without_store =
      check_identifier_card_digits(nullptr, "--id", call.id, IdentifierKind::Id);
  CHECK(without_store.code() == StatusCode::InvalidArgument);
}
