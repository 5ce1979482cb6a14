#include "billing/numbering.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <date/tz.h>

#include "billing/next_step.hpp"
#include "common/card_digits.hpp"

#ifndef RELAYGW_DEFAULT_DATA_DIR
#define RELAYGW_DEFAULT_DATA_DIR "data"
#endif

namespace relaygw::billing {
namespace {

constexpr std::string_view kNpaReportFile = "nanp/nanpa_npa_report_2018-10-04.csv";
constexpr std::string_view kTimeZonesFile = "nanp/libphonenumber_timezones_map_data.txt";
constexpr std::string_view kGeocodingFile = "nanp/libphonenumber_geocoding_en_1.txt";

constexpr std::array<std::string_view, 7> kTollFreeNpas = {"800", "833", "844", "855",
                                                           "866", "877", "888"};

struct AreaCode {
  bool assigned = false;
  bool geographic = false;
  std::string state;
  std::string country;
  std::string nanpa_time_zone;  // NANPA letter code: "E", "C", "(UTC-10)"
};

// Prefix keys pack the digit count with the digits, so "1208" and "01208" differ.
std::uint64_t prefix_key(std::string_view digits) {
  std::uint64_t key = digits.size();
  for (char c : digits) {
    key = key * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return key;
}

bool all_digits(std::string_view text) {
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return !text.empty();
}

// Splits one CSV record; quoted fields may contain commas and doubled quotes.
std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

Status missing_file(const std::filesystem::path& path) {
  return failed_with_step(StatusCode::NotFound,
                          "number plan file '" + path.string() + "' not found",
                          {NextStep::Kind::SetDataDir, ""});
}

// Maps NANPA's time zone letters to an IANA zone, for area codes libphonenumber lacks.
std::string zone_from_nanpa(std::string_view code) {
  static const std::unordered_map<std::string_view, std::string_view> kZones = {
      {"E", "America/New_York"},        {"C", "America/Chicago"},
      {"M", "America/Denver"},          {"P", "America/Los_Angeles"},
      {"A", "America/Halifax"},         {"(UTC-10)", "Pacific/Honolulu"},
      {"(UTC-9)", "America/Anchorage"}, {"(UTC+10)", "Pacific/Guam"},
      {"UTC-11", "Pacific/Pago_Pago"},
  };
  // Several letters ("EC") mean the area spans zones; the first is used.
  const bool letters = !code.empty() && code[0] != '(' && code[0] != 'U';
  const auto it = kZones.find(letters ? code.substr(0, 1) : code);
  return it == kZones.end() ? std::string() : std::string(it->second);
}

// Returns the IANA zone of each letter in a NANPA time zone code: "CM" gives America/Chicago
// and America/Denver. "NA" (not applicable) and an empty code give none.
std::vector<std::string> zones_from_nanpa_letters(std::string_view code) {
  std::vector<std::string> zones;
  if (code.empty() || code == "NA") {
    return zones;
  }
  if (code[0] == '(' || code[0] == 'U') {
    zones.push_back(zone_from_nanpa(code));
  } else {
    for (std::size_t i = 0; i < code.size(); ++i) {
      zones.push_back(zone_from_nanpa(code.substr(i, 1)));
    }
  }
  std::erase(zones, std::string());
  return zones;
}

// Splits a libphonenumber zone list ("America/Boise&America/Los_Angeles") into its names.
std::vector<std::string> split_zone_list(std::string_view list) {
  std::vector<std::string> zones;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find('&', start), list.size());
    if (end > start) {
      zones.emplace_back(list.substr(start, end - start));
    }
    start = end + 1;
  }
  return zones;
}

void sort_unique(std::vector<std::string>& names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
}

// Length of the ITU country code that starts `digits` (E.164 without "+").
std::size_t country_code_length(std::string_view digits) {
  if (digits[0] == '1' || digits[0] == '7') {
    return 1;
  }
  // Every two-digit ITU-T E.164 country code; all others outside 1 and 7 have three digits.
  static constexpr std::array<std::string_view, 44> kTwoDigit = {
      "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
      "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
      "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};
  const std::string_view two = digits.substr(0, 2);
  for (std::string_view code : kTwoDigit) {
    if (code == two) {
      return 2;
    }
  }
  return 3;
}

// Whether a three-digit country code is spare or reserved in ITU-T E.164 (the list of
// assigned codes, Operational Bulletin annex, 2023), so that no call can reach it. 671 and 684,
// once Guam and American Samoa, are spare since both joined the NANP.
bool is_spare_country_code(std::string_view code) {
  static constexpr std::array<std::string_view, 71> kSpare = {
      "210", "214", "215", "217", "219", "259", "280", "281", "282", "283", "284", "285",
      "286", "287", "288", "289", "292", "293", "294", "295", "296", "384", "388", "422",
      "424", "425", "426", "427", "428", "429", "671", "684", "693", "694", "695", "696",
      "697", "698", "699", "801", "802", "803", "804", "805", "806", "807", "809", "830",
      "831", "832", "833", "834", "835", "836", "837", "838", "839", "851", "854", "857",
      "858", "859", "884", "885", "887", "889", "969", "978", "990", "997", "999"};
  if (code.size() == 3 && code[0] == '8' && code[1] == '9') {
    return true;  // 890 to 899
  }
  return std::find(kSpare.begin(), kSpare.end(), code) != kSpare.end();
}

Result<NumberInfo> invalid(std::string_view dialed, const std::string& reason) {
  // A value longer than any phone number may be a card number, so it is quoted masked.
  const std::string quoted = "'" + mask_invalid_phone_number(dialed) + "'";
  return Result<NumberInfo>(StatusCode::InvalidArgument,
                            "invalid number " + quoted + ": " + reason);
}

std::string digit_count(std::size_t count) {
  return std::to_string(count) + (count == 1 ? " digit" : " digits");
}

constexpr std::string_view kDialingHelp =
    "dial 10 digits, 1 or 0 and 10 digits, 011 and an international number, or +E.164";

}  // namespace

struct NumberPlan::Data {
  std::array<AreaCode, 1000> area_codes;
  std::unordered_map<std::uint64_t, std::string> zones;   // key: prefix_key("1" + digits)
  std::unordered_map<std::uint64_t, std::string> places;  // key: prefix_key("1" + digits)
  // Every zone that a time zone prefix of the area code names, by area code.
  std::array<std::vector<std::string>, 1000> area_code_zones;
  // For NANP prefixes that list several zones, the zone numbers under them are rated in.
  std::unordered_map<std::uint64_t, std::string> main_zones;
  std::size_t area_code_count = 0;

