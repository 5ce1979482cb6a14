#include "gateway/server/host_port.hpp"

#include <optional>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

namespace relaygw::gateway::server {

std::string format_host_port(std::string_view address, std::uint16_t port) {
  // Only IPv6 literals contain a colon; an address already in brackets is kept as it is.
  const bool bracket = address.find(':') != std::string_view::npos &&
                       !(address.size() > 1 && address.front() == '[');
  if (bracket) {
    return fmt::format("[{}]:{}", address, port);
  }
  return fmt::format("{}:{}", address, port);
}

std::string format_host_port(const boost::asio::ip::tcp::endpoint& endpoint) {
  return format_host_port(endpoint.address().to_string(), endpoint.port());
}

namespace {

// Reads up to five decimal digits, or returns nullopt for an empty, signed or non-numeric text.
// Six or more digits exceed any port, so the bound also keeps the sum from overflowing.
std::optional<std::uint32_t> read_digits(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  for (const char digit : text) {
    value = value * 10 + static_cast<std::uint32_t>(digit - '0');
  }
  return value;
}

}  // namespace

Result<std::uint16_t> parse_port(std::string_view text, std::string_view option, PortZero zero) {
  const std::string range = zero == PortZero::PickFree
                                ? "use 1 to 65535, or 0 to let the system pick a free port"
                                : "use 1 to 65535";
  if (text.empty()) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} is empty; give a TCP port number ({})", option, range));
  }
  const std::optional<std::uint32_t> value = read_digits(text);
  const std::uint32_t min = zero == PortZero::PickFree ? 0 : 1;
  if (!value || *value < min || *value > 65535) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} '{}' is not a TCP port; {}", option, text, range));
  }
  return static_cast<std::uint16_t>(*value);
}

Result<HostPort> parse_host_port(std::string_view text, std::string_view option) {
  const std::string usage = "use ADDRESS:PORT, for example 127.0.0.1:7443 or [::1]:7443";
  if (text.empty()) {
    return Status(StatusCode::InvalidArgument, fmt::format("{} is empty; {}", option, usage));
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || text.back() == ']') {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} '{}' is not ADDRESS:PORT; {}", option, text, usage));
  }

  std::string_view address = text.substr(0, colon);
  if (address.size() > 1 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  boost::system::error_code error;
  const boost::asio::ip::address ip = boost::asio::ip::make_address(std::string(address), error);
  if (error) {
    return Status(
        StatusCode::InvalidArgument,
        fmt::format("{} '{}' has no IP address before the port; {}", option, text, usage));
  }
  // An unbracketed IPv6 address is ambiguous: in "::1:7443" the last group may be the port.
  if (ip.is_v6() && text.front() != '[') {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} '{}' has an IPv6 address without brackets; write it as "
                              "[{}]:PORT",
                              option, text, address));
  }

  const std::string_view port_text = text.substr(colon + 1);
  const std::optional<std::uint32_t> port = read_digits(port_text);
  if (!port || *port < 1 || *port > 65535) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} '{}' has port '{}', which is not a TCP port; use 1 to 65535",
                              option, text, port_text));
  }
  return HostPort{std::string(address), static_cast<std::uint16_t>(*port)};
}

}  // namespace relaygw::gateway::server
