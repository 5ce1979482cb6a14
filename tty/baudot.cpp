#include "tty/baudot.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <string_view>

namespace relaygw::tty {
namespace {

// Letters and US TTY figures by code, with the standard ITA2 bit assignments. '\0' marks
// NULL, LTRS and FIGS, which print nothing.
constexpr std::array<char, 32> kLetters = {
    '\0', 'E', '\n', 'A', ' ', 'S', 'I', 'U', '\r', 'D', 'R', 'J',  'N', 'F', 'C', 'K',
    'T',  'Z', 'L',  'W', 'H', 'Y', 'P', 'Q', 'O',  'B', 'G', '\0', 'M', 'X', 'V', '\0'};
constexpr std::array<char, 32> kFigures = {
    '\0', '3', '\n', '-', ' ', kBell, '8', '7', '\r', '$', '4', '\'', ',', '!', ':', '(',
    '5',  '"', ')',  '2', '#', '6',   '0', '1', '9',  '?', '&', '\0', '.', '/', ';', '\0'};

// Words that a keep-figures stream could also read as a number, because their letters come
// from the top row QWERTYUIOP (digits in figures) or from A C M N X (- : . , / in figures),
// plus TTY abbreviations. When a word after a space received in figures has no shift before it
// and the sender's convention is not known yet, a letters reading found here wins. Each word
// is followed by one space, so the list can be searched for "WORD ".
constexpr std::string_view kKnownWords =
    // TTY abbreviations and short forms.
    "Q QQ U UR R RU TY YR WRT OPR RPT IOU PO OT TTY TT PT QT OIC TMW TMRW TOMW "
    // Common English words.
    "I IT TO TOO TWO UP OR OUR OUT PUT WE YE YET YOU YOUR YOURE TRY TYPE TYPO TYPIST "
    "WRITE WROTE WRITER QUIT QUITE QUIET QUERY QUOTE QUOTER TOP REPORT REPORTER "
    "PRETTY PROPER PROPERTY ROUTE ROUTER TOUR POWER TIRE TIRED TREE TRUE TRIP WIRE "
    "WIPE RIPE TIP PIT POT ROT TOY TOW TOWER WORE PORT PORTER POUR POET POETRY PRIOR "
    "PRIORITY PIPE PIE TIE TOE WET WIT OWE RE REP RIP ROPE PURE PUTT UTTER EQUIP "
    "EQUITY ERUPT RETRY RETIRE RETIRED OUTPUT PEER PEEP PET PEW PREY PUPPET TOTE "
    "TORE TROUPE TRIO TUTOR WETTER PITY POTTY PUTTY QUIETER RIOT ROOT TEETER TOOTER "
    "TYRE YIP YO OPT PEWTER PERT POTTER REQUIRE REQUITE ROTI TITTER TROT TWIT TWEET "
    "TWITTER TYPEWRITER WORRY ERROR TERRY TROY PETE PETER A AM AN AT IN ON ONE ONTO "
    "INTO TEN TIME TIMER ITEM ITEMS OPEN TOWN WON WENT RAIN PAIN TRAIN TEAM TEAR "
    "YEAR WEAR PRAY RUIN QUEEN TWIN TORN TURN RETURN PAINT POINT PRINT TEXT EXIT "
    "UNIT UNTIL ENTER TONE WOMEN WRITTEN PM PEN PIN TIN TUNE EARN EAT TEA PEA AREA "
    "IRON INPUT IMPORT EMPTY WAIT WAITER PARTY PART PAPER WATER EITHER OPTION NOTE "
    "NOT NOW NO NEW NEWT NONE NOON NINE NINETY TWENTY THIRTY MINUTE MEET MET MOM MY "
    "ME NAME CAN CUT CITY COUNTY CENTER ACTION EXTRA EXPERT EXPORT MORE MOTOR MOUNT "
    "MUTE TAX TAXI TEAMWORK WANT QUOTA RATE RATES CENT CENTS COPY CORNER CREATE CREW "
    "CROWN CUP MENU MINOR MIRROR MONEY NATURE NEAR NET NEWER NEXT NOTICE NUMBER "
    "OCEAN OPINION ORANGE OWNER PANIC PIANO PICNIC PIECE POEM PRICE PRINCE PROMPT "
    "PUMP RACE RECENT REMAIN REMOTE REPAIR RETAIN RIVER ROMAN RUN RUMOR TAME TENANT "
    "TIMING TONIGHT TOMATO TRACE TRACT TREAT TWICE UNCLE UNION UNITE UPON URBAN "
    "WAITING WARM WATCH WINTER WOMAN WORN TOMORROW TOMORROWS ";

bool is_known_word(std::string_view word) {
  if (word.empty()) {
    return false;
  }
  for (std::size_t pos = kKnownWords.find(word); pos != std::string_view::npos;
       pos = kKnownWords.find(word, pos + 1)) {
    const bool starts_word = pos == 0 || kKnownWords[pos - 1] == ' ';
    const std::size_t end = pos + word.size();
    if (starts_word && end < kKnownWords.size() && kKnownWords[end] == ' ') {
      return true;
    }
  }
  return false;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// True when `text` reads as a number: an optional leading '$', '#' or '(', digit groups joined
// by single separators, and an optional trailing '.', ',' or ')'. The group after a separator
// must fit how numbers are written: '.' is followed by 1 or 2 digits (money, "2.5"), ':' by 2
// (times), ',' by 3 (thousands), and '-' and '/' by any count (phone numbers, dates). This
// rejects letter words such as TOMORROW, whose figures reading is 59.94492.
bool looks_numeric(std::string_view text) {
  // After a leading '(' a ')' may also join groups, as in "(555)555-0142".
  const bool opened = !text.empty() && text.front() == '(';
  if (!text.empty() && (text.front() == '$' || text.front() == '#' || text.front() == '(')) {
    text.remove_prefix(1);
  }
  if (!text.empty() && (text.back() == '.' || text.back() == ',' || text.back() == ')')) {
    text.remove_suffix(1);
  }
  if (text.empty() || !is_digit(text.front()) || !is_digit(text.back())) {
    return false;
  }
  char separator = '\0';  // the separator before the current digit group
  std::size_t group_length = 0;
  const auto group_fits = [&] {
    switch (separator) {
      case '.':
        return group_length == 1 || group_length == 2;
      case ':':
        return group_length == 2;
      case ',':
        return group_length == 3;
      default:
        return true;
    }
  };
  for (char c : text) {
    if (is_digit(c)) {
      ++group_length;
      continue;
    }
    const bool separator_allowed =
        std::string_view("-.,:/").find(c) != std::string_view::npos || (opened && c == ')');
    if (!separator_allowed || group_length == 0 || !group_fits()) {
      return false;
    }
    separator = c;
    group_length = 0;
  }
  return group_fits();
}

// TTY abbreviations that plausibility_score counts as known words. Most have no vowel, so they
// would otherwise score as unlikely letter strings, and GA is too short to score as high.
constexpr std::string_view kAbbreviations =
    "GA SK SKSK PLS PLZ MSG THX NBR MR MRS DR ST HR HRS TX ";

bool is_abbreviation(std::string_view word) {
  for (std::size_t pos = kAbbreviations.find(word); pos != std::string_view::npos;
       pos = kAbbreviations.find(word, pos + 1)) {
    const std::size_t end = pos + word.size();
    if ((pos == 0 || kAbbreviations[pos - 1] == ' ') && kAbbreviations[end] == ' ') {
      return true;
    }
  }
  return false;
}

bool is_letter(char c) { return c >= 'A' && c <= 'Z'; }

bool is_vowel(char c) { return std::string_view("AEIOUY").find(c) != std::string_view::npos; }

// True when `word` (letters only) breaks a spelling rule of English that holds for almost every
// word, abbreviation and name: Q is followed by U, and no more than three consonants are in a
// row. Misread shifts turn figures into letter strings such as RIWQE (48213) or TTT (555).
bool breaks_spelling(std::string_view word) {
  std::size_t consonants = 0;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (word[i] == 'Q' && (i + 1 >= word.size() || word[i + 1] != 'U') && word.size() > 1) {
      return true;
    }
    consonants = is_vowel(word[i]) ? 0 : consonants + 1;
    if (consonants > 3) {
      return true;
    }
  }
  return false;
}

// Scores one word (no whitespace) for plausibility_score.
int word_score(std::string_view word) {
  const std::string_view whole = word;
  // One opening and one closing mark may surround a word or a number.
  if (!word.empty() && std::string_view("($#\"'").find(word.front()) != std::string_view::npos) {
    word.remove_prefix(1);
  }
  if (!word.empty() && std::string_view(".,)?!:;\"'").find(word.back()) != std::string_view::npos) {
    word.remove_suffix(1);
  }
  if (word.empty()) {
    return 0;
  }
  std::size_t letters = 0;
  std::size_t digits = 0;
  std::size_t number_marks = 0;  // - . , : / between digit groups
  std::size_t word_marks = 0;    // ' and - inside a word, as in DON'T or X-RAY
  for (const char c : word) {
    if (is_letter(c)) {
      ++letters;
    } else if (is_digit(c)) {
      ++digits;
    } else if (std::string_view("-.,:/").find(c) != std::string_view::npos) {
      ++number_marks;
      word_marks += c == '-' ? 1 : 0;
    } else if (c == '\'') {
      ++word_marks;
    } else {
      return -2;  // a bell, quote, semicolon, ! & # ( ) ? inside a word
    }
  }
  if (letters > 0 && digits > 0) {
    return -2;
  }
  // A one-character word is weak evidence either way: many codes read as a plausible single
  // letter or digit.
  if (word.size() == 1) {
    return 1;
  }
  if (digits > 0) {
    return looks_numeric(whole) || looks_numeric(word) ? 3 : 0;
  }
  if (number_marks > word_marks) {
    return -2;  // a letter word with . , : or / inside
  }
  if (is_known_word(word) || is_abbreviation(word)) {
    return 3;
  }
  if (breaks_spelling(word) || !std::any_of(word.begin(), word.end(), is_vowel)) {
    return 0;
  }
  return word.size() >= 3 ? 3 : 2;
}

bool is_printable_code(std::uint8_t code) {
  return code != kCodeNull && code != kCodeLineFeed && code != kCodeSpace &&
         code != kCodeCarriageReturn && code != kCodeFigures && code != kCodeLetters;
}

}  // namespace

int plausibility_score(std::string_view text) {
  int score = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find_first_of(" \r\n", start);
    const std::size_t stop = end == std::string_view::npos ? text.size() : end;
    if (stop > start) {
      score += word_score(text.substr(start, stop - start));
    }
    start = stop + 1;
  }
  return score;
}

