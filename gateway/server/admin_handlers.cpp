#include "gateway/server/admin_handlers.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "billing/money.hpp"
#include "billing/next_step.hpp"
#include "billing/numbering.hpp"
#include "billing/report_limits.hpp"
#include "billing/reports.hpp"
#include "billing/sqlite_store.hpp"
#include "common/card_digits.hpp"
#include "common/json_keys.hpp"
#include "common/json_text.hpp"
#include "gateway/credit_support.hpp"
#include "gateway/logging.hpp"
#include "gateway/quote_support.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/session_registry.hpp"

namespace relaygw::gateway::server {
namespace {

using nlohmann::json;

// Splits "/collect/c1/take-over" into {"collect", "c1", "take-over"}.
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t begin = 1;
  while (begin <= path.size()) {
    const std::size_t end = std::min(path.find('/', begin), path.size());
    segments.push_back(path.substr(begin, end - begin));
    begin = end + 1;
  }
  if (!segments.empty() && segments.back().empty()) {
    segments.pop_back();
  }
  return segments;
}

std::string error_code_name(StatusCode code) {
  std::string name = to_string(code);
  std::replace(name.begin(), name.end(), ' ', '-');
  return name;
}

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::InvalidArgument:
      return 400;
    case StatusCode::NotFound:
      return 404;
    case StatusCode::AlreadyExists:
    case StatusCode::FailedPrecondition:
    case StatusCode::ResourceExhausted:
      return 409;
    case StatusCode::PermissionDenied:
      return 403;
    case StatusCode::Unavailable:
      return 503;
    default:
      return 500;
  }
}

// The HTTP status for an error reply of the call service, by its code (docs/protocol.md).
int http_status_for_reply(const std::string& code) {
  if (code == "unavailable") {
    return 503;
  }
  if (code == "unknown-call" || code == "unknown-session") {
    return 404;
  }
  if (code == "time-out-of-range") {
    return 400;
  }
  return 409;  // invalid-state, idempotency-conflict: the call's state forbids the step
}

// Returns `step` in the API's terms: the endpoint or request field that takes it. The switch
// has no default, so the compiler flags a new kind of step until it has an API form here.
std::string api_step(const NextStep& step) {
  switch (step.kind) {
    case NextStep::Kind::None:
      return "";
    case NextStep::Kind::GiveCreditAmount:
      return "send field 'amount' in dollars and cents, such as \"0.10\"";
    case NextStep::Kind::GiveCreditText:
      return "send field 'text' naming the reason";
    case NextStep::Kind::CheckCallId:
      return "check field 'call'";
    case NextStep::Kind::PickChargeLine:
      return "check fields 'call' and 'line' against the call's charge lines";
    case NextStep::Kind::ListCallCredits:
      return "list the call's credits with GET /credits?call=" + step.subject;
    case NextStep::Kind::ListCredits:
      return "list credits with GET /credits";
    case NextStep::Kind::ApproveAsOtherStaff:
      return "a supervisor other than the requester must send POST /credits/" + step.subject +
             "/approve";
    case NextStep::Kind::LoadRateDeck:
      return "ask the gateway's operator to load a rate deck into the [billing] database";
    case NextStep::Kind::LoadCorrectedRateDeck:
      return "ask the gateway's operator to load a corrected deck into the [billing] database";
    case NextStep::Kind::LoadRateDeckInEffect:
      return "ask the gateway's operator to load a deck whose first [[version]] is effective "
             "on or before " +
             step.subject;
    case NextStep::Kind::SetDataDir:
      return "ask the gateway's operator to set [billing] data_dir to the folder that contains "
             "nanp/";
    case NextStep::Kind::PassPolicyFile:
      return "ask the gateway's operator to fix [billing] credit_policy_file";
    case NextStep::Kind::CreateDatabase:
      return "ask the gateway's operator to create the billing database or to fix [billing] "
             "database";
    case NextStep::Kind::CheckDatabasePath:
      return "ask the gateway's operator to fix [billing] database";
    case NextStep::Kind::VerifyDatabase:
      return "ask the gateway's operator to find the changed row of the billing database and "
             "restore the database from a backup";
    case NextStep::Kind::RestoreDatabase:
      return "ask the gateway's operator to restore the billing database from a backup";
    case NextStep::Kind::FundCard:
    case NextStep::Kind::RecordCardPayment:
    case NextStep::Kind::UnlockCard:
    case NextStep::Kind::CorrectPostedCall:
      return billing::operator_step(step);
  }
  return "";
}

// Returns the error response with `http_status`, `code` and api_message(`status`). A next step
// that billing attached is also sent as "next_step": its kind (billing::to_string), its subject
// and the text that ends the message, so a client can name the same step in its own terms, as
// `relaygw admin` names a command.
AdminResponse admin_status_error(int http_status, const std::string& code, const Status& status) {
  AdminResponse response = admin_error(http_status, code, api_message(status));
  const NextStep& step = status.next_step();
  if (step.kind != NextStep::Kind::None) {
    response.body["error"]["next_step"] = {{"kind", std::string(billing::to_string(step.kind))},
                                           {"subject", step.subject},
                                           {"text", api_step(step)}};
  }
  return response;
}

AdminResponse status_error(const Status& status) {
  return admin_status_error(http_status_for(status.code()), error_code_name(status.code()), status);
}

// The parsed JSON object of a POST body, or the 400 response that rejects it.
using BodyOrError = std::variant<json, AdminResponse>;

// Records the text of each number with a fraction or exponent that is the value of a field of
// the top-level object, as the client wrote it. nlohmann::json keeps only the double, which
// may already differ from that text ("1e-400" parses as 0).
class FloatFieldScan : public nlohmann::json_sax<json> {
 public:
  // Field name and number text, in body order.
  const std::vector<std::pair<std::string, std::string>>& floats() const { return floats_; }

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t& text) override {
    if (depth_ == 1) {
      floats_.emplace_back(key_, text);
    }
    return true;
  }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth_;
    return true;
  }
  bool key(string_t& name) override {
    if (depth_ == 1) {
      key_ = name;
    }
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  int depth_ = 0;
  std::string key_;
  std::vector<std::pair<std::string, std::string>> floats_;
};

