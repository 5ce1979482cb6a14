// US TTY FSK demodulator: streaming audio in, 5-bit codes and carrier events out.
//
// Receives mark 1400 Hz / space 1800 Hz, 1 start bit, 5 data bits least significant first,
// 1.5 or 2 stop bits, at 45.45 or 50 bit/s (detected per transmission in Auto). Tolerates
// tones off by up to 5%, levels from -40 to 0 dBFS, DC offset, speech or silence before the
// tones, and noise. push() allocates nothing.
//
// Thread rules: one instance per line, used from one thread (or strand) at a time.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "tty/fsk_modulator.hpp"

namespace relaygw::tty {

enum class BaudSetting { Auto, Baud45_45, Baud50 };

struct DemodulatorConfig {
  double sample_rate_hz = 8000.0;
  BaudSetting baud = BaudSetting::Auto;
};

struct ReceivedCode {
  std::uint8_t code = 0;  // 0..31
  double time_s = 0.0;    // start of the start bit, seconds from the stream start
  BaudRate baud = BaudRate::Baud45_45;
  // Confidence of each data bit (index 0 is the least significant): how much better the code
  // fits the tones than the best code with that bit flipped, as a fraction of the frame's median
  // one-bit margin, squared. A clean bit has about 1 to 4, and a bit that was almost read the
  // other way has near 0.
  std::array<float, 5> bit_confidence{1.0F, 1.0F, 1.0F, 1.0F, 1.0F};
};

struct CarrierEvent {
  bool on = false;
  double time_s = 0.0;
  double mark_hz = 0.0;  // estimated mark tone when on; 0 when off
};

// Receives the demodulator's output, called from inside push() and flush().
class DemodulatorListener {
 public:
  virtual ~DemodulatorListener() = default;
  virtual void on_code(const ReceivedCode& code) = 0;
  virtual void on_carrier(const CarrierEvent& event) = 0;
};

class FskDemodulator {
 public:
  // Requires: `listener` outlives the demodulator; 8000 <= sample_rate_hz <= 48000.
  FskDemodulator(DemodulatorConfig config, DemodulatorListener& listener);
  ~FskDemodulator();
  FskDemodulator(const FskDemodulator&) = delete;
  FskDemodulator& operator=(const FskDemodulator&) = delete;

  // Feeds samples in [-1, 1]. Codes and carrier events are delivered to the listener.
  void push(std::span<const float> samples);

  // Ends the stream: delivers what the samples so far complete and reports carrier off.
  void flush();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace relaygw::tty
