// Directory: number normalization, line validation, audited changes and CSV import/export.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "billing/csv.hpp"
#include "billing/directory.hpp"
#include "billing/sqlite_store.hpp"
#include "billing/state_codes.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::StatusCode;

namespace {

// A directory database in a fresh temp folder, removed at the end of the test.
class DirectoryFixture {
 public:
  DirectoryFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-directory-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open(path(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
  }
  ~DirectoryFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path() const { return (dir_ / "directory.db").string(); }
  SqliteStore& store() { return *store_; }
  WriteContext context() const {
    return WriteContext{"staff:clerk7", parse_instant("2026-03-10T15:00:00Z").value()};
  }

  Line line(const std::string& number) const {
    Line line;
    line.number = number;
    line.listing_name = "Test listing";
    line.type = LineType::Business;
    line.state = "IL";
    line.rate_center = "CHICAGO";
    line.time_zone = "America/Chicago";
    line.pic = "0288";
    return line;
  }

  Result<ImportReport> import(const std::string& csv) {
    std::istringstream input(csv);
    return import_lines_csv(*store_, input, context());
  }

  std::int64_t line_count() { return static_cast<std::int64_t>(store_->list_lines()->size()); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

std::string last_audit_payload(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT payload FROM audit_log ORDER BY seq DESC LIMIT 1", -1,
                             &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  std::string payload = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return payload;
}

}  // namespace

TEST_CASE("line number normalization good and bad", "[billing][directory]") {
  const std::vector<std::pair<std::string, std::string>> good = {
      {"3125550142", "+13125550142"},     {"1 312 555 0142", "+13125550142"},
      {"(312) 555-0142", "+13125550142"}, {"+1 312.555.0142", "+13125550142"},
      {"+442079460142", "+442079460142"},
  };
  for (const auto& [input, expected] : good) {
    INFO("input: " << input);
    auto normalized = normalize_line_number(input);
    REQUIRE(normalized);
    CHECK(*normalized == expected);
  }
  const std::vector<std::string> bad = {"",           "555-0142",    "0125550142",
                                        "3121550142", "31255501420", "+1312555014",
                                        "312555O142", "+123"};
  for (const std::string& input : bad) {
    INFO("input: " << input);
    auto normalized = normalize_line_number(input);
    REQUIRE_FALSE(normalized);
    CHECK(normalized.status().code() == StatusCode::InvalidArgument);
    CHECK(normalized.status().message().find("'" + input + "'") != std::string::npos);
  }
}

TEST_CASE("line number error masks card numbers", "[billing][directory]") {
  // No phone number has 16 digits, so the error quotes the number with all but four masked.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"4111111111119876", "'************9876'"},
      {"+4111 1111 1111 9876", "'+**** **** **** 9876'"},
      {"4111-1111-1111-9876x", "'****-****-****-9876x'"},
  };
  for (const auto& [input, quoted] : cases) {
    INFO("input: " << input);
    auto normalized = normalize_line_number(input);
    REQUIRE_FALSE(normalized);
    CHECK(normalized.status().message().find(quoted) != std::string::npos);
    CHECK(normalized.status().message().find("1111 1111") == std::string::npos);
    CHECK(normalized.status().message().find("41111111") == std::string::npos);
  }
}

TEST_CASE_METHOD(DirectoryFixture, "line change appends audited version", "[billing][directory]") {
  REQUIRE(add_line(store(), line("312-555-0104"), context()));
  LineChange change;
  change.screening = Screening::NoCollect;
  change.listing_name = "Renamed listing";
  auto changed = change_line(store(), "3125550104", change, "subscriber request", context());
  REQUIRE(changed);
  CHECK(changed->version == 2);
  CHECK(changed->line.screening == Screening::NoCollect);
  CHECK(changed->line.pic == "0288");  // unchanged fields keep their value

  auto history = store().line_history("+13125550104");
  REQUIRE(history);
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].line.listing_name == "Test listing");
  CHECK((*history)[1].actor == "staff:clerk7");
  CHECK((*history)[1].reason == "subscriber request");

  const std::string payload = last_audit_payload(path());
  CHECK(payload.find("\"old\":{") != std::string::npos);
  CHECK(payload.find("\"screening\":\"none\"") != std::string::npos);
  CHECK(payload.find("\"screening\":\"no-collect\"") != std::string::npos);
}

TEST_CASE_METHOD(DirectoryFixture, "line change with stale version fails", "[billing][directory]") {
  REQUIRE(add_line(store(), line("3125550104"), context()));
  Line second = line("+13125550104");
  second.listing_name = "Second writer";
  REQUIRE(store().append_line(second, 1, "first change", context()));
  // A writer that read version 1 must not overwrite version 2.
  auto stale = store().append_line(line("+13125550104"), 1, "stale change", context());
  REQUIRE_FALSE(stale);
  CHECK(stale.status().code() == StatusCode::FailedPrecondition);
  CHECK(store().find_line("+13125550104")->value().line.listing_name == "Second writer");
  auto duplicate = add_line(store(), line("3125550104"), context());
  REQUIRE_FALSE(duplicate);
  CHECK(duplicate.status().code() == StatusCode::AlreadyExists);
}

