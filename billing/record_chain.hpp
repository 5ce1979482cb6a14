// The record chain: a SHA-256 hash chain over every row appended to the billing tables, kept by
// SQLite triggers in the record_chain table (schema migration 5). audit_log chains the
// description of each write; the record chain covers the stored rows themselves, so an UPDATE,
// DELETE or reordering done outside relaygw is found by verify_records.
//
// The triggers call the SQL function relaygw_sha256, which SqliteStore registers on every
// connection. A connection without it (the sqlite3 shell) cannot insert into a chained table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

struct sqlite3;

namespace relaygw::billing {

// A chained table and the columns whose values are recorded, in order.
struct ChainedTable {
  std::string_view name;
  std::vector<std::string_view> columns;
};

// Tables covered by the record chain, in the order migration 5 backfills them.
const std::vector<ChainedTable>& chained_tables();

// Registers relaygw_sha256(text) on `db`: the lowercase hex SHA-256 of its UTF-8 argument.
Status register_record_functions(sqlite3* db);

// SQL of schema migration 5's record chain part: the table, its triggers and the backfill of
// rows stored before the migration.
const std::string& record_chain_migration_sql();

// One difference between a table and the record chain.
struct RecordProblem {
  std::string table;
  std::int64_t row_id = 0;
  std::string kind;    // edited, removed, reordered, added, chain-broken
  std::string detail;  // what differs, with the recorded and the found values
};

struct RecordCheck {
  std::int64_t rows_checked = 0;
  std::vector<RecordProblem> problems;  // first problem per table, chain breaks first
};

// Compares every chained table with the record chain and checks the chain's hashes.
Result<RecordCheck> verify_records(sqlite3* db);

}  // namespace relaygw::billing