  using PrefixVisitor = std::function<void(std::string_view prefix, std::string_view value)>;

  Status load_area_codes(const std::filesystem::path& path);
  Status load_prefix_file(const std::filesystem::path& path,
                          std::unordered_map<std::uint64_t, std::string>& into,
                          const PrefixVisitor& visit = nullptr);
  void index_area_code_zones(std::string_view prefix, std::string_view zone_list);
  void choose_main_zone(std::string_view prefix, std::string_view zone_list);
  Result<NumberInfo> classify_nanp(NumberInfo info) const;
  void place(NumberInfo& info) const;
};

Status NumberPlan::Data::load_area_codes(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return missing_file(path);
  }
  std::string line;
  std::getline(in, line);  // "File Date,10/04/2018"
  std::getline(in, line);
  const std::vector<std::string> header = split_csv(line);
  auto column = [&header](std::string_view name) -> int {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) {
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  const int npa_col = column("NPA_ID");
  const int assigned_col = column("ASSIGNED");
  const int use_col = column("USE");
  const int location_col = column("LOCATION");
  const int country_col = column("COUNTRY");
  const int zone_col = column("TIME_ZONE");
  if (npa_col < 0 || assigned_col < 0 || use_col < 0 || location_col < 0 || country_col < 0 ||
      zone_col < 0) {
    return Status(StatusCode::Corrupt, "NANPA report '" + path.string() +
                                           "' line 2 lacks one of the columns NPA_ID, ASSIGNED, "
                                           "USE, LOCATION, COUNTRY, TIME_ZONE; restore the file");
  }
  const auto width = static_cast<std::size_t>(
      std::max({npa_col, assigned_col, use_col, location_col, country_col, zone_col}));

  int line_number = 2;
  while (std::getline(in, line)) {
    ++line_number;
    const std::vector<std::string> fields = split_csv(line);
    if (fields.size() <= width || fields[npa_col].size() != 3 || !all_digits(fields[npa_col])) {
      return Status(StatusCode::Corrupt, "NANPA report '" + path.string() + "' line " +
                                             std::to_string(line_number) +
                                             " is not an NPA record; restore the file");
    }
    AreaCode& area = area_codes[std::stoi(fields[npa_col])];
    area.assigned = fields[assigned_col] == "Yes";
    area.geographic = fields[use_col] == "G" && !fields[location_col].empty() &&
                      fields[location_col] != "NANP AREA";
    area.state = fields[location_col];
    area.country = fields[country_col];
    area.nanpa_time_zone = fields[zone_col];
    if (area.assigned) {
      ++area_code_count;
    }
  }
  return Status::ok();
}

// Reads a libphonenumber "prefix|value" file, skipping comments and blank lines. `visit`, when
// given, also receives each entry.
Status NumberPlan::Data::load_prefix_file(const std::filesystem::path& path,
                                          std::unordered_map<std::uint64_t, std::string>& into,
                                          const PrefixVisitor& visit) {
  std::ifstream in(path);
  if (!in) {
    return missing_file(path);
  }
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const auto bar = line.find('|');
    const std::string_view prefix = std::string_view(line).substr(0, bar);
    if (bar == std::string::npos || prefix.size() > 15 || !all_digits(prefix)) {
      return Status(StatusCode::Corrupt, "'" + path.string() + "' line " +
                                             std::to_string(line_number) + " is not " +
                                             "'prefix|value': '" + line + "'; restore the file");
    }
    into.emplace(prefix_key(prefix), line.substr(bar + 1));
    if (visit) {
      visit(prefix, std::string_view(line).substr(bar + 1));
    }
  }
  return Status::ok();
}

