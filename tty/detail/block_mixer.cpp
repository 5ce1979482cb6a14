#include "tty/detail/block_mixer.hpp"

#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>

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

float horizontal_sum(Lanes v) {
  float total = 0.0f;
  for (int lane = 0; lane < kLanes; ++lane) {
    total += v[lane];
  }
  return total;
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
  Lanes acc_mr{};
  Lanes acc_mi{};
  Lanes acc_sr{};
  Lanes acc_si{};
  Lanes acc_sum{};
  Lanes acc_sq{};
  int n = 0;
  for (; n + kLanes <= block_size_; n += kLanes) {
    const Lanes x = load(samples + n);
    acc_mr += x * load(mc + n);
    acc_mi += x * load(ms + n);
    acc_sr += x * load(sc + n);
    acc_si += x * load(ss + n);
    acc_sum += x;
    acc_sq += x * x;
  }
  for (; n < block_size_; ++n) {
    const float x = samples[n];
    acc_mr[0] += x * mc[n];
    acc_mi[0] += x * ms[n];
    acc_sr[0] += x * sc[n];
    acc_si[0] += x * ss[n];
    acc_sum[0] += x;
    acc_sq[0] += x * x;
  }

  const float sum = horizontal_sum(acc_sum);
  const float energy = horizontal_sum(acc_sq) - sum * sum / static_cast<float>(block_size_);
  table_pos_ += static_cast<std::size_t>(block_size_);
  if (table_pos_ == table_size_) {
    table_pos_ = 0;
  }
  return BlockSums{{horizontal_sum(acc_mr), horizontal_sum(acc_mi)},
                   {horizontal_sum(acc_sr), horizontal_sum(acc_si)},
                   energy > 0.0f ? energy : 0.0f};
}

}  // namespace relaygw::tty::detail
