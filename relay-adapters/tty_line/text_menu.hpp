// TextMenu: the assisted-call dialogue between a TTY caller and the gateway, as text.
//
// The menu asks, one short upper-case prompt at a time and each ending in GA, for the number
// to call, how to bill it, and what that billing method needs (card number and PIN, third
// number, person's name, the caller's name for a collect or third-number announcement). It
// then asks the gateway for a quote, shows the total with a short line per charge, takes a
// Y or N, places the call and shows the outcome. A bad answer gets a short re-prompt naming
// what is expected. "911" typed at any step starts an emergency session at once; from then on
// every turn is forwarded as caller text. SK ends the session.
//
// The menu is pure logic: it returns MenuActions for the adapter to carry out and takes the
// gateway's replies through on_quote() and on_authorization(). Card numbers and PINs are never
// echoed back; they leave the menu only inside a CallRequested, wrapped in SecretDigits.
//
// Thread rules: one instance per line, used from one thread (or strand) at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.hpp"
#include "relay-adapters/events.hpp"
#include "tty/conversation.hpp"

namespace relaygw::relay::tty_line {

// Text to transmit to the caller as one TTY transmission.
struct SendText {
  std::string text;
};

// Price this call without placing it, and pass the result to TextMenu::on_quote().
struct RequestQuote {
  CallRequested request;
};

// Place this call, which the caller confirmed. Pass the result to TextMenu::on_authorization().
struct PlaceCall {
  CallRequested request;
};

// The caller dialed an emergency number: open the emergency session now.
struct StartEmergency {
  std::string dialed_number;
};

// Text the caller typed during an emergency session, for the PSAP. Never store or log it.
struct ForwardText {
  std::string text;
};

// The caller typed SK outside a call: close the line after the goodbye text is sent.
struct EndSession {};

using MenuAction =
    std::variant<SendText, RequestQuote, PlaceCall, StartEmergency, ForwardText, EndSession>;

// The step the menu is waiting on.
enum class MenuStep {
  Number,       // (number) number to call
  Billing,      // (billing) how to bill
  CardNumber,   // (card-number)
  Pin,          // (pin)
  ThirdNumber,  // (third-number)
  PersonName,   // (person-name)
  CallerName,   // (caller-name) for the collect or third-number announcement
  Quoting,      // (quoting) waiting for on_quote()
  Confirm,      // (confirm) Y or N to the quote
  Authorizing,  // (authorizing) waiting for on_authorization()
  InCall,       // (in-call) the adapter runs the call until on_call_ended()
  Emergency,    // (emergency) every turn is forwarded
  Ended,        // (ended) SK typed; nothing more is read
};

std::string_view to_string(MenuStep step);

// Normalizes a typed phone number to E.164. Ten NANP digits, or 1 and ten digits, become
// "+1...", and "+" with 8 to 15 digits stays as typed. Spaces, '-', '.', '(' and ')' are ignored.
// "911" and the other N11 emergency numbers are returned as typed. Fails with InvalidArgument
// and a short upper-case TTY message naming what is expected (for example "NUMBER HAS A
// LETTER. TYPE DIGITS ONLY").
Result<std::string> normalize_typed_number(std::string_view typed);

// Formats an E.164 number for TTY text: "+12125550107" becomes "212-555-0107", other numbers
// keep their digits without the '+', which the Baudot code cannot send.
std::string format_number_for_tty(std::string_view e164);

// Parses Y, YES, N or NO in any case; std::nullopt for anything else.
std::optional<bool> parse_yes_no(std::string_view typed);

// True when `typed`, ignoring spaces and '-', is 911.
bool is_emergency_number(std::string_view typed);

class TextMenu {
 public:
  // `session_id` prefixes the menu's call ids ("<session>-c1", "-c2", ...) and idempotency
  // keys. `caller_number` is the line's E.164 number.
  TextMenu(std::string session_id, std::string caller_number);

  // The greeting and the first prompt.
  std::vector<MenuAction> start();

  // Handles one finished turn typed by the caller. Ignored while Quoting, Authorizing, InCall
  // (the adapter routes call text itself) and Ended.
  std::vector<MenuAction> on_turn(const tty::Turn& turn);

  // The quote for the last RequestQuote, or the reason there is none. A quote for another call
  // id, or one that arrives outside the Quoting step, is ignored.
  std::vector<MenuAction> on_quote(const Result<Quote>& quote);

  // The authorization for the last PlaceCall. Accepted moves to InCall; refused shows the
  // plain reason and returns to the number step.
  std::vector<MenuAction> on_authorization(const AuthorizationResult& result);

  // The call placed from InCall ended; `text` is shown, then the number prompt again.
  std::vector<MenuAction> on_call_ended(std::string_view text);

  MenuStep step() const { return step_; }
  // The call being set up or in progress; empty before the first quote request.
  const std::string& call_id() const { return request_.call_id; }
  const CallRequested& request() const { return request_; }

 private:
  std::vector<MenuAction> on_number(const std::string& text);
  std::vector<MenuAction> on_billing(const std::string& text);
  std::vector<MenuAction> on_card_number(const std::string& text);
  std::vector<MenuAction> on_pin(const std::string& text);
  std::vector<MenuAction> on_third_number(const std::string& text);
  std::vector<MenuAction> on_person_name(const std::string& text);
  std::vector<MenuAction> on_caller_name(const std::string& text);
  std::vector<MenuAction> on_confirm(const std::string& text);

  // Moves to `step` and returns its prompt.
  std::vector<MenuAction> ask(MenuStep step);
  // Moves to the step after billing details are complete: caller name or quoting.
  std::vector<MenuAction> after_details();
  std::vector<MenuAction> request_quote();
  void new_call();

  std::string session_id_;
  std::string caller_number_;
  MenuStep step_ = MenuStep::Number;
  std::uint64_t calls_made_ = 0;
  CallRequested request_;
};

}  // namespace relaygw::relay::tty_line