// Adds the zones of a NANP prefix that names an area code or more ("1208", "12082") to that
// area code's list. The country-wide "1" entry names no area code and is skipped.
void NumberPlan::Data::index_area_code_zones(std::string_view prefix, std::string_view zone_list) {
  if (prefix.size() < 4 || prefix[0] != '1') {
    return;
  }
  std::vector<std::string>& into = area_code_zones[std::stoi(std::string(prefix.substr(1, 3)))];
  for (std::string& zone : split_zone_list(zone_list)) {
    into.push_back(std::move(zone));
  }
  sort_unique(into);
}

// Picks the zone a NANP prefix that lists several zones is rated in. The data lists them in
// alphabetical order, so the first is often the minority: 907 lists America/Adak before
// America/Anchorage, and 605 and 701 list America/Denver before the Central zone most of their
// lines keep. In order of preference: the zone of the NANPA code's first letter, then a listed
// zone with that zone's standard offset, then the first listed. Newfoundland and Labrador has
// the NANPA code "NA", so its main zone is named here.
void NumberPlan::Data::choose_main_zone(std::string_view prefix, std::string_view zone_list) {
  if (prefix.size() < 4 || prefix[0] != '1' || zone_list.find('&') == std::string_view::npos) {
    return;
  }

  const std::vector<std::string> listed = split_zone_list(zone_list);
  const AreaCode& area = area_codes[std::stoi(std::string(prefix.substr(1, 3)))];
  auto pick = [&](std::string_view zone) { main_zones[prefix_key(prefix)] = std::string(zone); };

  const std::string lettered = area.state == "NEWFOUNDLAND AND LABRADOR"
                                   ? std::string("America/St_Johns")
                                   : zone_from_nanpa(area.nanpa_time_zone);
  if (lettered.empty()) {
    return pick(listed.front());
  }
  if (std::find(listed.begin(), listed.end(), lettered) != listed.end()) {
    return pick(lettered);
  }
  // Standard offsets, read in January, when no NANP zone keeps daylight saving time.
  const date::sys_seconds january = date::sys_days{date::year{2021} / date::January / 15};
  auto standard_offset = [&january](const std::string& name) -> std::optional<std::int64_t> {
    try {
      return date::locate_zone(name)->get_info(january).offset.count();
    } catch (const std::exception&) {
      return std::nullopt;  // a zone this system's database lacks cannot be chosen
    }
  };
  const std::optional<std::int64_t> expected = standard_offset(lettered);
  for (const std::string& zone : listed) {
    if (expected && standard_offset(zone) == expected) {
      return pick(zone);
    }
  }
  pick(listed.front());
}

