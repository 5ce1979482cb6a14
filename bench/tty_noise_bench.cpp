// tty_noise_bench: character error rate against SNR in white Gaussian noise, for relaygw and
// minimodem on the same noisy files.
//
// The noisy set is the one tests/tty/noise_test.cpp makes: the clean corpus recordings of
// minimodem, spandsp and the Python generator, plus white Gaussian noise at each SNR as the
// corpus's CORPUS.md defines it (Ps = mean square from the first to the last non-zero sample,
// Pn = noise variance over the whole band, on every sample), clipped and rounded to 16-bit
// PCM as the corpus's noisy files are. Seed s of file f draws from std::mt19937_64 seeded with
// s * 1000 + f, so the numbers are the same with every standard library.
//
// relaygw decodes the samples in memory. For minimodem each noisy file is written as a WAV to
// a temporary folder and decoded with `minimodem --rx tdd -f FILE`. Prints a markdown table
// per transmitter and in total to standard output.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"
#include "tty/text_score.hpp"
#include "tty/tty_receiver.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using relaygw::tty::Audio;
using relaygw::tty::BaudSetting;

const std::vector<std::string> kCleanFiles = {
    "clean__d01", "clean__d02",     "py45__d04",      "py45__d05",      "py50__d05",
    "py50__d06",  "spandsp45__d01", "spandsp45__d02", "spandsp50__d03", "spandsp50__d04"};

std::string normalise(const std::string& text) { return relaygw::tty::normalize_for_scoring(text); }

std::size_t levenshtein(const std::string& a, const std::string& b) {
  return relaygw::tty::edit_distance(a, b);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

double active_power(const std::vector<float>& samples) {
  const auto first = std::find_if(samples.begin(), samples.end(), [](float x) { return x != 0; });
  const auto last = std::find_if(samples.rbegin(), samples.rend(), [](float x) { return x != 0; });
  if (first == samples.end()) {
    return 0.0;
  }
  const auto end = last.base();
  double sum = 0.0;
  for (auto it = first; it != end; ++it) {
    sum += static_cast<double>(*it) * *it;
  }
  return sum / static_cast<double>(end - first);
}

Audio add_noise(const Audio& clean, double snr_db, std::uint64_t seed) {
  const double sigma = std::sqrt(active_power(clean.samples) / std::pow(10.0, snr_db / 10.0));
  std::mt19937_64 random(seed);
  const auto uniform = [&random] {
    return (static_cast<double>(random() >> 11) + 1.0) * 0x1.0p-53;
  };
  Audio noisy;
  noisy.sample_rate_hz = clean.sample_rate_hz;
  noisy.samples.resize(clean.samples.size());
  for (std::size_t i = 0; i < clean.samples.size(); i += 2) {
    const double radius = sigma * std::sqrt(-2.0 * std::log(uniform()));
    const double angle = 2.0 * std::numbers::pi * uniform();
    const double noise[2] = {radius * std::cos(angle), radius * std::sin(angle)};
    for (std::size_t j = 0; j < 2 && i + j < clean.samples.size(); ++j) {
      const double pcm = std::round((clean.samples[i + j] + noise[j]) * 32768.0);
      noisy.samples[i + j] = static_cast<float>(std::clamp(pcm, -32768.0, 32767.0) / 32768.0);
    }
  }
  return noisy;
}

// Character errors by kind, from one minimum-cost alignment of the reference and the decoded
// text. A shift flip is a substitution by the character on the same Baudot code in the other
// table (5 for T, or #9.3 for HOME). Such a substitution comes from a misread, missed or spurious
// LTRS or FIGS.
struct ErrorBreakdown {
  std::size_t shift_flips = 0;
  std::size_t other_substitutions = 0;
  std::size_t deletions = 0;
  std::size_t insertions = 0;
};

// Returns the character on the same Baudot code in the other table, or '\0' when there is none.
char other_table_char(char c) {
  using relaygw::tty::baudot_char;
  using relaygw::tty::ShiftState;
  for (std::uint8_t code = 0; code < 32; ++code) {
    const char letter = baudot_char(code, ShiftState::Letters);
    const char figure = baudot_char(code, ShiftState::Figures);
    if (letter != figure && (letter == c || figure == c)) {
      return letter == c ? figure : letter;
    }
  }
  return '\0';
}

void add_breakdown(const std::string& reference, const std::string& hypothesis,
                   ErrorBreakdown& total) {
  const std::size_t rows = reference.size() + 1;
  const std::size_t columns = hypothesis.size() + 1;
  std::vector<std::size_t> cost(rows * columns);
  const auto at = [&](std::size_t i, std::size_t j) -> std::size_t& {
    return cost[i * columns + j];
  };
  for (std::size_t i = 0; i < rows; ++i) {
    at(i, 0) = i;
  }
  for (std::size_t j = 0; j < columns; ++j) {
    at(0, j) = j;
  }
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < columns; ++j) {
      const std::size_t substitution = reference[i - 1] == hypothesis[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + substitution});
    }
  }
  std::size_t i = rows - 1;
  std::size_t j = columns - 1;
  while (i > 0 || j > 0) {
    const bool differ = i > 0 && j > 0 && reference[i - 1] != hypothesis[j - 1];
    if (i > 0 && j > 0 && at(i, j) == at(i - 1, j - 1) + (differ ? 1 : 0)) {
      if (differ && other_table_char(reference[i - 1]) == hypothesis[j - 1]) {
        ++total.shift_flips;
      } else if (differ) {
        ++total.other_substitutions;
      }
      --i;
      --j;
    } else if (i > 0 && at(i, j) == at(i - 1, j) + 1) {
      ++total.deletions;
      --i;
    } else {
      ++total.insertions;
      --j;
    }
  }
}

