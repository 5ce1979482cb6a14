#include "relay-adapters/tty_line/text_menu.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace relaygw::relay;
using namespace relaygw::relay::tty_line;
using relaygw::Result;
using relaygw::Status;
using relaygw::StatusCode;
using relaygw::tty::Turn;
using relaygw::tty::TurnMarker;

// A menu on line +12125550107 with domain verbs for the caller's side of the dialogue.
class MenuFixture {
 protected:
  TextMenu menu_{"tty-7", "+12125550107"};
  std::vector<MenuAction> last_;

  MenuFixture() { last_ = menu_.start(); }

  // Types `text` followed by GA.
  void type(std::string_view text, TurnMarker marker = TurnMarker::GoAhead) {
    Turn turn;
    turn.text = std::string(text);
    turn.marker = marker;
    last_ = menu_.on_turn(turn);
  }

  // Every SendText of the last actions, joined by newlines.
  std::string sent() const {
    std::string text;
    for (const MenuAction& action : last_) {
      if (const auto* send = std::get_if<SendText>(&action)) {
        text += text.empty() ? "" : "\n";
        text += send->text;
      }
    }
    return text;
  }

  template <typename T>
  const T* find() const {
    for (const MenuAction& action : last_) {
      if (const auto* found = std::get_if<T>(&action)) {
        return found;
      }
    }
    return nullptr;
  }

  Quote quote_for(const std::string& call_id) const {
    Quote quote;
    quote.call_id = call_id;
    quote.total = "4.35";
    quote.lines = {{"Toll, day, 3 min", "4.10"},
                   {"Relay service", "0.00"},
                   {"Operator assisted collect surcharge", "0.25"}};
    return quote;
  }

  // Runs the dialogue from the number step to the quote request.
  void reach_quote(std::string_view billing_choice) {
    type("303 555 0199");
    type(billing_choice);
  }
};

bool ends_with_ga(const std::string& text) {
  return text.size() >= 3 && text.substr(text.size() - 3) == " GA";
}

}  // namespace

TEST_CASE_METHOD(MenuFixture, "text menu greets and asks number", "[relay][tty_line][menu]") {
  CHECK(menu_.step() == MenuStep::Number);
  CHECK(sent().find("NUMBER TO CALL GA") != std::string::npos);
  CHECK(sent().find("911") != std::string::npos);
}

TEST_CASE_METHOD(MenuFixture, "text menu sent-paid call to authorization",
                 "[relay][tty_line][menu]") {
  type("(303) 555-0199");
  CHECK(menu_.step() == MenuStep::Billing);
  CHECK(ends_with_ga(sent()));

  type("1");
  const RequestQuote* quote_request = find<RequestQuote>();
  REQUIRE(quote_request != nullptr);
  CHECK(menu_.step() == MenuStep::Quoting);
  CHECK(quote_request->request.dialed_number == "+13035550199");
  CHECK(quote_request->request.billing == BillingMethod::SentPaid);
  CHECK(quote_request->request.session_id == "tty-7");
  CHECK(quote_request->request.call_id == "tty-7-c1");
  CHECK(quote_request->request.idempotency_key == "tty-7-c1/request");

  last_ = menu_.on_quote(quote_for("tty-7-c1"));
  CHECK(menu_.step() == MenuStep::Confirm);
  CHECK(sent().find("COST $4.35") != std::string::npos);
  CHECK(sent().find("TOLL, DAY, 3 MIN $4.10") != std::string::npos);
  CHECK(sent().find("\nOPERATOR ASSISTED COLLECT\nSURCHARGE $0.25\n") != std::string::npos);
  CHECK(sent().find("PLACE CALL Y OR N GA") != std::string::npos);

  type("Y");
  const PlaceCall* place = find<PlaceCall>();
  REQUIRE(place != nullptr);
  CHECK(place->request.call_id == "tty-7-c1");
  CHECK(menu_.step() == MenuStep::Authorizing);

  last_ = menu_.on_authorization({"tty-7-c1", true, "", ""});
  CHECK(menu_.step() == MenuStep::InCall);
  CHECK(sent() == "CALL APPROVED. CALLING 303-555-0199 GA");

  last_ = menu_.on_call_ended("Call ended.");
  CHECK(menu_.step() == MenuStep::Number);
  CHECK(sent() == "CALL ENDED\nNUMBER TO CALL GA");
}

