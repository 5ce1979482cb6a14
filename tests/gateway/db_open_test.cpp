// Checks that relaygw commands leave an SQLite file of another program unchanged, and that
// `db status` does not migrate an older relaygw database.
#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/migrations.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/gateway/test_support.hpp"
#include "tests/sqlite_edit.hpp"

namespace {

// Number of rows in `path`'s sqlite_master: tables, indexes and triggers.
int schema_object_count(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_master", -1, &statement, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  const int count = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return count;
}

}  // namespace

TEST_CASE("db commands reject foreign SQLite file", "[gateway][db]") {
  relaygw::test::TempDir dir;
  const std::string other = dir.file("other.db");
  relaygw::testing::edit_outside_relaygw(other, "CREATE TABLE foo (x)");
  REQUIRE(schema_object_count(other) == 1);

  const std::vector<std::vector<std::string>> commands = {
      {"db", "status", "--db", other},
      {"db", "load-deck", "--db", other, "--rates",
       relaygw::test::source_data_dir() + "/rates/example.toml"},
  };
  for (const std::vector<std::string>& arguments : commands) {
    INFO(arguments[1]);
    std::string output;
    CHECK(relaygw::test::run_relaygw(arguments, &output) != 0);
    INFO(output);
    CHECK(output.find("'" + other + "' is not a relaygw database") != std::string::npos);
    CHECK(output.find("db init") != std::string::npos);
    CHECK(schema_object_count(other) == 1);
  }
}

TEST_CASE("db status leaves older schema", "[gateway][db]") {
  relaygw::test::TempDir dir;
  const std::string path = dir.file("old.db");
  // The version before the latest in the list, which may skip a number.
  const auto& migrations = relaygw::billing::migrations();
  const int older = migrations[migrations.size() - 2].version;
  {
    relaygw::billing::SqliteOptions options;
    options.create = true;
    options.migrate_to = older;
    auto store = relaygw::billing::SqliteStore::open(path, options);
    REQUIRE(store);
    REQUIRE((*store)->schema_version() == older);
  }

  std::string output;
  CHECK(relaygw::test::run_relaygw({"db", "status", "--db", path}, &output) == 0);
  INFO(output);
  CHECK(output.find("schema version: " + std::to_string(older)) != std::string::npos);
  CHECK(output.find("Commands that write migrate it too") != std::string::npos);
  CHECK(output.find("commands that only read reject it") != std::string::npos);

  relaygw::billing::SqliteOptions read_only;
  read_only.read_only = true;
  auto reopened = relaygw::billing::SqliteStore::open(path, read_only);
  REQUIRE(reopened);
  CHECK((*reopened)->schema_version() == older);
}

TEST_CASE("db init names bad database path", "[gateway][db]") {
  relaygw::test::TempDir dir;
  std::filesystem::create_directory(dir.file("dirdb"));
  struct Case {
    std::string db;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {dir.file("dirdb"), "'" + dir.file("dirdb") + "' is a folder; pass a new database file path"},
      {dir.file("nodir/x.db"), "folder '" + dir.file("nodir") + "' of --db '" +
                                   dir.file("nodir/x.db") + "' does not exist; create it first"},
  };
  for (const Case& test : cases) {
    std::string output;
    CHECK(relaygw::test::run_relaygw({"db", "init", "--db", test.db}, &output) == 1);
    INFO(output);
    CHECK(output.find(test.expected) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("nodir")));
}
