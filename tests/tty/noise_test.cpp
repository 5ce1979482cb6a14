// Character error rate of the TTY receiver in white Gaussian noise, on a reproducible set made
// from the clean corpus recordings of all three transmitters.
//
// Noise follows the corpus's CORPUS.md: SNR = 10 log10(Ps / Pn), where Ps is the mean square
// of the clean waveform from its first to its last non-zero sample and Pn the variance of
// white noise over the whole band, added to every sample of the file. Like the corpus's noisy
// files, the sum is clipped to [-1, 1) and rounded to 16-bit PCM, which clips about 11% of
// the samples of the minimodem recordings at -9 dB. Each seed draws new noise for every file
// from std::mt19937_64 (whose output the C++ standard fixes) with a Box-Muller transform, so
// the set is the same with every standard library.
//
// bench/tty_noise_bench.cpp makes the same set and also runs minimodem on it.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tty/audio_file.hpp"
#include "tty/fsk_demodulator.hpp"
#include "tty/text_score.hpp"
#include "tty/tty_receiver.hpp"

namespace {

namespace fs = std::filesystem;
using relaygw::tty::Audio;
using relaygw::tty::decode_audio;
using relaygw::tty::read_audio_file;

const fs::path kCorpusDir = fs::path(RELAYGW_SOURCE_DIR) / "data" / "tty-corpus";

// Clean recordings: minimodem (45.45 bit/s, 2 stop bits), the Python generator (1.5 stop bits
// at 45.45 and 50 bit/s) and spandsp (2 stop bits at 45.45 and 50 bit/s). 295 characters.
const std::vector<std::string> kCleanFiles = {
    "clean__d01", "clean__d02",     "py45__d04",      "py45__d05",      "py50__d05",
    "py50__d06",  "spandsp45__d01", "spandsp45__d02", "spandsp50__d03", "spandsp50__d04"};

std::string normalise(const std::string& text) { return relaygw::tty::normalize_for_scoring(text); }

std::size_t levenshtein(const std::string& a, const std::string& b) {
  return relaygw::tty::edit_distance(a, b);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Mean square from the first to the last non-zero sample.
double active_power(const std::vector<float>& samples) {
  const auto first = std::find_if(samples.begin(), samples.end(), [](float x) { return x != 0; });
  const auto last = std::find_if(samples.rbegin(), samples.rend(), [](float x) { return x != 0; });
  if (first == samples.end()) {
    return 0.0;
  }
  const auto end = last.base();
  double sum = 0.0;
  for (auto it = first; it != end; ++it) {
    sum += static_cast<double>(*it) * *it;
  }
  return sum / static_cast<double>(end - first);
}

// `clean` plus white Gaussian noise at `snr_db`, clipped and rounded to 16-bit PCM.
Audio add_noise(const Audio& clean, double snr_db, std::uint64_t seed) {
  const double sigma = std::sqrt(active_power(clean.samples) / std::pow(10.0, snr_db / 10.0));
  std::mt19937_64 random(seed);
  const auto uniform = [&random] {
    // In (0, 1], so that the logarithm below is finite.
    return (static_cast<double>(random() >> 11) + 1.0) * 0x1.0p-53;
  };
  Audio noisy;
  noisy.sample_rate_hz = clean.sample_rate_hz;
  noisy.samples.resize(clean.samples.size());
  for (std::size_t i = 0; i < clean.samples.size(); i += 2) {
    const double radius = sigma * std::sqrt(-2.0 * std::log(uniform()));
    const double angle = 2.0 * std::numbers::pi * uniform();
    const double noise[2] = {radius * std::cos(angle), radius * std::sin(angle)};
    for (std::size_t j = 0; j < 2 && i + j < clean.samples.size(); ++j) {
      const double pcm = std::round((clean.samples[i + j] + noise[j]) * 32768.0);
      noisy.samples[i + j] = static_cast<float>(std::clamp(pcm, -32768.0, 32767.0) / 32768.0);
    }
  }
  return noisy;
}

struct Score {
  std::size_t errors = 0;
  std::size_t reference_chars = 0;
  double cer() const {
    return reference_chars == 0 ? 0.0 : static_cast<double>(errors) / reference_chars;
  }
};

// Decodes every clean file with noise from seeds 1..seeds at `snr_db` and sums the errors.
Score score_noise(double snr_db, std::uint64_t seeds) {
  Score score;
  for (std::size_t f = 0; f < kCleanFiles.size(); ++f) {
    const fs::path wav = kCorpusDir / (kCleanFiles[f] + ".wav");
    INFO(wav.string());
    const auto clean = read_audio_file(wav.string());
    REQUIRE(clean.is_ok());
    const std::string reference = normalise(read_text(fs::path(wav).replace_extension(".txt")));
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
      const Audio noisy = add_noise(clean.value(), snr_db, seed * 1000 + f);
      const auto decoded = decode_audio(noisy);
      REQUIRE(decoded.is_ok());
      score.errors += levenshtein(reference, normalise(decoded->text));
      score.reference_chars += reference.size();
    }
  }
  std::printf("noise %+.0f dB SNR: CER %.2f%% (%zu errors / %zu characters, %llu seeds)\n", snr_db,
              100.0 * score.cer(), score.errors, score.reference_chars,
              static_cast<unsigned long long>(seeds));
  return score;
}

// Counts the demodulator's codes by the rate each was read at.
struct RateCounter : relaygw::tty::DemodulatorListener {
  std::size_t codes_45 = 0;
  std::size_t codes_50 = 0;
  void on_code(const relaygw::tty::ReceivedCode& code) override {
    ++(code.baud == relaygw::tty::BaudRate::Baud50 ? codes_50 : codes_45);
  }
  void on_carrier(const relaygw::tty::CarrierEvent&) override {}
};

// Decodes every clean file with noise from seeds 1..seeds at `snr_db` and returns how many codes
// were read at the rate the file's transmitter does not use.
std::size_t count_wrong_rate_codes(double snr_db, std::uint64_t seeds) {
  std::size_t wrong = 0;
  for (std::size_t f = 0; f < kCleanFiles.size(); ++f) {
    const fs::path wav = kCorpusDir / (kCleanFiles[f] + ".wav");
    INFO(wav.string());
    const auto clean = read_audio_file(wav.string());
    REQUIRE(clean.is_ok());
    const bool sent_at_50 = kCleanFiles[f].find("50__") != std::string::npos;
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
      const Audio noisy = add_noise(clean.value(), snr_db, seed * 1000 + f);
      RateCounter counter;
      relaygw::tty::FskDemodulator demodulator(
          relaygw::tty::DemodulatorConfig{noisy.sample_rate_hz, relaygw::tty::BaudSetting::Auto},
          counter);
      demodulator.push(noisy.samples);
      demodulator.flush();
      wrong += sent_at_50 ? counter.codes_45 : counter.codes_50;
    }
  }
  std::printf("noise %+.0f dB SNR: %zu codes read at the wrong rate (%llu seeds)\n", snr_db, wrong,
              static_cast<unsigned long long>(seeds));
  return wrong;
}

}  // namespace