// The accepted form of a field that a client sent as a JSON number with a fraction or exponent,
// or as a whole number too large for a 64-bit integer.
std::string exact_form(const std::string& field) {
  if (field == "amount") {
    return "send money as a string of dollars and cents, such as \"0.10\"";
  }
  if (field == "minutes") {
    return "send 0 to 1440 minutes as a decimal string, such as \"7.5\", or a whole number";
  }
  if (field == "line") {
    return "send the charge line number as a whole JSON number, such as 1";
  }
  return "send it as a string or a whole number";
}

// Rejects a body whose top-level fields include a JSON number with a fraction or exponent:
// money and minutes must never pass through floating point, and no other field takes one.
// nlohmann::json also reads a whole number beyond the 64-bit range as a double, and that case
// gets its own message.
std::optional<AdminResponse> reject_float_fields(const std::string& body) {
  FloatFieldScan scan;
  json::sax_parse(body, &scan, json::input_format_t::json, /*strict=*/false);
  if (scan.floats().empty()) {
    return std::nullopt;
  }
  const auto& [field, text] = scan.floats().front();
  const std::string number_text = text.size() > 40 ? text.substr(0, 40) + "..." : text;
  if (text.find_first_of(".eE") == std::string::npos) {
    return admin_error(400, "invalid-field",
                       "field '" + field + "' is the whole number " + number_text +
                           ", which is out of range (beyond 64-bit integers); " +
                           exact_form(field));
  }
  return admin_error(400, "invalid-field",
                     "field '" + field + "' is the JSON number " + number_text +
                         ", which would pass through floating point; " + exact_form(field));
}

BodyOrError parse_object(const std::string& body) {
  RepeatedKeyCheck keys;
  json parsed = json::parse(body, keys.callback(), /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return admin_error(400, "invalid-json",
                       "the request body is not valid JSON; send one JSON object");
  }
  if (!parsed.is_object()) {
    return admin_error(400, "invalid-json",
                       "the request body is JSON but not an object; send one JSON object");
  }
  if (!keys.repeated_key().empty()) {
    return admin_error(400, "invalid-json",
                       "field '" + keys.repeated_key() +
                           "' appears more than once in the request body; send it once");
  }
  if (auto rejected = reject_float_fields(body)) {
    return *rejected;
  }
  return parsed;
}

// Reads string field `name`. A whole number is taken as its JSON text ("25"); parse_object has
// already rejected numbers with a fraction or exponent. Returns nullopt when the field is
// missing or null.
std::optional<std::string> text_field(const json& body, const std::string& name,
                                      std::string& problem) {
  const auto found = body.find(name);
  if (found == body.end() || found->is_null()) {
    return std::nullopt;
  }
  if (found->is_string()) {
    return found->get<std::string>();
  }
  if (found->is_number()) {
    return found->dump();
  }
  problem = "field '" + name + "' must be a string";
  return std::nullopt;
}

// Checks a staff name that a request sends in `where` ("field staff").
Status check_staff_field(std::string_view where, const std::string& staff) {
  return billing::check_staff_name(where, staff, "send the staff member's name, such as \"ana\"");
}

// Checks that `body` has only `allowed` fields and that each `required` one is a non-empty
// string. Returns the 400 response when not.
std::optional<AdminResponse> check_fields(const json& body, const std::vector<std::string>& allowed,
                                          const std::vector<std::string>& required) {
  for (const auto& [name, value] : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string known;
      for (const std::string& field : allowed) {
        known += (known.empty() ? "" : ", ") + field;
      }
      return admin_error(400, "unknown-field",
                         "unknown field '" + name + "'; the fields are " + known);
    }
  }
  for (const std::string& name : required) {
    std::string problem;
    const std::optional<std::string> value = text_field(body, name, problem);
    if (!problem.empty()) {
      return admin_error(400, "invalid-field", problem);
    }
    if (!value || value->empty()) {
      return admin_error(400, "missing-field", "field '" + name + "' is missing or empty");
    }
  }
  for (const std::string& name : allowed) {
    std::string problem;
    const std::optional<std::string> value = text_field(body, name, problem);
    if (!problem.empty()) {
      return admin_error(400, "invalid-field", problem);
    }
    // A staff name is stored as the actor of billing records and printed by every report, so
    // it is checked before the other fields are read. reject_invalid_identifiers checks it
    // again with the ids and keys.
    if (name == "staff" && value) {
      if (const Status checked = check_staff_field("field staff", *value); !checked) {
        return admin_error(400, "invalid-field", checked.message());
      }
    }
  }
  return std::nullopt;
}

std::string field_or(const json& body, const std::string& name, std::string fallback) {
  std::string problem;
  std::optional<std::string> value = text_field(body, name, problem);
  return value ? *value : std::move(fallback);
}

std::string format_time(Clock::time_point at) {
  return relay::format_instant(std::chrono::time_point_cast<std::chrono::milliseconds>(at));
}

double seconds_since(Clock::time_point since, Clock::time_point now) {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - since);
  return static_cast<double>(std::max<std::int64_t>(elapsed.count(), 0)) / 1000.0;
}

bool collect_is_waiting(CollectState state) {
  return state == CollectState::Ringing || state == CollectState::VoicePrompt ||
         state == CollectState::TextPrompt || state == CollectState::AwaitingStaff;
}

json session_json(const SessionInfo& session, Clock::time_point now) {
  return {{"session_id", session.session_id},
          {"adapter", std::string(relay::to_string(session.adapter))},
          {"service", std::string(relay::to_string(session.service))},
          {"provider_id", session.provider_id},
          {"caller_number", session.caller_number},
          {"agent_id", session.agent_id},
          {"emergency", session.emergency},
          {"state", session.state},
          {"opened_at", format_time(session.opened_at)},
          {"seconds_open", seconds_since(session.opened_at, now)}};
}

json collect_json(const CollectSession& collect, Clock::time_point now) {
  return {{"call_id", collect.call_id},
          {"session_id", collect.session_id},
          {"called_number", collect.called_number},
          {"billed_number", collect.billed_number},
          {"state", std::string(to_string(collect.state))},
          {"waiting_since", format_time(collect.waiting_since)},
          {"seconds_waiting", seconds_since(collect.waiting_since, now)},
          {"tty_tones_heard", collect.tty_tones_heard},
          {"taken_over_by", collect.taken_over_by}};
}

