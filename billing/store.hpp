// The billing storage interface and the records it stores. Billing logic (directory, cards,
// authorization, call records) talks only to `Store`; SQL lives in an implementation such as
// SqliteStore. Every write method is one transaction, appends rows instead of updating them,
// stamps them with an actor and a UTC instant, and adds one entry to the audit hash chain.
//
// Thread rules: one Store object is used by one thread at a time. Concurrent callers open one
// Store each on the same database; the implementation serializes conflicting writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "billing/call_types.hpp"
#include "billing/money.hpp"
#include "common/status.hpp"

namespace relaygw::billing {

// Billing operations records, defined in billing/credits.hpp, billing/disputes.hpp,
// billing/ledger.hpp and billing/record_chain.hpp. Include those to call the methods below.
struct CreditRequest;
struct CreditRecord;
struct Dispute;
struct DisputeOpenRequest;
enum class DisputeAction;
struct JournalCheck;
struct AccountBalance;
struct Reconciliation;
struct RecordCheck;

// A UTC instant with one-second resolution, the unit every call timestamp uses.
using Instant = std::chrono::sys_seconds;

// Who made a change and when. `actor` is a staff id ("staff:alice"), "gateway", or an adapter
// id ("adapter:tty0").
struct WriteContext {
  std::string actor;
  Instant at;
};

// A request that may arrive twice. The same key with the same request hash returns the stored
// result; the same key with a different hash is rejected as a conflict.
struct IdempotencyKey {
  std::string key;
  std::string request_hash;
};

// A response stored in idempotency_keys in the same write transaction as the change it answers,
// so that after a crash a retry finds both or neither.
struct StoredResponse {
  IdempotencyKey key;
  std::string scope;
  std::string result;
  WriteContext context;  // who stored the response, for its audit entry
};

// ---- Directory (line information database) ----

enum class LineType { Residential, Business, Payphone, Inmate, Hotel, Cellular, Government };

// Billed-number screening: which alternate billing the line refuses.
enum class Screening { None, NoCollect, NoThirdNumber, Both };

struct Line {
  std::string number;  // E.164, for example "+13125550142"
  std::string listing_name;
  LineType type = LineType::Residential;
  Screening screening = Screening::None;
  std::string state;  // two-letter postal code
  std::string rate_center;
  std::string time_zone;  // IANA zone of the rate center, for example "America/Chicago"
  std::string pic;        // preferred long-distance carrier code, empty when none
  bool is_tty = false;
  bool tty_discount_eligible = false;  // state-certified TTY user entitled to a toll discount
};

// One stored version of a line. Version 1 is the first; a change appends version n + 1.
struct LineVersion {
  Line line;
  std::int64_t version = 0;
  std::string actor;
  Instant at;
  std::string reason;
};

// ---- Calling cards ----

enum class CardStatus { Active, Locked, Closed };
enum class CardFunding { Postpaid, Prepaid };

// A PBKDF2-HMAC-SHA256 PIN hash: the PIN itself is never stored.
struct PinHash {
  std::string salt_hex;
  std::int32_t iterations = 0;
  std::string hash_hex;
};

struct Card {
  std::string number;  // digits only; print it only through mask_card_number
  CardFunding funding = CardFunding::Prepaid;
  std::string billed_line;  // E.164 line billed for a postpaid card, empty for prepaid
  PinHash pin;
  std::int32_t max_pin_attempts = 3;  // consecutive wrong PINs that lock the card
};

// The current state of a card: its fixed fields plus the latest appended state row.
struct CardState {
  Card card;
  CardStatus status = CardStatus::Active;
  std::int32_t failed_pin_attempts = 0;
  std::int64_t version = 0;  // state row version, for optimistic appends
};

// One signed entry of a card's ledger. Available funds are the sum of all entries; the
// balance leaves out holds and releases. A prepaid card opens with a credit of its balance and
// a postpaid card with a credit limit (no entries means no limit). A payment is the billed
// line's payment of a postpaid card's charges, which gives that much of the limit back. A
// refund with a call gives back part of that call's charge. A refund with no call is the
// negative payout of a closed prepaid card's remaining balance to its owner.
enum class LedgerKind { Credit, Hold, Release, Debit, Refund, Payment };

struct LedgerEntry {
  LedgerKind kind = LedgerKind::Credit;
  Money amount = 0;     // signed: holds and debits are negative
  std::string call_id;  // empty for credits not tied to a call
  // Interim debits only: the conversation instant the debit covers up to. Other entries, and
  // debits stored before schema 10, have none.
  std::optional<Instant> covered_until = std::nullopt;
};

struct CardFunds {
  Money balance = 0;           // credits minus debits
  Money available = 0;         // balance minus open holds
  Money held_for_call = 0;     // open hold of the call asked about, if any
  Money debited_for_call = 0;  // debits already taken for that call
  // The latest instant an interim debit of that call covered, or nullopt when no stored debit
  // carries one (none taken yet, or all taken before schema 10).
  std::optional<Instant> last_debit_covered_until;
  // Whether the card has funds or a limit of its own: a prepaid card, a card with a credit
  // entry, or entries that do not net to zero. False for a postpaid card with no credit limit,
  // whose calls are billed in full to its line.
  bool has_entries = false;
  // A postpaid card's credit limit: the sum of its credit entries, zero for no limit. Zero for a
  // prepaid card.
  Money credit_limit = 0;
  // What a postpaid card owes against its limit: the limit less the balance, which debits lower
  // and payments and refunds raise. Never below zero, and zero for a prepaid card.
  Money owed = 0;
};

// The payout of a closed prepaid card's remaining balance to its owner.
struct CardRefund {
  Money amount = 0;  // paid out, positive; the ledger entry stores it negative
  CardFunds funds;   // the card's funds after the refund
};

// ---- Call records ----

enum class CallEvent {
  Requested,
  Validated,
  Quoted,
  Authorized,
  Announced,
  Accepted,
  Connected,
  Disconnected,
  Refused,  // authorization was refused; the call can get no later step
  // An emergency call's PSAP acknowledged the dispatch only after the call was stored and
  // disconnected (CallRecords::record_late_psap_ack). accepted_by is the PSAP route id.
  PsapAcknowledged,
};

// How a called or third party accepted the charges.
enum class AcceptanceMethod { Voice, TtyText, Keypad };

struct CallEventRecord {
  CallEvent event = CallEvent::Requested;
  Instant at;
  std::string actor;
  // Accepted only: how and by whom. A psap-acknowledged event sets accepted_by to the PSAP
  // route id and leaves acceptance_method empty. Other events leave both empty.
  std::optional<AcceptanceMethod> acceptance_method;
  std::string accepted_by;
  // Refused only: the refusal reason code (to_string of RefusalReason, "card-locked") and its
  // plain message. Other events leave these empty.
  std::string reason_code = {};
  std::string reason_message = {};
  // Authorized only, from schema 17: the card hold placed for the call, in units, and the
  // longest call it pays for (Authorization::held and max_seconds). Empty when no funds were
  // held, and for events stored before schema 17.
  std::optional<Money> hold_amount = std::nullopt;
  std::optional<std::int64_t> hold_max_seconds = std::nullopt;
};

// The quote a call was stored with: the rate deck that was current when the call was stored,
// and what a one-minute answered call costs under it. The quote comes from the trial rating
// that checks the call can be billed (CallRecords::check_rateable).
struct CallQuote {
  std::string deck_sha256;  // StoredRateDeck::sha256_hex; empty when the database held no deck
  Money one_minute = 0;     // total of the one-minute trial rating, in units
};

// The fixed part of a call, stored once when it is requested. The relayed conversation text is
// never part of a call record.
struct CallRequest {
  std::string id;
  std::string from;  // E.164 calling number
  std::string to;    // dialed number as normalized by the number plan
  BillingMethod billing = BillingMethod::SentPaid;
  AccessTag access = AccessTag::None;
  Handling handling = Handling::Automated;
  // Line billed: the calling, called or third line. Empty for prepaid cards. The call row of
  // a postpaid card call stores it empty too, because the row is written before the card is
  // authorized, and find_call fills in the card's billed line.
  std::string billed_number;
  std::string card_number;       // calling card, empty otherwise
  std::string requested_person;  // person-to-person only
  bool emergency = false;
  std::string psap_route;  // emergency calls: the PSAP route that answered; empty otherwise
  // Stored by CallRecords::open with a rater from schema 12 on. Emergency calls, calls stored
  // without a rater and calls stored before schema 12 have none.
  std::optional<CallQuote> quote = std::nullopt;
  // From schema 17: the idempotency key of the gateway request that created the call, and
  // the SHA-256 (hex) of that request's fields, which distinguishes a retry under the key from
  // a different request. Empty for calls created without a key (staff, the emergency spool, bulk
  // imports) and for calls stored before schema 17. A key names at most one call.
  std::string request_key = {};
  std::string request_hash = {};
};

struct PostedChargeLine {
  std::string kind;  // usage, surcharge, discount, tax or fee
  std::string description;
  Money amount = 0;  // signed, whole cents
};

// What a posted call produced. Stored once per call.
struct CallPosting {
  std::string call_id;
  std::vector<PostedChargeLine> lines;
  Money total = 0;
  std::optional<std::int64_t> billable_seconds;      // conversation seconds billed, 0 if unanswered
  std::optional<std::int64_t> session_seconds;       // request to hangup; relay session time
  std::optional<std::int64_t> conversation_seconds;  // answer to hangup; none if unanswered
  bool person_reached = false;
  // Relay service compensation owed by the relay service fund (RatedCall::relay_fund). It is
  // posted to the journal only, as "relay-fund:SERVICE" against "revenue:relay-service", and
  // is never part of `total`. Not read back by find_call.
  Money relay_fund = 0;
};

struct CallRecord {
  CallRequest request;
  std::vector<CallEventRecord> events;  // in the order they were appended
  std::optional<CallPosting> posting;
};

// One file of a stored rate deck, as it was read.
struct StoredDeckFile {
  std::string name;  // file name without its folder, "example.toml"
  std::string text;
  std::string sha256_hex;  // of `text`
};

// A stored rate deck: its text, content hash and effective dates. A deck read from a folder
// keeps each .toml file in `files`, and `text` is one TOML document with the files merged as
// RateDeck::load merges them, so RateDeck::parse(text, source_path) rates as the folder does.
struct StoredRateDeck {
  std::string name;
  std::string text;
  std::string sha256_hex;      // of the file's text, or for a folder docs/rate-deck.md's manifest
  std::string effective_from;  // ISO 8601 date, empty when the deck states none
  std::string effective_to;
  std::string source_path;
  // Files in name order. Empty when adding a one-file deck, which is then stored as one file
  // named after source_path.
  std::vector<StoredDeckFile> files = {};
};

// A stored rate deck without its text: enough to tell which deck is in effect and whether a
// parsed copy of it is at hand.
struct RateDeckHeader {
  std::int64_t seq = 0;  // order of storing: a deck stored later has a higher seq
  std::string name;
  std::string sha256_hex;      // StoredRateDeck::sha256_hex
  std::string effective_from;  // ISO 8601 date, empty when the deck states none
  std::string actor;           // who stored the deck
  std::string stored_at;       // when it was stored, an ISO 8601 UTC instant
};

// The outcome of Store::add_rate_deck_checked.
struct RateDeckAddition {
  // False when nothing was stored, because the same deck (the same SHA-256 and effective
  // dates) is already the most recently stored deck of its effective date, so storing it
  // again would change no call's deck.
  bool stored = false;
  RateDeckHeader deck;  // the deck stored, or else the identical deck found
};

// One call as reports read it: the request, the instant it was requested and its posting.
// A call that is not posted yet has `posted` false and zero amounts.
struct CallFact {
  std::string call_id;
  Instant requested_at;
  std::string from;
  std::string to;
  BillingMethod billing = BillingMethod::SentPaid;
  AccessTag access = AccessTag::None;
  Handling handling = Handling::Automated;
  std::string billed_number;
  bool emergency = false;
  bool accepted = false;  // an accepted event exists: the billed party accepted the charges
  bool posted = false;
  Money total = 0;
  Money usage = 0;  // sums of the posted charge lines by kind
  Money surcharges = 0;
  Money discounts = 0;  // negative or zero
  Money taxes = 0;
  Money fees = 0;
  std::optional<std::int64_t> billable_seconds;
  std::optional<std::int64_t> session_seconds;
  std::optional<std::int64_t> conversation_seconds;
};

class Store {
 public:
  virtual ~Store() = default;

