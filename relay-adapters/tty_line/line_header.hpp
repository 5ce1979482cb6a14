// TTY line protocol header: the one text line that opens each TTY line connection.
//
//   RELAYGW-TTY/1 line=+12125550107 encoding=ulaw rate=8000\n
//
// After the newline the connection carries raw audio in both directions: 16-bit little-endian
// PCM (encoding=pcm16) or G.711 mu-law bytes (encoding=ulaw). docs/protocol.md has the full
// grammar. The header is bounded at kMaxHeaderBytes so a client cannot make the gateway
// buffer an endless line.
//
// Thread rules: a HeaderReader belongs to one connection; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "relay-adapters/events.hpp"
#include "tty/audio_file.hpp"

namespace relaygw::relay::tty_line {

inline constexpr std::string_view kMagic = "RELAYGW-TTY/1";
// Maximum header length, the newline included.
inline constexpr std::size_t kMaxHeaderBytes = 256;

struct LineHeader {
  std::string line_number;  // E.164: '+' and 8 to 15 digits, for example "+12125550107"
  tty::AudioEncoding encoding = tty::AudioEncoding::Pcm16;
  int sample_rate_hz = 8000;  // 8000 for ulaw; 8000 to 48000 for pcm16
};

// Parses the header text without its newline (a trailing '\r' is allowed). Fields are
// space-separated key=value pairs after the magic, in any order: `line` and `encoding` are
// required, `rate` defaults to 8000. Unknown or repeated keys are errors. Every error names
// the bad text and the expected form.
Result<LineHeader> parse_line_header(std::string_view text);

// Formats `header` as the protocol line, newline included.
std::string format_line_header(const LineHeader& header);

// The session event for a new TTY line: adapter tty-line, service tty, caller = line number.
SessionOpened line_session_opened(const LineHeader& header, std::string session_id);

// Collects a header from the first bytes of a connection, which may arrive split anywhere.
class HeaderReader {
 public:
  // Consumes bytes of `chunk` up to and including the header's newline and returns how many it
  // consumed; the rest of the chunk is audio. Consumes all of `chunk` while no newline has
  // arrived. Fails when the header is invalid or kMaxHeaderBytes pass without a newline; after
  // a failure or once done(), push() consumes nothing.
  Result<std::size_t> push(std::span<const std::uint8_t> chunk);

  bool done() const { return done_; }

  // Requires: done().
  const LineHeader& header() const { return header_; }

 private:
  std::string buffer_;
  LineHeader header_;
  bool done_ = false;
  bool failed_ = false;
};

}  // namespace relaygw::relay::tty_line
