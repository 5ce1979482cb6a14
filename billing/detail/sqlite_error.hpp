// The Status for a failed SQLite call, shared by the files that run SQL on a relaygw database.
#pragma once

#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include "billing/next_step.hpp"
#include "common/status.hpp"

namespace relaygw::billing::detail {

// Database paths as the caller gave them to SqliteStore::open, by connection. SQLite 3.40
// reports only the absolute path (sqlite3_db_filename), and messages should show the path the
// user typed.
struct DatabasePaths {
  std::mutex mutex;
  std::map<const sqlite3*, std::string> by_connection;
};

inline DatabasePaths& database_paths() {
  static DatabasePaths paths;
  return paths;
}

// Records `path` as the path that messages about connection `db` show. Call
// forget_database_path before closing `db`.
inline void remember_database_path(const sqlite3* db, std::string path) {
  DatabasePaths& paths = database_paths();
  const std::lock_guard<std::mutex> lock(paths.mutex);
  paths.by_connection[db] = std::move(path);
}

inline void forget_database_path(const sqlite3* db) {
  DatabasePaths& paths = database_paths();
  const std::lock_guard<std::mutex> lock(paths.mutex);
  paths.by_connection.erase(db);
}

// Returns the path of connection `db`'s main database as the caller gave it, or SQLite's
// absolute path for a connection opened elsewhere, or "(in memory)".
inline std::string database_path(sqlite3* db) {
  if (db == nullptr) {
    return "(in memory)";
  }
  {
    DatabasePaths& paths = database_paths();
    const std::lock_guard<std::mutex> lock(paths.mutex);
    auto found = paths.by_connection.find(db);
    if (found != paths.by_connection.end()) {
      return found->second;
    }
  }
  const char* name = sqlite3_db_filename(db, "main");
  return name != nullptr && *name != '\0' ? name : "(in memory)";
}

// Returns the table names that follow FROM or JOIN in `sql`, each once, in order. Subqueries
// in brackets are skipped, and their own FROM clauses are read in turn.
inline std::vector<std::string> tables_in_sql(std::string_view sql) {
  std::vector<std::string> words;
  std::string word;
  for (char c : sql) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      word += c;
    } else {
      if (!word.empty()) {
        words.push_back(word);
        word.clear();
      }
      if (c == '(') {
        words.emplace_back("(");
      }
    }
  }
  if (!word.empty()) {
    words.push_back(word);
  }
  auto is_keyword = [](std::string text, std::string_view keyword) {
    for (char& c : text) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return text == keyword;
  };
  std::vector<std::string> tables;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (!is_keyword(words[i], "FROM") && !is_keyword(words[i], "JOIN")) {
      continue;
    }
    const std::string& table = words[i + 1];
    if (table == "(" || is_keyword(table, "SELECT")) {
      continue;
    }
    bool seen = false;
    for (const std::string& earlier : tables) {
      seen = seen || earlier == table;
    }
    if (!seen) {
      tables.push_back(table);
    }
  }
  return tables;
}

// Returns the message for a database file `file` that another connection kept locked for
// writing past the busy timeout. SQLite's `reason` is added only when it is not the plain
// "database is locked", which would repeat the cause.
inline std::string locked_database_message(const std::string& file, std::string_view reason) {
  const std::string sqlite_reason = reason.empty() || reason == "database is locked"
                                        ? std::string()
                                        : " (SQLite: " + std::string(reason) + ")";
  return "database '" + file + "' is locked by another connection that is writing to it" +
         sqlite_reason + "; retry the request, and if the lock persists, find the process " +
         "that holds the file open with `fuser " + file + "`";
}

// Returns the Status for SQLite's "integer overflow" error, which SUM() raises when a total
// leaves the 64-bit range. Real charges stay far below that range, so the message blames a row
// written or changed outside relaygw. `sql` is the failed statement, whose tables it names.
inline Status sum_overflow_failure(sqlite3* db, std::string_view sql) {
  const std::vector<std::string> tables = tables_in_sql(sql);
  std::string names;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == tables.size() ? " and " : ", ") + tables[i];
  }
  const std::string where =
      tables.empty() ? std::string("stored amounts")
                     : (tables.size() == 1 ? "amounts in table " : "amounts in tables ") + names;
  const std::string file = database_path(db);
  return failed_with_step(StatusCode::Corrupt,
                          "summing " + where + " of database '" + file +
                              "' overflowed the 64-bit integer range (SQLite: integer overflow), "
                              "so a stored amount is far larger than any real charge and was "
                              "written or changed outside relaygw",
                          {NextStep::Kind::VerifyDatabase, file});
}

