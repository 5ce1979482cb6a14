#include "tty/fsk_modulator.hpp"

#include <cmath>
#include <numbers>
#include <string>

namespace relaygw::tty {

double bits_per_second(BaudRate rate) {
  // 45.45 bit/s is exactly 1000/22: each bit lasts 22 ms.
  return rate == BaudRate::Baud50 ? 50.0 : 1000.0 / 22.0;
}

Status validate_modulator_config(const ModulatorConfig& config) {
  const auto invalid = [](const std::string& message) {
    return Status(StatusCode::InvalidArgument, message);
  };
  if (!(config.sample_rate_hz >= 1000.0 && config.sample_rate_hz <= 1e6)) {
    return invalid("invalid sample rate " + std::to_string(config.sample_rate_hz) +
                   " Hz; use 1000 to 1000000 Hz, for example 8000");
  }
  if (config.stop_bits != 1.5 && config.stop_bits != 2.0) {
    return invalid("invalid stop bits " + std::to_string(config.stop_bits) + "; use 1.5 or 2");
  }
  const double nyquist = config.sample_rate_hz / 2.0;
  if (!(config.mark_hz > 0.0 && config.mark_hz < nyquist && config.space_hz > 0.0 &&
        config.space_hz < nyquist)) {
    return invalid("mark " + std::to_string(config.mark_hz) + " Hz or space " +
                   std::to_string(config.space_hz) + " Hz is outside 0 to half the sample rate (" +
                   std::to_string(nyquist) + " Hz)");
  }
  if (!(config.amplitude > 0.0 && config.amplitude <= 1.0)) {
    return invalid("invalid amplitude " + std::to_string(config.amplitude) +
                   "; use a fraction of full scale above 0 and at most 1");
  }
  if (!(config.lead_in_ms >= 0.0 && config.hang_time_ms >= 0.0)) {
    return invalid("lead-in and hang time must be 0 ms or more");
  }
  return Status::ok();
}

FskModulator::FskModulator(ModulatorConfig config) : config_(config) {}

void FskModulator::modulate(std::span<const std::uint8_t> codes, std::vector<float>& out) {
  if (!(config_.sample_rate_hz > 0.0) || !std::isfinite(config_.sample_rate_hz)) {
    return;
  }
  const double bit_s = 1.0 / bits_per_second(config_.baud);
  const double lead_in_s = config_.lead_in_ms / 1000.0;
  // Time is counted in whole half bits from the end of the lead-in, so 1.5 stop bits stay
  // exact and every boundary is computed from the transmission start, never accumulated.
  const std::int64_t stop_half_bits = config_.stop_bits == 1.5 ? 3 : 4;
  std::int64_t half_bits = 0;
  const auto at = [&](std::int64_t h) { return lead_in_s + static_cast<double>(h) * bit_s / 2.0; };

  sample_index_ = 0;
  const auto expected = static_cast<std::size_t>(
      (lead_in_s + config_.hang_time_ms / 1000.0 +
       static_cast<double>(codes.size()) * (12 + stop_half_bits) * bit_s / 2.0) *
          config_.sample_rate_hz +
      2.0);
  out.reserve(out.size() + expected);

  append_tone(config_.mark_hz, at(0), out);
  for (std::uint8_t code : codes) {
    half_bits += 2;
    append_tone(config_.space_hz, at(half_bits), out);  // start bit
    for (int bit = 0; bit < 5; ++bit) {
      half_bits += 2;
      const bool mark = ((code >> bit) & 1u) != 0;
      append_tone(mark ? config_.mark_hz : config_.space_hz, at(half_bits), out);
    }
    half_bits += stop_half_bits;
    append_tone(config_.mark_hz, at(half_bits), out);  // stop bits
  }
  append_tone(config_.mark_hz, at(half_bits) + config_.hang_time_ms / 1000.0, out);
}

void FskModulator::append_tone(double hz, double end_s, std::vector<float>& out) {
  const auto end_sample = static_cast<std::int64_t>(std::llround(end_s * config_.sample_rate_hz));
  const double step = 2.0 * std::numbers::pi * hz / config_.sample_rate_hz;
  const auto amplitude = static_cast<float>(config_.amplitude);
  for (; sample_index_ < end_sample; ++sample_index_) {
    out.push_back(amplitude * static_cast<float>(std::sin(phase_)));
    phase_ += step;
    if (phase_ >= 2.0 * std::numbers::pi) {
      phase_ -= 2.0 * std::numbers::pi;
    }
  }
}

}  // namespace relaygw::tty
