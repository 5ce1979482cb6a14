#include "relay-adapters/tty_line/line_header.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using relaygw::relay::tty_line::format_line_header;
using relaygw::relay::tty_line::HeaderReader;
using relaygw::relay::tty_line::kMaxHeaderBytes;
using relaygw::relay::tty_line::LineHeader;
using relaygw::relay::tty_line::parse_line_header;
using relaygw::tty::AudioEncoding;

std::vector<std::uint8_t> bytes_of(const std::string& text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

}  // namespace

TEST_CASE("line header parser accepts good headers", "[relay][tty_line]") {
  struct Case {
    std::string text;
    std::string line;
    AudioEncoding encoding;
    int rate;
  };
  const std::vector<Case> cases = {
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 rate=8000", "+12125550107",
       AudioEncoding::Pcm16, 8000},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=ulaw rate=8000", "+12125550107",
       AudioEncoding::Mulaw, 8000},
      {"RELAYGW-TTY/1 encoding=ulaw line=+442071838750", "+442071838750", AudioEncoding::Mulaw,
       8000},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 rate=16000\r", "+12125550107",
       AudioEncoding::Pcm16, 16000},
      {"RELAYGW-TTY/1   line=+12125550107  encoding=pcm16", "+12125550107", AudioEncoding::Pcm16,
       8000},
  };
  for (const Case& c : cases) {
    INFO("header: " << c.text);
    auto header = parse_line_header(c.text);
    REQUIRE(header.is_ok());
    CHECK(header->line_number == c.line);
    CHECK(header->encoding == c.encoding);
    CHECK(header->sample_rate_hz == c.rate);
  }
}

TEST_CASE("line header parser rejects bad headers", "[relay][tty_line]") {
  struct Case {
    std::string text;
    std::string expected_words;  // must appear in the error message
  };
  const std::vector<Case> cases = {
      {"RELAYGW-TTY/2 line=+12125550107 encoding=pcm16", "bad magic"},
      {"HELLO", "bad magic"},
      {"", "bad magic"},
      {"RELAYGW-TTY/1 encoding=pcm16", "missing line number"},
      {"RELAYGW-TTY/1 line=+12125550107", "missing encoding"},
      {"RELAYGW-TTY/1 line=12125550107 encoding=pcm16", "invalid line number"},
      {"RELAYGW-TTY/1 line=+1212555010x encoding=pcm16", "invalid line number"},
      {"RELAYGW-TTY/1 line=+1234567 encoding=pcm16", "invalid line number"},
      {"RELAYGW-TTY/1 line=+1234567890123456 encoding=pcm16", "invalid line number"},
      {"RELAYGW-TTY/1 line=+02125550107 encoding=pcm16", "invalid line number"},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=alaw", "unknown encoding"},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=PCM16", "unknown encoding"},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 rate=7999", "invalid rate"},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 rate=8k", "invalid rate"},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=ulaw rate=16000", "not valid for ulaw"},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 gain=3", "unknown header field"},
      {"RELAYGW-TTY/1 line=+12125550107 line=+12125550108 encoding=pcm16", "appears twice"},
      {"RELAYGW-TTY/1 line=+12125550107 pcm16", "not key=value"},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 " + std::string(300, 'x'),
       "above the maximum"},
  };
  for (const Case& c : cases) {
    INFO("header: " << c.text);
    auto header = parse_line_header(c.text);
    REQUIRE_FALSE(header.is_ok());
    CHECK(header.status().code() == relaygw::StatusCode::InvalidArgument);
    CHECK_THAT(header.status().message(), Catch::Contains(c.expected_words));
  }
}

