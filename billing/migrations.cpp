#include "billing/migrations.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include "billing/detail/sqlite_error.hpp"
#include "billing/directory.hpp"
#include "billing/ledger.hpp"
#include "billing/numbering.hpp"
#include "billing/record_chain.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {
namespace {

// Tables are append-only: a change is a new row that names the row it supersedes. Every
// write also appends to audit_log, whose row_hash covers the previous row's hash.
constexpr std::string_view kCoreTables = R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  entity TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  action TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  row_hash TEXT NOT NULL
);
CREATE TABLE idempotency_keys (
  key TEXT PRIMARY KEY,
  scope TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  result TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE line_versions (
  number TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  supersedes_version INTEGER,
  listing_name TEXT NOT NULL,
  line_type TEXT NOT NULL,
  screening TEXT NOT NULL,
  state TEXT NOT NULL,
  rate_center TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  pic TEXT NOT NULL,
  is_tty INTEGER NOT NULL,
  tty_discount_eligible INTEGER NOT NULL,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (number, version),
  FOREIGN KEY (number, supersedes_version) REFERENCES line_versions (number, version)
);
CREATE TABLE cards (
  number TEXT PRIMARY KEY,
  funding TEXT NOT NULL,
  billed_line TEXT NOT NULL,
  pin_salt TEXT NOT NULL,
  pin_iterations INTEGER NOT NULL CHECK (pin_iterations > 0),
  pin_hash TEXT NOT NULL,
  max_pin_attempts INTEGER NOT NULL CHECK (max_pin_attempts > 0),
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE card_states (
  number TEXT NOT NULL REFERENCES cards (number),
  version INTEGER NOT NULL CHECK (version >= 1),
  status TEXT NOT NULL,
  failed_pin_attempts INTEGER NOT NULL CHECK (failed_pin_attempts >= 0),
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (number, version)
);
CREATE TABLE card_ledger (
  seq INTEGER PRIMARY KEY,
  number TEXT NOT NULL REFERENCES cards (number),
  kind TEXT NOT NULL,
  amount INTEGER NOT NULL,
  call_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX card_ledger_by_card_call ON card_ledger (number, call_id);
)sql";

constexpr std::string_view kCallTables = R"sql(
CREATE TABLE calls (
  id TEXT PRIMARY KEY,
  from_number TEXT NOT NULL,
  to_number TEXT NOT NULL,
  billing TEXT NOT NULL,
  access TEXT NOT NULL,
  handling TEXT NOT NULL,
  billed_number TEXT NOT NULL,
  card_number TEXT NOT NULL,
  requested_person TEXT NOT NULL,
  emergency INTEGER NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE call_events (
  seq INTEGER PRIMARY KEY,
  call_id TEXT NOT NULL REFERENCES calls (id),
  event TEXT NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  acceptance_method TEXT,
  accepted_by TEXT
);
CREATE INDEX call_events_by_call ON call_events (call_id);
CREATE TABLE call_postings (
  call_id TEXT PRIMARY KEY REFERENCES calls (id),
  total INTEGER NOT NULL,
  billable_seconds INTEGER CHECK (billable_seconds >= 0),
  person_reached INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE charge_lines (
  call_id TEXT NOT NULL REFERENCES call_postings (call_id),
  line_no INTEGER NOT NULL,
  kind TEXT NOT NULL,
  description TEXT NOT NULL,
  amount INTEGER NOT NULL,
  PRIMARY KEY (call_id, line_no)
);
)sql";

constexpr std::string_view kRateDeckTable = R"sql(
CREATE TABLE rate_decks (
  seq INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  text TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  effective_from TEXT,
  effective_to TEXT,
  source_path TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
)sql";

Status exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  if (code != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return detail::sqlite_failure(db, code, "SQLite statement failed", message);
  }
  return Status::ok();
}

Result<int> current_version(sqlite3* db) {
  Status created = exec(db,
                        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                        "description TEXT NOT NULL, applied_at TEXT NOT NULL)");
  if (!created) {
    return created;
  }
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &statement,
                         nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot read schema_version: ") + sqlite3_errmsg(db));
  }
  int version = 0;
  if (sqlite3_step(statement) == SQLITE_ROW) {
    version = sqlite3_column_int(statement, 0);
  }
  sqlite3_finalize(statement);
  return version;
}

// Session time (request to hangup) and conversation time (answer to hangup) of each posted
// call, so relay minutes can be reported without recomputing them. NULL means the instant
// was missing, for example an unanswered call has no conversation time.
constexpr std::string_view kPostingDurations = R"sql(
ALTER TABLE call_postings ADD COLUMN session_seconds INTEGER CHECK (session_seconds >= 0);
ALTER TABLE call_postings ADD COLUMN conversation_seconds INTEGER
  CHECK (conversation_seconds >= 0);
)sql";

// Indexes for reports and plan advice: calls by the instant they were requested (the
// covering index lets a month of a busy center be read in index order) and calls by line.
constexpr std::string_view kReportIndexes = R"sql(
CREATE INDEX call_events_by_event_time ON call_events (event, at, call_id);
CREATE INDEX calls_by_from_number ON calls (from_number);
CREATE INDEX calls_by_billed_number ON calls (billed_number);
)sql";

