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

// Returns the code point of the well-formed UTF-8 character of `length` bytes
// (utf8_char_length) at `offset` in `text`.
inline char32_t utf8_code_point(std::string_view text, std::size_t offset, std::size_t length) {
  static constexpr unsigned char kLeadMasks[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t code_point = static_cast<unsigned char>(text[offset]) & kLeadMasks[length];
  for (std::size_t k = 1; k < length; ++k) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[offset + k]) & 0x3F);
  }
  return code_point;
}

// Returns whether `code_point` has the Unicode property Bidi_Control (Unicode 14.0, as Perl's
// \p{Bidi_Control} lists it): the marks U+061C, U+200E and U+200F, the embeddings and overrides U+202A to U+202E,
// and the isolates U+2066 to U+2069. Each changes the order in which a terminal displays the
// text around it, so a name that contains one can display as another name.
inline bool is_bidi_control(char32_t code_point) {
  return code_point == 0x061C || code_point == 0x200E || code_point == 0x200F ||
         (code_point >= 0x202A && code_point <= 0x202E) ||
         (code_point >= 0x2066 && code_point <= 0x2069);
}

// The first fault that find_text_fault finds in a text.
enum class TextFaultKind { None, NotUtf8, NulByte, LineBreak, ControlCharacter, BidiControl };

struct TextFault {
  TextFaultKind kind = TextFaultKind::None;
  // A clause for the message that names the text: "is not UTF-8 (byte 0xE9 at position 5)",
  // "contains a NUL byte at position 2", "contains a line break at position 3", "contains
  // line separator U+2028 at position 3", "contains control character U+001B at position 2"
  // or "contains bidirectional control character U+202E at position 4". Positions count
  // bytes from 1. Empty for None.
  std::string description;
};

// Returns the first fault of `text`: a byte that does not start a well-formed UTF-8 character
// (utf8_char_length) or a NUL byte. With `one_line`, these are faults too: a line break (LF,
// CR, the line separator U+2028 or the paragraph separator U+2029), any other control
// character (C0 U+0001 to U+001F, DEL U+007F or C1 U+0080 to U+009F) and a bidirectional
// control (is_bidi_control). Names, ids and listing names use `one_line`, because they are
// printed on one line of a terminal or report, and must display as the text they contain.
inline TextFault find_text_fault(std::string_view text, bool one_line) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto hex = [](unsigned value) {
    return std::string{kHex[(value >> 4) & 0x0F], kHex[value & 0x0F]};
  };
  auto code_point_name = [&hex](char32_t code_point) {
    return "U+" + hex((code_point >> 8) & 0xFF) + hex(code_point & 0xFF);
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
    const char32_t code_point = one_line ? utf8_code_point(text, offset, length) : 0;
    if (code_point == 0x2028 || code_point == 0x2029) {
      return {TextFaultKind::LineBreak,
              std::string(code_point == 0x2028 ? "contains line separator "
                                               : "contains paragraph separator ") +
                  code_point_name(code_point) + position};
    }
    if (one_line && is_bidi_control(code_point)) {
      return {TextFaultKind::BidiControl,
              "contains bidirectional control character " + code_point_name(code_point) + position};
    }
    offset += length;
  }
  return {};
}

}  // namespace relaygw
