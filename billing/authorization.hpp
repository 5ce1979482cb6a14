// Authorization of an operator-assisted call before it is connected: billed-number screening
// for collect and third-number calls, PIN, status and funds checks for calling cards, with an
// atomic hold on prepaid funds. Emergency calls are granted before any check, with no store,
// number plan or rate deck needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "billing/call_types.hpp"
#include "billing/deck_cache.hpp"
#include "billing/money.hpp"
#include "billing/rating.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

// Why a call was refused. The names (to_string) are stable codes for logs and the wire.
enum class RefusalReason {
  None,
  InvalidRequest,            // invalid-request: a number, card number or PIN is malformed
  CollectBlocked,            // collect-blocked: the called line refuses collect calls
  ThirdNumberBlocked,        // third-number-blocked: the third line refuses third-number billing
  LineNotBillable,           // line-not-billable: payphone or inmate lines cannot be billed
  CardNotFound,              // card-not-found
  CardClosed,                // card-closed
  CardLocked,                // card-locked: too many wrong PINs
  WrongPin,                  // wrong-pin
  InsufficientFunds,         // insufficient-funds: free funds below the minimum first block
  RatingUnavailable,         // rating-unavailable: no rate deck or number plan to price the call
  PremiumBlocked,            // premium-blocked: 900 and 976 numbers only bill to the calling line
  CollectToOwnLine,          // collect-to-own-line: a collect call to the calling line itself
  ThirdNumberIsCalledLine,   // third-number-is-called-line: that is a collect call
  ThirdNumberIsCallingLine,  // third-number-is-calling-line: that is a sent-paid call
  // card-line-not-billable: a postpaid card's billed line left the directory, or its type or
  // screening no longer accepts the card's charges
  CardLineNotBillable,
  // card-ledger-damaged: the card's ledger contains an amount written or changed outside
  // relaygw, such as credits or charges that sum near or past the 64-bit range
  CardLedgerDamaged,
};

std::string_view to_string(RefusalReason reason);

// The message of a granted calling-card authorization: "authorized on card
// ************9876", and for a hold of `held` units that pays for at most `max_seconds`, the
// hold and its cover. `masked_card` is the card number as mask_card_number prints it.
std::string card_authorization_message(std::string_view masked_card, Money held,
                                       std::optional<std::int64_t> max_seconds);

struct AuthorizationRequest {
  std::string call_id;
  std::string from;  // calling number
  std::string to;    // dialed number
  BillingMethod billing = BillingMethod::SentPaid;
  AccessTag access = AccessTag::None;
  Handling handling = Handling::OperatorAssisted;
  std::string third_number;      // third-number billing only
  std::string card_number;       // calling-card billing only
  std::string pin;               // calling-card billing only; never stored or logged
  std::string requested_person;  // person-to-person only
  // Longest call a prepaid hold covers; a card with more funds is held for this long only.
  std::int64_t max_call_seconds = 4 * 3600;
};

struct Authorization {
  bool granted = false;
  RefusalReason reason = RefusalReason::None;
  // Plain sentence for staff, callers and the provider link; never a PIN, a full card number
  // or a `relaygw` command, because a refusal's message is stored with the call and sent
  // again on a retry. A refusal that staff can fix ends with operator_step(next_step).
  std::string message;
  // The staff step that fixes the refusal, or Kind::None. command_line_message() names it as
  // a `relaygw` command in place of the plain words.
  NextStep next_step;
  std::size_t step_offset = 0;  // where operator_step(next_step) starts in `message`
  bool emergency = false;
  // Collect and third-number calls: nothing is charged until the billed party's acceptance
  // is recorded as an "accepted" call event.
  bool acceptance_required = false;
  // E.164 line billed, the card's billed line for a postpaid card; empty for emergency calls
  // and prepaid cards
  std::string billed_number;
  std::optional<std::int64_t> max_seconds;  // cards with funds: the longest call they pay for
  Money held = 0;                           // prepaid hold placed for this call
};

// Returns the message of `decision` as the command line prints it: with the `relaygw`
// command of its next step in place of the plain words that end `decision.message`.
std::string command_line_message(const Authorization& decision);

class Authorizer {
 public:
  // Keeps the pointers, which must outlive the Authorizer. Any of them may be null: emergency
  // calls are still granted, and other calls are refused or fail with Unavailable. A prepaid
  // hold is priced with the deck that the stored call names, as CallRecords rates the call
  // (see call_records.hpp), and with `rater` for a call that names none. `decks` keeps parsed
  // decks across calls.
  Authorizer(Store* store, const NumberPlan* plan, const Rater* rater,
             RateDeckCache* decks = nullptr)
      : store_(store), plan_(plan), rater_(rater), raters_(rater, decks) {}

