#include "gateway/replay/day.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include <toml++/toml.h>

#include "relay-adapters/events.hpp"

namespace relaygw::gateway::replay {
namespace {

// Reads the fields of one table and remembers the first problem, so each entry is checked in
// full before the day is rejected.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string where)
      : table_(table), where_(std::move(where)) {}

  std::string text(const char* key, bool required) {
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      if (required) {
        fail(std::string("missing key \"") + key + "\"; add " + key + " = \"...\"");
      }
      return {};
    }
    if (!node->is_string()) {
      fail(std::string("key \"") + key + "\" must be a string in quotes");
      return {};
    }
    return std::string(*node->value<std::string>());
  }

  int integer(const char* key, int fallback) {
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      return fallback;
    }
    if (!node->is_integer()) {
      fail(std::string("key \"") + key + "\" must be a whole number");
      return fallback;
    }
    return static_cast<int>(*node->value<std::int64_t>());
  }

  std::vector<TtyAnswer> answers(const char* key, bool required) {
    std::vector<TtyAnswer> out;
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      if (required) {
        fail(std::string("missing key \"") + key + "\"; add a list of { text, audio } answers");
      }
      return out;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      fail(std::string("key \"") + key + "\" must be a list of { text, audio } tables");
      return out;
    }
    for (const toml::node& item : *array) {
      const toml::table* answer = item.as_table();
      if (answer == nullptr) {
        fail(std::string("an item of \"") + key + "\" is not a { text, audio } table");
        continue;
      }
      TableReader reader(*answer, where_ + " " + key);
      TtyAnswer parsed{reader.text("text", true), reader.text("audio", true)};
      if (!reader.status().is_ok()) {
        fail(reader.status().message());
      }
      out.push_back(std::move(parsed));
    }
    return out;
  }

  void fail(const std::string& message) {
    if (status_.is_ok()) {
      status_ = Status(StatusCode::InvalidArgument, where_ + ": " + message);
    }
  }

  const Status& status() const { return status_; }

 private:
  const toml::table& table_;
  std::string where_;
  Status status_;
};

// Calls `parse` for each table of the array `key`, naming each entry by its position.
template <typename Parse>
Status for_each_table(const toml::table& root, const char* key, Parse parse) {
  const toml::node* node = root.get(key);
  if (node == nullptr) {
    return Status::ok();
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    return Status(StatusCode::InvalidArgument,
                  std::string("\"") + key + "\" must be an array of tables, [[" + key + "]]");
  }
  int index = 0;
  for (const toml::node& item : *array) {
    ++index;
    const toml::table* table = item.as_table();
    if (table == nullptr) {
      return Status(StatusCode::InvalidArgument, std::string("[[") + key + "]] entry " +
                                                     std::to_string(index) + " is not a table");
    }
    TableReader reader(*table, std::string("[[") + key + "]] entry " + std::to_string(index));
    parse(reader);
    if (!reader.status().is_ok()) {
      return reader.status();
    }
  }
  return Status::ok();
}

ProviderCall parse_provider_call(TableReader& reader) {
  ProviderCall call;
  call.id = reader.text("id", true);
  call.provider = reader.text("provider", true);
  call.service = reader.text("service", true);
  call.caller = reader.text("caller", true);
  call.location = reader.text("location", true);
  call.agent = reader.text("agent", true);
  call.to = reader.text("to", true);
  call.billing = reader.text("billing", true);
  call.caller_name = reader.text("caller_name", false);
  call.third_number = reader.text("third_number", false);
  call.person = reader.text("person", false);
  call.card = reader.text("card", false);
  call.pin = reader.text("pin", false);
  call.accept_how = reader.text("accept_how", false);
  call.accept_by = reader.text("accept_by", false);
  call.accept_at = reader.text("accept_at", false);
  call.connect = reader.text("connect", false);
  call.disconnect = reader.text("disconnect", false);
  call.expect = reader.text("expect", true);
  if (call.expect != "accepted" && call.expect != "refused") {
    reader.fail("expect = \"" + call.expect + "\" is not valid; use \"accepted\" or \"refused\"");
  }
  if (!call.connect.empty() && call.disconnect.empty()) {
    reader.fail("a call with \"connect\" also needs \"disconnect\"");
  }
  if (!call.accept_how.empty() && (call.accept_by.empty() || call.accept_at.empty())) {
    reader.fail("a call with \"accept_how\" also needs \"accept_by\" and \"accept_at\"");
  }
  return call;
}