std::optional<CollectSession> find_collect(const SessionRegistry& sessions,
                                           const std::string& call_id) {
  for (CollectSession& collect : sessions.collect_sessions()) {
    if (collect.call_id == call_id) {
      return collect;
    }
  }
  return std::nullopt;
}

// Nearest-rank percentile of `values`, which must not be empty.
double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(values.size()) + 0.5);
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

json emergency_json(const EmergencyDispatcher& emergency) {
  const DispatchFigures figures = emergency.figures();
  json latency = {{"count", figures.latencies_ms.size()}};
  if (!figures.latencies_ms.empty()) {
    latency["p50"] = percentile(figures.latencies_ms, 0.50);
    latency["p99"] = percentile(figures.latencies_ms, 0.99);
    latency["max"] = *std::max_element(figures.latencies_ms.begin(), figures.latencies_ms.end());
  }
  return {
      {"dispatched", figures.dispatched}, {"redials", figures.redials}, {"latency_ms", latency}};
}

// Now on the gateway clock, which session and collect times use, so ages stay right when the
// configuration starts the clock at `clock_start`.
Clock::time_point gateway_time_now() { return clock_now_exact(); }

billing::WriteContext staff_context(const std::string& staff) {
  return billing::WriteContext{
      "staff:" + staff, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())};
}

Result<std::unique_ptr<billing::SqliteStore>> open_store(const AdminApiParts& parts) {
  return billing::SqliteStore::open(parts.billing.database);
}

// An id, key or staff name of a request, and where the client sent it ("field staff").
struct RequestIdentifier {
  std::string where;
  std::string value;
  billing::IdentifierKind kind;
};

// Returns the 400 invalid-field response for an id, key or staff name that is not one line of
// text that displays as it is (billing::check_name_text) or is longer than
// billing::kMaxNameBytes, or for a blank staff name (check_staff_field). These values
// are stored as records and actors and printed by every report. An empty id or key passes, so
// each handler keeps its own rule for a missing one.
std::optional<AdminResponse> reject_invalid_text(const std::vector<RequestIdentifier>& values) {
  for (const RequestIdentifier& identifier : values) {
    Status checked;
    if (identifier.kind == billing::IdentifierKind::StaffName) {
      checked = check_staff_field(identifier.where, identifier.value);
    } else {
      checked = billing::check_name_text(identifier.where, identifier.value);
      if (checked) {
        checked = billing::check_name_length(identifier.where, identifier.value);
      }
    }
    if (!checked) {
      logger("gateway")->warn("admin request rejected: {}", checked.message());
      return admin_error(400, "invalid-field", checked.message());
    }
  }
  return std::nullopt;
}

// Rejects a request whose ids, keys or staff name are invalid text (reject_invalid_text) or
// contain a card number, which would be stored or printed in full
// (billing::check_identifier_card_digits against the cards of the billing database), with 400
// invalid-field. Returns 503 when the database cannot be opened or read, unless
// `database_required` is false: then only runs of 14 or more digits are rejected, for a request
// that stores nothing in the database (a take-over). Handlers call it before they log or use
// the values.
std::optional<AdminResponse> reject_invalid_identifiers(
    const AdminApiParts& parts, const std::vector<RequestIdentifier>& values,
    bool database_required = true) {
  if (auto rejected = reject_invalid_text(values)) {
    return rejected;
  }
  auto store = open_store(parts);
  billing::Store* cards = nullptr;
  if (store) {
    cards = store->get();
  } else if (database_required) {
    logger("gateway")->error("admin request failed: error={}", store.status().message());
    return admin_status_error(503, "unavailable", store.status());
  } else {
    logger("gateway")->warn("admin request: ids checked without the stored cards: error={}",
                            store.status().message());
  }
  for (const RequestIdentifier& identifier : values) {
    const Status checked = billing::check_identifier_card_digits(cards, identifier.where,
                                                                 identifier.value, identifier.kind);
    if (checked.code() == StatusCode::InvalidArgument) {
      logger("gateway")->warn("admin request rejected: {}", checked.message());
      return admin_error(400, "invalid-field", checked.message());
    }
    if (!checked) {
      logger("gateway")->error("admin request failed: error={}", checked.message());
      return admin_status_error(503, "unavailable", checked);
    }
  }
  return std::nullopt;
}

// GET /health
AdminResponse get_health(const AdminApiParts& parts) {
  json body = {{"status", "ok"}};
  body["storage"] = parts.calls != nullptr ? json(parts.calls->storage_available()) : json(nullptr);
  return {200, body, {}};
}

// GET /sessions
AdminResponse get_sessions(const AdminApiParts& parts) {
  const Clock::time_point now = gateway_time_now();
  json list = json::array();
  for (const SessionInfo& session : parts.sessions.sessions()) {
    list.push_back(session_json(session, now));
  }
  return {200, {{"sessions", list}}, {}};
}

// GET /queues
AdminResponse get_queues(const AdminApiParts& parts) {
  const Clock::time_point now = gateway_time_now();
  json sessions_by_state = json::object();
  std::size_t emergency_sessions = 0;
  const std::vector<SessionInfo> sessions = parts.sessions.sessions();
  for (const SessionInfo& session : sessions) {
    sessions_by_state[session.state] = sessions_by_state.value(session.state, 0) + 1;
    emergency_sessions += session.emergency ? 1 : 0;
  }

  json collect_by_state = json::object();
  std::size_t waiting = 0;
  double oldest_wait = 0;
  for (const CollectSession& collect : parts.sessions.collect_sessions()) {
    const std::string state(to_string(collect.state));
    collect_by_state[state] = collect_by_state.value(state, 0) + 1;
    if (collect_is_waiting(collect.state)) {
      ++waiting;
      oldest_wait = std::max(oldest_wait, seconds_since(collect.waiting_since, now));
    }
  }

  json body;
  body["sessions"] = {{"total", sessions.size()},
                      {"emergency", emergency_sessions},
                      {"by_state", sessions_by_state}};
  body["collect"] = {
      {"waiting", waiting}, {"oldest_wait_seconds", oldest_wait}, {"by_state", collect_by_state}};
  body["emergency"] = parts.emergency != nullptr ? emergency_json(*parts.emergency) : json(nullptr);
  return {200, body, {}};
}

