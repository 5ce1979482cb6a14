#include <catch2/catch.hpp>

#include <algorithm>
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
      // Spaces do not count toward the three visible separators, so these gaps join.
      {"4111 -- 1111 -- 1111 -- 9876", "**** -- **** -- **** -- 9876"},
      {"41111111 -:- 11119876", "******** -:- ****9876"},
      {"4111 - - - 1111 - - - 1111 - - - 9876", "**** - - - **** - - - **** - - - 9876"},
      {"4111----1111----1111----9876", "4111----1111----1111----9876"},
      {"4111 - - - - 1111 - - - - 1111", "4111 - - - - 1111 - - - - 1111"},
      // Characters that display as nothing do not count either: zero-width spaces, soft
      // hyphens, variation selectors, combining marks and word joiners, four or more in a gap.
      {"4111\u200b\u200b\u200b\u200b1111\u200b\u200b\u200b\u200b1111\u200b\u200b\u200b\u200b9876",
       "****\u200b\u200b\u200b\u200b****\u200b\u200b\u200b\u200b****\u200b\u200b\u200b\u200b9876"},
      {"4111\u00ad\u00ad\u00ad\u00ad1111\u00ad\u00ad\u00ad\u00ad1111\u00ad\u00ad\u00ad\u00ad9876",
       "****\u00ad\u00ad\u00ad\u00ad****\u00ad\u00ad\u00ad\u00ad****\u00ad\u00ad\u00ad\u00ad9876"},
      {"4111\ufe0f\ufe0f\ufe0f\ufe0f1111\ufe0f\ufe0f\ufe0f\ufe0f1111\ufe0f\ufe0f\ufe0f\ufe0f9876",
       "****\ufe0f\ufe0f\ufe0f\ufe0f****\ufe0f\ufe0f\ufe0f\ufe0f****\ufe0f\ufe0f\ufe0f\ufe0f9876"},
      {"4111\U000e0100\u0301\u20e3\u2060\u200d1111\u2060\u2060\u2060\u2060\u20601111\u200e\u200f"
       "\u202a\u202c9876",
       "****\U000e0100\u0301\u20e3\u2060\u200d****\u2060\u2060\u2060\u2060\u2060****\u200e\u200f"
       "\u202a\u202c9876"},
      {"4\ufe0f\u20e31\ufe0f\u20e31\ufe0f\u20e31\ufe0f\u20e31\ufe0f\u20e31\ufe0f\u20e3"
       "9\ufe0f\u20e38\ufe0f\u20e37\ufe0f\u20e36\ufe0f\u20e3",
       "*\ufe0f\u20e3*\ufe0f\u20e3*\ufe0f\u20e3*\ufe0f\u20e3*\ufe0f\u20e3*\ufe0f\u20e3"
       "9\ufe0f\u20e38\ufe0f\u20e37\ufe0f\u20e36\ufe0f\u20e3"},
      {"41111111-\u200b-\u200b-\u200b\u200b11119876",
       "********-\u200b-\u200b-\u200b\u200b****9876"},
      {"4111 \u200b\u00ad - \ufe0f 1111 \u2028\u2029 1111\u3000\u3000\u3000\u30009876",
       "**** \u200b\u00ad - \ufe0f **** \u2028\u2029 ****\u3000\u3000\u3000\u30009876"},
      // Whitespace runs: blank lines and tabs between the groups.
      {"4111\n\n\n\n1111\t\t\t\t\t1111\r\n\r\n\r\n9876",
       "****\n\n\n\n****\t\t\t\t\t****\r\n\r\n\r\n9876"},
      // A visible fourth separator ends the gap, however many invisible ones come between.
      {"4111-\u200b-\u200b-\u200b-1111-\u200b-\u200b-\u200b-1111",
       "4111-\u200b-\u200b-\u200b-1111-\u200b-\u200b-\u200b-1111"},
      // A letter ends a run, even when invisible characters surround it.
      {"41111111\u200bx\u200b11119876", "41111111\u200bx\u200b11119876"},
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
  const std::vector<DigitRun> apart = find_digit_runs("12 -/-- 34");
  REQUIRE(apart.size() == 2);
  CHECK(apart[0].digits == "12");
  CHECK(apart[1].digits == "34");
  const std::vector<DigitRun> card = find_digit_runs("4111 - 1111.1111/9876");
  REQUIRE(card.size() == 1);
  CHECK(card[0].digits == "4111111111119876");
}

