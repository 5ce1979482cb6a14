// First stage of the FSK demodulator: mixes the audio down to complex baseband at the nominal
// mark and space tones and sums it over short blocks (about 1 ms), so that everything after
// it runs at about 1 kHz.
//
// The oscillators are exact tables whose length is a whole number of periods of both tones
// and a whole number of blocks, so the mixer needs no trigonometry per sample and never
// drifts. At 8 000 Hz the table has 40 entries (1400 and 1800 Hz are 7/40 and 9/40 of the
// sample rate) and a block is 8 samples.
#pragma once

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

namespace relaygw::tty::detail {

// Baseband sums of one block. `energy` is the sum of squares with the block's DC removed.
struct BlockSums {
  std::complex<float> mark;
  std::complex<float> space;
  float energy = 0.0f;
};

class BlockMixer {
 public:
  // Requires: 8000 <= sample_rate_hz <= 48000; the tones are multiples of 200 Hz.
  BlockMixer(double sample_rate_hz, double mark_hz, double space_hz);

  int block_size() const { return block_size_; }
  double block_rate_hz() const { return block_rate_hz_; }

  // Mixes `samples` and calls `on_block(const BlockSums&)` for every block they complete.
  // A partial block is kept until the next call.
  template <typename OnBlock>
  void push(std::span<const float> samples, OnBlock&& on_block) {
    std::size_t i = 0;
    const std::size_t size = samples.size();
    const auto block = static_cast<std::size_t>(block_size_);

    // Complete a block started by the previous call.
    while (partial_count_ > 0 && i < size) {
      partial_[partial_count_++] = samples[i++];
      if (partial_count_ == block) {
        on_block(mix_block(partial_.data()));
        partial_count_ = 0;
      }
    }
    for (; i + block <= size; i += block) {
      on_block(mix_block(samples.data() + i));
    }
    for (; i < size; ++i) {
      partial_[partial_count_++] = samples[i];
    }
  }

 private:
  BlockSums mix_block(const float* samples);

  int block_size_ = 8;
  double block_rate_hz_ = 1000.0;
  std::size_t table_size_ = 0;
  std::size_t table_pos_ = 0;
  // cos and -sin of each tone, so that a dot product gives x * exp(-j w n).
  std::vector<float> mark_cos_;
  std::vector<float> mark_sin_;
  std::vector<float> space_cos_;
  std::vector<float> space_sin_;
  std::vector<float> partial_;
  std::size_t partial_count_ = 0;
};

}  // namespace relaygw::tty::detail
