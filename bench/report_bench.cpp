// Report benchmark: a month of a busy relay center (1,000,000 posted calls with charge lines,
// written through the store's batch API into a temp SQLite file), then the time of each report
// over that month.
//
//   report_bench [calls] [database path]
//
// Defaults: 1000000 calls in March 2026 (UTC), a file in the temp folder, removed at the end.
// A database path that already exists is reused when it contains exactly `calls` calls
// requested in March 2026. Before and after runs of a change then read the same file, without a
// load of half an hour each. Any other file at that path is replaced.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "billing/reports.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;

namespace {

constexpr AccessTag kAccessMix[] = {AccessTag::None,      AccessTag::RelayTty, AccessTag::RelayIp,
                                    AccessTag::Captioned, AccessTag::Video,    AccessTag::None,
                                    AccessTag::Tty,       AccessTag::Speech};
constexpr BillingMethod kBillingMix[] = {BillingMethod::SentPaid, BillingMethod::SentPaid,
                                         BillingMethod::Collect, BillingMethod::CallingCard,
                                         BillingMethod::ThirdNumber};
constexpr const char* kCallers[] = {"+13125550107", "+12125550101", "+14155550108", "+16175550109",
                                    "+17135550110"};

// Builds call `index` of `calls`, spread evenly over March 2026: requested, connected and
// disconnected events, an accepted event for collect and third-number calls, a usage line and
// a tax line (a surcharge for collect calls), and one emergency call in a thousand, billed
// zero.
Store::BatchPosting bench_call(long index, long calls) {
  const Instant month_start = parse_instant("2026-03-01T00:00:00Z").value();
  const std::int64_t month_seconds = 31LL * 86'400;
  const Instant requested = month_start + std::chrono::seconds(month_seconds * index / calls);
  const std::int64_t seconds = 20 + index % 900;

  Store::BatchPosting item;
  item.request.id = "bench-" + std::to_string(index);
  item.request.from = kCallers[index % 5];
  item.request.emergency = index % 1000 == 999;
  item.request.to = item.request.emergency ? "911" : "+12025550199";
  item.request.billing = kBillingMix[index % 5];
  item.request.access = kAccessMix[index % 8];
  const Instant connected = requested + std::chrono::seconds(15);
  item.events = {{CallEvent::Requested, requested, "gateway", {}, {}}};
  // The billed party of a collect or third-number call accepts the charges before it connects.
  if (!item.request.emergency && (item.request.billing == BillingMethod::Collect ||
                                  item.request.billing == BillingMethod::ThirdNumber)) {
    item.events.push_back({CallEvent::Accepted, requested + std::chrono::seconds(10), "gateway",
                           AcceptanceMethod::TtyText, "billed party"});
  }
  item.events.push_back({CallEvent::Connected, connected, "gateway", {}, {}});
  item.events.push_back(
      {CallEvent::Disconnected, connected + std::chrono::seconds(seconds), "gateway", {}, {}});
  item.posting.call_id = item.request.id;
  item.posting.session_seconds = seconds + 15;
  item.posting.conversation_seconds = seconds;
  item.posting.billable_seconds = (seconds + 59) / 60 * 60;
  if (!item.request.emergency) {
    const Money usage = (seconds + 59) / 60 * 1'000;  // 0.10 per started minute
    item.posting.lines.push_back({"usage", "Usage", usage});
    if (item.request.billing == BillingMethod::Collect) {
      item.posting.lines.push_back({"surcharge", "Collect call surcharge", 24'900});
    }
    item.posting.lines.push_back({"tax", "Federal excise tax", 300});
    for (const PostedChargeLine& line : item.posting.lines) {
      item.posting.total += line.amount;
    }
  }
  item.key = IdempotencyKey{"complete-" + item.request.id, "bench"};
  return item;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// User plus system CPU seconds of this process so far. On a machine shared with other work,
// CPU time varies less than wall time between runs.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& value) {
    return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Returns true when `path` is a report_bench database that contains exactly `calls` calls
// requested in March 2026.
bool holds_bench_calls(const std::string& path, long calls) {
  if (!std::filesystem::exists(path)) {
    return false;
  }
  auto opened = SqliteStore::open(path, SqliteOptions{});
  if (!opened) {
    return false;
  }
  relaygw::Result<std::int64_t> count =
      (*opened)->count_calls_requested(parse_instant("2026-03-01T00:00:00Z").value(),
                                       parse_instant("2026-04-01T00:00:00Z").value());
  return count && *count == calls;
}

}  // namespace

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const std::string path =
      argc > 2 ? argv[2]
               : (std::filesystem::temp_directory_path() / "relaygw-report-bench.db").string();
  if (calls <= 0) {
    std::fprintf(stderr, "report_bench: calls must be a positive number\n");
    return 1;
  }
  const bool reuse = argc > 2 && holds_bench_calls(path, calls);
  if (!reuse) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
  }
  SqliteOptions options;
  options.create = !reuse;
  options.synchronous_full = false;
  auto opened = SqliteStore::open(path, options);
  if (!opened) {
    std::fprintf(stderr, "report_bench: %s\n", opened.status().message().c_str());
    return 1;
  }
  auto store = std::move(opened).value();

  const auto load_start = std::chrono::steady_clock::now();
  const WriteContext context{"bench", parse_instant("2026-04-01T00:00:00Z").value()};
  constexpr long kBatch = 10'000;
  for (long first = 0; !reuse && first < calls; first += kBatch) {
    std::vector<Store::BatchPosting> batch;
    for (long index = first; index < std::min(calls, first + kBatch); ++index) {
      batch.push_back(bench_call(index, calls));
    }
    const relaygw::Status posted = store->post_completed_calls(batch, context);
    if (!posted) {
      std::fprintf(stderr, "report_bench: %s\n", posted.message().c_str());
      return 1;
    }
  }
  std::printf("%s %ld calls in %.1f s (%s, %.0f MB)\n", reuse ? "reused" : "loaded", calls,
              seconds_since(load_start), path.c_str(),
              static_cast<double>(std::filesystem::file_size(path)) / 1e6);

  ReportRequest request;
  request.from = {2026, 3, 1};
  request.to = {2026, 3, 31};
  auto time_report = [&](const char* name, auto&& run) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    const bool ok = run();
    const double cpu = cpu_seconds() - cpu_start;
    std::printf("%-34s %6.2f s wall %6.2f s CPU%s\n", name, seconds_since(start), cpu,
                ok ? "" : "  FAILED");
  };
  time_report("summary by day (UTC)", [&] {
    auto report = summarize_billing(*store, request);
    return report && report->grand_total.calls == calls;
  });
  request.by = ReportPeriod::Month;
  request.time_zone = "America/Chicago";
  time_report("summary by month (America/Chicago)",
              [&] { return summarize_billing(*store, request).is_ok(); });
  time_report("relay minutes", [&] {
    return relay_minutes(*store, request, [](const std::string&) { return std::string("IL"); })
        .is_ok();
  });
  time_report("emergency calls", [&] {
    auto rows = emergency_calls(*store, request);
    return rows && !rows->empty();
  });

  store.reset();
  if (argc <= 2) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
  }
  return 0;
}
