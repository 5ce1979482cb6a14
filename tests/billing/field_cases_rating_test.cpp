// Field cases from real rating engines: each class of fault with its worked expected values.
#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/rating.hpp"
#include "billing/store.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using std::chrono::sys_seconds;

namespace {

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

sys_seconds utc(const std::string& text) {
  Result<sys_seconds> instant = parse_instant(text);
  REQUIRE(instant);
  return *instant;
}

// A deck with a day period Mon-Fri 07:00-19:00 and `night` at all other times, the same
// prices for every jurisdiction, and `extra` appended inside the version.
RateDeck two_period_deck(const std::string& day, const std::string& night,
                         const std::string& billing, const std::string& extra = "") {
  std::string text =
      "name = \"field case deck\"\n[[version]]\nname = \"v1\"\n"
      "effective = 2020-01-01\n" +
      billing +
      "\n[[version.period]]\nname = \"day\"\n"
      "days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\n"
      "start = \"07:00\"\nend = \"19:00\"\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { day = \"" + day + "\", night = \"" + night + "\" }\n" + extra;
  }
  Result<RateDeck> deck = RateDeck::parse(text, "field-case.toml");
  if (!deck) {
    FAIL(deck.status().message());
  }
  return std::move(deck).value();
}

CallToRate call_from(const std::string& from, const std::string& start, std::int64_t seconds) {
  CallToRate call;
  call.from = from;
  call.to = "2125550142";
  call.start = utc(start);
  call.billable_seconds = seconds;
  return call;
}

Money total_of(const Rater& rater, const CallToRate& call) {
  Result<RatedCall> rated = rater.rate(call);
  if (!rated) {
    FAIL(rated.status().message());
  }
  Money sum = 0;
  for (const ChargeLine& line : rated->lines) {
    sum += line.amount;
  }
  CHECK(sum == rated->total);
  return rated->total;
}

// The exact usage in units before rounding to cents: per-minute rate x seconds / 60.
Money exact_usage(const RatedCall& rated) {
  Money exact_times_60 = 0;
  for (const ChargeLine& line : rated.lines) {
    if (line.kind == ChargeKind::Usage) {
      exact_times_60 += line.per_minute * line.seconds;
    }
  }
  return exact_times_60 / 60;
}

}  // namespace

TEST_CASE("time of day split starts each increment", "[billing][field][case1]") {
  const RateDeck deck = two_period_deck("0.1290", "0.0850", "");
  const Rater rater(&number_plan(), &deck);

  SECTION("call A stays in the day period") {
    // Wednesday 09:05:27 EST: both 60 s increments start in the day period.
    Result<RatedCall> rated = rater.rate(call_from("2125550107", "2025-12-10T14:05:27Z", 120));
    REQUIRE(rated);
    CHECK(exact_usage(*rated) == 2580);
    CHECK(rated->total == 2600);  // one line of 2580 u, printed rounded half-up as $0.26
    REQUIRE(rated->lines.size() == 1);
    CHECK(rated->lines[0].period == "day");
    CHECK(rated->lines[0].seconds == 120);
  }
  SECTION("call B crosses 07:00") {
    Result<RatedCall> rated = rater.rate(call_from("2125550107", "2025-12-10T11:59:00Z", 120));
    REQUIRE(rated);
    REQUIRE(rated->lines.size() == 2);
    CHECK(rated->lines[0].period == "night");
    CHECK(rated->lines[0].amount == 900);  // 850 u rounded half-up to $0.09
    CHECK(rated->lines[1].period == "day");
    CHECK(rated->lines[1].amount == 1300);  // 1290 u to $0.13
    CHECK(exact_usage(*rated) == 2140);
    CHECK(rated->total == 2200);
  }
}

TEST_CASE("split without a period change costs nothing", "[billing][field][case1]") {
  // A window edge that changes neither period nor price, such as local midnight or the
  // fall-back hour, must not split the usage into two rounded lines. Otherwise ten minutes at
  // $0.0650 cost 0.33 + 0.33 instead of 0.65.
  const RateDeck deck = two_period_deck("0.1290", "0.0650", "");
  const Rater rater(&number_plan(), &deck);
  std::vector<std::string> starts;
  for (int minute = 40; minute <= 59; ++minute) {
    starts.push_back("2025-12-11T04:" + std::to_string(minute) + ":00Z");  // Wed 23:xx EST
  }
  starts.push_back("2025-11-02T05:55:00Z");  // Sunday 01:55 EDT, across the fall-back hour
  for (const std::string& start : starts) {
    Result<RatedCall> rated = rater.rate(call_from("2125550107", start, 600));
    REQUIRE(rated);
    INFO("start " << start);
    REQUIRE(rated->lines.size() == 1);
    CHECK(rated->lines[0].seconds == 600);
    CHECK(rated->lines[0].amount == 6500);
  }
}

