// Calling plan advice over a real SQLite file, the bundled example deck and the NANP data.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "billing/credits.hpp"
#include "billing/directory.hpp"
#include "billing/plans.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;

namespace {

class PlansFixture {
 public:
  PlansFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-plans-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto store = SqliteStore::open((dir_ / "plans.db").string(), options);
    REQUIRE(store);
    store_ = std::move(store).value();
    auto plan = NumberPlan::load(std::string(RELAYGW_SOURCE_DIR) + "/data");
    REQUIRE(plan);
    plan_ = std::make_unique<NumberPlan>(std::move(plan).value());
    auto deck = RateDeck::load(std::string(RELAYGW_SOURCE_DIR) + "/data/rates");
    REQUIRE(deck);
    deck_ = std::make_unique<RateDeck>(std::move(deck).value());
    rater_ = std::make_unique<Rater>(plan_.get(), deck_.get());

    Line line;
    line.number = "+13125550107";
    line.listing_name = "Grace Hopper";
    line.state = "IL";
    line.rate_center = "Chicago, IL";
    line.time_zone = "America/Chicago";
    REQUIRE(add_line(*store_, line, {"staff:test", instant("2026-01-01T00:00:00Z")}));
  }
  ~PlansFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  static Instant instant(const std::string& text) { return parse_instant(text).value(); }

  // Posts `count` sent-paid interstate calls of `seconds` each, one a day from 2026-03-01,
  // charged at the deck rates. Returns the sum of their posted totals.
  Money post_calls(int count, std::int64_t seconds) {
    std::vector<Store::BatchPosting> batch;
    Money posted = 0;
    for (int i = 0; i < count; ++i) {
      Store::BatchPosting item;
      item.request.id = "call-" + std::to_string(i);
      item.request.from = "+13125550107";
      item.request.to = "+12125550101";
      const Instant requested = instant("2026-03-01T15:00:00Z") + std::chrono::hours(24 * (i % 28));
      const Instant connected = requested + std::chrono::seconds(10);
      item.events = {
          {CallEvent::Requested, requested, "gateway", {}, {}},
          {CallEvent::Connected, connected, "gateway", {}, {}},
          {CallEvent::Disconnected, connected + std::chrono::seconds(seconds), "gateway", {}, {}}};
      CallToRate call;
      call.from = item.request.from;
      call.to = item.request.to;
      call.start = connected;
      call.billable_seconds = seconds;
      auto rated = rater_->rate(call);
      REQUIRE(rated);
      item.posting.call_id = item.request.id;
      item.posting.conversation_seconds = seconds;
      item.posting.billable_seconds = rated->billed_seconds;
      for (const ChargeLine& line : rated->lines) {
        item.posting.lines.push_back(
            {std::string(to_string(line.kind)), line.description, line.amount});
      }
      item.posting.total = rated->total;
      posted += rated->total;
      item.key = IdempotencyKey{"key-" + item.request.id, item.request.id};
      batch.push_back(item);
    }
    REQUIRE(store_->post_completed_calls(batch, {"gateway", instant("2026-03-31T00:00:00Z")}));
    return posted;
  }

  // Requests a credit of `amount` (all that is left when nullopt) on line `line_no` of
  // `call_id`. `approval_above` 0 leaves it pending; nullopt applies it at once.
  CreditRecord credit(const std::string& id, const std::string& call_id, std::int64_t line_no,
                      std::optional<Money> amount, std::optional<Money> approval_above) {
    CreditRequest request;
    request.id = id;
    request.call_id = call_id;
    request.line_no = line_no;
    request.reason = CreditReason::BadConnection;
    request.amount = amount;
    request.approval_above = approval_above;
    auto credited = store_->request_credit(request, IdempotencyKey{"credit-" + id, id},
                                           {"staff:test", instant("2026-03-31T12:00:00Z")});
    REQUIRE(credited);
    return *credited;
  }

  // Credits every charged line of `call_id` in full, as for a misdial. Returns the total.
  Money credit_in_full(const std::string& call_id) {
    auto call = store_->find_call(call_id);
    REQUIRE(call);
    REQUIRE(call->has_value());
    REQUIRE((*call)->posting);
    Money credited = 0;
    for (std::size_t i = 0; i < (*call)->posting->lines.size(); ++i) {
      if ((*call)->posting->lines[i].amount <= 0) {
        continue;
      }
      credited += credit(call_id + "-line-" + std::to_string(i + 1), call_id,
                         static_cast<std::int64_t>(i + 1), std::nullopt, std::nullopt)
                      .amount;
    }
    return credited;
  }

  SqliteStore& store() { return *store_; }

