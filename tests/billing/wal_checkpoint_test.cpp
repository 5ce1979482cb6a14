// Background WAL checkpoints: they run off the committing thread, the WAL stays bounded, and
// readers on other connections see only committed states while they run.
#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/detail/wal_checkpointer.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::billing::detail::WalCheckpointer;

namespace {

class TempFolder {
 public:
  TempFolder() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-wal-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

void exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO(sql << ": " << (error != nullptr ? error : ""));
  sqlite3_free(error);
  REQUIRE(code == SQLITE_OK);
}

std::int64_t query_integer(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  const std::int64_t value = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  return value;
}

std::string query_text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  const unsigned char* text = sqlite3_column_text(statement, 0);
  std::string value = text != nullptr ? reinterpret_cast<const char*>(text) : "";
  sqlite3_finalize(statement);
  return value;
}

// Twenty rows of 3000 random bytes, about one page each.
const std::string kInsertTwenty =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) "
    "INSERT INTO t (v) SELECT randomblob(3000) FROM n";

std::uintmax_t wal_size(const std::string& path) {
  std::error_code missing;
  const std::uintmax_t size = std::filesystem::file_size(path + "-wal", missing);
  return missing ? 0 : size;
}

// Frames in the WAL after a one-row insert by `probe`, whose WAL hook stores the count and
// checkpoints nothing.
int frames_after_insert(sqlite3* probe) {
  int frames = -1;
  sqlite3_wal_hook(
      probe,
      [](void* out, sqlite3*, const char*, int count) {
        *static_cast<int*>(out) = count;
        return SQLITE_OK;
      },
      &frames);
  exec(probe, "INSERT INTO t (v) VALUES (x'00')");
  return frames;
}

// Waits up to ten seconds for `done`, which the checkpoint thread makes true.
template <typename Predicate>
bool eventually(Predicate done) {
  for (int attempt = 0; attempt < 1000 && !done(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

Store::BatchPosting completed_call(long index) {
  const Instant start = parse_instant("2026-03-10T14:00:00Z").value() + std::chrono::seconds(index);
  Store::BatchPosting item;
  item.request.id = "wal-" + std::to_string(index);
  item.request.from = "+13125550107";
  item.request.to = "+12125550101";
  item.events = {{CallEvent::Requested, start, "gateway", {}, {}},
                 {CallEvent::Connected, start + std::chrono::seconds(20), "gateway", {}, {}},
                 {CallEvent::Disconnected, start + std::chrono::seconds(200), "gateway", {}, {}}};
  item.posting.call_id = item.request.id;
  item.posting.billable_seconds = 180;
  item.posting.lines = {{"usage", "interstate, day, 3 min", 2'100}, {"tax", "federal tax", 63}};
  item.posting.total = 2'163;
  item.key = IdempotencyKey{"complete-" + item.request.id, "request-" + item.request.id};
  return item;
}

}  // namespace

TEST_CASE("checkpointer runs passes off the writer", "[wal-checkpoint]") {
  TempFolder folder;
  const std::string path = folder.file("raw.db");
  sqlite3* writer = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &writer,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                          nullptr) == SQLITE_OK);
  exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  {
    auto checkpointer = WalCheckpointer::start(writer, path, nullptr, true, 10, 1'000'000);
    REQUIRE(checkpointer);
    // One commit of about twenty frames wakes the thread once, so its first pass copies them
    // all.
    exec(writer, kInsertTwenty);
    CHECK(eventually([&] { return (*checkpointer)->background_passes() > 0; }));
    CHECK((*checkpointer)->writer_checkpoints() == 0);
    // With every frame copied, the next write starts the WAL over. Nothing else checkpointed:
    // the probe's hook only counts.
    sqlite3* probe = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &probe, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(probe, 10'000);
    CHECK(frames_after_insert(probe) < 5);
    CHECK(query_integer(probe, "SELECT COUNT(*) FROM t") == 21);
    sqlite3_close(probe);
  }
  sqlite3_close(writer);
}

TEST_CASE("writer checkpoints when a reader holds the WAL", "[wal-checkpoint]") {
  TempFolder folder;
  const std::string path = folder.file("held.db");
  sqlite3* writer = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &writer,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                          nullptr) == SQLITE_OK);
  exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  sqlite3* reader = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                          nullptr) == SQLITE_OK);
  {
    auto checkpointer = WalCheckpointer::start(writer, path, nullptr, true, 10, 60);
    REQUIRE(checkpointer);
    exec(writer, kInsertTwenty);
    // The reader's snapshot keeps every later frame in the WAL, so the WAL cannot restart and
    // grows past the writer's limit.
    exec(reader, "BEGIN");
    CHECK(query_integer(reader, "SELECT COUNT(*) FROM t") == 20);
    for (int batch = 0; batch < 4; ++batch) {
      exec(writer, kInsertTwenty);
    }
    CHECK((*checkpointer)->writer_checkpoints() > 0);
    CHECK(query_integer(reader, "SELECT COUNT(*) FROM t") == 20);
    exec(reader, "COMMIT");
    CHECK(query_integer(reader, "SELECT COUNT(*) FROM t") == 100);
  }
  sqlite3_close(reader);
  CHECK(query_text(writer, "PRAGMA integrity_check") == "ok");
  sqlite3_close(writer);
}

