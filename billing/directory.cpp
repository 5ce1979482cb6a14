#include "billing/directory.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <date/tz.h>

#include "billing/call_time.hpp"
#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "billing/csv.hpp"
#include "billing/state_codes.hpp"
#include "common/card_digits.hpp"
#include "common/utf8.hpp"

namespace relaygw::billing {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

Result<bool> parse_flag(std::string_view field, std::string_view text) {
  if (text == "yes" || text == "true" || text == "1") {
    return true;
  }
  if (text == "no" || text == "false" || text == "0" || text.empty()) {
    return false;
  }
  return Status(StatusCode::InvalidArgument,
                "invalid " + std::string(field) + " '" + std::string(text) + "'; use yes or no");
}

bool same_line(const Line& a, const Line& b) {
  return a.number == b.number && a.listing_name == b.listing_name && a.type == b.type &&
         a.screening == b.screening && a.state == b.state && a.rate_center == b.rate_center &&
         a.time_zone == b.time_zone && a.pic == b.pic && a.is_tty == b.is_tty &&
         a.tty_discount_eligible == b.tty_discount_eligible;
}

// Builds a Line from the fields of one CSV record, by header position.
Result<Line> line_from_record(const std::vector<std::string>& fields) {
  Line line;
  if (fields[0].empty()) {
    return Status(StatusCode::InvalidArgument,
                  "the number field is empty; give the line's number, such as 3125550142");
  }
  Result<std::string> number = normalize_line_number(fields[0]);
  if (!number) {
    return number.status();
  }
  line.number = *number;
  line.listing_name = fields[1];

  std::optional<LineType> type = parse_line_type(fields[2]);
  if (!type) {
    return Status(StatusCode::InvalidArgument,
                  "invalid line_type '" + fields[2] +
                      "'; use residential, business, payphone, inmate, hotel, cellular or "
                      "government");
  }
  line.type = *type;
  std::optional<Screening> screening = parse_screening(fields[3].empty() ? "none" : fields[3]);
  if (!screening) {
    return Status(
        StatusCode::InvalidArgument,
        "invalid screening '" + fields[3] + "'; use none, no-collect, no-third-number or both");
  }
  line.screening = *screening;
  line.state = fields[4];
  line.rate_center = fields[5];
  line.time_zone = fields[6];
  line.pic = fields[7];

  Result<bool> is_tty = parse_flag("is_tty", fields[8]);
  if (!is_tty) {
    return is_tty.status();
  }
  line.is_tty = *is_tty;
  Result<bool> eligible = parse_flag("tty_discount_eligible", fields[9]);
  if (!eligible) {
    return eligible.status();
  }
  line.tty_discount_eligible = *eligible;
  return line;
}

}  // namespace

Status check_distinct_lines(std::string_view from, std::string_view to,
                            std::string_view field_prefix) {
  const Result<std::string> from_line = normalize_line_number(from);
  const Result<std::string> to_line = normalize_line_number(to);
  if (!from_line || !to_line || *from_line != *to_line) {
    return Status::ok();
  }
  const std::string prefix(field_prefix);
  return Status(StatusCode::InvalidArgument,
                prefix + "from " + std::string(from) + " and " + prefix + "to " +
                    std::string(to) + " are the same line, " + *from_line + "; a call needs a " +
                    prefix + "to other than the calling line");
}

Result<std::string> normalize_line_number(std::string_view text) {
  std::string digits;
  bool plus = false;
  for (char c : text) {
    if (is_digit(c)) {
      digits += c;
    } else if (c == '+' && digits.empty() && !plus) {
      plus = true;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return Status(StatusCode::InvalidArgument,
                    "invalid line number '" + mask_invalid_phone_number(text) +
                        "': only digits, '+', spaces, dashes, dots and brackets are allowed");
    }
  }
  if (!plus && digits.size() == 11 && digits[0] == '1') {
    digits.erase(0, 1);
  }
  if (!plus && digits.size() == 10) {
    digits.insert(0, "1");
  } else if (!plus) {
    return Status(StatusCode::InvalidArgument,
                  "invalid line number '" + mask_invalid_phone_number(text) +
                      "': use 10 digits (3125550142), 1 + 10 digits or E.164 (+13125550142)");
  }
  if (digits.size() < 8 || digits.size() > 15) {
    return Status(StatusCode::InvalidArgument,
                  "invalid line number '" + mask_invalid_phone_number(text) +
                      "': an E.164 number has 8 to 15 digits after the '+'");
  }
  if (digits[0] == '1') {
    if (digits.size() != 11) {
      return Status(StatusCode::InvalidArgument,
                    "invalid line number '" + mask_invalid_phone_number(text) +
                        "': a NANP number has 10 digits after +1");
    }
    if (digits[1] < '2' || digits[4] < '2') {
      return Status(StatusCode::InvalidArgument,
                    "invalid line number '" + mask_invalid_phone_number(text) +
                        "': NANP area and exchange codes start with a digit from 2 to 9");
    }
  }
  return "+" + digits;
}

