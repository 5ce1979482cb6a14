#include "tty/fsk_demodulator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include "tty/detail/block_mixer.hpp"
#include "tty/detail/carrier_detector.hpp"

namespace relaygw::tty {
namespace {

using detail::BlockSums;

constexpr double kMarkHz = 1400.0;
constexpr double kSpaceHz = 1800.0;

// History of block sums kept for timing searches, for decoding the characters that arrived
// before the carrier detector was sure and for decoding a transmission's first characters again
// once its rate is settled (a power of two, about 2 s at 1 kHz).
constexpr std::int64_t kRingBlocks = 2048;
// How far back from the carrier-on decision the receiver searches for characters, in blocks
// (about 1 ms each). Detection at -9 dB SNR takes up to about 200 ms.
constexpr std::int64_t kLookbackBlocks = 320;
// A character needs at least this median decision quality (tone energy difference per bit as
// a fraction of the bit's band energy: about 1 for a clean signal, 0.1 at -9 dB SNR and 0.01
// for noise alone).
constexpr double kMinQuality = 0.03;
// The bit before the start bit and the stop bit must be mark, and the start bit space, by at
// least this fraction of the frame's median quality. Speech that happens to pass the other
// checks rarely keeps a tone through the stop bit, and noise before a carrier is rarely mark.
// A frame that starts where the previous character ends needs only the right signs.
constexpr double kFramingMargin = 0.2;
// Once a transmission has characters, a frame's median quality must reach this fraction of
// their running median (updated with weight kLevelWeight), which rejects frames of noise
// after the carrier ends.
constexpr double kLevelFraction = 0.35;
constexpr double kLevelWeight = 0.2;
// Blocks either side of the expected start of a character that follows another at once.
constexpr std::int64_t kExpectedSlack = 3;
// The first character of a transmission has no level to compare with, and some senders (spandsp)
// send no mark lead-in before it, so it needs this higher median quality instead.
constexpr double kMinFirstQuality = 0.06;
// Weight of the spacing of consecutive characters in the choice of rate.
constexpr double kTimingEvidence = 1.0;
// Limit of the rate evidence (about one per clear character).
constexpr double kMaxBaudEvidence = 4.0;
// In Auto, a transmission's characters are held until the rate evidence reaches this or
// kMaxHeld characters arrive. Then the transmission is decoded again from one bit before its
// first held character, even when the evidence is not yet settled. A wrong rate early on
// misplaces every following frame until the evidence turns, and by then the tone offsets are
// better known than for the first reading. Eight characters at 45.45 bit/s take about 1.4 s,
// which fit in the 2 s ring together with the look-back before the carrier decision.
constexpr double kSettledEvidence = 3.9;
constexpr std::size_t kMaxHeld = 8;
// When the rate is settled, each held character is fitted again at both rates within this many
// blocks of where it was read, and the relative difference of the summed frame metrics, times
// kFitEvidence, is added to the rate evidence. A transmission at 45.45 bit/s fits about 10% better
// at its own rate (a misplaced bit edge costs energy at every change of tone). On the noise
// bench's -9 dB set, weights 3, 5, 7 and 10 give 3.15%, 2.96%, 3.09% and 3.09% CER.
constexpr std::int64_t kFitReach = 4;
constexpr double kFitEvidence = 5.0;
// Inside a burst the next character is searched this many blocks either side of where the
// character clock puts it, after 1.5 and after 2 stop bits.
constexpr std::int64_t kTrackSlack = 2;
// Fraction of a tracked character's timing error that moves the character clock. Senders
// keep their own clock through a burst, so the clock averages the timing over characters
// instead of trusting one noisy frame.
constexpr double kClockGain = 0.3;
// Blocks either side of the clock's position that the search follows a still-rising metric to,
// which is less than half the 11 to 10 blocks between the 1.5 and 2 stop-bit positions.
constexpr std::int64_t kTrackReach = 5;
// Stop-bit evidence (about one per clear character) beyond which the stop length is settled.
constexpr double kSureEvidence = 2.0;
// Fraction of the tone offset error measured in one character that corrects the rotation.
constexpr double kOffsetGain = 0.3;
// A refined tone offset within this many Hz of the rotation in use leaves the rotation alone.
// 0.3 Hz turns a tone by 0.06 of a cycle over the 0.2 s of ring that a new rotation rewrites,
// and skipping the rewrite saves most of its cost on clean audio.
constexpr double kMinRotationChangeHz = 0.3;
// Weight of the previous characters' bit-to-bit tone turn against the current character's. The
// turn comes from a few Hz of offset error that changes slowly, so averaging over about five
// characters beats trusting the last two. On the noise bench's -9 dB set, seeds 1 to 80, 0.3, 0.5,
// 0.7, 0.8, 0.9 and 0.95 give 2.13%, 1.94%, 1.84%, 1.82%, 1.83% and 1.84% CER.
constexpr double kTurnDecay = 0.8;
// A data bit whose one-bit margin is at least this fraction of the frame's median is clear.
constexpr double kClearBit = 0.6;
// Weight of each character in the running tone amplitude and noise power that scale the
// likelihood of a tone's sum over a frame (see read_by_tone_sums). On the noise bench's -9 dB set,
// before the tone sums replaced runs of equal bits, 0.1 and 0.3 gave 2.26% CER and 0.2 gave 2.24%.
constexpr double kSignalWeight = 0.2;

// Windows of a frame: the mark before the start bit (the previous character's stop bits or the
// carrier lead-in), the start bit, five data bits and the first stop bit.
constexpr std::size_t kWindows = 8;
constexpr std::size_t kStartWindow = 1;
constexpr std::size_t kStopWindow = 7;
using Windows = std::array<double, kWindows>;
// Bits of a frame that decide() reads: the start bit, five data bits and the first stop bit.
constexpr std::size_t kFrameBits = 7;

// Tone sums of the start bit, the five data bits and the stop bit.
using BitSums = std::array<std::complex<double>, kFrameBits>;

// Returns a * b without the NaN and infinity checks of std::complex's operator*, which cost
// a branch per product in the per-block path. The inputs here are always finite.
std::complex<double> multiply(std::complex<double> a, std::complex<double> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

// Two doubles in one vector register (a GCC/Clang vector type, SSE2 on x86-64). Lane 0 is the
// mark tone's value and lane 1 the space tone's.
using ToneLanes = double __attribute__((vector_size(2 * sizeof(double))));

// Rotation of both tones' block sums by a phasor that advances one step per block. Every block
// of a session passes through add_block, so both tones share each vector operation. Each lane
// does the products and sums of multiply() in the same order, so the sums are bit for bit those
// of the scalar code.
struct ToneRotation {
  ToneLanes phasor_re{1.0, 1.0};
  ToneLanes phasor_im{0.0, 0.0};
  ToneLanes step_re{1.0, 1.0};
  ToneLanes step_im{0.0, 0.0};

  void set_steps(std::complex<double> mark_step, std::complex<double> space_step) {
    step_re = ToneLanes{mark_step.real(), space_step.real()};
    step_im = ToneLanes{mark_step.imag(), space_step.imag()};
  }

  void reset_phasors() {
    phasor_re = ToneLanes{1.0, 1.0};
    phasor_im = ToneLanes{0.0, 0.0};
  }

  // Stores `mark_sum` + mark * phasor in `mark_out` (and the same for space), then advances the
  // phasors by one step.
  void add_block(std::complex<float> mark, std::complex<float> space, std::complex<double> mark_sum,
                 std::complex<double> space_sum, std::complex<double>& mark_out,
                 std::complex<double>& space_out) {
    const ToneLanes re{mark.real(), space.real()};
    const ToneLanes im{mark.imag(), space.imag()};
    const ToneLanes rotated_re = re * phasor_re - im * phasor_im;
    const ToneLanes rotated_im = re * phasor_im + im * phasor_re;
    mark_out = {mark_sum.real() + rotated_re[0], mark_sum.imag() + rotated_im[0]};
    space_out = {space_sum.real() + rotated_re[1], space_sum.imag() + rotated_im[1]};
    const ToneLanes next_re = phasor_re * step_re - phasor_im * step_im;
    const ToneLanes next_im = phasor_re * step_im + phasor_im * step_re;
    phasor_re = next_re;
    phasor_im = next_im;
  }

  // Scales the phasors back to magnitude 1, which rounding moves away from over many steps.
  void normalise() {
    std::complex<double> mark{phasor_re[0], phasor_im[0]};
    std::complex<double> space{phasor_re[1], phasor_im[1]};
    mark /= std::abs(mark);
    space /= std::abs(space);
    phasor_re = ToneLanes{mark.real(), space.real()};
    phasor_im = ToneLanes{mark.imag(), space.imag()};
  }
};

// Mean decision quality, counting the windows of known polarity only when they agree with it.
double frame_quality(const Windows& q) {
  double sum = q[0] - q[kStartWindow] + q[kStopWindow];
  for (std::size_t i = kStartWindow + 1; i < kStopWindow; ++i) {
    sum += std::abs(q[i]);
  }
  return sum / static_cast<double>(kWindows);
}

// Returns the element at index N / 2 of `values` sorted, which std::nth_element would also
// place there. An odd-even transposition sort (N rounds of min and max) has no data-dependent
// branches, while std::nth_element branches on every comparison.
template <std::size_t N>
double middle_element(std::array<double, N> values) {
  for (std::size_t round = 0; round < N; ++round) {
    for (std::size_t i = round % 2; i + 1 < N; i += 2) {
      const double low = std::min(values[i], values[i + 1]);
      const double high = std::max(values[i], values[i + 1]);
      values[i] = low;
      values[i + 1] = high;
    }
  }
  return values[N / 2];
}

// Median of |q| over the windows: a burst of speech or noise that fills two or three bits of a
// frame cannot raise it, while a carrier raises every bit.
double median_magnitude(const Windows& q) {
  Windows magnitude{};
  for (std::size_t i = 0; i < q.size(); ++i) {
    magnitude[i] = std::abs(q[i]);
  }
  return middle_element(magnitude);
}

struct FrameCandidate {
  std::int64_t start = 0;  // block where the start bit begins
  double bit_blocks = 0.0;
  BaudRate baud = BaudRate::Baud45_45;
  double metric = -std::numeric_limits<double>::infinity();
  Windows difference{};  // mark minus space energy of each window
  Windows quality{};     // difference as a fraction of the window's band energy
  // Character decision, made by decide() once the frame is chosen.
  std::uint8_t code = 0;
  std::array<float, 5> confidence{};
};

// 1 when `frame` starts where a character at `previous_start` with 1.5 or 2 stop bits at the
// frame's rate ends, else 0.
double follows(const FrameCandidate& frame, std::int64_t previous_start) {
  const std::int64_t gap = frame.start - previous_start;
  const bool at_once = gap >= std::lround(7.5 * frame.bit_blocks) - kExpectedSlack &&
                       gap <= std::lround(8.0 * frame.bit_blocks) + kExpectedSlack;
  return at_once ? 1.0 : 0.0;
}

// Returns ln I0(x) for x >= 0 (I0 is the modified Bessel function of order 0), from the
// polynomial approximations 9.8.1 and 9.8.2 of Abramowitz and Stegun, Handbook of Mathematical
// Functions. From 0 to 700 it differs from ln std::cyl_bessel_i(0, x) (libstdc++ 12) by at most
// 5e-7.
double log_bessel_i0(double x) {
  if (x < 3.75) {
    const double t = (x / 3.75) * (x / 3.75);
    const double series =
        1.0 +
        t * (3.5156229 +
             t * (3.0899424 + t * (1.2067492 + t * (0.2659732 + t * (0.0360768 + t * 0.0045813)))));
    return std::log(series);
  }
  const double u = 3.75 / x;
  const double series =
      0.39894228 +
      u * (0.01328592 +
           u * (0.00225319 +
                u * (-0.00157565 +
                     u * (0.00916281 +
                          u * (-0.02057706 +
                               u * (0.02635537 + u * (-0.01647633 + u * 0.00392377)))))));
  return x - 0.5 * std::log(x) + std::log(series);
}

// Returns the phase, in radians, that a tone's baseband advances while the other tone sounds for
// one bit at `baud`: 2 pi (1800 - 1400 Hz) times the bit length, 8.8 cycles at 45.45 bit/s and 8
// at 50 bit/s. A phase-continuous sender's signal phase runs on through the other tone's bits.
double other_tone_advance(BaudRate baud) {
  return 2.0 * std::numbers::pi * (kSpaceHz - kMarkHz) / bits_per_second(baud);
}

// Reads a frame that has a doubtful bit as the one of the 32 codes whose tones best fit the bit
// sums. Each data bit's confidence is how much worse the best code with that bit flipped fits,
// as a fraction of `scale` (the frame's median one-bit margin), squared. `gain` is 2 A / N for a
// tone amplitude A and a noise power N per bit sum, or 0 when unknown.
void read_by_tone_sums(const BitSums& mark, const BitSums& space, double scale, double gain,
                       FrameCandidate& frame) {
  constexpr std::size_t kBits = kFrameBits;
  // A phase-continuous sender keeps each tone's baseband phase through its own bits and advances
  // it by a known step (other_tone_advance) through each bit of the other tone. So for a code
  // (start bit space, stop bit mark), every mark bit turned back by the steps of the space bits
  // before it adds up in phase, and so do the space bits. The envelope e of each tone's sum is
  // the matched-filter output of all the frame's bits on that tone. A code's log-likelihood
  // against noise alone is ln I0(gain * e) summed over the two tones (non-coherent detection of
  // a tone of known amplitude), divided by gain to keep the envelope's units.
  const auto tone_metric = [gain](std::complex<double> sum) {
    const double envelope = std::sqrt(std::norm(sum));
    return gain > 0.0 ? log_bessel_i0(gain * envelope) / gain : envelope;
  };
  // back[n] turns a mark bit back by n space bits before it, and its conjugate a space bit by n
  // mark bits.
  std::array<std::complex<double>, kBits> back{};
  back[0] = {1.0, 0.0};
  const std::complex<double> step = std::polar(1.0, -other_tone_advance(frame.baud));
  for (std::size_t n = 1; n < kBits; ++n) {
    back[n] = multiply(back[n - 1], step);
  }

  std::array<double, 32> score{};
  for (std::uint32_t code = 0; code < 32; ++code) {
    const std::uint32_t bits = (code << 1) | (1u << (kBits - 1));
    std::complex<double> mark_sum{};
    std::complex<double> space_sum{};
    std::size_t mark_bits = 0;
    std::size_t space_bits = 0;
    for (std::size_t i = 0; i < kBits; ++i) {
      if (((bits >> i) & 1u) != 0) {
        mark_sum += multiply(mark[i], back[space_bits]);
        ++mark_bits;
      } else {
        space_sum += multiply(space[i], std::conj(back[mark_bits]));
        ++space_bits;
      }
    }
    score[code] = tone_metric(mark_sum) + tone_metric(space_sum);
  }
  std::uint32_t best = 0;
  for (std::uint32_t code = 1; code < 32; ++code) {
    if (score[code] > score[best]) {
      best = code;
    }
  }
  frame.code = static_cast<std::uint8_t>(best);

  for (std::size_t bit = 0; bit < 5; ++bit) {
    double rival = -std::numeric_limits<double>::infinity();
    for (std::uint32_t code = 0; code < 32; ++code) {
      if (((code ^ best) >> bit & 1u) != 0) {
        rival = std::max(rival, score[code]);
      }
    }
    const double ratio = scale > 0.0 ? (score[best] - rival) / scale : 0.0;
    frame.confidence[bit] = static_cast<float>(ratio * ratio);
  }
}

}  // namespace

struct FskDemodulator::Impl {
  Impl(DemodulatorConfig config, DemodulatorListener& listener);