// Billing operations (schema 5). Every table is append-only like the core tables.
//
// credits: one credit or refund request on one charge line, with its reason ("misdialed",
//   "dropped-call", "bad-connection", "duplicate-charge", "rating-error" or "other" with staff
//   text), amount in units (positive), the policy rule that set it ("manual", "dropped-call",
//   "re-rate", "wrong-number") and the dispute it resolves, if any.
// credit_decisions: the state changes of a credit, appended in order: "pending" (waiting for a
//   supervisor), "applied" (posted to the journal) or "rejected". The last row is the state.
// disputes: a dispute on a call, or on one charge line when line_no is set, with the
//   customer's account of it and the instant it is due.
// dispute_steps: every step of a dispute in order: opened, note, investigated, escalated,
//   adjusted (resolved with the credit in credit_id) or denied. state is the state after the
//   step: open, escalated or resolved.
// journal_entries: the double-entry general ledger. Every call posting and every applied
//   credit is one journal (journal_id "call:ID" or "credit:ID") whose entries sum to zero.
//   amount is in units, debit positive and credit negative. Accounts: "receivable:+1..." (a
//   line owner), "card:DIGITS" (a calling card), "revenue:usage", "revenue:surcharge",
//   "revenue:fee", "revenue:discount", "taxes-payable" and "credits:REASON".
// record_chain: a copy of every row inserted into the billing tables, hashed by triggers.
//   Migration 7 replaces it with hashes in audit_log (see billing/record_chain.hpp).
constexpr std::string_view kOperationsTables = R"sql(
CREATE TABLE credits (
  id TEXT PRIMARY KEY,
  call_id TEXT NOT NULL REFERENCES call_postings (call_id),
  line_no INTEGER NOT NULL,
  reason TEXT NOT NULL,
  reason_text TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  rule TEXT NOT NULL,
  dispute_id TEXT,
  idempotency_key TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  FOREIGN KEY (call_id, line_no) REFERENCES charge_lines (call_id, line_no)
);
CREATE INDEX credits_by_line ON credits (call_id, line_no);
CREATE TABLE credit_decisions (
  seq INTEGER PRIMARY KEY,
  credit_id TEXT NOT NULL REFERENCES credits (id),
  state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'rejected')),
  note TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX credit_decisions_by_credit ON credit_decisions (credit_id);
CREATE TABLE disputes (
  id TEXT PRIMARY KEY,
  call_id TEXT NOT NULL REFERENCES calls (id),
  line_no INTEGER,
  customer_account TEXT NOT NULL,
  due_at TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE dispute_steps (
  seq INTEGER PRIMARY KEY,
  dispute_id TEXT NOT NULL REFERENCES disputes (id),
  action TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'escalated', 'resolved')),
  note TEXT NOT NULL,
  credit_id TEXT REFERENCES credits (id),
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX dispute_steps_by_dispute ON dispute_steps (dispute_id);
CREATE TABLE journal_entries (
  seq INTEGER PRIMARY KEY,
  journal_id TEXT NOT NULL,
  account TEXT NOT NULL,
  amount INTEGER NOT NULL,
  call_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX journal_entries_by_journal ON journal_entries (journal_id);
CREATE INDEX journal_entries_by_account ON journal_entries (account);
CREATE INDEX journal_entries_by_at ON journal_entries (at);
INSERT INTO journal_entries (journal_id, account, amount, call_id, actor, at)
SELECT 'call:' || p.call_id,
       CASE WHEN c.card_number <> '' THEN 'card:' || c.card_number
            ELSE 'receivable:' || c.billed_number END,
       p.total, p.call_id, p.actor, p.at
FROM call_postings p JOIN calls c ON c.id = p.call_id WHERE p.total <> 0 ORDER BY p.rowid;
INSERT INTO journal_entries (journal_id, account, amount, call_id, actor, at)
SELECT 'call:' || l.call_id,
       CASE l.kind WHEN 'tax' THEN 'taxes-payable' ELSE 'revenue:' || l.kind END,
       -l.amount, l.call_id, p.actor, p.at
FROM charge_lines l JOIN call_postings p ON p.call_id = l.call_id
WHERE l.amount <> 0 ORDER BY l.rowid;
)sql";

// Schema 7 drops two journal indexes that every posting maintained but no query used. Reports
// filter journal entries with LIKE on the instant, which SQLite cannot serve from an index
// under its default case-insensitive LIKE, and account balances scan the whole journal.
constexpr std::string_view kJournalIndexCut = R"sql(
DROP INDEX IF EXISTS journal_entries_by_account;
DROP INDEX IF EXISTS journal_entries_by_at;
)sql";

// Schema 8: the files of each stored rate deck. rate_decks.text stays the deck that is rated;
// for a deck read from a folder it is the files merged into one TOML document.
constexpr std::string_view kRateDeckFiles = R"sql(
CREATE TABLE rate_deck_files (
  deck_seq INTEGER NOT NULL REFERENCES rate_decks (seq),
  file_no INTEGER NOT NULL CHECK (file_no >= 1),
  name TEXT NOT NULL,
  text TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (deck_seq, file_no)
);
)sql";

// Schema 9: the PSAP route that answered an emergency call, NULL for every other call. Calls
// stored before schema 9 keep NULL, so an emergency call from then shows no route.
constexpr std::string_view kCallPsapRoute = R"sql(
ALTER TABLE calls ADD COLUMN psap_route TEXT;
)sql";

// Schema 10: the conversation instant each interim card debit covers up to, and the reason a
// call was refused. Rows stored before schema 10 keep NULL: their debits have no instant, and a
// call refused then has no refused event at all.
constexpr std::string_view kDebitInstantsAndRefusals = R"sql(
ALTER TABLE card_ledger ADD COLUMN covered_until TEXT;
ALTER TABLE call_events ADD COLUMN reason_code TEXT;
ALTER TABLE call_events ADD COLUMN reason_message TEXT;
)sql";

// Schema 12: the quote a call was stored with, the SHA-256 of the rate deck current then and
// the total of a one-minute answered call under it, in units. Calls stored before schema 12,
// emergency calls and calls stored without a rater keep NULL.
constexpr std::string_view kCallQuote = R"sql(
ALTER TABLE calls ADD COLUMN quote_deck_sha256 TEXT;
ALTER TABLE calls ADD COLUMN quote_total INTEGER;
)sql";

