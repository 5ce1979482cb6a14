// Checks that the commands that only read open the database read-only: they leave the file's
// bytes and time unchanged, create no -wal or -shm file, read the commits in an existing -wal
// file, and reject an older schema. Also checks that `db status` reports a damaged file.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/migrations.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/gateway/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using relaygw::test::run_relaygw;
using relaygw::test::TempDir;

const std::string kLine = "3125550107";
const std::string kCard = "4000001234567899";

// The bytes and modification time of a file.
struct FileState {
  std::string bytes;
  fs::file_time_type modified;
};

FileState file_state(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return {bytes.str(), fs::last_write_time(path)};
}

// Runs `command` with /bin/sh and returns its exit status, with its standard output and
// standard error in `output`.
int run_shell(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  output.clear();
  std::array<char, 4096> chunk{};
  std::size_t read = 0;
  while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    output.append(chunk.data(), read);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Returns the shell prefix that runs a command as the unprivileged user `nobody` when the test
// runs as root, because root may read and write any file. Returns "" for other users, and
// when setpriv or the user `nobody` is missing.
std::string unprivileged_prefix() {
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv") ||
      std::system("getent passwd nobody >/dev/null") != 0) {
    return "";
  }
  return "/usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups ";
}

// Runs relaygw with `arguments` as the user of unprivileged_prefix().
int run_unprivileged(const std::vector<std::string>& arguments, std::string& output) {
  std::string command = unprivileged_prefix() + "'" + RELAYGW_BINARY + "'";
  for (const std::string& argument : arguments) {
    command += " '" + argument + "'";
  }
  return run_shell(command, output);
}

void run_or_fail(const std::vector<std::string>& arguments) {
  std::string output;
  const int status = run_relaygw(arguments, &output);
  INFO(output);
  REQUIRE(status == 0);
}

// Creates a database with one completed collect call, c1, and a prepaid card.
void make_database(const std::string& db) {
  relaygw::test::init_billing_database(db);
  run_or_fail({"call", "create", "--db", db, "--id", "c1", "--from", kLine, "--to", "2125550101",
               "--billing", "collect", "--access", "relay-tty", "--at",
               "2026-03-10T09:30:00-05:00"});
  run_or_fail({"call", "event", "--db", db, "--id", "c1", "--event", "accepted", "--how",
               "tty-text", "--by", "Grace Okafor", "--at", "2026-03-10T09:30:40-05:00"});
  run_or_fail({"call", "event", "--db", db, "--id", "c1", "--event", "connected", "--at",
               "2026-03-10T09:30:45-05:00"});
  run_or_fail({"call", "complete", "--db", db, "--id", "c1", "--key", "c1-end", "--at",
               "2026-03-10T09:42:45-05:00"});
  std::string output;
  const int added = run_shell("printf 2468 | '" + std::string(RELAYGW_BINARY) +
                                  "' card add --db '" + db + "' --number " + kCard +
                                  " --balance 20.00",
                              output);
  INFO(output);
  REQUIRE(added == 0);
}

// Every command that only reads, with the options it needs on the database of make_database.
std::vector<std::vector<std::string>> reading_commands(const std::string& db) {
  const std::vector<std::string> march = {"--from", "2026-03-01", "--to", "2026-03-31"};
  std::vector<std::vector<std::string>> commands = {
      {"db", "status", "--db", db},
      {"call", "show", "--db", db, "--id", "c1"},
      {"audit", "verify", "--db", db},
      {"audit", "reconcile", "--db", db, "--date", "2026-03-10"},
      {"card", "show", "--db", db, "--number", kCard},
      {"line", "show", "--db", db, "--number", kLine},
      {"line", "export", "--db", db},
      {"credit", "list", "--db", db},
      {"dispute", "list", "--db", db},
      {"profile", "show", "--db", db, "--line", kLine},
      {"profile", "history", "--db", db, "--line", kLine},
      {"plans", "advise", "--db", db, "--line", kLine, "--as-of", "2026-03-20T00:00:00Z"},
      {"quote", "--db", db, "--from", kLine, "--to", "2125550101", "--billing", "collect",
       "--start", "2026-03-10T09:30:00-05:00", "--minutes", "12"},
  };
  for (const char* report : {"summary", "relay-minutes", "emergency", "credits"}) {
    std::vector<std::string> arguments = {"report", report, "--db", db};
    arguments.insert(arguments.end(), march.begin(), march.end());
    commands.push_back(arguments);
  }
  return commands;
}

