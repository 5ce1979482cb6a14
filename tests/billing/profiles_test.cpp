// Billing profiles on real SQLite files: changes, history with old and new values, and the
// relaygw profile commands as real processes.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/profiles.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;

namespace {

class ProfileFixture {
 public:
  ProfileFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-profiles-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~ProfileFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string db() const { return (dir_ / "profiles.db").string(); }

  std::unique_ptr<SqliteStore> open_with_line() {
    SqliteOptions options;
    options.create = true;
    auto store = SqliteStore::open(db(), options);
    REQUIRE(store);
    Line line;
    line.number = "+13125550142";
    line.listing_name = "Ada Lovelace";
    line.state = "IL";
    line.rate_center = "Chicago, IL";
    line.time_zone = "America/Chicago";
    REQUIRE(add_line(**store, line, {"staff:alice", at("2026-03-01T10:00:00Z")}));
    return std::move(store).value();
  }

  static Instant at(const char* text) { return parse_instant(text).value(); }

 private:
  std::filesystem::path dir_;
};

using Run = relaygw::billing::testing::CommandRun;
using relaygw::billing::testing::run_relaygw;

}  // namespace

TEST_CASE("profile change records old and new", "[billing][profiles]") {
  ProfileFixture fixture;
  auto store = fixture.open_with_line();
  LineChange change;
  change.screening = Screening::NoCollect;
  change.tty_discount_eligible = true;
  auto changed = change_profile(*store, "312-555-0142", change, "customer request",
                                {"staff:bob", ProfileFixture::at("2026-03-02T09:30:00Z")});
  REQUIRE(changed);
  CHECK(changed->version == 2);
  CHECK(changed->actor == "staff:bob");
  REQUIRE(changed->fields.size() == 2);
  CHECK(changed->fields[0].field == "screening");
  CHECK(changed->fields[0].old_value == "none");
  CHECK(changed->fields[0].new_value == "no-collect");
  CHECK(changed->fields[1].field == "tty_discount_eligible");
  CHECK(changed->fields[1].old_value == "false");
  CHECK(changed->fields[1].new_value == "true");

  auto history = profile_history(*store, "+13125550142");
  REQUIRE(history);
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].actor == "staff:alice");
  CHECK((*history)[0].fields.size() == 9);  // the first version sets every field
  CHECK((*history)[1].reason == "customer request");
  CHECK(format_instant((*history)[1].at) == "2026-03-02T09:30:00Z");
}

TEST_CASE("profile change rejects empty change", "[billing][profiles]") {
  ProfileFixture fixture;
  auto store = fixture.open_with_line();
  LineChange same;
  same.listing_name = "Ada Lovelace";
  auto rejected = change_profile(*store, "+13125550142", same, "no-op",
                                 {"staff:bob", ProfileFixture::at("2026-03-02T09:30:00Z")});
  REQUIRE_FALSE(rejected);
  CHECK(rejected.status().code() == relaygw::StatusCode::InvalidArgument);
  CHECK(profile_history(*store, "+13125550142")->size() == 1);

  auto unknown = profile_history(*store, "+13125550199");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.status().code() == relaygw::StatusCode::NotFound);
}

TEST_CASE("profile commands show history", "[billing][profiles][command]") {
  ProfileFixture fixture;
  fixture.open_with_line();
  const std::string db = " --db '" + fixture.db() + "'";
  Run change = run_relaygw(
      "profile change --line 3125550142 --pic 0288 --reason 'carrier change' "
      "--actor staff:carol" +
      db);
  REQUIRE(change.status == 0);
  CHECK(change.output.find("pic: '' -> '0288'") != std::string::npos);

  Run history = run_relaygw("profile history --line 3125550142 --json" + db);
  REQUIRE(history.status == 0);
  const nlohmann::json json = nlohmann::json::parse(history.output);
  REQUIRE(json.size() == 2);
  CHECK(json[1]["changed_by"] == "staff:carol");
  CHECK(json[1]["reason"] == "carrier change");
  REQUIRE(json[1]["fields"].size() == 1);
  CHECK(json[1]["fields"][0]["field"] == "pic");
  CHECK(json[1]["fields"][0]["old"] == "");
  CHECK(json[1]["fields"][0]["new"] == "0288");

  Run show = run_relaygw("profile show --line 3125550142 --json" + db);
  REQUIRE(show.status == 0);
  CHECK(nlohmann::json::parse(show.output)["pic"] == "0288");

  Run bad = run_relaygw("profile change --line 3125550142 --screening sometimes --reason x" + db);
  CHECK(bad.status != 0);
  CHECK(bad.output.find("invalid --screening 'sometimes'") != std::string::npos);
  Run missing = run_relaygw("profile history --line 3125550199" + db);
  CHECK(missing.status != 0);
  CHECK(missing.output.find("+13125550199 is not in the directory") != std::string::npos);
}

TEST_CASE("profile change checks state of area code", "[billing][profiles]") {
  ProfileFixture fixture;
  auto store = fixture.open_with_line();
  // A line stored without the numbering check, as before states were checked, with a 312
  // (Illinois) number in NY.
  LineChange wrong_state;
  wrong_state.state = "NY";
  REQUIRE(change_line(*store, "+13125550142", wrong_state, "legacy import",
                      {"staff:alice", ProfileFixture::at("2026-03-01T11:00:00Z")}));

  LineChange change;
  change.screening = Screening::NoCollect;
  auto rejected = change_profile(*store, "+13125550142", change, "customer request",
                                 {"staff:bob", ProfileFixture::at("2026-03-02T09:30:00Z")},
                                 &relaygw::billing::testing::bundled_number_plan());
  REQUIRE_FALSE(rejected);
  CHECK(rejected.status().message().find("area code 312 is in IL") != std::string::npos);
  CHECK(rejected.status().message().find("state 'NY'") != std::string::npos);
  CHECK(profile_history(*store, "+13125550142")->size() == 2);

  // The profile command checks with the numbering data too.
  store.reset();
  const Run command = run_relaygw("profile change --line 3125550142 --pic 0288 --reason x --db '" +
                                  fixture.db() + "'");
  CHECK(command.status == 1);
  CHECK(command.output.find("area code 312 is in IL") != std::string::npos);
}
