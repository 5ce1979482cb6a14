// One rate deck per call: a call is quoted, held, debited and posted with the deck in effect
// when it was requested, which its record names, whatever deck is stored later.
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/deck_cache.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;
using namespace relaygw::billing::testing;

namespace {

constexpr const char* kCard = "5550142000001";
constexpr const char* kPin = "2468";
constexpr const char* kTtyLine = "+13125550107";

Instant at(const std::string& text) { return parse_instant(text).value(); }

// The TOML of a deck with one version in force from `effective` that charges `per_minute` in
// every jurisdiction: a 60 s first block, then per second, rounded up. Calls from Illinois
// that bill an eligible line get a 50% TTY toll discount.
std::string flat_deck_text(const std::string& per_minute,
                           const std::string& effective = "2020-01-01") {
  std::string text = "name = \"flat " + per_minute + "\"\n[[version]]\nname = \"v1\"\neffective = " +
                     effective +
                     "\nrounding = \"up\"\ninitial_seconds = 60\nadditional_seconds = 1\n"
                     "[[version.accessibility.tty_discount]]\nstate = \"IL\"\n"
                     "basis_points = 5000\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"" + per_minute + "\" }\n";
  }
  return text;
}

StoredRateDeck stored_deck(const std::string& text, const std::string& effective_from) {
  StoredRateDeck stored;
  stored.name = "test deck";
  stored.text = text;
  stored.sha256_hex = sha256_hex(text);
  stored.effective_from = effective_from;
  stored.source_path = "flat.toml";
  return stored;
}