// Fills state, country, rate center and time zone of a NANP number from the loaded data.
void NumberPlan::Data::place(NumberInfo& info) const {
  const AreaCode& area = area_codes[std::stoi(info.npa)];
  info.state = area.state;
  info.country = area.country;

  const std::string digits = "1" + info.npa + info.nxx + info.line;
  for (std::size_t length = 7; length >= 4; --length) {
    const auto it = places.find(prefix_key(std::string_view(digits).substr(0, length)));
    if (it != places.end()) {
      info.rate_center = it->second;
      // An area-wide name that is a place ("New York, NY", not "California") also counts.
      info.rate_center_exact = length == 7 || it->second.find(", ") != std::string::npos;
      break;
    }
  }
  // Longest prefix wins. A prefix that lists several zones ("America/Boise&America/Los_Angeles")
  // gives the main zone chosen for it at load time (see choose_main_zone).
  for (std::size_t length = digits.size(); length >= 2; --length) {
    const std::uint64_t key = prefix_key(std::string_view(digits).substr(0, length));
    const auto it = zones.find(key);
    if (it != zones.end()) {
      const auto main = main_zones.find(key);
      info.time_zone = main != main_zones.end() ? main->second : it->second;
      break;
    }
  }
  if (info.time_zone.empty()) {
    info.time_zone = zone_from_nanpa(area.nanpa_time_zone);
  }
}

Result<NumberInfo> NumberPlan::Data::classify_nanp(NumberInfo info) const {
  const std::string& dialed = info.dialed;
  // parse_number_form has checked the form of the area and exchange codes.
  for (std::string_view toll_free : kTollFreeNpas) {
    if (info.npa == toll_free) {
      info.kind = NumberKind::TollFree;
      return info;
    }
  }
  if (info.npa == "900") {
    info.kind = NumberKind::Premium;
    return info;
  }
  const AreaCode& area = area_codes[std::stoi(info.npa)];
  // NOTE: area codes assigned after the 2018-10-04 report are rejected until the file is updated.
  if (!area.assigned) {
    return invalid(dialed, "area code " + info.npa +
                               " is not assigned in the NANPA report of 2018-10-04; check the "
                               "number");
  }
  if (!area.geographic) {
    info.kind = NumberKind::NonGeographic;
    info.country = area.country;
    return info;
  }

  place(info);
  if (info.nxx == "976") {
    info.kind = NumberKind::Premium;
  } else if (info.nxx == "555" && info.line.starts_with("01")) {
    info.kind = NumberKind::Fictional;
  } else if (info.nxx == "555" && info.line == "1212") {
    info.kind = NumberKind::DirectoryAssistance;
  } else {
    info.kind = NumberKind::Geographic;
  }
  return info;
}

std::string_view to_string(NumberKind kind) {
  switch (kind) {
    case NumberKind::Geographic:
      return "geographic";
    case NumberKind::Fictional:
      return "fictional";
    case NumberKind::TollFree:
      return "toll-free";
    case NumberKind::Premium:
      return "premium";
    case NumberKind::NonGeographic:
      return "non-geographic";
    case NumberKind::Emergency:
      return "emergency";
    case NumberKind::Relay:
      return "relay";
    case NumberKind::DirectoryAssistance:
      return "directory-assistance";
    case NumberKind::ServiceCode:
      return "service-code";
    case NumberKind::International:
      return "international";
  }
  return "unknown";
}

std::string_view to_string(DialPrefix prefix) {
  switch (prefix) {
    case DialPrefix::None:
      return "none";
    case DialPrefix::One:
      return "1+";
    case DialPrefix::Zero:
      return "0+";
    case DialPrefix::International:
      return "011+";
    case DialPrefix::Plus:
      return "+";
  }
  return "unknown";
}

namespace {

// Removes the formatting characters people type; anything else but digits and a leading "+"
// is left in place for the caller to reject.
std::string strip_formatting(std::string_view dialed) {
  std::string digits;
  for (char c : dialed) {
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
      continue;
    }
    digits += c;
  }
  return digits;
}