TEST_CASE_METHOD(DirectoryFixture, "invalid line fields change nothing", "[billing][directory]") {
  struct BadField {
    const char* name;
    void (*spoil)(Line&);
    const char* expected;
  };
  const std::vector<BadField> cases = {
      {"time zone", [](Line& l) { l.time_zone = "Central"; }, "unknown time zone 'Central'"},
      {"fixed offset zone", [](Line& l) { l.time_zone = "UTC-6"; }, "unknown time zone"},
      {"state", [](Line& l) { l.state = "Illinois"; }, "invalid state 'Illinois'"},
      {"carrier", [](Line& l) { l.pic = "28"; }, "invalid carrier code '28'"},
      {"listing", [](Line& l) { l.listing_name.clear(); }, "no listing name"},
      {"blank listing", [](Line& l) { l.listing_name = "   "; }, "has a blank listing name"},
      {"invisible listing",
       [](Line& l) { l.listing_name = "\xE2\x80\x8B"; },  // U+200B zero-width space
       "has a blank listing name"},
      {"rate center", [](Line& l) { l.rate_center.clear(); }, "no rate center"},
  };
  for (const BadField& bad : cases) {
    INFO("field: " << bad.name);
    Line spoiled = line("3125550104");
    bad.spoil(spoiled);
    auto added = add_line(store(), spoiled, context());
    REQUIRE_FALSE(added);
    CHECK(added.status().message().find(bad.expected) != std::string::npos);
  }
  CHECK(line_count() == 0);
}

TEST_CASE_METHOD(DirectoryFixture, "csv import keeps good rows", "[billing][directory]") {
  const std::string csv = std::string(kLineCsvHeader) +
                          "\n"
                          "3125550101,\"Doe, Jane\",residential,none,IL,CHICAGO,America/Chicago,"
                          "0288,no,no\n"
                          "3125550102,Bad Zone,business,none,IL,CHICAGO,Mars/Olympus,0288,no,no\n"
                          "3125550103,Bad type,mansion,none,IL,CHICAGO,America/Chicago,,no,no\n"
                          "\n"
                          "3125550104,Too few fields,business\n"
                          "4155550108,TTY user,residential,both,CA,SNFC CNTRL,"
                          "America/Los_Angeles,0222,yes,yes\n";
  auto report = import(csv);
  REQUIRE(report);
  CHECK(report->added == 2);
  REQUIRE(report->errors.size() == 3);
  CHECK(report->errors[0].row == 3);
  CHECK(report->errors[0].message.find("Mars/Olympus") != std::string::npos);
  CHECK(report->errors[1].row == 4);
  CHECK(report->errors[1].message.find("mansion") != std::string::npos);
  CHECK(report->errors[2].row == 6);
  CHECK(line_count() == 2);
  auto tty = store().find_line("+14155550108");
  REQUIRE(tty->has_value());
  CHECK((*tty)->line.is_tty);
  CHECK((*tty)->line.tty_discount_eligible);
  CHECK((*tty)->line.screening == Screening::Both);
  CHECK(store().find_line("+13125550101")->value().line.listing_name == "Doe, Jane");
}

TEST_CASE_METHOD(DirectoryFixture, "csv import skips byte order mark", "[billing][directory]") {
  // Excel's "CSV UTF-8" starts the file with a UTF-8 byte order mark and ends rows with CRLF.
  const std::string csv = "\xEF\xBB\xBF" + std::string(kLineCsvHeader) +
                          "\r\n3125550101,Jane Doe,residential,none,IL,CHICAGO,America/Chicago,"
                          "0288,no,no\r\n";
  auto report = import(csv);
  REQUIRE(report);
  CHECK(report->added == 1);
  CHECK(report->errors.empty());
  CHECK(store().find_line("+13125550101")->has_value());
}

TEST_CASE_METHOD(DirectoryFixture, "csv import reports repeated number", "[billing][directory]") {
  // The second row names the first row's line in another form; the third is another line.
  const std::string csv =
      std::string(kLineCsvHeader) +
      "\n3125550101,Jane Doe,residential,none,IL,CHICAGO,America/Chicago,0288,no,no"
      "\n+1 (312) 555-0101,John Roe,business,both,IL,CHICAGO,America/Chicago,0288,no,no"
      "\n3125550102,Ann Poe,residential,none,IL,CHICAGO,America/Chicago,0288,no,no\n";
  auto report = import(csv);
  REQUIRE(report);
  CHECK(report->added == 2);
  REQUIRE(report->errors.size() == 1);
  CHECK(report->errors[0].row == 3);
  CHECK(report->errors[0].message.find("number +13125550101 is also on row 2") !=
        std::string::npos);
  CHECK(line_count() == 2);
  const auto first = store().find_line("+13125550101");
  REQUIRE(first->has_value());
  CHECK((*first)->line.listing_name == "Jane Doe");
  CHECK((*first)->version == 1);
}

