#include "billing/call_records.hpp"

#include <algorithm>

#include <date/date.h>
#include <openssl/rand.h>

#include "billing/call_time.hpp"
#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "billing/directory.hpp"
#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/report_limits.hpp"

namespace relaygw::billing {
namespace {

std::string hex_id(int bytes) {
  unsigned char random[16];
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  // RAND_bytes fails only without an entropy source. The clock fallback keeps ids distinct
  // unless two calls open in the same clock tick.
  if (RAND_bytes(random, bytes) != 1) {
    return std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  }
  for (int i = 0; i < bytes; ++i) {
    hex.push_back(kHex[random[i] >> 4]);
    hex.push_back(kHex[random[i] & 0x0f]);
  }
  return hex;
}

// A settlement whose card funds changed between its read and its commit is recomputed; past
// this many tries the card is too busy to settle now.
constexpr int kMaxSettleAttempts = 20;

std::int64_t seconds_between(Instant from, Instant to) { return (to - from).count(); }

// Returns the rating input for `request` answered at `start` and talking `seconds`.
CallToRate call_to_rate(const CallRequest& request, Instant start, std::int64_t seconds) {
  CallToRate call;
  call.from = request.from;
  call.to = request.to;
  call.billing = request.billing;
  call.access = request.access;
  call.handling = request.handling;
  call.start = start;
  call.billable_seconds = seconds;
  return call;
}

// Ledger entries that settle a call costing `total`: the rest of its hold comes back, and the
// card is debited for what interim debits did not cover (or refunded what they overcharged).
// A card with a ledger (prepaid, or postpaid with a limit) is debited at most the rest of its
// hold here, so these entries never take money the card did not reserve. collect_beyond_hold
// then takes what it can of the rest from the card's free funds.
std::vector<LedgerEntry> settlement_entries(const CardFunds& funds, Money total,
                                            const std::string& call_id) {
  std::vector<LedgerEntry> entries;
  // A postpaid card with no credit limit has no ledger, and its calls are billed in full to
  // its line. A debit here would give it a negative balance that refuses its next call.
  if (!funds.has_entries) {
    return entries;
  }
  if (funds.held_for_call > 0) {
    entries.push_back({LedgerKind::Release, funds.held_for_call, call_id});
  }
  const Money remaining = std::min(total - funds.debited_for_call, funds.held_for_call);
  if (remaining > 0) {
    entries.push_back({LedgerKind::Debit, -remaining, call_id});
  } else if (remaining < 0) {
    entries.push_back({LedgerKind::Refund, -remaining, call_id});
  }
  return entries;
}

// Ledger entries of an interim debit of a call that has cost `total` up to `at`. The debit
// converts hold into debit and takes nothing beyond the hold, so a call that outlives its hold
// cannot overdraw the card, and settlement collects the rest if it can. A postpaid card with
// no credit limit is never debited (see settlement_entries). When nothing is due the debit is
// a zero debit, which still stores `at` to order later debits and the completion.
std::vector<LedgerEntry> interim_debit_entries(const CardFunds& funds, Money total,
                                               const std::string& call_id, Instant at) {
  Money due = 0;
  if (funds.has_entries) {
    due = std::max(Money{0}, std::min(total - funds.debited_for_call, funds.held_for_call));
  }
  std::vector<LedgerEntry> entries{{LedgerKind::Debit, -due, call_id, at}};
  if (due > 0) {
    entries.push_back({LedgerKind::Release, due, call_id});
  }
  return entries;
}

// Returns the latest recorded event of `record`, or nullptr when it has none.
const CallEventRecord* last_event(const CallRecord& record) {
  const CallEventRecord* last = nullptr;
  for (const CallEventRecord& stored : record.events) {
    if (last == nullptr || stored.at >= last->at) {
      last = &stored;
    }
  }
  return last;
}

// Rejects a step named `step` at `at` that would come before the call's last recorded step,
// because durations and charges assume the steps are in time order.
Status check_step_order(const CallRecord& record, std::string_view step, Instant at) {
  if (Status in_range = check_call_time(step, at); !in_range) {
    return in_range;
  }
  const CallEventRecord* last = last_event(record);
  if (last == nullptr || at >= last->at) {
    return Status::ok();
  }
  return Status(StatusCode::InvalidArgument,
                std::string(step) + " time " + format_instant(at) +
                    " is before the last step of call '" + record.request.id + "' (" +
                    std::string(to_string(last->event)) + " at " + format_instant(last->at) +
                    "); send the time the " + std::string(step) + " happened, at or after " +
                    format_instant(last->at));
}

// Rejects a `step` at `at` that comes before the instant the call's last interim debit covered.
Status check_after_debit_instant(const std::string& call_id, std::string_view step, Instant at,
                                 Instant last_debit) {
  if (at >= last_debit) {
    return Status::ok();
  }
  const std::string last = format_instant(last_debit);
  return Status(StatusCode::InvalidArgument, std::string(step) + " time " + format_instant(at) +
                                                 " is before the last interim debit of call '" +
                                                 call_id + "', which covered the conversation to " +
                                                 last + "; send the time the " + std::string(step) +
                                                 " happened, at or after " + last);
}

// Rejects a `step` at `at` that comes before an interim debit stored before schema 10, which
// has no instant. An interim debit at time T takes at most the cost of the conversation up to
// T, and that cost never falls as the conversation grows. So when `cost_at`, the same interim
// cost up to `at`, is below what was debited, some debit came after `at`.
// NOTE: for such debits a step between two debits of equal cost passes, and so does one after
// a debit that the hold capped below its cost.
Status check_after_debit_cost(const std::string& call_id, std::string_view step, Instant at,
                              Money cost_at, const CardFunds& funds) {
  if (cost_at >= funds.debited_for_call) {
    return Status::ok();
  }
  return Status(StatusCode::InvalidArgument,
                std::string(step) + " time " + format_instant(at) +
                    " is before the last interim debit of call '" + call_id + "', which took $" +
                    format_money(funds.debited_for_call) +
                    " for a longer conversation; send the time the " + std::string(step) +
                    " happened, after the last debit");
}

// Rejects a `step` (completion or interim debit) at `at` that would make the call's
// conversation, from its connect to `at`, longer than `max_conversation`. Such a length is most
// often a mistyped date. The message names the call, the instant and the cap.
Status check_conversation_length(const CallRecord& record, std::string_view step, Instant at,
                                 std::chrono::seconds max_conversation) {
  const std::optional<Instant> connected = event_time(record, CallEvent::Connected);
  if (!connected) {
    return Status::ok();
  }
  const std::int64_t seconds = seconds_between(*connected, at);
  const std::int64_t limit = max_conversation.count();
  if (seconds <= limit) {
    return Status::ok();
  }
  return Status(StatusCode::InvalidArgument,
                std::string(step) + " time " + format_instant(at) + " gives call '" +
                    record.request.id + "' a conversation of " + std::to_string(seconds) + " s (" +
                    std::to_string(seconds / 3600) + " h) from its connect at " +
                    format_instant(*connected) + ", longer than the maximum of " +
                    std::to_string(limit) + " s (" + std::to_string(limit / 3600) +
                    " h); check the date and time of the " + std::string(step) +
                    " and send the real one, at most " +
                    format_instant(*connected + max_conversation));
}

// Returns the refused event of `record`, or nullptr when it has none.
const CallEventRecord* refusal_event(const CallRecord& record) {
  for (const CallEventRecord& stored : record.events) {
    if (stored.event == CallEvent::Refused) {
      return &stored;
    }
  }
  return nullptr;
}

// Returns `message` unchanged when it is UTF-8 text with no control characters, else with every
// byte outside printable ASCII replaced by '?'. A refusal message can quote the caller's input
// (an invalid number), and the refusal must still be recorded.
std::string printable_message(const std::string& message) {
  if (check_name_text("refusal message", message)) {
    return message;
  }
  std::string printable = message;
  for (char& byte : printable) {
    const auto value = static_cast<unsigned char>(byte);
    if (value < 0x20 || value >= 0x7F) {
      byte = '?';
    }
  }
  return printable;
}

// Checks the refusal fields of `event`: a refused event needs a reason code and a message, and
// every other event leaves them empty.
Status check_refusal_fields(const CallEventRecord& event) {
  if (event.event != CallEvent::Refused) {
    if (event.reason_code.empty() && event.reason_message.empty()) {
      return Status::ok();
    }
    return Status(StatusCode::InvalidArgument,
                  "the " + std::string(to_string(event.event)) +
                      " event takes no refusal reason, but '" + event.reason_code +
                      "' was given; send the reason only with a refused event");
  }
  if (event.reason_code.empty() || event.reason_message.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "a refused event needs a reason code (such as card-locked) and a plain "
                  "message; record the refusal with both");
  }
  if (Status code = check_name_text("refusal reason code", event.reason_code); !code) {
    return code;
  }
  return check_name_text("refusal message", event.reason_message);
}

// Checks the hold fields of `event`: only an authorized event carries them, both or neither,
// and neither is negative.
Status check_hold_fields(const CallEventRecord& event) {
  if (!event.hold_amount && !event.hold_max_seconds) {
    return Status::ok();
  }
  if (event.event != CallEvent::Authorized) {
    return Status(StatusCode::InvalidArgument,
                  "the " + std::string(to_string(event.event)) +
                      " event takes no card hold; send the hold only with an authorized event");
  }
  if (!event.hold_amount || !event.hold_max_seconds) {
    return Status(StatusCode::InvalidArgument,
                  "an authorized event with a card hold needs both the amount held and the "
                  "longest call it pays for; record both or neither");
  }
  if (*event.hold_amount < 0 || *event.hold_max_seconds < 0) {
    return Status(StatusCode::InvalidArgument,
                  "card hold of " + std::to_string(*event.hold_amount) + " units for " +
                      std::to_string(*event.hold_max_seconds) +
                      " s is negative; record the hold as placed, zero or more");
  }
  return Status::ok();
}

// Gives `request` a new id when it has none, and checks the actor and instant of the write
// that stores it.
Status prepare_new_call(CallRequest& request, const WriteContext& context) {
  if (request.id.empty()) {
    request.id = new_call_id();
  }
  if (Status actor = check_name_text("actor", context.actor); !actor) {
    return actor;
  }
  return check_call_time("request", context.at);
}

}  // namespace

