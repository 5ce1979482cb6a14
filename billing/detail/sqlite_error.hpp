// The Status for a failed SQLite call, shared by the files that run SQL on a relaygw database.
#pragma once

#include <string>
#include <string_view>

#include <sqlite3.h>

#include "common/status.hpp"

namespace relaygw::billing::detail {

// Returns the Status for a failed SQLite step or exec on connection `db` with result `code`, and
// `what` names the failed operation ("SQLite statement failed"). A damaged, read-only, full or
// unreadable database gets a message with its file and the fix, and a locked one a retry hint.
inline Status sqlite_failure(sqlite3* db, int code, std::string_view what,
                             std::string_view message = {}) {
  const std::string reason =
      message.empty() ? std::string(sqlite3_errmsg(db)) : std::string(message);
  const char* name = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  const std::string file = name != nullptr && *name != '\0' ? name : "(in memory)";
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status(StatusCode::Unavailable,
                    std::string(what) + ": " + reason + "; database '" + file +
                        "' is locked by another writer, retry the request");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status(StatusCode::Corrupt,
                    "database '" + file + "' is damaged (SQLite: " + reason +
                        "); restore it from a backup, and run `relaygw audit verify --db " + file +
                        "` on the copy you restore");
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
    default:
      return Status(StatusCode::Internal, std::string(what) + ": " + reason);
  }
}

}  // namespace relaygw::billing::detail
