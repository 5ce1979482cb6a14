#include "tty/audio_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/output_file.hpp"

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

// Samples of 8-bit PCM, mu-law or A-law, indexed by the code byte.
using ByteSampleTable = std::array<float, 256>;

template <typename Decode>
ByteSampleTable make_byte_table(Decode decode) {
  ByteSampleTable table{};
  for (int code = 0; code < 256; ++code) {
    table[code] = decode(static_cast<std::uint8_t>(code));
  }
  return table;
}

const ByteSampleTable& byte_table(std::uint16_t code) {
  static const ByteSampleTable kPcm8 =
      make_byte_table([](std::uint8_t c) { return (static_cast<float>(c) - 128.0f) / 128.0f; });
  static const ByteSampleTable kMulaw = make_byte_table(
      [](std::uint8_t c) { return static_cast<float>(mulaw_to_linear(c)) / 32768.0f; });
  static const ByteSampleTable kAlaw = make_byte_table(
      [](std::uint8_t c) { return static_cast<float>(alaw_to_linear(c)) / 32768.0f; });
  if (code == kFormatMulaw) {
    return kMulaw;
  }
  return code == kFormatAlaw ? kAlaw : kPcm8;
}

float decode_pcm16(const std::uint8_t* p) {
  std::int16_t value = 0;
  if constexpr (std::endian::native == std::endian::little) {
    // A plain load, which lets the compiler vectorise the loops below.
    std::memcpy(&value, p, sizeof value);
  } else {
    value = static_cast<std::int16_t>(read_u16(p));
  }
  return static_cast<float>(value) / 32768.0f;
}

// Non-finite samples become silence and the rest are clamped to [-1, 1].
float decode_float32(const std::uint8_t* p) {
  const std::uint32_t raw = read_u32(p);
  float value = 0.0f;
  std::memcpy(&value, &raw, sizeof value);
  if (!std::isfinite(value)) {
    return 0.0f;
  }
  return std::clamp(value, -1.0f, 1.0f);
}

// Writes the mono mix of `frames` frames of kBytesPerSample-byte samples to `out`. Each
// channel count has its own loop with a compile-time stride.
template <std::size_t kBytesPerSample, typename Decode>
void mix_frames(const std::uint8_t* data, std::size_t frames, std::uint16_t channels, float* out,
                Decode decode) {
  if (channels == 1) {
    for (std::size_t i = 0; i < frames; ++i) {
      out[i] = decode(data + i * kBytesPerSample);
    }
    return;
  }
  for (std::size_t i = 0; i < frames; ++i) {
    const std::uint8_t* frame = data + i * 2 * kBytesPerSample;
    out[i] = (decode(frame) + decode(frame + kBytesPerSample)) / 2.0f;
  }
}

// Converts mono 16-bit PCM eight samples at a time with GCC/Clang vector types. GCC 12 at -O2
// does not vectorise the plain loop in mix_frames, and this conversion was then 10% of the
// instructions of `relaygw tty decode` on a PCM16 file. Dividing by 32768 is exact in both.
void convert_mono_pcm16(const std::uint8_t* data, std::size_t frames, float* out) {
  using Int16x8 = std::int16_t __attribute__((vector_size(16)));
  using Floatx8 = float __attribute__((vector_size(32)));
  std::size_t i = 0;
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= frames; i += 8) {
      Int16x8 pcm;
      std::memcpy(&pcm, data + 2 * i, sizeof pcm);
      const Floatx8 samples = __builtin_convertvector(pcm, Floatx8) / 32768.0f;
      std::memcpy(out + i, &samples, sizeof samples);
    }
  }
  for (; i < frames; ++i) {
    out[i] = decode_pcm16(data + 2 * i);
  }
}

// Converts `frames` whole frames of `format` at `data` to mono floats in [-1, 1]. Requires: the
// format passed parse_format, so it has 1 or 2 channels and a supported encoding.
void convert_frames(const std::uint8_t* data, std::size_t frames, const WavFormat& format,
                    float* out) {
  if (format.code == kFormatPcm && format.bits_per_sample == 16 && format.channels == 1) {
    convert_mono_pcm16(data, frames, out);
  } else if (format.code == kFormatPcm && format.bits_per_sample == 16) {
    mix_frames<2>(data, frames, format.channels, out, decode_pcm16);
  } else if (format.code == kFormatFloat) {
    mix_frames<4>(data, frames, format.channels, out, decode_float32);
  } else {
    const ByteSampleTable& table = byte_table(format.code);
    mix_frames<1>(data, frames, format.channels, out,
                  [&table](const std::uint8_t* p) { return table[*p]; });
  }
}

