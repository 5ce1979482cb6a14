// TTY receiver: FSK demodulator plus Baudot decoder, from line audio to timed text.
//
// Most encoders send LTRS or FIGS first, so a doubtful first code one bit away from LTRS is
// read as LTRS (see correct_first_code).
//
// The receiver starts every transmission in letters shift: when the carrier drops it flushes
// the characters the Baudot decoder holds back and resets the shift, so a new caller's first
// letters are never read as figures.
//
// Thread rules: one instance per line, used from one thread (or strand) at a time.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_demodulator.hpp"

namespace relaygw::tty {

struct ReceiverConfig {
  double sample_rate_hz = 8000.0;  // 8000 to 48000
  BaudSetting baud = BaudSetting::Auto;
  ShiftConvention convention = ShiftConvention::Auto;
};

class TtyReceiver {
 public:
  // Requires: 8000 <= config.sample_rate_hz <= 48000 (decode_audio checks it).
  explicit TtyReceiver(ReceiverConfig config = {});
  TtyReceiver(const TtyReceiver&) = delete;
  TtyReceiver& operator=(const TtyReceiver&) = delete;

  // Feeds samples in [-1, 1]. Decoded characters and carrier events accumulate.
  void push(std::span<const float> samples);

  // Ends the stream: decodes what the samples so far complete and reports carrier off.
  void flush();

  // Moves the characters decoded since the last call to the end of `out`.
  void take_text(std::vector<TimedChar>& out);

  // Characters decoded and not yet taken, oldest first.
  const std::vector<TimedChar>& text() const { return text_; }
  const std::vector<CarrierEvent>& carrier_events() const { return carrier_events_; }

  // The rate most characters so far were received at; empty before the first character.
  std::optional<BaudRate> detected_baud() const;

 private:
  class Listener : public DemodulatorListener {
   public:
    explicit Listener(TtyReceiver& receiver) : receiver_(receiver) {}
    void on_code(const ReceivedCode& code) override;
    void on_carrier(const CarrierEvent& event) override;

   private:
    TtyReceiver& receiver_;
  };

  Listener listener_;
  BaudotDecoder decoder_;
  FskDemodulator demodulator_;
  std::vector<TimedChar> text_;
  std::vector<CarrierEvent> carrier_events_;
  std::size_t codes_45_ = 0;
  std::size_t codes_50_ = 0;
  // No code other than LTRS of the current transmission has reached the decoder yet.
  bool first_code_ = true;
};

// Returns `code` read as LTRS when it is one bit away from LTRS (V, X, Q or K) and that bit's
// confidence is below `max_confidence`, else `code` itself. The receiver applies it to each code
// of a transmission up to the first one that is not LTRS, because encoders send a shift first.
ReceivedCode correct_first_code(const ReceivedCode& code, float max_confidence);

struct DecodeOptions {
  BaudSetting baud = BaudSetting::Auto;
  ShiftConvention convention = ShiftConvention::Auto;
};

struct DecodedAudio {
  std::string text;              // the characters of `chars`, CR and LF included
  std::vector<TimedChar> chars;  // each with the start time of its code, in seconds
  std::optional<BaudRate> baud;  // empty when nothing was decoded
  std::vector<CarrierEvent> carrier;
};

// Decodes a whole recording. Fails with InvalidArgument when the sample rate is outside
// 8000 to 48000 Hz.
Result<DecodedAudio> decode_audio(const Audio& audio, const DecodeOptions& options = {});

}  // namespace relaygw::tty
