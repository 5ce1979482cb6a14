#include "billing/cards.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "billing/credits.hpp"
#include "billing/next_step.hpp"
#include "common/card_digits.hpp"

namespace relaygw::billing {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// Optimistic appends that lose a race reread the card and retry; more retries than this mean
// something other than contention is wrong.
constexpr int kMaxStateRetries = 50;

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; });
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex.push_back(kHex[bytes[i] >> 4]);
    hex.push_back(kHex[bytes[i] & 0x0f]);
  }
  return hex;
}

std::vector<unsigned char> from_hex(std::string_view hex) {
  std::vector<unsigned char> bytes;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return -1;
  };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int high = nibble(hex[i]);
    const int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) {
      return {};
    }
    bytes.push_back(static_cast<unsigned char>(high * 16 + low));
  }
  return bytes;
}

bool derive(std::string_view pin, const std::vector<unsigned char>& salt, std::int32_t iterations,
            unsigned char* out) {
  return PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha256(), kHashBytes,
                           out) == 1;
}

}  // namespace

std::string mask_card_number(std::string_view number) {
  // Counted in UTF-8 characters, not bytes, so a mistyped number with non-ASCII characters
  // (such as fullwidth digits) is masked without splitting a character.
  auto is_continuation = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; };
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < number.size(); ++i) {
    if (!is_continuation(number[i])) {
      starts.push_back(i);
    }
  }
  const std::size_t keep = starts.size() > 4 ? 4 : 0;
  const std::size_t masked_count = starts.size() - keep;
  std::string masked(masked_count, '*');
  if (keep > 0) {
    masked += number.substr(starts[masked_count]);
  }
  return masked;
}

Status validate_pin(std::string_view pin) {
  if (pin.size() < kMinPinDigits || pin.size() > kMaxPinDigits || !all_digits(pin)) {
    return Status(StatusCode::InvalidArgument, "invalid PIN: a PIN is " +
                                                   std::to_string(kMinPinDigits) + " to " +
                                                   std::to_string(kMaxPinDigits) + " digits");
  }
  return Status::ok();
}

Status validate_card_number(std::string_view number) {
  const std::string rule = "a card number is " + std::to_string(kMinCardNumberDigits) + " to " +
                           std::to_string(kMaxCardNumberDigits) +
                           " digits with no spaces or dashes";
  if (!number.empty() && !all_digits(number)) {
    return Status(StatusCode::InvalidArgument,
                  "invalid card number '" + mask_card_number(number) +
                      "': it contains a character that is not a digit, and " + rule);
  }
  if (number.size() < kMinCardNumberDigits || number.size() > kMaxCardNumberDigits) {
    return Status(StatusCode::InvalidArgument,
                  "invalid card number '" + mask_card_number(number) + "': it has " +
                      std::to_string(number.size()) + " digits, and " + rule);
  }
  return Status::ok();
}

Status check_identifier_card_digits(Store* store, std::string_view field, std::string_view value,
                                    IdentifierKind kind) {
  const char* noun = kind == IdentifierKind::Id          ? "an id"
                     : kind == IdentifierKind::Key       ? "a key"
                     : kind == IdentifierKind::StaffName ? "a staff name"
                                                         : "a name";
  const std::string quoted_value = std::string(field) + " '" + mask_card_number_runs(value) + "'";
  // An id stored with a call before a card with its digits was added, or before the digit runs
  // were counted as they are now, names that call, and using it stores no new card number.
  const auto is_stored_call_id = [&]() -> Result<bool> {
    if (store == nullptr || kind != IdentifierKind::Id) {
      return false;
    }
    auto existing = store->find_call(std::string(value));
    if (!existing) {
      return existing.status();
    }
    return existing->has_value();
  };
  for (const DigitRun& run : find_digit_runs(value)) {
    const std::size_t digits = run.digits.size();
    if (is_date_time_run(value, run)) {
      continue;
    }
    if (digits >= kMinRejectedIdentifierDigits) {
      Result<bool> stored = is_stored_call_id();
      if (!stored) {
        return stored.status();
      }
      if (*stored) {
        return Status::ok();
      }
      return Status(StatusCode::InvalidArgument,
                    quoted_value + " contains a run of " + std::to_string(digits) +
                        " digits, which may be a card number, and card numbers are never stored "
                        "in full. Choose " +
                        noun +
                        " without the card number; a run of up to 13 digits, such as a phone "
                        "number, or a date and time such as 2026-12-06 14:05:09 is accepted, and "
                        "a letter or more than three visible separators such as '-' or '/' "
                        "between two digits end a run");
    }
    if (store == nullptr) {
      continue;
    }
    Result<bool> has_card = contains_stored_card_number(*store, run.digits);
    if (!has_card) {
      return has_card.status();
    }
    if (*has_card) {
      Result<bool> stored = is_stored_call_id();
      if (!stored) {
        return stored.status();
      }
      if (*stored) {
        return Status::ok();
      }
      return Status(StatusCode::InvalidArgument,
                    quoted_value +
                        " contains the number of a calling card in this database, and "
                        "card numbers are never stored in full. Choose " +
                        noun + " without the card number");
    }
  }
  return Status::ok();
}

