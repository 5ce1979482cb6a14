#include "relay-adapters/provider_link/link_parser.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/card_digits.hpp"
#include "common/json_keys.hpp"
#include "common/utf8.hpp"

namespace relaygw::relay::provider_link {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxNameBytes = 128;
constexpr std::size_t kMaxLocationBytes = 1024;
constexpr std::size_t kMaxTextBytes = 16 * 1024;

constexpr std::string_view kTypeList =
    "session.open, call.request, call.accept, call.connect, call.disconnect, session.text, "
    "session.close";

// Returns the maximum nesting of objects and arrays, brackets inside strings not counted.
int json_depth(std::string_view text) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

// Quotes an untrusted value for an error message: at most 40 bytes, with control bytes as '?'.
// An invalid phone number or id may be a card number, so every run of 10 or more digits is
// masked to its last four (mask_card_number_runs).
std::string quote_value(std::string_view text) {
  const std::string masked = mask_card_number_runs(text);
  const std::string_view shown = masked;
  std::string out = "\"";
  for (char c : shown.substr(0, 40)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  }
  if (shown.size() > 40) {
    out += "...";
  }
  out.push_back('"');
  return out;
}

const char* json_type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "discarded";
    default:
      return "a number";
  }
}

bool is_id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c == '@';
}

