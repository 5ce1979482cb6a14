#include "tty/baudot.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using relaygw::tty::BaudotDecoder;
using relaygw::tty::BaudotEncoder;
using relaygw::tty::ShiftConvention;
using relaygw::tty::ShiftState;
using relaygw::tty::TimedChar;

using Codes = std::vector<std::uint8_t>;

// Codes by name, so that test streams read like what a sender puts on the line.
constexpr std::uint8_t LTRS = 0x1F;
constexpr std::uint8_t FIGS = 0x1B;
constexpr std::uint8_t SP = 0x04;
constexpr std::uint8_t CR = 0x08;
constexpr std::uint8_t LF = 0x02;

std::uint8_t letter_code(char c) {
  for (std::uint8_t code = 0; code < 32; ++code) {
    if (code != SP && code != CR && code != LF &&
        relaygw::tty::baudot_char(code, ShiftState::Letters) == c) {
      return code;
    }
  }
  FAIL("no letters code for " << c);
  return 0;
}

std::uint8_t figure_code(char c) {
  for (std::uint8_t code = 0; code < 32; ++code) {
    if (code != SP && code != CR && code != LF &&
        relaygw::tty::baudot_char(code, ShiftState::Figures) == c) {
      return code;
    }
  }
  FAIL("no figures code for " << c);
  return 0;
}

// Appends the codes of `letters` (A-Z only) or `figures` without any shift.
void add_letters(Codes& codes, const std::string& letters) {
  for (char c : letters) {
    codes.push_back(letter_code(c));
  }
}
void add_figures(Codes& codes, const std::string& figures) {
  for (char c : figures) {
    codes.push_back(figure_code(c));
  }
}

std::string decode(const Codes& codes, ShiftConvention convention) {
  BaudotDecoder decoder(convention);
  std::vector<TimedChar> out;
  double t = 0.0;
  for (std::uint8_t code : codes) {
    decoder.push(code, t, out);
    t += 0.165;
  }
  decoder.flush(out);
  std::string text;
  for (const TimedChar& c : out) {
    text.push_back(c.ch);
  }
  return text;
}

std::string hex(const Codes& codes) {
  std::string text;
  const char* digits = "0123456789ABCDEF";
  for (std::uint8_t code : codes) {
    if (!text.empty()) {
      text.push_back(' ');
    }
    text.push_back(digits[code >> 4]);
    text.push_back(digits[code & 0xF]);
  }
  return text;
}

}  // namespace

TEST_CASE("baudot tables match ITA2 and US figures", "[tty][baudot]") {
  struct Row {
    std::uint8_t code;
    char letter;
    char figure;
  };
  const Row rows[] = {
      {0x01, 'E', '3'},   {0x03, 'A', '-'},   {0x05, 'S', '\a'},  {0x06, 'I', '8'},
      {0x07, 'U', '7'},   {0x09, 'D', '$'},   {0x0A, 'R', '4'},   {0x0B, 'J', '\''},
      {0x0C, 'N', ','},   {0x0D, 'F', '!'},   {0x0E, 'C', ':'},   {0x0F, 'K', '('},
      {0x10, 'T', '5'},   {0x11, 'Z', '"'},   {0x12, 'L', ')'},   {0x13, 'W', '2'},
      {0x14, 'H', '#'},   {0x15, 'Y', '6'},   {0x16, 'P', '0'},   {0x17, 'Q', '1'},
      {0x18, 'O', '9'},   {0x19, 'B', '?'},   {0x1A, 'G', '&'},   {0x1C, 'M', '.'},
      {0x1D, 'X', '/'},   {0x1E, 'V', ';'},   {0x04, ' ', ' '},   {0x08, '\r', '\r'},
      {0x02, '\n', '\n'}, {0x00, '\0', '\0'}, {0x1B, '\0', '\0'}, {0x1F, '\0', '\0'},
  };
  for (const Row& row : rows) {
    CAPTURE(static_cast<int>(row.code));
    CHECK(relaygw::tty::baudot_char(row.code, ShiftState::Letters) == row.letter);
    CHECK(relaygw::tty::baudot_char(row.code, ShiftState::Figures) == row.figure);
  }
  CHECK(relaygw::tty::baudot_char(32, ShiftState::Letters) == '\0');
}

