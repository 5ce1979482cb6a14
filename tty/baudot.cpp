#include "tty/baudot.hpp"

#include <algorithm>
#include <array>
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

bool is_printable_code(std::uint8_t code) {
  return code != kCodeNull && code != kCodeLineFeed && code != kCodeSpace &&
         code != kCodeCarriageReturn && code != kCodeFigures && code != kCodeLetters;
}

}  // namespace

char baudot_char(std::uint8_t code, ShiftState state) {
  if (code > 31) {
    return '\0';
  }
  return state == ShiftState::Letters ? kLetters[code] : kFigures[code];
}

// ---------------------------------------------------------------------------------------------
// Decoder

BaudotDecoder::BaudotDecoder(ShiftConvention convention) : convention_(convention) {
  pending_.reserve(kMaxPendingCodes);
}

void BaudotDecoder::push(std::uint8_t code, double time_s, std::vector<TimedChar>& out) {
  if (code > 31 || code == kCodeNull) {
    return;
  }

  switch (code) {
    case kCodeLetters:
    case kCodeFigures: {
      // A shift right after a space received in figures shows the sender's convention: only
      // a sender that assumes the receiver unshifted on the space re-sends FIGS there, and
      // only a sender that assumes figures continue needs LTRS there.
      if (after_space_in_figures_) {
        learned_ =
            code == kCodeFigures ? ShiftConvention::UnshiftOnSpace : ShiftConvention::ExplicitOnly;
      }
      resolve_pending(out);
      state_ = code == kCodeFigures ? ShiftState::Figures : ShiftState::Letters;
      after_space_in_figures_ = false;
      return;
    }
    case kCodeSpace:
      resolve_pending(out);
      emit(code, state_, time_s, out);
      if (convention_ == ShiftConvention::UnshiftOnSpace) {
        state_ = ShiftState::Letters;
      } else if (convention_ == ShiftConvention::Auto && state_ == ShiftState::Figures) {
        after_space_in_figures_ = true;
      }
      return;
    case kCodeCarriageReturn:
    case kCodeLineFeed:
      // CR and LF end a held word but keep the after-space state, because neither sender
      // convention handled here shifts on them.
      resolve_pending(out);
      emit(code, state_, time_s, out);
      return;
    default:
      break;
  }

  if (!pending_.empty()) {
    pending_.push_back({code, time_s});
    if (pending_.size() >= kMaxPendingCodes) {
      resolve_pending(out);
    }
    return;
  }
  if (after_space_in_figures_) {
    after_space_in_figures_ = false;
    switch (learned_) {
      case ShiftConvention::UnshiftOnSpace:
        state_ = ShiftState::Letters;
        break;
      case ShiftConvention::ExplicitOnly:
        break;
      case ShiftConvention::Auto:
        pending_.push_back({code, time_s});
        return;
    }
  }
  emit(code, state_, time_s, out);
}

void BaudotDecoder::flush(std::vector<TimedChar>& out) { resolve_pending(out); }

void BaudotDecoder::reset() {
  state_ = ShiftState::Letters;
  after_space_in_figures_ = false;
  pending_.clear();
}

void BaudotDecoder::emit(std::uint8_t code, ShiftState state, double time_s,
                         std::vector<TimedChar>& out) {
  const char c = baudot_char(code, state);
  if (c != '\0') {
    out.push_back({c, time_s});
  }
}

ShiftState BaudotDecoder::choose_pending_shift() const {
  // Fixed buffers keep push() free of allocations.
  std::array<char, kMaxPendingCodes> letters{};
  std::array<char, kMaxPendingCodes> figures{};
  const std::size_t count = std::min(pending_.size(), kMaxPendingCodes);
  for (std::size_t i = 0; i < count; ++i) {
    letters[i] = baudot_char(pending_[i].code, ShiftState::Letters);
    figures[i] = baudot_char(pending_[i].code, ShiftState::Figures);
  }
  if (is_known_word(std::string_view(letters.data(), count))) {
    return ShiftState::Letters;
  }
  if (looks_numeric(std::string_view(figures.data(), count))) {
    return ShiftState::Figures;
  }
  return ShiftState::Letters;
}

void BaudotDecoder::resolve_pending(std::vector<TimedChar>& out) {
  if (pending_.empty()) {
    return;
  }
  state_ = choose_pending_shift();
  for (const Pending& p : pending_) {
    emit(p.code, state_, p.time_s, out);
  }
  pending_.clear();
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
  if (last_was_printable_ && !space_owed_) {
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
    put_printable(found.code, found.shift, out);
  }
  return result;
}

}  // namespace relaygw::tty