std::string decode_with_relaygw(const Audio& audio, relaygw::tty::BaudSetting baud) {
  relaygw::tty::DecodeOptions options;
  options.baud = baud;
  const auto decoded = relaygw::tty::decode_audio(audio, options);
  return decoded.is_ok() ? decoded->text : std::string();
}

// Runs `program --rx tdd -f path` and returns its standard output.
std::string decode_with_minimodem(const std::string& program, const std::string& path) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    return {};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<std::string> args = {program, "--rx", "tdd", "-f", path};
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  std::string output;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
    output.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);
  if (spawned != 0) {
    std::fprintf(stderr, "cannot start %s: %s\n", program.c_str(), std::strerror(spawned));
    return {};
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return output;
}

struct Score {
  std::size_t errors = 0;
  std::size_t reference_chars = 0;
  std::string percent() const {
    return reference_chars == 0
               ? "-"
               : fmt::format("{:.2f}%", 100.0 * static_cast<double>(errors) / reference_chars);
  }
};

struct CleanFile {
  std::string name;
  std::string transmitter;  // file name before "__", e.g. py45
  Audio audio;
  std::string reference;
  relaygw::tty::BaudSetting baud;  // the transmitter's rate, for --known-rate
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measures character error rate against SNR in white noise"};
  std::string corpus = "data/tty-corpus";
  std::string minimodem = "minimodem";
  std::vector<double> snrs = {-6.0, -9.0, -10.0, -11.0};
  int seeds = 8;
  bool show_errors = false;
  bool breakdown = false;
  std::string only;
  bool known_rate = false;
  app.add_option("--corpus", corpus, "folder of the corpus WAV and text files");
  app.add_option("--minimodem", minimodem, "minimodem program; empty to leave it out");
  app.add_option("--snr", snrs, "SNRs in dB as CORPUS.md defines them");
  app.add_option("--seeds", seeds, "noise seeds per file and SNR (295 characters each)");
  app.add_flag("--show-errors", show_errors, "print relaygw's wrong decodings to standard error");
  app.add_flag("--breakdown", breakdown,
               "print relaygw's errors by kind (shift flips, other substitutions, deletions, "
               "insertions) per transmitter and SNR");
  app.add_option("--file", only, "decode only the clean file of this name, e.g. py45__d04");
  app.add_flag("--known-rate", known_rate,
               "decode each file at its transmitter's rate instead of detecting it, which shows "
               "how many errors the rate decision causes");
  CLI11_PARSE(app, argc, argv);

  std::vector<CleanFile> files;
  for (const std::string& name : kCleanFiles) {
    const fs::path wav = fs::path(corpus) / (name + ".wav");
    auto audio = relaygw::tty::read_audio_file(wav.string());
    if (!audio.is_ok()) {
      std::fprintf(stderr, "%s\n", audio.status().message().c_str());
      return 1;
    }
    const std::string reference = normalise(read_text(fs::path(wav).replace_extension(".txt")));
    const std::string transmitter = name.substr(0, name.find("__"));
    const BaudSetting baud =
        transmitter.ends_with("50") ? BaudSetting::Baud50 : BaudSetting::Baud45_45;
    files.push_back({name, transmitter, std::move(audio.value()), reference, baud});
  }