TEST_CASE_METHOD(DirectoryFixture, "csv import reads a quoted line break as one row",
                 "[billing][directory]") {
  // A spreadsheet cell with a line break is one quoted field over two lines: one row, refused
  // for its control character, and the row after it is read as it is.
  const std::string csv =
      std::string(kLineCsvHeader) +
      "\n3125550101,\"two\nline name\",residential,none,IL,CHICAGO,America/Chicago,0288,"
      "no,no\n3125550102,Ann Poe,residential,none,IL,CHICAGO,America/Chicago,0288,no,no\n";
  auto report = import(csv);
  REQUIRE(report);
  CHECK(report->added == 1);
  REQUIRE(report->errors.size() == 1);
  CHECK(report->errors[0].row == 2);
  CHECK(report->errors[0].line == 2);
  CHECK(report->errors[0].message.find("invalid listing name") != std::string::npos);
  CHECK(store().find_line("+13125550102")->has_value());
}

TEST_CASE_METHOD(DirectoryFixture, "csv import numbers rows and lines", "[billing][directory]") {
  // Row 2 spans lines 2 and 3, so row 3 starts on line 4 and row 4 on line 5.
  const std::string csv =
      std::string(kLineCsvHeader) +
      "\n3125550101,\"two\nline name\",residential,none,IL,CHICAGO,America/Chicago,0288,"
      "no,no\n3125550102,Ann Poe,residential,none,IL,CHICAGO,Mars/Olympus,0288,no,no"
      "\n3125550103,Al O\"Hara,residential,none,IL,CHICAGO,America/Chicago,0288,no,no\n";
  auto report = import(csv);
  REQUIRE(report);
  CHECK(report->added == 0);
  REQUIRE(report->errors.size() == 3);
  CHECK(describe_row(report->errors[0]) == "row 2");
  CHECK(report->errors[1].row == 3);
  CHECK(report->errors[1].line == 4);
  CHECK(describe_row(report->errors[1]) == "row 3 (line 4)");
  CHECK(report->errors[1].message.find("Mars/Olympus") != std::string::npos);
  CHECK(describe_row(report->errors[2]) == "row 4 (line 5)");
  CHECK(report->errors[2].message.find("quote inside unquoted CSV field 2") != std::string::npos);
}

TEST_CASE_METHOD(DirectoryFixture, "csv import stores rows in batches", "[billing][directory]") {
  // 1,203 good rows span three batches of at most 500; one bad row sits in the second batch,
  // and a second import of the same file changes nothing.
  std::string csv = std::string(kLineCsvHeader) + "\n";
  for (int i = 0; i < 1204; ++i) {
    const std::string number = fmt::format("312555{:04}", i < 1000 ? i : 7000 + i);
    csv += i == 700 ? "3125559999,Bad type,mansion,none,IL,CHICAGO,America/Chicago,,no,no\n"
                    : number + ",Line " + std::to_string(i) +
                          ",residential,none,IL,CHICAGO,America/Chicago,,no,no\n";
  }
  auto report = import(csv);
  REQUIRE(report);
  CHECK(report->added == 1203);
  REQUIRE(report->errors.size() == 1);
  CHECK(report->errors[0].row == 702);
  CHECK(line_count() == 1203);
  auto again = import(csv);
  REQUIRE(again);
  CHECK(again->added == 0);
  CHECK(again->unchanged == 1203);

  // A refused append in a batch writes nothing, and the appends around it still apply.
  Line first = line("+13125558990");
  Line taken = line("+13125550001");
  Line last = line("+13125558991");
  auto batch = store().append_lines({{first, 0, "batch"}, {taken, 0, "batch"}, {last, 0, "batch"}},
                                    context());
  REQUIRE(batch);
  REQUIRE(batch->size() == 3);
  CHECK((*batch)[0]);
  REQUIRE_FALSE((*batch)[1]);
  CHECK((*batch)[1].status().code() == StatusCode::AlreadyExists);
  CHECK((*batch)[2]);
  CHECK(line_count() == 1205);
  CHECK(store().find_line("+13125550001")->value().version == 1);
  auto verified = store().verify_audit_chain();
  REQUIRE(verified);
  auto records = store().verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());
}

TEST_CASE_METHOD(DirectoryFixture, "csv import rejects wrong header", "[billing][directory]") {
  auto report = import("num,name\n3125550101,Jane\n");
  REQUIRE_FALSE(report);
  CHECK(report.status().message().find("no column 'number'") != std::string::npos);
  CHECK(line_count() == 0);
}

TEST_CASE_METHOD(DirectoryFixture, "csv import rejects repeated column", "[billing][directory]") {
  auto report = import(std::string(kLineCsvHeader) +
                       ",number\n+13125550183,\"Doe, Jane\",residential,none,IL,CHICAGO,"
                       "America/Chicago,0288,no,no,+13125550184\n");
  REQUIRE_FALSE(report);
  const std::string message = report.status().message();
  INFO(message);
  CHECK(message.find("column 'number' twice (columns 1 and 11)") != std::string::npos);
  CHECK(line_count() == 0);
}