namespace {

// Longest listing name or rate center accepted, in bytes; directory listings are far shorter.
constexpr std::size_t kMaxTextField = 200;

// Rejects a listing name or rate center that is too long, not UTF-8 or not one line of
// printable text. The message names the rule that the value breaks.
Status check_text_field(const Line& line, const char* field, const std::string& value) {
  const std::string prefix = std::string("invalid ") + field + " for line " + line.number + ": ";
  if (value.size() > kMaxTextField) {
    return Status(StatusCode::InvalidArgument,
                  prefix + "it has " + std::to_string(value.size()) + " bytes, more than the " +
                      "maximum of " + std::to_string(kMaxTextField) + "; shorten it");
  }
  const TextFault fault = find_text_fault(value, true);
  std::string fix;
  switch (fault.kind) {
    case TextFaultKind::None:
      return Status::ok();
    case TextFaultKind::NotUtf8:
      // A spreadsheet saved as Latin-1 or Windows-1252 stores "é" as the one byte 0xE9.
      fix = "save the file as UTF-8, or retype the value as UTF-8";
      break;
    case TextFaultKind::LineBreak:
      fix = std::string("a ") + field + " is one line";
      break;
    case TextFaultKind::NulByte:
    case TextFaultKind::ControlCharacter:
    case TextFaultKind::BidiControl:
      fix = "remove the character";
      break;
  }
  return Status(StatusCode::InvalidArgument, prefix + "it " + fault.description + "; " + fix);
}

// Rejects a number that is not a subscriber line: the directory contains the lines that calls
// are billed to, each a geographic NANP number in a US state, DC, a US territory or a Canadian
// province. Toll-free, premium, other non-geographic, N11 and international numbers are
// rejected, and so are the NANP countries outside the US and Canada, which this operator does
// not serve.
Status check_subscriber_number(const Line& line, const NumberInfo& info) {
  if (info.kind != NumberKind::Geographic && info.kind != NumberKind::Fictional) {
    const std::string kind(to_string(info.kind));
    const bool vowel = kind.find_first_of("aeiou") == 0;
    return Status(StatusCode::InvalidArgument,
                  "line " + line.number + (vowel ? " is an " : " is a ") + kind +
                      " number; the directory holds subscriber lines with a geographic NANP "
                      "number (area code and exchange of a US or Canadian rate center)");
  }
  if (state_codes_of_nanpa_location(info.state).empty()) {
    return Status(StatusCode::InvalidArgument,
                  "line " + line.number + ": area code " + info.npa + " is in " +
                      (info.state.empty() ? std::string("no state or province") : info.state) +
                      ", outside the US and Canada; the directory holds lines in US states, DC, "
                      "US territories and Canadian provinces");
  }
  return Status::ok();
}

// Rejects a line whose state is not where the numbering data places its area code.
// check_subscriber_number has already refused numbers the data places in no state.
Status check_state_of_area_code(const Line& line, const NumberInfo& info) {
  const std::vector<std::string_view> codes = state_codes_of_nanpa_location(info.state);
  if (codes.empty() || std::find(codes.begin(), codes.end(), line.state) != codes.end()) {
    return Status::ok();
  }
  std::string codes_text;
  for (std::string_view code : codes) {
    codes_text += codes_text.empty() ? "" : " or ";
    codes_text += code;
  }
  std::string places = codes_text;
  if (places != info.state) {
    places += " (" + info.state + ")";
  }
  return Status(StatusCode::InvalidArgument,
                "state '" + line.state + "' does not match line " + line.number + ": area code " +
                    info.npa + " is in " + places + "; set the state to " + codes_text +
                    (codes.size() > 1 ? ", " : " ") + "or correct the number");
}

// Names the numbers that a prefix of national digits covers: "area code 850", "exchange
// 312-555", "exchanges 208-3XX" or "numbers 312-555-1XXX".
std::string describe_prefix(const std::string& prefix) {
  if (prefix.size() == 3) {
    return "area code " + prefix;
  }
  if (prefix.size() == 6) {
    return "exchange " + prefix.substr(0, 3) + "-" + prefix.substr(3);
  }
  if (prefix.size() < 6) {
    const std::string pattern = prefix + std::string(6 - prefix.size(), 'X');
    return "exchanges " + pattern.substr(0, 3) + "-" + pattern.substr(3);
  }
  const std::string pattern =
      prefix + std::string(10 - std::min<std::size_t>(prefix.size(), 10), 'X');
  return "numbers " + pattern.substr(0, 3) + "-" + pattern.substr(3, 3) + "-" + pattern.substr(6);
}

// True when zones `a` and `b` give the same UTC offset and abbreviation at every instant from
// `from` until `to`.
bool same_clock(const date::time_zone& a, const date::time_zone& b, date::sys_seconds from,
                date::sys_seconds to) {
  date::sys_seconds instant = from;
  while (instant < to) {
    const date::sys_info in_a = a.get_info(instant);
    const date::sys_info in_b = b.get_info(instant);
    if (in_a.offset != in_b.offset || in_a.abbrev != in_b.abbrev) {
      return false;
    }
    instant = std::min(in_a.end, in_b.end);
  }
  return true;
}

// True when `name` is one of the `allowed` zones or another name for the same clock from now
// until the last instant a call may have (2099-12-31). The numbering data names Indiana's exchanges
// America/New_York and America/Chicago, so staff may also give America/Indiana/Indianapolis or
// US/Eastern there.
bool is_allowed_zone(const std::string& name, const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) {
    return true;
  }
  const date::time_zone* line_zone = date::locate_zone(name);
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  for (const std::string& allowed_name : allowed) {
    const date::time_zone* zone = nullptr;
    try {
      zone = date::locate_zone(allowed_name);
    } catch (const std::exception&) {
      continue;  // a name in the data that this tz database lacks matches by name only
    }
    if (zone == line_zone || same_clock(*line_zone, *zone, now, last_call_instant())) {
      return true;
    }
  }
  return false;
}

