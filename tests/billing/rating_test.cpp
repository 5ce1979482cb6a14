#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
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

// Prices in whole cents per minute so that amounts read as exact cents:
// day $0.20, evening $0.10, night $0.05, holiday $0.01.
constexpr const char* kDeck = R"(
name = "rating test deck"

[[rate_center]]
name = "New York, NY"
v = 4977
h = 1406

[[rate_center]]
name = "Chicago, IL"
v = 5986
h = 3426

[[version]]
name = "2025"
effective = 2025-01-01
initial_seconds = 60
additional_seconds = 60
default_period = "night"
holiday_period = "holiday"
holidays = [2025-12-25]

[[version.period]]
name = "day"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "07:00"
end = "19:00"

[[version.rate]]
jurisdiction = "interstate"
per_minute = { day = "0.9000", night = "0.9000", holiday = "0.9000" }

[[version]]
name = "2026"
effective = 2026-01-01
initial_seconds = 60
additional_seconds = 60
default_period = "night"
holiday_period = "holiday"
holidays = [2026-07-03, 2026-12-25]
premium_per_minute = "2.0000"

[[version.period]]
name = "day"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "07:00"
end = "19:00"

[[version.period]]
name = "evening"
days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
start = "19:00"
end = "23:00"

[[version.rate]]
jurisdiction = "local"
per_minute = { day = "0.0200", evening = "0.0200", night = "0.0200", holiday = "0.0200" }

[[version.rate]]
jurisdiction = "intralata"
per_minute = { day = "0.0300", evening = "0.0300", night = "0.0300", holiday = "0.0300" }

[[version.rate]]
jurisdiction = "interlata-intrastate"
per_minute = { day = "0.0400", evening = "0.0400", night = "0.0400", holiday = "0.0400" }

[[version.rate]]
jurisdiction = "interstate"
per_minute = { day = "0.2000", evening = "0.1000", night = "0.0500", holiday = "0.0100" }

[[version.rate]]
jurisdiction = "interstate"
max_miles = 500
per_minute = { day = "0.3000", evening = "0.3000", night = "0.3000", holiday = "0.3000" }

[[version.rate]]
jurisdiction = "interstate"
max_miles = 1000
per_minute = { day = "0.4000", evening = "0.4000", night = "0.4000", holiday = "0.4000" }

[[version.rate]]
jurisdiction = "international"
prefixes = ["44"]
per_minute = { day = "0.5000", evening = "0.5000", night = "0.5000", holiday = "0.5000" }

[[version.rate]]
jurisdiction = "international"
per_minute = { day = "0.9900", evening = "0.9900", night = "0.9900", holiday = "0.9900" }

[[version.surcharge]]
billing = "person-to-person"
amount = "5.0000"
description = "Person-to-person surcharge"

[[version.surcharge]]
billing = "sent-paid"
handling = "operator"
amount = "2.0000"
description = "Operator-assisted surcharge"

[[version.surcharge]]
billing = "collect"
amount = "1.0000"
description = "Collect surcharge"

[[version.surcharge]]
billing = "collect"
access = ["tty"]
amount = "0.5000"
description = "TTY collect handling"

[[version.tax]]
name = "Excise"
basis_points = 1000

[[version.fee]]
name = "Interstate fee"
jurisdictions = ["interstate"]
amount = "0.2500"

[[version.service_code]]
code = "411"
amount = "1.5000"
description = "Directory assistance"

[version.accessibility]
relay_handling = "automated"

[[version.accessibility.tty_discount]]
state = "CA"
basis_points = 5000
access = ["tty", "relay-tty"]
)";

const RateDeck& deck() {
  static const RateDeck loaded = [] {
    auto parsed = RateDeck::parse(kDeck, "rating_test.toml");
    if (!parsed) {
      FAIL(parsed.status().message());
    }
    return std::move(parsed).value();
  }();
  return loaded;
}

CallToRate make_call(const std::string& from, const std::string& to, const std::string& start,
                     std::int64_t seconds) {
  CallToRate call;
  call.from = from;
  call.to = to;
  call.start = utc(start);
  call.billable_seconds = seconds;
  return call;
}

