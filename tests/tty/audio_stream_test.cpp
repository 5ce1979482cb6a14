// AudioFileReader against read_audio_file: the same samples in every block size, the same
// header errors, and truncation found while streaming.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tty/audio_file.hpp"

namespace {

using relaygw::StatusCode;
using relaygw::tty::AudioFileKind;
using relaygw::tty::AudioFileReader;
using Bytes = std::vector<std::uint8_t>;

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<std::uint8_t>((v >> shift) & 0xFF));
  }
}

void put_tag(Bytes& out, const char* tag) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<std::uint8_t>(tag[i]));
  }
}

struct Format {
  std::string label;
  std::uint16_t code = 1;  // WAVE format code: 1 PCM, 3 float, 6 A-law, 7 mu-law
  std::uint16_t channels = 1;
  std::uint16_t bits = 16;
  bool extensible = false;
};

// A WAV image with a LIST chunk before fmt and an odd-sized chunk after data, so the header
// parser has to walk past chunks it does not use.
Bytes build_wav(const Format& format, const Bytes& data, std::uint32_t rate = 8000) {
  const std::uint16_t align = static_cast<std::uint16_t>(format.channels * format.bits / 8);
  Bytes wav;
  put_tag(wav, "RIFF");
  put_u32(wav, 0);  // not checked by the reader
  put_tag(wav, "WAVE");
  put_tag(wav, "LIST");
  put_u32(wav, 5);
  wav.insert(wav.end(), {'I', 'N', 'F', 'O', 'x', 0});
  put_tag(wav, "fmt ");
  put_u32(wav, format.extensible ? 40 : 16);
  put_u16(wav, format.extensible ? 0xFFFE : format.code);
  put_u16(wav, format.channels);
  put_u32(wav, rate);
  put_u32(wav, rate * align);
  put_u16(wav, align);
  put_u16(wav, format.bits);
  if (format.extensible) {
    put_u16(wav, 22);
    put_u16(wav, format.bits);
    put_u32(wav, format.channels == 1 ? 4 : 3);
    put_u16(wav, format.code);
    wav.insert(wav.end(), {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38,
                           0x9B, 0x71});
  }
  put_tag(wav, "data");
  put_u32(wav, static_cast<std::uint32_t>(data.size()));
  wav.insert(wav.end(), data.begin(), data.end());
  if (data.size() % 2 != 0) {
    wav.push_back(0);
  }
  put_tag(wav, "note");
  put_u32(wav, 3);
  wav.insert(wav.end(), {'e', 'n', 'd'});
  return wav;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("relaygw_audio_stream_test_" + std::to_string(::getpid()) + "_" + name);
}

void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// Reads every sample with `reader`, `out_size` samples per read() call.
relaygw::Result<std::vector<float>> read_all(AudioFileReader& reader, std::size_t out_size) {
  std::vector<float> samples;
  std::vector<float> block(out_size);
  while (true) {
    auto got = reader.read(block);
    if (!got) {
      return got.status();
    }
    if (*got == 0) {
      return samples;
    }
    REQUIRE(*got <= out_size);
    samples.insert(samples.end(), block.begin(), block.begin() + static_cast<long>(*got));
  }
}

// Compares open() with read_audio_file on `path`: both fail with the same message, or both
// succeed with the same samples.
void check_same_as_whole_read(const std::filesystem::path& path, AudioFileKind kind) {
  const auto whole = relaygw::tty::read_audio_file(path.string(), kind);
  auto reader = AudioFileReader::open(path.string(), kind, 7);
  REQUIRE(reader.is_ok() == whole.is_ok());
  if (!whole.is_ok()) {
    CHECK(reader.status().code() == whole.status().code());
    CHECK(reader.status().message() == whole.status().message());
    return;
  }
  auto streamed = read_all(*reader, 5);
  REQUIRE(streamed.is_ok());
  CHECK(*streamed == whole->samples);
}

}  // namespace

