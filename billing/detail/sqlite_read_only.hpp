// Read-only opens of a SqliteStore database, which create and change no file, including the
// database's -wal and -shm files.
#pragma once

#include <memory>
#include <string>

#include "billing/detail/database_file.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace relaygw::billing::detail {

// The name and flags to pass to sqlite3_open_v2 for a read-only open of a database file.
struct ReadOnlyOpen {
  // The path itself, or a file: URI with immutable=1.
  std::string name;
  int flags = 0;
  // The database file, whose read lock on SQLite's SHARED bytes lasts until it is destroyed,
  // or nullptr when it cannot be opened. Destroy it only after closing the connection.
  std::unique_ptr<DatabaseFile> file;
};

// Chooses how to open `path` read-only. SQLite 3.40 creates the -wal and -shm files of a WAL
// database even for a read-only connection, unless it is opened with immutable=1, and fails
// when the folder may not be written. Files created by a reader would also carry the reader's
// owner and the database file's mode, which can keep the owner's writers out. So a WAL
// database with no -wal file, whose pages are then all in the database file, is opened
// immutable under a read lock. The lock keeps two kinds of checkpoint out of the file: that of
// a writer's last connection as it closes, and the automatic ones of relaygw writers
// (open_writer_file). A database with a -wal file is opened as usual, because only SQLite's
// WAL index can find the committed pages in it, and SQLite's WAL read lock then protects the
// read. Returns Unavailable when another connection holds the file locked for writing for
// more than `busy_timeout_ms`.
Result<ReadOnlyOpen> choose_read_only_open(const std::string& path, int busy_timeout_ms);

// Opens `path` beside the writing connection `db` and replaces SQLite's automatic checkpoint
// with one that waits while a read-only store reads the file immutable. Destroy the returned
// file only after closing `db`. PRAGMA wal_autocheckpoint on `db` would replace the hook.
Result<std::unique_ptr<DatabaseFile>> open_writer_file(sqlite3* db, const std::string& path);

// Permission for a relaygw writer to checkpoint `file`: a write lock on the byte that a
// read-only store read-locks while it reads the file immutable. Not granted while such a store
// reads it, and then the caller must not checkpoint. Granted without a lock when `file` is
// null or the system has no OFD locks. The lock is released when the permit is destroyed.
class CheckpointPermit {
 public:
  explicit CheckpointPermit(DatabaseFile* file);
  ~CheckpointPermit();
  CheckpointPermit(const CheckpointPermit&) = delete;
  CheckpointPermit& operator=(const CheckpointPermit&) = delete;

  bool granted() const { return outcome_ != LockOutcome::Busy; }

 private:
  DatabaseFile* file_;
  LockOutcome outcome_ = LockOutcome::Unsupported;
};

// Returns the message for a read-only open of `path` that failed with SQLite's
// `sqlite_message` and `system_error` (errno). It names the missing permission or the missing
// -shm file, and the fix.
std::string read_only_open_error(const std::string& path, const std::string& sqlite_message,
                                 int system_error);

}  // namespace relaygw::billing::detail
