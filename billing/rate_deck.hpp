// Rate deck: the tariff data that the Rater applies, loaded from TOML files that staff read
// and edit (the format is described in docs/rate-deck.md). A deck holds one or more versions,
// each in force from its effective date; a call is rated by the version in force at its
// start. A loaded deck is read-only, so one instance may be shared by any number of threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "billing/call_types.hpp"
#include "billing/money.hpp"
#include "common/status.hpp"

namespace relaygw::billing {

// The largest amount a deck may give for any price, surcharge, tax base or fee: $10,000. It
// keeps every product the rater forms (a price times a day of seconds, a line times basis
// points) well inside 64-bit integers.
inline constexpr Money kLargestDeckAmount = 10'000 * kUnitsPerDollar;

// Jurisdiction of a call, decided from the two numbers (see rating.hpp).
enum class Jurisdiction { Local, IntraLata, InterLataIntrastate, Interstate, International };

std::string_view to_string(Jurisdiction jurisdiction);  // "local", "intralata", ...
std::optional<Jurisdiction> parse_jurisdiction(std::string_view name);

// Weekdays use 0 = Sunday .. 6 = Saturday, as std::chrono::weekday::c_encoding does.
struct PeriodRule {
  std::string period;             // name of the rate period, such as "day"
  std::uint8_t weekday_mask = 0;  // bit w set for weekday w
  int start_minute = 0;           // local minute of the day the period starts, inclusive
  int end_minute = 0;             // local minute it ends, exclusive; 1440 means midnight
};

// A calendar date in the originating rate center's local time.
struct LocalDate {
  int year = 0;
  int month = 0;
  int day = 0;
  friend bool operator==(const LocalDate&, const LocalDate&) = default;
  friend auto operator<=>(const LocalDate&, const LocalDate&) = default;
};

struct PeriodPrice {
  std::string period;
  Money per_minute = 0;  // units per minute
};

// One usage rate: what a minute costs in each period for one jurisdiction and mileage band,
// or for one international destination prefix.
struct UsageRate {
  Jurisdiction jurisdiction = Jurisdiction::Interstate;
  std::optional<int> max_miles;       // band upper limit, inclusive; none = any distance
  std::vector<std::string> prefixes;  // international only: E.164 digit prefixes, "44"
  std::vector<PeriodPrice> prices;
  Money connect = 0;                   // per answered call
  std::optional<int> initial_seconds;  // overrides the version's increments when set
  std::optional<int> additional_seconds;
  std::string source;  // "file:line" of the entry, for messages
};

// A per-call surcharge for a billing method, optionally limited to a handling.
struct Surcharge {
  BillingMethod billing = BillingMethod::SentPaid;
  std::optional<Handling> handling;  // none = both
  std::vector<AccessTag> access;     // empty = every access tag
  Money amount = 0;
  std::string description;
};

struct Tax {
  std::string name;
  std::vector<Jurisdiction> jurisdictions;  // empty = all
  std::vector<std::string> states;          // originating state; empty = all
  std::int64_t basis_points = 0;            // 1% = 100 basis points, of the taxable charges
};

struct Fee {
  std::string name;
  std::vector<Jurisdiction> jurisdictions;  // empty = all
  std::vector<std::string> states;          // originating state; empty = all
  Money amount = 0;                         // per answered call
};

// Discount on usage charges for text telephone users in one state.
struct TtyDiscount {
  std::string state;                        // originating state, "CA"
  std::int64_t basis_points = 0;            // 5000 = 50% off usage
  std::vector<AccessTag> access;            // access tags that qualify on their own
  bool eligible_line_qualifies = true;      // a TTY-discount-eligible billed line also qualifies
  std::vector<Jurisdiction> jurisdictions;  // empty = all
};

struct Accessibility {
  // Always true: the Rater rates emergency calls to zero before it reads any deck.
  bool emergency_free = true;
  // Always true: the Rater bills only the conversation seconds it is given, never relay time.
  bool relay_service_free = true;
  bool cap_at_voice = true;  // toll charges never above the equivalent voice call
  // Handling that an operator-handled relay call is surcharged as: the communications
  // assistant's work is the relay service, which is not charged as operator assistance.
  Handling relay_handling = Handling::Automated;
  std::vector<TtyDiscount> tty_discounts;
  // What the relay service fund (the TRS fund) pays per conversation minute for each relay
  // service, in units. The caller never pays it; it is posted to the fund's ledger account.
  // A relay service not listed is posted at zero.
  std::vector<std::pair<AccessTag, Money>> relay_fund_per_minute;
};

struct ServiceCodeCharge {
  std::string code;  // "411"
  Money amount = 0;
  std::string description;
};

// A calling plan a line can subscribe to instead of paying deck rates call by call. Plan
// minutes replace only usage charges: surcharges and fees of the payment method still apply.
struct CallingPlan {
  std::string name;  // "Relay Saver 300"
  std::string description;
  Money monthly_fee = 0;
  std::int64_t included_minutes = 0;  // per month, used before any per-minute charge
  // Per-minute rate after the included minutes, by jurisdiction; a jurisdiction not listed
  // keeps the deck's rate for the call's period.
  std::vector<std::pair<Jurisdiction, Money>> per_minute;
  bool tty_discount = true;  // the state TTY discount still applies to plan usage
};

struct RateDeckVersion {
  std::string name;
  LocalDate effective;  // in force from 00:00 of this date in the originating local time
  std::string source;   // file the version came from
  CentRounding rounding = CentRounding::HalfUp;
  int initial_seconds = 60;
  int additional_seconds = 60;
  int minimum_seconds = 0;
  std::vector<PeriodRule> period_rules;  // first match wins
  std::string default_period = "night";
  std::vector<LocalDate> holidays;  // sorted
  std::string holiday_period = "night";
  std::vector<UsageRate> rates;
  std::vector<Surcharge> surcharges;
  std::vector<Tax> taxes;
  std::vector<Fee> fees;
  Accessibility accessibility;
  std::optional<Money> premium_per_minute;  // NPA 900 and NXX 976 calls; none = not rated
  std::vector<ServiceCodeCharge> service_codes;
  std::vector<CallingPlan> plans;
};

// V&H coordinates of a rate center, keyed by the rate center name the number plan returns.
struct RateCenterCoordinates {
  std::string rate_center;  // "Jersey City, NJ"
  int v = 0;
  int h = 0;
};

struct RateDeckSource;

class RateDeck {
 public:
  // Parses one TOML document; `source_name` names it in error messages. Fails with
  // InvalidArgument naming the source, line, key, bad value and the fix.
  static Result<RateDeck> parse(std::string_view toml_text, std::string_view source_name);
  // Loads one .toml file, or every regular file named *.toml in a directory, as
  // read_rate_deck reads them, and returns the deck alone.
  static Result<RateDeck> load(const std::filesystem::path& path,
                               std::string_view option = "--deck");

