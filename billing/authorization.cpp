#include "billing/authorization.hpp"

#include "billing/cards.hpp"
#include "billing/directory.hpp"
#include "billing/next_step.hpp"
#include "billing/numbering.hpp"

namespace relaygw::billing {
namespace {

// A hold that loses a race with another call on the same card is recomputed from the new
// available funds; past this many tries the card is too busy to authorize now.
constexpr int kMaxHoldAttempts = 20;

Authorization refuse(RefusalReason reason, std::string message) {
  Authorization refusal;
  refusal.reason = reason;
  refusal.message = std::move(message);
  return refusal;
}

// A refusal whose message is `reason_text`, `joiner` and operator_step(`step`), which the
// command line prints with command_line_step(`step`) instead (command_line_message).
Authorization refuse_with_step(RefusalReason reason, std::string_view reason_text,
                               std::string_view joiner, NextStep step) {
  Authorization refusal = refuse(reason, std::string(reason_text) + std::string(joiner));
  refusal.step_offset = refusal.message.size();
  refusal.message += operator_step(step);
  refusal.next_step = std::move(step);
  return refusal;
}

// A refusal from a failed Status, with its next step in plain words.
Authorization refuse_for_status(RefusalReason reason, const Status& status) {
  if (status.next_step().kind == NextStep::Kind::None) {
    return refuse(reason, status.message());
  }
  return refuse_with_step(reason, status.message_before_step(), "", status.next_step());
}

Authorization grant(std::string billed_number) {
  Authorization granted;
  granted.granted = true;
  granted.billed_number = std::move(billed_number);
  return granted;
}

// Refuses billing that names a party of the call itself: collect from the calling line to
// itself, or a third number that is the called or calling line. Numbers are compared in E.164,
// so 1-212-555-0101, 2125550101 and +12125550101 are one line. `from` is the E.164 calling line.
std::optional<Authorization> refuse_self_billing(const AuthorizationRequest& request,
                                                 const std::string& from) {
  const Result<std::string> to = normalize_line_number(request.to);
  if (request.billing == BillingMethod::Collect) {
    if (to && *to == from) {
      return refuse(RefusalReason::CollectToOwnLine,
                    "a collect call from " + request.from + " to " + request.to +
                        ", the same line, cannot be billed; call another number or use "
                        "sent-paid billing");
    }
    return std::nullopt;
  }
  if (request.billing != BillingMethod::ThirdNumber) {
    return std::nullopt;
  }
  // An invalid third number is refused later, by authorize_screened, with its reason.
  const Result<std::string> third = normalize_line_number(request.third_number);
  if (!third) {
    return std::nullopt;
  }
  if (to && *third == *to) {
    return refuse(RefusalReason::ThirdNumberIsCalledLine,
                  "the third number " + request.third_number +
                      " is the dialed number itself; bill it as a collect call or give another "
                      "number to bill");
  }
  if (*third == from) {
    return refuse(RefusalReason::ThirdNumberIsCallingLine,
                  "the third number " + request.third_number +
                      " is the calling line; use sent-paid billing or give another number to "
                      "bill");
  }
  return std::nullopt;
}

// Turns the failure of find_card_for_pin or check_card_pin into a refusal with its reason, or
// returns nullopt for a failure that is not a refusal (the store could not be read).
std::optional<Authorization> card_refusal(const Status& status) {
  switch (status.code()) {
    case StatusCode::NotFound:
      return refuse_for_status(RefusalReason::CardNotFound, status);
    case StatusCode::PermissionDenied:
      return refuse_for_status(RefusalReason::WrongPin, status);
    case StatusCode::FailedPrecondition:
      return refuse_for_status(status.next_step().kind == NextStep::Kind::UnlockCard
                                   ? RefusalReason::CardLocked
                                   : RefusalReason::CardClosed,
                               status);
    default:
      return std::nullopt;
  }
}

// Refuses a card whose free funds are below `first_block`, the minimum charge of the call, with
// the fix for the cause. A prepaid card needs funds. A postpaid card whose limit is below the
// first block cannot pay for it whatever its line pays, one that owes needs its line's payment,
// and one that owes nothing has its limit held by calls in progress.
Authorization refuse_short_of_first_block(const std::string& masked, CardFunding funding,
                                          const CardFunds& funds, Money first_block) {
  const std::string first_block_text =
      " the $" + format_money(first_block) + " first block of this call";
  const std::string short_of =
      "card " + masked + " has $" + format_money(funds.available) + " available, less than" +
      first_block_text;
  if (funding == CardFunding::Prepaid) {
    return refuse_with_step(RefusalReason::InsufficientFunds, short_of,
                            "; choose another billing method, or ",
                            {NextStep::Kind::FundCard, ""});
  }
  // A limit of zero is no limit. Such a card has entries only when it still owes debits taken
  // before schema 10, and paying them back frees it.
  if (funds.credit_limit > 0 && funds.credit_limit < first_block) {
    // NOTE: no command changes a card's credit limit, so the fix is a new card.
    return refuse(RefusalReason::InsufficientFunds,
                  "card " + masked + " has a credit limit of $" +
                      format_money(funds.credit_limit) + ", less than" + first_block_text +
                      ", so no payment by its billed line makes it usable for this call; choose "
                      "another billing method, or ask relay center staff to issue the "
                      "cardholder a card with a higher limit");
  }
  if (funds.owed > 0) {
    return refuse_with_step(
        RefusalReason::InsufficientFunds,
        short_of + ", and its limit stays used up until its billed line pays",
        "; choose another billing method, or ", {NextStep::Kind::RecordCardPayment, ""});
  }
  return refuse(RefusalReason::InsufficientFunds,
                short_of + ", because calls in progress hold the rest of its $" +
                    format_money(funds.credit_limit) +
                    " limit; choose another billing method, or retry after those calls end");
}

// Returns the refusal of a card whose ledger is damaged, when `status` is the Corrupt status of
// a card read whose fix is `relaygw audit verify`, and nullopt for any other failure.
std::optional<Authorization> damaged_card_refusal(const Status& status) {
  if (status.code() != StatusCode::Corrupt ||
      status.next_step().kind != NextStep::Kind::VerifyDatabase) {
    return std::nullopt;
  }
  return refuse_for_status(RefusalReason::CardLedgerDamaged, status);
}

}  // namespace

std::string command_line_message(const Authorization& decision) {
  if (decision.next_step.kind == NextStep::Kind::None) {
    return decision.message;
  }
  return decision.message.substr(0, decision.step_offset) +
         command_line_step(decision.next_step);
}

std::string card_authorization_message(std::string_view masked_card, Money held,
                                       std::optional<std::int64_t> max_seconds) {
  std::string message = "authorized on card " + std::string(masked_card);
  if (!max_seconds) {
    return message;
  }
  return message + "; the hold of $" + format_money(held) + " covers at most " +
         std::to_string(*max_seconds / 60) + " min " + std::to_string(*max_seconds % 60) +
         " s, and a charge beyond the hold and the card's free funds is recorded as "
         "uncollected";
}

Result<std::string> billed_line_number(BillingMethod billing, std::string_view from,
                                       std::string_view to, std::string_view third_number) {
  std::string_view number = from;
  std::string role = "calling number";
  switch (billing) {
    case BillingMethod::CallingCard:
      return std::string();
    case BillingMethod::Collect:
      number = to;
      role = "called number";
      break;
    case BillingMethod::ThirdNumber:
      number = third_number;
      role = "third number";
      break;
    case BillingMethod::SentPaid:
    case BillingMethod::PersonToPerson:
      break;
  }
  Result<std::string> e164 = normalize_line_number(number);
  if (!e164) {
    return Status(StatusCode::InvalidArgument, role + ": " + e164.status().message());
  }
  return e164;
}

std::string_view to_string(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::None:
      return "none";
    case RefusalReason::InvalidRequest:
      return "invalid-request";
    case RefusalReason::CollectBlocked:
      return "collect-blocked";
    case RefusalReason::ThirdNumberBlocked:
      return "third-number-blocked";
    case RefusalReason::LineNotBillable:
      return "line-not-billable";
    case RefusalReason::CardNotFound:
      return "card-not-found";
    case RefusalReason::CardClosed:
      return "card-closed";
    case RefusalReason::CardLocked:
      return "card-locked";
    case RefusalReason::WrongPin:
      return "wrong-pin";
    case RefusalReason::InsufficientFunds:
      return "insufficient-funds";
    case RefusalReason::RatingUnavailable:
      return "rating-unavailable";
    case RefusalReason::PremiumBlocked:
      return "premium-blocked";
    case RefusalReason::CollectToOwnLine:
      return "collect-to-own-line";
    case RefusalReason::ThirdNumberIsCalledLine:
      return "third-number-is-called-line";
    case RefusalReason::ThirdNumberIsCallingLine:
      return "third-number-is-calling-line";
    case RefusalReason::CardLineNotBillable:
      return "card-line-not-billable";
    case RefusalReason::CardLedgerDamaged:
      return "card-ledger-damaged";
  }
  return "unknown";
}

