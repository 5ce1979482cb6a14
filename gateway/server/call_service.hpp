// CallService: where every adapter's session and call events enter billing. It maps relay
// events to billing requests, and the relay service becomes the access tag. It quotes,
// authorizes, records events and posts completed calls. A retried message gets its first
// replies again. Emergency sessions go to the EmergencyDispatcher before any billing work.
//
// When the database or rate deck is unavailable, normal call requests are refused with
// "rating-unavailable" and other billing messages get an "unavailable" error. Emergency calls
// still go ahead, and the dispatcher keeps their records until storage is back.
//
// Thread rules: every method is safe from any thread; billing writes are serialized inside.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/store.hpp"
#include "common/status.hpp"
#include "gateway/server/config.hpp"
#include "gateway/server/session_registry.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::gateway::server {

class EmergencyDispatcher;

// The message was accepted: `of` is its wire type ("call.connect"), `id` its session or call.
struct Ack {
  std::string of;
  std::string id;
  // For an emergency session: "unreachable" when its PSAP leg is down, so the session waits in
  // the spool for a redial. Empty otherwise.
  std::string psap;
};

using Reply = std::variant<relay::Quote, relay::AuthorizationResult, relay::ErrorReply, Ack>;

// What an authorized call needs next, for adapters that run the call themselves (TTY lines).
struct CallProgress {
  bool authorized = false;
  bool acceptance_required = false;  // collect and third-number: announce and take acceptance
  bool emergency = false;
  std::string billed_number;
};

// A response that handle_acceptance() stores in idempotency_keys in the transaction that
// records the acceptance.
struct AcceptanceResponse {
  billing::IdempotencyKey key;
  std::string scope;
  billing::WriteContext context;  // who stores the response
  // Returns the text to store for the replies that the recorded acceptance returns.
  std::function<std::string(const std::vector<Reply>&)> result;
};

class CallService {
 public:
  // Keeps the references, which must outlive the service.
  CallService(const BillingConfig& config, SessionRegistry& sessions,
              EmergencyDispatcher& emergency);
  ~CallService();
  CallService(const CallService&) = delete;
  CallService& operator=(const CallService&) = delete;

  // Opens the database and loads the number plan, rate deck and credit policy. A failure is
  // logged and returned, and the service keeps running in emergency-only mode; call
  // retry_storage() to try again.
  Status start();
  Status retry_storage();
  bool storage_available() const;

  // Handles one inbound event from an adapter and returns the replies to send back, in order.
  // A call request gets a quote and then an authorization, and an emergency call only the
  // authorization. Other messages get an ack or an error. `ref` is echoed in every reply that
  // has one. A message whose idempotency key was seen before gets the first replies again and
  // changes nothing.
  std::vector<Reply> handle(const relay::InboundEvent& event, const std::string& ref,
                            relay::Instant now);

  // Handles `acceptance` as handle() does. When the acceptance is recorded, `response` is
  // stored in the same write transaction, so a crash leaves both or neither. An acceptance
  // that the call already has is acknowledged without storing `response`, and one that fails
  // stores neither.
  std::vector<Reply> handle_acceptance(const relay::Acceptance& acceptance,
                                       const std::string& ref, relay::Instant now,
                                       const AcceptanceResponse& response);

  // Checks the values of a provider link message that handle() stores, logs or echoes
  // without a card number check: the message id `ref`, the session id that a message names,
  // the "agent" of a session.open and the "by" of a call.accept
  // (billing::check_identifier_card_digits). It also checks the phone numbers "caller", "to" and
  // "third_number" against the stored cards (billing::check_phone_number_card_digits). A
  // message about an emergency session or call is never checked. Expects the ids with the provider
  // prefix. Returns the invalid-value error, which shows the value masked, or the unavailable error
  // of a failed card lookup, or nullopt when handle() may take the message. The error has no ref
  // when `ref` itself is rejected.
  std::optional<relay::ErrorReply> reject_provider_card_numbers(const relay::InboundEvent& event,
                                                                const std::string& ref);

  // Replaces the card numbers in the ids and names of a provider link message, so that nothing
  // logs, stores, dispatches or echoes them in full. An id that an earlier emergency message
  // had masked gets the same masked form (EmergencyIdTable). reject_provider_card_numbers never
  // rejects a message about an emergency session or call. So in such a message, each new
  // session id, call id and idempotency key that may contain a card number
  // (may_contain_card_number) is masked, and so are such names ("agent", "by", "person",
  // "caller_name") and `ref`. Call it before reject_provider_card_numbers, with the ids
  // prefixed. It never waits for billing work, because may_contain_card_number only tries the
  // billing lock.
  void mask_emergency_card_numbers(relay::InboundEvent& event, std::string& ref);

  // Returns whether `value`, an id or name as the provider sent it, may contain a card number:
  // billing::check_identifier_card_digits rejects it, or its card lookup failed. While billing
  // work uses the store, no card can be looked up, so any run of 10 or more digits counts.
  // It takes the billing lock with try_lock only, so it never waits for billing work.
  bool may_contain_card_number(std::string_view value);

  // Prices a call without authorizing or recording anything, for a TTY menu's quote step, with
  // the deck in effect at `now`. A calling-card request whose card is malformed, unknown or
  // locked gets no quote but FailedPrecondition, whose message starts with the refusal reason
  // ("card-locked: ..."). A closed card is quoted, because the quote checks no PIN, and its
  // call.request is refused with card-closed once the PIN is right.
  Result<relay::Quote> quote(const relay::CallRequested& request, relay::Instant now);

  // Runs `use` with the number plan and the rate deck that would bill a call from `from`
  // requested at `at` (the deck in effect then, see billing/call_records.hpp), holding the
  // billing lock so neither changes meanwhile. A deck stored since the last call is read and
  // parsed once. `use` also gets the deck's StoredRateDeck::sha256_hex. Fails with
  // Unavailable, without running `use`, while billing storage is not open.
  Status use_rating_data(const std::string& from, relay::Instant at,
                         const std::function<void(const billing::NumberPlan&,
                                                  const billing::RateDeck&,
                                                  const std::string& deck_sha256)>& use);

  // The session of a call that handle() took a request for, or "" for an unknown call.
  std::string session_of_call(const std::string& call_id) const;

  // After handle() authorized a call request: what the adapter must do next.
  std::optional<CallProgress> progress(const std::string& call_id) const;

  // An adapter connection ended: every open call of `session_id` is disconnected at `now`
  // and posted, and the session is closed. A provider's emergency session stays open with the
  // dispatcher, because the provider may reconnect. A TTY line's emergency call ends with its
  // connection and is closed at the dispatcher, which then bills it at zero.
  void connection_lost(const std::string& session_id, relay::Instant now);

  // Closes, to the PSAP and here, every provider emergency session whose connection was lost
  // at least `window` before `now` and that no message has resumed since. Returns how many.
  int close_abandoned_emergency_sessions(relay::Instant now, std::chrono::seconds window);
  // Closes every emergency session still open with the dispatcher at `now`, for a gateway stop:
  // the sessions live only in this process, so no provider could go on with them after it.
  int close_emergency_sessions(relay::Instant now);

 private:
  std::vector<Reply> handle_event(const relay::InboundEvent& event, const std::string& ref,
                                  relay::Instant now, const AcceptanceResponse* response);

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace relaygw::gateway::server
