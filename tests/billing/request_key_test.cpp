// Migration 17 on real SQLite files: calls stored at schema 16 keep their records and hashes,
// and new calls store the key and hash of their request and the card hold of their
// authorization, both covered by the record chain.
#include <chrono>
#include <filesystem>
#include <random>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/migrations.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::StatusCode;

namespace {

// The schema before migration 17.
constexpr int kNoRequestKeySchema = 16;

class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("relaygw-request-key-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

Instant instant(const std::string& text) { return parse_instant(text).value(); }

std::unique_ptr<SqliteStore> open_store(const std::string& path, int migrate_to = 0) {
  SqliteOptions options;
  options.create = true;
  options.migrate_to = migrate_to;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    FAIL(store.status().message());
  }
  return std::move(store).value();
}

// Runs `sql` through its own connection and returns the first column of the first row, or
// "NULL".
std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  INFO(sql);
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  std::string value = "NULL";
  const int stepped = sqlite3_step(statement);
  if (stepped == SQLITE_ROW && sqlite3_column_type(statement, 0) != SQLITE_NULL) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

// A sent-paid call whose request had the key `key` (empty for none).
CallRequest keyed_call(const std::string& id, const std::string& key) {
  CallRequest call;
  call.id = id;
  call.from = "+12125550101";
  call.to = "+13125550104";
  call.access = AccessTag::RelayIp;
  call.request_key = key;
  call.request_hash = key.empty() ? std::string() : sha256_hex("request of " + id);
  return call;
}

}  // namespace

TEST_CASE("migration 17 keeps stored calls", "[billing][store][request-key]") {
  TempDir dir;
  const std::string path = dir.file("schema16.db");
  {
    auto store = open_store(path, kNoRequestKeySchema);
    const WriteContext gateway{"gateway", instant("2026-03-10T15:00:00Z")};
    CallRecords records(store.get(), nullptr);
    REQUIRE(records.open(keyed_call("old", ""), gateway));
    REQUIRE(records.add_event(
        "old", {CallEvent::Authorized, instant("2026-03-10T15:00:01Z"), "gateway", {}, {}}));
    REQUIRE(records.open(keyed_call("refused", ""), gateway));
    CallEventRecord refused{CallEvent::Refused, instant("2026-03-10T15:00:02Z"), "gateway", {}, {}};
    refused.reason_code = "card-locked";
    refused.reason_message = "card ************0001 is locked";
    REQUIRE(records.add_event("refused", refused));
  }

  auto store = open_store(path);
  REQUIRE(store->schema_version() == kCallRequestKeySchema);
  REQUIRE(store->schema_version() == latest_schema_version());
  auto old = store->find_call("old");
  REQUIRE(old);
  REQUIRE(old->has_value());
  CHECK((*old)->request.request_key.empty());
  CHECK((*old)->request.request_hash.empty());
  REQUIRE((*old)->events.size() == 2);
  CHECK_FALSE((*old)->events[1].hold_amount.has_value());
  CHECK_FALSE((*old)->events[1].hold_max_seconds.has_value());
  auto refused = store->find_call("refused");
  REQUIRE(refused);
  REQUIRE(refused->has_value());
  CHECK((*refused)->events.back().reason_code == "card-locked");
  CHECK(raw_query(path, "SELECT COUNT(*) FROM pragma_foreign_key_check") == "0");

  auto records = store->verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());
  auto chain = store->verify_audit_chain();
  CHECK(chain);
}

TEST_CASE("store keeps one call per request key", "[billing][store][request-key]") {
  TempDir dir;
  const std::string path = dir.file("keys.db");
  auto store = open_store(path);
  const WriteContext gateway{"gateway", instant("2026-03-10T15:00:00Z")};
  REQUIRE(store->create_call(keyed_call("C-1", "acme/k-1"), gateway));
  REQUIRE(store->create_call(keyed_call("C-unkeyed", ""), gateway));
  REQUIRE(store->create_call(keyed_call("C-unkeyed-2", ""), gateway));

  auto stored = store->find_call("C-1");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->request.request_key == "acme/k-1");
  CHECK((*stored)->request.request_hash == sha256_hex("request of C-1"));

  auto found = store->find_call_id_by_request_key("acme/k-1");
  REQUIRE(found);
  CHECK(*found == std::optional<std::string>("C-1"));
  auto missing = store->find_call_id_by_request_key("acme/k-2");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
  auto empty = store->find_call_id_by_request_key("");
  REQUIRE(empty);
  CHECK_FALSE(empty->has_value());

  const relaygw::Status reused = store->create_call(keyed_call("C-2", "acme/k-1"), gateway);
  REQUIRE_FALSE(reused);
  CHECK(reused.code() == StatusCode::AlreadyExists);
  CHECK_THAT(reused.message(), Catch::Matchers::Contains("'acme/k-1'"));
  CHECK_THAT(reused.message(), Catch::Matchers::Contains("use a new key"));
  auto not_stored = store->find_call("C-2");
  REQUIRE(not_stored);
  CHECK_FALSE(not_stored->has_value());

  auto records = store->verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());
  // The key is part of the call's record hash.
  raw_query(path, "UPDATE calls SET request_key = 'acme/k-9' WHERE id = 'C-1'");
  auto tampered = store->verify_records();
  REQUIRE(tampered);
  CHECK_FALSE(tampered->problems.empty());
}