// GET /collect
AdminResponse get_collect(const AdminApiParts& parts) {
  const Clock::time_point now = gateway_time_now();
  json list = json::array();
  for (const CollectSession& collect : parts.sessions.collect_sessions()) {
    list.push_back(collect_json(collect, now));
  }
  return {200, {{"collect", list}}, {}};
}

// POST /clock {"at": RFC 3339}: moves a replay's gateway clock forward to `at`.
AdminResponse post_clock(const json& body) {
  if (auto rejected = check_fields(body, {"at"}, {"at"})) {
    return *rejected;
  }
  const std::string text = field_or(body, "at", "");
  const Result<relay::Instant> at = relay::parse_instant(text);
  if (!at) {
    return admin_error(400, "invalid-field",
                       "field 'at' = \"" + text +
                           "\" is not an RFC 3339 instant; send one such as "
                           "\"2026-03-10T14:00:45Z\"");
  }
  const relay::Instant before = clock_now();
  const Result<relay::Instant> now = advance_clock_to(*at);
  if (!now) {
    logger("gateway")->warn("admin clock move to {} rejected: {}", text, now.status().message());
    return status_error(now.status());
  }
  const bool moved = *at > before;
  if (moved) {
    logger("gateway")->info("gateway clock moved forward from {} to {} by the admin API",
                            relay::format_instant(before), relay::format_instant(*now));
  }
  return {200, {{"clock", relay::format_instant(*now)}, {"moved", moved}}, {}};
}

AdminResponse taken_over_error(const std::string& call_id, const std::string& holder,
                               const std::string& step) {
  return admin_error(409, "taken-over",
                     "collect call '" + call_id + "' is taken over by " + holder +
                         "; only that staff member can " + step);
}

// POST /collect/{call}/take-over {"staff": ...}
AdminResponse post_take_over(const AdminApiParts& parts, const std::string& call_id,
                             const json& body) {
  if (auto rejected = check_fields(body, {"staff"}, {"staff"})) {
    return *rejected;
  }
  const std::string staff = field_or(body, "staff", "");
  if (auto rejected = reject_invalid_identifiers(
          parts,
          {{"the call id in the path", call_id, billing::IdentifierKind::Id},
           {"field staff", staff, billing::IdentifierKind::StaffName}},
          /*database_required=*/false)) {
    return *rejected;
  }
  const Status taken = parts.sessions.take_over(call_id, staff);
  if (!taken) {
    logger("gateway")->warn("call={} admin take-over rejected: staff={} error={}", call_id, staff,
                            taken.message());
    // taken_over_by never changes once set, so this read agrees with the refusal. Accept
    // returns the same code for the same case.
    const std::optional<CollectSession> collect = find_collect(parts.sessions, call_id);
    if (collect && !collect->taken_over_by.empty() && collect->taken_over_by != staff) {
      return taken_over_error(call_id, collect->taken_over_by, "take it over");
    }
    return status_error(taken);
  }
  logger("gateway")->info("call={} collect call taken over: staff={}", call_id, staff);
  const std::optional<CollectSession> collect = find_collect(parts.sessions, call_id);
  if (!collect) {
    return admin_error(404, "not-found", "collect call '" + call_id + "' ended after take-over");
  }
  return {200, collect_json(*collect, gateway_time_now()), {}};
}

json reply_json(const Reply& reply) {
  return std::visit(
      [](const auto& value) -> json {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, Ack>) {
          return {{"type", "ack"}, {"of", value.of}, {"id", value.id}};
        } else if constexpr (std::is_same_v<T, relay::ErrorReply>) {
          return {{"type", "error"}, {"code", value.code}, {"message", value.message}};
        } else if constexpr (std::is_same_v<T, relay::AuthorizationResult>) {
          return {{"type", "authorization"},
                  {"call_id", value.call_id},
                  {"accepted", value.accepted},
                  {"reason_code", value.reason_code},
                  {"message", value.message}};
        } else {
          return {{"type", "quote"}, {"call_id", value.call_id}, {"total", value.total}};
        }
      },
      reply);
}

// Accept responses are stored in the idempotency_keys table under this scope. Their stored key
// is the request's key after kAcceptKeyPrefix, so it never collides with the key of a credit.
constexpr std::string_view kAcceptScope = "admin-accept";
constexpr std::string_view kAcceptKeyPrefix = "admin-api:accept:";

// Returns the response to an accept whose key is already stored: the first response when the
// request is the same (same call, staff and how), else 409.
AdminResponse repeat_accept(const std::string& call_id, const std::string& staff,
                            const std::string& key, bool default_key,
                            const std::string& request_hash,
                            const billing::SqliteStore::StoredRequest& first) {
  const json stored = json::parse(first.result, nullptr, /*allow_exceptions=*/false);
  const bool readable = stored.is_object() && stored.value("status", json()).is_number_integer() &&
                        stored.contains("body") && stored.value("staff", json()).is_string() &&
                        stored.value("how", json()).is_string();
  if (first.scope != kAcceptScope) {
    logger("gateway")->warn("call={} admin accept rejected: staff={} key={} is stored for scope {}",
                            call_id, staff, key, first.scope);
    return admin_error(409, "idempotency-conflict",
                       "key '" + key + "' was already used for another request; send a new key");
  }
  if (!readable) {
    logger("gateway")->error(
        "call={} admin accept failed: the stored response of key={} is not "
        "a JSON object with status, body, staff and how",
        call_id, key);
    return admin_error(500, "corrupt",
                       "the stored first response for key '" + key +
                           "' is not readable; ask the gateway's operator to check the billing "
                           "database");
  }
  if (first.request_hash == request_hash) {
    return {stored["status"].get<int>(), stored["body"], {}};
  }
  const std::string first_staff = stored["staff"].get<std::string>();
  const std::string first_how = stored["how"].get<std::string>();
  logger("gateway")->warn(
      "call={} admin accept rejected: staff={} key={} was first used by "
      "staff={} how={}",
      call_id, staff, key, first_staff, first_how);
  if (default_key) {
    // Another staff member or method for a call already accepted here.
    return admin_error(409, "invalid-state",
                       "collect call '" + call_id + "' was already accepted by " + first_staff +
                           " (how " + first_how + "); nothing was recorded");
  }
  return admin_error(409, "idempotency-conflict",
                     "key '" + key +
                         "' was already used for another accept; send a new key for a new "
                         "request, or repeat the first request unchanged");
}