TEST_CASE_METHOD(DirectoryFixture, "csv export round trips import", "[billing][directory]") {
  std::ifstream sample(std::string(RELAYGW_SOURCE_DIR) + "/data/directory/sample_lines.csv");
  REQUIRE(sample);
  auto report = import_lines_csv(store(), sample, context());
  REQUIRE(report);
  CHECK(report->errors.empty());
  CHECK(report->added == 15);

  std::ostringstream exported;
  REQUIRE(export_lines_csv(store(), exported));
  // Importing the export again changes nothing.
  auto again = import(exported.str());
  REQUIRE(again);
  CHECK(again->unchanged == 15);
  CHECK(again->added == 0);
  CHECK(again->changed == 0);
  CHECK(exported.str().find("\"Okafor, Grace\"") != std::string::npos);

  // A changed row in a later import becomes version 2 of that line.
  std::string edited = exported.str();
  const std::string from = "+13125550104,\"Nguyen, Minh\",residential,no-third-number";
  const std::size_t at = edited.find(from);
  REQUIRE(at != std::string::npos);
  edited.replace(at, from.size(), "+13125550104,\"Nguyen, Minh\",residential,both");
  auto changed = import(edited);
  REQUIRE(changed);
  CHECK(changed->changed == 1);
  CHECK(store().find_line("+13125550104")->value().version == 2);
}

TEST_CASE("line text fields must be clean utf8", "[billing][directory]") {
  Line line;
  line.number = "+13125550185";
  line.listing_name = "Okafor, Grace";
  line.type = LineType::Residential;
  line.state = "IL";
  line.rate_center = "CHICAGO";
  line.time_zone = "America/Chicago";
  REQUIRE(validate_line(line));
  const std::string bad_names[] = {std::string("Bad \xff name"), std::string("Name\0Nul", 8),
                                   "Tab\there", std::string(201, 'A'), "Cut \xe2\x82"};
  for (const std::string& name : bad_names) {
    Line bad = line;
    bad.listing_name = name;
    INFO("listing name of " << name.size() << " bytes");
    const relaygw::Status status = validate_line(bad);
    CHECK(status.code() == relaygw::StatusCode::InvalidArgument);
    CHECK(status.message().find("listing name") != std::string::npos);
  }
  Line accented = line;
  accented.listing_name = "Nuñez, José";
  CHECK(validate_line(accented));

  // Each message names the rule that the value breaks.
  const struct {
    std::string name;
    std::string message;
  } kFaults[] = {
      {"Jos\xe9", "invalid listing name for line +13125550185: it is not UTF-8 (byte 0xE9 at "
                   "position 4); save the file as UTF-8, or retype the value as UTF-8"},
      {"Jo\r\nse", "invalid listing name for line +13125550185: it contains a line break at "
                   "position 3; a listing name is one line"},
      {"Tab\there", "invalid listing name for line +13125550185: it contains control character "
                    "U+0009 at position 4; remove the character"},
      {std::string(201, 'A'), "invalid listing name for line +13125550185: it has 201 bytes, "
                              "more than the maximum of 200; shorten it"},
      // A listing shown to staff must display as the text it contains.
      {"Pat\xE2\x80\xAE"
       "eoD",
       "invalid listing name for line +13125550185: it contains bidirectional control character "
       "U+202E at position 4; remove the character"},
      {"Pat\xE2\x80\xA9"
       "Doe",
       "invalid listing name for line +13125550185: it contains paragraph separator U+2029 at "
       "position 4; a listing name is one line"},
  };
  for (const auto& fault : kFaults) {
    Line bad = line;
    bad.listing_name = fault.name;
    CHECK(validate_line(bad).message() == fault.message);
  }
  Line broken_center = line;
  broken_center.rate_center = "CHI\nCAGO";
  CHECK(validate_line(broken_center).message() ==
        "invalid rate center for line +13125550185: it contains a line break at position 4; a "
        "rate center is one line");
}