char baudot_char(std::uint8_t code, ShiftState state) {
  if (code > 31) {
    return '\0';
  }
  return state == ShiftState::Letters ? kLetters[code] : kFigures[code];
}

// ---------------------------------------------------------------------------------------------
// Decoder

BaudotDecoder::BaudotDecoder(ShiftConvention convention) : convention_(convention) {
  trial_.reserve(2 * kMaxPendingCodes + 2);
}

void BaudotDecoder::push(std::uint8_t code, double time_s, std::vector<TimedChar>& out) {
  if (doubt_.active) {
    resolve_doubt(out);
  }
  push_code(state_, code, time_s, out);
}

namespace {

// Returns the code that `code` would be if its least certain bit was misread, when that changes
// a shift code into another code or another code into a shift code; else `code` itself.
std::uint8_t doubtful_alternative(std::uint8_t code, const std::array<float, 5>& confidence,
                                  float doubtful) {
  if (code == kCodeFigures || code == kCodeLetters) {
    const auto weakest = static_cast<std::size_t>(
        std::min_element(confidence.begin(), confidence.end()) - confidence.begin());
    return confidence[weakest] < doubtful ? static_cast<std::uint8_t>(code ^ (1u << weakest))
                                          : code;
  }
  for (const std::uint8_t shift : {kCodeFigures, kCodeLetters}) {
    const auto differing = static_cast<unsigned>(code ^ shift);
    if (std::popcount(differing) == 1 &&
        confidence[static_cast<std::size_t>(std::countr_zero(differing))] < doubtful) {
      return shift;
    }
  }
  return code;
}

// Returns the code a received NULL (all five bits space) is read as: the code with its weakest
// bit flipped when that bit's confidence is below `doubtful`, else NULL. Text never contains
// NULL, so in noise it is most likely a space (0x04), E, T, CR or LF with one bit misread. On the
// noise bench's -9 dB set this removed 7 of the 264 errors.
// NOTE: a sender that sends NULL as idle fill would show a stray character for each NULL that
// arrives with a weak bit.
std::uint8_t reread_null(const std::array<float, 5>& confidence, float doubtful) {
  const auto weakest = static_cast<std::size_t>(
      std::min_element(confidence.begin(), confidence.end()) - confidence.begin());
  if (confidence[weakest] >= doubtful) {
    return kCodeNull;
  }
  return static_cast<std::uint8_t>(1u << weakest);
}

// Codes that continue a word held after a doubtful code; any other code ends it.
bool continues_word(std::uint8_t code) {
  return code <= 31 && code != kCodeSpace && code != kCodeCarriageReturn && code != kCodeLineFeed &&
         code != kCodeFigures && code != kCodeLetters;
}

}  // namespace