  void push(std::span<const float> samples);
  void flush();

 private:
  void on_block(const BlockSums& block);
  void start_session();
  void end_session();
  void set_rotation();
  void rotate_history(std::int64_t from);
  void run_hunter();
  bool try_character(std::int64_t candidate);
  bool try_tracked();
  void accept(const FrameCandidate& frame, double median);
  void decide(FrameCandidate& frame);
  void remove_bit_turn(BitSums& mark, BitSums& space);
  double update_signal_estimate(const std::array<double, kFrameBits>& mark_power,
                                const std::array<double, kFrameBits>& space_power);
  void emit(const FrameCandidate& frame);
  void emit_held();
  void settle_rate();
  void refine_offsets(const FrameCandidate& frame);
  // Block offsets of the bit boundaries from the start of a frame, 0 to 7 bits.
  using BitEdges = std::array<std::int64_t, 8>;
  static BitEdges bit_edges(double bit_blocks);
  // Ring slots of a frame's window boundaries, from one bit before its start to its stop bit.
  using WindowSlots = std::array<std::size_t, kWindows + 1>;
  double frame_metric(std::int64_t start, double bit_blocks, const BitEdges& edges,
                      WindowSlots& slots, Windows& difference) const;
  double cached_metric(std::int64_t start, BaudRate baud) const;
  void clear_metric_cache();
  void evaluate(std::int64_t start, double bit_blocks, const BitEdges& edges,
                FrameCandidate& best) const;
  void search_around(std::int64_t center, std::int64_t reach, BaudRate baud,
                     FrameCandidate& best) const;
  void search_baud(std::int64_t low, std::int64_t high, BaudRate baud, FrameCandidate& best) const;
  double window_difference(std::int64_t from, std::int64_t to) const;
  double seconds(std::int64_t block) const { return block * seconds_per_block_; }