  // The schema version the open database is at.
  virtual int schema_version() const = 0;

  // The path of the open database file as the caller gave it, for messages that name a
  // command to run on it ("relaygw audit verify --db PATH"), or "FILE" for a database with no
  // file.
  virtual std::string database_path() const = 0;

  // Rate decks. current_rate_deck returns the most recently stored deck, which is not always
  // the deck in effect (see rate_deck_in_effect).
  // add_rate_deck stores `deck` as add_rate_deck_checked does, with no check.
  virtual Status add_rate_deck(const StoredRateDeck& deck, const WriteContext& context) = 0;
  // Checks the unposted calls and stores `deck`, in one write transaction. The calls are listed
  // as list_unposted_calls lists them once the write lock is held, and passed to `check`. When
  // `check` returns an error, nothing is stored and that error is returned. A call that another
  // connection creates or changes meanwhile either committed before the list, so `check`
  // receives it, or waits until this transaction ends.
  // When the most recently stored deck of `deck`'s effective date has the same SHA-256 and
  // effective dates, nothing is stored or checked, and the result names that deck. An
  // identical deck that a later correction with the same date replaced is stored again, so
  // that it is the deck of that date once more.
  using UnpostedCallsCheck = std::function<Status(const std::vector<CallRecord>& unposted)>;
  virtual Result<RateDeckAddition> add_rate_deck_checked(const StoredRateDeck& deck,
                                                         const UnpostedCallsCheck& check,
                                                         const WriteContext& context) = 0;
  virtual Result<std::optional<StoredRateDeck>> current_rate_deck() = 0;
  // Returns the deck in effect on `local_date` (ISO 8601, "2026-07-01"): of the decks whose
  // effective_from is on or before that date, the one with the latest effective_from, where
  // an empty effective_from counts as the earliest date. Among decks with that same
  // effective_from, the most recently stored one wins, so a correction replaces the deck it
  // corrects. When every deck starts later, returns the most recently stored deck, which then
  // rates nothing before its first version, and check_deck_in_effect (billing/deck_cache.hpp)
  // rejects it. nullopt when no deck is stored. Reads no deck text.
  virtual Result<std::optional<RateDeckHeader>> rate_deck_in_effect(
      std::string_view local_date) = 0;
  // Returns every stored deck in the order stored, without texts.
  virtual Result<std::vector<RateDeckHeader>> list_rate_decks() = 0;
  // Returns the most recently stored deck whose sha256_hex is `sha256_hex`, with its text and
  // files, or nullopt when none is stored.
  virtual Result<std::optional<StoredRateDeck>> find_rate_deck(std::string_view sha256_hex) = 0;

