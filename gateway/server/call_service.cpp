// CallService: relay events into billing. See call_service.hpp for the contract.
//
// Rate decks: every call is quoted, held, debited and posted with the deck its record names,
// the deck in effect when it was requested (billing/call_records.hpp). The store picks that
// deck inside the transaction that stores the call, reading only the decks' dates and SHA-256s.
// `decks` parses each deck once, when a call first needs it, so a deck that `relaygw db
// load-deck` stores while the gateway runs bills new calls from then on, without a restart,
// and calls already open keep their deck. A change of deck is logged with both SHA-256s.
//
// Locking: `billing_mutex` serializes every use of the store, number plan and rate decks, and
// `state_mutex` guards the in-memory maps for a few statements at a time. Emergency work takes
// only `state_mutex` and hands the session to the EmergencyDispatcher, which returns at once,
// so handling an emergency call never waits for a normal call's SQLite write.
// NOTE: the adapter thread that calls handle() can still be busy: a provider connection
// handles its messages in order, and when every worker thread is inside a billing write, an
// emergency message waits for a free thread before handle() runs.
//
// Idempotency has two layers. An in-memory cache returns the first replies of a repeated key
// (bounded by kMaxCachedKeys, oldest dropped first). Behind it the store itself refuses to
// record a step twice. A call is stored with the key and request hash of its call.request, so
// a repeated request gets its replies from the stored record, or, when the call was stored
// without its decision, finishes the steps that are missing. A step already recorded is
// acknowledged, and a posting under the same key returns the stored one. So a retry after a
// restart, when the cache is empty, is not billed twice and gets the replies the cache gave.
#include "gateway/server/call_service.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/credit_policy.hpp"
#include "billing/deck_cache.hpp"
#include "billing/next_step.hpp"
#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/rating.hpp"
#include "billing/sqlite_store.hpp"
#include "common/card_digits.hpp"
#include "gateway/logging.hpp"
#include "gateway/server/access_tag.hpp"
#include "gateway/server/admin_handlers.hpp"
#include "gateway/server/emergency.hpp"
#include "gateway/server/emergency_ids.hpp"
#include "relay-adapters/provider_link/replies.hpp"

namespace relaygw::gateway::server {
namespace {

// A quote prices the first three minutes of conversation, the customary operator quote.
constexpr std::int64_t kQuoteSeconds = 180;
// Idempotency keys whose replies stay in memory; older keys fall back to the store's checks.
constexpr std::size_t kMaxCachedKeys = 100'000;

billing::BillingMethod billing_method(relay::BillingMethod method) {
  switch (method) {
    case relay::BillingMethod::SentPaid:
      return billing::BillingMethod::SentPaid;
    case relay::BillingMethod::Collect:
      return billing::BillingMethod::Collect;
    case relay::BillingMethod::ThirdParty:
      return billing::BillingMethod::ThirdNumber;
    case relay::BillingMethod::PersonToPerson:
      return billing::BillingMethod::PersonToPerson;
    case relay::BillingMethod::CallingCard:
      return billing::BillingMethod::CallingCard;
  }
  return billing::BillingMethod::SentPaid;
}

billing::AcceptanceMethod acceptance_method(relay::AcceptanceMethod method) {
  switch (method) {
    case relay::AcceptanceMethod::Voice:
      return billing::AcceptanceMethod::Voice;
    case relay::AcceptanceMethod::TtyText:
      return billing::AcceptanceMethod::TtyText;
    case relay::AcceptanceMethod::Keypad:
      return billing::AcceptanceMethod::Keypad;
  }
  return billing::AcceptanceMethod::Voice;
}

billing::Instant to_seconds(relay::Instant at) {
  return std::chrono::floor<std::chrono::seconds>(at);
}

// True when two session.open messages open the same session: every field the gateway keeps
// is equal.
bool same_session(const relay::SessionOpened& first, const relay::SessionOpened& second) {
  return first.adapter == second.adapter && first.service == second.service &&
         first.provider_id == second.provider_id && first.caller_number == second.caller_number &&
         first.agent_id == second.agent_id && first.emergency == second.emergency &&
         first.caller_location == second.caller_location;
}

relay::ErrorReply error_reply(std::string code, std::string message) {
  return relay::ErrorReply{"", std::move(code), std::move(message)};
}

relay::AuthorizationResult refusal(const std::string& call_id, std::string reason,
                                   std::string message) {
  return relay::AuthorizationResult{call_id, false, std::move(reason), std::move(message)};
}

relay::AuthorizationResult rating_unavailable(const std::string& call_id) {
  return refusal(call_id, "rating-unavailable",
                 "Billing is unavailable right now, so the call cannot be priced. Try again in "
                 "a few minutes; emergency calls still go through.");
}

// Whether `replies` end in a refusal caused by unavailable storage. Such a refusal changed
// nothing, so a retry with the same key must be processed again.
bool storage_refusal(const std::vector<Reply>& replies) {
  if (replies.empty()) {
    return false;
  }
  const auto* result = std::get_if<relay::AuthorizationResult>(&replies.back());
  return result != nullptr && result->reason_code == "rating-unavailable";
}

relay::ErrorReply key_conflict(const std::string& key) {
  return error_reply("idempotency-conflict",
                     "idempotency_key '" + key +
                         "' was already used for a different request; use a new key for a new "
                         "request");
}

// The session that `event` names, or "" for a call step, which names only its call.
std::string named_session(const relay::InboundEvent& event) {
  return std::visit(
      [](const auto& message) -> std::string {
        using Message = std::decay_t<decltype(message)>;
        if constexpr (std::is_same_v<Message, relay::SessionOpened> ||
                      std::is_same_v<Message, relay::SessionClosed> ||
                      std::is_same_v<Message, relay::CallerText> ||
                      std::is_same_v<Message, relay::CallRequested>) {
          return message.session_id;
        } else {
          return "";
        }
      },
      event);
}

// The provider's own part of an id that the provider link stored as "<provider>/<id>".
std::string provider_part(const std::string& id) {
  const std::size_t slash = id.find('/');
  return slash == std::string::npos ? id : id.substr(slash + 1);
}

// Checks the call id and idempotency key of a billing message for a card number (see
// billing::check_identifier_card_digits), as the provider sent them: the provider link stores
// them as "<provider>/<id>", and a provider id contains no '/'. Returns the invalid-value error
// that rejects the message, or nullopt. A failed card lookup is an unavailable error, so a
// retry with the same key is processed again. A step names a call stored by an earlier
// request (`new_call` false), so its call id is checked only for long digit runs: a card
// added since that request must not strand the call.
std::optional<relay::ErrorReply> reject_card_numbers(billing::Store& store,
                                                     const std::string& call_id,
                                                     const std::string& key, bool new_call) {
  for (const auto& [field, value] : {std::pair{"call", provider_part(call_id)},
                                     std::pair{"idempotency_key", provider_part(key)}}) {
    billing::Store* cards = new_call || std::string_view(field) != "call" ? &store : nullptr;
    const Status checked =
        billing::check_identifier_card_digits(cards, field, value, billing::IdentifierKind::Id);
    if (checked.code() == StatusCode::InvalidArgument) {
      return error_reply("invalid-value", checked.message());
    }
    if (!checked) {
      return error_reply("unavailable",
                         "billing storage failed while checking the ids, so "
                         "nothing was recorded; retry with the same key");
    }
  }
  return std::nullopt;
}

// Appends "name=LENGTH:value;" so that no two field lists give the same text.
void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += '=';
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

// The fields that make two call.request messages the same request: what the reply cache and
// the stored request_hash compare. The card number enters as its SHA-256, and the PIN only as
// present or not, so a retry with another PIN is the same request and gets the first replies.
std::string call_request_fingerprint(const relay::CallRequested& request) {
  std::string out;
  append_field(out, "session", request.session_id);
  append_field(out, "call", request.call_id);
  append_field(out, "to", request.dialed_number);
  append_field(out, "billing", relay::to_string(request.billing));
  append_field(out, "card_sha256",
               request.card_number.empty() ? std::string()
                                           : billing::sha256_hex(request.card_number.reveal()));
  append_field(out, "pin", request.pin.empty() ? "" : "present");
  append_field(out, "third_number", request.third_number);
  append_field(out, "person_name", request.person_name);
  append_field(out, "caller_name", request.caller_name);
  return out;
}

// The text that the reply cache compares for a message with an idempotency key.
std::string request_fingerprint(const relay::InboundEvent& event) {
  if (const auto* request = std::get_if<relay::CallRequested>(&event)) {
    return call_request_fingerprint(*request);
  }
  return relay::describe(event);
}

const std::string* idempotency_key(const relay::InboundEvent& event) {
  if (const auto* request = std::get_if<relay::CallRequested>(&event)) {
    return &request->idempotency_key;
  }
  if (const auto* acceptance = std::get_if<relay::Acceptance>(&event)) {
    return &acceptance->idempotency_key;
  }
  if (const auto* connected = std::get_if<relay::Connected>(&event)) {
    return &connected->idempotency_key;
  }
  if (const auto* disconnected = std::get_if<relay::Disconnected>(&event)) {
    return &disconnected->idempotency_key;
  }
  return nullptr;
}

relay::Quote quote_from(const std::string& call_id, const billing::RatedCall& rated) {
  relay::Quote quote;
  quote.call_id = call_id;
  quote.currency = rated.currency;
  quote.total = billing::format_dollars(rated.total, 2);
  for (const billing::ChargeLine& line : rated.lines) {
    quote.lines.push_back({line.description, billing::format_dollars(line.amount, 2)});
  }
  return quote;
}

// Whether `dialed` names the line stored as `stored_e164`, once the number plan normalizes it.
bool same_dialed_number(const billing::NumberPlan& plan, const std::string& stored_e164,
                        const std::string& dialed) {
  auto info = plan.classify(dialed);
  return info && info->e164 == stored_e164;
}

// The instant a provider stamped on a call step, or nullopt for a message that has none.
std::optional<relay::Instant> step_instant(const relay::InboundEvent& event) {
  if (const auto* acceptance = std::get_if<relay::Acceptance>(&event)) {
    return acceptance->at;
  }
  if (const auto* connected = std::get_if<relay::Connected>(&event)) {
    return connected->at;
  }
  if (const auto* disconnected = std::get_if<relay::Disconnected>(&event)) {
    return disconnected->at;
  }
  return std::nullopt;
}

// Whether `at` lies in the window a provider's step may carry: at most `behind` before the
// gateway clock's `now` (a late delivery or retry) and at most `ahead` after it (clock drift).
bool plausible_instant(relay::Instant at, relay::Instant now, std::chrono::seconds behind,
                       std::chrono::seconds ahead) {
  return at >= now - behind && at <= now + ahead;
}

relay::ErrorReply time_out_of_range(std::string_view of, const std::string& call_id,
                                    relay::Instant at, relay::Instant now,
                                    const BillingConfig& config) {
  const relay::Instant earliest = now - config.max_clock_skew;
  const relay::Instant latest = now + config.clock_tolerance;
  if (at > now) {
    const auto ahead = std::chrono::floor<std::chrono::seconds>(at - now);
    return error_reply(
        "time-out-of-range",
        fmt::format("{} for call '{}' has \"at\" = {}, {} s ahead of the gateway clock ({}), "
                    "which accepts steps at most {} s ahead ([billing] "
                    "clock_tolerance_seconds); nothing was billed. Send the step when it "
                    "happens with its real UTC instant, no later than {}, and correct the "
                    "provider's clock",
                    of, call_id, relay::format_instant(at), ahead.count(),
                    relay::format_instant(now), config.clock_tolerance.count(),
                    relay::format_instant(latest)));
  }
  return error_reply(
      "time-out-of-range",
      fmt::format("{} for call '{}' has \"at\" = {}, more than {} s before the gateway clock "
                  "({}); send the step's real UTC instant, between {} and {}",
                  of, call_id, relay::format_instant(at), config.max_clock_skew.count(),
                  relay::format_instant(now), relay::format_instant(earliest),
                  relay::format_instant(latest)));
}

// `event` with its step instant set to `at`.
relay::InboundEvent with_instant(const relay::InboundEvent& event, relay::Instant at) {
  relay::InboundEvent adjusted = event;
  if (auto* acceptance = std::get_if<relay::Acceptance>(&adjusted)) {
    acceptance->at = at;
  } else if (auto* connected = std::get_if<relay::Connected>(&adjusted)) {
    connected->at = at;
  } else if (auto* disconnected = std::get_if<relay::Disconnected>(&adjusted)) {
    disconnected->at = at;
  }
  return adjusted;
}

// The message of a granted authorization. Billing leaves it empty for calls billed to the
// calling line, and the agent still needs a sentence to relay.
std::string granted_message(const billing::Authorization& decision, billing::BillingMethod method) {
  if (!decision.message.empty()) {
    return decision.message;
  }
  if (method == billing::BillingMethod::PersonToPerson) {
    return "authorized; charges go to the calling line " + decision.billed_number +
           " once the requested person is reached";
  }
  return "authorized; charges go to the calling line " + decision.billed_number;
}

// The authorization request of `request` in `session`, without its PIN, which the card check
// alone reads.
billing::AuthorizationRequest authorization_request(const relay::CallRequested& request,
                                                    const relay::SessionOpened& session) {
  billing::AuthorizationRequest authorization;
  authorization.call_id = request.call_id;
  authorization.from = session.caller_number;
  authorization.to = request.dialed_number;
  authorization.billing = billing_method(request.billing);
  authorization.access = access_tag(session.service);
  authorization.handling = billing::Handling::Automated;
  authorization.third_number = request.third_number;
  authorization.card_number = std::string(request.card_number.reveal());
  authorization.requested_person = request.person_name;
  return authorization;
}

// Whether `record` has its authorization decision: an authorized or a refused event.
bool has_decision(const billing::CallRecord& record) {
  return billing::event_time(record, billing::CallEvent::Authorized).has_value() ||
         billing::event_time(record, billing::CallEvent::Refused).has_value();
}

}  // namespace

struct CallService::State {
  State(const BillingConfig& billing_config, SessionRegistry& registry,
        EmergencyDispatcher& dispatcher)
      : config(billing_config), sessions(registry), emergency(dispatcher) {}

