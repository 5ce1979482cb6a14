#include "tty/tty_receiver.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_modulator.hpp"

namespace {

using relaygw::StatusCode;
using relaygw::tty::Audio;
using relaygw::tty::BaudRate;
using relaygw::tty::decode_audio;
using relaygw::tty::FskModulator;
using relaygw::tty::ModulatorConfig;
using relaygw::tty::TimedChar;
using relaygw::tty::TtyReceiver;

void append_silence(std::vector<float>& audio, double seconds) {
  audio.insert(audio.end(), static_cast<std::size_t>(seconds * 8000.0), 0.0f);
}

std::string text_of(const std::vector<TimedChar>& chars) {
  std::string text;
  for (const TimedChar& c : chars) {
    text.push_back(c.ch);
  }
  return text;
}

}  // namespace

TEST_CASE("decode audio returns text, rate and times", "[tty][receiver]") {
  Audio audio;
  append_silence(audio.samples, 0.5);
  ModulatorConfig config;
  config.baud = BaudRate::Baud50;
  FskModulator modulator(config);
  // LTRS H E L L O SPACE G A
  modulator.modulate(
      std::vector<std::uint8_t>{0x1F, 0x14, 0x01, 0x12, 0x12, 0x18, 0x04, 0x1A, 0x03},
      audio.samples);
  append_silence(audio.samples, 0.5);

  auto decoded = decode_audio(audio);
  REQUIRE(decoded.is_ok());
  CHECK(decoded->text == "HELLO GA");
  REQUIRE(decoded->baud.has_value());
  CHECK(*decoded->baud == BaudRate::Baud50);
  REQUIRE(decoded->chars.size() == 8);
  // The H follows 0.5 s of silence, the 150 ms lead-in and the LTRS code (8 bits of 20 ms).
  CHECK(decoded->chars[0].time_s == Approx(0.5 + 0.15 + 0.16).margin(0.003));
  for (std::size_t i = 1; i < decoded->chars.size(); ++i) {
    CHECK(decoded->chars[i].time_s > decoded->chars[i - 1].time_s);
  }
  REQUIRE(decoded->carrier.size() == 2);
  CHECK(decoded->carrier[0].on);
  CHECK_FALSE(decoded->carrier[1].on);
}

TEST_CASE("receiver resets shift on carrier loss", "[tty][receiver]") {
  std::vector<float> audio;
  FskModulator modulator;
  // First transmission ends in figures: FIGS 1 2.
  modulator.modulate(std::vector<std::uint8_t>{0x1B, 0x17, 0x13}, audio);
  append_silence(audio, 1.0);
  // The second sends letters with no LTRS first: H I.
  modulator.modulate(std::vector<std::uint8_t>{0x14, 0x06}, audio);
  append_silence(audio, 0.5);

  TtyReceiver receiver;
  receiver.push(audio);
  receiver.flush();
  std::vector<TimedChar> chars;
  receiver.take_text(chars);
  CHECK(text_of(chars) == "12HI");
  CHECK(receiver.carrier_events().size() == 4);
  CHECK(receiver.text().empty());
}

TEST_CASE("receiver without carrier loss keeps shift", "[tty][receiver]") {
  std::vector<float> audio;
  FskModulator modulator;
  // One transmission: FIGS 1 2 then codes that are letters H I in letters shift.
  modulator.modulate(std::vector<std::uint8_t>{0x1B, 0x17, 0x13, 0x14, 0x06}, audio);
  append_silence(audio, 0.5);
  auto decoded = decode_audio(Audio{8000.0, audio});
  REQUIRE(decoded.is_ok());
  // In figures, H is '#' and I is '8'.
  CHECK(decoded->text == "12#8");
}

TEST_CASE("decode audio rejects unsupported sample rate", "[tty][receiver]") {
  for (const double rate : {4000.0, 96000.0, 0.0}) {
    auto decoded = decode_audio(Audio{rate, std::vector<float>(1000, 0.0f)});
    INFO("rate " << rate);
    REQUIRE_FALSE(decoded.is_ok());
    CHECK(decoded.status().code() == StatusCode::InvalidArgument);
    CHECK(decoded.status().message().find("8000 to 48000") != std::string::npos);
  }
}

TEST_CASE("decode audio of silence is empty", "[tty][receiver]") {
  auto decoded = decode_audio(Audio{8000.0, std::vector<float>(16000, 0.0f)});
  REQUIRE(decoded.is_ok());
  CHECK(decoded->text.empty());
  CHECK_FALSE(decoded->baud.has_value());
  CHECK(decoded->carrier.empty());
}

TEST_CASE("first code correction reads doubtful V as LTRS", "[tty][receiver]") {
  using relaygw::tty::correct_first_code;
  using relaygw::tty::ReceivedCode;
  // V is 0x1E, LTRS 0x1F: they differ in bit 0 only.
  ReceivedCode doubtful{0x1E, 0.0, BaudRate::Baud45_45, {0.2F, 1.0F, 1.0F, 1.0F, 1.0F}};
  CHECK(correct_first_code(doubtful, 1.0F).code == relaygw::tty::kCodeLetters);
  ReceivedCode figures{0x1B, 0.0, BaudRate::Baud45_45, {1.0F, 1.0F, 0.0F, 1.0F, 1.0F}};
  CHECK(correct_first_code(figures, 1.0F).code == relaygw::tty::kCodeFigures);

  ReceivedCode sure{0x1E, 0.0, BaudRate::Baud45_45, {1.5F, 1.0F, 1.0F, 1.0F, 1.0F}};
  CHECK(correct_first_code(sure, 1.0F).code == 0x1E);

  // A doubtful bit elsewhere does not make V a shift.
  ReceivedCode other_bit{0x1E, 0.0, BaudRate::Baud45_45, {1.5F, 0.1F, 1.0F, 1.0F, 1.0F}};
  CHECK(correct_first_code(other_bit, 1.0F).code == 0x1E);

  // H (0x14) is three bits from LTRS, so even a weak H stays H.
  ReceivedCode far{0x14, 0.0, BaudRate::Baud45_45, {0.0F, 0.0F, 0.0F, 0.0F, 0.0F}};
  CHECK(correct_first_code(far, 1.0F).code == 0x14);

  // G (0x1A) is one bit from FIGS, but senders such as minimodem start without a shift, so a
  // first G is never turned into FIGS.
  ReceivedCode near_figures{0x1A, 0.0, BaudRate::Baud45_45, {1.0F, 1.0F, 0.0F, 1.0F, 1.0F}};
  CHECK(correct_first_code(near_figures, 1.0F).code == 0x1A);
}