CallToRate call_to_rate(const AuthorizationRequest& request, Instant start) {
  CallToRate call;
  call.from = request.from;
  call.to = request.to;
  call.billing = request.billing;
  call.access = request.access;
  call.handling = request.handling;
  call.start = start;
  call.answered = true;
  call.person_reached = request.billing == BillingMethod::PersonToPerson;
  return call;
}

Result<Authorization> Authorizer::authorize(const AuthorizationRequest& request,
                                            const WriteContext& context,
                                            const CardState* verified_card) const {
  return decide(request, context, verified_card, HoldMode::Place);
}

Result<std::optional<Authorization>> Authorizer::find_refusal(
    const AuthorizationRequest& request, const WriteContext& context,
    const CardState* verified_card) const {
  Result<Authorization> decision = decide(request, context, verified_card, HoldMode::CheckOnly);
  if (!decision) {
    return decision.status();
  }
  if (decision->granted) {
    return std::optional<Authorization>();
  }
  return std::optional<Authorization>(std::move(decision).value());
}

Status Authorizer::release_hold(const AuthorizationRequest& request,
                                const Authorization& decision,
                                const WriteContext& context) const {
  if (store_ == nullptr || decision.held <= 0 || request.card_number.empty()) {
    return Status::ok();
  }
  Result<CardFunds> released = store_->append_ledger(
      request.card_number, {LedgerEntry{LedgerKind::Release, decision.held, request.call_id}},
      false, std::nullopt, context);
  return released ? Status::ok() : released.status();
}

