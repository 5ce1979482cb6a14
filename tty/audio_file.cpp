#include "tty/audio_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace relaygw::tty {
namespace {

constexpr std::uint16_t kFormatPcm = 1;
constexpr std::uint16_t kFormatFloat = 3;
constexpr std::uint16_t kFormatAlaw = 6;
constexpr std::uint16_t kFormatMulaw = 7;
constexpr std::uint16_t kFormatExtensible = 0xFFFE;

constexpr std::uint32_t kMinSampleRateHz = 8000;
constexpr std::uint32_t kMaxSampleRateHz = 48000;

// Larger files are rejected as soon as the read passes this size. The limit holds about 46
// minutes of 48 kHz stereo float (1.38 GB per hour) and about 18 hours of 8 kHz 16-bit mono.
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{1} << 30;

// The bytes after the first two of every KSDATAFORMAT_SUBTYPE GUID that carries a WAVE
// format code (KSDATAFORMAT_SUBTYPE_PCM is 00000001-0000-0010-8000-00aa00389b71).
constexpr std::uint8_t kSubformatGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint32_t read_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<std::uint8_t>((v >> shift) & 0xFF));
  }
}

void put_tag(std::vector<std::uint8_t>& out, const char* tag) {
  out.insert(out.end(), tag, tag + 4);
}

// A chunk id made printable for error messages.
std::string printable_tag(const std::uint8_t* p) {
  std::string tag;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>(p[i]);
    tag.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  return tag;
}

Status wav_error(const std::string& name, const std::string& problem) {
  return Status(StatusCode::InvalidArgument, name + ": " + problem);
}

struct WavFormat {
  std::uint16_t code = 0;  // after resolving WAVE_FORMAT_EXTENSIBLE
  std::uint16_t channels = 0;
  std::uint32_t sample_rate_hz = 0;
  std::uint16_t block_align = 0;
  std::uint16_t bits_per_sample = 0;
};

std::string format_name(std::uint16_t code) {
  switch (code) {
    case kFormatPcm:
      return "PCM";
    case kFormatFloat:
      return "IEEE float";
    case kFormatAlaw:
      return "A-law";
    case kFormatMulaw:
      return "mu-law";
    default:
      return "format code " + std::to_string(code);
  }
}

// Parses and checks a fmt chunk body of `size` bytes, all of which are inside the file.
Status parse_format(const std::uint8_t* body, std::uint32_t size, const std::string& name,
                    WavFormat& format) {
  if (size < 16) {
    return wav_error(name, "fmt chunk is " + std::to_string(size) +
                               " bytes, shorter than the 16 bytes every WAV format needs");
  }
  format.code = read_u16(body);
  format.channels = read_u16(body + 2);
  format.sample_rate_hz = read_u32(body + 4);
  format.block_align = read_u16(body + 12);
  format.bits_per_sample = read_u16(body + 14);

  if (format.code == kFormatExtensible) {
    if (size < 40 || read_u16(body + 16) < 22) {
      return wav_error(name, "WAVE_FORMAT_EXTENSIBLE fmt chunk is " + std::to_string(size) +
                                 " bytes; it needs 40 with a 22-byte extension");
    }
    const std::uint8_t* guid = body + 24;
    if (std::memcmp(guid + 2, kSubformatGuidTail, sizeof kSubformatGuidTail) != 0) {
      return wav_error(name,
                       "WAVE_FORMAT_EXTENSIBLE subformat GUID is not a WAVE format code; "
                       "convert the file to PCM, mu-law, A-law or float WAV");
    }
    format.code = read_u16(guid);
  }

  const bool supported =
      (format.code == kFormatPcm &&
       (format.bits_per_sample == 8 || format.bits_per_sample == 16)) ||
      (format.code == kFormatFloat && format.bits_per_sample == 32) ||
      ((format.code == kFormatAlaw || format.code == kFormatMulaw) && format.bits_per_sample == 8);
  if (!supported) {
    return wav_error(name, "unsupported sample format " + format_name(format.code) + " with " +
                               std::to_string(format.bits_per_sample) +
                               " bits per sample; use 8- or 16-bit PCM, 8-bit mu-law or "
                               "A-law, or 32-bit float");
  }
  if (format.channels != 1 && format.channels != 2) {
    return wav_error(name, "unsupported channel count " + std::to_string(format.channels) +
                               "; use mono or stereo");
  }
  if (format.sample_rate_hz < kMinSampleRateHz || format.sample_rate_hz > kMaxSampleRateHz) {
    return wav_error(name, "unsupported sample rate " + std::to_string(format.sample_rate_hz) +
                               " Hz; resample to between 8000 and 48000 Hz");
  }
  const unsigned expected_align = format.channels * (format.bits_per_sample / 8u);
  if (format.block_align != expected_align) {
    return wav_error(name, "block align is " + std::to_string(format.block_align) + " bytes but " +
                               std::to_string(format.channels) + " channels of " +
                               std::to_string(format.bits_per_sample) + "-bit samples need " +
                               std::to_string(expected_align));
  }
  return Status::ok();
}