void BaudotDecoder::push(std::uint8_t code, const std::array<float, 5>& bit_confidence,
                         double time_s, std::vector<TimedChar>& out) {
  if (doubt_.active) {
    if (continues_word(code) && doubt_.word_count < kMaxPendingCodes) {
      doubt_.word[doubt_.word_count++] = {code, time_s};
      last_code_ = code;
      return;
    }
    resolve_doubt(out);
  }
  if (code > 31) {
    return;
  }
  if (code == kCodeNull) {
    code = reread_null(bit_confidence, kDoubtfulBit);
  }
  const bool after_space = last_code_ == kCodeSpace;
  last_code_ = code;
  const std::uint8_t alternative = doubtful_alternative(code, bit_confidence, kDoubtfulBit);
  if (alternative != code) {
    doubt_.active = true;
    doubt_.received = code;
    doubt_.alternative = alternative;
    doubt_.time_s = time_s;
    doubt_.word_count = 0;
    doubt_.after_space = after_space;
    return;
  }
  if (code == kCodeLetters && after_space && state_.shift == ShiftState::Letters) {
    shifts_after_space_ = true;
  }
  push_code(state_, code, time_s, out);
}

void BaudotDecoder::push_code(State& s, std::uint8_t code, double time_s,
                              std::vector<TimedChar>& out) const {
  if (code > 31 || code == kCodeNull) {
    return;
  }

  switch (code) {
    case kCodeLetters:
    case kCodeFigures: {
      // A shift right after a space received in figures shows the sender's convention: only
      // a sender that assumes the receiver unshifted on the space re-sends FIGS there, and
      // only a sender that assumes figures continue needs LTRS there.
      if (s.after_space_in_figures) {
        s.learned =
            code == kCodeFigures ? ShiftConvention::UnshiftOnSpace : ShiftConvention::ExplicitOnly;
      }
      resolve_pending(s, out);
      s.shift = code == kCodeFigures ? ShiftState::Figures : ShiftState::Letters;
      s.after_space_in_figures = false;
      return;
    }
    case kCodeSpace:
      resolve_pending(s, out);
      emit(code, s.shift, time_s, out);
      if (convention_ == ShiftConvention::UnshiftOnSpace) {
        s.shift = ShiftState::Letters;
      } else if (convention_ == ShiftConvention::Auto && s.shift == ShiftState::Figures) {
        s.after_space_in_figures = true;
      }
      return;
    case kCodeCarriageReturn:
    case kCodeLineFeed:
      // CR and LF end a held word but keep the after-space state, because neither sender
      // convention handled here shifts on them.
      resolve_pending(s, out);
      emit(code, s.shift, time_s, out);
      return;
    default:
      break;
  }

  if (s.pending_count > 0) {
    s.pending[s.pending_count++] = {code, time_s};
    if (s.pending_count >= kMaxPendingCodes) {
      resolve_pending(s, out);
    }
    return;
  }
  if (s.after_space_in_figures) {
    s.after_space_in_figures = false;
    switch (s.learned) {
      case ShiftConvention::UnshiftOnSpace:
        s.shift = ShiftState::Letters;
        break;
      case ShiftConvention::ExplicitOnly:
        break;
      case ShiftConvention::Auto:
        s.pending[s.pending_count++] = {code, time_s};
        return;
    }
  }
  emit(code, s.shift, time_s, out);
}