Result<Authorization> Authorizer::decide(const AuthorizationRequest& request,
                                         const WriteContext& context,
                                         const CardState* verified_card, HoldMode hold) const {
  // Emergency first: no store, number plan, rate deck or funds are consulted.
  if (is_emergency_number(request.to)) {
    Authorization granted = grant("");
    granted.emergency = true;
    granted.message = "emergency call: authorized with no billing checks";
    return granted;
  }
  if (store_ == nullptr) {
    return Status(StatusCode::Unavailable,
                  "the billing database is unavailable, so only emergency calls can be "
                  "authorized; check the --db path");
  }
  // The card and its PIN come before the numbers, so a wrong PIN is counted whatever the
  // destination.
  std::optional<CardState> card;
  if (request.billing == BillingMethod::CallingCard) {
    if (verified_card != nullptr) {
      card = *verified_card;
    } else {
      Result<CardCheck> checked = check_card(request, context);
      if (!checked) {
        return checked.status();
      }
      if (checked->refusal) {
        return *checked->refusal;
      }
      card = checked->card;
    }
    if (!card) {
      return Status(StatusCode::Internal, "the card check returned neither a card nor a refusal");
    }
  }
  Result<std::string> from = normalize_line_number(request.from);
  if (!from) {
    return refuse(RefusalReason::InvalidRequest, from.status().message());
  }
  if (plan_ != nullptr) {
    Result<NumberInfo> dialed = plan_->classify(request.to);
    if (!dialed) {
      return refuse(RefusalReason::InvalidRequest, dialed.status().message());
    }
    // Pay-per-call (900, NXX 976) charges go on the calling line's own bill, where the
    // subscriber can block them; operator billing to another party or a card is refused.
    if (dialed->kind == NumberKind::Premium && request.billing != BillingMethod::SentPaid) {
      return refuse(RefusalReason::PremiumBlocked,
                    "premium number " + request.to +
                        " can only be billed to the calling line; "
                        "use sent-paid billing or dial another number");
    }
  }

  if (std::optional<Authorization> refused = refuse_self_billing(request, *from)) {
    return *refused;
  }

  switch (request.billing) {
    case BillingMethod::SentPaid:
      return grant(*from);
    case BillingMethod::PersonToPerson:
      // A name of only spaces names no one.
      if (request.requested_person.find_first_not_of(" \t") == std::string::npos) {
        return refuse(RefusalReason::InvalidRequest,
                      "a person-to-person call needs the name of the requested person");
      }
      return grant(*from);
    case BillingMethod::Collect:
    case BillingMethod::ThirdNumber:
      return authorize_screened(request);
    case BillingMethod::CallingCard:
      return authorize_card(request, *card, context, hold);
  }
  return refuse(RefusalReason::InvalidRequest, "unknown billing method");
}