TEST_CASE_METHOD(MenuFixture, "text menu collect asks caller name", "[relay][tty_line][menu]") {
  reach_quote("COLLECT");
  CHECK(menu_.step() == MenuStep::CallerName);
  CHECK(sent() == "YOUR NAME FOR THE ANNOUNCEMENT GA");

  type("");
  CHECK(menu_.step() == MenuStep::CallerName);
  CHECK(sent() == "NO NAME TYPED. YOUR NAME FOR THE ANNOUNCEMENT GA");

  type("JOSE RUIZ");
  const RequestQuote* quote_request = find<RequestQuote>();
  REQUIRE(quote_request != nullptr);
  CHECK(quote_request->request.billing == BillingMethod::Collect);
  CHECK(quote_request->request.caller_name == "JOSE RUIZ");
}

TEST_CASE_METHOD(MenuFixture, "text menu third number step", "[relay][tty_line][menu]") {
  reach_quote("3");
  CHECK(menu_.step() == MenuStep::ThirdNumber);

  type("212 555 0107");
  CHECK(menu_.step() == MenuStep::ThirdNumber);
  CHECK(sent() == "THIRD NUMBER MUST DIFFER FROM BOTH LINES. NUMBER TO BILL GA");

  type("415 555 01X2");
  CHECK(sent() == "NUMBER HAS A LETTER. TYPE DIGITS ONLY. NUMBER TO BILL GA");

  type("1 415 555 0123");
  CHECK(menu_.step() == MenuStep::CallerName);
  type("ANN LEE");
  const RequestQuote* quote_request = find<RequestQuote>();
  REQUIRE(quote_request != nullptr);
  CHECK(quote_request->request.billing == BillingMethod::ThirdParty);
  CHECK(quote_request->request.third_number == "+14155550123");
}

TEST_CASE_METHOD(MenuFixture, "text menu person-to-person name step", "[relay][tty_line][menu]") {
  reach_quote("4");
  CHECK(menu_.step() == MenuStep::PersonName);
  type("");
  CHECK(sent() == "NO NAME TYPED. NAME OF PERSON TO REACH GA");
  type(std::string(65, 'A'));
  CHECK(sent() == "NAME TOO LONG. USE UP TO 64 LETTERS. NAME OF PERSON TO REACH GA");
  type("MARIA GOMEZ");
  const RequestQuote* quote_request = find<RequestQuote>();
  REQUIRE(quote_request != nullptr);
  CHECK(quote_request->request.billing == BillingMethod::PersonToPerson);
  CHECK(quote_request->request.person_name == "MARIA GOMEZ");
  CHECK(quote_request->request.caller_name.empty());
}

TEST_CASE_METHOD(MenuFixture, "text menu card and PIN not echoed", "[relay][tty_line][menu]") {
  reach_quote("CARD");
  CHECK(menu_.step() == MenuStep::CardNumber);

  type("4111 1111 1111 987X");
  CHECK(sent() == "CARD NUMBER IS DIGITS ONLY. CARD NUMBER GA");
  type("411111");
  CHECK(sent() == "CARD NUMBER NEEDS 10 TO 19 DIGITS. CARD NUMBER GA");
  type("4111 1111 1111 9876");
  CHECK(menu_.step() == MenuStep::Pin);
  CHECK(sent() == "PIN GA");

  type("73");
  CHECK(sent() == "PIN NEEDS 4 TO 8 DIGITS. PIN GA");
  type("73O5");
  CHECK(sent() == "PIN IS DIGITS ONLY. PIN GA");
  type("7305");

  const RequestQuote* quote_request = find<RequestQuote>();
  REQUIRE(quote_request != nullptr);
  CHECK(quote_request->request.card_number.reveal() == "4111111111119876");
  CHECK(quote_request->request.card_number.masked() == "************9876");
  CHECK(quote_request->request.pin.reveal() == "7305");
  CHECK(describe(InboundEvent{quote_request->request}).find("7305") == std::string::npos);

  last_ = menu_.on_quote(quote_for("tty-7-c1"));
  CHECK(sent().find("9876") == std::string::npos);
  CHECK(sent().find("7305") == std::string::npos);
}

TEST_CASE_METHOD(MenuFixture, "text menu wrong PIN refusal shown", "[relay][tty_line][menu]") {
  reach_quote("5");
  type("4111111111119876");
  type("0000");
  last_ = menu_.on_quote(quote_for("tty-7-c1"));
  type("YES");
  REQUIRE(find<PlaceCall>() != nullptr);

  last_ = menu_.on_authorization(
      {"tty-7-c1", false, "wrong-pin", "The PIN does not match the card; check it and retry."});
  CHECK(menu_.step() == MenuStep::Number);
  CHECK(sent() ==
        "CALL REFUSED: THE PIN DOES NOT MATCH THE CARD; CHECK IT AND RETRY\nNUMBER TO CALL GA");
  CHECK(sent().find("0000") == std::string::npos);
}