std::string command_text(const std::vector<std::string>& arguments) {
  std::string text;
  for (const std::string& argument : arguments) {
    text += (text.empty() ? "" : " ") + argument;
  }
  return text;
}

// Overwrites the root page of table `table` and of each of its indexes with 0xff bytes.
void damage_table(const std::string& db, const std::string& table) {
  sqlite3* connection = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &connection, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(connection,
                             "SELECT rootpage FROM sqlite_master WHERE tbl_name = ? AND "
                             "rootpage > 0",
                             -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_text(statement, 1, table.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<int> roots;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    roots.push_back(sqlite3_column_int(statement, 0));
  }
  sqlite3_finalize(statement);
  REQUIRE(sqlite3_prepare_v2(connection, "PRAGMA page_size", -1, &statement, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  const int page_size = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(connection);
  // The read-only connection above created the -wal and -shm files. The file has no commits
  // outside its own pages, so they can go.
  fs::remove(db + "-wal");
  fs::remove(db + "-shm");
  REQUIRE_FALSE(roots.empty());
  std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
  for (const int root : roots) {
    file.seekp(static_cast<std::streamoff>(root - 1) * page_size);
    const std::string garbage(page_size, '\xff');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
}

}  // namespace

// The folder may be written, so SQLite could create -wal and -shm files there, but the file
// may not.
TEST_CASE("reading commands leave database unchanged", "[gateway][db][read-only]") {
  TempDir dir;
  const std::string db = dir.file("center.db");
  make_database(db);
  REQUIRE_FALSE(fs::exists(db + "-wal"));
  REQUIRE_FALSE(fs::exists(db + "-shm"));
  fs::permissions(dir.path(), fs::perms::all);
  fs::permissions(db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const FileState before = file_state(db);

  for (const std::vector<std::string>& arguments : reading_commands(db)) {
    INFO(command_text(arguments));
    std::string output;
    CHECK(run_unprivileged(arguments, output) == 0);
    INFO(output);
    const FileState after = file_state(db);
    CHECK(after.bytes == before.bytes);
    CHECK(after.modified == before.modified);
    CHECK_FALSE(fs::exists(db + "-wal"));
    CHECK_FALSE(fs::exists(db + "-shm"));
  }
}

// A copy taken while a writer had the file open keeps commits in its -wal file. The reading
// commands must see them, so they cannot read the database file alone.
TEST_CASE("reading commands read commits in -wal", "[gateway][db][read-only]") {
  TempDir dir;
  const std::string db = dir.file("center.db");
  make_database(db);
  const std::string copy = dir.file("copy.db");
  const std::string wal_only = dir.file("wal-only.db");
  {
    // An open connection keeps the closing writer from checkpointing and removing the -wal.
    sqlite3* reader = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(reader, "SELECT COUNT(*) FROM calls", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    run_or_fail({"call", "create", "--db", db, "--id", "c2", "--from", kLine, "--to",
                 "2125550101", "--billing", "collect", "--access", "relay-tty", "--at",
                 "2026-03-11T09:30:00-05:00"});
    REQUIRE(fs::file_size(db + "-wal") > 0);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      fs::copy_file(db + suffix, copy + suffix);
    }
    fs::copy_file(db, wal_only);
    fs::copy_file(db + "-wal", wal_only + "-wal");
    sqlite3_close(reader);
  }

  SECTION("with -wal and -shm files") {
    const FileState before = file_state(copy);
    const FileState wal_before = file_state(copy + "-wal");
    std::string output;
    CHECK(run_relaygw({"call", "show", "--db", copy, "--id", "c2"}, &output) == 0);
    INFO(output);
    CHECK(output.find("call c2:") != std::string::npos);
    CHECK(file_state(copy).bytes == before.bytes);
    CHECK(file_state(copy).modified == before.modified);
    CHECK(file_state(copy + "-wal").bytes == wal_before.bytes);
  }
  SECTION("with a -wal file and no -shm file") {
    const FileState before = file_state(wal_only);
    std::string output;
    CHECK(run_relaygw({"call", "show", "--db", wal_only, "--id", "c2"}, &output) == 0);
    INFO(output);
    CHECK(output.find("call c2:") != std::string::npos);
    CHECK(file_state(wal_only).bytes == before.bytes);
  }
}

TEST_CASE("reading commands reject older schema", "[gateway][db][read-only]") {
  TempDir dir;
  const std::string path = dir.file("old.db");
  const int older = relaygw::billing::latest_schema_version() - 1;
  {
    relaygw::billing::SqliteOptions options;
    options.create = true;
    options.migrate_to = older;
    auto store = relaygw::billing::SqliteStore::open(path, options);
    REQUIRE(store);
  }
  for (const std::vector<std::string>& arguments :
       std::vector<std::vector<std::string>>{{"call", "show", "--db", path, "--id", "c1"},
                                             {"audit", "verify", "--db", path}}) {
    INFO(command_text(arguments));
    std::string output;
    CHECK(run_relaygw(arguments, &output) == 1);
    INFO(output);
    CHECK(output.find("is at schema version " + std::to_string(older)) != std::string::npos);
    CHECK(output.find("relaygw db migrate --db " + path) != std::string::npos);
  }
  relaygw::billing::SqliteOptions read_only;
  read_only.read_only = true;
  auto reopened = relaygw::billing::SqliteStore::open(path, read_only);
  REQUIRE(reopened);
  CHECK((*reopened)->schema_version() == older);
}

TEST_CASE("db status reports damaged table", "[gateway][db][read-only]") {
  TempDir dir;
  const std::string db = dir.file("damaged.db");
  make_database(db);
  std::string output;
  REQUIRE(run_relaygw({"db", "status", "--db", db}, &output) == 0);
  CHECK(output.find("integrity: ok") != std::string::npos);

  // db status reads the decks and lines, but not the calls, so only the check finds this.
  damage_table(db, "calls");
  CHECK(run_relaygw({"db", "status", "--db", db}, &output) == 1);
  INFO(output);
  CHECK(output.find("relaygw db status: database '" + db + "' is damaged") != std::string::npos);
  CHECK(output.find("restore it from a backup") != std::string::npos);

  CHECK(run_relaygw({"db", "status", "--db", db, "--skip-check"}, &output) == 0);
  CHECK(output.find("integrity: not checked") != std::string::npos);
  CHECK_FALSE(fs::exists(db + "-wal"));
}

TEST_CASE("damaged file message keeps given path", "[gateway][db][read-only]") {
  TempDir dir;
  const std::string db = dir.file("damaged.db");
  make_database(db);
  damage_table(db, "calls");
  const std::string absolute = fs::canonical(db).string();
  const std::string folder = fs::path(db).parent_path().string();
  // A relative --db, run from the database's folder, as an operator types it.
  for (const std::string& given : {std::string("damaged.db"), std::string("./damaged.db")}) {
    std::string output;
    CHECK(run_shell("cd '" + folder + "' && '" + std::string(RELAYGW_BINARY) +
                        "' db status --db '" + given + "'",
                    output) == 1);
    INFO(output);
    CHECK(output.find("relaygw db status: database '" + given + "' is damaged") !=
          std::string::npos);
    CHECK(output.find("relaygw audit verify --db " + given + "`") != std::string::npos);
    CHECK(output.find(absolute) == std::string::npos);
  }
}

// Root may write any file, so this needs an unprivileged user: the test's own, or `nobody`
// when the test runs as root.
TEST_CASE("writing command names read-only file", "[gateway][db][read-only]") {
  if (::geteuid() == 0 && unprivileged_prefix().empty()) {
    WARN("skipped: running as root without setpriv or the user nobody");
    return;
  }
  TempDir dir;
  const std::string db = dir.file("center.db");
  make_database(db);
  fs::permissions(dir.path(), fs::perms::all);
  fs::permissions(db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const FileState before = file_state(db);

  std::string output;
  CHECK(run_unprivileged({"card", "fund", "--db", db, "--number", kCard, "--amount", "5.00",
                          "--key", "fund-1", "--actor", "staff:test"},
                         output) == 1);
  INFO(output);
  CHECK(output.find("database '" + db + "' is read-only") != std::string::npos);
  CHECK(output.find("nothing was written") != std::string::npos);
  CHECK(file_state(db).bytes == before.bytes);
}
