// LineReceiver: the receive side of a TTY line connection, from audio bytes to timed text.
//
// The gateway passes every audio byte that follows the header, in whatever chunks the socket
// delivers, and a chunk may end in the middle of a 16-bit sample. The bytes are decoded into a
// fixed block of floats and fed to tty::TtyReceiver, so the receive path allocates nothing
// beyond what TtyReceiver and the caller's output vectors do.
//
// Thread rules: one instance per line, used from one thread (or strand) at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "relay-adapters/tty_line/line_header.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_demodulator.hpp"
#include "tty/tty_receiver.hpp"

namespace relaygw::relay::tty_line {

class LineReceiver {
 public:
  // Requires: `header` came from parse_line_header (so its rate is 8000 to 48000 Hz).
  explicit LineReceiver(const LineHeader& header);
  LineReceiver(const LineReceiver&) = delete;
  LineReceiver& operator=(const LineReceiver&) = delete;

  // Decodes `bytes` of line audio. A trailing odd byte of pcm16 is kept for the next call.
  void push(std::span<const std::uint8_t> bytes);

  // Ends the line: decodes what the audio so far completes and reports carrier off. A pending
  // odd byte is dropped.
  void flush();

  // Moves the characters decoded since the last call to the end of `out`. Times are seconds
  // of line audio from the first audio byte.
  void take_text(std::vector<tty::TimedChar>& out) { receiver_.take_text(out); }

  // Appends the carrier events reported since the last call to `out`. A carrier-off event
  // means the caller's transmission ended.
  void take_carrier_events(std::vector<tty::CarrierEvent>& out);

  // Seconds of line audio received so far.
  double elapsed_s() const;

 private:
  static constexpr std::size_t kBlockSamples = 512;

  void feed_pcm16(std::span<const std::uint8_t> bytes);
  void feed_mulaw(std::span<const std::uint8_t> bytes);
  void flush_block();

  tty::AudioEncoding encoding_;
  double sample_rate_hz_;
  tty::TtyReceiver receiver_;
  std::array<float, kBlockSamples> block_{};
  std::size_t block_size_ = 0;
  std::uint64_t samples_ = 0;
  bool has_low_byte_ = false;
  std::uint8_t low_byte_ = 0;
  std::size_t carrier_events_taken_ = 0;
};

}  // namespace relaygw::relay::tty_line