TEST_CASE("audio stream equals whole-file read", "[tty][audio]") {
  const std::vector<Format> formats = {
      {"pcm8", 1, 1, 8},
      {"pcm16", 1, 1, 16},
      {"mulaw", 7, 1, 8},
      {"alaw", 6, 1, 8},
      {"float32", 3, 1, 32},
      {"pcm8 stereo", 1, 2, 8},
      {"pcm16 stereo", 1, 2, 16},
      {"mulaw stereo", 7, 2, 8},
      {"float32 stereo", 3, 2, 32},
      {"extensible pcm16", 1, 1, 16, true},
      {"extensible float32 stereo", 3, 2, 32, true},
  };
  // Block sizes of 1, 3, 5 and 7 bytes split samples and frames of every format; 4099 splits
  // them far from the start of the data.
  const std::size_t block_sizes[] = {1, 2, 3, 5, 7, 64, 4099, AudioFileReader::kDefaultBlockBytes};
  const std::size_t out_sizes[] = {1, 3, 1000, 100000};

  std::mt19937 random(2024);
  const auto path = temp_path("formats.wav");
  for (const Format& format : formats) {
    // Random bytes cover every code, and as float32 they include NaN, infinities and values
    // outside [-1, 1], which the reader must clamp the same way.
    Bytes data(3001 * format.channels * format.bits / 8);
    for (std::uint8_t& byte : data) {
      byte = static_cast<std::uint8_t>(random());
    }
    write_file(path, build_wav(format, data, 16000));
    const auto whole = relaygw::tty::read_audio_file(path.string());
    REQUIRE(whole.is_ok());
    REQUIRE(whole->samples.size() == 3001);

    for (std::size_t block_bytes : block_sizes) {
      for (std::size_t out_size : out_sizes) {
        CAPTURE(format.label, block_bytes, out_size);
        auto reader = AudioFileReader::open(path.string(), AudioFileKind::Wav, block_bytes);
        REQUIRE(reader.is_ok());
        CHECK(reader->sample_rate_hz() == 16000.0);
        CHECK(reader->frame_count() == 3001);
        auto streamed = read_all(*reader, out_size);
        REQUIRE(streamed.is_ok());
        CHECK(*streamed == whole->samples);
        CHECK(reader->frames_remaining() == 0);
      }
    }
  }
  std::filesystem::remove(path);
}

TEST_CASE("audio stream decodes every G.711 code", "[tty][audio]") {
  Bytes codes(256);
  for (int code = 0; code < 256; ++code) {
    codes[code] = static_cast<std::uint8_t>(code);
  }
  const auto path = temp_path("g711.wav");
  for (std::uint16_t format_code : {std::uint16_t{6}, std::uint16_t{7}}) {
    CAPTURE(format_code);
    write_file(path, build_wav({"g711", format_code, 1, 8}, codes));
    auto reader = AudioFileReader::open(path.string());
    REQUIRE(reader.is_ok());
    auto samples = read_all(*reader, 100);
    REQUIRE(samples.is_ok());
    REQUIRE(samples->size() == 256);
    for (int code = 0; code < 256; ++code) {
      CAPTURE(code);
      const std::int16_t linear =
          format_code == 7 ? relaygw::tty::mulaw_to_linear(static_cast<std::uint8_t>(code))
                           : relaygw::tty::alaw_to_linear(static_cast<std::uint8_t>(code));
      CHECK((*samples)[code] == static_cast<float>(linear) / 32768.0f);
    }
  }
  std::filesystem::remove(path);
}