TEST_CASE_METHOD(DirectoryFixture, "csv export guards formula listings",
                 "[billing][directory][csv]") {
  const std::vector<std::string> names = {"=HYPERLINK(\"http://evil\",\"Call me\")", "+Plus",
                                          "-Minus", "@At", "'Apostrophe"};
  std::int64_t suffix = 160;
  for (const std::string& name : names) {
    Line line = this->line("+1312555" + std::to_string(suffix++).insert(0, "0"));
    line.listing_name = name;
    line.rate_center = "=CMD";
    REQUIRE(add_line(store(), line, context()));
  }
  std::ostringstream exported;
  REQUIRE(export_lines_csv(store(), exported));
  const std::string csv = exported.str();
  CHECK(csv.find(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"Call me\"\")\",") != std::string::npos);
  CHECK(csv.find(",\"'+Plus\",") != std::string::npos);
  CHECK(csv.find(",\"'-Minus\",") != std::string::npos);
  CHECK(csv.find(",\"'@At\",") != std::string::npos);
  CHECK(csv.find(",\"''Apostrophe\",") != std::string::npos);
  CHECK(csv.find(",\"'=CMD\",") != std::string::npos);
  CHECK(csv.find("\n+13125550160,") != std::string::npos);  // numbers are not guarded

  auto again = import(csv);
  REQUIRE(again);
  CHECK(again->errors.empty());
  CHECK(again->unchanged == static_cast<std::int64_t>(names.size()));
  CHECK(store().find_line("+13125550160")->value().line.listing_name == names[0]);
}

TEST_CASE_METHOD(DirectoryFixture, "line rejects unknown state codes", "[billing][directory]") {
  for (const std::string state : {"ZZ", "XX", "QQ", "UK"}) {
    Line bad = line("+13125550150");
    bad.state = state;
    INFO("state " << state);
    auto added =
        add_line(store(), bad, context(), &relaygw::billing::testing::bundled_number_plan());
    REQUIRE_FALSE(added);
    CHECK(added.status().code() == StatusCode::InvalidArgument);
    CHECK(added.status().message().find("invalid state '" + state + "'") != std::string::npos);
  }
  // Each good state with a number whose area code the numbering data places there, in the
  // time zone that the data gives for it.
  struct Placed {
    std::string number;
    std::string state;
    std::string time_zone;
  };
  const std::vector<Placed> good_lines = {
      {"+13125550150", "IL", "America/Chicago"},     {"+12025550150", "DC", "America/New_York"},
      {"+17875550150", "PR", "America/Puerto_Rico"}, {"+16715550150", "GU", "Pacific/Guam"},
      {"+14165550150", "ON", "America/Toronto"},     {"+15145550150", "QC", "America/Toronto"}};
  for (const auto& [number, state, time_zone] : good_lines) {
    Line good = line(number);
    good.state = state;
    good.time_zone = time_zone;
    INFO("state " << state);
    CHECK(validate_line(good, &relaygw::billing::testing::bundled_number_plan()));
  }
  CHECK(line_count() == 0);
}

TEST_CASE_METHOD(DirectoryFixture, "line rejects unassigned area codes", "[billing][directory]") {
  auto added = add_line(store(), line("+19995550150"), context(),
                        &relaygw::billing::testing::bundled_number_plan());
  REQUIRE_FALSE(added);
  CHECK(added.status().message().find("area code 999 is not assigned") != std::string::npos);
  CHECK(added.status().message().find("+19995550150") != std::string::npos);

  REQUIRE(add_line(store(), line("+13125550150"), context(),
                   &relaygw::billing::testing::bundled_number_plan()));
  LineChange change;
  change.state = "ZZ";
  auto changed = change_line(store(), "3125550150", change, "typo", context(),
                             &relaygw::billing::testing::bundled_number_plan());
  REQUIRE_FALSE(changed);
  CHECK(changed.status().message().find("invalid state 'ZZ'") != std::string::npos);
  CHECK(store().find_line("+13125550150")->value().version == 1);
}

TEST_CASE_METHOD(DirectoryFixture, "csv import reports bad states", "[billing][directory]") {
  std::istringstream input(std::string(kLineCsvHeader) +
                           "\n3125550151,Good,residential,none,IL,CHICAGO,America/Chicago,,no,no\n"
                           "3125550152,Bad state,residential,none,ZZ,CHICAGO,America/Chicago,,no,"
                           "no\n"
                           "9995550153,Bad area,residential,none,IL,CHICAGO,America/Chicago,,no,"
                           "no\n");
  auto report = import_lines_csv(store(), input, context(),
                                 &relaygw::billing::testing::bundled_number_plan());
  REQUIRE(report);
  CHECK(report->added == 1);
  REQUIRE(report->errors.size() == 2);
  CHECK(report->errors[0].row == 3);
  CHECK(report->errors[0].message.find("invalid state 'ZZ'") != std::string::npos);
  CHECK(report->errors[1].row == 4);
  CHECK(report->errors[1].message.find("area code 999") != std::string::npos);
}

TEST_CASE("line change applies set fields only", "[billing][directory]") {
  Line before;
  before.number = "+13125550150";
  before.listing_name = "Old";
  before.state = "IL";
  before.pic = "0288";
  LineChange change;
  change.listing_name = "New";
  change.is_tty = true;
  const Line after = apply_line_change(before, change);
  CHECK(after.listing_name == "New");
  CHECK(after.is_tty);
  CHECK(after.state == "IL");
  CHECK(after.pic == "0288");
  CHECK(after.number == before.number);
}

