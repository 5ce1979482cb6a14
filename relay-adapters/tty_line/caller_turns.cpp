#include "relay-adapters/tty_line/caller_turns.hpp"

#include <algorithm>
#include <utility>

namespace relaygw::relay::tty_line {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\r' || c == '\n' || c == '\t'; }

// Returns the index where the second-to-last whole word starts, or 0 when fewer than two whole
// words are held. A word is whole once a blank follows it. A marker that ends before this index
// has two whole words after it, which decides "GA" against "GA OR SK" and ends an SK run.
std::size_t stable_limit(const std::vector<tty::TimedChar>& chars) {
  std::size_t whole_words = 0;
  std::size_t i = chars.size();
  // Skip the word still being typed, if any.
  while (i > 0 && !is_blank(chars[i - 1].ch)) {
    --i;
  }
  while (i > 0) {
    while (i > 0 && is_blank(chars[i - 1].ch)) {
      --i;
    }
    if (i == 0) {
      break;
    }
    while (i > 0 && !is_blank(chars[i - 1].ch)) {
      --i;
    }
    if (++whole_words == 2) {
      return i;
    }
  }
  return 0;
}

}  // namespace

void CallerTurns::add(std::span<const tty::TimedChar> chars) {
  chars_.insert(chars_.end(), chars.begin(), chars.end());
}

void CallerTurns::end_transmission() { transmission_end_ = chars_.size(); }

void CallerTurns::take_turns(std::vector<tty::Turn>& out) {
  const std::size_t limit = std::max(stable_limit(chars_), transmission_end_);
  take_up_to(limit, chars_.size() > kMaxHeldChars, out);
}

void CallerTurns::finish(std::vector<tty::Turn>& out) {
  take_up_to(chars_.size(), true, out);
  transmission_end_ = 0;
}

void CallerTurns::take_up_to(std::size_t limit, bool open_turn_too, std::vector<tty::Turn>& out) {
  // Split a copy whose times are the character indexes, so each turn's end_s is the index of
  // its last character in chars_. The real times are put back below.
  std::vector<tty::TimedChar> indexed(chars_.size());
  for (std::size_t i = 0; i < chars_.size(); ++i) {
    indexed[i] = {chars_[i].ch, static_cast<double>(i)};
  }
  std::vector<tty::Turn> turns = tty::split_turns(indexed);

  std::size_t consumed = 0;
  for (tty::Turn& turn : turns) {
    const auto end = static_cast<std::size_t>(turn.end_s);
    const bool final_marker = turn.marker != tty::TurnMarker::None && end < limit;
    if (!final_marker && !(open_turn_too && turn.marker == tty::TurnMarker::None)) {
      break;
    }
    turn.start_s = chars_[static_cast<std::size_t>(turn.start_s)].time_s;
    turn.end_s = chars_[end].time_s;
    out.push_back(std::move(turn));
    consumed = end + 1;
  }
  const bool only_blanks_left =
      std::all_of(chars_.begin() + static_cast<std::ptrdiff_t>(consumed), chars_.end(),
                  [](const tty::TimedChar& c) { return is_blank(c.ch); });
  if (open_turn_too && only_blanks_left) {
    consumed = chars_.size();
  }

  chars_.erase(chars_.begin(), chars_.begin() + static_cast<std::ptrdiff_t>(consumed));
  transmission_end_ = transmission_end_ > consumed ? transmission_end_ - consumed : 0;
}

}  // namespace relaygw::relay::tty_line
