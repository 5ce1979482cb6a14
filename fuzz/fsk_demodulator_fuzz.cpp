// libFuzzer target: relaygw::tty::FskDemodulator on arbitrary audio.
//
// Byte 0 picks the sample rate, byte 1 the baud setting, and byte 2 seeds the block sizes. The
// rest are 16-bit little-endian samples, pushed in blocks of 1 to 512 samples. Besides crashes
// and sanitizer reports, the target aborts when a delivered code is above 31 or a time is
// negative or not finite.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "tty/fsk_demodulator.hpp"

namespace {

using relaygw::tty::BaudSetting;

constexpr std::array<double, 7> kSampleRatesHz = {8000.0,  11025.0, 16000.0, 22050.0,
                                                  32000.0, 44100.0, 48000.0};
constexpr std::array<BaudSetting, 3> kBaudSettings = {BaudSetting::Auto, BaudSetting::Baud45_45,
                                                      BaudSetting::Baud50};
constexpr std::size_t kHeaderBytes = 3;

void check_time(double time_s, const char* event_name) {
  if (!std::isfinite(time_s) || time_s < 0.0) {
    std::fprintf(stderr, "demodulator delivered %s at time %f s\n", event_name, time_s);
    std::abort();
  }
}

class CheckingListener : public relaygw::tty::DemodulatorListener {
 public:
  void on_code(const relaygw::tty::ReceivedCode& code) override {
    if (code.code > 31) {
      std::fprintf(stderr, "demodulator delivered code %u, above 31\n", code.code);
      std::abort();
    }
    check_time(code.time_s, "a code");
  }
  void on_carrier(const relaygw::tty::CarrierEvent& event) override {
    check_time(event.time_s, "a carrier event");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderBytes) {
    return 0;
  }
  relaygw::tty::DemodulatorConfig config;
  config.sample_rate_hz = kSampleRatesHz[data[0] % kSampleRatesHz.size()];
  config.baud = kBaudSettings[data[1] % kBaudSettings.size()];
  std::uint32_t block_seed = data[2];

  std::vector<float> samples((size - kHeaderBytes) / 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::uint8_t* bytes = data + kHeaderBytes + 2 * i;
    const auto value = static_cast<std::int16_t>(bytes[0] | (bytes[1] << 8));
    samples[i] = static_cast<float>(value) / 32768.0f;
  }

  CheckingListener listener;
  relaygw::tty::FskDemodulator demodulator(config, listener);
  std::size_t offset = 0;
  while (offset < samples.size()) {
    // A small linear congruential generator varies the block size from the seed byte.
    block_seed = block_seed * 1103515245u + 12345u;
    const std::size_t block = 1 + (block_seed >> 16) % 512;
    const std::size_t length = std::min(block, samples.size() - offset);
    demodulator.push(std::span<const float>(samples.data() + offset, length));
    offset += length;
  }
  demodulator.flush();
  return 0;
}
