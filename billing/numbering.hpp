// North American Numbering Plan data and the validation and classification of dialed numbers.
// A NumberPlan is loaded once from the data directory (the NANPA NPA report and the
// libphonenumber time zone and geocoding files under nanp/) and is read-only afterwards, so one
// instance may be shared by any number of threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace relaygw::billing {

// Kind of destination a dialed number reaches. Fictional 555-01XX numbers are rated like geographic
// ones.
enum class NumberKind {
  Geographic,           // an assigned NANP area code with a state or province
  Fictional,            // NXX 555, line 0100-0199: reserved for fiction, rated as geographic
  TollFree,             // 800, 833, 844, 855, 866, 877, 888
  Premium,              // NPA 900 or NXX 976
  NonGeographic,        // other non-geographic NANP codes such as 500, 533, 700 and 710
  Emergency,            // 911 (also 1+911 and 0+911 dialing)
  Relay,                // 711, the telecommunications relay service
  DirectoryAssistance,  // 411 and NPA-555-1212
  ServiceCode,          // the other N11 codes: 211, 311, 511, 611, 811
  International,        // outside NANP: 011 + country code, or E.164 with a code other than 1
};

// Dialing prefix in front of the number.
enum class DialPrefix {
  None,           // 10 digits, or a 3-digit N11 code
  One,            // 1 + 10 digits
  Zero,           // 0 + 10 digits: operator-assisted
  International,  // 011 + country code + number
  Plus,           // E.164 "+" form
};

std::string_view to_string(NumberKind kind);
std::string_view to_string(DialPrefix prefix);

// A validated number. Fields that do not apply to the kind are empty.
struct NumberInfo {
  std::string dialed;  // the input as given
  std::string e164;    // "+12125550142"; for N11 codes the three digits, "911"
  NumberKind kind = NumberKind::Geographic;
  DialPrefix prefix = DialPrefix::None;
  std::string npa;           // area code, "212"
  std::string nxx;           // exchange code, "555"
  std::string line;          // last four digits, "0142"
  std::string country_code;  // "1" for NANP, otherwise the ITU country code, "44"
  std::string state;         // NANPA location: "NY", "ONTARIO", "JAMAICA"
  std::string country;       // NANPA country: "US", "CANADA", "JAMAICA"
  // Place name from libphonenumber geocoding, used as the rate center name ("Jersey City, NJ").
  std::string rate_center;
  // True when rate_center names one place: an NPA-NXX entry, or an area code whose only
  // entry is a place ("New York, NY"). False when it is a region name ("New Jersey").
  bool rate_center_exact = false;
  std::string time_zone;  // IANA zone, "America/New_York"

  bool operator_assisted() const { return prefix == DialPrefix::Zero; }
  bool is_nanp() const { return country_code == "1"; }
  // True when the number has a state and time zone, so it can originate a rated call.
  bool is_placed() const { return !state.empty() && !time_zone.empty(); }
};

// Time zones that the numbering data gives for a NANP number.
struct NumberTimeZones {
  // National digits that the zones are given for: an exchange ("312555"), a block of exchanges
  // ("2083" for 208-3XX) or only the area code ("850").
  std::string prefix;
  // IANA zone names as the data spells them, sorted, without repeats. Empty when the data
  // places the number in no zone: numbers outside NANP and non-geographic area codes.
  std::vector<std::string> zones;
};

// Returns true when `dialed` is an emergency number (911, 1911, 0911 or +1911 after removing
// spaces, dashes, dots and brackets). Needs no data, so emergency handling works without it.
bool is_emergency_number(std::string_view dialed);

// Returns the E.164 form that NumberPlan::classify gives `dialed` ("+13125550142", "911" for an
// N11 code, "+442071234567"), without the numbering data. It checks the same dialing form
// (digits, prefix, length, country code, first digits of the area and exchange codes) but not
// whether the area code is assigned, so it also accepts some numbers that classify rejects.
// Fails with InvalidArgument and the message classify gives for a malformed number.
Result<std::string> e164_form(std::string_view dialed);

// Returns the data directory to use when no --data-dir is given: $RELAYGW_DATA_DIR if set,
// otherwise the repository's data/ folder as compiled in.
std::filesystem::path default_data_dir();

class NumberPlan {
 public:
  // Loads nanp/nanpa_npa_report_2018-10-04.csv, nanp/libphonenumber_timezones_map_data.txt
  // and nanp/libphonenumber_geocoding_en_1.txt from `data_dir`. Fails with NotFound naming
  // the missing file, or Corrupt naming the file and line that cannot be read.
  static Result<NumberPlan> load(const std::filesystem::path& data_dir);

  NumberPlan(NumberPlan&&) noexcept;
  NumberPlan& operator=(NumberPlan&&) noexcept;
  ~NumberPlan();

  // Validates and classifies `dialed`. Spaces, dashes, dots and brackets are ignored. Fails
  // with InvalidArgument and a message naming the bad value (wrong length, letters, an area
  // or exchange code starting with 0 or 1, an unassigned area code, an unknown country code).
  Result<NumberInfo> classify(std::string_view dialed) const;

  // Returns the time zones that the data allows for `info`, a number that `classify` returned.
  // The longest libphonenumber prefix that covers the exchange decides when the data has one.
  // Otherwise the area code decides, and it allows every zone that any of its prefixes names
  // and, when the NANPA report gives it several zone letters (915 is "CM"), each of those.
  // So an area code that spans zones accepts each of them.
  NumberTimeZones time_zones(const NumberInfo& info) const;

  // Number of area codes and prefixes loaded, for start-up logs.
  std::size_t area_code_count() const;
  std::size_t prefix_count() const;

 private:
  struct Data;
  explicit NumberPlan(std::unique_ptr<Data> data);
  std::unique_ptr<Data> data_;
};

}  // namespace relaygw::billing
