#include "tty/detail/carrier_detector.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace relaygw::tty::detail {
namespace {

// Weight of the newest frame in the running averages (a time constant of about 3 frames).
constexpr double kAverageWeight = 0.35;
// Fraction of the band energy in the best tone pair that turns the carrier on, and in the
// locked pair below which it turns off. White noise alone gives about 0.035 for the best of
// the bank and 0.02 for a fixed pair; a carrier at -9 dB SNR gives about 0.1.
constexpr double kOnThreshold = 0.075;
constexpr double kOffThreshold = 0.045;
// Frames in a row above kOnThreshold before the carrier is reported on, so that the offsets
// are chosen from at least one frame that the tone fills.
constexpr int kOnFrames = 2;
// Frames after carrier on during which the whole bank is still measured and the locked pair
// may move (about 0.3 s): a transmission can open with mark only, and the space offset is
// only a guess until space bits arrive.
constexpr int kAcquireFrames = 12;
// Frames in a row below kOffThreshold before the carrier is reported off.
constexpr int kOffFrames = 3;
// Largest difference between the mark and space offsets of one transmitter: a 5% scaling
// of both tones moves them 70 and 90 Hz.
constexpr int kMaxPairSpread = 2;
// Mean square per sample below which a frame counts as silence (about -70 dBFS).
constexpr double kMinPower = 1e-7;

}  // namespace

CarrierDetector::CarrierDetector(double block_rate_hz, int block_size) {
  const double samples_per_frame = static_cast<double>(kFrameBlocks) * block_size;
  sample_scale_ = 2.0 / samples_per_frame;
  min_frame_energy_ = kMinPower * samples_per_frame;
  const double group_rate_hz = block_rate_hz / kGroupBlocks;
  for (int j = 0; j < kOffsetCount; ++j) {
    for (int g = 0; g < kFrameGroups; ++g) {
      const double phase = -2.0 * std::numbers::pi * offset_hz(j) * g / group_rate_hz;
      bank_[j][g] = {static_cast<float>(std::cos(phase)), static_cast<float>(std::sin(phase))};
    }
  }
}

CarrierChange CarrierDetector::push(const BlockSums& block) {
  group_mark_ += block.mark;
  group_space_ += block.space;
  frame_energy_ += block.energy;
  ++blocks_;
  if (++block_in_group_ < kGroupBlocks) {
    return CarrierChange::None;
  }
  mark_groups_[group_] = group_mark_;
  space_groups_[group_] = group_space_;
  group_mark_ = {};
  group_space_ = {};
  block_in_group_ = 0;
  if (++group_ < kFrameGroups) {
    return CarrierChange::None;
  }
  const CarrierChange changed = finish_frame();
  frame_energy_ = 0.0f;
  group_ = 0;
  return changed;
}

float CarrierDetector::tone_energy(const std::array<std::complex<float>, kFrameGroups>& groups,
                                   int index) const {
  std::complex<float> sum{};
  for (int g = 0; g < kFrameGroups; ++g) {
    sum += groups[g] * bank_[index][g];
  }
  return std::norm(sum);
}

double CarrierDetector::search_pair(int& mark_index, int& space_index) const {
  // Visit offsets from 0 Hz outwards, so that a tie goes to the smaller offset.
  double best = -1.0;
  for (int step = 0; step < kOffsetCount; ++step) {
    const int center = kOffsetCount / 2;
    const int m = (step % 2 == 0) ? center + step / 2 : center - (step + 1) / 2;
    const int low = std::max(0, m - kMaxPairSpread);
    const int high = std::min(kOffsetCount - 1, m + kMaxPairSpread);
    for (int s = low; s <= high; ++s) {
      const double total = mark_average_[m] + space_average_[s];
      if (total > best) {
        best = total;
        mark_index = m;
        space_index = s;
      }
    }
  }
  return best;
}

