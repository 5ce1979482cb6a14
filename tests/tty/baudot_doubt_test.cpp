// The Baudot decoder's use of bit confidence: a shift code that may be misread, or a code that
// may be a misread shift code, is read both ways and the more plausible text is kept.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tty/baudot.hpp"

namespace {

using relaygw::tty::BaudotDecoder;
using relaygw::tty::plausibility_score;
using relaygw::tty::TimedChar;

constexpr std::uint8_t LTRS = 0x1F;
constexpr std::uint8_t FIGS = 0x1B;
constexpr std::uint8_t SP = 0x04;

// Letters: C=0E A=03 L=12 G=1A H=14 O=18 M=1C E=01 Q=17 U=07 I=06 K=0F.
// Figures on the same codes: T=0x10 is 5, W=0x13 is 2, D=0x09 is $, M=0x1C is '.', P=0x16 is 0,
// K=0x0F is '(', L=0x12 is ')'.
struct Code {
  std::uint8_t code;
  float weakest = 1.0F;  // confidence of bit `bit`; the other bits have 1
  int bit = 0;
};

std::string decode(const std::vector<Code>& codes) {
  BaudotDecoder decoder;
  std::vector<TimedChar> out;
  double time_s = 0.0;
  for (const Code& c : codes) {
    std::array<float, 5> confidence{1.0F, 1.0F, 1.0F, 1.0F, 1.0F};
    confidence[static_cast<std::size_t>(c.bit)] = c.weakest;
    decoder.push(c.code, confidence, time_s, out);
    time_s += 0.165;
  }
  decoder.flush(out);
  std::string text;
  for (const TimedChar& c : out) {
    text.push_back(c.ch);
  }
  return text;
}

}  // namespace

TEST_CASE("baudot doubt rereads code as FIGS", "[tty][baudot]") {
  // "CALL 555 GA" where the FIGS before 555 arrived as W (0x13, bit 3 flipped) with a weak bit 3.
  const std::vector<Code> codes = {{LTRS}, {0x0E}, {0x03}, {0x12}, {0x12}, {SP},   {0x13, 0.1F, 3},
                                   {0x10}, {0x10}, {0x10}, {SP},   {LTRS}, {0x1A}, {0x03}};
  CHECK(decode(codes) == "CALL 555 GA");
}

TEST_CASE("baudot doubt keeps confident code", "[tty][baudot]") {
  // The same stream with bit 3 of the W clearly decided stays as received.
  const std::vector<Code> codes = {{LTRS}, {0x0E}, {0x03}, {0x12}, {0x12}, {SP},   {0x13, 0.9F, 3},
                                   {0x10}, {0x10}, {0x10}, {SP},   {LTRS}, {0x1A}, {0x03}};
  CHECK(decode(codes) == "CALL WTTT GA");
}

TEST_CASE("baudot doubt rereads misread LTRS", "[tty][baudot]") {
  // "(HOME)" sent as FIGS ( LTRS H O M E FIGS ), with the LTRS read as X (0x1D, bit 1 flipped).
  const std::vector<Code> codes = {{FIGS}, {0x0F}, {0x1D, 0.2F, 1}, {0x14}, {0x18},
                                   {0x1C}, {0x01}, {FIGS},          {0x12}};
  CHECK(decode(codes) == "(HOME)");
}

TEST_CASE("baudot doubt keeps plausible number", "[tty][baudot]") {
  // A weak bit 2 in FIGS would make it LTRS, but DWTMTP is no word and $25.50 is a number.
  const std::vector<Code> codes = {{LTRS}, {0x03}, {SP},   {FIGS, 0.05F, 2}, {0x09},
                                   {0x13}, {0x10}, {0x1C}, {0x10},           {0x16}};
  CHECK(decode(codes) == "A $25.50");
}

TEST_CASE("baudot doubt keeps word on a tie", "[tty][baudot]") {
  // Q (0x17) is one bit from LTRS. QUICK and UICK both read as words, so Q stays.
  const std::vector<Code> codes = {{LTRS}, {0x17, 0.1F, 3}, {0x07}, {0x06}, {0x0E}, {0x0F}};
  CHECK(decode(codes) == "QUICK");
}

TEST_CASE("baudot doubt resolves held word on flush", "[tty][baudot]") {
  // The word after a doubtful code is held, and flush() releases it reread.
  const std::vector<Code> codes = {{LTRS}, {0x13, 0.1F, 3}, {0x10}, {0x10}, {0x10}};
  CHECK(decode(codes) == "555");
}

TEST_CASE("plausibility score ranks readings", "[tty][baudot]") {
  CHECK(plausibility_score("555-0142") == 3);
  CHECK(plausibility_score("$25.50") == 3);
  CHECK(plausibility_score("HOME") == 3);
  CHECK(plausibility_score("SK") == 3);
  CHECK(plausibility_score("TTT") == 0);
  CHECK(plausibility_score("RIWQE") == 0);
  CHECK(plausibility_score("/#9.3") == -2);
  CHECK(plausibility_score("HOM3") == -2);
  CHECK(plausibility_score("X") == 1);
  CHECK(plausibility_score("CALL 555 GA") == 9);
}

TEST_CASE("baudot doubt expects LTRS after space", "[tty][baudot]") {
  // "IS THAT" from a sender that sends LTRS after every space. The LTRS before THAT arrived as
  // K (0x0F, bit 4 flipped) with a weak bit 4. KTHAT and THAT score the same, and LTRS is the
  // code this sender puts after a space.
  const std::vector<Code> codes = {{LTRS}, {0x06},          {0x05}, {SP},   {LTRS}, {0x06}, {0x05},
                                   {SP},   {0x0F, 0.1F, 4}, {0x10}, {0x14}, {0x03}, {0x10}};
  CHECK(decode(codes) == "IS IS THAT");
}

TEST_CASE("baudot doubt keeps letter without evidence", "[tty][baudot]") {
  // The same K after a space from a sender that has not sent LTRS after a space stays a K.
  const std::vector<Code> codes = {{LTRS}, {0x06},          {0x05}, {SP},   {0x06}, {0x05},
                                   {SP},   {0x0F, 0.1F, 4}, {0x10}, {0x14}, {0x03}, {0x10}};
  CHECK(decode(codes) == "IS IS KTHAT");
}

TEST_CASE("baudot doubt rereads weak NULL", "[tty][baudot]") {
  // "OK THANK" with the space arrived as NULL (0x00, bit 2 flipped) with a weak bit 2.
  const std::vector<Code> codes = {{LTRS}, {0x18}, {0x0F}, {0x00, 0.1F, 2}, {0x10},
                                   {0x14}, {0x03}, {0x0C}, {0x0F}};
  CHECK(decode(codes) == "OK THANK");
}

TEST_CASE("baudot doubt drops confident NULL", "[tty][baudot]") {
  // The same NULL with bit 2 at 0.9 is a NULL, which prints nothing.
  const std::vector<Code> codes = {{LTRS}, {0x18}, {0x0F}, {0x00, 0.9F, 2}, {0x10},
                                   {0x14}, {0x03}, {0x0C}, {0x0F}};
  CHECK(decode(codes) == "OKTHANK");
}
