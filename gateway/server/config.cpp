// load_config: reads the `relaygw serve` TOML file into ServerConfig. Every key is optional
// and keeps the default in config.hpp; an unknown key is an error, so a misspelt key is
// reported rather than ignored.
#include "gateway/server/config.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>
#include <boost/asio/ip/address.hpp>

#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "billing/state_codes.hpp"
#include "common/utf8.hpp"
#include "gateway/server/clock.hpp"
#include "gateway/server/host_port.hpp"

namespace relaygw::gateway::server {
namespace {

namespace fs = std::filesystem;

// Reads keys of one file, and builds messages that name the file, the key and the fix.
class ConfigReader {
 public:
  ConfigReader(std::string file_name, fs::path folder)
      : file_name_(std::move(file_name)), folder_(std::move(folder)) {}

  const Status& status() const { return status_; }
  bool failed() const { return !status_.is_ok(); }

  void fail(const std::string& where, const std::string& message) {
    if (!failed()) {
      status_ =
          Status(StatusCode::InvalidArgument, fmt::format("{}: {} {}", file_name_, where, message));
    }
  }

  // Fails on any key of `table` that is not in `known`.
  void check_keys(const toml::table& table, const std::string& section,
                  const std::set<std::string>& known) {
    for (const auto& [key, value] : table) {
      (void)value;
      if (known.count(std::string(key.str())) == 0) {
        std::string names;
        for (const std::string& name : known) {
          names += names.empty() ? name : ", " + name;
        }
        fail(section, fmt::format("has unknown key '{}'; use one of: {}", key.str(), names));
      }
    }
  }

  // Returns the sub-table `key`, or nullptr when it is absent.
  const toml::table* table(const toml::table& parent, const std::string& key,
                           const std::string& where) {
    const toml::node* node = parent.get(key);
    if (node == nullptr) {
      return nullptr;
    }
    if (!node->is_table()) {
      fail(where, fmt::format("'{}' must be a table such as [{}]", key, key));
      return nullptr;
    }
    return node->as_table();
  }

  void read_bool(const toml::table& table, const std::string& key, const std::string& section,
                 bool& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return;
    }
    if (!node->is_boolean()) {
      fail(section, fmt::format("{} must be true or false", key));
      return;
    }
    out = node->as_boolean()->get();
  }

  void read_string(const toml::table& table, const std::string& key, const std::string& section,
                   std::string& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return;
    }
    if (!node->is_string()) {
      fail(section, fmt::format("{} must be a quoted string", key));
      return;
    }
    out = node->as_string()->get();
  }

  // Reads a file path; a relative path is resolved against the configuration file's folder.
  // An empty string stays empty, which means "not set".
  void read_path(const toml::table& table, const std::string& key, const std::string& section,
                 std::string& out) {
    std::string text;
    const bool present = table.get(key) != nullptr;
    read_string(table, key, section, text);
    if (!present || failed()) {
      return;
    }
    if (text.empty()) {
      out.clear();
      return;
    }
    out = resolve(text);
  }

  std::string resolve(const std::string& text) const {
    const fs::path path(text);
    if (path.is_absolute()) {
      return path.lexically_normal().string();
    }
    return (folder_ / path).lexically_normal().string();
  }