  // Appends a version of `line`. With `expected_version` 0 the line must not exist yet
  // (AlreadyExists otherwise); with n > 0 the current version must be n (FailedPrecondition
  // otherwise, so a concurrent change is never overwritten). The audit entry records the old
  // and new values.
  virtual Result<LineVersion> append_line(const Line& line, std::int64_t expected_version,
                                          const std::string& reason,
                                          const WriteContext& context) = 0;
  // One line version for append_lines, checked as append_line checks it.
  struct LineAppend {
    Line line;
    std::int64_t expected_version = 0;
    std::string reason;
  };
  // Appends each of `appends` as append_line would, in one write transaction, so a batch costs
  // one commit. Returns one result per append, in order: the stored version, or the reason that
  // append was refused (AlreadyExists, FailedPrecondition), in which case it wrote nothing and
  // the others still apply. Fails as a whole, storing nothing, when the store fails.
  virtual Result<std::vector<Result<LineVersion>>> append_lines(
      const std::vector<LineAppend>& appends, const WriteContext& context) = 0;
  virtual Result<std::optional<LineVersion>> find_line(const std::string& number) = 0;
  virtual Result<std::vector<LineVersion>> list_lines() = 0;
  virtual Result<std::vector<LineVersion>> line_history(const std::string& number) = 0;

