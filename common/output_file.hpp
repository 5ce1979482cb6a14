// Output that reports every failed write. DescriptorStreamBuffer keeps the errno of the first
// failed write to a file descriptor. OutputFile writes a file under a temporary name and renames
// it into place, so a disk that fills up leaves no file that looks complete.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <streambuf>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace relaygw {

// A std::streambuf that writes to a file descriptor and keeps the errno of the first write
// that failed. After a failure it discards later output, so a caller checks error() once at
// the end. With `line_buffered` it writes at each newline, as C stdio does for a terminal.
class DescriptorStreamBuffer : public std::streambuf {
 public:
  explicit DescriptorStreamBuffer(int descriptor, bool line_buffered = false)
      : descriptor_(descriptor), line_buffered_(line_buffered) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  DescriptorStreamBuffer(const DescriptorStreamBuffer&) = delete;
  DescriptorStreamBuffer& operator=(const DescriptorStreamBuffer&) = delete;

  // Writes what is buffered. Returns false when this or an earlier write failed.
  bool flush() {
    write_buffered();
    return error_ == 0;
  }

  // The errno of the first failed write, or 0.
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    write_buffered();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
      if (line_buffered_ && traits_type::to_char_type(ch) == '\n') {
        write_buffered();
      }
    }
    return error_ == 0 ? traits_type::not_eof(ch) : traits_type::eof();
  }

  std::streamsize xsputn(const char* text, std::streamsize count) override {
    for (std::streamsize done = 0; done < count;) {
      if (pptr() == epptr()) {
        write_buffered();
      }
      const std::streamsize room = epptr() - pptr();
      const std::streamsize part = count - done < room ? count - done : room;
      std::memcpy(pptr(), text + done, static_cast<std::size_t>(part));
      pbump(static_cast<int>(part));
      done += part;
    }
    if (line_buffered_ && std::memchr(text, '\n', static_cast<std::size_t>(count)) != nullptr) {
      write_buffered();
    }
    return error_ == 0 ? count : 0;
  }

  int sync() override { return flush() ? 0 : -1; }

 private:
  void write_buffered() {
    const char* next = pbase();
    const char* const end = pptr();
    while (error_ == 0 && next < end) {
      const ssize_t written = ::write(descriptor_, next, static_cast<std::size_t>(end - next));
      if (written < 0 && errno == EINTR) {
        continue;
      }
      if (written <= 0) {
        error_ = written < 0 ? errno : EIO;
        break;
      }
      next += written;
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }

  int descriptor_;
  bool line_buffered_;
  int error_ = 0;
  std::array<char, 16384> buffer_{};
};

// A file that a command writes: the text goes to a temporary file in the same folder
// ("NAME.tmp-" and 8 hex digits), which replaces `path` only when commit() has written, flushed to
// disk and closed it. Without a commit (a failed write or an exception), the destructor removes the
// temporary file and leaves `path` as it was. An existing `path` that is not a regular file,
// such as /dev/stdout or a FIFO, is written in place, because renaming over it would replace
// the device.
class OutputFile {
 public:
  // Creates the temporary file with permission bits `mode`, less the umask. Fails naming
  // `path`, the system's reason and the fix.
  static Result<std::unique_ptr<OutputFile>> create(const std::string& path, mode_t mode = 0666) {
    struct stat existing {};
    if (::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
      if (S_ISDIR(existing.st_mode)) {
        return Status(StatusCode::InvalidArgument,
                      "cannot write '" + path + "': it is a folder; give the path of a file");
      }
      const int descriptor = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (descriptor < 0) {
        return open_failure(path, errno);
      }
      return std::unique_ptr<OutputFile>(new OutputFile(path, path, "", descriptor));
    }
    // A symbolic link stays in place, and the file that it points to is replaced.
    std::string target = path;
    if (char* resolved = ::realpath(path.c_str(), nullptr)) {
      target = resolved;
      std::free(resolved);
    }
    // open() with O_EXCL, unlike mkstemp(), applies the umask to `mode` without changing the
    // process's umask, which other threads may rely on.
    std::random_device random;
    for (int attempt = 0; attempt < 100; ++attempt) {
      char suffix[16];
      std::snprintf(suffix, sizeof suffix, ".tmp-%08x", static_cast<unsigned>(random()));
      const std::string temporary = target + suffix;
      const int descriptor =
          ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
      if (descriptor >= 0) {
        // A file that is replaced keeps no wider permissions than it had, so an export
        // written over a 0600 file stays private.
        struct stat created {};
        struct stat replaced {};
        if (::stat(target.c_str(), &replaced) == 0 && ::fstat(descriptor, &created) == 0) {
          (void)::fchmod(descriptor, created.st_mode & replaced.st_mode & 07777);
        }
        return std::unique_ptr<OutputFile>(new OutputFile(path, target, temporary, descriptor));
      }
      if (errno != EEXIST) {
        return open_failure(path, errno);
      }
    }
    return open_failure(path, EEXIST);
  }

  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  ~OutputFile() {
    if (descriptor_ >= 0) {
      ::close(descriptor_);
    }
    if (!committed_ && !temporary_.empty()) {
      ::unlink(temporary_.c_str());
    }
  }

  std::ostream& stream() { return stream_; }

  // Writes what is buffered, flushes it to disk, closes the file and renames it to `path`.
  // Fails naming `path`, the system's reason and the fix. After a failure a regular file at
  // `path` is unchanged, but a device or FIFO written in place may have received part.
  Status commit() {
    int error = buffer_.flush() ? 0 : buffer_.error();
    if (error == 0 && !temporary_.empty() && ::fsync(descriptor_) != 0) {
      error = errno;
    }
    const int closed = ::close(descriptor_);
    descriptor_ = -1;
    if (error == 0 && closed != 0) {
      error = errno;
    }
    if (error == 0 && !temporary_.empty() && ::rename(temporary_.c_str(), target_.c_str()) != 0) {
      error = errno;
    }
    if (error != 0) {
      return write_failure(error);
    }
    committed_ = true;
    return Status::ok();
  }

 private:
  OutputFile(std::string path, std::string target, std::string temporary, int descriptor)
      : path_(std::move(path)),
        target_(std::move(target)),
        temporary_(std::move(temporary)),
        descriptor_(descriptor),
        buffer_(descriptor),
        stream_(&buffer_) {}

  static Status open_failure(const std::string& path, int error) {
    return Status(StatusCode::Unavailable,
                  "cannot create '" + path + "': " + std::strerror(error) +
                      "; check that the folder exists and that you may write to it");
  }

  Status write_failure(int error) const {
    const std::string unchanged_note =
        temporary_.empty() ? "" : "; '" + path_ + "' was left unchanged";
    return Status(StatusCode::Unavailable,
                  "writing '" + path_ + "' failed: " + std::strerror(error) + unchanged_note +
                      "; free space on that disk or give another path, then run again");
  }

  std::string path_;       // as the caller gave it, for messages
  std::string target_;     // `path_` with symbolic links resolved, which the rename replaces
  std::string temporary_;  // empty when `path_` is written in place
  int descriptor_;
  bool committed_ = false;
  DescriptorStreamBuffer buffer_;
  std::ostream stream_;
};

// Writes `content` to `path` through OutputFile, so `path` is replaced only when every byte
// was written.
inline Status write_output_file(const std::string& path, std::string_view content,
                                mode_t mode = 0666) {
  Result<std::unique_ptr<OutputFile>> file = OutputFile::create(path, mode);
  if (!file) {
    return file.status();
  }
  (*file)->stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  return (*file)->commit();
}

}  // namespace relaygw
