#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/numbering.hpp"
#include "common/card_digits.hpp"

using namespace relaygw::billing;
using relaygw::Result;

namespace {

const NumberPlan& number_plan() {
  static const NumberPlan plan = [] {
    auto loaded = NumberPlan::load(std::string(RELAYGW_SOURCE_DIR) + "/data");
    if (!loaded) {
      FAIL(loaded.status().message());
    }
    return std::move(loaded).value();
  }();
  return plan;
}

}  // namespace

TEST_CASE("number plan classifies good numbers", "[billing][numbering]") {
  struct Row {
    const char* dialed;
    NumberKind kind;
    DialPrefix prefix;
    const char* e164;
    const char* state;
    const char* zone;
  };
  const Row rows[] = {
      {"2125550142", NumberKind::Fictional, DialPrefix::None, "+12125550142", "NY",
       "America/New_York"},
      {"1 (212) 555-0199", NumberKind::Fictional, DialPrefix::One, "+12125550199", "NY",
       "America/New_York"},
      {"0-312-555-0100", NumberKind::Fictional, DialPrefix::Zero, "+13125550100", "IL",
       "America/Chicago"},
      {"+1 303 205 1234", NumberKind::Geographic, DialPrefix::Plus, "+13032051234", "CO",
       "America/Denver"},
      {"602.212.0000", NumberKind::Geographic, DialPrefix::None, "+16022120000", "AZ",
       "America/Phoenix"},
      {"8085451234", NumberKind::Geographic, DialPrefix::None, "+18085451234", "HI",
       "Pacific/Honolulu"},
      {"4165550100", NumberKind::Fictional, DialPrefix::None, "+14165550100", "ONTARIO",
       "America/Toronto"},
      {"2125551212", NumberKind::DirectoryAssistance, DialPrefix::None, "+12125551212", "NY",
       "America/New_York"},
      {"2129761234", NumberKind::Premium, DialPrefix::None, "+12129761234", "NY",
       "America/New_York"},
      {"9005550100", NumberKind::Premium, DialPrefix::None, "+19005550100", "", ""},
      {"911", NumberKind::Emergency, DialPrefix::None, "911", "", ""},
      {"1911", NumberKind::Emergency, DialPrefix::One, "911", "", ""},
      {"711", NumberKind::Relay, DialPrefix::None, "711", "", ""},
      {"411", NumberKind::DirectoryAssistance, DialPrefix::None, "411", "", ""},
      {"211", NumberKind::ServiceCode, DialPrefix::None, "211", "", ""},
      {"5005550100", NumberKind::NonGeographic, DialPrefix::None, "+15005550100", "", ""},
      {"011 44 20 7946 0000", NumberKind::International, DialPrefix::International, "+442079460000",
       "", ""},
      {"+33 1 23 45 67 89", NumberKind::International, DialPrefix::Plus, "+33123456789", "", ""},
  };
  for (const Row& row : rows) {
    INFO("dialed " << row.dialed);
    Result<NumberInfo> info = number_plan().classify(row.dialed);
    REQUIRE(info);
    CHECK(info->kind == row.kind);
    CHECK(info->prefix == row.prefix);
    CHECK(info->e164 == row.e164);
    CHECK(info->state == row.state);
    CHECK(info->time_zone == row.zone);
  }
}

TEST_CASE("number plan covers every toll-free code", "[billing][numbering]") {
  for (const char* npa : {"800", "833", "844", "855", "866", "877", "888"}) {
    const std::string dialed = std::string("1") + npa + "5550100";
    INFO("dialed " << dialed);
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE(info);
    CHECK(info->kind == NumberKind::TollFree);
  }
}

TEST_CASE("number plan fills rate center", "[billing][numbering]") {
  Result<NumberInfo> jersey = number_plan().classify("2012001234");
  REQUIRE(jersey);
  CHECK(jersey->rate_center == "Jersey City, NJ");
  CHECK(jersey->rate_center_exact);
  CHECK(jersey->npa == "201");
  CHECK(jersey->nxx == "200");
  CHECK(jersey->line == "1234");
  CHECK(jersey->country == "US");

  // Fictional numbers have no exchange entry, so the area's name is used.
  Result<NumberInfo> fictional = number_plan().classify("2015550142");
  REQUIRE(fictional);
  CHECK(fictional->rate_center == "New Jersey");
  CHECK_FALSE(fictional->rate_center_exact);

  // The longest prefix decides the zone: 208-201 is Mountain time, 208-215 Pacific.
  Result<NumberInfo> boise = number_plan().classify("2082011234");
  REQUIRE(boise);
  CHECK(boise->time_zone == "America/Denver");
  Result<NumberInfo> north_idaho = number_plan().classify("2082151234");
  REQUIRE(north_idaho);
  CHECK(north_idaho->time_zone == "America/Los_Angeles");
}

