// Audio that minimodem 0.24 encodes (its "tdd" mode: 45.45 bit/s, 2 stop bits, unshift on
// space) must decode to the same text with relaygw.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tty/audio_file.hpp"
#include "tty/tty_receiver.hpp"

namespace {

const std::filesystem::path kMinimodem = "/usr/bin/minimodem";

std::filesystem::path temp_wav(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("relaygw_decode_interop_" + std::to_string(::getpid()) + "_" + name + ".wav");
}

// Runs minimodem to write `text` as TTY audio to `path`; returns its exit status. The text
// goes through a file, so quotes in it need no shell escaping.
int minimodem_encode(const std::string& text, const std::filesystem::path& path, int rate_hz) {
  std::filesystem::path text_path = path;
  text_path.replace_extension(".txt");
  {
    std::ofstream out(text_path, std::ios::binary);
    out << text;
  }
  const std::string command = kMinimodem.string() + " --tx tdd -R " + std::to_string(rate_hz) +
                              " -f '" + path.string() + "' < '" + text_path.string() + "'";
  const int status = std::system(command.c_str());
  std::filesystem::remove(text_path);
  return status;
}

}  // namespace

TEST_CASE("relaygw decodes minimodem tdd audio", "[tty][interop]") {
  REQUIRE(std::filesystem::exists(kMinimodem));
  const char* texts[] = {
      "HELLO GA",
      "CALL 555-0142 AT 3:30 GA",
      "IS THAT $25.50 OR $52.05? Q GA",
      "MY ACCOUNT (HOME) IS 48213, OK! GA",
      "WHO'S THERE; \"ME\" & 9/10 # SK SK",
  };
  for (const int rate : {8000, 16000}) {
    for (const char* text : texts) {
      INFO("text " << text << " at " << rate << " Hz");
      const std::filesystem::path path = temp_wav(std::to_string(rate));
      REQUIRE(minimodem_encode(text, path, rate) == 0);
      auto audio = relaygw::tty::read_audio_file(path.string());
      std::filesystem::remove(path);
      REQUIRE(audio.is_ok());
      auto decoded = relaygw::tty::decode_audio(audio.value());
      REQUIRE(decoded.is_ok());
      CHECK(decoded->text == text);
    }
  }
}
