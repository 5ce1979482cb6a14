#include "relay-adapters/provider_link/link_parser.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using relaygw::relay::Acceptance;
using relaygw::relay::AcceptanceMethod;
using relaygw::relay::Adapter;
using relaygw::relay::BillingMethod;
using relaygw::relay::CallerText;
using relaygw::relay::CallRequested;
using relaygw::relay::Connected;
using relaygw::relay::Disconnected;
using relaygw::relay::ErrorReply;
using relaygw::relay::Instant;
using relaygw::relay::RelayService;
using relaygw::relay::SessionClosed;
using relaygw::relay::SessionOpened;
using relaygw::relay::provider_link::kMaxLineBytes;
using relaygw::relay::provider_link::LinkMessage;
using relaygw::relay::provider_link::LinkReader;
using relaygw::relay::provider_link::parse_link_message;
using relaygw::relay::provider_link::ParsedLine;

const Instant kReceivedAt = Instant{std::chrono::sys_days{2024y / 5 / 1} + 14h + 3min};

ParsedLine parse(const std::string& line) {
  return parse_link_message(line, "provider-a.example", kReceivedAt);
}

// Parses `line` and returns its event; fails the test with the error when it has none.
template <typename Event>
Event parse_event(const std::string& line) {
  ParsedLine parsed = parse(line);
  INFO("line: " << line);
  if (const auto* error = std::get_if<ErrorReply>(&parsed)) {
    FAIL("unexpected error " << error->code << ": " << error->message);
  }
  const auto& message = std::get<LinkMessage>(parsed);
  REQUIRE(std::holds_alternative<Event>(message.event));
  return std::get<Event>(message.event);
}

}  // namespace

TEST_CASE("link parser reads session open", "[relay][provider_link]") {
  const auto event = parse_event<SessionOpened>(
      R"({"type":"session.open","session":"S-1","service":"relay-ip","caller":"+12125550107",)"
      R"("location":"350 5th Ave, New York, NY","agent":"CA-4411","emergency":true})");
  CHECK(event.session_id == "S-1");
  CHECK(event.adapter == Adapter::ProviderLink);
  CHECK(event.provider_id == "provider-a.example");
  CHECK(event.service == RelayService::RelayIp);
  CHECK(event.caller_number == "+12125550107");
  CHECK(event.caller_location == "350 5th Ave, New York, NY");
  CHECK(event.agent_id == "CA-4411");
  CHECK(event.emergency);
}

TEST_CASE("link parser reads every call request billing", "[relay][provider_link]") {
  const std::string start = R"({"type":"call.request","session":"S-1","call":"C-7",)"
                            R"("to":"+13035550199","idempotency_key":"k-7",)";
  SECTION("sent-paid") {
    const auto event = parse_event<CallRequested>(start + R"("billing":"sent-paid"})");
    CHECK(event.billing == BillingMethod::SentPaid);
    CHECK(event.call_id == "C-7");
    CHECK(event.session_id == "S-1");
    CHECK(event.dialed_number == "+13035550199");
    CHECK(event.idempotency_key == "k-7");
  }
  SECTION("collect with caller name") {
    const auto event =
        parse_event<CallRequested>(start + R"("billing":"collect","caller_name":"José Ruiz"})");
    CHECK(event.billing == BillingMethod::Collect);
    CHECK(event.caller_name == "José Ruiz");
  }
  SECTION("third-party") {
    const auto event = parse_event<CallRequested>(
        start + R"("billing":"third-party","third_number":"+17185550123"})");
    CHECK(event.billing == BillingMethod::ThirdParty);
    CHECK(event.third_number == "+17185550123");
  }
  SECTION("person-to-person") {
    const auto event = parse_event<CallRequested>(
        start + R"("billing":"person-to-person","person":"Dana Smith"})");
    CHECK(event.billing == BillingMethod::PersonToPerson);
    CHECK(event.person_name == "Dana Smith");
  }
  SECTION("calling-card") {
    const auto event = parse_event<CallRequested>(
        start + R"("billing":"calling-card","card":"4111111111111111","pin":"9876"})");
    CHECK(event.billing == BillingMethod::CallingCard);
    CHECK(event.card_number.reveal() == "4111111111111111");
    CHECK(event.pin.reveal() == "9876");
  }
}

