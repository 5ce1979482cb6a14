// The gateway's session and call events: what every relay adapter produces from its outside
// protocol, and the replies the gateway sends back through it.
//
// These types use plain strings and enums, not billing headers, so adapters stay independent
// of billing internals. The gateway maps them to billing types, for example RelayService to
// billing::AccessTag. Wire names, such as "relay-tty" or "calling-card", are the same as the
// billing command-line names. Instants are UTC.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.hpp"
#include "relay-adapters/secret_digits.hpp"

namespace relaygw::relay {

// A UTC instant with millisecond resolution.
using Instant = std::chrono::sys_time<std::chrono::milliseconds>;

// The adapter that produced an event.
enum class Adapter {
  TtyLine,       // (tty-line) one TTY line's audio
  ProviderLink,  // (provider-link) a relay provider's JSON link
};

// The way the caller reaches the gateway, which the gateway maps to the billing access tag.
enum class RelayService {
  Tty,        // (tty) direct TTY
  RelayTty,   // (relay-tty) TTY through a communications assistant
  RelayIp,    // (relay-ip) IP relay
  Captioned,  // (captioned) captioned telephone service
  Video,      // (video) video relay service
  Speech,     // (speech) speech-to-speech relay
};

enum class BillingMethod {
  SentPaid,        // (sent-paid) billed to the calling line
  Collect,         // (collect) billed to the called line after its acceptance
  ThirdParty,      // (third-party) billed to a third line after its acceptance
  PersonToPerson,  // (person-to-person) billed once the named person is reached
  CallingCard,     // (calling-card) billed to a card after PIN verification
};

// The way the billed party accepted the charges.
enum class AcceptanceMethod {
  Voice,    // (voice) spoken to an agent
  TtyText,  // (tty-text) typed on a TTY or relay app
  Keypad,   // (keypad) DTMF digits
};

// Formats `at` as RFC 3339 UTC with milliseconds: "2024-05-01T14:03:22.250Z".
std::string format_instant(Instant at);

// Parses an RFC 3339 date-time ("2024-05-01T14:03:22Z", "2024-05-01T10:03:22.5-04:00") into a
// UTC instant; fractions past milliseconds are truncated. Fails with InvalidArgument naming
// the text and the expected form.
Result<Instant> parse_instant(std::string_view text);

std::string_view to_string(Adapter adapter);
std::string_view to_string(RelayService service);
std::string_view to_string(BillingMethod method);
std::string_view to_string(AcceptanceMethod method);

// Parse the wire names above; std::nullopt for anything else (matching is case-sensitive).
std::optional<RelayService> parse_relay_service(std::string_view name);
std::optional<BillingMethod> parse_billing_method(std::string_view name);
std::optional<AcceptanceMethod> parse_acceptance_method(std::string_view name);

// Inbound events, from an adapter to the gateway.

struct SessionOpened {
  std::string session_id;
  Adapter adapter = Adapter::TtyLine;
  // From the provider's TLS certificate, never from a message body. Empty for a TTY line.
  std::string provider_id;
  RelayService service = RelayService::Tty;
  std::string caller_number;
  std::string caller_location;  // civic address or coordinates as the provider sent them
  std::string agent_id;         // the communications assistant; empty for a TTY line
  bool emergency = false;       // flagged by the provider; the gateway also checks 911
};

struct CallRequested {
  std::string call_id;
  std::string session_id;
  std::string dialed_number;
  BillingMethod billing = BillingMethod::SentPaid;
  SecretDigits card_number{SecretDigits::Kind::CardNumber};  // calling-card only
  SecretDigits pin{SecretDigits::Kind::Pin};                 // calling-card only
  std::string third_number;                                  // third-party only
  std::string person_name;                                   // person-to-person only
  std::string caller_name;  // for the collect or third-party announcement; may be empty
  std::string idempotency_key;
};

struct Acceptance {
  std::string call_id;
  AcceptanceMethod how = AcceptanceMethod::Voice;
  std::string accepted_by;  // the agent or party that took the acceptance
  Instant at{};
  std::string idempotency_key;
};

struct Connected {
  std::string call_id;
  Instant at{};
  std::string idempotency_key;
};

struct Disconnected {
  std::string call_id;
  Instant at{};
  std::string idempotency_key;
};

struct SessionClosed {
  std::string session_id;
};

// Text the caller typed. The gateway forwards it to the PSAP of an emergency session and must
// not store or log it; describe() prints only its length.
struct CallerText {
  std::string session_id;
  std::string text;
};

using InboundEvent = std::variant<SessionOpened, CallRequested, Acceptance, Connected, Disconnected,
                                  SessionClosed, CallerText>;

// Replies, from the gateway back through an adapter.

struct QuoteLine {
  std::string description;
  std::string amount;  // decimal string in the currency unit, for example "1.25"
};

struct Quote {
  std::string call_id;
  std::string total;  // decimal string, for example "4.35"
  std::string currency = "USD";
  std::vector<QuoteLine> lines;
};

struct AuthorizationResult {
  std::string call_id;
  bool accepted = false;
  std::string reason_code;  // empty when accepted, for example "card-locked" when refused
  std::string message;      // plain sentence for the agent or caller
};

// A rejected message: `code` is one of the stable names in docs/protocol.md, `message` names
// the field or value and the fix, and `ref` echoes the message's "id" when it had one.
struct ErrorReply {
  std::string ref;
  std::string code;
  std::string message;
};

// One line for logs, ids first, as key=value pairs. Card numbers and PINs appear masked and
// caller text appears only as its length.
std::string describe(const InboundEvent& event);

}  // namespace relaygw::relay