  void read_int(const toml::table& table, const std::string& key, const std::string& section,
                std::int64_t min, std::int64_t max, const std::string& unit, std::int64_t& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return;
    }
    if (!node->is_integer()) {
      fail(section,
           fmt::format("{} must be a whole number of {} from {} to {}", key, unit, min, max));
      return;
    }
    const std::int64_t value = node->as_integer()->get();
    if (value < min || value > max) {
      fail(section,
           fmt::format("{} = {} is out of range; use {} to {} {}", key, value, min, max, unit));
      return;
    }
    out = value;
  }

  template <typename Duration>
  void read_duration(const toml::table& table, const std::string& key, const std::string& section,
                     std::int64_t min, std::int64_t max, const std::string& unit, Duration& out) {
    std::int64_t value = out.count();
    read_int(table, key, section, min, max, unit, value);
    out = Duration(value);
  }

  // Reads `address` and `port` of an endpoint from `table`. `prefix` is how the keys are
  // written in the file ("listen." for a listener), for messages. `zero` only sets the range
  // that messages give, because the caller of a dialed endpoint rejects port 0 with its own
  // message.
  void read_endpoint(const toml::table& table, const std::string& section,
                     const std::string& prefix, PortZero zero, Endpoint& out) {
    const std::string range =
        zero == PortZero::PickFree ? "1 to 65535, or 0 to let the system choose" : "1 to 65535";
    read_string(table, "address", section, out.address);
    if (failed()) {
      return;
    }
    boost::system::error_code error;
    boost::asio::ip::make_address(out.address, error);
    if (error) {
      fail(section, fmt::format("{}address = \"{}\" is not an IP address; use a literal IPv4 or "
                                "IPv6 address such as \"127.0.0.1\"",
                                prefix, out.address));
      return;
    }
    const toml::node* node = table.get("port");
    if (node == nullptr) {
      return;
    }
    if (!node->is_integer()) {
      // A quoted port, even "" or "7443", is a string in TOML and never read as a number.
      const std::string value =
          node->is_string() ? fmt::format(" = \"{}\"", node->as_string()->get()) : "";
      fail(section, fmt::format("{}port{} is not a TCP port; write a whole number without "
                                "quotes, {}",
                                prefix, value, range));
      return;
    }
    const std::int64_t port = node->as_integer()->get();
    if (port < 0 || port > 65535) {
      fail(section, fmt::format("{}port = {} is not a TCP port; use {}", prefix, port, range));
      return;
    }
    out.port = static_cast<std::uint16_t>(port);
  }

  void read_string_list(const toml::table& table, const std::string& key,
                        const std::string& section, std::vector<std::string>& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      fail(section, fmt::format("{} must be an array of strings such as [\"NY\", \"NJ\"]", key));
      return;
    }
    out.clear();
    for (const toml::node& item : *array) {
      if (!item.is_string()) {
        fail(section, fmt::format("{} must contain only quoted strings", key));
        return;
      }
      out.push_back(item.as_string()->get());
    }
  }

 private:
  std::string file_name_;
  fs::path folder_;
  Status status_;
};

const std::int64_t kMaxSeconds = 7 * 24 * 3600;

void read_provider_link(ConfigReader& reader, const toml::table& root, ProviderLinkConfig& out) {
  const std::string section = "[provider_link]";
  const toml::table* table = reader.table(root, "provider_link", section);
  if (table == nullptr) {
    return;
  }
  reader.check_keys(*table, section,
                    {"enabled", "listen", "certificate_file", "private_key_file", "client_ca_file",
                     "idle_timeout_seconds"});
  reader.read_bool(*table, "enabled", section, out.enabled);
  if (const toml::table* listen = reader.table(*table, "listen", section)) {
    reader.check_keys(*listen, section + " listen", {"address", "port"});
    reader.read_endpoint(*listen, section, "listen.", PortZero::PickFree, out.listen);
  }
  reader.read_path(*table, "certificate_file", section, out.certificate_file);
  reader.read_path(*table, "private_key_file", section, out.private_key_file);
  reader.read_path(*table, "client_ca_file", section, out.client_ca_file);
  reader.read_duration(*table, "idle_timeout_seconds", section, 1, kMaxSeconds, "seconds",
                       out.idle_timeout);
}

