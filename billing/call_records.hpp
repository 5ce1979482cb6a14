// Call records: a call's lifecycle events with UTC instants, durations computed from those
// instants, and the posting of a completed call into charge lines, once, even when its
// completion arrives twice. Prepaid calls settle against their hold: interim debits during the
// call, then a final settlement that debits only what is still owed. A card is never debited
// below zero: a charge beyond its hold and free funds stays on the call as uncollected.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "billing/authorization.hpp"
#include "billing/deck_cache.hpp"
#include "billing/rating.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

// Durations of a call in seconds, from its UTC instants. A value is missing (never 0 and never
// negative) when an instant it needs is missing.
struct CallDurations {
  std::optional<std::int64_t> session_seconds;       // requested to disconnected
  std::optional<std::int64_t> conversation_seconds;  // connected to disconnected
  bool answered = false;                             // a connected event exists
  bool accepted = false;                             // an accepted event exists
  bool authorized = false;                           // an authorized event exists
};

CallDurations call_durations(const CallRecord& record);

// True for a declined call: a collect or third-number call, not an emergency call, posted with
// no acceptance of its charges and no billed seconds (`call complete --unaccepted`). It was
// connected to the operator only, so reports and plan advice count it as not answered.
bool is_declined_call(BillingMethod billing, bool emergency, bool accepted,
                      std::int64_t billable_seconds);

// Returns the instant of the first `event` in `record`, or nullopt.
std::optional<Instant> event_time(const CallRecord& record, CallEvent event);

// Returns "CODE: MESSAGE" from the refused event of `record` ("card-locked: card
// *********0001 is locked after wrong PINs; staff can unlock it"), or "" when the call has no
// refused event.
std::string describe_refusal(const CallRecord& record);

// Says why a call has no posting, after "call X": "was refused (code: message) and never
// billed" for a refused call, otherwise "is not posted yet".
std::string unposted_state(const CallRecord& record);

// A PSAP acknowledgement of an emergency call that came after the call was stored and
// disconnected, as the call's first psap-acknowledged event records it.
struct LatePsapAck {
  Instant at;
  std::string psap_route;
  std::int64_t seconds_after_request = 0;
  bool after_disconnect = false;  // at or after the call's disconnected event
};

// Returns the first psap-acknowledged event of `record`, or nullopt when it has none.
std::optional<LatePsapAck> late_psap_ack(const CallRecord& record);

// Generates a new call id: "call-" and 16 random hex digits.
std::string new_call_id();

// Returns whether the directory line a call is rated for is eligible for a state TTY discount.
// That line is `billed_number`. When it is empty, it is the billed line of the postpaid calling
// card `card_number`, and otherwise the calling number `from` (a prepaid card, or a quote that
// names no card). Stored calling-card calls read back with their card's billed line, so the
// posting agrees. Numbers are looked up in E.164 form, and one that does not normalize finds no
// line. Quotes, stored quotes, interim debits and postings all use this rule, so a quote
// prices the discount that the posted call gets.
Result<bool> rated_line_tty_discount(Store& store, std::string_view billed_number,
                                     std::string_view from, std::string_view card_number = {});

// Maximum conversation a completion or interim debit may bill unless the caller sets another:
// 24 hours, the default of the gateway's max_call_length_seconds. A longer one is most often a
// mistyped date.
inline constexpr std::chrono::seconds kDefaultMaxConversation{24 * 3600};

struct Completion {
  std::string call_id;
  Instant disconnected_at;
  bool person_reached = false;  // person-to-person: the requested person came to the phone
  std::string idempotency_key;  // the same key for every delivery of this completion
  // A first completion whose conversation (connect to disconnect) is longer fails with
  // InvalidArgument. The gateway sets its configured maximum and caps calls to it first.
  std::chrono::seconds max_conversation = kDefaultMaxConversation;
};

// A posted call rated again, and the stored deck that rated it.
struct Rerating {
  CallPosting posting;
  // nullopt when the store has no deck, so the rater's own deck rated the call.
  std::optional<RateDeckHeader> deck;
};

