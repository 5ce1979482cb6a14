// CallerTurns: splits a TTY caller's text into finished turns as it arrives.
//
// tty::split_turns works on complete text. On a live line a marker is not final as soon as it
// is typed: "GA" may become "GAS", be followed by "OR SK", and "SK" may be followed by more
// SKs. CallerTurns delays a turn until two whole words follow its marker or the caller's
// transmission ends (carrier off). It then returns the turn with the same text and marker that
// tty::split_turns gives for the whole text.
//
// Thread rules: one instance per line, used from one thread (or strand) at a time.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "tty/baudot.hpp"
#include "tty/conversation.hpp"

namespace relaygw::relay::tty_line {

class CallerTurns {
 public:
  // Text held without a marker past this many characters is returned as an open turn (marker
  // None), which bounds memory when a caller never types GA or SK. About 11 minutes of
  // continuous typing at 45.45 baud.
  static constexpr std::size_t kMaxHeldChars = 4096;

  // Appends decoded characters, in order.
  void add(std::span<const tty::TimedChar> chars);

  // Marks the end of the caller's transmission: markers received so far are final.
  void end_transmission();

  // Appends the turns that are final to `out`, oldest first, and drops their characters.
  void take_turns(std::vector<tty::Turn>& out);

  // Appends everything still held as turns, the last one open when it has no marker, for
  // example when the line closes.
  void finish(std::vector<tty::Turn>& out);

  // Characters held back, not yet returned in a turn.
  std::size_t held_chars() const { return chars_.size(); }

 private:
  void take_up_to(std::size_t limit, bool open_turn_too, std::vector<tty::Turn>& out);

  std::vector<tty::TimedChar> chars_;
  // Characters before this index were received before the last end of transmission.
  std::size_t transmission_end_ = 0;
};

}  // namespace relaygw::relay::tty_line
