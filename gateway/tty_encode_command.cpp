// relaygw tty encode: text to a US TTY (Baudot) audio WAV file.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "gateway/commands.hpp"
#include "gateway/logging.hpp"
#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_modulator.hpp"

namespace relaygw::gateway {
namespace {

struct EncodeOptions {
  std::optional<std::string> text;
  std::string output;
  int rate_hz = 8000;
  std::string baud = "45.45";
  std::string encoding = "pcm16";
  std::string stop_bits = "2";
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "relaygw tty encode: " << message << "\n";
  throw CLI::RuntimeError(1);
}

// Describes one unencodable character for the error message, for example
// "U+00E9 'é' at byte offset 3" or "invalid UTF-8 byte 0xFF at byte offset 5".
std::string describe(const tty::UnencodableChar& bad, const std::string& text) {
  char buffer[64];
  if (bad.invalid_utf8) {
    std::snprintf(buffer, sizeof buffer, "invalid UTF-8 byte 0x%02X at byte offset %zu",
                  static_cast<unsigned>(bad.ch), bad.offset);
    return buffer;
  }
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(bad.ch));
  std::string description = buffer;
  if (bad.ch >= 0x20 && bad.ch != 0x7F) {
    // Show the character itself: its UTF-8 bytes start at the offset.
    std::size_t length = 1;
    while (bad.offset + length < text.size() &&
           (static_cast<unsigned char>(text[bad.offset + length]) & 0xC0) == 0x80) {
      ++length;
    }
    description += " '" + text.substr(bad.offset, length) + "'";
  }
  return description + " at byte offset " + std::to_string(bad.offset);
}

// Longest audio one command writes: an hour is about 20,000 characters at 45.45 bit/s.
constexpr double kMaxAudioSeconds = 3600.0;

void run_encode(const EncodeOptions& options) {
  std::string text;
  if (options.text) {
    text = *options.text;
  } else {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }

  tty::BaudotEncoder encoder;
  const tty::EncodedText encoded = encoder.encode(text);
  // Nothing is written when a character would be lost, so the listener never receives a
  // message with a silent gap.
  if (!encoded.unencodable.empty()) {
    std::ostringstream message;
    message << encoded.unencodable.size()
            << " character(s) have no TTY (Baudot) code, so nothing was written:";
    for (const tty::UnencodableChar& bad : encoded.unencodable) {
      message << "\n  " << describe(bad, text);
    }
    message << "\nReplace or remove them and run again.";
    fail(message.str());
  }

  if (encoded.codes.empty()) {
    fail("there is no text to send, so no file was written; give --text with at least one "
         "character, or pipe the text on standard input");
  }

  tty::ModulatorConfig config;
  config.sample_rate_hz = options.rate_hz;
  config.baud = options.baud == "50" ? tty::BaudRate::Baud50 : tty::BaudRate::Baud45_45;
  config.stop_bits = options.stop_bits == "1.5" ? 1.5 : 2.0;
  if (Status status = tty::validate_modulator_config(config); !status) {
    fail(status.message());
  }

  // Check the length before building the audio, so very long input is rejected without
  // allocating gigabytes of samples.
  const double bits_per_code = 1.0 + 5.0 + config.stop_bits;
  const double seconds = encoded.codes.size() * bits_per_code / tty::bits_per_second(config.baud) +
                         (config.lead_in_ms + config.hang_time_ms) / 1000.0;
  if (seconds > kMaxAudioSeconds) {
    fail(
        fmt::format("the text is {} codes long and would take {:.0f} s to send; one file holds "
                    "at most {:.0f} s, so split the text into several files",
                    encoded.codes.size(), seconds, kMaxAudioSeconds));
  }

  tty::Audio audio;
  audio.sample_rate_hz = config.sample_rate_hz;
  tty::FskModulator modulator(config);
  modulator.modulate(encoded.codes, audio.samples);

  const auto encoding =
      options.encoding == "ulaw" ? tty::AudioEncoding::Mulaw : tty::AudioEncoding::Pcm16;
  if (Status status = tty::write_wav_file(options.output, audio, encoding); !status) {
    fail(status.message());
  }
  logger("tty")->info("tty encode wrote file={} codes={} samples={} rate_hz={}", options.output,
                      encoded.codes.size(), audio.samples.size(), options.rate_hz);
}

}  // namespace

void add_tty_encode_command(CLI::App& tty) {
  auto options = std::make_shared<EncodeOptions>();
  CLI::App* command =
      tty.add_subcommand("encode", "Encode text as US TTY (Baudot FSK) audio in a WAV file");
  command->add_option("--text", options->text,
                      "Text to send; standard input is read when this option is absent");
  command->add_option("-o,--output", options->output, "WAV file to write")->required();
  command->add_option("--rate", options->rate_hz, "Sample rate in Hz")
      ->check(CLI::Range(8000, 48000))
      ->capture_default_str();
  command->add_option("--baud", options->baud, "Bit rate in bit/s: 45.45 or 50")
      ->check(CLI::IsMember({"45.45", "50"}))
      ->capture_default_str();
  command->add_option("--encoding", options->encoding, "Sample encoding: pcm16 or ulaw")
      ->check(CLI::IsMember({"pcm16", "ulaw"}))
      ->capture_default_str();
  command->add_option("--stop-bits", options->stop_bits, "Stop bits per character: 1.5 or 2")
      ->check(CLI::IsMember({"1.5", "2"}))
      ->capture_default_str();
  command->callback([options] { run_encode(*options); });
}

}  // namespace relaygw::gateway
