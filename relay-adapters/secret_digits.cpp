#include "relay-adapters/secret_digits.hpp"

#include <ostream>
#include <utility>

namespace relaygw::relay {

SecretDigits::SecretDigits(SecretDigits&& other) noexcept
    : kind_(other.kind_), digits_(std::move(other.digits_)) {
  other.wipe();
}

SecretDigits& SecretDigits::operator=(SecretDigits&& other) noexcept {
  if (this != &other) {
    wipe();
    kind_ = other.kind_;
    digits_ = std::move(other.digits_);
    other.wipe();
  }
  return *this;
}

SecretDigits::~SecretDigits() { wipe(); }

void SecretDigits::wipe() noexcept {
  // A moved-from short string keeps its old bytes in the inline buffer past size(), so the
  // whole capacity is overwritten. Volatile writes cannot be dropped as dead stores.
  digits_.resize(digits_.capacity(), '\0');
  volatile char* p = digits_.data();
  for (std::size_t i = 0; i < digits_.size(); ++i) {
    p[i] = '\0';
  }
  digits_.clear();
}

std::string SecretDigits::masked() const {
  if (digits_.empty()) {
    return "";
  }
  if (kind_ == Kind::Pin) {
    return "****";
  }
  return mask_card_digits(digits_);
}

std::string mask_card_digits(std::string_view digits) {
  if (digits.size() <= 4) {
    return std::string(digits.size(), '*');
  }
  std::string out(digits.size() - 4, '*');
  out.append(digits.substr(digits.size() - 4));
  return out;
}

std::ostream& operator<<(std::ostream& out, const SecretDigits& secret) {
  return out << secret.masked();
}

}  // namespace relaygw::relay
