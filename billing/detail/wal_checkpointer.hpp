// Background WAL checkpoints for a writing SqliteStore.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "billing/detail/database_file.hpp"
#include "common/status.hpp"

namespace relaygw::billing::detail {

// Copies the write-ahead log into the database file on its own thread and connection. A commit
// then does not wait for the checkpoint that SQLite would run on the committing thread, which
// copies the WAL and syncs the database file.
//
// It replaces the writer's automatic checkpoint through sqlite3_wal_hook. Each time commits
// bring `wake_frames` more frames into the WAL, the thread runs a PASSIVE checkpoint, which
// takes no lock that a writer or reader waits for. That is as often as SQLite's automatic
// checkpoint runs, so one-call commits cost the same, and a batch writer's commits no longer
// wait for the copy and the sync of the database file.
//
// A writer that commits without pause can keep the WAL from restarting, because the WAL
// restarts only when a write transaction begins after every frame was copied. So once the WAL
// contains `writer_frames` frames, the committing thread waits for any pass in progress and runs
// a PASSIVE checkpoint itself, as SQLite's automatic checkpoint would.
class WalCheckpointer {
 public:
  // SQLite's default automatic checkpoint size (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT).
  static constexpr int kWakeFrames = 1000;
  // 64 MiB of WAL at 4 KiB pages.
  static constexpr int kWriterFrames = 16000;

  // Opens a second connection to `path` and starts the thread. `writer` and `file` (the
  // writer's DatabaseFile, or null) must stay open until this object is destroyed. No pass
  // runs while a read-only store reads the file immutable (CheckpointPermit). On failure the
  // writer keeps the checkpoint hook it had.
  static Result<std::unique_ptr<WalCheckpointer>> start(sqlite3* writer, const std::string& path,
                                                        DatabaseFile* file, bool synchronous_full,
                                                        int wake_frames = kWakeFrames,
                                                        int writer_frames = kWriterFrames);

  // Stops the thread after any pass in progress and closes its connection. The writer is left
  // with no checkpoint hook, so destroy this object just before closing the writer, whose
  // close checkpoints the WAL as the last connection.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Background passes completed and checkpoints the committing thread ran, for tests.
  long background_passes() const;
  long writer_checkpoints() const;

 private:
  WalCheckpointer(sqlite3* writer, sqlite3* connection, std::string path, DatabaseFile* file,
                  int wake_frames, int writer_frames);
  // Runs a PASSIVE checkpoint on `db` unless a read-only store reads the file immutable.
  int checkpoint(sqlite3* db, const char* schema);
  static int on_commit(void* self, sqlite3* db, const char* schema, int frames);
  void run();

  sqlite3* writer_;
  sqlite3* connection_;
  std::string path_;
  DatabaseFile* file_;
  int wake_frames_;
  int writer_frames_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_ = false;  // a commit asked for a pass
  bool running_ = false;  // a pass holds SQLite's checkpoint lock
  int frames_at_wake_ = 0;  // WAL frames at the last wake or committing-thread checkpoint
  bool stopping_ = false;
  long background_passes_ = 0;
  long writer_checkpoints_ = 0;
  std::thread thread_;
};

}  // namespace relaygw::billing::detail
