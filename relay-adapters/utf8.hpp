// UTF-8 validation shared by the provider link parser and the gateway's configuration reader.
#pragma once

#include <cstddef>
#include <string_view>

namespace relaygw::relay {

// Returns the offset of the first byte that is not valid UTF-8 (overlong forms, surrogates and
// code points above U+10FFFF included), or npos.
std::size_t find_invalid_utf8(std::string_view text);

}  // namespace relaygw::relay
