// The directory (line information database): validation of line records, adding and changing
// lines through a Store, and CSV import and export. Every change is a new line version with the
// old and new values in the audit log.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "billing/csv.hpp"
#include "billing/numbering.hpp"
#include "billing/store.hpp"

namespace relaygw::billing {

// Normalizes a line number to E.164: 10-digit NANP ("312 555 0142"), 1 + 10 digits, or
// "+" and 8 to 15 digits. Spaces, dashes, dots and brackets are ignored. NANP area and exchange
// codes must start with 2-9.
Result<std::string> normalize_line_number(std::string_view text);

// Rejects a call whose calling and called numbers are the same line in E.164, naming both
// fields with `field_prefix` ("--" for command options, "" for JSON fields). A number that
// does not normalize passes, so the caller reports it with its own reason.
Status check_distinct_lines(std::string_view from, std::string_view to,
                            std::string_view field_prefix);

// Checks every field of `line` and names the first bad one. The number must be normalized and
// the state the postal code of a US state, DC, a US territory or a Canadian province. The time
// zone must be a real IANA zone and the carrier code 4 digits or empty. With a `plan`, the
// number must also pass NumberPlan::classify, which rejects unassigned and reserved area
// codes, the state must be where the data places the area code, and the time zone one that
// NumberPlan::time_zones allows or another name for the same clock from now until 2100. The
// line commands pass a plan.
Status validate_line(const Line& line, const NumberPlan* plan = nullptr);

// Fields that `change_line` may set; unset fields keep their value.
struct LineChange {
  std::optional<std::string> listing_name;
  std::optional<LineType> type;
  std::optional<Screening> screening;
  std::optional<std::string> state;
  std::optional<std::string> rate_center;
  std::optional<std::string> time_zone;
  std::optional<std::string> pic;
  std::optional<bool> is_tty;
  std::optional<bool> tty_discount_eligible;
};

// Returns `line` with the fields that `change` sets replaced.
Line apply_line_change(Line line, const LineChange& change);

// Returns the current version of `number` (10-digit or E.164), or NotFound when the line is
// not in the directory.
Result<LineVersion> find_current_line(Store& store, std::string_view number);

// Adds a new line after normalizing its number and validating it with validate_line.
Result<LineVersion> add_line(Store& store, Line line, const WriteContext& context,
                             const NumberPlan* plan = nullptr);

// Applies `change` to the current version of `number` and appends the result. Fails with
// NotFound for an unknown line and InvalidArgument when the changed line is invalid or equal
// to the current version, so a change that changes nothing adds no version.
Result<LineVersion> change_line(Store& store, std::string_view number, const LineChange& change,
                                const std::string& reason, const WriteContext& context,
                                const NumberPlan* plan = nullptr);

// CSV columns, in order, as written by export and expected (by name) on import.
inline constexpr std::string_view kLineCsvHeader =
    "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,is_tty,"
    "tty_discount_eligible";

struct RowError {
  // Row number as a spreadsheet shows it: the header is row 1, and a record with a line break
  // inside a quoted field is one row.
  std::int64_t row = 0;
  std::int64_t line = 0;  // the file's line where the row starts; the header is line 1
  std::string message;
};

// Returns "row 7" for an error, or "row 7 (line 8)" when the row starts on another line of the
// file, because an earlier row has a line break inside a quoted field.
std::string describe_row(const RowError& error);

struct ImportReport {
  std::int64_t added = 0;
  std::int64_t changed = 0;
  std::int64_t unchanged = 0;
  std::vector<RowError> errors;
};

// Imports lines from CSV. Good rows are added (new number) or appended as a change (different
// values); a bad row is reported with its row number, the line it starts on and the reason,
// and does not stop the rest. A quoted field may span lines. Good rows are stored in
// batches of 500, one transaction each. Fails when the header is wrong or the store fails;
// batches stored before a store failure stay, and importing again reports them unchanged.
Result<ImportReport> import_lines_csv(Store& store, std::istream& input,
                                      const WriteContext& context,
                                      const NumberPlan* plan = nullptr);

// Writes the current version of every line as CSV, header first, ordered by number.
Status export_lines_csv(Store& store, std::ostream& output);

}  // namespace relaygw::billing
