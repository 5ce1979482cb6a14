#include "tty/fsk_demodulator.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "tty/baudot.hpp"
#include "tty/fsk_modulator.hpp"

namespace {

using relaygw::tty::BaudRate;
using relaygw::tty::BaudSetting;
using relaygw::tty::CarrierEvent;
using relaygw::tty::DemodulatorConfig;
using relaygw::tty::DemodulatorListener;
using relaygw::tty::FskDemodulator;
using relaygw::tty::FskModulator;
using relaygw::tty::ModulatorConfig;
using relaygw::tty::ReceivedCode;

// "HELLO GA": LTRS H E L L O SPACE G A.
const std::vector<std::uint8_t> kHelloGa = {0x1F, 0x14, 0x01, 0x12, 0x12, 0x18, 0x04, 0x1A, 0x03};

// Records what the demodulator delivers.
class Recorder : public DemodulatorListener {
 public:
  void on_code(const ReceivedCode& code) override { codes.push_back(code); }
  void on_carrier(const CarrierEvent& event) override { carrier.push_back(event); }

  std::vector<std::uint8_t> code_values() const {
    std::vector<std::uint8_t> values;
    for (const ReceivedCode& code : codes) {
      values.push_back(code.code);
    }
    return values;
  }

  std::vector<ReceivedCode> codes;
  std::vector<CarrierEvent> carrier;
};

// Demodulates `samples` in one push (or in chunks of `chunk` samples) and flushes.
Recorder demodulate(const std::vector<float>& samples, double rate = 8000.0,
                    BaudSetting baud = BaudSetting::Auto, std::size_t chunk = 0) {
  Recorder recorder;
  FskDemodulator demodulator(DemodulatorConfig{rate, baud}, recorder);
  if (chunk == 0) {
    demodulator.push(samples);
  } else {
    for (std::size_t i = 0; i < samples.size(); i += chunk) {
      const std::size_t n = std::min(chunk, samples.size() - i);
      demodulator.push(std::span<const float>(samples.data() + i, n));
    }
  }
  demodulator.flush();
  return recorder;
}

std::vector<float> silence(double seconds, double rate = 8000.0) {
  return std::vector<float>(static_cast<std::size_t>(seconds * rate), 0.0f);
}

// A transmission of `codes` with 0.3 s of silence on both sides.
std::vector<float> transmission(const std::vector<std::uint8_t>& codes, ModulatorConfig config) {
  std::vector<float> audio = silence(0.3, config.sample_rate_hz);
  FskModulator modulator(config);
  modulator.modulate(codes, audio);
  const std::vector<float> tail = silence(0.3, config.sample_rate_hz);
  audio.insert(audio.end(), tail.begin(), tail.end());
  return audio;
}

ModulatorConfig field_case_config(double scale) {
  ModulatorConfig config;
  config.baud = BaudRate::Baud45_45;
  config.stop_bits = 1.5;
  config.mark_hz = 1400.0 * scale;
  config.space_hz = 1800.0 * scale;
  return config;
}

void add_noise(std::vector<float>& audio, double rms, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(rms));
  for (float& sample : audio) {
    sample += normal(random);
  }
}

// Sum of sines at `frequencies`, each of peak amplitude `amplitude`.
std::vector<float> tones(const std::vector<double>& frequencies, double amplitude, double seconds) {
  std::vector<float> audio = silence(seconds);
  for (std::size_t n = 0; n < audio.size(); ++n) {
    double value = 0.0;
    for (const double hz : frequencies) {
      value += amplitude * std::sin(2.0 * std::numbers::pi * hz * n / 8000.0);
    }
    audio[n] = static_cast<float>(value);
  }
  return audio;
}

// Speech-like babble: a voiced source with a wandering pitch, shaped by three moving
// formants and a syllabic envelope, at a peak near 0.3 of full scale.
std::vector<float> babble(double seconds, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> jitter(-1.0, 1.0);
  std::vector<float> audio = silence(seconds);
  double phase = 0.0;
  for (std::size_t n = 0; n < audio.size(); ++n) {
    const double t = n / 8000.0;
    const double pitch = 120.0 + 30.0 * std::sin(2.0 * std::numbers::pi * 0.7 * t) +
                         10.0 * std::sin(2.0 * std::numbers::pi * 3.1 * t);
    phase += 2.0 * std::numbers::pi * pitch / 8000.0;
    const double formants[3] = {500.0 + 250.0 * std::sin(2.0 * std::numbers::pi * 2.3 * t),
                                1500.0 + 500.0 * std::sin(2.0 * std::numbers::pi * 1.7 * t),
                                2500.0 + 300.0 * std::sin(2.0 * std::numbers::pi * 1.1 * t)};
    double value = 0.0;
    for (int harmonic = 1; harmonic * pitch < 3800.0; ++harmonic) {
      const double hz = harmonic * pitch;
      double gain = 0.0;
      for (const double formant : formants) {
        const double distance = (hz - formant) / 120.0;
        gain += std::exp(-distance * distance);
      }
      value += gain * std::sin(harmonic * phase) / harmonic;
    }
    const double envelope = 0.5 + 0.5 * std::sin(2.0 * std::numbers::pi * 4.0 * t);
    audio[n] = static_cast<float>(0.15 * envelope * value + 0.002 * jitter(random));
  }
  return audio;
}

}  // namespace

