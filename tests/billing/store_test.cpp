// SqliteStore: schema migrations, idempotency keys and the audit hash chain, on real files.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "billing/detail/sqlite_error.hpp"
#include "billing/directory.hpp"
#include "billing/migrations.hpp"
#include "billing/record_chain.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::StatusCode;

namespace {

// A fresh directory under the system temp folder, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("relaygw-store-test-" + std::to_string(random()) + std::to_string(random()));
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

WriteContext staff() {
  return WriteContext{"staff:test", parse_instant("2026-03-10T14:00:00Z").value()};
}

std::unique_ptr<SqliteStore> create(const std::string& path, int migrate_to = 0) {
  SqliteOptions options;
  options.create = true;
  options.migrate_to = migrate_to;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    FAIL(store.status().message());
  }
  return std::move(store).value();
}

// Runs one SQL statement on the file through a separate raw connection; returns the first
// column of the first row as text.
std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  std::string value;
  const int code = sqlite3_step(statement);
  REQUIRE((code == SQLITE_ROW || code == SQLITE_DONE));
  if (code == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

Line sample_line() {
  Line line;
  line.number = "+13125550142";
  line.listing_name = "Rivera, Ana";
  line.type = LineType::Residential;
  line.state = "IL";
  line.rate_center = "CHICAGO";
  line.time_zone = "America/Chicago";
  return line;
}

}  // namespace

TEST_CASE("sqlite store creates latest schema in wal", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("new.db");
  auto store = create(path);
  CHECK(store->schema_version() == latest_schema_version());
  CHECK(raw_query(path, "PRAGMA journal_mode") == "wal");
  CHECK(raw_query(path, "SELECT COUNT(*) FROM schema_version") ==
        std::to_string(migrations().size()));
}

// The store turns SQLite's memory statistics off before SQLite initializes, because they take
// a global mutex on every allocation. SQLite then counts no memory in use.
TEST_CASE("sqlite memory statistics are off", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("memory.db"));
  REQUIRE(add_line(*store, sample_line(), staff()));
  CHECK(sqlite3_memory_used() == 0);
}

TEST_CASE("sqlite store enforces foreign keys", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("fk.db"));
  // An event for a call that does not exist must not be stored.
  const relaygw::Status status = store->append_call_event(
      "call-missing", CallEventRecord{CallEvent::Connected, staff().at, "gateway", {}, {}});
  CHECK(status.code() == StatusCode::NotFound);
  // A posting for an unknown call is refused by the foreign key itself.
  CallPosting posting;
  posting.call_id = "call-missing";
  Store::PostingRequest request{posting, std::nullopt, "", {}, {}};
  auto posted = store->post_call(request, IdempotencyKey{"k1", "h1"}, staff());
  REQUIRE_FALSE(posted);
  CHECK(posted.status().message().find("FOREIGN KEY") != std::string::npos);
}