bool is_declined_call(BillingMethod billing, bool emergency, bool accepted,
                      std::int64_t billable_seconds) {
  const bool needs_acceptance =
      billing == BillingMethod::Collect || billing == BillingMethod::ThirdNumber;
  return needs_acceptance && !emergency && !accepted && billable_seconds == 0;
}

std::optional<Instant> event_time(const CallRecord& record, CallEvent event) {
  for (const CallEventRecord& stored : record.events) {
    if (stored.event == event) {
      return stored.at;
    }
  }
  return std::nullopt;
}

CallDurations call_durations(const CallRecord& record) {
  CallDurations durations;
  const std::optional<Instant> requested = event_time(record, CallEvent::Requested);
  const std::optional<Instant> connected = event_time(record, CallEvent::Connected);
  const std::optional<Instant> disconnected = event_time(record, CallEvent::Disconnected);
  durations.answered = connected.has_value();
  durations.accepted = event_time(record, CallEvent::Accepted).has_value();
  durations.authorized = event_time(record, CallEvent::Authorized).has_value();
  if (requested && disconnected) {
    durations.session_seconds = seconds_between(*requested, *disconnected);
  }
  if (connected && disconnected) {
    durations.conversation_seconds = seconds_between(*connected, *disconnected);
  }
  return durations;
}