TEST_CASE("digit run gaps cap total characters", "[common][card-digits]") {
  // A gap of spaces joins up to kMaxDigitRunGapCharacters characters and no more.
  const std::string longest(kMaxDigitRunGapCharacters, ' ');
  const std::vector<DigitRun> joined = find_digit_runs("12345" + longest + "67890");
  REQUIRE(joined.size() == 1);
  CHECK(joined[0].digits == "1234567890");
  const std::vector<DigitRun> split = find_digit_runs("12345" + longest + " 67890");
  REQUIRE(split.size() == 2);
  CHECK(split[0].digits == "12345");
  CHECK(split[1].digits == "67890");

  std::string zero_width;
  for (std::size_t i = 0; i <= kMaxDigitRunGapCharacters; ++i) {
    zero_width += "\u200b";
  }
  CHECK(find_digit_runs("12345" + zero_width + "67890").size() == 2);
}

TEST_CASE("digit runs keep phone forms", "[common][card-digits]") {
  struct Case {
    std::string text;
    std::vector<std::string> digits;
  };
  const Case cases[] = {
      {"(312) 555-0107", {"3125550107"}},
      {"+1 312 555 0107", {"13125550107"}},
      {"tty-1733439000000-s1", {"1733439000000", "1"}},
      {"tty-1733439000000-s12-c3", {"1733439000000", "12", "3"}},
      {"call (312) 555-0107 or +44 20 7946 0958", {"3125550107", "442079460958"}},
  };
  for (const Case& item : cases) {
    INFO(item.text);
    const std::vector<DigitRun> runs = find_digit_runs(item.text);
    REQUIRE(runs.size() == item.digits.size());
    for (std::size_t i = 0; i < runs.size(); ++i) {
      CHECK(runs[i].digits == item.digits[i]);
    }
  }
}

TEST_CASE("invalid phone numbers mask long runs", "[common][card-digits]") {
  CHECK(mask_invalid_phone_number("4111111111119876") == "************9876");
  CHECK(mask_invalid_phone_number("4111 1111 1111 9876") == "**** **** **** 9876");
  CHECK(mask_invalid_phone_number("+1 312 555 01077") == "+1 312 555 01077");
  CHECK(mask_invalid_phone_number("011 44 20 7946 0958") == "011 44 20 7946 0958");
  CHECK(mask_invalid_phone_number("123456789012345") == "123456789012345");
  CHECK(mask_invalid_phone_number("1234567890123456") == "************3456");
}

TEST_CASE("date-time runs need valid fields", "[common][card-digits]") {
  struct Case {
    std::string text;
    bool date_time;
  };
  const Case cases[] = {
      {"shift 2026-12-06 14:05:09", true},
      {"shift 2026-12-06 14:05", true},
      {"2024-02-29 00:00:00 start", true},  // leap day
      {"2000-02-29 23:59:59", true},        // a century divisible by 400 is a leap year
      {"1999-12-31 23:59", true},
      {"20261206140509", false},  // no separators: bare digits stay card-like
      {"2026-12-06 14:05:09 4111", false},
      {"4111 2026-12-06 14:05:09", false},
      {"2026-12-06T14", false},  // 'T' ends the run, so only the date is left
      {"2026-13-06 14:05:09", false},
      {"2026-00-06 14:05:09", false},
      {"2026-02-29 14:05:09", false},
      {"1900-02-29 14:05:09", false},
      {"2026-04-31 14:05:09", false},
      {"2026-12-00 14:05:09", false},
      {"2026-12-06 24:05:09", false},
      {"2026-12-06 14:60:09", false},
      {"2026-12-06 14:05:60", false},
      {"2026-12-06  14:05:09", false},  // two spaces
      {"2026/12/06 14:05:09", false},
      {"2026-12-06 14-05-09", false},
      {"2026-12-06 14:05:9", false},
      {"\uff12\uff10\uff12\uff16-12-06 14:05:09", false},  // fullwidth year
      // Card numbers as people group them.
      {"4111 1111 1111 1111", false},
      {"4111-1111-1111-1111", false},
      {"3782 822463 10005", false},
      {"3782-822463-10005", false},
      {"3056-930902-5904", false},
  };
  for (const Case& item : cases) {
    INFO(item.text);
    const std::vector<DigitRun> runs = find_digit_runs(item.text);
    REQUIRE_FALSE(runs.empty());
    const auto longest = std::max_element(
        runs.begin(), runs.end(),
        [](const DigitRun& a, const DigitRun& b) { return a.digits.size() < b.digits.size(); });
    CHECK(is_date_time_run(item.text, *longest) == item.date_time);
  }
}

}  // namespace
}  // namespace relaygw