RatedCall rate_ok(const CallToRate& call) {
  const Rater rater(&number_plan(), &deck());
  Result<RatedCall> rated = rater.rate(call);
  if (!rated) {
    FAIL("from " << call.from << " to " << call.to << ": " << rated.status().message());
  }
  Money sum = 0;
  for (const ChargeLine& line : rated->lines) {
    sum += line.amount;
  }
  CHECK(sum == rated->total);
  return std::move(rated).value();
}

Money sum_of(const RatedCall& rated, ChargeKind kind) {
  Money sum = 0;
  for (const ChargeLine& line : rated.lines) {
    if (line.kind == kind) {
      sum += line.amount;
    }
  }
  return sum;
}

std::vector<std::string> line_periods(const RatedCall& rated) {
  std::vector<std::string> periods;
  for (const ChargeLine& line : rated.lines) {
    if (line.kind == ChargeKind::Usage) {
      periods.push_back(line.period);
    }
  }
  return periods;
}

// Interstate callers in each zone, calling a number with no V&H coordinates.
struct ZoneCase {
  const char* zone;
  const char* from;
  const char* spring_evening;  // 19:00 local on 2026-03-08 in UTC
  const char* fall_evening;    // 19:00 local on 2026-11-01 in UTC
};

const ZoneCase kZones[] = {
    {"America/New_York", "2125550107", "2026-03-08T23:00:00Z", "2026-11-02T00:00:00Z"},
    {"America/Chicago", "3125550107", "2026-03-09T00:00:00Z", "2026-11-02T01:00:00Z"},
    {"America/Denver", "3032051234", "2026-03-09T01:00:00Z", "2026-11-02T02:00:00Z"},
    {"America/Phoenix", "6022120000", "2026-03-09T02:00:00Z", "2026-11-02T02:00:00Z"},
    {"America/Los_Angeles", "2135550107", "2026-03-09T02:00:00Z", "2026-11-02T03:00:00Z"},
    {"Pacific/Honolulu", "8085451234", "2026-03-09T05:00:00Z", "2026-11-02T05:00:00Z"},
};

constexpr const char* kInterstateTarget = "2015550142";  // New Jersey, no coordinates

}  // namespace

TEST_CASE("rater splits at 19:00 after both DST changes", "[billing][rating][dst]") {
  for (const ZoneCase& zone : kZones) {
    for (const char* evening : {zone.spring_evening, zone.fall_evening}) {
      // The first increment starts at 18:59 local (night on Sunday), the second at 19:00.
      const sys_seconds start = utc(evening) - std::chrono::seconds{60};
      CallToRate call = make_call(zone.from, kInterstateTarget, "2026-01-01T00:00:00Z", 120);
      call.start = start;
      INFO("zone " << zone.zone << " evening " << evening);
      const RatedCall rated = rate_ok(call);
      CHECK(rated.time_zone == zone.zone);
      CHECK(line_periods(rated) == std::vector<std::string>{"night", "evening"});
      // Usage, then 10% tax on $0.15 rounded half-up to $0.02, then the interstate fee.
      CHECK(rated.total == 500 + 1000 + 200 + 2500);
    }
  }
}

TEST_CASE("rater splits a call across the DST jump", "[billing][rating][dst]") {
  SECTION("spring forward in New York") {
    // 01:59 EST; one minute later it is 03:00 EDT. The night period and its price go on, so
    // the two minutes stay one line, timed from the UTC instants.
    const RatedCall rated =
        rate_ok(make_call("2125550107", kInterstateTarget, "2026-03-08T06:59:00Z", 120));
    REQUIRE(line_periods(rated).size() == 1);
    CHECK(rated.lines[0].description.find("2 min from Sun 01:59 EST") != std::string::npos);
    CHECK(rated.lines[0].seconds == 120);
    CHECK(rated.billed_seconds == 120);
    CHECK(sum_of(rated, ChargeKind::Usage) == 1000);
  }
  SECTION("fall back in Los Angeles") {
    // 01:59 PDT; one minute later it is 01:00 PST.
    const RatedCall rated =
        rate_ok(make_call("2135550107", kInterstateTarget, "2026-11-01T08:59:00Z", 120));
    REQUIRE(line_periods(rated).size() == 1);
    CHECK(rated.lines[0].description.find("2 min from Sun 01:59 PDT") != std::string::npos);
    CHECK(rated.lines[0].seconds == 120);
    CHECK(rated.billed_seconds == 120);
  }
  SECTION("Phoenix has no DST jump") {
    const RatedCall rated =
        rate_ok(make_call("6022120000", kInterstateTarget, "2026-03-08T08:59:00Z", 120));
    CHECK(line_periods(rated).size() == 1);
  }
}

