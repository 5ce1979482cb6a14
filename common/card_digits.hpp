// Digit counts of calling-card numbers and PINs, shared by the billing core that stores cards
// and the adapters that collect them from callers, so an adapter never accepts a PIN that
// billing would refuse.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/unicode_tables.hpp"
#include "common/utf8.hpp"

namespace relaygw {

inline constexpr std::size_t kMinCardNumberDigits = 10;
inline constexpr std::size_t kMaxCardNumberDigits = 19;
inline constexpr std::size_t kMinPinDigits = 4;
inline constexpr std::size_t kMaxPinDigits = 8;

namespace card_digits_detail {

// One character of UTF-8 text: its code point and byte length. A byte that starts no
// well-formed character (utf8_char_length) is one character of length 1 with `valid` false.
struct Character {
  char32_t code_point = 0;
  std::size_t length = 1;
  bool valid = false;
};

inline Character decode_character(std::string_view text, std::size_t i) {
  const std::size_t length = utf8_char_length(text, i);
  if (length == 0) {
    return Character{};
  }
  static constexpr unsigned char kLeadMasks[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t code_point = static_cast<unsigned char>(text[i]) & kLeadMasks[length];
  for (std::size_t k = 1; k < length; ++k) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  }
  return Character{code_point, length, true};
}

// Returns the value 0 to 9 of a decimal digit (Unicode category Nd, in any script), or -1.
inline int decimal_digit_value(char32_t code_point) {
  const auto& zeros = unicode_tables::kDecimalDigitZeros;
  const auto* after = std::upper_bound(std::begin(zeros), std::end(zeros), code_point);
  if (after == std::begin(zeros)) {
    return -1;
  }
  const char32_t offset = code_point - *(after - 1);
  return offset < 10 ? static_cast<int>(offset) : -1;
}

// Returns whether a character is a letter or a number (Unicode categories L and N).
inline bool is_letter_or_number(char32_t code_point) {
  if (code_point < 0x80) {
    return (code_point >= '0' && code_point <= '9') || (code_point >= 'A' && code_point <= 'Z') ||
           (code_point >= 'a' && code_point <= 'z');
  }
  const auto& ranges = unicode_tables::kLetterOrNumberRanges;
  const auto* after =
      std::upper_bound(std::begin(ranges), std::end(ranges), code_point,
                       [](char32_t value, const unicode_tables::CodePointRange& range) {
                         return value < range.first;
                       });
  return after != std::begin(ranges) && code_point <= (after - 1)->last;
}

// Byte length of the decimal digit at text[i], or 0 when text[i] starts no digit.
inline std::size_t digit_length(std::string_view text, std::size_t i) {
  const Character character = decode_character(text, i);
  return character.valid && decimal_digit_value(character.code_point) >= 0 ? character.length : 0;
}

// Byte length of the separator at text[i], or 0. A separator is any character that is not a
// letter or number: spaces, punctuation, symbols, marks, control and format characters, and
// a byte that is not UTF-8.
inline std::size_t separator_length(std::string_view text, std::size_t i) {
  const Character character = decode_character(text, i);
  if (character.valid && is_letter_or_number(character.code_point)) {
    return 0;
  }
  return character.length;
}

}  // namespace card_digits_detail

// The maximum gap, in characters, between two digits of one run (see find_digit_runs).
inline constexpr std::size_t kMaxDigitRunGap = 3;

// A run of digits in text, as a card number is written: digits, possibly with short gaps of
// separators between them (see find_digit_runs).
struct DigitRun {
  std::size_t begin = 0;  // byte offset of the first digit
  std::size_t end = 0;    // byte offset after the last digit
  std::string digits;     // the run's digits as ASCII, separators left out
};

// Returns every run of digits in `text`, in order, short ones included. A digit is any Unicode
// decimal digit (category Nd): ASCII, fullwidth, Arabic-Indic, Devanagari, mathematical and the
// others. A run continues across a gap of up to kMaxDigitRunGap separators (separator_length)
// between two digits, so "4111 1111 1111 9876", "4111 - 1111:1111/9876", "4 1 1 1" and
// "(312) 555-0107" are each one run. A letter or a number that is not a decimal digit (such as
// a superscript two) ends a run, and so does a longer gap. Dates and times are runs too:
// "2026-03-10 14:00" is one run of 12 digits. DigitRun::digits has the ASCII value of each
// digit.
inline std::vector<DigitRun> find_digit_runs(std::string_view text) {
  using card_digits_detail::decimal_digit_value;
  using card_digits_detail::decode_character;
  using card_digits_detail::digit_length;
  using card_digits_detail::separator_length;
  std::vector<DigitRun> runs;
  std::size_t i = 0;
  while (i < text.size()) {
    if (digit_length(text, i) == 0) {
      i += decode_character(text, i).length;
      continue;
    }
    DigitRun run;
    run.begin = i;
    std::size_t end = i;
    while (end < text.size()) {
      if (const std::size_t length = digit_length(text, end); length > 0) {
        const int value = decimal_digit_value(decode_character(text, end).code_point);
        run.digits += static_cast<char>('0' + value);
        end += length;
        run.end = end;
        continue;
      }
      // A gap joins the digits on both sides when it is short and only separators.
      std::size_t next = end;
      std::size_t gap = 0;
      while (gap < kMaxDigitRunGap && next < text.size()) {
        const std::size_t length = separator_length(text, next);
        if (length == 0) {
          break;
        }
        next += length;
        ++gap;
      }
      if (gap == 0 || next >= text.size() || digit_length(text, next) == 0) {
        break;
      }
      end = next;
    }
    i = run.end;
    runs.push_back(std::move(run));
  }
  return runs;
}

// Returns `text` with every run of at least kMinCardNumberDigits digits (find_digit_runs)
// masked: each digit but the last four becomes '*', as in "lost ************9876". A card
// number typed into free text, such as a close reason, is then neither logged nor stored in
// full. Separators stay, and each digit becomes one '*', whatever its script. Longer runs
// are masked too, and so are phone numbers of ten or more digits ("312 555 0107") and dates with
// times ("2026-03-10 14:00").
inline std::string mask_card_number_runs(std::string_view text) {
  using card_digits_detail::digit_length;
  std::string masked;
  masked.reserve(text.size());
  std::size_t copied = 0;
  for (const DigitRun& run : find_digit_runs(text)) {
    masked.append(text.substr(copied, run.begin - copied));
    std::size_t to_mask = run.digits.size() >= kMinCardNumberDigits ? run.digits.size() - 4 : 0;
    for (std::size_t k = run.begin; k < run.end;) {
      const std::size_t length = digit_length(text, k);
      if (length > 0 && to_mask > 0) {
        masked += '*';
        --to_mask;
        k += length;
      } else {
        masked += text[k];
        ++k;
      }
    }
    copied = run.end;
  }
  masked.append(text.substr(copied));
  return masked;
}

}  // namespace relaygw