// Rejects a line whose time zone is not one that the numbering data gives for its number,
// under that name or another name for the same clock. Numbers that the data places in no
// zone pass: non-geographic codes (toll-free, 500, 900) and numbers outside NANP.
// Requires: line.time_zone is a zone that date::locate_zone finds.
Status check_zone_of_number(const Line& line, const NumberTimeZones& allowed) {
  if (allowed.zones.empty() || is_allowed_zone(line.time_zone, allowed.zones)) {
    return Status::ok();
  }
  std::string zones_text;
  for (const std::string& zone : allowed.zones) {
    zones_text += zones_text.empty() ? "" : " or ";
    zones_text += zone;
  }
  const bool several = allowed.zones.size() > 1;
  return Status(StatusCode::InvalidArgument,
                "time zone '" + line.time_zone + "' does not match line " + line.number +
                    ": the numbering data places " + describe_prefix(allowed.prefix) + " in " +
                    zones_text + "; set the time zone to " + zones_text +
                    (several ? " (or a zone with the same clock as one of them)"
                             : " (or a zone with the same clock)") +
                    ", or correct the number");
}

}  // namespace

Status validate_line(const Line& line, const NumberPlan* plan) {
  Result<std::string> number = normalize_line_number(line.number);
  if (!number) {
    return number.status();
  }
  if (*number != line.number) {
    return Status(StatusCode::InvalidArgument,
                  "line number '" + line.number + "' is not in E.164 form; use " + *number);
  }
  if (line.listing_name.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "line " + line.number + " has no listing name; give the name it is listed as");
  }
  // Text checks first, so a byte that is not UTF-8 is reported as such.
  if (Status text = check_text_field(line, "listing name", line.listing_name); !text) {
    return text;
  }
  if (!has_visible_character(line.listing_name)) {
    return Status(StatusCode::InvalidArgument,
                  "line " + line.number +
                      " has a blank listing name: it contains only spaces or characters that "
                      "display as nothing; give the name it is listed as");
  }
  if (Status text = check_text_field(line, "rate center", line.rate_center); !text) {
    return text;
  }
  std::optional<NumberInfo> info;
  if (plan != nullptr) {
    // The number plan rejects area codes that are unassigned or reserved, with the reason.
    Result<NumberInfo> classified = plan->classify(line.number);
    if (!classified) {
      return Status(StatusCode::InvalidArgument,
                    "line " + line.number + ": " + classified.status().message());
    }
    info = std::move(classified).value();
    if (Status subscriber = check_subscriber_number(line, *info); !subscriber) {
      return subscriber;
    }
  }
  if (line.state.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "line " + line.number +
                      " has no state; give the two-letter postal code of its state or province, "
                      "such as IL");
  }
  if (!is_state_code(line.state)) {
    return Status(StatusCode::InvalidArgument,
                  "invalid state '" + line.state + "' for line " + line.number +
                      "; use the two-letter postal code of a US state, DC, a US territory or a "
                      "Canadian province, such as IL");
  }
  if (info) {
    if (Status placed = check_state_of_area_code(line, *info); !placed) {
      return placed;
    }
  }
  if (line.rate_center.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "line " + line.number + " has no rate center; give its rate center name");
  }
  if (line.time_zone.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "line " + line.number +
                      " has no time zone; give its IANA zone name, such as America/Chicago");
  }
  try {
    (void)date::locate_zone(line.time_zone);
  } catch (const std::exception&) {
    return Status(StatusCode::InvalidArgument,
                  "unknown time zone '" + line.time_zone + "' for line " + line.number +
                      "; use an IANA zone name such as America/Chicago");
  }
  if (info) {
    if (Status zoned = check_zone_of_number(line, plan->time_zones(*info)); !zoned) {
      return zoned;
    }
  }
  const bool pic_ok = line.pic.empty() || (line.pic.size() == 4 &&
                                           std::all_of(line.pic.begin(), line.pic.end(), is_digit));
  if (!pic_ok) {
    return Status(StatusCode::InvalidArgument,
                  "invalid carrier code '" + line.pic + "' for line " + line.number +
                      "; a PIC is a 4-digit carrier identification code, or empty for none");
  }
  return Status::ok();
}