TEST_CASE("audio stream matches corrupt-file errors", "[tty][audio]") {
  Bytes data;
  for (int i = 0; i < 20; ++i) {
    put_u16(data, static_cast<std::uint16_t>(i * 1000));
  }
  const Bytes wav = build_wav({"extensible pcm16", 1, 1, 16, true}, data);
  const auto path = temp_path("corrupt.wav");

  // Every prefix cuts the header, a chunk or the data somewhere.
  for (std::size_t length = 0; length < wav.size(); ++length) {
    CAPTURE(length);
    write_file(path, Bytes(wav.begin(), wav.begin() + static_cast<long>(length)));
    check_same_as_whole_read(path, AudioFileKind::Wav);
  }

  // Damaged bytes anywhere: the same message or the same samples.
  std::mt19937 random(99);
  for (int trial = 0; trial < 400; ++trial) {
    CAPTURE(trial);
    Bytes damaged = wav;
    const int flips = 1 + static_cast<int>(random() % 3);
    for (int i = 0; i < flips; ++i) {
      damaged[random() % damaged.size()] = static_cast<std::uint8_t>(random());
    }
    write_file(path, damaged);
    check_same_as_whole_read(path, AudioFileKind::Wav);
  }

  // A data chunk longer than the file is rejected at open with the chunk's offset.
  write_file(path, Bytes(wav.begin(), wav.end() - 20));
  auto reader = AudioFileReader::open(path.string());
  REQUIRE_FALSE(reader.is_ok());
  CHECK(reader.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(reader.status().message(),
             Catch::StartsWith(path.string() + ": chunk 'data' at offset"));
  std::filesystem::remove(path);
}

TEST_CASE("audio stream reports truncation offset", "[tty][audio]") {
  Bytes data(40000);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(i * 7);
  }
  const Bytes wav = build_wav({"pcm16", 1, 1, 16}, data);
  const auto path = temp_path("shrinks.wav");
  write_file(path, wav);

  auto reader = AudioFileReader::open(path.string(), AudioFileKind::Wav, 4096);
  REQUIRE(reader.is_ok());
  std::vector<float> block(1000);
  auto first = reader->read(block);
  REQUIRE(first.is_ok());
  CHECK(*first == 1000);

  // The file shrinks to 10001 bytes after open(), while the reader is inside the data chunk.
  std::filesystem::resize_file(path, 10001);
  relaygw::Status failure;
  for (int i = 0; i < 100 && failure.is_ok(); ++i) {
    auto got = reader->read(block);
    if (!got) {
      failure = got.status();
    } else {
      REQUIRE(*got > 0);
    }
  }
  REQUIRE_FALSE(failure.is_ok());
  CHECK(failure.code() == StatusCode::InvalidArgument);
  CHECK_THAT(failure.message(), Catch::StartsWith(path.string() + ": "));
  CHECK_THAT(failure.message(),
             Catch::Contains("file ends at byte offset 10001 inside the data chunk"));
  CHECK_THAT(failure.message(), Catch::Contains("truncated"));
  std::filesystem::remove(path);
}

TEST_CASE("audio stream reads raw pcm16", "[tty][audio]") {
  const auto path = temp_path("stream.raw");
  std::mt19937 random(5);
  Bytes data(2 * 5001);
  for (std::uint8_t& byte : data) {
    byte = static_cast<std::uint8_t>(random());
  }
  write_file(path, data);
  check_same_as_whole_read(path, AudioFileKind::RawPcm16At8k);
  auto reader = AudioFileReader::open(path.string(), AudioFileKind::RawPcm16At8k);
  REQUIRE(reader.is_ok());
  CHECK(reader->sample_rate_hz() == 8000.0);
  CHECK(reader->frame_count() == 5001);

  // An odd byte count gets read_audio_file's error.
  data.push_back(1);
  write_file(path, data);
  check_same_as_whole_read(path, AudioFileKind::RawPcm16At8k);
  auto odd = AudioFileReader::open(path.string(), AudioFileKind::RawPcm16At8k);
  REQUIRE_FALSE(odd.is_ok());
  CHECK_THAT(odd.status().message(), Catch::Contains("odd byte count (10003)"));
  std::filesystem::remove(path);
}

TEST_CASE("audio stream reports missing file", "[tty][audio]") {
  const std::string missing = "/nonexistent/relaygw/none.wav";
  auto reader = AudioFileReader::open(missing);
  const auto whole = relaygw::tty::read_audio_file(missing);
  REQUIRE_FALSE(reader.is_ok());
  CHECK(reader.status().code() == StatusCode::NotFound);
  CHECK(reader.status().message() == whole.status().message());
}

TEST_CASE("audio stream reads a named pipe", "[tty][audio]") {
  Bytes data;
  for (int i = 0; i < 3000; ++i) {
    put_u16(data, static_cast<std::uint16_t>(i * 21));
  }
  const Bytes wav = build_wav({"pcm16", 1, 1, 16}, data, 44100);
  const auto file_path = temp_path("pipe_reference.wav");
  write_file(file_path, wav);
  const auto whole = relaygw::tty::read_audio_file(file_path.string());
  REQUIRE(whole.is_ok());

  const auto fifo_path = temp_path("pipe.wav");
  REQUIRE(::mkfifo(fifo_path.c_str(), 0600) == 0);
  // Opening a FIFO for writing blocks until the reader opens it, so the writer has its own
  // thread.
  std::thread writer([&] { write_file(fifo_path, wav); });
  auto reader = AudioFileReader::open(fifo_path.string(), AudioFileKind::Wav, 3);
  writer.join();
  REQUIRE(reader.is_ok());
  CHECK(reader->sample_rate_hz() == 44100.0);
  auto streamed = read_all(*reader, 777);
  REQUIRE(streamed.is_ok());
  CHECK(*streamed == whole->samples);
  std::filesystem::remove(fifo_path);
  std::filesystem::remove(file_path);
}