// One deck per call: a call is quoted, held, debited and completed with the rate deck that its
// record names (CallQuote::deck_sha256). open() picks that deck in the write transaction that
// stores the call: the deck in effect on the local date of the request at the calling number's
// rate center (Store::rate_deck_in_effect). So a deck stored later, or one whose effective date
// is still ahead, never changes what a call already opened costs. Calls that name no deck are
// rated by the rater passed in. rerate() is the exception: it rates with the deck that is in
// effect on the call's request date now.
class CallRecords {
 public:
  // Keeps the pointers; `rater` may be null, and then only calls that bill zero (unanswered,
  // unaccepted, emergency) can be completed. The number plan of `rater` rates every deck.
  // `decks` keeps parsed decks across calls; without it each CallRecords parses the decks its
  // calls name, unless `rater`'s own deck is that deck.
  CallRecords(Store* store, const Rater* rater, RateDeckCache* decks = nullptr)
      : store_(store), rater_(rater), raters_(rater, decks) {}

  // Stores a new call (an empty id gets new_call_id()) with its "requested" event. With a
  // rater, a call that is not an emergency call must pass the trial rating of check_rateable at
  // `context.at`, so nothing is recorded that complete() could not bill later. The trial runs
  // in the store's write transaction with the deck in effect there (see the class comment),
  // and its total and the deck's SHA-256 are stored with the call as its quote
  // (CallRequest::quote).
  Result<CallRequest> open(CallRequest request, const WriteContext& context) const;

  // Checks that `request` could be rated if it started at `start`: both numbers valid and
  // assigned, the calling number placed in a time zone, and a deck version in force on the
  // local start date. Emergency calls always pass. Unavailable without a rater.
  Status check_rateable(const CallRequest& request, Instant start) const;

  // Appends an event after checking it: the call exists and is not disconnected, the instant
  // is not before the call was requested, and an "accepted" event names how and by whom. A
  // "refused" event needs a reason code and message, and no other event may carry them. A
  // call is authorized or refused once, and a refused call gets no announced, accepted or
  // connected event. A card call's "disconnected" event may not come before the instant its
  // last interim debit covered.
  // With `response`, the store keeps it in the transaction that appends the event
  // (Store::append_call_event_with_response).
  Status add_event(const std::string& call_id, const CallEventRecord& event,
                   const StoredResponse* response = nullptr) const;

  // Stores a new call that `refusal` refused, with its requested and refused events, in one
  // write transaction, so a crash never leaves it undecided. No rating runs, because a refused
  // call bills nothing, so `request.to` may be a number the plan rejects, as sent.
  Result<CallRequest> open_refused(CallRequest request, const Authorization& refusal,
                                   const WriteContext& context) const;

  // Records the authorization outcome: an "authorized" event when it was granted, otherwise a
  // "refused" event with the reason code and message.
  Status record_authorization(const std::string& call_id, const Authorization& authorization,
                              const WriteContext& context) const;

  // Appends a psap-acknowledged event by `actor`, which records that PSAP route `psap_route`
  // acknowledged the dispatch of emergency call `call_id` at `at`, after the call was stored
  // and disconnected.
  // The call's connect and posting stay as they are, so it still bills zero. The event is
  // recorded once per call and PSAP route: returns true when it was stored and false when the
  // call already had it. NotFound for an unknown call, FailedPrecondition for a call that is
  // not an emergency call or not disconnected yet, and InvalidArgument for an empty route or
  // an `at` before the request.
  Result<bool> record_late_psap_ack(const std::string& call_id, const std::string& psap_route,
                                    Instant at, const std::string& actor) const;