Result<bool> contains_stored_card_number(Store& store, std::string_view digits) {
  // Every part of the digits as long as a card number may be one.
  const std::size_t count = digits.size();
  for (std::size_t length = kMinCardNumberDigits; length <= std::min(count, kMaxCardNumberDigits);
       ++length) {
    for (std::size_t from = 0; from + length <= count; ++from) {
      auto card = store.find_card(std::string(digits.substr(from, length)));
      if (!card) {
        return card.status();
      }
      if (card->has_value()) {
        return true;
      }
    }
  }
  return false;
}

Status check_phone_number_card_digits(Store& store, std::string_view field,
                                      std::string_view number) {
  for (const DigitRun& run : find_digit_runs(number)) {
    // A national NANP number is stored in E.164 with its country code 1 in front, so a card
    // number of that form counts too.
    const bool national = run.begin == 0 && run.digits.size() == 10;
    Result<bool> has_card =
        contains_stored_card_number(store, national ? "1" + run.digits : run.digits);
    if (!has_card) {
      return has_card.status();
    }
    if (*has_card) {
      return Status(StatusCode::InvalidArgument,
                    std::string(field) + " '" + mask_card_number_runs(number) +
                        "' contains the number of a calling card in this database, and card "
                        "numbers are never stored or sent back in full. Check that " +
                        std::string(field) +
                        " holds a phone number; a card number belongs only in the card field "
                        "of a calling-card call");
    }
  }
  return Status::ok();
}

Result<PinHash> hash_pin(std::string_view pin, std::int32_t iterations) {
  std::vector<unsigned char> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return Status(StatusCode::Internal, "OpenSSL RAND_bytes failed to make a PIN salt");
  }
  unsigned char hash[kHashBytes];
  if (!derive(pin, salt, iterations, hash)) {
    return Status(StatusCode::Internal, "OpenSSL PKCS5_PBKDF2_HMAC failed to hash a PIN");
  }
  return PinHash{to_hex(salt.data(), salt.size()), iterations, to_hex(hash, kHashBytes)};
}

bool verify_pin(std::string_view pin, const PinHash& stored) {
  const std::vector<unsigned char> salt = from_hex(stored.salt_hex);
  const std::vector<unsigned char> expected = from_hex(stored.hash_hex);
  if (salt.empty() || expected.size() != kHashBytes || stored.iterations <= 0) {
    return false;
  }
  unsigned char actual[kHashBytes];
  if (!derive(pin, salt, stored.iterations, actual)) {
    return false;
  }
  return CRYPTO_memcmp(actual, expected.data(), kHashBytes) == 0;
}