namespace {

// Rejects a listing name that contains a card number, because `line show`, `line export` and
// `profile history` print listing names in full. The rule is the one for names in
// check_identifier_card_digits: a long digit run, or a stored card's number.
Status check_listing_name_card_digits(Store& store, const Line& line) {
  const Status checked = check_identifier_card_digits(&store, "listing name", line.listing_name,
                                                      IdentifierKind::Name);
  if (!checked) {
    return Status(checked.code(), "invalid listing name for line " + line.number + ": " +
                                      checked.message());
  }
  return checked;
}

}  // namespace

Result<LineVersion> add_line(Store& store, Line line, const WriteContext& context,
                             const NumberPlan* plan) {
  if (Status actor = check_name_text("actor", context.actor); !actor) {
    return actor;
  }
  Result<std::string> number = normalize_line_number(line.number);
  if (!number) {
    return number.status();
  }
  line.number = *number;
  Status valid = validate_line(line, plan);
  if (!valid) {
    return valid;
  }
  if (Status name = check_listing_name_card_digits(store, line); !name) {
    return name;
  }
  return store.append_line(line, 0, "line added", context);
}

Line apply_line_change(Line line, const LineChange& change) {
  line.listing_name = change.listing_name.value_or(line.listing_name);
  line.type = change.type.value_or(line.type);
  line.screening = change.screening.value_or(line.screening);
  line.state = change.state.value_or(line.state);
  line.rate_center = change.rate_center.value_or(line.rate_center);
  line.time_zone = change.time_zone.value_or(line.time_zone);
  line.pic = change.pic.value_or(line.pic);
  line.is_tty = change.is_tty.value_or(line.is_tty);
  line.tty_discount_eligible = change.tty_discount_eligible.value_or(line.tty_discount_eligible);
  return line;
}

Result<LineVersion> find_current_line(Store& store, std::string_view number) {
  Result<std::string> normalized = normalize_line_number(number);
  if (!normalized) {
    return normalized.status();
  }
  Result<std::optional<LineVersion>> current = store.find_line(*normalized);
  if (!current) {
    return current.status();
  }
  if (!*current) {
    return Status(StatusCode::NotFound, "line " + *normalized +
                                            " is not in the directory; add it with `relaygw "
                                            "line add`");
  }
  return **current;
}

