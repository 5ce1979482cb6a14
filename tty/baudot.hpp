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

#include <array>
#include <cstddef>
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
// and otherwise from which reading is plausible: a letters reading found in a built-in list of
// common words and TTY abbreviations wins, then a figures reading that looks like a number
// (digit groups joined by - . , : or /), and letters otherwise. Once the sender has shown its
// convention, the latest evidence decides without holding anything back. All other characters
// come out at once. ExplicitOnly and UnshiftOnSpace apply their rule without guessing.
class BaudotDecoder {
 public:
  explicit BaudotDecoder(ShiftConvention convention = ShiftConvention::Auto);

  // Appends the characters that `code` (0..31) completes to `out`. `time_s` is the code's
  // start time. Codes above 31 are ignored. Allocates only when `out` grows.
  void push(std::uint8_t code, double time_s, std::vector<TimedChar>& out);

  // Like push() above, with the demodulator's decision margin of each data bit. Index 0 is the
  // least significant bit, and a margin is about 1 for a typical bit and near 0 for a bit that
  // was almost read the other way. A misread LTRS or FIGS turns every character up to the next
  // shift into the other table. So a shift code with a bit below kDoubtfulBit, or a code one
  // such bit away from a shift code, is held with the rest of its word (up to a space, CR, LF
  // or shift code). When the word ends, the decoder reads it both ways and takes the other
  // reading only when its plausibility_score is higher by kDoubtMargin or more. A NULL whose
  // weakest bit is below kDoubtfulBit is read as the code with that bit flipped.
  void push(std::uint8_t code, const std::array<float, 5>& bit_confidence, double time_s,
            std::vector<TimedChar>& out);

  // Appends any held-back characters, for example when the carrier drops.
  void flush(std::vector<TimedChar>& out);

  // Starts a new transmission: letters shift, held-back characters discarded (call flush()
  // first to keep them). The learned sender convention is kept, because the same device is
  // still on the line.
  void reset();

  ShiftConvention convention() const { return convention_; }

  // A bit whose decision margin is below this is doubtful. At -9 dB SNR (the noise bench's set)
  // misread bits have a median margin of 0.16, and the weakest bit of a correctly read shift
  // code has a median of 0.51.
  static constexpr float kDoubtfulBit = 0.4F;
  // How much higher a plausibility_score the other reading of a doubtful word needs to be chosen.
  static constexpr int kDoubtMargin = 3;

 private:
  struct Pending {
    std::uint8_t code;
    double time_s;
  };

  // A held word longer than this is decided at once, which bounds memory on a noisy line.
  static constexpr std::size_t kMaxPendingCodes = 32;

  // Everything that decides how the next code reads. Plain data, so that a copy can try a
  // reading without allocating.
  struct State {
    ShiftState shift = ShiftState::Letters;
    bool after_space_in_figures = false;
    // What Auto has learned about the sender: Auto until evidence arrives.
    ShiftConvention learned = ShiftConvention::Auto;
    std::array<Pending, kMaxPendingCodes> pending{};
    std::size_t pending_count = 0;
  };

  // A code that may be a misread shift code (or a shift code that may be misread), with the
  // codes of its word that followed it.
  struct Doubt {
    bool active = false;
    std::uint8_t received = 0;
    std::uint8_t alternative = 0;
    double time_s = 0.0;
    std::array<Pending, kMaxPendingCodes> word{};
    std::size_t word_count = 0;
    bool after_space = false;  // the code came right after a space
  };

  void push_code(State& state, std::uint8_t code, double time_s, std::vector<TimedChar>& out) const;
  static void emit(std::uint8_t code, ShiftState shift, double time_s, std::vector<TimedChar>& out);
  static ShiftState choose_pending_shift(const State& state);
  static void resolve_pending(State& state, std::vector<TimedChar>& out);
  int score_reading(std::uint8_t first);
  void replay_doubt(State& state, std::uint8_t first, std::vector<TimedChar>& out) const;
  void resolve_doubt(std::vector<TimedChar>& out);

  ShiftConvention convention_;
  State state_;
  Doubt doubt_;
  std::uint8_t last_code_ = 0;  // the code before the current one (confidence overload)
  // The sender has sent a LTRS right after a space while the decoder was already in letters,
  // which only senders that shift after every space do (kept across reset(), like `learned`).
  bool shifts_after_space_ = false;
  std::vector<TimedChar> trial_;  // scratch text for score_reading, reserved once
};

// Returns a plausibility score of decoded TTY text, summed over its words: numbers and known
// words score highest, words with a vowel next, and words that mix letters with figures or
// contain punctuation that text rarely has inside a word score below zero.
int plausibility_score(std::string_view text);

// A character that has no Baudot code and was not mapped, with its byte offset in the input.
// A byte that is not valid UTF-8 is reported on its own with `invalid_utf8` set and `ch`
// holding the byte value.
struct UnencodableChar {
  char32_t ch = 0;
  std::size_t offset = 0;
  bool invalid_utf8 = false;
};

// The encoder's output: the codes to send and every input character that was left out.
struct EncodedText {
  std::vector<std::uint8_t> codes;
  std::vector<UnencodableChar> unencodable;
};

// Encodes text to 5-bit codes that every receiver convention decodes the same way.
//
// It sends a shift before the first printable character of each transmission and after the
// far end has sent text. After a space it sends FIGS again before the next figure, for
// receivers that unshift on space. It sends LTRS before the next letter if it was in figures,
// for receivers that keep figures. So "AT 12 30" becomes LTRS A T SP FIGS Q W SP FIGS E P.
//
// Mappings: lower case to upper case, tab to space, "\r\n", a lone "\n" and a lone "\r" to
// CR LF, '\a' to the bell, '_' to '-', '<' '[' '{' to '(' and '>' ']' '}' to ')', and '@', '*',
// '+', '=', '%' to the words AT, STAR, PLUS, EQUALS, PERCENT set off by spaces (but no space
// before a closing ')', '.', ',', ':', ';', '?', '!' or quote). Typographic
// quotation marks, dashes and the no-break space become their ASCII forms. Anything else is
// reported in `unencodable`, never silently dropped.
class BaudotEncoder {
 public:
  // Encodes `utf8_text` as the continuation of the current transmission.
  EncodedText encode(std::string_view utf8_text);

  // Starts a new transmission, so the next printable character carries a shift again.
  void start_transmission() { shift_known_ = false; }

  // Call when the far end has transmitted, so the next character carries a shift again.
  void note_far_end_sent() { shift_known_ = false; }

 private:
  void put_printable(std::uint8_t code, ShiftState shift, std::vector<std::uint8_t>& out);
  void put_word(std::string_view word, std::vector<std::uint8_t>& out);

  ShiftState state_ = ShiftState::Letters;
  bool shift_known_ = false;
  // A space went out since the last shift code, so an unshift-on-space receiver is in letters.
  bool space_since_shift_ = false;
  // The last code sent was a printable character other than a space.
  bool last_was_printable_ = false;
  // A word mapping ended, so a space goes out before the next printable character.
  bool space_owed_ = false;
};

}  // namespace relaygw::tty