json accept_body(const std::string& call_id, const std::vector<Reply>& replies) {
  json replies_json = json::array();
  for (const Reply& reply : replies) {
    replies_json.push_back(reply_json(reply));
  }
  return {{"call_id", call_id}, {"accepted", true}, {"replies", replies_json}};
}

// The stored form of a successful accept's response, which repeat_accept reads.
json first_accept_response(const std::string& call_id, const std::string& staff,
                           const std::string& how_name, const std::vector<Reply>& replies) {
  return {{"status", 200},
          {"body", accept_body(call_id, replies)},
          {"staff", staff},
          {"how", how_name}};
}

// Stores the response of an accept that the call service acknowledged without recording it,
// because the call already had the acceptance. A recorded acceptance stored its response with
// it.
void store_accept_response_if_missing(billing::SqliteStore& store, const std::string& call_id,
                                      const std::string& staff, const std::string& how_name,
                                      const std::string& key,
                                      const billing::IdempotencyKey& stored_key,
                                      const std::vector<Reply>& replies) {
  const auto found = store.find_stored_request(stored_key.key);
  if (!found) {
    logger("gateway")->error(
        "call={} admin accept recorded, but reading its stored response failed: key={} error={}",
        call_id, key, found.status().message());
    return;
  }
  if (found->has_value()) {
    return;
  }
  const Status stored = store.store_request_result(
      stored_key, kAcceptScope,
      json_text(first_accept_response(call_id, staff, how_name, replies), -1),
      staff_context(staff));
  if (!stored) {
    logger("gateway")->error(
        "call={} admin accept recorded, but its response was not stored "
        "for retries: key={} error={}",
        call_id, key, stored.message());
  }
}

// Returns the error for an accept of a call that is not waiting for acceptance. A stored call
// was settled (accepted, refused or connected) and has left GET /collect, so it gets 409
// failed-precondition. An id that names no stored call gets 404 not-found.
AdminResponse settled_or_unknown_error(billing::Store& store, const std::string& call_id) {
  const auto found = store.find_call(call_id);
  if (!found) {
    logger("gateway")->error("call={} admin accept failed: error={}", call_id,
                             found.status().message());
    return status_error(found.status());
  }
  if (!*found) {
    return admin_error(404, "not-found",
                       "collect call '" + call_id + "' is not live; list calls with GET /collect");
  }
  std::string settled = "is no longer waiting for acceptance";
  for (const billing::CallEventRecord& event : (*found)->events) {
    if (event.event == billing::CallEvent::Accepted) {
      settled = "was already accepted by " + event.accepted_by;
    }
  }
  return admin_error(409, "failed-precondition",
                     "collect call '" + call_id + "' " + settled +
                         ", so it takes no new acceptance; repeat the first accept with its key "
                         "to read its response, or see the call with `relaygw call show`");
}

// POST /collect/{call}/accept {"staff": ..., "how": "voice", "key": ...}
AdminResponse post_accept(const AdminApiParts& parts, AcceptLock& accept_lock,
                          const std::string& call_id, const json& body) {
  if (auto rejected = check_fields(body, {"staff", "how", "key"}, {"staff"})) {
    return *rejected;
  }
  const std::string staff = field_or(body, "staff", "");
  if (auto rejected = reject_invalid_identifiers(
          parts, {{"the call id in the path", call_id, billing::IdentifierKind::Id},
                  {"field staff", staff, billing::IdentifierKind::StaffName},
                  {"field key", field_or(body, "key", ""), billing::IdentifierKind::Key}})) {
    return *rejected;
  }
  const std::string how_name = field_or(body, "how", "voice");
  const std::optional<relay::AcceptanceMethod> how = relay::parse_acceptance_method(how_name);
  if (!how) {
    return admin_error(400, "invalid-field",
                       "invalid how '" + how_name + "'; use voice, tty-text or keypad");
  }
  if (parts.calls == nullptr) {
    return admin_error(503, "unavailable",
                       "the call service is not running, so acceptances cannot be recorded");
  }
  // The default key makes a retried accept of the same call a replay, not a second record.
  const bool default_key = field_or(body, "key", "").empty();
  const std::string key = default_key ? "admin-accept:" + call_id : field_or(body, "key", "");
  const billing::IdempotencyKey stored_key{
      std::string(kAcceptKeyPrefix) + key,
      billing::sha256_hex(call_id + "\n" + staff + "\n" + how_name)};

  std::lock_guard lock(accept_lock.mutex);
  auto store = open_store(parts);
  if (!store) {
    logger("gateway")->error("call={} admin accept failed: error={}", call_id,
                             store.status().message());
    return admin_status_error(503, "unavailable", store.status());
  }
  const auto first = (*store)->find_stored_request(stored_key.key);
  if (!first) {
    logger("gateway")->error("call={} admin accept failed: error={}", call_id,
                             first.status().message());
    return status_error(first.status());
  }
  if (*first) {
    return repeat_accept(call_id, staff, key, default_key, stored_key.request_hash, **first);
  }

  const std::optional<CollectSession> collect = find_collect(parts.sessions, call_id);
  if (!collect) {
    return settled_or_unknown_error(**store, call_id);
  }
  if (!collect->taken_over_by.empty() && collect->taken_over_by != staff) {
    return taken_over_error(call_id, collect->taken_over_by, "accept it");
  }
  // A repeat with the first key has returned its stored response above, so this request is a
  // second acceptance of a settled call.
  if (collect->state == CollectState::Accepted || collect->state == CollectState::Refused) {
    return admin_error(409, "failed-precondition",
                       "collect call '" + call_id + "' is already " +
                           std::string(to_string(collect->state)) +
                           ", so it takes no new acceptance; repeat the first accept with its "
                           "key to read its response");
  }
  const relay::Instant now = clock_now();
  relay::Acceptance acceptance;
  acceptance.call_id = call_id;
  acceptance.how = *how;
  acceptance.accepted_by = "staff:" + staff;
  acceptance.at = now;
  acceptance.idempotency_key = key;
  // The first response is stored in the transaction that records the acceptance, so a retry
  // after a crash finds the acceptance only together with its response.
  AcceptanceResponse to_store;
  to_store.key = stored_key;
  to_store.scope = std::string(kAcceptScope);
  to_store.context = staff_context(staff);
  to_store.result = [&](const std::vector<Reply>& replies) {
    return json_text(first_accept_response(call_id, staff, how_name, replies), -1);
  };
  const std::vector<Reply> replies =
      parts.calls->handle_acceptance(acceptance, "admin-" + call_id, now, to_store);

  for (const Reply& reply : replies) {
    if (const auto* error = std::get_if<relay::ErrorReply>(&reply)) {
      logger("gateway")->warn("call={} admin accept rejected: staff={} code={}", call_id, staff,
                              error->code);
      return admin_error(http_status_for_reply(error->code), error->code, error->message);
    }
  }
  parts.sessions.update_collect(call_id, CollectState::Accepted, collect->tty_tones_heard);
  logger("gateway")->info("call={} collect call accepted by staff: staff={} how={}", call_id, staff,
                          how_name);
  AdminResponse response{200, accept_body(call_id, replies), {}};
  store_accept_response_if_missing(**store, call_id, staff, how_name, key, stored_key, replies);
  return response;
}