TEST_CASE("exact units of split calls", "[billing][field][case1]") {
  // With rates in whole cents the printed lines carry the case's exact unit values.
  const RateDeck deck = two_period_deck("0.1300", "0.0800", "");
  const Rater rater(&number_plan(), &deck);
  CHECK(total_of(rater, call_from("2125550107", "2025-12-10T14:05:27Z", 120)) == 2 * 1300);
  CHECK(total_of(rater, call_from("2125550107", "2025-12-10T11:59:00Z", 120)) == 800 + 1300);
  // One second before 07:00 the second increment starts at 06:59:59 + 60 s = 07:00:59: day.
  CHECK(total_of(rater, call_from("2125550107", "2025-12-10T11:59:59Z", 120)) == 800 + 1300);
  // Both increments start before 07:00 only when the second starts before 07:00:00.
  CHECK(total_of(rater, call_from("2125550107", "2025-12-10T11:58:00Z", 120)) == 2 * 800);
  // Increments start at 18:59 (day) and 19:00 (night).
  CHECK(total_of(rater, call_from("2125550107", "2025-12-10T23:59:00Z", 120)) == 1300 + 800);
}

TEST_CASE("daylight time uses the real zone", "[billing][field][case2]") {
  const RateDeck deck = two_period_deck("0.2000", "0.0800", "");
  const Rater rater(&number_plan(), &deck);

  SECTION("check A is 19:05 CDT, not 18:05") {
    Result<RatedCall> rated = rater.rate(call_from("3125550107", "2025-07-17T00:05:00Z", 600));
    REQUIRE(rated);
    CHECK(rated->time_zone == "America/Chicago");
    CHECK(exact_usage(*rated) == 8000);
    CHECK(rated->total == 8000);
    CHECK(rated->periods == std::vector<std::string>{"night"});
  }
  SECTION("check B bills 1200 s across the fall-back hour") {
    const sys_seconds start = utc("2025-11-02T06:50:00Z");
    const sys_seconds end = utc("2025-11-02T07:10:00Z");
    const std::int64_t duration = (end - start).count();
    CHECK(duration == 1200);
    CallToRate call = call_from("3125550107", "2025-11-02T06:50:00Z", duration);
    Result<RatedCall> rated = rater.rate(call);
    REQUIRE(rated);
    CHECK(rated->billed_seconds == 1200);
    CHECK(rated->total == 16'000);
    for (const ChargeLine& line : rated->lines) {
      CHECK(line.seconds > 0);
      CHECK(line.amount >= 0);
    }
  }
}

TEST_CASE("total is the sum of lines", "[billing][field][case3]") {
  const std::string billing = "rounding = \"up\"\ninitial_seconds = 1\nadditional_seconds = 1\n";
  const RateDeck deck = two_period_deck("0.0500", "0.0500", billing, "connect = \"0.1500\"\n");
  const Rater rater(&number_plan(), &deck);

  SECTION("a 30 s call totals $0.18") {
    Result<RatedCall> rated = rater.rate(call_from("2125550107", "2025-12-10T14:00:00Z", 30));
    REQUIRE(rated);
    CHECK(rated->total == 1800);
  }
  SECTION("a call split in three segments totals $0.18") {
    // 06:59:50 EST + 20 s crosses into the day period, so the usage prints as two 10 s lines,
    // each $0.0083 rounded up to $0.01: the total follows the printed lines, not the exact sum.
    Result<RatedCall> rated = rater.rate(call_from("2125550107", "2025-12-10T11:59:50Z", 20));
    REQUIRE(rated);
    REQUIRE(rated->lines.size() == 3);  // two usage segments and the connect charge
    CHECK(rated->lines[0].amount == 100);
    CHECK(rated->lines[1].amount == 100);
    CHECK(rated->total == 1700);
  }
  SECTION("every line is whole cents for many calls") {
    for (std::int64_t seconds = 1; seconds < 400; seconds += 7) {
      for (const char* start : {"2025-12-10T11:58:13Z", "2025-12-11T04:58:59Z",
                                "2025-11-02T05:59:30Z", "2025-03-09T06:59:31Z"}) {
        Result<RatedCall> rated = rater.rate(call_from("2125550107", start, seconds));
        REQUIRE(rated);
        Money sum = 0;
        for (const ChargeLine& line : rated->lines) {
          INFO("start " << start << " seconds " << seconds << " line " << line.description);
          CHECK(line.amount % 100 == 0);
          sum += line.amount;
        }
        CHECK(sum == rated->total);
        CHECK(rated->total % 100 == 0);
      }
    }
  }
}

TEST_CASE("per second price is not rounded first", "[billing][field][case4]") {
  const std::string billing = "rounding = \"up\"\ninitial_seconds = 1\nadditional_seconds = 1\n";
  const RateDeck deck = two_period_deck("0.5000", "0.5000", billing);
  const Rater rater(&number_plan(), &deck);
  CHECK(total_of(rater, call_from("2125550107", "2025-12-10T14:00:00Z", 60)) == 5000);
  CHECK(total_of(rater, call_from("2125550107", "2025-12-10T14:00:00Z", 61)) == 5100);
  // The whole class: for every length the charge is the exact price rounded up once.
  for (std::int64_t seconds = 1; seconds <= 600; ++seconds) {
    const Money exact_times_60 = 5000 * seconds;
    const Money expected = (exact_times_60 + 60 * 100 - 1) / (60 * 100) * 100;
    INFO("seconds " << seconds);
    CHECK(total_of(rater, call_from("2125550107", "2025-12-10T14:00:00Z", seconds)) == expected);
  }
}

TEST_CASE("minimum first block limits a card", "[billing][field][case5]") {
  const std::string billing = "rounding = \"up\"\ninitial_seconds = 60\nadditional_seconds = 1\n";
  const RateDeck deck = two_period_deck("0.0400", "0.0400", billing);
  const Rater rater(&number_plan(), &deck);
  CallToRate call = call_from("2125550142", "2025-12-10T14:00:00Z", 0);
  call.billing = BillingMethod::CallingCard;
  call.to = "3125550107";

  Result<Money> minimum = rater.minimum_charge(call);
  REQUIRE(minimum);
  CHECK(*minimum == 400);

  SECTION("check A: 100 u buys nothing") {
    Result<std::int64_t> seconds = rater.max_seconds_for_balance(call, 100);
    REQUIRE(seconds);
    CHECK(*seconds == 0);
  }
  SECTION("check B: 600 u buys 90 s and ends at zero") {
    Result<std::int64_t> seconds = rater.max_seconds_for_balance(call, 600);
    REQUIRE(seconds);
    CHECK(*seconds == 90);
    call.billable_seconds = *seconds;
    CHECK(600 - total_of(rater, call) == 0);
    call.billable_seconds = *seconds + 1;
    CHECK(total_of(rater, call) > 600);
  }
  SECTION("short answered calls still pay the first block") {
    for (std::int64_t seconds : {1, 2, 30, 59, 60}) {
      call.billable_seconds = seconds;
      INFO("seconds " << seconds);
      CHECK(total_of(rater, call) == 400);
    }
  }
  SECTION("an unanswered call pays nothing") {
    call.answered = false;
    call.billable_seconds = 0;
    CHECK(total_of(rater, call) == 0);
  }
}

TEST_CASE("emergency calls rate to zero", "[billing][field][case8]") {
  CallToRate call = call_from("2125550107", "2025-12-10T14:00:00Z", 600);
  call.access = AccessTag::RelayTty;

  SECTION("without a number plan or deck") {
    const Rater rater(nullptr, nullptr);
    for (const char* dialed : {"911", "1-911", "0911", "+1911", "9 1 1"}) {
      call.to = dialed;
      Result<RatedCall> rated = rater.rate(call);
      INFO("dialed " << dialed);
      REQUIRE(rated);
      CHECK(rated->total == 0);
      CHECK(rated->emergency);
    }
    Result<std::int64_t> seconds = rater.max_seconds_for_balance(call, -50'000);
    REQUIRE(seconds);
    CHECK(*seconds == 86'400);
    Result<Money> minimum = rater.minimum_charge(call);
    REQUIRE(minimum);
    CHECK(*minimum == 0);
  }
  SECTION("flagged emergency to any number") {
    const RateDeck deck = two_period_deck("0.1000", "0.1000", "");
    const Rater rater(&number_plan(), &deck);
    call.to = "3125550142";
    call.emergency = true;
    Result<RatedCall> rated = rater.rate(call);
    REQUIRE(rated);
    CHECK(rated->total == 0);
    CHECK(rated->emergency);
  }
  SECTION("non-emergency fails without a deck") {
    const Rater rater(&number_plan(), nullptr);
    call.to = "3125550142";
    Result<RatedCall> rated = rater.rate(call);
    REQUIRE_FALSE(rated);
    CHECK(rated.status().code() == relaygw::StatusCode::Unavailable);
  }
}
