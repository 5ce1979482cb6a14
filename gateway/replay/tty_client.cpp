#include "gateway/replay/tty_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>

#include "gateway/server/host_port.hpp"
#include "tty/tty_receiver.hpp"

namespace relaygw::gateway::replay {
namespace {

constexpr int kSampleRateHz = 8000;
// The writer sends silence in chunks of this length, paced at real speed.
constexpr int kSilenceChunkMs = 100;
// A gateway that sends nothing for this long is treated as a silent line.
constexpr int kQuietLineMs = 250;
// A prompt is complete once no character has arrived for this long: longer than three
// characters at 45.45 bit/s (165 ms each), so a turn word is not cut from a longer word.
constexpr auto kPromptSettle = std::chrono::milliseconds(600);

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\r', ' ');
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// Returns the length of `text` up to and including a final turn word GA or SK that stands on
// its own (trailing spaces aside), or 0 when the text does not end with one.
std::size_t prompt_end(const std::string& text) {
  std::size_t end = text.find_last_not_of(" \r\n");
  if (end == std::string::npos || end < 1) {
    return 0;
  }
  const std::string word = text.substr(end - 1, 2);
  if (word != "GA" && word != "SK") {
    return 0;
  }
  if (end >= 2 && text[end - 2] != ' ' && text[end - 2] != '\r' && text[end - 2] != '\n') {
    return 0;
  }
  return end + 1;
}

std::vector<std::uint8_t> to_pcm16(const std::vector<float>& samples) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(samples.size() * 2);
  for (const float sample : samples) {
    const float clamped = std::clamp(sample, -1.0F, 1.0F);
    const auto value = static_cast<std::int16_t>(std::lround(clamped * 32767.0F));
    const auto bits = static_cast<std::uint16_t>(value);
    bytes.push_back(static_cast<std::uint8_t>(bits & 0xFF));
    bytes.push_back(static_cast<std::uint8_t>(bits >> 8));
  }
  return bytes;
}

}  // namespace

TtyLineClient::~TtyLineClient() { close(); }

Status TtyLineClient::connect(const std::string& address, std::uint16_t port,
                              const std::string& line_number, std::chrono::milliseconds timeout) {
  // The replay reuses a number soon after its previous call, and the gateway refuses a second
  // connection for a number until it has closed the first, so that refusal is retried.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Result<std::string> refusal = open_connection(address, port, line_number, timeout);
    if (!refusal.is_ok()) {
      return refusal.status();
    }
    if (refusal->empty()) {
      break;
    }
    const bool number_busy = refusal->find("already connected") != std::string::npos;
    if (!number_busy || std::chrono::steady_clock::now() >= deadline) {
      return Status(StatusCode::FailedPrecondition,
                    "the TTY line listener refused line " + line_number + ": " + *refusal);
    }
    std::this_thread::sleep_for(kBusyRetryDelay);
  }
  reader_ = std::thread([this] { read_loop(); });
  writer_ = std::thread([this] { write_loop(); });
  return Status::ok();
}

Result<std::string> TtyLineClient::open_connection(const std::string& address, std::uint16_t port,
                                                   const std::string& line_number,
                                                   std::chrono::milliseconds timeout) {
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &target.sin_addr) != 1) {
    return Status(StatusCode::InvalidArgument, "invalid TTY listener address \"" + address +
                                                   "\"; use an IPv4 literal such as "
                                                   "127.0.0.1");
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    return Status(StatusCode::Unavailable, std::string("socket() failed: ") + std::strerror(errno));
  }
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  limit.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return Status(StatusCode::Unavailable,
                  "cannot connect to the TTY line listener at " +
                      server::format_host_port(address, port) + ": " + reason +
                      "; start relaygw serve and check [tty_lines] listen");
  }
  const std::string header = "RELAYGW-TTY/1 line=" + line_number +
                             " encoding=pcm16 rate=" + std::to_string(kSampleRateHz) + "\n";
  if (!write_all(reinterpret_cast<const std::uint8_t*>(header.data()), header.size())) {
    return Status(StatusCode::Unavailable, "writing the TTY line header for " + line_number +
                                               " failed: " + std::strerror(errno));
  }

  // A refused header is answered at once with "ERROR <message>\n" and the connection closes;
  // an accepted line starts with audio, whose first bytes never spell "ERROR ".
  std::string received;
  const auto wait_until = std::chrono::steady_clock::now() + kRefusalWindow;
  while (received.size() < 512) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        wait_until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) {
      break;
    }
    char buffer[512];
    const ssize_t size = ::recv(fd_, buffer, sizeof buffer - received.size(), MSG_PEEK);
    if (size <= 0 || static_cast<std::size_t>(size) == received.size()) {
      break;
    }
    received.assign(buffer, static_cast<std::size_t>(size));
    if (received.size() >= 6 && received.compare(0, 6, "ERROR ") != 0) {
      return std::string();  // audio: the line was accepted
    }
    if (received.find('\n') != std::string::npos) {
      break;
    }
  }
  if (received.size() < 6 || received.compare(0, 6, "ERROR ") != 0) {
    return std::string();
  }
  ::close(fd_);
  fd_ = -1;
  return one_line(received.substr(6));
}

Status TtyLineClient::send_audio(const tty::Audio& audio) {
  if (std::lround(audio.sample_rate_hz) != kSampleRateHz) {
    return Status(StatusCode::InvalidArgument,
                  "answer audio is at " + std::to_string(std::lround(audio.sample_rate_hz)) +
                      " Hz; the replay sends 8000 Hz lines, so regenerate it with "
                      "scripts/make-day-audio");
  }
  std::lock_guard lock(mutex_);
  outbox_.push_back(to_pcm16(audio.samples));
  changed_.notify_all();
  return Status::ok();
}

