#include "billing/detail/database_file.hpp"

#include <cerrno>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace relaygw::billing::detail {
namespace {

// A file and an access mode: descriptors are reused only for the same access.
using FileKey = std::tuple<dev_t, ino_t, bool>;

struct OpenFile {
  // DatabaseFile objects of the file that are open now.
  int open = 0;
  // Descriptors of closed DatabaseFile objects, without OFD locks, kept until `open` is 0.
  std::vector<int> idle;
};

std::mutex& files_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<FileKey, OpenFile>& open_files() {
  static std::map<FileKey, OpenFile> files;
  return files;
}

}  // namespace

std::unique_ptr<DatabaseFile> DatabaseFile::open(const std::string& path, bool writable) {
  const std::lock_guard<std::mutex> guard(files_mutex());
  std::map<FileKey, OpenFile>& files = open_files();
  struct stat status {};
  if (::stat(path.c_str(), &status) == 0) {
    const auto found = files.find({status.st_dev, status.st_ino, writable});
    if (found != files.end() && !found->second.idle.empty()) {
      const int descriptor = found->second.idle.back();
      found->second.idle.pop_back();
      ++found->second.open;
      return std::unique_ptr<DatabaseFile>(
          new DatabaseFile(descriptor, status.st_dev, status.st_ino, writable));
    }
  }
  const int descriptor = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (descriptor < 0) {
    return nullptr;
  }
  if (::fstat(descriptor, &status) != 0) {
    // Closing this descriptor would release the process's POSIX locks on the file, so it stays
    // open until the process exits.
    const int error = errno;
    files[{0, 0, writable}].idle.push_back(descriptor);
    errno = error;
    return nullptr;
  }
  ++files[{status.st_dev, status.st_ino, writable}].open;
  return std::unique_ptr<DatabaseFile>(
      new DatabaseFile(descriptor, status.st_dev, status.st_ino, writable));
}

DatabaseFile::~DatabaseFile() {
  unlock(0, 0);
  const std::lock_guard<std::mutex> guard(files_mutex());
  std::map<FileKey, OpenFile>& files = open_files();
  const FileKey key{device_, inode_, writable_};
  OpenFile& file = files[key];
  --file.open;
  file.idle.push_back(descriptor_);
  // Descriptors of the other access mode keep the file open too.
  const auto other = files.find({device_, inode_, !writable_});
  const bool other_open = other != files.end() && other->second.open > 0;
  if (file.open > 0 || other_open) {
    return;
  }
  for (const FileKey& closing : {key, FileKey{device_, inode_, !writable_}}) {
    const auto found = files.find(closing);
    if (found == files.end()) {
      continue;
    }
    for (const int descriptor : found->second.idle) {
      ::close(descriptor);
    }
    files.erase(found);
  }
}

LockOutcome DatabaseFile::try_lock(off_t start, off_t length, bool exclusive) {
  struct flock lock {};
  lock.l_type = exclusive ? F_WRLCK : F_RDLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = start;
  lock.l_len = length;
  if (::fcntl(descriptor_, F_OFD_SETLK, &lock) == 0) {
    return LockOutcome::Locked;
  }
  return errno == EAGAIN || errno == EACCES ? LockOutcome::Busy : LockOutcome::Unsupported;
}

void DatabaseFile::unlock(off_t start, off_t length) {
  struct flock lock {};
  lock.l_type = F_UNLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = start;
  lock.l_len = length;
  ::fcntl(descriptor_, F_OFD_SETLK, &lock);
}

}  // namespace relaygw::billing::detail
