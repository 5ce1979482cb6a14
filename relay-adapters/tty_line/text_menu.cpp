#include "relay-adapters/tty_line/text_menu.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include "common/card_digits.hpp"

namespace relaygw::relay::tty_line {
namespace {

constexpr std::size_t kMaxNameChars = 64;
// Characters per quote line, so a line fits a small TTY printer or display.
// NOTE: the gateway chose this width; it is not taken from a TTY standard.
constexpr std::size_t kQuoteLineWidth = 32;

constexpr std::string_view kNumberPrompt = "NUMBER TO CALL GA";
constexpr std::string_view kBillingPrompt =
    "BILL HOW? 1 PAID 2 COLLECT 3 THIRD NUMBER 4 PERSON 5 CARD GA";

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// Removes the separators people type inside numbers.
std::string strip_separators(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      out.push_back(c);
    }
  }
  return out;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

bool has_letter(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
}

std::vector<MenuAction> say(std::string text) {
  std::vector<MenuAction> actions;
  actions.emplace_back(SendText{std::move(text)});
  return actions;
}

// A SendText of `problem` followed by `prompt`, as one transmission.
std::vector<MenuAction> reprompt(std::string_view problem, std::string_view prompt) {
  std::string text(problem);
  text += ". ";
  text += prompt;
  return say(std::move(text));
}

void append(std::vector<MenuAction>& to, std::vector<MenuAction> from) {
  for (MenuAction& action : from) {
    to.push_back(std::move(action));
  }
}

// Appends `text` to `out` as lines of at most kQuoteLineWidth characters, each after a
// newline, breaking at spaces. Only a word longer than a whole line is split.
void append_wrapped(std::string& out, std::string_view text) {
  std::string line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) {
      continue;
    }
    if (!line.empty() && line.size() + 1 + word.size() > kQuoteLineWidth) {
      out += "\n" + line;
      line.clear();
    }
    while (word.size() > kQuoteLineWidth) {
      if (!line.empty()) {
        out += "\n" + line;
        line.clear();
      }
      out += "\n" + std::string(word.substr(0, kQuoteLineWidth));
      word.remove_prefix(kQuoteLineWidth);
    }
    if (!word.empty()) {
      line += line.empty() ? std::string(word) : " " + std::string(word);
    }
  }
  if (!line.empty()) {
    out += "\n" + line;
  }
}

// Renders a quote as a total, each charge with its amount wrapped at word boundaries, and the
// Y or N question.
std::string render_quote(const Quote& quote) {
  std::string text = "COST $" + quote.total;
  if (quote.currency != "USD") {
    text += " " + upper(quote.currency);
  }
  for (const QuoteLine& line : quote.lines) {
    append_wrapped(text, upper(line.description) + " $" + line.amount);
  }
  text += "\nPLACE CALL Y OR N GA";
  return text;
}

