// Card numbers and PINs must not appear in any printed or serialized form.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "relay-adapters/events.hpp"
#include "relay-adapters/provider_link/link_parser.hpp"
#include "relay-adapters/provider_link/replies.hpp"
#include "relay-adapters/secret_digits.hpp"

namespace {

using relaygw::relay::CallRequested;
using relaygw::relay::ErrorReply;
using relaygw::relay::Instant;
using relaygw::relay::SecretDigits;
using relaygw::relay::provider_link::LinkMessage;
using relaygw::relay::provider_link::parse_link_message;
using relaygw::relay::provider_link::ParsedLine;
using relaygw::relay::provider_link::serialize_ack;
using relaygw::relay::provider_link::serialize_error;

constexpr const char* kCard = "4111111111119876";
constexpr const char* kPin = "730519";

void check_no_secret(const std::string& text) {
  INFO("text: " << text);
  CHECK(text.find(kCard) == std::string::npos);
  CHECK(text.find(kPin) == std::string::npos);
  CHECK(text.find("41111111") == std::string::npos);
}

}  // namespace

TEST_CASE("secret digits print masked", "[relay][secrets]") {
  const SecretDigits card(SecretDigits::Kind::CardNumber, kCard);
  const SecretDigits pin(SecretDigits::Kind::Pin, kPin);
  CHECK(card.masked() == "************9876");
  CHECK(pin.masked() == "****");
  std::ostringstream out;
  out << card << " " << pin;
  CHECK(out.str() == "************9876 ****");
  CHECK(SecretDigits(SecretDigits::Kind::CardNumber, "123").masked() == "***");
  CHECK(SecretDigits(SecretDigits::Kind::Pin).masked().empty());
  CHECK(card.reveal() == kCard);
}

TEST_CASE("moved secret digits leave nothing behind", "[relay][secrets]") {
  SecretDigits pin(SecretDigits::Kind::Pin, kPin);
  SecretDigits moved(std::move(pin));
  CHECK(moved.reveal() == kPin);
  CHECK(pin.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(pin.masked().empty());
}

TEST_CASE("calling card request never prints secrets", "[relay][secrets]") {
  const std::string line =
      std::string(R"({"id":"m-1","type":"call.request","session":"S-1","call":"C-7",)") +
      R"("to":"+13035550199","billing":"calling-card","card":")" + kCard + R"(","pin":")" + kPin +
      R"(","idempotency_key":"k-7"})";
  ParsedLine parsed = parse_link_message(line, "provider-a.example", Instant{});
  REQUIRE(std::holds_alternative<LinkMessage>(parsed));
  const LinkMessage& message = std::get<LinkMessage>(parsed);
  const auto& request = std::get<CallRequested>(message.event);
  CHECK(request.card_number.reveal() == kCard);

  const std::string described = relaygw::relay::describe(message.event);
  check_no_secret(described);
  CHECK_THAT(described, Catch::Contains("card=************9876"));
  CHECK_THAT(described, Catch::Contains("pin=****"));
  check_no_secret(serialize_ack("call.request", request.call_id, message.ref));
}

TEST_CASE("rejected secrets stay out of errors", "[relay][secrets]") {
  const std::string start = R"({"type":"call.request","session":"S-1","call":"C-7",)"
                            R"("to":"+13035550199","idempotency_key":"k-7",)";
  const std::vector<std::string> lines = {
      // PIN too long to be valid, card valid.
      start + R"("billing":"calling-card","card":")" + kCard + R"(","pin":")" + kPin + kPin + kPin +
          R"("})",
      // Card with a letter, PIN valid.
      start + R"("billing":"calling-card","card":")" + kCard + R"(X","pin":")" + kPin + R"("})",
      // PIN as a number instead of a string.
      start + R"("billing":"calling-card","card":")" + kCard + R"(","pin":)" + kPin + "}",
      // Secrets sent with the wrong billing method.
      start + R"("billing":"collect","card":")" + kCard + R"(","pin":")" + kPin + R"("})",
      // Broken JSON right after the PIN.
      start + R"("billing":"calling-card","card":")" + kCard + R"(","pin":")" + kPin + R"(" "x")",
      // Card too long, shown masked.
      start + R"("billing":"calling-card","card":")" + kCard + "1234" + R"(","pin":")" + kPin +
          R"("})",
  };
  for (const std::string& line : lines) {
    INFO("line: " << line);
    ParsedLine parsed = parse_link_message(line, "provider-a.example", Instant{});
    REQUIRE(std::holds_alternative<ErrorReply>(parsed));
    const ErrorReply& error = std::get<ErrorReply>(parsed);
    check_no_secret(error.message);
    check_no_secret(serialize_error(error));
    check_no_secret(relaygw::relay::provider_link::to_status(error).message());
  }
}