bool is_phone_number(std::string_view text) {
  if (!text.empty() && text[0] == '+') {
    text.remove_prefix(1);
  }
  return text.size() >= 3 && text.size() <= 15 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool has_control_char(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

// The format a string field must have. Each kind has its own check and error wording.
enum class Kind { Id, Phone, Name, Location, Text, Word, Secret };

// One message being read: the object, its type, its ref, and the first error found.
class Reader {
 public:
  Reader(const json& object, std::string type, std::string ref)
      : object_(object), type_(std::move(type)), ref_(std::move(ref)) {}

  bool failed() const { return error_.has_value(); }
  ErrorReply take_error() { return std::move(*error_); }
  const std::string& ref() const { return ref_; }

  void fail(std::string_view code, std::string message) {
    if (!error_) {
      error_ = ErrorReply{ref_, std::string(code), std::move(message)};
    }
  }

  // Fails on a field outside `allowed`; "id" and "type" are always allowed.
  template <std::size_t N>
  void check_fields(const std::array<std::string_view, N>& allowed) {
    for (const auto& [key, value] : object_.items()) {
      if (key == "id" || key == "type" ||
          std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
        continue;
      }
      if (key == "provider") {
        fail("unknown-field", "\"provider\" is not accepted in " + type_ +
                                  ": the provider identity comes from the TLS client certificate; "
                                  "remove the field");
        return;
      }
      std::string list;
      for (std::string_view name : allowed) {
        list += list.empty() ? "" : ", ";
        list += name;
      }
      fail("unknown-field", "unknown field " + quote_value(key) + " in " + type_ +
                                "; remove it or check its spelling (fields: id, type, " + list +
                                ")");
      return;
    }
  }

  // Reads a string field. An absent optional field leaves `out` empty.
  void string(std::string_view name, bool required, Kind kind, std::string& out) {
    if (failed()) {
      return;
    }
    const auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) {
      if (required) {
        fail("missing-field",
             type_ + " is missing \"" + std::string(name) + "\"; add it as " + expected(kind));
      }
      return;
    }
    if (!it->is_string()) {
      fail("wrong-type", "\"" + std::string(name) + "\" in " + type_ + " must be a string (" +
                             expected(kind) + "), not " + json_type_name(*it));
      return;
    }
    const std::string& value = it->get_ref<const std::string&>();
    if (!valid(kind, value)) {
      // A secret's value is never echoed, not even masked, since it may be a mistyped PIN.
      const std::string shown = kind == Kind::Secret ? "value" : "value " + quote_value(value);
      fail("invalid-value", "invalid " + shown + " for \"" + std::string(name) + "\" in " + type_ +
                                "; send " + expected(kind));
      return;
    }
    out = value;
  }

  void idempotency_key(std::string& out) {
    if (failed()) {
      return;
    }
    const auto it = object_.find("idempotency_key");
    if (it == object_.end() || it->is_null()) {
      fail("missing-idempotency-key",
           type_ +
               " changes billing and must carry \"idempotency_key\"; add a key that is "
               "unique to this request and the same on every retry of it");
      return;
    }
    string("idempotency_key", true, Kind::Id, out);
  }

  void instant(std::string_view name, bool required, std::optional<Instant>& out) {
    std::string text;
    string(name, required, Kind::Word, text);
    if (failed() || text.empty()) {
      return;
    }
    Result<Instant> parsed = parse_instant(text);
    if (!parsed.is_ok()) {
      fail("bad-timestamp",
           "\"" + std::string(name) + "\" in " + type_ + ": " + parsed.status().message());
      return;
    }
    out = *parsed;
  }

  void boolean(std::string_view name, bool& out) {
    if (failed()) {
      return;
    }
    const auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) {
      return;
    }
    if (!it->is_boolean()) {
      fail("wrong-type", "\"" + std::string(name) + "\" in " + type_ +
                             " must be true or false, not " + json_type_name(*it));
      return;
    }
    out = it->get<bool>();
  }

  // Fails when `name` is present although the billing method does not use it.
  void forbid(std::string_view name, std::string_view method) {
    if (!failed() && object_.contains(name) && !object_.at(name).is_null()) {
      fail("unexpected-field", "\"" + std::string(name) + "\" is not used with billing " +
                                   std::string(method) + " in " + type_ + "; remove it");
    }
  }

 private:
  static std::string expected(Kind kind) {
    switch (kind) {
      case Kind::Id:
        return "a string of 1 to 128 letters, digits or - _ . : @";
      case Kind::Phone:
        return "a phone number of 3 to 15 digits, optionally after '+', for example "
               "\"+12125550107\"";
      case Kind::Name:
        return "a name of 1 to 128 bytes without control characters";
      case Kind::Location:
        return "a civic address or coordinates of 1 to 1024 bytes without control characters";
      case Kind::Text:
        return "text of 1 to 16384 bytes";
      case Kind::Word:
        return "a non-empty string";
      case Kind::Secret:
        return "digits only: a card number of " + std::to_string(kMinCardNumberDigits) + " to " +
               std::to_string(kMaxCardNumberDigits) + " digits, a PIN of " +
               std::to_string(kMinPinDigits) + " to " + std::to_string(kMaxPinDigits) + " digits";
    }
    return "a string";
  }

  static bool valid(Kind kind, std::string_view value) {
    switch (kind) {
      case Kind::Id:
        return !value.empty() && value.size() <= kMaxIdBytes &&
               std::all_of(value.begin(), value.end(), is_id_char);
      case Kind::Phone:
        return is_phone_number(value);
      case Kind::Name:
        return !value.empty() && value.size() <= kMaxNameBytes && !has_control_char(value);
      case Kind::Location:
        return !value.empty() && value.size() <= kMaxLocationBytes && !has_control_char(value);
      case Kind::Text:
        return !value.empty() && value.size() <= kMaxTextBytes;
      case Kind::Word:
        return !value.empty();
      case Kind::Secret:
        return !value.empty() && all_digits(value);
    }
    return false;
  }

  const json& object_;
  std::string type_;
  std::string ref_;
  std::optional<ErrorReply> error_;
};

// Reads a field whose value must be one of a fixed set of wire names.
template <typename Enum>
std::optional<Enum> read_enum(Reader& reader, std::string_view name, std::string_view type,
                              std::optional<Enum> (*parse)(std::string_view),
                              std::string_view choices) {
  std::string text;
  reader.string(name, true, Kind::Word, text);
  if (reader.failed()) {
    return std::nullopt;
  }
  std::optional<Enum> value = parse(text);
  if (!value) {
    reader.fail("invalid-value", "unknown " + std::string(name) + " " + quote_value(text) + " in " +
                                     std::string(type) + "; send one of " + std::string(choices));
  }
  return value;
}

