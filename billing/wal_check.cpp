#include "billing/wal_check.hpp"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace relaygw::billing {
namespace {

// Sizes and constants of the WAL format (SQLite file format, "The Write-Ahead Log").
constexpr std::size_t kWalHeaderSize = 32;
constexpr std::size_t kFrameHeaderSize = 24;
// The two magic numbers. The low bit selects the byte order of the words that the checksums
// add: 1 for big-endian, 0 for little-endian. Stored values are big-endian either way.
constexpr std::uint32_t kMagicLittleEndianWords = 0x377f0682;
constexpr std::uint32_t kMagicBigEndianWords = 0x377f0683;
constexpr std::uint32_t kFormatVersion = 3007000;
// Bytes of a frame header that SQLite compares with the salts at bytes 16-23 of the log
// header.
constexpr std::size_t kFrameSaltOffset = 8;
constexpr std::size_t kHeaderSaltOffset = 16;
constexpr std::size_t kSaltSize = 8;
// How long the second read of a log that looks damaged waits after the first.
constexpr std::chrono::milliseconds kRereadPause{100};

std::uint32_t read_big_endian(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

std::uint32_t read_little_endian(const unsigned char* bytes) {
  return (std::uint32_t{bytes[3]} << 24) | (std::uint32_t{bytes[2]} << 16) |
         (std::uint32_t{bytes[1]} << 8) | std::uint32_t{bytes[0]};
}

// The two running sums of a WAL checksum.
struct Checksum {
  std::uint32_t first = 0;
  std::uint32_t second = 0;

  bool operator==(const Checksum&) const = default;
};

// Adds `size` bytes, a multiple of 8, to `sum` as SQLite's walChecksumBytes does. The sums
// wrap modulo 2^32.
void add_to_checksum(bool big_endian_words, const unsigned char* data, std::size_t size,
                     Checksum& sum) {
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint32_t word0 =
        big_endian_words ? read_big_endian(data + i) : read_little_endian(data + i);
    const std::uint32_t word1 =
        big_endian_words ? read_big_endian(data + i + 4) : read_little_endian(data + i + 4);
    sum.first += word0 + sum.second;
    sum.second += word1 + sum.first;
  }
}

Checksum stored_checksum(const unsigned char* bytes) {
  return {read_big_endian(bytes), read_big_endian(bytes + 4)};
}

// Formats `count` with comma thousands separators ("1,234").
std::string grouped(std::uint64_t count) {
  const std::string digits = std::to_string(count);
  std::string text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      text += ',';
    }
    text += digits[i];
  }
  return text;
}

std::string plural(std::uint64_t count, const char* one, const char* many) {
  return grouped(count) + " " + (count == 1 ? one : many);
}

// A descriptor of the -wal file, closed on destruction. SQLite's unix VFS takes no lock on
// the -wal file itself (its WAL locks are on the -shm file), so closing this descriptor
// releases no lock that SQLite holds.
class WalDescriptor {
 public:
  // O_NONBLOCK keeps a FIFO in place of the log from blocking the open until a writer comes.
  explicit WalDescriptor(const std::string& path)
      : descriptor_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)) {}
  ~WalDescriptor() {
    if (descriptor_ >= 0) {
      ::close(descriptor_);
    }
  }
  WalDescriptor(const WalDescriptor&) = delete;
  WalDescriptor& operator=(const WalDescriptor&) = delete;

  bool is_open() const { return descriptor_ >= 0; }

  // Reads `size` bytes at `offset` into `data`. Returns false on a short read or an error.
  bool read_at(std::uint64_t offset, unsigned char* data, std::size_t size) const {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t read =
          ::pread(descriptor_, data + done, size - done, static_cast<off_t>(offset + done));
      if (read < 0 && errno == EINTR) {
        continue;
      }
      if (read <= 0) {
        return false;
      }
      done += static_cast<std::size_t>(read);
    }
    return true;
  }

  bool is_regular_file() const {
    struct stat status {};
    return ::fstat(descriptor_, &status) == 0 && S_ISREG(status.st_mode);
  }

  std::uint64_t size() const {
    struct stat status {};
    return ::fstat(descriptor_, &status) == 0 ? static_cast<std::uint64_t>(status.st_size) : 0;
  }

 private:
  int descriptor_;
};

