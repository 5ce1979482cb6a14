#include "tty/detail/block_mixer.hpp"

#include <cmath>
#include <numbers>
#include <numeric>

namespace relaygw::tty::detail {
namespace {

// Lanes of the per-sample accumulators; 8 floats fill one AVX register, and the compiler turns
// the fixed-length lane loops below into vector code.
constexpr int kLanes = 8;

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

  float acc_mr[kLanes] = {};
  float acc_mi[kLanes] = {};
  float acc_sr[kLanes] = {};
  float acc_si[kLanes] = {};
  float acc_sum[kLanes] = {};
  float acc_sq[kLanes] = {};
  int n = 0;
  for (; n + kLanes <= block_size_; n += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) {
      const float x = samples[n + lane];
      acc_mr[lane] += x * mc[n + lane];
      acc_mi[lane] += x * ms[n + lane];
      acc_sr[lane] += x * sc[n + lane];
      acc_si[lane] += x * ss[n + lane];
      acc_sum[lane] += x;
      acc_sq[lane] += x * x;
    }
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

  float mr = 0.0f;
  float mi = 0.0f;
  float sr = 0.0f;
  float si = 0.0f;
  float sum = 0.0f;
  float sq = 0.0f;
  for (int lane = 0; lane < kLanes; ++lane) {
    mr += acc_mr[lane];
    mi += acc_mi[lane];
    sr += acc_sr[lane];
    si += acc_si[lane];
    sum += acc_sum[lane];
    sq += acc_sq[lane];
  }

  table_pos_ += static_cast<std::size_t>(block_size_);
  if (table_pos_ == table_size_) {
    table_pos_ = 0;
  }
  const float energy = sq - sum * sum / static_cast<float>(block_size_);
  return BlockSums{{mr, mi}, {sr, si}, energy > 0.0f ? energy : 0.0f};
}

}  // namespace relaygw::tty::detail
