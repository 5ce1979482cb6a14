#include "tty/audio_file.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using relaygw::StatusCode;
using relaygw::tty::Audio;
using relaygw::tty::AudioEncoding;
using relaygw::tty::AudioFileKind;
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

// Builds WAV images field by field, so each test can break exactly one thing.
struct WavSpec {
  std::uint16_t format = 1;
  std::uint16_t channels = 1;
  std::uint32_t rate = 8000;
  std::uint16_t bits = 16;
  int block_align = -1;  // -1: channels * bits / 8
  bool extensible = false;
  std::uint16_t sub_format = 1;
  bool bad_guid = false;
  Bytes data;
  int data_size = -1;  // -1: data.size()
  bool include_fmt = true;
  bool include_data = true;
  bool list_chunk_first = false;
};

Bytes build_wav(const WavSpec& spec) {
  Bytes body;
  put_tag(body, "WAVE");
  if (spec.list_chunk_first) {
    put_tag(body, "LIST");
    put_u32(body, 5);  // odd size, so a pad byte follows
    body.insert(body.end(), {'I', 'N', 'F', 'O', 'x', 0});
  }
  if (spec.include_fmt) {
    put_tag(body, "fmt ");
    put_u32(body, spec.extensible ? 40 : 16);
    put_u16(body, spec.extensible ? 0xFFFE : spec.format);
    put_u16(body, spec.channels);
    put_u32(body, spec.rate);
    const int align = spec.block_align >= 0 ? spec.block_align : spec.channels * spec.bits / 8;
    put_u32(body, spec.rate * static_cast<std::uint32_t>(align));
    put_u16(body, static_cast<std::uint16_t>(align));
    put_u16(body, spec.bits);
    if (spec.extensible) {
      put_u16(body, 22);
      put_u16(body, spec.bits);
      put_u32(body, spec.channels == 1 ? 4 : 3);
      put_u16(body, spec.sub_format);
      const std::uint8_t tail[14] = {0x00, 0x00,
                                     0x00, 0x00,
                                     0x10, 0x00,
                                     0x80, 0x00,
                                     0x00, 0xAA,
                                     0x00, 0x38,
                                     0x9B, static_cast<std::uint8_t>(spec.bad_guid ? 0x00 : 0x71)};
      body.insert(body.end(), tail, tail + 14);
    }
  }
  if (spec.include_data) {
    put_tag(body, "data");
    put_u32(body, spec.data_size >= 0 ? static_cast<std::uint32_t>(spec.data_size)
                                      : static_cast<std::uint32_t>(spec.data.size()));
    body.insert(body.end(), spec.data.begin(), spec.data.end());
  }
  Bytes wav;
  put_tag(wav, "RIFF");
  put_u32(wav, static_cast<std::uint32_t>(body.size()));
  wav.insert(wav.end(), body.begin(), body.end());
  return wav;
}

