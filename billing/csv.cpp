#include "billing/csv.hpp"

#include <iterator>

namespace relaygw::billing {
namespace {

// First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula
// (OWASP "CSV Injection"), plus the apostrophe, which the guard itself adds.
bool needs_formula_guard(std::string_view value) {
  if (value.empty()) {
    return false;
  }
  const char first = value.front();
  return first == '=' || first == '+' || first == '-' || first == '@' || first == '\t' ||
         first == '\r' || first == '\'';
}

bool needs_quotes(std::string_view value) {
  if (value.find_first_of(",\"\r\n") != std::string_view::npos) {
    return true;
  }
  return !value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                            value.back() == '\t');
}

std::string quote(std::string_view value) {
  std::string quoted = "\"";
  for (char c : value) {
    quoted += c;
    if (c == '"') {
      quoted += '"';
    }
  }
  return quoted + "\"";
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

// Removes the apostrophe that csv_text_field put in front of a guarded value.
std::string remove_formula_guard(std::string value) {
  if (value.size() >= 2 && value.front() == '\'' &&
      needs_formula_guard(std::string_view(value).substr(1))) {
    value.erase(0, 1);
  }
  return value;
}

// The position of a scan of CSV text, as split_csv_record reads it.
enum class ScanState {
  FieldStart,     // before a field, or in the spaces that precede it
  Unquoted,       // in an unquoted field, where a quote is a stray one
  Quoted,         // in a quoted field, where a line break belongs to the field
  QuoteInQuoted,  // just after a quote inside a quoted field: a closing or an escaped quote
  AfterClosing,   // after the closing quote of a field, before its comma
};

// Returns the state after scanning `text` from `state`.
ScanState scan(std::string_view text, ScanState state) {
  for (char c : text) {
    switch (state) {
      case ScanState::FieldStart:
        if (c == '"') {
          state = ScanState::Quoted;
        } else if (c != ' ' && c != '\t' && c != ',') {
          state = ScanState::Unquoted;
        }
        break;
      case ScanState::Unquoted:
      case ScanState::AfterClosing:
        if (c == ',') {
          state = ScanState::FieldStart;
        }
        break;
      case ScanState::Quoted:
        if (c == '"') {
          state = ScanState::QuoteInQuoted;
        }
        break;
      case ScanState::QuoteInQuoted:
        if (c == '"') {
          state = ScanState::Quoted;
        } else if (c == ',') {
          state = ScanState::FieldStart;
        } else {
          state = ScanState::AfterClosing;
        }
        break;
    }
  }
  return state;
}

}  // namespace

std::string csv_text_field(std::string_view value) {
  if (needs_formula_guard(value)) {
    return quote("'" + std::string(value));
  }
  return csv_plain_field(value);
}

std::string csv_plain_field(std::string_view value) {
  return needs_quotes(value) ? quote(value) : std::string(value);
}

bool CsvRecordReader::next_line(std::string& line) {
  if (!pending_.empty()) {
    line = std::move(pending_.front());
    pending_.pop_front();
    return true;
  }
  return static_cast<bool>(std::getline(input_, line));
}

bool CsvRecordReader::next(std::string& record, std::int64_t& first_line) {
  if (!next_line(record)) {
    return false;
  }
  first_line = ++lines_returned_;
  ScanState state = scan(record, ScanState::FieldStart);
  if (state != ScanState::Quoted) {
    return true;
  }
  // Read ahead until the quoted field closes; keep every line read so that they can be
  // returned one by one if it never does.
  std::vector<std::string> ahead;
  std::string joined = record;
  std::string line;
  while (ahead.size() < kMaxJoinedLines && next_line(line)) {
    if (!joined.empty() && joined.back() == '\r') {
      joined.pop_back();
    }
    joined += '\n';
    joined += line;
    ahead.push_back(line);
    state = scan("\n" + line, state);
    if (state == ScanState::Quoted) {
      continue;
    }
    // A quote that opens a field on a later line can close a stray one, which joins two bad
    // rows into one record that does not split. Only a record that splits is joined.
    if (split_csv_record(joined)) {
      record = std::move(joined);
      lines_returned_ += static_cast<std::int64_t>(ahead.size());
      return true;
    }
    break;
  }
  pending_.insert(pending_.begin(), std::make_move_iterator(ahead.begin()),
                  std::make_move_iterator(ahead.end()));
  return true;
}

Result<std::vector<std::string>> split_csv_record(std::string_view record) {
  if (!record.empty() && record.back() == '\r') {
    record.remove_suffix(1);
  }
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (true) {
    // Skip the spaces before a field, so that `a, "b"` still reads as a quoted field.
    std::size_t start = i;
    while (start < record.size() && (record[start] == ' ' || record[start] == '\t')) {
      ++start;
    }
    if (start < record.size() && record[start] == '"') {
      std::string value;
      std::size_t k = start + 1;
      bool closed = false;
      for (; k < record.size(); ++k) {
        if (record[k] == '"' && k + 1 < record.size() && record[k + 1] == '"') {
          value += '"';
          ++k;
        } else if (record[k] == '"') {
          closed = true;
          ++k;
          break;
        } else {
          value += record[k];
        }
      }
      if (!closed) {
        return Status(StatusCode::InvalidArgument,
                      "unclosed quote in CSV field " + std::to_string(fields.size() + 1) +
                          "; end the field with '\"' and write a quote inside it as '\"\"'");
      }
      while (k < record.size() && (record[k] == ' ' || record[k] == '\t')) {
        ++k;
      }
      if (k < record.size() && record[k] != ',') {
        return Status(StatusCode::InvalidArgument, "text after the closing quote of CSV field " +
                                                       std::to_string(fields.size() + 1) +
                                                       "; put the whole field inside the quotes");
      }
      fields.push_back(remove_formula_guard(std::move(value)));
      if (k >= record.size()) {
        return fields;
      }
      i = k + 1;
      continue;
    }
    const std::size_t comma = record.find(',', i);
    const std::string_view field =
        record.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
    if (field.find('"') != std::string_view::npos) {
      return Status(StatusCode::InvalidArgument,
                    "quote inside unquoted CSV field " + std::to_string(fields.size() + 1) +
                        "; put the whole field in quotes and write the quote inside it as "
                        "'\"\"'");
    }
    fields.push_back(trim(field));
    if (comma == std::string_view::npos) {
      return fields;
    }
    i = comma + 1;
  }
}

}  // namespace relaygw::billing
