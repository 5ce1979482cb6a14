// CSV fields for every export in billing/: RFC 4180 quoting, plus the OWASP guard against
// spreadsheet formula injection for text columns, and the matching record reader.
#pragma once

#include <cstdint>
#include <deque>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace relaygw::billing {

// Formats a text value (a listing name, a reason, an id typed by staff) as one CSV field.
// A value that starts with '=', '+', '-', '@', tab, carriage return or an apostrophe gets a
// leading apostrophe and quotes, so a spreadsheet shows it as text instead of running it as a
// formula. The value is also quoted when it contains a comma, a quote, a line break or leading
// or trailing spaces. split_csv_record returns the original value.
std::string csv_text_field(std::string_view value);

// Formats a value this program generated (an amount such as -1.50, a count, an enum name) as
// one CSV field. It is quoted only when it contains a comma, a quote, a line break or edge
// spaces, and never guarded, so numbers stay numbers.
std::string csv_plain_field(std::string_view value);

// Reads CSV records from a stream line by line. A quoted field may hold line breaks (RFC 4180),
// so a line that ends inside a quoted field is joined with the lines after it until the field
// closes. A quote inside an unquoted field opens nothing, so split_csv_record reports it on
// its own line. The line comes back alone when the field does not close within
// kMaxJoinedLines lines, or when the joined lines do not split into fields (an unclosed quote
// closed by a quote on a later row). split_csv_record then reports its unclosed quote, and
// the lines after it are read as records of their own.
class CsvRecordReader {
 public:
  static constexpr std::size_t kMaxJoinedLines = 20;

  explicit CsvRecordReader(std::istream& input) : input_(input) {}
  // Reads the next record into `record` (its line breaks as '\n') and the number of its first
  // line into `first_line` (the first line read is 1). False at the end of the input.
  bool next(std::string& record, std::int64_t& first_line);

 private:
  bool next_line(std::string& line);

  std::istream& input_;
  std::deque<std::string> pending_;  // lines read ahead and not yet returned
  std::int64_t lines_returned_ = 0;
};

// Splits one CSV record (RFC 4180 quoting; a quoted field may hold line breaks). Unquoted text is
// trimmed of spaces and tabs, and quoted text is kept as written. A quoted field that starts with
// an apostrophe followed by '=', '+', '-', '@', tab, carriage return or another apostrophe loses
// that first apostrophe, which undoes csv_text_field. Fails on an unclosed quote, on text
// after a closing quote, and on a quote inside an unquoted field.
Result<std::vector<std::string>> split_csv_record(std::string_view record);

}  // namespace relaygw::billing
