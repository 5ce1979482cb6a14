// Checks that read the database in several queries (audit verify, dispute investigation,
// audit reconcile) see one committed state while another connection posts calls.
#include <atomic>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;

namespace {

class TempFolder {
 public:
  TempFolder() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-snapshot-test-" + std::to_string(random()) + std::to_string(random()));
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

Instant at(const std::string& text) { return parse_instant(text).value(); }

Store::BatchPosting posted_call(int index) {
  const Instant start = at("2026-03-10T14:00:00Z") + std::chrono::seconds(index);
  Store::BatchPosting item;
  item.request.id = "snap-" + std::to_string(index);
  item.request.from = "+13125550107";
  item.request.to = "+12125550101";
  item.events = {{CallEvent::Requested, start, "gateway", {}, {}},
                 {CallEvent::Connected, start + std::chrono::seconds(5), "gateway", {}, {}},
                 {CallEvent::Disconnected, start + std::chrono::seconds(65), "gateway", {}, {}}};
  item.posting.call_id = item.request.id;
  item.posting.billable_seconds = 60;
  item.posting.lines = {{"usage", "interstate, day, 1 min", 700}, {"tax", "federal tax", 21}};
  item.posting.total = 721;
  item.key = IdempotencyKey{"complete-" + item.request.id, "request-" + item.request.id};
  return item;
}

std::unique_ptr<SqliteStore> open_store(const std::string& path, bool create = false) {
  SqliteOptions options;
  options.create = create;
  options.synchronous_full = false;  // no fsync per commit, so the writer commits often
  auto store = SqliteStore::open(path, options);
  if (!store) {
    FAIL(store.status().message());
  }
  return std::move(store).value();
}

}  // namespace

TEST_CASE("checks read one state during writes", "[read-snapshot]") {
  TempFolder folder;
  const std::string path = folder.file("busy.db");
  auto reader = open_store(path, true);
  REQUIRE(reader->post_completed_calls({posted_call(0)}, {"gateway", at("2026-03-10T15:00:00Z")}));

  // Another connection posts one call per commit until the reader has run its checks.
  std::atomic<bool> reading{true};
  std::atomic<int> written{0};
  relaygw::Status writer_status = relaygw::Status::ok();
  std::thread writer([&] {
    auto store = open_store(path);
    for (int index = 1; reading && index < 100'000; ++index) {
      writer_status =
          store->post_completed_calls({posted_call(index)}, {"gateway", at("2026-03-10T15:00:00Z")});
      if (!writer_status) {
        return;
      }
      ++written;
    }
  });

  int record_problems = 0;
  int failed_chains = 0;
  int mismatched_days = 0;
  int checks = 0;
  // At least 50 checks, and more until 200 calls were posted during them.
  for (; checks < 50 || (written < 200 && checks < 5'000); ++checks) {
    std::optional<relaygw::Result<std::int64_t>> chain;
    relaygw::Result<RecordCheck> records = reader->read_consistently([&] {
      chain.emplace(reader->verify_audit_chain());
      return reader->verify_records();
    });
    REQUIRE(records);
    record_problems += static_cast<int>(records->problems.size());
    failed_chains += chain->is_ok() ? 0 : 1;
    relaygw::Result<Reconciliation> day = reader->reconcile_day("2026-03-10");
    REQUIRE(day);
    mismatched_days += day->agrees() ? 0 : 1;
  }
  reading = false;
  writer.join();
  INFO(writer_status.message());
  REQUIRE(writer_status);
  INFO("calls posted during " << checks << " checks: " << written);
  CHECK(written >= 200);
  CHECK(record_problems == 0);
  CHECK(failed_chains == 0);
  CHECK(mismatched_days == 0);
}
