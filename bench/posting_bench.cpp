// Posting benchmark: completed calls rated with the bundled example deck and posted durably
// into a fresh SQLite database (call row, four lifecycle events, charge lines, idempotency key
// and audit chain entry per call), in batches of one transaction each.
//
//   posting_bench [calls] [batch] [full|normal] [database path] [schema version]
//                 [background|inline] [ahead|serial]
//
// Defaults: 200000 calls, batches of 1000, synchronous=FULL, a file in the temp folder, the
// latest schema, WAL checkpoints on a thread of their own as the gateway runs them, and the
// next batch rated on a second thread while one is posted.
// Schema 6 measures the older record chain, where triggers copied every row.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "billing/migrations.hpp"
#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/rating.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "posting_bench: %s\n", message.c_str());
  return 1;
}

// Builds one completed relay call: requested, authorized, connected, disconnected.
Store::BatchPosting completed_call(const Rater& rater, long index, Instant start) {
  Store::BatchPosting item;
  item.request.id = "bench-" + std::to_string(index);
  item.request.from = "3125550107";
  item.request.to = index % 2 == 0 ? "2125550101" : "4155550108";
  item.request.billing = BillingMethod::SentPaid;
  item.request.access = AccessTag::RelayTty;
  const std::int64_t seconds = 30 + index % 900;
  const Instant connected = start + std::chrono::seconds(20);
  const Instant ended = connected + std::chrono::seconds(seconds);
  item.events = {{CallEvent::Requested, start, "gateway", {}, {}},
                 {CallEvent::Authorized, start + std::chrono::seconds(1), "gateway", {}, {}},
                 {CallEvent::Connected, connected, "gateway", {}, {}},
                 {CallEvent::Disconnected, ended, "gateway", {}, {}}};

  CallToRate call;
  call.from = item.request.from;
  call.to = item.request.to;
  call.access = item.request.access;
  call.start = connected;
  call.billable_seconds = seconds;
  auto rated = rater.rate(call);
  item.posting.call_id = item.request.id;
  item.posting.session_seconds = seconds + 20;
  item.posting.conversation_seconds = seconds;
  if (rated) {
    item.posting.total = rated->total;
    item.posting.billable_seconds = rated->billed_seconds;
    for (const ChargeLine& line : rated->lines) {
      item.posting.lines.push_back(
          PostedChargeLine{std::string(to_string(line.kind)), line.description, line.amount});
    }
    item.posting.relay_fund = rated->relay_fund;
  }
  item.key = IdempotencyKey{"complete-" + item.request.id, "bench"};
  return item;
}

}  // namespace

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 200'000;
  const long batch_size = argc > 2 ? std::atol(argv[2]) : 1'000;
  const bool full = argc > 3 ? std::string(argv[3]) != "normal" : true;
  const std::string path =
      argc > 4 ? argv[4]
               : (std::filesystem::temp_directory_path() / "relaygw-posting-bench.db").string();
  const int schema = argc > 5 ? std::atoi(argv[5]) : 0;
  // "inline" measures SQLite's automatic checkpoints on the posting thread.
  const bool background_checkpoint = argc > 6 ? std::string(argv[6]) != "inline" : true;
  // "serial" rates each batch on the posting thread, between two batches.
  const bool rate_ahead = argc > 7 ? std::string(argv[7]) != "serial" : true;
  if (calls <= 0 || batch_size <= 0) {
    return fail("calls and batch must be positive numbers");
  }
  if (schema < 0 || schema > latest_schema_version()) {
    return fail("schema version must be between 1 and " + std::to_string(latest_schema_version()) +
                ", or 0 for the latest");
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }

  auto plan = NumberPlan::load(default_data_dir());
  if (!plan) {
    return fail(plan.status().message());
  }
  auto deck = RateDeck::load(default_data_dir() / "rates");
  if (!deck) {
    return fail(deck.status().message());
  }
  const Rater rater(&*plan, &*deck);
  SqliteOptions options;
  options.create = true;
  options.synchronous_full = full;
  options.migrate_to = schema;
  options.background_checkpoint = background_checkpoint;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    return fail(store.status().message());
  }

  const Instant base = parse_instant("2026-03-10T14:00:00Z").value();
  const WriteContext context{"gateway", base};
  // Builds and rates the batch that starts at call `first`. Rating reads no database, so a
  // second thread can rate the next batch while the store writes this one.
  const auto make_batch = [&rater, base, calls, batch_size](long first) {
    std::vector<Store::BatchPosting> batch;
    for (long index = first; index < std::min(calls, first + batch_size); ++index) {
      batch.push_back(completed_call(rater, index, base + std::chrono::seconds(index)));
    }
    return batch;
  };
  const auto started = std::chrono::steady_clock::now();
  const std::clock_t cpu_started = std::clock();
  if (rate_ahead) {
    std::future<std::vector<Store::BatchPosting>> next =
        std::async(std::launch::async, make_batch, 0);
    for (long first = 0; first < calls; first += batch_size) {
      const std::vector<Store::BatchPosting> batch = next.get();
      if (first + batch_size < calls) {
        next = std::async(std::launch::async, make_batch, first + batch_size);
      }
      const relaygw::Status posted = (*store)->post_completed_calls(batch, context);
      if (!posted) {
        return fail(posted.message());
      }
    }
  } else {
    for (long first = 0; first < calls; first += batch_size) {
      const relaygw::Status posted = (*store)->post_completed_calls(make_batch(first), context);
      if (!posted) {
        return fail(posted.message());
      }
    }
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // CPU time is reported too because on a shared machine the wall-clock rate also measures
  // the other processes.
  const double cpu = static_cast<double>(std::clock() - cpu_started) / CLOCKS_PER_SEC;
  std::printf(
      "posted %ld calls in %.2f s: %.0f calls/s wall clock, %.0f calls per CPU second "
      "(batch %ld, synchronous=%s, schema %d, %s checkpoints, rating %s, %s)\n",
      calls, elapsed, calls / elapsed, calls / cpu, batch_size, full ? "FULL" : "NORMAL",
      (*store)->schema_version(), background_checkpoint ? "background" : "inline",
      rate_ahead ? "ahead on a second thread" : "serial", path.c_str());
  return 0;
}