TEST_CASE("line header errors mask card numbers", "[relay][tty_line]") {
  struct Case {
    std::string text;
    std::string quoted;  // the value as the error message must quote it
  };
  const std::vector<Case> cases = {
      {"RELAYGW-TTY/1 line=+4111111111119876 encoding=pcm16", "\"+************9876\""},
      {"RELAYGW-TTY/1 line=+4111-1111-1111-9876 encoding=pcm16", "\"+****-****-****-9876\""},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=4111111111119876", "\"************9876\""},
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 rate=4111111111119876",
       "\"************9876\""},
      {"RELAYGW-TTY/1 line=+12125550107 4111111111119876=1", "\"************9876\""},
      {"RELAYGW-TTY/1 line=+12125550107 4111111111119876", "\"************9876\""},
      {"4111111111119876 line=+12125550107 encoding=pcm16", "\"************9876\""},
      // The value is masked before it is cut to 64 bytes.
      {"RELAYGW-TTY/1 line=+12125550107 encoding=pcm16 " + std::string(62, 'a') +
           "4111111111119876",
       "\"" + std::string(62, 'a') + "**...\""},
  };
  for (const Case& c : cases) {
    INFO("header: " << c.text);
    auto header = parse_line_header(c.text);
    REQUIRE_FALSE(header.is_ok());
    CHECK_THAT(header.status().message(), Catch::Contains(c.quoted));
    CHECK_THAT(header.status().message(), !Catch::Contains("4111"));
  }
}

TEST_CASE("line header error keeps phone typo", "[relay][tty_line]") {
  // A run no longer than a phone number is quoted in full, so the sender can find the typo.
  for (const std::string line : {"+1212555010x", "12125550107", "+123456789012345x"}) {
    INFO("line: " << line);
    auto header = parse_line_header("RELAYGW-TTY/1 line=" + line + " encoding=pcm16");
    REQUIRE_FALSE(header.is_ok());
    CHECK_THAT(header.status().message(), Catch::Contains("\"" + line + "\""));
  }
}

TEST_CASE("header reader takes header split anywhere", "[relay][tty_line]") {
  const std::string header_text = "RELAYGW-TTY/1 line=+12125550107 encoding=ulaw rate=8000\n";
  const std::string stream = header_text + "\x01\x02\x03";
  for (std::size_t split = 1; split < stream.size(); ++split) {
    INFO("split at byte " << split);
    HeaderReader reader;
    const std::vector<std::uint8_t> first = bytes_of(stream.substr(0, split));
    const std::vector<std::uint8_t> second = bytes_of(stream.substr(split));
    auto consumed_first = reader.push(first);
    REQUIRE(consumed_first.is_ok());
    std::size_t audio_bytes = first.size() - *consumed_first;
    if (!reader.done()) {
      auto consumed_second = reader.push(second);
      REQUIRE(consumed_second.is_ok());
      audio_bytes = second.size() - *consumed_second;
    } else {
      audio_bytes += second.size();
    }
    REQUIRE(reader.done());
    CHECK(reader.header().line_number == "+12125550107");
    CHECK(reader.header().encoding == AudioEncoding::Mulaw);
    CHECK(audio_bytes == 3);
  }
}

TEST_CASE("header reader bounds a header without newline", "[relay][tty_line]") {
  HeaderReader reader;
  const std::vector<std::uint8_t> chunk(100, 'A');
  REQUIRE(reader.push(chunk).is_ok());
  REQUIRE(reader.push(chunk).is_ok());
  auto third = reader.push(chunk);
  REQUIRE_FALSE(third.is_ok());
  CHECK_THAT(third.status().message(),
             Catch::Contains("no newline within the first " + std::to_string(kMaxHeaderBytes)));
  CHECK_FALSE(reader.done());
  auto after = reader.push(bytes_of("\n"));
  REQUIRE(after.is_ok());
  CHECK(*after == 0);
}

TEST_CASE("header reader reports invalid header", "[relay][tty_line]") {
  HeaderReader reader;
  auto result = reader.push(bytes_of("RELAYGW-TTY/1 line=+12125550107 encoding=gsm\nabc"));
  REQUIRE_FALSE(result.is_ok());
  CHECK_THAT(result.status().message(), Catch::Contains("unknown encoding \"gsm\""));
  CHECK_FALSE(reader.done());
}

TEST_CASE("formatted line header parses back", "[relay][tty_line]") {
  LineHeader header;
  header.line_number = "+13035550199";
  header.encoding = AudioEncoding::Mulaw;
  const std::string text = format_line_header(header);
  CHECK(text == "RELAYGW-TTY/1 line=+13035550199 encoding=ulaw rate=8000\n");
  auto parsed = parse_line_header(std::string_view(text).substr(0, text.size() - 1));
  REQUIRE(parsed.is_ok());
  CHECK(parsed->line_number == header.line_number);
  CHECK(parsed->encoding == header.encoding);
}
