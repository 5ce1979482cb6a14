// Reading and writing TTY line audio files.
//
// Reads RIFF/WAVE with 8-bit unsigned or 16-bit PCM, G.711 mu-law or A-law, or 32-bit IEEE
// float, mono or stereo (the channels are averaged), at 8 000 to 48 000 Hz, including
// WAVE_FORMAT_EXTENSIBLE headers with those subformats. Raw headerless files are read as
// 16-bit little-endian PCM at 8 000 Hz when the caller asks for raw. Samples come back as
// floats in [-1, 1]. Every error message names the file and what is wrong with it.
//
// read_audio_file returns the whole file at once. AudioFileReader returns the same samples
// block by block, so its memory use does not grow with the file's length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace relaygw::tty {

struct Audio {
  double sample_rate_hz = 8000.0;
  std::vector<float> samples;  // mono, [-1, 1]
};

enum class AudioFileKind { Wav, RawPcm16At8k };

enum class AudioEncoding { Pcm16, Mulaw };

// Reads `path`. `kind` RawPcm16At8k skips header parsing.
Result<Audio> read_audio_file(const std::string& path, AudioFileKind kind = AudioFileKind::Wav);

// Parses an in-memory WAV image; `name` is used in error messages. Used by the fuzzer.
Result<Audio> parse_wav(std::span<const std::uint8_t> bytes, const std::string& name);

// Reads the samples of an audio file in blocks. open() parses the header; read() then fills
// the caller's buffer from the data chunk, reading the file block_bytes at a time. The samples
// equal read_audio_file's, and header errors have the same messages.
//
// Regular files are read in place, so memory use is about block_bytes plus the caller's
// buffer, and files larger than read_audio_file's 1 GiB limit are accepted. Other files
// (pipes, character devices) cannot be measured before reading, so open() reads them whole
// into memory with read_audio_file's limit.
//
// Thread rules: one instance per file, used from one thread at a time.
class AudioFileReader {
 public:
  static constexpr std::size_t kDefaultBlockBytes = 64 * 1024;

  // Opens `path` and parses its header. `block_bytes` is the size of each file read and may
  // be any size from 1 up. Fails as read_audio_file does when the header is invalid.
  static Result<AudioFileReader> open(const std::string& path,
                                      AudioFileKind kind = AudioFileKind::Wav,
                                      std::size_t block_bytes = kDefaultBlockBytes);

  AudioFileReader(AudioFileReader&&) noexcept;
  AudioFileReader& operator=(AudioFileReader&&) noexcept;
  ~AudioFileReader();

  double sample_rate_hz() const;
  // Sample frames in the data chunk, and those not yet returned by read().
  std::uint64_t frame_count() const;
  std::uint64_t frames_remaining() const;

  // Writes up to out.size() mono samples in [-1, 1] to the start of `out` and returns how many
  // it wrote, which is 0 only once every frame has been returned. Fails with InvalidArgument,
  // naming the file and byte offset, when the file ends before its data chunk does, and with
  // Unavailable when a read fails.
  Result<std::size_t> read(std::span<float> out);

 private:
  struct State;
  explicit AudioFileReader(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

// Writes a mono WAV file (16-bit PCM or G.711 mu-law) at `audio.sample_rate_hz`, through
// OutputFile, so a failed write leaves no partial file at `path`. Fails naming `path` and the
// system's reason.
Status write_wav_file(const std::string& path, const Audio& audio, AudioEncoding encoding);

// G.711 companding of one sample, exposed for the line adapter and tests.
std::uint8_t linear_to_mulaw(std::int16_t sample);
std::int16_t mulaw_to_linear(std::uint8_t code);
std::int16_t alaw_to_linear(std::uint8_t code);

}  // namespace relaygw::tty
