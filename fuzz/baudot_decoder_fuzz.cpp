// libFuzzer target: relaygw::tty::BaudotDecoder with every ShiftConvention.
//
// Each input byte is one 5-bit code (byte & 31). The top three bits add events between codes:
// 0b111 flushes the decoder and 0b110 resets it, as a carrier drop does.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tty/baudot.hpp"

using relaygw::tty::BaudotDecoder;
using relaygw::tty::ShiftConvention;
using relaygw::tty::TimedChar;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
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
      decoder.push(data[i] & 31, 0.165 * static_cast<double>(i), out);
    }
    decoder.flush(out);
  }
  return 0;
}