TEST_CASE("rater splits at midnight and weekend", "[billing][rating][periods]") {
  SECTION("Friday 18:59 to 19:00 in Chicago") {
    const RatedCall rated =
        rate_ok(make_call("3125550107", kInterstateTarget, "2026-03-13T23:59:00Z", 120));
    CHECK(line_periods(rated) == std::vector<std::string>{"day", "evening"});
  }
  SECTION("Friday 23:59 to Saturday 00:00 in New York") {
    // Midnight changes neither the period nor the price, so the usage stays one line.
    const RatedCall rated =
        rate_ok(make_call("2125550107", kInterstateTarget, "2026-03-14T03:59:00Z", 120));
    REQUIRE(line_periods(rated) == std::vector<std::string>{"night"});
    CHECK(rated.lines[0].description.find("2 min from Fri 23:59") != std::string::npos);
    CHECK(rated.lines[0].seconds == 120);
  }
  SECTION("Saturday morning is night rate") {
    const RatedCall rated =
        rate_ok(make_call("2125550107", kInterstateTarget, "2026-03-14T15:00:00Z", 300));
    CHECK(line_periods(rated) == std::vector<std::string>{"night"});
    CHECK(sum_of(rated, ChargeKind::Usage) == 2500);
  }
  SECTION("Monday 06:58 to 07:02 in Denver") {
    const RatedCall rated =
        rate_ok(make_call("3032051234", kInterstateTarget, "2026-03-16T12:58:00Z", 240));
    CHECK(line_periods(rated) == std::vector<std::string>{"night", "day"});
    CHECK(sum_of(rated, ChargeKind::Usage) == 2 * 500 + 2 * 2000);
  }
}

TEST_CASE("rater prices same-rate minutes alike", "[billing][rating][periods]") {
  // Local midnight and a daylight-saving change end a window but not the period or the price,
  // so ten night minutes cost the same wherever they start. A second rounded line would add a
  // cent to some of them.
  const Money reference =
      sum_of(rate_ok(make_call("3125550107", kInterstateTarget, "2026-03-11T04:30:00Z", 600)),
             ChargeKind::Usage);
  for (int minute = 31; minute <= 59; ++minute) {
    const std::string start = fmt::format("2026-03-11T04:{:02}:00Z", minute);  // Tue 23:xx CDT
    const RatedCall rated = rate_ok(make_call("3125550107", kInterstateTarget, start, 600));
    INFO("start " << start);
    CHECK(line_periods(rated) == std::vector<std::string>{"night"});
    CHECK(sum_of(rated, ChargeKind::Usage) == reference);
  }
  // Sunday 01:50 CDT to 01:00 CST: the fall-back hour repeats, still one night line.
  const RatedCall fall_back =
      rate_ok(make_call("3125550107", kInterstateTarget, "2026-11-01T06:55:00Z", 600));
  CHECK(line_periods(fall_back) == std::vector<std::string>{"night"});
  CHECK(sum_of(fall_back, ChargeKind::Usage) == reference);
}

TEST_CASE("rater applies holidays all day", "[billing][rating][periods]") {
  SECTION("Friday holiday at 10:00 is holiday rate") {
    const RatedCall rated =
        rate_ok(make_call("2125550107", kInterstateTarget, "2026-07-03T14:00:00Z", 120));
    CHECK(line_periods(rated) == std::vector<std::string>{"holiday"});
    CHECK(sum_of(rated, ChargeKind::Usage) == 200);
  }
  SECTION("Thursday 23:59 into the holiday") {
    const RatedCall rated =
        rate_ok(make_call("2125550107", kInterstateTarget, "2026-07-03T03:59:00Z", 120));
    CHECK(line_periods(rated) == std::vector<std::string>{"night", "holiday"});
  }
  SECTION("the holiday is a local date") {
    // 2026-12-25T03:30Z is still Christmas Eve 19:30 in Los Angeles.
    const RatedCall rated =
        rate_ok(make_call("2135550107", kInterstateTarget, "2026-12-25T03:30:00Z", 60));
    CHECK(line_periods(rated) == std::vector<std::string>{"evening"});
  }
}

