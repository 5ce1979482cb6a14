// Billing field cases: authorization against the minimum first block, unanswered calls,
// interim debits with a replayed hangup, and emergency calls that skip every billing check.
// Amounts are in units of 1/10,000 dollar.
#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::StatusCode;

namespace {

constexpr const char* kCard = "5550142000042";
constexpr const char* kPin = "13579";

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

// One price at all times; `billing` sets increments and rounding, `extra` goes in every rate.
RateDeck flat_deck(const std::string& per_minute, const std::string& billing,
                   const std::string& extra = "") {
  std::string text =
      "name = \"billing field cases\"\n[[version]]\nname = \"v1\"\n"
      "effective = 2020-01-01\n" +
      billing + "\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"" + per_minute + "\" }\n" + extra;
  }
  auto deck = RateDeck::parse(text, "billing-field-cases.toml");
  if (!deck) {
    FAIL(deck.status().message());
  }
  return std::move(deck).value();
}

Instant at(const std::string& text) { return parse_instant(text).value(); }

Instant plus(Instant start, std::int64_t seconds) { return start + std::chrono::seconds(seconds); }

class BillingCase {
 public:
  explicit BillingCase(RateDeck deck) : deck_(std::move(deck)), rater_(&number_plan(), &deck_) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-billing-case-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open(path(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
  }
  ~BillingCase() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path() const { return (dir_ / "case.db").string(); }
  SqliteStore& store() { return *store_; }
  CallRecords calls() { return CallRecords(store_.get(), &rater_); }
  void add_prepaid(Money balance) {
    NewCard card;
    card.number = kCard;
    card.opening_balance = balance;
    card.pin_iterations = 1'000;
    REQUIRE(add_card(*store_, card, kPin, WriteContext{"staff:test", at("2026-01-01T00:00:00Z")}));
  }
  Money balance() { return store_->card_funds(kCard, "").value().balance; }
  Money available() { return store_->card_funds(kCard, "").value().available; }

  // Opens, authorizes and (when granted) connects a card call at `start`.
  std::pair<std::string, Authorization> card_call(Instant start) {
    CallRequest request;
    request.from = "3125550107";
    request.to = "2125550142";
    request.billing = BillingMethod::CallingCard;
    request.card_number = kCard;
    const WriteContext context{"gateway", start};
    auto opened = calls().open(request, context);
    REQUIRE(opened);
    AuthorizationRequest auth;
    auth.call_id = opened->id;
    auth.from = request.from;
    auth.to = request.to;
    auth.billing = request.billing;
    auth.card_number = kCard;
    auth.pin = kPin;
    auto decision = Authorizer(store_.get(), &number_plan(), &rater_).authorize(auth, context);
    REQUIRE(decision);
    REQUIRE(calls().record_authorization(opened->id, *decision, context));
    if (decision->granted) {
      REQUIRE(calls().add_event(opened->id,
                                CallEventRecord{CallEvent::Connected, start, "gateway", {}, {}}));
    }
    return {opened->id, *decision};
  }
  std::string query(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path().c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }

 private:
  RateDeck deck_;
  Rater rater_;
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

// $0.0400/min: a 60 s first block (400 u), then per second, rounded up to cents.
RateDeck case5_deck() {
  return flat_deck("0.0400", "rounding = \"up\"\ninitial_seconds = 60\nadditional_seconds = 1");
}

}  // namespace

TEST_CASE("card balance below first block refused", "[billing][field][case5]") {
  for (Money balance : {Money{0}, Money{100}, Money{399}}) {
    INFO("balance " << balance);
    BillingCase world(case5_deck());
    world.add_prepaid(balance);
    auto [id, decision] = world.card_call(at("2025-12-10T14:00:00Z"));
    CHECK_FALSE(decision.granted);
    CHECK(decision.reason == RefusalReason::InsufficientFunds);
    CHECK(decision.message.find("less than the $0.04 first block") != std::string::npos);
    // The message is stored and sent to providers, so it names the top-up in plain words,
    // and only the command line names the command.
    CHECK(decision.message.find("ask relay center staff to add funds") != std::string::npos);
    CHECK(decision.message.find("relaygw") == std::string::npos);
    CHECK(command_line_message(decision).find("relaygw card fund") != std::string::npos);
    CHECK(decision.message.find(kCard) == std::string::npos);
    CHECK(world.balance() == balance);
    CHECK(world.available() == balance);
    // A refused call that is hung up bills nothing.
    auto posting =
        world.calls().complete(Completion{id, at("2025-12-10T14:00:05Z"), false, "end-" + id},
                               WriteContext{"gateway", at("2025-12-10T14:00:05Z")});
    REQUIRE(posting);
    CHECK(posting->total == 0);
    CHECK(world.balance() == balance);
  }
}

TEST_CASE("card balance grants time it covers", "[billing][field][case5]") {
  // Balance, the longest call it pays for, and the balance after a call cut at that length.
  const std::vector<std::pair<Money, std::int64_t>> cases = {
      {400, 60}, {600, 90}, {1'000, 150}, {605, 90}};
  for (const auto& [opening, seconds] : cases) {
    INFO("balance " << opening);
    BillingCase world(case5_deck());
    world.add_prepaid(opening);
    const Instant start = at("2025-12-10T14:00:00Z");
    auto [id, decision] = world.card_call(start);
    REQUIRE(decision.granted);
    REQUIRE(decision.max_seconds);
    CHECK(*decision.max_seconds == seconds);
    CHECK(world.available() == opening - decision.held);

    auto posting = world.calls().complete(Completion{id, plus(start, seconds), false, "end-1"},
                                          WriteContext{"gateway", plus(start, seconds)});
    REQUIRE(posting);
    CHECK(posting->total == decision.held);
    CHECK(world.balance() == opening - posting->total);
    CHECK(world.balance() >= 0);
    CHECK(world.available() == world.balance());
  }
}

TEST_CASE("card call ended early releases hold", "[billing][field][case5]") {
  BillingCase world(case5_deck());
  world.add_prepaid(600);
  const Instant start = at("2025-12-10T14:00:00Z");
  auto [id, decision] = world.card_call(start);
  REQUIRE(decision.granted);
  CHECK(decision.held == 600);
  // A 20 s call still pays the 60 s first block, and the rest of the hold comes back.
  auto posting = world.calls().complete(Completion{id, plus(start, 20), false, "end-1"},
                                        WriteContext{"gateway", plus(start, 20)});
  REQUIRE(posting);
  CHECK(posting->total == 400);
  CHECK(world.balance() == 200);
  CHECK(world.available() == 200);
}

TEST_CASE("unanswered call bills nothing", "[billing][field][case6]") {
  // Collect at $0.2500/min with a $0.1000 connect fee.
  BillingCase world(flat_deck("0.2500", "", "connect = \"0.1000\"\n"));
  CallRequest request;
  request.from = "3125550107";
  request.to = "2125550101";
  request.billing = BillingMethod::Collect;
  const Instant setup = at("2026-03-10T14:00:00Z");

  SECTION("never answered") {
    auto opened = world.calls().open(request, WriteContext{"gateway", setup});
    REQUIRE(opened);
    REQUIRE(world.calls().add_event(
        opened->id, CallEventRecord{CallEvent::Authorized, setup, "gateway", {}, {}}));
    auto posting =
        world.calls().complete(Completion{opened->id, at("2026-03-10T14:00:03Z"), false, "k6"},
                               WriteContext{"gateway", at("2026-03-10T14:00:03Z")});
    REQUIRE(posting);
    CHECK(posting->total == 0);
    CHECK(posting->lines.empty());
    REQUIRE(posting->billable_seconds);
    CHECK(*posting->billable_seconds == 0);

    auto record = world.store().find_call(opened->id);
    REQUIRE(record->has_value());
    const CallDurations durations = call_durations(**record);
    REQUIRE(durations.session_seconds);
    CHECK(*durations.session_seconds == 3);
    CHECK_FALSE(durations.conversation_seconds);  // "none", not 0 and not negative
    CHECK_FALSE(durations.answered);
    CHECK_FALSE(event_time(**record, CallEvent::Connected));
    // Nothing stored is negative or at the epoch.
    CHECK(world.query("SELECT COUNT(*) FROM call_events WHERE at < '2000'") == "0");
    CHECK(world.query("SELECT COUNT(*) FROM call_events WHERE event = 'connected'") == "0");
    CHECK(world.query("SELECT COUNT(*) FROM call_postings WHERE total < 0 OR "
                      "billable_seconds < 0") == "0");
    CHECK(world.query("SELECT session_seconds FROM call_postings") == "3");
    CHECK(world.query("SELECT COUNT(*) FROM call_postings WHERE conversation_seconds IS NULL") ==
          "1");
  }
  SECTION("answered but never accepted") {
    auto opened = world.calls().open(request, WriteContext{"gateway", setup});
    REQUIRE(opened);
    REQUIRE(world.calls().add_event(
        opened->id, CallEventRecord{CallEvent::Authorized, setup, "gateway", {}, {}}));
    REQUIRE(world.calls().add_event(
        opened->id,
        CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:02Z"), "gateway", {}, {}}));
    auto posting =
        world.calls().complete(Completion{opened->id, at("2026-03-10T14:00:40Z"), false, "k6b"},
                               WriteContext{"gateway", at("2026-03-10T14:00:40Z")});
    REQUIRE(posting);
    CHECK(posting->total == 0);
  }
  SECTION("sent-paid never answered") {
    request.billing = BillingMethod::SentPaid;
    auto opened = world.calls().open(request, WriteContext{"gateway", setup});
    REQUIRE(opened);
    REQUIRE(world.calls().add_event(
        opened->id, CallEventRecord{CallEvent::Authorized, setup, "gateway", {}, {}}));
    auto posting =
        world.calls().complete(Completion{opened->id, at("2026-03-10T14:00:03Z"), false, "k6c"},
                               WriteContext{"gateway", at("2026-03-10T14:00:03Z")});
    REQUIRE(posting);
    CHECK(posting->total == 0);
  }
  SECTION("disconnect before request is rejected") {
    auto opened = world.calls().open(request, WriteContext{"gateway", setup});
    REQUIRE(opened);
    auto posting =
        world.calls().complete(Completion{opened->id, at("2026-03-10T13:59:57Z"), false, "k6d"},
                               WriteContext{"gateway", at("2026-03-10T13:59:57Z")});
    REQUIRE_FALSE(posting);
    CHECK(posting.status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("interim debits then one settlement", "[billing][field][case7]") {
  // $1.0000 a second, billed per second.
  BillingCase world(flat_deck("60.0000", "initial_seconds = 1\nadditional_seconds = 1"));
  world.add_prepaid(1'000'000);
  const Instant start = at("2026-03-10T14:00:00Z");
  auto [id, decision] = world.card_call(start);
  REQUIRE(decision.granted);
  CHECK(*decision.max_seconds == 100);

  for (int elapsed = 10; elapsed <= 100; elapsed += 10) {
    const Instant now = plus(start, elapsed);
    auto funds = world.calls().interim_debit(id, now, "interim-" + std::to_string(elapsed),
                                             WriteContext{"gateway", now});
    REQUIRE(funds);
    CHECK(funds->balance == 1'000'000 - elapsed * 10'000);
  }
  // A retried interim debit changes nothing.
  REQUIRE(world.calls().interim_debit(id, plus(start, 50), "interim-50",
                                      WriteContext{"gateway", plus(start, 50)}));
  CHECK(world.balance() == 0);

  const Completion hangup{id, plus(start, 100), false, "hangup-" + id};
  auto posting = world.calls().complete(hangup, WriteContext{"gateway", plus(start, 100)});
  REQUIRE(posting);
  CHECK(posting->total == 1'000'000);
  CHECK(world.balance() == 0);
  CHECK(world.available() == 0);

  // The end-of-call event is delivered again with the same key.
  auto replay = world.calls().complete(hangup, WriteContext{"gateway", plus(start, 101)});
  REQUIRE(replay);
  CHECK(replay->total == 1'000'000);
  CHECK(world.balance() == 0);
  CHECK(world.query("SELECT COUNT(*) FROM call_postings") == "1");
  CHECK(world.query("SELECT -SUM(amount) FROM card_ledger WHERE kind = 'debit'") == "1000000");

  // An interim debit that arrives after the settlement is refused and changes nothing.
  auto late = world.calls().interim_debit(id, plus(start, 120), "interim-late",
                                          WriteContext{"gateway", plus(start, 120)});
  REQUIRE_FALSE(late);
  CHECK(late.status().code() == relaygw::StatusCode::FailedPrecondition);
  CHECK(world.query("SELECT -SUM(amount) FROM card_ledger WHERE kind = 'debit'") == "1000000");
}

TEST_CASE("settlement debits only the rest", "[billing][field][case7]") {
  BillingCase world(flat_deck("60.0000", "initial_seconds = 1\nadditional_seconds = 1"));
  world.add_prepaid(1'000'000);
  const Instant start = at("2026-03-10T14:00:00Z");
  auto [id, decision] = world.card_call(start);
  REQUIRE(decision.granted);
  // Interim debits reach 40 s; the call ends at 45 s, so settlement debits 5 s.
  for (int elapsed = 10; elapsed <= 40; elapsed += 10) {
    REQUIRE(world.calls().interim_debit(id, plus(start, elapsed), "i" + std::to_string(elapsed),
                                        WriteContext{"gateway", plus(start, elapsed)}));
  }
  CHECK(world.balance() == 600'000);
  auto posting = world.calls().complete(Completion{id, plus(start, 45), false, "end"},
                                        WriteContext{"gateway", plus(start, 45)});
  REQUIRE(posting);
  CHECK(posting->total == 450'000);
  CHECK(world.balance() == 550'000);
  CHECK(world.available() == 550'000);
  CHECK(world.query("SELECT -amount FROM card_ledger WHERE kind = 'debit' ORDER BY seq DESC "
                    "LIMIT 1") == "50000");
}

TEST_CASE("emergency skips every billing check", "[billing][field][case8]") {
  BillingCase world(case5_deck());
  world.add_prepaid(0);
  const Instant start = at("2026-03-10T14:00:00Z");
  const WriteContext context{"adapter:tty0", start};

  SECTION("balance zero, negative or card locked") {
    // -$5.0000 balance, then a locked (suspended) card: each with the call to 911.
    REQUIRE(world.store().append_ledger(kCard, {{LedgerKind::Debit, -50'000, ""}}, false,
                                        std::nullopt, context));
    CHECK(world.balance() == -50'000);
    for (int attempt = 0; attempt < 3; ++attempt) {
      (void)check_card_pin(world.store(), kCard, "00000", context);
    }
    REQUIRE(world.store().find_card(kCard)->value().status == CardStatus::Locked);
    const std::string audit_before = world.query("SELECT COUNT(*) FROM audit_log");

    Rater rater(&number_plan(), nullptr);  // rate deck unavailable
    Authorizer authorizer(&world.store(), &number_plan(), &rater);
    AuthorizationRequest request;
    request.from = "3125550107";
    request.to = "911";
    request.access = AccessTag::RelayTty;
    request.billing = BillingMethod::CallingCard;
    request.card_number = kCard;
    request.pin = "00000";
    auto decision = authorizer.authorize(request, context);
    REQUIRE(decision);
    CHECK(decision->granted);
    CHECK(decision->emergency);
    // No PIN check, hold or lookup was written.
    CHECK(world.query("SELECT COUNT(*) FROM audit_log") == audit_before);

    CallRequest call;
    call.from = "3125550107";
    call.to = "911";
    call.access = AccessTag::RelayTty;
    call.billing = BillingMethod::CallingCard;
    call.card_number = kCard;
    call.emergency = true;
    CallRecords records(&world.store(), &rater);
    auto opened = records.open(call, context);
    REQUIRE(opened);
    REQUIRE(records.record_authorization(opened->id, *decision, context));
    REQUIRE(records.add_event(
        opened->id, CallEventRecord{CallEvent::Connected, start, "adapter:tty0", {}, {}}));
    auto posting = records.complete(Completion{opened->id, plus(start, 600), false, "e1"},
                                    WriteContext{"adapter:tty0", plus(start, 600)});
    REQUIRE(posting);
    CHECK(posting->total == 0);
    CHECK(world.balance() == -50'000);
    CHECK(world.store().find_card(kCard)->value().status == CardStatus::Locked);
    auto stored = world.store().find_call(opened->id);
    REQUIRE(stored->has_value());
    CHECK((*stored)->request.emergency);
  }
  SECTION("database down") {
    const Authorizer authorizer(nullptr, nullptr, nullptr);
    for (const char* dialed : {"911", "1-911", "+1911"}) {
      INFO("dialed " << dialed);
      AuthorizationRequest request;
      request.from = "3125550107";
      request.to = dialed;
      request.access = AccessTag::RelayTty;
      auto decision = authorizer.authorize(request, context);
      REQUIRE(decision);
      CHECK(decision->granted);
      CHECK(decision->emergency);
    }
  }
}

TEST_CASE("concurrent hangup deliveries post once", "[billing][field][case7]") {
  BillingCase world(flat_deck("60.0000", "initial_seconds = 1\nadditional_seconds = 1"));
  world.add_prepaid(1'000'000);
  const Instant start = at("2026-03-10T14:00:00Z");
  auto [id, decision] = world.card_call(start);
  REQUIRE(decision.granted);
  const RateDeck deck = flat_deck("60.0000", "initial_seconds = 1\nadditional_seconds = 1");
  const Rater rater(&number_plan(), &deck);

  // The same end-of-call event arrives on four connections at once.
  std::atomic<int> posted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto own = SqliteStore::open(world.path());
      if (!own) {
        return;
      }
      CallRecords records(own->get(), &rater);
      auto posting = records.complete(Completion{id, plus(start, 30), false, "hangup"},
                                      WriteContext{"gateway", plus(start, 30)});
      if (posting && posting->total == 300'000) {
        ++posted;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  CHECK(posted == 4);
  CHECK(world.balance() == 700'000);
  CHECK(world.available() == 700'000);
  CHECK(world.query("SELECT COUNT(*) FROM call_postings") == "1");
  CHECK(world.query("SELECT COUNT(*) FROM call_events WHERE event = 'disconnected'") == "1");
  CHECK(world.query("SELECT COUNT(*) FROM card_ledger WHERE kind = 'debit'") == "1");
}
