// Relay provider link replies: the gateway's messages back to a provider, one JSON object per
// line. docs/protocol.md shows each with an example.
//
// None of these messages carries a card number or PIN: the protocol never sends them back.
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::relay::provider_link {

// {"type":"quote",...}. Fails with InvalidArgument when the total or a line amount is not a
// decimal string such as "4.35" or "-0.50" (digits, optionally one '.' and 1 to 4 decimals).
Result<std::string> serialize_quote(const Quote& quote, std::string_view ref = {});

// {"type":"authorization","result":"accepted"|"refused",...}. Fails with InvalidArgument when
// a refusal has no reason code.
Result<std::string> serialize_authorization(const AuthorizationResult& result,
                                            std::string_view ref = {});

// {"type":"ack","of":<message type>,...}: the message was accepted. `of` is the type of the
// acknowledged message, for example "call.connect"; `id` is its session or call id.
std::string serialize_ack(std::string_view of, std::string_view id, std::string_view ref = {});

// {"type":"error","code":...,"message":...}, with "ref" when error.ref is set.
std::string serialize_error(const ErrorReply& error);

// The type of the message an event came from, for serialize_ack: "call.request" and so on.
std::string_view message_type(const InboundEvent& event);

// The session or call id an event names: the call id for call messages.
std::string_view subject_id(const InboundEvent& event);

}  // namespace relaygw::relay::provider_link