Bytes pcm16_data(const std::vector<std::int16_t>& samples) {
  Bytes data;
  for (std::int16_t s : samples) {
    put_u16(data, static_cast<std::uint16_t>(s));
  }
  return data;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("relaygw_audio_test_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace

TEST_CASE("wav reader decodes supported formats", "[tty][audio]") {
  SECTION("16-bit PCM mono") {
    WavSpec spec;
    spec.data = pcm16_data({0, 16384, -32768, 32767});
    const auto audio = relaygw::tty::parse_wav(build_wav(spec), "pcm16.wav");
    REQUIRE(audio.is_ok());
    CHECK(audio->sample_rate_hz == 8000.0);
    REQUIRE(audio->samples.size() == 4);
    CHECK(audio->samples[0] == 0.0f);
    CHECK(audio->samples[1] == 0.5f);
    CHECK(audio->samples[2] == -1.0f);
    CHECK(audio->samples[3] == Approx(1.0).epsilon(1e-4));
  }
  SECTION("8-bit unsigned PCM") {
    WavSpec spec;
    spec.bits = 8;
    spec.rate = 11025;
    spec.data = {128, 192, 0, 255};
    const auto audio = relaygw::tty::parse_wav(build_wav(spec), "pcm8.wav");
    REQUIRE(audio.is_ok());
    CHECK(audio->sample_rate_hz == 11025.0);
    REQUIRE(audio->samples.size() == 4);
    CHECK(audio->samples[0] == 0.0f);
    CHECK(audio->samples[1] == 0.5f);
    CHECK(audio->samples[2] == -1.0f);
  }
  SECTION("mu-law and A-law") {
    WavSpec mulaw;
    mulaw.format = 7;
    mulaw.bits = 8;
    mulaw.data = {0xFF, 0x80, 0x00};
    const auto mu = relaygw::tty::parse_wav(build_wav(mulaw), "mulaw.wav");
    REQUIRE(mu.is_ok());
    REQUIRE(mu->samples.size() == 3);
    CHECK(mu->samples[0] == 0.0f);
    CHECK(mu->samples[1] == Approx(32124.0 / 32768.0));
    CHECK(mu->samples[2] == Approx(-32124.0 / 32768.0));

    WavSpec alaw = mulaw;
    alaw.format = 6;
    alaw.data = {0xD5, 0x55, 0xAA};
    const auto a = relaygw::tty::parse_wav(build_wav(alaw), "alaw.wav");
    REQUIRE(a.is_ok());
    REQUIRE(a->samples.size() == 3);
    CHECK(a->samples[0] == Approx(8.0 / 32768.0));
    CHECK(a->samples[1] == Approx(-8.0 / 32768.0));
    CHECK(a->samples[2] == Approx(32256.0 / 32768.0));
  }
  SECTION("32-bit float clamps and zeroes non-finite") {
    WavSpec spec;
    spec.format = 3;
    spec.bits = 32;
    const float values[] = {0.25f, -2.0f, NAN, INFINITY};
    for (float v : values) {
      std::uint32_t raw = 0;
      std::memcpy(&raw, &v, sizeof raw);
      put_u32(spec.data, raw);
    }
    const auto audio = relaygw::tty::parse_wav(build_wav(spec), "float.wav");
    REQUIRE(audio.is_ok());
    REQUIRE(audio->samples.size() == 4);
    CHECK(audio->samples[0] == 0.25f);
    CHECK(audio->samples[1] == -1.0f);
    CHECK(audio->samples[2] == 0.0f);
    CHECK(audio->samples[3] == 0.0f);
  }
  SECTION("stereo channels are averaged") {
    WavSpec spec;
    spec.channels = 2;
    spec.rate = 48000;
    spec.data = pcm16_data({16384, 0, -16384, -16384});
    const auto audio = relaygw::tty::parse_wav(build_wav(spec), "stereo.wav");
    REQUIRE(audio.is_ok());
    REQUIRE(audio->samples.size() == 2);
    CHECK(audio->samples[0] == 0.25f);
    CHECK(audio->samples[1] == -0.5f);
  }
  SECTION("WAVE_FORMAT_EXTENSIBLE with PCM and float") {
    WavSpec spec;
    spec.extensible = true;
    spec.rate = 16000;
    spec.data = pcm16_data({8192, -8192});
    const auto audio = relaygw::tty::parse_wav(build_wav(spec), "ext.wav");
    REQUIRE(audio.is_ok());
    REQUIRE(audio->samples.size() == 2);
    CHECK(audio->samples[0] == 0.25f);

    WavSpec float_spec;
    float_spec.extensible = true;
    float_spec.sub_format = 3;
    float_spec.bits = 32;
    float_spec.data = {0, 0, 0x80, 0x3E};  // 0.25f
    const auto float_audio = relaygw::tty::parse_wav(build_wav(float_spec), "extf.wav");
    REQUIRE(float_audio.is_ok());
    REQUIRE(float_audio->samples.size() == 1);
    CHECK(float_audio->samples[0] == 0.25f);
  }
  SECTION("unknown chunks with pad bytes are skipped") {
    WavSpec spec;
    spec.list_chunk_first = true;
    spec.data = pcm16_data({100, 200, 300});
    const auto audio = relaygw::tty::parse_wav(build_wav(spec), "list.wav");
    REQUIRE(audio.is_ok());
    CHECK(audio->samples.size() == 3);
  }
  SECTION("empty data chunk gives no samples") {
    WavSpec spec;
    const auto audio = relaygw::tty::parse_wav(build_wav(spec), "empty.wav");
    REQUIRE(audio.is_ok());
    CHECK(audio->samples.empty());
  }
}

TEST_CASE("wav reader rejects corrupt files", "[tty][audio]") {
  struct Case {
    std::string label;
    Bytes bytes;
    std::string expected_in_message;
  };
  WavSpec good;
  good.data = pcm16_data({1, 2, 3, 4});
  const Bytes good_bytes = build_wav(good);

  std::vector<Case> cases;
  cases.push_back({"empty file", {}, "too short"});
  cases.push_back(
      {"truncated header", Bytes(good_bytes.begin(), good_bytes.begin() + 10), "too short"});
  Bytes not_riff = good_bytes;
  not_riff[0] = 'X';
  cases.push_back({"bad RIFF tag", not_riff, "not a RIFF/WAVE file"});
  Bytes not_wave = good_bytes;
  not_wave[8] = 'A';
  cases.push_back({"bad WAVE tag", not_wave, "not a RIFF/WAVE file"});
  cases.push_back(
      {"header only", Bytes(good_bytes.begin(), good_bytes.begin() + 12), "missing fmt chunk"});
  {
    WavSpec spec = good;
    spec.include_fmt = false;
    cases.push_back({"missing fmt", build_wav(spec), "missing fmt chunk"});
  }
  {
    WavSpec spec = good;
    spec.include_data = false;
    cases.push_back({"missing data", build_wav(spec), "missing data chunk"});
  }
  {
    WavSpec spec = good;
    spec.data_size = 1000;
    cases.push_back({"data size past end", build_wav(spec), "claims 1000 bytes but only 8 remain"});
  }
  cases.push_back({"truncated data", Bytes(good_bytes.begin(), good_bytes.end() - 3),
                   "claims 8 bytes but only 5 remain"});
  {
    WavSpec spec = good;
    spec.data = {1, 2, 3};
    cases.push_back({"odd data size", build_wav(spec), "not a whole number of 2-byte"});
  }
  {
    WavSpec spec = good;
    spec.format = 2;
    cases.push_back({"ADPCM format code", build_wav(spec), "format code 2"});
  }
  {
    WavSpec spec = good;
    spec.bits = 24;
    spec.data = {0, 0, 0};
    cases.push_back({"24-bit PCM", build_wav(spec), "24 bits per sample"});
  }
  {
    WavSpec spec = good;
    spec.format = 3;
    spec.bits = 64;
    cases.push_back({"64-bit float", build_wav(spec), "64 bits per sample"});
  }
  {
    WavSpec spec = good;
    spec.rate = 96000;
    cases.push_back({"96 kHz", build_wav(spec), "sample rate 96000 Hz"});
  }
  {
    WavSpec spec = good;
    spec.rate = 4000;
    cases.push_back({"4 kHz", build_wav(spec), "sample rate 4000 Hz"});
  }
  {
    WavSpec spec = good;
    spec.channels = 0;
    spec.block_align = 2;
    cases.push_back({"zero channels", build_wav(spec), "channel count 0"});
  }
  {
    WavSpec spec = good;
    spec.channels = 3;
    cases.push_back({"three channels", build_wav(spec), "channel count 3"});
  }
  {
    WavSpec spec = good;
    spec.block_align = 4;
    cases.push_back({"wrong block align", build_wav(spec), "block align is 4"});
  }
  {
    WavSpec spec = good;
    spec.extensible = true;
    spec.bad_guid = true;
    cases.push_back({"extensible bad GUID", build_wav(spec), "subformat GUID"});
  }
  {
    WavSpec spec = good;
    spec.extensible = true;
    spec.sub_format = 0x55;  // MP3
    cases.push_back({"extensible MP3", build_wav(spec), "format code 85"});
  }
  {
    Bytes short_fmt;
    put_tag(short_fmt, "RIFF");
    put_u32(short_fmt, 0);
    put_tag(short_fmt, "WAVE");
    put_tag(short_fmt, "fmt ");
    put_u32(short_fmt, 4);
    put_u32(short_fmt, 0x00010001);
    cases.push_back({"short fmt chunk", short_fmt, "fmt chunk is 4 bytes"});
  }

  for (const Case& c : cases) {
    CAPTURE(c.label);
    const auto audio = relaygw::tty::parse_wav(c.bytes, "bad.wav");
    REQUIRE_FALSE(audio.is_ok());
    CHECK(audio.status().code() == StatusCode::InvalidArgument);
    CHECK_THAT(audio.status().message(), Catch::Contains("bad.wav: "));
    CHECK_THAT(audio.status().message(), Catch::Contains(c.expected_in_message));
  }
}

TEST_CASE("wav reader survives truncation and damage", "[tty][audio]") {
  WavSpec spec;
  spec.extensible = true;
  spec.list_chunk_first = true;
  spec.data = pcm16_data({1, -2, 3, -4, 5, -6, 7, -8});
  const Bytes wav = build_wav(spec);
  REQUIRE(relaygw::tty::parse_wav(wav, "x.wav").is_ok());

  // Every prefix must parse or fail cleanly; the sanitizer builds catch out-of-bounds reads.
  for (std::size_t length = 0; length < wav.size(); ++length) {
    CAPTURE(length);
    const auto result = relaygw::tty::parse_wav(std::span(wav.data(), length), "x.wav");
    CHECK_FALSE(result.is_ok());
  }

  std::mt19937 random(12345);
  for (int trial = 0; trial < 5000; ++trial) {
    Bytes damaged = wav;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; ++i) {
      damaged[random() % damaged.size()] = static_cast<std::uint8_t>(random());
    }
    const auto result = relaygw::tty::parse_wav(damaged, "x.wav");
    if (result.is_ok()) {
      CHECK(result->samples.size() <= damaged.size());
    } else {
      CHECK_FALSE(result.status().message().empty());
    }
  }
}

TEST_CASE("audio file reader reports file errors", "[tty][audio]") {
  const auto missing = relaygw::tty::read_audio_file("/nonexistent/relaygw/none.wav");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == StatusCode::NotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("/nonexistent/relaygw/none.wav"));

  const auto path = temp_path("odd.raw");
  {
    std::ofstream file(path, std::ios::binary);
    file.write("\x01\x02\x03", 3);
  }
  const auto odd = relaygw::tty::read_audio_file(path.string(), AudioFileKind::RawPcm16At8k);
  REQUIRE_FALSE(odd.is_ok());
  CHECK_THAT(odd.status().message(), Catch::Contains(path.string()));
  CHECK_THAT(odd.status().message(), Catch::Contains("odd byte count (3)"));
  std::filesystem::remove(path);
}

