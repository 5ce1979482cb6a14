// LineReceiver and LineTransmitter against real TTY audio: corpus recordings delivered in
// random chunk sizes, and the transmitter's own audio decoded back.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "relay-adapters/tty_line/line_header.hpp"
#include "relay-adapters/tty_line/line_receiver.hpp"
#include "relay-adapters/tty_line/line_transmitter.hpp"
#include "tty/audio_file.hpp"
#include "tty/baudot.hpp"

namespace {

using relaygw::relay::tty_line::LineHeader;
using relaygw::relay::tty_line::LineReceiver;
using relaygw::relay::tty_line::LineTransmitter;
using relaygw::tty::AudioEncoding;
using relaygw::tty::TimedChar;

const std::string kCorpusDir = std::string(RELAYGW_SOURCE_DIR) + "/data/tty-corpus/";

LineHeader header_for(AudioEncoding encoding, int rate = 8000) {
  LineHeader header;
  header.line_number = "+12125550107";
  header.encoding = encoding;
  header.sample_rate_hz = rate;
  return header;
}

std::int16_t to_pcm16(float sample) {
  return static_cast<std::int16_t>(std::lround(std::clamp(sample, -1.0f, 1.0f) * 32767.0f));
}

// The bytes a gateway client would send for `samples` in `encoding`.
std::vector<std::uint8_t> encode_bytes(const std::vector<float>& samples, AudioEncoding encoding) {
  std::vector<std::uint8_t> bytes;
  for (float sample : samples) {
    const std::int16_t value = to_pcm16(sample);
    if (encoding == AudioEncoding::Mulaw) {
      bytes.push_back(relaygw::tty::linear_to_mulaw(value));
    } else {
      const auto raw = static_cast<std::uint16_t>(value);
      bytes.push_back(static_cast<std::uint8_t>(raw & 0xFF));
      bytes.push_back(static_cast<std::uint8_t>(raw >> 8));
    }
  }
  return bytes;
}

// Feeds `bytes` in chunks of 1 to `max_chunk` bytes chosen by `seed`, then flushes.
std::string decode_in_chunks(LineReceiver& receiver, const std::vector<std::uint8_t>& bytes,
                             unsigned seed, std::size_t max_chunk) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> chunk_size(1, max_chunk);
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t size = std::min(chunk_size(random), bytes.size() - pos);
    receiver.push(std::span<const std::uint8_t>(bytes.data() + pos, size));
    pos += size;
  }
  receiver.flush();
  std::vector<TimedChar> chars;
  receiver.take_text(chars);
  std::string text;
  for (const TimedChar& c : chars) {
    text.push_back(c.ch);
  }
  return text;
}

// Upper case with each run of whitespace as one space and none at either end.
std::string normalise(const std::string& text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isspace(byte) != 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    out.push_back(static_cast<char>(std::toupper(byte)));
  }
  return out;
}

std::string read_expected(const std::string& name) {
  std::ifstream file(kCorpusDir + name + ".txt");
  std::stringstream text;
  text << file.rdbuf();
  return normalise(text.str());
}

}  // namespace

TEST_CASE("line receiver decodes corpus in random chunks", "[relay][tty_line]") {
  struct Case {
    std::string name;
    AudioEncoding encoding;
  };
  const std::vector<Case> cases = {{"ulaw__d04", AudioEncoding::Mulaw},
                                   {"clean__d01", AudioEncoding::Pcm16},
                                   {"snr20__d02", AudioEncoding::Pcm16}};
  for (const Case& c : cases) {
    auto audio = relaygw::tty::read_audio_file(kCorpusDir + c.name + ".wav");
    REQUIRE(audio.is_ok());
    REQUIRE(audio->sample_rate_hz == 8000.0);
    const std::vector<std::uint8_t> bytes = encode_bytes(audio->samples, c.encoding);
    const std::string expected = read_expected(c.name);
    REQUIRE_FALSE(expected.empty());
    for (unsigned seed = 1; seed <= 3; ++seed) {
      INFO("file " << c.name << ", chunk seed " << seed);
      LineReceiver receiver(header_for(c.encoding));
      CHECK(normalise(decode_in_chunks(receiver, bytes, seed, 977)) == expected);
    }
  }
}

TEST_CASE("line receiver handles one byte chunks", "[relay][tty_line]") {
  auto audio = relaygw::tty::read_audio_file(kCorpusDir + "clean__d01.wav");
  REQUIRE(audio.is_ok());
  const std::vector<std::uint8_t> bytes = encode_bytes(audio->samples, AudioEncoding::Pcm16);
  LineReceiver receiver(header_for(AudioEncoding::Pcm16));
  CHECK(normalise(decode_in_chunks(receiver, bytes, 7, 1)) == read_expected("clean__d01"));
  CHECK(receiver.elapsed_s() == Approx(static_cast<double>(audio->samples.size()) / 8000.0));
}