TEST_CASE_METHOD(DirectoryFixture, "line change without difference rejected",
                 "[billing][directory]") {
  REQUIRE(add_line(store(), line("312-555-0105"), context()));
  LineChange empty;
  auto nothing = change_line(store(), "3125550105", empty, "no fields", context());
  REQUIRE_FALSE(nothing);
  CHECK(nothing.status().code() == StatusCode::InvalidArgument);
  CHECK(nothing.status().message().find("nothing to change for line +13125550105") !=
        std::string::npos);

  LineChange same_pic;
  same_pic.pic = "0288";
  auto same = change_line(store(), "3125550105", same_pic, "same value", context());
  REQUIRE_FALSE(same);
  CHECK(same.status().message().find("nothing to change") != std::string::npos);

  auto history = store().line_history("+13125550105");
  REQUIRE(history);
  CHECK(history->size() == 1);
}

TEST_CASE_METHOD(DirectoryFixture, "line state must match area code", "[billing][directory]") {
  const NumberPlan* plan = &relaygw::billing::testing::bundled_number_plan();
  Line chicago_as_ny = line("+13125550150");
  chicago_as_ny.state = "NY";
  auto added = add_line(store(), chicago_as_ny, context(), plan);
  REQUIRE_FALSE(added);
  CHECK(added.status().code() == StatusCode::InvalidArgument);
  const std::string& message = added.status().message();
  CHECK(message.find("state 'NY'") != std::string::npos);
  CHECK(message.find("+13125550150") != std::string::npos);
  CHECK(message.find("area code 312 is in IL") != std::string::npos);
  CHECK(message.find("set the state to IL") != std::string::npos);
  CHECK(line_count() == 0);

  // The numbering data names provinces in full, and some area codes serve several of them.
  struct Mismatch {
    std::string number;
    std::string state;
    std::string expected;
  };
  const std::vector<Mismatch> mismatches = {
      {"+14165550150", "QC", "area code 416 is in ON (ONTARIO); set the state to ON"},
      {"+19025550150", "NB",
       "area code 902 is in NS or PE (NOVA SCOTIA - PRINCE EDWARD ISLAND); set the state to NS or "
       "PE, or "
       "correct the number"},
      {"+18675550150", "BC", "area code 867 is in YT or NT or NU"},
      {"+18675550150", "BC", "set the state to YT or NT or NU, or correct the number"},
      {"+17875550150", "FL", "area code 787 is in PR (PUERTO RICO)"}};
  for (const Mismatch& mismatch : mismatches) {
    Line wrong = line(mismatch.number);
    wrong.state = mismatch.state;
    INFO(mismatch.number << " in " << mismatch.state);
    const relaygw::Status status = validate_line(wrong, plan);
    REQUIRE_FALSE(status);
    CHECK(status.message().find(mismatch.expected) != std::string::npos);
  }
}

TEST_CASE_METHOD(DirectoryFixture, "line state check spares shared codes", "[billing][directory]") {
  const NumberPlan* plan = &relaygw::billing::testing::bundled_number_plan();
  // 902 serves Nova Scotia and Prince Edward Island, and 867 the three northern territories.
  struct Placed {
    std::string number;
    std::string state;
    std::string time_zone;
  };
  const std::vector<Placed> accepted = {
      {"+19025550150", "NS", "America/Halifax"},     {"+19025550150", "PE", "America/Halifax"},
      {"+18675550150", "YT", "America/Vancouver"},   {"+18675550150", "NT", "America/Edmonton"},
      {"+18675550150", "NU", "America/Toronto"},     {"+13405550150", "VI", "America/St_Thomas"},
      {"+16705550150", "MP", "Pacific/Saipan"}};
  for (const auto& [number, state, time_zone] : accepted) {
    Line shared = line(number);
    shared.state = state;
    shared.time_zone = time_zone;
    INFO(number << " in " << state);
    const relaygw::Status status = validate_line(shared, plan);
    INFO(status.message());
    CHECK(status);
  }
}

// A directory line is a subscriber line that calls are billed to. Numbers that are not one,
// or that lie outside the US and Canada, are refused whatever state and zone they are given.
TEST_CASE_METHOD(DirectoryFixture, "line add refuses numbers that are not subscriber lines",
                 "[billing][directory]") {
  const NumberPlan* plan = &relaygw::billing::testing::bundled_number_plan();
  struct Refused {
    std::string number;
    std::string state;
    std::string time_zone;
    std::string expected;
  };
  const std::vector<Refused> refused = {
      {"+18005550150", "NY", "America/New_York", "is a toll-free number"},
      {"+18885550150", "CA", "America/Los_Angeles", "is a toll-free number"},
      {"+19005550150", "TX", "America/Chicago", "is a premium number"},
      {"+13129765555", "IL", "America/Chicago", "is a premium number"},
      {"+15005550150", "IL", "America/Chicago", "is a non-geographic number"},
      {"+442079460018", "IL", "America/Chicago", "is an international number"},
      {"+18765550150", "FL", "America/Jamaica", "area code 876 is in JAMAICA, outside the US"},
      {"+14415550150", "NY", "Atlantic/Bermuda", "outside the US and Canada"}};
  for (const Refused& number : refused) {
    Line wrong = line(number.number);
    wrong.state = number.state;
    wrong.time_zone = number.time_zone;
    INFO(number.number << " in " << number.state);
    const relaygw::Status status = validate_line(wrong, plan);
    REQUIRE_FALSE(status);
    CHECK(status.message().find(number.expected) != std::string::npos);
    CHECK(status.message().find("the directory holds") != std::string::npos);
  }

  Line stateless = line("+13125550150");
  stateless.state.clear();
  const relaygw::Status status = validate_line(stateless, plan);
  REQUIRE_FALSE(status);
  CHECK(status.message().find("has no state") != std::string::npos);
}