Result<std::string> TtyLineClient::wait_prompt(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  for (;;) {
    const std::size_t end = prompt_end(pending_);
    const auto now = std::chrono::steady_clock::now();
    if (end > 0 && now - last_char_at_ >= kPromptSettle) {
      std::string prompt = one_line(pending_.substr(0, end));
      pending_.erase(0, end);
      const std::size_t first = prompt.find_first_not_of(' ');
      return first == std::string::npos ? std::string() : prompt.substr(first);
    }
    if (now >= deadline || gateway_closed_ || stopping_) {
      const std::string reason = gateway_closed_ ? "the gateway closed the line" : "timed out";
      return Status(StatusCode::Unavailable, "no prompt ending in GA or SK from the gateway (" +
                                                 reason + "); text so far: \"" +
                                                 one_line(pending_) + "\"");
    }
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

Status TtyLineClient::wait_for_text(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool found = changed_.wait_for(lock, timeout, [&] {
    return pending_.find(needle) != std::string::npos || gateway_closed_ || stopping_;
  });
  if (found && pending_.find(needle) != std::string::npos) {
    return Status::ok();
  }
  return Status(StatusCode::Unavailable,
                "no \"" + needle + "\" from the gateway (" +
                    (gateway_closed_ ? "the gateway closed the line" : "timed out") +
                    "); text so far: \"" + one_line(pending_) + "\"");
}

std::string TtyLineClient::pending_text() const {
  std::lock_guard lock(mutex_);
  return one_line(pending_);
}

bool TtyLineClient::closed_by_gateway() const {
  std::lock_guard lock(mutex_);
  return gateway_closed_;
}

void TtyLineClient::close() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
  }
  if (reader_.joinable()) {
    reader_.join();
  }
  if (writer_.joinable()) {
    writer_.join();
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void TtyLineClient::read_loop() {
  tty::TtyReceiver receiver(tty::ReceiverConfig{static_cast<double>(kSampleRateHz)});
  std::vector<std::uint8_t> bytes(4096);
  std::vector<float> samples;
  const std::vector<float> quiet(kSampleRateHz * kQuietLineMs / 1000, 0.0F);
  std::vector<tty::TimedChar> chars;
  bool odd_byte_held = false;
  std::uint8_t odd_byte = 0;

  for (;;) {
    pollfd entry{fd_, POLLIN, 0};
    const int ready = ::poll(&entry, 1, kQuietLineMs);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
    }
    if (ready < 0) {
      continue;  // interrupted by a signal
    }
    samples.clear();
    if (ready == 0) {
      receiver.push(quiet);
    } else {
      const ssize_t count = ::recv(fd_, bytes.data(), bytes.size(), 0);
      if (count <= 0) {
        receiver.flush();
      } else {
        // 16-bit little-endian samples may be split between reads.
        std::size_t index = 0;
        if (odd_byte_held) {
          const auto bits = static_cast<std::uint16_t>(odd_byte | (bytes[0] << 8));
          samples.push_back(static_cast<std::int16_t>(bits) / 32768.0F);
          index = 1;
          odd_byte_held = false;
        }
        for (; index + 1 < static_cast<std::size_t>(count); index += 2) {
          const auto bits = static_cast<std::uint16_t>(bytes[index] | (bytes[index + 1] << 8));
          samples.push_back(static_cast<std::int16_t>(bits) / 32768.0F);
        }
        if (index < static_cast<std::size_t>(count)) {
          odd_byte = bytes[index];
          odd_byte_held = true;
        }
        receiver.push(samples);
      }
      if (count <= 0) {
        chars.clear();
        receiver.take_text(chars);
        std::lock_guard lock(mutex_);
        for (const tty::TimedChar& c : chars) {
          pending_.push_back(c.ch);
        }
        gateway_closed_ = true;
        changed_.notify_all();
        return;
      }
    }
    chars.clear();
    receiver.take_text(chars);
    if (!chars.empty()) {
      std::lock_guard lock(mutex_);
      for (const tty::TimedChar& c : chars) {
        pending_.push_back(c.ch);
      }
      last_char_at_ = std::chrono::steady_clock::now();
      changed_.notify_all();
    }
  }
}

void TtyLineClient::write_loop() {
  const std::vector<std::uint8_t> silence(kSampleRateHz * kSilenceChunkMs / 1000 * 2, 0);
  auto next_silence = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<std::uint8_t> chunk;
    {
      std::unique_lock lock(mutex_);
      changed_.wait_until(lock, next_silence, [this] { return stopping_ || !outbox_.empty(); });
      if (stopping_) {
        return;
      }
      if (!outbox_.empty()) {
        chunk = std::move(outbox_.front());
        outbox_.pop_front();
      }
    }
    if (!chunk.empty()) {
      if (!write_all(chunk.data(), chunk.size())) {
        return;
      }
      // Real-speed silence starts again after the answer.
      next_silence = std::chrono::steady_clock::now();
      continue;
    }
    if (!write_all(silence.data(), silence.size())) {
      return;
    }
    next_silence += std::chrono::milliseconds(kSilenceChunkMs);
  }
}

bool TtyLineClient::write_all(const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t sent = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    if (sent <= 0) {
      return false;
    }
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

}  // namespace relaygw::gateway::replay