std::optional<LatePsapAck> late_psap_ack(const CallRecord& record) {
  for (const CallEventRecord& stored : record.events) {
    if (stored.event != CallEvent::PsapAcknowledged) {
      continue;
    }
    LatePsapAck ack{stored.at, stored.accepted_by};
    if (const std::optional<Instant> requested = event_time(record, CallEvent::Requested)) {
      ack.seconds_after_request = seconds_between(*requested, stored.at);
    }
    const std::optional<Instant> disconnected = event_time(record, CallEvent::Disconnected);
    ack.after_disconnect = disconnected && stored.at >= *disconnected;
    return ack;
  }
  return std::nullopt;
}

std::string new_call_id() { return "call-" + hex_id(8); }

std::string unposted_state(const CallRecord& record) {
  const std::string refusal = describe_refusal(record);
  return refusal.empty() ? "is not posted yet" : "was refused (" + refusal + ") and never billed";
}

Result<bool> rated_line_tty_discount(Store& store, std::string_view billed_number,
                                     std::string_view from, std::string_view card_number) {
  std::string stored(billed_number.empty() ? from : billed_number);
  if (billed_number.empty() && !card_number.empty()) {
    Result<std::optional<CardState>> card = store.find_card(std::string(card_number));
    if (!card) {
      return card.status();
    }
    if (*card && !(*card)->card.billed_line.empty()) {
      stored = (*card)->card.billed_line;
    }
  }
  const Result<std::string> e164 = normalize_line_number(stored);
  Result<std::optional<LineVersion>> line = store.find_line(e164 ? *e164 : stored);
  if (!line) {
    return line.status();
  }
  return *line && (*line)->line.tty_discount_eligible;
}

std::string describe_refusal(const CallRecord& record) {
  const CallEventRecord* refused = refusal_event(record);
  if (refused == nullptr) {
    return "";
  }
  return refused->reason_code + ": " + refused->reason_message;
}

Status CallRecords::check_rateable(const CallRequest& request, Instant start) const {
  if (request.emergency || is_emergency_number(request.to)) {
    return Status::ok();
  }
  if (rater_ == nullptr) {
    return Status(StatusCode::Unavailable,
                  "no number plan or rate deck is loaded, so a call from '" + request.from +
                      "' to '" + request.to + "' cannot be billed; load them and retry");
  }
  Result<RatedCall> rated = trial_rating(*rater_, request, start);
  return rated ? Status::ok() : rated.status();
}

Result<RatedCall> CallRecords::trial_rating(const Rater& rater, const CallRequest& request,
                                            Instant start, bool tty_discount_eligible) {
  // A one-minute answered trial finds every fault that would stop `complete` from rating the
  // call: an invalid or unassigned number at either end, a calling number with no time zone,
  // no deck version in force on the local start date, or no rate for the call.
  CallToRate trial = call_to_rate(request, start, 60);
  trial.person_reached = true;
  trial.tty_discount_eligible = tty_discount_eligible;
  Result<RatedCall> rated = rater.rate(trial);
  if (!rated) {
    return Status(rated.status().code(), "the call cannot be billed with the current rate deck: " +
                                             rated.status().message());
  }
  return rated;
}

Result<std::optional<CallQuote>> CallRecords::quote_with_deck(
    const CallRequest& request, Instant start, std::string_view local_date,
    const std::optional<RateDeckHeader>& in_effect) const {
  if (request.emergency || is_emergency_number(request.to)) {
    return std::optional<CallQuote>();
  }
  // A database with no deck (tests and tools that rate with a deck file) quotes with the
  // rater's own deck and names none.
  const Rater* rater = rater_;
  if (in_effect) {
    if (!local_date.empty()) {
      if (Status checked = check_deck_in_effect(*store_, *in_effect, local_date); !checked) {
        return Status(checked.code(),
                      "the call cannot be billed: " + checked.message());
      }
    }
    Result<const Rater*> deck_rater = raters_.for_deck(*store_, in_effect->sha256_hex);
    if (!deck_rater) {
      return deck_rater.status();
    }
    rater = *deck_rater;
  }
  // The stored quote carries the discount of an eligible line, as the posting will.
  Result<bool> discount = billed_line_discount_eligible(request);
  if (!discount) {
    return discount.status();
  }
  Result<RatedCall> rated = trial_rating(*rater, request, start, *discount);
  if (!rated) {
    return rated.status();
  }
  return std::optional<CallQuote>(
      CallQuote{in_effect ? in_effect->sha256_hex : std::string(), rated->total});
}