TEST_CASE("number plan rejects bad numbers", "[billing][numbering]") {
  struct Row {
    const char* dialed;
    const char* named;  // the value the message must name
  };
  const Row rows[] = {
      {"", "no digits"},
      {"212555014", "9 digits"},
      {"212555014222", "12 digits"},
      {"21255501AB", "'A'"},
      {"1-800-FLOWERS", "'F'"},
      {"0125550142", "area code 012"},
      {"1125550142", "area code 112"},
      {"2120550142", "exchange code 055"},
      {"2121550142", "exchange code 155"},
      {"2129110142", "exchange code 911"},
      {"9115550142", "area code 911"},
      {"3775550142", "area code 377"},  // not assigned
      {"011", "no country code"},
      {"0112", "1 digit after"},
      {"011123456789", "country code 1"},
      {"+4412", "5 digits"},
      {"+44123456789012345", "17 digits"},
      {"+1212555014", "9 digits after +1; a NANP number has 10 digits after +1"},
      {"+121255501422", "11 digits after +1"},
      {"+1", "0 digits after +1"},
  };
  for (const Row& row : rows) {
    INFO("dialed '" << row.dialed << "'");
    Result<NumberInfo> info = number_plan().classify(row.dialed);
    REQUIRE_FALSE(info);
    CHECK(info.status().code() == relaygw::StatusCode::InvalidArgument);
    INFO("message " << info.status().message());
    CHECK(info.status().message().find(row.named) != std::string::npos);
    // A run longer than any phone number may be a card number, so it is quoted masked.
    const std::string quoted = "'" + relaygw::mask_invalid_phone_number(row.dialed) + "'";
    CHECK(info.status().message().find(quoted) != std::string::npos);
  }
  const Result<NumberInfo> card = number_plan().classify("+44123456789012345");
  REQUIRE_FALSE(card);
  CHECK(card.status().message().find("'+*************2345'") != std::string::npos);
}

TEST_CASE("e164 form matches classify", "[billing][numbering]") {
  // Every form staff type, including the ones calls kept before they were stored in E.164.
  const char* accepted[] = {"3125550142",        "312-555-0142",     "(312) 555-0142",
                            "1 312 555 0142",    "13125550142",      "0 312 555 0142",
                            "+13125550142",      "+1 (312) 555-0142", "18005551212",
                            "911",               "1911",             "0911",
                            "+1911",             "711",              "988",
                            "011 44 20 7946 0018", "+442079460018",  "+80012345678"};
  for (const char* dialed : accepted) {
    INFO("dialed '" << dialed << "'");
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE(info);
    Result<std::string> e164 = e164_form(dialed);
    REQUIRE(e164);
    CHECK(*e164 == info->e164);
  }
  // The form checks reject what classify rejects, with the same message.
  for (const char* dialed : {"", "212555014", "21255501AB", "0125550142", "2121550142",
                             "9115550142", "0112", "011123456789", "+4412", "+1212555014"}) {
    INFO("dialed '" << dialed << "'");
    Result<std::string> e164 = e164_form(dialed);
    REQUIRE_FALSE(e164);
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE_FALSE(info);
    CHECK(e164.status().message() == info.status().message());
  }
  // Without the data, an unassigned area code keeps its E.164 form.
  Result<std::string> unassigned = e164_form("3775550142");
  REQUIRE(unassigned);
  CHECK(*unassigned == "+13775550142");
}

TEST_CASE("emergency numbers need no data", "[billing][numbering]") {
  for (const char* dialed : {"911", "1911", "0911", "+1911", "9-1-1", "(911)"}) {
    INFO("dialed " << dialed);
    CHECK(is_emergency_number(dialed));
  }
  for (const char* dialed : {"912", "2125550911", "19110", "711", ""}) {
    INFO("dialed " << dialed);
    CHECK_FALSE(is_emergency_number(dialed));
  }
}

TEST_CASE("number plan reports missing files", "[billing][numbering]") {
  const std::string folder = std::string(RELAYGW_SOURCE_DIR) + "/data/does-not-exist";
  Result<NumberPlan> plan = NumberPlan::load(folder);
  REQUIRE_FALSE(plan);
  CHECK(plan.status().code() == relaygw::StatusCode::NotFound);
  CHECK(plan.status().message().find(folder) != std::string::npos);
  CHECK(plan.status().message().find("--data-dir") != std::string::npos);
}