TEST_CASE("baudot field case AT 12 30", "[tty][baudot]") {
  const Codes received = {0x1F, 0x03, 0x10, 0x04, 0x1B, 0x17, 0x13, 0x04, 0x01, 0x16};
  CHECK(decode(received, ShiftConvention::ExplicitOnly) == "AT 12 30");
  CHECK(decode(received, ShiftConvention::UnshiftOnSpace) == "AT 12 EP");
  CHECK(decode(received, ShiftConvention::Auto) == "AT 12 30");

  BaudotEncoder encoder;
  const auto encoded = encoder.encode("AT 12 30");
  const Codes expected = {0x1F, 0x03, 0x10, 0x04, 0x1B, 0x17, 0x13, 0x04, 0x1B, 0x01, 0x16};
  CHECK(hex(encoded.codes) == hex(expected));
  CHECK(encoded.unencodable.empty());
  CHECK(decode(encoded.codes, ShiftConvention::ExplicitOnly) == "AT 12 30");
  CHECK(decode(encoded.codes, ShiftConvention::UnshiftOnSpace) == "AT 12 30");
  CHECK(decode(encoded.codes, ShiftConvention::Auto) == "AT 12 30");
}

TEST_CASE("baudot auto decodes minimodem sender", "[tty][baudot]") {
  // minimodem sends FIGS again after a space before a figure, and no LTRS after a space.
  Codes meet = {LTRS};
  add_letters(meet, "MEET");
  meet.push_back(SP);
  add_letters(meet, "AT");
  meet.push_back(SP);
  meet.push_back(FIGS);
  add_figures(meet, "5");
  meet.push_back(SP);
  add_letters(meet, "PM");
  meet.push_back(SP);
  add_letters(meet, "GA");
  CHECK(decode(meet, ShiftConvention::Auto) == "MEET AT 5 PM GA");
  CHECK(decode(meet, ShiftConvention::UnshiftOnSpace) == "MEET AT 5 PM GA");

  Codes call = {LTRS};
  add_letters(call, "CALL");
  call.push_back(SP);
  call.push_back(FIGS);
  add_figures(call, "555");
  call.push_back(SP);
  call.push_back(FIGS);
  add_figures(call, "0142");
  call.push_back(SP);
  add_letters(call, "GA");
  CHECK(decode(call, ShiftConvention::Auto) == "CALL 555 0142 GA");
  CHECK(decode(call, ShiftConvention::UnshiftOnSpace) == "CALL 555 0142 GA");
}

TEST_CASE("baudot auto decodes keep-figures sender", "[tty][baudot]") {
  // spandsp's native transmitter keeps figures across a space and sends LTRS before letters.
  Codes codes = {FIGS};
  add_figures(codes, "555");
  codes.push_back(SP);
  add_figures(codes, "0142");
  CHECK(decode(codes, ShiftConvention::Auto) == "555 0142");
  CHECK(decode(codes, ShiftConvention::ExplicitOnly) == "555 0142");
  CHECK(decode(codes, ShiftConvention::UnshiftOnSpace) == "555 PQRW");

  codes.push_back(SP);
  codes.push_back(LTRS);
  add_letters(codes, "GA");
  CHECK(decode(codes, ShiftConvention::Auto) == "555 0142 GA");
}

TEST_CASE("baudot auto learns convention from shifts", "[tty][baudot]") {
  // A LTRS right after a space in figures marks a keep-figures sender, so a later word with
  // no shift stays in figures even when its letters reading is a known word ("TO" is 59).
  Codes keep = {FIGS};
  add_figures(keep, "12");
  keep.push_back(SP);
  keep.push_back(LTRS);
  add_letters(keep, "AND");
  keep.push_back(SP);
  keep.push_back(FIGS);
  add_figures(keep, "7");
  keep.push_back(SP);
  add_figures(keep, "59");
  CHECK(decode(keep, ShiftConvention::Auto) == "12 AND 7 59");

  // A FIGS right after a space in figures marks an unshift-on-space sender, so a later word
  // with no shift is letters even when its figures reading is a number ("TO" read as 59).
  Codes unshift = {FIGS};
  add_figures(unshift, "12");
  unshift.push_back(SP);
  unshift.push_back(FIGS);
  add_figures(unshift, "7");
  unshift.push_back(SP);
  add_letters(unshift, "TQ");
  CHECK(decode(unshift, ShiftConvention::Auto) == "12 7 TQ");
}