  // Adds a card with its first state row and opening ledger entries (AlreadyExists if the
  // number is taken).
  virtual Status add_card(const Card& card, const std::vector<LedgerEntry>& opening,
                          const WriteContext& context) = 0;
  virtual Result<std::optional<CardState>> find_card(const std::string& number) = 0;
  // Appends a card state row when the current version equals `expected_version`, else fails
  // with FailedPrecondition so the caller can reread and retry.
  virtual Result<CardState> append_card_state(const std::string& number, CardStatus status,
                                              std::int32_t failed_pin_attempts,
                                              std::int64_t expected_version,
                                              const std::string& reason,
                                              const WriteContext& context) = 0;
  // Returns the card's funds, with the hold and debits of `call_id` when it is not empty.
  virtual Result<CardFunds> card_funds(const std::string& number, const std::string& call_id) = 0;
  // Appends `entries` atomically. With `require_available` the append fails with
  // ResourceExhausted, changing nothing, when available funds would drop below zero; this is
  // what makes concurrent holds on one card safe. With an idempotency key a repeat returns the
  // first result and appends nothing. An entry with covered_until at or before the call's
  // last_debit_covered_until fails with InvalidArgument, changing nothing. A hold for a call
  // whose earlier hold is still open fails with AlreadyExists, changing nothing, unless
  // `entries` release that hold first, so a call never holds a card's funds twice.
  virtual Result<CardFunds> append_ledger(const std::string& number,
                                          const std::vector<LedgerEntry>& entries,
                                          bool require_available,
                                          const std::optional<IdempotencyKey>& key,
                                          const WriteContext& context) = 0;

