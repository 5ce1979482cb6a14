// libFuzzer target: relaygw::tty::parse_wav on arbitrary bytes.
//
// Besides crashes and sanitizer reports, it aborts when a file is accepted but breaks the
// reader's contract: a sample rate outside 8000 to 48000 Hz or a sample outside [-1, 1].
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "tty/audio_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto audio = relaygw::tty::parse_wav(std::span<const std::uint8_t>(data, size), "fuzz.wav");
  if (!audio) {
    return 0;
  }
  if (!(audio->sample_rate_hz >= 8000.0 && audio->sample_rate_hz <= 48000.0)) {
    std::fprintf(stderr, "parse_wav accepted sample rate %f Hz\n", audio->sample_rate_hz);
    std::abort();
  }
  for (std::size_t i = 0; i < audio->samples.size(); ++i) {
    const float sample = audio->samples[i];
    if (!(sample >= -1.0f && sample <= 1.0f)) {
      std::fprintf(stderr, "parse_wav returned sample %zu = %f, outside [-1, 1]\n", i,
                   static_cast<double>(sample));
      std::abort();
    }
  }
  return 0;
}