// Schema 13: the numbers of a call stored before schema 12 in the E.164 form that `call create`
// stores now. A call row is never changed, so each corrected call gets one row here with all
// three numbers as they are to be read (unchanged ones copied), and readers take these in place
// of the call's own columns. The indexes serve lookups by line.
constexpr std::string_view kCallNumberCorrections = R"sql(
CREATE TABLE call_number_corrections (
  seq INTEGER PRIMARY KEY,
  call_id TEXT NOT NULL UNIQUE REFERENCES calls (id),
  from_number TEXT NOT NULL,
  to_number TEXT NOT NULL,
  billed_number TEXT NOT NULL,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX call_number_corrections_by_from_number ON call_number_corrections (from_number);
CREATE INDEX call_number_corrections_by_billed_number ON call_number_corrections (billed_number);
)sql";

// Schema 15: fewer index entries per posted call. Of a call's lifecycle events only the
// "requested" one is read by time, so the time index keeps only those, three or more entries
// fewer per call. It keeps the event column, so the reports still read it as a covering index. Sent-paid
// calls store an empty billed number and calls without a calling card an empty card number,
// and no query looks those up, so these indexes skip the empty values. The card index is new:
// it lets the lookup of a line's calls find its postpaid card calls without a scan of calls.
constexpr std::string_view kPartialCallIndexes = R"sql(
DROP INDEX IF EXISTS call_events_by_event_time;
CREATE INDEX call_events_requested_by_time ON call_events (event, at, call_id)
  WHERE event = 'requested';
DROP INDEX IF EXISTS calls_by_billed_number;
CREATE INDEX calls_by_billed_number ON calls (billed_number) WHERE billed_number <> '';
CREATE INDEX calls_by_card_number ON calls (card_number) WHERE card_number <> '';
)sql";

// Schema 17: what a retried call.request needs after a gateway restart. request_key is the
// idempotency key of the request that created the call, and request_hash the SHA-256 of that
// request's fields, which distinguishes a retry under the same key from a different request. The
// unique index finds the call of a key and keeps one call per key. hold_amount (units) and
// hold_max_seconds are set on the authorized event of a card call whose funds were held, so
// the repeated authorization names the hold. Earlier rows keep NULL.
constexpr std::string_view kCallRequestKeys = R"sql(
ALTER TABLE calls ADD COLUMN request_key TEXT;
ALTER TABLE calls ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX calls_by_request_key ON calls (request_key) WHERE request_key IS NOT NULL;
ALTER TABLE call_events ADD COLUMN hold_amount INTEGER CHECK (hold_amount >= 0);
ALTER TABLE call_events ADD COLUMN hold_max_seconds INTEGER CHECK (hold_max_seconds >= 0);
)sql";

// Gives every deck stored before schema 8 its one file, named after the deck's source path,
// and records the new rows in the audit chain.
Status add_rate_deck_files(sqlite3* db) {
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "SELECT seq, text, source_path FROM rate_decks ORDER BY seq", -1, &select,
                     nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO rate_deck_files (deck_seq, file_no, name, text, sha256) "
                     "VALUES (?, 1, ?, ?, ?)",
                     -1, &insert, nullptr);
  std::string records;
  std::int64_t decks = 0;
  Status status = Status::ok();
  if (select == nullptr || insert == nullptr) {
    status = Status(StatusCode::Internal,
                    std::string("cannot prepare the rate deck file copy: ") + sqlite3_errmsg(db));
  }
  while (status && sqlite3_step(select) == SQLITE_ROW) {
    const std::int64_t seq = sqlite3_column_int64(select, 0);
    const auto* text_bytes = reinterpret_cast<const char*>(sqlite3_column_text(select, 1));
    const std::string text(text_bytes != nullptr ? text_bytes : "",
                           static_cast<std::size_t>(sqlite3_column_bytes(select, 1)));
    const auto* source = reinterpret_cast<const char*>(sqlite3_column_text(select, 2));
    const std::string name =
        std::filesystem::path(source != nullptr ? source : "").filename().string();
    const std::string hash = sha256_hex(text);
    sqlite3_reset(insert);
    sqlite3_bind_int64(insert, 1, seq);
    sqlite3_bind_text(insert, 2, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 3, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 4, hash.c_str(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(insert) != SQLITE_DONE) {
      status = Status(StatusCode::Internal,
                      std::string("cannot copy a rate deck's file: ") + sqlite3_errmsg(db));
      break;
    }
    std::string canonical;
    append_canonical_integer(canonical, seq);
    append_canonical_integer(canonical, 1);
    append_canonical_text(canonical, name);
    append_canonical_text(canonical, text);
    append_canonical_text(canonical, hash);
    append_record_entry(records, ChainedTableId::RateDeckFiles, sqlite3_last_insert_rowid(db),
                        canonical);
    ++decks;
  }
  sqlite3_finalize(select);
  sqlite3_finalize(insert);
  if (status && decks > 0) {
    status = append_audit_row(db, "relaygw:migration-8", "rate_deck_files", "", "convert",
                              "{\"decks\":" + std::to_string(decks) + "}", records);
  }
  return status;
}

