// CSV fields: quoting, the spreadsheet formula guard on text columns, and reading both back.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/csv.hpp"

using namespace relaygw::billing;

TEST_CASE("csv text field guards formulas", "[billing][csv]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
      {"+1+1", "\"'+1+1\""},
      {"-2+3", "\"'-2+3\""},
      {"@SUM(A1)", "\"'@SUM(A1)\""},
      {"\tcmd", "\"'\tcmd\""},
      {"\rcmd", "\"'\rcmd\""},
      {"'quoted", "\"''quoted\""},
      {"Doe, Jane", "\"Doe, Jane\""},
      {"Plain", "Plain"},
      {"", ""},
  };
  for (const auto& [value, expected] : cases) {
    INFO("value: " << value);
    CHECK(csv_text_field(value) == expected);
  }
}

TEST_CASE("csv plain field keeps numbers", "[billing][csv]") {
  CHECK(csv_plain_field("-1.50") == "-1.50");
  CHECK(csv_plain_field("+13125550142") == "+13125550142");
  CHECK(csv_plain_field("a,b") == "\"a,b\"");
  CHECK(csv_plain_field(" edge ") == "\" edge \"");
}

TEST_CASE("csv record reads back text fields", "[billing][csv]") {
  const std::vector<std::string> values = {"=HYPERLINK(\"http://x\",\"y\")",
                                           "+1+1",
                                           "-2",
                                           "@a",
                                           "\tb",
                                           "'c",
                                           "''d",
                                           "'e",
                                           " f ",
                                           "g,h",
                                           "say \"hi\"",
                                           "O'Brien",
                                           "",
                                           "plain"};
  std::string record;
  for (const std::string& value : values) {
    record += (record.empty() ? "" : ",") + csv_text_field(value);
  }
  auto fields = split_csv_record(record);
  REQUIRE(fields);
  REQUIRE(fields->size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("field " << i);
    CHECK((*fields)[i] == values[i]);
  }
}

TEST_CASE("csv record keeps unguarded apostrophes", "[billing][csv]") {
  auto fields = split_csv_record("'=a,\"'O'Brien\",  x  ,\"-1.50\"\r");
  REQUIRE(fields);
  REQUIRE(fields->size() == 4);
  CHECK((*fields)[0] == "'=a");  // unquoted, so written by hand and kept as is
  CHECK((*fields)[1] == "'O'Brien");
  CHECK((*fields)[2] == "x");
  CHECK((*fields)[3] == "-1.50");
}

TEST_CASE("csv record rejects broken quotes", "[billing][csv]") {
  auto unclosed = split_csv_record("a,\"b");
  REQUIRE_FALSE(unclosed);
  CHECK(unclosed.status().message().find("unclosed quote in CSV field 2") != std::string::npos);
  auto trailing = split_csv_record("\"a\"b,c");
  REQUIRE_FALSE(trailing);
  CHECK(trailing.status().message().find("field 1") != std::string::npos);
}

namespace {

struct ReadRecord {
  std::string text;
  std::int64_t first_line;
};

std::vector<ReadRecord> read_all(const std::string& input) {
  std::istringstream stream(input);
  CsvRecordReader reader(stream);
  std::vector<ReadRecord> records;
  std::string record;
  std::int64_t first_line = 0;
  while (reader.next(record, first_line)) {
    records.push_back({record, first_line});
  }
  return records;
}

}  // namespace

TEST_CASE("csv reader joins quoted line breaks", "[billing][csv]") {
  const auto records = read_all("a,\"two\r\nlines\",b\r\nc,d\n\"x\"\"y\",\"three\nline\nfield\"\nz");
  REQUIRE(records.size() == 4);
  CHECK(records[0].text == "a,\"two\nlines\",b\r");
  CHECK(records[0].first_line == 1);
  CHECK(records[1].text == "c,d");
  CHECK(records[1].first_line == 3);
  CHECK(records[2].text == "\"x\"\"y\",\"three\nline\nfield\"");
  CHECK(records[2].first_line == 4);
  CHECK(records[3].text == "z");
  CHECK(records[3].first_line == 7);
  const auto fields = split_csv_record(records[0].text);
  REQUIRE(fields);
  CHECK((*fields)[1] == "two\nlines");
}

TEST_CASE("csv reader returns a stray quote alone", "[billing][csv]") {
  // The quote on line 2 never closes, so that line comes back alone. Every later line is a
  // record of its own, so nothing after the stray quote is lost.
  std::string input = "h1,h2\n\"broken,row\n";
  for (int i = 0; i < 30; ++i) {
    input += "r" + std::to_string(i) + ",v\n";
  }
  const auto records = read_all(input);
  REQUIRE(records.size() == 32);
  CHECK(records[1].text == "\"broken,row");
  CHECK(records[1].first_line == 2);
  CHECK_FALSE(split_csv_record(records[1].text));
  CHECK(records[2].text == "r0,v");
  CHECK(records[2].first_line == 3);
  CHECK(records[31].text == "r29,v");
  CHECK(records[31].first_line == 32);
}

TEST_CASE("csv reader keeps stray quote rows apart", "[billing][csv]") {
  // Line 2 has a quote inside an unquoted field, which opens no quoted field. Line 4 opens a
  // quoted field that never closes, and the quote that opens line 5's field would close it,
  // but the two lines do not split as one record, so each comes back alone.
  const auto records =
      read_all("h1,h2\nO\"Hara,v\nr1,v\n\"unclosed,v\nr2,\"quoted\",v\nr3,\"two\nlines\"\n");
  REQUIRE(records.size() == 6);
  CHECK(records[1].text == "O\"Hara,v");
  CHECK(records[1].first_line == 2);
  CHECK(records[2].text == "r1,v");
  CHECK(records[3].text == "\"unclosed,v");
  CHECK(records[3].first_line == 4);
  CHECK(records[4].text == "r2,\"quoted\",v");
  CHECK(records[4].first_line == 5);
  CHECK(records[5].text == "r3,\"two\nlines\"");
  CHECK(records[5].first_line == 6);

  const auto stray = split_csv_record(records[1].text);
  REQUIRE_FALSE(stray);
  CHECK(stray.status().message().find("quote inside unquoted CSV field 1") != std::string::npos);
  const auto unclosed = split_csv_record(records[3].text);
  REQUIRE_FALSE(unclosed);
  CHECK(unclosed.status().message().find("unclosed quote in CSV field 1") != std::string::npos);
  const auto quoted = split_csv_record(records[4].text);
  REQUIRE(quoted);
  CHECK((*quoted)[1] == "quoted");
}

TEST_CASE("csv reader joins escaped quote line break", "[billing][csv]") {
  // An escaped quote ("") keeps the field open, so its line break still belongs to the field.
  const auto records = read_all("a,\"say \"\"hi\nthere\"\"\",b\nc,d\n");
  REQUIRE(records.size() == 2);
  CHECK(records[0].text == "a,\"say \"\"hi\nthere\"\"\",b");
  CHECK(records[1].text == "c,d");
  CHECK(records[1].first_line == 3);
  const auto fields = split_csv_record(records[0].text);
  REQUIRE(fields);
  CHECK((*fields)[1] == "say \"hi\nthere\"");
}