TEST_CASE("link parser reads accept connect disconnect", "[relay][provider_link]") {
  const auto accept = parse_event<Acceptance>(
      R"({"type":"call.accept","call":"C-7","how":"tty-text","by":"called party",)"
      R"("at":"2024-05-01T10:04:05.250-04:00","idempotency_key":"k-8"})");
  CHECK(accept.how == AcceptanceMethod::TtyText);
  CHECK(accept.accepted_by == "called party");
  CHECK(accept.at == Instant{std::chrono::sys_days{2024y / 5 / 1} + 14h + 4min + 5s + 250ms});

  const auto accept_now = parse_event<Acceptance>(
      R"({"type":"call.accept","call":"C-7","how":"voice","by":"CA-4411","idempotency_key":"k-9"})");
  CHECK(accept_now.at == kReceivedAt);

  const auto connect = parse_event<Connected>(
      R"({"type":"call.connect","call":"C-7","at":"2024-05-01T14:05:00Z","idempotency_key":"k-10"})");
  CHECK(connect.at == Instant{std::chrono::sys_days{2024y / 5 / 1} + 14h + 5min});
  CHECK(connect.idempotency_key == "k-10");

  const auto disconnect = parse_event<Disconnected>(
      R"({"type":"call.disconnect","call":"C-7","at":"2024-05-01T14:17:30Z",)"
      R"("idempotency_key":"k-11","id":"m-99"})");
  CHECK(disconnect.at == Instant{std::chrono::sys_days{2024y / 5 / 1} + 14h + 17min + 30s});
  ParsedLine parsed = parse(R"({"type":"call.disconnect","call":"C-7","at":"2024-05-01T14:17:30Z",)"
                            R"("idempotency_key":"k-11","id":"m-99"})");
  CHECK(std::get<LinkMessage>(parsed).ref == "m-99");
}

TEST_CASE("link parser reads session text and close", "[relay][provider_link]") {
  const auto text = parse_event<CallerText>(
      R"({"type":"session.text","session":"S-1","text":"I NEED AN AMBULANCE GA"})");
  CHECK(text.session_id == "S-1");
  CHECK(text.text == "I NEED AN AMBULANCE GA");
  const auto close = parse_event<SessionClosed>(R"({"type":"session.close","session":"S-1"})");
  CHECK(close.session_id == "S-1");
}

