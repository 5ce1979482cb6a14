// Authorizer: screening for collect and third-number calls, calling-card checks, atomic
// prepaid holds under concurrency, and emergency calls that skip every check.
#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/authorization.hpp"
#include "billing/cards.hpp"
#include "billing/directory.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/sqlite_edit.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::StatusCode;

namespace {

constexpr const char* kCard = "5550142000001";
constexpr const char* kPin = "2468";

const NumberPlan& number_plan() {
  static const NumberPlan plan = [] {
    auto loaded = NumberPlan::load(std::string(RELAYGW_SOURCE_DIR) + "/data");
    if (!loaded) {
      FAIL(loaded.status().message());
    }
    return std::move(loaded).value();
  }();
  return plan;
}

// $0.04 a minute at all times: a 60 s first block (400 u), then per second, rounded up.
RateDeck card_deck() {
  std::string text =
      "name = \"authorization test\"\n[[version]]\nname = \"v1\"\neffective = 2020-01-01\n"
      "rounding = \"up\"\ninitial_seconds = 60\nadditional_seconds = 1\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"0.0400\" }\n";
  }
  auto deck = RateDeck::parse(text, "authorization-test.toml");
  if (!deck) {
    FAIL(deck.status().message());
  }
  return std::move(deck).value();
}

class AuthorizationFixture {
 public:
  AuthorizationFixture() : deck_(card_deck()), rater_(&number_plan(), &deck_) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-authorization-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    store_ = open();
  }
  ~AuthorizationFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<SqliteStore> open() {
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "billing.db").string(), options);
    REQUIRE(opened);
    return std::move(opened).value();
  }
  WriteContext context() const {
    return WriteContext{"gateway", parse_instant("2026-03-10T14:00:00Z").value()};
  }
  void add_directory_line(const std::string& number, LineType type, Screening screening) {
    Line line;
    line.number = number;
    line.listing_name = "Listing " + number;
    line.type = type;
    line.screening = screening;
    line.state = "IL";
    line.rate_center = "CHICAGO";
    line.time_zone = "America/Chicago";
    REQUIRE(add_line(*store_, line, context()));
  }
  void add_prepaid(Money balance) {
    NewCard card;
    card.number = kCard;
    card.opening_balance = balance;
    card.pin_iterations = 1'000;
    REQUIRE(add_card(*store_, card, kPin, context()));
  }
  AuthorizationRequest request(BillingMethod billing) const {
    AuthorizationRequest request;
    request.call_id = "call-test";
    request.from = "3125550107";
    request.to = "2125550101";
    request.billing = billing;
    return request;
  }
  Authorization authorize(const AuthorizationRequest& request) {
    Authorizer authorizer(store_.get(), &number_plan(), &rater_);
    auto decision = authorizer.authorize(request, context());
    if (!decision) {
      FAIL(decision.status().message());
    }
    return *decision;
  }
  void add_postpaid(Money credit_limit) {
    add_directory_line("+13125550199", LineType::Residential, Screening::None);
    NewCard postpaid;
    postpaid.number = kCard;
    postpaid.funding = CardFunding::Postpaid;
    postpaid.billed_line = "+13125550199";
    postpaid.credit_limit = credit_limit;
    postpaid.pin_iterations = 1'000;
    REQUIRE(add_card(*store_, postpaid, kPin, context()));
  }
  std::string database_path() const { return (dir_ / "billing.db").string(); }
  void edit_outside_relaygw(const std::string& sql) {
    relaygw::testing::edit_outside_relaygw(database_path(), sql);
  }
  // Checks that `card` is refused as card-ledger-damaged, with the fix in plain words and, on
  // the command line, `relaygw audit verify --db`.
  void check_damaged_card_refused(AuthorizationRequest card) {
    card.call_id = "call-after-edit";
    const Authorization decision = authorize(card);
    CHECK_FALSE(decision.granted);
    CHECK(decision.reason == RefusalReason::CardLedgerDamaged);
    CHECK(to_string(decision.reason) == "card-ledger-damaged");
    CHECK(decision.held == 0);
    CHECK(decision.message.find("`relaygw") == std::string::npos);
    CHECK_THAT(decision.message,
               Catch::Matchers::StartsWith("card *********0001 is damaged: its card_ledger "
                                           "credits or charges sum to $461,168,601,842,738.7904 "
                                           "or more"));
    CHECK_THAT(decision.message,
               Catch::Matchers::EndsWith("; ask relay center staff to find the billing database "
                                         "row that was changed by hand and to restore the "
                                         "database from a backup"));
    CHECK_THAT(command_line_message(decision),
               Catch::Matchers::Contains("; run `relaygw audit verify --db " + database_path() +
                                         "` to find the row"));
  }
  CardFunds funds(const std::string& call_id = "") {
    return store_->card_funds(kCard, call_id).value();
  }
  SqliteStore& store() { return *store_; }

  RateDeck deck_;
  Rater rater_;

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace

TEST_CASE_METHOD(AuthorizationFixture, "collect refused by called line screening",
                 "[billing][authorization]") {
  add_directory_line("2125550101", LineType::Residential, Screening::NoCollect);
  add_directory_line("2125550102", LineType::Residential, Screening::Both);
  add_directory_line("2125550103", LineType::Residential, Screening::NoThirdNumber);
  add_directory_line("2125550104", LineType::Residential, Screening::None);
  const std::vector<std::pair<std::string, bool>> cases = {
      {"2125550101", false}, {"2125550102", false}, {"2125550103", true}, {"2125550104", true}};
  for (const auto& [called, granted] : cases) {
    INFO("called " << called);
    AuthorizationRequest collect = request(BillingMethod::Collect);
    collect.to = called;
    const Authorization decision = authorize(collect);
    CHECK(decision.granted == granted);
    if (granted) {
      CHECK(decision.acceptance_required);
      CHECK(decision.billed_number == "+1" + called);
    } else {
      CHECK(decision.reason == RefusalReason::CollectBlocked);
      CHECK(to_string(decision.reason) == "collect-blocked");
      CHECK(decision.message.find("+1" + called) != std::string::npos);
    }
  }
}

TEST_CASE_METHOD(AuthorizationFixture, "third number refused by its screening",
                 "[billing][authorization]") {
  add_directory_line("2125550101", LineType::Residential, Screening::NoThirdNumber);
  add_directory_line("2125550102", LineType::Residential, Screening::Both);
  add_directory_line("2125550103", LineType::Residential, Screening::NoCollect);
  const std::vector<std::pair<std::string, bool>> cases = {
      {"2125550101", false}, {"2125550102", false}, {"2125550103", true}};
  for (const auto& [third, granted] : cases) {
    INFO("third " << third);
    AuthorizationRequest billed = request(BillingMethod::ThirdNumber);
    billed.to = "4155550108";
    billed.third_number = third;
    const Authorization decision = authorize(billed);
    CHECK(decision.granted == granted);
    CHECK(decision.reason == (granted ? RefusalReason::None : RefusalReason::ThirdNumberBlocked));
    CHECK(decision.acceptance_required == granted);
  }
  AuthorizationRequest malformed = request(BillingMethod::ThirdNumber);
  malformed.third_number = "555-0101";
  const Authorization refused = authorize(malformed);
  CHECK(refused.reason == RefusalReason::InvalidRequest);
  CHECK(refused.message.find("555-0101") != std::string::npos);
}

TEST_CASE_METHOD(AuthorizationFixture, "payphone and inmate lines not billable",
                 "[billing][authorization]") {
  add_directory_line("2125550103", LineType::Payphone, Screening::None);
  add_directory_line("3125550105", LineType::Inmate, Screening::None);
  for (const char* line : {"2125550103", "3125550105"}) {
    INFO("line " << line);
    AuthorizationRequest collect = request(BillingMethod::Collect);
    collect.to = line;
    CHECK(authorize(collect).reason == RefusalReason::LineNotBillable);
    AuthorizationRequest third = request(BillingMethod::ThirdNumber);
    third.third_number = line;
    CHECK(authorize(third).reason == RefusalReason::LineNotBillable);
  }
}

