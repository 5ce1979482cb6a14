// relaygw tty decode: US TTY (Baudot) audio files to text.
#include <cmath>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "gateway/commands.hpp"
#include "tty/audio_file.hpp"
#include "tty/conversation.hpp"
#include "tty/tty_receiver.hpp"

namespace relaygw::gateway {
namespace {

struct DecodeCommandOptions {
  std::vector<std::string> files;
  std::string baud = "auto";
  bool json = false;
  bool turns = false;
  bool raw = false;
};

// Rounds seconds to milliseconds, which is finer than a Baudot bit (20 or 22 ms).
double round_ms(double seconds) { return std::round(seconds * 1000.0) / 1000.0; }

// The text on one line: CR and LF become spaces.
std::string one_line(const std::string& text) {
  std::string line = text;
  for (char& c : line) {
    if (c == '\r' || c == '\n') {
      c = ' ';
    }
  }
  return line;
}

nlohmann::json turns_json(const std::vector<tty::Turn>& turns) {
  nlohmann::json out = nlohmann::json::array();
  for (const tty::Turn& turn : turns) {
    out.push_back({{"text", turn.text},
                   {"marker", tty::to_string(turn.marker)},
                   {"question", turn.question},
                   {"start", round_ms(turn.start_s)},
                   {"end", round_ms(turn.end_s)}});
  }
  return out;
}

nlohmann::json file_json(const std::string& file, const tty::DecodedAudio& decoded,
                         bool with_turns) {
  nlohmann::json chars = nlohmann::json::array();
  for (const tty::TimedChar& c : decoded.chars) {
    chars.push_back({{"ch", std::string(1, c.ch)}, {"t", round_ms(c.time_s)}});
  }
  nlohmann::json carrier = nlohmann::json::array();
  for (const tty::CarrierEvent& event : decoded.carrier) {
    nlohmann::json item = {{"on", event.on}, {"t", round_ms(event.time_s)}};
    if (event.on) {
      item["mark_hz"] = std::round(event.mark_hz * 10.0) / 10.0;
    }
    carrier.push_back(item);
  }
  nlohmann::json object = {{"file", file},
                           {"text", decoded.text},
                           {"baud", nullptr},
                           {"chars", chars},
                           {"carrier", carrier}};
  if (decoded.baud) {
    object["baud"] = *decoded.baud == tty::BaudRate::Baud50 ? 50.0 : 1000.0 / 22.0;
  }
  if (with_turns) {
    object["turns"] = turns_json(tty::split_turns(decoded.chars));
  }
  return object;
}

void print_plain(const tty::DecodedAudio& decoded, bool with_turns) {
  if (!with_turns) {
    std::cout << one_line(decoded.text) << "\n";
    return;
  }
  for (const tty::Turn& turn : tty::split_turns(decoded.chars)) {
    std::cout << "[" << round_ms(turn.start_s) << "-" << round_ms(turn.end_s) << "] " << turn.text;
    const std::string marker = tty::to_string(turn.marker);
    if (!marker.empty()) {
      std::cout << (turn.text.empty() ? "" : " ") << marker;
    }
    std::cout << "\n";
  }
}

// Decodes `file` block by block, so memory use does not grow with the file's length. The reader
// rejects rates outside 8000 to 48000 Hz, the range TtyReceiver requires.
Result<tty::DecodedAudio> decode_file(const std::string& file, tty::AudioFileKind kind,
                                      const tty::DecodeOptions& options) {
  Result<tty::AudioFileReader> reader = tty::AudioFileReader::open(file, kind);
  if (!reader) {
    return reader.status();
  }
  tty::TtyReceiver receiver(
      tty::ReceiverConfig{reader->sample_rate_hz(), options.baud, options.convention});
  // 8192 samples are about 1 s at 8000 Hz.
  std::vector<float> block(8192);
  while (true) {
    Result<std::size_t> got = reader->read(block);
    if (!got) {
      return got.status();
    }
    if (*got == 0) {
      break;
    }
    receiver.push(std::span<const float>(block.data(), *got));
  }
  receiver.flush();

  tty::DecodedAudio decoded;
  receiver.take_text(decoded.chars);
  decoded.text.reserve(decoded.chars.size());
  for (const tty::TimedChar& c : decoded.chars) {
    decoded.text.push_back(c.ch);
  }
  decoded.baud = receiver.detected_baud();
  decoded.carrier = receiver.carrier_events();
  return decoded;
}

void run_decode(const DecodeCommandOptions& options) {
  tty::DecodeOptions decode_options;
  if (options.baud == "45.45") {
    decode_options.baud = tty::BaudSetting::Baud45_45;
  } else if (options.baud == "50") {
    decode_options.baud = tty::BaudSetting::Baud50;
  }
  const tty::AudioFileKind kind =
      options.raw ? tty::AudioFileKind::RawPcm16At8k : tty::AudioFileKind::Wav;

  int failures = 0;
  for (const std::string& file : options.files) {
    Result<tty::DecodedAudio> decoded = decode_file(file, kind, decode_options);
    if (!decoded.is_ok()) {
      // The audio reader's messages already name the file.
      std::cerr << "relaygw tty decode: " << decoded.status().message() << "\n";
      ++failures;
      continue;
    }
    if (options.json) {
      std::cout << file_json(file, decoded.value(), options.turns).dump() << "\n";
    } else {
      print_plain(decoded.value(), options.turns);
    }
    std::cout.flush();
  }
  if (failures > 0) {
    std::cerr << "relaygw tty decode: " << failures << " of " << options.files.size()
              << " file(s) could not be decoded\n";
    throw CLI::RuntimeError(1);
  }
}

}  // namespace

void add_tty_decode_command(CLI::App& tty) {
  auto options = std::make_shared<DecodeCommandOptions>();
  CLI::App* command = tty.add_subcommand(
      "decode",
      "Decode US TTY (Baudot) audio files to text. Prints one line per file, with CR and LF "
      "shown as spaces. A file that cannot be read or decoded is reported on standard error "
      "and the other files are still decoded; the exit status is then 1.");
  command->add_option("files", options->files, "WAV files (or raw files with --raw)")->required();
  command
      ->add_option("--baud", options->baud,
                   "Bit rate: 45.45, 50, or auto to detect it per transmission")
      ->check(CLI::IsMember({"45.45", "50", "auto"}))
      ->capture_default_str();
  command->add_flag("--json", options->json,
                    "Print JSON Lines: one object per file with file, text, baud (bit/s, null "
                    "when nothing was decoded), chars ([{\"ch\", \"t\"}], t in seconds) and "
                    "carrier ([{\"on\", \"t\", \"mark_hz\"}])");
  command->add_flag("--turns", options->turns,
                    "Print conversation turns (ended by GA, SK or GA OR SK), one per line with "
                    "start and end times in seconds; with --json, add a turns array");
  command->add_flag("--raw", options->raw,
                    "Read headerless 16-bit little-endian PCM at 8000 Hz instead of WAV");
  command->callback([options] { run_decode(*options); });
}

}  // namespace relaygw::gateway