Result<LineVersion> change_line(Store& store, std::string_view number, const LineChange& change,
                                const std::string& reason, const WriteContext& context,
                                const NumberPlan* plan) {
  if (Status actor = check_name_text("actor", context.actor); !actor) {
    return actor;
  }
  Result<LineVersion> current = find_current_line(store, number);
  if (!current) {
    return current.status();
  }
  const Line line = apply_line_change(current->line, change);
  if (same_line(line, current->line)) {
    return Status(StatusCode::InvalidArgument,
                  "nothing to change for line " + current->line.number +
                      ": every given field already has that value; pass a field with a new value");
  }
  Status valid = validate_line(line, plan);
  if (!valid) {
    return valid;
  }
  // A name stored before this check stays until a change sets a new one.
  if (change.listing_name) {
    if (Status name = check_listing_name_card_digits(store, line); !name) {
      return name;
    }
  }
  return store.append_line(line, current->version, reason, context);
}

namespace {

// Returns the header's name of column `index` (0-based), or "column N (unnamed)" for a
// column whose name is empty, as a trailing comma in the header row makes one.
std::string column_name(const std::vector<std::string>& names, std::size_t index) {
  if (!names[index].empty()) {
    return names[index];
  }
  return "column " + std::to_string(index + 1) + " (unnamed)";
}

// Returns the message for a CSV row with `fields` under the header `names`: the columns a
// short row lacks, by header name, or how many fields a long row has past the last column.
std::string field_count_error(const std::vector<std::string>& names,
                              const std::vector<std::string>& fields) {
  const std::size_t found = fields.size();
  std::string message = "the row has " + std::to_string(found) +
                        (found == 1 ? " field" : " fields") + ", but the header has " +
                        std::to_string(names.size()) + " columns";
  if (found < names.size()) {
    message += ", so the row is missing ";
    for (std::size_t i = found; i < names.size(); ++i) {
      message += (i == found ? "" : ", ") + column_name(names, i);
    }
    return message + "; give every column a field, empty if it has no value";
  }
  const std::string last = column_name(names, names.size() - 1);
  message +=
      ", so the row has " + std::to_string(found - names.size()) + " extra after column " + last;
  // Spreadsheets often save empty cells to the right of the table as trailing commas.
  const bool extras_empty =
      std::all_of(fields.begin() + static_cast<std::ptrdiff_t>(names.size()), fields.end(),
                  [](const std::string& field) { return field.empty(); });
  if (extras_empty) {
    return message + ", all empty; remove the trailing commas after the " + last + " field";
  }
  return message + "; put double quotes around a field that contains a comma";
}

}  // namespace

