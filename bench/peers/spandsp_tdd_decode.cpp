// spandsp_tdd_decode: decodes a US TTY (Baudot) recording with spandsp's V.18 receiver, as a
// peer decoder for bench/tty_bench.cpp. Prints the decoded text to standard output.
//
// Usage: spandsp_tdd_decode [--baud 45|50] FILE
//
// The file is read with relaygw's WAV reader, so every format relaygw reads works here too.
// spandsp's receiver runs at 8000 Hz only, so other sample rates are resampled to 8000 Hz with
// a windowed-sinc filter first. spandsp 0.0.6 has no rate detection: --baud picks
// V18_MODE_5BIT_45 (the default) or V18_MODE_5BIT_50.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numbers>
#include <string>
#include <vector>

extern "C" {
#include <spandsp.h>
}

#include "tty/audio_file.hpp"

namespace {

constexpr double kSpandspRateHz = 8000.0;
// Half-width of the resampling filter in output samples.
constexpr int kSincHalfWidth = 16;
// Samples handed to v18_rx per call: 20 ms, the usual telephony frame.
constexpr int kBlockSamples = 160;
// Silence appended after the audio so the receiver reports carrier down and delivers the
// characters it still holds.
constexpr int kTrailingSilenceSamples = 8000;

// Resamples `in` from `in_rate_hz` to 8000 Hz with a Hann-windowed sinc low-pass at 0.45 of the
// output rate, so tones near 4 kHz and above do not alias into the 1400 to 1800 Hz band.
std::vector<float> resample_to_8k(const std::vector<float>& in, double in_rate_hz) {
  const double step = in_rate_hz / kSpandspRateHz;   // input samples per output sample
  const double cutoff = 0.45 / std::max(step, 1.0);  // cycles per input sample
  const double half_width_in = kSincHalfWidth * std::max(step, 1.0);
  const auto out_size = static_cast<std::size_t>(static_cast<double>(in.size()) / step);
  std::vector<float> out(out_size);
  for (std::size_t i = 0; i < out_size; ++i) {
    const double center = static_cast<double>(i) * step;
    const auto first = static_cast<long>(std::ceil(center - half_width_in));
    const auto last = static_cast<long>(std::floor(center + half_width_in));
    double sum = 0.0;
    for (long j = std::max(first, 0L); j <= last && j < static_cast<long>(in.size()); ++j) {
      const double x = static_cast<double>(j) - center;
      const double window = 0.5 + 0.5 * std::cos(std::numbers::pi * x / half_width_in);
      const double arg = 2.0 * cutoff * x;
      const double sinc =
          (arg == 0.0) ? 1.0 : std::sin(std::numbers::pi * arg) / (std::numbers::pi * arg);
      sum += in[static_cast<std::size_t>(j)] * 2.0 * cutoff * sinc * window;
    }
    out[i] = static_cast<float>(sum);
  }
  return out;
}

std::vector<std::int16_t> to_pcm16(const std::vector<float>& samples) {
  std::vector<std::int16_t> pcm(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const double scaled = std::clamp(samples[i] * 32767.0, -32768.0, 32767.0);
    pcm[i] = static_cast<std::int16_t>(std::lround(scaled));
  }
  return pcm;
}

void append_message(void* user_data, const std::uint8_t* message, int length) {
  auto* text = static_cast<std::string*>(user_data);
  text->append(reinterpret_cast<const char*>(message), static_cast<std::size_t>(length));
}

int usage_error(const std::string& message) {
  std::cerr << "spandsp_tdd_decode: " << message << "\n"
            << "usage: spandsp_tdd_decode [--baud 45|50] FILE\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int mode = V18_MODE_5BIT_45;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--baud" && i + 1 < argc) {
      const std::string baud = argv[++i];
      if (baud == "45" || baud == "45.45") {
        mode = V18_MODE_5BIT_45;
      } else if (baud == "50") {
        mode = V18_MODE_5BIT_50;
      } else {
        return usage_error("invalid --baud '" + baud + "'; use 45 or 50");
      }
    } else if (path.empty()) {
      path = arg;
    } else {
      return usage_error("unexpected argument '" + arg + "'");
    }
  }
  if (path.empty()) {
    return usage_error("missing FILE");
  }

  auto audio = relaygw::tty::read_audio_file(path);
  if (!audio) {
    std::cerr << "spandsp_tdd_decode: " << audio.status().message() << "\n";
    return 1;
  }
  std::vector<float> samples = std::move(audio->samples);
  if (audio->sample_rate_hz != kSpandspRateHz) {
    samples = resample_to_8k(samples, audio->sample_rate_hz);
  }
  std::vector<std::int16_t> pcm = to_pcm16(samples);
  pcm.resize(pcm.size() + kTrailingSilenceSamples, 0);

  std::string text;
  v18_state_t* receiver = v18_init(nullptr, 0, mode, append_message, &text);
  if (receiver == nullptr) {
    std::cerr << "spandsp_tdd_decode: v18_init failed for mode " << v18_mode_to_str(mode) << "\n";
    return 1;
  }
  for (std::size_t offset = 0; offset < pcm.size(); offset += kBlockSamples) {
    const auto length = static_cast<int>(std::min<std::size_t>(kBlockSamples, pcm.size() - offset));
    v18_rx(receiver, pcm.data() + offset, length);
  }
  v18_free(receiver);

  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
