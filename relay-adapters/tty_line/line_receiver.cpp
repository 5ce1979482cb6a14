#include "relay-adapters/tty_line/line_receiver.hpp"

#include "tty/audio_file.hpp"

namespace relaygw::relay::tty_line {
namespace {

constexpr float kPcmScale = 1.0f / 32768.0f;

float pcm16_sample(std::uint8_t low, std::uint8_t high) {
  const auto value = static_cast<std::int16_t>(static_cast<std::uint16_t>(low) |
                                               static_cast<std::uint16_t>(high) << 8);
  return static_cast<float>(value) * kPcmScale;
}

}  // namespace

LineReceiver::LineReceiver(const LineHeader& header)
    : encoding_(header.encoding),
      sample_rate_hz_(static_cast<double>(header.sample_rate_hz)),
      receiver_(tty::ReceiverConfig{static_cast<double>(header.sample_rate_hz)}) {}

void LineReceiver::push(std::span<const std::uint8_t> bytes) {
  if (encoding_ == tty::AudioEncoding::Pcm16) {
    feed_pcm16(bytes);
  } else {
    feed_mulaw(bytes);
  }
  flush_block();
}

void LineReceiver::feed_pcm16(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  if (has_low_byte_ && !bytes.empty()) {
    block_[block_size_++] = pcm16_sample(low_byte_, bytes[0]);
    has_low_byte_ = false;
    i = 1;
  }
  for (; i + 1 < bytes.size(); i += 2) {
    if (block_size_ == kBlockSamples) {
      flush_block();
    }
    block_[block_size_++] = pcm16_sample(bytes[i], bytes[i + 1]);
  }
  if (i < bytes.size()) {
    has_low_byte_ = true;
    low_byte_ = bytes[i];
  }
}

void LineReceiver::feed_mulaw(std::span<const std::uint8_t> bytes) {
  for (std::uint8_t byte : bytes) {
    if (block_size_ == kBlockSamples) {
      flush_block();
    }
    block_[block_size_++] = static_cast<float>(tty::mulaw_to_linear(byte)) * kPcmScale;
  }
}

void LineReceiver::flush_block() {
  if (block_size_ == 0) {
    return;
  }
  receiver_.push(std::span<const float>(block_.data(), block_size_));
  samples_ += block_size_;
  block_size_ = 0;
}

void LineReceiver::flush() {
  flush_block();
  has_low_byte_ = false;
  receiver_.flush();
}

void LineReceiver::take_carrier_events(std::vector<tty::CarrierEvent>& out) {
  const std::vector<tty::CarrierEvent>& events = receiver_.carrier_events();
  out.insert(out.end(), events.begin() + static_cast<std::ptrdiff_t>(carrier_events_taken_),
             events.end());
  carrier_events_taken_ = events.size();
}

double LineReceiver::elapsed_s() const { return static_cast<double>(samples_) / sample_rate_hz_; }

}  // namespace relaygw::relay::tty_line
