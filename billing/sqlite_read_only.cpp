#include "billing/detail/sqlite_read_only.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fcntl.h>
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

// True when the header of `path` marks a WAL database: bytes 18 and 19, the file format
// write and read versions, are both 2 (SQLite file format, "The Database Header").
bool is_wal_database(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::array<char, 20> header{};
  if (!file.read(header.data(), static_cast<std::streamsize>(header.size()))) {
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

// Opens `path` and read-locks its SHARED bytes with an open file description lock, which
// blocks a writer's EXCLUSIVE lock as a SQLite reader's SHARED lock does. Retries for up to
// `busy_timeout_ms` while a writer has the bytes locked. Returns the descriptor, or -1 when the file
// cannot be opened or the system has no such locks; SQLite then reports the file itself, or
// reads it without the lock.
Result<int> lock_shared(const std::string& path, int busy_timeout_ms) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  struct flock lock {};
  lock.l_type = F_RDLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = kSharedFirst;
  lock.l_len = kSharedSize;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    const int error = errno;
    const bool busy = error == EAGAIN || error == EACCES;
    if (busy && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    ::close(fd);
    if (busy) {
      return Status(StatusCode::Unavailable,
                    "database '" + path + "' is locked by another writer, retry the request");
    }
    return -1;
  }
  return fd;
}

}  // namespace

Result<ReadOnlyOpen> choose_read_only_open(const std::string& path, int busy_timeout_ms) {
  ReadOnlyOpen open{path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, -1};
  if (!is_wal_database(path) || has_file(path + "-wal")) {
    return open;
  }
  Result<int> lock = lock_shared(path, busy_timeout_ms);
  if (!lock) {
    return lock.status();
  }
  // A writer that opened the file before the lock was taken has created the -wal file, and its
  // commits are there, so the file is opened as usual.
  if (has_file(path + "-wal")) {
    if (*lock >= 0) {
      ::close(*lock);
    }
    return open;
  }
  // NOTE: a writer that starts now can still checkpoint into the file while it is read, once
  // its -wal file reaches SQLite's automatic checkpoint size (1000 pages by default), because
  // an immutable connection takes no WAL read lock. The command may then fail or read a mix.
  open.name = immutable_uri(path);
  open.flags |= SQLITE_OPEN_URI;
  open.lock_fd = *lock;
  return open;
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
