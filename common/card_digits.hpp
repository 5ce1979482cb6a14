// Digit counts of calling-card numbers and PINs, shared by the billing core that stores cards
// and the adapters that collect them from callers, so an adapter never accepts a PIN that
// billing would refuse.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relaygw {

inline constexpr std::size_t kMinCardNumberDigits = 10;
inline constexpr std::size_t kMaxCardNumberDigits = 19;
inline constexpr std::size_t kMinPinDigits = 4;
inline constexpr std::size_t kMaxPinDigits = 8;

namespace card_digits_detail {

// Byte length of the decimal digit at text[i]: an ASCII digit, a fullwidth digit (U+FF10 to
// U+FF19), an Arabic-Indic digit (U+0660 to U+0669) or an extended Arabic-Indic digit (U+06F0
// to U+06F9). Returns 0 when text[i] starts no digit.
inline std::size_t digit_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) {
    return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u;
  };
  if (std::isdigit(byte(i)) != 0) {
    return 1;
  }
  if (byte(i) == 0xEF && byte(i + 1) == 0xBC && byte(i + 2) >= 0x90 && byte(i + 2) <= 0x99) {
    return 3;
  }
  if ((byte(i) == 0xD9 && byte(i + 1) >= 0xA0 && byte(i + 1) <= 0xA9) ||
      (byte(i) == 0xDB && byte(i + 1) >= 0xB0 && byte(i + 1) <= 0xB9)) {
    return 2;
  }
  return 0;
}

// Byte length of the separator at text[i] that may stand between groups of a written card
// number, or 0. The separators are a space, tab, line break, hyphen, dot, slash, comma or
// underscore, a no-break or thin space (U+00A0, U+2009, U+202F), a dash (U+2010 to U+2015) and
// the minus sign (U+2212).
inline std::size_t separator_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) {
    return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u;
  };
  switch (byte(i)) {
    case ' ': case '\t': case '\n': case '\r': case '-': case '.': case '/': case ',': case '_':
      return 1;
    default:
      break;
  }
  if (byte(i) == 0xC2 && byte(i + 1) == 0xA0) {
    return 2;
  }
  if (byte(i) == 0xE2 && byte(i + 1) == 0x80 &&
      (byte(i + 2) == 0x89 || byte(i + 2) == 0xAF || (byte(i + 2) >= 0x90 && byte(i + 2) <= 0x95))) {
    return 3;
  }
  if (byte(i) == 0xE2 && byte(i + 1) == 0x88 && byte(i + 2) == 0x92) {
    return 3;
  }
  return 0;
}

}  // namespace card_digits_detail

// A run of digits in text, as a card number is written: groups of digits, possibly joined by
// separators (see find_digit_runs).
struct DigitRun {
  std::size_t begin = 0;  // byte offset of the first digit
  std::size_t end = 0;    // byte offset after the last digit
  std::string digits;     // the run's digits as ASCII, separators left out
};

// Returns every run of digits in `text`, in order, short ones included. A run continues across
// up to three separator characters (separator_length) between groups of at least three digits,
// as card numbers are written ("4111 1111 1111 9876", "4111 - 1111.1111/9876"). Dates and times
// such as "2026-03-10 14:00" or "03/10/2026" therefore break a run. Fullwidth and Arabic-Indic
// digits count as digits, and DigitRun::digits has their ASCII value.
inline std::vector<DigitRun> find_digit_runs(std::string_view text) {
  using card_digits_detail::digit_length;
  using card_digits_detail::separator_length;
  constexpr std::size_t kMaxSeparators = 3;
  constexpr std::size_t kMinGroup = 3;
  // The ASCII digit of the digit at text[k], whose byte length is `length`.
  const auto ascii_digit = [&](std::size_t k, std::size_t length) {
    const auto last = static_cast<unsigned char>(text[k + length - 1]);
    switch (length) {
      case 1:
        return static_cast<char>(last);
      case 2:  // U+0660 to U+0669 end in 0xA0 to 0xA9, U+06F0 to U+06F9 in 0xB0 to 0xB9
        return static_cast<char>('0' + (last & 0x0F));
      default:  // U+FF10 to U+FF19 end in 0x90 to 0x99
        return static_cast<char>('0' + (last - 0x90));
    }
  };
  std::vector<DigitRun> runs;
  std::size_t i = 0;
  while (i < text.size()) {
    if (digit_length(text, i) == 0) {
      ++i;
      continue;
    }
    // Find the end of the run: groups of digits joined by separators.
    DigitRun run;
    run.begin = i;
    std::size_t end = i;
    std::size_t group = 0;
    while (end < text.size()) {
      if (const std::size_t length = digit_length(text, end); length > 0) {
        run.digits += ascii_digit(end, length);
        ++group;
        end += length;
        run.end = end;
        continue;
      }
      std::size_t next = end;
      std::size_t separators = 0;
      while (separators < kMaxSeparators && separator_length(text, next) > 0) {
        next += separator_length(text, next);
        ++separators;
      }
      if (separators == 0 || digit_length(text, next) == 0 || group < kMinGroup) {
        break;
      }
      // The group after the separators must also have kMinGroup digits.
      std::size_t ahead = next;
      std::size_t following = 0;
      while (following < kMinGroup && digit_length(text, ahead) > 0) {
        ahead += digit_length(text, ahead);
        ++following;
      }
      if (following < kMinGroup) {
        break;
      }
      end = next;
      group = 0;
    }
    runs.push_back(std::move(run));
    i = end;
  }
  return runs;
}

// Returns `text` with every run of at least kMinCardNumberDigits digits (find_digit_runs)
// masked: each digit but the last four becomes '*', as in "lost ************9876". A card
// number typed into free text, such as a close reason, is then neither logged nor stored in
// full. Separators stay, and each fullwidth or Arabic-Indic digit becomes one '*'. Longer runs
// are masked too, and so are phone numbers of ten or more digits ("312 555 0107").
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
