#include "relay-adapters/tty_line/line_header.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "common/card_digits.hpp"

namespace relaygw::relay::tty_line {
namespace {

constexpr std::string_view kExample = "RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 rate=8000";

// Quotes untrusted header text for an error message, which the gateway sends back on the
// socket and logs. A caller may send a card number in any field, so every run of
// `min_masked_digits` digits or more is masked (mask_card_number_runs) before the text is cut
// to 64 bytes. Control bytes are shown as '?'.
std::string quote_value(std::string_view raw,
                        std::size_t min_masked_digits = kMinCardNumberDigits) {
  const std::string text = mask_card_number_runs(raw, min_masked_digits);
  std::string out = "\"";
  for (char c : std::string_view(text).substr(0, 64)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte >= 0x7F ? '?' : c);
  }
  if (text.size() > 64) {
    out += "...";
  }
  out.push_back('"');
  return out;
}

Status invalid(std::string message) {
  return Status(StatusCode::InvalidArgument, std::move(message));
}

bool is_e164(std::string_view number) {
  if (number.size() < 9 || number.size() > 16 || number[0] != '+' || number[1] == '0') {
    return false;
  }
  return std::all_of(number.begin() + 1, number.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status apply_field(std::string_view key, std::string_view value, LineHeader& header) {
  if (key == "line") {
    if (!is_e164(value)) {
      // Only runs longer than a phone number are masked, so a typo in a number stays visible.
      return invalid("invalid line number " + quote_value(value, kMinMaskedPhoneNumberDigits) +
                     "; send E.164: '+' then 8 to 15 digits, for example line=+12125550107");
    }
    header.line_number = std::string(value);
    return Status::ok();
  }
  if (key == "encoding") {
    if (value == "pcm16") {
      header.encoding = tty::AudioEncoding::Pcm16;
    } else if (value == "ulaw") {
      header.encoding = tty::AudioEncoding::Mulaw;
    } else {
      return invalid("unknown encoding " + quote_value(value) +
                     "; send encoding=pcm16 or encoding=ulaw");
    }
    return Status::ok();
  }
  if (key == "rate") {
    int rate = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), rate);
    if (error != std::errc() || end != value.data() + value.size() || rate < 8000 || rate > 48000) {
      return invalid("invalid rate " + quote_value(value) +
                     "; send the sample rate in Hz from 8000 to 48000, for example rate=8000");
    }
    header.sample_rate_hz = rate;
    return Status::ok();
  }
  return invalid("unknown header field " + quote_value(key) +
                 "; the fields are line, encoding and rate, for example " + std::string(kExample));
}

}  // namespace

Result<LineHeader> parse_line_header(std::string_view text) {
  if (!text.empty() && text.back() == '\r') {
    text.remove_suffix(1);
  }
  if (text.size() + 1 > kMaxHeaderBytes) {
    return invalid("header is " + std::to_string(text.size() + 1) +
                   " bytes, above the maximum of " + std::to_string(kMaxHeaderBytes) +
                   "; send a header such as " + std::string(kExample));
  }
  const std::size_t magic_end = text.find(' ');
  const std::string_view magic = text.substr(0, magic_end);
  if (magic != kMagic) {
    return invalid("bad magic " + quote_value(magic) + "; the header must start with " +
                   std::string(kMagic) + ", for example " + std::string(kExample));
  }

  LineHeader header;
  bool seen_line = false;
  bool seen_encoding = false;
  bool seen_rate = false;
  std::size_t pos = magic_end;
  while (pos != std::string_view::npos && pos < text.size()) {
    pos = text.find_first_not_of(' ', pos);
    if (pos == std::string_view::npos) {
      break;
    }
    const std::size_t end = text.find(' ', pos);
    const std::string_view field =
        text.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end;

    const std::size_t equals = field.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return invalid("header field " + quote_value(field) + " is not key=value; for example " +
                     std::string(kExample));
    }
    const std::string_view key = field.substr(0, equals);
    bool* seen = key == "line"       ? &seen_line
                 : key == "encoding" ? &seen_encoding
                 : key == "rate"     ? &seen_rate
                                     : nullptr;
    if (seen != nullptr && *seen) {
      return invalid("header field " + quote_value(key) + " appears twice; send it once");
    }
    if (Status status = apply_field(key, field.substr(equals + 1), header); !status.is_ok()) {
      return status;
    }
    *seen = true;
  }

  if (!seen_line) {
    return invalid("missing line number; add line=+<E.164 number>, for example " +
                   std::string(kExample));
  }
  if (!seen_encoding) {
    return invalid("missing encoding; add encoding=pcm16 or encoding=ulaw");
  }
  if (header.encoding == tty::AudioEncoding::Mulaw && header.sample_rate_hz != 8000) {
    return invalid("rate " + std::to_string(header.sample_rate_hz) +
                   " is not valid for ulaw, which G.711 defines at 8000 Hz; send rate=8000 or "
                   "use encoding=pcm16");
  }
  return header;
}

std::string format_line_header(const LineHeader& header) {
  return std::string(kMagic) + " line=" + header.line_number +
         " encoding=" + (header.encoding == tty::AudioEncoding::Mulaw ? "ulaw" : "pcm16") +
         " rate=" + std::to_string(header.sample_rate_hz) + "\n";
}

SessionOpened line_session_opened(const LineHeader& header, std::string session_id) {
  SessionOpened event;
  event.session_id = std::move(session_id);
  event.adapter = Adapter::TtyLine;
  event.service = RelayService::Tty;
  event.caller_number = header.line_number;
  return event;
}

Result<std::size_t> HeaderReader::push(std::span<const std::uint8_t> chunk) {
  if (done_ || failed_) {
    return std::size_t{0};
  }
  const auto newline = std::find(chunk.begin(), chunk.end(), std::uint8_t{'\n'});
  const auto consumed =
      static_cast<std::size_t>(newline - chunk.begin()) + (newline == chunk.end() ? 0 : 1);
  // Bound the buffer before copying, so an endless line costs at most kMaxHeaderBytes.
  if (buffer_.size() + consumed > kMaxHeaderBytes) {
    failed_ = true;
    return invalid("no newline within the first " + std::to_string(kMaxHeaderBytes) +
                   " bytes; send a header line such as " + std::string(kExample) +
                   " ending in a newline before the audio");
  }
  buffer_.append(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(consumed));
  if (newline == chunk.end()) {
    return consumed;
  }

  buffer_.pop_back();  // the newline
  Result<LineHeader> header = parse_line_header(buffer_);
  if (!header.is_ok()) {
    failed_ = true;
    return header.status();
  }
  header_ = std::move(header).value();
  done_ = true;
  return consumed;
}

}  // namespace relaygw::relay::tty_line
