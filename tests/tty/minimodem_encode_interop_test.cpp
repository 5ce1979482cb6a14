// Interoperability: audio that relaygw encodes must decode exactly with minimodem, an
// independent TTY/TDD implementation whose receiver unshifts on space.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_modulator.hpp"

namespace {

constexpr const char* kMinimodem = "/usr/bin/minimodem";

struct CommandResult {
  int exit_code = -1;
  std::string output;  // standard output only
};

// Runs `command` with /bin/sh and collects its standard output. Every path in the commands
// below is a temporary file this test created, quoted with single quotes.
CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), got);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

std::filesystem::path temp_wav(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("relaygw_interop_" + std::to_string(::getpid()) + "_" + name + ".wav");
}

// minimodem's arguments for a receiver matching `baud` and `stop_bits`.
std::string minimodem_mode(relaygw::tty::BaudRate baud, double stop_bits) {
  std::string mode =
      baud == relaygw::tty::BaudRate::Baud50 ? "--baudot -M 1400 -S 1800 --stopbits 2 50" : "tdd";
  if (stop_bits == 1.5) {
    mode += " --stopbits 1.5";
  }
  return mode;
}

// What minimodem prints for `text`: relaygw sends a line break as CR LF.
std::string expected_output(const std::string& text) {
  std::string expected;
  for (char c : text) {
    if (c == '\n') {
      expected += "\r\n";
    } else {
      expected.push_back(c);
    }
  }
  return expected;
}

}  // namespace

TEST_CASE("minimodem decodes relaygw encoded audio", "[tty][interop]") {
  REQUIRE(std::filesystem::exists(kMinimodem));

  struct Case {
    std::string text;
    double rate_hz;
    relaygw::tty::BaudRate baud;
    double stop_bits;
    relaygw::tty::AudioEncoding encoding;
  };
  using relaygw::tty::AudioEncoding;
  using relaygw::tty::BaudRate;
  const Case cases[] = {
      {"HELLO THIS IS JOHN GA", 8000, BaudRate::Baud45_45, 2.0, AudioEncoding::Pcm16},
      {"AT 12 30", 8000, BaudRate::Baud45_45, 2.0, AudioEncoding::Pcm16},
      {"CALL 555 0142 OR 555-0199 GA", 8000, BaudRate::Baud45_45, 2.0, AudioEncoding::Mulaw},
      {"MEET AT 5 PM GA", 11025, BaudRate::Baud45_45, 2.0, AudioEncoding::Pcm16},
      {"IS THAT $25.50? #4 \"QUOTED\" (A) 1/2; X: Y & Z! IT'S 10-4 Q GA", 16000,
       BaudRate::Baud45_45, 2.0, AudioEncoding::Pcm16},
      {"LINE ONE\nLINE 2\n3 4 GA OR SK", 22050, BaudRate::Baud45_45, 2.0, AudioEncoding::Mulaw},
      {"5 5 5 TO 59 IN 8 AT 12 30 SK SK", 44100, BaudRate::Baud45_45, 2.0, AudioEncoding::Pcm16},
      {"YES, I WILL BE THERE AT 10:15 TOMORROW GA", 48000, BaudRate::Baud45_45, 2.0,
       AudioEncoding::Pcm16},
      {"FAST 50 BAUD 123 GA", 16000, BaudRate::Baud50, 2.0, AudioEncoding::Pcm16},
      {"SHORT STOP 1.5 BITS 99 GA", 8000, BaudRate::Baud45_45, 1.5, AudioEncoding::Pcm16},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text, c.rate_hz, static_cast<int>(c.baud), c.stop_bits, static_cast<int>(c.encoding));
    relaygw::tty::BaudotEncoder encoder;
    const auto encoded = encoder.encode(c.text);
    REQUIRE(encoded.unencodable.empty());

    relaygw::tty::ModulatorConfig config;
    config.sample_rate_hz = c.rate_hz;
    config.baud = c.baud;
    config.stop_bits = c.stop_bits;
    relaygw::tty::FskModulator modulator(config);
    relaygw::tty::Audio audio;
    audio.sample_rate_hz = c.rate_hz;
    modulator.modulate(encoded.codes, audio.samples);

    const auto path = temp_wav("case");
    REQUIRE(relaygw::tty::write_wav_file(path.string(), audio, c.encoding).is_ok());
    const CommandResult decoded =
        run(std::string(kMinimodem) + " --rx " + minimodem_mode(c.baud, c.stop_bits) + " -f " +
            quoted(path) + " 2>/dev/null");
    std::filesystem::remove(path);
    CHECK(decoded.exit_code == 0);
    CHECK(decoded.output == expected_output(c.text));
  }
}

TEST_CASE("minimodem decodes relaygw cli output", "[tty][interop]") {
  REQUIRE(std::filesystem::exists(kMinimodem));
  INFO("relaygw binary: " << RELAYGW_BINARY << " (build the relaygw target first)");
  REQUIRE(std::filesystem::exists(RELAYGW_BINARY));

  const auto text_path = std::filesystem::temp_directory_path() /
                         ("relaygw_interop_" + std::to_string(::getpid()) + ".txt");
  {
    FILE* file = std::fopen(text_path.c_str(), "w");
    REQUIRE(file != nullptr);
    std::fputs("Hello, room 12 at 3:30 pm\nthanks GA\n", file);
    std::fclose(file);
  }
  const auto wav = temp_wav("cli");
  const CommandResult encoded =
      run(std::string("'") + RELAYGW_BINARY + "' tty encode -o " + quoted(wav) +
          " --rate 44100 --encoding ulaw < " + quoted(text_path));
  std::filesystem::remove(text_path);
  REQUIRE(encoded.exit_code == 0);

  const CommandResult decoded =
      run(std::string(kMinimodem) + " --rx tdd -f " + quoted(wav) + " 2>/dev/null");
  std::filesystem::remove(wav);
  CHECK(decoded.exit_code == 0);
  CHECK(decoded.output == "HELLO, ROOM 12 AT 3:30 PM\r\nTHANKS GA\r\n");
}

TEST_CASE("relaygw cli rejects unencodable text", "[tty][interop]") {
  INFO("relaygw binary: " << RELAYGW_BINARY << " (build the relaygw target first)");
  REQUIRE(std::filesystem::exists(RELAYGW_BINARY));
  const auto wav = temp_wav("rejected");
  const CommandResult result =
      run(std::string("'") + RELAYGW_BINARY + "' tty encode --text 'caf\xC3\xA9 ~ ok' -o " +
          quoted(wav) + " 2>&1");
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.output, Catch::Contains("2 character(s) have no TTY (Baudot) code"));
  CHECK_THAT(result.output, Catch::Contains("U+00E9 '\xC3\xA9' at byte offset 3"));
  CHECK_THAT(result.output, Catch::Contains("U+007E '~' at byte offset 6"));
  CHECK_FALSE(std::filesystem::exists(wav));
}