void BaudotDecoder::flush(std::vector<TimedChar>& out) {
  if (doubt_.active) {
    resolve_doubt(out);
  }
  resolve_pending(state_, out);
}

void BaudotDecoder::reset() {
  state_.shift = ShiftState::Letters;
  state_.after_space_in_figures = false;
  state_.pending_count = 0;
  doubt_.active = false;
}

void BaudotDecoder::emit(std::uint8_t code, ShiftState shift, double time_s,
                         std::vector<TimedChar>& out) {
  const char c = baudot_char(code, shift);
  if (c != '\0') {
    out.push_back({c, time_s});
  }
}

ShiftState BaudotDecoder::choose_pending_shift(const State& s) {
  // Fixed buffers keep push() free of allocations.
  std::array<char, kMaxPendingCodes> letters{};
  std::array<char, kMaxPendingCodes> figures{};
  const std::size_t count = std::min(s.pending_count, kMaxPendingCodes);
  for (std::size_t i = 0; i < count; ++i) {
    letters[i] = baudot_char(s.pending[i].code, ShiftState::Letters);
    figures[i] = baudot_char(s.pending[i].code, ShiftState::Figures);
  }
  if (is_known_word(std::string_view(letters.data(), count))) {
    return ShiftState::Letters;
  }
  if (looks_numeric(std::string_view(figures.data(), count))) {
    return ShiftState::Figures;
  }
  return ShiftState::Letters;
}

