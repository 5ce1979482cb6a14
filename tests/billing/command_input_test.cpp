// Bad input at the relaygw command line, run as real processes on real database files. Covers
// calls that could not be rated, invalid times, unknown states, invalid UTF-8 text options,
// report dates out of range, unknown subcommands, and the debug log of each command.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "billing/store.hpp"
#include "common/utf8.hpp"
#include "tests/billing/billing_test_support.hpp"

using relaygw::billing::testing::CommandRun;
using relaygw::billing::testing::run_relaygw;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A command line that relaygw must reject, with the text its output must and must not contain.
struct RejectedCommand {
  std::string arguments;
  std::vector<std::string> expected;
  std::vector<std::string> absent = {};
};

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

  std::filesystem::path db_path() const { return dir_ / "billing.db"; }
  std::string db_option() const { return "--db '" + db_path().string() + "' "; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  CommandRun relaygw(const std::string& arguments, const std::string& input = "/dev/null") {
    return run_relaygw(arguments, input);
  }

  void init() { REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0); }

  // Writes `pin` and a newline to a file in the test folder and returns its path, for commands
  // that read a PIN from standard input.
  std::string pin_file(const std::string& pin) {
    const std::filesystem::path file = dir_ / ("pin-" + std::to_string(++pin_files_));
    std::ofstream out(file);
    out << pin << "\n";
    REQUIRE(out);
    return file.string();
  }

  // Runs each command and checks that it fails with status 1 and the expected text in its
  // output.
  void check_rejected(const std::vector<RejectedCommand>& commands) {
    for (const RejectedCommand& command : commands) {
      const CommandRun run = relaygw(command.arguments);
      INFO("relaygw " << command.arguments);
      INFO(run.output);
      CHECK(run.status == 1);
      for (const std::string& part : command.expected) {
        CHECK(contains(run.output, part));
      }
      for (const std::string& part : command.absent) {
        CHECK_FALSE(contains(run.output, part));
      }
    }
  }

 private:
  std::filesystem::path dir_;
  int pin_files_ = 0;
};

}  // namespace

TEST_CASE_METHOD(CommandInputFixture, "call create rejects unratable calls", "[billing][cli]") {
  init();
  check_rejected({
      {"call create " + db_option() +
           "--id c1 --from 9995550107 --to 2125550101 --at 2026-03-10T14:00:00Z",
       {"'9995550107'", "area code 999 is not assigned"}},
      {"call create " + db_option() +
           "--id c2 --from 3125550107 --to 2125550101 --at 2019-06-01T14:00:00Z",
       {"no stored rate deck is in effect on 2019-06-01",
        "the earliest effective date stored is 2025-01-01"}},
  });

  const CommandRun emergency =
      relaygw("call create " + db_option() +
              "--id c3 --from 9995550107 --to 911 --at 2019-06-01T14:00:00Z");
  INFO(emergency.output);
  CHECK(emergency.status == 0);
  CHECK(relaygw("call show " + db_option() + "--id c3").status == 0);
  CHECK(relaygw("call show " + db_option() + "--id c1").status != 0);
  CHECK(relaygw("call show " + db_option() + "--id c2").status != 0);
}

TEST_CASE_METHOD(CommandInputFixture, "call create rejects unused options", "[billing][cli]") {
  init();
  const std::string call =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  check_rejected({
      {call + "--id c1 --card 4111111111111111",
       {"--card is used only with --billing calling-card, not with --billing sent-paid"}},
      {call + "--id c2 --billing collect --third-number 4155550108",
       {"--third-number is used only with --billing third-party"}},
      {call + "--id c3 --person Bob", {"--person is used only with --billing person-to-person"}},
      {call + "--id ''", {"invalid --id ''", "leave --id out for a new id"}},
      {call + "--id " + std::string(129, 'x'), {"a call id is 1 to 128 letters"}},
      {call + "--id 'c 4'", {"invalid --id 'c 4'"}},
      // The format error masks a card number and cuts a long id between characters.
      {call + "--id 'c 4111 1111 1111 9876'",
       {"invalid --id 'c **** **** **** 9876'"},
       {"4111 1111"}},
  });
  std::string accented = "c";
  for (int i = 0; i < 25; ++i) {
    accented += "\xC3\xA9";  // e with an acute accent
  }
  const CommandRun cut = relaygw(call + "--id '" + accented + "'");
  INFO(cut.output);
  CHECK(cut.status == 1);
  CHECK(contains(cut.output, "invalid --id 'c"));
  CHECK(relaygw::find_invalid_utf8(cut.output) == std::string_view::npos);
  for (const char* id : {"c1", "c2", "c3", "c 4"}) {
    CHECK(relaygw("call show " + db_option() + "--id '" + id + "'").status != 0);
  }
  const CommandRun person = relaygw(call + "--id c5 --billing person-to-person --person Bob");
  INFO(person.output);
  CHECK(person.status == 0);
}

