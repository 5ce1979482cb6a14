#include "billing/state_codes.hpp"

#include <algorithm>
#include <array>

namespace relaygw::billing {

namespace {

// USPS codes of the states, the District of Columbia and the territories with NANP area codes
// (AS, GU, MP, PR, VI), then Canada Post codes of the provinces and territories, sorted.
constexpr std::array<std::string_view, 69> kStateCodes = {
    "AB", "AK", "AL", "AR", "AS", "AZ", "BC", "CA", "CO", "CT", "DC", "DE", "FL", "GA",
    "GU", "HI", "IA", "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MB", "MD", "ME", "MI",
    "MN", "MO", "MP", "MS", "MT", "NB", "NC", "ND", "NE", "NH", "NJ", "NL", "NM", "NS",
    "NT", "NU", "NV", "NY", "OH", "OK", "ON", "OR", "PA", "PE", "PR", "QC", "RI", "SC",
    "SD", "SK", "TN", "TX", "UT", "VA", "VI", "VT", "WA", "WI", "WV", "WY", "YT"};

}  // namespace

bool is_state_code(std::string_view code) {
  return std::binary_search(kStateCodes.begin(), kStateCodes.end(), code);
}

}  // namespace relaygw::billing
