// tty_bench: accuracy and speed of relaygw's TTY decoder next to minimodem and spandsp.
//
// Accuracy: decodes every WAV in the corpus folder with each decoder and prints the character
// error rate per condition (the file-name prefix before "__"). Text is normalised as the
// corpus README defines it: upper case, CR and LF read as spaces, runs of whitespace folded
// to one space, ends trimmed. CER = Levenshtein distance / reference length, summed over the
// files of a condition.
//
// Speed: concatenates the corpus's 8000 Hz files, with 0.5 s of silence between them, until
// the audio is at least --long-seconds long, writes it as 16-bit PCM WAV, and decodes it with
// each decoder (best of --runs). relaygw is timed in process, with the samples already in
// memory and pushed in 20 ms blocks on this thread. It is also timed as the `relaygw tty
// decode` program, and the peers are timed as programs. Programs are timed from spawn to exit,
// file reading included, and their peak memory is the max RSS that wait4() reports.
//
// Prints markdown tables to standard output. bench/run_tty_bench builds and runs it.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"
#include "tty/fsk_demodulator.hpp"
#include "tty/text_score.hpp"
#include "tty/tty_receiver.hpp"

extern char** environ;

// Heap allocation counter, so the benchmark can report the memory one line's decoder state
// takes and check that decoding allocates nothing per sample. Only the plain and array forms
// of operator new are counted; aligned new is not replaced. GCC 12 cannot see that the
// replaced new and delete below pair malloc with free, so its mismatch warning is silenced.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_allocated_bytes{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace fs = std::filesystem;
using relaygw::tty::Audio;
using Clock = std::chrono::steady_clock;

constexpr double kLongFileRateHz = 8000.0;
constexpr double kGapSeconds = 0.5;
// 20 ms at 8000 Hz: the block size a line adapter receives from a telephony interface.
constexpr std::size_t kBlockSamples = 160;
constexpr int kLinesForCost = 1000;

// ---------------------------------------------------------------------------------------------
// relaygw decoding

// One line's receiver, fed in 20 ms blocks as a line adapter feeds it. After each block the
// decoded characters are moved to `chars`, so the receiver's own buffer stops growing.
struct LineDecoder {
  explicit LineDecoder(double sample_rate_hz) : receiver({.sample_rate_hz = sample_rate_hz}) {}

  void decode(const std::vector<float>& samples) {
    for (std::size_t offset = 0; offset < samples.size(); offset += kBlockSamples) {
      const std::size_t length = std::min(kBlockSamples, samples.size() - offset);
      receiver.push(std::span<const float>(samples.data() + offset, length));
      receiver.take_text(chars);
    }
    receiver.flush();
    receiver.take_text(chars);
  }

  std::string text() const {
    std::string out;
    for (const auto& timed : chars) {
      out.push_back(timed.ch);
    }
    return out;
  }

  relaygw::tty::TtyReceiver receiver;
  std::vector<relaygw::tty::TimedChar> chars;
};

std::string decode_with_relaygw(const Audio& audio) {
  LineDecoder line(audio.sample_rate_hz);
  line.decode(audio.samples);
  return line.text();
}

// ---------------------------------------------------------------------------------------------
// Programs

// Flag that makes tty_bench run the rest of its arguments as a measured program (see
// run_program).
constexpr const char* kMeasureFlag = "--measure-program";

struct ProcessRun {
  bool started = false;
  int exit_code = -1;
  std::string output;  // standard output; standard error is discarded
  double wall_s = 0.0;
  double cpu_s = 0.0;
  long max_rss_kib = 0;
};

std::vector<char*> to_argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  return argv;
}

// Spawns `args` with standard output inherited and standard error sent to /dev/null, waits for
// it and returns its wall time, CPU time and max RSS.
ProcessRun spawn_and_measure(const std::vector<std::string>& args) {
  ProcessRun run;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv = to_argv(args);

  const auto start = Clock::now();
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    return run;
  }
  run.started = true;

  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  run.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
              static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  run.max_rss_kib = usage.ru_maxrss;
  return run;
}

// Body of `tty_bench --measure-program PROGRAM ARGS...`: runs the program and writes
// "started exit_code wall_s cpu_s max_rss_kib" to standard error.
int measure_program(int argc, char** argv) {
  const ProcessRun run = spawn_and_measure(std::vector<std::string>(argv + 2, argv + argc));
  std::fprintf(stderr, "%d %d %.6f %.6f %ld\n", run.started ? 1 : 0, run.exit_code, run.wall_s,
               run.cpu_s, run.max_rss_kib);
  return 0;
}