Result<ImportReport> import_lines_csv(Store& store, std::istream& input,
                                      const WriteContext& context, const NumberPlan* plan) {
  std::string header;
  if (!std::getline(input, header)) {
    return Status(StatusCode::InvalidArgument,
                  "the CSV file is empty; the first row must be " + std::string(kLineCsvHeader));
  }
  // Spreadsheets saving "CSV UTF-8" start the file with a byte order mark; it is not part of
  // the first column's name.
  if (header.starts_with("\xEF\xBB\xBF")) {
    header.erase(0, 3);
  }
  Result<std::vector<std::string>> names = split_csv_record(header);
  std::map<std::string, std::size_t> position;
  if (names) {
    for (std::size_t i = 0; i < names->size(); ++i) {
      // A repeated column would let its last copy win without a word, so it is rejected.
      const bool repeated = !position.emplace((*names)[i], i).second;
      if (repeated && (*names)[i].empty()) {
        return Status(StatusCode::InvalidArgument,
                      "the CSV header has no name for columns " +
                          std::to_string(position[(*names)[i]] + 1) + " and " +
                          std::to_string(i + 1) +
                          "; remove the trailing commas from the header row, or name every "
                          "column");
      }
      if (repeated) {
        return Status(StatusCode::InvalidArgument,
                      "the CSV header names column '" + (*names)[i] + "' twice (columns " +
                          std::to_string(position[(*names)[i]] + 1) + " and " +
                          std::to_string(i + 1) + "); remove one so each column appears once");
      }
    }
  }
  // Columns are found by name, so a file with its columns in another order still imports.
  std::vector<std::size_t> order;
  Result<std::vector<std::string>> expected = split_csv_record(kLineCsvHeader);
  for (const std::string& name : *expected) {
    auto found = position.find(name);
    if (found == position.end()) {
      return Status(StatusCode::InvalidArgument, "the CSV header has no column '" + name +
                                                     "'; the first row must name the columns " +
                                                     std::string(kLineCsvHeader));
    }
    order.push_back(found->second);
  }

  ImportReport report;
  // The row that first listed each number, so a later row for the same number is reported
  // instead of silently replacing the earlier one.
  std::map<std::string, std::int64_t> first_rows;
  // Good rows are stored in batches, each one write transaction, so a large file costs one
  // commit per batch instead of one per row. A batch is whole or absent after a crash, and
  // importing the file again reports the rows already stored as unchanged.
  constexpr std::size_t kBatchRows = 500;
  std::vector<Store::LineAppend> batch;
  std::vector<std::pair<std::int64_t, std::int64_t>> batch_rows;  // row and first line
  auto store_batch = [&]() -> Status {
    if (batch.empty()) {
      return Status::ok();
    }
    Result<std::vector<Result<LineVersion>>> stored = store.append_lines(batch, context);
    if (!stored) {
      return stored.status();
    }
    for (std::size_t i = 0; i < stored->size(); ++i) {
      const Result<LineVersion>& outcome = (*stored)[i];
      if (!outcome) {
        report.errors.push_back(
            {batch_rows[i].first, batch_rows[i].second, outcome.status().message()});
      } else {
        ++(batch[i].expected_version != 0 ? report.changed : report.added);
      }
    }
    batch.clear();
    batch_rows.clear();
    return Status::ok();
  };

  CsvRecordReader reader(input);
  std::string record;
  std::int64_t line_no = 0;
  std::int64_t row = 1;  // the header is row 1
  while (reader.next(record, line_no)) {
    ++row;
    // The reader counts lines from the one after the header.
    const std::int64_t first_line = line_no + 1;
    if (trim(record).empty()) {
      continue;
    }
    Result<std::vector<std::string>> fields = split_csv_record(record);
    if (!fields) {
      report.errors.push_back({row, first_line, fields.status().message()});
      continue;
    }
    if (fields->size() != names->size()) {
      report.errors.push_back({row, first_line, field_count_error(*names, *fields)});
      continue;
    }
    std::vector<std::string> ordered;
    for (std::size_t index : order) {
      ordered.push_back((*fields)[index]);
    }
    Result<Line> line = line_from_record(ordered);
    Status valid = line ? validate_line(*line, plan) : line.status();
    if (valid) {
      valid = check_listing_name_card_digits(store, *line);
      // A failed card lookup is a database fault, not a fault of the row.
      if (!valid && valid.code() != StatusCode::InvalidArgument) {
        return valid;
      }
    }
    if (!valid) {
      report.errors.push_back({row, first_line, valid.message()});
      continue;
    }
    const auto [first, inserted] = first_rows.emplace(line->number, row);
    if (!inserted) {
      report.errors.push_back(
          {row, first_line,
           "number " + line->number + " is also on row " + std::to_string(first->second) +
               ", which was imported; keep one row per number and import again to change "
               "it"});
      continue;
    }

    Result<std::optional<LineVersion>> current = store.find_line(line->number);
    if (!current) {
      return current.status();
    }
    if (*current && same_line((*current)->line, *line)) {
      ++report.unchanged;
      continue;
    }
    const std::int64_t version = *current ? (*current)->version : 0;
    batch.push_back({std::move(line).value(), version, "CSV import row " + std::to_string(row)});
    batch_rows.push_back({row, first_line});
    if (batch.size() >= kBatchRows) {
      if (Status stored = store_batch(); !stored) {
        return stored;
      }
    }
  }
  if (Status stored = store_batch(); !stored) {
    return stored;
  }
  return report;
}

std::string describe_row(const RowError& error) {
  std::string text = "row " + std::to_string(error.row);
  if (error.line != 0 && error.line != error.row) {
    text += " (line " + std::to_string(error.line) + ")";
  }
  return text;
}

Status export_lines_csv(Store& store, std::ostream& output) {
  Result<std::vector<LineVersion>> lines = store.list_lines();
  if (!lines) {
    return lines.status();
  }
  output << kLineCsvHeader << "\n";
  for (const LineVersion& version : *lines) {
    const Line& line = version.line;
    // The number, state, time zone and PIC passed validate_line, so only the two free-text
    // columns can start a spreadsheet formula.
    output << csv_plain_field(line.number) << ',' << csv_text_field(line.listing_name) << ','
           << to_string(line.type) << ',' << to_string(line.screening) << ','
           << csv_plain_field(line.state) << ',' << csv_text_field(line.rate_center) << ','
           << csv_plain_field(line.time_zone) << ',' << csv_plain_field(line.pic) << ','
           << (line.is_tty ? "yes" : "no") << ',' << (line.tty_discount_eligible ? "yes" : "no")
           << "\n";
  }
  return output ? Status::ok() : Status(StatusCode::Unavailable, "writing the CSV output failed");
}

}  // namespace relaygw::billing