Result<CallRequest> CallRecords::open(CallRequest request, const WriteContext& context) const {
  if (Status opened = prepare_new_call(request, context); !opened) {
    return opened;
  }
  Status status = Status::ok();
  if (rater_ == nullptr) {
    status = store_->create_call(request, context);
  } else {
    // The trial rating runs inside the store's write transaction, with the deck in effect
    // there, so a deck stored after this caller read its own still rates the call. A calling
    // number with no time zone falls back to the UTC date, and its trial rating then fails
    // with the reason.
    Result<std::string> local_date =
        rater_->plan() != nullptr
            ? originating_local_date(*rater_->plan(), request.from, context.at)
            : Result<std::string>(StatusCode::Unavailable, "no number plan is loaded");
    const std::string date = local_date ? *local_date : format_instant(context.at).substr(0, 10);
    Result<std::optional<CallQuote>> quote = store_->create_quoted_call(
        request, date,
        [&](const std::optional<RateDeckHeader>& in_effect) {
          return quote_with_deck(request, context.at, local_date ? *local_date : std::string(),
                                 in_effect);
        },
        context);
    if (quote) {
      request.quote = *quote;
    } else {
      status = quote.status();
    }
  }
  if (status) {
    status = store_->append_call_event(
        request.id, CallEventRecord{CallEvent::Requested, context.at, context.actor, {}, {}});
  }
  if (!status) {
    return status;
  }
  return request;
}

Status CallRecords::add_event(const std::string& call_id, const CallEventRecord& event,
                              const StoredResponse* response) const {
  Result<std::optional<CallRecord>> record = store_->find_call(call_id);
  if (!record) {
    return record.status();
  }
  if (!*record) {
    return Status(StatusCode::NotFound, "call '" + call_id + "' not found; check the call id");
  }
  if (event_time(**record, CallEvent::Disconnected)) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' is already disconnected; no event can follow");
  }
  const std::optional<Instant> requested = event_time(**record, CallEvent::Requested);
  if (requested && event.at < *requested) {
    return Status(StatusCode::InvalidArgument,
                  "event time " + format_instant(event.at) + " is before call '" + call_id +
                      "' was requested at " + format_instant(*requested) +
                      "; send the time the event happened, at or after the request");
  }
  if (Status actor = check_name_text("actor", event.actor); !actor) {
    return actor;
  }
  if (Status by = check_name_text("accepted by", event.accepted_by); !by) {
    return by;
  }
  if (Status reason = check_refusal_fields(event); !reason) {
    return reason;
  }
  if (Status hold = check_hold_fields(event); !hold) {
    return hold;
  }
  if (event.event != CallEvent::Requested) {
    const Status ordered = check_step_order(**record, to_string(event.event), event.at);
    if (!ordered) {
      return ordered;
    }
  }
  if (event.event == CallEvent::Accepted &&
      (!event.acceptance_method || event.accepted_by.empty())) {
    return Status(StatusCode::InvalidArgument,
                  "an accepted event needs how the charges were accepted (voice, tty-text or "
                  "keypad) and by whom");
  }
  if (event.event == CallEvent::Requested) {
    return Status(StatusCode::InvalidArgument,
                  "a call is requested once, when it is opened; send a later event");
  }
  if (event.event == CallEvent::PsapAcknowledged) {
    return Status(StatusCode::InvalidArgument,
                  "a psap-acknowledged event is recorded only on a disconnected emergency "
                  "call, with record_late_psap_ack; send a lifecycle event here");
  }
  const BillingMethod billing = (*record)->request.billing;
  if (event.event == CallEvent::Accepted && billing != BillingMethod::Collect &&
      billing != BillingMethod::ThirdNumber) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' is " + std::string(to_string(billing)) +
                      ", so no billed party accepts its charges; record acceptance only on "
                      "collect and third-number calls");
  }
  if ((event.event == CallEvent::Validated || event.event == CallEvent::Quoted) &&
      event_time(**record, CallEvent::Connected)) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' is already connected, so it cannot be " +
                      std::string(to_string(event.event)) +
                      "; validation and quotes come before the connect");
  }
  // A refused call never gets an authorized event, so it cannot be announced, accepted or
  // connected, and nothing can be charged to it later. Its authorization is decided once.
  const bool decides_authorization =
      event.event == CallEvent::Authorized || event.event == CallEvent::Refused;
  if (decides_authorization && refusal_event(**record) != nullptr) {
    return Status(StatusCode::FailedPrecondition, "call '" + call_id + "' was already refused (" +
                                                      describe_refusal(**record) +
                                                      "); open a new call to try again");
  }
  if (event.event == CallEvent::Refused && event_time(**record, CallEvent::Authorized)) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id +
                      "' is already authorized, so it cannot be refused; complete it, or post a "
                      "credit if it should not be billed");
  }
  const bool follows_authorization = event.event == CallEvent::Announced ||
                                     event.event == CallEvent::Accepted ||
                                     event.event == CallEvent::Connected;
  if (follows_authorization && refusal_event(**record) != nullptr) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' was refused (" + describe_refusal(**record) +
                      "), so it cannot be " + std::string(to_string(event.event)) +
                      "; open a new call with another billing method");
  }
  if (follows_authorization && !event_time(**record, CallEvent::Authorized)) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' was not authorized, so it cannot be " +
                      std::string(to_string(event.event)) +
                      "; open a new call with another billing method");
  }
  if (event.event != CallEvent::Validated && event.event != CallEvent::Quoted &&
      event_time(**record, event.event)) {
    return Status(StatusCode::AlreadyExists, "call '" + call_id + "' already has its " +
                                                 std::string(to_string(event.event)) +
                                                 " event; record each step once");
  }
  if (event.event == CallEvent::Disconnected && !(*record)->request.card_number.empty()) {
    Result<CardFunds> funds = store_->card_funds((*record)->request.card_number, call_id);
    if (!funds) {
      return funds.status();
    }
    if (Status after = check_after_debits(**record, "disconnect", event.at, *funds); !after) {
      return after;
    }
  }
  if (response != nullptr) {
    return store_->append_call_event_with_response(call_id, event, *response);
  }
  return store_->append_call_event(call_id, event);
}