  struct OpenSession {
    relay::SessionOpened opened;
    bool dispatched = false;  // the emergency dispatcher has this session
    std::string emergency_call_id;  // the call id its emergency record is stored under
    // Set when the provider connection of a dispatched session dropped without session.close;
    // cleared by the session's next message.
    std::optional<relay::Instant> connection_lost_at;
  };

  struct OpenCall {
    std::string session_id;
    std::string request_key;  // idempotency key of the call.request that created the call
    CallProgress progress;
    bool finished = false;  // disconnected and posted, or handed back to the dispatcher
  };

  struct CachedReplies {
    std::string fingerprint;  // request_fingerprint(): the request the key was first used for
    std::vector<Reply> replies;
  };

  const BillingConfig& config;
  SessionRegistry& sessions;
  EmergencyDispatcher& emergency;
  std::shared_ptr<spdlog::logger> log = logger("gateway");

  std::mutex billing_mutex;
  std::unique_ptr<billing::SqliteStore> store;
  std::optional<billing::NumberPlan> plan;
  std::optional<billing::RateDeckCache> decks;
  // The rater of the deck in effect at the last call or quote, which also rates calls whose
  // record names no deck (calls stored before schema 12). It shares ownership with the cache,
  // so it stays valid after the cache evicts the deck.
  std::shared_ptr<const billing::Rater> rater;
  std::string deck_sha256;  // StoredRateDeck::sha256_hex of the deck of `rater`
  std::optional<billing::CreditPolicy> credit_policy;

  mutable std::mutex state_mutex;
  bool storage_ready = false;
  bool plan_loaded = false;  // `plan` is set and, from then on, never changes
  std::map<std::string, OpenSession> open_sessions;
  std::map<std::string, OpenCall> calls;
  std::map<std::string, CachedReplies> replies_by_key;
  std::deque<std::string> key_order;
  EmergencyIdTable emergency_ids;

  billing::WriteContext context(relay::Instant at) const {
    return billing::WriteContext{config.actor, to_seconds(at)};
  }

  // Whether `id`, prefixed, names an open session, a call of this run or a remembered
  // idempotency key.
  bool knows_id(const std::string& id) const {
    std::lock_guard state_lock(state_mutex);
    return open_sessions.count(id) != 0 || calls.count(id) != 0 || replies_by_key.count(id) != 0;
  }

  Status open_storage();
  Status flush_emergency_spool();
  bool is_emergency_call(const relay::CallRequested& request);
  // Whether `event` opens, names or belongs to an emergency session or call, which skips every
  // billing check.
  bool concerns_emergency(const relay::InboundEvent& event);

  std::vector<Reply> session_opened(const relay::SessionOpened& opened, relay::Instant now);
  std::vector<Reply> session_closed(const relay::SessionClosed& closed, relay::Instant now);
  std::vector<Reply> caller_text(const relay::CallerText& text);
  std::vector<Reply> emergency_call(const relay::CallRequested& request,
                                    const relay::SessionOpened& session, relay::Instant now);
  std::vector<Reply> call_requested(const relay::CallRequested& request,
                                    const relay::SessionOpened& session, relay::Instant now);
  // Stores a call refused before it was quoted, with its refusal, and returns the refusal.
  std::vector<Reply> store_early_refusal(const relay::CallRequested& request,
                                         const billing::CallRequest& call,
                                         const billing::Authorization& refused,
                                         const billing::WriteContext& at);
  // Runs the checks that can refuse `authorization` before any hold: the card and the PIN of
  // `request`, whose outcome the store records, then Authorizer::find_refusal. Returns the
  // refusal or nullopt, and sets `verified_card` to the card that passed. A failure is
  // logged, and the call cannot be decided now.
  Result<std::optional<billing::Authorization>> find_early_refusal(
      const relay::CallRequested& request, const billing::Authorizer& authorizer,
      billing::AuthorizationRequest& authorization, const billing::WriteContext& at,
      std::optional<billing::CardState>& verified_card);
  // Authorizes stored call `call`, placing a card hold, stores the decision and returns
  // `replies` followed by the authorization or refusal.
  std::vector<Reply> decide_stored_call(const relay::CallRequested& request,
                                        const billing::CallRequest& call,
                                        const billing::Authorizer& authorizer,
                                        const billing::AuthorizationRequest& authorization,
                                        const billing::CardState* verified_card,
                                        const billing::WriteContext& at,
                                        std::vector<Reply> replies);
  // Keeps a decided call in `calls` and logs the decision.
  void note_decision(const relay::CallRequested& request, const billing::CallRequest& call,
                     const billing::Authorization& decision);
  std::vector<Reply> call_step(const relay::InboundEvent& event, relay::Instant now,
                               const AcceptanceResponse* response);
  std::vector<Reply> existing_call_replies(const relay::CallRequested& request,
                                           const relay::SessionOpened& session,
                                           const billing::CallRecord& record,
                                           const std::string& request_hash, relay::Instant now);
  std::vector<Reply> resume_undecided_call(const relay::CallRequested& request,
                                           const relay::SessionOpened& session,
                                           const billing::CallRecord& record, relay::Instant now);
  std::vector<Reply> stored_call_replies(const billing::CallRecord& record);
  // Prices the quote of stored call `record` for a call starting at `start`, with the deck its
  // record names. Returns nullopt, logged, when the call cannot be rated.
  std::optional<relay::Quote> stored_quote(const billing::CallRecord& record,
                                           billing::Instant start);
  relay::ErrorReply call_id_used(const relay::CallRequested& request,
                                 const billing::CallRequest& stored);
  bool call_id_taken(const std::string& call_id);
  Result<relay::Quote> quote_locked(const relay::CallRequested& request,
                                    const relay::SessionOpened& session, relay::Instant now,
                                    const billing::Rater& call_rater);
  // Returns the rater of the deck in effect for a call from `from` at `at`, and makes it the
  // deck in use. Caller holds billing_mutex and the store is open.
  Result<const billing::Rater*> rater_in_effect(const std::string& from, relay::Instant at);
  // Makes deck `sha256_hex`, whose rater is `deck_rater`, the deck in use, and logs the
  // change when it is another deck than before. `why` names the call or quote that needs it.
  void use_deck(const std::string& sha256_hex, const billing::Rater* deck_rater,
                const std::string& why);
  Result<billing::CallPosting> complete_call(const std::string& call_id, relay::Instant at,
                                             const std::string& key);
  billing::Instant capped_end(const billing::CallRecord& record, relay::Instant at,
                              bool& capped) const;
  void finish_session_calls(const std::string& session_id, relay::Instant now);
  void mark_resumed(const std::string& session_id);
  int close_emergency_sessions(relay::Instant now,
                               const std::function<bool(const OpenSession&)>& select);
  void remember(const std::string& key, const std::string& fingerprint,
                const std::vector<Reply>& replies);