TEST_CASE("link parser rejects bad lines", "[relay][provider_link]") {
  struct Case {
    std::string line;
    std::string code;
    std::string expected_words;  // must appear in the error message
  };
  const std::string request = R"({"type":"call.request","session":"S-1","call":"C-7",)"
                              R"("to":"+13035550199","idempotency_key":"k-7",)";
  const std::vector<Case> cases = {
      {"not json", "invalid-json", "invalid JSON"},
      {R"({"type":"session.close","session":"S-1")", "invalid-json", "invalid JSON"},
      {R"(["session.close"])", "invalid-json", "not a JSON object"},
      {R"({"type":"session.close","id":"x","session":"S-1","n":1e999})", "invalid-json",
       "out of range"},
      {R"({"type":"session.close","session":"S-1","n":-1e400})", "invalid-json", "out of range"},
      {"{\"type\":\"session.close\",\"session\":\"S\xC3\x28\"}", "invalid-utf8", "byte 36"},
      {"{\"type\":\"session.close\",\"session\":\"\xED\xA0\x80\"}", "invalid-utf8",
       "not valid UTF-8"},
      {R"({"type":"session.close","session":"S-1","x":[[[[[[[[[1]]]]]]]]]})", "invalid-json",
       "nests deeper"},
      {R"({"session":"S-1"})", "missing-field", "missing \"type\""},
      {R"({"type":7,"session":"S-1"})", "wrong-type", "\"type\" must be a string"},
      {R"({"type":"session.reopen","session":"S-1"})", "unknown-type",
       "unknown message type \"session.reopen\""},
      {R"({"type":"session.close"})", "missing-field", "session.close is missing \"session\""},
      {R"({"type":"session.close","session":42})", "wrong-type",
       "\"session\" in session.close must be a string"},
      {R"({"type":"session.close","session":"S 1"})", "invalid-value", "\"S 1\""},
      {R"({"type":"session.close","session":"S-1","sesion":"S-2"})", "unknown-field",
       "unknown field \"sesion\""},
      {R"({"type":"session.open","session":"S-1","service":"relay-ip","caller":"+12125550107",)"
       R"("location":"NYC","agent":"CA-1","provider":"other"})",
       "unknown-field", "TLS client certificate"},
      {R"({"type":"session.open","session":"S-1","service":"fax","caller":"+12125550107",)"
       R"("location":"NYC","agent":"CA-1"})",
       "invalid-value", "unknown service \"fax\""},
      {R"({"type":"session.open","session":"S-1","service":"video","caller":"call me",)"
       R"("location":"NYC","agent":"CA-1"})",
       "invalid-value", "phone number"},
      {R"({"type":"session.open","session":"S-1","service":"video","caller":"+12125550107",)"
       R"("location":"NYC","agent":"CA-1","emergency":"yes"})",
       "wrong-type", "must be true or false"},
      {R"({"type":"session.open","session":"S-1","service":"video","caller":"+12125550107",)"
       R"("agent":"CA-1"})",
       "missing-field", "missing \"location\""},
      {request + R"("billing":"bill-me"})", "invalid-value", "unknown billing \"bill-me\""},
      {request + R"("billing":"third-party"})", "missing-field", "missing \"third_number\""},
      {request + R"("billing":"person-to-person"})", "missing-field", "missing \"person\""},
      {request + R"("billing":"calling-card","card":"4111111111111111"})", "missing-field",
       "missing \"pin\""},
      {request + R"("billing":"calling-card","card":"41111","pin":"1234"})", "invalid-value",
       "*1111 has 5 digits"},
      {request + R"("billing":"calling-card","card":"4111111111111111","pin":"12"})",
       "invalid-value", "PIN has 2 digits"},
      {request + R"("billing":"calling-card","card":"4111111111111111","pin":"123456789"})",
       "invalid-value", "PIN has 9 digits; send the card's PIN of 4 to 8 digits"},
      {request + R"("billing":"collect","pin":"1234"})", "unexpected-field",
       "\"pin\" is not used with billing collect"},
      {R"({"type":"call.request","session":"S-1","call":"C-7","to":"+13035550199",)"
       R"("billing":"collect"})",
       "missing-idempotency-key", "must carry \"idempotency_key\""},
      {R"({"type":"call.accept","call":"C-7","how":"voice","by":"CA-1"})",
       "missing-idempotency-key", "call.accept changes billing"},
      {R"({"type":"call.connect","call":"C-7","at":"2024-05-01T14:05:00Z"})",
       "missing-idempotency-key", "call.connect changes billing"},
      {R"({"type":"call.disconnect","call":"C-7","at":"2024-05-01T14:05:00Z"})",
       "missing-idempotency-key", "call.disconnect changes billing"},
      {R"({"type":"call.disconnect","call":"C-7","idempotency_key":"k"})", "missing-field",
       "missing \"at\""},
      {R"({"type":"call.accept","call":"C-7","how":"smoke signal","by":"CA-1",)"
       R"("idempotency_key":"k"})",
       "invalid-value", "unknown how \"smoke signal\""},
      {R"({"type":"call.connect","call":"C-7","at":"2024-05-01 14:05","idempotency_key":"k"})",
       "bad-timestamp", "invalid timestamp \"2024-05-01 14:05\""},
      {R"({"type":"call.connect","call":"C-7","at":"2024-02-30T14:05:00Z","idempotency_key":"k"})",
       "bad-timestamp", "no such date"},
      {R"({"type":"call.connect","call":"C-7","at":"2024-05-01T14:05:00","idempotency_key":"k"})",
       "bad-timestamp", "missing UTC offset"},
      {R"({"type":"call.connect","call":"C-7","at":1714572300,"idempotency_key":"k"})",
       "wrong-type", "must be a string"},
      {R"({"type":"session.close","session":"S-1","id":5})", "invalid-value", "\"id\" must be"},
      {request + R"("billing":"collect","billing":"calling-card"})", "invalid-json",
       "field \"billing\" appears more than once"},
  };
  for (const Case& c : cases) {
    INFO("line: " << c.line);
    ParsedLine parsed = parse(c.line);
    REQUIRE(std::holds_alternative<ErrorReply>(parsed));
    const ErrorReply& error = std::get<ErrorReply>(parsed);
    CHECK(error.code == c.code);
    CHECK_THAT(error.message, Catch::Contains(c.expected_words));
  }
}