float decode_sample(const std::uint8_t* p, std::uint16_t code, std::uint16_t bits) {
  switch (code) {
    case kFormatPcm:
      if (bits == 8) {
        return (static_cast<float>(p[0]) - 128.0f) / 128.0f;
      }
      return static_cast<float>(static_cast<std::int16_t>(read_u16(p))) / 32768.0f;
    case kFormatMulaw:
      return static_cast<float>(mulaw_to_linear(p[0])) / 32768.0f;
    case kFormatAlaw:
      return static_cast<float>(alaw_to_linear(p[0])) / 32768.0f;
    case kFormatFloat: {
      const std::uint32_t raw = read_u32(p);
      float value = 0.0f;
      std::memcpy(&value, &raw, sizeof value);
      if (!std::isfinite(value)) {
        return 0.0f;
      }
      return std::clamp(value, -1.0f, 1.0f);
    }
    default:
      return 0.0f;
  }
}

std::vector<float> decode_samples(const std::uint8_t* data, std::size_t frames,
                                  const WavFormat& format) {
  std::vector<float> samples(frames);
  const std::size_t bytes_per_sample = format.bits_per_sample / 8u;
  for (std::size_t i = 0; i < frames; ++i) {
    const std::uint8_t* frame = data + i * format.block_align;
    float sum = 0.0f;
    for (std::uint16_t ch = 0; ch < format.channels; ++ch) {
      sum += decode_sample(frame + ch * bytes_per_sample, format.code, format.bits_per_sample);
    }
    samples[i] = sum / static_cast<float>(format.channels);
  }
  return samples;
}

Result<std::vector<std::uint8_t>> read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    return Status(errno == ENOENT ? StatusCode::NotFound : StatusCode::Unavailable,
                  path + ": cannot open audio file: " + std::strerror(errno));
  }
  std::vector<std::uint8_t> bytes;
  std::uint8_t buffer[65536];
  while (true) {
    const std::size_t got = std::fread(buffer, 1, sizeof buffer, file.get());
    if (got > 0) {
      if (bytes.size() + got > kMaxFileBytes) {
        return Status(StatusCode::InvalidArgument, path + ": audio file is larger than " +
                                                       std::to_string(kMaxFileBytes) +
                                                       " bytes; split it into shorter files");
      }
      bytes.insert(bytes.end(), buffer, buffer + got);
    }
    if (got < sizeof buffer) {
      break;
    }
  }
  if (std::ferror(file.get())) {
    return Status(StatusCode::Unavailable, path + ": read failed: " + std::strerror(errno));
  }
  return bytes;
}

Result<Audio> parse_raw_pcm16(std::span<const std::uint8_t> bytes, const std::string& name) {
  if (bytes.size() % 2 != 0) {
    return wav_error(name, "raw 16-bit audio has an odd byte count (" +
                               std::to_string(bytes.size()) +
                               "); the file is truncated or not 16-bit PCM");
  }
  Audio audio;
  audio.sample_rate_hz = 8000.0;
  audio.samples.resize(bytes.size() / 2);
  for (std::size_t i = 0; i < audio.samples.size(); ++i) {
    audio.samples[i] =
        static_cast<float>(static_cast<std::int16_t>(read_u16(&bytes[2 * i]))) / 32768.0f;
  }
  return audio;
}

}  // namespace