EmergencyCall parse_emergency(TableReader& reader) {
  EmergencyCall call;
  call.id = reader.text("id", true);
  call.kind = reader.text("kind", true);
  if (call.kind == "tty") {
    call.line = reader.text("line", true);
    call.answers = reader.answers("answers", true);
    return call;
  }
  if (call.kind != "provider" && call.kind != "provider-flagged") {
    reader.fail("kind = \"" + call.kind +
                "\" is not valid; use \"provider\", \"provider-flagged\" or \"tty\"");
    return call;
  }
  call.provider = reader.text("provider", true);
  call.service = reader.text("service", true);
  call.caller = reader.text("caller", true);
  call.location = reader.text("location", true);
  call.agent = reader.text("agent", true);
  call.to = reader.text("to", true);
  call.text = reader.text("text", false);
  call.connect = reader.text("connect", true);
  call.disconnect = reader.text("disconnect", true);
  return call;
}

Status parse_sections(const toml::table& root, Day& day) {
  const toml::table* header = root["day"].as_table();
  if (header == nullptr) {
    return Status(StatusCode::InvalidArgument,
                  "missing [day] table; add [day] with date and clock_start");
  }
  TableReader day_reader(*header, "[day]");
  day.date = day_reader.text("date", true);
  day.clock_start = day_reader.text("clock_start", true);
  day.tty_talk_seconds = day_reader.integer("tty_talk_seconds", 3);
  if (!day_reader.status().is_ok()) {
    return day_reader.status();
  }

  Status status = for_each_table(root, "card", [&](TableReader& reader) {
    day.cards.push_back(CardSetup{reader.text("number", true), reader.text("pin", true),
                                  reader.text("balance", true)});
  });
  if (status.is_ok()) {
    status = for_each_table(root, "tty_call", [&](TableReader& reader) {
      TtyCall call;
      call.id = reader.text("id", true);
      call.line = reader.text("line", true);
      call.called_line = reader.text("called_line", false);
      call.billing = reader.text("billing", true);
      call.answers = reader.answers("answers", true);
      call.called_answers = reader.answers("called_answers", false);
      day.tty_calls.push_back(std::move(call));
    });
  }
  if (status.is_ok()) {
    status = for_each_table(root, "provider_call", [&](TableReader& reader) {
      day.provider_calls.push_back(parse_provider_call(reader));
    });
  }
  if (status.is_ok()) {
    status = for_each_table(root, "credit", [&](TableReader& reader) {
      day.credits.push_back(CreditStep{reader.text("call", true), reader.integer("line", 1),
                                       reader.text("reason", true), reader.text("amount", false),
                                       reader.text("key", true)});
    });
  }
  if (status.is_ok()) {
    status = for_each_table(root, "dispute", [&](TableReader& reader) {
      day.disputes.push_back(DisputeStep{reader.text("call", true), reader.integer("line", 1),
                                         reader.text("account", true), reader.text("adjust", false),
                                         reader.text("note", false), reader.text("key", true)});
    });
  }
  if (status.is_ok()) {
    status = for_each_table(root, "emergency", [&](TableReader& reader) {
      day.emergencies.push_back(parse_emergency(reader));
    });
  }
  if (!status.is_ok()) {
    return status;
  }

  if (const toml::table* load = root["load"].as_table()) {
    TableReader reader(*load, "[load]");
    day.load.provider = reader.text("provider", true);
    day.load.open_sessions = reader.integer("open_sessions", 0);
    day.load.connections = reader.integer("connections", 1);
    if (day.load.open_sessions < 0 || day.load.connections < 1) {
      reader.fail("open_sessions must be 0 or more and connections 1 or more");
    }
    return reader.status();
  }
  return Status::ok();
}