  // Debits a prepaid card for the conversation so far (up to `at`), converting hold into debit,
  // and stores `at` with the debit. The debit is priced as complete() prices the call: with
  // its deck and the billed line's TTY discount. Each interim debit carries its own idempotency key: a repeat
  // with the same key and `at` returns the first result and debits nothing more. A new debit at
  // or before the instant of the call's last debit fails with InvalidArgument, and so does one
  // at an `at` more than `max_conversation` after the connect, the cap a completion applies.
  // Returns the card's funds afterwards.
  Result<CardFunds> interim_debit(
      const std::string& call_id, Instant at, const std::string& idempotency_key,
      const WriteContext& context,
      std::chrono::seconds max_conversation = kDefaultMaxConversation) const;

  // Appends "disconnected" (unless a delivery already did), rates the call and posts it once.
  // The call bills zero, with no fee or minimum, when it was never connected, had no
  // conversation (connect and disconnect in the same second), was never authorized, is an
  // emergency call, or is a collect or third-number call never accepted. A collect or
  // third-number call is billed from the later of its connect and its acceptance. A card
  // hold is released, and the card is debited only for what interim debits did not cover. A
  // first delivery timed before the instant the last interim debit covered is rejected.
  Result<CallPosting> complete(const Completion& completion, const WriteContext& context) const;

  // Returns the part of a posted calling-card call's total that its card did not pay: the
  // charge beyond the card's hold and free funds at settlement. Zero for other calls and for
  // a postpaid card with no limit.
  Result<Money> uncollected(const CallRecord& record) const;

  // Returns the sum of uncollected() over every posted call charged to `card_number`. It reads
  // only that card's calls (Store::posted_call_ids_of_card), so a damaged row of another call
  // does not fail it, but a damaged row of one of its own calls does.
  Result<Money> card_uncollected(const std::string& card_number) const;

  // Rates a posted call again for rating-error credits. It uses the deck in effect on the local
  // date of its request at the calling number's rate center (Store::rate_deck_in_effect, as
  // open() does), or the rater's deck when the store has none. The
  // rating uses the call's actual conversation time and writes nothing. FailedPrecondition
  // when the call is not posted or no stored deck is in effect on that date.
  Result<Rerating> rerate_call(const std::string& call_id) const;
  // Returns rerate_call(call_id)'s posting.
  Result<CallPosting> rerate(const std::string& call_id) const;

 private:
  // Debits a settled call's card for the part of its total beyond the hold, at most the card's
  // available funds, under an idempotency key derived from `completion_key`.
  Status collect_beyond_hold(const std::string& card_number, const CallPosting& posting,
                             const std::string& completion_key, const WriteContext& context) const;
  // Rejects a `step` (disconnect or completion) of a card call at `at`, before the instant the
  // call's last interim debit covered. `funds` is the call's card funds.
  Status check_after_debits(const CallRecord& record, std::string_view step, Instant at,
                            const CardFunds& funds) const;
  // Rates the completed call `record` with `rater`, which may be null for a call that bills
  // zero.
  Result<CallPosting> rate_posting(const CallRecord& record, const Completion& completion,
                                   const Rater* rater) const;
  // Returns rated_line_tty_discount() of `request`'s billed number, calling number and card.
  Result<bool> billed_line_discount_eligible(const CallRequest& request) const;
  // Rates `request` as a one-minute answered call starting at `start`, with `rater`, with
  // the TTY discount of an eligible line when `tty_discount_eligible` is set.
  static Result<RatedCall> trial_rating(const Rater& rater, const CallRequest& request,
                                        Instant start, bool tty_discount_eligible = false);
  // Returns the quote of `request` under `in_effect`, the deck in effect on `local_date` (see
  // open()), or nullopt for an emergency call. An empty `local_date` (the calling number has
  // no time zone) skips the check that the deck is in effect, and the rating reports the
  // number. Needs a rater.
  Result<std::optional<CallQuote>> quote_with_deck(
      const CallRequest& request, Instant start, std::string_view local_date,
      const std::optional<RateDeckHeader>& in_effect) const;

  Store* store_;
  const Rater* rater_;
  CallRaters raters_;
};

}  // namespace relaygw::billing
