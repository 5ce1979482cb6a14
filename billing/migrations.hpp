// Versioned schema migrations for the SQLite store. Version n is reached by applying every
// migration up to n in order, each in its own transaction, and recording it in the
// schema_version table. A database newer than this program is rejected, never downgraded.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

struct sqlite3;

namespace relaygw::billing {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
  // A step in C++ run after `sql` in the same transaction, for conversions SQL cannot do
  // (hashing rows with OpenSSL). Null when the migration is SQL only.
  Status (*convert)(sqlite3* db) = nullptr;
};

// First schema version with the rate_deck_files table.
constexpr int kRateDeckFilesSchema = 8;

// First schema version with the calls.psap_route column.
constexpr int kCallPsapRouteSchema = 9;

// First schema version with card_ledger.covered_until and call_events.reason_code and
// reason_message.
constexpr int kDebitInstantSchema = 10;

// First schema version with calls.quote_deck_sha256 and quote_total.
constexpr int kCallQuoteSchema = 12;

// First schema version with the call_number_corrections table.
constexpr int kCallNumberCorrectionsSchema = 13;

// First schema version whose journal contains the top-ups and balance refunds of prepaid cards.
constexpr int kCardMoneyJournalSchema = 14;

// First schema version with calls.request_key and request_hash, and call_events.hold_amount
// and hold_max_seconds.
constexpr int kCallRequestKeySchema = 17;

// Actor of the rows and audit entries that a migration appends.
inline constexpr std::string_view kMigrationActor = "migration";

// Migration 11. Before postpaid card charges were posted to the billed line's receivable,
// their calls and credits were posted to the card's "card:N" account. This appends journal
// "reclass:JOURNAL" for each journal with a nonzero amount on a postpaid card's account: a
// reversal in card:N and the same amount on "receivable:LINE". The rows are dated `at`, carry
// actor kMigrationActor and are recorded in the audit chain, and old rows are never changed.
// A journal that already has its reclass journal is skipped, so a second run appends nothing.
// Runs in the caller's transaction.
Status reclassify_postpaid_card_entries(sqlite3* db, std::chrono::sys_seconds at);

// A stored call number that does not normalize and stays as it was stored.
struct UnnormalizedNumber {
  std::string call_id;
  std::string column;  // from_number, to_number or billed_number
  std::string number;
};

// Outcome of correct_call_numbers.
struct CallNumberRewrite {
  std::int64_t calls_corrected = 0;         // calls given a call_number_corrections row
  std::int64_t numbers_not_normalized = 0;  // numbers left as stored
  std::vector<UnnormalizedNumber> not_normalized;  // the first 20 of them
};

// Migration 13. Calls stored before schema 12 by `call create` kept their numbers as staff
// typed them (3125550142, 1-312-555-0142), so lookups by E.164 missed them. This appends one
// call_number_corrections row for each call with a number that normalizes to a different text.
// The calling and called numbers are normalized by e164_form and the billed number by
// normalize_line_number. An emergency call keeps its dialed number and normalizes its calling
// number by normalize_line_number. A number that does not normalize stays as stored and is counted. The
// rows are dated `at`, carry actor kMigrationActor and are recorded in the audit chain, with
// the counts in the payload of the audit row with action "correct-numbers" (written only when a
// count is not zero). Calls that already have a correction are skipped, so a second run
// appends nothing. Runs in the caller's transaction.
Result<CallNumberRewrite> correct_call_numbers(sqlite3* db, std::chrono::sys_seconds at);

// Returns the counts that the last correct_call_numbers run recorded, or nullopt when it
// recorded none.
Result<std::optional<CallNumberRewrite>> read_call_number_rewrite(sqlite3* db);

// Outcome of backfill_journals.
struct JournalBackfill {
  std::int64_t card_topups = 0;          // "card-topup:SEQ" journals appended
  std::int64_t card_refunds = 0;         // "card-refund:SEQ" journals appended
  std::int64_t receivable_journals = 0;  // "reclass:e164:JOURNAL" journals appended
};

// Migration 14, in two steps that each skip what already has its journal, so a second run
// appends nothing:
// 1. Each card_ledger top-up (a credit with no call, including an opening balance) and each
//    balance refund (a refund with no call) of a prepaid card gets the journal that `card fund`,
//    `card add` and `card refund` post since schema 14. "card-topup:SEQ" debits "cash" and
//    credits "card:NUMBER", and "card-refund:SEQ" does the reverse. The rows are dated at the
//    ledger row's instant.
// 2. Each journal with a nonzero amount on the receivable of a call's number as stored before
//    schema 12 ("receivable:3125550142"), where migration 13 gave the call an E.164 correction,
//    gets journal "reclass:e164:JOURNAL" dated `at`: a reversal on the typed account and the
//    same amount on the E.164 account ("receivable:+13125550142").
// Rows carry actor kMigrationActor and are recorded in the audit chain, with the counts in the
// payload of the audit row with entity "journal" and action "backfill" (written only when a
// count is not zero). Old rows are never changed. Runs in the caller's transaction.
Result<JournalBackfill> backfill_journals(sqlite3* db, std::chrono::sys_seconds at);

// Returns the counts that the last backfill_journals run recorded, or nullopt when it recorded
// none.
Result<std::optional<JournalBackfill>> read_journal_backfill(sqlite3* db);

// Migration 16. A postpaid card added before `card add` normalized --billed-line may store its
// line as typed ("4155550108"), and its calls, credits and payments were journaled on
// "receivable:" and that text. For each such line that normalizes, each journal with a nonzero
// amount on the typed account gets journal "reclass:e164:JOURNAL" dated `at`. It reverses the
// amount on the typed account and posts it to the E.164 account ("receivable:+14155550108"),
// which card_line_receivable_account names for new journals. Rows carry actor
// kMigrationActor and are recorded in the audit chain, with the count in the payload of the
// audit row with entity "journal" and action "reclassify-card-lines" (written only when it is
// not zero). A journal already moved for that account is skipped, so a second run appends
// nothing. Returns the number of journals appended. Runs in the caller's transaction.
Result<std::int64_t> reclassify_card_line_receivables(sqlite3* db, std::chrono::sys_seconds at);

// All migrations in version order.
const std::vector<Migration>& migrations();

// The highest schema version this program knows.
int latest_schema_version();

// Brings the open database `db` up to `target_version` (latest when 0). Fails with
// FailedPrecondition, changing nothing, when the database is already at a higher version
// than this program knows.
Result<int> migrate(sqlite3* db, int target_version);

}  // namespace relaygw::billing