// Maps a failed quote to a response. Only data the server cannot load now is 503. A call the
// deck has no price for (no version in force on the start date, no rate for the route) is a
// request that cannot be quoted as asked, so it is 400 with the rater's message.
AdminResponse quote_error(const Status& status) {
  switch (status.code()) {
    case StatusCode::InvalidArgument:
      return status_error(status);
    case StatusCode::Unavailable:
      logger("gateway")->error("admin quote failed: rating data unavailable: error={}",
                               status.message());
      return admin_status_error(503, "rating-unavailable", status);
    case StatusCode::Internal:
    case StatusCode::Corrupt:
      logger("gateway")->error("admin quote failed: error={}", status.message());
      return status_error(status);
    default:
      return admin_status_error(400, "not-ratable", status);
  }
}

// The stored deck `sha256` of the billing database, as a quote names it, or nullopt when no
// stored deck has that digest.
Result<std::optional<QuoteDeck>> stored_quote_deck(const AdminApiParts& parts,
                                                   const std::string& sha256) {
  auto store = open_store(parts);
  if (!store) {
    return Status(StatusCode::Unavailable, api_message(store.status()));
  }
  auto decks = (*store)->list_rate_decks();
  if (!decks) {
    return Status(StatusCode::Unavailable, api_message(decks.status()));
  }
  for (const billing::RateDeckHeader& header : *decks) {
    if (header.sha256_hex == sha256) {
      return std::optional<QuoteDeck>(QuoteDeck{parts.billing.database, "", header.name,
                                                header.effective_from, header.sha256_hex});
    }
  }
  return std::optional<QuoteDeck>();
}

// POST /quote with the fields of `relaygw quote`.
AdminResponse post_quote(const AdminApiParts& parts, const json& body) {
  if (auto rejected =
          check_fields(body,
                       {"from", "to", "billing", "start", "minutes", "access", "handling",
                        "third_number"},
                       {"from", "to", "billing", "start", "minutes"})) {
    return *rejected;
  }
  QuoteFields fields;
  fields.from = field_or(body, "from", "");
  fields.to = field_or(body, "to", "");
  fields.billing = field_or(body, "billing", fields.billing);
  fields.start = field_or(body, "start", "");
  fields.minutes = field_or(body, "minutes", "");
  fields.access = field_or(body, "access", fields.access);
  fields.handling = field_or(body, "handling", fields.handling);
  fields.third_number = field_or(body, "third_number", "");
  // Quotes use the number plan and rate deck that the call service would bill the call with,
  // the deck in effect at its start, so a quote and the posted call agree. A deck is parsed
  // once, when it is first needed, not per request. A start that does not parse is reported by
  // rate_quote, and meanwhile the current time picks the deck.
  Result<QuoteOutcome> quote = Status(StatusCode::Internal, "quote not computed");
  std::string deck_sha256;
  Status loaded(StatusCode::Unavailable,
                "the admin API runs without a call service, so no rate deck is loaded; ask the "
                "gateway's operator to run the admin API inside the gateway server");
  if (parts.calls != nullptr) {
    const Result<billing::Instant> start = billing::parse_instant(fields.start);
    const relay::Instant at = start ? relay::Instant(*start)
                                    : std::chrono::floor<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now());
    loaded = parts.calls->use_rating_data(
        fields.from, at,
        [&](const billing::NumberPlan& plan, const billing::RateDeck& deck,
            const std::string& sha256) {
          // The directory decides each billed line's TTY discount eligibility, as at
          // posting. An emergency call is quoted at zero without it.
          auto directory = open_store(parts);
          if (!directory && !billing::is_emergency_number(fields.to)) {
            quote = Status(StatusCode::Unavailable, api_message(directory.status()));
            return;
          }
          quote = rate_quote(fields, "", &plan, &deck, Status::ok(),
                             directory ? directory->get() : nullptr);
          deck_sha256 = sha256;
        });
  }
  if (!loaded) {
    // Emergency calls are quoted at zero without a plan or deck. Other calls fail with `loaded`.
    quote = rate_quote(fields, "", nullptr, nullptr, loaded);
  }
  if (!quote) {
    return quote_error(quote.status());
  }
  // Names the deck as `relaygw quote --db DATABASE --json` does, also for an emergency quote.
  if (!deck_sha256.empty()) {
    Result<std::optional<QuoteDeck>> deck = stored_quote_deck(parts, deck_sha256);
    if (!deck) {
      return quote_error(deck.status());
    }
    quote->deck = *deck;
  }
  return {200, quote_json(*quote), {}};
}

// A credit as the admin API returns it: credit_json with the amount in dollars and cents.
// Credits are taken from posted charge lines, which are whole cents; an amount that is not
// keeps its four decimals rather than being rounded.
json credit_reply_json(const billing::CreditRecord& credit) {
  json out = credit_json(credit);
  if (credit.amount % billing::kUnitsPerCent == 0) {
    out["amount"] = billing::format_dollars_exact(credit.amount);
  }
  return out;
}