// Reads column `column` of the current row of `statement` as text ("" for NULL).
std::string column_text(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  return std::string(text != nullptr ? text : "",
                     static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
}

// One postpaid card's net amount in one journal, which earlier versions posted to "card:N".
struct MisplacedCardAmount {
  std::string journal_id;
  std::string call_id;
  std::string card_account;
  std::string billed_line;
  std::int64_t amount = 0;
};

Result<std::vector<MisplacedCardAmount>> find_misplaced_card_amounts(sqlite3* db) {
  // A journal already reclassified has a "reclass:" journal, so a second run finds nothing.
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(
          db,
          "SELECT e.journal_id, MIN(e.call_id), e.account, k.billed_line, SUM(e.amount) "
          "FROM journal_entries e JOIN cards k ON k.number = substr(e.account, 6) "
          "WHERE e.account LIKE 'card:%' AND k.funding = 'postpaid' AND k.billed_line <> '' "
          "AND e.journal_id NOT LIKE 'reclass:%' AND NOT EXISTS (SELECT 1 FROM journal_entries "
          "r WHERE r.journal_id = 'reclass:' || e.journal_id) "
          "GROUP BY e.journal_id, e.account HAVING SUM(e.amount) <> 0 ORDER BY MIN(e.seq)",
          -1, &select, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal, std::string("cannot read postpaid card journal entries: ") +
                                            sqlite3_errmsg(db));
  }
  std::vector<MisplacedCardAmount> found;
  int code = SQLITE_ROW;
  while ((code = sqlite3_step(select)) == SQLITE_ROW) {
    found.push_back({column_text(select, 0), column_text(select, 1), column_text(select, 2),
                     column_text(select, 3), sqlite3_column_int64(select, 4)});
  }
  sqlite3_finalize(select);
  if (code != SQLITE_DONE) {
    return Status(StatusCode::Internal, std::string("cannot read postpaid card journal entries: ") +
                                            sqlite3_errmsg(db));
  }
  return found;
}

// One journal row that a migration appends as kMigrationActor.
struct JournalRow {
  std::string journal_id;
  std::string account;
  std::int64_t amount = 0;
  std::string call_id;
  std::string at;
};