void BaudotDecoder::resolve_pending(State& s, std::vector<TimedChar>& out) {
  if (s.pending_count == 0) {
    return;
  }
  s.shift = choose_pending_shift(s);
  for (std::size_t i = 0; i < s.pending_count; ++i) {
    emit(s.pending[i].code, s.shift, s.pending[i].time_s, out);
  }
  s.pending_count = 0;
}

// Feeds the doubtful code, read as `first`, and the rest of its word to `s`.
void BaudotDecoder::replay_doubt(State& s, std::uint8_t first, std::vector<TimedChar>& out) const {
  push_code(s, first, doubt_.time_s, out);
  for (std::size_t i = 0; i < doubt_.word_count; ++i) {
    push_code(s, doubt_.word[i].code, doubt_.word[i].time_s, out);
  }
}

// Scores the text that the held word gives when its doubtful code is read as `first`, together
// with any word the decoder still holds back from before it.
int BaudotDecoder::score_reading(std::uint8_t first) {
  State trial_state = state_;
  trial_.clear();
  replay_doubt(trial_state, first, trial_);
  resolve_pending(trial_state, trial_);
  std::array<char, 2 * kMaxPendingCodes + 2> text{};
  const std::size_t length = std::min(trial_.size(), text.size());
  for (std::size_t i = 0; i < length; ++i) {
    text[i] = trial_[i].ch;
  }
  return plausibility_score(std::string_view(text.data(), length));
}

void BaudotDecoder::resolve_doubt(std::vector<TimedChar>& out) {
  doubt_.active = false;
  std::uint8_t chosen = doubt_.received;
  // The other reading must be plausible text on its own, not only less implausible, and beat the
  // received reading by as much as an implausible word (score 0) turning into a number or a word
  // of three or more letters (score 3). Smaller margins flipped more right words than wrong ones
  // on the generated -9 dB set. The exception is a letter one bit from LTRS right after a space,
  // from a sender that has shown that it sends LTRS after spaces. There LTRS is the expected
  // code, so a tie reads it as LTRS (" XOR" becomes " OR").
  const int alternative_score = score_reading(doubt_.alternative);
  const bool expected_shift =
      shifts_after_space_ && doubt_.after_space && doubt_.alternative == kCodeLetters;
  const int margin = expected_shift ? 0 : kDoubtMargin;
  if (alternative_score >= 2 && alternative_score >= score_reading(doubt_.received) + margin) {
    chosen = doubt_.alternative;
  }
  replay_doubt(state_, chosen, out);
}

// ---------------------------------------------------------------------------------------------
// Encoder