void read_tty_lines(ConfigReader& reader, const toml::table& root, TtyLinesConfig& out) {
  const std::string section = "[tty_lines]";
  const toml::table* table = reader.table(root, "tty_lines", section);
  if (table == nullptr) {
    return;
  }
  reader.check_keys(*table, section,
                    {"enabled", "listen", "max_lines", "tty_detect_timeout_seconds",
                     "acceptance_timeout_seconds", "idle_timeout_seconds", "realtime_pacing"});
  reader.read_bool(*table, "enabled", section, out.enabled);
  reader.read_bool(*table, "realtime_pacing", section, out.realtime_pacing);
  if (const toml::table* listen = reader.table(*table, "listen", section)) {
    reader.check_keys(*listen, section + " listen", {"address", "port"});
    reader.read_endpoint(*listen, section, "listen.", PortZero::PickFree, out.listen);
  }
  std::int64_t max_lines = static_cast<std::int64_t>(out.max_lines);
  reader.read_int(*table, "max_lines", section, 1, 100'000, "lines", max_lines);
  out.max_lines = static_cast<std::size_t>(max_lines);
  reader.read_duration(*table, "tty_detect_timeout_seconds", section, 1, 600, "seconds",
                       out.tty_detect_timeout);
  reader.read_duration(*table, "acceptance_timeout_seconds", section, 1, 3600, "seconds",
                       out.acceptance_timeout);
  reader.read_duration(*table, "idle_timeout_seconds", section, 1, kMaxSeconds, "seconds",
                       out.idle_timeout);
}

void read_admin(ConfigReader& reader, const toml::table& root, AdminConfig& out) {
  const std::string section = "[admin]";
  const toml::table* table = reader.table(root, "admin", section);
  if (table == nullptr) {
    return;
  }
  reader.check_keys(*table, section, {"enabled", "listen", "token_file"});
  reader.read_bool(*table, "enabled", section, out.enabled);
  if (const toml::table* listen = reader.table(*table, "listen", section)) {
    reader.check_keys(*listen, section + " listen", {"address", "port"});
    reader.read_endpoint(*listen, section, "listen.", PortZero::PickFree, out.listen);
  }
  reader.read_path(*table, "token_file", section, out.token_file);
}

void read_psap_routes(ConfigReader& reader, const toml::table& root, std::vector<PsapRoute>& out) {
  const toml::node* node = root.get("psap");
  if (node == nullptr) {
    return;
  }
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    reader.fail("[[psap]]", "must be an array of tables: write each route as a [[psap]] section");
    return;
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table& table = *array->get(i)->as_table();
    const std::string section = fmt::format("[[psap]] number {}", i + 1);
    reader.check_keys(table, section, {"id", "address", "port", "states", "area_codes", "default"});
    PsapRoute route;
    route.endpoint.port = 0;
    reader.read_string(table, "id", section, route.id);
    reader.read_endpoint(table, section, "", PortZero::Reject, route.endpoint);
    reader.read_string_list(table, "states", section, route.states);
    reader.read_string_list(table, "area_codes", section, route.area_codes);
    reader.read_bool(table, "default", section, route.default_route);
    if (reader.failed()) {
      return;
    }
    if (route.id.empty()) {
      reader.fail(section, "has no id; add id = \"psap-...\" naming the PSAP");
      return;
    }
    if (!ids.insert(route.id).second) {
      reader.fail(section,
                  fmt::format("id = \"{}\" is used twice; give each PSAP its own id", route.id));
      return;
    }
    if (table.get("port") == nullptr) {
      reader.fail(section, "has no port; add the PSAP's text link port (1 to 65535)");
      return;
    }
    if (route.endpoint.port == 0) {
      reader.fail(section,
                  "port = 0 is not a PSAP port: the gateway dials the PSAP, so set "
                  "the port its text link listens on (1 to 65535)");
      return;
    }
    for (const std::string& state : route.states) {
      const bool two_letters = state.size() == 2 &&
                               std::isupper(static_cast<unsigned char>(state[0])) &&
                               std::isupper(static_cast<unsigned char>(state[1]));
      if (!two_letters) {
        reader.fail(section, fmt::format("states entry \"{}\" is not a two-letter state code; "
                                         "use upper-case postal codes such as \"NY\"",
                                         state));
        return;
      }
      // A misspelt state would route its callers to the default PSAP without a word.
      if (!billing::is_state_code(state)) {
        reader.fail(section,
                    fmt::format("states entry \"{}\" is not a US state, DC, US territory or "
                                "Canadian province code; use its postal code, such as \"NY\"",
                                state));
        return;
      }
    }
    for (const std::string& npa : route.area_codes) {
      const bool three_digits =
          npa.size() == 3 && npa.find_first_not_of("0123456789") == std::string::npos;
      if (!three_digits) {
        reader.fail(section, fmt::format("area_codes entry \"{}\" is not an area code; use "
                                         "three digits such as \"212\"",
                                         npa));
        return;
      }
    }
    if (route.default_route) {
      for (const PsapRoute& earlier : out) {
        if (earlier.default_route) {
          reader.fail(section, fmt::format("default = true, but route \"{}\" is already the "
                                           "default; set default = true on one route only",
                                           earlier.id));
          return;
        }
      }
    }
    out.push_back(std::move(route));
  }
}

