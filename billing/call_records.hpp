// Call records: a call's lifecycle events with UTC instants, durations computed from those
// instants, and the posting of a completed call into charge lines, once, even when its
// completion arrives twice. Prepaid calls settle against their hold: interim debits during the
// call, then a final settlement that debits only what is still owed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "billing/authorization.hpp"
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

// Returns the instant of the first `event` in `record`, or nullopt.
std::optional<Instant> event_time(const CallRecord& record, CallEvent event);

// Generates a new call id: "call-" and 16 random hex digits.
std::string new_call_id();

struct Completion {
  std::string call_id;
  Instant disconnected_at;
  bool person_reached = false;  // person-to-person: the requested person came to the phone
  std::string idempotency_key;  // the same key for every delivery of this completion
};

class CallRecords {
 public:
  // Keeps the pointers; `rater` may be null, and then only calls that bill zero (unanswered,
  // unaccepted, emergency) can be completed.
  CallRecords(Store* store, const Rater* rater) : store_(store), rater_(rater) {}

  // Stores a new call (an empty id gets new_call_id()) with its "requested" event.
  Result<CallRequest> open(CallRequest request, const WriteContext& context) const;

  // Appends an event after checking it: the call exists and is not disconnected, the instant
  // is not before the call was requested, and an "accepted" event names how and by whom.
  Status add_event(const std::string& call_id, const CallEventRecord& event) const;

  // Records the authorization outcome as an "authorized" event when it was granted.
  Status record_authorization(const std::string& call_id, const Authorization& authorization,
                              const WriteContext& context) const;

  // Debits a prepaid card for the conversation so far (up to `at`), converting hold into debit.
  // Each interim debit carries its own idempotency key. Returns the card's funds afterwards.
  Result<CardFunds> interim_debit(const std::string& call_id, Instant at,
                                  const std::string& idempotency_key,
                                  const WriteContext& context) const;

  // Appends "disconnected" (unless a delivery already did), rates the call and posts it once.
  // The call bills zero, with no fee or minimum, when it was never connected, never
  // authorized, an emergency call, or a collect or third-number call never accepted. A card
  // hold is released, and the card is debited only for what interim debits did not cover.
  Result<CallPosting> complete(const Completion& completion, const WriteContext& context) const;

  // Rates a posted call again with the current rate deck at its actual conversation time, as
  // complete() would, and writes nothing. FailedPrecondition when the call is not posted.
  Result<CallPosting> rerate(const std::string& call_id) const;

 private:
  Result<CallPosting> rate_posting(const CallRecord& record, const Completion& completion) const;

  Store* store_;
  const Rater* rater_;
};

}  // namespace relaygw::billing
