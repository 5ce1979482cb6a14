#include "relay-adapters/tty_line/caller_turns.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace {

using relaygw::relay::tty_line::CallerTurns;
using relaygw::tty::TimedChar;
using relaygw::tty::Turn;
using relaygw::tty::TurnMarker;

// Characters timed 0.1 s apart from `start_s`.
std::vector<TimedChar> timed(std::string_view text, double start_s = 0.0) {
  std::vector<TimedChar> chars;
  for (std::size_t i = 0; i < text.size(); ++i) {
    chars.push_back({text[i], start_s + 0.1 * static_cast<double>(i)});
  }
  return chars;
}

// Adds `text` one character at a time, taking turns after each, as a live line would.
std::vector<Turn> type_slowly(CallerTurns& turns, std::string_view text) {
  std::vector<Turn> out;
  for (const TimedChar& c : timed(text)) {
    turns.add(std::span<const TimedChar>(&c, 1));
    turns.take_turns(out);
  }
  return out;
}

}  // namespace

TEST_CASE("caller turns holds GA until next words", "[relay][tty_line][turns]") {
  CallerTurns turns;
  std::vector<Turn> out = type_slowly(turns, "HELLO GA");
  CHECK(out.empty());
  out = type_slowly(turns, " OR");
  CHECK(out.empty());
  out = type_slowly(turns, " SK ");
  CHECK(out.empty());
  turns.end_transmission();
  turns.take_turns(out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].text == "HELLO");
  CHECK(out[0].marker == TurnMarker::GoAheadOrStopKeying);
  CHECK(turns.held_chars() <= 1);
}

TEST_CASE("caller turns releases GA after two words", "[relay][tty_line][turns]") {
  CallerTurns turns;
  std::vector<Turn> out = type_slowly(turns, "NUMBER IS 555 0142 GA HI THERE ");
  REQUIRE(out.size() == 1);
  CHECK(out[0].text == "NUMBER IS 555 0142");
  CHECK(out[0].marker == TurnMarker::GoAhead);
  CHECK(out[0].start_s == Approx(0.0));
  CHECK(out[0].end_s == Approx(2.0));  // the A of GA is character 20
}

TEST_CASE("caller turns keeps GAS as a word", "[relay][tty_line][turns]") {
  CallerTurns turns;
  std::vector<Turn> out = type_slowly(turns, "OUT OF GAS GA");
  CHECK(out.empty());
  turns.end_transmission();
  turns.take_turns(out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].text == "OUT OF GAS");
  CHECK(out[0].marker == TurnMarker::GoAhead);
}

TEST_CASE("caller turns joins an SK run", "[relay][tty_line][turns]") {
  CallerTurns turns;
  std::vector<Turn> out = type_slowly(turns, "BYE NOW SK SK");
  turns.end_transmission();
  turns.take_turns(out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].text == "BYE NOW");
  CHECK(out[0].marker == TurnMarker::StopKeying);
}

TEST_CASE("caller turns keeps open turn until finish", "[relay][tty_line][turns]") {
  CallerTurns turns;
  turns.add(timed("I NEED TO CALL MY "));
  turns.end_transmission();
  std::vector<Turn> out;
  turns.take_turns(out);
  CHECK(out.empty());
  turns.add(timed("MOTHER Q GA", 5.0));
  turns.end_transmission();
  turns.take_turns(out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].text == "I NEED TO CALL MY MOTHER Q");
  CHECK(out[0].question);
  CHECK(out[0].end_s == Approx(6.0));

  turns.add(timed("HELLO"));
  turns.finish(out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].text == "HELLO");
  CHECK(out[1].marker == TurnMarker::None);
  CHECK(turns.held_chars() == 0);
}

TEST_CASE("caller turns bounds text without marker", "[relay][tty_line][turns]") {
  CallerTurns turns;
  std::string long_text;
  while (long_text.size() <= CallerTurns::kMaxHeldChars) {
    long_text += "WORD ";
  }
  turns.add(timed(long_text));
  std::vector<Turn> out;
  turns.take_turns(out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].marker == TurnMarker::None);
  CHECK(turns.held_chars() == 0);
}