  relaygw::Result<PlanAdvice> advise() {
    return advise_plans(*store_, *rater_, *deck_, "312-555-0107", instant("2026-04-01T00:00:00Z"));
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<NumberPlan> plan_;
  std::unique_ptr<RateDeck> deck_;
  std::unique_ptr<Rater> rater_;
};

const PlanOption* find_option(const PlanAdvice& advice, const std::string& plan,
                              BillingMethod billing) {
  for (const PlanOption& option : advice.options) {
    if (option.plan == plan && option.billing == billing) {
      return &option;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("plans advice picks flat rate for heavy use", "[billing][plans]") {
  PlansFixture fixture;
  // 2,400 interstate minutes: Relay Saver bills 1,500 of them at 0.05 (75.00) on top of its
  // 29.97 in fees, more than Unlimited's 74.97 in fees.
  const Money posted = fixture.post_calls(80, 1800);
  auto advice = fixture.advise();
  REQUIRE(advice);
  CHECK(advice->calls == 80);
  CHECK(advice->billed_minutes == 2400);
  CHECK(advice->actual == posted);
  REQUIRE(advice->options.size() == 12);  // (no plan + 2 plans) x 4 payment methods

  // Paying deck rates with the payment method the calls used costs what was posted.
  const PlanOption* per_call = find_option(*advice, "no plan", BillingMethod::SentPaid);
  REQUIRE(per_call != nullptr);
  CHECK(per_call->total == posted);

  const PlanOption& best = advice->options.front();
  CHECK(best.plan == "Unlimited Nationwide");
  CHECK(best.billing == BillingMethod::SentPaid);
  CHECK(best.monthly_fees == 3 * 249'900);  // 24.99 a month for three months
  for (const PlanOption& option : advice->options) {
    CHECK(best.total <= option.total);
  }
  CHECK(advice->saving == posted - best.total);
  CHECK(advice->saving > 0);

  // Relay Saver covers 900 minutes over three months and bills the other 1,500 at 0.05.
  const PlanOption* saver = find_option(*advice, "Relay Saver 300", BillingMethod::SentPaid);
  REQUIRE(saver != nullptr);
  CHECK(saver->monthly_fees == 3 * 99'900);
  CHECK(saver->total > best.total);
  CHECK(saver->total < per_call->total);
}

TEST_CASE("plans advice keeps light use per call", "[billing][plans]") {
  PlansFixture fixture;
  const Money posted = fixture.post_calls(2, 120);
  auto advice = fixture.advise();
  REQUIRE(advice);
  CHECK(advice->calls == 2);
  const PlanOption& best = advice->options.front();
  CHECK(best.plan == "no plan");
  CHECK(best.billing == BillingMethod::SentPaid);
  CHECK(best.total == posted);
  CHECK(advice->saving == 0);
}

TEST_CASE("plans advice nets applied credits", "[billing][plans]") {
  PlansFixture fixture;
  const Money posted = fixture.post_calls(3, 120);
  // call-0 was a misdial credited in full; call-1 got part of its usage back.
  const Money misdial = fixture.credit_in_full("call-0");
  REQUIRE(misdial > 0);
  const CreditRecord partial = fixture.credit("partial", "call-1", 1, 1'000, std::nullopt);
  REQUIRE(partial.state == CreditState::Applied);
  // Pending and rejected credits are not money returned to the line.
  const CreditRecord pending = fixture.credit("pending", "call-2", 1, 500, Money{0});
  REQUIRE(pending.state == CreditState::Pending);
  const CreditRecord refused = fixture.credit("refused", "call-2", 1, 500, Money{0});
  auto rejected = fixture.store().decide_credit(refused.id, false, "not a bad connection",
                                                {"staff:supervisor", refused.at});
  REQUIRE(rejected);
  REQUIRE(rejected->state == CreditState::Rejected);

  auto advice = fixture.advise();
  REQUIRE(advice);
  CHECK(advice->calls == 3);
  CHECK(advice->posted == posted);
  CHECK(advice->credits == misdial + 1'000);
  CHECK(advice->actual == posted - misdial - 1'000);

  // Deck rates with the payment method the calls used cost what the line paid, net.
  const PlanOption* per_call = find_option(*advice, "no plan", BillingMethod::SentPaid);
  REQUIRE(per_call != nullptr);
  CHECK(per_call->total == advice->actual);
  CHECK(advice->options.front().total == advice->actual);
  CHECK(advice->saving == 0);
}

TEST_CASE("plans advice without calls", "[billing][plans]") {
  PlansFixture fixture;
  auto advice = fixture.advise();
  REQUIRE(advice);
  CHECK(advice->calls == 0);
  CHECK(advice->options.front().plan == "no plan");
  CHECK(advice->options.front().total == 0);
  CHECK(advice->saving == 0);
}

TEST_CASE("rate deck reads calling plans", "[billing][plans][rate_deck]") {
  auto deck = RateDeck::load(std::string(RELAYGW_SOURCE_DIR) + "/data/rates");
  REQUIRE(deck);
  const RateDeckVersion* version = deck->version_for({2026, 3, 1});
  REQUIRE(version != nullptr);
  REQUIRE(version->plans.size() == 2);
  CHECK(version->plans[0].name == "Relay Saver 300");
  CHECK(version->plans[0].monthly_fee == 99'900);
  CHECK(version->plans[0].included_minutes == 300);
  CHECK(version->plans[1].tty_discount == false);

  const std::string bad = R"toml(
[[version]]
name = "bad"
effective = 2026-01-01
[[version.rate]]
jurisdiction = "interstate"
per_minute = { night = "0.1000" }
[[version.plan]]
name = "Broken"
per_minute = { galactic = "0.0100" }
)toml";
  auto parsed = RateDeck::parse(bad, "bad.toml");
  REQUIRE_FALSE(parsed);
  CHECK(parsed.status().message().find("version.plan.per_minute.galactic") != std::string::npos);
}
