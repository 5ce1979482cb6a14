// libFuzzer target: relaygw::tty::BaudotDecoder with every ShiftConvention, fed once without and
// once with per-bit confidences (the path TtyReceiver uses).
//
// Each input byte is one 5-bit code (byte & 31). The top three bits add events between codes:
// 0b111 flushes the decoder and 0b110 resets it, as a carrier drop does. In the confidence run,
// bit b of the code at byte i gets confidence data[(i + 1 + b) % size] / 128, so that inputs
// reach both doubtful (below BaudotDecoder::kDoubtfulBit) and sure bits.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tty/baudot.hpp"

using relaygw::tty::BaudotDecoder;
using relaygw::tty::ShiftConvention;
using relaygw::tty::TimedChar;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const bool with_confidence : {false, true}) {
    for (auto convention :
         {ShiftConvention::Auto, ShiftConvention::ExplicitOnly, ShiftConvention::UnshiftOnSpace}) {
      BaudotDecoder decoder(convention);
      std::vector<TimedChar> out;
      for (std::size_t i = 0; i < size; ++i) {
        const std::uint8_t event = data[i] >> 5;
        if (event == 0b111) {
          decoder.flush(out);
        } else if (event == 0b110) {
          decoder.flush(out);
          decoder.reset();
        }
        const auto code = static_cast<std::uint8_t>(data[i] & 31);
        const double time_s = 0.165 * static_cast<double>(i);
        if (!with_confidence) {
          decoder.push(code, time_s, out);
          continue;
        }
        std::array<float, 5> confidence{};
        for (std::size_t bit = 0; bit < confidence.size(); ++bit) {
          confidence[bit] = static_cast<float>(data[(i + 1 + bit) % size]) / 128.0F;
        }
        decoder.push(code, confidence, time_s, out);
      }
      decoder.flush(out);
    }
  }
  return 0;
}