  // "unreachable" when `dispatched` and the session's PSAP leg is down, else "".
  std::string psap_status(const std::string& session_id, bool dispatched) {
    if (!dispatched || emergency.psap_reachable(session_id)) {
      return "";
    }
    if (emergency.psap_routed(session_id)) {
      log->warn("session={} PSAP unreachable: the emergency session waits in the spool for a "
                "redial, and the provider is told",
                session_id);
    } else {
      log->warn("session={} PSAP unreachable: no PSAP route serves the session, and the provider "
                "is told",
                session_id);
    }
    return "unreachable";
  }
};

namespace {

// The reason in a loader's or store's message, without the fix it gives for command-line users
// ("...; pass --db ..."), which does not apply to a running server.
std::string reason_only(const Status& status) {
  const std::string& message = status.message();
  return message.substr(0, message.find("; "));
}

// "fix [billing] KEY in FILE", naming the configuration file when it is known.
std::string fix_key(const BillingConfig& config, const std::string& key) {
  const std::string file =
      config.config_file.empty() ? "the configuration file" : config.config_file;
  return "fix [billing] " + key + " in " + file;
}

}  // namespace

// Each failure's message names the part that failed (number plan, credit policy, database or
// its rate deck) and what to change, because `relaygw serve` prints it in its ready line.
Status CallService::State::open_storage() {
  std::lock_guard billing_lock(billing_mutex);
  const std::filesystem::path data_dir = config.data_dir.empty()
                                             ? billing::default_data_dir()
                                             : std::filesystem::path(config.data_dir);
  auto outage = [this](StatusCode code, const std::string& message) {
    const Status failed(code, message);
    log->error("billing unavailable: {}", failed.message());
    return failed;
  };
  if (!plan) {
    auto loaded = billing::NumberPlan::load(data_dir);
    if (!loaded) {
      return outage(loaded.status().code(),
                    fmt::format("number plan in '{}' failed to load ({}); {}", data_dir.string(),
                                reason_only(loaded.status()), fix_key(config, "data_dir")));
    }
    plan.emplace(std::move(loaded).value());
    std::lock_guard state_lock(state_mutex);
    plan_loaded = true;
  }
  if (!credit_policy) {
    const std::string policy_path = config.credit_policy_file.empty()
                                        ? (data_dir / "policy" / "credit-policy.toml").string()
                                        : config.credit_policy_file;
    auto policy = billing::load_credit_policy(policy_path);
    if (!policy) {
      return outage(policy.status().code(),
                    fmt::format("credit policy '{}' failed to load ({}); {}", policy_path,
                                reason_only(policy.status()),
                                fix_key(config, config.credit_policy_file.empty()
                                                    ? "data_dir or credit_policy_file"
                                                    : "credit_policy_file")));
    }
    credit_policy = *policy;
  }
  if (!store) {
    // The gateway posts one call per commit for as long as it runs, so checkpoints run on a
    // thread of their own and no completion waits for one.
    billing::SqliteOptions options;
    options.background_checkpoint = true;
    auto opened = billing::SqliteStore::open(config.database, options);
    if (!opened) {
      return outage(opened.status().code(),
                    fmt::format("database '{}' failed to open ({}); {}", config.database,
                                reason_only(opened.status()), fix_key(config, "database")));
    }
    // The deck in effect today (UTC date) is the first deck in use, for calls that name none.
    const std::string today =
        billing::format_instant(std::chrono::floor<std::chrono::seconds>(
                                    std::chrono::system_clock::now()))
            .substr(0, 10);
    auto in_effect = (*opened)->rate_deck_in_effect(today);
    if (!in_effect) {
      return outage(
          in_effect.status().code(),
          fmt::format("reading the rate deck from database '{}' failed ({}); {}", config.database,
                      reason_only(in_effect.status()), fix_key(config, "database")));
    }
    if (!in_effect->has_value()) {
      return outage(StatusCode::Unavailable,
                    fmt::format("database '{}' has no rate deck; load one with `relaygw db "
                                "load-deck --db {} --rates FILE`",
                                config.database, config.database));
    }
    if (!decks) {
      decks.emplace(&*plan);
    }
    auto parsed = decks->rater(**opened, (*in_effect)->sha256_hex);
    if (!parsed) {
      return outage(parsed.status().code(),
                    fmt::format("the rate deck stored in database '{}' cannot be used ({}); "
                                "load a corrected deck with `relaygw db load-deck --db {} "
                                "--rates FILE`",
                                config.database, reason_only(parsed.status()), config.database));
    }
    rater = decks->share((*in_effect)->sha256_hex);
    deck_sha256 = (*in_effect)->sha256_hex;
    store = std::move(opened).value();
    log->info("billing storage open: database={} rate_deck='{}' sha256={} area_codes={}",
              config.database, rater->deck()->name(), deck_sha256, plan->area_code_count());
  }
  std::lock_guard state_lock(state_mutex);
  storage_ready = true;
  return Status::ok();
}

Status CallService::State::flush_emergency_spool() {
  std::lock_guard billing_lock(billing_mutex);
  if (!store) {
    return Status(StatusCode::Unavailable, "billing storage is not open");
  }
  const billing::WriteContext write_context{
      config.actor, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())};
  Status flushed = emergency.flush_spool(*store, write_context);
  if (!flushed) {
    log->error("moving spooled emergency calls into '{}' failed: {}", config.database,
               flushed.message());
  }
  return flushed;
}

bool CallService::State::is_emergency_call(const relay::CallRequested& request) {
  if (billing::is_emergency_number(request.dialed_number)) {
    return true;
  }
  // The number plan also classifies other emergency forms (933 test calls and
  // so on); it never changes once loaded, so no billing lock is needed.
  {
    std::lock_guard state_lock(state_mutex);
    if (!plan_loaded) {
      return false;
    }
  }
  auto info = plan->classify(request.dialed_number);
  return info && info->kind == billing::NumberKind::Emergency;
}

bool CallService::State::concerns_emergency(const relay::InboundEvent& event) {
  const auto* request = std::get_if<relay::CallRequested>(&event);
  if (request != nullptr && is_emergency_call(*request)) {
    return true;
  }
  if (const auto* opened = std::get_if<relay::SessionOpened>(&event); opened && opened->emergency) {
    return true;
  }
  const std::string session_id = named_session(event);
  std::lock_guard state_lock(state_mutex);
  if (const auto found = open_sessions.find(session_id); found != open_sessions.end()) {
    return found->second.opened.emergency || found->second.dispatched;
  }
  const std::string call_id(relay::provider_link::subject_id(event));
  if (session_id.empty()) {
    const auto found = calls.find(call_id);
    return found != calls.end() && found->second.progress.emergency;
  }
  return false;
}

void CallService::State::remember(const std::string& key, const std::string& fingerprint,
                                  const std::vector<Reply>& replies) {
  if (key.empty()) {
    return;
  }
  std::lock_guard state_lock(state_mutex);
  if (replies_by_key.emplace(key, CachedReplies{fingerprint, replies}).second) {
    key_order.push_back(key);
  }
  while (key_order.size() > kMaxCachedKeys) {
    replies_by_key.erase(key_order.front());
    key_order.pop_front();
  }
}

std::vector<Reply> CallService::State::session_opened(const relay::SessionOpened& opened,
                                                      relay::Instant now) {
  // A session.open for an open session with the same fields is a repeated delivery. Other
  // fields would move the session's later calls to another caller or service, so they are
  // rejected, except the change to an emergency session.
  {
    std::lock_guard state_lock(state_mutex);
    auto found = open_sessions.find(opened.session_id);
    if (found != open_sessions.end()) {
      const relay::SessionOpened& first = found->second.opened;
      if (same_session(first, opened)) {
        found->second.connection_lost_at.reset();
        return {Ack{"session.open", opened.session_id, {}}};
      }
      // The one change allowed: an open session becomes an emergency session (a TTY line's
      // caller types 911, or a provider flags the session), and goes to a PSAP below.
      relay::SessionOpened flagged = first;
      flagged.emergency = true;
      if (!same_session(flagged, opened)) {
        log->warn("session={} session.open rejected: the session is already open for caller {}",
                  opened.session_id, first.caller_number);
        return {error_reply(
            "invalid-state",
            "session '" + opened.session_id + "' is already open for caller " +
                first.caller_number + " with service " +
                std::string(relay::to_string(first.service)) +
                "; send session.close first, or use a new session id for another caller")};
      }
    }
  }
  SessionInfo info;
  info.session_id = opened.session_id;
  info.adapter = opened.adapter;
  info.service = opened.service;
  info.provider_id = opened.provider_id;
  info.caller_number = opened.caller_number;
  info.agent_id = opened.agent_id;
  info.emergency = opened.emergency;
  info.state = opened.emergency ? "emergency" : "open";
  info.opened_at = Clock::time_point(now);
  sessions.open_session(info);

  bool dispatched = false;
  if (opened.emergency) {
    // A flagged session goes to its PSAP at once, before any call request arrives.
    EmergencySession session;
    session.session_id = opened.session_id;
    session.call_id = opened.session_id + "/emergency";
    session.caller_number = opened.caller_number;
    session.caller_location = opened.caller_location;
    session.provider_id = opened.provider_id;
    session.agent_id = opened.agent_id;
    session.service = opened.service;
    session.received_at = now;
    const Status sent = emergency.dispatch(session);
    if (!sent) {
      log->error("session={} emergency dispatch failed: {}", opened.session_id, sent.message());
    } else if (emergency.psap_routed(session.session_id)) {
      log->warn("session={} call={} flagged emergency session dispatched to a PSAP",
                opened.session_id, session.call_id);
    }
    dispatched = sent.is_ok();
  }
  {
    std::lock_guard state_lock(state_mutex);
    open_sessions[opened.session_id] =
        OpenSession{opened, dispatched, dispatched ? opened.session_id + "/emergency" : "",
                    std::nullopt};
  }
  log->info("session={} opened: adapter={} service={} provider={} emergency={}", opened.session_id,
            relay::to_string(opened.adapter), relay::to_string(opened.service), opened.provider_id,
            opened.emergency);
  return {Ack{"session.open", opened.session_id, psap_status(opened.session_id, dispatched)}};
}

std::vector<Reply> CallService::State::session_closed(const relay::SessionClosed& closed,
                                                      relay::Instant now) {
  bool dispatched = false;
  {
    std::lock_guard state_lock(state_mutex);
    auto found = open_sessions.find(closed.session_id);
    if (found == open_sessions.end()) {
      return {error_reply("unknown-session", "session '" + closed.session_id +
                                                 "' is not open; send session.open first")};
    }
    dispatched = found->second.dispatched;
  }
  finish_session_calls(closed.session_id, now);
  if (dispatched) {
    emergency.close(closed.session_id, now);
  }
  {
    std::lock_guard state_lock(state_mutex);
    open_sessions.erase(closed.session_id);
  }
  sessions.close_session(closed.session_id);
  log->info("session={} closed", closed.session_id);
  return {Ack{"session.close", closed.session_id, {}}};
}

std::vector<Reply> CallService::State::caller_text(const relay::CallerText& text) {
  bool dispatched = false;
  {
    std::lock_guard state_lock(state_mutex);
    auto found = open_sessions.find(text.session_id);
    if (found == open_sessions.end()) {
      return {error_reply("unknown-session", "session '" + text.session_id +
                                                 "' is not open; send session.open first")};
    }
    dispatched = found->second.dispatched;
    found->second.connection_lost_at.reset();
  }
  // Text of a session that is not an emergency is acknowledged and dropped: the gateway keeps
  // no conversation text.
  if (dispatched) {
    emergency.forward_text(text.session_id, text.text);
  }
  return {Ack{"session.text", text.session_id, psap_status(text.session_id, dispatched)}};
}

