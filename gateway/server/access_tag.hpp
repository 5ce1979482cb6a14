// The billing access tag of each relay service, shared by the call service and the emergency
// spool, which both open calls in billing.
#pragma once

#include "billing/call_types.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::gateway::server {

inline billing::AccessTag access_tag(relay::RelayService service) {
  switch (service) {
    case relay::RelayService::Tty:
      return billing::AccessTag::Tty;
    case relay::RelayService::RelayTty:
      return billing::AccessTag::RelayTty;
    case relay::RelayService::RelayIp:
      return billing::AccessTag::RelayIp;
    case relay::RelayService::Captioned:
      return billing::AccessTag::Captioned;
    case relay::RelayService::Video:
      return billing::AccessTag::Video;
    case relay::RelayService::Speech:
      return billing::AccessTag::Speech;
  }
  return billing::AccessTag::None;
}

}  // namespace relaygw::gateway::server