Result<bool> CallRecords::record_late_psap_ack(const std::string& call_id,
                                               const std::string& psap_route, Instant at,
                                               const std::string& actor) const {
  if (psap_route.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "the PSAP acknowledgement of call '" + call_id +
                      "' names no PSAP route; send the id of the [[psap]] route that acknowledged");
  }
  if (Status route = check_name_text("PSAP route", psap_route); !route) {
    return route;
  }
  if (Status actor_text = check_name_text("actor", actor); !actor_text) {
    return actor_text;
  }
  if (Status in_range = check_call_time("PSAP acknowledgement", at); !in_range) {
    return in_range;
  }
  Result<std::optional<CallRecord>> record = store_->find_call(call_id);
  if (!record) {
    return record.status();
  }
  if (!*record) {
    return Status(StatusCode::NotFound, "call '" + call_id + "' not found; check the call id");
  }
  if (!(*record)->request.emergency) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id +
                      "' is not an emergency call, so no PSAP acknowledgement can be recorded "
                      "on it; check the call id");
  }
  if (!event_time(**record, CallEvent::Disconnected)) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id +
                      "' is not disconnected yet, so a PSAP acknowledgement is its connect, not "
                      "a late acknowledgement; record it with the call's other events");
  }
  const std::optional<Instant> requested = event_time(**record, CallEvent::Requested);
  if (requested && at < *requested) {
    return Status(StatusCode::InvalidArgument,
                  "PSAP acknowledgement time " + format_instant(at) + " is before call '" +
                      call_id + "' was requested at " + format_instant(*requested) +
                      "; send the time the PSAP acknowledged, at or after the request");
  }
  CallEventRecord event{CallEvent::PsapAcknowledged, at, actor, {}, psap_route};
  const Status appended = store_->append_call_event(call_id, event);
  if (appended.code() == StatusCode::AlreadyExists) {
    return false;
  }
  if (!appended) {
    return appended;
  }
  return true;
}

Result<CallRequest> CallRecords::open_refused(CallRequest request, const Authorization& refusal,
                                              const WriteContext& context) const {
  if (refusal.granted) {
    return Status(StatusCode::InvalidArgument,
                  "open_refused takes a refused authorization, but call '" + request.id +
                      "' was granted; store it with open and record_authorization");
  }
  if (Status opened = prepare_new_call(request, context); !opened) {
    return opened;
  }
  CallEventRecord refused{CallEvent::Refused, context.at, context.actor, {}, {}};
  refused.reason_code = std::string(to_string(refusal.reason));
  refused.reason_message = printable_message(refusal.message);
  if (Status fields = check_refusal_fields(refused); !fields) {
    return fields;
  }
  if (Status stored = store_->create_refused_call(request, refused, context); !stored) {
    return stored;
  }
  return request;
}

Status CallRecords::record_authorization(const std::string& call_id,
                                         const Authorization& authorization,
                                         const WriteContext& context) const {
  if (!authorization.granted) {
    CallEventRecord refused{CallEvent::Refused, context.at, context.actor, {}, {}};
    refused.reason_code = std::string(to_string(authorization.reason));
    refused.reason_message = printable_message(authorization.message);
    return add_event(call_id, refused);
  }
  CallEventRecord authorized{CallEvent::Authorized, context.at, context.actor, {}, {}};
  // A card hold is kept with the event, so a repeated request names it as the first reply did.
  if (authorization.max_seconds) {
    authorized.hold_amount = authorization.held;
    authorized.hold_max_seconds = *authorization.max_seconds;
  }
  return add_event(call_id, authorized);
}

