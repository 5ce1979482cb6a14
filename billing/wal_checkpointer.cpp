#include "billing/detail/wal_checkpointer.hpp"

#include <spdlog/spdlog.h>

#include "billing/detail/sqlite_error.hpp"
#include "billing/detail/sqlite_read_only.hpp"

namespace relaygw::billing::detail {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(sqlite3* writer,
                                                                const std::string& path,
                                                                DatabaseFile* file,
                                                                bool synchronous_full,
                                                                int wake_frames,
                                                                int writer_frames) {
  sqlite3* connection = nullptr;
  const int opened =
      sqlite3_open_v2(path.c_str(), &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr);
  if (opened != SQLITE_OK) {
    Status status = sqlite_failure(connection, opened, "opening the WAL checkpoint connection");
    sqlite3_close(connection);
    return status;
  }
  // A checkpoint syncs the WAL and the database file as its own connection's synchronous
  // setting requires, so that setting matches the writer's.
  const char* pragma = synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  const int set = sqlite3_exec(connection, pragma, nullptr, nullptr, nullptr);
  if (set != SQLITE_OK) {
    Status status = sqlite_failure(connection, set, "setting up the WAL checkpoint connection");
    sqlite3_close(connection);
    return status;
  }
  std::unique_ptr<WalCheckpointer> checkpointer(new WalCheckpointer(writer, connection, path, file, wake_frames, writer_frames));
  checkpointer->thread_ = std::thread([raw = checkpointer.get()] { raw->run(); });
  sqlite3_wal_hook(writer, &WalCheckpointer::on_commit, checkpointer.get());
  return checkpointer;
}

WalCheckpointer::WalCheckpointer(sqlite3* writer, sqlite3* connection, std::string path,
                                 DatabaseFile* file, int wake_frames, int writer_frames)
    : writer_(writer),
      connection_(connection),
      path_(std::move(path)),
      file_(file),
      wake_frames_(wake_frames),
      writer_frames_(writer_frames) {}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  sqlite3_close(connection_);
}

long WalCheckpointer::background_passes() const {
  std::lock_guard lock(mutex_);
  return background_passes_;
}

long WalCheckpointer::writer_checkpoints() const {
  std::lock_guard lock(mutex_);
  return writer_checkpoints_;
}

// Runs on the committing thread after each commit, with the number of frames in the WAL.
int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* schema, int frames) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  std::unique_lock lock(checkpointer->mutex_);
  // A count below the last one means the WAL started over.
  if (frames < checkpointer->frames_at_wake_) {
    checkpointer->frames_at_wake_ = 0;
  }
  if (frames < checkpointer->writer_frames_) {
    // One pass per wake_frames new frames, as often as SQLite's automatic checkpoint runs. A
    // pass after every commit synced the database file once per commit, which measured slower
    // on a quiet host (docs/benchmarks.md).
    if (frames - checkpointer->frames_at_wake_ >= checkpointer->wake_frames_) {
      checkpointer->frames_at_wake_ = frames;
      checkpointer->pending_ = true;
      lock.unlock();
      checkpointer->wake_.notify_all();
    }
    return SQLITE_OK;
  }

  // A pass in progress has SQLite's checkpoint lock, so the writer's own PASSIVE checkpoint
  // would return SQLITE_BUSY at once. Waiting for it costs at most one pass.
  checkpointer->wake_.wait(lock, [checkpointer] { return !checkpointer->running_; });
  checkpointer->running_ = true;
  lock.unlock();
  const int code = checkpointer->checkpoint(db, schema);
  lock.lock();
  checkpointer->running_ = false;
  checkpointer->frames_at_wake_ = frames;
  ++checkpointer->writer_checkpoints_;
  lock.unlock();
  checkpointer->wake_.notify_all();
  if (code != SQLITE_OK && code != SQLITE_BUSY) {
    spdlog::warn("database '{}': WAL checkpoint after a commit failed ({}); the WAL keeps "
                 "growing until a checkpoint succeeds",
                 checkpointer->path_, sqlite3_errstr(code));
  }
  // The commit itself succeeded, so a failed checkpoint is not reported to the caller.
  return SQLITE_OK;
}

int WalCheckpointer::checkpoint(sqlite3* db, const char* schema) {
  const CheckpointPermit permit(file_);
  // The WAL keeps its frames, and a later wake or the committing thread's checkpoint at
  // writer_frames copies them after the read.
  if (!permit.granted()) {
    return SQLITE_OK;
  }
  return sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

void WalCheckpointer::run() {
  int last_failure = SQLITE_OK;
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || (pending_ && !running_); });
    if (stopping_) {
      return;
    }
    pending_ = false;
    running_ = true;
    lock.unlock();
    const int code = checkpoint(connection_, nullptr);
    // SQLITE_BUSY means another connection was checkpointing, and the next wake tries again.
    if (code != SQLITE_OK && code != SQLITE_BUSY && code != last_failure) {
      spdlog::warn("database '{}': background WAL checkpoint failed ({}); the WAL keeps growing "
                   "until a checkpoint succeeds",
                   path_, sqlite3_errstr(code));
    }
    last_failure = code == SQLITE_OK || code == SQLITE_BUSY ? SQLITE_OK : code;
    lock.lock();
    running_ = false;
    ++background_passes_;
    wake_.notify_all();
  }
}

}  // namespace relaygw::billing::detail