TEST_CASE("rater picks version by local date", "[billing][rating][versions]") {
  // 2026-01-01T04:30Z is 23:30 on 2025-12-31 in New York: the 2025 version.
  const RatedCall old_year =
      rate_ok(make_call("2125550107", kInterstateTarget, "2026-01-01T04:30:00Z", 60));
  CHECK(old_year.deck_version == "2025");
  CHECK(sum_of(old_year, ChargeKind::Usage) == 9000);
  const RatedCall new_year =
      rate_ok(make_call("2125550107", kInterstateTarget, "2026-01-01T05:30:00Z", 60));
  CHECK(new_year.deck_version == "2026");

  const Rater rater(&number_plan(), &deck());
  Result<RatedCall> too_early =
      rater.rate(make_call("2125550107", kInterstateTarget, "2024-06-01T12:00:00Z", 60));
  REQUIRE_FALSE(too_early);
  CHECK(too_early.status().message().find("2024-06-01") != std::string::npos);
}

TEST_CASE("rater decides jurisdiction from numbers", "[billing][rating][jurisdiction]") {
  struct Row {
    const char* from;
    const char* to;
    Jurisdiction jurisdiction;
  };
  const Row rows[] = {
      {"2125550107", "2125550142", Jurisdiction::Local},      // both New York, NY
      {"2012001234", "2012161234", Jurisdiction::Local},      // both Jersey City, NJ
      {"2012001234", "2012241234", Jurisdiction::IntraLata},  // Jersey City to Fort Lee
      {"2015550107", "2015550142", Jurisdiction::IntraLata},  // no exact rate center
      {"2125550107", "3155550142", Jurisdiction::InterLataIntrastate},
      {"2125550107", "2015550142", Jurisdiction::Interstate},
      {"2125550107", "+442079460000", Jurisdiction::International},
      {"2125550107", "4165550100", Jurisdiction::International},  // Canada
  };
  for (const Row& row : rows) {
    INFO("from " << row.from << " to " << row.to);
    const RatedCall rated = rate_ok(make_call(row.from, row.to, "2026-03-10T15:00:00Z", 60));
    REQUIRE(rated.jurisdiction);
    CHECK(*rated.jurisdiction == row.jurisdiction);
  }
}

TEST_CASE("rater picks mileage band and prefix", "[billing][rating][bands]") {
  // New York to Chicago: sqrt((1009^2 + 2020^2) / 10) = 714.04, rounded up to 715 miles.
  CHECK(vh_distance_miles(4977, 1406, 5986, 3426) == 715);
  CHECK(vh_distance_miles(0, 0, 0, 10) == 4);  // sqrt(10) = 3.16 rounds up
  CHECK(vh_distance_miles(0, 0, 0, 0) == 0);
  const RatedCall banded =
      rate_ok(make_call("2125550107", "3125550142", "2026-03-10T15:00:00Z", 60));
  REQUIRE(banded.miles);
  CHECK(*banded.miles == 715);
  CHECK(sum_of(banded, ChargeKind::Usage) == 4000);  // the 1000-mile band
  const RatedCall unbanded =
      rate_ok(make_call("2125550107", kInterstateTarget, "2026-03-10T15:00:00Z", 60));
  CHECK_FALSE(unbanded.miles);
  CHECK(sum_of(unbanded, ChargeKind::Usage) == 2000);

  const RatedCall london =
      rate_ok(make_call("2125550107", "011442079460000", "2026-03-10T15:00:00Z", 60));
  CHECK(sum_of(london, ChargeKind::Usage) == 5000);
  const RatedCall paris =
      rate_ok(make_call("2125550107", "+33123456789", "2026-03-10T15:00:00Z", 60));
  CHECK(sum_of(paris, ChargeKind::Usage) == 9900);
}

