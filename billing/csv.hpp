// CSV fields for every export in billing/: RFC 4180 quoting, plus the OWASP guard against
// spreadsheet formula injection for text columns, and the matching record reader.
#pragma once

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

// Splits one CSV record (RFC 4180 quoting, no embedded line breaks). Unquoted text is trimmed
// of spaces and tabs, and quoted text is kept as written. A quoted field that starts with an
// apostrophe followed by '=', '+', '-', '@', tab, carriage return or another apostrophe loses
// that first apostrophe, which undoes csv_text_field. Fails on an unclosed quote or on text
// after a closing quote.
Result<std::vector<std::string>> split_csv_record(std::string_view record);

}  // namespace relaygw::billing
