#include "tty/tty_receiver.hpp"

#include <iterator>
#include <utility>

namespace relaygw::tty {

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
  receiver_.decoder_.push(code.code, code.time_s, receiver_.text_);
}

void TtyReceiver::Listener::on_carrier(const CarrierEvent& event) {
  receiver_.carrier_events_.push_back(event);
  if (!event.on) {
    // A new transmission starts in letters, and held-back characters belong to this one.
    receiver_.decoder_.flush(receiver_.text_);
    receiver_.decoder_.reset();
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
