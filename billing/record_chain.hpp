// The record chain: a SHA-256 hash of every row appended to the billing tables, carried in the
// audit hash chain. Each audit_log row (schema 7 on) has a `records` column listing the rows
// its write appended, as (table, rowid, SHA-256 of the row's canonical bytes) entries, and the
// audit row's own hash covers that list. An UPDATE, DELETE, INSERT or reordering done outside
// relaygw therefore shows up in verify_records as a row whose hash no longer matches.
//
// The store hashes each row in C++ from the values it binds, as it writes the row. Schema 5 and
// 6 kept a copy of every row in a record_chain table through triggers; migration 7 checks that
// table once, hashes every existing row into the audit chain and drops the table and triggers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

struct sqlite3;

namespace relaygw::billing {

// A chained table and the columns whose values are hashed, in the order the store binds them.
// `appended_columns` were added to the table after the record chain began (schema 7). They
// are hashed after `columns`, each only when it is not NULL, so rows written before a column
// existed keep the hash recorded for them. A table without the column reads as all NULL.
struct ChainedTable {
  std::string_view name;
  std::vector<std::string_view> columns;
  std::vector<std::string_view> appended_columns = {};
};

// Index of a table in chained_tables(). The index is stored in every records entry, so the
// order is fixed: a new chained table goes at the end.
enum class ChainedTableId : std::uint8_t {
  LineVersions,
  Cards,
  CardStates,
  CardLedger,
  Calls,
  CallEvents,
  CallPostings,
  ChargeLines,
  RateDecks,
  IdempotencyKeys,
  Credits,
  CreditDecisions,
  Disputes,
  DisputeSteps,
  JournalEntries,
  RateDeckFiles,
  CallNumberCorrections,
};

// Tables covered by the record chain, indexed by ChainedTableId.
const std::vector<ChainedTable>& chained_tables();

// First schema version whose audit_log carries the records column.
constexpr int kRecordsInAuditSchema = 7;

// Canonical bytes of a row: for each column in ChainedTable order, "N" for NULL, otherwise
// "V", the byte length in decimal, ":" and the value as SQLite returns it as text. Then each
// appended column that is not NULL, in the same "V" form. An integer
// bound by the store reads back as the same decimal text, so the bytes hashed at write time
// equal the bytes read back by verify_records.
void append_canonical_null(std::string& canonical);
void append_canonical_text(std::string& canonical, std::string_view text);
void append_canonical_integer(std::string& canonical, std::int64_t value);

// Size in bytes of one records entry: table index (1), rowid big-endian (8), SHA-256 (32).
constexpr std::size_t kRecordEntrySize = 41;

// Appends the entry of one appended row to `records`.
void append_record_entry(std::string& records, ChainedTableId table, std::int64_t row_id,
                         std::string_view canonical);

// The fields of one audit_log row that its hash covers.
struct AuditRowFields {
  std::string_view prev_hash;
  std::string_view at;
  std::string_view actor;
  std::string_view entity;
  std::string_view entity_id;
  std::string_view action;
  std::string_view payload;
  std::optional<std::string_view> records;  // nullopt for rows written before schema 7
};

// Lowercase hex SHA-256 of prev_hash, the text fields and the records list, each after a
// newline. A row without records hashes exactly as audit rows did before schema 7.
std::string audit_row_hash(const AuditRowFields& fields);

// Converts a schema 6 database (migration 7): checks the trigger-kept record_chain table,
// drops it and its triggers, adds audit_log.records and appends audit rows that hash every
// existing row. Problems the old check found are kept in those audit rows, so verify_records
// still reports them. Runs inside the migration's transaction.
Status convert_record_chain(sqlite3* db);

// Appends one audit row in the caller's transaction, as `actor`, whose records list is
// `records` (entries from append_record_entry; empty for none). Migrations that add rows use
// it so that those rows are in the record chain.
Status append_audit_row(sqlite3* db, std::string_view actor, std::string_view entity,
                        std::string_view entity_id, std::string_view action,
                        const std::string& payload, const std::string& records);

// One difference between a table and the record chain.
struct RecordProblem {
  std::string table;
  std::int64_t row_id = 0;
  std::string kind;    // edited, removed, reordered, added, chain-broken
  std::string detail;  // what differs and where the row's hash was recorded
};

struct RecordCheck {
  std::int64_t rows_checked = 0;
  std::vector<RecordProblem> problems;  // first problem per table, chain breaks first
};

// Checks the audit chain's hashes and compares every chained table with the hashes recorded
// in it. FailedPrecondition when the database is older than schema 7.
Result<RecordCheck> verify_records(sqlite3* db);

// ---- Schema 5 and 6: the trigger-kept record_chain table ----

// Registers relaygw_sha256(text) on `db`, which the schema 5 triggers call. Every connection
// needs it so that a database at schema 5 or 6 can still be written and migrated.
Status register_record_functions(sqlite3* db);

// SQL of schema migration 5's record chain part: the table, its triggers and its backfill.
const std::string& record_chain_migration_sql();

}  // namespace relaygw::billing