std::optional<InboundEvent> read_session_open(Reader& reader, std::string_view provider_id) {
  reader.check_fields(std::array<std::string_view, 6>{"session", "service", "caller", "location",
                                                      "agent", "emergency"});
  SessionOpened event;
  event.adapter = Adapter::ProviderLink;
  event.provider_id = std::string(provider_id);
  reader.string("session", true, Kind::Id, event.session_id);
  const auto service =
      read_enum<RelayService>(reader, "service", "session.open", parse_relay_service,
                              "tty, relay-tty, relay-ip, captioned, video, speech");
  reader.string("caller", true, Kind::Phone, event.caller_number);
  reader.string("location", true, Kind::Location, event.caller_location);
  reader.string("agent", true, Kind::Id, event.agent_id);
  reader.boolean("emergency", event.emergency);
  if (reader.failed()) {
    return std::nullopt;
  }
  event.service = *service;
  return event;
}

// Checks the fields that depend on the billing method and moves the secrets into `event`.
void read_billing_fields(Reader& reader, CallRequested& event) {
  const std::string_view method = to_string(event.billing);
  if (event.billing == BillingMethod::CallingCard) {
    std::string card;
    std::string pin;
    reader.string("card", true, Kind::Secret, card);
    reader.string("pin", true, Kind::Secret, pin);
    if (!reader.failed() &&
        (card.size() < kMinCardNumberDigits || card.size() > kMaxCardNumberDigits)) {
      reader.fail("invalid-value",
                  "card number " + mask_card_digits(card) + " has " + std::to_string(card.size()) +
                      " digits; send the card number's " + std::to_string(kMinCardNumberDigits) +
                      " to " + std::to_string(kMaxCardNumberDigits) + " digits");
    }
    if (!reader.failed() && (pin.size() < kMinPinDigits || pin.size() > kMaxPinDigits)) {
      reader.fail("invalid-value", "the PIN has " + std::to_string(pin.size()) +
                                       " digits; send the card's PIN of " +
                                       std::to_string(kMinPinDigits) + " to " +
                                       std::to_string(kMaxPinDigits) + " digits");
    }
    event.card_number = SecretDigits(SecretDigits::Kind::CardNumber, std::move(card));
    event.pin = SecretDigits(SecretDigits::Kind::Pin, std::move(pin));
  } else {
    reader.forbid("card", method);
    reader.forbid("pin", method);
  }
  if (event.billing == BillingMethod::ThirdParty) {
    reader.string("third_number", true, Kind::Phone, event.third_number);
  } else {
    reader.forbid("third_number", method);
  }
  if (event.billing == BillingMethod::PersonToPerson) {
    reader.string("person", true, Kind::Name, event.person_name);
  } else {
    reader.forbid("person", method);
  }
}

std::optional<InboundEvent> read_call_request(Reader& reader) {
  reader.check_fields(std::array<std::string_view, 10>{"session", "call", "to", "billing", "card",
                                                       "pin", "third_number", "person",
                                                       "caller_name", "idempotency_key"});
  CallRequested event;
  reader.idempotency_key(event.idempotency_key);
  reader.string("session", true, Kind::Id, event.session_id);
  reader.string("call", true, Kind::Id, event.call_id);
  reader.string("to", true, Kind::Phone, event.dialed_number);
  const auto billing =
      read_enum<BillingMethod>(reader, "billing", "call.request", parse_billing_method,
                               "sent-paid, collect, third-party, person-to-person, calling-card");
  if (billing) {
    event.billing = *billing;
    read_billing_fields(reader, event);
  }
  reader.string("caller_name", false, Kind::Name, event.caller_name);
  if (reader.failed()) {
    return std::nullopt;
  }
  return event;
}