TEST_CASE("noise generator meets the requested SNR", "[tty][noise]") {
  const auto clean = read_audio_file((kCorpusDir / "spandsp45__d01.wav").string());
  REQUIRE(clean.is_ok());
  const Audio noisy = add_noise(clean.value(), -9.0, 7);
  REQUIRE(noisy.samples.size() == clean->samples.size());

  double noise_power = 0.0;
  for (std::size_t i = 0; i < noisy.samples.size(); ++i) {
    const double n = noisy.samples[i] - clean->samples[i];
    noise_power += n * n;
  }
  noise_power /= static_cast<double>(noisy.samples.size());
  const double snr_db = 10.0 * std::log10(active_power(clean->samples) / noise_power);
  // spandsp's level is low enough that almost nothing clips at -9 dB.
  CHECK(snr_db == Approx(-9.0).margin(0.05));
  // The same seed gives the same noise.
  CHECK(add_noise(clean.value(), -9.0, 7).samples == noisy.samples);
}

TEST_CASE("receiver CER at -9 dB SNR", "[tty][noise]") {
  // 40 seeds of 295 characters: 11,800 characters, so one error is 0.008%.
  const Score score = score_noise(-9.0, 40);
  // The target is 2%. The receiver measures 1.42% (167 errors) on this set, and 1.50% on
  // seeds 1 to 80. The ceiling of 1.6% (188 errors) leaves a small margin for changes that
  // trade a few errors.
  CHECK(score.cer() <= 0.016);
}

TEST_CASE("receiver reads doubtful LTRS after spurious one", "[tty][noise]") {
  // With this noise the lead-in of py50__d06 passes for a LTRS, and the sender's own LTRS then
  // arrives as V (0x1E) with a doubtful least significant bit. Read as V it would print "VYES".
  const std::size_t file = 5;
  REQUIRE(kCleanFiles[file] == "py50__d06");
  const auto clean = read_audio_file((kCorpusDir / "py50__d06.wav").string());
  REQUIRE(clean.is_ok());
  const auto decoded = decode_audio(add_noise(clean.value(), -9.0, 26 * 1000 + file));
  REQUIRE(decoded.is_ok());
  CHECK(normalise(decoded->text).starts_with("YES "));
}

TEST_CASE("receiver CER at -6 dB SNR", "[tty][noise]") {
  const Score score = score_noise(-6.0, 10);
  // Measured: 2 errors in 2,950 characters.
  CHECK(score.cer() <= 0.002);
}

TEST_CASE("demodulator keeps each transmitter's rate at -9 dB SNR", "[tty][noise]") {
  // Seeds 1 to 80 of the ten files hold 23,600 characters. Before each rate kept its own
  // stop-bit evidence, 110 codes were read at the wrong rate, 67 of them in two spandsp texts at
  // 50 bit/s that were read almost whole at 45.45 bit/s. Now 48 are, 23 of them at the start of
  // one of those texts, before the rate turns.
  CHECK(count_wrong_rate_codes(-9.0, 80) <= 60);
}