TEST_CASE_METHOD(CommandInputFixture, "call create names missing options", "[billing][cli]") {
  init();
  const std::string call =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  check_rejected({
      {call + "--id m1 --billing third-party",
       {"--billing third-party requires --third-number NUMBER"},
       {"invalid number ''"}},
      {call + "--id m2 --billing calling-card",
       {"--billing calling-card requires --card NUMBER"},
       {"invalid card number"}},
      {call + "--id m3 --billing person-to-person",
       {"--billing person-to-person requires --person NAME"}},
  });
  for (const char* id : {"m1", "m2", "m3"}) {
    CHECK(relaygw("call show " + db_option() + "--id " + id).status != 0);
  }
  // An emergency call is authorized whatever its billing options.
  const CommandRun emergency = relaygw("call create " + db_option() +
                                       "--id m4 --from 3125550107 --to 911 --billing third-party");
  INFO(emergency.output);
  CHECK(emergency.status == 0);
}

TEST_CASE_METHOD(CommandInputFixture, "call create names bad type values", "[billing][cli]") {
  init();
  const std::string call =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  check_rejected({
      {call + "--billing colect",
       {"invalid --billing 'colect'",
        "use sent-paid, collect, third-party, person-to-person or calling-card"}},
      {call + "--access teletype",
       {"invalid --access 'teletype'",
        "use none, tty, relay-tty, relay-ip, captioned, video or speech"}},
      {call + "--handling manual", {"invalid --handling 'manual'", "use automated or operator"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "call create rejects pin-stdin without card",
                 "[billing][cli]") {
  init();
  const CommandRun run = relaygw("call create " + db_option() +
                                     "--id p1 --from 3125550107 --to 2125550101 "
                                     "--at 2026-03-10T14:00:00Z --billing collect --pin-stdin",
                                 pin_file("1234"));
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(
      contains(run.output,
               "--pin-stdin is used only with --billing calling-card, not with --billing collect"));
  CHECK(relaygw("call show " + db_option() + "--id p1").status != 0);
}

TEST_CASE_METHOD(CommandInputFixture, "call create rejects same line", "[billing][cli]") {
  init();
  for (const char* billing : {"sent-paid", "collect"}) {
    INFO(billing);
    const CommandRun run = relaygw("call create " + db_option() +
                                   "--id s1 --from 312-555-0107 --to +13125550107 --billing " +
                                   billing + " --at 2026-03-10T14:00:00Z");
    INFO(run.output);
    CHECK(run.status == 1);
    CHECK(contains(run.output,
                   "--from 312-555-0107 and --to +13125550107 are the same line, "
                   "+13125550107"));
    CHECK(relaygw("call show " + db_option() + "--id s1").status != 0);
  }
}

TEST_CASE_METHOD(CommandInputFixture, "call create rejects future at", "[billing][cli]") {
  init();
  const std::string call = "call create " + db_option() + "--from 3125550107 --to 2125550101 ";
  const CommandRun future = relaygw(call + "--id f1 --at 2099-01-01T00:00:00Z");
  INFO(future.output);
  CHECK(future.status == 1);
  CHECK(contains(future.output,
                 "--at 2099-01-01T00:00:00Z (2099-01-01T00:00:00Z) is in the "
                 "future: the clock reads "));
  CHECK(contains(future.output, "may be at most 5 s ahead"));
  CHECK(relaygw("call show " + db_option() + "--id f1").status != 0);

  // A --at of now, as this test's clock reads it, is accepted.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const CommandRun current =
      relaygw(call + "--id f2 --at " + relaygw::billing::format_instant(now));
  INFO(current.output);
  CHECK(current.status == 0);
}

TEST_CASE_METHOD(CommandInputFixture, "card add rejects the other funding's amount",
                 "[billing][cli]") {
  init();
  const std::string pin = pin_file("5678");
  const CommandRun postpaid =
      relaygw("card add " + db_option() +
                  "--number 4002000000000002 --funding postpaid --billed-line 2125550101 "
                  "--balance 5",
              pin);
  INFO(postpaid.output);
  CHECK(postpaid.status == 1);
  CHECK(contains(postpaid.output, "a postpaid card has none"));
  const CommandRun prepaid =
      relaygw("card add " + db_option() + "--number 4002000000000003 --balance 5 --limit 30", pin);
  INFO(prepaid.output);
  CHECK(prepaid.status == 1);
  CHECK(contains(prepaid.output, "--limit is the credit limit of a postpaid card"));
  for (const char* number : {"4002000000000002", "4002000000000003"}) {
    CHECK(relaygw("card show " + db_option() + "--number " + number).status != 0);
  }
}

TEST_CASE_METHOD(CommandInputFixture, "commands reject invalid offsets", "[billing][cli]") {
  init();
  for (const std::string at :
       {"2026-03-10T14:00:00-25:00", "2026-03-10T14:00:00+14:01", "2026-03-10T24:00:00Z",
        "2026-03-10T14:60:00Z", "2026-03-10T14:00:60Z", "2026-02-30T14:00:00Z"}) {
    check_rejected({
        {"quote --from 3125550107 --to 2125550101 --billing sent-paid --minutes 2 --start " + at,
         {"'" + at + "'"}},
        {"call create " + db_option() + "--from 3125550107 --to 2125550101 --at " + at,
         {"--at", "'" + at + "'"}},
    });
  }
}

TEST_CASE_METHOD(CommandInputFixture, "line add rejects unknown state", "[billing][cli]") {
  init();
  const std::string line_add = "line add " + db_option() +
                               "--name Test --rate-center CHICAGO "
                               "--time-zone America/Chicago ";
  check_rejected({
      {line_add + "--number 3125550160 --state ZZ", {"invalid state 'ZZ'"}},
      {line_add + "--number 9995550160 --state IL", {"area code 999"}},
      {line_add + "--number 3125550160 --state NY",
       {"state 'NY' does not match line +13125550160: area code 312 is in IL; set the state to "
        "IL or correct the number"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "text options reject invalid utf8", "[billing][cli]") {
  init();
  // printf writes two bytes that are never valid in UTF-8, 0xFF and 0xFE.
  const std::string bad = "\"$(printf 'bad\\377\\376')\"";
  const std::string create =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  check_rejected({
      {create + "--actor " + bad, {"--actor", "UTF-8"}, {"json"}},
      {create + "--id " + bad, {"--id"}},
      {"call event " + db_option() + "--id c1 --event accepted --how voice --by " + bad, {"--by"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "report rejects dates out of range", "[billing][cli]") {
  init();
  check_rejected({
      {"report summary " + db_option() + "--from 2026-03-01 --to 9999-12-31",
       {"--to 9999-12-31 is outside"}},
      {"report credits " + db_option() + "--from 0000-01-01 --to 2026-03-01",
       {"--from 0000-01-01 is outside"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "option errors exit with status 1", "[billing][cli]") {
  // CLI11 itself rejects these before any command runs.
  check_rejected({
      {"quote --from 3125550107 --to 2125550101 --billing collect --minutes 5",
       {"relaygw quote: --start is required", "run `relaygw quote --help`"}},
      {"call show --id c1 --no-such-option", {"relaygw call show: ", "--no-such-option"}},
      {"quote --from 3125550107 --to 2125550101 --billing collect --start 2026-03-10T09:30:00Z "
       "--minutes five",
       {"--minutes", "five"}},
      {"tty decode --baud 300 x.wav", {"--baud"}},
      {"line show --number 3125550101 --no-such-option", {"--no-such-option"}},
  });
  const CommandRun help = relaygw("quote --help");
  CHECK(help.status == 0);
  CHECK(contains(help.output, "--minutes"));
}

TEST_CASE_METHOD(CommandInputFixture, "unknown subcommand is named", "[billing][cli]") {
  check_rejected({
      {"frobnicate",
       {"relaygw: unknown subcommand 'frobnicate'; run `relaygw --help` to list the subcommands"},
       {"did you mean"}},
      {"call frobnicate",
       {"relaygw call: unknown subcommand 'frobnicate'; run `relaygw call --help` to list the "
        "subcommands"},
       {"did you mean"}},
      {"call shw",
       {"relaygw call: unknown subcommand 'shw'; did you mean 'show'? Or run `relaygw call "
        "--help` to list the subcommands"}},
      {"crad show", {"relaygw: unknown subcommand 'crad'; did you mean 'card'?"}},
      // A word with four or more digits may contain a PIN or a card number, so it is not echoed.
      {"card 4321", {"relaygw card: unknown subcommand (not shown, since its digits may be a PIN"},
       {"4321"}},
      {"card pin4321x", {"relaygw card: unknown subcommand (not shown"}, {"4321"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "missing subcommand lists them", "[billing][cli]") {
  check_rejected({
      {"call",
       {"relaygw call: a subcommand is required (create, event, debit, complete, show); see "
        "`relaygw call --help`"},
       {"A subcommand"}},
      {"", {"relaygw: a subcommand is required (tty, quote, ", "see `relaygw --help`"}},
      {"tty", {"relaygw tty: a subcommand is required (decode, encode)"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "card commands reject bad numbers", "[billing][cli]") {
  init();
  const std::vector<std::string> commands = {
      "card show " + db_option(),
      "card fund " + db_option() + "--amount 5.00 --key k1 ",
      "card payment " + db_option() + "--amount 5.00 --key k2 ",
      "card refund " + db_option(),
      "card close " + db_option() + "--reason lost ",
      "card unlock " + db_option(),
      "card add " + db_option() + "--balance 5.00 ",
  };
  for (const std::string& command : commands) {
    check_rejected({
        {command + "--number 12",
         {": --number: invalid card number '**': it has 2 digits, and a card number is 10 to 19 "
          "digits with no spaces or dashes"},
         {"does not exist"}},
        {command + "--number 5550-1420-0000",
         {"invalid card number '**********0000'",
          "it contains a character that is not a digit, and a card number is 10 to 19 digits"},
         {"does not exist", "5550"}},
        {command + "--number 55501420000012345678",
         {"invalid card number '****************5678': it has 20 digits"},
         {"does not exist"}},
    });
  }
  // A well-formed number that no card has is still reported as missing.
  check_rejected({{"card show " + db_option() + "--number 5550142000001",
                   {"card *********0001 does not exist"}}});
}

TEST_CASE_METHOD(CommandInputFixture, "quote rejects same line", "[billing][cli]") {
  const std::string quote =
      "quote --start 2026-03-10T14:00:00Z --minutes 3 --billing sent-paid ";
  check_rejected({
      {quote + "--from 312-555-0107 --to +13125550107",
       {"relaygw quote: --from 312-555-0107 and --to +13125550107 are the same line, "
        "+13125550107; a call needs a --to other than the calling line"}},
  });
  const CommandRun other = relaygw(quote + "--from 3125550107 --to 2125550101");
  INFO(other.output);
  CHECK(other.status == 0);
}

TEST_CASE_METHOD(CommandInputFixture, "listing names name the fault", "[billing][cli]") {
  init();
  const std::string line_add = "line add " + db_option() +
                               "--type residential --state IL --rate-center CHICAGO "
                               "--time-zone America/Chicago --number 3125550160 ";
  check_rejected({
      // printf writes "José" in Latin-1, where "é" is the one byte 0xE9.
      {line_add + "--name \"$(printf 'Jos\351')\"",
       {"relaygw line add: --name: the value is not UTF-8 (byte 0xE9 at position 4)"}},
      {line_add + "--name \"$(printf 'Jo\nse')\"",
       {"--name: the value contains a line break at position 3; a name or id is one line"}},
      {"profile change " + db_option() + "--line 3125550101 --reason typo --name \"$(printf "
       "'Jo\rse')\"",
       {"--name: the value contains a line break at position 3"}},
  });

  // A CSV file saved as Latin-1 and a quoted cell with a line break.
  const std::string csv = path("lines.csv");
  std::ofstream(csv) << "number,listing_name,line_type,screening,state,rate_center,time_zone,pic,"
                        "is_tty,tty_discount_eligible\n"
                        "3125550161,Jos\xe9 Ruiz,residential,none,IL,CHICAGO,America/Chicago,"
                        "0288,no,no\n"
                        "3125550162,\"two\nlines\",residential,none,IL,CHICAGO,"
                        "America/Chicago,0288,no,no\n";
  const CommandRun imported =
      relaygw("line import " + db_option() + "--file '" + csv + "'");
  INFO(imported.output);
  CHECK(imported.status == 1);
  CHECK(contains(imported.output,
                 "invalid listing name for line +13125550161: it is not UTF-8 (byte 0xE9 at "
                 "position 4); save the file as UTF-8"));
  CHECK(contains(imported.output,
                 "invalid listing name for line +13125550162: it contains a line break at "
                 "position 4; a listing name is one line"));
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

  check_rejected(
      {{"--log-level debug call show " + db_option() + "--id nothing", {"call show failed"}}});

  // The card number is masked and the PIN, read from standard input, never appears.
  const CommandRun card =
      relaygw("--log-level debug card add " + db_option() + "--number 5550142000001 --balance 5.00",
              pin_file("739164"));
  INFO(card.output);
  CHECK(card.status == 0);
  CHECK(contains(card.output, "card add started: "));
  CHECK_FALSE(contains(card.output, "5550142000001"));
  CHECK_FALSE(contains(card.output, "739164"));

  // A card number typed into a phone number option is masked too, and phone numbers are not.
  const CommandRun misplaced = relaygw("--log-level debug call create " + db_option() +
                                       "--id c2 --from 3125550107 --to 4111111111111111 "
                                       "--at 2026-03-10T14:00:00Z");
  INFO(misplaced.output);
  CHECK(misplaced.status != 0);
  CHECK(contains(misplaced.output, "call create started: "));
  CHECK(contains(misplaced.output, "--from=3125550107"));
  CHECK_FALSE(contains(misplaced.output, "4111111111111111"));
}

TEST_CASE_METHOD(CommandInputFixture, "call show prints uncollected charge", "[billing][cli]") {
  init();
  const std::string pin = pin_file("739164");
  REQUIRE(
      relaygw("card add " + db_option() + "--number 5550142000002 --balance 10.00", pin).status ==
      0);
  const CommandRun created = relaygw("call create " + db_option() +
                                         "--id k1 --from 3125550107 --to 2125550101 "
                                         "--billing calling-card --card 5550142000002 "
                                         "--at 2026-03-10T14:00:00Z",
                                     pin);
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
  CHECK(contains(card_text.output, "uncollected $9.14\n"));
}

TEST_CASE_METHOD(CommandInputFixture, "refused card call cannot complete", "[billing][cli]") {
  init();
  REQUIRE(relaygw("card add " + db_option() + "--number 5550142000003 --balance 10.00",
                  pin_file("739164"))
              .status == 0);
  const CommandRun created = relaygw("call create " + db_option() +
                                         "--id p1 --from 3125550107 --to 2125550101 "
                                         "--billing calling-card --card 5550142000003 "
                                         "--at 2026-03-10T14:00:00Z",
                                     pin_file("111111"));
  INFO(created.output);
  REQUIRE(created.status == 1);
  CHECK(contains(created.output, "refused"));

  const CommandRun shown = relaygw("call show " + db_option() + "--id p1");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(contains(shown.output, "refused, so never connected and not billed"));
  CHECK_FALSE(contains(shown.output, "not disconnected yet"));
  CHECK_FALSE(contains(shown.output, "null"));

  const CommandRun completed =
      relaygw("call complete " + db_option() + "--id p1 --key p1-end --at 2026-03-10T14:05:00Z");
  INFO(completed.output);
  CHECK(completed.status == 1);
  CHECK(contains(completed.output, "call 'p1' was refused"));
  CHECK(contains(completed.output, "there is nothing to complete"));
  CHECK_FALSE(contains(completed.output, "posted"));
}

TEST_CASE_METHOD(CommandInputFixture, "call create checks from and time", "[billing][cli]") {
  init();
  const std::string create = "call create " + db_option();
  check_rejected({
      {create + "--id f1 --from 2865550101 --to 2125550101 --at 2026-03-10T14:00:00Z",
       {"--from: invalid number '2865550101'"},
       {"rate deck"}},
      {create + "--id k9 --from 3125550107 --to 2125550101 --at 9999-12-31T23:00:00Z",
       {"request time 9999-12-31T23:00:00Z is outside the dates reports "
        "accept (2000-01-01 to 2099-12-31 local date)"}},
      {create + "--id e9 --from 3125550107 --to 911 --at 2100-06-01T00:00:00Z",
       {"is outside the dates reports accept"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "name options reject control characters", "[billing][cli]") {
  init();
  check_rejected({
      {"call create " + db_option() +
           "--id c1 --from 3125550107 --to 2125550101 "
           "--at 2026-03-10T14:00:00Z --actor \"$(printf 'a\\033[31mred')\"",
       {"--actor", "control character U+001B at position 2"},
       {"\x1b"}},
      {"call event " + db_option() +
           "--id c1 --event accepted --how voice --by \"$(printf 'x\\302\\233y')\"",
       {"control character U+009B"}},
  });

  const CommandRun shown = relaygw("call show " + db_option() + "--id c1");
  CHECK(shown.status != 0);  // the call was never stored
}

// Values end up in records, the audit log and reports, so a stray paste is refused with its
// length before anything is stored.
TEST_CASE_METHOD(CommandInputFixture, "text options refuse overlong values", "[billing][cli]") {
  init();
  const std::string long_name(201, 'a');
  const std::string long_text(2001, 'b');
  const std::string create =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  check_rejected({
      {create + "--id c1 --actor " + long_name,
       {"relaygw call create: ", "--actor", "201 bytes long", "at most 200 bytes"}},
      {create + "--id " + long_name, {"--id", "at most 200 bytes"}},
      {"credit request " + db_option() + "--call c1 --line 1 --reason other --amount 1.00 "
       "--key k1 --text " + long_text,
       {"--text", "2001 bytes long", "free text may be at most 2000 bytes"}},
  });
  CHECK(relaygw(create + "--id c1 --actor " + std::string(200, 'a')).status == 0);
  check_rejected({{create + "--id c2 --actor '   '", {"--actor: the value is blank"}}});
  // A card number in an actor would be stored and printed in full with every record.
  check_rejected({{create + "--id c3 --actor 'clerk 4111 1111 1111 1111'",
                   {"--actor 'clerk **** **** **** 1111' contains a run of 16 digits",
                    "Choose a staff name without the card number"},
                   {"4111 1111"}}});
  CHECK(relaygw(create + "--id c4 --actor 'staff:desk-2026-03-10'").status == 0);
  // A date and time with seconds is 14 digits, but no card number.
  CHECK(relaygw(create + "--id c5 --actor 'shift 2026-12-06 14:05:09'").status == 0);
  check_rejected({{create + "--id c6 --actor 'shift 20261206140509'",
                   {"--actor 'shift **********0509' contains a run of 14 digits"},
                   {"20261206140509"}}});
  // An unset variable in "--db $FILE" must not price with the bundled deck instead.
  check_rejected({
      {"quote --db '' --from 3125550107 --to 2125550101 --billing sent-paid "
       "--start 2026-03-10T09:30:00Z --minutes 1",
       {"relaygw quote: --db is empty"}},
      {"quote --deck '' --from 3125550107 --to 2125550101 --billing sent-paid "
       "--start 2026-03-10T09:30:00Z --minutes 1",
       {"--deck is empty"}},
  });
  // CLI11 would print the words as given, and "--pin 4321" contains a PIN.
  check_rejected({
      {create + "--id c3 --billing calling-card --card 5550142000001 --pin 4321",
       {"relaygw call create: unexpected --pin and 1 value not shown"}, {"4321"}},
      {"card show " + db_option() + "--number 5550142000001 --pin=98765",
       {"unexpected --pin and 1 value not shown"}, {"98765"}},
  });
  // An unknown option names the closest one; only a PIN-like option mentions PINs.
  check_rejected({
      {"line add " + db_option() + "--number 3125550107 --nmae Pat --state IL",
       {"relaygw line add: unexpected --nmae", "did you mean --name for --nmae?"},
       {"PIN is never"}},
      {"call show " + db_option() + "--id c1 --actor staff:x",
       {"unexpected --actor", "only commands that write records take --actor"},
       {"PIN is never"}},
      {create + "--id c4 --pin 4321", {"a PIN is never an option"}, {"did you mean"}},
  });
}

TEST_CASE_METHOD(CommandInputFixture, "actor option rejects empty names", "[billing][cli]") {
  init();
  const std::string add = "line add " + db_option() +
                          "--number 3125550199 --name 'Pat Doe' --type residential --state IL "
                          "--rate-center CHICAGO --time-zone America/Chicago ";
  // An empty --actor, as an unset variable in "--actor $NAME" gives, must not record the
  // default actor staff:$USER instead.
  check_rejected({
      {add + "--actor ''",
       {"relaygw line add: --actor: the value is empty",
        "pass a name such as --actor staff:alice, or leave --actor out to record staff:$USER"}},
      {add + "--actor '   '", {"--actor: the value is blank"}},
      // U+3000 IDEOGRAPHIC SPACE and U+200B ZERO WIDTH SPACE display as nothing.
      {add + "--actor \"$(printf '\\343\\200\\200\\342\\200\\213')\"",
       {"--actor: the value is blank"}},
      // CLI11 reads "--actor=" as an --actor with no value.
      {"card close " + db_option() + "--number 5550142000001 --reason lost --actor=",
       {"relaygw card close: --actor"}},
      {"profile change " + db_option() + "--line 2125550101 --name Grace --reason move --actor ''",
       {"relaygw profile change: --actor: the value is empty"}},
  });
  CHECK(relaygw("line show " + db_option() + "--number 3125550199").status == 1);
  const CommandRun added = relaygw(add + "--actor staff:pat");
  INFO(added.output);
  CHECK(added.status == 0);
}

TEST_CASE_METHOD(CommandInputFixture, "name options reject bidi controls", "[billing][cli]") {
  init();
  const std::string create =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  // Octal escapes for printf: U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE,
  // U+200F RIGHT-TO-LEFT MARK and U+2028 LINE SEPARATOR.
  const std::string override_character = "\\342\\200\\256";
  const std::string isolate = "\\342\\201\\246";
  const std::string mark = "\\342\\200\\217";
  const std::string line_separator = "\\342\\200\\250";
  auto printf_word = [](const std::string& format) { return "\"$(printf '" + format + "')\""; };
  check_rejected({
      {create + "--id c1 --actor " + printf_word("ana" + override_character + "gro.live"),
       {"relaygw call create: --actor", "bidirectional control character U+202E at position 4",
        "so remove it and retry"}},
      {create + "--id c1 --actor " + printf_word("ana" + line_separator + "bob"),
       {"--actor", "line separator U+2028 at position 4"}},
      {create + "--id c1 --actor " + printf_word("a" + isolate),
       {"--actor", "U+2066 at position 2"}},
      {create + "--id " + printf_word("c" + mark + "1"), {"--id", "U+200F at position 2"}},
      {"profile change " + db_option() + "--line 2125550101 --name Grace --reason move --actor " +
           printf_word("ana" + override_character),
       {"relaygw profile change: --actor", "U+202E"}},
  });
  CHECK(relaygw("call show " + db_option() + "--id c1").status == 1);

  REQUIRE(relaygw(create + "--id c2 --billing collect").status == 0);
  check_rejected({
      {"call event " + db_option() + "--id c2 --event accepted --how voice --by " +
           printf_word("Grace" + mark),
       {"--by", "U+200F at position 6"}},
  });
}

// The actor that an omitted --actor records comes from $USER, which the shell may hold with
// any text, so it gets the same checks as --actor.
TEST_CASE_METHOD(CommandInputFixture, "actor from USER rejects bidi controls", "[billing][cli]") {
  init();
  const relaygw::billing::testing::ScopedUserVariable user("ana\xE2\x80\xAEgro");
  const CommandRun run = relaygw("line add " + db_option() +
                                 "--number 3125550199 --name 'Pat Doe' --type residential "
                                 "--state IL --rate-center CHICAGO --time-zone America/Chicago");
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(contains(run.output,
                 "the actor from $USER contains bidirectional control character "
                 "U+202E at position 10"));
  CHECK(contains(run.output, "Or pass a name such as --actor staff:alice"));
  CHECK(relaygw("line show " + db_option() + "--number 3125550199").status == 1);
}

TEST_CASE_METHOD(CommandInputFixture, "card close masks number in reason", "[billing][cli]") {
  init();
  REQUIRE(relaygw("card add " + db_option() + "--number 5550142000001 --balance 5.00",
                  pin_file("739164"))
              .status == 0);
  const CommandRun closed = relaygw("--log-level debug card close " + db_option() +
                                    "--number 5550142000001 --reason 'lost 4111111111119876'");
  INFO(closed.output);
  CHECK(closed.status == 0);
  CHECK(contains(closed.output, "--reason=lost ************9876"));
  CHECK_FALSE(contains(closed.output, "4111111111119876"));

  // Neither the card's state record nor its audit entry keeps the typed number.
  for (const char* suffix : {"", "-wal"}) {
    const std::filesystem::path file = db_path().string() + suffix;
    if (!std::filesystem::exists(file)) {
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(file.string());
    CHECK(bytes.find("4111111111119876") == std::string::npos);
    CHECK(bytes.find("************9876") != std::string::npos);
  }
}

TEST_CASE_METHOD(CommandInputFixture, "identifier options reject card numbers", "[billing][cli]") {
  init();
  // A 10-digit card whose number is also a phone number, as many calling cards are.
  REQUIRE(
      relaygw("card add " + db_option() + "--number 3125550188 --balance 5.00", pin_file("739164"))
          .status == 0);
  const std::string create =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  const std::string stored_card = "contains the number of a calling card in this database";
  check_rejected({
      {create + "--id c-3125550188",
       {"--id 'c-******0188' " + stored_card, "Choose an id"},
       {"3125550188"}},
      {create + "--id 'c-4111-1111-1111-1111'",
       {"--id 'c-****-****-****-1111' contains a run of 16 digits"},
       {"4111-1111"}},
      {create + "--id c5 --actor 'clerk 312 555 0188'",
       {"--actor 'clerk *** *** 0188' " + stored_card},
       {"312 555 0188"}},
      {"card fund " + db_option() + "--number 3125550188 --amount 1.00 --key fund-3125550188",
       {"relaygw card fund: --key 'fund-******0188' " + stored_card, "Choose a key"},
       {"fund-3125550188"}},
      {"credit request " + db_option() +
           "--call c-4111111111111111 --line 1 --reason other --amount 1.00 --key k1 --text x",
       {"--call 'c-************1111' contains a run of 16 digits"},
       {"4111111111111111"}},
      {"dispute note " + db_option() + "--dispute dp-4111111111111111 --text x",
       {"--dispute 'dp-************1111' contains a run of 16 digits"},
       {"4111111111111111"}},
      {"call event " + db_option() +
           "--id c1 --event accepted --how tty-text --by 'Grace 4111 1111 1111 9876'",
       {"--by 'Grace **** **** **** 9876' contains a run of 16 digits"},
       {"4111 1111 1111 9876"}},
      // Commands that only read check their ids too, so an error never repeats the number.
      {"call show " + db_option() + "--id 3125550188",
       {"--id '******0188' " + stored_card},
       {"3125550188"}},
      // The debug log line of the command's options is written before the check, so it masks.
      {"--log-level debug call create " + db_option() +
           "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z --id c-3125550188",
       {"--id=c-******0188", stored_card},
       {"3125550188"}},
  });

  // Phone numbers that are no stored card, and a time in milliseconds, stay valid in ids.
  const CommandRun phone = relaygw(create + "--id c-3125550107 --actor 'clerk 3125550107'");
  INFO(phone.output);
  CHECK(phone.status == 0);
  const CommandRun milliseconds = relaygw(create + "--id tty-1733439000000-s1-c1");
  INFO(milliseconds.output);
  CHECK(milliseconds.status == 0);
  const CommandRun shown_call = relaygw("call show " + db_option() + "--id c-3125550107");
  INFO(shown_call.output);
  CHECK(shown_call.status == 0);
}

TEST_CASE_METHOD(CommandInputFixture, "call create masks card numbers", "[billing][cli]") {
  init();
  REQUIRE(
      relaygw("card add " + db_option() + "--number 3125550188 --balance 5.00", pin_file("739164"))
          .status == 0);
  const std::string create =
      "call create " + db_option() + "--from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z ";
  // Four zero-width spaces between the groups display as "4111111111119876".
  const std::string zero_width = "\u200b\u200b\u200b\u200b";
  const std::string hidden =
      "4111" + zero_width + "1111" + zero_width + "1111" + zero_width + "9876";
  check_rejected({
      // A number longer than any phone number is quoted masked, and the refusal is stored so.
      {create + "--id c1 --billing third-party --third-number 4111111111119876",
       {"third number invalid number '************9876'"},
       {"4111111111119876"}},
      {create + "--id c2 --billing third-party --third-number '4111 -- 1111 -- 1111 -- 9876'",
       {"invalid number '**** -- **** -- **** -- 9876'"},
       {"4111 -- 1111"}},
      {create + "--id c3 --billing person-to-person --person 'Ann 4111 1111 1111 9876'",
       {"--person 'Ann **** **** **** 9876' contains a run of 16 digits", "Choose a name"},
       {"4111 1111"}},
      {create + "--id c4 --billing person-to-person --person 'Ann " + hidden + "'",
       {"--person 'Ann ****" + zero_width + "****" + zero_width + "****" + zero_width +
        "9876' contains a run of 16 digits"},
       {hidden}},
      {create + "--id c5 --billing person-to-person --person 'Ann at 312 555 0188'",
       {"--person 'Ann at *** *** 0188' contains the number of a calling card in this database"},
       {"312 555 0188"}},
  });
  // A number of phone length keeps its digits in the message, so staff can find the typo.
  const CommandRun short_number =
      relaygw(create + "--id c6 --billing third-party --third-number 41555501088");
  INFO(short_number.output);
  CHECK(short_number.status == 1);
  CHECK(contains(short_number.output, "'41555501088'"));

  // The refused call c1 is stored with the masked reason, and no call stores a full number.
  const CommandRun shown = relaygw("call show " + db_option() + "--id c1");
  INFO(shown.output);
  CHECK(shown.status == 0);
  CHECK(contains(shown.output, "************9876"));
  for (const char* id : {"c3", "c4", "c5"}) {
    CHECK(relaygw("call show " + db_option() + "--id " + id).status != 0);
  }
  for (const char* suffix : {"", "-wal"}) {
    const std::filesystem::path file = db_path().string() + suffix;
    if (!std::filesystem::exists(file)) {
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(file.string());
    CHECK(bytes.find("4111111111119876") == std::string::npos);
    CHECK(bytes.find(hidden) == std::string::npos);
    CHECK(bytes.find("4111 -- 1111") == std::string::npos);
  }

  // A name with a phone number that is no card is accepted, and an emergency call is never
  // held up by its requested person.
  const CommandRun phone =
      relaygw(create + "--id c7 --billing person-to-person --person 'Ann (312) 555-0107'");
  INFO(phone.output);
  CHECK(phone.status == 0);
  const CommandRun emergency =
      relaygw("call create " + db_option() +
              "--from 3125550107 --to 911 --at 2026-03-10T14:00:00Z "
              "--id c8 --billing person-to-person --person 'Ann 312 555 0188'");
  INFO(emergency.output);
  CHECK(emergency.status == 0);
}
