#pragma once
// Postal codes of the places a NANP directory line or a PSAP route can name.

#include <string_view>

namespace relaygw::billing {

// Returns true for the USPS code of a US state, DC or a US territory with NANP area codes
// (AS, GU, MP, PR, VI), or the Canada Post code of a Canadian province or territory.
bool is_state_code(std::string_view code);

}  // namespace relaygw::billing