// Reads `file` to its end, keeping read_audio_file's size limit.
Result<std::vector<std::uint8_t>> read_stream(std::FILE* file, const std::string& path) {
  std::vector<std::uint8_t> bytes;
  std::uint8_t buffer[65536];
  while (true) {
    const std::size_t got = std::fread(buffer, 1, sizeof buffer, file);
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
  if (std::ferror(file)) {
    return Status(StatusCode::Unavailable, path + ": read failed: " + std::strerror(errno));
  }
  return bytes;
}

Status open_error(const std::string& path) {
  return Status(errno == ENOENT ? StatusCode::NotFound : StatusCode::Unavailable,
                path + ": cannot open audio file: " + std::strerror(errno));
}

Result<std::vector<std::uint8_t>> read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    return open_error(path);
  }
  return read_stream(file.get(), path);
}

// Random access to the bytes of an audio file, held in memory or read from disk on request.
class ByteSource {
 public:
  virtual ~ByteSource() = default;

  virtual std::uint64_t size() const = 0;

  // Copies up to `count` bytes from `offset` to `out` and returns how many it copied, which is
  // fewer than `count` only where the bytes end.
  virtual Result<std::size_t> read_at(std::uint64_t offset, std::size_t count,
                                      std::uint8_t* out) = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  explicit MemorySource(std::vector<std::uint8_t> owned)
      : owned_(std::move(owned)), bytes_(owned_) {}

  std::uint64_t size() const override { return bytes_.size(); }

  Result<std::size_t> read_at(std::uint64_t offset, std::size_t count, std::uint8_t* out) override {
    if (offset >= bytes_.size()) {
      return std::size_t{0};
    }
    const std::size_t copied =
        std::min<std::size_t>(count, bytes_.size() - static_cast<std::size_t>(offset));
    std::memcpy(out, bytes_.data() + offset, copied);
    return copied;
  }

 private:
  std::vector<std::uint8_t> owned_;
  std::span<const std::uint8_t> bytes_;
};

// A regular file read with pread(), so reads need no seek and memory use is the caller's.
class FileSource : public ByteSource {
 public:
  FileSource(int fd, std::uint64_t size, std::string name)
      : fd_(fd), size_(size), name_(std::move(name)) {}
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  ~FileSource() override { ::close(fd_); }

  std::uint64_t size() const override { return size_; }

  Result<std::size_t> read_at(std::uint64_t offset, std::size_t count, std::uint8_t* out) override {
    std::size_t done = 0;
    while (done < count) {
      const ssize_t got = ::pread(fd_, out + done, count - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got < 0) {
        return Status(StatusCode::Unavailable, name_ + ": read failed at byte offset " +
                                                   std::to_string(offset + done) + ": " +
                                                   std::strerror(errno));
      }
      if (got == 0) {
        break;
      }
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::string name_;
};

// Opens `path` as a FileSource when it is a regular file. Anything else (a pipe, a character
// device) has no size until it is read, so its bytes are read into memory.
Result<std::unique_ptr<ByteSource>> open_source(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return open_error(path);
  }
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
    return std::unique_ptr<ByteSource>(
        std::make_unique<FileSource>(fd, static_cast<std::uint64_t>(info.st_size), path));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(::fdopen(fd, "rb"), &std::fclose);
  if (!file) {
    const Status status = open_error(path);
    ::close(fd);
    return status;
  }
  Result<std::vector<std::uint8_t>> bytes = read_stream(file.get(), path);
  if (!bytes) {
    return bytes.status();
  }
  return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(std::move(*bytes)));
}

// Reads exactly `count` header bytes. A short read means the file shrank after it was
// measured, because the callers only ask for bytes inside source.size().
Status read_header_bytes(ByteSource& source, std::uint64_t offset, std::size_t count,
                         std::uint8_t* out, const std::string& name) {
  Result<std::size_t> got = source.read_at(offset, count, out);
  if (!got) {
    return got.status();
  }
  if (*got < count) {
    return wav_error(name, "file ends at byte offset " + std::to_string(offset + *got) +
                               ", inside the WAV header; the file is truncated");
  }
  return Status::ok();
}

// Location and sample format of a file's data chunk.
struct WavLayout {
  WavFormat format;
  std::uint64_t data_offset = 0;
  std::uint64_t data_size = 0;
};

