// Calling cards: PIN hashing (PBKDF2-HMAC-SHA256 with a per-card random salt), PIN checks with
// lockout after consecutive wrong PINs, and the one helper that masks card numbers. A PIN or a
// full card number never appears in a message, log line or audit entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "billing/store.hpp"

namespace relaygw::billing {

// Iterations for new PIN hashes: the OWASP 2023 figure for PBKDF2-HMAC-SHA256. The count is
// stored with each hash, so it can be raised later without breaking existing cards.
inline constexpr std::int32_t kDefaultPinIterations = 600'000;

// Maximum balance that an opening balance or a top-up may give a prepaid card: $1,000.00.
// Relay calls cost cents a minute, so a larger balance is more likely a mistyped amount than a
// deposit, and the maximum keeps every sum of a card's ledger far from int64 overflow. A refund
// of a call's charge may still lift a balance above it, because that money was the card's.
inline constexpr Money kMaxPrepaidBalance = 1'000 * kUnitsPerDollar;
// Most wrong PINs a card may allow before it locks. A 4-digit PIN has 10,000 values, so a
// larger allowance would let a caller try a real share of them.
inline constexpr std::int32_t kMaxPinAttempts = 10;

// Maximum credit limit of a postpaid card: $100,000.00, which also keeps ledger sums far from
// int64 overflow.
inline constexpr Money kMaxCreditLimit = 100'000 * kUnitsPerDollar;

// Returns `number` with every digit but the last four replaced by '*': "************0142".
// Numbers of four digits or fewer are masked completely.
std::string mask_card_number(std::string_view number);

// Identifiers with a digit run of this many digits or more are rejected outright, because most
// card numbers have 14 to 19 digits. Shorter runs are common in ids: NANP phone numbers (10
// digits, 11 with the leading 1) and Unix times in milliseconds (13 digits), which the TTY
// listener's session and call ids contain. A run of 10 to 13 digits is therefore rejected only
// when it contains a stored card's number. NOTE: a foreign phone number of 14 or more digits is
// rejected too.
inline constexpr std::size_t kMinRejectedIdentifierDigits = 14;

// The kind of value an identifier is, which the fix in check_identifier_card_digits's message
// names.
// Name is a person's name that is not a staff member's, such as the party that accepted a
// collect call or the requested person of a person-to-person call.
enum class IdentifierKind { Id, Key, StaffName, Name };

// Checks that `value`, an identifier that is stored with records and printed in full (a call,
// credit or dispute id, an idempotency key, or a staff name recorded as the actor), contains no
// calling-card number. A digit run is what find_digit_runs (common/card_digits.hpp) returns, so
// "4111 1111 1111 1111" is one run of 16 digits. Rejects, with InvalidArgument, a run of
// kMinRejectedIdentifierDigits digits or more, and a run that contains the whole number of a
// card stored in `store`, or only the long runs when `store` is null (a database that is being
// created contains no cards). A run of 10 to 13 digits that contains no stored card's number,
// such as a phone number, is accepted. A run that is exactly a date and time of day
// (is_date_time_run, such as "2026-12-06 14:05:09") is no card number and is accepted, but a
// bare "20261206140509" is rejected. `field` names the option or request field ("--key",
// "field key"). An id equal to a stored call's id passes, because that call may predate the
// card or the current digit-run rule. The message shows `value` only through
// mask_card_number_runs.
// Fails with the store's error when a lookup fails.
Status check_identifier_card_digits(Store* store, std::string_view field, std::string_view value,
                                    IdentifierKind kind);

// Returns whether `digits`, ASCII digits such as DigitRun::digits, contain the whole number of
// a card stored in `store`: any part of 10 to 19 digits that a card has. Fails with the
// store's error when a lookup fails.
Result<bool> contains_stored_card_number(Store& store, std::string_view digits);

// Checks that `number`, a phone number that is stored with a call or session and quoted in
// replies (a caller, dialed or third number), contains no number of a card stored in `store`.
// A run of 10 to 15 digits is a valid phone number, so only stored cards count, not the digit
// count. A national NANP number of 10 digits is also checked with its country code 1 in front,
// as it is stored in E.164. Rejects with InvalidArgument, naming `field` and the number masked
// by mask_card_number_runs. Fails with the store's error when a lookup fails.
Status check_phone_number_card_digits(Store& store, std::string_view field,
                                      std::string_view number);

// Checks that a PIN is 4 to 8 digits. The message never repeats the PIN.
Status validate_pin(std::string_view pin);

// Checks that a card number is 10 to 19 digits, naming only its masked form when it is not.
Status validate_card_number(std::string_view number);

// Hashes `pin` with a fresh random salt. Requires: iterations > 0.
Result<PinHash> hash_pin(std::string_view pin, std::int32_t iterations = kDefaultPinIterations);

// Recomputes the hash with the stored salt and iteration count and compares in constant time.
bool verify_pin(std::string_view pin, const PinHash& stored);

struct NewCard {
  std::string number;
  CardFunding funding = CardFunding::Prepaid;
  std::string billed_line;    // postpaid: the E.164 line billed
  Money opening_balance = 0;  // prepaid: the starting balance
  Money credit_limit = 0;     // postpaid: spending limit, 0 for none
  std::int32_t max_pin_attempts = 3;
  std::int32_t pin_iterations = kDefaultPinIterations;
};

// Adds a card with a hash of `pin`. A prepaid card takes no billed line, an opening balance
// above kMaxPrepaidBalance or a credit limit above kMaxCreditLimit (InvalidArgument).
// NOTE: sub-cent balances and limits are accepted here because the field-case tests use them;
// `relaygw card add` rejects them.
Status add_card(Store& store, const NewCard& card, std::string_view pin,
                const WriteContext& context);

// Checks that adding `amount` to a prepaid card whose balance is `balance` keeps the balance at
// or below kMaxPrepaidBalance. The InvalidArgument message names the masked card, the amount,
// the balance, the maximum and the most whole cents that may still be added, or says that the
// card is at its maximum when less than a cent fits.
Status check_max_prepaid_balance(const std::string& number, Money balance, Money amount);

// Checks that `billed_line` (E.164) may be billed for a postpaid card, with the screening that
// third-number billing applies. A line missing from the directory fails with NotFound. A
// payphone or inmate line, or a line that rejects third-number billing, fails with
// FailedPrecondition.
Status screen_card_billed_line(Store& store, const std::string& billed_line);

// Screens a postpaid card's billed line again, as screen_card_billed_line does, when a call is
// authorized on the card: the line may have left the directory or changed its type or
// screening since `card add`. The messages name the masked card and the line. Returns the
// line's current version, or nullopt for a prepaid card, which has no billed line.
Result<std::optional<LineVersion>> screen_card_for_call(Store& store, const Card& card);

// Finds a card that may take a PIN check: NotFound for an unknown card, and FailedPrecondition
// for a card that takes no more PINs, which is a locked card or a closed card whose wrong PINs
// reached max_pin_attempts. Other closed cards are returned, because a card's closed state is
// reported only to a caller who gives its PIN (check_card_pin). It reads only the stored card, so
// a call can be rejected before its PIN is checked. The messages name the masked card and the
// fix, and a locked card's fix is the next step NextStep::Kind::UnlockCard.
Result<CardState> find_card_for_pin(Store& store, const std::string& number);

// Checks `pin` against the card and records the outcome. A wrong PIN increments the failure
// count and locks an active card at max_pin_attempts. A correct PIN resets the count of an
// active card. A closed card stays closed: its wrong PINs are counted, so its PIN cannot be
// guessed either, and a correct PIN records nothing. Returns the new state, or
// PermissionDenied for a wrong PIN, FailedPrecondition for a locked card (see
// find_card_for_pin) or for a closed card given its correct PIN, and NotFound for an unknown
// card. Safe against concurrent checks on one card.
Result<CardState> check_card_pin(Store& store, const std::string& number, std::string_view pin,
                                 const WriteContext& context);

// Adds `amount` (positive, whole cents) to a prepaid card's balance as one credit ledger entry
// that stores who and when. A repeat of `key` returns the first result and adds nothing.
// FailedPrecondition for a postpaid or closed card, NotFound for an unknown card, and
// InvalidArgument when the balance would pass kMaxPrepaidBalance. The store checks the close
// and the maximum again inside the ledger write, so a close or top-up that lands meanwhile is
// caught.
Result<CardFunds> fund_card(Store& store, const std::string& number, Money amount,
                            const IdempotencyKey& key, const WriteContext& context);

// Records the billed line's payment of `amount` (positive, whole cents) against a postpaid
// card's charges: a payment ledger entry that gives that much of the card's credit limit back,
// and journal "payment:pm-…" (named from the key) that moves it from the line's receivable to
// "cash", with who and when. A repeat of `key` returns the first result and records nothing.
// FailedPrecondition for a prepaid card, a card with no limit, or an amount above what the
// card owes against its limit. NotFound for an unknown card.
Result<CardFunds> record_card_payment(Store& store, const std::string& number, Money amount,
                                      const IdempotencyKey& key, const WriteContext& context);

// Closes a card for good (lost, stolen, cancelled). Every later call is rejected with the
// card-closed reason, and the card cannot be unlocked or funded. `reason` is stored with the state
// row. FailedPrecondition when it is already closed.
Result<CardState> close_card(Store& store, const std::string& number, const std::string& reason,
                             const WriteContext& context);

// Returns what a closed prepaid card still owes its owner and `card refund` pays out: its free
// funds (balance less open holds), or 0 for an open or postpaid card and for a card with no
// free funds. A closed card's funds are not available for calls.
Money refundable_funds(const CardState& card, const CardFunds& funds);

// Pays out the refundable_funds of a closed prepaid card as one refund ledger entry of minus
// that amount, with no call, who and when. The amount is read inside the write, so two
// refunds never pay the same money. With `key`, a repeat returns the first refund and pays
// nothing more. FailedPrecondition for an open card, a postpaid card or a card with nothing
// left to refund, NotFound for an unknown card.
Result<CardRefund> refund_card_balance(Store& store, const std::string& number,
                                       const std::optional<IdempotencyKey>& key,
                                       const WriteContext& context);

// Sets a locked card back to active with no failures (staff action, audited).
Result<CardState> unlock_card(Store& store, const std::string& number, const WriteContext& context);

}  // namespace relaygw::billing