std::string damaged(const std::string& wal_path, const std::string& finding) {
  return "write-ahead log '" + wal_path + "' is damaged: " + finding +
         ". Restore the database from a backup. Before anything else opens the database, copy '" +
         wal_path +
         "' aside and keep the copy, because the next program that writes the database "
         "overwrites the ignored frames, and the last connection to close it copies the "
         "frames SQLite reads into the database file and deletes the log";
}

// The first frame at which SQLite stops reading the log, and what follows it.
struct FirstInvalidFrame {
  std::uint64_t frame = 0;  // 1-based, 0 when every whole frame is valid
  bool salts_differ = false;
  bool commits = false;  // the frame itself commits a transaction
  std::uint32_t page = 0;
  // Later frames of the same log generation, and those of them that commit a transaction
  // and whose checksums follow from their predecessors' stored checksums.
  std::uint64_t later_frames = 0;
  std::uint64_t later_commits = 0;
};

// Reads the log once. See check_wal_file.
std::optional<std::string> scan_wal(const std::string& wal_path) {
  const WalDescriptor wal(wal_path);
  if (!wal.is_open()) {
    return std::nullopt;
  }
  // SqliteStore::open rejects a FIFO, device or socket in place of the log.
  if (!wal.is_regular_file()) {
    return std::nullopt;
  }
  const std::uint64_t size = wal.size();
  if (size == 0) {
    return std::nullopt;
  }
  if (size < kWalHeaderSize) {
    return damaged(wal_path, fmt::format("it is {}, shorter than the 32-byte log header, so SQLite "
                                         "ignores the file and every transaction it held",
                                         plural(size, "byte", "bytes")));
  }
  unsigned char header[kWalHeaderSize];
  if (!wal.read_at(0, header, sizeof header)) {
    return std::nullopt;
  }
  const std::uint32_t magic = read_big_endian(header);
  const std::uint32_t version = read_big_endian(header + 4);
  const std::uint32_t page_size = read_big_endian(header + 8);
  const std::string ignored_whole =
      fmt::format("so SQLite ignores all {} of it and every transaction it holds",
                  plural(size, "byte", "bytes"));
  if (magic != kMagicLittleEndianWords && magic != kMagicBigEndianWords) {
    return damaged(wal_path, fmt::format("its header starts with 0x{:08x}, not the WAL magic "
                                         "number 0x377f0682 or 0x377f0683, {}",
                                         magic, ignored_whole));
  }
  if (version != kFormatVersion || page_size < 512 || page_size > 65536 ||
      (page_size & (page_size - 1)) != 0) {
    return damaged(wal_path,
                   fmt::format("its header gives format version {} and page size {} (expected "
                               "3007000 and a power of two from 512 to 65536), {}",
                               version, page_size, ignored_whole));
  }
  const bool big_endian_words = (magic & 1) != 0;
  Checksum computed;
  add_to_checksum(big_endian_words, header, 24, computed);
  if (computed != stored_checksum(header + 24)) {
    return damaged(wal_path,
                   fmt::format("its header does not match its checksum, {}", ignored_whole));
  }

  const std::uint64_t frame_size = kFrameHeaderSize + page_size;
  const std::uint64_t whole_frames = (size - kWalHeaderSize) / frame_size;
  const std::uint64_t cut_bytes = (size - kWalHeaderSize) % frame_size;
  std::vector<unsigned char> frame(frame_size);
  // Each frame's checksum continues from the stored checksum of the frame before it, or of
  // the header for frame 1.
  Checksum previous = stored_checksum(header + 24);
  FirstInvalidFrame invalid;
  for (std::uint64_t index = 1; index <= whole_frames; ++index) {
    if (!wal.read_at(kWalHeaderSize + (index - 1) * frame_size, frame.data(), frame_size)) {
      return std::nullopt;  // the file shrank, so a writer is resetting the log
    }
    const std::uint32_t page = read_big_endian(frame.data());
    const bool commits = read_big_endian(frame.data() + 4) != 0;
    const bool salts_match =
        std::memcmp(frame.data() + kFrameSaltOffset, header + kHeaderSaltOffset, kSaltSize) == 0;
    Checksum chained = previous;
    add_to_checksum(big_endian_words, frame.data(), 8, chained);
    add_to_checksum(big_endian_words, frame.data() + kFrameHeaderSize, page_size, chained);
    const Checksum stored = stored_checksum(frame.data() + 16);
    const bool valid = salts_match && page != 0 && chained == stored;
    if (invalid.frame == 0 && !valid) {
      invalid.frame = index;
      invalid.salts_differ = !salts_match;
      invalid.commits = commits;
      invalid.page = page;
    } else if (invalid.frame != 0 && salts_match) {
      ++invalid.later_frames;
      if (commits && chained == stored) {
        ++invalid.later_commits;
      }
    }
    previous = stored;
  }

  if (invalid.frame == 0) {
    if (cut_bytes == 0) {
      return std::nullopt;
    }
    // A cut frame whose salts are readable and belong to an earlier log generation is a
    // leftover. Otherwise the valid frames run into the cut.
    if (cut_bytes >= kFrameSaltOffset + kSaltSize) {
      if (!wal.read_at(kWalHeaderSize + whole_frames * frame_size, frame.data(),
                       kFrameSaltOffset + kSaltSize)) {
        return std::nullopt;
      }
      if (std::memcmp(frame.data() + kFrameSaltOffset, header + kHeaderSaltOffset, kSaltSize) !=
          0) {
        return std::nullopt;
      }
    }
    return damaged(wal_path,
                   fmt::format("the file ends {} into frame {} (a frame is {}), so it was cut "
                               "short. SQLite ignores frame {} and the transaction it belongs "
                               "to, and whatever the file held after it is lost",
                               plural(cut_bytes, "byte", "bytes"), grouped(whole_frames + 1),
                               plural(frame_size, "byte", "bytes"), grouped(whole_frames + 1)));
  }

  const std::string later =
      invalid.later_frames == 0
          ? std::string()
          : fmt::format(" and the {} after it, which commit {}",
                        plural(invalid.later_frames, "frame", "frames"),
                        invalid.later_commits == 0
                            ? std::string("no transaction")
                            : plural(invalid.later_commits, "transaction", "transactions"));
  if (invalid.salts_differ) {
    // Frames of an earlier log generation follow the current ones until a writer overwrites
    // them, so different salts alone are the normal end of the log.
    if (invalid.later_commits == 0) {
      return std::nullopt;
    }
    return damaged(wal_path,
                   fmt::format("the salts of frame {} do not match the log header, so SQLite "
                               "takes it for the end of the log and ignores it{}",
                               grouped(invalid.frame), later));
  }
  // A rolled-back transaction leaves frames with the current salts that commit nothing, and
  // the next transaction overwrites only their start, so its first leftover frame fails the
  // checksum. Only a lost commit is damage.
  if (!invalid.commits && invalid.later_commits == 0) {
    return std::nullopt;
  }
  return damaged(wal_path,
                 fmt::format("frame {} (database page {}{}) does not match its checksum, so "
                             "SQLite stops reading the log there and ignores it{}",
                             grouped(invalid.frame), invalid.page,
                             invalid.commits ? ", which commits a transaction" : "", later));
}

}  // namespace

std::optional<std::string> check_wal_file(const std::string& database_path) {
  const std::string wal_path = database_path + "-wal";
  std::optional<std::string> first = scan_wal(wal_path);
  if (!first) {
    return std::nullopt;
  }
  std::this_thread::sleep_for(kRereadPause);
  std::optional<std::string> second = scan_wal(wal_path);
  return second == first ? second : std::nullopt;
}

}  // namespace relaygw::billing