std::optional<InboundEvent> read_call_accept(Reader& reader, Instant received_at) {
  reader.check_fields(
      std::array<std::string_view, 5>{"call", "how", "by", "at", "idempotency_key"});
  Acceptance event;
  reader.idempotency_key(event.idempotency_key);
  reader.string("call", true, Kind::Id, event.call_id);
  const auto how = read_enum<AcceptanceMethod>(reader, "how", "call.accept",
                                               parse_acceptance_method, "voice, tty-text, keypad");
  reader.string("by", true, Kind::Name, event.accepted_by);
  std::optional<Instant> at;
  reader.instant("at", false, at);
  if (reader.failed()) {
    return std::nullopt;
  }
  event.how = *how;
  event.at = at.value_or(received_at);
  return event;
}

// call.connect and call.disconnect share their fields.
template <typename Event>
std::optional<InboundEvent> read_call_instant(Reader& reader) {
  reader.check_fields(std::array<std::string_view, 3>{"call", "at", "idempotency_key"});
  Event event;
  reader.idempotency_key(event.idempotency_key);
  reader.string("call", true, Kind::Id, event.call_id);
  std::optional<Instant> at;
  reader.instant("at", true, at);
  if (reader.failed()) {
    return std::nullopt;
  }
  event.at = *at;
  return event;
}

std::optional<InboundEvent> read_session_text(Reader& reader) {
  reader.check_fields(std::array<std::string_view, 2>{"session", "text"});
  CallerText event;
  reader.string("session", true, Kind::Id, event.session_id);
  reader.string("text", true, Kind::Text, event.text);
  if (reader.failed()) {
    return std::nullopt;
  }
  return event;
}

std::optional<InboundEvent> read_session_close(Reader& reader) {
  reader.check_fields(std::array<std::string_view, 1>{"session"});
  SessionClosed event;
  reader.string("session", true, Kind::Id, event.session_id);
  if (reader.failed()) {
    return std::nullopt;
  }
  return event;
}

ErrorReply error(std::string ref, std::string_view code, std::string message) {
  return ErrorReply{std::move(ref), std::string(code), std::move(message)};
}

// Checks the bytes before JSON parsing, so each problem gets its own code.
std::optional<ErrorReply> check_line(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return error("", "line-too-long",
                 "line is " + std::to_string(line.size()) + " bytes, above the maximum of " +
                     std::to_string(kMaxLineBytes) + "; send one message per line");
  }
  if (const std::size_t bad = find_invalid_utf8(line); bad != std::string_view::npos) {
    return error("", "invalid-utf8",
                 "byte " + std::to_string(bad) +
                     " of the line is not valid UTF-8; encode the "
                     "message as UTF-8");
  }
  if (json_depth(line) > kMaxJsonDepth) {
    return error("", "invalid-json",
                 "JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                     " levels; send a flat message object as docs/protocol.md shows");
  }
  return std::nullopt;
}

ParsedLine parse_object(const json& message, std::string_view provider_id, Instant received_at) {
  // The id first, so that later errors can name it as their ref.
  std::string ref;
  if (const auto it = message.find("id"); it != message.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
        it->get_ref<const std::string&>().size() > kMaxIdBytes ||
        !std::all_of(it->get_ref<const std::string&>().begin(),
                     it->get_ref<const std::string&>().end(), is_id_char)) {
      return error("", "invalid-value",
                   "\"id\" must be a string of 1 to 128 letters, digits or - _ . : @; fix it or "
                   "leave it out");
    }
    ref = it->get<std::string>();
  }
  const auto type_it = message.find("type");
  if (type_it == message.end()) {
    return error(ref, "missing-field",
                 "message is missing \"type\"; add one of " + std::string(kTypeList));
  }
  if (!type_it->is_string()) {
    return error(ref, "wrong-type",
                 std::string("\"type\" must be a string, not ") + json_type_name(*type_it));
  }
  const std::string& type = type_it->get_ref<const std::string&>();

  Reader reader(message, type, ref);
  std::optional<InboundEvent> event;
  if (type == "session.open") {
    event = read_session_open(reader, provider_id);
  } else if (type == "call.request") {
    event = read_call_request(reader);
  } else if (type == "call.accept") {
    event = read_call_accept(reader, received_at);
  } else if (type == "call.connect") {
    event = read_call_instant<Connected>(reader);
  } else if (type == "call.disconnect") {
    event = read_call_instant<Disconnected>(reader);
  } else if (type == "session.text") {
    event = read_session_text(reader);
  } else if (type == "session.close") {
    event = read_session_close(reader);
  } else {
    return error(
        ref, "unknown-type",
        "unknown message type " + quote_value(type) + "; send one of " + std::string(kTypeList));
  }
  if (!event) {
    return reader.take_error();
  }
  return LinkMessage{ref, std::move(*event)};
}

}  // namespace