void read_emergency(ConfigReader& reader, const toml::table& root, EmergencyConfig& out) {
  read_psap_routes(reader, root, out.routes);
  const std::string section = "[emergency]";
  const toml::table* table = reader.table(root, "emergency", section);
  if (table == nullptr) {
    return;
  }
  reader.check_keys(*table, section,
                    {"reserved_threads", "redial_interval_ms", "max_redials", "spool_file",
                     "provider_reconnect_seconds"});
  std::int64_t threads = out.reserved_threads;
  reader.read_int(*table, "reserved_threads", section, 1, 16, "threads", threads);
  out.reserved_threads = static_cast<int>(threads);
  reader.read_duration(*table, "redial_interval_ms", section, 10, 60'000, "milliseconds",
                       out.redial_interval);
  std::int64_t redials = out.max_redials;
  reader.read_int(*table, "max_redials", section, 0, 1'000'000, "redials", redials);
  out.max_redials = static_cast<int>(redials);
  reader.read_duration(*table, "provider_reconnect_seconds", section, 10, 86'400, "seconds",
                       out.provider_reconnect_window);
  reader.read_path(*table, "spool_file", section, out.spool_file);
  if (!reader.failed() && out.spool_file.empty()) {
    reader.fail(section,
                "spool_file is empty; name the file that keeps emergency call records "
                "while the database is unavailable");
  }
}

void read_server(ConfigReader& reader, const toml::table& root,
                 std::optional<relay::Instant>& clock_start) {
  const std::string section = "[server]";
  const toml::table* table = reader.table(root, "server", section);
  if (table == nullptr) {
    return;
  }
  reader.check_keys(*table, section, {"clock_start"});
  std::string text;
  reader.read_string(*table, "clock_start", section, text);
  if (reader.failed() || table->get("clock_start") == nullptr) {
    return;
  }
  Result<relay::Instant> start = relay::parse_instant(text);
  if (!start) {
    reader.fail(section, fmt::format("clock_start = \"{}\" is not an RFC 3339 instant; write it "
                                     "like \"2026-03-10T15:00:00Z\"",
                                     text.substr(0, 40)));
    return;
  }
  if (Status allowed = check_replay_clock(*start); !allowed) {
    reader.fail(section, "clock_start: " + allowed.message());
    return;
  }
  clock_start = *start;
}