TEST_CASE("number plan loads the reference data", "[billing][numbering]") {
  CHECK(number_plan().area_code_count() > 400);
  CHECK(number_plan().prefix_count() > 30'000);
}

TEST_CASE("number plan zones by exchange and area", "[billing][numbering]") {
  struct Row {
    const char* number;
    const char* prefix;
    std::vector<std::string> zones;
  };
  const std::vector<Row> rows = {
      // Only the area code has an entry.
      {"3125550150", "312", {"America/Chicago"}},
      {"3175550150", "317", {"America/New_York"}},
      // An exchange entry decides, even where the area code spans zones.
      {"2083205555", "208320", {"America/Boise", "America/Los_Angeles"}},
      {"2082015555", "208201", {"America/Denver"}},
      {"8502005555", "850200", {"America/Chicago"}},
      // A block of exchanges, 208-3XX, when the exchange itself has no entry.
      {"2083335555", "2083", {"America/Denver"}},
      // An exchange without an entry in an area code that spans zones gets every zone named
      // in that area code.
      {"8505550150", "850", {"America/Chicago", "America/New_York"}},
      {"6055550150", "605", {"America/Chicago", "America/Denver", "America/North_Dakota/Center"}},
      // 915 has one zone in libphonenumber but the NANPA letters CM.
      {"9155550150", "915", {"America/Chicago", "America/Denver"}},
      // The NANPA report gives 809 the letter E, which is wrong for the Dominican Republic.
      // One letter adds nothing when libphonenumber has the area code.
      {"8095550150", "809", {"America/Santo_Domingo"}},
  };
  for (const Row& row : rows) {
    INFO(row.number);
    Result<NumberInfo> info = number_plan().classify(row.number);
    REQUIRE(info);
    const NumberTimeZones zones = number_plan().time_zones(*info);
    CHECK(zones.prefix == row.prefix);
    CHECK(zones.zones == row.zones);
  }
}

TEST_CASE("number plan zones skip unplaced numbers", "[billing][numbering]") {
  for (const char* dialed : {"8005550150", "5005550150", "9005550150", "011442079460000", "911"}) {
    INFO(dialed);
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE(info);
    const NumberTimeZones zones = number_plan().time_zones(*info);
    CHECK(zones.zones.empty());
    CHECK(zones.prefix.empty());
  }
}

TEST_CASE("number plan rates zone lines in main zone", "[billing][numbering]") {
  // Prefixes that list several zones are rated in the zone most of their lines keep, not in
  // the first one the data lists (alphabetical order).
  const std::pair<const char*, const char*> rows[] = {
      {"9075550113", "America/Anchorage"},            // listed Adak & Anchorage; NANPA UTC-9
      {"6055550100", "America/North_Dakota/Center"},  // listed Denver & Central; NANPA "CM"
      {"7015550100", "America/North_Dakota/Center"},
      {"7095550100", "America/St_Johns"},     // listed Puerto Rico & St. John's; NANPA "NA"
      {"2085550100", "America/Boise"},        // Boise & Los Angeles; NANPA "MP"
      {"7755550100", "America/Los_Angeles"},  // Nevada: Boise & Los Angeles; NANPA "P"
      // Tuba City, in the Navajo Nation, which keeps daylight saving time unlike the rest of
      // Arizona: listed Denver & Phoenix; NANPA "M" names Denver.
      {"9282831234", "America/Denver"},
      {"9285550100", "America/Phoenix"},  // the rest of 928 has its own single-zone entry
  };
  for (const auto& [dialed, zone] : rows) {
    INFO("dialed " << dialed);
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE(info);
    CHECK(info->time_zone == zone);
  }
}

TEST_CASE("number plan rejects spare country codes", "[billing][numbering]") {
  for (const char* dialed : {"+9991234567", "+2821234567", "011 289 1234 5678", "+6711234567",
                             "+8951234567", "+3881234567"}) {
    INFO("dialed " << dialed);
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE_FALSE(info);
    CHECK(info.status().message().find("is not assigned to any country") != std::string::npos);
    CHECK(info.status().message().find(dialed) != std::string::npos);
  }
  // Assigned neighbours of the spare codes still classify as international.
  for (const char* dialed :
       {"+2901234567", "+2971234567", "+3851234567", "+9981234567", "+8821234567", "+8701234567"}) {
    INFO("dialed " << dialed);
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE(info);
    CHECK(info->kind == NumberKind::International);
  }
  // +800 is the Universal International Freephone Number: free to the caller.
  Result<NumberInfo> freephone = number_plan().classify("+800 1234 5678");
  REQUIRE(freephone);
  CHECK(freephone->kind == NumberKind::TollFree);
  CHECK(freephone->e164 == "+80012345678");
  for (const char* dialed : {"+800123456789", "+8001234567"}) {
    INFO("dialed " << dialed);
    Result<NumberInfo> wrong = number_plan().classify(dialed);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.status().message().find("international freephone number has 8") !=
          std::string::npos);
  }
}

TEST_CASE("number plan places 988 crisis line", "[billing][numbering]") {
  for (const char* dialed : {"988", "1988", "+1988"}) {
    INFO("dialed " << dialed);
    Result<NumberInfo> info = number_plan().classify(dialed);
    REQUIRE(info);
    CHECK(info->kind == NumberKind::TollFree);
    CHECK(info->e164 == "988");
  }
}