// Takes the text of a message for TTY: upper case, without a trailing period.
std::string tty_sentence(std::string_view message) {
  // A masked card number ("************2222") would go out as STAR twelve times, about seven
  // seconds of Baudot, so it is sent as "ENDING 2222".
  std::string unmasked;
  for (std::size_t i = 0; i < message.size();) {
    std::size_t stars = 0;
    while (i + stars < message.size() && message[i + stars] == '*') {
      ++stars;
    }
    const bool digit_follows = i + stars < message.size() &&
                               std::isdigit(static_cast<unsigned char>(message[i + stars])) != 0;
    if (stars >= 2 && digit_follows) {
      unmasked += "ending ";
      i += stars;
    } else if (stars > 0) {
      unmasked.append(stars, '*');
      i += stars;
    } else {
      unmasked += message[i++];
    }
  }
  std::string text = upper(unmasked);
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::string_view to_string(MenuStep step) {
  switch (step) {
    case MenuStep::Number:
      return "number";
    case MenuStep::Billing:
      return "billing";
    case MenuStep::CardNumber:
      return "card-number";
    case MenuStep::Pin:
      return "pin";
    case MenuStep::ThirdNumber:
      return "third-number";
    case MenuStep::PersonName:
      return "person-name";
    case MenuStep::CallerName:
      return "caller-name";
    case MenuStep::Quoting:
      return "quoting";
    case MenuStep::Confirm:
      return "confirm";
    case MenuStep::Authorizing:
      return "authorizing";
    case MenuStep::InCall:
      return "in-call";
    case MenuStep::Emergency:
      return "emergency";
    case MenuStep::Ended:
      return "ended";
  }
  return "unknown";
}

Result<std::string> normalize_typed_number(std::string_view typed) {
  std::string text = strip_separators(typed);
  if (text.empty()) {
    return Status(StatusCode::InvalidArgument, "NO NUMBER TYPED");
  }
  if (has_letter(text)) {
    return Status(StatusCode::InvalidArgument, "NUMBER HAS A LETTER. TYPE DIGITS ONLY");
  }
  bool plus = text.front() == '+';
  std::string digits = plus ? text.substr(1) : text;
  if (!all_digits(digits)) {
    return Status(StatusCode::InvalidArgument, "NUMBER HAS A SIGN IN IT. TYPE DIGITS ONLY");
  }
  if (!plus && digits.size() == 3 && digits[0] >= '2' && digits.substr(1) == "11") {
    return digits;  // N11 service and emergency codes
  }
  if (plus) {
    if (digits.size() < 8 || digits.size() > 15 || digits[0] == '0') {
      return Status(StatusCode::InvalidArgument, "NUMBER AFTER PLUS NEEDS 8 TO 15 DIGITS");
    }
    return "+" + digits;
  }
  if (digits.size() == 11 && digits[0] == '1') {
    digits.erase(0, 1);
  }
  if (digits.size() != 10) {
    return Status(StatusCode::InvalidArgument, "NUMBER NEEDS 10 DIGITS WITH AREA CODE");
  }
  return "+1" + digits;
}

std::string format_number_for_tty(std::string_view e164) {
  if (e164.size() == 12 && e164.substr(0, 2) == "+1") {
    std::string out(e164.substr(2, 3));
    out += "-";
    out += e164.substr(5, 3);
    out += "-";
    out += e164.substr(8);
    return out;
  }
  if (!e164.empty() && e164.front() == '+') {
    return std::string(e164.substr(1));
  }
  return std::string(e164);
}

std::optional<bool> parse_yes_no(std::string_view typed) {
  std::string text = upper(typed);
  if (text == "Y" || text == "YES") {
    return true;
  }
  if (text == "N" || text == "NO") {
    return false;
  }
  return std::nullopt;
}

bool is_emergency_number(std::string_view typed) {
  std::string text;
  for (char c : typed) {
    if (c != ' ' && c != '-') {
      text.push_back(c);
    }
  }
  return text == "911";
}

TextMenu::TextMenu(std::string session_id, std::string caller_number)
    : session_id_(std::move(session_id)), caller_number_(std::move(caller_number)) {}

std::vector<MenuAction> TextMenu::start() {
  step_ = MenuStep::Number;
  std::string text = "OPERATOR SERVICES. FOR EMERGENCY TYPE 911\n";
  text += kNumberPrompt;
  return say(std::move(text));
}

std::vector<MenuAction> TextMenu::on_turn(const tty::Turn& turn) {
  if (step_ == MenuStep::Emergency) {
    std::vector<MenuAction> actions;
    std::string text = turn.text;
    if (turn.marker != tty::TurnMarker::None) {
      text += text.empty() ? "" : " ";
      text += tty::to_string(turn.marker);
    }
    if (!text.empty()) {
      actions.emplace_back(ForwardText{std::move(text)});
    }
    return actions;
  }
  if (step_ == MenuStep::InCall || step_ == MenuStep::Ended) {
    return {};
  }

  std::string text = upper(turn.text);
  if (is_emergency_number(text)) {
    step_ = MenuStep::Emergency;
    std::vector<MenuAction> actions;
    actions.emplace_back(StartEmergency{"911"});
    actions.emplace_back(SendText{"EMERGENCY 911. YOUR TEXT GOES TO THE 911 CENTER. TYPE NOW GA"});
    return actions;
  }
  if (turn.marker == tty::TurnMarker::StopKeying) {
    step_ = MenuStep::Ended;
    std::vector<MenuAction> actions;
    actions.emplace_back(SendText{"GOODBYE SK SK"});
    actions.emplace_back(EndSession{});
    return actions;
  }

  switch (step_) {
    case MenuStep::Number:
      return on_number(text);
    case MenuStep::Billing:
      return on_billing(text);
    case MenuStep::CardNumber:
      return on_card_number(text);
    case MenuStep::Pin:
      return on_pin(text);
    case MenuStep::ThirdNumber:
      return on_third_number(text);
    case MenuStep::PersonName:
      return on_person_name(text);
    case MenuStep::CallerName:
      return on_caller_name(text);
    case MenuStep::Confirm:
      return on_confirm(text);
    case MenuStep::Quoting:
    case MenuStep::Authorizing:
    case MenuStep::InCall:
    case MenuStep::Emergency:
    case MenuStep::Ended:
      break;
  }
  return {};
}

std::vector<MenuAction> TextMenu::on_number(const std::string& text) {
  if (text.empty()) {
    return reprompt("NO NUMBER TYPED", kNumberPrompt);
  }
  Result<std::string> number = normalize_typed_number(text);
  if (!number) {
    return reprompt(number.status().message(), kNumberPrompt);
  }
  if (number.value().size() == 3) {
    return reprompt("CANNOT CALL " + number.value() + " HERE", kNumberPrompt);
  }
  new_call();
  request_.dialed_number = number.value();
  return ask(MenuStep::Billing);
}

std::vector<MenuAction> TextMenu::on_billing(const std::string& text) {
  std::optional<BillingMethod> method;
  if (text == "1" || text == "PAID" || text == "SENT PAID") {
    method = BillingMethod::SentPaid;
  } else if (text == "2" || text == "COLLECT") {
    method = BillingMethod::Collect;
  } else if (text == "3" || text == "THIRD" || text == "THIRD NUMBER") {
    method = BillingMethod::ThirdParty;
  } else if (text == "4" || text == "PERSON") {
    method = BillingMethod::PersonToPerson;
  } else if (text == "5" || text == "CARD") {
    method = BillingMethod::CallingCard;
  }
  if (!method) {
    return reprompt(text.empty() ? "NO CHOICE TYPED" : "UNKNOWN CHOICE", kBillingPrompt);
  }
  request_.billing = *method;
  switch (*method) {
    case BillingMethod::CallingCard:
      return ask(MenuStep::CardNumber);
    case BillingMethod::ThirdParty:
      return ask(MenuStep::ThirdNumber);
    case BillingMethod::PersonToPerson:
      return ask(MenuStep::PersonName);
    case BillingMethod::SentPaid:
    case BillingMethod::Collect:
      break;
  }
  return after_details();
}

std::vector<MenuAction> TextMenu::on_card_number(const std::string& text) {
  std::string digits = strip_separators(text);
  if (digits.empty()) {
    return reprompt("NO CARD NUMBER TYPED", "CARD NUMBER GA");
  }
  if (!all_digits(digits)) {
    return reprompt("CARD NUMBER IS DIGITS ONLY", "CARD NUMBER GA");
  }
  if (digits.size() < 10 || digits.size() > 19) {
    return reprompt("CARD NUMBER NEEDS 10 TO 19 DIGITS", "CARD NUMBER GA");
  }
  request_.card_number = SecretDigits(SecretDigits::Kind::CardNumber, std::move(digits));
  return ask(MenuStep::Pin);
}

std::vector<MenuAction> TextMenu::on_pin(const std::string& text) {
  std::string digits = strip_separators(text);
  if (digits.empty()) {
    return reprompt("NO PIN TYPED", "PIN GA");
  }
  if (!all_digits(digits)) {
    return reprompt("PIN IS DIGITS ONLY", "PIN GA");
  }
  if (digits.size() < kMinPinDigits || digits.size() > kMaxPinDigits) {
    return reprompt("PIN NEEDS " + std::to_string(kMinPinDigits) + " TO " +
                        std::to_string(kMaxPinDigits) + " DIGITS",
                    "PIN GA");
  }
  request_.pin = SecretDigits(SecretDigits::Kind::Pin, std::move(digits));
  return after_details();
}

std::vector<MenuAction> TextMenu::on_third_number(const std::string& text) {
  if (text.empty()) {
    return reprompt("NO NUMBER TYPED", "NUMBER TO BILL GA");
  }
  Result<std::string> number = normalize_typed_number(text);
  if (!number) {
    return reprompt(number.status().message(), "NUMBER TO BILL GA");
  }
  if (number.value().size() == 3) {
    return reprompt("CANNOT BILL " + number.value(), "NUMBER TO BILL GA");
  }
  if (number.value() == caller_number_ || number.value() == request_.dialed_number) {
    return reprompt("THIRD NUMBER MUST DIFFER FROM BOTH LINES", "NUMBER TO BILL GA");
  }
  request_.third_number = number.value();
  return after_details();
}

std::vector<MenuAction> TextMenu::on_person_name(const std::string& text) {
  if (text.empty()) {
    return reprompt("NO NAME TYPED", "NAME OF PERSON TO REACH GA");
  }
  if (text.size() > kMaxNameChars) {
    return reprompt("NAME TOO LONG. USE UP TO 64 LETTERS", "NAME OF PERSON TO REACH GA");
  }
  request_.person_name = text;
  return after_details();
}

std::vector<MenuAction> TextMenu::on_caller_name(const std::string& text) {
  if (text.empty()) {
    return reprompt("NO NAME TYPED", "YOUR NAME FOR THE ANNOUNCEMENT GA");
  }
  if (text.size() > kMaxNameChars) {
    return reprompt("NAME TOO LONG. USE UP TO 64 LETTERS", "YOUR NAME FOR THE ANNOUNCEMENT GA");
  }
  request_.caller_name = text;
  return request_quote();
}

std::vector<MenuAction> TextMenu::on_confirm(const std::string& text) {
  std::optional<bool> yes = parse_yes_no(text);
  if (!yes) {
    return say("TYPE Y TO PLACE THE CALL OR N TO CANCEL GA");
  }
  if (!*yes) {
    std::vector<MenuAction> actions = say("CALL CANCELLED. NOT BILLED");
    append(actions, ask(MenuStep::Number));
    return actions;
  }
  step_ = MenuStep::Authorizing;
  std::vector<MenuAction> actions;
  actions.emplace_back(PlaceCall{request_});
  return actions;
}

std::vector<MenuAction> TextMenu::on_quote(const Result<Quote>& quote) {
  if (step_ != MenuStep::Quoting) {
    return {};
  }
  if (!quote) {
    std::vector<MenuAction> actions =
        say("NO QUOTE FOR THIS CALL: " + tty_sentence(quote.status().message()));
    append(actions, ask(MenuStep::Number));
    return actions;
  }
  if (quote.value().call_id != request_.call_id) {
    return {};
  }
  step_ = MenuStep::Confirm;
  return say(render_quote(quote.value()));
}

std::vector<MenuAction> TextMenu::on_authorization(const AuthorizationResult& result) {
  if (step_ != MenuStep::Authorizing || result.call_id != request_.call_id) {
    return {};
  }
  if (result.accepted) {
    step_ = MenuStep::InCall;
    return say("CALL APPROVED. CALLING " + format_number_for_tty(request_.dialed_number) + " GA");
  }
  std::string reason = tty_sentence(result.message.empty() ? result.reason_code : result.message);
  std::vector<MenuAction> actions = say("CALL REFUSED: " + reason);
  append(actions, ask(MenuStep::Number));
  return actions;
}

std::vector<MenuAction> TextMenu::on_call_ended(std::string_view text) {
  if (step_ != MenuStep::InCall) {
    return {};
  }
  std::vector<MenuAction> actions = say(tty_sentence(text));
  append(actions, ask(MenuStep::Number));
  return actions;
}

std::vector<MenuAction> TextMenu::ask(MenuStep step) {
  step_ = step;
  switch (step) {
    case MenuStep::Number:
      return say(std::string(kNumberPrompt));
    case MenuStep::Billing:
      return say(std::string(kBillingPrompt));
    case MenuStep::CardNumber:
      return say("CARD NUMBER GA");
    case MenuStep::Pin:
      return say("PIN GA");
    case MenuStep::ThirdNumber:
      return say("NUMBER TO BILL GA");
    case MenuStep::PersonName:
      return say("NAME OF PERSON TO REACH GA");
    case MenuStep::CallerName:
      return say("YOUR NAME FOR THE ANNOUNCEMENT GA");
    case MenuStep::Quoting:
    case MenuStep::Confirm:
    case MenuStep::Authorizing:
    case MenuStep::InCall:
    case MenuStep::Emergency:
    case MenuStep::Ended:
      break;
  }
  return {};
}

std::vector<MenuAction> TextMenu::after_details() {
  if (request_.billing == BillingMethod::Collect || request_.billing == BillingMethod::ThirdParty) {
    return ask(MenuStep::CallerName);
  }
  return request_quote();
}

std::vector<MenuAction> TextMenu::request_quote() {
  step_ = MenuStep::Quoting;
  std::vector<MenuAction> actions;
  actions.emplace_back(RequestQuote{request_});
  return actions;
}

void TextMenu::new_call() {
  ++calls_made_;
  request_ = CallRequested{};
  request_.call_id = session_id_ + "-c" + std::to_string(calls_made_);
  request_.session_id = session_id_;
  request_.idempotency_key = request_.call_id + "/request";
}

}  // namespace relaygw::relay::tty_line