void read_billing(ConfigReader& reader, const toml::table& root, BillingConfig& out) {
  const std::string section = "[billing]";
  const toml::table* table = reader.table(root, "billing", section);
  if (table != nullptr) {
    reader.check_keys(*table, section,
                      {"database", "data_dir", "credit_policy_file", "actor",
                       "max_clock_skew_seconds", "clock_tolerance_seconds",
                       "max_call_length_seconds"});
    reader.read_path(*table, "database", section, out.database);
    reader.read_path(*table, "data_dir", section, out.data_dir);
    reader.read_path(*table, "credit_policy_file", section, out.credit_policy_file);
    reader.read_string(*table, "actor", section, out.actor);
    reader.read_duration(*table, "max_clock_skew_seconds", section, 60, 7 * 86400, "seconds",
                         out.max_clock_skew);
    reader.read_duration(*table, "clock_tolerance_seconds", section, 0, 86400, "seconds",
                         out.clock_tolerance);
    reader.read_duration(*table, "max_call_length_seconds", section, 60, 7 * 86400, "seconds",
                         out.max_call_length);
  }
  if (reader.failed()) {
    return;
  }
  if (out.database.empty()) {
    reader.fail(section,
                "database is empty; name the SQLite file, for example "
                "database = \"out/relaygw.db\"");
    return;
  }
  // The actor is stored with every write, so it gets the checks of a staff name on the
  // command line. No database is open yet, so only long digit runs are card numbers here.
  for (const Status& checked :
       {billing::check_staff_name("actor", out.actor,
                                  "name who the gateway records as the author of its writes, "
                                  "for example actor = \"gateway\""),
        billing::check_identifier_card_digits(nullptr, "actor", out.actor,
                                              billing::IdentifierKind::StaffName)}) {
    if (!checked) {
      reader.fail(section, checked.message());
      return;
    }
  }
}

// Checks that no two enabled listeners ask for the same fixed address and port.
void check_listeners(ConfigReader& reader, const ServerConfig& config) {
  struct Listener {
    const char* section;
    bool enabled;
    const Endpoint* endpoint;
  };
  const Listener listeners[] = {
      {"[provider_link]", config.provider_link.enabled, &config.provider_link.listen},
      {"[tty_lines]", config.tty_lines.enabled, &config.tty_lines.listen},
      {"[admin]", config.admin.enabled, &config.admin.listen},
  };
  for (std::size_t i = 0; i < std::size(listeners); ++i) {
    for (std::size_t j = i + 1; j < std::size(listeners); ++j) {
      const Listener& a = listeners[i];
      const Listener& b = listeners[j];
      if (a.enabled && b.enabled && a.endpoint->port != 0 && a.endpoint->port == b.endpoint->port &&
          a.endpoint->address == b.endpoint->address) {
        reader.fail(b.section, fmt::format("listen port {} is already used by {}; give each "
                                           "listener its own port",
                                           b.endpoint->port, a.section));
      }
    }
  }
}

// Line and column, both from 1, of byte `offset` in `text`. The column counts characters,
// taking each UTF-8 lead byte as one.
std::pair<std::size_t, std::size_t> line_and_column(const std::string& text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\n') {
      ++line;
      column = 1;
    } else if ((byte & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

// Reads the configuration file as text and rejects a file that is not TOML text before parsing.
// The message then names what the file is instead of quoting the TOML parser.
Result<std::string> read_config_text(const std::string& path) {
  const std::string fix =
      "pass the TOML configuration file with --config, for example "
      "config/relaygw.toml";
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::error_code exists_error;
    if (!fs::exists(fs::path(path), exists_error)) {
      return Status(StatusCode::NotFound,
                    fmt::format("configuration file '{}' does not exist; pass an existing file "
                                "with --config, for example config/relaygw.toml",
                                path));
    }
    return Status(StatusCode::PermissionDenied,
                  fmt::format("configuration file '{}' cannot be opened for reading; check its "
                              "permissions",
                              path));
  }

  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) {
    return Status(StatusCode::Unavailable,
                  fmt::format("configuration file '{}' could not be read to the end; check the "
                              "disk and read it again",
                              path));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("configuration file '{}' is empty; copy config/relaygw.toml there "
                              "and edit it, or {}",
                              path, fix));
  }

  // TOML 1.0 allows no control character other than tab, line feed and carriage return
  // anywhere, not even in strings or comments, so one of them means the file is not TOML text.
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') || byte == 0x7F) {
      const auto [line, column] = line_and_column(text, i);
      return Status(StatusCode::InvalidArgument,
                    fmt::format("configuration file '{}' is not a TOML text file: line {}, "
                                "column {} has the control byte 0x{:02X}, so it looks like a "
                                "binary file; {}",
                                path, line, column, byte, fix));
    }
  }

  const std::size_t invalid = find_invalid_utf8(text);
  if (invalid != std::string::npos) {
    const auto [line, column] = line_and_column(text, invalid);
    return Status(StatusCode::InvalidArgument,
                  fmt::format("configuration file '{}' is not a TOML text file: line {}, column {} "
                              "has the byte 0x{:02X}, which is not valid UTF-8; save the file as "
                              "UTF-8",
                              path, line, column, static_cast<unsigned char>(text[invalid])));
  }
  return text;
}

}  // namespace

