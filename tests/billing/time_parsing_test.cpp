// ISO 8601 parsing of instants and report dates: every field range and the leap second.
#include <chrono>
#include <string>
#include <vector>

#include <date/date.h>
#include <catch2/catch.hpp>

#include "billing/rate_deck.hpp"
#include "billing/reports.hpp"
#include "billing/store.hpp"

using namespace relaygw::billing;

TEST_CASE("parse instant accepts valid forms", "[billing][time]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2026-03-10T14:00:00Z", "2026-03-10T14:00:00Z"},
      {"2026-03-10T09:00:00-05:00", "2026-03-10T14:00:00Z"},
      {"2026-03-10T09:30-05:00", "2026-03-10T14:30:00Z"},
      {"2026-03-10T14:00z", "2026-03-10T14:00:00Z"},
      {"2026-03-11T04:00:00+14:00", "2026-03-10T14:00:00Z"},
      {"2026-03-10T02:00:00-12:00", "2026-03-10T14:00:00Z"},
      {"2024-02-29T23:59:59+00:00", "2024-02-29T23:59:59Z"},
      {"2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z"},
      {"2016-12-31T18:59:60-05:00", "2016-12-31T23:59:59Z"},
      {"2015-06-30T23:59:60Z", "2015-06-30T23:59:59Z"},
  };
  for (const auto& [input, expected] : cases) {
    INFO("input: " << input);
    auto instant = parse_instant(input);
    REQUIRE(instant);
    CHECK(format_instant(*instant) == expected);
  }
}

TEST_CASE("format instant matches date format", "[billing][time]") {
  // Every field at its smallest and largest, leap days and the four-digit year limits.
  const std::vector<std::string> texts = {"0000-01-01T00:00:00Z", "0001-02-03T04:05:06Z",
                                          "0999-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
                                          "2000-02-29T12:34:56Z", "2026-03-10T14:00:00Z",
                                          "2099-12-31T09:59:59Z", "9999-12-31T23:59:59Z"};
  for (const std::string& text : texts) {
    INFO("instant: " << text);
    auto instant = parse_instant(text);
    REQUIRE(instant);
    CHECK(format_instant(*instant) == text);
  }

  // One instant every 7 hours 3 minutes 11 seconds across a century, against date::format.
  Instant instant = parse_instant("1990-01-01T00:00:00Z").value();
  const Instant end = parse_instant("2090-01-01T00:00:00Z").value();
  const std::chrono::seconds step =
      std::chrono::hours(7) + std::chrono::minutes(3) + std::chrono::seconds(11);
  for (; instant < end; instant += step) {
    const std::string expected = date::format("%FT%TZ", instant);
    const std::string formatted = format_instant(instant);
    if (formatted != expected) {
      FAIL_CHECK("format_instant wrote " << formatted << ", date::format " << expected);
      break;
    }
  }

  // A year past 9999 is written with all its digits.
  const Instant after = date::sys_days(date::year(10000) / 1 / 1) + std::chrono::seconds(61);
  CHECK(format_instant(after) == "10000-01-01T00:01:01Z");
}

TEST_CASE("parse instant rejects out of range", "[billing][time]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2026-03-10T14:00:00-25:00", "outside -12:00 to +14:00"},
      {"2026-03-10T14:00:00+14:01", "outside -12:00 to +14:00"},
      {"2026-03-10T14:00:00-12:30", "outside -12:00 to +14:00"},
      {"2026-03-10T14:00:00+05:60", "minutes above 59"},
      {"2026-03-10T24:00:00Z", "hour 24 is above 23"},
      {"2026-03-10T14:60:00Z", "minute 60 is above 59"},
      {"2026-03-10T14:00:61Z", "second 61 is above 59"},
      {"2026-03-10T09:30:00.5Z", "fractional seconds are not accepted; write whole seconds"},
      {"2026-03-10T09:30:00,25-05:00", "fractional seconds are not accepted"},
      {"2026-03-10T14:00:60Z", "leap second"},
      {"2026-06-30T23:58:60Z", "leap second"},
      {"2016-12-31T23:59:60+01:00", "leap second"},
      {"2026-02-30T12:00:00Z", "2026-02-30 is not a calendar date"},
      {"2025-02-29T12:00:00Z", "2025-02-29 is not a calendar date"},
      {"2026-04-31T12:00:00Z", "2026-04-31 is not a calendar date"},
      {"2026-13-01T12:00:00Z", "2026-13-01 is not a calendar date"},
      {"2026-00-10T12:00:00Z", "2026-00-10 is not a calendar date"},
      {"2026-03-10T14:00:00", "the offset is missing"},
      {"2026-03-10T14:00:00+0500", "is not Z, +HH:MM or -HH:MM"},
      {"2026-03-10T14:00:00Zjunk", "is not Z, +HH:MM or -HH:MM"},
      {"2026-03-10 14:00:00Z", "does not start with YYYY-MM-DDTHH:MM"},
      {"26-03-10T14:00:00Z", "does not start with YYYY-MM-DDTHH:MM"},
      {"", "does not start with YYYY-MM-DDTHH:MM"},
      {"2026-03-10T14:00:5Z", "seconds are not two digits"},
  };
  for (const auto& [input, fault] : cases) {
    INFO("input: " << input);
    auto instant = parse_instant(input);
    REQUIRE_FALSE(instant);
    CHECK(instant.status().code() == relaygw::StatusCode::InvalidArgument);
    CHECK(instant.status().message().find("'" + input + "'") != std::string::npos);
    CHECK(instant.status().message().find(fault) != std::string::npos);
    CHECK(instant.status().message().find("use ISO 8601") != std::string::npos);
  }
}

TEST_CASE("parse local date rejects impossible days", "[billing][time]") {
  for (const std::string input : {"2026-02-30", "2025-02-29", "2026-04-31", "2026-13-01",
                                  "2026-00-01", "2026-01-00", "2026-1-01", "2026-03-1x",
                                  "+026-03-01", "2026/03/01", "", " 2026-03-01", "2026-03-011",
                                  "-001-03-01"}) {
    INFO("input: " << input);
    auto parsed = parse_local_date(input);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.status().message().find("'" + input + "'") != std::string::npos);
  }
  CHECK(parse_local_date("2024-02-29"));
  CHECK(parse_local_date("2026-02-30").status().message().find("no such day") !=
        std::string::npos);
  CHECK(parse_local_date("2026/02/28").status().message().find("YYYY-MM-DD") !=
        std::string::npos);
  const auto parsed = parse_local_date("2026-11-07");
  REQUIRE(parsed);
  CHECK(parsed->year == 2026);
  CHECK(parsed->month == 11);
  CHECK(parsed->day == 7);
}

TEST_CASE("rate deck rejects impossible dates", "[billing][time][deck]") {
  for (const std::string day : {"2026-02-30", "2025-02-29", "2026-04-31"}) {
    INFO("date " << day);
    const std::string text = "name = \"dates\"\n[[version]]\nname = \"v1\"\neffective = " + day +
                             "\n[[version.rate]]\njurisdiction = \"local\"\n"
                             "per_minute = { night = \"0.1000\" }\n";
    auto deck = RateDeck::parse(text, "dates.toml");
    REQUIRE_FALSE(deck);
    // toml++ or the deck reader rejects the day, naming the file and line.
    CHECK(deck.status().message().find("dates.toml") != std::string::npos);
  }
}