Status add_card(Store& store, const NewCard& card, std::string_view pin,
                const WriteContext& context) {
  Status status = validate_card_number(card.number);
  if (!status) {
    return status;
  }
  status = validate_pin(pin);
  if (!status) {
    return status;
  }
  if (card.max_pin_attempts < 1 || card.max_pin_attempts > kMaxPinAttempts) {
    return Status(StatusCode::InvalidArgument,
                  "max PIN attempts " + std::to_string(card.max_pin_attempts) +
                      " is invalid; use 1 to " + std::to_string(kMaxPinAttempts));
  }
  if (card.funding == CardFunding::Postpaid && card.billed_line.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "a postpaid card needs the line it bills; pass --billed-line NUMBER");
  }
  if (card.funding == CardFunding::Prepaid && !card.billed_line.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "billed line " + card.billed_line +
                      " is set on a prepaid card, which pays from its balance; drop "
                      "--billed-line or use --funding postpaid");
  }
  if (card.opening_balance < 0) {
    return Status(StatusCode::InvalidArgument,
                  "opening balance " + format_money(card.opening_balance) + " of card " +
                      mask_card_number(card.number) +
                      " is negative; give 0 or more dollars and cents, such as 25.00");
  }
  if (card.credit_limit < 0) {
    return Status(StatusCode::InvalidArgument,
                  "credit limit " + format_money(card.credit_limit) + " of card " +
                      mask_card_number(card.number) +
                      " is negative; give 0 for no limit or a limit such as 250.00");
  }
  if (card.funding == CardFunding::Prepaid) {
    if (Status within_max = check_max_prepaid_balance(card.number, 0, card.opening_balance);
        !within_max) {
      return within_max;
    }
  }
  if (card.credit_limit > kMaxCreditLimit) {
    return Status(StatusCode::InvalidArgument,
                  "credit limit $" + format_money(card.credit_limit) + " of card " +
                      mask_card_number(card.number) + " is above the $" +
                      format_money(kMaxCreditLimit) +
                      " maximum for a postpaid card; give a limit of at most that, or 0 for no "
                      "limit");
  }

  Result<PinHash> pin_hash = hash_pin(pin, card.pin_iterations);
  if (!pin_hash) {
    return pin_hash.status();
  }
  Card stored{card.number, card.funding, card.billed_line, *pin_hash, card.max_pin_attempts};
  std::vector<LedgerEntry> opening;
  const Money credit =
      card.funding == CardFunding::Prepaid ? card.opening_balance : card.credit_limit;
  if (card.funding == CardFunding::Prepaid || credit > 0) {
    opening.push_back(LedgerEntry{LedgerKind::Credit, credit, ""});
  }
  return store.add_card(stored, opening, context);
}

namespace {

// Checks whether `found`, the directory entry of a postpaid card's billed line, can carry the
// card's charges. When it cannot, the message ends a sentence that starts with the line ("is a
// payphone line ..."), and the code is NotFound for a missing line, FailedPrecondition else.
Status billed_line_problem(const std::optional<LineVersion>& found) {
  if (!found) {
    return Status(StatusCode::NotFound, "is not in the directory, so its screening is unknown");
  }
  const Line& line = found->line;
  if (line.type == LineType::Payphone || line.type == LineType::Inmate) {
    const char* article = line.type == LineType::Inmate ? "is an " : "is a ";
    return Status(StatusCode::FailedPrecondition,
                  article + std::string(to_string(line.type)) + " line and cannot be billed");
  }
  if (line.screening == Screening::NoThirdNumber || line.screening == Screening::Both) {
    return Status(StatusCode::FailedPrecondition,
                  "has screening '" + std::string(to_string(line.screening)) +
                      "' and does not accept charges from another line or card");
  }
  return Status::ok();
}

// Checks the amount and key of a card top-up or payment (`request`): a positive amount in
// whole cents, and an idempotency key so that a repeated request `effect` once.
Status check_card_amount(Money amount, const IdempotencyKey& key, std::string_view request,
                         std::string_view effect) {
  if (amount <= 0) {
    return Status(StatusCode::InvalidArgument,
                  "amount " + format_money(amount) +
                      " is invalid; give a positive amount in dollars and cents, such as 25.00");
  }
  if (Status cents = check_whole_cents("amount", amount); !cents) {
    return cents;
  }
  if (key.key.empty()) {
    return Status(StatusCode::InvalidArgument, "a " + std::string(request) +
                                                   " needs an idempotency key so a repeated "
                                                   "request " +
                                                   std::string(effect) + " once");
  }
  return Status::ok();
}

}  // namespace

Status check_max_prepaid_balance(const std::string& number, Money balance, Money amount) {
  // Written as a subtraction so that no amount, however large, overflows the check.
  if (amount <= kMaxPrepaidBalance - balance) {
    return Status::ok();
  }
  const Money room = std::max(Money{0}, kMaxPrepaidBalance - balance);
  // This message ends with an amount to pass to --amount, which parse_dollars_and_cents reads
  // with the thousands separators that format_money writes.
  const std::string adding =
      "adding $" + format_money(amount) + " to card " + mask_card_number(number) +
      ", whose balance is $" + format_money(balance) + ", would pass the $" +
      format_money(kMaxPrepaidBalance) + " maximum balance of a prepaid card";
  // Top-ups are whole cents, so with less than a cent of room the only fix is to spend first.
  const std::string spend_first = ", so no funds can be added until calls spend some of it";
  if (room == 0) {
    return Status(StatusCode::InvalidArgument, "card " + mask_card_number(number) +
                                                   " is at its maximum balance of $" +
                                                   format_money(kMaxPrepaidBalance) + spend_first);
  }
  if (room < kUnitsPerCent) {
    return Status(StatusCode::InvalidArgument,
                  "card " + mask_card_number(number) + " has a balance of $" +
                      format_money(balance) + ", less than a cent below its maximum balance of $" +
                      format_money(kMaxPrepaidBalance) + spend_first);
  }
  return Status(StatusCode::InvalidArgument,
                adding + "; add at most $" + format_money(room - room % kUnitsPerCent));
}