TEST_CASE("rater applies surcharges by rule", "[billing][rating][surcharges]") {
  CallToRate call = make_call("2125550107", kInterstateTarget, "2026-03-10T15:00:00Z", 60);
  SECTION("person-to-person only when reached") {
    call.billing = BillingMethod::PersonToPerson;
    call.person_reached = true;
    CHECK(sum_of(rate_ok(call), ChargeKind::Surcharge) == 50'000);
    call.person_reached = false;
    CHECK(sum_of(rate_ok(call), ChargeKind::Surcharge) == 0);
  }
  SECTION("operator handling surcharge") {
    call.handling = Handling::OperatorAssisted;
    CHECK(sum_of(rate_ok(call), ChargeKind::Surcharge) == 20'000);
    call.handling = Handling::Automated;
    CHECK(sum_of(rate_ok(call), ChargeKind::Surcharge) == 0);
  }
  SECTION("relay assistant is not operator assistance") {
    call.handling = Handling::OperatorAssisted;
    for (AccessTag tag : {AccessTag::RelayTty, AccessTag::RelayIp, AccessTag::Captioned,
                          AccessTag::Video, AccessTag::Speech}) {
      call.access = tag;
      INFO("access " << to_string(tag));
      CHECK(sum_of(rate_ok(call), ChargeKind::Surcharge) == 0);
    }
  }
}

TEST_CASE("rater caps at the voice charge", "[billing][rating][accessibility]") {
  // The deck adds a TTY-only collect surcharge; the cap must take it back off.
  CallToRate call = make_call("2125550107", kInterstateTarget, "2026-03-10T15:00:00Z", 120);
  call.billing = BillingMethod::Collect;
  const RatedCall voice = rate_ok(call);
  call.access = AccessTag::Tty;
  const RatedCall tty = rate_ok(call);
  CHECK(tty.voice_equivalent ==
        sum_of(voice, ChargeKind::Usage) + sum_of(voice, ChargeKind::Surcharge));
  CHECK(sum_of(tty, ChargeKind::Discount) == -5000);
  CHECK(tty.total == voice.total);
  for (AccessTag tag : {AccessTag::None, AccessTag::Tty, AccessTag::RelayTty, AccessTag::RelayIp,
                        AccessTag::Captioned, AccessTag::Video, AccessTag::Speech}) {
    call.access = tag;
    INFO("access " << to_string(tag));
    CHECK(rate_ok(call).total <= voice.total);
  }
}

TEST_CASE("rater applies state TTY discount", "[billing][rating][accessibility]") {
  CallToRate call = make_call("2135550107", kInterstateTarget, "2026-03-10T17:00:00Z", 180);
  const RatedCall voice = rate_ok(call);
  CHECK(sum_of(voice, ChargeKind::Discount) == 0);
  CHECK(sum_of(voice, ChargeKind::Usage) == 6000);

  SECTION("by access tag") {
    call.access = AccessTag::Tty;
    const RatedCall rated = rate_ok(call);
    CHECK(sum_of(rated, ChargeKind::Discount) == -3000);
    // Tax follows the discounted charges: 10% of $0.30.
    CHECK(sum_of(rated, ChargeKind::Tax) == 300);
  }
  SECTION("by eligible billed line") {
    call.tty_discount_eligible = true;
    CHECK(sum_of(rate_ok(call), ChargeKind::Discount) == -3000);
  }
  SECTION("not for access tags outside the list") {
    call.access = AccessTag::Video;
    CHECK(sum_of(rate_ok(call), ChargeKind::Discount) == 0);
  }
  SECTION("not in another state") {
    call.from = "3125550107";
    call.access = AccessTag::Tty;
    CHECK(sum_of(rate_ok(call), ChargeKind::Discount) == 0);
  }
}

TEST_CASE("rater taxes and fees by jurisdiction", "[billing][rating][taxes]") {
  const RatedCall interstate =
      rate_ok(make_call("2125550107", kInterstateTarget, "2026-03-10T15:00:00Z", 60));
  CHECK(sum_of(interstate, ChargeKind::Tax) == 200);
  CHECK(sum_of(interstate, ChargeKind::Fee) == 2500);
  const RatedCall local =
      rate_ok(make_call("2125550107", "2125550142", "2026-03-10T15:00:00Z", 60));
  CHECK(sum_of(local, ChargeKind::Tax) == 0);  // 10% of $0.02 rounds half-up to $0.00
  CHECK(sum_of(local, ChargeKind::Fee) == 0);
}

TEST_CASE("rater charges nothing for free calls", "[billing][rating][free]") {
  SECTION("unanswered") {
    CallToRate call = make_call("2125550107", kInterstateTarget, "2026-03-10T15:00:00Z", 0);
    call.answered = false;
    call.billing = BillingMethod::Collect;
    const RatedCall rated = rate_ok(call);
    CHECK(rated.total == 0);
    CHECK(rated.billed_seconds == 0);
  }
  SECTION("toll-free and relay") {
    for (const char* to : {"18005550100", "8885550100", "711", "1-711"}) {
      INFO("to " << to);
      CHECK(rate_ok(make_call("2125550107", to, "2026-03-10T15:00:00Z", 600)).total == 0);
    }
  }
}

TEST_CASE("rater prices service codes and premium", "[billing][rating][services]") {
  CHECK(rate_ok(make_call("2125550107", "411", "2026-03-10T15:00:00Z", 60)).total == 15'000);
  CHECK(rate_ok(make_call("2125550107", "2125551212", "2026-03-10T15:00:00Z", 60)).total == 15'000);
  const RatedCall premium =
      rate_ok(make_call("2125550107", "19005550100", "2026-03-10T15:00:00Z", 120));
  CHECK(sum_of(premium, ChargeKind::Usage) == 40'000);
  REQUIRE(premium.jurisdiction.has_value());
  CHECK(*premium.jurisdiction == Jurisdiction::Interstate);

  const Rater rater(&number_plan(), &deck());
  Result<RatedCall> service =
      rater.rate(make_call("2125550107", "311", "2026-03-10T15:00:00Z", 60));
  REQUIRE_FALSE(service);
  CHECK(service.status().message().find("311") != std::string::npos);
}

TEST_CASE("rater rejects bad calls", "[billing][rating][errors]") {
  const Rater rater(&number_plan(), &deck());
  struct Row {
    CallToRate call;
    const char* named;
  };
  const Row rows[] = {
      {make_call("2125550107", "21255501", "2026-03-10T15:00:00Z", 60), "21255501"},
      {make_call("0125550107", "2125550142", "2026-03-10T15:00:00Z", 60), "0125550107"},
      {make_call("18005550100", "2125550142", "2026-03-10T15:00:00Z", 60), "18005550100"},
      {make_call("2125550107", "5005550100", "2026-03-10T15:00:00Z", 60), "5005550100"},
      {make_call("2125550107", "2125550142", "2026-03-10T15:00:00Z", -5), "-5"},
  };
  for (const Row& row : rows) {
    Result<RatedCall> rated = rater.rate(row.call);
    INFO("expected a message naming " << row.named);
    REQUIRE_FALSE(rated);
    CHECK(rated.status().message().find(row.named) != std::string::npos);
  }
}

TEST_CASE("rater applies minimum and increments", "[billing][rating][increments]") {
  const char* deck_text = R"(
[[version]]
name = "increments"
effective = 2020-01-01
initial_seconds = 30
additional_seconds = 6
minimum_seconds = 18

[[version.rate]]
jurisdiction = "interstate"
per_minute = { night = "0.6000" }
)";
  Result<RateDeck> parsed = RateDeck::parse(deck_text, "increments.toml");
  REQUIRE(parsed);
  const Rater rater(&number_plan(), &*parsed);
  struct Row {
    std::int64_t seconds;
    std::int64_t billed;
  };
  for (const Row& row : {Row{0, 30}, Row{1, 30}, Row{30, 30}, Row{31, 36}, Row{36, 36}, Row{37, 42},
                         Row{600, 600}}) {
    Result<RatedCall> rated =
        rater.rate(make_call("2125550107", kInterstateTarget, "2026-03-10T15:00:00Z", row.seconds));
    INFO("seconds " << row.seconds);
    REQUIRE(rated);
    CHECK(rated->billed_seconds == row.billed);
    CHECK(rated->total == row.billed * 100);  // $0.60/min is one cent per second
  }
}
