// SecretDigits: a calling-card number or PIN that never prints in full.
//
// Every printed form (operator<<, masked()) hides the digits: a card number shows only its
// last four digits, a PIN shows none. The digits leave the object only through reveal(), which
// the gateway calls when it hands them to card authorization. The destructor overwrites them.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

namespace relaygw::relay {

class SecretDigits {
 public:
  enum class Kind { CardNumber, Pin };

  explicit SecretDigits(Kind kind) : kind_(kind) {}
  SecretDigits(Kind kind, std::string digits) : kind_(kind), digits_(std::move(digits)) {}
  SecretDigits(const SecretDigits&) = default;
  SecretDigits& operator=(const SecretDigits&) = default;
  SecretDigits(SecretDigits&& other) noexcept;
  SecretDigits& operator=(SecretDigits&& other) noexcept;
  ~SecretDigits();

  Kind kind() const { return kind_; }
  bool empty() const { return digits_.empty(); }
  std::size_t size() const { return digits_.size(); }

  // The form to print or log: "************1234" for a card number (all digits masked when it
  // has four or fewer), "****" for any PIN, "" when empty.
  std::string masked() const;

  // The digits themselves, for card authorization only. Never log or serialize the result.
  std::string_view reveal() const { return digits_; }

 private:
  void wipe() noexcept;

  Kind kind_;
  std::string digits_;
};

// Masks a card number the same way as SecretDigits::masked(), for text that is not yet
// wrapped (for example a value rejected by a parser).
std::string mask_card_digits(std::string_view digits);

// Writes masked().
std::ostream& operator<<(std::ostream& out, const SecretDigits& secret);

}  // namespace relaygw::relay