TEST_CASE("demodulator decodes field case at nominal tones", "[tty][demodulator]") {
  const Recorder recorder = demodulate(transmission(kHelloGa, field_case_config(1.0)));
  CHECK(recorder.code_values() == kHelloGa);
  REQUIRE(recorder.carrier.size() == 2);
  CHECK(recorder.carrier[0].on);
  CHECK(recorder.carrier[0].mark_hz == Approx(1400.0).margin(10.0));
  CHECK_FALSE(recorder.carrier[1].on);
  for (const ReceivedCode& code : recorder.codes) {
    CHECK(code.baud == BaudRate::Baud45_45);
  }
}

TEST_CASE("demodulator decodes field case at +5% tones", "[tty][demodulator]") {
  const Recorder recorder = demodulate(transmission(kHelloGa, field_case_config(1.05)));
  CHECK(recorder.code_values() == kHelloGa);
  REQUIRE_FALSE(recorder.carrier.empty());
  CHECK(recorder.carrier[0].mark_hz == Approx(1470.0).margin(15.0));
}

TEST_CASE("demodulator decodes field case at -5% tones", "[tty][demodulator]") {
  const Recorder recorder = demodulate(transmission(kHelloGa, field_case_config(0.95)));
  CHECK(recorder.code_values() == kHelloGa);
}

TEST_CASE("demodulator at +8% decodes or stays silent", "[tty][demodulator]") {
  const Recorder recorder = demodulate(transmission(kHelloGa, field_case_config(1.08)));
  const bool decoded = recorder.code_values() == kHelloGa;
  const bool silent = recorder.codes.empty();
  INFO("received " << recorder.codes.size() << " codes");
  CHECK((decoded || silent));
}

TEST_CASE("demodulator decodes 50 baud with 2 stop bits", "[tty][demodulator]") {
  ModulatorConfig config;
  config.baud = BaudRate::Baud50;
  const Recorder recorder = demodulate(transmission(kHelloGa, config));
  CHECK(recorder.code_values() == kHelloGa);
  for (const ReceivedCode& code : recorder.codes) {
    CHECK(code.baud == BaudRate::Baud50);
  }
}

TEST_CASE("demodulator reports code start times", "[tty][demodulator]") {
  ModulatorConfig config = field_case_config(1.0);
  const Recorder recorder = demodulate(transmission(kHelloGa, config));
  REQUIRE(recorder.codes.size() == kHelloGa.size());
  // 0.3 s of silence, the lead-in, then one code every 7.5 bits of 22 ms.
  const double first = 0.3 + config.lead_in_ms / 1000.0;
  for (std::size_t i = 0; i < recorder.codes.size(); ++i) {
    INFO("code " << i);
    CHECK(recorder.codes[i].time_s == Approx(first + i * 0.165).margin(0.003));
  }
}

TEST_CASE("demodulator decodes levels from -40 to 0 dBFS", "[tty][demodulator]") {
  for (const double dbfs : {-40.0, -20.0, 0.0}) {
    ModulatorConfig config = field_case_config(1.0);
    config.amplitude = std::pow(10.0, dbfs / 20.0) * 0.999;
    INFO("level " << dbfs << " dBFS");
    CHECK(demodulate(transmission(kHelloGa, config)).code_values() == kHelloGa);
  }
}

TEST_CASE("demodulator ignores DC offset", "[tty][demodulator]") {
  std::vector<float> audio = transmission(kHelloGa, field_case_config(1.0));
  for (float& sample : audio) {
    sample = sample * 0.5f + 0.3f;
  }
  CHECK(demodulate(audio).code_values() == kHelloGa);
}

TEST_CASE("demodulator decodes in noise at 0 dB SNR", "[tty][demodulator]") {
  ModulatorConfig config = field_case_config(1.0);
  config.amplitude = 0.3;
  std::vector<float> audio = transmission(kHelloGa, config);
  // Tone power 0.045; white noise of the same power.
  add_noise(audio, std::sqrt(0.045), 7);
  CHECK(demodulate(audio).code_values() == kHelloGa);
}

