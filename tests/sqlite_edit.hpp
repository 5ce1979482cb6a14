// Changes a database file with SQLite itself, the way someone editing the file outside
// relaygw would, for tests of how relaygw finds and reports such changes.
#pragma once

#include <string>

#include <catch2/catch.hpp>
#include <sqlite3.h>

namespace relaygw::testing {

// Runs `sql` on `path` over a connection of its own, failing the test with SQLite's message
// when a statement fails.
inline void edit_outside_relaygw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  INFO(message);
  REQUIRE(code == SQLITE_OK);
}

}  // namespace relaygw::testing