TEST_CASE_METHOD(DirectoryFixture, "line change and import check state", "[billing][directory]") {
  const NumberPlan* plan = &relaygw::billing::testing::bundled_number_plan();
  REQUIRE(add_line(store(), line("+13125550150"), context(), plan));
  LineChange change;
  change.state = "NY";
  auto changed = change_line(store(), "3125550150", change, "moved", context(), plan);
  REQUIRE_FALSE(changed);
  CHECK(changed.status().message().find("area code 312 is in IL") != std::string::npos);
  CHECK(store().find_line("+13125550150")->value().version == 1);

  std::istringstream input(std::string(kLineCsvHeader) +
                           "\n2125550151,Good,residential,none,NY,NWYRCYZN01,America/New_York,,"
                           "no,no\n"
                           "2125550152,Wrong state,residential,none,NJ,NWYRCYZN01,"
                           "America/New_York,,no,no\n");
  auto report = import_lines_csv(store(), input, context(), plan);
  REQUIRE(report);
  CHECK(report->added == 1);
  REQUIRE(report->errors.size() == 1);
  CHECK(report->errors[0].row == 3);
  CHECK(report->errors[0].message.find("state 'NJ' does not match line +12125550152") !=
        std::string::npos);
  CHECK(report->errors[0].message.find("area code 212 is in NY") != std::string::npos);
}

TEST_CASE_METHOD(DirectoryFixture, "line time zone must match number", "[billing][directory]") {
  const NumberPlan* plan = &relaygw::billing::testing::bundled_number_plan();
  Line chicago_in_tokyo = line("+13125550150");
  chicago_in_tokyo.time_zone = "Asia/Tokyo";
  auto added = add_line(store(), chicago_in_tokyo, context(), plan);
  REQUIRE_FALSE(added);
  CHECK(added.status().code() == StatusCode::InvalidArgument);
  const std::string& message = added.status().message();
  CHECK(message.find("time zone 'Asia/Tokyo' does not match line +13125550150") !=
        std::string::npos);
  CHECK(message.find("places area code 312 in America/Chicago") != std::string::npos);
  CHECK(message.find("set the time zone to America/Chicago") != std::string::npos);
  CHECK(message.find("or correct the number") != std::string::npos);
  CHECK(line_count() == 0);

  // The exchange decides where the data has it, then a block of exchanges, then the area code.
  struct Mismatch {
    std::string number;
    std::string state;
    std::string time_zone;
    std::string expected;
  };
  const std::vector<Mismatch> mismatches = {
      {"+12083205555", "ID", "America/Chicago",
       "places exchange 208-320 in America/Boise or America/Los_Angeles; set the time zone to "
       "America/Boise or America/Los_Angeles"},
      {"+12082015555", "ID", "America/Los_Angeles", "places exchange 208-201 in America/Denver"},
      {"+12083335555", "ID", "America/Los_Angeles", "places exchanges 208-3XX in America/Denver"},
      {"+18502005555", "FL", "America/New_York", "places exchange 850-200 in America/Chicago"},
      {"+18505550150", "FL", "America/Denver",
       "places area code 850 in America/Chicago or America/New_York"},
      {"+13175550150", "IN", "America/Chicago", "places area code 317 in America/New_York"},
      // Same offset in winter, but Phoenix keeps standard time all summer.
      {"+13035550150", "CO", "America/Phoenix", "places area code 303 in America/Denver"},
      {"+16025550150", "AZ", "America/Denver", "places area code 602 in America/Phoenix"},
      {"+13125550150", "IL", "Etc/GMT+6", "places area code 312 in America/Chicago"}};
  for (const Mismatch& mismatch : mismatches) {
    Line wrong = line(mismatch.number);
    wrong.state = mismatch.state;
    wrong.time_zone = mismatch.time_zone;
    INFO(mismatch.number << " in " << mismatch.time_zone);
    const relaygw::Status status = validate_line(wrong, plan);
    REQUIRE_FALSE(status);
    INFO(status.message());
    CHECK(status.message().find(mismatch.expected) != std::string::npos);
  }
}