Result<ServerConfig> load_config(const std::string& path) {
  const fs::path file(path);
  const std::string file_name = file.filename().string();
  std::error_code kind_error;
  if (fs::is_directory(file, kind_error)) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("configuration file '{}' is a folder; pass the TOML file inside "
                              "it with --config, for example {}/relaygw.toml",
                              path, path));
  }
  Result<std::string> text = read_config_text(path);
  if (!text) {
    return text.status();
  }
  toml::table root;
  try {
    root = toml::parse(*text, path);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{}: line {}, column {}: {}; fix the TOML syntax there", file_name,
                              where.line, where.column, error.description()));
  }

  std::error_code absolute_error;
  fs::path folder = fs::absolute(file, absolute_error).parent_path();
  if (absolute_error) {
    folder = file.parent_path();
  }
  ConfigReader reader(file_name, folder);
  ServerConfig config;
  config.source_file = path;
  config.billing.config_file = path;
  // The relative defaults in config.hpp are relative to the file's folder too.
  config.emergency.spool_file = reader.resolve(config.emergency.spool_file);
  config.billing.database = reader.resolve(config.billing.database);

  reader.check_keys(root, "top level",
                    {"worker_threads", "server", "provider_link", "tty_lines", "admin", "psap",
                     "emergency", "billing"});
  std::int64_t workers = config.worker_threads;
  reader.read_int(root, "worker_threads", "top level", 1, 256, "threads", workers);
  config.worker_threads = static_cast<int>(workers);
  read_server(reader, root, config.clock_start);
  read_provider_link(reader, root, config.provider_link);
  read_tty_lines(reader, root, config.tty_lines);
  read_admin(reader, root, config.admin);
  read_emergency(reader, root, config.emergency);
  read_billing(reader, root, config.billing);
  if (!reader.failed() && !config.billing.credit_policy_file.empty()) {
    std::error_code same_error;
    if (fs::equivalent(config.billing.credit_policy_file, file, same_error)) {
      reader.fail("[billing]",
                  fmt::format("credit_policy_file = \"{}\" is this configuration file itself; "
                              "name a credit policy file such as "
                              "data/policy/credit-policy.toml, or remove the key for the "
                              "bundled one",
                              config.billing.credit_policy_file));
    }
  }
  check_listeners(reader, config);
  if (reader.failed()) {
    return reader.status();
  }

  const ProviderLinkConfig& link = config.provider_link;
  if (link.enabled && (link.certificate_file.empty() || link.private_key_file.empty() ||
                       link.client_ca_file.empty())) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{}: [provider_link] needs certificate_file, private_key_file and "
                              "client_ca_file; set all three (`relaygw certs generate` makes "
                              "test ones) or set enabled = false",
                              file_name));
  }
  if (config.admin.enabled && config.admin.token_file.empty()) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{}: [admin] needs token_file, a file whose first line is the "
                              "bearer token; set it or set enabled = false",
                              file_name));
  }
  return config;
}

}  // namespace relaygw::gateway::server
