// UTF-8 checks for outside text: provider link lines, the configuration file, command-line
// options and names stored with billing records. Every entry point uses this one definition, so
// all of them accept and reject the same bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace relaygw {

// Returns the byte length of the well-formed UTF-8 character at `offset` in `text`, or 0 when
// none starts there. Invalid starts are stray continuation bytes, overlong forms, UTF-16
// surrogates, code points above U+10FFFF and characters cut off by the end of the text.
// The byte ranges follow the UTF-8 syntax in RFC 3629, section 4.
inline std::size_t utf8_char_length(std::string_view text, std::size_t offset) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  std::size_t length = 0;
  unsigned char low = 0x80;  // range of the second byte
  unsigned char high = 0xBF;
  if (lead < 0x80) {
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    low = lead == 0xE0 ? 0xA0 : 0x80;   // below: overlong
    high = lead == 0xED ? 0x9F : 0xBF;  // above: surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    low = lead == 0xF0 ? 0x90 : 0x80;   // below: overlong
    high = lead == 0xF4 ? 0x8F : 0xBF;  // above: beyond U+10FFFF
  } else {
    return 0;
  }
  if (offset + length > text.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[offset + k]);
    if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) {
      return 0;
    }
  }
  return length;
}

// Returns the offset of the first byte where `text` stops being well-formed UTF-8, or npos.
inline std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t offset = 0;
  while (offset < text.size()) {
    const std::size_t length = utf8_char_length(text, offset);
    if (length == 0) {
      return offset;
    }
    offset += length;
  }
  return std::string_view::npos;
}

}  // namespace relaygw
