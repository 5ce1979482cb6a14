// TtyLineClient: one TTY line connected to the gateway's TTY line listener, as the replay
// drives it (docs/protocol.md, TTY line protocol).
//
// It sends the RELAYGW-TTY/1 header (16-bit PCM at 8 kHz), then keeps the line alive the way a
// real line is: silence at real speed, with the caller's recorded answers written in between.
// A reader thread decodes the gateway's Baudot audio with tty::TtyReceiver. When the gateway
// sends nothing for a while, the reader feeds the receiver that much silence, because a quiet
// line is silent and the receiver needs the silence to see the carrier drop and release the
// last word.
//
// Thread rules: the public methods are for one thread; the client runs two threads inside.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "tty/audio_file.hpp"

namespace relaygw::gateway::replay {

class TtyLineClient {
 public:
  TtyLineClient() = default;
  ~TtyLineClient();
  TtyLineClient(const TtyLineClient&) = delete;
  TtyLineClient& operator=(const TtyLineClient&) = delete;

  // Connects to the listener, sends the header for `line_number` (E.164) and starts the
  // reader and writer threads. While the gateway refuses the number as already connected, it
  // tries again until `timeout` has passed; any other refusal fails with its message.
  Status connect(const std::string& address, std::uint16_t port, const std::string& line_number,
                 std::chrono::milliseconds timeout);

  // Queues `audio` (8 kHz mono) to be written as soon as possible, followed by silence.
  Status send_audio(const tty::Audio& audio);

  // Waits for the gateway's next complete prompt: text that ends with the turn word GA or SK
  // and after which the line has been quiet for a moment. Returns that text (CR and LF become
  // spaces) and forgets it. Fails with Unavailable after `timeout` or when the line closed,
  // naming the text received so far.
  Result<std::string> wait_prompt(std::chrono::milliseconds timeout);

  // Waits until the text decoded since the last prompt contains `needle`, which need not end a
  // turn (the gateway's "CONNECTED" has no GA). Fails with Unavailable after `timeout` or when
  // the line closed.
  Status wait_for_text(const std::string& needle, std::chrono::milliseconds timeout);

  // Text decoded since the last prompt was taken.
  std::string pending_text() const;

  // Whether the gateway has closed the connection.
  bool closed_by_gateway() const;

  // Stops both threads and closes the connection.
  void close();

 private:
  // How long connect() watches for an "ERROR" refusal after the header, and how long it waits
  // before trying again a number the gateway still holds from its previous call.
  static constexpr std::chrono::milliseconds kRefusalWindow{300};
  static constexpr std::chrono::milliseconds kBusyRetryDelay{200};

  // Connects and sends the header. Returns the gateway's refusal message (the connection is
  // then closed), or an empty string when the line was accepted.
  Result<std::string> open_connection(const std::string& address, std::uint16_t port,
                                      const std::string& line_number,
                                      std::chrono::milliseconds timeout);
  void read_loop();
  void write_loop();
  bool write_all(const std::uint8_t* data, std::size_t size);

  int fd_ = -1;
  std::thread reader_;
  std::thread writer_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::vector<std::uint8_t>> outbox_;
  std::string pending_;  // decoded gateway text not yet returned by wait_prompt
  std::chrono::steady_clock::time_point last_char_at_{};
  bool stopping_ = false;
  bool gateway_closed_ = false;
};

}  // namespace relaygw::gateway::replay
