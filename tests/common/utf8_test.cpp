#include <catch2/catch.hpp>

#include <string>

#include "common/utf8.hpp"

namespace relaygw {
namespace {

TEST_CASE("utf8 check accepts well-formed text", "[common][utf8]") {
  const std::string text =
      GENERATE(as<std::string>{}, "", "ANI 3125550143", "caf\xC3\xA9", "\xE2\x82\xAC 4.85",
               "\xF0\x9F\x93\x9E", "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80");
  INFO(text);
  CHECK(find_invalid_utf8(text) == std::string::npos);
}

TEST_CASE("utf8 check finds the first bad byte", "[common][utf8]") {
  struct Case {
    const char* what;
    std::string text;
    std::size_t offset;
  };
  const Case cases[] = {
      {"stray continuation byte", "ab\x80", 2},
      {"lead byte C0 (overlong ASCII)", "\xC0\xAF", 0},
      {"lead byte C1 (overlong ASCII)", "x\xC1\xBF", 1},
      {"overlong three-byte form", "\xE0\x80\xAF", 0},
      {"overlong four-byte form", "\xF0\x80\x80\xAF", 0},
      {"UTF-16 surrogate", "ok\xED\xA0\x80", 2},
      {"code point above U+10FFFF", "\xF4\x90\x80\x80", 0},
      {"lead byte F5", "\xF5\x80\x80\x80", 0},
      {"character cut off by the end", "ab\xE2\x82", 2},
      {"continuation replaced by ASCII",
       "\xC3"
       "A",
       0},
      {"Latin-1 byte", "Jos\xE9", 3},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(find_invalid_utf8(c.text) == c.offset);
    CHECK(utf8_char_length(c.text, c.offset) == 0);
  }
}

TEST_CASE("utf8 character length by lead byte", "[common][utf8]") {
  const std::string text = "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x93\x9E";
  CHECK(utf8_char_length(text, 0) == 1);
  CHECK(utf8_char_length(text, 1) == 2);
  CHECK(utf8_char_length(text, 3) == 3);
  CHECK(utf8_char_length(text, 6) == 4);
}

TEST_CASE("one-line text rejects forging characters", "[common][utf8]") {
  // Each is reported by its code point and the byte position where it starts, after "ab".
  struct Case {
    std::string character;
    TextFaultKind kind;
    std::string description;
  };
  const Case cases[] = {
      {"\xE2\x80\xA8", TextFaultKind::LineBreak, "contains line separator U+2028 at position 3"},
      {"\xE2\x80\xA9", TextFaultKind::LineBreak,
       "contains paragraph separator U+2029 at position 3"},
      {"\xD8\x9C", TextFaultKind::BidiControl,
       "contains bidirectional control character U+061C at position 3"},
      {"\xE2\x80\x8E", TextFaultKind::BidiControl,
       "contains bidirectional control character U+200E at position 3"},
      {"\xE2\x80\x8F", TextFaultKind::BidiControl,
       "contains bidirectional control character U+200F at position 3"},
      {"\xE2\x80\xAA", TextFaultKind::BidiControl,
       "contains bidirectional control character U+202A at position 3"},
      {"\xE2\x80\xAB", TextFaultKind::BidiControl,
       "contains bidirectional control character U+202B at position 3"},
      {"\xE2\x80\xAC", TextFaultKind::BidiControl,
       "contains bidirectional control character U+202C at position 3"},
      {"\xE2\x80\xAD", TextFaultKind::BidiControl,
       "contains bidirectional control character U+202D at position 3"},
      {"\xE2\x80\xAE", TextFaultKind::BidiControl,
       "contains bidirectional control character U+202E at position 3"},
      {"\xE2\x81\xA6", TextFaultKind::BidiControl,
       "contains bidirectional control character U+2066 at position 3"},
      {"\xE2\x81\xA7", TextFaultKind::BidiControl,
       "contains bidirectional control character U+2067 at position 3"},
      {"\xE2\x81\xA8", TextFaultKind::BidiControl,
       "contains bidirectional control character U+2068 at position 3"},
      {"\xE2\x81\xA9", TextFaultKind::BidiControl,
       "contains bidirectional control character U+2069 at position 3"},
  };
  for (const Case& c : cases) {
    const std::string text = "ab" + c.character + "cd";
    INFO(c.description);
    const TextFault fault = find_text_fault(text, true);
    CHECK(fault.kind == c.kind);
    CHECK(fault.description == c.description);
    // Free text may contain them, as a quoted message in a right-to-left script does.
    CHECK(find_text_fault(text, false).kind == TextFaultKind::None);
  }
}

TEST_CASE("one-line text keeps neighbouring characters", "[common][utf8]") {
  // The code points next to each rejected range, the joiners that some scripts need, and
  // Arabic and Hebrew letters, which display right to left without any control character.
  const std::string text =
      GENERATE(as<std::string>{}, "\xD8\x9B", "\xD8\x9D", "\xE2\x80\x8D", "\xE2\x80\x8C",
               "\xE2\x80\xA7", "\xE2\x80\xAF", "\xE2\x81\xA5", "\xE2\x81\xAA",
               "\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF", "\xD7\xA9\xD7\xA8\xD7\x94");
  INFO(text);
  CHECK(find_text_fault("ab" + text, true).kind == TextFaultKind::None);
}

}  // namespace
}  // namespace relaygw