// Every credit and dispute must name a provider call of the day.
Status check_references(const Day& day) {
  for (const CreditStep& credit : day.credits) {
    if (day.find_provider_call(credit.call) == nullptr) {
      return Status(StatusCode::InvalidArgument,
                    "[[credit]] call = \"" + credit.call +
                        "\" names no [[provider_call]]; use the id of a provider call");
    }
  }
  for (const DisputeStep& dispute : day.disputes) {
    if (day.find_provider_call(dispute.call) == nullptr) {
      return Status(StatusCode::InvalidArgument,
                    "[[dispute]] call = \"" + dispute.call +
                        "\" names no [[provider_call]]; use the id of a provider call");
    }
  }
  return Status::ok();
}

// The replay moves the gateway clock forward to each provider step's instant, and the clock
// never goes back, so the steps must be valid instants from clock_start on, in file order.
Status check_step_order(const Day& day) {
  Result<relay::Instant> start = relay::parse_instant(day.clock_start);
  if (!start) {
    return Status(StatusCode::InvalidArgument,
                  "[day] clock_start = \"" + day.clock_start +
                      "\" is not an RFC 3339 instant; write one such as \"2026-03-10T13:00:00Z\"");
  }
  relay::Instant latest = *start;
  std::string latest_name = "[day] clock_start = \"" + day.clock_start + "\"";
  for (const ProviderCall& call : day.provider_calls) {
    for (const auto& [key, text] :
         {std::pair{"accept_at", &call.accept_at}, std::pair{"connect", &call.connect},
          std::pair{"disconnect", &call.disconnect}}) {
      if (text->empty()) {
        continue;
      }
      const std::string name = "[[provider_call]] \"" + call.id + "\" " + key;
      Result<relay::Instant> at = relay::parse_instant(*text);
      if (!at) {
        return Status(StatusCode::InvalidArgument,
                      name + " = \"" + *text +
                          "\" is not an RFC 3339 instant; write one such as "
                          "\"2026-03-10T14:00:45Z\"");
      }
      if (*at < latest) {
        return Status(StatusCode::InvalidArgument,
                      name + " = \"" + *text + "\" is before " + latest_name +
                          "; list the provider calls and their steps in time order, because "
                          "the replay moves the gateway clock forward to each step");
      }
      latest = *at;
      latest_name = name + " = \"" + *text + "\"";
    }
  }
  return Status::ok();
}

}  // namespace

const ProviderCall* Day::find_provider_call(const std::string& id) const {
  auto found = std::find_if(provider_calls.begin(), provider_calls.end(),
                            [&](const ProviderCall& call) { return call.id == id; });
  return found == provider_calls.end() ? nullptr : &*found;
}

std::vector<std::string> Day::providers() const {
  std::set<std::string> names;
  for (const ProviderCall& call : provider_calls) {
    names.insert(call.provider);
  }
  for (const EmergencyCall& call : emergencies) {
    if (!call.provider.empty()) {
      names.insert(call.provider);
    }
  }
  if (!load.provider.empty()) {
    names.insert(load.provider);
  }
  return {names.begin(), names.end()};
}

Result<Day> load_day(const std::string& path) {
  std::error_code kind_error;
  if (!std::filesystem::is_regular_file(path, kind_error)) {
    return Status(StatusCode::NotFound,
                  "day file '" + path +
                      "' does not exist or is not a file; pass --day with a day file such as "
                      "data/day/day.toml");
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    return Status(StatusCode::InvalidArgument,
                  path + ":" + std::to_string(error.source().begin.line) + ": " +
                      std::string(error.description()) + "; fix the TOML syntax there");
  }
  Day day;
  day.source_file = path;
  day.audio_dir = (std::filesystem::path(path).parent_path() / "audio").string();
  Status status = parse_sections(root, day);
  if (status.is_ok()) {
    status = check_references(day);
  }
  if (status.is_ok()) {
    status = check_step_order(day);
  }
  if (!status.is_ok()) {
    return Status(status.code(), path + ": " + status.message());
  }
  return day;
}

}  // namespace relaygw::gateway::replay
