// The shared text forms of addresses and ports: IPv6 in brackets, ports checked one way.
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/server/host_port.hpp"

namespace relaygw::gateway::server {

TEST_CASE("host port brackets IPv6 addresses", "[gateway][host-port]") {
  CHECK(format_host_port("127.0.0.1", 7080) == "127.0.0.1:7080");
  CHECK(format_host_port("::1", 7080) == "[::1]:7080");
  CHECK(format_host_port("fe80::1%lo", 1) == "[fe80::1%lo]:1");
  CHECK(format_host_port("[::1]", 7080) == "[::1]:7080");
  const boost::asio::ip::tcp::endpoint v6(boost::asio::ip::make_address("::1"), 443);
  CHECK(format_host_port(v6) == "[::1]:443");
  const boost::asio::ip::tcp::endpoint v4(boost::asio::ip::make_address("127.0.0.2"), 80);
  CHECK(format_host_port(v4) == "127.0.0.2:80");
}

TEST_CASE("port parser rejects non-numbers", "[gateway][host-port]") {
  struct Case {
    std::string text;
    PortZero zero;
    std::optional<std::uint16_t> expected;  // nullopt: rejected
  };
  const std::vector<Case> cases = {
      {"1", PortZero::Reject, 1},
      {"65535", PortZero::Reject, 65535},
      {"08080", PortZero::Reject, 8080},
      {"0", PortZero::PickFree, 0},
      {"0", PortZero::Reject, std::nullopt},
      {"", PortZero::PickFree, std::nullopt},
      {"65536", PortZero::PickFree, std::nullopt},
      {"123456", PortZero::PickFree, std::nullopt},
      {"-1", PortZero::PickFree, std::nullopt},
      {"+1", PortZero::PickFree, std::nullopt},
      {" 1", PortZero::PickFree, std::nullopt},
      {"1 ", PortZero::PickFree, std::nullopt},
      {"0x10", PortZero::PickFree, std::nullopt},
      {"http", PortZero::PickFree, std::nullopt},
  };
  for (const Case& test : cases) {
    INFO("'" << test.text << "'");
    const Result<std::uint16_t> port = parse_port(test.text, "--port", test.zero);
    REQUIRE(port.is_ok() == test.expected.has_value());
    if (test.expected) {
      CHECK(*port == *test.expected);
    } else {
      CHECK(port.status().code() == StatusCode::InvalidArgument);
      CHECK(port.status().message().find("--port") != std::string::npos);
      CHECK(port.status().message().find("1 to 65535") != std::string::npos);
    }
  }
}

TEST_CASE("host port parser reads brackets", "[gateway][host-port]") {
  const Result<HostPort> v4 = parse_host_port("127.0.0.1:7443", "--provider");
  REQUIRE(v4);
  CHECK(v4->address == "127.0.0.1");
  CHECK(v4->port == 7443);
  const Result<HostPort> v6 = parse_host_port("[::1]:7443", "--provider");
  REQUIRE(v6);
  CHECK(v6->address == "::1");
  CHECK(v6->port == 7443);

  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"", "--provider is empty; use ADDRESS:PORT"},
      {"7443", "'7443' is not ADDRESS:PORT"},
      {"[::1]", "'[::1]' is not ADDRESS:PORT"},
      {":7443", "':7443' is not ADDRESS:PORT"},
      {"localhost:7443", "has no IP address before the port"},
      {"::1:7443", "IPv6 address without brackets"},
      {"127.0.0.1:", "has port '', which is not a TCP port"},
      {"127.0.0.1:0", "has port '0', which is not a TCP port"},
      {"[::1]:65536", "has port '65536', which is not a TCP port"},
  };
  for (const Case& test : cases) {
    INFO("'" << test.text << "'");
    const Result<HostPort> parsed = parse_host_port(test.text, "--provider");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.status().message().find("--provider") != std::string::npos);
    CHECK(parsed.status().message().find(test.expected) != std::string::npos);
  }
}

}  // namespace relaygw::gateway::server