TEST_CASE("baudot auto guesses held word by plausibility", "[tty][baudot]") {
  struct Case {
    std::string word_letters;  // the word after "5 " sent with no shift
    std::string expected;
  };
  const Case cases[] = {
      {"TO", "5 TO"},                        // known word beats the numeric reading 59
      {"YOU", "5 YOU"},                      // 697
      {"IN", "5 IN"},                        // 8,
      {"PM", "5 PM"},                        // 0.
      {"GA", "5 GA"},                        // &- is not a number
      {"SK", "5 SK"},                        // bell ( is not a number
      {"EP", "5 30"},                        // not a word, and 30 is a number
      {"QWER", "5 1234"},                    // 1234
      {"QWEMRT", "5 123.45"},                // 123.45
      {"RXQE", "5 4/13"},                    // a date
      {"WPCQP", "5 20:10"},                  // a time
      {"TOMORROW", "5 TOMORROW"},            // known word, and 59.94492 is no usual number
      {"TYPMIWOQR", "5 TYPMIWOQR"},          // 560.82914: too many decimals
      {"WECQ", "5 WECQ"},                    // 23:1: a time needs two minute digits
      {"QNWE", "5 QNWE"},                    // 1,23: thousands need three digits
      {"QNWEU", "5 1,237"},                  // 1,237
      {"DQWMPP", "5 $12.00"},                // money
      {"KTTTLTTTAQWER", "5 (555)555-1234"},  // phone number
      {"POUT", "5 0975"},  // known limit: an unlisted word whose figures reading is a number
  };
  for (const Case& c : cases) {
    Codes codes = {FIGS};
    add_figures(codes, "5");
    codes.push_back(SP);
    add_letters(codes, c.word_letters);
    CAPTURE(c.word_letters);
    CHECK(decode(codes, ShiftConvention::Auto) == c.expected);
  }
}

TEST_CASE("baudot auto holds word until it ends", "[tty][baudot]") {
  Codes codes = {FIGS};
  add_figures(codes, "5");
  codes.push_back(SP);
  add_letters(codes, "EP");

  BaudotDecoder decoder;
  std::vector<TimedChar> out;
  for (std::size_t i = 0; i < codes.size(); ++i) {
    decoder.push(codes[i], static_cast<double>(i), out);
  }
  REQUIRE(out.size() == 2);  // "5 " is out, "EP" or "30" is held
  decoder.push(CR, 10.0, out);
  REQUIRE(out.size() == 5);
  CHECK(out[2].ch == '3');
  CHECK(out[2].time_s == 3.0);
  CHECK(out[3].ch == '0');
  CHECK(out[3].time_s == 4.0);
  CHECK(out[4].ch == '\r');
}

TEST_CASE("baudot auto bounds held word length", "[tty][baudot]") {
  Codes codes = {FIGS, 0x17, SP};
  for (int i = 0; i < 100; ++i) {
    codes.push_back(0x17);  // Q or 1
  }
  BaudotDecoder decoder;
  std::vector<TimedChar> out;
  for (std::uint8_t code : codes) {
    decoder.push(code, 0.0, out);
  }
  CHECK(out.size() >= 2 + 32);
  decoder.flush(out);
  CHECK(out.size() == 102);
}

TEST_CASE("baudot unshift on space decodes", "[tty][baudot]") {
  Codes codes = {FIGS};
  add_figures(codes, "12");
  codes.push_back(SP);
  add_letters(codes, "AB");
  CHECK(decode(codes, ShiftConvention::UnshiftOnSpace) == "12 AB");
  CHECK(decode(codes, ShiftConvention::ExplicitOnly) == "12 -?");
}

TEST_CASE("baudot decoder ignores null and bad codes", "[tty][baudot]") {
  const Codes codes = {0x00, 0x14, 0x20, 0xFF, 0x01, 0x00};
  CHECK(decode(codes, ShiftConvention::Auto) == "HE");
}

TEST_CASE("baudot decoder reset returns to letters", "[tty][baudot]") {
  BaudotDecoder decoder;
  std::vector<TimedChar> out;
  decoder.push(FIGS, 0.0, out);
  decoder.push(0x17, 0.1, out);
  decoder.reset();
  decoder.push(0x17, 0.2, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].ch == '1');
  CHECK(out[1].ch == 'Q');
}

