// Descriptors of a database file that relaygw opens beside SQLite's own, for the open file
// description (OFD) locks that coordinate read-only stores with writers.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace relaygw::billing::detail {

// Result of a non-blocking lock request.
enum class LockOutcome {
  Locked,
  // Another open file description, in this process or another, holds a conflicting lock.
  Busy,
  // The system has no OFD locks (Linux before 3.15) or the request failed otherwise.
  Unsupported,
};

// A descriptor of a database file. Closing any descriptor of a file releases every POSIX lock
// that the process holds on the file, SQLite's own included. So a DatabaseFile never closes its
// descriptor while another DatabaseFile of the same file (device and inode) is open in the
// process. It keeps the descriptor for reuse instead, and the last one closes them all.
// Open a DatabaseFile before, or together with, a SQLite connection to the file, and destroy
// it only after closing that connection.
class DatabaseFile {
 public:
  // Opens `path` for reading, and also for writing when `writable`, which a write lock needs.
  // Returns nullptr with errno set when it cannot be opened.
  static std::unique_ptr<DatabaseFile> open(const std::string& path, bool writable);

  ~DatabaseFile();
  DatabaseFile(const DatabaseFile&) = delete;
  DatabaseFile& operator=(const DatabaseFile&) = delete;

  int descriptor() const { return descriptor_; }

  // Requests an OFD lock on `length` bytes from `start` without waiting: a write lock when
  // `exclusive`, which needs a descriptor opened `writable`, else a read lock.
  LockOutcome try_lock(off_t start, off_t length, bool exclusive);
  // Releases this descriptor's OFD locks on `length` bytes from `start`.
  void unlock(off_t start, off_t length);

 private:
  DatabaseFile(int descriptor, dev_t device, ino_t inode, bool writable)
      : descriptor_(descriptor), device_(device), inode_(inode), writable_(writable) {}

  int descriptor_;
  dev_t device_;
  ino_t inode_;
  bool writable_;
};

}  // namespace relaygw::billing::detail
