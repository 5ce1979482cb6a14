// TTY conversation turns: splitting received text at the turn-taking words TTY users type.
//
// TTY lines are half duplex by convention, so users end each turn with a word. GA ("go ahead")
// lets the other side type. SK ("stop keying", often doubled as SK SK or SKSK) means ready to
// hang up. GA OR SK offers the other side the choice to continue or end. A "Q" typed as a word
// stands for a question mark and does not end the turn, but marks the turn as a question.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tty/baudot.hpp"

namespace relaygw::tty {

enum class TurnMarker {
  None,                // the text ended without a marker: the turn is still open
  GoAhead,             // GA
  StopKeying,          // SK, SK SK or SKSK
  GoAheadOrStopKeying  // GA OR SK
};

// The marker as typed: "", "GA", "SK" or "GA OR SK".
const char* to_string(TurnMarker marker);

// One turn of a conversation.
struct Turn {
  // The words before the marker, with each run of spaces, CR and LF shown as one space and
  // none at either end. Empty when the marker was typed alone (for example a bare SK).
  std::string text;
  TurnMarker marker = TurnMarker::None;
  // True when the turn contains a "Q" word or a '?'.
  bool question = false;
  // Start time of the turn's first character and of the last character of its marker (of its
  // last character when the marker is None), in the TimedChar clock. 0 for untimed text.
  double start_s = 0.0;
  double end_s = 0.0;
};

// Splits decoded characters into turns. Markers are whole words, matched without regard to
// case; "GAS" or "ASK" never end a turn. Whitespace-only stretches produce no turn.
std::vector<Turn> split_turns(std::span<const TimedChar> chars);

// Splits plain text the same way; every time is 0.
std::vector<Turn> split_turns(std::string_view text);

}  // namespace relaygw::tty
