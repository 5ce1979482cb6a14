#include "tty/conversation.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using relaygw::tty::TimedChar;
using relaygw::tty::Turn;
using relaygw::tty::TurnMarker;

std::string describe(const std::vector<Turn>& turns) {
  std::string text;
  for (const Turn& turn : turns) {
    text += "[" + turn.text + "|" + relaygw::tty::to_string(turn.marker) +
            (turn.question ? "|?" : "") + "]";
  }
  return text;
}

}  // namespace

TEST_CASE("conversation splits turns at markers", "[tty][conversation]") {
  struct Case {
    std::string input;
    std::string expected;
  };
  const Case cases[] = {
      {"HELLO THIS IS JOHN GA", "[HELLO THIS IS JOHN|GA]"},
      {"HI GA HOW ARE YOU Q GA", "[HI|GA][HOW ARE YOU Q|GA|?]"},
      {"IS THAT $25.50? GA", "[IS THAT $25.50?|GA|?]"},
      {"OK THANK YOU VERY MUCH BYE SK SK", "[OK THANK YOU VERY MUCH BYE|SK]"},
      {"BYE SKSK", "[BYE|SK]"},
      {"ANYTHING ELSE GA OR SK", "[ANYTHING ELSE|GA OR SK]"},
      {"NOTHING MORE GA OR SK SK", "[NOTHING MORE|GA OR SK]"},
      {"SK", "[|SK]"},
      {"GA GA", "[|GA][|GA]"},
      {"STILL TYPING", "[STILL TYPING|]"},
      {"LINE ONE\r\nLINE  TWO GA\r\nNEXT", "[LINE ONE LINE TWO|GA][NEXT|]"},
      {"GAS PRICES ASK GARY SKI GA", "[GAS PRICES ASK GARY SKI|GA]"},
      {"ga or sk", "[|GA OR SK]"},
      {"GA OR NOT", "[|GA][OR NOT|]"},
      {"Q", "[Q||?]"},
      {"", ""},
      {"  \r\n ", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.input);
    CHECK(describe(relaygw::tty::split_turns(c.input)) == c.expected);
  }
}

TEST_CASE("conversation turns carry times", "[tty][conversation]") {
  // One character every 0.165 s, as at 45.45 bit/s with 2 stop bits.
  const std::string text = "  HI GA  OK SK SK  MORE";
  std::vector<TimedChar> chars;
  for (std::size_t i = 0; i < text.size(); ++i) {
    chars.push_back({text[i], 0.165 * static_cast<double>(i)});
  }
  const auto turns = relaygw::tty::split_turns(chars);
  REQUIRE(turns.size() == 3);

  CHECK(turns[0].text == "HI");
  CHECK(turns[0].marker == TurnMarker::GoAhead);
  CHECK(turns[0].start_s == Approx(0.165 * 2));  // H
  CHECK(turns[0].end_s == Approx(0.165 * 6));    // A of GA

  CHECK(turns[1].text == "OK");
  CHECK(turns[1].marker == TurnMarker::StopKeying);
  CHECK(turns[1].start_s == Approx(0.165 * 9));  // O
  CHECK(turns[1].end_s == Approx(0.165 * 16));   // K of the second SK

  CHECK(turns[2].text == "MORE");
  CHECK(turns[2].marker == TurnMarker::None);
  CHECK(turns[2].start_s == Approx(0.165 * 19));
  CHECK(turns[2].end_s == Approx(0.165 * 22));
}