TEST_CASE_METHOD(AuthorizationFixture, "collect call must reach billable line",
                 "[billing][authorization]") {
  // The called line pays a collect call, so it must be a NANP subscriber line, whichever way
  // an international number is written.
  const std::pair<const char*, RefusalReason> refused[] = {
      {"+442071234567", RefusalReason::LineNotBillable},
      {"011442071234567", RefusalReason::LineNotBillable},
      {"8005551212", RefusalReason::LineNotBillable},  // toll-free
      {"411", RefusalReason::LineNotBillable},
      {"9995550100", RefusalReason::InvalidRequest},  // unassigned area code
  };
  for (const auto& [called, reason] : refused) {
    INFO("called " << called);
    AuthorizationRequest billed = request(BillingMethod::Collect);
    billed.to = called;
    const Authorization decision = authorize(billed);
    CHECK_FALSE(decision.granted);
    CHECK(decision.reason == reason);
    CHECK(decision.message.find(called) != std::string::npos);
  }
  AuthorizationRequest international = request(BillingMethod::Collect);
  international.to = "+442071234567";
  CHECK(authorize(international).message ==
        "called number +442071234567 is an international number, which relaygw cannot bill "
        "collect; the caller can pay with a calling card or sent-paid");
}

TEST_CASE_METHOD(AuthorizationFixture, "third number must be billable line",
                 "[billing][authorization]") {
  // Numbers with no subscriber line behind them cannot accept charges, listed or not.
  const std::pair<const char*, RefusalReason> refused[] = {
      {"8005551212", RefusalReason::LineNotBillable},  // toll-free
      {"9005550100", RefusalReason::LineNotBillable},  // premium
      {"5005550100", RefusalReason::LineNotBillable},  // non-geographic
      {"+442079460000", RefusalReason::LineNotBillable},
      {"011442079460000", RefusalReason::LineNotBillable},
      {"9995550100", RefusalReason::InvalidRequest},  // unassigned area code
      {"2115550100", RefusalReason::InvalidRequest},  // N11 area code
  };
  for (const auto& [third, reason] : refused) {
    INFO("third " << third);
    AuthorizationRequest billed = request(BillingMethod::ThirdNumber);
    billed.to = "4155550108";
    billed.third_number = third;
    const Authorization decision = authorize(billed);
    CHECK_FALSE(decision.granted);
    CHECK(decision.reason == reason);
    CHECK(decision.message.find(third) != std::string::npos);
  }
  // An unlisted geographic or fictional line is still accepted, pending its acceptance.
  for (const char* third : {"3035551234", "2125550188"}) {
    INFO("third " << third);
    AuthorizationRequest billed = request(BillingMethod::ThirdNumber);
    billed.to = "4155550108";
    billed.third_number = third;
    const Authorization decision = authorize(billed);
    CHECK(decision.granted);
    CHECK(decision.acceptance_required);
  }
}