TEST_CASE("sqlite store migrates older database", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("old.db");
  {
    auto old_store = create(path, 1);
    CHECK(old_store->schema_version() == 1);
    REQUIRE(old_store->append_line(sample_line(), 0, "line added", staff()));
  }
  CHECK(raw_query(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'calls'") == "0");

  auto store = SqliteStore::open(path);
  REQUIRE(store);
  CHECK((*store)->schema_version() == latest_schema_version());
  CHECK(raw_query(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'calls'") == "1");
  // Data written before the migration is still there.
  auto line = (*store)->find_line("+13125550142");
  REQUIRE(line);
  REQUIRE(line->has_value());
  CHECK((*line)->line.listing_name == "Rivera, Ana");
}

TEST_CASE("sqlite store rejects newer schema", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("newer.db");
  { auto store = create(path); }
  raw_query(path,
            "INSERT INTO schema_version (version, description, applied_at) "
            "VALUES (99, 'from the future', '2030-01-01T00:00:00Z')");
  auto reopened = SqliteStore::open(path);
  REQUIRE_FALSE(reopened);
  CHECK(reopened.status().code() == StatusCode::FailedPrecondition);
  CHECK(reopened.status().message().find("version 99 is newer") != std::string::npos);
}

TEST_CASE("sqlite store open needs existing file", "[billing][store]") {
  TempDir dir;
  auto missing = SqliteStore::open(dir.file("missing.db"));
  REQUIRE_FALSE(missing);
  CHECK(missing.status().code() == StatusCode::NotFound);
  CHECK(missing.status().message().find("relaygw db init") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("missing.db")));
}

TEST_CASE("sqlite store rejects empty path", "[billing][store]") {
  SqliteOptions options;
  options.create = true;
  auto opened = SqliteStore::open("", options);
  REQUIRE_FALSE(opened);
  CHECK(opened.status().code() == StatusCode::InvalidArgument);
  CHECK(opened.status().message().find("--db") != std::string::npos);
}

TEST_CASE("idempotency key takes effect once", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("idem.db"));
  Card card;
  card.number = "5550142000001";
  card.pin = PinHash{"00", 1, "00"};
  REQUIRE(store->add_card(card, {LedgerEntry{LedgerKind::Credit, 10'000, ""}}, staff()));

  const std::vector<LedgerEntry> debit{{LedgerKind::Debit, -2'500, "call-1"}};
  const IdempotencyKey key{"debit-1", "hash-a"};
  auto first = store->append_ledger(card.number, debit, false, key, staff());
  auto repeat = store->append_ledger(card.number, debit, false, key, staff());
  REQUIRE(first);
  REQUIRE(repeat);
  CHECK(first->balance == 7'500);
  CHECK(repeat->balance == 7'500);
  CHECK(store->card_funds(card.number, "")->balance == 7'500);

  auto conflict =
      store->append_ledger(card.number, debit, false, IdempotencyKey{"debit-1", "hash-b"}, staff());
  REQUIRE_FALSE(conflict);
  CHECK(conflict.status().code() == StatusCode::AlreadyExists);
  CHECK(store->card_funds(card.number, "")->balance == 7'500);
}

TEST_CASE("ledger hold refused past available funds", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("hold.db"));
  Card card;
  card.number = "5550142000002";
  card.pin = PinHash{"00", 1, "00"};
  REQUIRE(store->add_card(card, {LedgerEntry{LedgerKind::Credit, 1'000, ""}}, staff()));
  REQUIRE(store->append_ledger(card.number, {{LedgerKind::Hold, -600, "call-a"}}, true,
                               std::nullopt, staff()));
  auto second = store->append_ledger(card.number, {{LedgerKind::Hold, -600, "call-b"}}, true,
                                     std::nullopt, staff());
  REQUIRE_FALSE(second);
  CHECK(second.status().code() == StatusCode::ResourceExhausted);
  auto funds = store->card_funds(card.number, "call-a");
  REQUIRE(funds);
  CHECK(funds->available == 400);
  CHECK(funds->balance == 1'000);
  CHECK(funds->held_for_call == 600);
}

TEST_CASE("audit chain detects an edited row", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("audit.db");
  auto store = create(path);
  REQUIRE(add_line(*store, sample_line(), staff()));
  LineChange change;
  change.screening = Screening::NoCollect;
  REQUIRE(change_line(*store, "3125550142", change, "customer request", staff()));
  auto verified = store->verify_audit_chain();
  REQUIRE(verified);
  CHECK(*verified == 2);

  raw_query(path, "UPDATE audit_log SET payload = replace(payload, 'no-collect', 'none')");
  auto tampered = store->verify_audit_chain();
  REQUIRE_FALSE(tampered);
  CHECK(tampered.status().code() == StatusCode::Corrupt);
  CHECK(tampered.status().message().find("row 2") != std::string::npos);
}

TEST_CASE("rate deck stored with hash and dates", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("deck.db"));
  auto none = store->current_rate_deck();
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  const std::string text = "name = \"test\"\n";
  StoredRateDeck deck{"test", text, sha256_hex(text), "2026-01-01", "", "data/rates/test.toml"};
  REQUIRE(store->add_rate_deck(deck, staff()));
  auto current = store->current_rate_deck();
  REQUIRE(current);
  REQUIRE(current->has_value());
  CHECK((*current)->text == text);
  CHECK((*current)->sha256_hex == sha256_hex(text));
  CHECK((*current)->effective_from == "2026-01-01");
  CHECK((*current)->effective_to.empty());
}

TEST_CASE("identical rate deck stored once", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("same-deck.db"));
  const std::string first_text = "name = \"first\"\n";
  const std::string fix_text = "name = \"fix\"\n";
  const StoredRateDeck first{"first", first_text, sha256_hex(first_text), "2026-01-01", "",
                             "first.toml"};
  const StoredRateDeck fix{"fix", fix_text, sha256_hex(fix_text), "2026-01-01", "", "fix.toml"};
  const WriteContext other{"staff:other", parse_instant("2026-03-11T09:00:00Z").value()};
  bool checked = false;
  const Store::UnpostedCallsCheck check = [&](const std::vector<CallRecord>&) {
    checked = true;
    return relaygw::Status::ok();
  };

  auto stored = store->add_rate_deck_checked(first, check, staff());
  REQUIRE(stored);
  CHECK(stored->stored);
  CHECK(checked);

  // The same text and dates again: nothing stored, and the first storing is named.
  checked = false;
  auto again = store->add_rate_deck_checked(first, check, other);
  REQUIRE(again);
  CHECK_FALSE(again->stored);
  CHECK_FALSE(checked);
  CHECK(again->deck.seq == stored->deck.seq);
  CHECK(again->deck.actor == "staff:test");
  CHECK(again->deck.stored_at == "2026-03-10T14:00:00Z");
  CHECK(store->list_rate_decks().value().size() == 1);

  // The same text with another date is another deck.
  StoredRateDeck later = first;
  later.effective_from = "2026-02-01";
  auto dated = store->add_rate_deck_checked(later, check, other);
  REQUIRE(dated);
  CHECK(dated->stored);

  // After a correction with the same date, the first deck is stored again and in effect again.
  auto corrected = store->add_rate_deck_checked(fix, check, other);
  REQUIRE(corrected);
  CHECK(corrected->stored);
  CHECK(store->rate_deck_in_effect("2026-01-15").value()->sha256_hex == fix.sha256_hex);
  auto restored = store->add_rate_deck_checked(first, check, other);
  REQUIRE(restored);
  CHECK(restored->stored);
  CHECK(restored->deck.actor == "staff:other");
  CHECK(store->rate_deck_in_effect("2026-01-15").value()->sha256_hex == first.sha256_hex);
  CHECK(store->list_rate_decks().value().size() == 4);
}

TEST_CASE("rate deck keeps every file", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("files.db");
  auto store = create(path);
  StoredRateDeck deck{"split", "name = \"split\"\n", "", "2026-01-01", "", "/decks/split"};
  deck.files = {{"a.toml", "name = \"split\"\n", sha256_hex("name = \"split\"\n")},
                {"b.toml", "# more versions\n", sha256_hex("# more versions\n")}};
  deck.sha256_hex = sha256_hex("manifest");
  REQUIRE(store->add_rate_deck(deck, staff()));

  auto current = store->current_rate_deck();
  REQUIRE(current);
  REQUIRE(current->has_value());
  REQUIRE((*current)->files.size() == 2);
  CHECK((*current)->files[0].name == "a.toml");
  CHECK((*current)->files[1].name == "b.toml");
  CHECK((*current)->files[1].text == "# more versions\n");
  CHECK((*current)->files[1].sha256_hex == sha256_hex("# more versions\n"));
  CHECK((*current)->sha256_hex == sha256_hex("manifest"));

  auto check = store->verify_records();
  REQUIRE(check);
  CHECK(check->problems.empty());
  raw_query(path, "UPDATE rate_deck_files SET text = '# changed' WHERE file_no = 2");
  auto tampered = store->verify_records();
  REQUIRE(tampered);
  REQUIRE(tampered->problems.size() == 1);
  CHECK(tampered->problems[0].table == "rate_deck_files");
  CHECK(tampered->problems[0].kind == "edited");
}

TEST_CASE("schema 7 deck migrates to one file", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("deck7.db");
  const std::string text = "name = \"old\"\n";
  {
    auto old_store = create(path, 7);
    CHECK(old_store->schema_version() == 7);
    StoredRateDeck deck{"old", text, sha256_hex(text), "2026-01-01", "", "data/rates/old.toml"};
    REQUIRE(old_store->add_rate_deck(deck, staff()));
    auto at_7 = old_store->current_rate_deck();
    REQUIRE(at_7);
    CHECK((*at_7)->files.empty());
  }
  CHECK(raw_query(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rate_deck_files'") ==
        "0");

  auto store = SqliteStore::open(path);
  REQUIRE(store);
  CHECK((*store)->schema_version() == latest_schema_version());
  auto current = (*store)->current_rate_deck();
  REQUIRE(current);
  REQUIRE(current->has_value());
  CHECK((*current)->text == text);
  CHECK((*current)->sha256_hex == sha256_hex(text));
  REQUIRE((*current)->files.size() == 1);
  CHECK((*current)->files[0].name == "old.toml");
  CHECK((*current)->files[0].text == text);
  CHECK((*current)->files[0].sha256_hex == sha256_hex(text));
  // The migration's copy is in the record chain like any appended row.
  auto check = (*store)->verify_records();
  REQUIRE(check);
  CHECK(check->problems.empty());
  CHECK((*store)->verify_audit_chain());
}

TEST_CASE("duplicate call id names the call", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("dup.db"));
  CallRequest request;
  request.id = "call-7";
  request.from = "+13125550107";
  request.to = "+12125550101";
  REQUIRE(store->create_call(request, staff()));

  const relaygw::Status again = store->create_call(request, staff());
  REQUIRE_FALSE(again);
  CHECK(again.code() == StatusCode::AlreadyExists);
  CHECK(again.message().find("call id 'call-7' already exists") != std::string::npos);
  CHECK(again.message().find("relaygw call show --db ") != std::string::npos);
  CHECK(again.message().find(" --id call-7`") != std::string::npos);
  CHECK(again.message().find("UNIQUE constraint") == std::string::npos);

  // A batch that repeats the id under a new idempotency key fails the same way.
  Store::BatchPosting item;
  item.request = request;
  item.posting.call_id = request.id;
  item.key = IdempotencyKey{"post-call-7", "h"};
  const relaygw::Status batch = store->post_completed_calls({item}, staff());
  REQUIRE_FALSE(batch);
  CHECK(batch.code() == StatusCode::AlreadyExists);
  CHECK(batch.message().find("call id 'call-7' already exists") != std::string::npos);
}

TEST_CASE("sqlite store reports damaged header", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("pgsz.db");
  {
    SqliteOptions options;
    options.create = true;
    REQUIRE(SqliteStore::open(path, options));
  }
  // Bytes 16 and 17 hold the page size; 3 is not a power of two, so SQLite rejects the file.
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16);
    file.put('\0');
    file.put('\3');
  }
  auto opened = SqliteStore::open(path);
  REQUIRE_FALSE(opened);
  const std::string message = opened.status().message();
  INFO(message);
  CHECK(opened.status().code() == StatusCode::Corrupt);
  CHECK(message.find("database '" + path + "' is damaged") != std::string::npos);
  CHECK(message.find("restore it from a backup") != std::string::npos);
  CHECK(message.find("not a relaygw database") == std::string::npos);
}

TEST_CASE("sqlite store rejects files that are not databases", "[billing][store]") {
  TempDir dir;
  const std::string text_file = dir.file("notes.txt");
  std::ofstream(text_file) << "call list for March\nline 2\n";
  const std::string random_file = dir.file("random.bin");
  {
    std::mt19937 bytes(42);
    std::ofstream out(random_file, std::ios::binary);
    for (int i = 0; i < 8192; ++i) {
      out.put(static_cast<char>(bytes() & 0xff));
    }
  }
  for (const std::string& path : {text_file, random_file}) {
    INFO(path);
    const auto size_before = std::filesystem::file_size(path);
    for (const bool create_missing : {false, true}) {
      SqliteOptions options;
      options.create = create_missing;
      auto opened = SqliteStore::open(path, options);
      REQUIRE_FALSE(opened);
      CHECK(opened.status().code() == StatusCode::InvalidArgument);
      CHECK(opened.status().message().find("'" + path + "' is not a relaygw database") !=
            std::string::npos);
      CHECK(opened.status().message().find("relaygw db init") != std::string::npos);
    }
    CHECK(std::filesystem::file_size(path) == size_before);
    CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  }

  auto folder = SqliteStore::open(dir.file(""));
  REQUIRE_FALSE(folder);
  CHECK(folder.status().code() == StatusCode::InvalidArgument);
  CHECK(folder.status().message().find("is a folder, not a database file") != std::string::npos);
  CHECK(folder.status().message().find("relaygw.db") != std::string::npos);
}

TEST_CASE("sqlite store leaves empty file unchanged", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("empty.db");
  std::ofstream(path).close();
  auto opened = SqliteStore::open(path);
  REQUIRE_FALSE(opened);
  CHECK(opened.status().code() == StatusCode::NotFound);
  CHECK(opened.status().message().find("there is no database in '" + path + "'") !=
        std::string::npos);
  CHECK(opened.status().message().find("relaygw db init --db " + path) != std::string::npos);
  CHECK(std::filesystem::file_size(path) == 0);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));

  // `db init` creates the database in such a file.
  SqliteOptions options;
  options.create = true;
  auto created = SqliteStore::open(path, options);
  REQUIRE(created);
  CHECK((*created)->schema_version() == latest_schema_version());
}

TEST_CASE("sqlite store names unreadable file", "[billing][store]") {
  if (geteuid() == 0) {
    // NOTE: root reads any file, so permission errors cannot be produced for this check.
    WARN("skipped: running as root");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("locked.db");
  { auto store = create(path); }
  std::filesystem::permissions(path, std::filesystem::perms::none);
  auto opened = SqliteStore::open(path);
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  REQUIRE_FALSE(opened);
  CHECK(opened.status().code() == StatusCode::PermissionDenied);
  CHECK(opened.status().message().find("'" + path + "'") != std::string::npos);
  CHECK(opened.status().message().find("permission") != std::string::npos);
}

TEST_CASE("call psap route round trips", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("psap.db");
  auto store = create(path);
  CallRequest emergency;
  emergency.id = "call-911";
  emergency.from = "+13125550107";
  emergency.to = "911";
  emergency.emergency = true;
  emergency.psap_route = "psap-demo";
  REQUIRE(store->create_call(emergency, staff()));
  CallRequest ordinary;
  ordinary.id = "call-1";
  ordinary.from = "+13125550107";
  ordinary.to = "+12125550101";
  REQUIRE(store->create_call(ordinary, staff()));

  auto found = store->find_call("call-911");
  REQUIRE(found);
  REQUIRE(found->has_value());
  CHECK((*found)->request.psap_route == "psap-demo");
  CHECK((*found)->request.requested_person.empty());
  CHECK((*found)->request.emergency);
  auto other = store->find_call("call-1");
  REQUIRE(other);
  REQUIRE(other->has_value());
  CHECK((*other)->request.psap_route.empty());
  CHECK(raw_query(path, "SELECT psap_route FROM calls WHERE id = 'call-911'") == "psap-demo");
  CHECK(raw_query(path, "SELECT requested_person FROM calls WHERE id = 'call-911'").empty());
  CHECK(raw_query(path, "SELECT typeof(psap_route) FROM calls WHERE id = 'call-1'") == "null");

  auto check = store->verify_records();
  REQUIRE(check);
  CHECK(check->problems.empty());

  // The route is in the record chain: setting it on the ordinary call, or clearing it on the
  // emergency call, each show up as an edited row.
  raw_query(path, "UPDATE calls SET psap_route = 'psap-other' WHERE id = 'call-1'");
  auto set = store->verify_records();
  REQUIRE(set);
  REQUIRE(set->problems.size() == 1);
  CHECK(set->problems[0].table == "calls");
  CHECK(set->problems[0].kind == "edited");
  raw_query(path, "UPDATE calls SET psap_route = NULL WHERE id = 'call-1'");
  raw_query(path, "UPDATE calls SET psap_route = NULL WHERE id = 'call-911'");
  auto cleared = store->verify_records();
  REQUIRE(cleared);
  REQUIRE(cleared->problems.size() == 1);
  CHECK(cleared->problems[0].table == "calls");
  CHECK(cleared->problems[0].kind == "edited");
  CHECK(cleared->problems[0].row_id == 1);
}

TEST_CASE("schema 8 calls migrate without routes", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("calls8.db");
  CallRequest emergency;
  emergency.id = "call-911";
  emergency.from = "+13125550107";
  emergency.to = "911";
  emergency.emergency = true;
  {
    auto old_store = create(path, 8);
    CHECK(old_store->schema_version() == 8);
    REQUIRE(old_store->create_call(emergency, staff()));
    CallRequest routed = emergency;
    routed.id = "call-912";
    routed.psap_route = "psap-demo";
    const relaygw::Status rejected = old_store->create_call(routed, staff());
    REQUIRE_FALSE(rejected);
    CHECK(rejected.code() == StatusCode::FailedPrecondition);
    CHECK(rejected.message().find("schema 8") != std::string::npos);
    CHECK(rejected.message().find("psap-demo") != std::string::npos);
    auto at_8 = old_store->find_call("call-911");
    REQUIRE(at_8);
    REQUIRE(at_8->has_value());
    CHECK((*at_8)->request.psap_route.empty());
  }
  CHECK(raw_query(path,
                  "SELECT COUNT(*) FROM pragma_table_info('calls') "
                  "WHERE name = 'psap_route'") == "0");

  auto store = SqliteStore::open(path);
  REQUIRE(store);
  CHECK((*store)->schema_version() == latest_schema_version());
  CHECK(raw_query(path, "SELECT typeof(psap_route) FROM calls WHERE id = 'call-911'") == "null");
  auto migrated = (*store)->find_call("call-911");
  REQUIRE(migrated);
  REQUIRE(migrated->has_value());
  CHECK((*migrated)->request.psap_route.empty());
  CHECK((*migrated)->request.emergency);

  CallRequest routed = emergency;
  routed.id = "call-912";
  routed.psap_route = "psap-demo";
  REQUIRE((*store)->create_call(routed, staff()));
  auto found = (*store)->find_call("call-912");
  REQUIRE(found);
  REQUIRE(found->has_value());
  CHECK((*found)->request.psap_route == "psap-demo");
  // Rows hashed at schema 8 still match after the column was added.
  auto check = (*store)->verify_records();
  REQUIRE(check);
  for (const RecordProblem& problem : check->problems) {
    UNSCOPED_INFO(problem.table << " row " << problem.row_id << ": " << problem.detail);
  }
  CHECK(check->problems.empty());
  CHECK((*store)->verify_audit_chain());
}

TEST_CASE("schema 9 ledger and events migrate", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("calls9.db");
  const Instant covered = parse_instant("2026-03-10T14:05:00Z").value();
  Card card;
  card.number = "5550142000009";
  card.pin = PinHash{"00", 1, "00"};
  CallRequest call;
  call.id = "call-9";
  call.from = "+13125550107";
  call.to = "+12125550101";
  call.billing = BillingMethod::CallingCard;
  call.card_number = card.number;
  {
    auto old_store = create(path, 9);
    CHECK(old_store->schema_version() == 9);
    REQUIRE(old_store->add_card(card, {LedgerEntry{LedgerKind::Credit, 10'000, ""}}, staff()));
    REQUIRE(old_store->append_ledger(card.number, {{LedgerKind::Hold, -2'000, "call-9"}}, true,
                                     std::nullopt, staff()));
    REQUIRE(old_store->append_ledger(
        card.number, {{LedgerKind::Debit, -800, "call-9"}, {LedgerKind::Release, 800, "call-9"}},
        false, IdempotencyKey{"debit-9", "hash-9"}, staff()));
    REQUIRE(old_store->create_call(call, staff()));
    REQUIRE(old_store->append_call_event(
        "call-9", CallEventRecord{CallEvent::Requested, staff().at, "gateway", {}, {}}));
    REQUIRE(old_store->append_call_event(
        "call-9", CallEventRecord{CallEvent::Accepted, staff().at, "gateway",
                                  AcceptanceMethod::Keypad, "called party"}));

    // Schema 9 has no column for a debit instant or a refusal reason, so both writes fail and
    // name the schema.
    const auto timed = old_store->append_ledger(
        card.number, {LedgerEntry{LedgerKind::Debit, -100, "call-9", covered}}, false, std::nullopt,
        staff());
    REQUIRE_FALSE(timed);
    CHECK(timed.status().code() == StatusCode::FailedPrecondition);
    CHECK(timed.status().message().find("schema 9") != std::string::npos);
    CallEventRecord refused{CallEvent::Refused, staff().at, "gateway", {}, {}};
    refused.reason_code = "wrong-pin";
    refused.reason_message = "wrong PIN";
    const relaygw::Status no_reason = old_store->append_call_event("call-9", refused);
    CHECK(no_reason.code() == StatusCode::FailedPrecondition);
    CHECK(no_reason.message().find("schema 9") != std::string::npos);
  }
  CHECK(raw_query(path,
                  "SELECT COUNT(*) FROM pragma_table_info('card_ledger') "
                  "WHERE name = 'covered_until'") == "0");

  auto store = SqliteStore::open(path);
  REQUIRE(store);
  CHECK((*store)->schema_version() == latest_schema_version());
  CHECK(raw_query(path, "SELECT COUNT(*) FROM card_ledger WHERE covered_until IS NULL") == "4");
  auto funds = (*store)->card_funds(card.number, "call-9");
  REQUIRE(funds);
  CHECK(funds->balance == 9'200);
  CHECK(funds->available == 8'000);
  CHECK(funds->held_for_call == 1'200);
  CHECK(funds->debited_for_call == 800);
  CHECK_FALSE(funds->last_debit_covered_until);
  auto found = (*store)->find_call("call-9");
  REQUIRE(found);
  REQUIRE(found->has_value());
  REQUIRE((*found)->events.size() == 2);
  CHECK((*found)->events[1].accepted_by == "called party");
  CHECK((*found)->events[1].reason_code.empty());
  CHECK((*found)->events[1].reason_message.empty());
  // A debit repeated under its schema 9 key returns its first result.
  auto repeated = (*store)->append_ledger(
      card.number, {{LedgerKind::Debit, -800, "call-9"}, {LedgerKind::Release, 800, "call-9"}},
      false, IdempotencyKey{"debit-9", "hash-9"}, staff());
  REQUIRE(repeated);
  CHECK(repeated->debited_for_call == 800);
  CHECK_FALSE(repeated->last_debit_covered_until);

  // New rows carry the schema 10 columns, and old and new rows all match the record chain.
  REQUIRE((*store)->append_ledger(card.number,
                                  {LedgerEntry{LedgerKind::Debit, -100, "call-9", covered}}, false,
                                  std::nullopt, staff()));
  auto after = (*store)->card_funds(card.number, "call-9");
  REQUIRE(after);
  REQUIRE(after->last_debit_covered_until);
  CHECK(*after->last_debit_covered_until == covered);
  CallRequest refused_call = call;
  refused_call.id = "call-10";
  REQUIRE((*store)->create_call(refused_call, staff()));
  CallEventRecord refused{CallEvent::Refused, staff().at, "gateway", {}, {}};
  refused.reason_code = "wrong-pin";
  refused.reason_message = "wrong PIN for card ********0009; 2 attempts left";
  REQUIRE((*store)->append_call_event("call-10", refused));
  auto refused_found = (*store)->find_call("call-10");
  REQUIRE(refused_found);
  REQUIRE(refused_found->has_value());
  REQUIRE((*refused_found)->events.size() == 1);
  CHECK((*refused_found)->events[0].event == CallEvent::Refused);
  CHECK((*refused_found)->events[0].reason_code == "wrong-pin");
  CHECK((*refused_found)->events[0].reason_message == refused.reason_message);
  auto check = (*store)->verify_records();
  REQUIRE(check);
  for (const RecordProblem& problem : check->problems) {
    UNSCOPED_INFO(problem.table << " row " << problem.row_id << ": " << problem.detail);
  }
  CHECK(check->problems.empty());
  CHECK((*store)->verify_audit_chain());

  // Editing a debit instant or a refusal reason shows up as an edited row.
  raw_query(path,
            "UPDATE card_ledger SET covered_until = '2026-03-10T15:00:00Z' "
            "WHERE covered_until IS NOT NULL");
  raw_query(path, "UPDATE call_events SET reason_code = 'card-locked' WHERE call_id = 'call-10'");
  auto edited = (*store)->verify_records();
  REQUIRE(edited);
  REQUIRE(edited->problems.size() == 2);
  for (const RecordProblem& problem : edited->problems) {
    INFO(problem.table << " row " << problem.row_id);
    CHECK(problem.kind == "edited");
  }
}

TEST_CASE("zero debit gives no ledger", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("zero.db"));
  Card card;
  card.number = "5550142000010";
  card.funding = CardFunding::Postpaid;
  card.billed_line = "+13125550142";
  card.pin = PinHash{"00", 1, "00"};
  REQUIRE(store->add_card(card, {}, staff()));
  const Instant covered = parse_instant("2026-03-10T14:05:00Z").value();
  auto zero =
      store->append_ledger(card.number, {LedgerEntry{LedgerKind::Debit, 0, "call-z", covered}},
                           false, std::nullopt, staff());
  REQUIRE(zero);
  // A postpaid card with no ledger has no credit limit, so a zero debit must not give it one.
  CHECK_FALSE(zero->has_entries);
  REQUIRE(zero->last_debit_covered_until);
  CHECK(*zero->last_debit_covered_until == covered);
  CHECK(raw_query(dir.file("zero.db"), "SELECT COUNT(*) FROM card_ledger") == "1");
}

namespace {

// A call to London, authorized at 14:00:01Z and not posted.
CallRequest london_call(const std::string& id) {
  CallRequest request;
  request.id = id;
  request.from = "+13125550107";
  request.to = "+442079460000";
  return request;
}

relaygw::Status open_call(Store& store, const std::string& id) {
  relaygw::Status status = store.create_call(london_call(id), staff());
  if (status) {
    status = store.append_call_event(
        id, CallEventRecord{
                CallEvent::Authorized, staff().at + std::chrono::seconds(1), "gateway", {}, {}});
  }
  return status;
}

StoredRateDeck text_deck(const std::string& name) {
  const std::string text = "name = \"" + name + "\"\n";
  return StoredRateDeck{name, text, sha256_hex(text), "2026-01-01", "", name + ".toml"};
}

// The audit_log seq of the first entry for `entity` `entity_id`, as text.
std::string audit_seq(const std::string& path, const std::string& entity,
                      const std::string& entity_id) {
  return raw_query(path, "SELECT MIN(seq) FROM audit_log WHERE entity = '" + entity +
                             "' AND entity_id = '" + entity_id + "'");
}

}  // namespace

TEST_CASE("unposted call list skips posted calls", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("unposted.db"));
  REQUIRE(open_call(*store, "open-1"));
  CallRequest emergency = london_call("sos-1");
  emergency.to = "911";
  emergency.emergency = true;
  REQUIRE(store->create_call(emergency, staff()));

  Store::BatchPosting posted;
  posted.request = london_call("done-1");
  posted.events = {{CallEvent::Requested, staff().at, "gateway", {}, {}}};
  posted.posting.call_id = "done-1";
  posted.key = IdempotencyKey{"post-done-1", "h"};
  REQUIRE(store->post_completed_calls({posted}, staff()));

  auto unposted = store->list_unposted_calls();
  REQUIRE(unposted);
  REQUIRE(unposted->size() == 2);
  CHECK((*unposted)[0].request.id == "open-1");
  CHECK((*unposted)[0].request.to == "+442079460000");
  REQUIRE((*unposted)[0].events.size() == 1);
  CHECK((*unposted)[0].events[0].event == CallEvent::Authorized);
  CHECK_FALSE((*unposted)[0].posting.has_value());
  CHECK((*unposted)[1].request.id == "sos-1");
  CHECK((*unposted)[1].request.emergency);
}

TEST_CASE("checked deck load sees earlier calls", "[billing][store]") {
  TempDir dir;
  auto store = create(dir.file("checked.db"));
  REQUIRE(store->add_rate_deck(text_deck("first"), staff()));
  REQUIRE(open_call(*store, "open-1"));

  std::vector<std::string> seen;
  const relaygw::Status refused = store->add_rate_deck_checked(
      text_deck("second"),
      [&](const std::vector<CallRecord>& unposted) {
        for (const CallRecord& call : unposted) {
          seen.push_back(call.request.id);
        }
        return relaygw::Status(StatusCode::FailedPrecondition, "deck cannot rate open-1");
      },
      staff()).status();
  CHECK(refused.code() == StatusCode::FailedPrecondition);
  CHECK(refused.message() == "deck cannot rate open-1");
  CHECK(seen == std::vector<std::string>{"open-1"});
  auto current = store->current_rate_deck();
  REQUIRE(current);
  REQUIRE(current->has_value());
  CHECK((*current)->name == "first");
  // The refused load wrote nothing, so the chain still verifies and has no second deck entry.
  CHECK(store->verify_audit_chain());
  CHECK(audit_seq(dir.file("checked.db"), "rate_deck", "second").empty());

  REQUIRE(store->add_rate_deck_checked(
      text_deck("third"), [](const std::vector<CallRecord>&) { return relaygw::Status::ok(); },
      staff()));
  current = store->current_rate_deck();
  REQUIRE(current);
  REQUIRE(current->has_value());
  CHECK((*current)->name == "third");
}

TEST_CASE("call opened during deck load waits", "[billing][store]") {
  // A second connection opens a call while the first holds the deck load's write transaction.
  // Its write must wait for the load to end, whether the check accepts the deck or not, so the
  // check never misses a call that is open when the deck is stored.
  const bool accept = GENERATE(true, false);
  TempDir dir;
  const std::string path = dir.file("race.db");
  auto loader = create(path);
  REQUIRE(loader->add_rate_deck(text_deck("first"), staff()));
  auto other = SqliteStore::open(path);
  REQUIRE(other);

  std::atomic<bool> opened{false};
  relaygw::Status opened_status = relaygw::Status::ok();
  std::thread opener;
  bool opened_during_check = true;
  std::size_t listed = 99;
  const relaygw::Status loaded = loader->add_rate_deck_checked(
      text_deck("second"),
      [&](const std::vector<CallRecord>& unposted) {
        listed = unposted.size();
        opener = std::thread([&] {
          opened_status = open_call(**other, "late-1");
          opened = true;
        });
        // The other connection's busy timeout is 10 s, so it is still waiting after 500 ms.
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        opened_during_check = opened.load();
        return accept ? relaygw::Status::ok()
                      : relaygw::Status(StatusCode::FailedPrecondition, "refused by the test");
      },
      staff()).status();
  opener.join();

  CHECK(listed == 0);
  CHECK_FALSE(opened_during_check);
  INFO(opened_status.message());
  CHECK(opened_status);
  auto current = loader->current_rate_deck();
  REQUIRE(current);
  REQUIRE(current->has_value());
  if (accept) {
    CHECK(loaded);
    CHECK((*current)->name == "second");
    // The call was created after the deck was stored, so the next load's check receives it.
    const std::string deck_seq = audit_seq(path, "rate_deck", "second");
    const std::string call_seq = audit_seq(path, "call", "late-1");
    REQUIRE_FALSE(deck_seq.empty());
    REQUIRE_FALSE(call_seq.empty());
    CHECK(std::stoll(deck_seq) < std::stoll(call_seq));
  } else {
    CHECK(loaded.code() == StatusCode::FailedPrecondition);
    CHECK((*current)->name == "first");
  }
  auto unposted = loader->list_unposted_calls();
  REQUIRE(unposted);
  REQUIRE(unposted->size() == 1);
  CHECK((*unposted)[0].request.id == "late-1");
}

namespace {

// A completed call for post_completed_calls with fixed content, so the hashes it produces are
// the same on every run.
Store::BatchPosting fixed_completed_call(int index, Instant start) {
  Store::BatchPosting item;
  item.request.id = "fixed-" + std::to_string(index);
  item.request.from = "+13125550107";
  item.request.to = index % 2 == 0 ? "+12125550101" : "+14155550108";
  item.request.access = AccessTag::RelayTty;

  if (index % 3 == 1) {
    item.request.billing = BillingMethod::CallingCard;
    item.request.card_number = "891000000000" + std::to_string(index);
  } else if (index % 3 == 2) {
    item.request.billing = BillingMethod::Collect;
    item.request.billed_number = item.request.to;
  }

  const auto at = [start](int seconds) { return start + std::chrono::seconds(seconds); };
  item.events = {{CallEvent::Requested, at(0), "gateway", {}, {}},
                 {CallEvent::Authorized, at(1), "gateway", {}, {}},
                 {CallEvent::Connected, at(20), "gateway", {}, {}},
                 {CallEvent::Disconnected, at(20 + 30 * index), "gateway", {}, {}}};
  if (index % 4 == 2) {
    item.events.insert(item.events.begin() + 2, {CallEvent::Accepted, at(15), "operator:7",
                                                 AcceptanceMethod::Voice, "Ana Rivera"});
  }
  if (index % 5 == 3) {
    CallEventRecord refused{CallEvent::Refused, at(18), "gateway", {}, {}};
    refused.reason_code = "card-locked";
    refused.reason_message = "the card is locked after too many PIN attempts";
    item.events.insert(item.events.begin() + 2, refused);
  }

  item.posting.call_id = item.request.id;
  item.posting.session_seconds = 20 + 30 * index;
  item.posting.conversation_seconds = 30 * index;
  item.posting.billable_seconds =
      index % 6 == 5 ? std::nullopt : std::optional<std::int64_t>(60 * (index / 2 + 1));
  item.posting.lines = {{"usage", "Interstate day rate", 14 * index},
                        {"surcharge", "Operator surcharge", index % 2 == 0 ? 0 : 125},
                        {"tax", "Federal excise tax \"FET\"", index}};
  for (const PostedChargeLine& line : item.posting.lines) {
    item.posting.total += line.amount;
  }
  item.posting.relay_fund = index % 2 == 0 ? 310 : 0;
  item.key = IdempotencyKey{"complete-" + item.request.id, "request-" + std::to_string(index)};
  return item;
}

}  // namespace

TEST_CASE("batch posting keeps its record hashes", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("batch.db");
  auto store = create(path);
  const Instant start = staff().at;
  std::vector<Store::BatchPosting> first;
  for (int index = 0; index < 12; ++index) {
    first.push_back(fixed_completed_call(index, start + std::chrono::minutes(index)));
  }
  REQUIRE(store->post_completed_calls(first, staff()));

  // The batch skips the repeated completion by its idempotency key and posts the new call.
  std::vector<Store::BatchPosting> second = {
      first[4], fixed_completed_call(12, start + std::chrono::hours(1))};
  REQUIRE(
      store->post_completed_calls(second, WriteContext{"gateway", start + std::chrono::hours(2)}));

  CHECK(raw_query(path, "SELECT COUNT(*) FROM calls") == "13");
  CHECK(raw_query(path, "SELECT COUNT(*) FROM call_events") == "57");
  CHECK(raw_query(path, "SELECT COUNT(*) FROM call_postings") == "13");
  CHECK(raw_query(path, "SELECT COUNT(*) FROM charge_lines") == "39");
  CHECK(raw_query(path, "SELECT COUNT(*) FROM idempotency_keys") == "13");
  CHECK(raw_query(path, "SELECT COUNT(*) FROM audit_log") == "13");
  CHECK(raw_query(path, "SELECT SUM(amount) FROM journal_entries") == "0");

  // The hash of the last audit row covers every earlier audit row and the hash of every row
  // the batches appended. It was recorded before the posting path was tuned for speed, so a
  // change that alters any stored byte, or the order rows are appended in, fails here.
  CHECK(raw_query(path, "SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1") ==
        "dcac7d64eca2e6615e6edcd26470edbac853f26b6246549a85b61cdf3e1aa94a");

  auto verified = store->verify_audit_chain();
  REQUIRE(verified);
  CHECK(*verified == 13);
  auto records = store->verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());

  raw_query(path, "UPDATE journal_entries SET amount = amount + 1 WHERE seq = 5");
  auto tampered = store->verify_records();
  REQUIRE(tampered);
  CHECK_FALSE(tampered->problems.empty());
}

// The batch path hashes on a second thread and hands rows over in chunks of 64. A batch of
// several chunks must chain exactly as calls posted one by one do, and a batch that fails
// part way must leave nothing behind and not move the chain head the next write builds on.
TEST_CASE("batch posting hashes several chunks and rolls back whole", "[billing][store]") {
  TempDir dir;
  const Instant start = staff().at;
  std::vector<Store::BatchPosting> calls;
  for (int index = 0; index < 150; ++index) {
    calls.push_back(fixed_completed_call(index, start + std::chrono::minutes(index)));
  }
  // The same completion twice in one batch is posted once.
  calls.insert(calls.begin() + 70, calls[3]);

  const std::string batched_path = dir.file("batched.db");
  auto batched = create(batched_path);
  REQUIRE(batched->post_completed_calls(calls, staff()));
  const std::string single_path = dir.file("single.db");
  auto single = create(single_path);
  for (const Store::BatchPosting& call : calls) {
    REQUIRE(single->post_completed_calls({call}, staff()));
  }
  const char* kLastHash = "SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1";
  CHECK(raw_query(batched_path, "SELECT COUNT(*) FROM audit_log") == "150");
  CHECK(raw_query(batched_path, kLastHash) == raw_query(single_path, kLastHash));

  // The second call's total is one unit off its lines, so the journal refuses it after the
  // first call's rows and audit row were handed to the hashing thread.
  const std::string head = raw_query(batched_path, kLastHash);
  std::vector<Store::BatchPosting> failing = {
      fixed_completed_call(200, start + std::chrono::hours(3)),
      fixed_completed_call(201, start + std::chrono::hours(3))};
  failing[1].posting.total += 1;
  const relaygw::Status refused = batched->post_completed_calls(failing, staff());
  REQUIRE_FALSE(refused);
  CHECK(refused.code() == StatusCode::InvalidArgument);
  CHECK(raw_query(batched_path, "SELECT COUNT(*) FROM calls WHERE id LIKE 'fixed-20_'") == "0");
  CHECK(raw_query(batched_path, kLastHash) == head);

  failing[1].posting.total -= 1;
  REQUIRE(batched->post_completed_calls(failing, staff()));
  REQUIRE(single->post_completed_calls(failing, staff()));
  CHECK(raw_query(batched_path, "SELECT COUNT(*) FROM audit_log") == "152");
  CHECK(raw_query(batched_path, kLastHash) == raw_query(single_path, kLastHash));
  auto records = batched->verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());
  auto chain = batched->verify_audit_chain();
  REQUIRE(chain);
  CHECK(*chain == 152);
}

// A file changed outside relaygw can lack a table the schema has, so SQLite cannot prepare a
// query. The store reports it as a damaged database each time instead of stepping a null
// statement.
TEST_CASE("sqlite store reports a missing table", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("dropped.db");
  create(path).reset();
  raw_query(path, "DROP TABLE call_events");
  auto reopened = SqliteStore::open(path);
  REQUIRE(reopened);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto counted =
        (*reopened)->count_calls_requested(staff().at, staff().at + std::chrono::hours(1));
    REQUIRE_FALSE(counted);
    CHECK(counted.status().code() == StatusCode::Corrupt);
    CHECK(counted.status().message().find("no such table: call_events") != std::string::npos);
    CHECK(counted.status().message().find("relaygw audit verify --db " + path) !=
          std::string::npos);
  }
}

// Bytes overwritten inside a table's pages make SQLite report the file malformed when a query
// reaches them. The store names the file and the fix instead of SQLite's bare message.
TEST_CASE("sqlite store names a damaged database file", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("damaged.db");
  create(path).reset();
  raw_query(path, "PRAGMA journal_mode = DELETE");
  const int page_size = std::stoi(raw_query(path, "PRAGMA page_size"));
  // The table and each of its indexes, so the query meets garbage whichever it reads.
  std::istringstream roots(raw_query(
      path, "SELECT group_concat(rootpage, ' ') FROM sqlite_master WHERE tbl_name = "
            "'call_events' AND rootpage > 0"));
  int pages = 0;
  for (int root = 0; roots >> root; ++pages) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(root - 1) * page_size);
    const std::string garbage(static_cast<std::size_t>(page_size), '\xff');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  REQUIRE(pages >= 2);
  auto reopened = SqliteStore::open(path);
  relaygw::Status failure = reopened.status();
  if (reopened) {
    auto counted =
        (*reopened)->count_calls_requested(staff().at, staff().at + std::chrono::hours(1));
    REQUIRE_FALSE(counted);
    failure = counted.status();
  }
  CHECK(failure.code() == StatusCode::Corrupt);
  CHECK(failure.message().find("database '" + path + "' is damaged") != std::string::npos);
  CHECK(failure.message().find("restore it from a backup") != std::string::npos);
  if (reopened) {
    // The record check reports the damage, not a removed row that no one removed.
    auto records = (*reopened)->verify_records();
    REQUIRE_FALSE(records);
    CHECK(records.status().code() == StatusCode::Corrupt);
    CHECK(records.status().message().find("is damaged") != std::string::npos);
  }
}

// Root may write any file, so the read-only case uses a connection SQLite opened read-only:
// its failed INSERT carries SQLITE_READONLY like a file without write permission.
TEST_CASE("sqlite failures name a read-only database file", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("read-only.db");
  create(path).reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  const int code = sqlite3_exec(db, "INSERT INTO schema_version (version, description, "
                                "applied_at) VALUES (999, 'x', 'y')",
                                nullptr, nullptr, nullptr);
  CHECK((code & 0xff) == SQLITE_READONLY);
  const relaygw::Status failure = detail::sqlite_failure(db, code, "SQLite statement failed");
  sqlite3_close(db);
  CHECK(failure.code() == StatusCode::PermissionDenied);
  CHECK(failure.message().find("database '" + path + "' is read-only") != std::string::npos);
  CHECK(failure.message().find("nothing was written") != std::string::npos);
  CHECK(failure.message().find("permissions") != std::string::npos);

  const relaygw::Status busy = detail::sqlite_failure(nullptr, SQLITE_BUSY, "SQLite step", "busy");
  CHECK(busy.code() == StatusCode::Unavailable);
  CHECK(busy.message().find("is locked by another connection that is writing to it (SQLite: "
                            "busy); retry the request") != std::string::npos);
}

// Counts the places where `text` contains `word`.
std::size_t count_of(const std::string& text, const std::string& word) {
  std::size_t count = 0;
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    ++count;
  }
  return count;
}

TEST_CASE("locked write names cause once", "[billing][store]") {
  TempDir dir;
  const std::string path = dir.file("locked.db");
  create(path).reset();
  SqliteOptions options;
  options.busy_timeout_ms = 50;
  auto store = SqliteStore::open(path, options);
  REQUIRE(store);
  // Another connection holds the write lock for the whole test.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const relaygw::Result<LineVersion> written =
      (*store)->append_line(sample_line(), 0, "line added", staff());
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  REQUIRE_FALSE(written);
  const std::string message = written.status().message();
  INFO(message);
  CHECK(written.status().code() == StatusCode::Unavailable);
  CHECK(message.find("database '" + path +
                     "' is locked by another connection that is writing "
                     "to it; retry the request") != std::string::npos);
  CHECK(message.find("fuser " + path) != std::string::npos);
  CHECK(count_of(message, " is locked") == 1);
  CHECK(message.find("database is locked") == std::string::npos);
  CHECK(message.find("SQLite statement failed") == std::string::npos);
}

namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

std::string listing_name(SqliteStore& store) {
  auto found = store.find_line(sample_line().number);
  REQUIRE(found);
  REQUIRE(found->has_value());
  return (*found)->line.listing_name;
}

}  // namespace

// SQLite 3.40 creates the -wal and -shm files of a WAL database even for a read-only
// connection. With no -wal file, every page is in the database file, so the read-only store
// reads that file alone, and its shared lock keeps a writer that closes meanwhile from
// checkpointing into it.
TEST_CASE("read-only store creates no files", "[billing][store][read-only]") {
  TempDir dir;
  const std::string path = dir.file("read-only.db");
  {
    auto writer = create(path);
    REQUIRE(writer->append_line(sample_line(), 0, "line added", staff()));
  }
  REQUIRE_FALSE(std::filesystem::exists(path + "-wal"));
  REQUIRE_FALSE(std::filesystem::exists(path + "-shm"));
  const std::string before = file_bytes(path);

  SqliteOptions read_only;
  read_only.read_only = true;
  auto reader = SqliteStore::open(path, read_only);
  REQUIRE(reader);
  CHECK(listing_name(**reader) == "Rivera, Ana");
  CHECK((*reader)->quick_check());
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));

  {
    auto writer = SqliteStore::open(path);
    REQUIRE(writer);
    Line renamed = sample_line();
    renamed.listing_name = "Rivera, Ana M.";
    REQUIRE((*writer)->append_line(renamed, 1, "name corrected", staff()));
  }
  // The writer could not take its closing checkpoint's lock, so its commit stays in the -wal
  // file and the pages the reader reads are unchanged.
  CHECK(file_bytes(path) == before);
  CHECK(std::filesystem::exists(path + "-wal"));
  CHECK(listing_name(**reader) == "Rivera, Ana");
  reader->reset();

  // With the -wal file present, a read-only store reads the commit in it.
  auto next = SqliteStore::open(path, read_only);
  REQUIRE(next);
  CHECK(listing_name(**next) == "Rivera, Ana M.");
}
