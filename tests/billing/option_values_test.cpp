// Option values that a new user may type: empty and blank values of call options, integers
// outside the 64-bit range or not in decimal, and listing names that contain a card number. Each
// runs relaygw as a real process on a real database file.
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/billing/billing_test_support.hpp"

using relaygw::billing::testing::CommandDatabaseFixture;
using relaygw::billing::testing::CommandRun;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class OptionValuesFixture : public CommandDatabaseFixture {
 public:
  OptionValuesFixture() : CommandDatabaseFixture("relaygw-option-values-") {}
};

}  // namespace

TEST_CASE_METHOD(OptionValuesFixture, "call create rejects blank values", "[billing][cli]") {
  const std::string call =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  struct Case {
    std::string id;
    std::string options;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"b1", "--billing person-to-person --person ''", "--person is given with an empty value"},
      {"b2", "--billing person-to-person --person '   '", "--person is given with only blank space"},
      {"b3", "--billing third-party --third-number ''",
       "--third-number is given with an empty value"},
      {"b4", "--billing calling-card --card ''", "--card is given with an empty value"},
      {"b5", "--access ''", "--access is given with an empty value"},
  };
  for (const Case& rejected : cases) {
    const CommandRun run = relaygw(call + "--id " + rejected.id + " " + rejected.options);
    INFO(rejected.options << ": " << run.output);
    CHECK(run.status == 1);
    CHECK(contains(run.output, rejected.expected));
    CHECK_FALSE(contains(run.output, "refused"));
    CHECK(relaygw("call show " + db_option() + "--id " + rejected.id).status != 0);
  }

  // The id is still free, so the call can be made with a name.
  const CommandRun named = relaygw(call + "--id b1 --billing person-to-person --person Bob");
  INFO(named.output);
  CHECK(named.status == 0);
}

TEST_CASE_METHOD(OptionValuesFixture, "call steps reject blank values", "[billing][cli]") {
  const CommandRun created = relaygw("call create " + db_option() +
                                     "--id s1 --from 3125550107 --to 2125550101 "
                                     "--at 2026-03-10T14:00:00Z");
  REQUIRE(created.status == 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"call complete " + db_option() + "--id s1 --key ''", "--key is given with an empty value"},
      {"call debit " + db_option() + "--id s1 --key ' '", "--key is given with only blank space"},
      {"call event " + db_option() + "--id s1 --event accepted --how voice --by ''",
       "--by is given with an empty value"},
      {"call event " + db_option() + "--id s1 --event connected --at ''",
       "--at is given with an empty value"},
      {"call show " + db_option() + "--id ''", "--id is given with an empty value"},
  };
  for (const auto& [arguments, expected] : cases) {
    const CommandRun run = relaygw(arguments);
    INFO(arguments << ": " << run.output);
    CHECK(run.status == 1);
    CHECK(contains(run.output, expected));
  }
  const CommandRun shown = relaygw("call show " + db_option() + "--id s1");
  INFO(shown.output);
  CHECK_FALSE(contains(shown.output, "connected at"));
}

TEST_CASE_METHOD(OptionValuesFixture, "integer options name typed value", "[billing][cli]") {
  const std::string credit = "credit request " + db_option() +
                             "--call c1 --reason other --text typo --key k1 --line ";
  const CommandRun large = relaygw(credit + "99999999999999999999");
  INFO(large.output);
  CHECK(large.status == 1);
  CHECK(contains(large.output, "--line: the value '99999999999999999999' is out of range"));
  CHECK_FALSE(contains(large.output, "charge line 9223372036854775807"));

  // CLI11 alone reads integers in base 0, so it took these as octal and hexadecimal.
  const CommandRun hexadecimal = relaygw(credit + "0x10");
  INFO(hexadecimal.output);
  CHECK(hexadecimal.status == 1);
  CHECK(contains(hexadecimal.output, "--line: the value '0x10' is not a whole number"));

  const CommandRun dispute = relaygw("dispute open " + db_option() +
                                     "--call c1 --line 1e3 --reason other --text x");
  INFO(dispute.output);
  CHECK(dispute.status == 1);
  CHECK(contains(dispute.output, "--line: the value '1e3' is not a whole number"));

  // A 19-digit value is out of range and as long as a card number, so it is masked.
  const CommandRun card_length = relaygw(credit + "9999999999999994321");
  INFO(card_length.output);
  CHECK(card_length.status == 1);
  CHECK(contains(card_length.output, "'***************4321' is out of range"));
  CHECK_FALSE(contains(card_length.output, "9999999999999994321"));
}

