#include "tty/fsk_modulator.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"

namespace {

using relaygw::tty::BaudRate;
using relaygw::tty::FskModulator;
using relaygw::tty::ModulatorConfig;

// Power of `hz` in samples [start, start + length), by the Goertzel algorithm.
double tone_power(const std::vector<float>& samples, std::size_t start, std::size_t length,
                  double hz, double rate) {
  const double coefficient = 2.0 * std::cos(2.0 * std::numbers::pi * hz / rate);
  double s1 = 0.0;
  double s2 = 0.0;
  for (std::size_t i = start; i < start + length && i < samples.size(); ++i) {
    const double s0 = samples[i] + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coefficient * s1 * s2;
}

// True when the middle half of the bit at `center_s` is mark (1400 Hz) rather than space.
bool is_mark_at(const std::vector<float>& samples, double rate, double center_s, double bit_s) {
  const auto start = static_cast<std::size_t>((center_s - bit_s / 4.0) * rate);
  const auto length = static_cast<std::size_t>(bit_s / 2.0 * rate);
  return tone_power(samples, start, length, 1400.0, rate) >
         tone_power(samples, start, length, 1800.0, rate);
}

struct FrameCheck {
  std::vector<std::uint8_t> codes;
  int framing_errors = 0;  // start bit not space or stop bit not mark
};

// Reads `count` characters at their exact ideal times, like a receiver given the timing in
// advance. Any drift in the modulator's bit clock shows up as wrong bits late in a long
// transmission.
FrameCheck read_frames(const std::vector<float>& samples, const ModulatorConfig& config,
                       std::size_t count) {
  const double bit_s = 1.0 / relaygw::tty::bits_per_second(config.baud);
  const double char_s = (6.0 + config.stop_bits) * bit_s;
  const double rate = config.sample_rate_hz;
  FrameCheck check;
  for (std::size_t k = 0; k < count; ++k) {
    const double t0 = config.lead_in_ms / 1000.0 + static_cast<double>(k) * char_s;
    if (is_mark_at(samples, rate, t0 + 0.5 * bit_s, bit_s)) {
      ++check.framing_errors;
    }
    std::uint8_t code = 0;
    for (int bit = 0; bit < 5; ++bit) {
      if (is_mark_at(samples, rate, t0 + (1.5 + bit) * bit_s, bit_s)) {
        code |= static_cast<std::uint8_t>(1u << bit);
      }
    }
    if (!is_mark_at(samples, rate, t0 + (6.0 + config.stop_bits / 2.0) * bit_s, bit_s)) {
      ++check.framing_errors;
    }
    check.codes.push_back(code);
  }
  return check;
}

std::string decode_text(const std::vector<std::uint8_t>& codes) {
  relaygw::tty::BaudotDecoder decoder;
  std::vector<relaygw::tty::TimedChar> chars;
  for (std::uint8_t code : codes) {
    decoder.push(code, 0.0, chars);
  }
  decoder.flush(chars);
  std::string text;
  for (const auto& c : chars) {
    text.push_back(c.ch);
  }
  return text;
}

}  // namespace

TEST_CASE("modulator bit rates are exact", "[tty][modulator]") {
  CHECK(relaygw::tty::bits_per_second(BaudRate::Baud45_45) == 1000.0 / 22.0);
  CHECK(1.0 / relaygw::tty::bits_per_second(BaudRate::Baud45_45) == Approx(0.022).epsilon(1e-12));
  CHECK(relaygw::tty::bits_per_second(BaudRate::Baud50) == 50.0);
}

TEST_CASE("modulator output length matches timing", "[tty][modulator]") {
  const double rates[] = {8000.0, 11025.0, 16000.0, 22050.0, 44100.0, 48000.0, 96000.0};
  for (double rate : rates) {
    for (BaudRate baud : {BaudRate::Baud45_45, BaudRate::Baud50}) {
      for (double stop_bits : {1.5, 2.0}) {
        CAPTURE(rate, static_cast<int>(baud), stop_bits);
        ModulatorConfig config;
        config.sample_rate_hz = rate;
        config.baud = baud;
        config.stop_bits = stop_bits;
        REQUIRE(relaygw::tty::validate_modulator_config(config).is_ok());
        FskModulator modulator(config);
        const std::vector<std::uint8_t> codes(37, 0x03);
        std::vector<float> out;
        modulator.modulate(codes, out);
        const double bit_s = 1.0 / relaygw::tty::bits_per_second(baud);
        const double seconds = 0.150 + 37 * (6.0 + stop_bits) * bit_s + 0.300;
        CHECK(out.size() == static_cast<std::size_t>(std::llround(seconds * rate)));
      }
    }
  }
}

TEST_CASE("modulator lead-in is mark tone", "[tty][modulator]") {
  ModulatorConfig config;
  FskModulator modulator(config);
  std::vector<float> out;
  const std::uint8_t codes[] = {0x1F};
  modulator.modulate(codes, out);
  // 150 ms at 8 kHz is 1200 samples, all mark.
  CHECK(tone_power(out, 0, 1200, 1400.0, 8000.0) >
        100.0 * tone_power(out, 0, 1200, 1800.0, 8000.0));
  const float peak = *std::max_element(out.begin(), out.end());
  CHECK(peak == Approx(0.5).margin(0.001));
}

TEST_CASE("modulator phase is continuous", "[tty][modulator]") {
  for (double rate : {8000.0, 44100.0}) {
    CAPTURE(rate);
    ModulatorConfig config;
    config.sample_rate_hz = rate;
    config.stop_bits = 1.5;
    FskModulator modulator(config);
    std::vector<float> out;
    const std::uint8_t codes[] = {0x00, 0x15, 0x0A, 0x1F, 0x1B, 0x04};
    modulator.modulate(codes, out);
    modulator.modulate(codes, out);  // continuous across transmissions too
    // A sine of amplitude A and frequency f changes by at most A * 2 pi f / rate per sample.
    const double max_step = 0.5 * 2.0 * std::numbers::pi * 1800.0 / rate * 1.001;
    double largest = 0.0;
    for (std::size_t i = 1; i < out.size(); ++i) {
      largest = std::max(largest, static_cast<double>(std::abs(out[i] - out[i - 1])));
    }
    CHECK(largest <= max_step);
  }
}

TEST_CASE("modulator bit clock does not drift", "[tty][modulator]") {
  // At 44.1 kHz a 22 ms bit is 970.2 samples. Rounding each bit to 970 would drift by about
  // 1.6 bits over 1000 characters and misread the last ones.
  ModulatorConfig config;
  config.sample_rate_hz = 44100.0;
  FskModulator modulator(config);
  std::vector<std::uint8_t> codes;
  for (int i = 0; i < 1000; ++i) {
    codes.push_back(static_cast<std::uint8_t>((i * 7) % 32));
  }
  std::vector<float> out;
  modulator.modulate(codes, out);
  const FrameCheck check = read_frames(out, config, codes.size());
  CHECK(check.framing_errors == 0);
  CHECK(check.codes == codes);
}

TEST_CASE("modulator validates configuration", "[tty][modulator]") {
  struct Case {
    std::string label;
    ModulatorConfig config;
    std::string expected_in_message;
  };
  std::vector<Case> cases;
  ModulatorConfig bad = {};
  bad.sample_rate_hz = 0.0;
  cases.push_back({"zero rate", bad, "invalid sample rate"});
  bad = {};
  bad.stop_bits = 1.0;
  cases.push_back({"one stop bit", bad, "use 1.5 or 2"});
  bad = {};
  bad.sample_rate_hz = 3000.0;
  cases.push_back({"space above Nyquist", bad, "outside 0 to half the sample rate"});
  bad = {};
  bad.amplitude = 1.5;
  cases.push_back({"amplitude", bad, "invalid amplitude"});
  bad = {};
  bad.hang_time_ms = -1.0;
  cases.push_back({"negative hang time", bad, "0 ms or more"});
  for (const Case& c : cases) {
    CAPTURE(c.label);
    const auto status = relaygw::tty::validate_modulator_config(c.config);
    REQUIRE_FALSE(status.is_ok());
    CHECK_THAT(status.message(), Catch::Contains(c.expected_in_message));
  }
  CHECK(relaygw::tty::validate_modulator_config(ModulatorConfig{}).is_ok());
}

TEST_CASE("modulator round trips through wav files", "[tty][modulator]") {
  const std::string text = "CALL 555-0142 AT 3:30 PM, THANKS! GA";
  relaygw::tty::BaudotEncoder encoder;
  const auto encoded = encoder.encode(text);
  REQUIRE(encoded.unencodable.empty());

  for (double rate : {8000.0, 16000.0, 44100.0}) {
    for (auto encoding : {relaygw::tty::AudioEncoding::Pcm16, relaygw::tty::AudioEncoding::Mulaw}) {
      for (BaudRate baud : {BaudRate::Baud45_45, BaudRate::Baud50}) {
        CAPTURE(rate, static_cast<int>(encoding), static_cast<int>(baud));
        ModulatorConfig config;
        config.sample_rate_hz = rate;
        config.baud = baud;
        FskModulator modulator(config);
        relaygw::tty::Audio audio;
        audio.sample_rate_hz = rate;
        modulator.modulate(encoded.codes, audio.samples);

        const auto path = std::filesystem::temp_directory_path() /
                          ("relaygw_modulator_test_" + std::to_string(::getpid()) + ".wav");
        REQUIRE(relaygw::tty::write_wav_file(path.string(), audio, encoding).is_ok());
        const auto read = relaygw::tty::read_audio_file(path.string());
        std::filesystem::remove(path);
        REQUIRE(read.is_ok());
        REQUIRE(read->sample_rate_hz == rate);
        REQUIRE(read->samples.size() == audio.samples.size());

        const FrameCheck check = read_frames(read->samples, config, encoded.codes.size());
        CHECK(check.framing_errors == 0);
        CHECK(check.codes == encoded.codes);
        CHECK(decode_text(check.codes) == text);
      }
    }
  }
}