// Inserts `row` with the prepared INSERT `insert` and adds its record chain entry to `records`.
Status insert_journal_row(sqlite3* db, sqlite3_stmt* insert, const JournalRow& row,
                          std::string& records) {
  sqlite3_reset(insert);
  sqlite3_bind_text(insert, 1, row.journal_id.c_str(), static_cast<int>(row.journal_id.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(insert, 2, row.account.c_str(), static_cast<int>(row.account.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(insert, 3, row.amount);
  sqlite3_bind_text(insert, 4, row.call_id.c_str(), static_cast<int>(row.call_id.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(insert, 5, kMigrationActor.data(), static_cast<int>(kMigrationActor.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(insert, 6, row.at.c_str(), static_cast<int>(row.at.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(insert) != SQLITE_DONE) {
    return Status(StatusCode::Internal,
                  std::string("cannot append a journal reclassification: ") + sqlite3_errmsg(db));
  }
  std::string canonical;
  append_canonical_text(canonical, row.journal_id);
  append_canonical_text(canonical, row.account);
  append_canonical_integer(canonical, row.amount);
  append_canonical_text(canonical, row.call_id);
  append_canonical_text(canonical, kMigrationActor);
  append_canonical_text(canonical, row.at);
  append_record_entry(records, ChainedTableId::JournalEntries, sqlite3_last_insert_rowid(db),
                      canonical);
  return Status::ok();
}

}  // namespace

Status reclassify_postpaid_card_entries(sqlite3* db, Instant at) {
  Result<std::vector<MisplacedCardAmount>> found = find_misplaced_card_amounts(db);
  if (!found) {
    return found.status();
  }
  if (found->empty()) {
    return Status::ok();
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO journal_entries (journal_id, account, amount, call_id, "
                         "actor, at) VALUES (?, ?, ?, ?, ?, ?)",
                         -1, &insert, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot prepare the journal reclassification: ") + sqlite3_errmsg(db));
  }

  const std::string when = format_instant(at);
  std::string records;
  Status status = Status::ok();
  for (const MisplacedCardAmount& misplaced : *found) {
    // The reversal takes the amount out of the card account, and the same amount goes to the
    // receivable of the line the card bills, so the new journal sums to zero.
    const JournalRow reversal{"reclass:" + misplaced.journal_id, misplaced.card_account,
                              -misplaced.amount, misplaced.call_id, when};
    JournalRow charge = reversal;
    charge.account = "receivable:" + misplaced.billed_line;
    charge.amount = misplaced.amount;
    status = insert_journal_row(db, insert, reversal, records);
    if (status) {
      status = insert_journal_row(db, insert, charge, records);
    }
    if (!status) {
      break;
    }
  }
  sqlite3_finalize(insert);
  if (!status) {
    return status;
  }
  return append_audit_row(db, kMigrationActor, "journal", "", "reclassify",
                          "{\"journals\":" + std::to_string(found->size()) + "}", records);
}

namespace {

// Records entries per audit row of migration 13, as for migration 7, so no blob grows past
// about 400 KB on a database with millions of calls.
constexpr std::size_t kCorrectionsPerAuditRow = 10'000;

// Examples of numbers that did not normalize kept in the audit payload.
constexpr std::size_t kUnnormalizedExamples = 20;

constexpr std::string_view kCorrectionReason = "E.164 form of a number stored as typed";

// A stored number as its correction reads it, and whether that differs from the stored text.
struct NumberFix {
  std::string value;
  bool changed = false;
};

// Returns `stored` in E.164 form by `normalize` when it normalizes, and records a number that
// does not (other than an empty one) in `rewrite`.
template <typename Normalize>
NumberFix fix_number(const std::string& call_id, std::string_view column,
                     const std::string& stored, Normalize normalize, CallNumberRewrite& rewrite) {
  if (stored.empty()) {
    return {stored, false};
  }
  Result<std::string> e164 = normalize(stored);
  if (!e164) {
    ++rewrite.numbers_not_normalized;
    if (rewrite.not_normalized.size() < kUnnormalizedExamples) {
      rewrite.not_normalized.push_back({call_id, std::string(column), stored});
    }
    return {stored, false};
  }
  return {*e164, *e164 != stored};
}

// The numbers of one call as `call create` stores them since schema 12: the calling and called
// numbers in the number plan's E.164 form, and the billed line by normalize_line_number. An
// emergency call keeps the dialed number as typed and normalizes the calling number as a line.
struct CallNumbers {
  NumberFix from;
  NumberFix to;
  NumberFix billed;
};

CallNumbers normalize_call_numbers(const std::string& call_id, const std::string& from,
                                   const std::string& to, const std::string& billed,
                                   bool emergency, CallNumberRewrite& rewrite) {
  CallNumbers numbers;
  if (emergency) {
    numbers.from = fix_number(call_id, "from_number", from, normalize_line_number, rewrite);
    numbers.to = {to, false};
  } else {
    numbers.from = fix_number(call_id, "from_number", from, e164_form, rewrite);
    numbers.to = fix_number(call_id, "to_number", to, e164_form, rewrite);
  }
  numbers.billed = fix_number(call_id, "billed_number", billed, normalize_line_number, rewrite);
  return numbers;
}

nlohmann::json rewrite_payload(const CallNumberRewrite& rewrite) {
  nlohmann::json examples = nlohmann::json::array();
  for (const UnnormalizedNumber& number : rewrite.not_normalized) {
    examples.push_back(
        {{"call_id", number.call_id}, {"column", number.column}, {"number", number.number}});
  }
  return {{"calls_corrected", rewrite.calls_corrected},
          {"numbers_not_normalized", rewrite.numbers_not_normalized},
          {"not_normalized", examples}};
}

}  // namespace

Result<CallNumberRewrite> correct_call_numbers(sqlite3* db, Instant at) {
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT c.id, c.from_number, c.to_number, c.billed_number, c.emergency "
                     "FROM calls c WHERE NOT EXISTS (SELECT 1 FROM call_number_corrections n "
                     "WHERE n.call_id = c.id) ORDER BY c.rowid",
                     -1, &select, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO call_number_corrections (call_id, from_number, to_number, "
                     "billed_number, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     -1, &insert, nullptr);
  Status status = Status::ok();
  if (select == nullptr || insert == nullptr) {
    status = Status(StatusCode::Internal, std::string("cannot prepare the call number correction: ") +
                                              sqlite3_errmsg(db));
  }

  const std::string when = format_instant(at);
  CallNumberRewrite rewrite;
  std::string records;
  std::int64_t calls_in_records = 0;
  int code = SQLITE_ROW;
  while (status && (code = sqlite3_step(select)) == SQLITE_ROW) {
    const std::string call_id = column_text(select, 0);
    const CallNumbers numbers =
        normalize_call_numbers(call_id, column_text(select, 1), column_text(select, 2),
                               column_text(select, 3), sqlite3_column_int(select, 4) != 0, rewrite);
    if (!numbers.from.changed && !numbers.to.changed && !numbers.billed.changed) {
      continue;
    }
    const std::string_view values[] = {call_id,
                                       numbers.from.value,
                                       numbers.to.value,
                                       numbers.billed.value,
                                       kCorrectionReason,
                                       kMigrationActor,
                                       when};
    sqlite3_reset(insert);
    std::string canonical;
    int index = 1;
    for (std::string_view value : values) {
      sqlite3_bind_text(insert, index++, value.data(), static_cast<int>(value.size()),
                        SQLITE_TRANSIENT);
      append_canonical_text(canonical, value);
    }
    if (sqlite3_step(insert) != SQLITE_DONE) {
      status = Status(StatusCode::Internal, "cannot append the number correction of call '" +
                                                call_id + "': " + sqlite3_errmsg(db));
      break;
    }
    append_record_entry(records, ChainedTableId::CallNumberCorrections,
                        sqlite3_last_insert_rowid(db), canonical);
    ++rewrite.calls_corrected;
    if (++calls_in_records == static_cast<std::int64_t>(kCorrectionsPerAuditRow)) {
      status = append_audit_row(db, kMigrationActor, "calls", "", "correct-numbers-part",
                                nlohmann::json{{"calls_corrected", calls_in_records}}.dump(),
                                records);
      records.clear();
      calls_in_records = 0;
    }
  }
  if (status && code != SQLITE_DONE) {
    status = Status(StatusCode::Internal,
                    std::string("cannot read the numbers of stored calls: ") + sqlite3_errmsg(db));
  }
  sqlite3_finalize(select);
  sqlite3_finalize(insert);
  if (!status) {
    return status;
  }
  if (rewrite.calls_corrected > 0 || rewrite.numbers_not_normalized > 0) {
    status = append_audit_row(db, kMigrationActor, "calls", "", "correct-numbers",
                              rewrite_payload(rewrite).dump(), records);
    if (!status) {
      return status;
    }
  }
  return rewrite;
}

Result<std::optional<CallNumberRewrite>> read_call_number_rewrite(sqlite3* db) {
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT payload FROM audit_log WHERE entity = 'calls' AND "
                         "action = 'correct-numbers' AND actor = ? ORDER BY seq DESC LIMIT 1",
                         -1, &select, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot read the call number correction: ") + sqlite3_errmsg(db));
  }
  sqlite3_bind_text(select, 1, kMigrationActor.data(), static_cast<int>(kMigrationActor.size()),
                    SQLITE_TRANSIENT);
  std::optional<CallNumberRewrite> found;
  if (sqlite3_step(select) == SQLITE_ROW) {
    const nlohmann::json payload = nlohmann::json::parse(column_text(select, 0), nullptr, false);
    if (payload.is_object()) {
      CallNumberRewrite rewrite;
      rewrite.calls_corrected = payload.value("calls_corrected", std::int64_t{0});
      rewrite.numbers_not_normalized = payload.value("numbers_not_normalized", std::int64_t{0});
      for (const nlohmann::json& number : payload.value("not_normalized", nlohmann::json::array())) {
        rewrite.not_normalized.push_back({number.value("call_id", std::string()),
                                          number.value("column", std::string()),
                                          number.value("number", std::string())});
      }
      found = std::move(rewrite);
    }
  }
  sqlite3_finalize(select);
  return found;
}

namespace {

// Journals per audit row of migration 14: two rows each, so a records blob stays near the size
// that migration 13 allows.
constexpr std::int64_t kJournalsPerAuditRow = 5'000;

// The journals that a migration appends and the records of those not yet in an audit row. The
// audit rows have entity "journal" and action `action` ("backfill" for migration 14), and
// `action` + "-part" for the rows written every kJournalsPerAuditRow journals.
class JournalAppender {
 public:
  explicit JournalAppender(sqlite3* db, std::string action = "backfill")
      : db_(db), action_(std::move(action)) {
    sqlite3_prepare_v2(db,
                       "INSERT INTO journal_entries (journal_id, account, amount, call_id, actor, "
                       "at) VALUES (?, ?, ?, ?, ?, ?)",
                       -1, &insert_, nullptr);
  }
  ~JournalAppender() { sqlite3_finalize(insert_); }
  JournalAppender(const JournalAppender&) = delete;
  JournalAppender& operator=(const JournalAppender&) = delete;

  bool prepared() const { return insert_ != nullptr; }

  // Appends `first` and `second`, which must sum to zero, as one journal.
  Status append(const JournalRow& first, const JournalRow& second) {
    Status status = insert_journal_row(db_, insert_, first, records_);
    if (status) {
      status = insert_journal_row(db_, insert_, second, records_);
    }
    if (status && ++journals_in_records_ == kJournalsPerAuditRow) {
      status = append_audit_row(db_, kMigrationActor, "journal", "", action_ + "-part",
                                nlohmann::json{{"journals", journals_in_records_}}.dump(),
                                records_);
      records_.clear();
      journals_in_records_ = 0;
    }
    return status;
  }

  // Appends the closing audit row with `payload` and the records not yet in an audit row.
  Status finish(const std::string& payload) {
    return append_audit_row(db_, kMigrationActor, "journal", "", action_, payload, records_);
  }

 private:
  sqlite3* db_;
  std::string action_;
  sqlite3_stmt* insert_ = nullptr;
  std::string records_;
  std::int64_t journals_in_records_ = 0;
};

// Step 1 of migration 14: journals of prepaid card top-ups and balance refunds.
Status journal_card_money(sqlite3* db, JournalAppender& appender, JournalBackfill& backfill) {
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(
          db,
          "SELECT l.seq, l.number, l.kind, l.amount, l.at FROM card_ledger l "
          "JOIN cards k ON k.number = l.number WHERE k.funding = 'prepaid' AND l.call_id = '' "
          "AND l.amount <> 0 AND l.kind IN ('credit', 'refund') AND NOT EXISTS (SELECT 1 FROM "
          "journal_entries e WHERE e.journal_id = CASE l.kind WHEN 'credit' THEN 'card-topup:' "
          "ELSE 'card-refund:' END || l.seq) ORDER BY l.seq",
          -1, &select, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal, std::string("cannot read prepaid card top-ups: ") +
                                            sqlite3_errmsg(db));
  }
  Status status = Status::ok();
  int code = SQLITE_ROW;
  while (status && (code = sqlite3_step(select)) == SQLITE_ROW) {
    const std::int64_t seq = sqlite3_column_int64(select, 0);
    const bool topup = column_text(select, 2) == "credit";
    const std::int64_t amount = sqlite3_column_int64(select, 3);
    const std::string at = column_text(select, 4);
    // As insert_prepaid_ledger posts them: a top-up debits cash, and a balance refund is a
    // negative ledger amount, so the same two rows credit cash.
    const std::string journal_id = topup ? card_topup_journal_id(seq) : card_refund_journal_id(seq);
    const JournalRow cash{journal_id, std::string(kCashAccount), amount, "", at};
    const JournalRow card{journal_id, card_account_for(column_text(select, 1)), -amount, "", at};
    status = appender.append(cash, card);
    ++(topup ? backfill.card_topups : backfill.card_refunds);
  }
  if (status && code != SQLITE_DONE) {
    status = Status(StatusCode::Internal,
                    std::string("cannot read prepaid card top-ups: ") + sqlite3_errmsg(db));
  }
  sqlite3_finalize(select);
  return status;
}

// Step 2 of migration 14: typed receivables of corrected calls moved to E.164 accounts. A
// sent-paid call (no billed number) was posted to its calling line. CROSS JOIN keeps the
// journal as the outer loop, because journal_entries has no index on call_id.
Status reclassify_typed_receivables(sqlite3* db, const std::string& when,
                                    JournalAppender& appender, JournalBackfill& backfill) {
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(
          db,
          "SELECT e.journal_id, MIN(e.call_id), e.account, 'receivable:' || MIN(CASE WHEN "
          "c.billed_number = '' THEN n.from_number ELSE n.billed_number END), SUM(e.amount) "
          "FROM journal_entries e CROSS JOIN calls c ON c.id = e.call_id "
          "CROSS JOIN call_number_corrections n ON n.call_id = c.id "
          "WHERE e.account = 'receivable:' || CASE WHEN c.billed_number = '' THEN c.from_number "
          "ELSE c.billed_number END AND e.journal_id NOT LIKE 'reclass:e164:%' "
          "AND NOT EXISTS (SELECT 1 FROM journal_entries r "
          "WHERE r.journal_id = 'reclass:e164:' || e.journal_id) "
          "GROUP BY e.journal_id, e.account HAVING SUM(e.amount) <> 0 AND e.account <> "
          "'receivable:' || MIN(CASE WHEN c.billed_number = '' THEN n.from_number "
          "ELSE n.billed_number END) ORDER BY MIN(e.seq)",
          -1, &select, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot read receivables of typed call numbers: ") +
                      sqlite3_errmsg(db));
  }
  Status status = Status::ok();
  int code = SQLITE_ROW;
  while (status && (code = sqlite3_step(select)) == SQLITE_ROW) {
    const std::int64_t amount = sqlite3_column_int64(select, 4);
    const JournalRow reversal{"reclass:e164:" + column_text(select, 0), column_text(select, 2),
                              -amount, column_text(select, 1), when};
    JournalRow moved = reversal;
    moved.account = column_text(select, 3);
    moved.amount = amount;
    status = appender.append(reversal, moved);
    ++backfill.receivable_journals;
  }
  if (status && code != SQLITE_DONE) {
    status = Status(StatusCode::Internal,
                    std::string("cannot read receivables of typed call numbers: ") +
                        sqlite3_errmsg(db));
  }
  sqlite3_finalize(select);
  return status;
}

nlohmann::json backfill_payload(const JournalBackfill& backfill) {
  return {{"card_topups", backfill.card_topups},
          {"card_refunds", backfill.card_refunds},
          {"receivable_journals", backfill.receivable_journals}};
}

}  // namespace

Result<JournalBackfill> backfill_journals(sqlite3* db, Instant at) {
  JournalAppender appender(db);
  if (!appender.prepared()) {
    return Status(StatusCode::Internal,
                  std::string("cannot prepare the journal back-fill: ") + sqlite3_errmsg(db));
  }
  JournalBackfill backfill;
  Status status = journal_card_money(db, appender, backfill);
  if (status) {
    status = reclassify_typed_receivables(db, format_instant(at), appender, backfill);
  }
  if (status && (backfill.card_topups > 0 || backfill.card_refunds > 0 ||
                 backfill.receivable_journals > 0)) {
    status = appender.finish(backfill_payload(backfill).dump());
  }
  if (!status) {
    return status;
  }
  return backfill;
}

Result<std::optional<JournalBackfill>> read_journal_backfill(sqlite3* db) {
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT payload FROM audit_log WHERE entity = 'journal' AND "
                         "action = 'backfill' AND actor = ? ORDER BY seq DESC LIMIT 1",
                         -1, &select, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot read the journal back-fill: ") + sqlite3_errmsg(db));
  }
  sqlite3_bind_text(select, 1, kMigrationActor.data(), static_cast<int>(kMigrationActor.size()),
                    SQLITE_TRANSIENT);
  std::optional<JournalBackfill> found;
  if (sqlite3_step(select) == SQLITE_ROW) {
    const nlohmann::json payload = nlohmann::json::parse(column_text(select, 0), nullptr, false);
    if (payload.is_object()) {
      JournalBackfill backfill;
      backfill.card_topups = payload.value("card_topups", std::int64_t{0});
      backfill.card_refunds = payload.value("card_refunds", std::int64_t{0});
      backfill.receivable_journals = payload.value("receivable_journals", std::int64_t{0});
      found = backfill;
    }
  }
  sqlite3_finalize(select);
  return found;
}

namespace {

// A postpaid card's billed line as stored and its E.164 form, when the two differ.
struct TypedCardLine {
  std::string typed;
  std::string e164;
};

Result<std::vector<TypedCardLine>> find_typed_card_lines(sqlite3* db) {
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT DISTINCT billed_line FROM cards WHERE funding = 'postpaid' AND "
                         "billed_line <> '' ORDER BY billed_line",
                         -1, &select, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot read the billed lines of postpaid cards: ") +
                      sqlite3_errmsg(db));
  }
  std::vector<TypedCardLine> lines;
  int code = SQLITE_ROW;
  while ((code = sqlite3_step(select)) == SQLITE_ROW) {
    const std::string typed = column_text(select, 0);
    // A line that does not normalize keeps its typed account, as card_line_receivable_account
    // keeps it for new journals.
    const Result<std::string> e164 = normalize_line_number(typed);
    if (e164 && *e164 != typed) {
      lines.push_back({typed, *e164});
    }
  }
  sqlite3_finalize(select);
  if (code != SQLITE_DONE) {
    return Status(StatusCode::Internal,
                  std::string("cannot read the billed lines of postpaid cards: ") +
                      sqlite3_errmsg(db));
  }
  return lines;
}

// Appends the "reclass:e164:JOURNAL" journals that move the receivable of `line` from its
// typed account to its E.164 account, and counts them in `journals`.
Status reclassify_card_line(sqlite3* db, const TypedCardLine& line, const std::string& when,
                            JournalAppender& appender, std::int64_t& journals) {
  const std::string typed_account = "receivable:" + line.typed;
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(
          db,
          "SELECT e.journal_id, MIN(e.call_id), SUM(e.amount) FROM journal_entries e "
          "WHERE e.account = ?1 AND e.journal_id NOT LIKE 'reclass:e164:%' "
          "AND NOT EXISTS (SELECT 1 FROM journal_entries r "
          "WHERE r.journal_id = 'reclass:e164:' || e.journal_id AND r.account = ?1) "
          "GROUP BY e.journal_id HAVING SUM(e.amount) <> 0 ORDER BY MIN(e.seq)",
          -1, &select, nullptr) != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot read the receivables of typed card lines: ") +
                      sqlite3_errmsg(db));
  }
  sqlite3_bind_text(select, 1, typed_account.c_str(), static_cast<int>(typed_account.size()),
                    SQLITE_TRANSIENT);
  Status status = Status::ok();
  int code = SQLITE_ROW;
  while (status && (code = sqlite3_step(select)) == SQLITE_ROW) {
    const std::int64_t amount = sqlite3_column_int64(select, 2);
    const JournalRow reversal{"reclass:e164:" + column_text(select, 0), typed_account, -amount,
                              column_text(select, 1), when};
    JournalRow moved = reversal;
    moved.account = "receivable:" + line.e164;
    moved.amount = amount;
    status = appender.append(reversal, moved);
    ++journals;
  }
  if (status && code != SQLITE_DONE) {
    status = Status(StatusCode::Internal,
                    std::string("cannot read the receivables of typed card lines: ") +
                        sqlite3_errmsg(db));
  }
  sqlite3_finalize(select);
  return status;
}

}  // namespace

Result<std::int64_t> reclassify_card_line_receivables(sqlite3* db, Instant at) {
  Result<std::vector<TypedCardLine>> lines = find_typed_card_lines(db);
  if (!lines) {
    return lines.status();
  }
  JournalAppender appender(db, "reclassify-card-lines");
  if (!appender.prepared()) {
    return Status(StatusCode::Internal,
                  std::string("cannot prepare the card line reclassification: ") +
                      sqlite3_errmsg(db));
  }
  const std::string when = format_instant(at);
  std::int64_t journals = 0;
  Status status = Status::ok();
  for (const TypedCardLine& line : *lines) {
    status = reclassify_card_line(db, line, when, appender, journals);
    if (!status) {
      return status;
    }
  }
  if (journals > 0) {
    status = appender.finish(nlohmann::json{{"receivable_journals", journals}}.dump());
  }
  if (!status) {
    return status;
  }
  return journals;
}

namespace {

Status correct_call_numbers_now(sqlite3* db) {
  Result<CallNumberRewrite> rewrite = correct_call_numbers(
      db, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  return rewrite.status();
}

Status reclassify_postpaid_card_entries_now(sqlite3* db) {
  return reclassify_postpaid_card_entries(
      db, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

Status reclassify_card_line_receivables_now(sqlite3* db) {
  Result<std::int64_t> journals = reclassify_card_line_receivables(
      db, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  return journals.status();
}

Status backfill_journals_now(sqlite3* db) {
  Result<JournalBackfill> backfill = backfill_journals(
      db, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  return backfill.status();
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::string kOperationsSql =
      std::string(kOperationsTables) + record_chain_migration_sql();
  static const std::vector<Migration> kMigrations = {
      {1, "directory, cards, card ledger, idempotency keys, audit chain", kCoreTables},
      {2, "call records, events, postings and charge lines", kCallTables},
      {3, "stored rate decks", kRateDeckTable},
      {4, "session and conversation seconds of posted calls", kPostingDurations},
      {5, "credits, disputes, journal entries and the record chain", kOperationsSql},
      {6, "indexes for reports and plan advice", kReportIndexes},
      {7, "record hashes in the audit chain in place of the record_chain table", kJournalIndexCut,
       convert_record_chain},
      {8, "the files of each stored rate deck", kRateDeckFiles, add_rate_deck_files},
      {9, "the PSAP route of emergency calls", kCallPsapRoute},
      {10, "interim debit instants and refusal reasons", kDebitInstantsAndRefusals},
      {11, "postpaid card journal entries moved to the billed line", "",
       reclassify_postpaid_card_entries_now},
      {12, "the quote each call was stored with", kCallQuote},
      {13, "E.164 corrections of call numbers stored as typed", kCallNumberCorrections,
       correct_call_numbers_now},
      {14, "journals of prepaid card top-ups and refunds; typed receivables moved to E.164", "",
       backfill_journals_now},
      {15, "partial indexes: requested events by time, nonempty billed and card numbers",
       kPartialCallIndexes},
      {16, "receivables of postpaid card lines stored as typed moved to E.164", "",
       reclassify_card_line_receivables_now},
      {17, "the idempotency key of each call request and the card hold of each authorization",
       kCallRequestKeys},
  };
  return kMigrations;
}

int latest_schema_version() { return migrations().back().version; }

Result<int> migrate(sqlite3* db, int target_version) {
  const int latest = latest_schema_version();
  if (target_version == 0) {
    target_version = latest;
  }
  Result<int> version = current_version(db);
  if (!version) {
    return version;
  }
  if (*version > latest) {
    return Status(StatusCode::FailedPrecondition,
                  "database schema version " + std::to_string(*version) +
                      " is newer than this relaygw supports (" + std::to_string(latest) +
                      "); use a newer relaygw with this database");
  }

  int reached = *version;
  for (const Migration& migration : migrations()) {
    if (migration.version <= reached || migration.version > target_version) {
      continue;
    }
    // Each migration and its schema_version row commit together or not at all.
    Status status = exec(db, "BEGIN IMMEDIATE");
    if (status) {
      status = exec(db, std::string(migration.sql));
    }
    if (status && migration.convert != nullptr) {
      status = migration.convert(db);
    }
    if (status) {
      status = exec(db, "INSERT INTO schema_version (version, description, applied_at) VALUES (" +
                            std::to_string(migration.version) + ", '" +
                            std::string(migration.description) +
                            "', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))");
    }
    if (!status) {
      (void)exec(db, "ROLLBACK");
      return Status(status.code(), "schema migration to version " +
                                       std::to_string(migration.version) +
                                       " failed and was rolled back: " + status.message());
    }
    status = exec(db, "COMMIT");
    if (!status) {
      return status;
    }
    reached = migration.version;
  }
  return reached;
}

}  // namespace relaygw::billing
