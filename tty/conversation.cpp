#include "tty/conversation.hpp"

#include <cctype>
#include <cstddef>

namespace relaygw::tty {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\r' || c == '\n' || c == '\t'; }

// A word of the input: characters [begin, end) of the TimedChar sequence.
struct Word {
  std::size_t begin = 0;
  std::size_t end = 0;
};

std::vector<Word> split_words(std::span<const TimedChar> chars) {
  std::vector<Word> words;
  std::size_t i = 0;
  while (i < chars.size()) {
    if (is_blank(chars[i].ch)) {
      ++i;
      continue;
    }
    Word word{i, i};
    while (i < chars.size() && !is_blank(chars[i].ch)) {
      ++i;
    }
    word.end = i;
    words.push_back(word);
  }
  return words;
}

bool word_is(std::span<const TimedChar> chars, const Word& word, std::string_view expected) {
  if (word.end - word.begin != expected.size()) {
    return false;
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto c = static_cast<unsigned char>(chars[word.begin + i].ch);
    if (std::toupper(c) != expected[i]) {
      return false;
    }
  }
  return true;
}

bool is_stop_keying(std::span<const TimedChar> chars, const Word& word) {
  return word_is(chars, word, "SK") || word_is(chars, word, "SKSK");
}

// Returns how many words starting at `words[i]` form a marker, and sets `marker`; 0 when the
// word there is not a marker.
std::size_t match_marker(std::span<const TimedChar> chars, const std::vector<Word>& words,
                         std::size_t i, TurnMarker& marker) {
  if (word_is(chars, words[i], "GA")) {
    if (i + 2 < words.size() && word_is(chars, words[i + 1], "OR") &&
        is_stop_keying(chars, words[i + 2])) {
      marker = TurnMarker::GoAheadOrStopKeying;
      return 3;
    }
    marker = TurnMarker::GoAhead;
    return 1;
  }
  if (is_stop_keying(chars, words[i])) {
    marker = TurnMarker::StopKeying;
    return 1;
  }
  return 0;
}

// Builds a turn from the content words [first, last) and marker words [last, marker_end).
Turn make_turn(std::span<const TimedChar> chars, const std::vector<Word>& words, std::size_t first,
               std::size_t last, std::size_t marker_end, TurnMarker marker) {
  Turn turn;
  turn.marker = marker;
  for (std::size_t w = first; w < last; ++w) {
    if (!turn.text.empty()) {
      turn.text.push_back(' ');
    }
    for (std::size_t i = words[w].begin; i < words[w].end; ++i) {
      turn.text.push_back(chars[i].ch);
      if (chars[i].ch == '?') {
        turn.question = true;
      }
    }
    if (word_is(chars, words[w], "Q")) {
      turn.question = true;
    }
  }
  turn.start_s = chars[words[first].begin].time_s;
  turn.end_s = chars[words[marker_end - 1].end - 1].time_s;
  return turn;
}

}  // namespace

const char* to_string(TurnMarker marker) {
  switch (marker) {
    case TurnMarker::None:
      return "";
    case TurnMarker::GoAhead:
      return "GA";
    case TurnMarker::StopKeying:
      return "SK";
    case TurnMarker::GoAheadOrStopKeying:
      return "GA OR SK";
  }
  return "";
}

std::vector<Turn> split_turns(std::span<const TimedChar> chars) {
  const std::vector<Word> words = split_words(chars);
  std::vector<Turn> turns;
  std::size_t first = 0;  // first word of the current turn
  std::size_t i = 0;
  while (i < words.size()) {
    TurnMarker marker = TurnMarker::None;
    const std::size_t marker_words = match_marker(chars, words, i, marker);
    if (marker_words == 0) {
      ++i;
      continue;
    }
    std::size_t marker_end = i + marker_words;
    // "SK SK" and "GA OR SK SK" are one sign-off, not a second, empty turn.
    if (marker != TurnMarker::GoAhead) {
      while (marker_end < words.size() && is_stop_keying(chars, words[marker_end])) {
        ++marker_end;
      }
    }
    turns.push_back(make_turn(chars, words, first, i, marker_end, marker));
    first = marker_end;
    i = marker_end;
  }
  if (first < words.size()) {
    turns.push_back(make_turn(chars, words, first, words.size(), words.size(), TurnMarker::None));
  }
  return turns;
}

std::vector<Turn> split_turns(std::string_view text) {
  std::vector<TimedChar> chars;
  chars.reserve(text.size());
  for (char c : text) {
    chars.push_back({c, 0.0});
  }
  return split_turns(chars);
}

}  // namespace relaygw::tty