TEST_CASE("audio file reader reads raw pcm16", "[tty][audio]") {
  const auto path = temp_path("good.raw");
  {
    const Bytes data = pcm16_data({0, 16384, -16384});
    std::ofstream file(path, std::ios::binary);
    file.write(reinterpret_cast<const char*>(data.data()),
               static_cast<std::streamsize>(data.size()));
  }
  const auto audio = relaygw::tty::read_audio_file(path.string(), AudioFileKind::RawPcm16At8k);
  REQUIRE(audio.is_ok());
  CHECK(audio->sample_rate_hz == 8000.0);
  REQUIRE(audio->samples.size() == 3);
  CHECK(audio->samples[1] == 0.5f);
  CHECK(audio->samples[2] == -0.5f);

  // The same bytes are not a WAV file.
  const auto as_wav = relaygw::tty::read_audio_file(path.string());
  CHECK_FALSE(as_wav.is_ok());
  std::filesystem::remove(path);
}

TEST_CASE("wav writer round trips pcm16 and ulaw", "[tty][audio]") {
  const double rates[] = {8000.0, 16000.0, 44100.0, 48000.0};
  for (double rate : rates) {
    for (AudioEncoding encoding : {AudioEncoding::Pcm16, AudioEncoding::Mulaw}) {
      CAPTURE(rate, static_cast<int>(encoding));
      Audio audio;
      audio.sample_rate_hz = rate;
      for (int i = 0; i < 1001; ++i) {
        audio.samples.push_back(static_cast<float>(0.8 * std::sin(i * 0.05)));
      }
      audio.samples.push_back(1.5f);  // clipped on write
      const auto path = temp_path("round.wav");
      REQUIRE(relaygw::tty::write_wav_file(path.string(), audio, encoding).is_ok());
      const auto read = relaygw::tty::read_audio_file(path.string());
      std::filesystem::remove(path);
      REQUIRE(read.is_ok());
      CHECK(read->sample_rate_hz == rate);
      REQUIRE(read->samples.size() == audio.samples.size());
      // 16-bit PCM is within two steps (written at 32767, read at 32768 per unit); mu-law keeps
      // about 3% of the value plus a small floor.
      for (std::size_t i = 0; i + 1 < audio.samples.size(); ++i) {
        const double tolerance = encoding == AudioEncoding::Pcm16
                                     ? 2.0 / 32768
                                     : 0.035 * std::abs(audio.samples[i]) + 0.002;
        CHECK(std::abs(read->samples[i] - audio.samples[i]) <= tolerance);
      }
      CHECK(read->samples.back() == Approx(1.0).margin(0.03));
    }
  }
}

