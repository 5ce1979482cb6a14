#include "billing/state_codes.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

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

struct NanpaLocation {
  std::string_view location;
  std::vector<std::string_view> codes;
};

// NANPA LOCATION names that are not postal codes themselves, as the NPA report of 2018-10-04
// spells them.
const std::vector<NanpaLocation>& nanpa_locations() {
  static const std::vector<NanpaLocation> locations = {
      {"ALBERTA", {"AB"}},
      {"BRITISH COLUMBIA", {"BC"}},
      {"CNMI", {"MP"}},
      {"MANITOBA", {"MB"}},
      {"NEW BRUNSWICK", {"NB"}},
      {"NEWFOUNDLAND AND LABRADOR", {"NL"}},
      {"NOVA SCOTIA - PRINCE EDWARD ISLAND", {"NS", "PE"}},
      {"ONTARIO", {"ON"}},
      {"PUERTO RICO", {"PR"}},
      {"QUEBEC", {"QC"}},
      {"SASKATCHEWAN", {"SK"}},
      {"USVI", {"VI"}},
      {"YUKON-NW TERR. - NUNAVUT", {"YT", "NT", "NU"}},
  };
  return locations;
}

}  // namespace

bool is_state_code(std::string_view code) {
  return std::binary_search(kStateCodes.begin(), kStateCodes.end(), code);
}

std::vector<std::string_view> state_codes_of_nanpa_location(std::string_view location) {
  if (location.size() == 2 && is_state_code(location)) {
    return {location};
  }
  for (const NanpaLocation& entry : nanpa_locations()) {
    if (entry.location == location) {
      return entry.codes;
    }
  }
  return {};
}

}  // namespace relaygw::billing