Result<std::optional<Authorization>> Authorizer::reject_unusable_card(
    const AuthorizationRequest& request) const {
  if (request.billing != BillingMethod::CallingCard || store_ == nullptr ||
      is_emergency_number(request.to)) {
    return std::optional<Authorization>();
  }
  if (Status valid = validate_card_number(request.card_number); !valid) {
    return std::optional<Authorization>(refuse(RefusalReason::InvalidRequest, valid.message()));
  }
  Result<CardState> card = find_card_for_pin(*store_, request.card_number);
  if (card) {
    return std::optional<Authorization>();
  }
  if (std::optional<Authorization> refused = card_refusal(card.status())) {
    return refused;
  }
  return card.status();
}

Result<Authorizer::CardCheck> Authorizer::check_card(const AuthorizationRequest& request,
                                                     const WriteContext& context) const {
  if (request.billing != BillingMethod::CallingCard || store_ == nullptr ||
      is_emergency_number(request.to)) {
    return CardCheck{};
  }
  // An unknown or locked card is refused before the PIN is read, because that reveals nothing
  // new to a caller without the PIN. A malformed PIN is not a guess, so it is not counted.
  Result<std::optional<Authorization>> unusable = reject_unusable_card(request);
  if (!unusable) {
    return unusable.status();
  }
  if (unusable->has_value()) {
    return CardCheck{std::move(*unusable), std::nullopt};
  }
  if (Status valid = validate_pin(request.pin); !valid) {
    return CardCheck{refuse(RefusalReason::InvalidRequest, valid.message()), std::nullopt};
  }
  Result<CardState> card = check_card_pin(*store_, request.card_number, request.pin, context);
  if (!card) {
    if (std::optional<Authorization> refused = card_refusal(card.status())) {
      return CardCheck{std::move(refused), std::nullopt};
    }
    return card.status();
  }
  return CardCheck{std::nullopt, std::move(card).value()};
}

