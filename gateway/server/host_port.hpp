// Text forms of a TCP address and port, for every message, log line and option that shows or
// reads one. IPv6 addresses appear in brackets ("[::1]:7080", the RFC 3986 authority form), and
// every port is checked the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>

#include "common/status.hpp"

namespace relaygw::gateway::server {

// Formats ADDRESS:PORT, writing an IPv6 address as [ADDRESS]:PORT.
std::string format_host_port(std::string_view address, std::uint16_t port);
std::string format_host_port(const boost::asio::ip::tcp::endpoint& endpoint);

// Whether port 0, which lets the system choose a free port, is accepted.
enum class PortZero { Reject, PickFree };

// Parses a TCP port written in decimal digits, 1 to 65535 (or 0 with PortZero::PickFree).
// An empty, signed, non-numeric or out-of-range text fails with InvalidArgument; the message
// names `option` and the text, and gives the valid range.
Result<std::uint16_t> parse_port(std::string_view text, std::string_view option, PortZero zero);

// An address and port read from "ADDRESS:PORT" or "[IPV6]:PORT".
struct HostPort {
  std::string address;  // without brackets
  std::uint16_t port = 0;
};

// Parses "ADDRESS:PORT", where ADDRESS is an IPv4 literal or a bracketed IPv6 literal and PORT
// is 1 to 65535. Failures are InvalidArgument with a message that names `option` and the text.
Result<HostPort> parse_host_port(std::string_view text, std::string_view option);

}  // namespace relaygw::gateway::server