Result<CardFunds> CallRecords::interim_debit(const std::string& call_id, Instant at,
                                             const std::string& idempotency_key,
                                             const WriteContext& context,
                                             std::chrono::seconds max_conversation) const {
  if (Status actor = check_name_text("actor", context.actor); !actor) {
    return actor;
  }
  Result<std::optional<CallRecord>> record = store_->find_call(call_id);
  if (!record) {
    return record.status();
  }
  if (!*record) {
    return Status(StatusCode::NotFound, "call '" + call_id + "' not found; check the call id");
  }
  if ((*record)->request.card_number.empty()) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id +
                      "' is not a calling-card call, so it has no interim debits; complete it "
                      "to post its charge");
  }
  const CallRequest& request = (*record)->request;
  if (!event_time(**record, CallEvent::Authorized)) {
    // Calls refused before schema 10 have no refused event, so no stored reason.
    const std::string reason = describe_refusal(**record);
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' was refused (" +
                      (reason.empty() ? "it has no authorized event" : reason) +
                      "), so nothing can be debited");
  }
  if (event_time(**record, CallEvent::Disconnected)) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id +
                      "' is already disconnected and settled; post a credit "
                      "if the charge is wrong");
  }
  const std::optional<Instant> connected = event_time(**record, CallEvent::Connected);
  if (!connected || at < *connected) {
    return Status(StatusCode::FailedPrecondition, "call '" + call_id + "' was not connected by " +
                                                      format_instant(at) +
                                                      ", so there is nothing to debit yet");
  }
  const Status ordered = check_step_order(**record, "debit", at);
  if (!ordered) {
    return ordered;
  }
  if (Status length = check_conversation_length(**record, "debit", at, max_conversation); !length) {
    return length;
  }
  Result<const Rater*> rater = raters_.for_call(*store_, request);
  if (!rater) {
    return rater.status();
  }
  if (*rater == nullptr) {
    return Status(StatusCode::Unavailable, "no rate deck is loaded to price the interim debit");
  }
  // Priced as complete() prices the call, so settlement finds nothing to refund for the
  // conversation a debit already covered.
  CallToRate call = call_to_rate(request, *connected, seconds_between(*connected, at));
  Result<bool> discount = billed_line_discount_eligible(request);
  if (!discount) {
    return discount.status();
  }
  call.tty_discount_eligible = *discount;
  Result<RatedCall> cost = (*rater)->rate(call);
  if (!cost) {
    return cost.status();
  }

  const IdempotencyKey key{idempotency_key,
                           sha256_hex("interim|" + call_id + "|" + format_instant(at))};
  for (int attempt = 0; attempt < kMaxSettleAttempts; ++attempt) {
    Result<CardFunds> funds = store_->card_funds(request.card_number, call_id);
    if (!funds) {
      return funds;
    }
    Result<CardFunds> debited = store_->append_interim_debit(
        request.card_number, interim_debit_entries(*funds, cost->total, call_id, at), *funds, key,
        context);
    if (debited || debited.status().code() != StatusCode::Unavailable) {
      return debited;
    }
  }
  return Status(StatusCode::Unavailable, "call '" + call_id +
                                             "' was not debited because its card kept changing; "
                                             "retry the debit with the same key");
}

Result<bool> CallRecords::billed_line_discount_eligible(const CallRequest& request) const {
  return rated_line_tty_discount(*store_, request.billed_number, request.from,
                                 request.card_number);
}

Result<CallPosting> CallRecords::rate_posting(const CallRecord& record,
                                              const Completion& completion,
                                              const Rater* rater) const {
  const CallRequest& request = record.request;
  const CallDurations durations = call_durations(record);
  CallPosting posting;
  posting.call_id = request.id;
  posting.person_reached = completion.person_reached;
  posting.billable_seconds = 0;
  posting.session_seconds = durations.session_seconds;
  posting.conversation_seconds = durations.conversation_seconds;
  const bool needs_acceptance =
      request.billing == BillingMethod::Collect || request.billing == BillingMethod::ThirdNumber;
  if (request.emergency || !durations.answered || !durations.authorized ||
      (needs_acceptance && !durations.accepted)) {
    return posting;
  }
  // The operator connects a collect or third-number call once its charges are accepted. An
  // acceptance recorded after the connect means the called line answered the operator first,
  // so the billed party pays from its acceptance, not for the announcement.
  Instant start = *event_time(record, CallEvent::Connected);
  if (needs_acceptance) {
    start = std::max(start, *event_time(record, CallEvent::Accepted));
  }
  const std::int64_t seconds = seconds_between(start, *event_time(record, CallEvent::Disconnected));
  // No billable conversation (a connect and disconnect in the same second) bills zero, as an
  // unanswered call does, and reports count such a call as unanswered.
  if (seconds <= 0) {
    return posting;
  }
  if (rater == nullptr) {
    return Status(StatusCode::Unavailable, "no rate deck is loaded, so call '" + request.id +
                                               "' cannot be rated; load "
                                               "one and complete it again");
  }

  CallToRate call = call_to_rate(request, start, seconds);
  call.person_reached = completion.person_reached;
  Result<bool> discount = billed_line_discount_eligible(request);
  if (!discount) {
    return discount.status();
  }
  call.tty_discount_eligible = *discount;

  Result<RatedCall> rated = rater->rate(call);
  if (!rated) {
    return rated.status();
  }
  posting.billable_seconds = rated->billed_seconds;
  posting.total = rated->total;
  posting.relay_fund = rated->relay_fund;
  for (const ChargeLine& line_item : rated->lines) {
    posting.lines.push_back(PostedChargeLine{std::string(to_string(line_item.kind)),
                                             line_item.description, line_item.amount});
  }
  return posting;
}

Result<CallPosting> CallRecords::rerate(const std::string& call_id) const {
  Result<Rerating> rerating = rerate_call(call_id);
  if (!rerating) {
    return rerating.status();
  }
  return std::move(rerating->posting);
}

