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

namespace relaygw::tty {

enum class BaudRate { Baud45_45, Baud50 };

// Bits per second for `rate`: 45.45... (1000/22) or 50.
double bits_per_second(BaudRate rate);

struct ModulatorConfig {
  double sample_rate_hz = 8000.0;
  BaudRate baud = BaudRate::Baud45_45;
  double stop_bits = 2.0;          // 1.5 or 2
  double mark_hz = 1400.0;
  double space_hz = 1800.0;
  double amplitude = 0.5;          // peak, as a fraction of full scale
  double lead_in_ms = 150.0;       // mark before the first start bit
  double hang_time_ms = 300.0;     // mark after the last stop bit
};

class FskModulator {
 public:
  explicit FskModulator(ModulatorConfig config = {});

  // Appends the audio of one transmission (lead-in, the codes, hang time) to `out`.
  void modulate(std::span<const std::uint8_t> codes, std::vector<float>& out);

  const ModulatorConfig& config() const { return config_; }

 private:
  void append_tone(double hz, double seconds, std::vector<float>& out);

  ModulatorConfig config_;
  double phase_ = 0.0;      // radians, carried across calls so the output stays continuous
  double bit_clock_ = 0.0;  // fractional samples carried between bits
};

}  // namespace relaygw::tty