// Interpolates the peak of the averaged bank energies with a parabola through three points.
double CarrierDetector::refine_offset(const std::array<double, kOffsetCount>& energy,
                                      int index) const {
  if (index == 0 || index == kOffsetCount - 1) {
    return offset_hz(index);
  }
  const double left = energy[index - 1];
  const double center = energy[index];
  const double right = energy[index + 1];
  const double denominator = left - 2.0 * center + right;
  if (denominator >= 0.0) {
    return offset_hz(index);
  }
  const double shift = std::clamp(0.5 * (left - right) / denominator, -0.5, 0.5);
  return offset_hz(index) + shift * kOffsetStepHz;
}

void CarrierDetector::update_bank(bool silent) {
  for (int j = 0; j < kOffsetCount; ++j) {
    const double mark = silent ? 0.0 : tone_energy(mark_groups_, j) * sample_scale_;
    const double space = silent ? 0.0 : tone_energy(space_groups_, j) * sample_scale_;
    mark_average_[j] += kAverageWeight * (mark - mark_average_[j]);
    space_average_[j] += kAverageWeight * (space - space_average_[j]);
  }
}

CarrierChange CarrierDetector::finish_frame() {
  const bool silent = frame_energy_ < min_frame_energy_;
  energy_average_ += kAverageWeight * (frame_energy_ - energy_average_);

  if (!on_) {
    // Measure the whole bank and look for the best pair.
    update_bank(silent);
    int mark_index = mark_index_;
    int space_index = space_index_;
    const double pair = search_pair(mark_index, space_index);
    score_ = energy_average_ > min_frame_energy_ ? pair / energy_average_ : 0.0;
    if (score_ < kOffThreshold) {
      rise_block_ = -1;
    } else if (rise_block_ < 0) {
      rise_block_ = blocks_ - kFrameBlocks;
    }
    high_frames_ = (silent || score_ < kOnThreshold) ? 0 : high_frames_ + 1;
    if (high_frames_ < kOnFrames) {
      return CarrierChange::None;
    }
    on_ = true;
    low_frames_ = 0;
    acquire_frames_ = kAcquireFrames;
    mark_index_ = mark_index;
    space_index_ = space_index;
    mark_offset_hz_ = refine_offset(mark_average_, mark_index);
    space_offset_hz_ = refine_offset(space_average_, space_index);
    return CarrierChange::On;
  }

  // Carrier on: follow the locked pair, and during acquisition let it move to a better one.
  CarrierChange change = CarrierChange::None;
  if (acquire_frames_ > 0) {
    --acquire_frames_;
    update_bank(silent);
    int mark_index = mark_index_;
    int space_index = space_index_;
    search_pair(mark_index, space_index);
    if (mark_index != mark_index_ || space_index != space_index_) {
      mark_index_ = mark_index;
      space_index_ = space_index;
      change = CarrierChange::OffsetsChanged;
    }
    mark_offset_hz_ = refine_offset(mark_average_, mark_index);
    space_offset_hz_ = refine_offset(space_average_, space_index);
  } else {
    const double mark = silent ? 0.0 : tone_energy(mark_groups_, mark_index_) * sample_scale_;
    const double space = silent ? 0.0 : tone_energy(space_groups_, space_index_) * sample_scale_;
    mark_average_[mark_index_] += kAverageWeight * (mark - mark_average_[mark_index_]);
    space_average_[space_index_] += kAverageWeight * (space - space_average_[space_index_]);
  }
  const double pair = mark_average_[mark_index_] + space_average_[space_index_];
  score_ = energy_average_ > min_frame_energy_ ? pair / energy_average_ : 0.0;
  low_frames_ = (silent || score_ < kOffThreshold) ? low_frames_ + 1 : 0;
  if (low_frames_ < kOffFrames) {
    return change;
  }
  on_ = false;
  high_frames_ = 0;
  rise_block_ = -1;
  mark_average_.fill(0.0);
  space_average_.fill(0.0);
  return CarrierChange::Off;
}

}  // namespace relaygw::tty::detail