// POST /credits {"call", "line", "reason", "text", "amount", "key", "staff"}
AdminResponse post_credit(const AdminApiParts& parts, const json& body) {
  if (auto rejected =
          check_fields(body, {"call", "line", "reason", "text", "amount", "key", "staff"},
                       {"call", "reason", "key", "staff"})) {
    return *rejected;
  }
  const auto line = body.find("line");
  if (line == body.end() || line->is_null()) {
    return admin_error(400, "missing-field",
                       "field 'line' is missing; send the charge line number, such as 1");
  }
  if (!line->is_number_integer()) {
    return admin_error(400, "invalid-field",
                       "field 'line' is " + line->dump().substr(0, 40) +
                           "; send the charge line number as a whole JSON number, such as 1");
  }
  // A whole number would leave the unit in doubt (dollars or cents), so money is a string.
  if (const auto amount = body.find("amount"); amount != body.end() && amount->is_number()) {
    return admin_error(400, "invalid-field",
                       "field 'amount' is the JSON number " + amount->dump() + "; " +
                           exact_form("amount"));
  }
  CreditFields fields;
  fields.call_id = field_or(body, "call", "");
  fields.line_no = line->get<std::int64_t>();
  fields.reason = field_or(body, "reason", "");
  fields.text = field_or(body, "text", "");
  fields.amount = field_or(body, "amount", "");
  fields.key = field_or(body, "key", "");
  const std::string staff = field_or(body, "staff", "");
  if (auto rejected = reject_invalid_identifiers(
          parts, {{"field call", fields.call_id, billing::IdentifierKind::Id},
                  {"field key", fields.key, billing::IdentifierKind::Key},
                  {"field staff", staff, billing::IdentifierKind::StaffName}})) {
    return *rejected;
  }

  Result<billing::CreditPolicy> policy =
      load_policy(parts.billing.data_dir, parts.billing.credit_policy_file);
  if (!policy) {
    logger("gateway")->error("admin credit request failed: error={}", policy.status().message());
    return admin_status_error(503, "unavailable", policy.status());
  }
  auto store = open_store(parts);
  if (!store) {
    logger("gateway")->error("admin credit request failed: error={}", store.status().message());
    return admin_status_error(503, "unavailable", store.status());
  }
  Result<billing::CreditRecord> credit = request_policy_credit(
      **store, *policy, fields, staff_context(staff), "", parts.billing.data_dir);
  if (!credit) {
    const Status& failed = credit.status();
    // The store reports a key used before for other fields as AlreadyExists; the provider
    // link calls the same case idempotency-conflict.
    if (failed.code() == StatusCode::AlreadyExists) {
      logger("gateway")->warn("call={} admin credit request rejected: staff={} error={}",
                              fields.call_id, staff, failed.message());
      return admin_error(409, "idempotency-conflict", failed.message());
    }
    return status_error(failed);
  }
  logger("gateway")->info("call={} credit requested: credit={} staff={}", fields.call_id,
                          credit->id, staff);
  return {201, credit_reply_json(*credit), {}};
}

// GET /credits?call=ID
AdminResponse get_credits(const AdminApiParts& parts, const AdminRequest& request) {
  const auto call = request.query.find("call");
  if (call != request.query.end()) {
    if (auto rejected = reject_invalid_identifiers(
            parts, {{"query parameter call", call->second, billing::IdentifierKind::Id}})) {
      return *rejected;
    }
  }
  auto store = open_store(parts);
  if (!store) {
    return admin_status_error(503, "unavailable", store.status());
  }
  auto credits = (*store)->list_credits(call == request.query.end() ? "" : call->second);
  if (!credits) {
    return status_error(credits.status());
  }
  json list = json::array();
  for (const billing::CreditRecord& credit : *credits) {
    list.push_back(credit_reply_json(credit));
  }
  return {200, {{"credits", list}}, {}};
}

// POST /credits/{id}/approve or /reject {"staff": ..., "note": ...}
AdminResponse post_credit_decision(const AdminApiParts& parts, const std::string& credit_id,
                                   bool approve, const json& body) {
  if (auto rejected = check_fields(body, {"staff", "note"}, {"staff"})) {
    return *rejected;
  }
  const std::string staff = field_or(body, "staff", "");
  if (auto rejected = reject_invalid_identifiers(
          parts, {{"the credit id in the path", credit_id, billing::IdentifierKind::Id},
                  {"field staff", staff, billing::IdentifierKind::StaffName}})) {
    return *rejected;
  }
  auto store = open_store(parts);
  if (!store) {
    return admin_status_error(503, "unavailable", store.status());
  }
  Result<billing::CreditRecord> credit =
      (*store)->decide_credit(credit_id, approve, field_or(body, "note", ""), staff_context(staff));
  if (!credit) {
    return status_error(credit.status());
  }
  logger("gateway")->info("credit={} {} by staff={}", credit_id, approve ? "approved" : "rejected",
                          staff);
  return {200, credit_reply_json(*credit), {}};
}

// GET /reports/summary?from=YYYY-MM-DD&to=YYYY-MM-DD[&by=day|month][&time_zone=ZONE]
AdminResponse get_summary(const AdminApiParts& parts, const AdminRequest& request) {
  auto query = [&request](const std::string& name, std::string fallback) {
    const auto found = request.query.find(name);
    return found == request.query.end() ? fallback : found->second;
  };
  billing::ReportRequest report_request;
  auto from = billing::parse_local_date(query("from", ""));
  if (!from) {
    return admin_error(400, "invalid-argument", "from: " + api_message(from.status()));
  }
  auto to = billing::parse_local_date(query("to", ""));
  if (!to) {
    return admin_error(400, "invalid-argument", "to: " + api_message(to.status()));
  }
  const std::string by_name = query("by", "day");
  auto by = billing::parse_report_period(by_name);
  if (!by) {
    return admin_error(400, "invalid-argument", "invalid by '" + by_name + "'; use day or month");
  }
  const Status dates =
      billing::check_report_dates(*from, *to, "query parameter from", "query parameter to");
  if (!dates) {
    return status_error(dates);
  }
  report_request.from = *from;
  report_request.to = *to;
  report_request.by = *by;
  report_request.time_zone = query("time_zone", "UTC");
  auto range = billing::report_range(report_request);
  if (!range) {
    return status_error(range.status());
  }

  auto store = open_store(parts);
  if (!store) {
    return admin_status_error(503, "unavailable", store.status());
  }
  auto report = billing::summarize_billing(**store, report_request);
  if (!report) {
    return status_error(report.status());
  }
  return {200, json::parse(billing::render_summary(*report, billing::ReportFormat::Json)), {}};
}

