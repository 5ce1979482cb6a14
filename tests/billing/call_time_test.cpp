// The instants a call step may have, as call records, quotes and plan advice check them.
#include <chrono>
#include <filesystem>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "billing/call_time.hpp"
#include "billing/store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;

namespace {

Instant instant(const std::string& text) {
  auto parsed = parse_instant(text);
  REQUIRE(parsed);
  return *parsed;
}

}  // namespace

TEST_CASE("call time accepts range ends only", "[billing][call-time]") {
  CHECK(format_instant(first_call_instant()) == "2000-01-01T12:00:00Z");
  CHECK(format_instant(last_call_instant()) == "2099-12-31T09:59:59Z");

  CHECK(check_call_time("request", first_call_instant()));
  CHECK(check_call_time("request", last_call_instant()));
  CHECK(check_call_time("request", instant("2026-03-10T14:00:00Z")));

  for (const std::string text : {"2000-01-01T11:59:59Z", "2099-12-31T10:00:00Z",
                                 "2100-01-01T00:00:00Z", "1970-01-01T00:00:00Z"}) {
    INFO(text);
    const relaygw::Status status = check_call_time("--start", instant(text));
    REQUIRE_FALSE(status);
    CHECK(status.code() == relaygw::StatusCode::InvalidArgument);
    CHECK(status.message().find("--start time " + text) == 0);
    CHECK(status.message().find("(2000-01-01 to 2099-12-31 local date)") != std::string::npos);
    CHECK(status.message().find("send a time from 2000-01-01T12:00:00Z to 2099-12-31T09:59:59Z") !=
          std::string::npos);
  }
}

TEST_CASE("plans advice rejects late as-of", "[billing][call-time][cli]") {
  std::random_device random;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("relaygw-call-time-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(dir);
  const std::string db = "--db '" + (dir / "billing.db").string() + "' ";
  REQUIRE(testing::run_relaygw("db init " + db + "--actor staff:test").status == 0);

  const testing::CommandRun late =
      testing::run_relaygw("plans advise " + db + "--line 3125550107 --as-of 2100-01-01T00:00:00Z");
  INFO(late.output);
  CHECK(late.status == 1);
  CHECK(late.output.find("--as-of time 2100-01-01T00:00:00Z") != std::string::npos);
  CHECK(late.output.find("2099-12-31T09:59:59Z") != std::string::npos);

  const testing::CommandRun in_range =
      testing::run_relaygw("plans advise " + db + "--line 3125550107 --as-of 2026-04-01T00:00:00Z");
  INFO(in_range.output);
  CHECK(in_range.status == 0);

  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}