class DeckFixture {
 public:
  DeckFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-call-deck-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "billing.db").string(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
  }
  ~DeckFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Stores a flat deck at `per_minute` as `relaygw db load-deck` would, and returns its
  // SHA-256.
  std::string load_deck(const std::string& per_minute,
                        const std::string& effective = "2020-01-01") {
    const StoredRateDeck deck = stored_deck(flat_deck_text(per_minute, effective),
                                            effective);
    REQUIRE(store_->add_rate_deck(deck, WriteContext{"staff:test", at("2026-03-10T12:00:00Z")}));
    return deck.sha256_hex;
  }

  // Adds the TTY-discount-eligible Illinois line that postpaid cards bill.
  void add_tty_line() {
    Line line;
    line.number = kTtyLine;
    line.listing_name = "Alvarez, Rosa";
    line.state = "IL";
    line.rate_center = "CHICAGO";
    line.time_zone = "America/Chicago";
    line.is_tty = true;
    line.tty_discount_eligible = true;
    REQUIRE(store_->append_line(line, 0, "billed line of the postpaid card", staff()));
  }

  void add_card_with(CardFunding funding, Money amount) {
    NewCard card;
    card.number = kCard;
    card.funding = funding;
    card.pin_iterations = 1'000;
    if (funding == CardFunding::Prepaid) {
      card.opening_balance = amount;
    } else {
      card.billed_line = kTtyLine;
      card.credit_limit = amount;
    }
    REQUIRE(add_card(*store_, card, kPin, staff()));
  }

  // Opens card call `id` from Chicago to New York at 14:00:00Z with `rater` as the caller's
  // own deck, and authorizes it with a hold of at most `max_seconds`.
  Authorization open_and_authorize(const std::string& id, const Rater& rater,
                                   std::int64_t max_seconds) {
    const WriteContext context{"gateway", at("2026-03-10T14:00:00Z")};
    CallRequest call;
    call.id = id;
    call.from = "3125550107";
    call.to = "2125550101";
    call.billing = BillingMethod::CallingCard;
    call.card_number = kCard;
    CallRecords records(store_.get(), &rater, &decks_);
    REQUIRE(records.open(call, context));

    AuthorizationRequest request;
    request.call_id = id;
    request.from = call.from;
    request.to = call.to;
    request.billing = BillingMethod::CallingCard;
    request.card_number = kCard;
    request.pin = kPin;
    request.max_call_seconds = max_seconds;
    Authorizer authorizer(store_.get(), &bundled_number_plan(), &rater, &decks_);
    auto decision = authorizer.authorize(request, context);
    REQUIRE(decision);
    REQUIRE(decision->granted);
    REQUIRE(records.record_authorization(id, *decision, context));
    return *decision;
  }

  CallRecord stored_call(const std::string& id) {
    auto record = store_->find_call(id);
    REQUIRE(record);
    REQUIRE(record->has_value());
    return **record;
  }

  static WriteContext staff() { return WriteContext{"staff:test", at("2026-03-10T13:00:00Z")}; }

  std::unique_ptr<SqliteStore> store_;
  RateDeckCache decks_{&bundled_number_plan()};

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(DeckFixture, "card hold priced with call's deck", "[billing][cards][deck]") {
  // The caller read the $0.04 deck, and a $0.08 deck was stored before the call was opened,
  // as when `relaygw db load-deck` runs between the two steps of `relaygw call create`.
  load_deck("0.0400");
  const RateDeck read_before = RateDeck::parse(flat_deck_text("0.0400"), "a.toml").value();
  const Rater rater(&bundled_number_plan(), &read_before);
  const std::string newer = load_deck("0.0800");
  add_card_with(CardFunding::Prepaid, 10'000);  // $1.00

  const Authorization decision = open_and_authorize("call-a", rater, 4 * 3600);

  const CallRecord record = stored_call("call-a");
  REQUIRE(record.request.quote);
  CHECK(record.request.quote->deck_sha256 == newer);
  CHECK(record.request.quote->one_minute == 800);
  // $1.00 at $0.08 a minute pays for 12 min 30 s; at $0.04 it would be 25 min.
  REQUIRE(decision.max_seconds);
  CHECK(*decision.max_seconds == 750);
  CHECK(decision.held == 10'000);
}

TEST_CASE_METHOD(DeckFixture, "open call keeps its deck after a load", "[billing][cards][deck]") {
  const std::string first = load_deck("0.0400");
  const RateDeck current = RateDeck::parse(flat_deck_text("0.0400"), "a.toml").value();
  const Rater rater(&bundled_number_plan(), &current);
  add_card_with(CardFunding::Prepaid, 100'000);  // $10.00
  open_and_authorize("call-a", rater, 4 * 3600);
  CallRecords records(store_.get(), &rater, &decks_);
  REQUIRE(records.add_event(
      "call-a", CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:10Z"), "gateway", {}, {}}));

  // A dearer deck is stored mid-call. The debit and the posting still use the call's deck,
  // even through a rater of the new deck.
  load_deck("0.0800");
  const RateDeck newer = RateDeck::parse(flat_deck_text("0.0800"), "b.toml").value();
  const Rater newer_rater(&bundled_number_plan(), &newer);
  CallRecords later(store_.get(), &newer_rater);
  auto debit = later.interim_debit("call-a", at("2026-03-10T14:05:10Z"), "debit-1",
                                   WriteContext{"gateway", at("2026-03-10T14:05:10Z")});
  REQUIRE(debit);
  CHECK(debit->debited_for_call == 2'000);  // 5 min at $0.04
  auto posting = later.complete(Completion{"call-a", at("2026-03-10T14:10:10Z"), false, "end"},
                                WriteContext{"gateway", at("2026-03-10T14:10:10Z")});
  REQUIRE(posting);
  CHECK(posting->total == 4'000);  // 10 min at $0.04
  CHECK(stored_call("call-a").request.quote->deck_sha256 == first);

  // rerate() is for rating-error credits, so it rates with the caller's (current) deck.
  auto rerated = later.rerate("call-a");
  REQUIRE(rerated);
  CHECK(rerated->total == 8'000);
}

TEST_CASE_METHOD(DeckFixture, "future deck waits for its date", "[billing][deck]") {
  const std::string current = load_deck("0.0400");
  const std::string future = load_deck("0.0800", "2026-04-01");
  const RateDeck latest = RateDeck::parse(flat_deck_text("0.0800", "2026-04-01"),
                                          "b.toml").value();
  const Rater rater(&bundled_number_plan(), &latest);
  CallRecords records(store_.get(), &rater, &decks_);
  CallRequest call;
  call.from = "3125550107";
  call.to = "2125550101";

  // 2026-03-31 at 23:30 in Chicago is still March there, so the current deck quotes it.
  auto march = records.open(call, WriteContext{"gateway", at("2026-04-01T04:30:00Z")});
  REQUIRE(march);
  REQUIRE(march->quote);
  CHECK(march->quote->deck_sha256 == current);
  CHECK(march->quote->one_minute == 400);

  auto april = records.open(call, WriteContext{"gateway", at("2026-04-01T05:30:00Z")});
  REQUIRE(april);
  REQUIRE(april->quote);
  CHECK(april->quote->deck_sha256 == future);
  CHECK(april->quote->one_minute == 800);
}

TEST_CASE_METHOD(DeckFixture, "interim debit carries TTY discount", "[billing][cards][deck]") {
  load_deck("0.0400");
  const RateDeck deck = RateDeck::parse(flat_deck_text("0.0400"), "a.toml").value();
  const Rater rater(&bundled_number_plan(), &deck);
  add_tty_line();
  add_card_with(CardFunding::Postpaid, 100'000);  // $10.00 limit
  const Authorization decision = open_and_authorize("call-a", rater, 4 * 3600);
  CHECK(decision.held > 0);
  CallRecords records(store_.get(), &rater, &decks_);
  REQUIRE(records.add_event(
      "call-a", CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:10Z"), "gateway", {}, {}}));

  // 10 min at $0.04 is $0.40, and the billed line's 50% Illinois TTY discount makes it $0.20.
  auto debit = records.interim_debit("call-a", at("2026-03-10T14:10:10Z"), "debit-1",
                                     WriteContext{"gateway", at("2026-03-10T14:10:10Z")});
  REQUIRE(debit);
  CHECK(debit->debited_for_call == 2'000);
  auto posting = records.complete(Completion{"call-a", at("2026-03-10T14:10:10Z"), false, "end"},
                                  WriteContext{"gateway", at("2026-03-10T14:10:10Z")});
  REQUIRE(posting);
  CHECK(posting->total == 2'000);
  CHECK(store_->card_funds(kCard, "call-a").value().debited_for_call == 2'000);
}

// A rating-error credit compares the posting with the deck in effect on the call's date: a
// correction stored later with the same date counts, a deck that starts later does not.
TEST_CASE_METHOD(DeckFixture, "rerate uses deck in effect on call date", "[billing][deck]") {
  load_deck("0.0400");
  const RateDeck first = RateDeck::parse(flat_deck_text("0.0400"), "a.toml").value();
  const Rater first_rater(&bundled_number_plan(), &first);
  CallRecords records(store_.get(), &first_rater, &decks_);
  CallRequest call;
  call.id = "r1";
  call.from = "3125550107";
  call.to = "2125550101";
  const WriteContext context{"gateway", at("2026-03-10T14:00:00Z")};
  REQUIRE(records.open(call, context));
  Authorizer authorizer(store_.get(), &bundled_number_plan(), &first_rater, &decks_);
  AuthorizationRequest request;
  request.call_id = "r1";
  request.from = call.from;
  request.to = call.to;
  auto decision = authorizer.authorize(request, context);
  REQUIRE(decision);
  REQUIRE(records.record_authorization("r1", *decision, context));
  REQUIRE(records.add_event("r1", CallEventRecord{CallEvent::Connected,
                                                  at("2026-03-10T14:00:10Z"), "gateway", {}, {}}));
  auto posted = records.complete(Completion{"r1", at("2026-03-10T14:02:10Z"), false, "end-r1"},
                                 context);
  REQUIRE(posted);
  CHECK(posted->total == 800);

  // The latest deck starts in April, so the March call is compared with the deck it was
  // billed by, and nothing is owed back.
  load_deck("0.0800", "2026-04-01");
  const RateDeck future = RateDeck::parse(flat_deck_text("0.0800", "2026-04-01"),
                                          "b.toml").value();
  const Rater future_rater(&bundled_number_plan(), &future);
  const CallRecords after_future(store_.get(), &future_rater, &decks_);
  auto rerated = after_future.rerate("r1");
  REQUIRE(rerated);
  CHECK(rerated->total == 800);

  auto named = after_future.rerate_call("r1");
  REQUIRE(named);
  REQUIRE(named->deck);
  CHECK(named->deck->sha256_hex == sha256_hex(flat_deck_text("0.0400")));

  // A correction in effect since 2020, stored later, is what the call should have cost.
  const std::string correction = load_deck("0.0500");
  auto corrected = after_future.rerate("r1");
  REQUIRE(corrected);
  CHECK(corrected->total == 1000);
  auto corrected_named = after_future.rerate_call("r1");
  REQUIRE(corrected_named);
  REQUIRE(corrected_named->deck);
  CHECK(corrected_named->deck->sha256_hex == correction);
  CHECK(corrected_named->deck->effective_from == "2020-01-01");
}

TEST_CASE_METHOD(DeckFixture, "no deck in effect names earliest", "[billing][deck]") {
  load_deck("0.0800", "2026-06-01");
  load_deck("0.0400", "2026-05-01");
  load_deck("0.0900", "2026-07-01");
  auto in_effect = store_->rate_deck_in_effect("2026-03-10");
  REQUIRE(in_effect);
  REQUIRE(in_effect->has_value());
  const relaygw::Status checked = check_deck_in_effect(*store_, **in_effect, "2026-03-10");
  CHECK(checked.code() == relaygw::StatusCode::FailedPrecondition);
  CHECK(checked.message() ==
        "no stored rate deck is in effect on 2026-03-10 (the local date at the calling "
        "number's rate center): the earliest effective date stored is 2026-05-01, of deck "
        "'test deck'; load a deck whose first [[version]] is effective on or before 2026-03-10 "
        "with `relaygw db load-deck`");
  auto on_may_first = store_->rate_deck_in_effect("2026-05-01");
  REQUIRE(on_may_first);
  REQUIRE(on_may_first->has_value());
  CHECK(check_deck_in_effect(*store_, **on_may_first, "2026-05-01").is_ok());

  // A call requested then is not stored, and the newest deck is not blamed.
  const RateDeck deck = RateDeck::parse(flat_deck_text("0.0900", "2026-07-01"), "a.toml").value();
  const Rater rater(&bundled_number_plan(), &deck);
  CallRecords records(store_.get(), &rater, &decks_);
  CallRequest call;
  call.id = "early";
  call.from = "3125550107";
  call.to = "2125550101";
  auto opened = records.open(call, WriteContext{"gateway", at("2026-03-10T14:00:00Z")});
  REQUIRE_FALSE(opened);
  CHECK(opened.status().message().find("no stored rate deck is in effect on 2026-03-10") !=
        std::string::npos);
  CHECK(opened.status().message().find("has no version in force") == std::string::npos);
  CHECK_FALSE(store_->find_call("early").value().has_value());
}

// The deck with the latest effective date on or before the day wins, whatever order the decks
// were stored in, and a deck stored again with an earlier date does not replace it.
TEST_CASE_METHOD(DeckFixture, "old deck stored again stays superseded", "[billing][deck]") {
  const std::string january = load_deck("0.0400", "2026-01-01");
  const std::string march = load_deck("0.0800", "2026-03-01");
  const std::string january_again = load_deck("0.0500", "2026-01-01");

  auto on_april = store_->rate_deck_in_effect("2026-04-15");
  REQUIRE(on_april);
  REQUIRE(on_april->has_value());
  CHECK((*on_april)->sha256_hex == march);
  // Before March the January date applies, and of the two January decks the one stored
  // later is the correction.
  auto on_february = store_->rate_deck_in_effect("2026-02-15");
  REQUIRE(on_february);
  REQUIRE(on_february->has_value());
  CHECK((*on_february)->sha256_hex == january_again);
  CHECK((*on_february)->sha256_hex != january);
  // On the effective date itself the new deck is in effect.
  auto on_march_first = store_->rate_deck_in_effect("2026-03-01");
  REQUIRE(on_march_first);
  REQUIRE(on_march_first->has_value());
  CHECK((*on_march_first)->sha256_hex == march);
}

TEST_CASE_METHOD(DeckFixture, "correction with the same date wins", "[billing][deck]") {
  load_deck("0.0400", "2026-03-01");
  const std::string correction = load_deck("0.0450", "2026-03-01");
  auto in_effect = store_->rate_deck_in_effect("2026-03-10");
  REQUIRE(in_effect);
  REQUIRE(in_effect->has_value());
  CHECK((*in_effect)->sha256_hex == correction);
}

TEST_CASE_METHOD(DeckFixture, "deck with no date counts as earliest", "[billing][deck]") {
  const std::string dated = load_deck("0.0400", "2026-01-01");
  // A deck stored with no effective date, as decks stored before dates were recorded are.
  const StoredRateDeck undated = stored_deck(flat_deck_text("0.0900"), "");
  REQUIRE(store_->add_rate_deck(undated, staff()));
  auto in_effect = store_->rate_deck_in_effect("2026-03-10");
  REQUIRE(in_effect);
  REQUIRE(in_effect->has_value());
  CHECK((*in_effect)->sha256_hex == dated);
  auto before_dated = store_->rate_deck_in_effect("2025-12-31");
  REQUIRE(before_dated);
  REQUIRE(before_dated->has_value());
  CHECK((*before_dated)->sha256_hex == undated.sha256_hex);
}

TEST_CASE_METHOD(DeckFixture, "every deck later picks last stored", "[billing][deck]") {
  load_deck("0.0800", "2026-06-01");
  const std::string last = load_deck("0.0400", "2026-05-01");
  auto in_effect = store_->rate_deck_in_effect("2026-03-10");
  REQUIRE(in_effect);
  REQUIRE(in_effect->has_value());
  CHECK((*in_effect)->sha256_hex == last);

  auto listed = store_->list_rate_decks();
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].effective_from == "2026-06-01");
  CHECK((*listed)[1].sha256_hex == last);
  CHECK((*listed)[0].seq < (*listed)[1].seq);
}

// A call opened in April after the January deck was stored again is still quoted with the
// March deck.
TEST_CASE_METHOD(DeckFixture, "call quoted with latest dated deck", "[billing][deck]") {
  load_deck("0.0400", "2026-01-01");
  const std::string march = load_deck("0.0800", "2026-03-01");
  load_deck("0.0500", "2026-01-01");
  const RateDeck deck = RateDeck::parse(flat_deck_text("0.0500", "2026-01-01"), "a.toml").value();
  const Rater rater(&bundled_number_plan(), &deck);
  CallRecords records(store_.get(), &rater, &decks_);
  CallRequest call;
  call.from = "3125550107";
  call.to = "2125550101";
  auto opened = records.open(call, WriteContext{"gateway", at("2026-04-01T15:00:00Z")});
  REQUIRE(opened);
  REQUIRE(opened->quote);
  CHECK(opened->quote->deck_sha256 == march);
  CHECK(opened->quote->one_minute == 800);
}

// Loading more decks than the cache keeps leaves its size at the bound, and each deck still
// rates with its own prices, parsed again after it was evicted.
TEST_CASE_METHOD(DeckFixture, "deck cache evicts least recently used", "[billing][deck]") {
  const std::vector<std::string> rates = {"0.0100", "0.0200", "0.0300", "0.0400", "0.0500"};
  std::vector<std::string> shas;
  for (const std::string& rate : rates) {
    shas.push_back(load_deck(rate));
  }
  RateDeckCache cache(&bundled_number_plan(), 2);
  CallToRate call;
  call.from = "3125550107";
  call.to = "2125550101";
  call.start = at("2026-03-10T14:00:00Z");
  call.billable_seconds = 60;
  // Two passes, so that the second one rates with decks parsed again after eviction.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < shas.size(); ++i) {
      auto rater = cache.rater(*store_, shas[i]);
      REQUIRE(rater);
      auto rated = (*rater)->rate(call);
      REQUIRE(rated);
      INFO("pass " << pass << " deck " << rates[i]);
      CHECK(rated->total == static_cast<Money>((i + 1) * 100));
      CHECK(cache.size() <= 2);
    }
  }
  CHECK(cache.size() == 2);
  CHECK(cache.find(shas[0]) == nullptr);
  CHECK(cache.find(shas[4]) != nullptr);
}

TEST_CASE_METHOD(DeckFixture, "deck cache keeps recently used deck", "[billing][deck]") {
  const std::string first = load_deck("0.0100");
  const std::string second = load_deck("0.0200");
  const std::string third = load_deck("0.0300");
  RateDeckCache cache(&bundled_number_plan(), 2);
  REQUIRE(cache.rater(*store_, first));
  REQUIRE(cache.rater(*store_, second));
  // Using the first deck again makes the second one the least recently used.
  REQUIRE(cache.find(first) != nullptr);
  REQUIRE(cache.rater(*store_, third));
  CHECK(cache.find(first) != nullptr);
  CHECK(cache.find(second) == nullptr);
}

// A Rater kept through share() outlives its eviction, as the gateway's deck for new calls does.
TEST_CASE_METHOD(DeckFixture, "shared deck rater survives eviction", "[billing][deck]") {
  const std::string first = load_deck("0.0100");
  const std::string second = load_deck("0.0200");
  RateDeckCache cache(&bundled_number_plan(), 1);
  REQUIRE(cache.rater(*store_, first));
  const std::shared_ptr<const Rater> kept = cache.share(first);
  REQUIRE(kept != nullptr);
  REQUIRE(cache.rater(*store_, second));
  REQUIRE(cache.find(first) == nullptr);
  CallToRate call;
  call.from = "3125550107";
  call.to = "2125550101";
  call.start = at("2026-03-10T14:00:00Z");
  call.billable_seconds = 60;
  auto rated = kept->rate(call);
  REQUIRE(rated);
  CHECK(rated->total == 100);
  CHECK(cache.share(first) == nullptr);
}

// The cache may build a deck's Rater over the deck of a `known` Rater of its own, which must
// stay alive after the cache evicts the entry that owned it.
TEST_CASE_METHOD(DeckFixture, "deck rated through known survives eviction", "[billing][deck]") {
  // Two stored decks with the same text under different keys, as a folder deck and a file
  // deck of the same merged text are stored.
  const std::string text = flat_deck_text("0.0100");
  const std::string first = load_deck("0.0100");
  StoredRateDeck copy = stored_deck(text, "2020-01-01");
  copy.sha256_hex = sha256_hex("manifest of the same deck\n");
  REQUIRE(store_->add_rate_deck(copy, staff()));
  const std::string other = load_deck("0.0200");

  RateDeckCache cache(&bundled_number_plan(), 1);
  auto known = cache.rater(*store_, first);
  REQUIRE(known);
  // With room for one deck, adding the copy evicts the first deck, whose parsed text the
  // copy's Rater uses.
  auto same_text = cache.rater(*store_, copy.sha256_hex, *known);
  REQUIRE(same_text);
  CHECK(cache.find(first) == nullptr);
  const std::shared_ptr<const Rater> kept_copy = cache.share(copy.sha256_hex);
  REQUIRE(kept_copy != nullptr);
  CHECK(kept_copy->deck() == (*known)->deck());
  REQUIRE(cache.rater(*store_, other));
  CallToRate call;
  call.from = "3125550107";
  call.to = "2125550101";
  call.start = at("2026-03-10T14:00:00Z");
  call.billable_seconds = 60;
  auto rated = kept_copy->rate(call);
  REQUIRE(rated);
  CHECK(rated->total == 100);
  CHECK(kept_copy->deck()->name() == "flat 0.0100");
}
