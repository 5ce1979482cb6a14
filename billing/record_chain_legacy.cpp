// The record chain of schemas 5 and 6: triggers copied every appended row as JSON into the
// record_chain table and hashed it there. Migration 7 replaced it with hashes computed by the
// store (billing/record_chain.hpp); this file keeps what is needed to create a schema 5
// database, write to one, and check its record_chain table once when converting it.
#include "billing/detail/record_chain_legacy.hpp"

#include <map>
#include <optional>

#include <sqlite3.h>

#include "billing/store.hpp"

namespace relaygw::billing {
namespace {

constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

void sha256_function(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const int size = sqlite3_value_bytes(argv[0]);
  const std::string digest = sha256_hex(std::string_view(text, static_cast<std::size_t>(size)));
  sqlite3_result_text(context, digest.c_str(), static_cast<int>(digest.size()), SQLITE_TRANSIENT);
}

// json_array(prefix.col1, prefix.col2, ...): the recorded content of one row.
std::string content_expression(const ChainedTable& table, std::string_view prefix) {
  std::string sql = "json_array(";
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (i > 0) {
      sql += ", ";
    }
    sql += prefix;
    sql += table.columns[i];
  }
  sql += ")";
  return sql;
}

std::string build_migration_sql() {
  std::string sql = R"sql(
CREATE TABLE record_chain (
  seq INTEGER PRIMARY KEY,
  table_name TEXT NOT NULL,
  row_id INTEGER NOT NULL,
  content TEXT NOT NULL,
  prev_hash TEXT NOT NULL DEFAULT '',
  row_hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX record_chain_by_row ON record_chain (table_name, row_id);
CREATE TRIGGER record_chain_hash AFTER INSERT ON record_chain BEGIN
  UPDATE record_chain SET
    prev_hash = COALESCE((SELECT row_hash FROM record_chain WHERE seq < NEW.seq
                          ORDER BY seq DESC LIMIT 1), ')sql";
  sql += kGenesisHash;
  sql += R"sql('),
    row_hash = relaygw_sha256(
        COALESCE((SELECT row_hash FROM record_chain WHERE seq < NEW.seq
                  ORDER BY seq DESC LIMIT 1), ')sql";
  sql += kGenesisHash;
  sql += R"sql(') || char(10) || NEW.table_name || char(10) || NEW.row_id || char(10) ||
        NEW.content)
  WHERE seq = NEW.seq;
END;
)sql";
  for (const ChainedTable& table : legacy_chained_tables()) {
    const std::string name(table.name);
    sql += "INSERT INTO record_chain (table_name, row_id, content) SELECT '" + name + "', rowid, " +
           content_expression(table, "") + " FROM " + name + " ORDER BY rowid;\n";
    sql += "CREATE TRIGGER " + name + "_record_chain AFTER INSERT ON " + name +
           " BEGIN INSERT INTO record_chain (table_name, row_id, content) VALUES ('" + name +
           "', NEW.rowid, " + content_expression(table, "NEW.") + "); END;\n";
  }
  return sql;
}

std::string shorten(const std::string& text) {
  constexpr std::size_t kMax = 160;
  return text.size() <= kMax ? text : text.substr(0, kMax) + "...";
}

// Names the first column whose recorded and found values differ.
std::string describe_edit(const ChainedTable& table, const std::string& recorded,
                          const std::string& found, sqlite3* db) {
  // Split both JSON arrays through SQLite's own json_each, so the comparison uses the same
  // JSON text rules as the triggers.
  sqlite3_stmt* statement = nullptr;
  const char* sql =
      "SELECT r.key, r.value, f.value FROM json_each(?1) r JOIN json_each(?2) f "
      "ON r.key = f.key WHERE r.value IS NOT f.value OR r.type IS NOT f.type ORDER BY r.key "
      "LIMIT 1";
  std::string detail = "recorded " + shorten(recorded) + ", found " + shorten(found);
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
    return detail;
  }
  sqlite3_bind_text(statement, 1, recorded.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(statement, 2, found.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(statement) == SQLITE_ROW) {
    const auto index = static_cast<std::size_t>(sqlite3_column_int64(statement, 0));
    auto text = [&](int column) {
      const auto* value = sqlite3_column_text(statement, column);
      return value != nullptr ? std::string(reinterpret_cast<const char*>(value))
                              : std::string("NULL");
    };
    if (index < table.columns.size()) {
      detail = "column " + std::string(table.columns[index]) + " recorded " + shorten(text(1)) +
               ", found " + shorten(text(2));
    }
  }
  sqlite3_finalize(statement);
  return detail;
}

struct ChainRow {
  std::int64_t seq = 0;
  std::int64_t row_id = 0;
  std::string content;
};

}  // namespace

const std::vector<ChainedTable>& legacy_chained_tables() {
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
      {"card_ledger", {"number", "kind", "amount", "call_id", "actor", "at"}},
      {"calls",
       {"id", "from_number", "to_number", "billing", "access", "handling", "billed_number",
        "card_number", "requested_person", "emergency", "actor", "at"}},
      {"call_events", {"call_id", "event", "at", "actor", "acceptance_method", "accepted_by"}},
      {"call_postings",
       {"call_id", "total", "billable_seconds", "person_reached", "idempotency_key", "actor", "at",
        "session_seconds", "conversation_seconds"}},
      {"charge_lines", {"call_id", "line_no", "kind", "description", "amount"}},
      {"rate_decks",
       {"name", "sha256", "effective_from", "effective_to", "source_path", "actor", "at"}},
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
  };
  return kTables;
}

Status register_record_functions(sqlite3* db) {
  const int code =
      sqlite3_create_function(db, "relaygw_sha256", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                              sha256_function, nullptr, nullptr);
  if (code != SQLITE_OK) {
    return Status(StatusCode::Internal,
                  std::string("cannot register relaygw_sha256: ") + sqlite3_errmsg(db));
  }
  return Status::ok();
}

const std::string& record_chain_migration_sql() {
  static const std::string kSql = build_migration_sql();
  return kSql;
}

Result<RecordCheck> check_legacy_record_chain(sqlite3* db) {
  RecordCheck check;
  std::map<std::string, std::vector<ChainRow>, std::less<>> recorded;

  // Pass 1: the chain's own hashes, in seq order.
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT seq, table_name, row_id, content, prev_hash, row_hash "
                         "FROM record_chain ORDER BY seq",
                         -1, &statement, nullptr) != SQLITE_OK) {
    return Status(StatusCode::FailedPrecondition,
                  std::string("cannot read record_chain: ") + sqlite3_errmsg(db) +
                      "; open the database with relaygw once so it migrates to schema 5");
  }
  std::string expected_prev(kGenesisHash);
  bool chain_broken = false;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    auto text = [&](int column) {
      const auto* value = sqlite3_column_text(statement, column);
      return value != nullptr ? std::string(reinterpret_cast<const char*>(value)) : std::string();
    };
    ChainRow row{sqlite3_column_int64(statement, 0), sqlite3_column_int64(statement, 2), text(3)};
    const std::string table = text(1);
    const std::string prev_hash = text(4);
    const std::string hashed =
        prev_hash + "\n" + table + "\n" + std::to_string(row.row_id) + "\n" + row.content;
    if (!chain_broken && (prev_hash != expected_prev || sha256_hex(hashed) != text(5))) {
      chain_broken = true;
      check.problems.push_back(
          {"record_chain", row.seq, "chain-broken",
           "record_chain row " + std::to_string(row.seq) + " (" + table + " row " +
               std::to_string(row.row_id) +
               ") does not match its hash; the chain itself was edited, removed or reordered"});
    }
    expected_prev = text(5);
    recorded[table].push_back(std::move(row));
  }
  sqlite3_finalize(statement);

  // Pass 2: each table's rows against what the chain recorded for it, in rowid order.
  for (const ChainedTable& table : legacy_chained_tables()) {
    const std::string name(table.name);
    const std::string sql =
        "SELECT rowid, " + content_expression(table, "") + " FROM " + name + " ORDER BY rowid";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      check.problems.push_back(
          {name, 0, "removed", "table " + name + " cannot be read: " + sqlite3_errmsg(db)});
      continue;
    }
    std::map<std::int64_t, std::string> found;
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const auto* value = sqlite3_column_text(statement, 1);
      found[sqlite3_column_int64(statement, 0)] =
          value != nullptr ? reinterpret_cast<const char*>(value) : "";
    }
    sqlite3_finalize(statement);

    const std::vector<ChainRow>& rows = recorded[name];
    std::map<std::string, std::int64_t, std::less<>> recorded_by_content;
    std::map<std::int64_t, const ChainRow*> recorded_by_row;
    for (const ChainRow& row : rows) {
      recorded_by_content.emplace(row.content, row.row_id);
      recorded_by_row[row.row_id] = &row;
    }
    check.rows_checked += static_cast<std::int64_t>(found.size());

    std::optional<RecordProblem> problem;
    for (const ChainRow& row : rows) {
      auto live = found.find(row.row_id);
      if (live == found.end()) {
        problem = RecordProblem{
            name, row.row_id, "removed",
            "row " + std::to_string(row.row_id) + " was removed; recorded " + shorten(row.content)};
        break;
      }
      if (live->second == row.content) {
        continue;
      }
      auto moved = recorded_by_content.find(live->second);
      if (moved != recorded_by_content.end()) {
        problem =
            RecordProblem{name, row.row_id, "reordered",
                          "row " + std::to_string(row.row_id) +
                              " holds the content "
                              "recorded for row " +
                              std::to_string(moved->second) + "; rows were swapped or renumbered"};
      } else {
        problem = RecordProblem{name, row.row_id, "edited",
                                describe_edit(table, row.content, live->second, db)};
      }
      break;
    }
    if (!problem) {
      for (const auto& [row_id, content] : found) {
        if (recorded_by_row.count(row_id) == 0) {
          problem = RecordProblem{name, row_id, "added",
                                  "row " + std::to_string(row_id) +
                                      " is not in the record chain; it was inserted outside "
                                      "relaygw: " +
                                      shorten(content)};
          break;
        }
      }
    }
    if (problem) {
      check.problems.push_back(std::move(*problem));
    }
  }
  return check;
}

}  // namespace relaygw::billing