TEST_CASE_METHOD(OptionValuesFixture, "integer options read decimal", "[billing][cli]") {
  const std::string call = db_option() + "--id d1 ";
  REQUIRE(relaygw("call create " + call + "--from 3125550107 --to 2125550101 "
                  "--at 2026-03-10T14:00:00Z")
              .status == 0);
  REQUIRE(relaygw("call event " + call + "--event connected --at 2026-03-10T14:00:10Z").status ==
          0);
  REQUIRE(relaygw("call complete " + call + "--key d1-done --at 2026-03-10T14:05:10Z").status ==
          0);

  // CLI11 alone reads "010" as octal, which named charge line 8.
  const CommandRun run = relaygw("credit request " + db_option() +
                                 "--call d1 --line 010 --reason other --text typo --key k1");
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(contains(run.output, "charge line 10 is invalid; call d1 has lines 1 to 4"));
}

TEST_CASE_METHOD(OptionValuesFixture, "listing names reject card numbers", "[billing][cli]") {
  const std::string fix = "Choose a name without the card number";
  const std::string line_add = "line add " + db_option() +
                               "--type residential --state IL --rate-center CHICAGO "
                               "--time-zone America/Chicago --number 3125550160 ";
  const CommandRun added = relaygw(line_add + "--name 'Card 4111 1111 1111 9876'");
  INFO(added.output);
  CHECK(added.status == 1);
  CHECK(contains(added.output, "invalid listing name for line +13125550160"));
  CHECK(contains(added.output, fix));
  CHECK_FALSE(contains(added.output, "4111 1111"));
  CHECK(relaygw("line show " + db_option() + "--number 3125550160").status != 0);

  const CommandRun changed = relaygw("profile change " + db_option() +
                                     "--line 3125550104 --name 'Nguyen 4111111111119876' "
                                     "--reason typo");
  INFO(changed.output);
  CHECK(changed.status == 1);
  CHECK(contains(changed.output, "invalid listing name for line +13125550104: listing name "
                                 "'Nguyen ************9876'"));
  CHECK(contains(changed.output, fix));

  const CommandRun line_changed = relaygw("line change " + db_option() +
                                          "--number 3125550104 --name 'Nguyen 4111111111119876'");
  INFO(line_changed.output);
  CHECK(line_changed.status == 1);
  CHECK(contains(line_changed.output, fix));

  const std::string csv = path("lines.csv");
  std::ofstream(csv) << "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,"
                        "is_tty,tty_discount_eligible\n"
                        "3125550161,Card 4111111111119876,residential,none,IL,CHICAGO,"
                        "America/Chicago,0288,no,no\n";
  const CommandRun imported = relaygw("line import " + db_option() + "--file '" + csv + "'");
  INFO(imported.output);
  CHECK(imported.status == 1);
  CHECK(contains(imported.output, "row 2: invalid listing name for line +13125550161"));
  CHECK(contains(imported.output, fix));

  // Nothing that printed a listing name shows the card number.
  for (const std::string& arguments :
       {"line show " + db_option() + "--number 3125550104", "line export " + db_option(),
        "profile history " + db_option() + "--line 3125550104"}) {
    const CommandRun run = relaygw(arguments);
    INFO(arguments << ": " << run.output);
    CHECK(run.status == 0);
    CHECK_FALSE(contains(run.output, "9876"));
  }

  // A phone number of ten digits in a name is still accepted.
  const CommandRun phone = relaygw(line_add + "--name 'Front desk 3125550100'");
  INFO(phone.output);
  CHECK(phone.status == 0);
}
