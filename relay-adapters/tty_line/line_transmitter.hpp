// LineTransmitter: the send side of a TTY line connection, from reply text to audio bytes.
//
// Each transmit() call is one TTY transmission: Baudot codes (tty::BaudotEncoder) modulated as
// FSK (tty::FskModulator) with a mark lead-in and hang time, then written in the line's
// encoding. A transmission always opens with a shift code, so the caller's TTY decodes the
// reply correctly whatever shift the caller's own typing left it in.
//
// Thread rules: one instance per line, used from one thread (or strand) at a time.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "relay-adapters/tty_line/line_header.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_modulator.hpp"

namespace relaygw::relay::tty_line {

class LineTransmitter {
 public:
  // Requires: `header` came from parse_line_header. `config.sample_rate_hz` is replaced by the
  // line's rate; the other settings (baud, stop bits, level) are used as given.
  explicit LineTransmitter(const LineHeader& header, tty::ModulatorConfig config = {});

  // Tells the encoder that the caller has typed since the last reply. The next transmission
  // opens with a shift in any case; this keeps the encoder's state true to the line.
  void note_caller_sent() { encoder_.note_far_end_sent(); }

  // Appends the audio of `utf8_text` as one transmission to `out` and returns the characters
  // that have no Baudot code and were left out (see tty::BaudotEncoder for the mappings).
  // Fails with InvalidArgument, appending nothing, when the modulator configuration is invalid.
  Result<std::vector<tty::UnencodableChar>> transmit(std::string_view utf8_text,
                                                     std::vector<std::uint8_t>& out);

 private:
  tty::AudioEncoding encoding_;
  tty::ModulatorConfig config_;
  tty::BaudotEncoder encoder_;
  tty::FskModulator modulator_;
  std::vector<float> samples_;  // reused between transmissions
};

}  // namespace relaygw::relay::tty_line