// Parses the form of `dialed` without the numbering data: the prefix, and for N11 codes and
// numbers outside NANP the kind and E.164 form. A NANP number comes back with npa, nxx, line
// and its E.164 form after checking that its area and exchange codes can exist, but without
// its kind or place, which classify_nanp looks up.
Result<NumberInfo> parse_number_form(std::string_view dialed) {
  NumberInfo info;
  info.dialed = std::string(dialed);
  std::string digits = strip_formatting(dialed);
  if (digits.empty()) {
    return invalid(dialed, "no digits; " + std::string(kDialingHelp));
  }
  if (digits[0] == '+') {
    info.prefix = DialPrefix::Plus;
    digits.erase(0, 1);
  }
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return invalid(dialed, std::string("contains '") + c + "'; use digits only, letters " +
                                 "and symbols are not accepted");
    }
  }

  // N11 service codes, alone or after 1 or 0.
  std::string_view code = digits;
  if (info.prefix == DialPrefix::None && code.size() == 4 && (code[0] == '1' || code[0] == '0')) {
    info.prefix = code[0] == '1' ? DialPrefix::One : DialPrefix::Zero;
    code.remove_prefix(1);
  } else if (info.prefix == DialPrefix::Plus && code.size() == 4 && code[0] == '1') {
    code.remove_prefix(1);
  }
  if (code.size() == 3 && code[0] >= '2' && code[1] == '1' && code[2] == '1') {
    info.e164 = std::string(code);
    info.country_code = "1";
    info.kind = code == "911"   ? NumberKind::Emergency
                : code == "711" ? NumberKind::Relay
                : code == "411" ? NumberKind::DirectoryAssistance
                                : NumberKind::ServiceCode;
    return info;
  }
  // 988 reaches the 988 Suicide and Crisis Lifeline, which is free to the caller everywhere in
  // the United States (FCC 20-100).
  if (code == "988") {
    info.e164 = "988";
    info.country_code = "1";
    info.kind = NumberKind::TollFree;
    return info;
  }
  info.prefix = info.prefix == DialPrefix::Plus ? DialPrefix::Plus : DialPrefix::None;

  // International: 011 + number, or + and a country code other than 1.
  std::string_view international;
  if (info.prefix == DialPrefix::None && digits.starts_with("011")) {
    info.prefix = DialPrefix::International;
    international = std::string_view(digits).substr(3);
  } else if (info.prefix == DialPrefix::Plus && !digits.starts_with("1")) {
    international = digits;
  }
  if (info.prefix == DialPrefix::International || !international.empty()) {
    if (international.empty() || international[0] == '0') {
      return invalid(
          dialed, "no country code after the international prefix; " + std::string(kDialingHelp));
    }
    if (international[0] == '1') {
      return invalid(dialed, "country code 1 is the NANP; dial 1 and 10 digits instead");
    }
    if (international.size() < 7 || international.size() > 15) {
      return invalid(dialed, digit_count(international.size()) +
                                 " after the prefix; an international number has 7 "
                                 "to 15 digits including the country code");
    }
    info.kind = NumberKind::International;
    info.e164 = "+" + std::string(international);
    info.country_code = std::string(international.substr(0, country_code_length(international)));
    info.country = "+" + info.country_code;
    if (is_spare_country_code(info.country_code)) {
      return invalid(dialed, "country code +" + info.country_code +
                                 " is not assigned to any country or service (ITU-T E.164); "
                                 "check the number with the caller");
    }
    if (info.country_code == "800") {
      // Universal International Freephone Numbers are +800 and exactly eight digits.
      if (international.size() != 11) {
        return invalid(dialed, digit_count(international.size() - 3) +
                                   " after +800; an international freephone number has 8");
      }
      info.kind = NumberKind::TollFree;
    }
    return info;
  }

  // NANP: 10 digits, 1 or 0 and 10 digits, or +1 and 10 digits.
  std::string_view national = digits;
  if (digits.size() == 11 && digits[0] == '1') {
    info.prefix = info.prefix == DialPrefix::Plus ? DialPrefix::Plus : DialPrefix::One;
    national.remove_prefix(1);
  } else if (digits.size() == 11 && digits[0] == '0' && info.prefix == DialPrefix::None) {
    info.prefix = DialPrefix::Zero;
    national.remove_prefix(1);
  } else if (info.prefix == DialPrefix::Plus) {
    // "+1" and the wrong number of digits: count the digits after the country code.
    return invalid(dialed, digit_count(digits.size() - 1) +
                               " after +1; a NANP number has 10 digits after +1");
  } else if (digits.size() != 10) {
    return invalid(dialed, digit_count(digits.size()) + "; " + std::string(kDialingHelp));
  }
  info.npa = std::string(national.substr(0, 3));
  info.nxx = std::string(national.substr(3, 3));
  info.line = std::string(national.substr(6, 4));
  info.country_code = "1";
  info.e164 = "+1" + info.npa + info.nxx + info.line;
  auto is_n11 = [](std::string_view code) { return code[1] == '1' && code[2] == '1'; };
  if (info.npa[0] == '0' || info.npa[0] == '1') {
    return invalid(dialed, "area code " + info.npa + " starts with " + info.npa[0] +
                               "; NANP area codes start with 2-9");
  }
  if (is_n11(info.npa)) {
    return invalid(
        dialed, "area code " + info.npa + " is an N11 service code; dial the three digits alone");
  }
  if (info.nxx[0] == '0' || info.nxx[0] == '1') {
    return invalid(dialed, "exchange code " + info.nxx + " starts with " + info.nxx[0] +
                               "; NANP exchange codes start with 2-9");
  }
  if (is_n11(info.nxx)) {
    return invalid(dialed, "exchange code " + info.nxx + " is an N11 service code, which is " +
                               "never assigned as an exchange");
  }
  return info;
}

}  // namespace

