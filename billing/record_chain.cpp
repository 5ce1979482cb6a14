#include "billing/record_chain.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>

#include <openssl/evp.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include "billing/detail/record_chain_legacy.hpp"
#include "billing/detail/sqlite_error.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {
namespace {

constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Records entries per audit row that migration 7 writes, so no blob grows past about 400 KB.
constexpr std::size_t kConvertEntriesPerAuditRow = 10'000;

constexpr std::size_t kDigestSize = 32;

// SHA-256 with the algorithm fetched once and one context per thread. EVP_Digest with
// EVP_sha256() fetches the algorithm from the provider on every call, which took about half of
// the hashing time when posting calls (OpenSSL 3.0).
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) { EVP_DigestInit_ex2(context_, algorithm(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Returns this thread's hasher, reset for a new digest.
  static Sha256& begin() {
    thread_local Sha256 hasher;
    EVP_DigestInit_ex2(hasher.context_, nullptr, nullptr);
    return hasher;
  }
  Sha256& update(std::string_view data) {
    EVP_DigestUpdate(context_, data.data(), data.size());
    return *this;
  }
  // Writes the 32-byte digest to `out`.
  void finish(unsigned char* out) {
    unsigned int length = 0;
    EVP_DigestFinal_ex(context_, out, &length);
  }

 private:
  static const EVP_MD* algorithm() {
    static EVP_MD* const kAlgorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return kAlgorithm;
  }

  EVP_MD_CTX* context_;
};

std::string sha256_bytes(std::string_view data) {
  unsigned char digest[kDigestSize];
  Sha256::begin().update(data).finish(digest);
  return std::string(reinterpret_cast<const char*>(digest), kDigestSize);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char byte : bytes) {
    const auto value = static_cast<unsigned char>(byte);
    hex.push_back(kHex[value >> 4]);
    hex.push_back(kHex[value & 0x0f]);
  }
  return hex;
}

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

// One prepared statement, finalized at the end of its scope.
class Prepared {
 public:
  Prepared(sqlite3* db, const std::string& sql) {
    code_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &statement_, nullptr);
  }
  ~Prepared() { sqlite3_finalize(statement_); }
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  bool ok() const { return code_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return statement_; }

 private:
  sqlite3_stmt* statement_ = nullptr;
  int code_ = SQLITE_OK;
};

