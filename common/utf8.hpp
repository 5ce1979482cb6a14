// UTF-8 checks for outside text: provider link lines, the configuration file, command-line
// options and names stored with billing records. Every entry point uses this one definition, so
// all of them accept and reject the same bytes.
#pragma once

#include <cstddef>
#include <string>
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

// The first fault that find_text_fault finds in a text.
enum class TextFaultKind { None, NotUtf8, NulByte, LineBreak, ControlCharacter };

struct TextFault {
  TextFaultKind kind = TextFaultKind::None;
  // A clause for the message that names the text: "is not UTF-8 (byte 0xE9 at position 5)",
  // "contains a NUL byte at position 2", "contains a line break at position 3" or "contains
  // control character U+001B at position 2". Positions count bytes from 1. Empty for None.
  std::string description;
};

// Returns the first fault of `text`: a byte that does not start a well-formed UTF-8 character
// (utf8_char_length) or a NUL byte. With `one_line`, a line break (LF or CR) and any other
// control character (C0 U+0001 to U+001F, DEL U+007F or C1 U+0080 to U+009F) are faults too.
// Names, ids and listing names use `one_line`, because they are printed on one line of a
// terminal or report.
inline TextFault find_text_fault(std::string_view text, bool one_line) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto hex = [](unsigned value) {
    return std::string{kHex[(value >> 4) & 0x0F], kHex[value & 0x0F]};
  };
  std::size_t offset = 0;
  while (offset < text.size()) {
    const auto byte = static_cast<unsigned char>(text[offset]);
    const std::string position = " at position " + std::to_string(offset + 1);
    if (byte == 0) {
      return {TextFaultKind::NulByte, "contains a NUL byte" + position};
    }
    if (one_line && (byte == '\n' || byte == '\r')) {
      return {TextFaultKind::LineBreak, "contains a line break" + position};
    }
    if (one_line && (byte < 0x20 || byte == 0x7F)) {
      return {TextFaultKind::ControlCharacter,
              "contains control character U+00" + hex(byte) + position};
    }
    const std::size_t length = utf8_char_length(text, offset);
    if (length == 0) {
      return {TextFaultKind::NotUtf8, "is not UTF-8 (byte 0x" + hex(byte) + position + ")"};
    }
    // U+0080 to U+009F (C1 controls) are encoded as C2 80 to C2 9F.
    const auto second = length == 2 ? static_cast<unsigned char>(text[offset + 1]) : 0;
    if (one_line && byte == 0xC2 && second <= 0x9F) {
      return {TextFaultKind::ControlCharacter,
              "contains control character U+00" + hex(second) + position};
    }
    offset += length;
  }
  return {};
}

}  // namespace relaygw