TEST_CASE_METHOD(DirectoryFixture, "line time zone accepts same clocks", "[billing][directory]") {
  const NumberPlan* plan = &relaygw::billing::testing::bundled_number_plan();
  struct Placed {
    std::string number;
    std::string state;
    std::string time_zone;
  };
  const std::vector<Placed> accepted = {
      {"+13125550150", "IL", "America/Chicago"},
      // Other names for the zone the data gives: a link, and zones whose clocks have matched
      // it since 2007 or earlier.
      {"+13125550150", "IL", "US/Central"},
      {"+13175550150", "IN", "America/Indiana/Indianapolis"},
      {"+13175550150", "IN", "America/Indianapolis"},
      {"+12192005555", "IN", "America/Indiana/Knox"},
      {"+13135550150", "MI", "America/Detroit"},
      {"+15025550150", "KY", "America/Kentucky/Louisville"},
      {"+17015550150", "ND", "America/North_Dakota/New_Salem"},
      {"+12083205555", "ID", "America/Denver"},
      // Area codes that span zones accept each zone of their exchanges, and each NANPA letter.
      {"+18505550150", "FL", "America/Chicago"},
      {"+18505550150", "FL", "America/New_York"},
      {"+19155550150", "TX", "America/Denver"},
      {"+19155550150", "TX", "America/Chicago"},
      {"+16055550150", "SD", "America/North_Dakota/Center"},
      {"+12083205555", "ID", "America/Boise"},
      {"+12083205555", "ID", "America/Los_Angeles"},
      {"+19075550150", "AK", "America/Anchorage"},
      {"+19075550150", "AK", "America/Adak"}};
  for (const Placed& placed : accepted) {
    Line good = line(placed.number);
    good.state = placed.state;
    good.time_zone = placed.time_zone;
    INFO(placed.number << " in " << placed.time_zone);
    const relaygw::Status status = validate_line(good, plan);
    INFO(status.message());
    CHECK(status);
  }

  // The bundled sample directory passes every check.
  std::ifstream sample(std::string(RELAYGW_SOURCE_DIR) + "/data/directory/sample_lines.csv");
  REQUIRE(sample);
  auto report = import_lines_csv(store(), sample, context(), plan);
  REQUIRE(report);
  CHECK(report->errors.empty());
  CHECK(report->added == 15);
}

TEST_CASE_METHOD(DirectoryFixture, "line change and import check zone", "[billing][directory]") {
  const NumberPlan* plan = &relaygw::billing::testing::bundled_number_plan();
  REQUIRE(add_line(store(), line("+13125550150"), context(), plan));
  LineChange change;
  change.time_zone = "Asia/Tokyo";
  auto changed = change_line(store(), "3125550150", change, "moved", context(), plan);
  REQUIRE_FALSE(changed);
  CHECK(changed.status().message().find("time zone 'Asia/Tokyo'") != std::string::npos);
  CHECK(store().find_line("+13125550150")->value().version == 1);

  std::istringstream input(std::string(kLineCsvHeader) +
                           "\n2125550151,Good,residential,none,NY,NWYRCYZN01,America/New_York,,"
                           "no,no\n"
                           "2125550152,Wrong zone,residential,none,NY,NWYRCYZN01,"
                           "America/Los_Angeles,,no,no\n");
  auto report = import_lines_csv(store(), input, context(), plan);
  REQUIRE(report);
  CHECK(report->added == 1);
  REQUIRE(report->errors.size() == 1);
  CHECK(report->errors[0].row == 3);
  CHECK(report->errors[0].message.find(
            "time zone 'America/Los_Angeles' does not match line +12125550152") !=
        std::string::npos);
  CHECK(report->errors[0].message.find("area code 212 in America/New_York") != std::string::npos);
}

TEST_CASE("state codes cover every NANPA location", "[billing][directory]") {
  // Every US and Canadian area code in the bundled NPA report names a place that maps to at
  // least one postal code, so no line in those countries escapes the state check.
  std::ifstream report(std::string(RELAYGW_SOURCE_DIR) +
                       "/data/nanp/nanpa_npa_report_2018-10-04.csv");
  REQUIRE(report);

  std::string record;
  std::getline(report, record);  // the file date
  std::getline(report, record);
  auto header = split_csv_record(record);
  REQUIRE(header);
  const auto column = [&](const std::string& name) {
    return std::find(header->begin(), header->end(), name) - header->begin();
  };
  const auto use = column("USE");
  const auto location = column("LOCATION");
  const auto country = column("COUNTRY");
  REQUIRE(country < static_cast<std::ptrdiff_t>(header->size()));

  int checked = 0;
  while (std::getline(report, record)) {
    auto fields = split_csv_record(record);
    REQUIRE(fields);
    if ((*fields)[use] != "G" || (*fields)[location].empty() ||
        ((*fields)[country] != "US" && (*fields)[country] != "CANADA")) {
      continue;
    }
    INFO("NPA " << (*fields)[0] << " in " << (*fields)[location]);
    CHECK_FALSE(state_codes_of_nanpa_location((*fields)[location]).empty());
    ++checked;
  }
  CHECK(checked > 300);
}
