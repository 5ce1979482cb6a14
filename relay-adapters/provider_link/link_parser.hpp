// Relay provider link protocol: newline-delimited JSON messages from a relay provider, turned
// into gateway events. docs/protocol.md defines every message with examples.
//
// The gateway owns the TLS connection and passes in the provider identity taken from the
// client certificate; a message body never names its provider. A malformed line produces an
// ErrorReply for the gateway to send back, and the next line is parsed as if nothing happened,
// so one bad message does not stop the connection's other calls.
//
// Thread rules: a LinkReader belongs to one connection; parse_link_message has no state.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::relay::provider_link {

// Maximum line length in bytes, the newline excluded.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;
// Maximum nesting of JSON objects and arrays in one message.
inline constexpr int kMaxJsonDepth = 8;

// A parsed message: the event plus the message's optional "id", echoed as "ref" in replies.
struct LinkMessage {
  std::string ref;
  InboundEvent event;
};

// Either the event or the error reply to send back for the line.
using ParsedLine = std::variant<LinkMessage, ErrorReply>;

// Parses one line (without its newline; a trailing '\r' is ignored). `provider_id` comes from
// the TLS certificate and goes into SessionOpened. `received_at` stamps a call.accept that has
// no "at". Throws nothing but std::bad_alloc. Every failure is an ErrorReply whose message
// names the field and the fix and contains no card number or PIN.
ParsedLine parse_link_message(std::string_view line, std::string_view provider_id,
                              Instant received_at);

// The error reply as a Status (InvalidArgument), for logging.
Status to_status(const ErrorReply& error);

// Splits received bytes into lines and parses each one. Complete lines wait in the reader
// until next() takes them, so call next() until it returns std::nullopt after every push().
class LinkReader {
 public:
  explicit LinkReader(std::string provider_id) : provider_id_(std::move(provider_id)) {}

  // Appends bytes received from the connection, split anywhere.
  void push(std::string_view bytes);

  // Parses the next complete line, skipping empty ones; std::nullopt when no complete line is
  // buffered. A line longer than kMaxLineBytes yields one "line-too-long" error, and its bytes
  // are discarded up to its newline without being buffered.
  std::optional<ParsedLine> next(Instant received_at);

  // Bytes of the line still being received.
  std::size_t partial_bytes() const { return partial_.size(); }

 private:
  std::string provider_id_;
  // Complete lines in arrival order; std::nullopt stands for a line that was too long.
  std::deque<std::optional<std::string>> lines_;
  std::string partial_;
  // True while discarding the rest of a line that passed kMaxLineBytes.
  bool skipping_ = false;
};

}  // namespace relaygw::relay::provider_link
