#include "relay-adapters/provider_link/replies.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;
using relaygw::relay::AuthorizationResult;
using relaygw::relay::ErrorReply;
using relaygw::relay::Quote;
using relaygw::relay::provider_link::serialize_ack;
using relaygw::relay::provider_link::serialize_authorization;
using relaygw::relay::provider_link::serialize_error;
using relaygw::relay::provider_link::serialize_quote;

// Parses one serialized line, checking that it is exactly one line.
json parse_line(const std::string& line) {
  REQUIRE_FALSE(line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  return json::parse(line);
}

}  // namespace

TEST_CASE("quote serializes total and lines", "[relay][provider_link][replies]") {
  Quote quote;
  quote.call_id = "C-7";
  quote.total = "4.35";
  quote.lines = {{"toll, 3 min night rate", "4.35"}, {"relay service", "0.00"}};
  auto line = serialize_quote(quote, "m-5");
  REQUIRE(line.is_ok());
  const json message = parse_line(*line);
  CHECK(message["type"] == "quote");
  CHECK(message["call"] == "C-7");
  CHECK(message["total"] == "4.35");
  CHECK(message["currency"] == "USD");
  CHECK(message["ref"] == "m-5");
  REQUIRE(message["lines"].size() == 2);
  CHECK(message["lines"][1]["description"] == "relay service");
  CHECK(message["lines"][1]["amount"] == "0.00");
}

TEST_CASE("quote rejects amounts that are not decimal", "[relay][provider_link][replies]") {
  for (const std::string bad : {"4.3.5", "", "$4.35", "4.", "4.35000", "1e3", "-"}) {
    INFO("total: " << bad);
    Quote quote;
    quote.call_id = "C-7";
    quote.total = bad;
    auto line = serialize_quote(quote);
    REQUIRE_FALSE(line.is_ok());
    CHECK_THAT(line.status().message(), Catch::Contains("not a decimal amount"));
  }
  for (const std::string good : {"0", "4.35", "-0.50", "12.3456"}) {
    INFO("total: " << good);
    Quote quote;
    quote.total = good;
    CHECK(serialize_quote(quote).is_ok());
  }
}

TEST_CASE("authorization serializes accepted and refused", "[relay][provider_link][replies]") {
  AuthorizationResult accepted{"C-7", true, "", "Charges accepted."};
  auto accepted_line = serialize_authorization(accepted);
  REQUIRE(accepted_line.is_ok());
  const json accepted_message = parse_line(*accepted_line);
  CHECK(accepted_message["result"] == "accepted");
  CHECK_FALSE(accepted_message.contains("reason"));
  CHECK_FALSE(accepted_message.contains("ref"));

  AuthorizationResult refused{"C-8", false, "collect-blocked",
                              "The called number does not accept collect calls."};
  auto refused_line = serialize_authorization(refused, "m-6");
  REQUIRE(refused_line.is_ok());
  const json refused_message = parse_line(*refused_line);
  CHECK(refused_message["result"] == "refused");
  CHECK(refused_message["reason"] == "collect-blocked");
  CHECK(refused_message["message"] == "The called number does not accept collect calls.");
  CHECK(refused_message["ref"] == "m-6");

  AuthorizationResult no_reason{"C-9", false, "", "Refused."};
  CHECK_FALSE(serialize_authorization(no_reason).is_ok());
}

TEST_CASE("ack and error serialize their fields", "[relay][provider_link][replies]") {
  const json ack = parse_line(serialize_ack("call.connect", "C-7", "m-7"));
  CHECK(ack["type"] == "ack");
  CHECK(ack["of"] == "call.connect");
  CHECK(ack["call"] == "C-7");
  CHECK(ack["ref"] == "m-7");
  const json session_ack = parse_line(serialize_ack("session.open", "S-1"));
  CHECK(session_ack["session"] == "S-1");

  const json error = parse_line(serialize_error(ErrorReply{"", "unknown-type", "unknown \"x\""}));
  CHECK(error["type"] == "error");
  CHECK(error["code"] == "unknown-type");
  CHECK(error["message"] == "unknown \"x\"");
  CHECK_FALSE(error.contains("ref"));
}