TEST_CASE("authorized event keeps card hold", "[billing][store][request-key]") {
  TempDir dir;
  const std::string path = dir.file("hold.db");
  auto store = open_store(path);
  const WriteContext gateway{"gateway", instant("2026-03-10T15:00:00Z")};
  REQUIRE(store->create_call(keyed_call("C-hold", "acme/k-hold"), gateway));
  CallRecords records(store.get(), nullptr);

  Authorization granted;
  granted.granted = true;
  granted.held = 12'500;
  granted.max_seconds = 125;
  REQUIRE(records.record_authorization("C-hold", granted,
                                       {"gateway", instant("2026-03-10T15:00:01Z")}));
  auto stored = store->find_call("C-hold");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  const CallEventRecord& authorized = (*stored)->events.back();
  CHECK(authorized.event == CallEvent::Authorized);
  CHECK(authorized.hold_amount == std::optional<Money>(12'500));
  CHECK(authorized.hold_max_seconds == std::optional<std::int64_t>(125));
  CHECK(card_authorization_message("************0076", *authorized.hold_amount,
                                   authorized.hold_max_seconds) ==
        "authorized on card ************0076; the hold of $1.25 covers at most 2 min 5 s, and a "
        "charge beyond the hold and the card's free funds is recorded as uncollected");
  CHECK(card_authorization_message("************0076", 0, std::nullopt) ==
        "authorized on card ************0076");

  auto records_check = store->verify_records();
  REQUIRE(records_check);
  CHECK(records_check->problems.empty());
  raw_query(path, "UPDATE call_events SET hold_amount = 1 WHERE hold_amount IS NOT NULL");
  auto tampered = store->verify_records();
  REQUIRE(tampered);
  CHECK_FALSE(tampered->problems.empty());
}

TEST_CASE("card hold only on authorized event", "[billing][store][request-key]") {
  TempDir dir;
  auto store = open_store(dir.file("hold-checks.db"));
  CallRecords records(store.get(), nullptr);
  REQUIRE(records.open(keyed_call("C-1", ""), {"gateway", instant("2026-03-10T15:00:00Z")}));

  CallEventRecord connected{
      CallEvent::Connected, instant("2026-03-10T15:00:05Z"), "gateway", {}, {}};
  connected.hold_amount = 100;
  connected.hold_max_seconds = 60;
  const relaygw::Status on_connect = records.add_event("C-1", connected);
  REQUIRE_FALSE(on_connect);
  CHECK(on_connect.code() == StatusCode::InvalidArgument);
  CHECK_THAT(on_connect.message(), Catch::Matchers::Contains("connected event takes no card hold"));

  CallEventRecord half{CallEvent::Authorized, instant("2026-03-10T15:00:01Z"), "gateway", {}, {}};
  half.hold_amount = 100;
  const relaygw::Status amount_only = records.add_event("C-1", half);
  REQUIRE_FALSE(amount_only);
  CHECK(amount_only.code() == StatusCode::InvalidArgument);
  CHECK_THAT(amount_only.message(), Catch::Matchers::Contains("record both or neither"));

  CallEventRecord negative{
      CallEvent::Authorized, instant("2026-03-10T15:00:01Z"), "gateway", {}, {}};
  negative.hold_amount = -100;
  negative.hold_max_seconds = 60;
  const relaygw::Status below_zero = records.add_event("C-1", negative);
  REQUIRE_FALSE(below_zero);
  CHECK(below_zero.code() == StatusCode::InvalidArgument);
  CHECK_THAT(below_zero.message(), Catch::Matchers::Contains("-100 units"));

  // Only the requested event is stored.
  auto stored = store->find_call("C-1");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->events.size() == 1);
}