  // Appends an interim debit's `entries` as append_ledger does without require_available, but
  // only while the call's held_for_call and debited_for_call still equal those in `expected`,
  // the funds the entries were computed from. Otherwise it fails with Unavailable, changing
  // nothing, and the caller rereads and retries. A repeat of `key` returns the first result.
  virtual Result<CardFunds> append_interim_debit(const std::string& number,
                                                 const std::vector<LedgerEntry>& entries,
                                                 const CardFunds& expected,
                                                 const IdempotencyKey& key,
                                                 const WriteContext& context) = 0;

  // Records the billed line's payment of `amount` (positive) against a postpaid card's
  // charges in one write transaction. A payment entry in the card ledger gives that much of
  // the credit limit back, and journal `journal_id` moves the amount from the line's
  // receivable to "cash". The amount may not exceed what the card owes against its limit (its
  // credit entries minus its balance). That is checked inside the transaction, so two payments
  // cannot together lift the card above its limit. FailedPrecondition for a larger amount, a
  // prepaid card or a postpaid card with no limit, and NotFound for an unknown card. A repeat
  // of `key` returns the first result and writes nothing.
  virtual Result<CardFunds> append_card_payment(const std::string& number, Money amount,
                                                const std::string& journal_id,
                                                const IdempotencyKey& key,
                                                const WriteContext& context) = 0;

  // Pays out the free funds (balance less open holds) of a closed prepaid card in one write
  // transaction: a refund entry with no call and minus that amount. FailedPrecondition for an
  // open or postpaid card and for a card with no free funds, NotFound for an unknown card. A
  // repeat of `key` returns the first refund and writes nothing.
  virtual Result<CardRefund> append_card_refund(const std::string& number,
                                                const std::optional<IdempotencyKey>& key,
                                                const WriteContext& context) = 0;

