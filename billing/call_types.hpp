// Vocabulary shared by every part of billing: how a call is paid for, how the caller reached
// the network (the accessibility access tag), and whether an operator handled it.
#pragma once

#include <optional>
#include <string_view>

namespace relaygw::billing {

// Payment method. The command-line and wire names are in parentheses.
enum class BillingMethod {
  SentPaid,        // (sent-paid) billed to the calling line
  Collect,         // (collect) billed to the called line after its acceptance
  ThirdNumber,     // (third-party) billed to a third line after its acceptance
  PersonToPerson,  // (person-to-person) surcharge only when the named person is reached
  CallingCard,     // (calling-card) billed to a card after PIN verification
};

// How the caller reached the call: changes the accessibility billing treatment.
enum class AccessTag {
  None,       // (none) ordinary voice call
  Tty,        // (tty) direct TTY to TTY
  RelayTty,   // (relay-tty) TTY through a relay communications assistant
  RelayIp,    // (relay-ip) IP relay
  Captioned,  // (captioned) captioned telephone service
  Video,      // (video) video relay service
  Speech,     // (speech) speech-to-speech relay
};

enum class Handling { Automated, OperatorAssisted };

// Handling of a call when staff name none. Relay center staff place quoted and created calls
// from an operator position, and `relaygw quote`, POST /quote and `relaygw call create` all
// use this default, so a quote and the call it describes are rated alike.
inline constexpr Handling kDefaultHandling = Handling::OperatorAssisted;

std::string_view to_string(BillingMethod method);
std::string_view to_string(AccessTag tag);
std::string_view to_string(Handling handling);

// Parse the names above; std::nullopt for anything else.
std::optional<BillingMethod> parse_billing_method(std::string_view name);
std::optional<AccessTag> parse_access_tag(std::string_view name);
std::optional<Handling> parse_handling(std::string_view name);

// True for the relay services whose own cost is paid by relay funds, never by the caller.
bool is_relay_service(AccessTag tag);

}  // namespace relaygw::billing
