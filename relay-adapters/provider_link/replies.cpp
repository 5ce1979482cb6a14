#include "relay-adapters/provider_link/replies.hpp"

#include <nlohmann/json.hpp>

namespace relaygw::relay::provider_link {
namespace {

using nlohmann::json;

bool is_decimal(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    ++i;
  }
  const std::size_t int_start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  if (i == int_start) {
    return false;
  }
  if (i == text.size()) {
    return true;
  }
  if (text[i] != '.') {
    return false;
  }
  const std::size_t fraction_start = ++i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  const std::size_t decimals = i - fraction_start;
  return i == text.size() && decimals >= 1 && decimals <= 4;
}

Status invalid_amount(std::string_view what, std::string_view value) {
  return Status(StatusCode::InvalidArgument,
                std::string(what) + " \"" + std::string(value.substr(0, 40)) +
                    "\" is not a decimal amount; format money as digits with an optional '.' and "
                    "1 to 4 decimals, for example \"4.35\"");
}

// One line of output: compact JSON and a newline. Invalid UTF-8 from the gateway's own strings
// is replaced rather than thrown.
std::string to_line(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

void add_ref(json& message, std::string_view ref) {
  if (!ref.empty()) {
    message["ref"] = ref;
  }
}

}  // namespace

Result<std::string> serialize_quote(const Quote& quote, std::string_view ref) {
  if (!is_decimal(quote.total)) {
    return invalid_amount("quote total", quote.total);
  }
  json lines = json::array();
  for (const QuoteLine& line : quote.lines) {
    if (!is_decimal(line.amount)) {
      return invalid_amount("quote line amount", line.amount);
    }
    lines.push_back({{"description", line.description}, {"amount", line.amount}});
  }
  json message = {{"type", "quote"},
                  {"call", quote.call_id},
                  {"total", quote.total},
                  {"currency", quote.currency},
                  {"lines", std::move(lines)}};
  add_ref(message, ref);
  return to_line(message);
}

Result<std::string> serialize_authorization(const AuthorizationResult& result,
                                            std::string_view ref) {
  if (!result.accepted && result.reason_code.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "refused authorization for call " + result.call_id +
                      " has no reason code; set reason_code, for example \"card-locked\"");
  }
  json message = {{"type", "authorization"},
                  {"call", result.call_id},
                  {"result", result.accepted ? "accepted" : "refused"},
                  {"message", result.message}};
  if (!result.reason_code.empty()) {
    message["reason"] = result.reason_code;
  }
  add_ref(message, ref);
  return to_line(message);
}

std::string serialize_ack(std::string_view of, std::string_view id, std::string_view ref) {
  json message = {{"type", "ack"}, {"of", of}};
  if (!id.empty()) {
    message[of.starts_with("call.") ? "call" : "session"] = id;
  }
  add_ref(message, ref);
  return to_line(message);
}

std::string serialize_error(const ErrorReply& error) {
  json message = {{"type", "error"}, {"code", error.code}, {"message", error.message}};
  add_ref(message, error.ref);
  return to_line(message);
}

std::string_view message_type(const InboundEvent& event) {
  struct Visitor {
    std::string_view operator()(const SessionOpened&) const { return "session.open"; }
    std::string_view operator()(const CallRequested&) const { return "call.request"; }
    std::string_view operator()(const Acceptance&) const { return "call.accept"; }
    std::string_view operator()(const Connected&) const { return "call.connect"; }
    std::string_view operator()(const Disconnected&) const { return "call.disconnect"; }
    std::string_view operator()(const SessionClosed&) const { return "session.close"; }
    std::string_view operator()(const CallerText&) const { return "session.text"; }
  };
  return std::visit(Visitor{}, event);
}

std::string_view subject_id(const InboundEvent& event) {
  struct Visitor {
    std::string_view operator()(const SessionOpened& e) const { return e.session_id; }
    std::string_view operator()(const CallRequested& e) const { return e.call_id; }
    std::string_view operator()(const Acceptance& e) const { return e.call_id; }
    std::string_view operator()(const Connected& e) const { return e.call_id; }
    std::string_view operator()(const Disconnected& e) const { return e.call_id; }
    std::string_view operator()(const SessionClosed& e) const { return e.session_id; }
    std::string_view operator()(const CallerText& e) const { return e.session_id; }
  };
  return std::visit(Visitor{}, event);
}

}  // namespace relaygw::relay::provider_link
