// Read-only stores beside writers on a real SQLite file. A store that reads a WAL database
// immutable keeps relaygw writers from checkpointing into it, so it reads one snapshot. Opening
// and closing a read-only store keeps the SQLite locks of a writer in the same process.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() / ("relaygw-read-only-writer-test-" +
                                         std::to_string(random()) + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

Instant at(const std::string& text) { return parse_instant(text).value(); }

std::string file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

// The page size in bytes from the database header: bytes 16 and 17, big-endian, where 1
// means 65536.
std::uintmax_t page_size(const std::string& path) {
  const std::string header = file_bytes(path).substr(0, 100);
  REQUIRE(header.size() == 100);
  const unsigned size =
      (static_cast<unsigned char>(header[16]) << 8) | static_cast<unsigned char>(header[17]);
  return size == 1 ? 65536 : size;
}

// A posted collect call requested at `requested`, with three charge lines.
Store::BatchPosting posted_call(const std::string& id, Instant requested) {
  Store::BatchPosting item;
  item.request.id = id;
  item.request.from = "+13125550107";
  item.request.to = "+12125550101";
  item.request.billing = BillingMethod::Collect;
  item.request.billed_number = "+13125550107";
  item.events = {
      {CallEvent::Requested, requested, "gateway", {}, {}},
      {CallEvent::Accepted, requested + std::chrono::seconds(5), "gateway",
       AcceptanceMethod::TtyText, "billed party"},
      {CallEvent::Connected, requested + std::chrono::seconds(10), "gateway", {}, {}},
      {CallEvent::Disconnected, requested + std::chrono::seconds(130), "gateway", {}, {}},
  };
  item.posting.call_id = id;
  item.posting.session_seconds = 130;
  item.posting.conversation_seconds = 120;
  item.posting.billable_seconds = 120;
  item.posting.lines = {{"usage", "Usage", 2'000},
                        {"surcharge", "Operator surcharge", 15'000},
                        {"tax", "Federal excise tax", 510}};
  item.posting.total = 17'510;
  item.key = IdempotencyKey{"complete-" + id, id};
  return item;
}

// Posts `count` calls named `prefix`-N in one batch, requested a second apart in March 2026.
relaygw::Status post_calls(SqliteStore& store, const std::string& prefix, int count) {
  std::vector<Store::BatchPosting> batch;
  for (int i = 0; i < count; ++i) {
    batch.push_back(posted_call(prefix + "-" + std::to_string(i),
                                at("2026-03-02T10:00:00Z") + std::chrono::seconds(i)));
  }
  return store.post_completed_calls(batch, {"gateway", at("2026-04-02T00:00:00Z")});
}

std::unique_ptr<SqliteStore> open_writer(const std::string& path, bool create = false) {
  SqliteOptions options;
  options.create = create;
  // Commits without fsync keep the test fast, and change no lock or checkpoint.
  options.synchronous_full = false;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    FAIL(store.status().message());
  }
  return std::move(store).value();
}

std::unique_ptr<SqliteStore> open_reader(const std::string& path) {
  SqliteOptions options;
  options.read_only = true;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    FAIL(store.status().message());
  }
  return std::move(store).value();
}

// What a writer thread did. Catch2 checks are not thread-safe, so the test checks these after
// the thread ends.
struct WriterRun {
  relaygw::Status status;
  int batches = 0;
  std::uintmax_t wal_bytes = 0;
};

// Opens a writer on `path` and commits batches of 100 calls until its -wal file contains
// more than `pages` pages of `page_bytes` bytes, or 200 batches.
WriterRun write_past_wal_pages(const std::string& path, std::uintmax_t pages,
                               std::uintmax_t page_bytes, bool background_checkpoint = false) {
  WriterRun run;
  SqliteOptions options;
  options.synchronous_full = false;
  options.background_checkpoint = background_checkpoint;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    run.status = store.status();
    return run;
  }
  while (run.batches < 200 && run.wal_bytes <= pages * page_bytes) {
    run.status = post_calls(**store, "batch" + std::to_string(run.batches), 100);
    if (!run.status) {
      return run;
    }
    ++run.batches;
    std::error_code error;
    run.wal_bytes = fs::file_size(path + "-wal", error);
  }
  return run;
}

// True when another process finds a lock on SQLite's SHARED bytes of `path` (0x40000002,
// 510 bytes) that conflicts with a write lock, as a connection's SHARED lock does.
bool other_process_sees_shared_lock(const std::string& path) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const int descriptor = ::open(path.c_str(), O_RDONLY);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0x40000002;
    lock.l_len = 510;
    if (descriptor < 0 || ::fcntl(descriptor, F_GETLK, &lock) != 0) {
      ::_exit(2);
    }
    ::_exit(lock.l_type == F_UNLCK ? 1 : 0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) != 2);
  return WEXITSTATUS(status) == 0;
}