Result<Authorization> Authorizer::authorize_screened(const AuthorizationRequest& request) const {
  const bool collect = request.billing == BillingMethod::Collect;
  // The line billed, collect or third number, must be able to carry a bill: an assigned NANP
  // area code and exchange, not a toll-free, premium, service or international number. It is
  // classified before it is normalized, so an 011 number gets this reason too.
  if (plan_ != nullptr) {
    const std::string_view billed = collect ? request.to : request.third_number;
    const std::string role = collect ? "called number " : "third number ";
    Result<NumberInfo> info = plan_->classify(billed);
    if (!info) {
      return refuse(RefusalReason::InvalidRequest, role + info.status().message());
    }
    if (info->kind != NumberKind::Geographic && info->kind != NumberKind::Fictional) {
      const std::string kind(to_string(info->kind));
      const bool vowel = kind.find_first_of("aeiou") == 0;
      return refuse(RefusalReason::LineNotBillable,
                    role + std::string(billed) + " is " + (vowel ? "an " : "a ") + kind +
                        " number, which relaygw cannot bill" +
                        (collect ? " collect; the caller can pay with a calling card or sent-paid"
                                 : "; ask for the number of a home or business line in the NANP"));
    }
  }
  Result<std::string> number =
      billed_line_number(request.billing, request.from, request.to, request.third_number);
  if (!number) {
    return refuse(RefusalReason::InvalidRequest, number.status().message());
  }
  Result<std::optional<LineVersion>> line = store_->find_line(*number);
  if (!line) {
    return line.status();
  }
  // NOTE: a line missing from the directory is accepted unscreened, as its carrier's own
  // database would be consulted in a real network; the party's acceptance is still required.
  if (*line) {
    const Line& found = (*line)->line;
    if (found.type == LineType::Payphone || found.type == LineType::Inmate) {
      return refuse(RefusalReason::LineNotBillable,
                    "line " + *number + (found.type == LineType::Inmate ? " is an " : " is a ") +
                        std::string(to_string(found.type)) +
                        " line and cannot be billed; choose another billing method");
    }
    const bool blocks_collect =
        found.screening == Screening::NoCollect || found.screening == Screening::Both;
    const bool blocks_third =
        found.screening == Screening::NoThirdNumber || found.screening == Screening::Both;
    if (collect && blocks_collect) {
      return refuse(RefusalReason::CollectBlocked,
                    "line " + *number +
                        " does not accept collect calls; choose another "
                        "billing method");
    }
    if (!collect && blocks_third) {
      return refuse(RefusalReason::ThirdNumberBlocked,
                    "line " + *number +
                        " does not accept third-number billing; choose another "
                        "billing method");
    }
  }
  Authorization granted = grant(*number);
  granted.acceptance_required = true;
  granted.message = "authorized; charges wait for the acceptance of " + *number;
  return granted;
}

Result<Authorization> Authorizer::authorize_card(const AuthorizationRequest& request,
                                                 const CardState& card,
                                                 const WriteContext& context,
                                                 HoldMode hold) const {
  // The billed line is screened after the PIN check, so a caller without the PIN learns
  // nothing about it.
  Result<std::optional<LineVersion>> billed_line = screen_card_for_call(*store_, card.card);
  if (!billed_line) {
    const StatusCode code = billed_line.status().code();
    if (code == StatusCode::NotFound || code == StatusCode::FailedPrecondition) {
      return refuse(RefusalReason::CardLineNotBillable, billed_line.status().message());
    }
    return billed_line.status();
  }
  return hold_funds(request, card, *billed_line, context, hold);
}

Result<const Rater*> Authorizer::hold_rater(const AuthorizationRequest& request,
                                            Instant at) const {
  if (rater_ == nullptr) {
    return rater_;
  }
  // The deck a stored call names never changes, so a deck stored between this read and the
  // hold's own transaction cannot make the hold disagree with the call's quote or rating.
  if (!request.call_id.empty()) {
    Result<std::optional<CallRecord>> record = store_->find_call(request.call_id);
    if (!record) {
      return record.status();
    }
    if (*record) {
      return raters_.for_call(*store_, (*record)->request);
    }
  }
  // A call not stored yet is priced with the deck that CallRecords::open would quote it with.
  // That is the deck in effect on the local date at the calling number's rate center, or on
  // the UTC date when that number has no time zone.
  if (rater_->plan() == nullptr) {
    return rater_;
  }
  Result<std::string> local_date = originating_local_date(*rater_->plan(), request.from, at);
  const std::string date = local_date ? *local_date : format_instant(at).substr(0, 10);
  Result<std::optional<RateDeckHeader>> in_effect = store_->rate_deck_in_effect(date);
  if (!in_effect) {
    return in_effect.status();
  }
  if (!*in_effect) {
    return rater_;
  }
  return raters_.for_deck(*store_, (*in_effect)->sha256_hex);
}