std::vector<Reply> CallService::State::emergency_call(const relay::CallRequested& request,
                                                      const relay::SessionOpened& session,
                                                      relay::Instant now) {
  // An emergency call never writes onto another call, so a call id that already names a
  // billed, refused or staff-created call gives the emergency the record id "<call>/emergency".
  // The dispatch goes ahead either way, and the reply names the record.
  const std::string record_id =
      call_id_taken(request.call_id) ? request.call_id + "/emergency" : request.call_id;
  if (record_id != request.call_id) {
    log->warn("session={} call={} is already used by another call; emergency call to {} is "
              "recorded as call={}",
              request.session_id, request.call_id, request.dialed_number, record_id);
  }
  bool already_dispatched = false;
  std::string dispatched_call_id;  // the call the session's PSAP record is stored under
  {
    std::lock_guard state_lock(state_mutex);
    OpenSession& open = open_sessions[request.session_id];
    already_dispatched = open.dispatched;
    dispatched_call_id = already_dispatched ? open.emergency_call_id : record_id;
    open.dispatched = true;
    open.emergency_call_id = dispatched_call_id;
    OpenCall call;
    call.session_id = request.session_id;
    call.progress.authorized = true;
    call.progress.emergency = true;
    calls[record_id] = call;
  }
  const auto no_psap_route = [&] {
    // Stored as an emergency call with no PSAP when the session closes.
    sessions.set_session_state(request.session_id, "emergency:no-psap-route");
    return std::vector<Reply>{relay::AuthorizationResult{
        request.call_id, true, "psap-unreachable",
        "Emergency call: no charge, but no PSAP route serves this caller, so the gateway could "
        "not dispatch it to a PSAP. Reach 911 by another route now."}};
  };
  if (already_dispatched && !emergency.psap_routed(request.session_id)) {
    return no_psap_route();
  }
  if (already_dispatched) {
    // The session is already with its PSAP. The dispatcher keeps one emergency record per
    // session, which covers this call too, so the reply names that record.
    log->warn("session={} call={} call to {} is part of emergency call {}; billing checks skipped",
              request.session_id, request.call_id, request.dialed_number, dispatched_call_id);
    return {relay::AuthorizationResult{
        request.call_id, true, "",
        "Emergency call: this session is already connected to emergency services, with no "
        "charge. Its record is call '" +
            dispatched_call_id + "'."}};
  }
  EmergencySession dispatch;
  dispatch.session_id = request.session_id;
  dispatch.call_id = record_id;
  dispatch.caller_number = session.caller_number;
  dispatch.caller_location = session.caller_location;
  dispatch.provider_id = session.provider_id;
  dispatch.agent_id = session.agent_id;
  dispatch.service = session.service;
  dispatch.received_at = now;
  const Status sent = emergency.dispatch(dispatch);
  if (!sent) {
    log->error("session={} call={} emergency dispatch failed: {}", request.session_id,
               request.call_id, sent.message());
    {
      std::lock_guard state_lock(state_mutex);
      open_sessions[request.session_id].dispatched = false;
    }
    sessions.set_session_state(request.session_id, "emergency:dispatch-failed");
    // The call is still never billed, but the agent must know that no PSAP has it.
    return {relay::AuthorizationResult{
        request.call_id, true, "",
        "Emergency call: no charge, but the gateway could not dispatch it to a PSAP (" +
            sent.message() + "). Reach 911 by another route now."}};
  }
  if (!emergency.psap_routed(request.session_id)) {
    return no_psap_route();
  }
  sessions.set_session_state(request.session_id, "emergency");
  log->warn("session={} call={} emergency call to {} dispatched; billing checks skipped",
            request.session_id, record_id, request.dialed_number);
  // The reply names the record id when the call id is in use, so the provider can find it.
  const std::string record_note =
      record_id == request.call_id
          ? std::string()
          : " Call id '" + request.call_id + "' is already used by another call, so this "
            "call's record is call '" + record_id + "'.";
  if (!psap_status(request.session_id, true).empty()) {
    return {relay::AuthorizationResult{
        request.call_id, true, "psap-unreachable",
        "Emergency call: no charge. The PSAP cannot be reached right now, so the call is held "
        "and sent to it when the link is back. Stay with the caller, and reach 911 by another "
        "route if it does not connect." + record_note}};
  }
  return {relay::AuthorizationResult{request.call_id, true, "",
                                     "Emergency call: connected to emergency services with no "
                                     "charge." + record_note}};
}

// Whether `call_id` names a call that is not an emergency call, in this run's calls or in the
// store. Emergency work never waits for billing, so the store is read only when no billing work
// is using it (a WAL read does not wait for other processes' writes).
// NOTE: when billing work holds the store, a stored call is missed here, and the spool flush
// then stores the emergency record as "<call>/emergency" although the reply named the call id.
bool CallService::State::call_id_taken(const std::string& call_id) {
  {
    std::lock_guard state_lock(state_mutex);
    if (auto found = calls.find(call_id); found != calls.end()) {
      return !found->second.progress.emergency;
    }
  }
  std::unique_lock billing_lock(billing_mutex, std::try_to_lock);
  if (!billing_lock.owns_lock() || !store) {
    return false;
  }
  auto found = store->find_call(call_id);
  return found && found->has_value() && !(**found).request.emergency;
}

Result<const billing::Rater*> CallService::State::rater_in_effect(const std::string& from,
                                                                  relay::Instant at) {
  auto local_date = billing::originating_local_date(*plan, from, to_seconds(at));
  if (!local_date) {
    return local_date.status();
  }
  auto in_effect = store->rate_deck_in_effect(*local_date);
  if (!in_effect) {
    return in_effect.status();
  }
  if (!in_effect->has_value()) {
    return billing::failed_with_step(StatusCode::Unavailable,
                                     "database '" + config.database + "' has no rate deck",
                                     {NextStep::Kind::LoadRateDeck, ""});
  }
  if (Status checked = billing::check_deck_in_effect(*store, **in_effect, *local_date); !checked) {
    return checked;
  }
  auto deck_rater = decks->rater(*store, (*in_effect)->sha256_hex);
  if (!deck_rater) {
    return deck_rater.status();
  }
  use_deck((*in_effect)->sha256_hex, *deck_rater, "a quote for " + from);
  return *deck_rater;
}

void CallService::State::use_deck(const std::string& sha256_hex, const billing::Rater* deck_rater,
                                  const std::string& why) {
  if (sha256_hex == deck_sha256) {
    return;
  }
  log->info("rate deck switched at {}: old deck '{}' sha256={}, new deck '{}' sha256={}; calls "
            "already open keep the deck they were quoted with",
            why, rater->deck()->name(), deck_sha256, deck_rater->deck()->name(), sha256_hex);
  deck_sha256 = sha256_hex;
  rater = decks->share(sha256_hex);
}

Result<relay::Quote> CallService::State::quote_locked(const relay::CallRequested& request,
                                                      const relay::SessionOpened& session,
                                                      relay::Instant now,
                                                      const billing::Rater& call_rater) {
  billing::CallToRate call;
  call.from = session.caller_number;
  call.to = request.dialed_number;
  call.billing = billing_method(request.billing);
  call.access = access_tag(session.service);
  call.handling = billing::Handling::Automated;
  call.start = to_seconds(now);
  call.billable_seconds = kQuoteSeconds;
  call.answered = true;
  call.person_reached = true;
  // The billed line's TTY discount is quoted as the posting will apply it. A billed number
  // that is not valid falls back to the calling line here; the authorization refuses it.
  Result<std::string> billed = billing::billed_line_number(
      call.billing, session.caller_number, request.dialed_number, request.third_number);
  Result<bool> discount =
      billing::rated_line_tty_discount(*store, billed ? *billed : "", session.caller_number,
                                       request.card_number.reveal());
  if (!discount) {
    return discount.status();
  }
  call.tty_discount_eligible = *discount;
  auto rated = call_rater.rate(call);
  if (!rated) {
    return rated.status();
  }
  return quote_from(request.call_id, *rated);
}

// A call.request for a call id that exists is the first request delivered again only when it
// has the key that created the call and the same fields (`request_hash`), as the reply cache
// decides. The key and hash are stored with the call, so this also applies after a restart.
std::vector<Reply> CallService::State::existing_call_replies(const relay::CallRequested& request,
                                                             const relay::SessionOpened& session,
                                                             const billing::CallRecord& record,
                                                             const std::string& request_hash,
                                                             relay::Instant now) {
  const billing::CallRequest& stored = record.request;
  if (!stored.request_key.empty()) {
    if (stored.request_key != request.idempotency_key) {
      return {call_id_used(request, stored)};
    }
    if (stored.request_hash != request_hash) {
      log->warn(
          "session={} call={} call.request rejected: its idempotency key was first used "
          "for a different request",
          request.session_id, stored.id);
      return {key_conflict(request.idempotency_key)};
    }
    if (!has_decision(record)) {
      return resume_undecided_call(request, session, record, now);
    }
    return stored_call_replies(record);
  }
  // NOTE: a call stored without a key (before schema 17) counts as requested again by any
  // request that the gateway stored with the same calling line, dialed number and billing
  // method, unless this run saw the key that created it.
  std::optional<std::string> first_key;
  {
    std::lock_guard state_lock(state_mutex);
    // A call that this run only saw in later steps (requested before a restart) has no key.
    if (auto found = calls.find(stored.id);
        found != calls.end() && !found->second.request_key.empty()) {
      first_key = found->second.request_key;
    }
  }
  bool repeat = false;
  if (first_key) {
    repeat = *first_key == request.idempotency_key;
  } else {
    const bool stored_by_gateway =
        !record.events.empty() && record.events.front().actor == config.actor;
    repeat = stored_by_gateway && !stored.emergency && stored.from == session.caller_number &&
             same_dialed_number(*plan, stored.to, request.dialed_number) &&
             stored.billing == billing_method(request.billing);
  }
  if (!repeat) {
    return {call_id_used(request, stored)};
  }
  // Requested before, possibly before a restart: reply from the stored record.
  return stored_call_replies(record);
}

relay::ErrorReply CallService::State::call_id_used(const relay::CallRequested& request,
                                                   const billing::CallRequest& stored) {
  log->warn("session={} call={} call.request rejected: the call id is already used",
            request.session_id, stored.id);
  return error_reply("invalid-state", "call id '" + stored.id + "' already used by a " +
                                          std::string(billing::to_string(stored.billing)) +
                                          " call to " + stored.to +
                                          "; send a new call id for a new call");
}

// The replies of the first delivery of the call.request that stored `record`: its quote, when
// it was quoted, and its authorization or refusal. A card call's authorization names the hold
// stored with its authorized event. Calls authorized before schema 17 have none stored, so
// their repeated authorization names the card only.
std::vector<Reply> CallService::State::stored_call_replies(const billing::CallRecord& record) {
  const billing::CallRequest& stored = record.request;
  const std::string& call_id = stored.id;
  std::vector<Reply> replies;
  const auto requested_at = billing::event_time(record, billing::CallEvent::Requested);
  if (billing::event_time(record, billing::CallEvent::Quoted) && requested_at) {
    if (auto quote = stored_quote(record, *requested_at)) {
      replies.push_back(std::move(*quote));
    }
  }
  const auto authorized =
      std::find_if(record.events.begin(), record.events.end(),
                   [](const auto& event) { return event.event == billing::CallEvent::Authorized; });
  if (authorized != record.events.end()) {
    billing::Authorization decision;
    decision.granted = true;
    decision.billed_number = stored.billed_number;
    if (!stored.card_number.empty()) {
      decision.message = billing::card_authorization_message(
          billing::mask_card_number(stored.card_number), authorized->hold_amount.value_or(0),
          authorized->hold_max_seconds);
    } else if (stored.billing == billing::BillingMethod::Collect ||
               stored.billing == billing::BillingMethod::ThirdNumber) {
      decision.message = "authorized; charges wait for the acceptance of " + stored.billed_number;
    }
    replies.push_back(relay::AuthorizationResult{call_id, true, "",
                                                 granted_message(decision, stored.billing)});
    return replies;
  }
  for (const billing::CallEventRecord& event : record.events) {
    if (event.event == billing::CallEvent::Refused) {
      replies.push_back(refusal(call_id, event.reason_code, event.reason_message));
      return replies;
    }
  }
  // NOTE: an undecided call gets here only in cases the retry cannot finish. A call stored
  // before schema 17 has no request key or hash to match the request against. A call that
  // staff disconnected or posted, or whose session now has another calling number, cannot be
  // authorized. Its provider must use a new call id. resume_undecided_call() decides the rest.
  replies.push_back(refusal(
      call_id, "duplicate-call",
      "Call '" + call_id + "' was already requested and not authorized; request a new call id."));
  return replies;
}