ParsedLine parse_link_message(std::string_view line, std::string_view provider_id,
                              Instant received_at) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (std::optional<ErrorReply> problem = check_line(line)) {
    return std::move(*problem);
  }

  // nlohmann::json keeps the last of repeated keys, which would let {"billing":"collect",
  // "billing":"calling-card"} mean different things to different readers, so the parser callback
  // records the first repeated top-level key and the message is rejected.
  // NOTE: the parsed object and `line` still contain any PIN until they are freed, without the
  // wipe that SecretDigits does.
  RepeatedKeyCheck keys;
  json message;
  try {
    message = json::parse(line, keys.callback());
  } catch (const json::parse_error& e) {
    // e.what() quotes the last token read, which may be a PIN, so only the position is shown.
    return error("", "invalid-json",
                 "invalid JSON near byte " + std::to_string(e.byte) +
                     "; send one JSON object per line, for example {\"type\":\"session.close\","
                     "\"session\":\"S1\"}");
  } catch (const json::out_of_range& e) {
    // A number too large for a double, such as 1e999 (nlohmann::json error 406).
    return error("", "invalid-json",
                 "a JSON number is out of range (JSON error " + std::to_string(e.id) +
                     "); no field of this protocol takes a number that large");
  } catch (const json::exception& e) {
    return error(
        "", "invalid-json",
        "invalid JSON (JSON error " + std::to_string(e.id) + "); send one JSON object per line");
  }
  if (!message.is_object()) {
    return error("", "invalid-json",
                 std::string("message is ") + json_type_name(message) +
                     ", not a JSON object; send one JSON object per line");
  }

  if (!keys.repeated_key().empty()) {
    return error("", "invalid-json",
                 "field " + quote_value(keys.repeated_key()) +
                     " appears more than once; send it once");
  }

  try {
    return parse_object(message, provider_id, received_at);
  } catch (const json::exception& e) {
    // The checks above test every type before reading it; this guards the public contract.
    return error("", "internal",
                 "the gateway failed to read the message (JSON error " + std::to_string(e.id) +
                     "); report this to the operator");
  }
}

Status to_status(const ErrorReply& error) {
  return Status(StatusCode::InvalidArgument, error.code + ": " + error.message);
}

void LinkReader::push(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    const bool complete = newline != std::string_view::npos;
    bytes.remove_prefix(complete ? newline + 1 : bytes.size());

    if (skipping_) {
      skipping_ = !complete;
      continue;
    }
    if (partial_.size() + piece.size() > kMaxLineBytes) {
      // Report the long line once, in its place among the others, and buffer none of it.
      lines_.emplace_back(std::nullopt);
      partial_.clear();
      partial_.shrink_to_fit();
      skipping_ = !complete;
      continue;
    }
    partial_.append(piece);
    if (complete) {
      lines_.emplace_back(std::move(partial_));
      partial_.clear();
    }
  }
}

std::optional<ParsedLine> LinkReader::next(Instant received_at) {
  while (!lines_.empty()) {
    std::optional<std::string> line = std::move(lines_.front());
    lines_.pop_front();
    if (!line) {
      return ParsedLine(error("", "line-too-long",
                              "line is longer than the maximum of " +
                                  std::to_string(kMaxLineBytes) +
                                  " bytes and was discarded; send one message per line"));
    }
    if (line->empty() || *line == "\r") {
      continue;
    }
    return parse_link_message(*line, provider_id_, received_at);
  }
  return std::nullopt;
}

}  // namespace relaygw::relay::provider_link