TEST_CASE_METHOD(AuthorizationFixture, "closed card takes no hold or funds",
                 "[billing][authorization]") {
  // The authorizer checks the card, then appends its hold in a second transaction. A card
  // closed between the two (staff closing a lost card during the call) must refuse the hold
  // inside the hold's own transaction.
  add_prepaid(50'000);
  REQUIRE(close_card(store(), kCard, "reported lost", context()));
  Result<CardFunds> held = store().append_ledger(
      kCard, {LedgerEntry{LedgerKind::Hold, -3'000, "call-test"}}, true, std::nullopt, context());
  REQUIRE_FALSE(held);
  CHECK(held.status().code() == StatusCode::FailedPrecondition);
  CHECK(held.status().message().find("was closed") != std::string::npos);
  Result<CardFunds> topped = store().append_ledger(
      kCard, {LedgerEntry{LedgerKind::Credit, 10'000, ""}}, false, std::nullopt, context());
  REQUIRE_FALSE(topped);
  CHECK(topped.status().code() == StatusCode::FailedPrecondition);
  Result<CardFunds> funds = store().card_funds(kCard, "call-test");
  REQUIRE(funds);
  CHECK(funds->available == 50'000);
}

TEST_CASE_METHOD(AuthorizationFixture, "call never holds card twice", "[billing][authorization]") {
  // A retried authorization of a call whose decision was never stored finds the first hold
  // still open. The store refuses a second one inside the hold's own transaction.
  add_prepaid(10'000);
  AuthorizationRequest card = request(BillingMethod::CallingCard);
  card.card_number = kCard;
  card.pin = kPin;
  card.max_call_seconds = 600;
  const Authorization first = authorize(card);
  REQUIRE(first.granted);
  REQUIRE(first.held == 4'000);

  Authorizer authorizer(&store(), &number_plan(), &rater_);
  const Result<Authorization> again = authorizer.authorize(card, context());
  REQUIRE_FALSE(again);
  CHECK(again.status().code() == StatusCode::AlreadyExists);
  CHECK(again.status().message().find("already holds $0.40") != std::string::npos);
  CHECK(again.status().message().find(kCard) == std::string::npos);
  CHECK(funds("call-test").held_for_call == 4'000);
  CHECK(funds().available == 6'000);

  // Entries that release the open hold first may hold the call's funds again.
  Result<CardFunds> replaced =
      store().append_ledger(kCard,
                            {LedgerEntry{LedgerKind::Release, 4'000, "call-test"},
                             LedgerEntry{LedgerKind::Hold, -3'000, "call-test"}},
                            true, std::nullopt, context());
  REQUIRE(replaced);
  CHECK(replaced->held_for_call == 3'000);
  CHECK(funds().available == 7'000);

  // Another call's hold on the same card is not affected.
  AuthorizationRequest other = card;
  other.call_id = "call-other";
  const Authorization second_call = authorize(other);
  CHECK(second_call.granted);
  CHECK(funds("call-other").held_for_call == second_call.held);
}

TEST_CASE_METHOD(AuthorizationFixture, "calling card refusals name the reason",
                 "[billing][authorization]") {
  add_prepaid(10'000);
  AuthorizationRequest card = request(BillingMethod::CallingCard);
  card.card_number = kCard;

  SECTION("unknown card") {
    card.card_number = "5550142999999";
    card.pin = kPin;
    const Authorization decision = authorize(card);
    CHECK(decision.reason == RefusalReason::CardNotFound);
    CHECK(decision.message.find("5550142999999") == std::string::npos);
  }
  SECTION("wrong pin, then locked") {
    card.pin = "1111";
    CHECK(authorize(card).reason == RefusalReason::WrongPin);
    CHECK(authorize(card).reason == RefusalReason::WrongPin);
    CHECK(authorize(card).reason == RefusalReason::WrongPin);
    card.pin = kPin;
    const Authorization locked = authorize(card);
    CHECK(locked.reason == RefusalReason::CardLocked);
    CHECK(locked.message.find(kCard) == std::string::npos);
    CHECK(funds().available == 10'000);
  }
  SECTION("malformed pin") {
    card.pin = "12";
    CHECK(authorize(card).reason == RefusalReason::InvalidRequest);
  }
  SECTION("granted with a hold") {
    card.pin = kPin;
    card.max_call_seconds = 600;
    const Authorization decision = authorize(card);
    REQUIRE(decision.granted);
    REQUIRE(decision.max_seconds);
    CHECK(*decision.max_seconds == 600);
    CHECK(decision.held == 4'000);  // 10 minutes at $0.04
    CHECK(funds("call-test").held_for_call == 4'000);
    CHECK(funds().available == 6'000);
    CHECK(funds().balance == 10'000);
  }
}

TEST_CASE_METHOD(AuthorizationFixture, "concurrent holds never overspend a card",
                 "[billing][authorization]") {
  add_prepaid(2'000);  // five first blocks of 400 u
  constexpr int kCalls = 12;
  std::atomic<int> granted{0};
  std::atomic<int> refused{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      // Separate connections, as separate gateway processes would have.
      std::unique_ptr<SqliteStore> own = open();
      Authorizer authorizer(own.get(), &number_plan(), &rater_);
      AuthorizationRequest card = request(BillingMethod::CallingCard);
      card.call_id = "call-" + std::to_string(i);
      card.card_number = kCard;
      card.pin = kPin;
      card.max_call_seconds = 60;
      auto decision = authorizer.authorize(card, context());
      if (!decision) {
        ++failed;
      } else if (decision->granted) {
        ++granted;
      } else if (decision->reason == RefusalReason::InsufficientFunds) {
        ++refused;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  CHECK(failed == 0);
  CHECK(granted == 5);
  CHECK(refused == kCalls - 5);
  CHECK(funds().available == 0);
  CHECK(funds().balance == 2'000);
}

TEST_CASE_METHOD(AuthorizationFixture, "person to person needs a name",
                 "[billing][authorization]") {
  AuthorizationRequest unnamed = request(BillingMethod::PersonToPerson);
  const Authorization refused = authorize(unnamed);
  CHECK_FALSE(refused.granted);
  CHECK(refused.reason == RefusalReason::InvalidRequest);
  AuthorizationRequest blank = unnamed;
  blank.requested_person = " \t ";
  const Authorization blank_refused = authorize(blank);
  CHECK_FALSE(blank_refused.granted);
  CHECK(blank_refused.reason == RefusalReason::InvalidRequest);
  AuthorizationRequest named = unnamed;
  named.requested_person = "Dr. Lee";
  const Authorization granted = authorize(named);
  CHECK(granted.granted);
  CHECK(granted.billed_number == "+13125550107");
  CHECK_FALSE(granted.acceptance_required);
}

TEST_CASE_METHOD(AuthorizationFixture, "premium numbers bill only sent paid",
                 "[billing][authorization]") {
  add_prepaid(100'000);
  for (const char* premium : {"9005550142", "19005550142", "3129765555"}) {
    for (BillingMethod billing : {BillingMethod::Collect, BillingMethod::ThirdNumber,
                                  BillingMethod::PersonToPerson, BillingMethod::CallingCard}) {
      AuthorizationRequest call = request(billing);
      call.to = premium;
      call.third_number = "2125550101";
      call.requested_person = "Dr. Lee";
      call.card_number = kCard;
      call.pin = kPin;
      INFO("to " << premium << " billed " << to_string(billing));
      const Authorization refused = authorize(call);
      CHECK_FALSE(refused.granted);
      CHECK(refused.reason == RefusalReason::PremiumBlocked);
      CHECK(refused.message.find(premium) != std::string::npos);
    }
    AuthorizationRequest sent_paid = request(BillingMethod::SentPaid);
    sent_paid.to = premium;
    INFO("to " << premium << " sent paid");
    CHECK(authorize(sent_paid).granted);
  }
  CHECK(funds().available == 100'000);
}

TEST_CASE("emergency authorized with no store or deck", "[billing][authorization]") {
  const Authorizer authorizer(nullptr, nullptr, nullptr);
  for (BillingMethod billing : {BillingMethod::SentPaid, BillingMethod::Collect,
                                BillingMethod::CallingCard, BillingMethod::ThirdNumber}) {
    AuthorizationRequest request;
    request.from = "3125550107";
    request.to = "911";
    request.billing = billing;
    request.card_number = "not a card";
    auto decision = authorizer.authorize(request, WriteContext{"gateway", {}});
    REQUIRE(decision);
    CHECK(decision->granted);
    CHECK(decision->emergency);
    CHECK(decision->held == 0);
  }
  AuthorizationRequest ordinary;
  ordinary.from = "3125550107";
  ordinary.to = "2125550101";
  auto unavailable = authorizer.authorize(ordinary, WriteContext{"gateway", {}});
  REQUIRE_FALSE(unavailable);
  CHECK(unavailable.status().code() == StatusCode::Unavailable);
}

TEST_CASE_METHOD(AuthorizationFixture, "self billing refused in every form",
                 "[billing][authorization]") {
  struct Case {
    BillingMethod billing;
    const char* to;
    const char* third;
    RefusalReason reason;
    const char* code;
  };
  // The calling line is 3125550107, and each case types a party of the call in another form.
  const Case cases[] = {
      {BillingMethod::Collect, "1-312-555-0107", "", RefusalReason::CollectToOwnLine,
       "collect-to-own-line"},
      {BillingMethod::Collect, "+13125550107", "", RefusalReason::CollectToOwnLine,
       "collect-to-own-line"},
      {BillingMethod::ThirdNumber, "4155550109", "(415) 555-0109",
       RefusalReason::ThirdNumberIsCalledLine, "third-number-is-called-line"},
      {BillingMethod::ThirdNumber, "+14155550109", "14155550109",
       RefusalReason::ThirdNumberIsCalledLine, "third-number-is-called-line"},
      {BillingMethod::ThirdNumber, "4155550109", "+13125550107",
       RefusalReason::ThirdNumberIsCallingLine, "third-number-is-calling-line"},
      {BillingMethod::ThirdNumber, "4155550109", "312.555.0107",
       RefusalReason::ThirdNumberIsCallingLine, "third-number-is-calling-line"},
  };
  for (const Case& test : cases) {
    INFO("to " << test.to << ", third " << test.third);
    AuthorizationRequest billed = request(test.billing);
    billed.to = test.to;
    billed.third_number = test.third;
    const Authorization decision = authorize(billed);
    CHECK_FALSE(decision.granted);
    CHECK(decision.reason == test.reason);
    CHECK(to_string(decision.reason) == test.code);
  }
}

TEST_CASE("billed line number per billing method", "[billing][authorization]") {
  CHECK(billed_line_number(BillingMethod::SentPaid, "312-555-0107", "2125550101", "").value() ==
        "+13125550107");
  CHECK(billed_line_number(BillingMethod::PersonToPerson, "3125550107", "2125550101", "").value() ==
        "+13125550107");
  CHECK(billed_line_number(BillingMethod::Collect, "3125550107", "(212) 555-0101", "").value() ==
        "+12125550101");
  CHECK(billed_line_number(BillingMethod::ThirdNumber, "3125550107", "2125550101", "1-415-555-0108")
            .value() == "+14155550108");
  CHECK(billed_line_number(BillingMethod::CallingCard, "3125550107", "2125550101", "").value() ==
        "");
  const Result<std::string> invalid =
      billed_line_number(BillingMethod::ThirdNumber, "3125550107", "2125550101", "555-0101");
  REQUIRE_FALSE(invalid);
  CHECK(invalid.status().code() == StatusCode::InvalidArgument);
  CHECK(invalid.status().message().find("third number") != std::string::npos);
}

// Refusals are stored with the call and sent on the provider link, so their message names the
// staff step in plain words. Only command_line_message() names the `relaygw` command.
TEST_CASE_METHOD(AuthorizationFixture, "staff step refusals name no command",
                 "[billing][authorization]") {
  AuthorizationRequest card = request(BillingMethod::CallingCard);
  card.card_number = kCard;
  card.pin = kPin;

  SECTION("prepaid card short of its first block") {
    add_prepaid(100);  // the first block costs 400 units
    const Authorization decision = authorize(card);
    REQUIRE(decision.reason == RefusalReason::InsufficientFunds);
    CHECK(decision.message.find("relaygw") == std::string::npos);
    CHECK_THAT(decision.message,
               Catch::Matchers::EndsWith("; choose another billing method, or ask relay center "
                                         "staff to add funds to the card"));
    CHECK(decision.next_step.kind == relaygw::NextStep::Kind::FundCard);
    const std::string printed = command_line_message(decision);
    CHECK_THAT(printed, Catch::Matchers::EndsWith(
                            "; choose another billing method, or add funds with `relaygw card "
                            "fund`"));
    CHECK(printed.substr(0, decision.step_offset) ==
          decision.message.substr(0, decision.step_offset));
  }
  SECTION("postpaid card with its limit used up") {
    add_postpaid(10'000);
    // Earlier calls took $0.98 of the $1.00 limit, and the line has not paid.
    REQUIRE(store().append_ledger(kCard, {LedgerEntry{LedgerKind::Debit, -9'800, "call-earlier"}},
                                  false, std::nullopt, context()));
    const Authorization decision = authorize(card);
    REQUIRE(decision.reason == RefusalReason::InsufficientFunds);
    CHECK(decision.message.find("relaygw") == std::string::npos);
    CHECK_THAT(decision.message,
               Catch::Matchers::StartsWith("card *********0001 has $0.02 available, less than "
                                           "the $0.04 first block of this call"));
    CHECK_THAT(decision.message,
               Catch::Matchers::Contains("its limit stays used up until its billed line pays"));
    CHECK_THAT(decision.message,
               Catch::Matchers::EndsWith("or ask relay center staff to record the billed line's "
                                         "payment"));
    CHECK(decision.next_step.kind == relaygw::NextStep::Kind::RecordCardPayment);
    CHECK_THAT(command_line_message(decision),
               Catch::Matchers::EndsWith(
                   "or record the line's payment with `relaygw card payment`"));
  }
  SECTION("postpaid card whose limit is below the first block") {
    add_postpaid(100);  // the first block costs 400 units, and nothing is owed
    const Authorization decision = authorize(card);
    REQUIRE(decision.reason == RefusalReason::InsufficientFunds);
    CHECK(decision.message ==
          "card *********0001 has a credit limit of $0.01, less than the $0.04 first block of "
          "this call, so no payment by its billed line makes it usable for this call; choose "
          "another billing method, or ask relay center staff to issue the cardholder a card "
          "with a higher limit");
    CHECK(decision.next_step.kind == relaygw::NextStep::Kind::None);
    CHECK(command_line_message(decision) == decision.message);
    CHECK(funds().credit_limit == 100);
    CHECK(funds().owed == 0);
  }
  SECTION("postpaid card held by calls in progress") {
    add_postpaid(500);
    AuthorizationRequest other = card;
    other.call_id = "call-other";
    const Authorization first = authorize(other);
    REQUIRE(first.granted);
    REQUIRE(first.held == 500);
    const Authorization decision = authorize(card);
    REQUIRE(decision.reason == RefusalReason::InsufficientFunds);
    CHECK(decision.message ==
          "card *********0001 has $0.00 available, less than the $0.04 first block of this "
          "call, because calls in progress hold the rest of its $0.05 limit; choose another "
          "billing method, or retry after those calls end");
    CHECK(decision.next_step.kind == relaygw::NextStep::Kind::None);
    CHECK(funds().owed == 0);
  }
  SECTION("card whose ledger sums past the 64-bit range") {
    add_prepaid(10'000);
    const Authorization held = authorize(card);
    REQUIRE(held.granted);
    REQUIRE(Authorizer(&store(), &number_plan(), &rater_).release_hold(card, held, context()));
    // The credit, hold and release now sum past INT64_MAX in any order.
    edit_outside_relaygw("UPDATE card_ledger SET amount = 9223372036854775807 WHERE kind = 'credit'");
    check_damaged_card_refused(card);
  }
  SECTION("card whose one credit is near the 64-bit limit") {
    add_prepaid(10'000);
    // One amount sums without an overflow, but a hold and its release would pass INT64_MAX.
    edit_outside_relaygw("UPDATE card_ledger SET amount = 9223372036854775000");
    check_damaged_card_refused(card);
  }
  SECTION("locked card") {
    add_prepaid(10'000);
    card.pin = "1111";
    for (int attempt = 0; attempt < 3; ++attempt) {
      REQUIRE(authorize(card).reason == RefusalReason::WrongPin);
    }
    card.pin = kPin;
    const Authorization decision = authorize(card);
    REQUIRE(decision.reason == RefusalReason::CardLocked);
    CHECK(decision.message == "card *********0001 is locked after wrong PINs; ask relay center "
                              "staff to unlock it");
    CHECK(command_line_message(decision) ==
          "card *********0001 is locked after wrong PINs; staff can unlock it with `relaygw card "
          "unlock --number NUMBER`");

    // A quote checks the card without its PIN and gets the same plain words.
    Authorizer authorizer(&store(), &number_plan(), &rater_);
    auto unusable = authorizer.reject_unusable_card(card);
    REQUIRE(unusable);
    REQUIRE(unusable->has_value());
    CHECK((*unusable)->reason == RefusalReason::CardLocked);
    CHECK((*unusable)->message == decision.message);
  }
  SECTION("refusal without a staff step") {
    add_prepaid(10'000);
    card.pin = "1111";
    const Authorization decision = authorize(card);
    REQUIRE(decision.reason == RefusalReason::WrongPin);
    CHECK(decision.next_step.kind == relaygw::NextStep::Kind::None);
    CHECK(command_line_message(decision) == decision.message);
  }
}