  fs::path temp_dir;
  if (!minimodem.empty()) {
    std::string pattern = (fs::temp_directory_path() / "tty_noise_bench.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "cannot create a temporary folder in %s\n",
                   fs::temp_directory_path().c_str());
      return 1;
    }
    temp_dir = pattern;
  }

  // scores[decoder][transmitter or "all"][snr index]
  std::map<std::string, std::map<std::string, std::vector<Score>>> scores;
  // breakdowns[transmitter or "all"][snr index], relaygw only
  std::map<std::string, std::vector<ErrorBreakdown>> breakdowns;
  for (std::size_t s = 0; s < snrs.size(); ++s) {
    for (std::size_t f = 0; f < files.size(); ++f) {
      const CleanFile& file = files[f];
      if (!only.empty() && file.name != only) {
        continue;
      }
      for (int seed = 1; seed <= seeds; ++seed) {
        const Audio noisy =
            add_noise(file.audio, snrs[s], static_cast<std::uint64_t>(seed) * 1000 + f);
        std::vector<std::pair<std::string, std::string>> outputs = {
            {"relaygw", decode_with_relaygw(noisy, known_rate ? file.baud : BaudSetting::Auto)}};
        if (!minimodem.empty()) {
          const fs::path path = temp_dir / "noisy.wav";
          const auto written = relaygw::tty::write_wav_file(path.string(), noisy,
                                                            relaygw::tty::AudioEncoding::Pcm16);
          if (!written.is_ok()) {
            std::fprintf(stderr, "%s\n", written.message().c_str());
            return 1;
          }
          outputs.emplace_back("minimodem", decode_with_minimodem(minimodem, path.string()));
        }
        for (const auto& [decoder, text] : outputs) {
          const std::string hypothesis = normalise(text);
          const std::size_t errors = levenshtein(file.reference, hypothesis);
          for (const std::string& group : {file.transmitter, std::string("all")}) {
            auto& row = scores[decoder][group];
            row.resize(snrs.size());
            row[s].errors += errors;
            row[s].reference_chars += file.reference.size();
          }
          if (breakdown && decoder == "relaygw") {
            for (const std::string& group : {file.transmitter, std::string("all")}) {
              auto& row = breakdowns[group];
              row.resize(snrs.size());
              add_breakdown(file.reference, hypothesis, row[s]);
            }
          }
          if (show_errors && decoder == "relaygw" && errors > 0) {
            std::fprintf(stderr, "%+.0f dB %s seed %d: %zu errors\n  ref: %s\n  got: %s\n", snrs[s],
                         file.name.c_str(), seed, errors, file.reference.c_str(),
                         hypothesis.c_str());
          }
        }
      }
    }
  }
  if (!temp_dir.empty()) {
    fs::remove_all(temp_dir);
  }

  std::size_t chars_per_snr = 0;
  for (const CleanFile& file : files) {
    chars_per_snr += file.reference.size() * static_cast<std::size_t>(seeds);
  }
  std::printf("%d seeds, %zu reference characters per SNR and decoder\n\n", seeds, chars_per_snr);
  std::printf("| decoder | transmitter |");
  for (const double snr : snrs) {
    std::printf(" %+.0f dB |", snr);
  }
  std::printf("\n|---|---|");
  for (std::size_t s = 0; s < snrs.size(); ++s) {
    std::printf("---|");
  }
  std::printf("\n");
  for (const auto& [decoder, groups] : scores) {
    for (const auto& [group, row] : groups) {
      std::printf("| %s | %s |", decoder.c_str(), group.c_str());
      for (const Score& score : row) {
        std::printf(" %s |", score.percent().c_str());
      }
      std::printf("\n");
    }
  }
  if (breakdown) {
    std::printf(
        "\nrelaygw errors by kind (shift flip / other substitution / deletion / "
        "insertion)\n\n| transmitter | SNR | shift flips | other substitutions | deletions "
        "| insertions |\n|---|---|---|---|---|---|\n");
    for (const auto& [group, row] : breakdowns) {
      for (std::size_t s = 0; s < row.size(); ++s) {
        std::printf("| %s | %+.0f dB | %zu | %zu | %zu | %zu |\n", group.c_str(), snrs[s],
                    row[s].shift_flips, row[s].other_substitutions, row[s].deletions,
                    row[s].insertions);
      }
    }
  }
  return 0;
}
