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

}  // namespace
}  // namespace relaygw
