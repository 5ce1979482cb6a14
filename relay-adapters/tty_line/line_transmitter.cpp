#include "relay-adapters/tty_line/line_transmitter.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "tty/audio_file.hpp"

namespace relaygw::relay::tty_line {
namespace {

tty::ModulatorConfig with_rate(tty::ModulatorConfig config, int sample_rate_hz) {
  config.sample_rate_hz = static_cast<double>(sample_rate_hz);
  return config;
}

std::int16_t to_pcm16(float sample) {
  const float scaled = std::clamp(sample, -1.0f, 1.0f) * 32767.0f;
  return static_cast<std::int16_t>(std::lround(scaled));
}

}  // namespace

LineTransmitter::LineTransmitter(const LineHeader& header, tty::ModulatorConfig config)
    : encoding_(header.encoding),
      config_(with_rate(config, header.sample_rate_hz)),
      modulator_(config_) {}

Result<std::vector<tty::UnencodableChar>> LineTransmitter::transmit(
    std::string_view utf8_text, std::vector<std::uint8_t>& out) {
  if (Status status = tty::validate_modulator_config(config_); !status.is_ok()) {
    return status;
  }
  // Every call is its own transmission (the modulator adds lead-in and hang time), so the
  // encoder starts over and sends a shift first.
  encoder_.start_transmission();
  tty::EncodedText encoded = encoder_.encode(utf8_text);

  samples_.clear();
  modulator_.modulate(encoded.codes, samples_);
  if (encoding_ == tty::AudioEncoding::Pcm16) {
    out.reserve(out.size() + samples_.size() * 2);
    for (float sample : samples_) {
      const auto value = static_cast<std::uint16_t>(to_pcm16(sample));
      out.push_back(static_cast<std::uint8_t>(value & 0xFF));
      out.push_back(static_cast<std::uint8_t>(value >> 8));
    }
  } else {
    out.reserve(out.size() + samples_.size());
    for (float sample : samples_) {
      out.push_back(tty::linear_to_mulaw(to_pcm16(sample)));
    }
  }
  return std::move(encoded.unencodable);
}

}  // namespace relaygw::relay::tty_line
