#include "relay-adapters/events.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using relaygw::relay::format_instant;
using relaygw::relay::Instant;
using relaygw::relay::parse_instant;

}  // namespace

TEST_CASE("instant parser accepts RFC 3339 forms", "[relay][events]") {
  const Instant base{std::chrono::sys_days{2024y / 3 / 10} + 7h + 30min};
  struct Case {
    std::string text;
    Instant expected;
  };
  const std::vector<Case> cases = {
      {"2024-03-10T07:30:00Z", base},
      {"2024-03-10t07:30:00z", base},
      {"2024-03-10 07:30:00Z", base},
      {"2024-03-10T02:30:00-05:00", base},
      {"2024-03-10T13:00:00+05:30", base},
      {"2024-03-10T07:30:00.5Z", base + 500ms},
      {"2024-03-10T07:30:00.123456Z", base + 123ms},
      {"2024-03-09T23:30:00-08:00", base},
  };
  for (const Case& c : cases) {
    INFO("text: " << c.text);
    auto parsed = parse_instant(c.text);
    REQUIRE(parsed.is_ok());
    CHECK(*parsed == c.expected);
  }
}

TEST_CASE("instant parser rejects malformed text", "[relay][events]") {
  for (const std::string bad :
       {"", "2024-03-10", "2024-03-10T07:30Z", "2024-13-10T07:30:00Z", "2023-02-29T07:30:00Z",
        "2024-03-10T24:00:00Z", "2024-03-10T07:30:60Z", "2024-03-10T07:30:00",
        "2024-03-10T07:30:00.Z", "2024-03-10T07:30:00+5:00", "2024-03-10T07:30:00Zjunk",
        "１２３４-03-10T07:30:00Z"}) {
    INFO("text: " << bad);
    auto parsed = parse_instant(bad);
    REQUIRE_FALSE(parsed.is_ok());
    CHECK_THAT(parsed.status().message(), Catch::Contains("invalid timestamp"));
  }
}

TEST_CASE("instant formats as UTC with milliseconds", "[relay][events]") {
  const Instant at{std::chrono::sys_days{2024y / 5 / 1} + 14h + 3min + 22s + 250ms};
  CHECK(format_instant(at) == "2024-05-01T14:03:22.250Z");
  auto parsed = parse_instant(format_instant(at));
  REQUIRE(parsed.is_ok());
  CHECK(*parsed == at);
}

TEST_CASE("wire names parse back to enums", "[relay][events]") {
  using namespace relaygw::relay;
  for (auto service : {RelayService::Tty, RelayService::RelayTty, RelayService::RelayIp,
                       RelayService::Captioned, RelayService::Video, RelayService::Speech}) {
    INFO("service " << to_string(service));
    CHECK(parse_relay_service(to_string(service)) == service);
  }
  for (auto method : {BillingMethod::SentPaid, BillingMethod::Collect, BillingMethod::ThirdParty,
                      BillingMethod::PersonToPerson, BillingMethod::CallingCard}) {
    INFO("billing " << to_string(method));
    CHECK(parse_billing_method(to_string(method)) == method);
  }
  for (auto how : {AcceptanceMethod::Voice, AcceptanceMethod::TtyText, AcceptanceMethod::Keypad}) {
    INFO("how " << to_string(how));
    CHECK(parse_acceptance_method(to_string(how)) == how);
  }
  CHECK_FALSE(parse_billing_method("Collect").has_value());
  CHECK(to_string(BillingMethod::ThirdParty) == "third-party");
}

TEST_CASE("caller text describes only its length", "[relay][events]") {
  const relaygw::relay::InboundEvent event =
      relaygw::relay::CallerText{"S-1", "MY ADDRESS IS 12 ELM ST GA"};
  const std::string line = relaygw::relay::describe(event);
  CHECK(line == "event=session.text session=S-1 chars=26");
}