Status screen_card_billed_line(Store& store, const std::string& billed_line) {
  Result<std::optional<LineVersion>> found = store.find_line(billed_line);
  if (!found) {
    return found.status();
  }
  const Status problem = billed_line_problem(*found);
  if (problem) {
    return problem;
  }
  const std::string fix = problem.code() == StatusCode::NotFound
                              ? "; add it with `relaygw line add` or bill another line"
                              : "; bill another line";
  return Status(problem.code(), "billed line " + billed_line + " " + problem.message() + fix);
}

Result<std::optional<LineVersion>> screen_card_for_call(Store& store, const Card& card) {
  if (card.funding != CardFunding::Postpaid) {
    return std::optional<LineVersion>();
  }
  Result<std::optional<LineVersion>> found = store.find_line(card.billed_line);
  if (!found) {
    return found.status();
  }
  const Status problem = billed_line_problem(*found);
  if (!problem) {
    return Status(problem.code(), "card " + mask_card_number(card.number) + " bills line " +
                                      card.billed_line + ", which " + problem.message() +
                                      "; choose another billing method");
  }
  return found;
}

Result<CardState> find_card_for_pin(Store& store, const std::string& number) {
  const std::string masked = mask_card_number(number);
  Result<std::optional<CardState>> found = store.find_card(number);
  if (!found) {
    return found.status();
  }
  if (!*found) {
    return Status(StatusCode::NotFound, "card " + masked + " does not exist");
  }
  const CardState& state = **found;
  // A closed card that ran out of PIN attempts gets the message of a locked card, so a caller
  // without the PIN cannot tell the two apart.
  const bool out_of_attempts = state.status == CardStatus::Closed &&
                               state.failed_pin_attempts >= state.card.max_pin_attempts;
  if (state.status == CardStatus::Locked || out_of_attempts) {
    return failed_with_step(StatusCode::FailedPrecondition,
                            "card " + masked + " is locked after wrong PINs",
                            {NextStep::Kind::UnlockCard, ""});
  }
  return state;
}

Result<CardState> check_card_pin(Store& store, const std::string& number, std::string_view pin,
                                 const WriteContext& context) {
  const std::string masked = mask_card_number(number);
  for (int attempt = 0; attempt < kMaxStateRetries; ++attempt) {
    Result<CardState> found = find_card_for_pin(store, number);
    if (!found) {
      return found.status();
    }
    const CardState& state = *found;
    const bool closed = state.status == CardStatus::Closed;

    const bool pin_ok = verify_pin(pin, state.card.pin);
    if (pin_ok && closed) {
      return Status(StatusCode::FailedPrecondition,
                    "card " + masked + " is closed; choose another billing method");
    }
    if (pin_ok && state.failed_pin_attempts == 0) {
      return state;  // nothing to record
    }
    const std::int32_t failures = pin_ok ? 0 : state.failed_pin_attempts + 1;
    const bool lock = failures >= state.card.max_pin_attempts;
    CardStatus next = lock ? CardStatus::Locked : CardStatus::Active;
    std::string reason = pin_ok ? "correct PIN" : (lock ? "wrong PIN, card locked" : "wrong PIN");
    if (closed) {
      next = CardStatus::Closed;
      reason = "wrong PIN, card closed";
    }
    Result<CardState> appended =
        store.append_card_state(number, next, failures, state.version, reason, context);
    if (!appended && appended.status().code() == StatusCode::FailedPrecondition) {
      continue;  // another check changed the card first; count this one on the new state
    }
    if (!appended) {
      return appended.status();
    }
    if (pin_ok) {
      return appended;
    }
    // A closed card gets the messages of an active one, so a wrong PIN reveals nothing more.
    if (lock) {
      return Status(StatusCode::PermissionDenied,
                    "wrong PIN for card " + masked + "; the card is now locked");
    }
    const int attempts_left = state.card.max_pin_attempts - failures;
    return Status(StatusCode::PermissionDenied,
                  "wrong PIN for card " + masked + "; " + std::to_string(attempts_left) +
                      (attempts_left == 1 ? " attempt" : " attempts") +
                      " left before the card locks");
  }
  return Status(StatusCode::Unavailable,
                "card " + masked + " kept changing during the PIN check; retry");
}