Result<Rerating> CallRecords::rerate_call(const std::string& call_id) const {
  Result<std::optional<CallRecord>> record = store_->find_call(call_id);
  if (!record) {
    return record.status();
  }
  if (!*record) {
    return Status(StatusCode::NotFound, "call '" + call_id + "' not found; check the call id");
  }
  const std::optional<Instant> disconnected = event_time(**record, CallEvent::Disconnected);
  if (!(*record)->posting || !disconnected) {
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' " + unposted_state(**record) +
                      ", so there is nothing to re-rate");
  }
  Completion completion;
  completion.call_id = call_id;
  completion.disconnected_at = *disconnected;
  completion.person_reached = (*record)->posting->person_reached;
  // The comparison deck is the one that would rate the call if it were requested again now:
  // the deck in effect on its request date. A correction loaded later with the same effective
  // date then shows the error, and a deck whose date is still ahead is left out.
  Rerating rerating;
  const Rater* rater = rater_;
  const std::optional<Instant> requested = event_time(**record, CallEvent::Requested);
  if (rater_ != nullptr && rater_->plan() != nullptr && requested) {
    Result<std::string> date =
        originating_local_date(*rater_->plan(), (*record)->request.from, *requested);
    if (!date) {
      return Status(date.status().code(),
                    "the local date of call '" + call_id +
                        "' cannot be found, so no deck in effect then can re-rate it: " +
                        date.status().message());
    }
    Result<std::optional<RateDeckHeader>> in_effect = store_->rate_deck_in_effect(*date);
    if (!in_effect) {
      return in_effect.status();
    }
    if (*in_effect) {
      if (Status checked = check_deck_in_effect(*store_, **in_effect, *date); !checked) {
        return checked;
      }
      Result<const Rater*> deck_rater = raters_.for_deck(*store_, (*in_effect)->sha256_hex);
      if (!deck_rater) {
        return deck_rater.status();
      }
      rater = *deck_rater;
      rerating.deck = **in_effect;
    }
  }
  Result<CallPosting> posting = rate_posting(**record, completion, rater);
  if (!posting) {
    return posting.status();
  }
  rerating.posting = std::move(posting).value();
  return rerating;
}

Status CallRecords::collect_beyond_hold(const std::string& card_number, const CallPosting& posting,
                                        const std::string& completion_key,
                                        const WriteContext& context) const {
  // The key's request hash leaves out the amount, so a repeated completion gets the first
  // delivery's debit back instead of debiting again.
  // NOTE: when the first delivery found no free funds it appended nothing, so a repeat after a
  // top-up does collect from the new funds.
  const IdempotencyKey key{completion_key + ":beyond-hold",
                           sha256_hex("beyond-hold|" + posting.call_id)};
  for (int attempt = 0; attempt < kMaxSettleAttempts; ++attempt) {
    Result<CardFunds> funds = store_->card_funds(card_number, posting.call_id);
    if (!funds) {
      return funds.status();
    }
    const Money amount = std::min(posting.total - funds->debited_for_call, funds->available);
    if (amount <= 0) {
      return Status::ok();
    }
    // require_available makes the store reject the debit if another call took the free funds
    // first, so the balance never goes below zero. The next attempt reads the new funds.
    Result<CardFunds> debited = store_->append_ledger(
        card_number, {LedgerEntry{LedgerKind::Debit, -amount, posting.call_id}}, true, key,
        context);
    if (debited || debited.status().code() == StatusCode::AlreadyExists) {
      return Status::ok();
    }
    if (debited.status().code() != StatusCode::ResourceExhausted) {
      return debited.status();
    }
  }
  return Status(StatusCode::Unavailable, "call '" + posting.call_id +
                                             "' is posted, but its card kept changing while the "
                                             "charge beyond its hold was collected; the rest is "
                                             "recorded as uncollected");
}

Result<Money> CallRecords::uncollected(const CallRecord& record) const {
  if (!record.posting || record.request.card_number.empty()) {
    return Money{0};
  }
  Result<CardFunds> funds = store_->card_funds(record.request.card_number, record.request.id);
  if (!funds) {
    return funds.status();
  }
  if (!funds->has_entries) {
    return Money{0};  // a postpaid card with no limit is billed in full to its line
  }
  // An applied credit lowers what the call costs and refunds the card the same amount, and the
  // refund lowers debited_for_call. Counting the credit on both sides keeps a refund from
  // reading as unpaid.
  Result<std::vector<CreditRecord>> credits = store_->list_credits(record.request.id);
  if (!credits) {
    return credits.status();
  }
  Money credited = 0;
  for (const CreditRecord& credit : *credits) {
    if (credit.state == CreditState::Applied && !add_amount_checked(credited, credit.amount)) {
      return amount_sum_overflow("the applied credits of call " + record.request.id,
                                 store_->database_path());
    }
  }
  Money paid = credited;
  Money owed = 0;
  if (!add_amount_checked(paid, funds->debited_for_call) ||
      __builtin_sub_overflow(record.posting->total, paid, &owed)) {
    return amount_sum_overflow(
        "the total, applied credits and card debits of call " + record.request.id,
        store_->database_path());
  }
  return std::max(Money{0}, owed);
}

Status CallRecords::check_after_debits(const CallRecord& record, std::string_view step, Instant at,
                                       const CardFunds& funds) const {
  if (funds.last_debit_covered_until) {
    return check_after_debit_instant(record.request.id, step, at, *funds.last_debit_covered_until);
  }
  // Debits stored before schema 10 keep no instant, so they are ordered by cost.
  const std::optional<Instant> connected = event_time(record, CallEvent::Connected);
  if (funds.debited_for_call == 0 || !connected || rater_ == nullptr || at < *connected) {
    return Status::ok();
  }
  // Priced as interim debits were priced before schema 10, with the rater's deck and no TTY
  // discount, so the two costs compare. Calls of that age name no deck of their own.
  Result<RatedCall> cost =
      rater_->rate(call_to_rate(record.request, *connected, seconds_between(*connected, at)));
  if (!cost) {
    return cost.status();
  }
  return check_after_debit_cost(record.request.id, step, at, cost->total, funds);
}

