#include "billing/rate_deck.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include <date/date.h>
#include <toml++/toml.h>

#include "billing/store.hpp"

namespace relaygw::billing {
namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

// Thrown inside this file only and turned into a Status by RateDeck::parse.
struct DeckError {
  std::string message;
};

// Reads the tables of one TOML document, naming the source, line and key in every error.
class DeckReader {
 public:
  explicit DeckReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const toml::node* node, const std::string& key, const std::string& problem,
                         const std::string& fix) const {
    std::string where = source_;
    if (node != nullptr && node->source().begin.line > 0) {
      where += ":" + std::to_string(node->source().begin.line);
    }
    throw DeckError{where + ": " + key + " " + problem + "; " + fix};
  }

  std::string location(const toml::node& node) const {
    return source_ + ":" + std::to_string(node.source().begin.line);
  }

  // Rejects keys outside `allowed`, which catches misspelled keys.
  void check_keys(const toml::table& table, const std::string& path,
                  std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, node] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
        std::string names;
        for (std::string_view name : allowed) {
          names += names.empty() ? "" : ", ";
          names += name;
        }
        fail(&node, path + "." + std::string(key.str()), "is not a known key",
             "use one of: " + names);
      }
    }
  }

  std::string text(const toml::table& table, const std::string& path, std::string_view key,
                   std::optional<std::string> fallback = std::nullopt) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      if (fallback) {
        return *fallback;
      }
      fail(&table, path + "." + std::string(key), "is missing", "add it as a quoted string");
    }
    if (!node->is_string()) {
      fail(node, path + "." + std::string(key), "is not a string", "quote the value");
    }
    return std::string(node->as_string()->get());
  }

  Money money(const toml::table& table, const std::string& path, std::string_view key,
              std::optional<Money> fallback = std::nullopt) const {
    const toml::node* node = table.get(key);
    const std::string name = path + "." + std::string(key);
    if (node == nullptr) {
      if (fallback) {
        return *fallback;
      }
      fail(&table, name, "is missing", "add a dollar amount as a quoted string such as \"0.1290\"");
    }
    if (!node->is_string()) {
      fail(node, name, "is not a quoted dollar amount",
           "write money as a string with at most four decimals, such as \"0.1290\", so it is "
           "never read as a floating-point number");
    }
    const std::string value(node->as_string()->get());
    Result<Money> amount = parse_dollars(value);
    if (!amount) {
      fail(node, name, "has invalid value '" + value + "'",
           "write dollars with at most four decimals, such as \"0.1290\"");
    }
    if (*amount < 0) {
      fail(node, name, "has negative value '" + value + "'", "use zero or a positive amount");
    }
    if (*amount > kLargestDeckAmount) {
      fail(node, name,
           "has value '" + value + "', above the largest deck amount $" +
               format_dollars(kLargestDeckAmount, 4),
           "check the amount for a typing error; deck prices are per minute, per call or per "
           "month");
    }
    return *amount;
  }

  std::int64_t integer(const toml::table& table, const std::string& path, std::string_view key,
                       std::int64_t fallback, std::int64_t min, std::int64_t max) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return fallback;
    }
    const std::string name = path + "." + std::string(key);
    if (!node->is_integer()) {
      fail(node, name, "is not a whole number", "write an integer without quotes");
    }
    const std::int64_t value = node->as_integer()->get();
    if (value < min || value > max) {
      fail(node, name, "has value " + std::to_string(value) + " out of range",
           "use " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
  }

  bool boolean(const toml::table& table, const std::string& path, std::string_view key,
               bool fallback) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return fallback;
    }
    if (!node->is_boolean()) {
      fail(node, path + "." + std::string(key), "is not true or false",
           "write true or false without quotes");
    }
    return node->as_boolean()->get();
  }

  LocalDate date(const toml::node& node, const std::string& name) const {
    if (!node.is_date()) {
      fail(&node, name, "is not a date", "write a TOML date without quotes, such as 2026-01-01");
    }
    const toml::date value = node.as_date()->get();
    const date::year_month_day ymd{date::year(value.year), date::month(value.month),
                                   date::day(value.day)};
    if (!ymd.ok()) {
      fail(&node, name, "is not a calendar date", "give a day that exists, such as 2026-02-28");
    }
    return LocalDate{value.year, value.month, value.day};
  }

  std::vector<std::string> strings(const toml::table& table, const std::string& path,
                                   std::string_view key) const {
    std::vector<std::string> values;
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return values;
    }
    const std::string name = path + "." + std::string(key);
    if (!node->is_array()) {
      fail(node, name, "is not an array", "write a list of quoted names, such as [\"CA\"]");
    }
    for (const toml::node& item : *node->as_array()) {
      if (!item.is_string()) {
        fail(&item, name, "contains a value that is not a string", "quote every name");
      }
      values.emplace_back(item.as_string()->get());
    }
    return values;
  }

  const toml::array* tables(const toml::table& table, const std::string& path,
                            std::string_view key) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return nullptr;
    }
    if (!node->is_array_of_tables()) {
      fail(node, path + "." + std::string(key), "is not an array of tables",
           "write each entry under [[" + path + "." + std::string(key) + "]]");
    }
    return node->as_array();
  }

  template <typename Enum>
  Enum parse_name(const toml::table& table, const std::string& path, std::string_view key,
                  std::optional<Enum> (*parse)(std::string_view), std::string_view choices,
                  std::optional<Enum> fallback = std::nullopt) const {
    if (table.get(key) == nullptr && fallback) {
      return *fallback;
    }
    const std::string value = text(table, path, key);
    const std::optional<Enum> parsed = parse(value);
    if (!parsed) {
      fail(table.get(key), path + "." + std::string(key), "has invalid value '" + value + "'",
           "use one of: " + std::string(choices));
    }
    return *parsed;
  }

  template <typename Enum>
  std::vector<Enum> parse_names(const toml::table& table, const std::string& path,
                                std::string_view key,
                                std::optional<Enum> (*parse)(std::string_view),
                                std::string_view choices) const {
    std::vector<Enum> values;
    for (const std::string& value : strings(table, path, key)) {
      const std::optional<Enum> parsed = parse(value);
      if (!parsed) {
        fail(table.get(key), path + "." + std::string(key), "has invalid value '" + value + "'",
             "use one of: " + std::string(choices));
      }
      values.push_back(*parsed);
    }
    return values;
  }

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