Result<CardState> unlock_card(Store& store, const std::string& number,
                              const WriteContext& context) {
  Result<std::optional<CardState>> found = store.find_card(number);
  if (!found) {
    return found.status();
  }
  if (!*found) {
    return Status(StatusCode::NotFound, "card " + mask_card_number(number) + " does not exist");
  }
  if ((*found)->status == CardStatus::Closed) {
    return Status(StatusCode::FailedPrecondition,
                  "card " + mask_card_number(number) +
                      " is closed and cannot be unlocked; callers are told that a closed card "
                      "out of PIN attempts is locked, so that one without the PIN cannot learn "
                      "it is closed. Issue the cardholder a new card");
  }
  return store.append_card_state(number, CardStatus::Active, 0, (*found)->version,
                                 "unlocked by staff", context);
}

Result<CardFunds> fund_card(Store& store, const std::string& number, Money amount,
                            const IdempotencyKey& key, const WriteContext& context) {
  const std::string masked = mask_card_number(number);
  if (Status checked = check_card_amount(amount, key, "top-up", "adds funds"); !checked) {
    return checked;
  }
  Result<std::optional<CardState>> found = store.find_card(number);
  if (!found) {
    return found.status();
  }
  if (!*found) {
    return Status(StatusCode::NotFound, "card " + masked + " does not exist");
  }
  if ((*found)->card.funding != CardFunding::Prepaid) {
    return Status(StatusCode::FailedPrecondition,
                  "card " + masked + " is postpaid and bills line " + (*found)->card.billed_line +
                      ", so it has no balance to fund; only prepaid cards take top-ups, and "
                      "`relaygw card payment` records the line's payment of a postpaid card's "
                      "charges");
  }
  if ((*found)->status == CardStatus::Closed) {
    return Status(StatusCode::FailedPrecondition,
                  "card " + masked + " is closed and takes no funds; add a new card instead");
  }
  // The store checks kMaxPrepaidBalance inside the write, after it has looked up `key`, so a
  // retry of a top-up that reached the maximum returns its first result.
  return store.append_ledger(number, {LedgerEntry{LedgerKind::Credit, amount, ""}}, false, key,
                             context);
}

Result<CardFunds> record_card_payment(Store& store, const std::string& number, Money amount,
                                      const IdempotencyKey& key, const WriteContext& context) {
  if (Status checked = check_card_amount(amount, key, "payment", "records it"); !checked) {
    return checked;
  }
  const std::string journal_id = "payment:pm-" + sha256_hex(key.key).substr(0, 16);
  return store.append_card_payment(number, amount, journal_id, key, context);
}

Money refundable_funds(const CardState& card, const CardFunds& funds) {
  if (card.status != CardStatus::Closed || card.card.funding != CardFunding::Prepaid) {
    return 0;
  }
  return std::max(Money{0}, funds.available);
}

Result<CardRefund> refund_card_balance(Store& store, const std::string& number,
                                       const std::optional<IdempotencyKey>& key,
                                       const WriteContext& context) {
  if (key && key->key.empty()) {
    return Status(StatusCode::InvalidArgument, "the idempotency key of the refund of card " +
                                                   mask_card_number(number) +
                                                   " is empty; give a key, or leave --key out");
  }
  return store.append_card_refund(number, key, context);
}

Result<CardState> close_card(Store& store, const std::string& number, const std::string& reason,
                             const WriteContext& context) {
  const std::string masked = mask_card_number(number);
  if (reason.empty()) {
    return Status(StatusCode::InvalidArgument, "closing card " + masked +
                                                   " needs a reason, such as lost or stolen; pass "
                                                   "--reason TEXT");
  }
  if (Status text = check_name_text("reason", reason); !text) {
    return text;
  }
  for (int attempt = 0; attempt < kMaxStateRetries; ++attempt) {
    Result<std::optional<CardState>> found = store.find_card(number);
    if (!found) {
      return found.status();
    }
    if (!*found) {
      return Status(StatusCode::NotFound, "card " + masked + " does not exist");
    }
    if ((*found)->status == CardStatus::Closed) {
      return Status(StatusCode::FailedPrecondition, "card " + masked + " is already closed");
    }
    Result<CardState> closed =
        store.append_card_state(number, CardStatus::Closed, (*found)->failed_pin_attempts,
                                (*found)->version, "closed: " + mask_card_number_runs(reason),
                                context);
    if (!closed && closed.status().code() == StatusCode::FailedPrecondition) {
      continue;  // a PIN check changed the card first; close the new state
    }
    return closed;
  }
  return Status(StatusCode::Unavailable,
                "card " + masked + " kept changing while it was closed; retry");
}

}  // namespace relaygw::billing