std::string read_all(int fd) {
  std::string data;
  char buffer[65536];
  ssize_t count = 0;
  while ((count = read(fd, buffer, sizeof buffer)) > 0) {
    data.append(buffer, static_cast<std::size_t>(count));
  }
  close(fd);
  return data;
}

// Runs `args` and returns its standard output, wall time, CPU time and max RSS.
//
// The program is started through a second, small copy of tty_bench (kMeasureFlag), because
// Linux carries a process's peak RSS across execve. A program spawned straight from this
// process, which keeps an hour of audio in memory, would report this process's peak.
ProcessRun run_program(const std::vector<std::string>& args) {
  ProcessRun run;
  int out_pipe[2];
  int report_pipe[2];
  if (pipe(out_pipe) != 0) {
    return run;
  }
  if (pipe(report_pipe) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, report_pipe[1], STDERR_FILENO);
  for (int fd : {out_pipe[0], out_pipe[1], report_pipe[0], report_pipe[1]}) {
    posix_spawn_file_actions_addclose(&actions, fd);
  }

  std::vector<std::string> runner_args = {"/proc/self/exe", kMeasureFlag};
  runner_args.insert(runner_args.end(), args.begin(), args.end());
  std::vector<char*> argv = to_argv(runner_args);
  pid_t pid = 0;
  const int spawn_error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(report_pipe[1]);
  if (spawn_error != 0) {
    close(out_pipe[0]);
    close(report_pipe[0]);
    return run;
  }

  // The report is one short line written after the program exits, so reading standard output
  // to the end first cannot block the runner.
  run.output = read_all(out_pipe[0]);
  const std::string report = read_all(report_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  int started = 0;
  if (std::sscanf(report.c_str(), "%d %d %lf %lf %ld", &started, &run.exit_code, &run.wall_s,
                  &run.cpu_s, &run.max_rss_kib) == 5) {
    run.started = started == 1;
  }
  return run;
}

// A decoder that runs as a program: the arguments before and after the file name.
struct PeerProgram {
  std::string name;
  std::vector<std::string> prefix;
  std::vector<std::string> suffix;

  std::vector<std::string> command(const std::string& file) const {
    std::vector<std::string> argv = prefix;
    argv.push_back(file);
    argv.insert(argv.end(), suffix.begin(), suffix.end());
    return argv;
  }
};

// ---------------------------------------------------------------------------------------------
// Scoring

std::string normalise(const std::string& text) { return relaygw::tty::normalize_for_scoring(text); }

std::size_t levenshtein(const std::string& a, const std::string& b) {
  return relaygw::tty::edit_distance(a, b);
}

struct ErrorCount {
  std::size_t edits = 0;
  std::size_t reference_chars = 0;
  void add(const std::string& reference, const std::string& decoded) {
    const std::string ref = normalise(reference);
    edits += levenshtein(ref, normalise(decoded));
    reference_chars += ref.size();
  }
  double cer() const {
    return reference_chars == 0 ? 0.0 : static_cast<double>(edits) / reference_chars;
  }
};

std::string remove_spaces(std::string text) {
  std::erase(text, ' ');
  return text;
}

// CER with spaces removed on both sides. Used for the long file, where the decoders print
// nothing between two transmissions that the reference separates with a space.
double cer_ignoring_spaces(const std::string& reference, const std::string& decoded) {
  const std::string ref = remove_spaces(normalise(reference));
  if (ref.empty()) {
    return 0.0;
  }
  return static_cast<double>(levenshtein(ref, remove_spaces(normalise(decoded)))) / ref.size();
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string format_percent(double fraction) { return fmt::format("{:.2f}%", 100.0 * fraction); }

// ---------------------------------------------------------------------------------------------
// Accuracy

struct CorpusFile {
  fs::path wav;
  std::string condition;
  std::string reference;
};

std::vector<CorpusFile> list_corpus(const fs::path& folder) {
  std::vector<CorpusFile> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const fs::path& path = entry.path();
    const std::string stem = path.stem().string();
    const auto separator = stem.find("__");
    if (path.extension() != ".wav" || separator == std::string::npos) {
      continue;
    }
    fs::path reference = path;
    reference.replace_extension(".txt");
    files.push_back({path, stem.substr(0, separator), read_text_file(reference)});
  }
  std::sort(files.begin(), files.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.wav < b.wav; });
  return files;
}