Result<Audio> parse_wav(std::span<const std::uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 12) {
    return wav_error(name, "file is " + std::to_string(bytes.size()) +
                               " bytes, too short for a RIFF/WAVE header (12 bytes)");
  }
  if (std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    return wav_error(name,
                     "not a RIFF/WAVE file (the header does not start with RIFF....WAVE); "
                     "for headerless 16-bit 8 kHz audio use the raw option");
  }
  // The RIFF size field is not checked: streaming writers often leave it 0 or 0xFFFFFFFF.
  // Every chunk below is checked against the real end of the bytes instead.

  const std::uint8_t* fmt_body = nullptr;
  std::uint32_t fmt_size = 0;
  const std::uint8_t* data_body = nullptr;
  std::uint32_t data_size = 0;

  std::size_t pos = 12;
  while (bytes.size() - pos >= 8) {
    const std::uint8_t* header = bytes.data() + pos;
    const std::uint32_t size = read_u32(header + 4);
    const std::size_t remaining = bytes.size() - pos - 8;
    if (size > remaining) {
      return wav_error(name, "chunk '" + printable_tag(header) + "' at offset " +
                                 std::to_string(pos) + " claims " + std::to_string(size) +
                                 " bytes but only " + std::to_string(remaining) +
                                 " remain in the file; the file is truncated or corrupt");
    }
    if (std::memcmp(header, "fmt ", 4) == 0 && fmt_body == nullptr) {
      fmt_body = header + 8;
      fmt_size = size;
    } else if (std::memcmp(header, "data", 4) == 0 && data_body == nullptr) {
      data_body = header + 8;
      data_size = size;
    }
    // Chunks are padded to an even size; a missing final pad byte is tolerated.
    const std::size_t advance = 8 + static_cast<std::size_t>(size) + (size & 1u);
    if (advance > bytes.size() - pos) {
      break;
    }
    pos += advance;
  }

  if (fmt_body == nullptr) {
    return wav_error(name, "missing fmt chunk; the file is truncated or not a WAV file");
  }
  WavFormat format;
  if (Status status = parse_format(fmt_body, fmt_size, name, format); !status) {
    return status;
  }
  if (data_body == nullptr) {
    return wav_error(name, "missing data chunk; the file is truncated");
  }
  if (data_size % format.block_align != 0) {
    return wav_error(name, "data chunk is " + std::to_string(data_size) +
                               " bytes, not a whole number of " +
                               std::to_string(format.block_align) +
                               "-byte sample frames; the file is truncated or corrupt");
  }

  Audio audio;
  audio.sample_rate_hz = static_cast<double>(format.sample_rate_hz);
  audio.samples = decode_samples(data_body, data_size / format.block_align, format);
  return audio;
}

Result<Audio> read_audio_file(const std::string& path, AudioFileKind kind) {
  Result<std::vector<std::uint8_t>> bytes = read_whole_file(path);
  if (!bytes) {
    return bytes.status();
  }
  if (kind == AudioFileKind::RawPcm16At8k) {
    return parse_raw_pcm16(*bytes, path);
  }
  return parse_wav(*bytes, path);
}