  virtual Status create_call(const CallRequest& request, const WriteContext& context) = 0;
  // Stores `request` as create_call does, with the quote that `quote` returns for the rate
  // deck in effect on `local_date` (see rate_deck_in_effect), in one write transaction. The
  // deck is chosen once the write lock is held, so a deck that another connection stores
  // meanwhile either committed before the choice, and `quote` receives it, or waits until the
  // call is stored. `quote` may read the deck's text with find_rate_deck on this store. When
  // `quote` returns an error, nothing is stored and that error is returned. Returns the stored
  // quote.
  using DeckQuote = std::function<Result<std::optional<CallQuote>>(
      const std::optional<RateDeckHeader>& in_effect)>;
  virtual Result<std::optional<CallQuote>> create_quoted_call(const CallRequest& request,
                                                              std::string_view local_date,
                                                              const DeckQuote& quote,
                                                              const WriteContext& context) = 0;
  // Appends `event` to the call, with an audit entry, in one write transaction. NotFound when
  // the call does not exist. A psap-acknowledged event whose call already has one from the same
  // PSAP route (accepted_by) is not stored again, and AlreadyExists is returned.
  virtual Status append_call_event(const std::string& call_id, const CallEventRecord& event) = 0;
  // Appends `event` as append_call_event does and stores `response` under its key, audited, in
  // the same write transaction. FailedPrecondition, storing neither, when the key is already
  // stored in any scope.
  virtual Status append_call_event_with_response(const std::string& call_id,
                                                 const CallEventRecord& event,
                                                 const StoredResponse& response) = 0;
  // Stores `request` as create_call does, with its requested event at context.at and `refused`,
  // in one write transaction, so a refused call is never stored without its refusal.
  virtual Status create_refused_call(const CallRequest& request, const CallEventRecord& refused,
                                     const WriteContext& context) = 0;
  // Returns the call with its events and posting. A postpaid card call's billed_number is the
  // card's billed line (see CallRequest::billed_number).
  virtual Result<std::optional<CallRecord>> find_call(const std::string& call_id) = 0;
  // Returns the id of the call whose CallRequest::request_key is `key`, or nullopt when no
  // call has it (always for an empty key, and before schema 17).
  virtual Result<std::optional<std::string>> find_call_id_by_request_key(
      const std::string& key) = 0;
  // Returns every call that has no posting yet, with its events, in call id order. Emergency
  // calls and calls that ended before they connected are included.
  virtual Result<std::vector<CallRecord>> list_unposted_calls() = 0;
  // Posts a completed call at most once, in one transaction: its disconnected event (unless
  // the call already has one at the same instant), its charge lines and its card ledger
  // entries. A repeat with the same key returns the stored posting and writes nothing; a
  // different request under the same key, or a different disconnect instant, fails with
  // AlreadyExists; a second posting of the call under another key fails with
  // FailedPrecondition. When the call's card funds no longer match `expected_funds`, so the
  // entries were computed from a stale read, it fails with Unavailable and the caller retries.
  struct PostingRequest {
    CallPosting posting;
    std::optional<CallEventRecord> disconnect;
    std::string card_number;  // empty when no card is settled
    std::vector<LedgerEntry> card_entries;
    CardFunds expected_funds;  // held_for_call and debited_for_call the entries assume
  };
  virtual Result<CallPosting> post_call(const PostingRequest& request, const IdempotencyKey& key,
                                        const WriteContext& context) = 0;
  // Posts many completed calls in one transaction (bulk import, benchmarks). Each element is
  // handled as post_call would; the first failure rolls back the whole batch.
  struct BatchPosting {
    CallRequest request;
    std::vector<CallEventRecord> events;
    CallPosting posting;
    IdempotencyKey key;
  };
  virtual Status post_completed_calls(const std::vector<BatchPosting>& batch,
                                      const WriteContext& context) = 0;

  // ---- Read-only queries for reports and plan advice ----

  // Returns how many calls were requested in [from, to).
  virtual Result<std::int64_t> count_calls_requested(Instant from, Instant to) = 0;
  // Calls `visit` once per call requested in [from, to), in order of that instant, and stops
  // early when `visit` returns false.
  virtual Status scan_calls_requested(Instant from, Instant to,
                                      const std::function<bool(const CallFact&)>& visit) = 0;
  // Returns the ids of calls requested in [from, to) that `number` made or was billed for
  // (calling number, billed number, or billed line of the postpaid card used), oldest first.
  virtual Result<std::vector<std::string>> call_ids_of_line(const std::string& number, Instant from,
                                                            Instant to) = 0;
  // Returns the ids of the posted calls charged to card `card_number`, in call id order. From
  // schema 15 the calls are found through calls_by_card_number, so no other call is read.
  virtual Result<std::vector<std::string>> posted_call_ids_of_card(
      const std::string& card_number) = 0;

  // ---- Billing operations: credits, disputes, the journal and the audit checks ----

