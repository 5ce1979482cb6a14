// Digit counts of calling-card numbers and PINs, shared by the billing core that stores cards
// and the adapters that collect them from callers, so an adapter never accepts a PIN that
// billing would refuse.
#pragma once

#include <cstddef>

namespace relaygw {

inline constexpr std::size_t kMinCardNumberDigits = 10;
inline constexpr std::size_t kMaxCardNumberDigits = 19;
inline constexpr std::size_t kMinPinDigits = 4;
inline constexpr std::size_t kMaxPinDigits = 8;

}  // namespace relaygw