Result<Authorization> Authorizer::hold_funds(const AuthorizationRequest& request,
                                             const CardState& card,
                                             const std::optional<LineVersion>& billed_line,
                                             const WriteContext& context,
                                             HoldMode hold) const {
  const std::string masked = mask_card_number(card.card.number);
  Authorization granted = grant(card.card.billed_line);
  granted.message = card_authorization_message(masked, 0, std::nullopt);
  Result<CardFunds> funds = store_->card_funds(card.card.number, request.call_id);
  if (!funds) {
    if (std::optional<Authorization> damaged = damaged_card_refusal(funds.status())) {
      return *damaged;
    }
    return funds.status();
  }
  if (!funds->has_entries) {
    return granted;  // a postpaid card with no credit limit
  }
  Result<const Rater*> rater = hold_rater(request, context.at);
  if (!rater) {
    return rater.status();
  }
  if (*rater == nullptr) {
    return refuse(RefusalReason::RatingUnavailable,
                  "card " + masked +
                      " needs a rate deck to check its funds, and none is "
                      "loaded");
  }

  CallToRate call = call_to_rate(request, context.at);
  call.tty_discount_eligible = billed_line && billed_line->line.tty_discount_eligible;
  for (int attempt = 0; attempt < kMaxHoldAttempts; ++attempt) {
    Result<Money> minimum = (*rater)->minimum_charge(call);
    if (!minimum) {
      return minimum.status();
    }
    if (funds->available < *minimum) {
      return refuse_short_of_first_block(masked, card.card.funding, *funds, *minimum);
    }
    if (hold == HoldMode::CheckOnly) {
      return granted;
    }
    Result<std::int64_t> seconds =
        (*rater)->max_seconds_for_balance(call, funds->available, request.max_call_seconds);
    if (!seconds) {
      return seconds.status();
    }
    CallToRate longest = call;
    longest.billable_seconds = *seconds;
    Result<RatedCall> cost = (*rater)->rate(longest);
    if (!cost) {
      return cost.status();
    }

    // The store appends the hold only if available funds stay >= 0 at commit, so two calls
    // racing for the same money cannot both get it.
    Result<CardFunds> held = store_->append_ledger(
        card.card.number, {LedgerEntry{LedgerKind::Hold, -cost->total, request.call_id}}, true,
        std::nullopt, context);
    if (held) {
      granted.max_seconds = *seconds;
      granted.held = cost->total;
      granted.message = card_authorization_message(masked, cost->total, *seconds);
      return granted;
    }
    if (held.status().code() == StatusCode::FailedPrecondition) {
      return refuse(RefusalReason::CardClosed, held.status().message());
    }
    if (std::optional<Authorization> damaged = damaged_card_refusal(held.status())) {
      return *damaged;
    }
    if (held.status().code() != StatusCode::ResourceExhausted) {
      return held.status();
    }
    funds = store_->card_funds(card.card.number, request.call_id);
    if (!funds) {
      if (std::optional<Authorization> damaged = damaged_card_refusal(funds.status())) {
        return *damaged;
      }
      return funds.status();
    }
  }
  return Status(StatusCode::Unavailable,
                "card " + masked +
                    " is in use by other calls that keep changing its funds; "
                    "retry the authorization");
}

}  // namespace relaygw::billing