TEST_CASE("link parser masks digits in errors", "[relay][provider_link]") {
  struct Case {
    std::string line;
    std::string number;  // must not appear in the message
    std::string masked;  // must appear instead
  };
  const std::string open = R"({"type":"session.open","session":"S-1","service":"video",)"
                           R"("location":"NYC","agent":"CA-1",)";
  const std::string request = R"({"type":"call.request","session":"S-1","call":"C-7",)"
                              R"("billing":"collect","idempotency_key":"k-7",)";
  const std::vector<Case> cases = {
      {request + R"("to":"4111111111111111"})", "4111111111111111", "\"************1111\""},
      {request + R"("to":"+1 (312) 555-0188"})", "312) 555-0188", "\"+* (***) ***-0188\""},
      {open + R"("caller":"4111 1111 1111 1111"})", "4111 1111", "\"**** **** **** 1111\""},
      {R"({"type":"session.close","session":"S 4111111111111111"})", "4111111111111111",
       "\"S ************1111\""},
  };
  for (const Case& c : cases) {
    INFO("line: " << c.line);
    ParsedLine parsed = parse(c.line);
    REQUIRE(std::holds_alternative<ErrorReply>(parsed));
    const ErrorReply& error = std::get<ErrorReply>(parsed);
    CHECK(error.code == "invalid-value");
    CHECK_THAT(error.message, Catch::Contains(c.masked));
    CHECK(error.message.find(c.number) == std::string::npos);
  }
}

TEST_CASE("link parser echoes id in error ref", "[relay][provider_link]") {
  ParsedLine parsed = parse(R"({"id":"m-12","type":"call.connect","call":"C-7","at":"soon",)"
                            R"("idempotency_key":"k"})");
  REQUIRE(std::holds_alternative<ErrorReply>(parsed));
  CHECK(std::get<ErrorReply>(parsed).ref == "m-12");
  CHECK(std::get<ErrorReply>(parsed).code == "bad-timestamp");
}

TEST_CASE("link reader recovers after a bad line", "[relay][provider_link]") {
  LinkReader reader("provider-a.example");
  const std::string stream =
      "{\"type\":\"session.close\",\"session\":\"S-1\"}\r\n"
      "{\"type\":\"session.close\"\n"
      "\n"
      "{\"type\":\"call.connect\",\"call\":\"C-7\",\"at\":\"2024-05-01T14:05:00Z\","
      "\"idempotency_key\":\"k-10\"}\n"
      "{\"type\":\"session.cl";
  // Deliver the stream in 7-byte pieces, as a slow TLS connection might.
  for (std::size_t pos = 0; pos < stream.size(); pos += 7) {
    reader.push(std::string_view(stream).substr(pos, 7));
  }
  auto first = reader.next(kReceivedAt);
  REQUIRE(first.has_value());
  REQUIRE(std::holds_alternative<LinkMessage>(*first));
  CHECK(std::holds_alternative<SessionClosed>(std::get<LinkMessage>(*first).event));

  auto second = reader.next(kReceivedAt);
  REQUIRE(second.has_value());
  REQUIRE(std::holds_alternative<ErrorReply>(*second));
  CHECK(std::get<ErrorReply>(*second).code == "invalid-json");

  auto third = reader.next(kReceivedAt);
  REQUIRE(third.has_value());
  REQUIRE(std::holds_alternative<LinkMessage>(*third));
  CHECK(std::holds_alternative<Connected>(std::get<LinkMessage>(*third).event));

  CHECK_FALSE(reader.next(kReceivedAt).has_value());
  CHECK(reader.partial_bytes() == std::string("{\"type\":\"session.cl").size());
}

TEST_CASE("link reader rejects an overlong line", "[relay][provider_link]") {
  LinkReader reader("provider-a.example");
  const std::string chunk(4096, 'x');
  for (std::size_t sent = 0; sent <= kMaxLineBytes + 4096; sent += chunk.size()) {
    reader.push(chunk);
    CHECK(reader.partial_bytes() <= kMaxLineBytes);
  }
  reader.push("still the long line\n{\"type\":\"session.close\",\"session\":\"S-2\"}\n");

  auto first = reader.next(kReceivedAt);
  REQUIRE(first.has_value());
  REQUIRE(std::holds_alternative<ErrorReply>(*first));
  CHECK(std::get<ErrorReply>(*first).code == "line-too-long");

  auto second = reader.next(kReceivedAt);
  REQUIRE(second.has_value());
  REQUIRE(std::holds_alternative<LinkMessage>(*second));
  const auto& closed = std::get<SessionClosed>(std::get<LinkMessage>(*second).event);
  CHECK(closed.session_id == "S-2");
  CHECK_FALSE(reader.next(kReceivedAt).has_value());
}

TEST_CASE("link parser rejects a line past the maximum", "[relay][provider_link]") {
  const std::string line = R"({"type":"session.text","session":"S-1","text":")" +
                           std::string(kMaxLineBytes, 'A') + "\"}";
  ParsedLine parsed = parse(line);
  REQUIRE(std::holds_alternative<ErrorReply>(parsed));
  CHECK(std::get<ErrorReply>(parsed).code == "line-too-long");
}