const Instant kMarch = at("2026-03-01T00:00:00Z");
const Instant kApril = at("2026-04-01T00:00:00Z");

}  // namespace

// SQLite checkpoints a -wal file into the database file once it contains 1000 pages. A store
// that reads the file immutable takes none of SQLite's WAL locks, so without relaygw's lock a
// writer that starts mid-read would overwrite the pages it reads.
TEST_CASE("immutable read keeps writer checkpoints out", "[billing][store][read-only]") {
  // The gateway's writer checkpoints on a thread of its own (WalCheckpointer), other writers
  // on the committing thread.
  const bool background_checkpoint = GENERATE(false, true);
  INFO("background checkpoints: " << background_checkpoint);
  TempDir dir;
  const std::string path = dir.file("center.db");
  {
    auto writer = open_writer(path, true);
    REQUIRE(post_calls(*writer, "before", 50));
  }
  REQUIRE_FALSE(fs::exists(path + "-wal"));
  const std::string before = file_bytes(path);
  const std::uintmax_t page_bytes = page_size(path);

  auto reader = open_reader(path);
  std::vector<std::string> scanned;
  WriterRun run;
  std::string bytes_mid_read;
  const relaygw::Status scan =
      reader->scan_calls_requested(kMarch, kApril, [&](const CallFact& fact) {
        scanned.push_back(fact.call_id);
        if (scanned.size() == 1) {
          std::thread writer(
              [&] { run = write_past_wal_pages(path, 1200, page_bytes, background_checkpoint); });
          writer.join();
          bytes_mid_read = file_bytes(path);
        }
        return true;
      });
  INFO(run.status.message());
  REQUIRE(run.status);
  REQUIRE(run.wal_bytes > 1200 * page_bytes);
  const bool unchanged_mid_read = bytes_mid_read == before;
  CHECK(unchanged_mid_read);
  INFO(scan.message());
  REQUIRE(scan);
  CHECK(scanned.size() == 50);
  CHECK(scanned.front() == "before-0");
  CHECK(scanned.back() == "before-49");
  const relaygw::Status check = reader->quick_check();
  INFO(check.message());
  CHECK(check);
  const bool unchanged_after_read = file_bytes(path) == before;
  CHECK(unchanged_after_read);
  reader.reset();

  // The reader also kept the writer's closing checkpoint out, so its commits are in the -wal
  // file, where the next read-only store finds them.
  REQUIRE(fs::exists(path + "-wal"));
  auto next = open_reader(path);
  const auto count = next->count_calls_requested(kMarch, kApril);
  REQUIRE(count);
  CHECK(*count == 50 + 100 * run.batches);
  next.reset();

  // With no reader left, the next commit checkpoints the -wal file, which contains more
  // than 1000 pages, while the writer is still open.
  auto writer = open_writer(path);
  REQUIRE(post_calls(*writer, "after", 1));
  const bool checkpointed = file_bytes(path) != before;
  CHECK(checkpointed);
}

TEST_CASE("writer checkpoints with no reader", "[billing][store][read-only]") {
  TempDir dir;
  const std::string path = dir.file("center.db");
  auto writer = open_writer(path, true);
  const std::uintmax_t page_bytes = page_size(path);
  const std::uintmax_t size_before = fs::file_size(path);

  // Commits until the database file grows, which only a checkpoint does in WAL mode, or the
  // -wal file passes 3000 pages.
  int batches = 0;
  std::uintmax_t wal_bytes = 0;
  while (fs::file_size(path) == size_before && wal_bytes <= 3000 * page_bytes) {
    REQUIRE(post_calls(*writer, "batch" + std::to_string(batches), 100));
    ++batches;
    wal_bytes = fs::file_size(path + "-wal");
  }
  INFO(batches << " batches, -wal file of " << wal_bytes << " bytes");
  CHECK(fs::file_size(path) > size_before);
  CHECK(wal_bytes >= 1000 * page_bytes);
  CHECK(wal_bytes <= 1500 * page_bytes);
}

// Closing any descriptor of a file releases every POSIX lock that the process holds on it,
// SQLite's included. A writer in WAL mode holds a SHARED lock while open, so that a closing
// connection in another process does not take it for the last one and delete the -wal file.
TEST_CASE("read-only open keeps writer locks", "[billing][store][read-only]") {
  TempDir dir;
  const std::string path = dir.file("center.db");
  auto writer = open_writer(path, true);
  REQUIRE(post_calls(*writer, "open", 1));
  REQUIRE(fs::exists(path + "-wal"));
  REQUIRE(other_process_sees_shared_lock(path));

  for (int i = 0; i < 3; ++i) {
    auto reader = open_reader(path);
    const auto count = reader->count_calls_requested(kMarch, kApril);
    REQUIRE(count);
    CHECK(*count == 1);
  }
  CHECK(other_process_sees_shared_lock(path));
  REQUIRE(post_calls(*writer, "still-open", 1));
  CHECK(other_process_sees_shared_lock(path));
}
