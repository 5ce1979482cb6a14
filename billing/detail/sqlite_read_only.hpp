// Read-only opens of a SqliteStore database, which create and change no file, including the
// database's -wal and -shm files.
#pragma once

#include <string>

#include "common/status.hpp"

namespace relaygw::billing::detail {

// The name and flags to pass to sqlite3_open_v2 for a read-only open of a database file.
struct ReadOnlyOpen {
  // The path itself, or a file: URI with immutable=1.
  std::string name;
  int flags = 0;
  // Descriptor that holds a shared lock on the database file while an immutable connection
  // reads it, or -1. Close it only after closing the connection.
  int lock_fd = -1;
};

// Chooses how to open `path` read-only. SQLite 3.40 creates the -wal and -shm files of a WAL
// database even for a read-only connection, and fails when the folder may not be written.
// So a WAL database with no -wal file, whose pages are then all in the database file, is
// opened with immutable=1, holding a shared lock that keeps a writer's closing checkpoint out
// of the file. A database with a -wal file is opened as usual, because only SQLite's WAL index
// can find the committed pages in it. Returns Unavailable when another connection holds the
// file locked for writing for more than `busy_timeout_ms`.
Result<ReadOnlyOpen> choose_read_only_open(const std::string& path, int busy_timeout_ms);

// Returns the message for a read-only open of `path` that failed with SQLite's
// `sqlite_message` and `system_error` (errno). It names the missing permission or the missing
// -shm file, and the fix.
std::string read_only_open_error(const std::string& path, const std::string& sqlite_message,
                                 int system_error);

}  // namespace relaygw::billing::detail