std::optional<relay::Quote> CallService::State::stored_quote(const billing::CallRecord& record,
                                                             billing::Instant start) {
  const billing::CallRequest& stored = record.request;
  const billing::Rater* call_rater = rater.get();
  if (stored.quote && !stored.quote->deck_sha256.empty()) {
    auto found = decks->rater(*store, stored.quote->deck_sha256);
    call_rater = found ? *found : nullptr;
  }
  billing::CallToRate call;
  call.from = stored.from;
  call.to = stored.to;
  call.billing = stored.billing;
  call.access = stored.access;
  call.handling = billing::Handling::Automated;
  call.start = start;
  call.billable_seconds = kQuoteSeconds;
  call.answered = true;
  call.person_reached = true;
  Result<bool> discount =
      billing::rated_line_tty_discount(*store, stored.billed_number, stored.from,
                                       stored.card_number);
  if (!discount) {
    log->warn("call={} quote not sent: {}", stored.id, discount.status().message());
    return std::nullopt;
  }
  call.tty_discount_eligible = *discount;
  auto rated =
      call_rater != nullptr
          ? call_rater->rate(call)
          : Result<billing::RatedCall>(Status(StatusCode::NotFound, "its rate deck is not stored"));
  if (!rated) {
    log->warn("call={} quote not sent: {}", stored.id, rated.status().message());
    return std::nullopt;
  }
  return quote_from(stored.id, *rated);
}

// Decides a call that an earlier delivery of `request` stored and left undecided, because the
// gateway stopped or storage failed between the steps of call_requested(). The missing steps
// run now: the requested event, the checks that can refuse the call, the quote and the
// authorization. The replies are those of a first delivery. A step that is already stored is
// not repeated, and the quote is priced from the stored record. A card hold that the earlier
// delivery left open is released before the authorization places the call's hold again. The
// store also rejects a hold for a call whose hold is open, so no call gets a second open hold.
//
// Why not one transaction for the call, its events and its decision: each Store write is its
// own BEGIN IMMEDIATE transaction (SqliteStore::Transaction does not nest), and the decision
// needs the card check, the rate deck reads and the hold, which the Authorizer makes through
// several Store calls. Writing them together would need a transaction that spans Store calls
// and the Authorizer. Resuming keeps every step in its own transaction and makes each step
// safe to repeat, which also covers a call that failed in the same run.
std::vector<Reply> CallService::State::resume_undecided_call(const relay::CallRequested& request,
                                                             const relay::SessionOpened& session,
                                                             const billing::CallRecord& record,
                                                             relay::Instant now) {
  const billing::CallRequest& stored = record.request;
  const std::string& call_id = stored.id;
  if (stored.emergency || record.posting ||
      billing::event_time(record, billing::CallEvent::Disconnected) ||
      stored.from != session.caller_number) {
    return stored_call_replies(record);
  }
  log->warn(
      "session={} call={} call.request repeated for a call stored without a decision; "
      "deciding it now",
      request.session_id, call_id);
  const billing::WriteContext write_context = context(now);
  // CallRecords::open stores the call row and its requested event in two transactions.
  std::optional<billing::Instant> requested_at =
      billing::event_time(record, billing::CallEvent::Requested);
  if (!requested_at) {
    const Status requested = store->append_call_event(
        call_id, billing::CallEventRecord{
                     billing::CallEvent::Requested, write_context.at, write_context.actor, {}, {}});
    if (!requested) {
      log->error("session={} call={} storing the requested event failed: {}", request.session_id,
                 call_id, requested.message());
      return {rating_unavailable(call_id)};
    }
    requested_at = write_context.at;
  }

  if (!stored.card_number.empty()) {
    auto funds = store->card_funds(stored.card_number, call_id);
    if (funds && funds->held_for_call > 0) {
      log->warn(
          "session={} call={} releasing the hold of ${} that the earlier delivery "
          "placed, before the call is authorized again",
          request.session_id, call_id, billing::format_money(funds->held_for_call));
      funds = store->append_ledger(
          stored.card_number,
          {billing::LedgerEntry{billing::LedgerKind::Release, funds->held_for_call, call_id}},
          false, std::nullopt, write_context);
    }
    if (!funds) {
      log->error("session={} call={} reading or releasing the earlier card hold failed: {}",
                 request.session_id, call_id, funds.status().message());
      return {rating_unavailable(call_id)};
    }
  }

  billing::AuthorizationRequest authorization = authorization_request(request, session);
  billing::Authorizer authorizer(store.get(), &*plan, rater.get(), &*decks);
  std::optional<billing::CardState> verified_card;
  Result<std::optional<billing::Authorization>> early_refusal =
      find_early_refusal(request, authorizer, authorization, write_context, verified_card);
  if (!early_refusal) {
    return {rating_unavailable(call_id)};
  }

  std::vector<Reply> replies;
  const bool quoted = billing::event_time(record, billing::CallEvent::Quoted).has_value();
  // A refusal now comes from a change since the call was stored (a card closed or locked, or a
  // wrong PIN in this delivery). The call gets no quote then, unless one is already stored.
  if (quoted || !*early_refusal) {
    if (auto quote = stored_quote(record, *requested_at)) {
      replies.push_back(std::move(*quote));
      if (!quoted) {
        billing::CallRecords records(store.get(), rater.get(), &*decks);
        (void)records.add_event(
            call_id,
            billing::CallEventRecord{
                billing::CallEvent::Quoted, write_context.at, write_context.actor, {}, {}});
      }
    }
  }
  if (*early_refusal) {
    const billing::Authorization& refused = **early_refusal;
    billing::CallRecords records(store.get(), rater.get(), &*decks);
    const Status recorded = records.record_authorization(call_id, refused, write_context);
    if (!recorded) {
      log->error("session={} call={} recording the refusal failed: {}", request.session_id, call_id,
                 recorded.message());
      replies.push_back(rating_unavailable(call_id));
      return replies;
    }
    replies.push_back(
        refusal(call_id, std::string(billing::to_string(refused.reason)), refused.message));
    note_decision(request, stored, refused);
    return replies;
  }
  return decide_stored_call(request, stored, authorizer, authorization,
                            verified_card ? &*verified_card : nullptr, write_context,
                            std::move(replies));
}

std::vector<Reply> CallService::State::call_requested(const relay::CallRequested& request,
                                                      const relay::SessionOpened& session,
                                                      relay::Instant now) {
  const std::string& call_id = request.call_id;
  std::lock_guard billing_lock(billing_mutex);
  if (!store || !plan || !rater) {
    log->warn("session={} call={} refused: billing storage unavailable", request.session_id,
              call_id);
    return {rating_unavailable(call_id)};
  }
  if (auto rejected = reject_card_numbers(*store, call_id, request.idempotency_key, true)) {
    log->warn("session={} call.request rejected: {}", request.session_id, rejected->message);
    return {*rejected};
  }
  // The requested person, from the provider link or a TTY caller, is stored with the call as
  // sent. An emergency call never comes here.
  if (!request.person_name.empty()) {
    const Status person = billing::check_identifier_card_digits(
        store.get(), "person", request.person_name, billing::IdentifierKind::Name);
    if (person.code() == StatusCode::InvalidArgument) {
      log->warn("session={} call.request rejected: {}", request.session_id, person.message());
      return {error_reply("invalid-value", person.message())};
    }
    if (!person) {
      log->error("session={} call={} checking the person for card numbers failed: {}",
                 request.session_id, call_id, person.message());
      return {error_reply("unavailable",
                          "billing storage failed while checking the person, so nothing was "
                          "recorded; retry with the same key")};
    }
  }

  auto existing = store->find_call(call_id);
  if (!existing) {
    log->error("session={} call={} reading the call failed: {}", request.session_id, call_id,
               existing.status().message());
    return {rating_unavailable(call_id)};
  }
  const std::string request_hash = billing::sha256_hex(call_request_fingerprint(request));
  if (existing->has_value()) {
    return existing_call_replies(request, session, **existing, request_hash, now);
  }
  // A key that created another call is a different request under the same key.
  auto keyed = store->find_call_id_by_request_key(request.idempotency_key);
  if (!keyed) {
    log->error("session={} call={} reading the call of idempotency key '{}' failed: {}",
               request.session_id, call_id, request.idempotency_key, keyed.status().message());
    return {rating_unavailable(call_id)};
  }
  if (keyed->has_value()) {
    log->warn("session={} call={} call.request rejected: its idempotency key created call {}",
              request.session_id, call_id, **keyed);
    return {key_conflict(request.idempotency_key)};
  }

  // A dialed number that the plan rejects is refused like every other early refusal: stored
  // as sent with its refusal, so a retry after a restart gets the stored refusal.
  std::optional<billing::Authorization> early_refusal;
  auto dialed = plan->classify(request.dialed_number);
  if (!dialed) {
    billing::Authorization invalid;
    invalid.reason = billing::RefusalReason::InvalidRequest;
    invalid.message = "The dialed number is not valid: " + dialed.status().message();
    early_refusal = std::move(invalid);
  }

  const billing::WriteContext write_context = context(now);
  billing::CallRequest call;
  call.id = call_id;
  call.from = session.caller_number;
  call.to = dialed ? dialed->e164 : request.dialed_number;
  call.billing = billing_method(request.billing);
  call.access = access_tag(session.service);
  call.handling = billing::Handling::Automated;
  call.card_number = std::string(request.card_number.reveal());
  call.requested_person = request.person_name;
  call.request_key = request.idempotency_key;
  call.request_hash = request_hash;
  // An invalid billed number leaves it empty, and the Authorizer below refuses the call with
  // the reason. Billing to the call's own parties is refused there too.
  auto billed = billing::billed_line_number(call.billing, session.caller_number,
                                            request.dialed_number, request.third_number);
  if (billed) {
    call.billed_number = *billed;
  }
  billing::AuthorizationRequest authorization = authorization_request(request, session);
  billing::Authorizer authorizer(store.get(), &*plan, rater.get(), &*decks);
  // Every check that can refuse the call runs before the call is stored and quoted, so a
  // refused call gets no quote reply and is stored with its refusal alone, whichever check
  // refused it. A dialed number that is not valid refuses the call before the card check, so
  // its PIN is not checked.
  std::optional<billing::CardState> verified_card;
  if (!early_refusal) {
    Result<std::optional<billing::Authorization>> found =
        find_early_refusal(request, authorizer, authorization, write_context, verified_card);
    if (!found) {
      return {rating_unavailable(call_id)};
    }
    early_refusal = std::move(*found);
  }
  if (early_refusal) {
    return store_early_refusal(request, call, *early_refusal, write_context);
  }
  billing::CallRecords records(store.get(), rater.get(), &*decks);
  auto opened = records.open(call, write_context);
  if (!opened) {
    log->error("session={} call={} storing the call failed: {}", request.session_id, call_id,
               opened.status().message());
    return {rating_unavailable(call_id)};
  }

  std::vector<Reply> replies;
  {
    // open() quoted the call with the deck in effect and stored that deck's SHA-256, so the
    // cache has its rater. The quote reply and the hold below use it too.
    const billing::Rater* call_rater = rater.get();
    if (opened->quote && !opened->quote->deck_sha256.empty()) {
      call_rater = decks->find(opened->quote->deck_sha256);
      if (call_rater == nullptr) {
        log->error("session={} call={} stored, but its rate deck sha256={} is not loaded",
                   request.session_id, call_id, opened->quote->deck_sha256);
        return {rating_unavailable(call_id)};
      }
      use_deck(opened->quote->deck_sha256, call_rater, "call " + call_id);
    }
    auto quote = quote_locked(request, session, now, *call_rater);
    if (quote) {
      replies.push_back(*quote);
      (void)records.add_event(
          call_id, billing::CallEventRecord{
                       billing::CallEvent::Quoted, write_context.at, write_context.actor, {}, {}});
    } else {
      log->warn("session={} call={} no quote: {}", request.session_id, call_id,
                quote.status().message());
    }
  }

  return decide_stored_call(request, call, authorizer, authorization,
                            verified_card ? &*verified_card : nullptr, write_context,
                            std::move(replies));
}