  // Decides `request`. A refusal is a granted == false Authorization with a reason; a failed
  // Result means the decision itself could not be made (store or rate deck unavailable).
  // A calling-card request runs check_card() first, before any check of the numbers, unless
  // `verified_card` is the card that check_card() returned for this request. The billed line
  // screening of a postpaid card and the hold follow, and the hold is placed in the store.
  Result<Authorization> authorize(const AuthorizationRequest& request, const WriteContext& context,
                                  const CardState* verified_card = nullptr) const;

  // Runs the checks of authorize() up to the hold, including the card's funds against the
  // call's first block, and returns the refusal, or nullopt when authorize() would go on to
  // place the hold. It places no hold. `call create` and the gateway run it before they store
  // the call, so a refused call is stored with no quote whichever check refused it. Without
  // `verified_card` it runs check_card(), which records the PIN outcome.
  Result<std::optional<Authorization>> find_refusal(const AuthorizationRequest& request,
                                                    const WriteContext& context,
                                                    const CardState* verified_card) const;

  // Releases the hold that authorize() placed for `decision` when the call cannot be recorded
  // as authorized, so no hold outlives a call that will never be completed. Does nothing for
  // a decision with no hold.
  Status release_hold(const AuthorizationRequest& request, const Authorization& decision,
                      const WriteContext& context) const;

  // Checks a calling-card request's card in this order: a well-formed card number, the card
  // exists, the card is not locked, a well-formed PIN, the PIN is correct, the card is not
  // closed. The PIN outcome is recorded in the store, so a wrong PIN counts toward the lockout
  // whatever the call's destination. `call create` and the gateway run this before the call is
  // quoted. Returns the refusal in `refusal`, or the verified card in `card`. Both are empty
  // for other billing methods, emergency calls and an Authorizer without a store.
  struct CardCheck {
    std::optional<Authorization> refusal;
    std::optional<CardState> card;
  };
  Result<CardCheck> check_card(const AuthorizationRequest& request,
                               const WriteContext& context) const;

  // Rejects a calling-card request from the stored card alone, with no PIN, as a quote request
  // needs: a malformed card number (invalid-request), an unknown card (card-not-found) and a
  // locked card (card-locked). A closed card is not rejected here, because its state is reported
  // only after its PIN is checked. Returns nullopt when the card may go on, for other billing
  // methods, for emergency calls and without a store. It writes nothing.
  Result<std::optional<Authorization>> reject_unusable_card(
      const AuthorizationRequest& request) const;

 private:
  // Whether a card call's funds check ends with the hold placed in the store or with the
  // check alone.
  enum class HoldMode { Place, CheckOnly };

  Result<Authorization> decide(const AuthorizationRequest& request, const WriteContext& context,
                               const CardState* verified_card, HoldMode hold) const;
  Result<Authorization> authorize_screened(const AuthorizationRequest& request) const;
  Result<Authorization> authorize_card(const AuthorizationRequest& request, const CardState& card,
                                       const WriteContext& context, HoldMode hold) const;
  // Holds the cost of the longest call the card's free funds pay for. `billed_line` is the
  // directory entry of a postpaid card's billed line, whose TTY discount eligibility the hold
  // is priced with; nullopt for a prepaid card.
  Result<Authorization> hold_funds(const AuthorizationRequest& request, const CardState& card,
                                   const std::optional<LineVersion>& billed_line,
                                   const WriteContext& context, HoldMode hold) const;

  // Returns the rater of the deck that the stored call names, or for a call not stored yet the
  // rater of the deck CallRecords::open would quote it with at `at`. Returns rater_ when that
  // call names no deck or the store has none.
  Result<const Rater*> hold_rater(const AuthorizationRequest& request, Instant at) const;

  Store* store_;
  const NumberPlan* plan_;
  const Rater* rater_;
  CallRaters raters_;
};

// Returns the E.164 line that a call's charges are posted to: the calling line for sent-paid and
// person-to-person calls, the called line for collect calls and `third_number` for
// third-number calls. Calling-card calls return "" because the card names its line. Fails with
// InvalidArgument, naming the option, when that number is not a valid line number. `call
// create` and the gateway both store this number, and Authorizer grants the same one.
Result<std::string> billed_line_number(BillingMethod billing, std::string_view from,
                                       std::string_view to, std::string_view third_number);

// Builds the Rater input for a call that has not started yet, at `start`.
CallToRate call_to_rate(const AuthorizationRequest& request, Instant start);

}  // namespace relaygw::billing
