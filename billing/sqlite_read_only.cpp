#include "billing/detail/sqlite_read_only.hpp"

#include "billing/detail/sqlite_error.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>
#include <sqlite3.h>

namespace relaygw::billing::detail {
namespace {

// The bytes that SQLite's unix VFS read-locks on a database file for a SHARED lock and
// write-locks for an EXCLUSIVE one (SQLite os.h: SHARED_FIRST is PENDING_BYTE, 0x40000000,
// plus 2, and SHARED_SIZE is 510). A connection in WAL mode that closes last takes the
// EXCLUSIVE lock to checkpoint the -wal file into the database file, and skips the checkpoint
// while another process holds a SHARED lock.
constexpr off_t kSharedFirst = 0x40000000 + 2;
constexpr off_t kSharedSize = 510;

// The byte after SQLite's lock bytes, on which SQLite takes no lock. A read-only store that
// reads the file immutable read-locks it, and a relaygw writer write-locks it while it
// checkpoints, so the two never overlap.
constexpr off_t kImmutableReaderByte = kSharedFirst + kSharedSize;

// SQLite's default automatic checkpoint size in pages (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT,
// sqlite3_wal_autocheckpoint).
constexpr int kAutoCheckpointPages = 1000;

// True when the header of the file marks a WAL database: bytes 18 and 19, the file format
// write and read versions, are both 2 (SQLite file format, "The Database Header").
bool is_wal_database(const DatabaseFile& file) {
  std::array<char, 20> header{};
  const ssize_t read = ::pread(file.descriptor(), header.data(), header.size(), 0);
  if (read != static_cast<ssize_t>(header.size())) {
    return false;
  }
  return header[18] == 2 && header[19] == 2;
}

bool has_file(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

// Returns `path` as an absolute file: URI with immutable=1. Every byte other than ASCII
// letters, digits and "/._~-" is percent-encoded, so '?', '#' and '%' stay in the path.
std::string immutable_uri(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) {
    absolute = path;
  }
  std::string uri = "file://";
  for (const char byte : absolute.string()) {
    const auto code = static_cast<unsigned char>(byte);
    const bool plain = (code >= 'a' && code <= 'z') || (code >= 'A' && code <= 'Z') ||
                       (code >= '0' && code <= '9') || std::strchr("/._~-", code) != nullptr;
    uri += plain ? std::string(1, byte) : fmt::format("%{:02X}", code);
  }
  return uri + "?immutable=1";
}

// Read-locks SQLite's SHARED bytes and kImmutableReaderByte of `file`. The first keeps a
// closing writer's EXCLUSIVE lock out, as a SQLite reader's SHARED lock does, and the second
// keeps relaygw writers from checkpointing. Retries for up to `busy_timeout_ms` while a
// writer has the bytes locked. Returns false when the system has no OFD locks, so the file is
// read without them.
Result<bool> lock_immutable_read(DatabaseFile& file, const std::string& path, int busy_timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (true) {
    const LockOutcome outcome = file.try_lock(kSharedFirst, kSharedSize + 1, false);
    if (outcome == LockOutcome::Locked) {
      return true;
    }
    if (outcome == LockOutcome::Unsupported) {
      return false;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(StatusCode::Unavailable, locked_database_message(path, ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Checkpoints the WAL once it contains kAutoCheckpointPages pages, as SQLite's automatic
// checkpoint does, unless a read-only store has the file open immutable. That store reads
// the database file without SQLite's WAL locks, which would otherwise keep the checkpoint
// from overwriting pages it reads. The next commit tries again.
int checkpoint_unless_immutable_reader(void* context, sqlite3* db, const char* schema, int pages) {
  if (pages < kAutoCheckpointPages) {
    return SQLITE_OK;
  }
  const CheckpointPermit permit(static_cast<DatabaseFile*>(context));
  if (!permit.granted()) {
    return SQLITE_OK;
  }
  // As in SQLite's own automatic checkpoint, a failed checkpoint leaves the commit in the WAL
  // and is retried after the next commit.
  sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  return SQLITE_OK;
}

}  // namespace

Result<ReadOnlyOpen> choose_read_only_open(const std::string& path, int busy_timeout_ms) {
  ReadOnlyOpen open{path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr};
  open.file = DatabaseFile::open(path, false);
  // SQLite reports a file that cannot be read, with its own reason.
  if (open.file == nullptr || !is_wal_database(*open.file) || has_file(path + "-wal")) {
    return open;
  }
  Result<bool> locked = lock_immutable_read(*open.file, path, busy_timeout_ms);
  if (!locked) {
    return locked.status();
  }
  // A writer that opened the file before the lock was taken has created the -wal file, and its
  // commits are there, so the file is opened as usual. SQLite's WAL read lock then keeps
  // checkpoints from overwriting the pages that the connection reads, so relaygw writers may
  // checkpoint. The lock on the SHARED bytes stays, as the connection's own SHARED lock does
  // in WAL mode, so that no writer deletes the -wal file before the connection opens it.
  if (has_file(path + "-wal")) {
    open.file->unlock(kImmutableReaderByte, 1);
    return open;
  }
  // NOTE: writers other than relaygw, such as the sqlite3 shell, ignore kImmutableReaderByte.
  // One that starts now still checkpoints into the file while it is read, once its -wal file
  // reaches its automatic checkpoint size, and the command may then fail or read a mix.
  // Without OFD locks (Linux before 3.15) relaygw writers cannot see the reader either.
  open.name = immutable_uri(path);
  open.flags |= SQLITE_OPEN_URI;
  return open;
}

CheckpointPermit::CheckpointPermit(DatabaseFile* file) : file_(file) {
  if (file_ != nullptr) {
    outcome_ = file_->try_lock(kImmutableReaderByte, 1, true);
  }
}

CheckpointPermit::~CheckpointPermit() {
  if (outcome_ == LockOutcome::Locked) {
    file_->unlock(kImmutableReaderByte, 1);
  }
}

Result<std::unique_ptr<DatabaseFile>> open_writer_file(sqlite3* db, const std::string& path) {
  std::unique_ptr<DatabaseFile> file = DatabaseFile::open(path, true);
  // A file that SQLite could open only for reading fails at its first write with a message
  // that names the permission, and no checkpoint can write to it either.
  if (file == nullptr && (errno == EACCES || errno == EPERM || errno == EROFS)) {
    file = DatabaseFile::open(path, false);
  }
  if (file == nullptr) {
    return Status(StatusCode::Unavailable,
                  "cannot open database '" + path +
                      "' to coordinate checkpoints with readers: " + std::strerror(errno) +
                      "; check the file's permissions and the open "
                      "file limit (ulimit -n)");
  }
  sqlite3_wal_hook(db, checkpoint_unless_immutable_reader, file.get());
  return file;
}

std::string read_only_open_error(const std::string& path, const std::string& sqlite_message,
                                 int system_error) {
  if (has_file(path + "-wal") && !has_file(path + "-shm")) {
    return "cannot read database '" + path + "': it has a write-ahead log '" + path +
           "-wal' but no '" + path +
           "-shm' index file, and SQLite could not create one in that folder; copy '" + path +
           "' and '" + path + "-wal' to a folder you may write and run the command on the copy";
  }
  if (system_error == EACCES || system_error == EPERM) {
    return "cannot read database '" + path +
           "': permission denied; run relaygw as a user who may read the file and its -wal and "
           "-shm files, or fix their permissions";
  }
  return "cannot open database '" + path + "' read-only: " + sqlite_message +
         (system_error != 0 ? " (" + std::string(std::strerror(system_error)) + ")"
                            : std::string()) +
         "; check that the file, its -wal and -shm files and its folder can be read";
}

}  // namespace relaygw::billing::detail