TEST_CASE("baudot encoder round trips every convention", "[tty][baudot]") {
  const std::string texts[] = {
      "HELLO THIS IS JOHN GA",
      "CALL 555-0142 OR 555 0199 GA",
      "MEET AT 5 PM GA",
      "I OWE $12.50, OK Q GA",
      "WHAT? (TEST) 1/2 #4 \"QUOTED\" IT'S; DONE! A: B & C.",
      "5 5 5 TO 59 IN 8 AT 12 30 SK",
      "LINE ONE\r\nLINE 2\r\n3 4\r\n",
      "\a BELL",
  };
  const ShiftConvention conventions[] = {ShiftConvention::Auto, ShiftConvention::ExplicitOnly,
                                         ShiftConvention::UnshiftOnSpace};
  for (const std::string& text : texts) {
    BaudotEncoder encoder;
    const auto encoded = encoder.encode(text);
    CAPTURE(text, hex(encoded.codes));
    CHECK(encoded.unencodable.empty());
    for (ShiftConvention convention : conventions) {
      CAPTURE(static_cast<int>(convention));
      CHECK(decode(encoded.codes, convention) == text);
    }
  }
}

TEST_CASE("baudot encoder maps and reports characters", "[tty][baudot]") {
  struct Case {
    std::string input;
    std::string expected_text;
    std::vector<std::size_t> unencodable_offsets;
  };
  const Case cases[] = {
      {"hello", "HELLO", {}},
      {"a\tb", "A B", {}},
      {"x\ny", "X\r\nY", {}},
      {"x\ry", "X\r\nY", {}},
      {"mail me@home", "MAIL ME AT HOME", {}},
      {"2+2=4", "2 PLUS 2 EQUALS 4", {}},
      {"50% off", "50 PERCENT OFF", {}},
      {"tax (3.00%)", "TAX (3.00 PERCENT)", {}},
      {"up 5%. Ok", "UP 5 PERCENT. OK", {}},
      {"(a@b)", "(A AT B)", {}},
      {"a_b <c> [d] {e}", "A-B (C) (D) (E)", {}},
      {"*", "STAR", {}},
      {"**", "STAR STAR", {}},
      {"5%*=6", "5 PERCENT STAR EQUALS 6", {}},
      {"@@ x", "AT AT X", {}},
      {"3+%", "3 PLUS PERCENT", {}},
      {"a\n*+", "A\r\nSTAR PLUS", {}},
      {"\xE2\x80\x9CIt\xE2\x80\x99s 9\xE2\x80\x93"
       "5\xE2\x80\x9D\xC2\xA0ok",
       "\"IT'S 9-5\" OK",
       {}},                           // curly quotes, en dash, no-break space
      {"caf\xC3\xA9!", "CAF!", {3}},  // e acute is one entry
      {"\xE2\x82\xAC"
       "5",
       "5",
       {0}},  // euro sign
      {"a~b^c|d\\e`f", "ABCDEF", {1, 3, 5, 7, 9}},
      {"bad\xFF"
       "byte",
       "BADBYTE",
       {3}},              // invalid UTF-8
      {"\xC3", "", {0}},  // truncated sequence
      {std::string("nul\0x", 5), "NULX", {3}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.input);
    BaudotEncoder encoder;
    const auto encoded = encoder.encode(c.input);
    CHECK(decode(encoded.codes, ShiftConvention::Auto) == c.expected_text);
    std::vector<std::size_t> offsets;
    for (const auto& u : encoded.unencodable) {
      offsets.push_back(u.offset);
    }
    CHECK(offsets == c.unencodable_offsets);
  }

  BaudotEncoder encoder;
  const auto encoded = encoder.encode("\xC3\xA9\xFF");
  REQUIRE(encoded.unencodable.size() == 2);
  CHECK(encoded.unencodable[0].ch == U'\u00E9');
  CHECK_FALSE(encoded.unencodable[0].invalid_utf8);
  CHECK(encoded.unencodable[1].ch == 0xFF);
  CHECK(encoded.unencodable[1].invalid_utf8);
}

TEST_CASE("baudot encoder shifts after far end", "[tty][baudot]") {
  BaudotEncoder encoder;
  const auto first = encoder.encode("AB");
  CHECK(hex(first.codes) == "1F 03 19");
  const auto continued = encoder.encode("C");
  CHECK(hex(continued.codes) == "0E");
  encoder.note_far_end_sent();
  const auto after_far_end = encoder.encode("C");
  CHECK(hex(after_far_end.codes) == "1F 0E");
  encoder.start_transmission();
  const auto new_transmission = encoder.encode(" 1");
  CHECK(hex(new_transmission.codes) == "04 1B 17");
}
