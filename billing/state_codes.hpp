#pragma once
// Postal codes of the places a NANP directory line or a PSAP route can name.

#include <string_view>
#include <vector>

namespace relaygw::billing {

// Returns true for the USPS code of a US state, DC or a US territory with NANP area codes
// (AS, GU, MP, PR, VI), or the Canada Post code of a Canadian province or territory.
bool is_state_code(std::string_view code);

// Returns the postal codes of the place that the LOCATION column of the NANPA NPA report
// names: a two-letter US code as it is, PUERTO RICO, USVI and CNMI as PR, VI and MP, and a
// Canadian province by name. A NANPA location that covers several provinces returns each of
// them ("NOVA SCOTIA - PRINCE EDWARD ISLAND" returns NS and PE). Returns an empty list for a
// country without these codes, such as JAMAICA, and for an empty location.
std::vector<std::string_view> state_codes_of_nanpa_location(std::string_view location);

}  // namespace relaygw::billing
