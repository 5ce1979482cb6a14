#include "billing/store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <sstream>

#include <date/date.h>
#include <openssl/evp.h>

namespace relaygw::billing {
namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> find_name(const std::array<std::pair<Enum, std::string_view>, N>& names,
                              std::string_view name) {
  for (const auto& [value, text] : names) {
    if (text == name) {
      return value;
    }
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                         Enum value) {
  for (const auto& [candidate, text] : names) {
    if (candidate == value) {
      return text;
    }
  }
  return "unknown";
}

constexpr std::array<std::pair<LineType, std::string_view>, 7> kLineTypes{{
    {LineType::Residential, "residential"},
    {LineType::Business, "business"},
    {LineType::Payphone, "payphone"},
    {LineType::Inmate, "inmate"},
    {LineType::Hotel, "hotel"},
    {LineType::Cellular, "cellular"},
    {LineType::Government, "government"},
}};

constexpr std::array<std::pair<Screening, std::string_view>, 4> kScreenings{{
    {Screening::None, "none"},
    {Screening::NoCollect, "no-collect"},
    {Screening::NoThirdNumber, "no-third-number"},
    {Screening::Both, "both"},
}};

constexpr std::array<std::pair<CardStatus, std::string_view>, 3> kCardStatuses{{
    {CardStatus::Active, "active"},
    {CardStatus::Locked, "locked"},
    {CardStatus::Closed, "closed"},
}};

constexpr std::array<std::pair<CardFunding, std::string_view>, 2> kCardFundings{{
    {CardFunding::Postpaid, "postpaid"},
    {CardFunding::Prepaid, "prepaid"},
}};

constexpr std::array<std::pair<LedgerKind, std::string_view>, 6> kLedgerKinds{{
    {LedgerKind::Credit, "credit"},
    {LedgerKind::Hold, "hold"},
    {LedgerKind::Release, "release"},
    {LedgerKind::Debit, "debit"},
    {LedgerKind::Refund, "refund"},
    {LedgerKind::Payment, "payment"},
}};

constexpr std::array<std::pair<CallEvent, std::string_view>, 10> kCallEvents{{
    {CallEvent::Requested, "requested"},
    {CallEvent::Validated, "validated"},
    {CallEvent::Quoted, "quoted"},
    {CallEvent::Authorized, "authorized"},
    {CallEvent::Announced, "announced"},
    {CallEvent::Accepted, "accepted"},
    {CallEvent::Connected, "connected"},
    {CallEvent::Disconnected, "disconnected"},
    {CallEvent::Refused, "refused"},
    {CallEvent::PsapAcknowledged, "psap-acknowledged"},
}};

constexpr std::array<std::pair<AcceptanceMethod, std::string_view>, 3> kAcceptanceMethods{{
    {AcceptanceMethod::Voice, "voice"},
    {AcceptanceMethod::TtyText, "tty-text"},
    {AcceptanceMethod::Keypad, "keypad"},
}};

}  // namespace

std::string_view to_string(LineType type) { return name_of(kLineTypes, type); }
std::string_view to_string(Screening screening) { return name_of(kScreenings, screening); }
std::string_view to_string(CardStatus status) { return name_of(kCardStatuses, status); }
std::string_view to_string(CardFunding funding) { return name_of(kCardFundings, funding); }
std::string_view to_string(LedgerKind kind) { return name_of(kLedgerKinds, kind); }
std::string_view to_string(CallEvent event) { return name_of(kCallEvents, event); }
std::string_view to_string(AcceptanceMethod method) { return name_of(kAcceptanceMethods, method); }

std::optional<LineType> parse_line_type(std::string_view name) {
  return find_name(kLineTypes, name);
}
std::optional<Screening> parse_screening(std::string_view name) {
  return find_name(kScreenings, name);
}
std::optional<CardStatus> parse_card_status(std::string_view name) {
  return find_name(kCardStatuses, name);
}
std::optional<CardFunding> parse_card_funding(std::string_view name) {
  return find_name(kCardFundings, name);
}
std::optional<LedgerKind> parse_ledger_kind(std::string_view name) {
  return find_name(kLedgerKinds, name);
}
std::optional<CallEvent> parse_call_event(std::string_view name) {
  return find_name(kCallEvents, name);
}
std::optional<AcceptanceMethod> parse_acceptance_method(std::string_view name) {
  return find_name(kAcceptanceMethods, name);
}

namespace {

// Writes `value` as `width` decimal digits, zero-padded, ending just before `end`.
void write_digits(char* end, unsigned value, int width) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string format_instant(Instant instant) {
  const auto day = std::chrono::floor<date::days>(instant);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<std::chrono::seconds> time(instant - day);
  const int year = static_cast<int>(ymd.year());
  const auto hours = static_cast<unsigned>(time.hours().count());
  const auto minutes = static_cast<unsigned>(time.minutes().count());
  const auto seconds = static_cast<unsigned>(time.seconds().count());
  if (year < 0 || year > 9999) {
    char text[32];
    std::snprintf(text, sizeof(text), "%04d-%02u-%02uT%02u:%02u:%02uZ", year,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hours,
                  minutes, seconds);
    return text;
  }
  // Hand-formatted: date::format goes through iostreams, which cost a third of the posting
  // time in bench/posting_bench, and snprintf still cost about 3% of its instructions.
  std::string text = "0000-00-00T00:00:00Z";
  char* digits = text.data();
  write_digits(digits + 4, static_cast<unsigned>(year), 4);
  write_digits(digits + 7, static_cast<unsigned>(ymd.month()), 2);
  write_digits(digits + 10, static_cast<unsigned>(ymd.day()), 2);
  write_digits(digits + 13, hours, 2);
  write_digits(digits + 16, minutes, 2);
  write_digits(digits + 19, seconds, 2);
  return text;
}

namespace {

// The UTC offsets in use run from -12:00 (IANA zone Etc/GMT+12) to +14:00
// (Pacific/Kiritimati), so an offset outside that range is a typo.
constexpr int kMinOffsetMinutes = -12 * 60;
constexpr int kMaxOffsetMinutes = 14 * 60;

// Returns the number written by the `count` digits at `position`, or -1 when one is not a digit.
int read_digits(std::string_view text, std::size_t position, std::size_t count) {
  if (position + count > text.size()) {
    return -1;
  }
  int value = 0;
  for (std::size_t i = position; i < position + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return -1;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Returns the offset east of UTC in minutes for "Z", "+HH:MM" or "-HH:MM", or a message naming
// the fault.
Result<int> read_offset(std::string_view offset) {
  if (offset == "Z" || offset == "z") {
    return 0;
  }
  if (offset.empty()) {
    return Status(StatusCode::InvalidArgument, "the offset is missing");
  }
  const int hours = read_digits(offset, 1, 2);
  const int minutes = read_digits(offset, 4, 2);
  if (offset.size() != 6 || (offset[0] != '+' && offset[0] != '-') || offset[3] != ':' ||
      hours < 0 || minutes < 0) {
    return Status(StatusCode::InvalidArgument,
                  "the offset '" + std::string(offset) + "' is not Z, +HH:MM or -HH:MM");
  }
  if (minutes > 59) {
    return Status(StatusCode::InvalidArgument,
                  "the offset '" + std::string(offset) + "' has minutes above 59");
  }
  const int total = (offset[0] == '-' ? -1 : 1) * (hours * 60 + minutes);
  if (total < kMinOffsetMinutes || total > kMaxOffsetMinutes) {
    return Status(StatusCode::InvalidArgument,
                  "the offset '" + std::string(offset) + "' is outside -12:00 to +14:00");
  }
  return total;
}

}  // namespace

Result<Instant> parse_instant(std::string_view text) {
  const auto invalid = [text](const std::string& fault) {
    return Status(StatusCode::InvalidArgument,
                  "invalid time '" + std::string(text) + "': " + fault +
                      "; use ISO 8601 with an offset, for example 2026-03-10T14:00:00Z or "
                      "2026-03-10T09:00:00-05:00");
  };

  // Layout: YYYY-MM-DDTHH:MM[:SS] then Z, +HH:MM or -HH:MM.
  const int year = read_digits(text, 0, 4);
  const int month = read_digits(text, 5, 2);
  const int day = read_digits(text, 8, 2);
  const int hour = read_digits(text, 11, 2);
  const int minute = read_digits(text, 14, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || text[4] != '-' ||
      text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':') {
    return invalid("it does not start with YYYY-MM-DDTHH:MM");
  }
  std::size_t offset_at = 16;
  int second = 0;
  if (text.size() > 16 && text[16] == ':') {
    second = read_digits(text, 17, 2);
    if (second < 0) {
      return invalid("the seconds are not two digits");
    }
    offset_at = 19;
  }
  if (offset_at < text.size() && (text[offset_at] == '.' || text[offset_at] == ',')) {
    return invalid("fractional seconds are not accepted; write whole seconds");
  }
  Result<int> offset_minutes = read_offset(text.substr(std::min(offset_at, text.size())));
  if (!offset_minutes) {
    return invalid(offset_minutes.status().message());
  }

  const date::year_month_day ymd{date::year(year), date::month(static_cast<unsigned>(month)),
                                 date::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) {
    return invalid(std::string(text.substr(0, 10)) + " is not a calendar date");
  }
  if (hour > 23) {
    return invalid("hour " + std::to_string(hour) + " is above 23");
  }
  if (minute > 59) {
    return invalid("minute " + std::to_string(minute) + " is above 59");
  }
  if (second > 60) {
    return invalid("second " + std::to_string(second) + " is above 59");
  }

  const Instant instant = date::sys_days(ymd) + std::chrono::hours(hour) +
                          std::chrono::minutes(minute - *offset_minutes) +
                          std::chrono::seconds(std::min(second, 59));
  if (second == 60) {
    // Every leap second so far (the tz database's leapseconds file, 27 of them) was inserted
    // at 23:59:60 UTC on 30 June or 31 December. Instant has no leap seconds, so it becomes
    // 23:59:59, as POSIX time does.
    const auto utc_day = std::chrono::floor<date::days>(instant);
    const date::year_month_day utc_date(utc_day);
    const bool leap_day = (utc_date.month() == date::June && utc_date.day() == date::day(30)) ||
                          (utc_date.month() == date::December && utc_date.day() == date::day(31));
    if (!leap_day || instant - utc_day != std::chrono::seconds(86'399)) {
      return invalid(
          "second 60 is valid only for a leap second, 23:59:60 UTC on 30 June or 31 "
          "December");
    }
  }
  return instant;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

}  // namespace relaygw::billing