Result<std::optional<billing::Authorization>> CallService::State::find_early_refusal(
    const relay::CallRequested& request, const billing::Authorizer& authorizer,
    billing::AuthorizationRequest& authorization, const billing::WriteContext& at,
    std::optional<billing::CardState>& verified_card) {
  // The card and its PIN come first, so a wrong PIN counts whatever the destination.
  authorization.pin = std::string(request.pin.reveal());
  Result<billing::Authorizer::CardCheck> card = authorizer.check_card(authorization, at);
  // authorize() takes the verified card, so the PIN is no longer needed.
  authorization.pin.assign(authorization.pin.size(), '\0');
  if (!card) {
    log->error("session={} call={} checking the card failed: {}", request.session_id,
               request.call_id, card.status().message());
    return card.status();
  }
  if (card->refusal) {
    return std::move(card->refusal);
  }
  verified_card = std::move(card->card);
  Result<std::optional<billing::Authorization>> found =
      authorizer.find_refusal(authorization, at, verified_card ? &*verified_card : nullptr);
  if (!found) {
    log->error("session={} call={} authorization could not be decided: {}", request.session_id,
               request.call_id, found.status().message());
  }
  return found;
}

std::vector<Reply> CallService::State::decide_stored_call(
    const relay::CallRequested& request, const billing::CallRequest& call,
    const billing::Authorizer& authorizer, const billing::AuthorizationRequest& authorization,
    const billing::CardState* verified_card, const billing::WriteContext& at,
    std::vector<Reply> replies) {
  const std::string& call_id = call.id;
  // NOTE: a refusal here, after the quote is stored, comes only from a change since
  // find_refusal ran, such as another call taking the card's funds or a new deck in effect.
  const Result<billing::Authorization> decision =
      authorizer.authorize(authorization, at, verified_card);
  if (!decision) {
    log->error("session={} call={} authorization could not be decided: {}", request.session_id,
               call_id, decision.status().message());
    replies.push_back(rating_unavailable(call_id));
    return replies;
  }
  billing::CallRecords records(store.get(), rater.get(), &*decks);
  const Status recorded = records.record_authorization(call_id, *decision, at);
  if (!recorded) {
    log->error("session={} call={} recording the authorization failed: {}", request.session_id,
               call_id, recorded.message());
    if (const Status released = authorizer.release_hold(authorization, *decision, at); !released) {
      log->error("session={} call={} releasing the hold of ${} failed: {}", request.session_id,
                 call_id, billing::format_money(decision->held), released.message());
    }
    replies.push_back(rating_unavailable(call_id));
    return replies;
  }
  if (decision->granted) {
    replies.push_back(
        relay::AuthorizationResult{call_id, true, "", granted_message(*decision, call.billing)});
  } else {
    replies.push_back(
        refusal(call_id, std::string(billing::to_string(decision->reason)), decision->message));
  }
  note_decision(request, call, *decision);
  return replies;
}

std::vector<Reply> CallService::State::store_early_refusal(const relay::CallRequested& request,
                                                           const billing::CallRequest& call,
                                                           const billing::Authorization& refused,
                                                           const billing::WriteContext& at) {
  billing::CallRecords records(store.get(), nullptr, &*decks);
  auto stored = records.open_refused(call, refused, at);
  if (!stored) {
    log->error("session={} call={} storing the refused call failed: {}", request.session_id,
               call.id, stored.status().message());
    return {rating_unavailable(call.id)};
  }
  note_decision(request, call, refused);
  return {refusal(call.id, std::string(billing::to_string(refused.reason)), refused.message)};
}

void CallService::State::note_decision(const relay::CallRequested& request,
                                       const billing::CallRequest& call,
                                       const billing::Authorization& decision) {
  {
    std::lock_guard state_lock(state_mutex);
    OpenCall& open = calls[call.id];
    open.session_id = request.session_id;
    open.request_key = request.idempotency_key;
    open.progress.authorized = decision.granted;
    open.progress.acceptance_required = decision.acceptance_required;
    open.progress.billed_number = decision.billed_number;
    open.finished = !decision.granted;
  }
  sessions.set_session_state(request.session_id,
                             decision.granted ? "call-authorized" : "call-refused");
  log->info("session={} call={} {}: billing={} access={}", request.session_id, call.id,
            decision.granted ? "authorized"
                             : "refused with " + std::string(billing::to_string(decision.reason)),
            billing::to_string(call.billing), billing::to_string(call.access));
}

Result<billing::CallPosting> CallService::State::complete_call(const std::string& call_id,
                                                               relay::Instant at,
                                                               const std::string& key) {
  // Caller holds billing_mutex.
  auto record = store->find_call(call_id);
  if (!record) {
    return record.status();
  }
  if (!record->has_value()) {
    return Status(StatusCode::NotFound,
                  "call '" + call_id + "' does not exist; send call.request first");
  }
  billing::CallRecords records(store.get(), rater.get(), &*decks);
  // The protocol has no "person reached" field: a person-to-person call that was connected is
  // billed as reached.
  const bool connected = billing::event_time(**record, billing::CallEvent::Connected).has_value();
  bool capped = false;
  const billing::Instant end = capped_end(**record, at, capped);
  billing::WriteContext write_context = context(at);
  if (capped) {
    write_context.actor = config.actor + "/length-capped";
    log->warn(
        "call={} length capped: disconnect at {} is more than {} s after the connect, so "
        "the call is billed as disconnected at {}",
        call_id, relay::format_instant(at), config.max_call_length.count(),
        billing::format_instant(end));
  }
  billing::Completion completion{call_id, end, connected, key};
  completion.max_conversation = config.max_call_length;
  return records.complete(completion, write_context);
}

// The disconnect instant to record for a hangup at `at`: `at`, or the connect instant plus
// max_call_length when the call would be longer (then `capped` is set).
billing::Instant CallService::State::capped_end(const billing::CallRecord& record,
                                                relay::Instant at, bool& capped) const {
  const billing::Instant end = to_seconds(at);
  const auto connected = billing::event_time(record, billing::CallEvent::Connected);
  capped = connected && end - *connected > config.max_call_length;
  return capped ? *connected + config.max_call_length : end;
}

std::vector<Reply> CallService::State::call_step(const relay::InboundEvent& event,
                                                 relay::Instant now,
                                                 const AcceptanceResponse* response) {
  const std::string call_id(relay::provider_link::subject_id(event));
  const std::string of(relay::provider_link::message_type(event));
  bool emergency_call = false;
  std::string session_id;
  {
    std::lock_guard state_lock(state_mutex);
    auto found = calls.find(call_id);
    if (found != calls.end()) {
      emergency_call = found->second.progress.emergency;
      session_id = found->second.session_id;
    }
  }
  mark_resumed(session_id);
  std::optional<relay::Instant> at = step_instant(event);
  const bool plausible = !at || plausible_instant(*at, now, config.max_clock_skew,
                                                  config.clock_tolerance);
  if (!plausible && !emergency_call) {
    log->warn("session={} call={} {} rejected: at={} is outside the window of the gateway clock "
              "{} (from {} s before to {} s ahead)",
              session_id, call_id, of, relay::format_instant(*at), relay::format_instant(now),
              config.max_clock_skew.count(), config.clock_tolerance.count());
    return {time_out_of_range(of, call_id, *at, now, config)};
  }
  if (emergency_call) {
    // Emergency calls are not billed: the dispatcher records them, rated at zero. An emergency
    // step is never rejected, so an implausible hangup instant becomes the gateway's own.
    if (const auto* disconnected = std::get_if<relay::Disconnected>(&event)) {
      if (!plausible) {
        log->warn(
            "session={} call={} emergency call.disconnect at={} is outside the window of the "
            "gateway clock; recorded at {} instead",
            session_id, call_id, relay::format_instant(disconnected->at),
            relay::format_instant(now));
      }
      emergency.close(session_id, plausible ? disconnected->at : now);
      std::lock_guard state_lock(state_mutex);
      calls[call_id].finished = true;
    }
    return {Ack{of, call_id, {}}};
  }

  std::lock_guard billing_lock(billing_mutex);
  if (!store || !rater) {
    return {error_reply("unavailable",
                        "billing storage is unavailable, so " + of + " for call '" + call_id +
                            "' was not recorded; retry it with the same idempotency key")};
  }
  const std::string* key = idempotency_key(event);
  if (auto rejected =
          reject_card_numbers(*store, call_id, key != nullptr ? *key : "", false)) {
    log->warn("session={} {} rejected: {}", session_id, of, rejected->message);
    return {*rejected};
  }
  billing::CallRecords records(store.get(), rater.get(), &*decks);
  auto record = store->find_call(call_id);
  // The gateway stamps the request with its own clock, so a provider clock that runs a little
  // behind stamps the next step before it. A step at most clock_tolerance before the call's
  // last recorded step is recorded at that step's instant; an earlier one stays rejected.
  relay::InboundEvent clamped_event = event;
  if (at && record && record->has_value() && !(*record)->events.empty()) {
    relay::Instant last_step((*record)->events.front().at);
    for (const billing::CallEventRecord& recorded : (*record)->events) {
      if (recorded.event != billing::CallEvent::Disconnected) {
        last_step = std::max(last_step, relay::Instant(recorded.at));
      }
    }
    if (*at < last_step && last_step - *at <= config.clock_tolerance) {
      log->info("session={} call={} {} at={} is {} ms before the call's last step; recorded at "
                "{} (within [billing] clock_tolerance_seconds)",
                session_id, call_id, of, relay::format_instant(*at),
                (last_step - *at).count(), relay::format_instant(last_step));
      at = last_step;
      clamped_event = with_instant(event, last_step);
    }
  }
  const bool is_step = std::holds_alternative<relay::Acceptance>(event) ||
                       std::holds_alternative<relay::Connected>(event);
  if (is_step) {
    // A step the store already has at the same second (a retry after a restart, even after
    // the disconnect) is acknowledged without a second event. The same step at another time
    // is rejected, because billing keeps the first time.
    const billing::CallEvent kind = std::holds_alternative<relay::Acceptance>(event)
                                        ? billing::CallEvent::Accepted
                                        : billing::CallEvent::Connected;
    if (record && record->has_value()) {
      if (const auto stored = billing::event_time(**record, kind)) {
        if (at && to_seconds(*at) != *stored) {
          log->warn("session={} call={} {} rejected: the call already has it at {}", session_id,
                    call_id, of, billing::format_instant(*stored));
          return {error_reply("invalid-state",
                              of + " for call '" + call_id + "' at " +
                                  relay::format_instant(*at) + " was not recorded: the call " +
                                  "already has this step at " + billing::format_instant(*stored) +
                                  ", which billing keeps; repeat a step only with its first at")};
        }
        return {Ack{of, call_id, {}}};
      }
    }
  }
  Status status;
  if (const auto* acceptance = std::get_if<relay::Acceptance>(&clamped_event)) {
    billing::CallEventRecord record{billing::CallEvent::Accepted, to_seconds(acceptance->at),
                                    config.actor, acceptance_method(acceptance->how),
                                    acceptance->accepted_by};
    if (response != nullptr) {
      // The replies below for a recorded acceptance: the stored response must match them.
      const billing::StoredResponse stored{response->key, response->scope,
                                           response->result({Ack{of, call_id, {}}}),
                                           response->context};
      status = records.add_event(call_id, record, &stored);
    } else {
      status = records.add_event(call_id, record);
    }
  } else if (const auto* connected = std::get_if<relay::Connected>(&clamped_event)) {
    billing::CallEventRecord record{
        billing::CallEvent::Connected, to_seconds(connected->at), config.actor, {}, {}};
    status = records.add_event(call_id, record);
  } else if (const auto* disconnected = std::get_if<relay::Disconnected>(&clamped_event)) {
    auto posting = complete_call(call_id, disconnected->at, disconnected->idempotency_key);
    status = posting.status();
    if (posting) {
      std::lock_guard state_lock(state_mutex);
      calls[call_id].finished = true;
      log->info("session={} call={} posted: total={}", session_id, call_id,
                billing::format_dollars(posting->total, 2));
    }
  }

  if (status) {
    if (!session_id.empty()) {
      sessions.set_session_state(session_id, "call:" + of);
    }
    return {Ack{of, call_id, {}}};
  }
  switch (status.code()) {
    case StatusCode::AlreadyExists:
      if (const auto* disconnected = std::get_if<relay::Disconnected>(&clamped_event)) {
        // Only the same completion delivered again is a replay. The store also reports a key
        // that another call already used, and a second disconnect at another time, as
        // AlreadyExists; acknowledging those would leave the call unposted or misdated.
        auto posted = store->find_call(call_id);
        bool capped = false;
        const bool same_completion =
            posted && posted->has_value() && (*posted)->posting.has_value() &&
            billing::event_time(**posted, billing::CallEvent::Disconnected) ==
                std::optional<billing::Instant>(capped_end(**posted, disconnected->at, capped));
        if (!same_completion) {
          log->warn("session={} call={} call.disconnect rejected: {}", session_id, call_id,
                    status.message());
          // A posted call takes no second disconnect. Otherwise the key was used by another
          // call.
          const bool posted_before = posted && posted->has_value() && (*posted)->posting;
          return {error_reply(posted_before ? "invalid-state" : "idempotency-conflict",
                              "call.disconnect for call '" + call_id +
                                  "' was not recorded: " + api_message(status))};
        }
      }
      // The step is already recorded (a retry after a restart, or a repeated delivery).
      return {Ack{of, call_id, {}}};
    case StatusCode::NotFound:
      return {error_reply("unknown-call",
                          "call '" + call_id + "' does not exist; send call.request for it first")};
    case StatusCode::FailedPrecondition:
    case StatusCode::InvalidArgument:
      return {error_reply("invalid-state", of + " for call '" + call_id +
                                               "' was not recorded: " + api_message(status))};
    default:
      log->error("session={} call={} {} failed: {}", session_id, call_id, of, status.message());
      return {error_reply("unavailable",
                          of + " for call '" + call_id +
                              "' was not recorded because billing failed: " + api_message(status) +
                              "; retry it with the same idempotency key")};
  }
}

