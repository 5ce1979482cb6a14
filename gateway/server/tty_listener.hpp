// TtyListener: the TCP listener where each connection carries one TTY line's audio.
//
// A connection opens with the RELAYGW-TTY/1 header (relay-adapters/tty_line/line_header.hpp);
// a bad header is answered with one text line "ERROR <message>" and the connection is closed.
// After the header the line's audio is demodulated (LineReceiver), split into turns
// (CallerTurns) and run through the text menu (TextMenu), whose calls go to CallService. Every
// reply goes back as Baudot audio (LineTransmitter).
//
// Each connected line is registered by its number, so a call to a connected line is routed
// to it. The called line rings until TTY tones are heard on it. Collect and third-number calls
// then announce the call in text and take a typed Y or N as the acceptance. Person-to-person
// calls ask whether the person is there, and the other calls connect at once. Connected lines
// exchange each finished turn. SK from either side, or a closed connection, ends the call and
// posts it. A call to a number with no connected line is unanswered and bills zero. docs/
// protocol.md describes the called-line behaviour.
//
// Thread rules: start() and stop() may be called from any thread. Each line runs on its own
// strand of the io_context; lines talk to each other only by posting to the other's strand.
// NOTE: CallService calls (SQLite writes) run on the line's strand and block that io_context
// thread while they run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/status.hpp"
#include "gateway/server/call_service.hpp"
#include "gateway/server/config.hpp"
#include "gateway/server/session_registry.hpp"

namespace relaygw::gateway::server {

// Returns the id of the listener's `counter`-th session since it started at `started_ms`
// (milliseconds since the epoch), such as "tty-1733439000000-s100". The letter keeps the
// counter out of the time's digit run, because the id check
// (billing::check_identifier_card_digits) rejects a run of 14 digits or more as a possible
// card number, and the menu's call ids repeat the session id.
std::string tty_session_id(std::int64_t started_ms, std::uint64_t counter);

class TtyListener {
 public:
  // Keeps the references, which must outlive the listener. Nothing runs until start().
  TtyListener(boost::asio::io_context& io, TtyLinesConfig config, CallService& calls,
              SessionRegistry& sessions);
  ~TtyListener();
  TtyListener(const TtyListener&) = delete;
  TtyListener& operator=(const TtyListener&) = delete;

  // Binds the configured endpoint and starts accepting. Fails with Unavailable naming the
  // address when the bind fails, or InvalidArgument when the address is not a literal IP.
  Status start();

  // Stops accepting and closes every line; their open calls are disconnected and posted.
  // Returns without waiting for the closes to finish on the io_context.
  void stop();

  // The bound port (useful when the configuration asked for port 0); 0 before start().
  std::uint16_t port() const;

  // Lines whose header has been read and that are still connected.
  std::size_t connected_lines() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace relaygw::gateway::server
