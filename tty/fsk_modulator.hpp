// US TTY FSK modulator: 5-bit codes to phase-continuous audio.
//
// Mark (binary 1) is 1400 Hz and space (binary 0) 1800 Hz. Each character is one start bit
// (space), five data bits least significant first, and 2 stop bits (mark) by default or 1.5
// as an option. A transmission opens with a 150 ms mark lead-in and closes with a mark hang
// time, so that receivers lock before the first start bit and do not cut the last character.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.hpp"

namespace relaygw::tty {

enum class BaudRate { Baud45_45, Baud50 };

// Bits per second for `rate`: 45.45... (1000/22) or 50.
double bits_per_second(BaudRate rate);

struct ModulatorConfig {
  double sample_rate_hz = 8000.0;
  BaudRate baud = BaudRate::Baud45_45;
  double stop_bits = 2.0;  // 1.5 or 2
  double mark_hz = 1400.0;
  double space_hz = 1800.0;
  double amplitude = 0.5;       // peak, as a fraction of full scale
  double lead_in_ms = 150.0;    // mark before the first start bit
  double hang_time_ms = 300.0;  // mark after the last stop bit
};

// Checks `config`: a sample rate from 1000 Hz up, stop bits of 1.5 or 2, tones above 0 and
// below half the sample rate, amplitude in (0, 1], lead-in and hang time of 0 ms or more.
Status validate_modulator_config(const ModulatorConfig& config);

// Bit boundaries fall at the sample nearest to their exact time from the start of the
// transmission, so timing does not drift however long the text is, and 1.5 stop bits work at
// any rate. The phase runs on across bit, character and transmission boundaries.
class FskModulator {
 public:
  // Requires: validate_modulator_config(config) is ok. An invalid sample rate produces no
  // audio rather than undefined behaviour.
  explicit FskModulator(ModulatorConfig config = {});

  // Appends the audio of one transmission (lead-in, the codes, hang time) to `out`. Codes
  // above 31 are sent as their low five bits.
  void modulate(std::span<const std::uint8_t> codes, std::vector<float>& out);

  const ModulatorConfig& config() const { return config_; }

 private:
  // Appends `hz` until the transmission reaches `end_s` seconds from its start.
  void append_tone(double hz, double end_s, std::vector<float>& out);

  ModulatorConfig config_;
  double phase_ = 0.0;             // radians, carried across calls so the output stays continuous
  std::int64_t sample_index_ = 0;  // samples written in the current transmission
};

}  // namespace relaygw::tty
