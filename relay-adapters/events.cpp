#include "relay-adapters/events.hpp"

#include <array>
#include <cstdio>
#include <sstream>
#include <utility>

namespace relaygw::relay {
namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> find_name(const std::array<std::pair<Enum, std::string_view>, N>& names,
                              std::string_view name) {
  for (const auto& [value, wire] : names) {
    if (wire == name) {
      return value;
    }
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                         Enum value) {
  for (const auto& [candidate, wire] : names) {
    if (candidate == value) {
      return wire;
    }
  }
  return "unknown";
}

constexpr std::array<std::pair<RelayService, std::string_view>, 6> kServiceNames{{
    {RelayService::Tty, "tty"},
    {RelayService::RelayTty, "relay-tty"},
    {RelayService::RelayIp, "relay-ip"},
    {RelayService::Captioned, "captioned"},
    {RelayService::Video, "video"},
    {RelayService::Speech, "speech"},
}};

constexpr std::array<std::pair<BillingMethod, std::string_view>, 5> kBillingNames{{
    {BillingMethod::SentPaid, "sent-paid"},
    {BillingMethod::Collect, "collect"},
    {BillingMethod::ThirdParty, "third-party"},
    {BillingMethod::PersonToPerson, "person-to-person"},
    {BillingMethod::CallingCard, "calling-card"},
}};

constexpr std::array<std::pair<AcceptanceMethod, std::string_view>, 3> kAcceptanceNames{{
    {AcceptanceMethod::Voice, "voice"},
    {AcceptanceMethod::TtyText, "tty-text"},
    {AcceptanceMethod::Keypad, "keypad"},
}};

// Reads `count` digits at `pos` into `value`; false when any is not a digit.
bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int& value) {
  if (pos + count > text.size()) {
    return false;
  }
  value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

Status invalid_instant(std::string_view text, std::string_view problem) {
  return Status(StatusCode::InvalidArgument,
                "invalid timestamp \"" + std::string(text.substr(0, 40)) + "\": " +
                    std::string(problem) +
                    "; send RFC 3339 with Z or an offset, such as \"2024-05-01T14:03:22Z\"");
}

struct Describer {
  std::ostringstream& out;

  void operator()(const SessionOpened& e) const {
    out << "event=session.open session=" << e.session_id << " adapter=" << to_string(e.adapter)
        << " provider=" << e.provider_id << " service=" << to_string(e.service)
        << " caller=" << e.caller_number << " agent=" << e.agent_id
        << " emergency=" << (e.emergency ? "true" : "false");
  }
  void operator()(const CallRequested& e) const {
    out << "event=call.request session=" << e.session_id << " call=" << e.call_id
        << " to=" << e.dialed_number << " billing=" << to_string(e.billing);
    if (!e.card_number.empty()) {
      out << " card=" << e.card_number;
    }
    if (!e.pin.empty()) {
      out << " pin=" << e.pin;
    }
    if (!e.third_number.empty()) {
      out << " third_number=" << e.third_number;
    }
    out << " key=" << e.idempotency_key;
  }
  void operator()(const Acceptance& e) const {
    out << "event=call.accept call=" << e.call_id << " how=" << to_string(e.how)
        << " by=" << e.accepted_by << " at=" << format_instant(e.at)
        << " key=" << e.idempotency_key;
  }
  void operator()(const Connected& e) const {
    out << "event=call.connect call=" << e.call_id << " at=" << format_instant(e.at)
        << " key=" << e.idempotency_key;
  }
  void operator()(const Disconnected& e) const {
    out << "event=call.disconnect call=" << e.call_id << " at=" << format_instant(e.at)
        << " key=" << e.idempotency_key;
  }
  void operator()(const SessionClosed& e) const {
    out << "event=session.close session=" << e.session_id;
  }
  void operator()(const CallerText& e) const {
    out << "event=session.text session=" << e.session_id << " chars=" << e.text.size();
  }
};

}  // namespace

std::string format_instant(Instant at) {
  const auto day = std::chrono::floor<std::chrono::days>(at);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{at - day};
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
                static_cast<int>(time.subseconds().count()));
  return buffer;
}

Result<Instant> parse_instant(std::string_view text) {
  // Date and time: YYYY-MM-DDTHH:MM:SS, with 't' or ' ' accepted for the 'T' as RFC 3339 allows.
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, hour) ||
      text[13] != ':' || !read_digits(text, 14, 2, minute) || text[16] != ':' ||
      !read_digits(text, 17, 2, second)) {
    return invalid_instant(text, "expected YYYY-MM-DDTHH:MM:SS");
  }
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) {
    return invalid_instant(text, "no such date");
  }
  // A leap second (:60) is not representable in sys_time and is rejected.
  if (hour > 23 || minute > 59 || second > 59) {
    return invalid_instant(text, "time of day out of range");
  }

  // Optional fraction, then the offset.
  std::size_t pos = 19;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t first = pos;
    int scale = 100;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first) {
      return invalid_instant(text, "missing digits after '.'");
    }
  }
  std::chrono::minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offset_hours = 0;
    int offset_minutes = 0;
    if (!read_digits(text, pos + 1, 2, offset_hours) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, offset_minutes) ||
        offset_hours > 23 || offset_minutes > 59) {
      return invalid_instant(text, "invalid UTC offset, expected +HH:MM or -HH:MM");
    }
    offset = std::chrono::hours{offset_hours} + std::chrono::minutes{offset_minutes};
    if (text[pos] == '-') {
      offset = -offset;
    }
    pos += 6;
  } else {
    return invalid_instant(text, "missing UTC offset, end it with 'Z' or +HH:MM");
  }
  if (pos != text.size()) {
    return invalid_instant(text, "unexpected text after the offset");
  }

  const Instant local = std::chrono::sys_days{date} + std::chrono::hours{hour} +
                        std::chrono::minutes{minute} + std::chrono::seconds{second} +
                        std::chrono::milliseconds{millis};
  return Instant{local - offset};
}

std::string_view to_string(Adapter adapter) {
  return adapter == Adapter::TtyLine ? "tty-line" : "provider-link";
}

std::string_view to_string(RelayService service) { return name_of(kServiceNames, service); }
std::string_view to_string(BillingMethod method) { return name_of(kBillingNames, method); }
std::string_view to_string(AcceptanceMethod method) { return name_of(kAcceptanceNames, method); }

std::optional<RelayService> parse_relay_service(std::string_view name) {
  return find_name(kServiceNames, name);
}

std::optional<BillingMethod> parse_billing_method(std::string_view name) {
  return find_name(kBillingNames, name);
}

std::optional<AcceptanceMethod> parse_acceptance_method(std::string_view name) {
  return find_name(kAcceptanceNames, name);
}

std::string describe(const InboundEvent& event) {
  std::ostringstream out;
  std::visit(Describer{out}, event);
  return out.str();
}

}  // namespace relaygw::relay
