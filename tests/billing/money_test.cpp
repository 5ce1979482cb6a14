#include <string>

#include <catch2/catch.hpp>

#include "billing/money.hpp"

using namespace relaygw::billing;

TEST_CASE("round to cents by rule", "[billing][money]") {
  struct Row {
    Money numerator;
    std::int64_t denominator;
    Money up;
    Money half_up;
    Money half_even;
  };
  // Units are 1/10,000 dollar, so 100 units are one cent.
  const Row rows[] = {
      {0, 1, 0, 0, 0},
      {100, 1, 100, 100, 100},
      {101, 1, 200, 100, 100},
      {150, 1, 200, 200, 200},  // half a cent above an odd cent goes up under half-even
      {250, 1, 300, 300, 200},  // exactly half: half-even keeps the even cent
      {149, 1, 200, 100, 100},
      {5000 * 61, 60, 5100, 5100, 5100},  // $0.508333...
      {500 * 10, 60, 100, 100, 100},      // $0.008333...
      {-250, 1, -300, -300, -200},        // discounts round their magnitude
      {-101, 1, -200, -100, -100},
  };
  for (const Row& row : rows) {
    INFO("numerator " << row.numerator << " denominator " << row.denominator);
    CHECK(round_to_cents(row.numerator, row.denominator, CentRounding::Up) == row.up);
    CHECK(round_to_cents(row.numerator, row.denominator, CentRounding::HalfUp) == row.half_up);
    CHECK(round_to_cents(row.numerator, row.denominator, CentRounding::HalfEven) == row.half_even);
  }
}

TEST_CASE("round to cents avoids overflow", "[billing][money]") {
  // A rate times seconds times basis points can pass 2^63 before the division.
  const Money big = 4'000'000'000'000'000'000;
  CHECK(round_to_cents(big, 1'000'000, CentRounding::HalfUp) == 4'000'000'000'000);
}

TEST_CASE("format dollars exact keeps sub-cents", "[billing][money]") {
  CHECK(format_dollars_exact(2'200) == "0.22");
  CHECK(format_dollars_exact(-2'200) == "-0.22");
  CHECK(format_dollars_exact(2'250) == "0.2250");
  CHECK(format_dollars_exact(-1) == "-0.0001");
  CHECK(format_dollars_exact(0) == "0.00");
}

TEST_CASE("format dollars with two or four places", "[billing][money]") {
  CHECK(format_dollars(48'500) == "4.85");
  CHECK(format_dollars(-1'200) == "-0.12");
  CHECK(format_dollars(0) == "0.00");
  CHECK(format_dollars(1'290, 4) == "0.1290");
  CHECK(format_dollars(-5, 4) == "-0.0005");
  CHECK(format_dollars(1'234'567'800) == "123456.78");
}

TEST_CASE("parse dollars accepts four decimals", "[billing][money]") {
  const std::pair<const char*, Money> good[] = {
      {"0.1290", 1'290}, {"5", 50'000}, {"-5", -50'000},
      {"12.5", 125'000}, {"0.0001", 1}, {"+1.00", 10'000},
  };
  for (const auto& [text, units] : good) {
    INFO("input " << text);
    auto parsed = parse_dollars(text);
    REQUIRE(parsed);
    CHECK(*parsed == units);
  }
  for (const char* text :
       {"", "1.23456", "abc", "1.", ".5", "1,00", "1e3", "--1", "0.12x", "1234567890123.0000"}) {
    INFO("input '" << text << "'");
    auto parsed = parse_dollars(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.status().message().find(std::string("'") + text + "'") != std::string::npos);
  }
}

TEST_CASE("parse dollars names too many digits", "[billing][money]") {
  auto parsed = parse_dollars("99999999999999.9999");
  REQUIRE_FALSE(parsed);
  CHECK(parsed.status().message().find("more than 12 digits before the decimal point") !=
        std::string::npos);
  CHECK(parsed.status().message().find("four decimals") == std::string::npos);
  CHECK(parse_dollars("999999999999.9999"));
}

TEST_CASE("format money groups thousands", "[billing][money]") {
  CHECK(format_money(0) == "0.00");
  CHECK(format_money(125'000) == "12.50");
  CHECK(format_money(10'000'000) == "1,000.00");
  CHECK(format_money(-123'456'700) == "-12,345.67");
  CHECK(format_money(9'999'999'999'999'900) == "999,999,999,999.99");
  CHECK(format_money(2'250) == "0.2250");
  CHECK(format_money(10'000'050) == "1,000.0050");
  CHECK(format_money(-5) == "-0.0005");
}

TEST_CASE("parse dollars and cents asks for cents", "[billing][money]") {
  CHECK(parse_dollars_and_cents("25.00").value() == 250'000);
  auto letters = parse_dollars_and_cents("abc");
  REQUIRE_FALSE(letters);
  CHECK(letters.status().message() ==
        "invalid dollar amount 'abc'; write dollars and cents with no $ sign, and commas only "
        "between groups of three digits, such as 25.00 or 1,000.00");
  auto too_long = parse_dollars_and_cents("-1234567890123");
  REQUIRE_FALSE(too_long);
  CHECK(too_long.status().message().find("more than 12 digits before the decimal point; write "
                                         "dollars and cents") != std::string::npos);
  // Thousands separators are read where format_money writes them, and nowhere else.
  CHECK(parse_dollars_and_cents("1,000.00").value() == 10'000'000);
  CHECK(parse_dollars_and_cents("-12,345,678.5").value() == -123'456'785'000);
  CHECK(parse_dollars_and_cents("100,000").value() == 1'000'000'000);
  for (const char* misplaced : {"1,00.00", "1000,000", ",100", "1,", "1.000,00", "1,,000", "1,0a0", "0,001.00", "00,100"}) {
    CAPTURE(misplaced);
    const auto rejected = parse_dollars_and_cents(misplaced);
    REQUIRE_FALSE(rejected);
    CHECK(rejected.status().message() == "invalid dollar amount '" + std::string(misplaced) +
                                             "'; write dollars and cents with no $ sign, and "
                                             "commas only between groups of three digits, such "
                                             "as 25.00 or 1,000.00");
  }
  // The sign is not counted as a digit.
  auto twelve = parse_dollars_and_cents("-123456789012.5x");
  REQUIRE_FALSE(twelve);
  CHECK(twelve.status().message().find("invalid dollar amount '-123456789012.5x'") !=
        std::string::npos);
}
