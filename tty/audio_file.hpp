// Reading and writing TTY line audio files.
//
// Reads RIFF/WAVE with 8-bit unsigned or 16-bit PCM, G.711 mu-law or A-law, or 32-bit IEEE
// float, mono or stereo (the channels are averaged), at 8 000 to 48 000 Hz, including
// WAVE_FORMAT_EXTENSIBLE headers with those subformats. Raw headerless files are read as
// 16-bit little-endian PCM at 8 000 Hz when the caller asks for raw. Samples come back as
// floats in [-1, 1]. Every error message names the file and what is wrong with it.
#pragma once

#include <cstdint>
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

// Writes a mono WAV file (16-bit PCM or G.711 mu-law) at `audio.sample_rate_hz`.
Status write_wav_file(const std::string& path, const Audio& audio, AudioEncoding encoding);

// G.711 companding of one sample, exposed for the line adapter and tests.
std::uint8_t linear_to_mulaw(std::int16_t sample);
std::int16_t mulaw_to_linear(std::uint8_t code);
std::int16_t alaw_to_linear(std::uint8_t code);

}  // namespace relaygw::tty