TEST_CASE_METHOD(MenuFixture, "text menu masked card said briefly", "[relay][tty_line][menu]") {
  reach_quote("5");
  type("4111111111119876");
  type("0000");
  last_ = menu_.on_quote(quote_for("tty-7-c1"));
  type("YES");
  REQUIRE(find<PlaceCall>() != nullptr);

  last_ = menu_.on_authorization(
      {"tty-7-c1", false, "wrong-pin", "wrong PIN for card ************9876; 2 tries left"});
  CHECK(sent() == "CALL REFUSED: WRONG PIN FOR CARD ENDING 9876; 2 TRIES LEFT\nNUMBER TO CALL GA");
}

TEST_CASE_METHOD(MenuFixture, "text menu number errors re-prompt", "[relay][tty_line][menu]") {
  struct Case {
    std::string typed;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"", "NO NUMBER TYPED. NUMBER TO CALL GA"},
      {"303 555 O199", "NUMBER HAS A LETTER. TYPE DIGITS ONLY. NUMBER TO CALL GA"},
      {"303 555 0199$", "NUMBER HAS A SIGN IN IT. TYPE DIGITS ONLY. NUMBER TO CALL GA"},
      {"555 0199", "NUMBER NEEDS 10 DIGITS WITH AREA CODE. NUMBER TO CALL GA"},
      {"+12", "NUMBER AFTER PLUS NEEDS 8 TO 15 DIGITS. NUMBER TO CALL GA"},
      {"411", "CANNOT CALL 411 HERE. NUMBER TO CALL GA"},
  };
  for (const Case& c : cases) {
    INFO("typed: \"" << c.typed << "\"");
    type(c.typed);
    CHECK(menu_.step() == MenuStep::Number);
    CHECK(sent() == c.expected);
  }
}

TEST_CASE_METHOD(MenuFixture, "text menu unknown billing choice", "[relay][tty_line][menu]") {
  type("3035550199");
  type("7");
  CHECK(menu_.step() == MenuStep::Billing);
  CHECK(sent().rfind("UNKNOWN CHOICE. BILL HOW?", 0) == 0);
  type("");
  CHECK(sent().rfind("NO CHOICE TYPED. BILL HOW?", 0) == 0);
  type("collect");
  CHECK(menu_.step() == MenuStep::CallerName);
}

TEST_CASE_METHOD(MenuFixture, "text menu confirm needs Y or N", "[relay][tty_line][menu]") {
  reach_quote("1");
  last_ = menu_.on_quote(quote_for("tty-7-c1"));
  type("MAYBE");
  CHECK(menu_.step() == MenuStep::Confirm);
  CHECK(sent() == "TYPE Y TO PLACE THE CALL OR N TO CANCEL GA");
  type("N");
  CHECK(menu_.step() == MenuStep::Number);
  CHECK(find<PlaceCall>() == nullptr);
  CHECK(sent() == "CALL CANCELLED. NOT BILLED\nNUMBER TO CALL GA");

  // The next call gets a new call id.
  reach_quote("1");
  const RequestQuote* quote_request = find<RequestQuote>();
  REQUIRE(quote_request != nullptr);
  CHECK(quote_request->request.call_id == "tty-7-c2");
}

TEST_CASE_METHOD(MenuFixture, "text menu quote failure returns to number",
                 "[relay][tty_line][menu]") {
  reach_quote("1");
  last_ = menu_.on_quote(Result<Quote>(StatusCode::Unavailable, "Rating is unavailable now."));
  CHECK(menu_.step() == MenuStep::Number);
  CHECK(sent() == "NO QUOTE FOR THIS CALL: RATING IS UNAVAILABLE NOW\nNUMBER TO CALL GA");
}

TEST_CASE_METHOD(MenuFixture, "text menu ignores replies for other calls",
                 "[relay][tty_line][menu]") {
  reach_quote("1");
  last_ = menu_.on_quote(quote_for("tty-7-c9"));
  CHECK(last_.empty());
  CHECK(menu_.step() == MenuStep::Quoting);
  last_ = menu_.on_authorization({"tty-7-c1", true, "", ""});
  CHECK(last_.empty());
  CHECK(menu_.step() == MenuStep::Quoting);
}