namespace {

struct CodeAndShift {
  std::uint8_t code;
  ShiftState shift;
};

// Looks up the code of an upper-case printable ASCII character in either table.
bool find_code(char c, CodeAndShift& found) {
  for (std::uint8_t code = 0; code < 32; ++code) {
    if (!is_printable_code(code)) {
      continue;
    }
    if (kLetters[code] == c) {
      found = {code, ShiftState::Letters};
      return true;
    }
    if (kFigures[code] == c) {
      found = {code, ShiftState::Figures};
      return true;
    }
  }
  return false;
}

// Decodes one UTF-8 sequence at `text[pos]`. Returns its length, or 0 when the bytes there
// are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t& cp) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  std::size_t length = 0;
  char32_t min_value = 0;
  if (lead < 0x80) {
    cp = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
    min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
    min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
    min_value = 0x10000;
  } else {
    return 0;
  }
  if (pos + length > text.size()) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char next = byte(pos + i);
    if ((next & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (next & 0x3F);
  }
  if (cp < min_value || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// The ASCII character sent for typographic punctuation that word processors put in text, or
// '\0' for any other character above U+007F.
char ascii_for(char32_t cp) {
  switch (cp) {
    case U'\u00A0':  // no-break space
      return ' ';
    case U'\u2018':  // left and right single quotation marks
    case U'\u2019':
      return '\'';
    case U'\u201C':  // left and right double quotation marks
    case U'\u201D':
      return '"';
    case U'\u2010':  // hyphen, en dash, em dash, minus sign
    case U'\u2013':
    case U'\u2014':
    case U'\u2212':
      return '-';
    default:
      return '\0';
  }
}

// The word sent for a character that has no code, or an empty view.
std::string_view word_for(char c) {
  switch (c) {
    case '@':
      return "AT";
    case '*':
      return "STAR";
    case '+':
      return "PLUS";
    case '=':
      return "EQUALS";
    case '%':
      return "PERCENT";
    default:
      return {};
  }
}

// The printable character sent for an ASCII character, or '\0' when there is none.
char mapped_char(char c) {
  if (c >= 'a' && c <= 'z') {
    return static_cast<char>(c - 'a' + 'A');
  }
  switch (c) {
    case '\t':
      return ' ';
    case '_':
      return '-';
    case '<':
    case '[':
    case '{':
      return '(';
    case '>':
    case ']':
    case '}':
      return ')';
    default:
      return c;
  }
}

}  // namespace

void BaudotEncoder::put_printable(std::uint8_t code, ShiftState shift,
                                  std::vector<std::uint8_t>& out) {
  if (space_owed_) {
    space_owed_ = false;
    out.push_back(kCodeSpace);
    space_since_shift_ = true;
  }

  // Receivers that unshift on space are in letters after a space, and receivers that keep
  // figures are still in figures, so after a space both shifts may be needed.
  bool need_shift = !shift_known_ || shift != state_;
  if (space_since_shift_ && shift == ShiftState::Figures) {
    need_shift = true;
  }
  if (need_shift) {
    out.push_back(shift == ShiftState::Figures ? kCodeFigures : kCodeLetters);
    state_ = shift;
    shift_known_ = true;
  }
  space_since_shift_ = false;
  out.push_back(code);
  last_was_printable_ = true;
}

void BaudotEncoder::put_word(std::string_view word, std::vector<std::uint8_t>& out) {
  // A space separates the word from the character before it, and from the word before it
  // ("5%*" is "5 PERCENT STAR").
  if (last_was_printable_) {
    out.push_back(kCodeSpace);
    space_since_shift_ = true;
    last_was_printable_ = false;
  }
  space_owed_ = false;
  for (char c : word) {
    CodeAndShift found{};
    if (find_code(c, found)) {
      put_printable(found.code, found.shift, out);
    }
  }
  space_owed_ = true;
}

EncodedText BaudotEncoder::encode(std::string_view utf8_text) {
  EncodedText result;
  std::vector<std::uint8_t>& out = result.codes;
  out.reserve(utf8_text.size() + utf8_text.size() / 4 + 2);

  std::size_t pos = 0;
  while (pos < utf8_text.size()) {
    char32_t cp = 0;
    const std::size_t length = decode_utf8(utf8_text, pos, cp);
    if (length == 0) {
      result.unencodable.push_back(
          {static_cast<unsigned char>(utf8_text[pos]), pos, /*invalid_utf8=*/true});
      ++pos;
      continue;
    }
    const std::size_t offset = pos;
    pos += length;
    if (cp >= 0x80) {
      const char ascii = ascii_for(cp);
      if (ascii == '\0') {
        result.unencodable.push_back({cp, offset});
        continue;
      }
      cp = static_cast<unsigned char>(ascii);
    }

    const char c = static_cast<char>(cp);
    if (c == '\r' || c == '\n') {
      // "\r\n", a lone '\n' and a lone '\r' each become CR LF.
      if (c == '\r' && pos < utf8_text.size() && utf8_text[pos] == '\n') {
        ++pos;
      }
      space_owed_ = false;
      out.push_back(kCodeCarriageReturn);
      out.push_back(kCodeLineFeed);
      last_was_printable_ = false;
      continue;
    }
    if (const std::string_view word = word_for(c); !word.empty()) {
      put_word(word, out);
      continue;
    }

    const char mapped = mapped_char(c);
    if (mapped == ' ') {
      space_owed_ = false;
      out.push_back(kCodeSpace);
      space_since_shift_ = true;
      last_was_printable_ = false;
      continue;
    }
    CodeAndShift found{};
    if (mapped == '\0' || !find_code(mapped, found)) {
      result.unencodable.push_back({cp, offset});
      continue;
    }
    // Punctuation that closes a phrase follows a mapped word directly: "(3%)" reads
    // "(3 PERCENT)", not "(3 PERCENT )".
    if (space_owed_ && std::string_view(").,:;?!'\"").find(mapped) != std::string_view::npos) {
      space_owed_ = false;
    }
    put_printable(found.code, found.shift, out);
  }
  return result;
}

}  // namespace relaygw::tty