constexpr std::string_view kJurisdictions =
    "local, intralata, interlata-intrastate, interstate, international";
constexpr std::string_view kBillingMethods =
    "sent-paid, collect, third-party, person-to-person, calling-card";
constexpr std::string_view kAccessTags = "none, tty, relay-tty, relay-ip, captioned, video, speech";

std::optional<CentRounding> parse_rounding(std::string_view name) {
  if (name == "up") {
    return CentRounding::Up;
  }
  if (name == "half-up") {
    return CentRounding::HalfUp;
  }
  if (name == "half-even") {
    return CentRounding::HalfEven;
  }
  return std::nullopt;
}

// Parses "HH:MM" into minutes after midnight; "24:00" is allowed as an end.
std::optional<int> parse_clock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') {
    return std::nullopt;
  }
  for (std::size_t i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') {
      return std::nullopt;
    }
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) {
    return std::nullopt;
  }
  return hours * 60 + minutes;
}

PeriodRule read_period(const DeckReader& reader, const toml::table& table) {
  const std::string path = "version.period";
  reader.check_keys(table, path, {"name", "days", "start", "end"});
  PeriodRule rule;
  rule.period = reader.text(table, path, "name");
  for (const std::string& day : reader.strings(table, path, "days")) {
    const auto it = std::find(kDayNames.begin(), kDayNames.end(), day);
    if (it == kDayNames.end()) {
      reader.fail(table.get("days"), path + ".days", "has invalid day '" + day + "'",
                  "use sun, mon, tue, wed, thu, fri or sat");
    }
    rule.weekday_mask |= static_cast<std::uint8_t>(1u << (it - kDayNames.begin()));
  }
  if (rule.weekday_mask == 0) {
    reader.fail(&table, path + ".days", "is missing or empty", "list the days, such as [\"mon\"]");
  }
  const std::string start = reader.text(table, path, "start");
  const std::string end = reader.text(table, path, "end");
  const std::optional<int> start_minute = parse_clock(start);
  const std::optional<int> end_minute = parse_clock(end);
  if (!start_minute || *start_minute >= 1440) {
    reader.fail(table.get("start"), path + ".start", "has invalid time '" + start + "'",
                "write local 24-hour time as \"HH:MM\", such as \"07:00\"");
  }
  if (!end_minute || *end_minute <= *start_minute) {
    reader.fail(table.get("end"), path + ".end", "has invalid time '" + end + "'",
                "write a local time after start as \"HH:MM\"; use \"24:00\" for midnight and "
                "a second entry for the hours after midnight");
  }
  rule.start_minute = *start_minute;
  rule.end_minute = *end_minute;
  return rule;
}

