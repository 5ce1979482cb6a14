#include <catch2/catch.hpp>

#include <string>

#include "common/card_digits.hpp"

namespace relaygw {
namespace {

TEST_CASE("card digit runs are masked", "[common][card-digits]") {
  struct Case {
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {"lost 4111111111119876", "lost ************9876"},
      {"4111 1111 1111 9876 stolen", "**** **** **** 9876 stolen"},
      {"card 4111-1111-1111-9876.", "card ****-****-****-9876."},
      {"ten 3125550107", "ten ******0107"},
      {"nine 312555010", "nine 312555010"},
      {"groups 1234 5678 apart", "groups 1234 5678 apart"},
      {"twenty 12345678901234567890", "twenty ****************7890"},
      {"two 4111111111119876 and 5550142000001", "two ************9876 and *********0001"},
      {"one space 41111111 11119876", "one space ******** ****9876"},
      {"two spaces 41111111  11119876", "two spaces 41111111  11119876"},
      {"", ""},
      {"lost", "lost"},
  };
  for (const Case& item : cases) {
    INFO(item.text);
    CHECK(mask_card_number_runs(item.text) == item.expected);
  }
}

}  // namespace
}  // namespace relaygw