  DemodulatorConfig config_;
  DemodulatorListener& listener_;
  detail::BlockMixer mixer_;
  detail::CarrierDetector detector_;
  double seconds_per_block_ = 0.001;
  double samples_per_block_ = 8.0;
  double bit_blocks_45_ = 22.0;
  double bit_blocks_50_ = 20.0;
  BitEdges edges_45_{};
  BitEdges edges_50_{};
  std::int64_t half_bit_ = 11;
  std::int64_t blocks_needed_ = 0;
  std::int64_t history_margin_ = 0;  // blocks before a session's start that its frames read

  // Ring buffers indexed by block number & (kRingBlocks - 1). The prefix sums at index k
  // contain the sum of the rotated block sums before block k.
  std::vector<std::complex<float>> raw_mark_;
  std::vector<std::complex<float>> raw_space_;
  std::vector<std::complex<double>> prefix_mark_;
  std::vector<std::complex<double>> prefix_space_;
  std::vector<double> prefix_energy_;
  std::int64_t blocks_ = 0;

  // Frame metrics of recent start blocks at each rate, cleared whenever the prefix sums are
  // rotated again. An entry holds the start block it was computed for, -1 when empty. Between
  // two rotations the hunt only moves forward, so an entry is read again within a few hundred
  // blocks, long before the ring overwrites the blocks it was computed from.
  static constexpr std::size_t kMetricCacheSize = 64;
  struct MetricCache {
    std::array<std::int64_t, kMetricCacheSize> start{};
    std::array<double, kMetricCacheSize> metric{};
  };
  mutable MetricCache metric_cache_45_{};
  mutable MetricCache metric_cache_50_{};

  // Rotation that moves the locked tone offsets to 0 Hz.
  ToneRotation rotation_{};

