#include "tty/tty_receiver.hpp"

#include <bit>
#include <iterator>
#include <utility>

namespace relaygw::tty {
namespace {

// A first code is read as the nearby shift when the bit that differs has less than this
// fraction of the frame's median margin.
constexpr float kFirstCodeDoubt = 0.5F;

}  // namespace

ReceivedCode correct_first_code(const ReceivedCode& code, float max_confidence) {
  // Only LTRS is restored: a new transmission starts in letters, so a wrong LTRS costs nothing,
  // while some senders (minimodem) start with a letter and a wrong FIGS would garble a word.
  const auto differing = static_cast<std::uint8_t>(code.code ^ kCodeLetters);
  if (code.code == kCodeFigures || std::popcount(differing) != 1) {
    return code;
  }
  const int bit = std::countr_zero(differing);
  if (code.bit_confidence[static_cast<std::size_t>(bit)] >= max_confidence) {
    return code;
  }
  ReceivedCode corrected = code;
  corrected.code = kCodeLetters;
  // The correction already used the doubtful bit, so the Baudot decoder need not doubt it again.
  corrected.bit_confidence[static_cast<std::size_t>(bit)] = 1.0F;
  return corrected;
}

TtyReceiver::TtyReceiver(ReceiverConfig config)
    : listener_(*this),
      decoder_(config.convention),
      demodulator_(DemodulatorConfig{config.sample_rate_hz, config.baud}, listener_) {}

void TtyReceiver::push(std::span<const float> samples) { demodulator_.push(samples); }

void TtyReceiver::flush() {
  demodulator_.flush();
  decoder_.flush(text_);
}

void TtyReceiver::take_text(std::vector<TimedChar>& out) {
  out.insert(out.end(), text_.begin(), text_.end());
  text_.clear();
}

std::optional<BaudRate> TtyReceiver::detected_baud() const {
  if (codes_45_ == 0 && codes_50_ == 0) {
    return std::nullopt;
  }
  return codes_50_ > codes_45_ ? BaudRate::Baud50 : BaudRate::Baud45_45;
}

void TtyReceiver::Listener::on_code(const ReceivedCode& code) {
  if (code.baud == BaudRate::Baud50) {
    ++receiver_.codes_50_;
  } else {
    ++receiver_.codes_45_;
  }
  const ReceivedCode read =
      receiver_.first_code_ ? correct_first_code(code, kFirstCodeDoubt) : code;
  // A LTRS prints nothing, so the code after it is still the transmission's first. Noise in a
  // mark lead-in can pass for a LTRS, and the sender's own LTRS then comes second.
  receiver_.first_code_ = receiver_.first_code_ && read.code == kCodeLetters;
  receiver_.decoder_.push(read.code, read.bit_confidence, read.time_s, receiver_.text_);
}

void TtyReceiver::Listener::on_carrier(const CarrierEvent& event) {
  receiver_.carrier_events_.push_back(event);
  if (!event.on) {
    // A new transmission starts in letters, and held-back characters belong to this one.
    receiver_.decoder_.flush(receiver_.text_);
    receiver_.decoder_.reset();
    receiver_.first_code_ = true;
  }
}

Result<DecodedAudio> decode_audio(const Audio& audio, const DecodeOptions& options) {
  if (!(audio.sample_rate_hz >= 8000.0 && audio.sample_rate_hz <= 48000.0)) {
    return Result<DecodedAudio>(StatusCode::InvalidArgument,
                                "sample rate " + std::to_string(audio.sample_rate_hz) +
                                    " Hz is not supported; resample the audio to 8000 to 48000 Hz");
  }
  TtyReceiver receiver(ReceiverConfig{audio.sample_rate_hz, options.baud, options.convention});
  receiver.push(audio.samples);
  receiver.flush();

  DecodedAudio decoded;
  receiver.take_text(decoded.chars);
  decoded.text.reserve(decoded.chars.size());
  for (const TimedChar& c : decoded.chars) {
    decoded.text.push_back(c.ch);
  }
  decoded.baud = receiver.detected_baud();
  decoded.carrier = receiver.carrier_events();
  return decoded;
}

}  // namespace relaygw::tty
