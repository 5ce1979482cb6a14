// US TTY (TDD) Baudot codec: 5-bit codes to text and back, with the letters/figures shift.
//
// The US TTY figures set differs from ITA2: D=$, F=!, G=&, H=#, J=', S=bell, V=;, Z=".
// Senders follow one of two shift conventions after a space: "unshift on space" senders
// assume the receiver falls back to letters and send FIGS again before a figure, while
// "keep figures" senders send nothing and expect figures to continue. The decoder's Auto
// convention tells them apart from the stream itself (see BaudotDecoder).
//
// Thread rules: each encoder and decoder instance belongs to one line; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relaygw::tty {

inline constexpr std::uint8_t kCodeNull = 0x00;
inline constexpr std::uint8_t kCodeLineFeed = 0x02;
inline constexpr std::uint8_t kCodeSpace = 0x04;
inline constexpr std::uint8_t kCodeCarriageReturn = 0x08;
inline constexpr std::uint8_t kCodeFigures = 0x1B;
inline constexpr std::uint8_t kCodeLetters = 0x1F;

// The bell (figures S) is decoded as this character.
inline constexpr char kBell = '\a';

enum class ShiftState { Letters, Figures };

// How the decoder treats a character that follows a space while in figures.
enum class ShiftConvention {
  Auto,            // decide per stream from the sender's own shifts, then from the word itself
  ExplicitOnly,    // only LTRS and FIGS change the shift (Asterisk and spandsp receivers)
  UnshiftOnSpace,  // a space returns to letters (minimodem's receiver)
};

// Returns the character for `code` (0..31) in `state`, or '\0' for LTRS, FIGS and NULL.
char baudot_char(std::uint8_t code, ShiftState state);

// A decoded character with the time its start bit began, in seconds from the stream start.
struct TimedChar {
  char ch = '\0';
  double time_s = 0.0;
};

// Decodes a stream of 5-bit codes to text.
//
// With ShiftConvention::Auto the decoder holds back the word that follows a space received in
// figures until the word ends (a space, CR, LF, shift or flush), then chooses letters or figures
// for it: first from what the sender has shown (a FIGS right after a space while already in
// figures marks an unshift-on-space sender; a LTRS there marks a sender that keeps figures),
// and otherwise from which reading is plausible text. Other characters come out at once.
class BaudotDecoder {
 public:
  explicit BaudotDecoder(ShiftConvention convention = ShiftConvention::Auto);

  // Appends the characters that `code` (0..31) completes to `out`. `time_s` is the code's
  // start time. Codes above 31 are ignored. Allocates only when `out` grows.
  void push(std::uint8_t code, double time_s, std::vector<TimedChar>& out);

  // Appends any held-back characters, for example when the carrier drops.
  void flush(std::vector<TimedChar>& out);

  // Starts a new transmission: letters shift, nothing held back. Learned sender convention
  // is kept, because the same device is still on the line.
  void reset();

  ShiftConvention convention() const { return convention_; }

 private:
  struct Pending {
    std::uint8_t code;
    double time_s;
  };

  void emit(std::uint8_t code, ShiftState state, double time_s, std::vector<TimedChar>& out);
  void resolve_pending(std::vector<TimedChar>& out);

  ShiftConvention convention_;
  ShiftState state_ = ShiftState::Letters;
  bool after_space_in_figures_ = false;
  // What Auto has learned about the sender: Auto until evidence arrives.
  ShiftConvention learned_ = ShiftConvention::Auto;
  std::vector<Pending> pending_;
};

// A character that has no Baudot code and was not mapped, with its offset in the input.
struct UnencodableChar {
  char32_t ch = 0;
  std::size_t offset = 0;
};

struct EncodedText {
  std::vector<std::uint8_t> codes;
  std::vector<UnencodableChar> unencodable;
};

// Encodes text to 5-bit codes that both receiver conventions decode the same way.
//
// It sends a shift before the first character of each transmission and after the far end has
// sent text, and after every space it re-sends the shift of the next printable character.
// Lower case is mapped to upper case, tab to space, "\r\n" to CR LF, and a few common
// characters with no code ('@', '*', '+', '=', '%', '_', '<', '>', '[', ']', '{', '}') to the
// nearest sensible text; anything else is reported in `unencodable`, never silently dropped.
class BaudotEncoder {
 public:
  EncodedText encode(std::string_view utf8_text);

  // Call when the far end has transmitted, so the next character carries a shift again.
  void note_far_end_sent() { shift_known_ = false; }

 private:
  ShiftState state_ = ShiftState::Letters;
  bool shift_known_ = false;
};

}  // namespace relaygw::tty