TEST_CASE_METHOD(MenuFixture, "text menu 911 at any step", "[relay][tty_line][menu]") {
  SECTION("at the number step") {}
  SECTION("at the billing step") { type("3035550199"); }
  SECTION("at the card number step") { reach_quote("5"); }
  SECTION("at the confirmation step") {
    reach_quote("1");
    last_ = menu_.on_quote(quote_for("tty-7-c1"));
  }
  type("9-1-1");
  const StartEmergency* emergency = find<StartEmergency>();
  REQUIRE(emergency != nullptr);
  CHECK(emergency->dialed_number == "911");
  CHECK(menu_.step() == MenuStep::Emergency);
  CHECK(sent().find("TYPE NOW GA") != std::string::npos);

  type("FIRE AT 12 OAK ST", TurnMarker::GoAhead);
  const ForwardText* forwarded = find<ForwardText>();
  REQUIRE(forwarded != nullptr);
  CHECK(forwarded->text == "FIRE AT 12 OAK ST GA");
  CHECK(sent().empty());

  type("", TurnMarker::StopKeying);
  forwarded = find<ForwardText>();
  REQUIRE(forwarded != nullptr);
  CHECK(forwarded->text == "SK");
  CHECK(menu_.step() == MenuStep::Emergency);
}

TEST_CASE_METHOD(MenuFixture, "text menu SK ends session", "[relay][tty_line][menu]") {
  type("3035550199");
  type("", TurnMarker::StopKeying);
  CHECK(menu_.step() == MenuStep::Ended);
  CHECK(find<EndSession>() != nullptr);
  CHECK(sent() == "GOODBYE SK SK");
  type("3035550199");
  CHECK(last_.empty());
}

TEST_CASE("typed number normalizes to E.164", "[relay][tty_line][menu]") {
  struct Case {
    std::string typed;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"3035550199", "+13035550199"},        {"1 303 555 0199", "+13035550199"},
      {"(303) 555-0199", "+13035550199"},    {"303.555.0199", "+13035550199"},
      {"+44 20 7946 0018", "+442079460018"}, {"911", "911"},
  };
  for (const Case& c : cases) {
    INFO("typed: \"" << c.typed << "\"");
    Result<std::string> number = normalize_typed_number(c.typed);
    REQUIRE(number.is_ok());
    CHECK(number.value() == c.expected);
  }
}

TEST_CASE("yes or no answers parse", "[relay][tty_line][menu]") {
  CHECK(parse_yes_no("Y") == std::optional<bool>(true));
  CHECK(parse_yes_no("yes") == std::optional<bool>(true));
  CHECK(parse_yes_no("N") == std::optional<bool>(false));
  CHECK(parse_yes_no("NO") == std::optional<bool>(false));
  CHECK_FALSE(parse_yes_no("YEP").has_value());
  CHECK_FALSE(parse_yes_no("").has_value());
}

TEST_CASE("TTY number format drops plus", "[relay][tty_line][menu]") {
  CHECK(format_number_for_tty("+13035550199") == "303-555-0199");
  CHECK(format_number_for_tty("+442079460018") == "442079460018");
  CHECK(format_number_for_tty("911") == "911");
}

TEST_CASE_METHOD(MenuFixture, "text menu wraps quote at words", "[relay][tty_line][menu]") {
  type("(303) 555-0199");
  type("1");
  Quote quote = quote_for("tty-7-c1");
  quote.lines = {{"Interstate toll, evening rate period, first 3 minutes", "12.40"},
                 {"Accessibility discount (state TTY toll reduction)", "-1.24"},
                 {"Surcharge-for-operator-assisted-calling-card-calls", "1.05"}};
  last_ = menu_.on_quote(quote);
  const std::string text = sent();
  CHECK(text ==
        "COST $4.35\n"
        "INTERSTATE TOLL, EVENING RATE\n"
        "PERIOD, FIRST 3 MINUTES $12.40\n"
        "ACCESSIBILITY DISCOUNT (STATE\n"
        "TTY TOLL REDUCTION) $-1.24\n"
        "SURCHARGE-FOR-OPERATOR-ASSISTED-\n"
        "CALLING-CARD-CALLS $1.05\n"
        "PLACE CALL Y OR N GA");
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) {
      line_end = text.size();
    }
    CHECK(line_end - line_start <= 32);
    line_start = line_end + 1;
  }
}