int run_accuracy(const fs::path& corpus, const std::vector<PeerProgram>& peers) {
  const std::vector<CorpusFile> files = list_corpus(corpus);
  if (files.empty()) {
    std::cerr << "tty_bench: no <condition>__<text>.wav files found in " << corpus
              << "; pass the corpus folder with --corpus\n";
    return 1;
  }

  // Per condition, one ErrorCount per decoder: relaygw first, then the peers in order.
  std::map<std::string, std::vector<ErrorCount>> counts;
  std::map<std::string, int> file_counts;
  std::vector<ErrorCount> totals(1 + peers.size());
  int failures = 0;
  for (const CorpusFile& file : files) {
    auto& row = counts[file.condition];
    row.resize(1 + peers.size());
    ++file_counts[file.condition];

    std::string decoded;
    auto audio = relaygw::tty::read_audio_file(file.wav.string());
    if (audio) {
      decoded = decode_with_relaygw(*audio);
    } else {
      std::cerr << "tty_bench: " << audio.status().message() << "\n";
      ++failures;
    }
    row[0].add(file.reference, decoded);
    totals[0].add(file.reference, decoded);

    for (std::size_t p = 0; p < peers.size(); ++p) {
      const ProcessRun run = run_program(peers[p].command(file.wav.string()));
      if (!run.started || run.exit_code != 0) {
        std::cerr << "tty_bench: " << peers[p].name << " failed on " << file.wav << " (exit "
                  << run.exit_code << ")\n";
      }
      row[1 + p].add(file.reference, run.output);
      totals[1 + p].add(file.reference, run.output);
    }
  }

  std::cout << "### Character error rate per condition\n\n| condition | files | chars | relaygw |";
  for (const auto& peer : peers) {
    std::cout << " " << peer.name << " |";
  }
  std::cout << "\n|---|---:|---:|---:|";
  for (std::size_t p = 0; p < peers.size(); ++p) {
    std::cout << "---:|";
  }
  std::cout << "\n";
  for (const auto& [condition, row] : counts) {
    std::cout << "| " << condition << " | " << file_counts[condition] << " | "
              << row[0].reference_chars << " |";
    for (const auto& count : row) {
      std::cout << " " << format_percent(count.cer()) << " |";
    }
    std::cout << "\n";
  }
  std::cout << "| **all** | " << files.size() << " | " << totals[0].reference_chars << " |";
  for (const auto& count : totals) {
    std::cout << " " << format_percent(count.cer()) << " |";
  }
  std::cout << "\n\n";
  return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Speed

struct LongFile {
  fs::path path;
  Audio audio;
  std::string reference;
};

// Concatenates the corpus's 8000 Hz files until the audio lasts at least `seconds`.
std::optional<LongFile> build_long_file(const fs::path& corpus, const fs::path& path,
                                        double seconds) {
  std::vector<std::pair<Audio, std::string>> parts;
  for (const CorpusFile& file : list_corpus(corpus)) {
    auto audio = relaygw::tty::read_audio_file(file.wav.string());
    if (audio && audio->sample_rate_hz == kLongFileRateHz) {
      parts.emplace_back(std::move(*audio), file.reference);
    }
  }
  if (parts.empty()) {
    std::cerr << "tty_bench: no readable 8000 Hz files in " << corpus << "\n";
    return std::nullopt;
  }

  LongFile long_file;
  long_file.path = path;
  long_file.audio.sample_rate_hz = kLongFileRateHz;
  const auto target = static_cast<std::size_t>(seconds * kLongFileRateHz);
  const auto gap = static_cast<std::size_t>(kGapSeconds * kLongFileRateHz);
  long_file.audio.samples.reserve(target + 20 * static_cast<std::size_t>(kLongFileRateHz));
  while (long_file.audio.samples.size() < target) {
    for (const auto& [audio, reference] : parts) {
      auto& samples = long_file.audio.samples;
      samples.insert(samples.end(), audio.samples.begin(), audio.samples.end());
      samples.insert(samples.end(), gap, 0.0f);
      long_file.reference += reference + " ";
      if (samples.size() >= target) {
        break;
      }
    }
  }
  const auto status = relaygw::tty::write_wav_file(path.string(), long_file.audio,
                                                   relaygw::tty::AudioEncoding::Pcm16);
  if (!status) {
    std::cerr << "tty_bench: " << status.message() << "\n";
    return std::nullopt;
  }
  // Read back what was written, so every decoder gets the same 16-bit samples.
  auto reread = relaygw::tty::read_audio_file(path.string());
  if (!reread) {
    std::cerr << "tty_bench: " << reread.status().message() << "\n";
    return std::nullopt;
  }
  long_file.audio = std::move(*reread);
  return long_file;
}

struct SpeedRow {
  std::string decoder;
  std::string method;
  double best_wall_s = 0.0;
  double cpu_s = 0.0;
  long max_rss_kib = 0;  // 0 when not measured
  double cer = 0.0;
};

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

int run_speed(const fs::path& corpus, const fs::path& work_dir, double seconds, int runs,
              const std::string& relaygw_binary, const std::vector<PeerProgram>& peers) {
  fs::create_directories(work_dir);
  auto long_file = build_long_file(corpus, work_dir / "tty_bench_long.wav", seconds);
  if (!long_file) {
    return 1;
  }
  const double audio_s =
      static_cast<double>(long_file->audio.samples.size()) / long_file->audio.sample_rate_hz;
  std::vector<SpeedRow> rows;

  // relaygw in process. The allocation counter covers construction (one line's state) and
  // then the decode itself.
  SpeedRow in_process{"relaygw", "in process: TtyReceiver, 20 ms blocks, 1 thread"};
  std::uint64_t line_state_bytes = 0;
  std::uint64_t line_state_allocations = 0;
  std::uint64_t decode_allocations = 0;
  std::size_t decoded_chars = 0;
  for (int run = 0; run < runs; ++run) {
    const auto bytes_before = g_allocated_bytes.load();
    const auto allocations_before = g_allocations.load();
    LineDecoder line(long_file->audio.sample_rate_hz);
    line_state_bytes = sizeof(relaygw::tty::TtyReceiver) + g_allocated_bytes.load() - bytes_before;
    line_state_allocations = g_allocations.load() - allocations_before;
    line.chars.reserve(long_file->reference.size() * 2);

    const auto decode_allocations_before = g_allocations.load();
    const double cpu_start = thread_cpu_seconds();
    const auto start = Clock::now();
    line.decode(long_file->audio.samples);
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    const double cpu = thread_cpu_seconds() - cpu_start;
    decode_allocations = g_allocations.load() - decode_allocations_before;

    if (run == 0 || wall < in_process.best_wall_s) {
      in_process.best_wall_s = wall;
      in_process.cpu_s = cpu;
    }
    if (run == 0) {
      const std::string text = line.text();
      decoded_chars = text.size();
      in_process.cer = cer_ignoring_spaces(long_file->reference, text);
    }
  }
  rows.push_back(in_process);

  // Reading the file is part of every program's time, so time relaygw's reader on its own.
  double best_read_s = 0.0;
  for (int run = 0; run < runs; ++run) {
    const auto start = Clock::now();
    auto reread = relaygw::tty::read_audio_file(long_file->path.string());
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    if (run == 0 || wall < best_read_s) {
      best_read_s = wall;
    }
  }

  std::vector<PeerProgram> programs;
  if (!relaygw_binary.empty()) {
    programs.push_back({"relaygw", {relaygw_binary, "tty", "decode"}, {}});
  }
  programs.insert(programs.end(), peers.begin(), peers.end());
  for (const PeerProgram& program : programs) {
    SpeedRow row{program.name, "program: " + program.command("FILE")[0]};
    for (int run = 0; run < runs; ++run) {
      const ProcessRun result = run_program(program.command(long_file->path.string()));
      if (!result.started || result.exit_code != 0) {
        std::cerr << "tty_bench: " << program.name << " failed on " << long_file->path << " (exit "
                  << result.exit_code << ")\n";
      }
      if (run == 0 || result.wall_s < row.best_wall_s) {
        row.best_wall_s = result.wall_s;
        row.cpu_s = result.cpu_s;
        row.max_rss_kib = result.max_rss_kib;
      }
      if (run == 0) {
        row.cer = cer_ignoring_spaces(long_file->reference, result.output);
      }
    }
    rows.push_back(row);
  }

  std::cout << fmt::format(
      "### Decoding speed\n\nLong file: {} ({:.0f} s of 8000 Hz 16-bit PCM, corpus files "
      "concatenated with {} s of silence between them), best of {} runs.\n\n",
      long_file->path.filename().string(), audio_s, kGapSeconds, runs);
  std::cout << "| decoder | method | wall s | x real time | CPU s | x real time by CPU | "
               "max RSS MiB | CER on long file, spaces ignored |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|\n";
  for (const SpeedRow& row : rows) {
    const std::string rss =
        row.max_rss_kib == 0 ? "-" : fmt::format("{:.1f}", row.max_rss_kib / 1024.0);
    std::cout << fmt::format("| {} | {} | {:.3f} | {:.0f} | {:.3f} | {:.0f} | {} | {} |\n",
                             row.decoder, row.method, row.best_wall_s, audio_s / row.best_wall_s,
                             row.cpu_s, audio_s / row.cpu_s, rss, format_percent(row.cer));
  }

  // The per-line CPU share uses CPU time, which other processes on a busy machine inflate less
  // than wall time.
  const double cpu_speed = audio_s / in_process.cpu_s;
  std::cout << fmt::format(
      "\n### Cost per line\n\n"
      "- relaygw in process: {:.0f} x real time by wall time, {:.0f} by CPU time. By CPU time, {} "
      "lines of 8000 Hz audio need {:.2f}% of one core.\n"
      "- One line's receiver (TtyReceiver: demodulator and Baudot decoder): {} bytes, the "
      "object and {} heap allocations at construction, so {} lines take {:.2f} MiB.\n"
      "- Heap allocations while decoding {:.0f} s of audio: {} (the output vector was reserved "
      "in advance; {} characters decoded).\n"
      "- relaygw's read_audio_file takes {:.3f} s to read the whole long file into memory (best "
      "of {}); `relaygw tty decode` streams the file instead, so this is not part of its time.\n",
      audio_s / in_process.best_wall_s, cpu_speed, kLinesForCost, 100.0 * kLinesForCost / cpu_speed,
      line_state_bytes, line_state_allocations, kLinesForCost,
      static_cast<double>(line_state_bytes) * kLinesForCost / (1024.0 * 1024.0), audio_s,
      decode_allocations, decoded_chars, best_read_s, runs);

  // Ratios against each peer: programs against programs (file reading included on both
  // sides), and relaygw's in-process figure.
  const SpeedRow* relaygw_program = nullptr;
  for (const SpeedRow& row : rows) {
    if (row.decoder == "relaygw" && &row != &rows.front()) {
      relaygw_program = &row;
    }
  }
  for (const SpeedRow& row : rows) {
    if (row.decoder == "relaygw") {
      continue;
    }
    if (relaygw_program != nullptr) {
      std::cout << fmt::format(
          "- `relaygw tty decode` against {}: {:.1f} times as fast by wall time, {:.1f} by CPU "
          "time.\n",
          row.decoder, row.best_wall_s / relaygw_program->best_wall_s,
          row.cpu_s / relaygw_program->cpu_s);
    }
    std::cout << fmt::format(
        "- relaygw in process against the {} program: {:.1f} times as fast by wall time, {:.1f} "
        "by CPU time.\n",
        row.decoder, row.best_wall_s / in_process.best_wall_s, row.cpu_s / in_process.cpu_s);
  }
  std::cout << "\n";
  fs::remove(long_file->path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == kMeasureFlag) {
    return measure_program(argc, argv);
  }
  CLI::App app{"Measures relaygw's TTY decoder next to minimodem and spandsp"};
  std::string corpus;
  std::string minimodem = "minimodem";
  std::string spandsp;
  std::string relaygw_binary;
  std::string work_dir = (fs::temp_directory_path() / "relaygw-tty-bench").string();
  double long_seconds = 3600.0;
  int runs = 3;
  bool skip_accuracy = false;
  bool skip_speed = false;
  app.add_option("--corpus", corpus, "Folder of <condition>__<text>.wav and .txt files")
      ->required();
  app.add_option("--minimodem", minimodem, "minimodem program; empty to leave it out")
      ->capture_default_str();
  app.add_option("--spandsp", spandsp, "spandsp_tdd_decode program; empty to leave it out");
  app.add_option("--relaygw", relaygw_binary,
                 "relaygw program, timed as `relaygw tty decode FILE`; empty to leave it out");
  app.add_option("--work-dir", work_dir, "Folder for the long WAV file (deleted afterwards)")
      ->capture_default_str();
  app.add_option("--long-seconds", long_seconds, "Minimum length of the long file, in seconds")
      ->capture_default_str();
  app.add_option("--runs", runs, "Timed runs per decoder; the fastest counts")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--skip-accuracy", skip_accuracy, "Leave out the per-condition accuracy table");
  app.add_flag("--skip-speed", skip_speed, "Leave out the long-file speed table");
  CLI11_PARSE(app, argc, argv);

  std::vector<PeerProgram> peers;
  if (!minimodem.empty()) {
    peers.push_back({"minimodem", {minimodem, "--rx", "tdd", "-f"}, {}});
  }
  if (!spandsp.empty()) {
    peers.push_back({"spandsp", {spandsp}, {}});
  }

  int status = 0;
  if (!skip_accuracy) {
    status |= run_accuracy(corpus, peers);
  }
  if (!skip_speed) {
    status |= run_speed(corpus, work_dir, long_seconds, runs, relaygw_binary, peers);
  }
  return status;
}