Status write_wav_file(const std::string& path, const Audio& audio, AudioEncoding encoding) {
  const double rate = std::round(audio.sample_rate_hz);
  if (!(rate >= 1.0 && rate <= 4294967295.0)) {
    return Status(StatusCode::InvalidArgument, path + ": invalid sample rate " +
                                                   std::to_string(audio.sample_rate_hz) +
                                                   " Hz; use a positive rate such as 8000");
  }
  const std::uint32_t sample_rate = static_cast<std::uint32_t>(rate);
  const std::uint16_t bytes_per_sample = encoding == AudioEncoding::Pcm16 ? 2 : 1;
  const std::uint64_t data_bytes =
      static_cast<std::uint64_t>(audio.samples.size()) * bytes_per_sample;
  // RIFF sizes are 32-bit; leave room for the headers.
  if (data_bytes > 0xFFFFFFFFull - 64) {
    return Status(StatusCode::InvalidArgument,
                  path + ": " + std::to_string(audio.samples.size()) +
                      " samples do not fit in one WAV file (4 GiB limit); split the audio");
  }

  // G.711 is not PCM, so its fmt chunk carries cbSize and the file a fact chunk.
  const bool is_pcm = encoding == AudioEncoding::Pcm16;
  const std::uint32_t fmt_size = is_pcm ? 16 : 18;
  const std::uint32_t fact_bytes = is_pcm ? 0 : 12;
  const std::uint32_t pad = static_cast<std::uint32_t>(data_bytes & 1u);
  const std::uint32_t riff_size =
      4 + (8 + fmt_size) + fact_bytes + 8 + static_cast<std::uint32_t>(data_bytes) + pad;

  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(riff_size) + 8);
  put_tag(out, "RIFF");
  put_u32(out, riff_size);
  put_tag(out, "WAVE");
  put_tag(out, "fmt ");
  put_u32(out, fmt_size);
  put_u16(out, is_pcm ? kFormatPcm : kFormatMulaw);
  put_u16(out, 1);
  put_u32(out, sample_rate);
  put_u32(out, sample_rate * bytes_per_sample);
  put_u16(out, bytes_per_sample);
  put_u16(out, static_cast<std::uint16_t>(bytes_per_sample * 8));
  if (!is_pcm) {
    put_u16(out, 0);
    put_tag(out, "fact");
    put_u32(out, 4);
    put_u32(out, static_cast<std::uint32_t>(audio.samples.size()));
  }
  put_tag(out, "data");
  put_u32(out, static_cast<std::uint32_t>(data_bytes));
  for (float sample : audio.samples) {
    const float clamped = std::isfinite(sample) ? std::clamp(sample, -1.0f, 1.0f) : 0.0f;
    const auto linear = static_cast<std::int16_t>(std::lround(clamped * 32767.0f));
    if (is_pcm) {
      put_u16(out, static_cast<std::uint16_t>(linear));
    } else {
      out.push_back(linear_to_mulaw(linear));
    }
  }
  if (pad != 0) {
    out.push_back(0);
  }

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"),
                                                       &std::fclose);
  if (!file) {
    return Status(StatusCode::Unavailable,
                  path + ": cannot create WAV file: " + std::strerror(errno));
  }
  if (std::fwrite(out.data(), 1, out.size(), file.get()) != out.size()) {
    return Status(StatusCode::Unavailable, path + ": write failed: " + std::strerror(errno));
  }
  if (std::fclose(file.release()) != 0) {
    return Status(StatusCode::Unavailable, path + ": write failed: " + std::strerror(errno));
  }
  return Status::ok();
}

// G.711 mu-law, as in the ITU-T G.711 reference and the Sun g711.c implementation: bias the
// magnitude by 0x84, find the segment, and invert all bits.
std::uint8_t linear_to_mulaw(std::int16_t sample) {
  constexpr int kBias = 0x84;
  constexpr int kClip = 32635;
  int value = sample;
  const int sign = value < 0 ? 0x80 : 0x00;
  if (value < 0) {
    value = -value;
  }
  value = std::min(value, kClip) + kBias;
  int exponent = 7;
  for (int mask = 0x4000; (value & mask) == 0 && exponent > 0; mask >>= 1) {
    --exponent;
  }
  const int mantissa = (value >> (exponent + 3)) & 0x0F;
  return static_cast<std::uint8_t>(~(sign | (exponent << 4) | mantissa));
}

std::int16_t mulaw_to_linear(std::uint8_t code) {
  const int inverted = ~code & 0xFF;
  const int exponent = (inverted >> 4) & 0x07;
  const int mantissa = inverted & 0x0F;
  const int magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return static_cast<std::int16_t>((inverted & 0x80) != 0 ? -magnitude : magnitude);
}

std::int16_t alaw_to_linear(std::uint8_t code) {
  const int value = code ^ 0x55;
  const int exponent = (value >> 4) & 0x07;
  const int mantissa = value & 0x0F;
  int magnitude = exponent == 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return static_cast<std::int16_t>((value & 0x80) != 0 ? magnitude : -magnitude);
}

}  // namespace relaygw::tty
