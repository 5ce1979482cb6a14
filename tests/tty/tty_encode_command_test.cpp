// relaygw tty encode input limits, run through the real binary.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` through the shell with standard error folded into the output.
CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    result.output.append(buffer, count);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace

TEST_CASE("tty encode rejects over-long text", "[tty][encode][cli]") {
  const auto dir = std::filesystem::temp_directory_path() / "relaygw-encode-limit-test";
  std::filesystem::create_directories(dir);
  const auto text_file = dir / "long.txt";
  const auto wav = dir / "long.wav";
  std::filesystem::remove(wav);
  {
    // 30,000 letters take about 5,300 s at 45.45 bit/s, past the one-hour limit.
    std::ofstream out(text_file);
    out << std::string(30'000, 'A');
  }
  const CommandResult result = run_command(std::string("'") + RELAYGW_BINARY + "' tty encode -o '" +
                                           wav.string() + "' < '" + text_file.string() + "'");
  INFO(result.output);
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("split the text") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(wav));
  std::filesystem::remove_all(dir);
}

TEST_CASE("tty encode rate matches decoder range", "[tty][encode][cli]") {
  const auto wav = std::filesystem::temp_directory_path() / "relaygw-encode-rate-test.wav";
  for (const char* rate : {"4000", "96000"}) {
    const CommandResult result =
        run_command(std::string("'") + RELAYGW_BINARY + "' tty encode --text GA --rate " + rate +
                    " -o '" + wav.string() + "'");
    INFO("rate " << rate << ": " << result.output);
    CHECK(result.exit_code != 0);
  }
  const CommandResult good =
      run_command(std::string("'") + RELAYGW_BINARY + "' tty encode --text GA --rate 48000 -o '" +
                  wav.string() + "'");
  INFO(good.output);
  CHECK(good.exit_code == 0);
  std::filesystem::remove(wav);
}

TEST_CASE("tty encode refuses empty text", "[tty][encode][cli]") {
  const auto wav = std::filesystem::temp_directory_path() / "relaygw-encode-empty-test.wav";
  std::filesystem::remove(wav);
  for (const char* input : {"--text ''", "< /dev/null"}) {
    const CommandResult result = run_command(std::string("'") + RELAYGW_BINARY +
                                             "' tty encode -o '" + wav.string() + "' " + input);
    INFO(input << ": " << result.output);
    CHECK(result.exit_code == 1);
    CHECK(result.output.find("there is no text to send") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(wav));
  }
}

TEST_CASE("relaygw prints its version", "[tty][cli]") {
  const CommandResult result = run_command(std::string("'") + RELAYGW_BINARY + "' --version");
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.rfind("relaygw ", 0) == 0);
}

TEST_CASE("tty encode separates adjacent symbol words", "[tty][encode][cli]") {
  const auto wav = std::filesystem::temp_directory_path() / "relaygw-encode-symbols-test.wav";
  const std::string binary = std::string("'") + RELAYGW_BINARY + "'";
  const std::pair<const char*, const char*> cases[] = {
      {"5%*=6", "5 PERCENT STAR EQUALS 6"},
      {"**", "STAR STAR"},
  };
  for (const auto& [text, expected] : cases) {
    std::filesystem::remove(wav);
    const CommandResult encoded =
        run_command(binary + " tty encode --text '" + text + "' -o '" + wav.string() + "'");
    INFO(text << ": " << encoded.output);
    REQUIRE(encoded.exit_code == 0);
    const CommandResult decoded = run_command(binary + " tty decode '" + wav.string() + "'");
    INFO(decoded.output);
    CHECK(decoded.exit_code == 0);
    CHECK(decoded.output.find(expected) != std::string::npos);
  }
  std::filesystem::remove(wav);
}