  // Appends a credit on one charge line in one write transaction. The amount is checked inside
  // that transaction against the charge minus earlier pending and applied credits, so
  // concurrent requests cannot together exceed the charge (FailedPrecondition otherwise). A
  // repeat with the same key returns the first credit and writes nothing. A credit at or below
  // request.approval_above is applied at once: journal entries, and a refund entry for a card.
  virtual Result<CreditRecord> request_credit(const CreditRequest& request,
                                              const IdempotencyKey& key,
                                              const WriteContext& context) = 0;
  // Approves (applies) or rejects a pending credit; FailedPrecondition when already decided.
  virtual Result<CreditRecord> decide_credit(const std::string& credit_id, bool approve,
                                             const std::string& note,
                                             const WriteContext& context) = 0;
  virtual Result<std::optional<CreditRecord>> find_credit(const std::string& credit_id) = 0;
  // Credits of one call, or of every call when `call_id` is empty, in request order.
  virtual Result<std::vector<CreditRecord>> list_credits(const std::string& call_id) = 0;
  // The charge of a line minus its pending and applied credits.
  virtual Result<Money> credit_remaining(const std::string& call_id, std::int64_t line_no) = 0;

  virtual Result<Dispute> open_dispute(const DisputeOpenRequest& request, const IdempotencyKey& key,
                                       const WriteContext& context) = 0;
  // Appends a note, investigation, escalation or resolution. Adjusted needs `adjustment`, a
  // credit appended in the same transaction. A resolved dispute rejects every further step
  // with FailedPrecondition, except a repeat of its resolution (the same action, and for an
  // adjustment the same line, reason and amount), which returns the dispute unchanged.
  virtual Result<Dispute> append_dispute_step(const std::string& dispute_id, DisputeAction action,
                                              const std::string& note,
                                              const std::optional<CreditRequest>& adjustment,
                                              const WriteContext& context) = 0;
  virtual Result<std::optional<Dispute>> find_dispute(const std::string& dispute_id) = 0;
  virtual Result<std::vector<Dispute>> list_disputes() = 0;

  // Sums the journal and names every journal whose entries do not sum to zero.
  virtual Result<JournalCheck> check_journal() = 0;
  virtual Result<std::vector<AccountBalance>> account_balances() = 0;
  // Compares one UTC day's call totals, charge lines, credits and journal entries.
  virtual Result<Reconciliation> reconcile_day(const std::string& date) = 0;
  // Checks every audit entry's hash against its content and its predecessor. Returns the
  // number of entries checked, or Corrupt naming the first bad one.
  virtual Result<std::int64_t> verify_audit_chain() = 0;
  // Compares every appended row with the hash recorded for it (billing/record_chain.hpp).
  virtual Result<RecordCheck> verify_records() = 0;
};

// Names used in storage, the command line and CSV files.
std::string_view to_string(LineType type);
std::string_view to_string(Screening screening);
std::string_view to_string(CardStatus status);
std::string_view to_string(CardFunding funding);
std::string_view to_string(LedgerKind kind);
std::string_view to_string(CallEvent event);
std::string_view to_string(AcceptanceMethod method);
std::optional<LineType> parse_line_type(std::string_view name);
std::optional<Screening> parse_screening(std::string_view name);
std::optional<CardStatus> parse_card_status(std::string_view name);
std::optional<CardFunding> parse_card_funding(std::string_view name);
std::optional<LedgerKind> parse_ledger_kind(std::string_view name);
std::optional<CallEvent> parse_call_event(std::string_view name);
std::optional<AcceptanceMethod> parse_acceptance_method(std::string_view name);

// ISO 8601 UTC text ("2026-03-10T14:00:00Z") for an instant, and back. parse_instant accepts
// YYYY-MM-DDTHH:MM[:SS] with "Z" or an offset from -12:00 to +14:00
// ("2026-03-10T09:00:00-05:00"). It rejects text without an offset, dates that are not on the
// calendar (2026-02-30), hour 24, and minute or offset minutes 60. Second 60 is accepted only
// as the leap second 23:59:60 UTC on 30 June or 31 December, which it reads as 23:59:59.
std::string format_instant(Instant instant);
Result<Instant> parse_instant(std::string_view text);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace relaygw::billing