// Parses the RIFF/WAVE header of `source`, reading only chunk headers and the fmt chunk.
Result<WavLayout> parse_wav_layout(ByteSource& source, const std::string& name) {
  const std::uint64_t file_size = source.size();
  if (file_size < 12) {
    return wav_error(name, "file is " + std::to_string(file_size) +
                               " bytes, too short for a RIFF/WAVE header (12 bytes)");
  }
  std::uint8_t riff[12];
  if (Status status = read_header_bytes(source, 0, sizeof riff, riff, name); !status) {
    return status;
  }
  if (std::memcmp(riff, "RIFF", 4) != 0 || std::memcmp(riff + 8, "WAVE", 4) != 0) {
    return wav_error(name,
                     "not a RIFF/WAVE file (the header does not start with RIFF....WAVE); "
                     "for headerless 16-bit 8 kHz audio pass --raw to relaygw tty decode");
  }
  // The RIFF size field is not checked: streaming writers often leave it 0 or 0xFFFFFFFF.
  // Every chunk below is checked against the real end of the file instead.

  bool have_fmt = false;
  std::uint64_t fmt_offset = 0;
  std::uint32_t fmt_size = 0;
  bool have_data = false;
  WavLayout layout;

  std::uint64_t pos = 12;
  while (file_size - pos >= 8) {
    std::uint8_t header[8];
    if (Status status = read_header_bytes(source, pos, sizeof header, header, name); !status) {
      return status;
    }
    const std::uint32_t size = read_u32(header + 4);
    const std::uint64_t remaining = file_size - pos - 8;
    if (size > remaining) {
      return wav_error(name, "chunk '" + printable_tag(header) + "' at offset " +
                                 std::to_string(pos) + " claims " + std::to_string(size) +
                                 " bytes but only " + std::to_string(remaining) +
                                 " remain in the file; the file is truncated or corrupt");
    }
    if (std::memcmp(header, "fmt ", 4) == 0 && !have_fmt) {
      have_fmt = true;
      fmt_offset = pos + 8;
      fmt_size = size;
    } else if (std::memcmp(header, "data", 4) == 0 && !have_data) {
      have_data = true;
      layout.data_offset = pos + 8;
      layout.data_size = size;
    }
    // Chunks are padded to an even size; a missing final pad byte is tolerated.
    const std::uint64_t advance = 8 + std::uint64_t{size} + (size & 1u);
    if (advance > file_size - pos) {
      break;
    }
    pos += advance;
  }

  if (!have_fmt) {
    return wav_error(name, "missing fmt chunk; the file is truncated or not a WAV file");
  }
  // parse_format reads at most the 40 bytes of a WAVE_FORMAT_EXTENSIBLE fmt chunk.
  std::uint8_t fmt_body[40] = {};
  const std::size_t fmt_read = std::min<std::size_t>(fmt_size, sizeof fmt_body);
  if (Status status = read_header_bytes(source, fmt_offset, fmt_read, fmt_body, name); !status) {
    return status;
  }
  if (Status status = parse_format(fmt_body, fmt_size, name, layout.format); !status) {
    return status;
  }
  if (!have_data) {
    return wav_error(name, "missing data chunk; the file is truncated");
  }
  if (layout.data_size % layout.format.block_align != 0) {
    return wav_error(name, "data chunk is " + std::to_string(layout.data_size) +
                               " bytes, not a whole number of " +
                               std::to_string(layout.format.block_align) +
                               "-byte sample frames; the file is truncated or corrupt");
  }
  return layout;
}

// A headerless file of 16-bit little-endian mono PCM at 8000 Hz.
Result<WavLayout> raw_pcm16_layout(std::uint64_t size, const std::string& name) {
  if (size % 2 != 0) {
    return wav_error(name, "raw 16-bit audio has an odd byte count (" + std::to_string(size) +
                               "); the file is truncated or not 16-bit PCM");
  }
  WavLayout layout;
  layout.format.code = kFormatPcm;
  layout.format.channels = 1;
  layout.format.sample_rate_hz = 8000;
  layout.format.block_align = 2;
  layout.format.bits_per_sample = 16;
  layout.data_size = size;
  return layout;
}

// Converts the data chunk of an in-memory file described by `layout`.
Audio convert_image(std::span<const std::uint8_t> bytes, const WavLayout& layout) {
  Audio audio;
  audio.sample_rate_hz = static_cast<double>(layout.format.sample_rate_hz);
  audio.samples.resize(static_cast<std::size_t>(layout.data_size / layout.format.block_align));
  convert_frames(bytes.data() + layout.data_offset, audio.samples.size(), layout.format,
                 audio.samples.data());
  return audio;
}

}  // namespace

Result<Audio> parse_wav(std::span<const std::uint8_t> bytes, const std::string& name) {
  MemorySource source(bytes);
  Result<WavLayout> layout = parse_wav_layout(source, name);
  if (!layout) {
    return layout.status();
  }
  return convert_image(bytes, *layout);
}

