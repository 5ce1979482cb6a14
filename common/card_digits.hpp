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

// The fewest digits of a run that an error about an invalid phone number masks when it quotes
// the number (mask_invalid_phone_number). E.164 limits a phone number to 15 digits, so a longer
// run is no phone number and may be a card number. NOTE: a card number of 10 to 15 digits given
// alone is still quoted in full in such an error, because it may be a mistyped phone number.
inline constexpr std::size_t kMinMaskedPhoneNumberDigits = 16;

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

// Returns whether `code_point` is in one of `ranges`, which are sorted and do not overlap.
template <std::size_t N>
bool is_in_ranges(const unicode_tables::CodePointRange (&ranges)[N], char32_t code_point) {
  const auto* after =
      std::upper_bound(std::begin(ranges), std::end(ranges), code_point,
                       [](char32_t value, const unicode_tables::CodePointRange& range) {
                         return value < range.first;
                       });
  return after != std::begin(ranges) && code_point <= (after - 1)->last;
}

// Returns whether a character is a letter or a number (Unicode categories L and N).
inline bool is_letter_or_number(char32_t code_point) {
  if (code_point < 0x80) {
    return (code_point >= '0' && code_point <= '9') || (code_point >= 'A' && code_point <= 'Z') ||
           (code_point >= 'a' && code_point <= 'z');
  }
  return is_in_ranges(unicode_tables::kLetterOrNumberRanges, code_point);
}

// Returns whether a character displays as nothing or as blank space: a format character such
// as the zero-width space or the soft hyphen, a nonspacing or enclosing mark such as a
// variation selector, or white space (unicode_tables::kInvisibleOrSpaceRanges).
inline bool is_invisible_or_space(char32_t code_point) {
  return is_in_ranges(unicode_tables::kInvisibleOrSpaceRanges, code_point);
}

// Byte length of the decimal digit at text[i], or 0 when text[i] starts no digit.
inline std::size_t digit_length(std::string_view text, std::size_t i) {
  const Character character = decode_character(text, i);
  return character.valid && decimal_digit_value(character.code_point) >= 0 ? character.length : 0;
}

// One separator, a character that is not a letter or number: spaces, punctuation, symbols,
// marks, control and format characters, and a byte that is not UTF-8.
struct Separator {
  std::size_t length = 0;  // byte length, or 0 when text[i] is a letter or number
  bool visible = false;    // counts toward kMaxDigitRunGap (see find_digit_runs)
};

// Returns the separator at text[i]. It is visible unless it displays as nothing or as blank
// space (is_invisible_or_space). A byte that is not UTF-8 is visible, because a terminal shows
// it as a replacement character.
inline Separator separator_at(std::string_view text, std::size_t i) {
  const Character character = decode_character(text, i);
  if (!character.valid) {
    return Separator{character.length, true};
  }
  if (is_letter_or_number(character.code_point)) {
    return Separator{};
  }
  return Separator{character.length, !is_invisible_or_space(character.code_point)};
}

}  // namespace card_digits_detail

// The maximum number of visible separators, such as '-', '.' or '/', in the gap between two
// digits of one run (see find_digit_runs). Spaces and characters that display as nothing do
// not count toward it.
inline constexpr std::size_t kMaxDigitRunGap = 3;

// The maximum gap, in characters of any kind, between two digits of one run. A long stretch of
// spaces or blank lines in free text still ends a run.
inline constexpr std::size_t kMaxDigitRunGapCharacters = 32;

// A run of digits in text, as a card number is written: digits, possibly with short gaps of
// separators between them (see find_digit_runs).
struct DigitRun {
  std::size_t begin = 0;  // byte offset of the first digit
  std::size_t end = 0;    // byte offset after the last digit
  std::string digits;     // the run's digits as ASCII, separators left out
};

