// Carrier detection for the FSK demodulator, at the block rate of BlockMixer (about 1 kHz).
//
// Every frame (6 groups of 4 blocks, about 24 ms) it measures the energy of each tone at a
// bank of frequency offsets, averages it over a few frames, and compares the best mark/space
// pair with the total energy of the band. A carrier is on when that fraction is high: broadband
// noise spreads its energy over the whole band, and speech over many harmonics, while an FSK
// carrier puts nearly all of it at two frequencies. While the carrier is on only the locked
// pair is measured, which keeps the per-block cost low.
#pragma once

#include <array>
#include <complex>
#include <cstdint>

#include "tty/detail/block_mixer.hpp"

namespace relaygw::tty::detail {

// What a pushed block changed.
enum class CarrierChange { None, On, Off, OffsetsChanged };

class CarrierDetector {
 public:
  // Offsets from the nominal tones that the bank covers: 5% of 1800 Hz is 90 Hz, plus margin.
  static constexpr int kOffsetCount = 17;
  static constexpr double kOffsetStepHz = 15.0;
  static constexpr int kGroupBlocks = 4;
  static constexpr int kFrameGroups = 6;
  static constexpr int kFrameBlocks = kGroupBlocks * kFrameGroups;

  CarrierDetector(double block_rate_hz, int block_size);

  // Feeds one block. Returns what changed when the block completed a frame: the carrier
  // state, or the locked offsets (only during the first frames after carrier on, while the
  // space tone may not have been seen yet).
  CarrierChange push(const BlockSums& block);

  bool on() const { return on_; }
  // Mark and space offsets of the locked pair, in Hz, valid while on().
  double mark_offset_hz() const { return mark_offset_hz_; }
  double space_offset_hz() const { return space_offset_hz_; }
  // Number of blocks pushed so far.
  std::int64_t blocks() const { return blocks_; }
  // First block of the run of frames that led to the last carrier on.
  std::int64_t rise_block() const { return rise_block_; }
  // Fraction of the band energy in the best (off) or locked (on) tone pair, last frame.
  double score() const { return score_; }

 private:
  static double offset_hz(int index) { return (index - kOffsetCount / 2) * kOffsetStepHz; }

  CarrierChange finish_frame();
  void update_bank(bool silent);
  double search_pair(int& mark_index, int& space_index) const;
  double refine_offset(const std::array<double, kOffsetCount>& energy, int index) const;
  float tone_energy(const std::array<std::complex<float>, kFrameGroups>& groups, int index) const;

  double sample_scale_ = 0.0;  // 2 / (samples per frame): |sum|^2 to tone energy
  std::array<std::array<std::complex<float>, kFrameGroups>, kOffsetCount> bank_{};

  // Tone sums of the frame's completed groups, and of the group in progress.
  std::array<std::complex<float>, kFrameGroups> mark_groups_{};
  std::array<std::complex<float>, kFrameGroups> space_groups_{};
  std::complex<float> group_mark_{};
  std::complex<float> group_space_{};
  float frame_energy_ = 0.0f;
  int block_in_group_ = 0;
  int group_ = 0;  // index of the group in progress within the frame

  std::array<double, kOffsetCount> mark_average_{};
  std::array<double, kOffsetCount> space_average_{};
  double energy_average_ = 0.0;

  bool on_ = false;
  int mark_index_ = kOffsetCount / 2;
  int space_index_ = kOffsetCount / 2;
  double mark_offset_hz_ = 0.0;
  double space_offset_hz_ = 0.0;
  int high_frames_ = 0;
  int acquire_frames_ = 0;
  int low_frames_ = 0;
  std::int64_t blocks_ = 0;
  std::int64_t rise_block_ = -1;
  double score_ = 0.0;
  double min_frame_energy_ = 0.0;
};

}  // namespace relaygw::tty::detail