TEST_CASE("line receiver reports carrier on and off", "[relay][tty_line]") {
  auto audio = relaygw::tty::read_audio_file(kCorpusDir + "ulaw__d04.wav");
  REQUIRE(audio.is_ok());
  LineReceiver receiver(header_for(AudioEncoding::Mulaw));
  receiver.push(encode_bytes(audio->samples, AudioEncoding::Mulaw));
  receiver.flush();
  std::vector<relaygw::tty::CarrierEvent> events;
  receiver.take_carrier_events(events);
  REQUIRE(events.size() >= 2);
  CHECK(events.front().on);
  CHECK_FALSE(events.back().on);
  std::vector<relaygw::tty::CarrierEvent> again;
  receiver.take_carrier_events(again);
  CHECK(again.empty());
}

TEST_CASE("transmitter audio round trips through receiver", "[relay][tty_line]") {
  const std::vector<std::string> replies = {
      "NUMBER TO CALL? GA", "YOUR QUOTE IS $4.35 FOR 3 MIN. OK? GA",
      "COLLECT CALL FROM JOHN (212) 555-0107. ACCEPT? TYPE Y OR N GA", "THANK YOU SK SK"};
  for (AudioEncoding encoding : {AudioEncoding::Pcm16, AudioEncoding::Mulaw}) {
    for (const std::string& reply : replies) {
      INFO("encoding " << (encoding == AudioEncoding::Mulaw ? "ulaw" : "pcm16") << ", reply "
                       << reply);
      LineTransmitter transmitter(header_for(encoding));
      std::vector<std::uint8_t> bytes;
      auto unencodable = transmitter.transmit(reply, bytes);
      REQUIRE(unencodable.is_ok());
      CHECK(unencodable->empty());
      const std::size_t bytes_per_sample = encoding == AudioEncoding::Pcm16 ? 2 : 1;
      CHECK(bytes.size() % bytes_per_sample == 0);

      LineReceiver receiver(header_for(encoding));
      CHECK(decode_in_chunks(receiver, bytes, 11, 333) == reply);
    }
  }
}

TEST_CASE("transmitter uses the line sample rate", "[relay][tty_line]") {
  LineTransmitter transmitter(header_for(AudioEncoding::Pcm16, 16000));
  std::vector<std::uint8_t> bytes;
  REQUIRE(transmitter.transmit("HELLO GA", bytes).is_ok());
  LineReceiver receiver(header_for(AudioEncoding::Pcm16, 16000));
  CHECK(decode_in_chunks(receiver, bytes, 3, 4096) == "HELLO GA");
  // Lead-in 150 ms, LTRS and 8 characters of 8 bits (start, 5 data, 2 stop) at 45.45 bit/s,
  // hang time 300 ms.
  const double seconds = static_cast<double>(bytes.size()) / 2.0 / 16000.0;
  CHECK(seconds == Approx(0.15 + 9 * 8 * 0.022 + 0.3).margin(0.005));
}

TEST_CASE("reply after caller figures starts with shift", "[relay][tty_line]") {
  // The gateway's first reply leaves its encoder in letters. The caller then types figures,
  // and the carrier stays up (no silence), so the receiver is still in figures when the next
  // reply starts: only a leading LTRS makes that reply's letters decode as letters.
  const LineHeader header = header_for(AudioEncoding::Pcm16);
  LineTransmitter gateway(header);
  LineTransmitter caller(header);
  std::vector<std::uint8_t> line;
  REQUIRE(gateway.transmit("PIN GA ", line).is_ok());
  REQUIRE(caller.transmit("1234", line).is_ok());
  gateway.note_caller_sent();
  REQUIRE(gateway.transmit("THANK YOU GA", line).is_ok());

  LineReceiver receiver(header);
  CHECK(decode_in_chunks(receiver, line, 5, 512) == "PIN GA 1234THANK YOU GA");
}

TEST_CASE("transmitter reports unencodable characters", "[relay][tty_line]") {
  LineTransmitter transmitter(header_for(AudioEncoding::Mulaw));
  std::vector<std::uint8_t> bytes;
  auto unencodable = transmitter.transmit("CAFE \xE2\x82\xAC 5 GA", bytes);  // the euro sign
  REQUIRE(unencodable.is_ok());
  REQUIRE(unencodable->size() == 1);
  CHECK((*unencodable)[0].ch == U'\u20AC');
  LineReceiver receiver(header_for(AudioEncoding::Mulaw));
  CHECK(normalise(decode_in_chunks(receiver, bytes, 9, 100)) == "CAFE 5 GA");
}

TEST_CASE("transmitter rejects invalid modulator config", "[relay][tty_line]") {
  relaygw::tty::ModulatorConfig config;
  config.stop_bits = 3.0;
  LineTransmitter transmitter(header_for(AudioEncoding::Pcm16), config);
  std::vector<std::uint8_t> bytes;
  auto result = transmitter.transmit("HELLO", bytes);
  REQUIRE_FALSE(result.is_ok());
  CHECK(bytes.empty());
}