std::string column_text(sqlite3_stmt* statement, int column) {
  const auto* value = sqlite3_column_text(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  return value != nullptr ? std::string(reinterpret_cast<const char*>(value), size) : std::string();
}

bool has_column(sqlite3* db, std::string_view table, std::string_view column) {
  Prepared select(db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
  sqlite3_bind_text(select.get(), 1, table.data(), static_cast<int>(table.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(select.get(), 2, column.data(), static_cast<int>(column.size()),
                    SQLITE_TRANSIENT);
  return select.ok() && sqlite3_step(select.get()) == SQLITE_ROW;
}

// Reads every row of `table` in rowid order and passes its rowid and canonical bytes on.
Status scan_table(sqlite3* db, const ChainedTable& table,
                  const std::function<void(std::int64_t, const std::string&)>& visit) {
  std::string sql = "SELECT rowid";
  for (std::string_view column : table.columns) {
    sql += ", ";
    sql += column;
  }
  // An appended column that a migration has not added yet is NULL in every row.
  int appended = 0;
  for (std::string_view column : table.appended_columns) {
    if (has_column(db, table.name, column)) {
      sql += ", ";
      sql += column;
      ++appended;
    }
  }
  sql += " FROM ";
  sql += table.name;
  sql += " ORDER BY rowid";
  Prepared select(db, sql);
  if (!select.ok()) {
    return Status(StatusCode::Internal,
                  "cannot read table " + std::string(table.name) + ": " + sqlite3_errmsg(db));
  }
  std::string canonical;
  const int columns = static_cast<int>(table.columns.size());
  int code = SQLITE_ROW;
  while ((code = sqlite3_step(select.get())) == SQLITE_ROW) {
    canonical.clear();
    for (int column = 1; column <= columns; ++column) {
      if (sqlite3_column_type(select.get(), column) == SQLITE_NULL) {
        append_canonical_null(canonical);
      } else {
        append_canonical_text(canonical, column_text(select.get(), column));
      }
    }
    for (int column = columns + 1; column <= columns + appended; ++column) {
      if (sqlite3_column_type(select.get(), column) != SQLITE_NULL) {
        append_canonical_text(canonical, column_text(select.get(), column));
      }
    }
    visit(sqlite3_column_int64(select.get(), 0), canonical);
  }
  if (code != SQLITE_DONE) {
    return detail::sqlite_failure(db, code, "reading table " + std::string(table.name) + " failed");
  }
  return Status::ok();
}

// Appends one audit row in the migration's transaction and moves `head` to its hash.
Status append_audit_row_at(sqlite3* db, std::string& head, const std::string& at,
                           std::string_view entity, std::string_view entity_id,
                           std::string_view action, const std::string& payload,
                           const std::string& records,
                           std::string_view actor = "relaygw:migration-7") {
  const std::string_view kActor = actor;
  std::optional<std::string_view> records_view;
  if (!records.empty()) {
    records_view = records;
  }
  const std::string row_hash =
      audit_row_hash({head, at, kActor, entity, entity_id, action, payload, records_view});
  Prepared insert(db,
                  "INSERT INTO audit_log (at, actor, entity, entity_id, action, payload, "
                  "prev_hash, row_hash, records) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) {
    return Status(StatusCode::Internal,
                  std::string("cannot append to audit_log: ") + sqlite3_errmsg(db));
  }
  sqlite3_stmt* statement = insert.get();
  auto bind = [&](int index, std::string_view text) {
    sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
  };
  bind(1, at);
  bind(2, kActor);
  bind(3, entity);
  bind(4, entity_id);
  bind(5, action);
  bind(6, payload);
  bind(7, head);
  bind(8, row_hash);
  if (records.empty()) {
    sqlite3_bind_null(statement, 9);
  } else {
    sqlite3_bind_blob(statement, 9, records.data(), static_cast<int>(records.size()),
                      SQLITE_TRANSIENT);
  }
  if (sqlite3_step(statement) != SQLITE_DONE) {
    return Status(StatusCode::Internal,
                  std::string("cannot append to audit_log: ") + sqlite3_errmsg(db));
  }
  head = row_hash;
  return Status::ok();
}

Result<std::string> read_chain_head(sqlite3* db) {
  Prepared last(db, "SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!last.ok()) {
    return Status(StatusCode::Internal,
                  std::string("cannot read audit_log: ") + sqlite3_errmsg(db));
  }
  if (sqlite3_step(last.get()) == SQLITE_ROW) {
    return column_text(last.get(), 0);
  }
  return std::string(kGenesisHash);
}

bool has_table(sqlite3* db, std::string_view name) {
  Prepared select(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  sqlite3_bind_text(select.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  return select.ok() && sqlite3_step(select.get()) == SQLITE_ROW;
}

// A records entry as verify_records reads it back.
struct RecordedRow {
  std::int64_t row_id = 0;
  std::string digest;  // 32 bytes
  std::int64_t audit_seq = 0;
};

std::int64_t read_row_id(std::string_view entry) {
  std::uint64_t value = 0;
  for (std::size_t i = 1; i <= 8; ++i) {
    value = (value << 8) | static_cast<unsigned char>(entry[i]);
  }
  return static_cast<std::int64_t>(value);
}

// Compares one table's rows with the entries recorded for it and returns the first problem.
std::optional<RecordProblem> compare_table(const std::string& name,
                                           const std::vector<RecordedRow>& recorded,
                                           const std::map<std::int64_t, std::string>& found) {
  std::map<std::string, std::int64_t, std::less<>> recorded_by_digest;
  std::map<std::int64_t, const RecordedRow*> recorded_by_row;
  for (const RecordedRow& row : recorded) {
    recorded_by_digest.emplace(row.digest, row.row_id);
    recorded_by_row[row.row_id] = &row;
  }
  const auto where = [](const RecordedRow& row) {
    return "row " + std::to_string(row.row_id) + ", recorded by audit_log row " +
           std::to_string(row.audit_seq) + ",";
  };
  for (const RecordedRow& row : recorded) {
    auto live = found.find(row.row_id);
    if (live == found.end()) {
      return RecordProblem{name, row.row_id, "removed", where(row) + " was removed"};
    }
    if (live->second == row.digest) {
      continue;
    }
    auto moved = recorded_by_digest.find(live->second);
    if (moved != recorded_by_digest.end() && moved->second != row.row_id) {
      return RecordProblem{name, row.row_id, "reordered",
                           where(row) + " now holds the content recorded for row " +
                               std::to_string(moved->second) + "; rows were swapped or renumbered"};
    }
    return RecordProblem{name, row.row_id, "edited",
                         where(row) + " no longer matches its recorded SHA-256 (recorded " +
                             to_hex(row.digest).substr(0, 16) + "..., found " +
                             to_hex(live->second).substr(0, 16) +
                             "...); it was changed after it was written"};
  }
  // A row with no audit entry was either inserted outside relaygw or written by relaygw with
  // an audit entry that was deleted since. A row newer than every recorded one is what
  // deleting the newest audit_log rows leaves, so its message names that cause first.
  const std::int64_t newest_recorded =
      recorded_by_row.empty() ? 0 : recorded_by_row.rbegin()->first;
  for (const auto& [row_id, digest] : found) {
    if (recorded_by_row.count(row_id) == 0) {
      const std::string missing =
          "the audit entry of row " + std::to_string(row_id) + " is missing, so ";
      return RecordProblem{
          name, row_id, "added",
          missing + (row_id > newest_recorded
                         ? "the newest audit_log rows may have been deleted, or the row was "
                           "inserted outside relaygw"
                         : "the row was inserted outside relaygw, or its audit entry was "
                           "deleted")};
    }
  }
  return std::nullopt;
}

// Re-reports the problems migration 7 found in the schema 6 record_chain table.
void add_conversion_problems(const std::string& payload, RecordCheck& check) {
  const nlohmann::json json = nlohmann::json::parse(payload, nullptr, false);
  if (!json.is_object() || !json.contains("problems") || !json["problems"].is_array()) {
    return;
  }
  for (const nlohmann::json& problem : json["problems"]) {
    check.problems.push_back({problem.value("table", std::string()),
                              problem.value("row_id", std::int64_t{0}),
                              problem.value("kind", std::string()),
                              "found when the record chain was converted to schema 7: " +
                                  problem.value("detail", std::string())});
  }
}

}  // namespace

const std::vector<ChainedTable>& chained_tables() {
  // Columns follow each INSERT's bound values in the store, in that order.
  static const std::vector<ChainedTable> kTables = {
      {"line_versions",
       {"number", "version", "supersedes_version", "listing_name", "line_type", "screening",
        "state", "rate_center", "time_zone", "pic", "is_tty", "tty_discount_eligible", "reason",
        "actor", "at"}},
      {"cards",
       {"number", "funding", "billed_line", "pin_salt", "pin_iterations", "pin_hash",
        "max_pin_attempts", "actor", "at"}},
      {"card_states",
       {"number", "version", "status", "failed_pin_attempts", "reason", "actor", "at"}},
      {"card_ledger", {"number", "kind", "amount", "call_id", "actor", "at"}, {"covered_until"}},
      {"calls",
       {"id", "from_number", "to_number", "billing", "access", "handling", "billed_number",
        "card_number", "requested_person", "emergency", "actor", "at"},
       {"psap_route", "quote_deck_sha256", "quote_total", "request_key", "request_hash"}},
      {"call_events",
       {"call_id", "event", "at", "actor", "acceptance_method", "accepted_by"},
       {"reason_code", "reason_message", "hold_amount", "hold_max_seconds"}},
      {"call_postings",
       {"call_id", "total", "billable_seconds", "session_seconds", "conversation_seconds",
        "person_reached", "idempotency_key", "actor", "at"}},
      {"charge_lines", {"call_id", "line_no", "kind", "description", "amount"}},
      {"rate_decks",
       {"name", "text", "sha256", "effective_from", "effective_to", "source_path", "actor", "at"}},
      {"idempotency_keys", {"key", "scope", "request_hash", "result", "actor", "at"}},
      {"credits",
       {"id", "call_id", "line_no", "reason", "reason_text", "amount", "rule", "dispute_id",
        "idempotency_key", "actor", "at"}},
      {"credit_decisions", {"credit_id", "state", "note", "actor", "at"}},
      {"disputes",
       {"id", "call_id", "line_no", "customer_account", "due_at", "idempotency_key", "actor",
        "at"}},
      {"dispute_steps", {"dispute_id", "action", "state", "note", "credit_id", "actor", "at"}},
      {"journal_entries", {"journal_id", "account", "amount", "call_id", "actor", "at"}},
      {"rate_deck_files", {"deck_seq", "file_no", "name", "text", "sha256"}},
      {"call_number_corrections",
       {"call_id", "from_number", "to_number", "billed_number", "reason", "actor", "at"}},
  };
  return kTables;
}

void append_canonical_null(std::string& canonical) { canonical += 'N'; }

void append_canonical_text(std::string& canonical, std::string_view text) {
  canonical += 'V';
  canonical += std::to_string(text.size());
  canonical += ':';
  canonical += text;
}

void append_canonical_integer(std::string& canonical, std::int64_t value) {
  append_canonical_text(canonical, std::to_string(value));
}

void append_record_entry(std::string& records, ChainedTableId table, std::int64_t row_id,
                         std::string_view canonical) {
  records += static_cast<char>(table);
  const auto value = static_cast<std::uint64_t>(row_id);
  for (int shift = 56; shift >= 0; shift -= 8) {
    records += static_cast<char>((value >> shift) & 0xff);
  }
  unsigned char digest[kDigestSize];
  Sha256::begin().update(canonical).finish(digest);
  records.append(reinterpret_cast<const char*>(digest), kDigestSize);
}

std::string audit_row_hash(const AuditRowFields& fields) {
  // The same bytes as sha256_hex of the fields joined by newlines, fed in pieces.
  Sha256& hasher = Sha256::begin();
  hasher.update(fields.prev_hash);
  for (std::string_view field :
       {fields.at, fields.actor, fields.entity, fields.entity_id, fields.action, fields.payload}) {
    hasher.update("\n").update(field);
  }
  if (fields.records && !fields.records->empty()) {
    hasher.update("\n").update(*fields.records);
  }
  unsigned char digest[kDigestSize];
  hasher.finish(digest);
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), kDigestSize));
}

Status append_audit_row(sqlite3* db, std::string_view actor, std::string_view entity,
                        std::string_view entity_id, std::string_view action,
                        const std::string& payload, const std::string& records) {
  Result<std::string> head = read_chain_head(db);
  if (!head) {
    return head.status();
  }
  const std::string at =
      format_instant(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  return append_audit_row_at(db, *head, at, entity, entity_id, action, payload, records, actor);
}

Status convert_record_chain(sqlite3* db) {
  std::vector<RecordProblem> legacy_problems;
  if (has_table(db, "record_chain")) {
    Result<RecordCheck> legacy = check_legacy_record_chain(db);
    if (!legacy) {
      return legacy.status();
    }
    legacy_problems = legacy->problems;
  }

  std::string sql = "DROP TRIGGER IF EXISTS record_chain_hash;\n";
  for (const ChainedTable& table : legacy_chained_tables()) {
    sql += "DROP TRIGGER IF EXISTS " + std::string(table.name) + "_record_chain;\n";
  }
  sql += "DROP TABLE IF EXISTS record_chain;\nALTER TABLE audit_log ADD COLUMN records BLOB;\n";
  Status status = exec(db, sql);
  if (!status) {
    return status;
  }

  Result<std::string> head = read_chain_head(db);
  if (!head) {
    return head.status();
  }
  const std::string at =
      format_instant(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  if (!legacy_problems.empty()) {
    nlohmann::json problems = nlohmann::json::array();
    for (const RecordProblem& problem : legacy_problems) {
      problems.push_back({{"table", problem.table},
                          {"row_id", problem.row_id},
                          {"kind", problem.kind},
                          {"detail", problem.detail}});
    }
    status = append_audit_row_at(db, *head, at, "record_chain", "schema-6", "legacy-check",
                                 nlohmann::json{{"problems", problems}}.dump(), "");
    if (!status) {
      return status;
    }
  }

  const std::vector<ChainedTable>& tables = chained_tables();
  for (std::size_t index = 0; index < tables.size(); ++index) {
    // Tables of later migrations do not exist yet.
    if (!has_table(db, tables[index].name)) {
      continue;
    }
    std::string records;
    std::int64_t first_row = 0;
    std::int64_t rows = 0;
    auto flush = [&](std::int64_t last_row) -> Status {
      const nlohmann::json payload = {
          {"rows", rows}, {"first_row_id", first_row}, {"last_row_id", last_row}};
      Status written = append_audit_row_at(db, *head, at, "record_chain", tables[index].name,
                                           "convert", payload.dump(), records);
      records.clear();
      rows = 0;
      return written;
    };
    Status flushed = Status::ok();
    std::int64_t last_row = 0;
    status = scan_table(db, tables[index], [&](std::int64_t row_id, const std::string& canonical) {
      if (!flushed) {
        return;
      }
      if (rows == 0) {
        first_row = row_id;
      }
      append_record_entry(records, static_cast<ChainedTableId>(index), row_id, canonical);
      ++rows;
      last_row = row_id;
      if (static_cast<std::size_t>(rows) == kConvertEntriesPerAuditRow) {
        flushed = flush(row_id);
      }
    });
    if (status && flushed && rows > 0) {
      flushed = flush(last_row);
    }
    if (!status) {
      return status;
    }
    if (!flushed) {
      return flushed;
    }
  }
  return Status::ok();
}

Result<RecordCheck> verify_records(sqlite3* db) {
  RecordCheck check;
  const std::vector<ChainedTable>& tables = chained_tables();
  std::vector<std::vector<RecordedRow>> recorded(tables.size());

  // Pass 1: the audit chain's own hashes, in seq order, and the records entries it carries.
  Prepared audit(db,
                 "SELECT seq, at, actor, entity, entity_id, action, payload, prev_hash, row_hash, "
                 "records FROM audit_log ORDER BY seq");
  if (!audit.ok()) {
    return Status(StatusCode::FailedPrecondition,
                  std::string("cannot read audit_log records: ") + sqlite3_errmsg(db) +
                      "; open the database with relaygw once so it migrates to schema " +
                      std::to_string(kRecordsInAuditSchema));
  }
  sqlite3_stmt* row = audit.get();
  std::string expected_prev(kGenesisHash);
  bool chain_broken = false;
  while (sqlite3_step(row) == SQLITE_ROW) {
    const std::int64_t seq = sqlite3_column_int64(row, 0);
    std::optional<std::string> records;
    if (sqlite3_column_type(row, 9) != SQLITE_NULL) {
      const auto* blob = static_cast<const char*>(sqlite3_column_blob(row, 9));
      records = std::string(blob != nullptr ? blob : "",
                            static_cast<std::size_t>(sqlite3_column_bytes(row, 9)));
    }
    const std::string entity = column_text(row, 3);
    const std::string action = column_text(row, 5);
    const std::string payload = column_text(row, 6);
    const std::string prev_hash = column_text(row, 7);
    const std::string row_hash = column_text(row, 8);
    const std::string at = column_text(row, 1);
    const std::string actor = column_text(row, 2);
    const std::string entity_id = column_text(row, 4);
    std::optional<std::string_view> records_view;
    if (records) {
      records_view = *records;
    }
    const std::string computed =
        audit_row_hash({prev_hash, at, actor, entity, entity_id, action, payload, records_view});
    const bool malformed = records && records->size() % kRecordEntrySize != 0;
    if (!chain_broken && (prev_hash != expected_prev || computed != row_hash || malformed)) {
      chain_broken = true;
      check.problems.push_back(
          {"audit_log", seq, "chain-broken",
           "audit_log row " + std::to_string(seq) + " (" + entity + " " + entity_id + " " + action +
               ") does not match its hash; the audit chain itself was edited, removed or "
               "reordered"});
    }
    expected_prev = row_hash;
    if (entity == "record_chain" && action == "legacy-check") {
      add_conversion_problems(payload, check);
    }
    if (!records || malformed) {
      continue;
    }
    for (std::size_t offset = 0; offset < records->size(); offset += kRecordEntrySize) {
      const std::string_view entry = std::string_view(*records).substr(offset, kRecordEntrySize);
      const auto table = static_cast<unsigned char>(entry[0]);
      if (table >= tables.size()) {
        continue;
      }
      recorded[table].push_back(
          {read_row_id(entry), std::string(entry.substr(9, kDigestSize)), seq});
    }
  }

  // Pass 2: each table's rows against the hashes recorded for it.
  for (std::size_t index = 0; index < tables.size(); ++index) {
    const std::string name(tables[index].name);
    // A database migrated only part of the way lacks the newer tables.
    if (recorded[index].empty() && !has_table(db, name)) {
      continue;
    }
    std::map<std::int64_t, std::string> found;
    Status scanned =
        scan_table(db, tables[index], [&](std::int64_t row_id, const std::string& canonical) {
          found[row_id] = sha256_bytes(canonical);
        });
    if (!scanned && scanned.code() == StatusCode::Corrupt) {
      return scanned;  // damaged pages do not show which records were changed
    }
    if (!scanned) {
      check.problems.push_back({name, 0, "removed", scanned.message()});
      continue;
    }
    check.rows_checked += static_cast<std::int64_t>(found.size());
    std::optional<RecordProblem> problem = compare_table(name, recorded[index], found);
    if (problem) {
      check.problems.push_back(std::move(*problem));
    }
  }
  return check;
}

}  // namespace relaygw::billing
