// Plain-text tables whose columns are as wide as their longest value, so that a long value
// widens its column instead of pushing the columns after it out of line.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.hpp"

namespace relaygw {

// Returns the number of characters in `text`: its UTF-8 code points, with each byte that is not
// well-formed UTF-8 counted as one. A terminal may draw some characters (CJK, emoji) two
// columns wide, so such values can still misalign a column.
inline std::size_t text_width(std::string_view text) {
  std::size_t width = 0;
  std::size_t offset = 0;
  while (offset < text.size()) {
    const std::size_t length = utf8_char_length(text, offset);
    offset += length == 0 ? 1 : length;
    ++width;
  }
  return width;
}

class TextTable {
 public:
  enum class Align { Left, Right };

  // One column per entry of `aligns`. The table starts each line with `indent`.
  explicit TextTable(std::vector<Align> aligns, std::string indent = "")
      : aligns_(std::move(aligns)), indent_(std::move(indent)) {}

  // Adds a row of one value per column. Missing values are empty and extra values are dropped.
  void add_row(std::vector<std::string> values) {
    values.resize(aligns_.size());
    rows_.push_back(Row{std::move(values), false});
  }

  // Adds a row whose first value spans every column but the last, such as a total under a
  // list of charge lines. Needs a table of at least two columns.
  void add_spanning_row(std::string label, std::string last) {
    std::vector<std::string> values(aligns_.size());
    values.front() = std::move(label);
    values.back() = std::move(last);
    rows_.push_back(Row{std::move(values), true});
  }

  // Adds a line of free text under the rows added so far, such as a remark on the row above.
  // It is printed after the indent as it is and does not change any column's width.
  void add_note(std::string text) { rows_.push_back(Row{{std::move(text)}, false, true}); }

  // Renders every row, one line each, with one space between columns and no trailing spaces.
  std::string render() const {
    const std::vector<std::size_t> widths = column_widths();
    std::string out;
    for (const Row& row : rows_) {
      std::string line = indent_;
      if (row.note) {
        line += row.values.front();
      } else if (row.spanning && widths.size() >= 2) {
        std::size_t span = 0;
        for (std::size_t column = 0; column + 1 < widths.size(); ++column) {
          span += widths[column] + 1;
        }
        append_cell(line, row.values.front(), span - 1, Align::Left);
        line += ' ';
        append_cell(line, row.values.back(), widths.back(), aligns_.back());
      } else {
        for (std::size_t column = 0; column < widths.size(); ++column) {
          if (column > 0) {
            line += ' ';
          }
          append_cell(line, row.values[column], widths[column], aligns_[column]);
        }
      }
      while (line.size() > indent_.size() && line.back() == ' ') {
        line.pop_back();
      }
      out += line + "\n";
    }
    return out;
  }

 private:
  struct Row {
    std::vector<std::string> values;
    bool spanning = false;
    bool note = false;
  };

  std::vector<std::size_t> column_widths() const {
    std::vector<std::size_t> widths(aligns_.size(), 0);
    for (const Row& row : rows_) {
      if (row.spanning || row.note) {
        continue;
      }
      for (std::size_t column = 0; column < widths.size(); ++column) {
        widths[column] = std::max(widths[column], text_width(row.values[column]));
      }
    }
    // A spanning row's label widens the column before the last when it does not fit.
    for (const Row& row : rows_) {
      if (!row.spanning || row.note || widths.size() < 2) {
        continue;
      }
      widths.back() = std::max(widths.back(), text_width(row.values.back()));
      std::size_t span = widths.size() - 2;  // the spaces between the spanned columns
      for (std::size_t column = 0; column + 1 < widths.size(); ++column) {
        span += widths[column];
      }
      const std::size_t label = text_width(row.values.front());
      if (label > span) {
        widths[widths.size() - 2] += label - span;
      }
    }
    return widths;
  }

  static void append_cell(std::string& line, const std::string& value, std::size_t width,
                          Align align) {
    const std::size_t padding = width - std::min(width, text_width(value));
    if (align == Align::Right) {
      line.append(padding, ' ');
    }
    line += value;
    if (align == Align::Left) {
      line.append(padding, ' ');
    }
  }

  std::vector<Align> aligns_;
  std::string indent_;
  std::vector<Row> rows_;
};

}  // namespace relaygw
