#include "tty/detail/block_mixer.hpp"

#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>
#include <type_traits>

namespace relaygw::tty::detail {
namespace {

// Per-sample accumulators: 4 floats, one SSE or NEON register.
constexpr int kLanes = 4;
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));

Lanes load(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Returns {a0 + a1, a2 + a3, b0 + b1, b2 + b3}.
Lanes pair_sums(Lanes a, Lanes b) {
  return __builtin_shufflevector(a, b, 0, 2, 4, 6) + __builtin_shufflevector(a, b, 1, 3, 5, 7);
}

// Sums of x times each table over one block, plus the sum and the sum of squares of x.
struct Accumulators {
  Lanes mark_re{};
  Lanes mark_im{};
  Lanes space_re{};
  Lanes space_im{};
  Lanes sum{};
  Lanes squares{};
};

// Accumulates the whole groups of four samples among `count`. With `count` a compile-time
// constant (the 8-sample blocks of 8000 Hz audio) the loop unrolls completely.
template <typename Count>
int accumulate_lanes(const float* x, const float* mc, const float* ms, const float* sc,
                     const float* ss, Count count, Accumulators& acc) {
  int n = 0;
  for (; n + kLanes <= count; n += kLanes) {
    const Lanes v = load(x + n);
    acc.mark_re += v * load(mc + n);
    acc.mark_im += v * load(ms + n);
    acc.space_re += v * load(sc + n);
    acc.space_im += v * load(ss + n);
    acc.sum += v;
    acc.squares += v * v;
  }
  return n;
}

}  // namespace

BlockMixer::BlockMixer(double sample_rate_hz, double mark_hz, double space_hz) {
  const auto rate = static_cast<long>(std::lround(sample_rate_hz));
  block_size_ = static_cast<int>(std::lround(sample_rate_hz / 1000.0));
  block_rate_hz_ = sample_rate_hz / block_size_;

  // One period of both tones (multiples of 200 Hz) is rate / gcd(rate, 200) samples; the
  // table also covers a whole number of blocks so that every block starts at a fixed offset.
  const long period = rate / std::gcd(rate, 200L);
  table_size_ = static_cast<std::size_t>(std::lcm(period, static_cast<long>(block_size_)));
  mark_cos_.resize(table_size_);
  mark_sin_.resize(table_size_);
  space_cos_.resize(table_size_);
  space_sin_.resize(table_size_);
  for (std::size_t n = 0; n < table_size_; ++n) {
    const double t = static_cast<double>(n) / static_cast<double>(rate);
    const double mark_phase = 2.0 * std::numbers::pi * mark_hz * t;
    const double space_phase = 2.0 * std::numbers::pi * space_hz * t;
    mark_cos_[n] = static_cast<float>(std::cos(mark_phase));
    mark_sin_[n] = static_cast<float>(-std::sin(mark_phase));
    space_cos_[n] = static_cast<float>(std::cos(space_phase));
    space_sin_[n] = static_cast<float>(-std::sin(space_phase));
  }
  partial_.resize(static_cast<std::size_t>(block_size_));
}

BlockSums BlockMixer::mix_block(const float* samples) {
  const float* mc = mark_cos_.data() + table_pos_;
  const float* ms = mark_sin_.data() + table_pos_;
  const float* sc = space_cos_.data() + table_pos_;
  const float* ss = space_sin_.data() + table_pos_;

  // Four lanes at a time (a GCC/Clang vector type, so no per-target intrinsics), then the
  // remainder one sample at a time in lane 0.
  Accumulators acc;
  int n = block_size_ == 8
              ? accumulate_lanes(samples, mc, ms, sc, ss, std::integral_constant<int, 8>{}, acc)
              : accumulate_lanes(samples, mc, ms, sc, ss, block_size_, acc);
  for (; n < block_size_; ++n) {
    const float x = samples[n];
    acc.mark_re[0] += x * mc[n];
    acc.mark_im[0] += x * ms[n];
    acc.space_re[0] += x * sc[n];
    acc.space_im[0] += x * ss[n];
    acc.sum[0] += x;
    acc.squares[0] += x * x;
  }

  // Add up the lanes of all four tone sums with three shuffled additions instead of four
  // separate horizontal sums. The result is {mark re, mark im, space re, space im}.
  const Lanes tones =
      pair_sums(pair_sums(acc.mark_re, acc.mark_im), pair_sums(acc.space_re, acc.space_im));
  const Lanes moments = pair_sums(acc.sum, acc.squares);
  const float sum = moments[0] + moments[1];
  const float energy = moments[2] + moments[3] - sum * sum / static_cast<float>(block_size_);
  table_pos_ += static_cast<std::size_t>(block_size_);
  if (table_pos_ == table_size_) {
    table_pos_ = 0;
  }
  return BlockSums{{tones[0], tones[1]}, {tones[2], tones[3]}, energy > 0.0f ? energy : 0.0f};
}

}  // namespace relaygw::tty::detail
