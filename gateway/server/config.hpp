// The `relaygw serve` configuration file: listeners, certificates, database, PSAP routing and
// policies, in TOML. docs/configuration.md documents every key; config/relaygw.toml is the
// sample that runs on loopback as shipped.
//
// Each server part takes its own section as a plain struct, so parts can be built and tested
// without a file. Paths in the file are relative to the file's own folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::gateway::server {

// One TCP endpoint. Addresses are literal IPs; the shipped sample binds loopback only.
struct Endpoint {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 lets the system choose (tests read the bound port back)
};

// [provider_link]: the relay provider TLS listener with mutual certificate authentication.
struct ProviderLinkConfig {
  bool enabled = true;
  Endpoint listen{"127.0.0.1", 7443};
  std::string certificate_file;  // the gateway's certificate chain, PEM
  std::string private_key_file;  // its key, PEM
  std::string client_ca_file;    // CA that signs relay provider client certificates, PEM
  // A connection that sends nothing for this long is closed, so a stalled provider holds no
  // resources for ever.
  std::chrono::seconds idle_timeout{300};
};

// [tty_lines]: the TCP listener where each connection carries one TTY line's audio.
struct TtyLinesConfig {
  bool enabled = true;
  Endpoint listen{"127.0.0.1", 7300};
  std::size_t max_lines = 2000;
  // How long automated collect listens for TTY tones on the called line before it hands the
  // call to staff.
  std::chrono::seconds tty_detect_timeout{10};
  // How long a called party has to accept a collect or third-number call.
  std::chrono::seconds acceptance_timeout{60};
  std::chrono::seconds idle_timeout{900};
  // Send reply audio paced at real time, as a telephone line carries it. Tests turn it off so
  // the gateway writes audio as fast as the socket takes it.
  bool realtime_pacing = true;
};

// [admin]: the staff HTTP and JSON API, loopback only, bearer token.
struct AdminConfig {
  bool enabled = true;
  Endpoint listen{"127.0.0.1", 7080};
  std::string token_file;  // file whose first line is the token; never logged
};

// One [[psap]] entry: the PSAP that serves callers in the listed states or area codes.
struct PsapRoute {
  std::string id;                       // for example "psap-ny-manhattan"
  Endpoint endpoint;                    // the PSAP's text link (see docs/protocol.md)
  std::vector<std::string> states;      // two-letter state codes it serves
  std::vector<std::string> area_codes;  // NPAs it serves; checked before states
  bool default_route = false;           // used when no other route matches
};

// [emergency]
struct EmergencyConfig {
  std::vector<PsapRoute> routes;
  // Threads that run only emergency work: capacity no normal session can take.
  int reserved_threads = 1;
  std::chrono::milliseconds redial_interval{500};
  int max_redials = 20;
  // Emergency call records wait here (appended, fsynced) while the database is unavailable,
  // and move into the database once it is back.
  std::string spool_file = "emergency-spool.jsonl";
  // How long an emergency session stays open with its PSAP after its provider connection drops
  // without session.close, for the provider to reconnect and go on. After that the gateway
  // closes it to the PSAP, as it does for every open emergency session when it stops.
  std::chrono::seconds provider_reconnect_window{300};
};

// [billing]
struct BillingConfig {
  // The configuration file these keys came from, named in messages about a key to fix. Empty
  // when the configuration was built in code.
  std::string config_file;
  std::string database = "relaygw.db";
  std::string data_dir;            // NANP reference data; empty: the bundled data/nanp
  std::string credit_policy_file;  // empty: the bundled data/policy/credit-policy.toml
  std::string actor = "gateway";   // recorded as who made each write
  // A provider's acceptance, connect or disconnect instant further than this before the
  // gateway clock is rejected with the error code "time-out-of-range". The window is wide
  // because a provider may deliver or retry a step hours late.
  std::chrono::seconds max_clock_skew{12 * 3600};
  // Clock drift allowed between a provider and the gateway. A step instant more than this
  // ahead of the gateway clock is rejected with "time-out-of-range" and bills nothing. A step
  // up to this before the call's last recorded step (its request, stamped by the gateway) is
  // recorded at that step's instant.
  std::chrono::seconds clock_tolerance{5};
  // Maximum conversation length billed. A longer call's disconnect event is recorded at the
  // connect time plus this length, by the actor "<actor>/length-capped".
  std::chrono::seconds max_call_length{24 * 3600};
};

struct ServerConfig {
  std::string source_file;  // the file this came from, for messages
  int worker_threads = 2;   // threads for normal sessions
  ProviderLinkConfig provider_link;
  TtyLinesConfig tty_lines;
  AdminConfig admin;
  EmergencyConfig emergency;
  BillingConfig billing;
  // [server] clock_start (RFC 3339): when set, the gateway clock (gateway/server/clock.hpp)
  // starts at this instant and runs at real speed, so a replayed day bills the same each run.
  std::optional<relay::Instant> clock_start;
};

// Reads and checks a configuration file. Every error names the file, the key and the fix,
// for example "relaygw.toml: [provider_link] listen.port = 70000 is not a TCP port; use 1 to
// 65535". Relative paths are resolved against the file's folder.
Result<ServerConfig> load_config(const std::string& path);

}  // namespace relaygw::gateway::server
