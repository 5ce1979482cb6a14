// Bad input at the relaygw command line, run as real processes on real database files. Covers
// calls that could not be rated, invalid times, unknown states, invalid UTF-8 text options,
// report dates out of range, unknown subcommands, and the debug log of each command.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "tests/billing/billing_test_support.hpp"

using relaygw::billing::testing::CommandRun;
using relaygw::billing::testing::run_relaygw;

namespace {

class CommandInputFixture {
 public:
  CommandInputFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-command-input-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~CommandInputFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string db_option() const { return "--db '" + (dir_ / "billing.db").string() + "' "; }

  CommandRun relaygw(const std::string& arguments, const std::string& input = "/dev/null") {
    return run_relaygw(arguments, input);
  }

  void init() { REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0); }

 private:
  std::filesystem::path dir_;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE_METHOD(CommandInputFixture, "call create rejects unratable calls", "[billing][cli]") {
  init();
  const CommandRun unassigned = relaygw("call create " + db_option() +
                                        "--id c1 --from 9995550107 --to 2125550101 "
                                        "--at 2026-03-10T14:00:00Z");
  INFO(unassigned.output);
  CHECK(unassigned.status != 0);
  CHECK(contains(unassigned.output, "'9995550107'"));
  CHECK(contains(unassigned.output, "area code 999 is not assigned"));

  const CommandRun early = relaygw("call create " + db_option() +
                                   "--id c2 --from 3125550107 --to 2125550101 "
                                   "--at 2019-06-01T14:00:00Z");
  INFO(early.output);
  CHECK(early.status != 0);
  CHECK(contains(early.output, "no version in force on 2019-06-01"));

  const CommandRun emergency =
      relaygw("call create " + db_option() +
              "--id c3 --from 9995550107 --to 911 --at 2019-06-01T14:00:00Z");
  INFO(emergency.output);
  CHECK(emergency.status == 0);
  CHECK(relaygw("call show " + db_option() + "--id c3").status == 0);
  CHECK(relaygw("call show " + db_option() + "--id c1").status != 0);
  CHECK(relaygw("call show " + db_option() + "--id c2").status != 0);
}

TEST_CASE_METHOD(CommandInputFixture, "commands reject invalid offsets", "[billing][cli]") {
  init();
  for (const std::string at :
       {"2026-03-10T14:00:00-25:00", "2026-03-10T14:00:00+14:01", "2026-03-10T24:00:00Z",
        "2026-03-10T14:60:00Z", "2026-03-10T14:00:60Z", "2026-02-30T14:00:00Z"}) {
    INFO("time " << at);
    const CommandRun quote = relaygw(
        "quote --from 3125550107 --to 2125550101 --billing sent-paid "
        "--minutes 2 --start " +
        at);
    CHECK(quote.status != 0);
    CHECK(contains(quote.output, "'" + at + "'"));
    const CommandRun create =
        relaygw("call create " + db_option() + "--from 3125550107 --to 2125550101 --at " + at);
    CHECK(create.status != 0);
    CHECK(contains(create.output, "--at"));
    CHECK(contains(create.output, "'" + at + "'"));
  }
}

TEST_CASE_METHOD(CommandInputFixture, "line add rejects unknown state", "[billing][cli]") {
  init();
  const CommandRun state =
      relaygw("line add " + db_option() +
              "--number 3125550160 --name Test --state ZZ --rate-center CHICAGO "
              "--time-zone America/Chicago");
  INFO(state.output);
  CHECK(state.status != 0);
  CHECK(contains(state.output, "invalid state 'ZZ'"));
  const CommandRun area =
      relaygw("line add " + db_option() +
              "--number 9995550160 --name Test --state IL --rate-center CHICAGO "
              "--time-zone America/Chicago");
  INFO(area.output);
  CHECK(area.status != 0);
  CHECK(contains(area.output, "area code 999"));
  const CommandRun mismatch =
      relaygw("line add " + db_option() +
              "--number 3125550160 --name Test --state NY --rate-center CHICAGO "
              "--time-zone America/Chicago");
  INFO(mismatch.output);
  CHECK(mismatch.status != 0);
  CHECK(contains(mismatch.output, "state 'NY' does not match line +13125550160: area code 312 "
                                  "is in IL; set the state to IL"));
}

TEST_CASE_METHOD(CommandInputFixture, "text options reject invalid utf8", "[billing][cli]") {
  init();
  // printf writes two bytes that are never valid in UTF-8, 0xFF and 0xFE.
  const std::string bad = "\"$(printf 'bad\\377\\376')\"";
  const CommandRun actor =
      relaygw("call create " + db_option() +
              "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z --actor " + bad);
  INFO(actor.output);
  CHECK(actor.status != 0);
  CHECK(contains(actor.output, "--actor"));
  CHECK(contains(actor.output, "UTF-8"));
  CHECK_FALSE(contains(actor.output, "json"));

  const CommandRun id =
      relaygw("call create " + db_option() +
              "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z --id " + bad);
  INFO(id.output);
  CHECK(id.status != 0);
  CHECK(contains(id.output, "--id"));

  const CommandRun by =
      relaygw("call event " + db_option() + "--id c1 --event accepted --how voice --by " + bad);
  INFO(by.output);
  CHECK(by.status != 0);
  CHECK(contains(by.output, "--by"));
}

TEST_CASE_METHOD(CommandInputFixture, "report rejects dates out of range", "[billing][cli]") {
  init();
  const CommandRun late =
      relaygw("report summary " + db_option() + "--from 2026-03-01 --to 9999-12-31");
  INFO(late.output);
  CHECK(late.status != 0);
  CHECK(contains(late.output, "--to 9999-12-31 is outside"));
  const CommandRun early =
      relaygw("report credits " + db_option() + "--from 0000-01-01 --to 2026-03-01");
  INFO(early.output);
  CHECK(early.status != 0);
  CHECK(contains(early.output, "--from 0000-01-01 is outside"));
}

TEST_CASE_METHOD(CommandInputFixture, "unknown subcommand is named", "[billing][cli]") {
  const CommandRun top = relaygw("frobnicate");
  INFO(top.output);
  CHECK(top.status != 0);
  CHECK(contains(top.output, "'frobnicate'"));
  CHECK(contains(top.output, "run `relaygw --help`"));
  const CommandRun nested = relaygw("call frobnicate");
  INFO(nested.output);
  CHECK(nested.status != 0);
  CHECK(contains(nested.output, "'frobnicate'"));
  CHECK(contains(nested.output, "run `relaygw call --help`"));
}

TEST_CASE_METHOD(CommandInputFixture, "commands log start and result", "[billing][cli]") {
  init();
  const CommandRun created = relaygw("--log-level debug call create " + db_option() +
                                     "--id c1 --from 3125550107 --to 2125550101 "
                                     "--at 2026-03-10T14:00:00Z");
  INFO(created.output);
  CHECK(created.status == 0);
  CHECK(contains(created.output, "call create started: "));
  CHECK(contains(created.output, "--id=c1"));
  CHECK(contains(created.output, "call create done: call c1 authorized"));

  const CommandRun missing = relaygw("--log-level debug call show " + db_option() + "--id nothing");
  INFO(missing.output);
  CHECK(missing.status != 0);
  CHECK(contains(missing.output, "call show failed"));

  // The card number is masked and the PIN, read from standard input, never appears.
  const std::filesystem::path pin = std::filesystem::temp_directory_path() / "relaygw-card-pin";
  REQUIRE(std::system(("printf '739164\\n' > '" + pin.string() + "'").c_str()) == 0);
  const CommandRun card =
      relaygw("--log-level debug card add " + db_option() + "--number 5550142000001 --balance 5.00",
              pin.string());
  std::filesystem::remove(pin);
  INFO(card.output);
  CHECK(card.status == 0);
  CHECK(contains(card.output, "card add started: "));
  CHECK_FALSE(contains(card.output, "5550142000001"));
  CHECK_FALSE(contains(card.output, "739164"));
}

TEST_CASE_METHOD(CommandInputFixture, "call show prints uncollected charge", "[billing][cli]") {
  init();
  const std::filesystem::path pin = std::filesystem::temp_directory_path() / "relaygw-card-pin-2";
  REQUIRE(std::system(("printf '739164\\n' > '" + pin.string() + "'").c_str()) == 0);
  REQUIRE(
      relaygw("card add " + db_option() + "--number 5550142000002 --balance 10.00", pin.string())
          .status == 0);
  const CommandRun created = relaygw("call create " + db_option() +
                                         "--id k1 --from 3125550107 --to 2125550101 "
                                         "--billing calling-card --card 5550142000002 "
                                         "--at 2026-03-10T14:00:00Z",
                                     pin.string());
  std::filesystem::remove(pin);
  INFO(created.output);
  REQUIRE(created.status == 0);
  CHECK(contains(created.output, "covers at most"));
  REQUIRE(
      relaygw("call event " + db_option() + "--id k1 --event connected --at 2026-03-10T14:00:10Z")
          .status == 0);
  // Two hours cost $19.14 at the example deck's day rate, far beyond the $10.00 hold.
  const CommandRun completed =
      relaygw("call complete " + db_option() + "--id k1 --key k1-end --at 2026-03-10T16:00:10Z");
  INFO(completed.output);
  REQUIRE(completed.status == 0);
  CHECK(contains(completed.output, "uncollected"));

  const CommandRun shown = relaygw("call show --json " + db_option() + "--id k1");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(contains(shown.output, "\"total\": \"19.14\""));
  CHECK(contains(shown.output, "\"uncollected\": \"9.14\""));
  const CommandRun card = relaygw("card show --json " + db_option() + "--number 5550142000002");
  INFO(card.output);
  CHECK(card.status == 0);
  CHECK(contains(card.output, "\"balance\": \"0.0000\""));
  CHECK(contains(card.output, "\"uncollected\": \"9.1400\""));
  const CommandRun card_text = relaygw("card show " + db_option() + "--number 5550142000002");
  INFO(card_text.output);
  CHECK(contains(card_text.output, "uncollected $9.1400"));
}

TEST_CASE_METHOD(CommandInputFixture, "refused card call cannot complete", "[billing][cli]") {
  init();
  const std::filesystem::path pin = std::filesystem::temp_directory_path() / "relaygw-card-pin-3";
  REQUIRE(std::system(("printf '739164\\n' > '" + pin.string() + "'").c_str()) == 0);
  REQUIRE(
      relaygw("card add " + db_option() + "--number 5550142000003 --balance 10.00", pin.string())
          .status == 0);
  REQUIRE(std::system(("printf '111111\\n' > '" + pin.string() + "'").c_str()) == 0);
  const CommandRun created = relaygw("call create " + db_option() +
                                         "--id p1 --from 3125550107 --to 2125550101 "
                                         "--billing calling-card --card 5550142000003 "
                                         "--at 2026-03-10T14:00:00Z",
                                     pin.string());
  std::filesystem::remove(pin);
  INFO(created.output);
  REQUIRE(created.status == 1);
  CHECK(contains(created.output, "refused"));

  const CommandRun shown = relaygw("call show " + db_option() + "--id p1");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(contains(shown.output, "conversation not connected"));
  CHECK_FALSE(contains(shown.output, "null"));

  const CommandRun completed =
      relaygw("call complete " + db_option() + "--id p1 --key p1-end --at 2026-03-10T14:05:00Z");
  INFO(completed.output);
  CHECK(completed.status == 1);
  CHECK(contains(completed.output, "call p1 was refused"));
  CHECK(contains(completed.output, "there is nothing to complete"));
  CHECK_FALSE(contains(completed.output, "posted"));
}

TEST_CASE_METHOD(CommandInputFixture, "call create checks from and time", "[billing][cli]") {
  init();
  const CommandRun unassigned = relaygw("call create " + db_option() +
                                        "--id f1 --from 2865550101 --to 2125550101 "
                                        "--at 2026-03-10T14:00:00Z");
  INFO(unassigned.output);
  CHECK(unassigned.status != 0);
  CHECK(contains(unassigned.output, "--from: invalid number '2865550101'"));
  CHECK_FALSE(contains(unassigned.output, "rate deck"));

  const CommandRun far = relaygw("call create " + db_option() +
                                 "--id k9 --from 3125550107 --to 2125550101 "
                                 "--at 9999-12-31T23:00:00Z");
  INFO(far.output);
  CHECK(far.status != 0);
  CHECK(contains(far.output,
                 "request time 9999-12-31T23:00:00Z is outside the dates reports "
                 "accept (2000-01-01 to 2099-12-31 local date)"));

  const CommandRun emergency = relaygw("call create " + db_option() +
                                       "--id e9 --from 3125550107 --to 911 "
                                       "--at 2100-06-01T00:00:00Z");
  INFO(emergency.output);
  CHECK(emergency.status != 0);
  CHECK(contains(emergency.output, "is outside the dates reports accept"));
}

TEST_CASE_METHOD(CommandInputFixture, "name options reject control characters", "[billing][cli]") {
  init();
  const CommandRun escape =
      relaygw("call create " + db_option() +
              "--id c1 --from 3125550107 --to 2125550101 "
              "--at 2026-03-10T14:00:00Z --actor \"$(printf 'a\\033[31mred')\"");
  INFO(escape.output);
  CHECK(escape.status != 0);
  CHECK(contains(escape.output, "--actor"));
  CHECK(contains(escape.output, "control character U+001B at byte 2"));
  CHECK_FALSE(contains(escape.output, "\x1b"));

  const CommandRun c1_control =
      relaygw("call event " + db_option() +
              "--id c1 --event accepted --how voice --by \"$(printf 'x\\302\\233y')\"");
  INFO(c1_control.output);
  CHECK(c1_control.status != 0);
  CHECK(contains(c1_control.output, "control character U+009B"));

  const CommandRun shown = relaygw("call show " + db_option() + "--id c1");
  CHECK(shown.status != 0);  // the call was never stored
}