// Returns SQLite's name of the type of `column` in the current row of `statement`, as
// typeof() names it: "integer", "real", "text", "blob" or "null".
inline std::string column_type_name(sqlite3_stmt* statement, int column) {
  switch (sqlite3_column_type(statement, column)) {
    case SQLITE_INTEGER:
      return "integer";
    case SQLITE_FLOAT:
      return "real";
    case SQLITE_TEXT:
      return "text";
    case SQLITE_BLOB:
      return "blob";
    default:
      return "null";
  }
}

// Returns the Status for an amount of `table` that is stored as SQLite type `type` ("real",
// "text" or "blob") with text form `value`, for the row that `row` names ("call c1 line 2").
// relaygw stores every amount as an integer count of units, and SQL sums would round or drop
// such a value without an error, so the row was written or changed outside relaygw.
inline Status non_integer_amount_failure(sqlite3* db, std::string_view table, std::string_view row,
                                         std::string_view value, std::string_view type) {
  const std::string file = database_path(db);
  const std::string type_name = type == "real"   ? "a real number"
                                : type == "blob" ? "a blob"
                                : type == "null" ? "NULL"
                                                 : std::string(type);
  return Status(StatusCode::Corrupt,
                "table " + std::string(table) + " of database '" + file +
                    "' stores the amount of " + std::string(row) + " as " + type_name + " '" +
                    std::string(value) +
                    "', but relaygw stores amounts only as integers of 1/10,000 dollar, so the "
                    "row was written or changed outside relaygw and summing it would give a "
                    "wrong total; run `relaygw audit verify --db " +
                    file + "` to list the changed rows, then restore the database from a backup");
}

// Returns the Status for a failed SQLite step or exec on connection `db` with result `code`, and
// `what` names the failed operation ("SQLite statement failed"). A damaged, read-only, full or
// unreadable database gets a message with its file and the fix, and a locked one a retry hint.
inline Status sqlite_failure(sqlite3* db, int code, std::string_view what,
                             std::string_view message = {}) {
  const std::string reason =
      message.empty() ? std::string(sqlite3_errmsg(db)) : std::string(message);
  const std::string file = database_path(db);
  switch (code & 0xff) {
    case SQLITE_BUSY:
      return Status(StatusCode::Unavailable, locked_database_message(file, reason));
    case SQLITE_LOCKED:
      // Another statement of the same connection holds a table lock, such as a read still
      // stepping while the table is dropped.
      return Status(StatusCode::Unavailable,
                    "database '" + file + "': " + reason + "; retry the request");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return failed_with_step(StatusCode::Corrupt,
                              "database '" + file + "' is damaged (SQLite: " + reason + ")",
                              {NextStep::Kind::RestoreDatabase, file});
    case SQLITE_READONLY:
      return Status(StatusCode::PermissionDenied,
                    "database '" + file + "' is read-only (SQLite: " + reason +
                        "); nothing was written. Run relaygw as a user who may write the file, "
                        "its -wal and -shm files and its folder, or fix their permissions");
    case SQLITE_FULL:
      return Status(StatusCode::Unavailable,
                    "the disk holding database '" + file + "' is full (SQLite: " + reason +
                        "); nothing was written. Free space there and repeat the request");
    case SQLITE_IOERR:
      return Status(StatusCode::Unavailable,
                    "cannot read or write database '" + file + "' (SQLite: " + reason +
                        "); check the disk and the file, then repeat the request");
    case SQLITE_ERROR:
      if (reason == "integer overflow") {
        return sum_overflow_failure(db, "");
      }
      return Status(StatusCode::Internal, std::string(what) + ": " + reason);
    default:
      return Status(StatusCode::Internal, std::string(what) + ": " + reason);
  }
}

// Returns the Status for a failed step of prepared `statement` with result `code`, as
// sqlite_failure does, except that an overflowing SUM names the statement's tables.
inline Status statement_failure(sqlite3_stmt* statement, int code, std::string_view what) {
  sqlite3* db = sqlite3_db_handle(statement);
  if ((code & 0xff) == SQLITE_ERROR && std::string_view(sqlite3_errmsg(db)) == "integer overflow") {
    const char* sql = sqlite3_sql(statement);
    return sum_overflow_failure(db, sql != nullptr ? sql : "");
  }
  return sqlite_failure(db, code, what);
}

}  // namespace relaygw::billing::detail