Result<Audio> read_audio_file(const std::string& path, AudioFileKind kind) {
  Result<std::vector<std::uint8_t>> bytes = read_whole_file(path);
  if (!bytes) {
    return bytes.status();
  }
  if (kind == AudioFileKind::RawPcm16At8k) {
    Result<WavLayout> layout = raw_pcm16_layout(bytes->size(), path);
    if (!layout) {
      return layout.status();
    }
    return convert_image(*bytes, *layout);
  }
  return parse_wav(*bytes, path);
}

struct AudioFileReader::State {
  std::string name;
  std::unique_ptr<ByteSource> source;
  WavLayout layout;
  std::uint64_t next_offset = 0;  // the next data byte to read from `source`
  std::uint64_t frames_remaining = 0;
  std::size_t block_bytes = 0;
  // Bytes read and not yet converted are buffer[begin, end). Only a partial frame is left over
  // when a block ends, so the buffer holds one block plus one frame.
  std::vector<std::uint8_t> buffer;
  std::size_t begin = 0;
  std::size_t end = 0;

  // Moves the leftover partial frame to the front of the buffer and appends the next block.
  Status read_next_block();
};

Status AudioFileReader::State::read_next_block() {
  const std::size_t leftover = end - begin;
  std::memmove(buffer.data(), buffer.data() + begin, leftover);
  begin = 0;
  end = leftover;

  const std::uint64_t data_end = layout.data_offset + layout.data_size;
  const std::size_t wanted =
      static_cast<std::size_t>(std::min<std::uint64_t>(block_bytes, data_end - next_offset));
  if (wanted == 0) {
    return Status(StatusCode::Internal, name + ": data chunk ended inside a sample frame");
  }
  Result<std::size_t> got = source->read_at(next_offset, wanted, buffer.data() + leftover);
  if (!got) {
    return got.status();
  }
  next_offset += *got;
  end += *got;
  if (*got < wanted) {
    return wav_error(name, "file ends at byte offset " + std::to_string(next_offset) +
                               " inside the data chunk, which should end at byte offset " +
                               std::to_string(data_end) + "; the file is truncated");
  }
  return Status::ok();
}

AudioFileReader::AudioFileReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
AudioFileReader::AudioFileReader(AudioFileReader&&) noexcept = default;
AudioFileReader& AudioFileReader::operator=(AudioFileReader&&) noexcept = default;
AudioFileReader::~AudioFileReader() = default;

Result<AudioFileReader> AudioFileReader::open(const std::string& path, AudioFileKind kind,
                                              std::size_t block_bytes) {
  Result<std::unique_ptr<ByteSource>> source = open_source(path);
  if (!source) {
    return source.status();
  }
  Result<WavLayout> layout = kind == AudioFileKind::RawPcm16At8k
                                 ? raw_pcm16_layout((*source)->size(), path)
                                 : parse_wav_layout(**source, path);
  if (!layout) {
    return layout.status();
  }

  auto state = std::make_unique<State>();
  state->name = path;
  state->source = std::move(*source);
  state->layout = *layout;
  state->next_offset = layout->data_offset;
  state->frames_remaining = layout->data_size / layout->format.block_align;
  state->block_bytes = std::max<std::size_t>(block_bytes, 1);
  state->buffer.resize(state->block_bytes + layout->format.block_align - 1);
  return AudioFileReader(std::move(state));
}

double AudioFileReader::sample_rate_hz() const {
  return static_cast<double>(state_->layout.format.sample_rate_hz);
}

std::uint64_t AudioFileReader::frame_count() const {
  return state_->layout.data_size / state_->layout.format.block_align;
}

std::uint64_t AudioFileReader::frames_remaining() const { return state_->frames_remaining; }

Result<std::size_t> AudioFileReader::read(std::span<float> out) {
  State& state = *state_;
  const WavFormat& format = state.layout.format;
  std::size_t written = 0;
  while (written < out.size() && state.frames_remaining > 0) {
    const std::size_t buffered_frames = (state.end - state.begin) / format.block_align;
    if (buffered_frames == 0) {
      if (Status status = state.read_next_block(); !status) {
        return status;
      }
      continue;
    }
    const std::size_t frames = static_cast<std::size_t>(
        std::min<std::uint64_t>({buffered_frames, out.size() - written, state.frames_remaining}));
    convert_frames(state.buffer.data() + state.begin, frames, format, out.data() + written);
    state.begin += frames * format.block_align;
    state.frames_remaining -= frames;
    written += frames;
  }
  return written;
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

  return write_output_file(path,
                           std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
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