// Returns every run of digits in `text`, in order, short ones included. A digit is any Unicode
// decimal digit (category Nd): ASCII, fullwidth, Arabic-Indic, Devanagari, mathematical and the
// others. A run continues across a gap of separators (separator_at) between two digits when
// the gap has at most kMaxDigitRunGap visible separators and at most kMaxDigitRunGapCharacters
// characters. Spaces, line breaks and characters that display as nothing (the zero-width space,
// the soft hyphen, variation selectors and other format characters and marks) are not visible,
// so "4111 1111 1111 9876", "4111 -- 1111:1111/9876", "4 1 1 1", "(312) 555-0107" and "4111"
// followed by four zero-width spaces and "1111" are each one run. A letter or a number that is
// not a decimal digit (such as a superscript two) ends a run, and so does a longer gap, such as
// "----". Dates and times are runs too:
// "2026-03-10 14:00" is one run of 12 digits. DigitRun::digits has the ASCII value of each
// digit.
inline std::vector<DigitRun> find_digit_runs(std::string_view text) {
  using card_digits_detail::decimal_digit_value;
  using card_digits_detail::decode_character;
  using card_digits_detail::digit_length;
  using card_digits_detail::separator_at;
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
      // A gap joins the digits on both sides when it is only separators, few of them visible.
      std::size_t next = end;
      std::size_t characters = 0;
      std::size_t visible = 0;
      while (characters < kMaxDigitRunGapCharacters && next < text.size()) {
        const card_digits_detail::Separator separator = separator_at(text, next);
        if (separator.length == 0 || (separator.visible && visible == kMaxDigitRunGap)) {
          break;
        }
        next += separator.length;
        ++characters;
        visible += separator.visible ? 1 : 0;
      }
      if (characters == 0 || next >= text.size() || digit_length(text, next) == 0) {
        break;
      }
      end = next;
    }
    i = run.end;
    runs.push_back(std::move(run));
  }
  return runs;
}

namespace card_digits_detail {

// Returns the value of the two ASCII digits at text[i], or -1 when either is no ASCII digit.
inline int two_digit_value(std::string_view text, std::size_t i) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!is_digit(text[i]) || !is_digit(text[i + 1])) {
    return -1;
  }
  return (text[i] - '0') * 10 + (text[i + 1] - '0');
}

}  // namespace card_digits_detail

// Returns whether `run`, a digit run of `text` (find_digit_runs), is exactly an ISO 8601 date
// and time of day in ASCII digits: "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS". The date must
// exist (leap years counted), hours are 00 to 23, and minutes and seconds 00 to 59. The form
// with 'T' between date and time needs no check, because a letter ends a run. Digits before or
// after the date-time in the same run make it no date-time, so "2026-12-06 14:05:09 4111" is
// still one run of 18 digits.
inline bool is_date_time_run(std::string_view text, const DigitRun& run) {
  using card_digits_detail::two_digit_value;
  const std::string_view value = text.substr(run.begin, run.end - run.begin);
  if (value.size() != 16 && value.size() != 19) {
    return false;
  }
  if (value[4] != '-' || value[7] != '-' || value[10] != ' ' || value[13] != ':' ||
      (value.size() == 19 && value[16] != ':')) {
    return false;
  }
  const int century = two_digit_value(value, 0);
  const int year_in_century = two_digit_value(value, 2);
  const int month = two_digit_value(value, 5);
  const int day = two_digit_value(value, 8);
  const int hour = two_digit_value(value, 11);
  const int minute = two_digit_value(value, 14);
  const int second = value.size() == 19 ? two_digit_value(value, 17) : 0;
  if (century < 0 || year_in_century < 0 || month < 1 || month > 12 || day < 1 || hour < 0 ||
      hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return false;
  }
  const int year = century * 100 + year_in_century;
  const bool leap_year = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int days_in_month = month == 2 && leap_year ? 29 : kDaysInMonth[month - 1];
  return day <= days_in_month;
}

// Returns `text` with every run of at least kMinCardNumberDigits digits (find_digit_runs)
// masked: each digit but the last four becomes '*', as in "lost ************9876". A card
// number typed into free text, such as a close reason, is then neither logged nor stored in
// full. Separators stay, and each digit becomes one '*', whatever its script. Longer runs
// are masked too, and so are phone numbers of ten or more digits ("312 555 0107") and dates with
// times ("2026-03-10 14:00"). A larger `min_digits` masks only runs of that many digits or more.
inline std::string mask_card_number_runs(std::string_view text,
                                         std::size_t min_digits = kMinCardNumberDigits) {
  using card_digits_detail::digit_length;
  std::string masked;
  masked.reserve(text.size());
  std::size_t copied = 0;
  for (const DigitRun& run : find_digit_runs(text)) {
    masked.append(text.substr(copied, run.begin - copied));
    std::size_t to_mask = run.digits.size() >= min_digits ? run.digits.size() - 4 : 0;
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

// Returns an invalid phone number as an error message may quote it: every run of
// kMinMaskedPhoneNumberDigits digits or more masked (mask_card_number_runs), the rest unchanged
// so that staff can find a typo in a number of phone length.
inline std::string mask_invalid_phone_number(std::string_view number) {
  return mask_card_number_runs(number, kMinMaskedPhoneNumberDigits);
}

}  // namespace relaygw