void CallService::State::finish_session_calls(const std::string& session_id, relay::Instant now) {
  std::vector<std::string> open;
  {
    std::lock_guard state_lock(state_mutex);
    for (const auto& [call_id, call] : calls) {
      if (call.session_id == session_id && !call.finished && !call.progress.emergency) {
        open.push_back(call_id);
      }
    }
  }
  std::lock_guard billing_lock(billing_mutex);
  for (const std::string& call_id : open) {
    if (!store || !rater) {
      log->error("session={} call={} left open: billing storage unavailable at disconnect",
                 session_id, call_id);
      continue;
    }
    // A provider may stamp a step up to clock_tolerance ahead of the gateway clock. Ending the
    // call no earlier than its last recorded step keeps its completion after its connect.
    relay::Instant end = now;
    if (auto record = store->find_call(call_id); record && record->has_value()) {
      for (const billing::CallEventRecord& event : (*record)->events) {
        end = std::max(end, relay::Instant(event.at));
      }
    }
    auto posting = complete_call(call_id, end, call_id + "/session-end");
    if (posting) {
      log->info("session={} call={} disconnected at session end and posted: total={}", session_id,
                call_id, billing::format_dollars(posting->total, 2));
    } else {
      log->error("session={} call={} posting at session end failed: {}", session_id, call_id,
                 posting.status().message());
    }
    std::lock_guard state_lock(state_mutex);
    calls[call_id].finished = true;
  }
}

void CallService::State::mark_resumed(const std::string& session_id) {
  std::lock_guard state_lock(state_mutex);
  if (auto found = open_sessions.find(session_id); found != open_sessions.end()) {
    found->second.connection_lost_at.reset();
  }
}

// Closes each dispatched session that `select` picks: the PSAP gets its close, and the session
// leaves the open sessions and the registry.
int CallService::State::close_emergency_sessions(
    relay::Instant now, const std::function<bool(const OpenSession&)>& select) {
  std::vector<std::string> closing;
  {
    std::lock_guard state_lock(state_mutex);
    for (const auto& [id, open] : open_sessions) {
      if (open.dispatched && select(open)) {
        closing.push_back(id);
      }
    }
    for (const std::string& id : closing) {
      open_sessions.erase(id);
    }
  }
  for (const std::string& id : closing) {
    emergency.close(id, now);
    sessions.close_session(id);
  }
  return static_cast<int>(closing.size());
}

CallService::CallService(const BillingConfig& config, SessionRegistry& sessions,
                         EmergencyDispatcher& emergency)
    : state_(std::make_unique<State>(config, sessions, emergency)) {}

CallService::~CallService() = default;

Status CallService::start() {
  Status opened = state_->open_storage();
  if (!opened) {
    state_->log->error("call service running in emergency-only mode: {}", opened.message());
    return opened;
  }
  (void)state_->flush_emergency_spool();
  return Status::ok();
}

Status CallService::retry_storage() {
  if (!storage_available()) {
    Status opened = state_->open_storage();
    if (!opened) {
      return opened;
    }
  }
  return state_->flush_emergency_spool();
}

bool CallService::storage_available() const {
  std::lock_guard state_lock(state_->state_mutex);
  return state_->storage_ready;
}

std::vector<Reply> CallService::handle(const relay::InboundEvent& event, const std::string& ref,
                                       relay::Instant now) {
  return handle_event(event, ref, now, nullptr);
}

std::vector<Reply> CallService::handle_acceptance(const relay::Acceptance& acceptance,
                                                  const std::string& ref, relay::Instant now,
                                                  const AcceptanceResponse& response) {
  return handle_event(acceptance, ref, now, &response);
}

std::optional<relay::ErrorReply> CallService::reject_provider_card_numbers(
    const relay::InboundEvent& event, const std::string& ref) {
  State& state = *state_;
  if (state.concerns_emergency(event)) {
    return std::nullopt;
  }
  struct Checked {
    const char* field;
    std::string value;
    billing::IdentifierKind kind;
    bool stored_cards;  // false: only long runs, for a value accepted by an earlier message
  };
  std::vector<Checked> checks{{"id", ref, billing::IdentifierKind::Id, true}};
  const std::string session_id = named_session(event);
  if (!session_id.empty()) {
    bool open = false;
    {
      std::lock_guard state_lock(state.state_mutex);
      open = state.open_sessions.count(session_id) != 0;
    }
    // An open session's id passed this check when it opened, so a card added since must not
    // strand it. An unknown session's id is checked in full, because the unknown-session
    // error quotes it. NOTE: a 911 call.request in a session whose session.open was rejected
    // here gets unknown-session, as in any session that was never opened.
    checks.push_back({"session", provider_part(session_id), billing::IdentifierKind::Id, !open});
  }
  if (const auto* acceptance = std::get_if<relay::Acceptance>(&event)) {
    checks.push_back({"by", acceptance->accepted_by, billing::IdentifierKind::Name, true});
  }
  // Phone numbers of 10 to 15 digits are valid, so they are rejected only when they contain a
  // stored card's number.
  std::vector<std::pair<const char*, std::string>> phone_numbers;
  if (const auto* opened = std::get_if<relay::SessionOpened>(&event)) {
    checks.push_back({"agent", opened->agent_id, billing::IdentifierKind::Id, true});
    phone_numbers.emplace_back("caller", opened->caller_number);
  }
  if (const auto* request = std::get_if<relay::CallRequested>(&event)) {
    phone_numbers.emplace_back("to", request->dialed_number);
    if (!request->third_number.empty()) {
      phone_numbers.emplace_back("third_number", request->third_number);
    }
  }

  std::lock_guard billing_lock(state.billing_mutex);
  for (const Checked& checked : checks) {
    billing::Store* cards = checked.stored_cards ? state.store.get() : nullptr;
    const Status status =
        billing::check_identifier_card_digits(cards, checked.field, checked.value, checked.kind);
    // A rejected message id is not echoed as the error's ref, because the provider listener
    // logs every error's ref.
    const std::string error_ref = std::string_view(checked.field) == "id" && !status ? "" : ref;
    if (status.code() == StatusCode::InvalidArgument) {
      relay::ErrorReply rejected = error_reply("invalid-value", status.message());
      rejected.ref = error_ref;
      return rejected;
    }
    if (!status) {
      state.log->error("checking the ids of a provider message for card numbers failed: {}",
                       status.message());
      relay::ErrorReply failed = error_reply(
          "unavailable",
          "billing storage failed while checking the ids, so nothing was recorded; retry the "
          "message");
      failed.ref = error_ref;
      return failed;
    }
  }
  // Checked after the ids, so that `ref` is known to contain no card number.
  for (const auto& [field, number] : phone_numbers) {
    // NOTE: while billing storage is down no card can be looked up, so a session.open is
    // accepted unchecked. Its calls are refused with rating-unavailable until storage is back.
    if (!state.store) {
      break;
    }
    const Status status = billing::check_phone_number_card_digits(*state.store, field, number);
    if (status.code() == StatusCode::InvalidArgument) {
      relay::ErrorReply rejected = error_reply("invalid-value", status.message());
      rejected.ref = ref;
      return rejected;
    }
    if (!status) {
      state.log->error("checking the phone numbers of a provider message failed: {}",
                       status.message());
      relay::ErrorReply failed = error_reply(
          "unavailable",
          "billing storage failed while checking the phone numbers, so nothing was recorded; "
          "retry the message");
      failed.ref = ref;
      return failed;
    }
  }
  return std::nullopt;
}