UsageRate read_rate(const DeckReader& reader, const toml::table& table,
                    const std::vector<std::string>& periods) {
  const std::string path = "version.rate";
  reader.check_keys(table, path,
                    {"jurisdiction", "max_miles", "prefixes", "per_minute", "connect",
                     "initial_seconds", "additional_seconds"});
  UsageRate rate;
  rate.source = reader.location(table);
  rate.jurisdiction = reader.parse_name<Jurisdiction>(table, path, "jurisdiction",
                                                      parse_jurisdiction, kJurisdictions);
  if (table.get("max_miles") != nullptr) {
    rate.max_miles = static_cast<int>(reader.integer(table, path, "max_miles", 0, 0, 100'000));
  }
  rate.prefixes = reader.strings(table, path, "prefixes");
  for (const std::string& prefix : rate.prefixes) {
    if (prefix.empty() || prefix.size() > 15 ||
        !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      reader.fail(table.get("prefixes"), path + ".prefixes", "has invalid prefix '" + prefix + "'",
                  "write E.164 digits without \"+\", such as \"44\"");
    }
  }
  if (!rate.prefixes.empty() && rate.jurisdiction != Jurisdiction::International) {
    reader.fail(table.get("prefixes"), path + ".prefixes", "is set on a non-international rate",
                "remove prefixes or set jurisdiction = \"international\"");
  }
  rate.connect = reader.money(table, path, "connect", 0);
  if (table.get("initial_seconds") != nullptr) {
    rate.initial_seconds =
        static_cast<int>(reader.integer(table, path, "initial_seconds", 60, 1, 3600));
  }
  if (table.get("additional_seconds") != nullptr) {
    rate.additional_seconds =
        static_cast<int>(reader.integer(table, path, "additional_seconds", 60, 1, 3600));
  }

  const toml::node* prices = table.get("per_minute");
  if (prices == nullptr || !prices->is_table()) {
    reader.fail(prices != nullptr ? prices : &table, path + ".per_minute",
                "is missing or not a table", "add per_minute = { day = \"0.1290\", ... }");
  }
  for (const auto& [key, node] : *prices->as_table()) {
    const std::string name(key.str());
    if (std::find(periods.begin(), periods.end(), name) == periods.end()) {
      reader.fail(&node, path + ".per_minute." + name, "names an undefined rate period",
                  "define it with [[version.period]] or as default_period or holiday_period");
    }
    rate.prices.push_back({name, reader.money(*prices->as_table(), path + ".per_minute", name)});
  }
  for (const std::string& period : periods) {
    const bool priced = std::any_of(rate.prices.begin(), rate.prices.end(),
                                    [&period](const PeriodPrice& p) { return p.period == period; });
    if (!priced) {
      reader.fail(prices, path + ".per_minute", "has no price for period '" + period + "'",
                  "add " + period + " = \"0.0000\" or the real price");
    }
  }
  return rate;
}

Surcharge read_surcharge(const DeckReader& reader, const toml::table& table) {
  const std::string path = "version.surcharge";
  reader.check_keys(table, path, {"billing", "handling", "access", "amount", "description"});
  Surcharge surcharge;
  surcharge.billing = reader.parse_name<BillingMethod>(table, path, "billing", parse_billing_method,
                                                       kBillingMethods);
  if (table.get("handling") != nullptr) {
    surcharge.handling =
        reader.parse_name<Handling>(table, path, "handling", parse_handling, "automated, operator");
  }
  surcharge.access =
      reader.parse_names<AccessTag>(table, path, "access", parse_access_tag, kAccessTags);
  surcharge.amount = reader.money(table, path, "amount");
  surcharge.description = reader.text(table, path, "description");
  return surcharge;
}

Tax read_tax(const DeckReader& reader, const toml::table& table) {
  const std::string path = "version.tax";
  reader.check_keys(table, path, {"name", "jurisdictions", "states", "basis_points"});
  Tax tax;
  tax.name = reader.text(table, path, "name");
  tax.jurisdictions = reader.parse_names<Jurisdiction>(table, path, "jurisdictions",
                                                       parse_jurisdiction, kJurisdictions);
  tax.states = reader.strings(table, path, "states");
  if (table.get("basis_points") == nullptr) {
    reader.fail(&table, path + ".basis_points", "is missing", "add the rate, 100 = 1%");
  }
  tax.basis_points = reader.integer(table, path, "basis_points", 0, 0, 10'000);
  return tax;
}

Fee read_fee(const DeckReader& reader, const toml::table& table) {
  const std::string path = "version.fee";
  reader.check_keys(table, path, {"name", "jurisdictions", "states", "amount"});
  Fee fee;
  fee.name = reader.text(table, path, "name");
  fee.jurisdictions = reader.parse_names<Jurisdiction>(table, path, "jurisdictions",
                                                       parse_jurisdiction, kJurisdictions);
  fee.states = reader.strings(table, path, "states");
  fee.amount = reader.money(table, path, "amount");
  return fee;
}

Accessibility read_accessibility(const DeckReader& reader, const toml::table& table) {
  const std::string path = "version.accessibility";
  reader.check_keys(table, path,
                    {"cap_at_voice", "relay_handling", "tty_discount", "relay_fund_per_minute"});
  Accessibility accessibility;
  accessibility.cap_at_voice = reader.boolean(table, path, "cap_at_voice", true);
  accessibility.relay_handling = reader.parse_name<Handling>(
      table, path, "relay_handling", parse_handling, "automated, operator", Handling::Automated);
  if (const toml::array* discounts = reader.tables(table, path, "tty_discount")) {
    const std::string item_path = path + ".tty_discount";
    for (const toml::node& node : *discounts) {
      const toml::table& entry = *node.as_table();
      reader.check_keys(
          entry, item_path,
          {"state", "basis_points", "access", "eligible_line_qualifies", "jurisdictions"});
      TtyDiscount discount;
      discount.state = reader.text(entry, item_path, "state");
      if (entry.get("basis_points") == nullptr) {
        reader.fail(&entry, item_path + ".basis_points", "is missing",
                    "add the discount, 5000 = 50% off usage");
      }
      discount.basis_points = reader.integer(entry, item_path, "basis_points", 0, 0, 10'000);
      discount.access =
          reader.parse_names<AccessTag>(entry, item_path, "access", parse_access_tag, kAccessTags);
      discount.eligible_line_qualifies =
          reader.boolean(entry, item_path, "eligible_line_qualifies", true);
      discount.jurisdictions = reader.parse_names<Jurisdiction>(entry, item_path, "jurisdictions",
                                                                parse_jurisdiction, kJurisdictions);
      accessibility.tty_discounts.push_back(std::move(discount));
    }
  }
  if (const toml::node* rates = table.get("relay_fund_per_minute"); rates != nullptr) {
    const std::string rates_path = path + ".relay_fund_per_minute";
    if (!rates->is_table()) {
      reader.fail(rates, rates_path, "is not a table",
                  "write relay_fund_per_minute = { relay-tty = \"3.1000\", ... }");
    }
    for (const auto& [key, node] : *rates->as_table()) {
      const std::optional<AccessTag> tag = parse_access_tag(key.str());
      if (!tag || !is_relay_service(*tag)) {
        reader.fail(&node, rates_path + "." + std::string(key.str()), "is not a relay service",
                    "use relay-tty, relay-ip, captioned, video or speech");
      }
      accessibility.relay_fund_per_minute.emplace_back(
          *tag, reader.money(*rates->as_table(), rates_path, key.str()));
    }
  }
  return accessibility;
}

CallingPlan read_plan(const DeckReader& reader, const toml::table& table) {
  const std::string path = "version.plan";
  reader.check_keys(
      table, path,
      {"name", "description", "monthly_fee", "included_minutes", "per_minute", "tty_discount"});
  CallingPlan plan;
  plan.name = reader.text(table, path, "name");
  plan.description = reader.text(table, path, "description", "");
  plan.monthly_fee = reader.money(table, path, "monthly_fee", 0);
  plan.included_minutes = reader.integer(table, path, "included_minutes", 0, 0, 1'000'000);
  plan.tty_discount = reader.boolean(table, path, "tty_discount", true);
  if (const toml::node* prices = table.get("per_minute")) {
    if (!prices->is_table()) {
      reader.fail(prices, path + ".per_minute", "is not a table",
                  "write per_minute = { interstate = \"0.0500\" }");
    }
    for (const auto& [key, node] : *prices->as_table()) {
      const std::optional<Jurisdiction> jurisdiction = parse_jurisdiction(key.str());
      if (!jurisdiction) {
        reader.fail(&node, path + ".per_minute." + std::string(key.str()), "is not a jurisdiction",
                    "use one of: " + std::string(kJurisdictions));
      }
      plan.per_minute.emplace_back(
          *jurisdiction, reader.money(*prices->as_table(), path + ".per_minute", key.str()));
    }
  }
  return plan;
}

RateDeckVersion read_version(const DeckReader& reader, const toml::table& table) {
  const std::string path = "version";
  reader.check_keys(
      table, path,
      {"name", "effective", "rounding", "initial_seconds", "additional_seconds", "minimum_seconds",
       "default_period", "holiday_period", "holidays", "period", "rate", "surcharge", "tax", "fee",
       "accessibility", "premium_per_minute", "service_code", "plan"});
  RateDeckVersion version;
  version.source = reader.source();
  version.name = reader.text(table, path, "name");
  if (table.get("effective") == nullptr) {
    reader.fail(&table, path + ".effective", "is missing", "add effective = 2026-01-01");
  }
  version.effective = reader.date(*table.get("effective"), path + ".effective");
  version.rounding = reader.parse_name<CentRounding>(
      table, path, "rounding", parse_rounding, "up, half-up, half-even", CentRounding::HalfUp);
  version.initial_seconds =
      static_cast<int>(reader.integer(table, path, "initial_seconds", 60, 1, 3600));
  version.additional_seconds =
      static_cast<int>(reader.integer(table, path, "additional_seconds", 60, 1, 3600));
  version.minimum_seconds =
      static_cast<int>(reader.integer(table, path, "minimum_seconds", 0, 0, 3600));
  version.default_period = reader.text(table, path, "default_period", "night");
  version.holiday_period = reader.text(table, path, "holiday_period", version.default_period);
  if (const toml::node* holidays = table.get("holidays")) {
    if (!holidays->is_array()) {
      reader.fail(holidays, path + ".holidays", "is not an array", "write [2026-01-01, ...]");
    }
    for (const toml::node& day : *holidays->as_array()) {
      version.holidays.push_back(reader.date(day, path + ".holidays"));
    }
    std::sort(version.holidays.begin(), version.holidays.end());
  }

  std::vector<std::string> periods = {version.default_period, version.holiday_period};
  if (const toml::array* rules = reader.tables(table, path, "period")) {
    for (const toml::node& node : *rules) {
      version.period_rules.push_back(read_period(reader, *node.as_table()));
      periods.push_back(version.period_rules.back().period);
    }
  }
  std::sort(periods.begin(), periods.end());
  periods.erase(std::unique(periods.begin(), periods.end()), periods.end());

  if (const toml::array* rates = reader.tables(table, path, "rate")) {
    for (const toml::node& node : *rates) {
      version.rates.push_back(read_rate(reader, *node.as_table(), periods));
    }
  }
  if (const toml::array* surcharges = reader.tables(table, path, "surcharge")) {
    for (const toml::node& node : *surcharges) {
      version.surcharges.push_back(read_surcharge(reader, *node.as_table()));
    }
  }
  if (const toml::array* taxes = reader.tables(table, path, "tax")) {
    for (const toml::node& node : *taxes) {
      version.taxes.push_back(read_tax(reader, *node.as_table()));
    }
  }
  if (const toml::array* fees = reader.tables(table, path, "fee")) {
    for (const toml::node& node : *fees) {
      version.fees.push_back(read_fee(reader, *node.as_table()));
    }
  }
  if (const toml::node* accessibility = table.get("accessibility")) {
    if (!accessibility->is_table()) {
      reader.fail(accessibility, path + ".accessibility", "is not a table",
                  "write it as [version.accessibility]");
    }
    version.accessibility = read_accessibility(reader, *accessibility->as_table());
  }
  if (table.get("premium_per_minute") != nullptr) {
    version.premium_per_minute = reader.money(table, path, "premium_per_minute");
  }
  if (const toml::array* codes = reader.tables(table, path, "service_code")) {
    for (const toml::node& node : *codes) {
      const toml::table& entry = *node.as_table();
      const std::string item_path = path + ".service_code";
      reader.check_keys(entry, item_path, {"code", "amount", "description"});
      ServiceCodeCharge charge;
      charge.code = reader.text(entry, item_path, "code");
      charge.amount = reader.money(entry, item_path, "amount");
      charge.description = reader.text(entry, item_path, "description");
      version.service_codes.push_back(std::move(charge));
    }
  }
  if (const toml::array* plans = reader.tables(table, path, "plan")) {
    for (const toml::node& node : *plans) {
      version.plans.push_back(read_plan(reader, *node.as_table()));
    }
  }
  return version;
}

}  // namespace

std::string_view to_string(Jurisdiction jurisdiction) {
  switch (jurisdiction) {
    case Jurisdiction::Local:
      return "local";
    case Jurisdiction::IntraLata:
      return "intralata";
    case Jurisdiction::InterLataIntrastate:
      return "interlata-intrastate";
    case Jurisdiction::Interstate:
      return "interstate";
    case Jurisdiction::International:
      return "international";
  }
  return "unknown";
}

std::optional<Jurisdiction> parse_jurisdiction(std::string_view name) {
  for (Jurisdiction j :
       {Jurisdiction::Local, Jurisdiction::IntraLata, Jurisdiction::InterLataIntrastate,
        Jurisdiction::Interstate, Jurisdiction::International}) {
    if (to_string(j) == name) {
      return j;
    }
  }
  return std::nullopt;
}

int vh_distance_miles(int v1, int h1, int v2, int h2) {
  const std::int64_t dv = v1 - v2;
  const std::int64_t dh = h1 - h2;
  const std::int64_t squared = dv * dv + dh * dh;
  // Smallest miles with miles^2 * 10 >= squared, computed in integers so it rounds up exactly.
  auto miles = static_cast<std::int64_t>(std::sqrt(static_cast<double>(squared) / 10.0));
  while (miles > 0 && (miles - 1) * (miles - 1) * 10 >= squared) {
    --miles;
  }
  while (miles * miles * 10 < squared) {
    ++miles;
  }
  return static_cast<int>(miles);
}

Result<RateDeck> RateDeck::parse(std::string_view toml_text, std::string_view source_name) {
  Result<RateDeck> deck = parse_document(toml_text, source_name, true);
  if (deck) {
    deck->text_sha256_ = sha256_hex(toml_text);
  }
  return deck;
}

Result<RateDeck> RateDeck::parse_document(std::string_view toml_text, std::string_view source_name,
                                          bool require_versions) {
  const std::string source(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& error) {
    return Result<RateDeck>(StatusCode::InvalidArgument,
                            source + ":" + std::to_string(error.source().begin.line) +
                                ": invalid TOML: " + std::string(error.description()) +
                                "; fix the syntax at that line");
  }

  RateDeck deck;
  DeckReader reader(source);
  try {
    reader.check_keys(root, "deck", {"name", "rate_center", "version"});
    deck.name_ = reader.text(root, "deck", "name", source);
    if (const toml::array* centers = reader.tables(root, "deck", "rate_center")) {
      for (const toml::node& node : *centers) {
        const toml::table& entry = *node.as_table();
        reader.check_keys(entry, "rate_center", {"name", "v", "h"});
        RateCenterCoordinates coordinates;
        coordinates.rate_center = reader.text(entry, "rate_center", "name");
        if (entry.get("v") == nullptr || entry.get("h") == nullptr) {
          reader.fail(&entry, "rate_center", "lacks v or h", "give both V&H coordinates");
        }
        coordinates.v = static_cast<int>(reader.integer(entry, "rate_center", "v", 0, 0, 10'000));
        coordinates.h = static_cast<int>(reader.integer(entry, "rate_center", "h", 0, 0, 10'000));
        deck.coordinates_.push_back(std::move(coordinates));
      }
    }
    const toml::array* versions = reader.tables(root, "deck", "version");
    if (require_versions && (versions == nullptr || versions->empty())) {
      reader.fail(nullptr, "version", "is missing", "add at least one [[version]] table");
    }
    if (versions != nullptr) {
      for (const toml::node& node : *versions) {
        deck.versions_.push_back(read_version(reader, *node.as_table()));
      }
    }
  } catch (const DeckError& error) {
    return Result<RateDeck>(StatusCode::InvalidArgument, error.message);
  }

  std::sort(
      deck.versions_.begin(), deck.versions_.end(),
      [](const RateDeckVersion& a, const RateDeckVersion& b) { return a.effective < b.effective; });
  for (std::size_t i = 1; i < deck.versions_.size(); ++i) {
    if (deck.versions_[i].effective == deck.versions_[i - 1].effective) {
      return Result<RateDeck>(StatusCode::InvalidArgument,
                              source + ": versions '" + deck.versions_[i - 1].name + "' and '" +
                                  deck.versions_[i].name +
                                  "' have the same effective date; give each its own date");
    }
  }
  return deck;
}

Status RateDeck::merge(RateDeck&& other) {
  for (RateDeckVersion& version : other.versions_) {
    for (const RateDeckVersion& existing : versions_) {
      if (existing.effective == version.effective) {
        return Status(StatusCode::InvalidArgument,
                      version.source + ": version '" + version.name +
                          "' has the same effective date as version '" + existing.name + "' in " +
                          existing.source + "; give each its own date");
      }
    }
    versions_.push_back(std::move(version));
  }
  for (RateCenterCoordinates& coordinates : other.coordinates_) {
    coordinates_.push_back(std::move(coordinates));
  }
  std::sort(
      versions_.begin(), versions_.end(),
      [](const RateDeckVersion& a, const RateDeckVersion& b) { return a.effective < b.effective; });
  return Status::ok();
}

namespace {

// Describes a directory entry that is neither a regular file nor a folder, for messages.
std::string special_file_kind(const std::filesystem::file_status& status) {
  switch (status.type()) {
    case std::filesystem::file_type::fifo:
      return "a FIFO";
    case std::filesystem::file_type::socket:
      return "a socket";
    case std::filesystem::file_type::block:
    case std::filesystem::file_type::character:
      return "a device";
    case std::filesystem::file_type::not_found:
      return "a broken symbolic link";
    default:
      return "not a regular file";
  }
}

// Appends the [[rate_center]] and [[version]] tables of one deck file's TOML document to
// `rate_centers` and `versions`. The document has already parsed as a deck file.
Status append_deck_tables(const RateDeckFile& file, toml::array& rate_centers,
                          toml::array& versions) {
  toml::table document;
  try {
    document = toml::parse(file.text, file.name);
  } catch (const toml::parse_error& error) {
    return Status(StatusCode::InvalidArgument,
                  file.name + ": invalid TOML: " + std::string(error.description()));
  }
  for (const auto& [key, target] :
       {std::pair<std::string_view, toml::array*>{"rate_center", &rate_centers},
        std::pair<std::string_view, toml::array*>{"version", &versions}}) {
    if (const toml::array* entries = document[key].as_array()) {
      for (const toml::node& entry : *entries) {
        if (const toml::table* table = entry.as_table()) {
          target->push_back(*table);
        }
      }
    }
  }
  return Status::ok();
}

// Merges the TOML documents of a deck folder into one, as RateDeck::merge merges the decks
// parsed from them: `deck_name`, then every file's rate centers and versions in file order.
Result<std::string> merge_deck_documents(const std::string& deck_name,
                                         const std::vector<RateDeckFile>& files) {
  toml::array rate_centers;
  toml::array versions;
  for (const RateDeckFile& file : files) {
    if (Status appended = append_deck_tables(file, rate_centers, versions); !appended) {
      return appended;
    }
  }
  toml::table merged;
  merged.insert("name", deck_name);
  if (!rate_centers.empty()) {
    merged.insert("rate_center", std::move(rate_centers));
  }
  merged.insert("version", std::move(versions));
  std::ostringstream text;
  text << merged << "\n";
  return text.str();
}

// Checks that the merged document of a folder rates as the folder does, comparing what
// RateDeck keeps of each version.
Status check_merged_deck(const RateDeckSource& source, const std::filesystem::path& path) {
  Result<RateDeck> merged = RateDeck::parse(source.merged_text, path.string());
  if (!merged) {
    return Status(StatusCode::Internal,
                  "the files of '" + path.string() +
                      "' do not merge into one deck: " + merged.status().message());
  }
  const RateDeck& loaded = source.deck;
  bool same =
      merged->name() == loaded.name() && merged->versions().size() == loaded.versions().size();
  for (std::size_t i = 0; same && i < loaded.versions().size(); ++i) {
    same = merged->versions()[i].name == loaded.versions()[i].name &&
           merged->versions()[i].effective == loaded.versions()[i].effective &&
           merged->versions()[i].rates.size() == loaded.versions()[i].rates.size();
  }
  if (!same) {
    return Status(StatusCode::Internal, "the merged rate deck of '" + path.string() +
                                            "' differs from the folder; this is a bug in "
                                            "relaygw, store the files as one .toml file "
                                            "meanwhile");
  }
  return Status::ok();
}

}  // namespace

Result<RateDeck> RateDeck::load(const std::filesystem::path& path, std::string_view option) {
  Result<RateDeckSource> source = read_rate_deck(path, option);
  if (!source) {
    return source.status();
  }
  return std::move(source->deck);
}

Result<RateDeckSource> read_rate_deck(const std::filesystem::path& path, std::string_view option) {
  const std::string fix = "pass " + std::string(option) + " FILE";
  std::error_code error;
  std::vector<std::filesystem::path> files;
  const bool folder = std::filesystem::is_directory(path, error);
  if (folder) {
    for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
      if (entry.path().extension() != ".toml") {
        continue;
      }
      // status() follows links; opening a FIFO would block until a writer appears.
      const std::filesystem::file_status status = entry.status(error);
      if (std::filesystem::is_directory(status)) {
        continue;
      }
      if (!std::filesystem::is_regular_file(status)) {
        return Result<RateDeckSource>(StatusCode::InvalidArgument,
                                      "rate deck file '" + entry.path().string() + "' is " +
                                          special_file_kind(status) +
                                          "; remove it from the deck folder or replace it with a "
                                          "regular .toml file");
      }
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      return Result<RateDeckSource>(
          StatusCode::NotFound, "rate deck folder '" + path.string() +
                                    "' has no .toml files (names ending in upper-case .TOML are "
                                    "not read); " +
                                    fix);
    }
  } else {
    const std::filesystem::file_status status = std::filesystem::status(path, error);
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
      return Result<RateDeckSource>(
          StatusCode::InvalidArgument,
          "rate deck '" + path.string() + "' is " + special_file_kind(status) + "; " + fix);
    }
    files.push_back(path);
  }

  std::optional<RateDeck> merged;
  std::vector<RateDeckFile> texts;
  for (const std::filesystem::path& file : files) {
    std::ifstream in(file);
    if (!in) {
      return Result<RateDeckSource>(StatusCode::NotFound,
                                    "rate deck '" + file.string() + "' not found; " + fix);
    }
    std::ostringstream text;
    text << in.rdbuf();
    Result<RateDeck> deck = RateDeck::parse_document(text.str(), file.string(), !folder);
    if (!deck) {
      return deck.status();
    }
    if (!merged) {
      merged = std::move(deck).value();
    } else if (Status status = merged->merge(std::move(deck).value()); !status) {
      return status;
    }
    texts.push_back({file.filename().string(), text.str()});
  }
  if (merged->versions_.empty()) {
    return Result<RateDeckSource>(StatusCode::InvalidArgument,
                                  "rate deck folder '" + path.string() +
                                      "' has no [[version]] table in any file; add at least one");
  }

  RateDeckSource source{std::move(*merged), std::move(texts), ""};
  if (!folder) {
    source.merged_text = source.files.front().text;
    return source;
  }
  Result<std::string> merged_text = merge_deck_documents(source.deck.name(), source.files);
  if (!merged_text) {
    return merged_text.status();
  }
  source.merged_text = std::move(merged_text).value();
  if (Status same = check_merged_deck(source, path); !same) {
    return same;
  }
  return source;
}

const RateDeckVersion* RateDeck::version_for(const LocalDate& local_date) const {
  const RateDeckVersion* found = nullptr;
  for (const RateDeckVersion& version : versions_) {
    if (version.effective <= local_date) {
      found = &version;
    }
  }
  return found;
}

const RateCenterCoordinates* RateDeck::coordinates(std::string_view rate_center) const {
  for (const RateCenterCoordinates& entry : coordinates_) {
    if (entry.rate_center == rate_center) {
      return &entry;
    }
  }
  return nullptr;
}

}  // namespace relaygw::billing
