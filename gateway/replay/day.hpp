// The bundled day of a relay center (data/day/day.toml) that `relaygw replay` drives against a
// running gateway: TTY line calls through the text menu, relay provider sessions over TLS,
// refusals, credits, a dispute and emergency calls under load. data/day/README.md describes
// the file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace relaygw::gateway::replay {

// One thing a TTY line types: the text, and the WAV file (under the day's audio folder) that
// holds it as TTY audio made by an independent modulator.
struct TtyAnswer {
  std::string text;
  std::string audio;  // file name relative to the audio folder
};

struct CardSetup {
  std::string number;
  std::string pin;
  std::string balance;  // dollars, for example "20.00"
};

// A call placed from a TTY line through the gateway's text menu.
struct TtyCall {
  std::string id;
  std::string line;         // the caller's line, E.164
  std::string called_line;  // the called TTY line the replay connects, E.164; may be empty
  std::string billing;      // the billing method the answers choose, for the summary
  std::vector<TtyAnswer> answers;
  std::vector<TtyAnswer> called_answers;  // the called line's answers to the announcement
};

// A call on a relay provider's TLS link. Instants are RFC 3339 text, sent as they are.
struct ProviderCall {
  std::string id;
  std::string provider;  // the client certificate's common name
  std::string service;
  std::string caller;
  std::string location;
  std::string agent;
  std::string to;
  std::string billing;
  std::string caller_name;
  std::string third_number;
  std::string person;
  std::string card;
  std::string pin;
  std::string accept_how;  // empty: no call.accept is sent
  std::string accept_by;
  std::string accept_at;
  std::string connect;  // empty: the call ends at its authorization
  std::string disconnect;
  std::string expect;  // "accepted" or "refused"
};

struct CreditStep {
  std::string call;  // a ProviderCall id
  int line = 1;
  std::string reason;
  std::string amount;  // empty: the credit policy sets it
  std::string key;
};

struct DisputeStep {
  std::string call;  // a ProviderCall id
  int line = 1;
  std::string account;
  std::string adjust;  // dollars credited at resolution; empty: denied
  std::string note;
  std::string key;
};

struct LoadSetup {
  std::string provider;
  int open_sessions = 0;
  int connections = 1;
};

// An emergency call: kind "provider" (a call to 911), "provider-flagged" (a session the
// agent flags) or "tty" (a TTY line dialing 911 through the menu).
struct EmergencyCall {
  std::string id;
  std::string kind;
  std::string provider;
  std::string service;
  std::string caller;
  std::string location;
  std::string agent;
  std::string to;
  std::string text;     // what the caller types after dispatch
  std::string connect;  // RFC 3339; provider kinds only, with disconnect
  std::string disconnect;
  std::string line;  // kind "tty" only
  std::vector<TtyAnswer> answers;
};

struct Day {
  std::string source_file;
  std::string audio_dir;    // the "audio" folder beside the day file
  std::string date;         // YYYY-MM-DD
  std::string clock_start;  // RFC 3339, the gateway clock for TTY line calls
  int tty_talk_seconds = 3;
  std::vector<CardSetup> cards;
  std::vector<TtyCall> tty_calls;
  std::vector<ProviderCall> provider_calls;
  std::vector<CreditStep> credits;
  std::vector<DisputeStep> disputes;
  LoadSetup load;
  std::vector<EmergencyCall> emergencies;

  const ProviderCall* find_provider_call(const std::string& id) const;
  // Every client certificate name the day uses, sorted, without repeats.
  std::vector<std::string> providers() const;
};

// Reads and checks a day file. Errors name the file, the entry and the fix.
Result<Day> load_day(const std::string& path);

}  // namespace relaygw::gateway::replay
