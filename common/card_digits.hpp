// Digit counts of calling-card numbers and PINs, shared by the billing core that stores cards
// and the adapters that collect them from callers, so an adapter never accepts a PIN that
// billing would refuse.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

namespace relaygw {

inline constexpr std::size_t kMinCardNumberDigits = 10;
inline constexpr std::size_t kMaxCardNumberDigits = 19;
inline constexpr std::size_t kMinPinDigits = 4;
inline constexpr std::size_t kMaxPinDigits = 8;

// Returns `text` with every run of at least kMinCardNumberDigits digits masked: each digit but
// the last four becomes '*', as in "lost ************9876". A card number typed into free text,
// such as a close reason, is then neither logged nor stored in full. Digits separated by single
// spaces or hyphens count as one run ("4111 1111 1111 9876"). Longer runs are masked too, and
// so are phone numbers of ten or more digits.
inline std::string mask_card_number_runs(std::string_view text) {
  auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  std::string masked(text);
  std::size_t i = 0;
  while (i < masked.size()) {
    if (!is_digit(masked[i])) {
      ++i;
      continue;
    }
    // Find the end of the run and count its digits.
    std::size_t end = i;
    std::size_t digits = 0;
    while (end < masked.size()) {
      if (is_digit(masked[end])) {
        ++digits;
        ++end;
      } else if ((masked[end] == ' ' || masked[end] == '-') && end + 1 < masked.size() &&
                 is_digit(masked[end + 1])) {
        ++end;
      } else {
        break;
      }
    }
    if (digits >= kMinCardNumberDigits) {
      std::size_t to_mask = digits - 4;
      for (std::size_t k = i; k < end && to_mask > 0; ++k) {
        if (is_digit(masked[k])) {
          masked[k] = '*';
          --to_mask;
        }
      }
    }
    i = end;
  }
  return masked;
}

}  // namespace relaygw
