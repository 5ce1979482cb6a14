#include "billing/migrations.hpp"

#include <string>

#include <sqlite3.h>

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
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return Status(StatusCode::Internal, "SQLite statement failed: " + message);
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

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "directory, cards, card ledger, idempotency keys, audit chain", kCoreTables},
      {2, "call records, events, postings and charge lines", kCallTables},
      {3, "stored rate decks", kRateDeckTable},
      {4, "session and conversation seconds of posted calls", kPostingDurations},
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