Result<Money> CallRecords::card_uncollected(const std::string& card_number) const {
  // Only this card's calls are read, so a damaged row of another call cannot fail a card
  // command, while a damaged row of this card's calls is still reported by find_call.
  Result<std::vector<std::string>> card_calls = store_->posted_call_ids_of_card(card_number);
  if (!card_calls) {
    return card_calls.status();
  }
  Money total = 0;
  for (const std::string& call_id : *card_calls) {
    Result<std::optional<CallRecord>> record = store_->find_call(call_id);
    if (!record) {
      return record.status();
    }
    const std::optional<CallRecord>& call = *record;
    if (!call || call->request.card_number != card_number ||
        call->request.billing != BillingMethod::CallingCard || !call->posting ||
        call->posting->total <= 0) {
      continue;
    }
    Result<Money> owed = uncollected(**record);
    if (!owed) {
      return owed.status();
    }
    if (!add_amount_checked(total, *owed)) {
      return amount_sum_overflow("the uncollected charges of card " +
                                     mask_card_number(card_number) + ", at call " + call_id + ",",
                                 store_->database_path());
    }
  }
  return total;
}

Result<CallPosting> CallRecords::complete(const Completion& completion,
                                          const WriteContext& context) const {
  if (Status actor = check_name_text("actor", context.actor); !actor) {
    return actor;
  }
  if (completion.idempotency_key.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "a completion needs an idempotency key so a repeated delivery bills once");
  }
  Result<std::optional<CallRecord>> record = store_->find_call(completion.call_id);
  if (!record) {
    return record.status();
  }
  if (!*record) {
    return Status(StatusCode::NotFound,
                  "call '" + completion.call_id + "' not found; check the call id");
  }
  const std::optional<Instant> requested = event_time(**record, CallEvent::Requested);
  if (requested && completion.disconnected_at < *requested) {
    return Status(StatusCode::InvalidArgument,
                  "disconnect time " + format_instant(completion.disconnected_at) +
                      " is before call '" + completion.call_id + "' was requested at " +
                      format_instant(*requested) +
                      "; send the time of the hangup, at or after the request");
  }
  const std::optional<Instant> disconnected = event_time(**record, CallEvent::Disconnected);
  if (disconnected && *disconnected != completion.disconnected_at) {
    return Status(StatusCode::AlreadyExists,
                  "call '" + completion.call_id + "' was already disconnected at " +
                      format_instant(*disconnected) +
                      "; a repeated completion must carry the same time");
  }
  if (!disconnected) {
    const Status ordered = check_step_order(**record, "completion", completion.disconnected_at);
    if (!ordered) {
      return ordered;
    }
    if (Status length = check_conversation_length(
            **record, "disconnect", completion.disconnected_at, completion.max_conversation);
        !length) {
      return length;
    }
  }
  const CallEventRecord disconnect{
      CallEvent::Disconnected, completion.disconnected_at, context.actor, {}, {}};
  if (!disconnected) {
    (*record)->events.push_back(disconnect);  // rate as if stored; the store appends it
  }
  const IdempotencyKey key{completion.idempotency_key,
                           sha256_hex("complete|" + completion.call_id + "|" +
                                      format_instant(completion.disconnected_at) + "|" +
                                      (completion.person_reached ? "reached" : "not-reached"))};

  Result<const Rater*> rater = raters_.for_call(*store_, (*record)->request);
  if (!rater) {
    return rater.status();
  }
  Result<CallPosting> posting = rate_posting(**record, completion, *rater);
  if (!posting) {
    return posting;
  }
  Store::PostingRequest request{*posting, disconnect, (*record)->request.card_number, {}, {}};
  for (int attempt = 0; attempt < kMaxSettleAttempts; ++attempt) {
    if (!request.card_number.empty()) {
      Result<CardFunds> funds = store_->card_funds(request.card_number, completion.call_id);
      if (!funds) {
        return funds.status();
      }
      // A repeated delivery finds the settlement debit too, so only a first one is checked. The
      // store rejects the posting if a debit lands after this read, and the next attempt
      // checks again.
      if (!disconnected) {
        const Status after =
            check_after_debits(**record, "completion", completion.disconnected_at, *funds);
        if (!after) {
          return after;
        }
      }
      request.expected_funds = *funds;
      request.card_entries = settlement_entries(*funds, posting->total, completion.call_id);
    }
    Result<CallPosting> posted = store_->post_call(request, key, context);
    if (posted && !request.card_number.empty() && request.expected_funds.has_entries) {
      const Status collected =
          collect_beyond_hold(request.card_number, *posted, completion.idempotency_key, context);
      if (!collected) {
        return collected;
      }
    }
    if (posted || posted.status().code() != StatusCode::Unavailable) {
      return posted;
    }
  }
  return Status(StatusCode::Unavailable, "call '" + completion.call_id +
                                             "' could not be settled because its card kept "
                                             "changing; retry the completion");
}

}  // namespace relaygw::billing