TEST_CASE("wav writer emits mu-law format 7", "[tty][audio]") {
  Audio audio;
  audio.samples = {0.0f, 0.5f, -0.5f};  // odd byte count, so a pad byte follows
  const auto path = temp_path("mulaw.wav");
  REQUIRE(relaygw::tty::write_wav_file(path.string(), audio, AudioEncoding::Mulaw).is_ok());
  std::ifstream file(path, std::ios::binary);
  const Bytes bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  REQUIRE(bytes.size() == 12 + 26 + 12 + 8 + 3 + 1);
  CHECK(bytes[20] == 7);  // format code
  CHECK(bytes[21] == 0);
  CHECK(bytes[34] == 8);  // bits per sample
  CHECK(std::string(bytes.begin() + 38, bytes.begin() + 42) == "fact");
  CHECK(std::string(bytes.begin() + 50, bytes.begin() + 54) == "data");
  const std::uint32_t riff_size = bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24);
  CHECK(riff_size == bytes.size() - 8);
}

TEST_CASE("wav writer rejects bad rate and path", "[tty][audio]") {
  Audio audio;
  audio.samples = {0.0f};
  audio.sample_rate_hz = 0.0;
  const auto bad_rate =
      relaygw::tty::write_wav_file(temp_path("x.wav").string(), audio, AudioEncoding::Pcm16);
  CHECK(bad_rate.code() == StatusCode::InvalidArgument);
  CHECK_THAT(bad_rate.message(), Catch::Contains("invalid sample rate"));

  audio.sample_rate_hz = 8000.0;
  const auto bad_path =
      relaygw::tty::write_wav_file("/nonexistent/relaygw/out.wav", audio, AudioEncoding::Pcm16);
  CHECK_FALSE(bad_path.is_ok());
  CHECK_THAT(bad_path.message(), Catch::Contains("/nonexistent/relaygw/out.wav"));
}

TEST_CASE("g711 mu-law matches reference values", "[tty][audio]") {
  CHECK(relaygw::tty::linear_to_mulaw(0) == 0xFF);
  CHECK(relaygw::tty::linear_to_mulaw(32767) == 0x80);
  CHECK(relaygw::tty::linear_to_mulaw(-32768) == 0x00);
  CHECK(relaygw::tty::mulaw_to_linear(0xFF) == 0);
  CHECK(relaygw::tty::mulaw_to_linear(0x80) == 32124);
  CHECK(relaygw::tty::mulaw_to_linear(0x00) == -32124);
  // Every code decodes to a value that encodes back to the same code (0x7F and 0xFF are both
  // zero, so the negative zero maps to positive zero).
  for (int code = 0; code < 256; ++code) {
    CAPTURE(code);
    const std::int16_t linear = relaygw::tty::mulaw_to_linear(static_cast<std::uint8_t>(code));
    const std::uint8_t back = relaygw::tty::linear_to_mulaw(linear);
    if (code == 0x7F) {
      CHECK(back == 0xFF);
    } else {
      CHECK(back == code);
    }
  }
}
