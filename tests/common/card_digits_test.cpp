#include <catch2/catch.hpp>

#include <string>
#include <vector>

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
      {"two spaces 41111111  11119876", "two spaces ********  ****9876"},
      {"card 4111  1111  1111  1111 double", "card ****  ****  ****  1111 double"},
      {"4111 - 1111 - 1111 - 9876", "**** - **** - **** - 9876"},
      {"4111.1111.1111.9876", "****.****.****.9876"},
      {"4111/1111/1111/9876", "****/****/****/9876"},
      {"4111,1111,1111,9876", "****,****,****,9876"},
      {"4111_1111_1111_9876", "****_****_****_9876"},
      {"4111\t1111\n1111\r\n9876", "****\t****\n****\r\n9876"},
      {"4111\u20131111\u20131111\u20139876", "****\u2013****\u2013****\u20139876"},
      {"4111\u00a01111\u20091111\u202f9876", "****\u00a0****\u2009****\u202f9876"},
      {"\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff19\uff18\uff17"
       "\uff16",
       "************\uff19\uff18\uff17\uff16"},
      {"\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0669\u0668\u0667"
       "\u0666",
       "************\u0669\u0668\u0667\u0666"},
      {"called 03/10/2026 14:05", "called **/**/**** 14:05"},
      {"at 2026-03-10 14:00 UTC", "at ****-**-** 14:00 UTC"},
      {"on 2026-03-10 at noon", "on 2026-03-10 at noon"},
      // Any character that is no letter or number separates, up to three between two digits.
      {"c-4111:1111:1111:9876", "c-****:****:****:9876"},
      {"4111@1111#1111+9876", "****@****#****+9876"},
      {"(312) 555-0107", "(***) ***-0107"},
      {"+1 312 555 0107", "+* *** *** 0107"},
      {"4111\u30001111\u30001111\u30009876", "****\u3000****\u3000****\u30009876"},
      {"4111\uff0d1111\uff0d1111\uff0d9876", "****\uff0d****\uff0d****\uff0d9876"},
      {"4111\u200b1111\u00ad1111\u20dd9876", "****\u200b****\u00ad****\u20dd9876"},
      {"4 1 1 1 1 1 1 1 1 1 1 1 9 8 7 6", "* * * * * * * * * * * * 9 8 7 6"},
      {"4111 -- 1111 -- 1111 -- 9876", "4111 -- 1111 -- 1111 -- 9876"},
      {"4111----1111----1111----9876", "4111----1111----1111----9876"},
      {"41111111 -:- 11119876", "41111111 -:- 11119876"},
      {"4111x1111y1111z9876", "4111x1111y1111z9876"},
      {"41111111\u00b211119876", "41111111\u00b211119876"},  // a superscript two is no digit
      {"31255501\xC3"
       "07",
       "******01\xC3"
       "07"},  // a byte that is not UTF-8
      {"call 312 555 0107 back", "call *** *** 0107 back"},
      {"paid 1,234,567.89 twice", "paid 1,234,567.89 twice"},
      {"four... 4111..,1111", "four... 4111..,1111"},
      // Decimal digits of other scripts: Devanagari, Bengali and mathematical bold.
      {"\u096a\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u096f\u096e\u096d"
       "\u096c",
       "************\u096f\u096e\u096d\u096c"},
      {"\u09ea\u09e7\u09e7\u09e7 \u09e7\u09e7\u09e7\u09e7 \u09e7\u09e7\u09e7\u09e7 "
       "\u09ef\u09ee\u09ed\u09ec",
       "**** **** **** \u09ef\u09ee\u09ed\u09ec"},
      {"\U0001d7d2\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf"
       "\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7d7\U0001d7d6\U0001d7d5\U0001d7d4",
       "************\U0001d7d7\U0001d7d6\U0001d7d5\U0001d7d4"},
      {"", ""},
      {"lost", "lost"},
  };
  for (const Case& item : cases) {
    INFO(item.text);
    CHECK(mask_card_number_runs(item.text) == item.expected);
  }
}

TEST_CASE("digit runs give ascii digits", "[common][card-digits]") {
  // "c-" then a fullwidth 4, Arabic-Indic 1 and extended Arabic-Indic 1 and 1, a space, 9 and
  // 876, then a short run after a letter.
  const std::string text =
      "c-\xEF\xBC\x94\xD9\xA1\xDB\xB1"
      "1 9876x12";
  const std::vector<DigitRun> runs = find_digit_runs(text);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].digits == "41119876");
  CHECK(runs[0].begin == 2);
  CHECK(runs[0].end == text.size() - 3);
  CHECK(runs[1].digits == "12");
  CHECK(runs[1].begin == text.size() - 2);

  // Up to three separators join digits, whatever the group sizes.
  const std::vector<DigitRun> dated = find_digit_runs("2026-03-10-3125550107");
  REQUIRE(dated.size() == 1);
  CHECK(dated[0].digits == "202603103125550107");
  const std::vector<DigitRun> apart = find_digit_runs("12 -- 34");
  REQUIRE(apart.size() == 2);
  CHECK(apart[0].digits == "12");
  CHECK(apart[1].digits == "34");
  const std::vector<DigitRun> card = find_digit_runs("4111 - 1111.1111/9876");
  REQUIRE(card.size() == 1);
  CHECK(card[0].digits == "4111111111119876");
}

}  // namespace
}  // namespace relaygw
