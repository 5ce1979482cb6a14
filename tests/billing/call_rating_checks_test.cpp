// CallRecords::open checks that a call can be rated later: numbers the plan accepts and a deck
// version in force on the local start date, except for emergency calls.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "billing/call_records.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;
using namespace relaygw::billing::testing;
using relaygw::StatusCode;

namespace {

class RatingCheckFixture {
 public:
  RatingCheckFixture() : deck_(flat_rate_deck("0.1000")), rater_(&bundled_number_plan(), &deck_) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-rating-checks-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "calls.db").string(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
  }
  ~RatingCheckFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  relaygw::Result<CallRequest> open(const std::string& from, const std::string& to,
                                    const std::string& when, bool emergency = false) {
    CallRequest request;
    request.from = from;
    request.to = to;
    request.emergency = emergency;
    return CallRecords(store_.get(), &rater_)
        .open(request, WriteContext{"gateway", parse_instant(when).value()});
  }
  bool stored(const std::string& id) { return store_->find_call(id)->has_value(); }

  RateDeck deck_;
  Rater rater_;
  std::unique_ptr<SqliteStore> store_;

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(RatingCheckFixture, "open rejects unassigned area codes", "[billing][calls]") {
  for (const auto& [from, to] :
       {std::pair{"9995550107", "2125550101"}, std::pair{"3125550107", "9995550101"}}) {
    INFO("from " << from << " to " << to);
    auto opened = open(from, to, "2026-03-10T14:00:00Z");
    REQUIRE_FALSE(opened);
    CHECK(opened.status().code() == StatusCode::InvalidArgument);
    CHECK(opened.status().message().find("area code 999 is not assigned") != std::string::npos);
    CHECK(opened.status().message().find("9995550") != std::string::npos);
  }
  const auto day_start = parse_instant("2026-03-10T00:00:00Z").value();
  const auto day_end = parse_instant("2026-03-11T00:00:00Z").value();
  CHECK(store_->count_calls_requested(day_start, day_end).value() == 0);
}

TEST_CASE_METHOD(RatingCheckFixture, "open rejects date before deck", "[billing][calls]") {
  // 2020-01-01T03:00Z is still 2019-12-31 in Chicago, the calling line's zone.
  auto opened = open("3125550107", "2125550101", "2020-01-01T03:00:00Z");
  REQUIRE_FALSE(opened);
  CHECK(opened.status().code() == StatusCode::NotFound);
  CHECK(opened.status().message().find("no version in force on 2019-12-31") != std::string::npos);
  auto in_force = open("3125550107", "2125550101", "2020-01-01T07:00:00Z");
  REQUIRE(in_force);
  CHECK(stored(in_force->id));
}

TEST_CASE_METHOD(RatingCheckFixture, "open keeps emergency calls", "[billing][calls]") {
  auto to_911 = open("9995550107", "911", "2019-06-01T12:00:00Z");
  REQUIRE(to_911);
  CHECK(stored(to_911->id));
  auto flagged = open("9995550107", "9995550101", "2019-06-01T12:00:00Z", true);
  REQUIRE(flagged);
  CHECK(stored(flagged->id));
}

TEST_CASE("open without rater skips checks", "[billing][calls]") {
  std::random_device random;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("relaygw-rating-checks-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(dir);
  {
    SqliteOptions options;
    options.create = true;
    auto store = SqliteStore::open((dir / "calls.db").string(), options);
    REQUIRE(store);
    CallRequest request;
    request.from = "9995550107";
    request.to = "2125550101";
    auto opened =
        CallRecords(store->get(), nullptr)
            .open(request, WriteContext{"gateway", parse_instant("2019-06-01T12:00:00Z").value()});
    CHECK(opened);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}