  // Returns the version in force on `local_date`, or nullptr when the date is before every
  // version's effective date.
  const RateDeckVersion* version_for(const LocalDate& local_date) const;

  // Returns the V&H coordinates of `rate_center`, or nullptr when the deck has none.
  const RateCenterCoordinates* coordinates(std::string_view rate_center) const;

  const std::vector<RateDeckVersion>& versions() const { return versions_; }
  const std::string& name() const { return name_; }
  // Lowercase hex SHA-256 of the text that parse() read, so a caller can tell whether a stored
  // deck's text is this deck. Empty for a deck that load() read.
  const std::string& text_sha256() const { return text_sha256_; }

 private:
  // Parses like parse(); with `require_versions` off, a document without [[version]] tables
  // (one file of a folder deck) is accepted.
  static Result<RateDeck> parse_document(std::string_view toml_text, std::string_view source_name,
                                         bool require_versions);
  Status merge(RateDeck&& other);

  friend Result<RateDeckSource> read_rate_deck(const std::filesystem::path& path,
                                               std::string_view option);

  std::string name_;
  std::vector<RateDeckVersion> versions_;  // sorted by effective date
  std::vector<RateCenterCoordinates> coordinates_;
  std::string text_sha256_;
};

// One .toml file of a rate deck, as it was read.
struct RateDeckFile {
  std::string name;  // file name without its folder, "example.toml"
  std::string text;
};

// A rate deck with the text it was read from, so that it can be stored and parsed again.
struct RateDeckSource {
  RateDeck deck;
  std::vector<RateDeckFile> files;  // in the order they were read, which is name order
  // One TOML document that RateDeck::parse reads as `deck`. For one file it is that file's
  // text. For a folder it has the deck's name, then every file's [[rate_center]] and
  // [[version]] tables in file order, and keeps no comments.
  std::string merged_text;
};

// Reads one .toml file, or every regular file named *.toml in a directory, in byte order of
// their names. A folder's rate centers and versions are merged, and only the merged deck
// needs a version; two versions with one effective date are an error. Subfolders and other
// names are skipped; a FIFO, socket, device or broken link named *.toml is rejected unread.
// `option` is the command-line option that errors tell the user to fix. For a folder, fails
// with Internal when merged_text would not parse into the same versions as the files.
Result<RateDeckSource> read_rate_deck(const std::filesystem::path& path,
                                      std::string_view option = "--deck");

// Returns the V&H distance in miles between two points, rounded up:
// sqrt(((v1 - v2)^2 + (h1 - h2)^2) / 10).
int vh_distance_miles(int v1, int h1, int v2, int h2);

}  // namespace relaygw::billing