bool is_emergency_number(std::string_view dialed) {
  const std::string digits = strip_formatting(dialed);
  return digits == "911" || digits == "1911" || digits == "0911" || digits == "+1911";
}

std::filesystem::path default_data_dir() {
  if (const char* dir = std::getenv("RELAYGW_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return RELAYGW_DEFAULT_DATA_DIR;
}

Result<NumberPlan> NumberPlan::load(const std::filesystem::path& data_dir) {
  auto data = std::make_unique<Data>();
  if (Status status = data->load_area_codes(data_dir / kNpaReportFile); !status) {
    return status;
  }
  const auto index_zones = [&data](std::string_view prefix, std::string_view zone_list) {
    data->index_area_code_zones(prefix, zone_list);
    data->choose_main_zone(prefix, zone_list);
  };
  if (Status status = data->load_prefix_file(data_dir / kTimeZonesFile, data->zones, index_zones);
      !status) {
    return status;
  }
  if (Status status = data->load_prefix_file(data_dir / kGeocodingFile, data->places); !status) {
    return status;
  }
  return NumberPlan(std::move(data));
}

NumberPlan::NumberPlan(std::unique_ptr<Data> data) : data_(std::move(data)) {}
NumberPlan::NumberPlan(NumberPlan&&) noexcept = default;
NumberPlan& NumberPlan::operator=(NumberPlan&&) noexcept = default;
NumberPlan::~NumberPlan() = default;

NumberTimeZones NumberPlan::time_zones(const NumberInfo& info) const {
  NumberTimeZones result;
  if (!info.is_nanp() || info.npa.size() != 3 || info.nxx.size() != 3 || info.line.size() != 4) {
    return result;
  }
  const int npa = std::stoi(info.npa);
  const AreaCode& area = data_->area_codes[npa];
  if (!area.assigned || !area.geographic) {
    return result;
  }

  // A prefix longer than "1" + area code covers the exchange, or a block of exchanges.
  const std::string digits = "1" + info.npa + info.nxx + info.line;
  for (std::size_t length = digits.size(); length > 4; --length) {
    const auto it = data_->zones.find(prefix_key(std::string_view(digits).substr(0, length)));
    if (it != data_->zones.end()) {
      result.prefix = digits.substr(1, length - 1);
      result.zones = split_zone_list(it->second);
      sort_unique(result.zones);
      return result;
    }
  }

  result.prefix = info.npa;
  result.zones = data_->area_code_zones[npa];
  const std::vector<std::string> lettered = zones_from_nanpa_letters(area.nanpa_time_zone);
  if (lettered.size() > 1 || result.zones.empty()) {
    result.zones.insert(result.zones.end(), lettered.begin(), lettered.end());
  }
  sort_unique(result.zones);
  return result;
}

std::size_t NumberPlan::area_code_count() const { return data_->area_code_count; }
std::size_t NumberPlan::prefix_count() const { return data_->zones.size() + data_->places.size(); }

Result<NumberInfo> NumberPlan::classify(std::string_view dialed) const {
  Result<NumberInfo> parsed = parse_number_form(dialed);
  if (!parsed || parsed->npa.empty()) {
    return parsed;
  }
  return data_->classify_nanp(std::move(parsed).value());
}

Result<std::string> e164_form(std::string_view dialed) {
  Result<NumberInfo> parsed = parse_number_form(dialed);
  if (!parsed) {
    return parsed.status();
  }
  return parsed->e164;
}

}  // namespace relaygw::billing
