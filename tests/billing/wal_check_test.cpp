// check_wal_file on real SQLite databases whose -wal files are kept, then damaged by hand.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/wal_check.hpp"

using relaygw::billing::check_wal_file;

namespace {

constexpr std::uint64_t kWalHeaderSize = 32;
constexpr std::uint64_t kFrameHeaderSize = 24;

class WalFixture {
 public:
  WalFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-wal-check-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~WalFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string db() const { return (dir_ / "wal.db").string(); }
  std::string wal() const { return db() + "-wal"; }

  // Runs each statement of `transactions` as its own transaction on a WAL database, with
  // `before` first, and closes the connection without the checkpoint that would copy the log
  // into the database file and delete it.
  void write(const std::vector<std::string>& transactions, const std::string& before = "") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(this->db().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr) == SQLITE_OK);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; " + before);
    for (const std::string& sql : transactions) {
      exec(db, sql);
    }
    REQUIRE(sqlite3_close(db) == SQLITE_OK);
  }

  // Creates table t and commits `count` transactions, each inserting one row that fills most
  // of a page.
  void write_rows(int count) {
    std::vector<std::string> transactions = {"CREATE TABLE t (x BLOB)"};
    for (int i = 0; i < count; ++i) {
      transactions.push_back("INSERT INTO t VALUES (randomblob(3000))");
    }
    write(transactions);
  }

  std::vector<char> read_wal() const {
    std::ifstream file(wal(), std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }
  void write_wal(const std::vector<char>& bytes) const {
    std::ofstream(wal(), std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<long>(bytes.size()));
  }

  std::uint64_t frame_size() const {
    const std::vector<char> bytes = read_wal();
    REQUIRE(bytes.size() >= kWalHeaderSize);
    return kFrameHeaderSize + read_big_endian(bytes, 8);
  }
  std::uint64_t frame_offset(std::uint64_t frame) const {
    return kWalHeaderSize + (frame - 1) * frame_size();
  }
  // Whether each whole frame of the log commits a transaction, by frame number from 1.
  std::vector<bool> commit_frames() const {
    const std::vector<char> bytes = read_wal();
    std::vector<bool> commits;
    for (std::uint64_t frame = 1; frame_offset(frame) + frame_size() <= bytes.size(); ++frame) {
      commits.push_back(read_big_endian(bytes, frame_offset(frame) + 4) != 0);
    }
    return commits;
  }

  // Counts the rows of t that SQLite reads through the log, on a copy of both files, so
  // the files under test stay as they are.
  std::int64_t rows_sqlite_reads() const {
    const std::string copy = (dir_ / "copy.db").string();
    std::filesystem::copy_file(db(), copy, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(wal(), copy + "-wal",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::remove(copy + "-shm");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(copy.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* count = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM t", -1, &count, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(count) == SQLITE_ROW);
    const std::int64_t rows = sqlite3_column_int64(count, 0);
    sqlite3_finalize(count);
    sqlite3_close(db);
    return rows;
  }

  static std::uint32_t read_big_endian(const std::vector<char>& bytes, std::uint64_t at) {
    std::uint32_t value = 0;
    for (std::uint64_t i = at; i < at + 4; ++i) {
      value = (value << 8) | static_cast<unsigned char>(bytes[i]);
    }
    return value;
  }

 private:
  static void exec(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    INFO(sql << ": " << message);
    REQUIRE(code == SQLITE_OK);
  }

  std::filesystem::path dir_;
};

// The number of commit frames after frame `frame` (1-based).
std::int64_t commits_after(const std::vector<bool>& commits, std::uint64_t frame) {
  std::int64_t count = 0;
  for (std::uint64_t i = frame; i < commits.size(); ++i) {
    count += commits[i] ? 1 : 0;
  }
  return count;
}

}  // namespace

TEST_CASE_METHOD(WalFixture, "wal check accepts intact log", "[billing][wal]") {
  CHECK_FALSE(check_wal_file(db()));  // no -wal file
  write_rows(6);
  REQUIRE(commit_frames().size() >= 7);
  CHECK(rows_sqlite_reads() == 6);
  const std::optional<std::string> damage = check_wal_file(db());
  CHECK_FALSE(damage);
  if (damage) {
    FAIL(*damage);
  }
}

TEST_CASE_METHOD(WalFixture, "wal check finds frame checksum mismatch", "[billing][wal]") {
  write_rows(6);
  const std::vector<bool> commits = commit_frames();
  const std::uint64_t bad_frame = 3;
  REQUIRE(commits.size() > bad_frame + 2);
  const std::int64_t later_commits = commits_after(commits, bad_frame);
  REQUIRE(later_commits >= 2);
  std::vector<char> bytes = read_wal();
  bytes[frame_offset(bad_frame) + kFrameHeaderSize + 100] ^= 0x01;
  write_wal(bytes);
  // The premise: SQLite itself stops at the damaged frame without an error.
  CHECK(rows_sqlite_reads() < 6);

  const std::optional<std::string> damage = check_wal_file(db());
  REQUIRE(damage);
  INFO(*damage);
  CHECK(damage->find("write-ahead log '" + wal() + "' is damaged") != std::string::npos);
  CHECK(damage->find("frame 3 (database page ") != std::string::npos);
  CHECK(damage->find("does not match its checksum") != std::string::npos);
  CHECK(damage->find(std::to_string(commits.size() - bad_frame) +
                     " frames after it, which commit " + std::to_string(later_commits) +
                     " transactions") != std::string::npos);
  CHECK(damage->find("Restore the database from a backup") != std::string::npos);
  CHECK(damage->find("copy '" + wal() + "' aside") != std::string::npos);
}

TEST_CASE_METHOD(WalFixture, "wal check finds damaged commit frame", "[billing][wal]") {
  write_rows(4);
  const std::vector<bool> commits = commit_frames();
  REQUIRE(commits.back());
  const std::uint64_t last = commits.size();
  std::vector<char> bytes = read_wal();
  bytes[frame_offset(last) + kFrameHeaderSize + 7] ^= 0x40;
  write_wal(bytes);
  CHECK(rows_sqlite_reads() == 3);

  const std::optional<std::string> damage = check_wal_file(db());
  REQUIRE(damage);
  INFO(*damage);
  CHECK(damage->find("frame " + std::to_string(last) + " (database page ") != std::string::npos);
  CHECK(damage->find("which commits a transaction) does not match its checksum") !=
        std::string::npos);
}

TEST_CASE_METHOD(WalFixture, "wal check finds cut log", "[billing][wal]") {
  write_rows(6);
  const std::vector<bool> commits = commit_frames();
  REQUIRE(commits.size() >= 5);
  REQUIRE(frame_size() == 4120);  // SQLite's default page size, 4096 bytes, and the header
  std::vector<char> bytes = read_wal();
  bytes.resize(frame_offset(5) + 1234);
  write_wal(bytes);

  const std::optional<std::string> damage = check_wal_file(db());
  REQUIRE(damage);
  INFO(*damage);
  CHECK(damage->find("the file ends 1,234 bytes into frame 5 (a frame is 4,120 bytes)") !=
        std::string::npos);
  CHECK(damage->find("Restore the database from a backup") != std::string::npos);
}

TEST_CASE_METHOD(WalFixture, "wal check finds changed salts", "[billing][wal]") {
  write_rows(6);
  const std::vector<bool> commits = commit_frames();
  REQUIRE(commits.size() > 6);
  REQUIRE(commits_after(commits, 4) >= 2);
  std::vector<char> bytes = read_wal();
  bytes[frame_offset(4) + 8] ^= 0x01;  // the first salt byte
  write_wal(bytes);
  CHECK(rows_sqlite_reads() < 6);

  const std::optional<std::string> damage = check_wal_file(db());
  REQUIRE(damage);
  INFO(*damage);
  CHECK(damage->find("the salts of frame 4 do not match the log header") != std::string::npos);
  CHECK(damage->find("which commit " + std::to_string(commits_after(commits, 4)) +
                     " transactions") != std::string::npos);
}

TEST_CASE_METHOD(WalFixture, "wal check finds damaged header", "[billing][wal]") {
  write_rows(2);
  std::vector<char> bytes = read_wal();
  bytes[13] ^= 0x01;  // the checkpoint sequence number, which the header checksum covers
  write_wal(bytes);

  const std::optional<std::string> damage = check_wal_file(db());
  REQUIRE(damage);
  INFO(*damage);
  CHECK(damage->find("its header does not match its checksum, so SQLite ignores all ") !=
        std::string::npos);

  bytes.resize(20);
  write_wal(bytes);
  const std::optional<std::string> short_file = check_wal_file(db());
  REQUIRE(short_file);
  CHECK(short_file->find("it is 20 bytes, shorter than the 32-byte log header") !=
        std::string::npos);
}

TEST_CASE_METHOD(WalFixture, "wal check ignores earlier generation", "[billing][wal]") {
  // A RESTART checkpoint makes the next writer start the log again from frame 1 with new
  // salts, so frames of the earlier generation follow the new ones.
  write_rows(8);
  const std::uint64_t first_generation = commit_frames().size();
  write({"PRAGMA wal_checkpoint(RESTART)", "INSERT INTO t VALUES (randomblob(10))"});
  REQUIRE(commit_frames().size() == first_generation);
  CHECK(rows_sqlite_reads() == 9);
  const std::optional<std::string> damage = check_wal_file(db());
  CHECK_FALSE(damage);
  if (damage) {
    FAIL(*damage);
  }
}

TEST_CASE_METHOD(WalFixture, "wal check ignores rolled back frames", "[billing][wal]") {
  // With a cache of a few pages, a large transaction writes frames to the log before it
  // ends. After its rollback, a small transaction overwrites only the first of them.
  write_rows(2);
  const std::uint64_t committed = commit_frames().size();
  std::vector<std::string> rolled_back = {"BEGIN"};
  for (int i = 0; i < 40; ++i) {
    rolled_back.push_back("INSERT INTO t VALUES (randomblob(3000))");
  }
  rolled_back.push_back("ROLLBACK");
  rolled_back.push_back("INSERT INTO t VALUES (randomblob(10))");
  write(rolled_back, "PRAGMA cache_size=2;");
  REQUIRE(commit_frames().size() > committed + 10);
  CHECK(rows_sqlite_reads() == 3);
  const std::optional<std::string> damage = check_wal_file(db());
  CHECK_FALSE(damage);
  if (damage) {
    FAIL(*damage);
  }
}