bool CallService::may_contain_card_number(std::string_view value) {
  State& state = *state_;
  std::unique_lock billing_lock(state.billing_mutex, std::try_to_lock);
  billing::Store* cards = billing_lock.owns_lock() ? state.store.get() : nullptr;
  const Status checked =
      billing::check_identifier_card_digits(cards, "id", value, billing::IdentifierKind::Id);
  if (!checked) {
    return true;  // a card number, or a lookup that failed
  }
  return cards == nullptr && mask_card_number_runs(value) != value;
}

void CallService::mask_emergency_card_numbers(relay::InboundEvent& event, std::string& ref) {
  State& state = *state_;
  const auto for_each_id = [&event](const auto& use) {
    std::visit(
        [&use](auto& message) {
          using Message = std::decay_t<decltype(message)>;
          if constexpr (std::is_same_v<Message, relay::SessionOpened> ||
                        std::is_same_v<Message, relay::SessionClosed> ||
                        std::is_same_v<Message, relay::CallerText>) {
            use(message.session_id);
          } else if constexpr (std::is_same_v<Message, relay::CallRequested>) {
            use(message.session_id);
            use(message.call_id);
            use(message.idempotency_key);
          } else {
            use(message.call_id);
            use(message.idempotency_key);
          }
        },
        event);
  };
  // Later messages about a masked session or call name it by the id the provider sent.
  for_each_id([&state](std::string& id) {
    if (std::optional<std::string> masked = state.emergency_ids.find(id)) {
      id = std::move(*masked);
    }
  });
  if (!state.concerns_emergency(event)) {
    return;
  }
  // An id that already names a session, call or key of this run keeps its form, so that an
  // emergency in an open session finds that session.
  for_each_id([&](std::string& id) {
    if (!id.empty() && !state.knows_id(id) && may_contain_card_number(provider_part(id))) {
      id = state.emergency_ids.mask(id);
    }
  });
  const auto mask_name = [this](std::string& name) {
    if (!name.empty() && may_contain_card_number(name)) {
      name = mask_card_number_runs(name);
    }
  };
  mask_name(ref);
  if (auto* opened = std::get_if<relay::SessionOpened>(&event)) {
    mask_name(opened->agent_id);
    // NOTE: the caller number goes to the PSAP unchanged even when it equals a stored card
    // number, because the PSAP needs it to call back.
  } else if (auto* request = std::get_if<relay::CallRequested>(&event)) {
    mask_name(request->person_name);
    mask_name(request->caller_name);
  } else if (auto* acceptance = std::get_if<relay::Acceptance>(&event)) {
    mask_name(acceptance->accepted_by);
  }
}

std::vector<Reply> CallService::handle_event(const relay::InboundEvent& event,
                                             const std::string& ref, relay::Instant now,
                                             const AcceptanceResponse* response) {
  State& state = *state_;
  const std::string* key = idempotency_key(event);
  const std::string fingerprint = key != nullptr ? request_fingerprint(event) : std::string();
  if (key != nullptr && !key->empty()) {
    std::lock_guard state_lock(state.state_mutex);
    auto cached = state.replies_by_key.find(*key);
    if (cached != state.replies_by_key.end()) {
      if (cached->second.fingerprint != fingerprint) {
        relay::ErrorReply conflict = key_conflict(*key);
        conflict.ref = ref;
        return {conflict};
      }
      std::vector<Reply> replies = cached->second.replies;
      for (Reply& reply : replies) {
        if (auto* error = std::get_if<relay::ErrorReply>(&reply)) {
          error->ref = ref;
        }
      }
      return replies;
    }
  }

  std::vector<Reply> replies;
  if (const auto* opened = std::get_if<relay::SessionOpened>(&event)) {
    replies = state.session_opened(*opened, now);
  } else if (const auto* closed = std::get_if<relay::SessionClosed>(&event)) {
    replies = state.session_closed(*closed, now);
  } else if (const auto* text = std::get_if<relay::CallerText>(&event)) {
    replies = state.caller_text(*text);
  } else if (const auto* request = std::get_if<relay::CallRequested>(&event)) {
    std::optional<relay::SessionOpened> session;
    {
      std::lock_guard state_lock(state.state_mutex);
      auto found = state.open_sessions.find(request->session_id);
      if (found != state.open_sessions.end()) {
        session = found->second.opened;
        found->second.connection_lost_at.reset();
      }
    }
    if (!session) {
      replies = {error_reply("unknown-session", "session '" + request->session_id +
                                                    "' is not open; send session.open first")};
    } else if (session->emergency || state.is_emergency_call(*request)) {
      replies = state.emergency_call(*request, *session, now);
    } else {
      replies = state.call_requested(*request, *session, now);
    }
  } else {
    replies = state.call_step(event, now, response);
  }

  // Errors and refusals for unavailable storage are not cached: the message changed nothing,
  // so a retry is processed afresh.
  const bool changed_something =
      replies.empty() ||
      (!std::holds_alternative<relay::ErrorReply>(replies.front()) && !storage_refusal(replies));
  if (key != nullptr && changed_something) {
    state.remember(*key, fingerprint, replies);
  }
  for (Reply& reply : replies) {
    if (auto* error = std::get_if<relay::ErrorReply>(&reply)) {
      error->ref = ref;
    }
  }
  return replies;
}

Result<relay::Quote> CallService::quote(const relay::CallRequested& request, relay::Instant now) {
  State& state = *state_;
  std::optional<relay::SessionOpened> session;
  {
    std::lock_guard state_lock(state.state_mutex);
    auto found = state.open_sessions.find(request.session_id);
    if (found != state.open_sessions.end()) {
      session = found->second.opened;
    }
  }
  if (!session) {
    return Status(StatusCode::NotFound, "session '" + request.session_id +
                                            "' is not open; open the session before quoting");
  }
  std::lock_guard billing_lock(state.billing_mutex);
  if (!state.store || !state.rater) {
    return Status(StatusCode::Unavailable, "billing storage is not open");
  }
  if (state.plan) {
    billing::AuthorizationRequest card_request;
    card_request.call_id = request.call_id;
    card_request.to = request.dialed_number;
    card_request.billing = billing_method(request.billing);
    card_request.card_number = std::string(request.card_number.reveal());
    const billing::Authorizer authorizer(state.store.get(), &*state.plan, nullptr);
    const Result<std::optional<billing::Authorization>> unusable =
        authorizer.reject_unusable_card(card_request);
    if (!unusable) {
      return unusable.status();
    }
    if (unusable->has_value()) {
      const std::string reason(billing::to_string((*unusable)->reason));
      state.log->info("session={} call={} quote refused: {}", request.session_id, request.call_id,
                      reason);
      return Status(StatusCode::FailedPrecondition, reason + ": " + (*unusable)->message);
    }
  }
  auto in_effect = state.rater_in_effect(session->caller_number, now);
  if (!in_effect) {
    return in_effect.status();
  }
  return state.quote_locked(request, *session, now, **in_effect);
}

Status CallService::use_rating_data(
    const std::string& from, relay::Instant at,
    const std::function<void(const billing::NumberPlan&, const billing::RateDeck&,
                             const std::string&)>& use) {
  State& state = *state_;
  std::lock_guard billing_lock(state.billing_mutex);
  if (!state.store || !state.rater) {
    return Status(StatusCode::Unavailable,
                  "billing storage is not open, so no rate deck is loaded from database '" +
                      state.config.database + "'; see the server log for the cause");
  }
  // A calling number with no time zone cannot pick a deck, and `use` reports it with the
  // reason when it rates, so the deck in use is passed instead.
  const billing::Rater* deck_rater = state.rater.get();
  if (auto in_effect = state.rater_in_effect(from, at); in_effect) {
    deck_rater = *in_effect;
  } else if (in_effect.status().code() != StatusCode::InvalidArgument &&
             in_effect.status().code() != StatusCode::NotFound) {
    return in_effect.status();
  }
  // rater_in_effect made the deck it returned the deck in use, so deck_sha256 names deck_rater's
  // deck in both branches.
  use(*state.plan, *deck_rater->deck(), state.deck_sha256);
  return Status::ok();
}

std::string CallService::session_of_call(const std::string& call_id) const {
  std::lock_guard state_lock(state_->state_mutex);
  auto found = state_->calls.find(call_id);
  return found == state_->calls.end() ? std::string() : found->second.session_id;
}

std::optional<CallProgress> CallService::progress(const std::string& call_id) const {
  std::lock_guard state_lock(state_->state_mutex);
  auto found = state_->calls.find(call_id);
  if (found == state_->calls.end()) {
    return std::nullopt;
  }
  return found->second.progress;
}

void CallService::connection_lost(const std::string& session_id, relay::Instant now) {
  State& state = *state_;
  bool emergency = false;
  bool tty_line = false;
  int open_calls = 0;
  {
    std::lock_guard state_lock(state.state_mutex);
    auto found = state.open_sessions.find(session_id);
    if (found == state.open_sessions.end()) {
      return;
    }
    emergency = found->second.dispatched;
    tty_line = found->second.opened.adapter == relay::Adapter::TtyLine;
    for (const auto& [call_id, call] : state.calls) {
      if (call.session_id == session_id && !call.finished) {
        ++open_calls;
      }
    }
  }
  if (open_calls > 0) {
    state.log->warn("session={} connection lost; {} open calls are disconnected and posted",
                    session_id, open_calls);
  } else if (tty_line) {
    // A caller who hangs up at a menu prompt, before any call, ends the line's session as
    // expected.
    state.log->info("session={} line hung up with no call open", session_id);
  } else {
    state.log->warn("session={} connection lost with no call open", session_id);
  }
  state.finish_session_calls(session_id, now);
  if (emergency && !tty_line) {
    // A provider may reconnect and go on with the session, so the PSAP leg stays with the
    // dispatcher and the session stays open until close_abandoned_emergency_sessions().
    std::lock_guard state_lock(state.state_mutex);
    if (auto found = state.open_sessions.find(session_id); found != state.open_sessions.end()) {
      found->second.connection_lost_at = now;
    }
    return;
  }
  if (emergency) {
    // A TTY line's connection is the caller's call: when it ends, the emergency call ends, and
    // the dispatcher records its disconnect so the call is billed (at zero) from the spool.
    state.emergency.close(session_id, now);
  }
  {
    std::lock_guard state_lock(state.state_mutex);
    state.open_sessions.erase(session_id);
  }
  state.sessions.close_session(session_id);
}

int CallService::close_abandoned_emergency_sessions(relay::Instant now,
                                                    std::chrono::seconds window) {
  State& state = *state_;
  std::vector<std::string> abandoned;
  const int closed =
      state.close_emergency_sessions(now, [&](const State::OpenSession& open) {
        if (!open.connection_lost_at || now - *open.connection_lost_at < window) {
          return false;
        }
        abandoned.push_back(open.opened.session_id);
        return true;
      });
  for (const std::string& id : abandoned) {
    state.log->warn("session={} emergency session closed to its PSAP: its provider connection "
                    "dropped more than {} s ago and the provider has not resumed it",
                    id, window.count());
  }
  return closed;
}

int CallService::close_emergency_sessions(relay::Instant now) {
  State& state = *state_;
  const int closed =
      state.close_emergency_sessions(now, [](const State::OpenSession&) { return true; });
  if (closed > 0) {
    state.log->warn("{} open emergency sessions closed to their PSAPs because the gateway stops",
                    closed);
  }
  return closed;
}

}  // namespace relaygw::gateway::server