TEST_CASE("demodulator streams in odd chunk sizes", "[tty][demodulator]") {
  const std::vector<float> audio = transmission(kHelloGa, field_case_config(1.0));
  const Recorder whole = demodulate(audio);
  for (const std::size_t chunk : {1u, 7u, 160u, 1001u}) {
    INFO("chunk " << chunk);
    const Recorder pieces = demodulate(audio, 8000.0, BaudSetting::Auto, chunk);
    CHECK(pieces.code_values() == whole.code_values());
    REQUIRE(pieces.codes.size() == whole.codes.size());
    for (std::size_t i = 0; i < pieces.codes.size(); ++i) {
      CHECK(pieces.codes[i].time_s == whole.codes[i].time_s);
    }
  }
}

TEST_CASE("demodulator decodes at 16, 44.1 and 48 kHz", "[tty][demodulator]") {
  for (const double rate : {11025.0, 16000.0, 44100.0, 48000.0}) {
    ModulatorConfig config = field_case_config(1.0);
    config.sample_rate_hz = rate;
    INFO("rate " << rate);
    CHECK(demodulate(transmission(kHelloGa, config), rate).code_values() == kHelloGa);
  }
}

TEST_CASE("demodulator forced rate rejects other rate", "[tty][demodulator]") {
  ModulatorConfig config;
  config.baud = BaudRate::Baud50;
  const std::vector<float> audio = transmission(kHelloGa, config);
  CHECK(demodulate(audio, 8000.0, BaudSetting::Baud50).code_values() == kHelloGa);
  CHECK(demodulate(audio, 8000.0, BaudSetting::Baud45_45).code_values() != kHelloGa);
}

TEST_CASE("demodulator gives no codes for non-TTY audio", "[tty][demodulator]") {
  SECTION("silence") { CHECK(demodulate(silence(3.0)).codes.empty()); }
  SECTION("white noise") {
    for (const double rms : {0.001, 0.05, 0.3}) {
      std::vector<float> audio = silence(5.0);
      add_noise(audio, rms, 11);
      INFO("rms " << rms);
      CHECK(demodulate(audio).codes.empty());
    }
  }
  SECTION("speech-like babble") {
    for (const unsigned seed : {1u, 2u, 3u}) {
      INFO("seed " << seed);
      CHECK(demodulate(babble(5.0, seed)).codes.empty());
    }
  }
  SECTION("DTMF digits") {
    // Rows 697..941 Hz with columns 1209..1633 Hz, including 1336 and 1477 Hz, which lie
    // near the mark tone.
    for (const double row : {697.0, 770.0, 852.0, 941.0}) {
      for (const double column : {1209.0, 1336.0, 1477.0, 1633.0}) {
        std::vector<float> audio;
        for (int burst = 0; burst < 6; ++burst) {
          const std::vector<float> digit = tones({row, column}, 0.3, 0.1);
          audio.insert(audio.end(), digit.begin(), digit.end());
          const std::vector<float> gap = silence(0.1);
          audio.insert(audio.end(), gap.begin(), gap.end());
        }
        INFO("DTMF " << row << " + " << column << " Hz");
        CHECK(demodulate(audio).codes.empty());
      }
    }
  }
  SECTION("1000 Hz test tone") { CHECK(demodulate(tones({1000.0}, 0.5, 3.0)).codes.empty()); }
  SECTION("2100 Hz answer tone") { CHECK(demodulate(tones({2100.0}, 0.5, 3.0)).codes.empty()); }
}

TEST_CASE("demodulator skips babble before transmission", "[tty][demodulator]") {
  std::vector<float> audio = babble(3.0, 5);
  const std::vector<float> burst = transmission(kHelloGa, field_case_config(1.0));
  audio.insert(audio.end(), burst.begin(), burst.end());
  CHECK(demodulate(audio).code_values() == kHelloGa);
}

TEST_CASE("demodulator reports bit confidence", "[tty][demodulator]") {
  const Recorder clean = demodulate(transmission(kHelloGa, field_case_config(1.0)));
  REQUIRE(clean.codes.size() == kHelloGa.size());
  // Every bit of a clean frame has about the frame's median margin.
  for (std::size_t i = 0; i < clean.codes.size(); ++i) {
    for (std::size_t bit = 0; bit < 5; ++bit) {
      INFO("code " << i << " bit " << bit);
      CHECK(clean.codes[i].bit_confidence[bit] > 0.5F);
      CHECK(clean.codes[i].bit_confidence[bit] < 2.0F);
    }
  }
}