TEST_CASE("store checkpoints in background while posting", "[wal-checkpoint]") {
  TempFolder folder;
  const std::string path = folder.file("posting.db");
  SqliteOptions options;
  options.create = true;
  options.background_checkpoint = true;
  auto opened = SqliteStore::open(path, options);
  REQUIRE(opened);
  std::unique_ptr<SqliteStore> store = std::move(opened).value();
  REQUIRE(store->checkpointer() != nullptr);

  // A reader on its own connection checks in each snapshot that every stored call has its
  // posting, which a read of a half-copied checkpoint would break.
  std::atomic<bool> writing{true};
  std::atomic<long> snapshots{0};
  std::atomic<long> torn{0};
  std::thread reader_thread([&] {
    sqlite3* reader = nullptr;
    if (sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      torn = -1;
      sqlite3_close(reader);
      return;
    }
    sqlite3_busy_timeout(reader, 10'000);
    sqlite3_stmt* check = nullptr;
    sqlite3_prepare_v2(reader,
                       "SELECT (SELECT COUNT(*) FROM calls), (SELECT COUNT(*) FROM call_postings)",
                       -1, &check, nullptr);
    while (writing) {
      if (sqlite3_step(check) == SQLITE_ROW &&
          sqlite3_column_int64(check, 0) != sqlite3_column_int64(check, 1)) {
        ++torn;
      }
      sqlite3_reset(check);
      ++snapshots;
    }
    sqlite3_finalize(check);
    sqlite3_close(reader);
  });

  constexpr long kCalls = 12'000;
  constexpr long kBatch = 1'500;
  std::uintmax_t largest_wal = 0;
  for (long first = 0; first < kCalls; first += kBatch) {
    std::vector<Store::BatchPosting> batch;
    for (long index = first; index < first + kBatch; ++index) {
      batch.push_back(completed_call(index));
    }
    REQUIRE(store->post_completed_calls(batch, {"gateway", batch.front().events.front().at}));
    largest_wal = std::max(largest_wal, wal_size(path));
  }
  writing = false;
  reader_thread.join();

  CHECK(torn == 0);
  CHECK(snapshots > 0);
  CHECK(eventually([&] { return store->checkpointer()->background_passes() > 0; }));
  // The writer's own checkpoint bounds the WAL near its limit plus the last transaction.
  CHECK(largest_wal < std::uintmax_t{2} * WalCheckpointer::kWriterFrames * (4096 + 24));
  CHECK(store->count_calls_requested(parse_instant("2026-03-10T00:00:00Z").value(),
                                     parse_instant("2026-03-11T00:00:00Z").value())
            .value() == kCalls);
  store.reset();

  // Closing the last connection checkpoints and removes the WAL; the file stays whole.
  CHECK(wal_size(path) == 0);
  sqlite3* check = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &check, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  CHECK(query_integer(check, "SELECT COUNT(*) FROM charge_lines") == 2 * kCalls);
  sqlite3_close(check);
}

TEST_CASE("store without background checkpoints", "[wal-checkpoint]") {
  TempFolder folder;
  SqliteOptions options;
  options.create = true;
  auto store = SqliteStore::open(folder.file("plain.db"), options);
  REQUIRE(store);
  CHECK((*store)->checkpointer() == nullptr);
}