  bool session_open_ = false;
  bool off_pending_ = false;
  std::int64_t session_start_ = 0;
  std::int64_t session_end_ = 0;
  std::int64_t off_block_ = 0;
  std::int64_t hunt_pos_ = 0;
  std::int64_t hunt_limit_ = 0;
  double baud_evidence_ = 0.0;  // > 0 favours 45.45, < 0 favours 50
  double level_ = 0.0;          // running median quality of this transmission's characters
  // Where the next character starts if it follows the last one without a pause.
  std::int64_t next_earliest_ = -1;
  std::int64_t next_latest_ = -1;
  BaudRate last_baud_ = BaudRate::Baud45_45;
  std::int64_t last_start_ = -1;  // start block of the last character, -1 before the first
  // Character clock of the current burst: start of the last character in fractional blocks,
  // and whether the next character is still to be looked for at the clock.
  double clock_ = 0.0;
  bool track_pending_ = false;
  // Stop-bit evidence of each rate (index 0 is 45.45 bit/s, 1 is 50), > 0 favouring 2 stop bits
  // and < 0 favouring 1.5. Each rate keeps its own, because a 50 bit/s text with 2 stop bits
  // (160 ms a character) read at 45.45 bit/s looks like 1.5 stop bits (165 ms). Shared evidence
  // then made the tracker look for the 50 bit/s rival 10 ms early, where it never fits.
  std::array<double, 2> stop_evidence_{};
  // Characters of the transmission not yet delivered: the first one until the next gives its
  // timing, and in Auto all of them until the rate is settled.
  std::array<FrameCandidate, kMaxHeld> held_{};
  std::size_t held_count_ = 0;
  bool rate_settled_ = false;
  bool redecoded_ = false;  // this transmission was decoded again from its start
  // Where the first reading stopped when the transmission was decoded again, -1 before.
  std::int64_t reread_end_ = -1;
  // Tone offsets measured from the characters, on top of the carrier detector's, in Hz.
  double mark_residual_hz_ = 0.0;
  double space_residual_hz_ = 0.0;
  // Tone offsets that the rotation of the prefix sums was last set to, in Hz.
  double rotation_mark_hz_ = 0.0;
  double rotation_space_hz_ = 0.0;
  // Phase turn per bit of each tone left after the rotation, summed over the same-tone bit
  // pairs of recent characters (decayed by kTurnDecay per character).
  std::complex<double> mark_bit_turn_{};
  std::complex<double> space_bit_turn_{};
  // Running tone amplitude and noise power of one bit's tone sum in this transmission, 0 before
  // its first character.
  double tone_amplitude_ = 0.0;
  double noise_power_ = 0.0;
};

FskDemodulator::Impl::Impl(DemodulatorConfig config, DemodulatorListener& listener)
    : config_(config),
      listener_(listener),
      mixer_(std::clamp(config.sample_rate_hz, 8000.0, 48000.0), kMarkHz, kSpaceHz),
      detector_(mixer_.block_rate_hz(), mixer_.block_size()),
      raw_mark_(kRingBlocks),
      raw_space_(kRingBlocks),
      prefix_mark_(kRingBlocks),
      prefix_space_(kRingBlocks),
      prefix_energy_(kRingBlocks) {
  clear_metric_cache();
  const double block_rate = mixer_.block_rate_hz();
  seconds_per_block_ = 1.0 / block_rate;
  samples_per_block_ = mixer_.block_size();
  bit_blocks_45_ = block_rate / bits_per_second(BaudRate::Baud45_45);
  bit_blocks_50_ = block_rate / bits_per_second(BaudRate::Baud50);
  edges_45_ = bit_edges(bit_blocks_45_);
  edges_50_ = bit_edges(bit_blocks_50_);
  half_bit_ = static_cast<std::int64_t>(std::lround(bit_blocks_45_ / 2.0));
  // Frames start at most 2 blocks before the session, and their windows reach back one bit.
  history_margin_ = 4 + 2 * half_bit_;
  // The timing search reaches two half bits past a candidate, then needs seven bits.
  blocks_needed_ = 2 * half_bit_ + static_cast<std::int64_t>(std::ceil(7.0 * bit_blocks_45_)) + 4;
}

void FskDemodulator::Impl::push(std::span<const float> samples) {
  mixer_.push(samples, [this](const BlockSums& block) { on_block(block); });
}

void FskDemodulator::Impl::flush() {
  // Silence lets the detector drop the carrier and the hunter finish the last characters.
  const std::int64_t tail = blocks_needed_ + detail::CarrierDetector::kFrameBlocks * 5;
  for (std::int64_t i = 0; i < tail; ++i) {
    on_block(BlockSums{});
  }
  if (session_open_ || off_pending_) {
    hunt_limit_ = hunt_pos_;
    end_session();
  }
}

void FskDemodulator::Impl::on_block(const BlockSums& block) {
  const std::int64_t k = blocks_;
  const auto slot = static_cast<std::size_t>(k & (kRingBlocks - 1));
  const auto next = static_cast<std::size_t>((k + 1) & (kRingBlocks - 1));
  raw_mark_[slot] = block.mark;
  raw_space_[slot] = block.space;
  prefix_energy_[next] = prefix_energy_[slot] + block.energy;
  // Without a session nothing reads the rotated sums, and start_session computes them again
  // from the raw block sums.
  if (session_open_ || off_pending_) {
    rotation_.add_block(block.mark, block.space, prefix_mark_[slot], prefix_space_[slot],
                        prefix_mark_[next], prefix_space_[next]);
    if ((k & 1023) == 0) [[unlikely]] {
      rotation_.normalise();
    }
  }
  blocks_ = k + 1;

  const detail::CarrierChange change = detector_.push(block);
  if (change == detail::CarrierChange::OffsetsChanged && session_open_) {
    mark_residual_hz_ = 0.0;
    space_residual_hz_ = 0.0;
    mark_bit_turn_ = {};
    space_bit_turn_ = {};
    set_rotation();
    rotate_history(session_start_ - history_margin_);
  } else if (change != detail::CarrierChange::None) {
    if (detector_.on()) {
      start_session();
    } else {
      // The detector needs a few frames to notice the loss; characters after the real end
      // fail the quality checks.
      off_pending_ = true;
      off_block_ = blocks_ - detail::CarrierDetector::kFrameBlocks * 3;
      hunt_limit_ = blocks_;
    }
  }
  run_hunter();
}

void FskDemodulator::Impl::start_session() {
  if (off_pending_) {
    // NOTE: a carrier that returns within about 0.2 s of dropping ends the previous session
    // here, so its last character can be lost.
    hunt_limit_ = hunt_pos_;
    end_session();
  }
  const std::int64_t oldest = blocks_ - kRingBlocks + blocks_needed_;
  std::int64_t start = std::max({blocks_ - kLookbackBlocks, session_end_, oldest, std::int64_t{4}});
  if (detector_.rise_block() >= 0) {
    start = std::max(start, detector_.rise_block() - 4 * half_bit_);
  }

  mark_residual_hz_ = 0.0;
  space_residual_hz_ = 0.0;
  mark_bit_turn_ = {};
  space_bit_turn_ = {};
  set_rotation();
  rotate_history(start - history_margin_);

  session_open_ = true;
  session_start_ = start;
  hunt_pos_ = start;
  hunt_limit_ = std::numeric_limits<std::int64_t>::max();
  baud_evidence_ = 0.0;
  level_ = 0.0;
  tone_amplitude_ = 0.0;
  noise_power_ = 0.0;
  next_earliest_ = -1;
  next_latest_ = -1;
  last_start_ = -1;
  track_pending_ = false;
  stop_evidence_ = {};
  held_count_ = 0;
  rate_settled_ = config_.baud != BaudSetting::Auto;
  redecoded_ = false;
  reread_end_ = -1;
  if (config_.baud == BaudSetting::Baud45_45) {
    baud_evidence_ = 1e9;
  } else if (config_.baud == BaudSetting::Baud50) {
    baud_evidence_ = -1e9;
  }
  const std::int64_t onset = detector_.rise_block() >= 0 ? detector_.rise_block() : start;
  listener_.on_carrier(CarrierEvent{true, seconds(onset), kMarkHz + detector_.mark_offset_hz()});
}

void FskDemodulator::Impl::end_session() {
  emit_held();
  session_open_ = false;
  off_pending_ = false;
  session_end_ = hunt_limit_;
  listener_.on_carrier(CarrierEvent{false, seconds(std::max(off_block_, session_start_)), 0.0});
}

void FskDemodulator::Impl::set_rotation() {
  const double block_rate = mixer_.block_rate_hz();
  const double mark_hz = detector_.mark_offset_hz() + mark_residual_hz_;
  const double space_hz = detector_.space_offset_hz() + space_residual_hz_;
  const double mark_angle = -2.0 * std::numbers::pi * mark_hz / block_rate;
  const double space_angle = -2.0 * std::numbers::pi * space_hz / block_rate;
  rotation_.set_steps(std::polar(1.0, mark_angle), std::polar(1.0, space_angle));
  rotation_mark_hz_ = mark_hz;
  rotation_space_hz_ = space_hz;
}

// Recomputes the prefix sums from block `from` on with the current tone rotation.
void FskDemodulator::Impl::rotate_history(std::int64_t from) {
  clear_metric_cache();
  ToneRotation rotation = rotation_;
  rotation.reset_phasors();
  for (std::int64_t k = from; k < blocks_; ++k) {
    const auto slot = static_cast<std::size_t>(k & (kRingBlocks - 1));
    const auto next = static_cast<std::size_t>((k + 1) & (kRingBlocks - 1));
    rotation.add_block(raw_mark_[slot], raw_space_[slot], prefix_mark_[slot], prefix_space_[slot],
                       prefix_mark_[next], prefix_space_[next]);
  }
  rotation_ = rotation;
}

// Mark minus space energy over blocks [from, to).
double FskDemodulator::Impl::window_difference(std::int64_t from, std::int64_t to) const {
  const auto a = static_cast<std::size_t>(from & (kRingBlocks - 1));
  const auto b = static_cast<std::size_t>(to & (kRingBlocks - 1));
  return std::norm(prefix_mark_[b] - prefix_mark_[a]) -
         std::norm(prefix_space_[b] - prefix_space_[a]);
}

void FskDemodulator::Impl::run_hunter() {
  while (hunt_pos_ < hunt_limit_ && hunt_pos_ + blocks_needed_ <= blocks_) {
    if (track_pending_) {
      track_pending_ = false;
      if (try_tracked()) {
        continue;
      }
    }
    const std::int64_t k = hunt_pos_;
    // A start bit begins where the next half bit turns space.
    if (window_difference(k, k + half_bit_) >= 0.0) {
      ++hunt_pos_;
      continue;
    }
    if (!try_character(k)) {
      ++hunt_pos_;
    }
  }
  if (off_pending_ && hunt_pos_ >= hunt_limit_) {
    end_session();
  }
}

double FskDemodulator::Impl::frame_metric(std::int64_t start, double bit_blocks,
                                          const BitEdges& edges, WindowSlots& slots,
                                          Windows& difference) const {
  // Window boundaries in the ring, from one bit before the start bit to the end of the stop bit.
  slots[0] = static_cast<std::size_t>((start - edges[1]) & (kRingBlocks - 1));
  for (std::size_t w = 0; w < kWindows; ++w) {
    slots[w + 1] = static_cast<std::size_t>((start + edges[w]) & (kRingBlocks - 1));
  }

  double metric = 0.0;
  for (std::size_t w = 0; w < kWindows; ++w) {
    const std::size_t a = slots[w];
    const std::size_t b = slots[w + 1];
    const double d = std::norm(prefix_mark_[b] - prefix_mark_[a]) -
                     std::norm(prefix_space_[b] - prefix_space_[a]);
    difference[w] = d;
    if (w == kStartWindow) {
      metric -= d;
    } else if (w == 0 || w == kStopWindow) {
      metric += d;
    } else {
      metric += std::abs(d);
    }
  }
  // Energies grow with the square of the bit length, so compare rates per unit length.
  return metric / (bit_blocks * bit_blocks);
}

double FskDemodulator::Impl::cached_metric(std::int64_t start, BaudRate baud) const {
  const bool rate50 = baud == BaudRate::Baud50;
  const double bit_blocks = rate50 ? bit_blocks_50_ : bit_blocks_45_;
  const BitEdges& edges = rate50 ? edges_50_ : edges_45_;
  MetricCache& cache = rate50 ? metric_cache_50_ : metric_cache_45_;
  const auto entry = static_cast<std::size_t>(start & (kMetricCacheSize - 1));
  if (cache.start[entry] == start) {
    return cache.metric[entry];
  }
  WindowSlots slots{};
  Windows difference{};
  const double metric = frame_metric(start, bit_blocks, edges, slots, difference);
  // A frame that reaches past the newest block reads ring entries that later blocks overwrite.
  if (start + edges[kWindows - 1] <= blocks_) {
    cache.start[entry] = start;
    cache.metric[entry] = metric;
  }
  return metric;
}

void FskDemodulator::Impl::clear_metric_cache() {
  metric_cache_45_.start.fill(-1);
  metric_cache_50_.start.fill(-1);
}

void FskDemodulator::Impl::evaluate(std::int64_t start, double bit_blocks, const BitEdges& edges,
                                    FrameCandidate& candidate) const {
  WindowSlots slots{};
  Windows difference{};
  const double metric = frame_metric(start, bit_blocks, edges, slots, difference);
  if (!(metric > candidate.metric)) {
    return;
  }

  // The quality (eight divisions) is needed only for the best candidate, so it is computed
  // only when this one is the best so far.
  Windows quality{};
  std::int64_t from = start - edges[1];
  for (std::size_t w = 0; w < kWindows; ++w) {
    const std::int64_t to = start + edges[w];
    const double energy = prefix_energy_[slots[w + 1]] - prefix_energy_[slots[w]];
    const double samples = static_cast<double>(to - from) * samples_per_block_;
    quality[w] = energy > 0.0 ? 2.0 * difference[w] / (samples * energy) : 0.0;
    from = to;
  }
  candidate.start = start;
  candidate.bit_blocks = bit_blocks;
  candidate.metric = metric;
  candidate.difference = difference;
  candidate.quality = quality;
}

FskDemodulator::Impl::BitEdges FskDemodulator::Impl::bit_edges(double bit_blocks) {
  BitEdges edges{};
  for (std::size_t bit = 0; bit < edges.size(); ++bit) {
    edges[bit] = std::lround(static_cast<double>(bit) * bit_blocks);
  }
  return edges;
}

void FskDemodulator::Impl::search_baud(std::int64_t low, std::int64_t high, BaudRate baud,
                                       FrameCandidate& best) const {
  const double bit_blocks = baud == BaudRate::Baud50 ? bit_blocks_50_ : bit_blocks_45_;
  const BitEdges& edges = baud == BaudRate::Baud50 ? edges_50_ : edges_45_;
  best.baud = baud;
  // While no character is found the hunter calls this once per block with a range moved by one
  // block, so the metrics come from the cache and only the best start is evaluated in full.
  std::int64_t best_start = best.start;
  double best_metric = best.metric;
  const auto consider = [&](std::int64_t t) {
    const double metric = cached_metric(t, baud);
    if (metric > best_metric) {
      best_metric = metric;
      best_start = t;
    }
  };
  for (std::int64_t t = low; t <= high; ++t) {
    consider(t);
  }
  // Follow the metric further if it still rises at the end of the range.
  while (best_start == high && high < low + 3 * half_bit_) {
    consider(++high);
  }
  if (best_metric > best.metric) {
    evaluate(best_start, bit_blocks, edges, best);
  }
}

bool FskDemodulator::Impl::try_character(std::int64_t candidate) {
  const std::int64_t low = std::max(candidate - 2, session_start_ - 2);
  const std::int64_t high = candidate + half_bit_;

  FrameCandidate rate45;
  FrameCandidate rate50;
  if (baud_evidence_ > -1e8) {
    search_baud(low, high, BaudRate::Baud45_45, rate45);
  }
  if (baud_evidence_ < 1e8) {
    search_baud(low, high, BaudRate::Baud50, rate50);
  }

  // Choose the rate from this character and the ones before it in the transmission. The
  // quality is normalised by the band energy of each bit, so noise weighs the same at both
  // rates and the evidence adds up across characters.
  double preference = baud_evidence_;
  if (std::abs(baud_evidence_) < 1e8) {
    const double quality45 = frame_quality(rate45.quality);
    const double quality50 = frame_quality(rate50.quality);
    const double scale = std::max({quality45, quality50, 1e-30});
    preference += (quality45 - quality50) / scale;
    // A character that follows the previous one at once starts 7.5 to 8 bits after it, which
    // tells the rates apart better than the quality of one noisy frame.
    if (last_start_ >= 0) {
      preference += kTimingEvidence * (follows(rate45, last_start_) - follows(rate50, last_start_));
    }
  }
  const FrameCandidate& best = preference >= 0.0 ? rate45 : rate50;

  // Frame checks: enough tone energy overall, a space start bit and a mark stop bit.
  const auto& q = best.quality;
  const double median = median_magnitude(q);
  const double margin = kFramingMargin * median;
  // A frame where the previous character's stop bits end is expected, so it needs only the
  // right sign in its framing windows.
  const bool expected =
      best.baud == last_baud_ && best.start >= next_earliest_ && best.start <= next_latest_;
  const double framing = expected ? 0.0 : margin;
  if (median < kMinQuality || median < kLevelFraction * level_ || q[0] < framing ||
      q[kStartWindow] > -framing || q[kStopWindow] < framing) {
    return false;
  }
  if (last_start_ < 0 && median < kMinFirstQuality) {
    return false;
  }
  if (std::abs(baud_evidence_) < 1e8) {
    baud_evidence_ = std::clamp(preference, -kMaxBaudEvidence, kMaxBaudEvidence);
  }
  clock_ = static_cast<double>(best.start);
  accept(best, median);
  return true;
}

// Finds the best frame within kTrackSlack of `center`, and follows the metric up to `reach`
// blocks from it while it still rises at an end of that range.
void FskDemodulator::Impl::search_around(std::int64_t center, std::int64_t reach, BaudRate baud,
                                         FrameCandidate& best) const {
  std::int64_t best_start = best.start;
  double best_metric = best.metric;
  const auto consider = [&](std::int64_t t) {
    const double metric = cached_metric(t, baud);
    if (metric > best_metric) {
      best_metric = metric;
      best_start = t;
    }
  };
  std::int64_t low = center - kTrackSlack;
  std::int64_t high = center + kTrackSlack;
  for (std::int64_t t = low; t <= high; ++t) {
    consider(t);
  }
  while (best_start == high && high < center + reach) {
    consider(++high);
  }
  while (best_start == low && low > center - reach) {
    consider(--low);
  }
  if (best_metric > best.metric) {
    const bool rate50 = baud == BaudRate::Baud50;
    evaluate(best_start, rate50 ? bit_blocks_50_ : bit_blocks_45_, rate50 ? edges_50_ : edges_45_,
             best);
  }
}

// Looks for the next character of a burst where the character clock expects it, after 1.5 or
// 2 stop bits. Returns false when the line idles there (the start window is mark), the stop
// window is space or the frame is too weak, and the wide search then takes over.
bool FskDemodulator::Impl::try_tracked() {
  // One candidate per rate, each after the more likely of 1.5 and 2 stop bits at that rate.
  FrameCandidate candidates[2];
  double stop_preference[2] = {0.0, 0.0};
  double predicted[2] = {0.0, 0.0};
  const BaudRate rates[2] = {BaudRate::Baud45_45, BaudRate::Baud50};
  for (int r = 0; r < 2; ++r) {
    if ((r == 0 && baud_evidence_ <= -1e8) || (r == 1 && baud_evidence_ >= 1e8)) {
      continue;
    }
    const double bit_blocks = r == 0 ? bit_blocks_45_ : bit_blocks_50_;
    FrameCandidate short_gap;
    FrameCandidate long_gap;
    const double predicted_short = clock_ + 7.5 * bit_blocks;
    const double predicted_long = clock_ + 8.0 * bit_blocks;
    const std::int64_t short_center = std::lround(predicted_short);
    const std::int64_t long_center = std::lround(predicted_long);
    // Once the stop length is clear only its position is searched, and far enough either side
    // to pull a drifted clock back. Before that both are searched close to the clock, because
    // the two positions are only half a bit apart.
    const double stop_evidence = stop_evidence_[r];
    if (stop_evidence >= kSureEvidence) {
      search_around(long_center, kTrackReach, rates[r], long_gap);
      stop_preference[r] = stop_evidence;
    } else if (stop_evidence <= -kSureEvidence) {
      search_around(short_center, kTrackReach, rates[r], short_gap);
      stop_preference[r] = stop_evidence;
    } else {
      search_around(short_center, kTrackSlack, rates[r], short_gap);
      search_around(long_center, kTrackSlack, rates[r], long_gap);
      const double scale = std::max({std::abs(short_gap.metric), std::abs(long_gap.metric), 1e-30});
      stop_preference[r] = stop_evidence + (long_gap.metric - short_gap.metric) / scale;
    }
    const bool two_stop_bits = stop_preference[r] >= 0.0;
    candidates[r] = two_stop_bits ? long_gap : short_gap;
    candidates[r].baud = rates[r];
    predicted[r] = two_stop_bits ? predicted_long : predicted_short;
  }

  // The rate as in try_character: a locked setting, or the evidence so far plus this frame.
  double rate_preference = baud_evidence_;
  if (std::abs(baud_evidence_) < 1e8) {
    const double quality45 = frame_quality(candidates[0].quality);
    const double quality50 = frame_quality(candidates[1].quality);
    const double scale = std::max({quality45, quality50, 1e-30});
    rate_preference += (quality45 - quality50) / scale;
  }
  const int r = rate_preference >= 0.0 ? 0 : 1;
  const FrameCandidate& best = candidates[r];

  const double median = median_magnitude(best.quality);
  if (best.difference[kStartWindow] >= 0.0 || best.difference[kStopWindow] <= 0.0 ||
      median < kMinQuality || median < kLevelFraction * level_) {
    return false;
  }
  if (std::abs(baud_evidence_) < 1e8) {
    baud_evidence_ = std::clamp(rate_preference, -kMaxBaudEvidence, kMaxBaudEvidence);
  }
  if (held_count_ == 1) {
    // Decode the held first character again where the clock puts it, at the chosen rate.
    const double bit_blocks = r == 0 ? bit_blocks_45_ : bit_blocks_50_;
    const double gap = stop_preference[r] >= 0.0 ? 8.0 : 7.5;
    FrameCandidate first;
    evaluate(best.start - std::lround(gap * bit_blocks), bit_blocks, r == 0 ? edges_45_ : edges_50_,
             first);
    first.baud = rates[r];
    decide(first);
    held_[0] = first;
  }
  // Both rates keep the stop length their own candidate fitted, whichever rate won.
  for (std::size_t rate = 0; rate < 2; ++rate) {
    stop_evidence_[rate] = std::clamp(stop_preference[rate], -4.0, 4.0);
  }
  const double error = static_cast<double>(best.start) - predicted[r];
  clock_ = predicted[r] + kClockGain * error;
  accept(best, median);
  return true;
}

void FskDemodulator::Impl::accept(const FrameCandidate& chosen, double median) {
  FrameCandidate best = chosen;
  decide(best);
  level_ = level_ == 0.0 ? median : level_ + kLevelWeight * (median - level_);
  if (last_start_ < 0 || (!rate_settled_ && held_count_ < kMaxHeld)) {
    // The first character of a transmission is held until the next one, whose timing and rate
    // come from the character clock and correct the first frame's.
    held_[held_count_++] = best;
  } else {
    emit_held();
    emit(best);
  }
  const bool refine = last_start_ >= 0 && best.start >= reread_end_;
  // The next start bit can follow 1.5 stop bits after this one.
  hunt_pos_ = best.start + std::lround(7.5 * best.bit_blocks) - 2;
  next_earliest_ = best.start + std::lround(7.5 * best.bit_blocks) - kExpectedSlack;
  next_latest_ = best.start + std::lround(8.0 * best.bit_blocks) + kExpectedSlack;
  last_baud_ = best.baud;
  last_start_ = best.start;
  track_pending_ = true;
  if (refine) {
    refine_offsets(best);
  }
  if (!rate_settled_ && (std::abs(baud_evidence_) >= kSettledEvidence || held_count_ >= kMaxHeld)) {
    settle_rate();
  }
}

// Ends the holding of a transmission's first characters, adding the frame fit to the rate
// evidence. When the ring still contains the transmission's start, the hunt restarts one bit
// before the first held character, so the first characters are read again with the tone
// offsets refined since. The held characters of the first reading are dropped.
void FskDemodulator::Impl::settle_rate() {
  rate_settled_ = true;
  if (held_count_ > 0 && std::abs(baud_evidence_) < 1e8) {
    // Frame fit: how well the held characters fit whole frames at each rate, found near where
    // they were read. The per-character evidence can sway with a few noisy frames, and the
    // spacing of 1.5 stop bits at 45.45 bit/s (165 ms) is close to 2 stop bits at 50 (160 ms).
    double fit45 = 0.0;
    double fit50 = 0.0;
    for (std::size_t i = 0; i < held_count_; ++i) {
      FrameCandidate at45;
      FrameCandidate at50;
      search_around(held_[i].start, kFitReach, BaudRate::Baud45_45, at45);
      search_around(held_[i].start, kFitReach, BaudRate::Baud50, at50);
      fit45 += at45.metric;
      fit50 += at50.metric;
    }
    const double scale = std::max({fit45, fit50, 1e-30});
    baud_evidence_ += kFitEvidence * (fit45 - fit50) / scale;
  }
  const std::int64_t from = session_start_ - history_margin_;
  if (held_count_ == 0 || redecoded_ || from <= blocks_ - kRingBlocks + 1) {
    return;
  }
  // The evidence stays open during the second reading and after it, because a transmission
  // can settle at the wrong rate and only later characters turn it. On the noise bench's
  // -9 dB set, seeds 1 to 80, fixing the rate here gave 2.68% CER, and fixing it only when a
  // held character was read at the other rate 2.42%, against 2.20% with the evidence open.
  // The hunt restarts one bit before the first held character, because the first reading found
  // none before it, and skipping the noise or lead-in there saves time. Offsets are not refined
  // again on the characters read twice, which saves a rotation of the whole ring per character.
  redecoded_ = true;
  reread_end_ = hunt_pos_;
  hunt_pos_ = std::max(session_start_, held_[0].start - 2 * half_bit_);
  held_count_ = 0;
  level_ = 0.0;
  next_earliest_ = -1;
  next_latest_ = -1;
  last_start_ = -1;
  track_pending_ = false;
  stop_evidence_ = {};
  rotate_history(hunt_pos_ - history_margin_);
}

// Measures how far the tones still turn within each bit of `frame` (the phase from the first to
// the second half of the bit, on the tone the bit was decided as) and moves the rotation part
// of the way there. The carrier detector's offsets come from about 0.3 s of audio in steps of
// 15 Hz, and at -9 dB SNR can be 30 Hz off, which costs most of a bit's energy.
void FskDemodulator::Impl::refine_offsets(const FrameCandidate& frame) {
  const BitEdges& edges = frame.baud == BaudRate::Baud50 ? edges_50_ : edges_45_;
  std::complex<double> mark_turn{};
  std::complex<double> space_turn{};
  for (std::size_t w = kStartWindow; w <= kStopWindow; ++w) {
    const std::int64_t from = frame.start + edges[w - 1];
    const std::int64_t to = frame.start + edges[w];
    const std::int64_t middle = (from + to) / 2;
    const bool mark = frame.difference[w] > 0.0;
    const auto& prefix = mark ? prefix_mark_ : prefix_space_;
    const auto at = [&prefix](std::int64_t block) {
      return prefix[static_cast<std::size_t>(block & (kRingBlocks - 1))];
    };
    const std::complex<double> first = at(middle) - at(from);
    const std::complex<double> second = at(to) - at(middle);
    (mark ? mark_turn : space_turn) += second * std::conj(first);
  }
  const double half_bit_s = 0.5 * frame.bit_blocks * seconds_per_block_;
  const double to_hz = kOffsetGain / (2.0 * std::numbers::pi * half_bit_s);
  const double bit_s = frame.bit_blocks * seconds_per_block_;
  if (std::norm(mark_turn) > 0.0) {
    const double step_hz = to_hz * std::arg(mark_turn);
    mark_residual_hz_ += step_hz;
    mark_bit_turn_ *= std::polar(1.0, -2.0 * std::numbers::pi * step_hz * bit_s);
  }
  if (std::norm(space_turn) > 0.0) {
    const double step_hz = to_hz * std::arg(space_turn);
    space_residual_hz_ += step_hz;
    space_bit_turn_ *= std::polar(1.0, -2.0 * std::numbers::pi * step_hz * bit_s);
  }
  const double mark_hz = detector_.mark_offset_hz() + mark_residual_hz_;
  const double space_hz = detector_.space_offset_hz() + space_residual_hz_;
  if (std::abs(mark_hz - rotation_mark_hz_) < kMinRotationChangeHz &&
      std::abs(space_hz - rotation_space_hz_) < kMinRotationChangeHz) {
    return;
  }
  set_rotation();
  // Frames from here on start no earlier than a few blocks before hunt_pos_ and read one bit
  // before their start.
  rotate_history(hunt_pos_ - 2 * half_bit_ - 8);
}

// Removes from a frame's bit sums the phase turn that each tone still makes from one bit to the
// next after the rotation. At -9 dB SNR it is often 0.1 of a cycle (a few Hz of offset error),
// which would cancel part of a run's sum. The turn is measured on neighbouring bits read as the
// same tone, in this character and, with weight kTurnDecay per character, in earlier ones.
void FskDemodulator::Impl::remove_bit_turn(BitSums& mark, BitSums& space) {
  constexpr std::size_t kBits = kFrameBits;
  // The start bit counts as space and the stop bit as mark, regardless of their tone sums.
  std::complex<double> mark_turn{};
  std::complex<double> space_turn{};
  for (std::size_t i = 0; i + 1 < kBits; ++i) {
    const bool first_mark = i > 0 && std::norm(mark[i]) > std::norm(space[i]);
    const bool second_mark = i + 1 == kBits - 1 || std::norm(mark[i + 1]) > std::norm(space[i + 1]);
    if (first_mark && second_mark) {
      mark_turn += multiply(mark[i + 1], std::conj(mark[i]));
    } else if (!first_mark && !second_mark) {
      space_turn += multiply(space[i + 1], std::conj(space[i]));
    }
  }

  mark_bit_turn_ = kTurnDecay * mark_bit_turn_ + mark_turn;
  space_bit_turn_ = kTurnDecay * space_bit_turn_ + space_turn;
  const std::complex<double> mark_step =
      std::norm(mark_bit_turn_) > 0.0
          ? std::conj(mark_bit_turn_) / std::sqrt(std::norm(mark_bit_turn_))
          : std::complex<double>{1.0, 0.0};
  const std::complex<double> space_step =
      std::norm(space_bit_turn_) > 0.0
          ? std::conj(space_bit_turn_) / std::sqrt(std::norm(space_bit_turn_))
          : std::complex<double>{1.0, 0.0};

  std::complex<double> mark_phase{1.0, 0.0};
  std::complex<double> space_phase{1.0, 0.0};
  for (std::size_t i = 0; i < kBits; ++i) {
    mark[i] = multiply(mark[i], mark_phase);
    space[i] = multiply(space[i], space_phase);
    mark_phase = multiply(mark_phase, mark_step);
    space_phase = multiply(space_phase, space_step);
  }
}

// Reads the code of `frame` from its whole-bit tone sums and sets each data bit's confidence
// (see ReceivedCode::bit_confidence).
void FskDemodulator::Impl::decide(FrameCandidate& frame) {
  const BitEdges& edges = frame.baud == BaudRate::Baud50 ? edges_50_ : edges_45_;
  constexpr std::size_t kBits = kFrameBits;
  BitSums mark{};
  BitSums space{};
  std::array<double, kBits> mark_power{};
  std::array<double, kBits> space_power{};
  std::array<double, kBits> amplitude_margin{};
  for (std::size_t i = 0; i < kBits; ++i) {
    const auto a = static_cast<std::size_t>((frame.start + edges[i]) & (kRingBlocks - 1));
    const auto b = static_cast<std::size_t>((frame.start + edges[i + 1]) & (kRingBlocks - 1));
    mark[i] = prefix_mark_[b] - prefix_mark_[a];
    space[i] = prefix_space_[b] - prefix_space_[a];
    mark_power[i] = std::norm(mark[i]);
    space_power[i] = std::norm(space[i]);
    amplitude_margin[i] = std::abs(std::sqrt(mark_power[i]) - std::sqrt(space_power[i]));
  }
  remove_bit_turn(mark, space);
  const double gain = update_signal_estimate(mark_power, space_power);

  const double scale = middle_element(amplitude_margin);
  // When every data bit is clearly one tone (kClearBit of the median margin), the tone sums rarely
  // change the reading. So each bit is read on its own, with its own margin as confidence, and
  // most characters skip the 32 codes. On the noise bench's -9 dB set, seeds 1 to 80, fractions
  // 0.5, 0.6, 0.7 and 0.8 give 1.52%, 1.50%, 1.49% and 1.50% CER. Callgrind counts 0.16% more
  // instructions on the hour file for 0.6 than for 0.5, and a test build three times that for 0.7.
  std::uint8_t clear_code = 0;
  bool clear = scale > 0.0;
  for (std::size_t bit = 0; bit < 5 && clear; ++bit) {
    const std::size_t i = bit + 1;
    clear = amplitude_margin[i] >= kClearBit * scale;
    if (std::norm(mark[i]) > std::norm(space[i])) {
      clear_code |= static_cast<std::uint8_t>(1u << bit);
    }
    const double ratio = amplitude_margin[i] / scale;
    frame.confidence[bit] = static_cast<float>(ratio * ratio);
  }
  if (clear) {
    frame.code = clear_code;
    return;
  }
  read_by_tone_sums(mark, space, scale, gain, frame);
}

// Updates the transmission's tone amplitude and noise power from one frame's bit powers and
// returns 2 A / N for read_by_tone_sums. Each bit's stronger tone gives the amplitude (the median
// over the frame) and its weaker tone the noise (the mean), because every bit carries one tone.
double FskDemodulator::Impl::update_signal_estimate(
    const std::array<double, kFrameBits>& mark_power,
    const std::array<double, kFrameBits>& space_power) {
  std::array<double, kFrameBits> amplitude{};
  double noise = 0.0;
  for (std::size_t i = 0; i < kFrameBits; ++i) {
    amplitude[i] = std::sqrt(std::max(mark_power[i], space_power[i]));
    noise += std::min(mark_power[i], space_power[i]);
  }
  noise /= static_cast<double>(kFrameBits);
  const double median = middle_element(amplitude);
  if (tone_amplitude_ == 0.0 && noise_power_ == 0.0) {
    tone_amplitude_ = median;
    noise_power_ = noise;
  } else {
    tone_amplitude_ += kSignalWeight * (median - tone_amplitude_);
    noise_power_ += kSignalWeight * (noise - noise_power_);
  }
  return noise_power_ > 0.0 ? 2.0 * tone_amplitude_ / noise_power_ : 0.0;
}

void FskDemodulator::Impl::emit(const FrameCandidate& frame) {
  ReceivedCode received{frame.code, seconds(frame.start), frame.baud, frame.confidence};
  listener_.on_code(received);
}

void FskDemodulator::Impl::emit_held() {
  for (std::size_t i = 0; i < held_count_; ++i) {
    emit(held_[i]);
  }
  held_count_ = 0;
}

FskDemodulator::FskDemodulator(DemodulatorConfig config, DemodulatorListener& listener)
    : impl_(new Impl(config, listener)) {}

FskDemodulator::~FskDemodulator() { delete impl_; }

void FskDemodulator::push(std::span<const float> samples) { impl_->push(samples); }

void FskDemodulator::flush() { impl_->flush(); }

}  // namespace relaygw::tty