// One route: a path pattern where "*" matches any one segment, the method, the query
// parameters it takes and its handler.
struct Route {
  std::vector<std::string> pattern;
  std::string method;
  std::vector<std::string> query;
  std::function<AdminResponse(const AdminApiParts&, AcceptLock&, const AdminRequest&,
                              const std::vector<std::string>& segments, const json& body)>
      handle;
};

const std::vector<Route>& routes() {
  static const std::vector<Route> kRoutes = {
      {{"health"},
       "GET",
       {},
       [](auto& parts, auto&, auto&, auto&, auto&) { return get_health(parts); }},
      {{"sessions"},
       "GET",
       {},
       [](auto& parts, auto&, auto&, auto&, auto&) { return get_sessions(parts); }},
      {{"queues"},
       "GET",
       {},
       [](auto& parts, auto&, auto&, auto&, auto&) { return get_queues(parts); }},
      {{"collect"},
       "GET",
       {},
       [](auto& parts, auto&, auto&, auto&, auto&) { return get_collect(parts); }},
      {{"clock"},
       "POST",
       {},
       [](auto&, auto&, auto&, auto&, auto& body) { return post_clock(body); }},
      {{"collect", "*", "take-over"},
       "POST",
       {},
       [](auto& parts, auto&, auto&, auto& segments, auto& body) {
         return post_take_over(parts, segments[1], body);
       }},
      {{"collect", "*", "accept"},
       "POST",
       {},
       [](auto& parts, auto& accept_lock, auto&, auto& segments, auto& body) {
         return post_accept(parts, accept_lock, segments[1], body);
       }},
      {{"quote"},
       "POST",
       {},
       [](auto& parts, auto&, auto&, auto&, auto& body) { return post_quote(parts, body); }},
      {{"credits"},
       "GET",
       {"call"},
       [](auto& parts, auto&, auto& request, auto&, auto&) { return get_credits(parts, request); }},
      {{"credits"},
       "POST",
       {},
       [](auto& parts, auto&, auto&, auto&, auto& body) { return post_credit(parts, body); }},
      {{"credits", "*", "approve"},
       "POST",
       {},
       [](auto& parts, auto&, auto&, auto& segments, auto& body) {
         return post_credit_decision(parts, segments[1], true, body);
       }},
      {{"credits", "*", "reject"},
       "POST",
       {},
       [](auto& parts, auto&, auto&, auto& segments, auto& body) {
         return post_credit_decision(parts, segments[1], false, body);
       }},
      {{"reports", "summary"},
       "GET",
       {"from", "to", "by", "time_zone"},
       [](auto& parts, auto&, auto& request, auto&, auto&) { return get_summary(parts, request); }},
  };
  return kRoutes;
}

// Rejects query parameters that `route` does not take, and any parameter sent twice, so a
// typo or a second value is never silently ignored.
std::optional<AdminResponse> check_query(const Route& route, const AdminRequest& request) {
  if (!request.repeated_query.empty()) {
    return admin_error(400, "invalid-argument",
                       "query parameter '" + request.repeated_query.front() +
                           "' appears more than once; send it once");
  }
  for (const auto& [name, value] : request.query) {
    if (std::find(route.query.begin(), route.query.end(), name) != route.query.end()) {
      continue;
    }
    if (route.query.empty()) {
      return admin_error(400, "invalid-argument",
                         "unknown query parameter '" + name + "'; " + route.method + " " +
                             request.path + " takes no query parameters");
    }
    std::string known;
    for (const std::string& allowed : route.query) {
      known += (known.empty() ? "" : ", ") + allowed;
    }
    return admin_error(400, "invalid-argument",
                       "unknown query parameter '" + name + "'; " + route.method + " " +
                           request.path + " takes " + known);
  }
  return std::nullopt;
}

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& segments) {
  if (pattern.size() != segments.size()) {
    return false;
  }
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != "*" && pattern[i] != segments[i]) {
      return false;
    }
    if (pattern[i] == "*" && segments[i].empty()) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string api_message(const Status& status) {
  if (status.next_step().kind == NextStep::Kind::None) {
    return status.message();
  }
  return status.message_before_step() + api_step(status.next_step());
}

AdminResponse admin_error(int status, const std::string& code, const std::string& message) {
  return {status, {{"error", {{"code", code}, {"message", message}}}}, {}};
}

AdminResponse handle_admin_request(const AdminApiParts& parts, AcceptLock& accept_lock,
                                   const AdminRequest& request) {
  const std::vector<std::string> segments = split_path(request.path);
  std::string allow;
  for (const Route& route : routes()) {
    if (!matches(route.pattern, segments)) {
      continue;
    }
    if (route.method != request.method) {
      allow += (allow.empty() ? "" : ", ") + route.method;
      continue;
    }
    if (auto rejected = check_query(route, request)) {
      logger("gateway")->warn("admin {} {} rejected: {}", request.method,
                              mask_card_number_runs(request.path),
                              rejected->body["error"]["message"].get<std::string>());
      return *rejected;
    }
    json body = json::object();
    if (route.method == "POST") {
      BodyOrError parsed = parse_object(request.body.empty() ? "{}" : request.body);
      if (auto* rejected = std::get_if<AdminResponse>(&parsed)) {
        return *rejected;
      }
      body = std::get<json>(std::move(parsed));
    }
    return route.handle(parts, accept_lock, request, segments, body);
  }
  if (!allow.empty()) {
    AdminResponse response =
        admin_error(405, "method-not-allowed",
                    request.method + " is not allowed on " + mask_card_number_runs(request.path) +
                        "; use " + allow);
    response.allow = allow;
    return response;
  }
  return admin_error(404, "not-found",
                     "no endpoint at " + mask_card_number_runs(request.path) +
                         "; the endpoints are /health, /sessions, /queues, /collect, /clock, "
                         "/quote, /credits and /reports/summary");
}

}  // namespace relaygw::gateway::server
