// The relaygw credit, dispute and audit commands, run as real processes on real database
// files.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/store.hpp"
#include "tests/billing/billing_test_support.hpp"

namespace {

using Run = relaygw::billing::testing::CommandRun;

class CreditCommandFixture {
 public:
  CreditCommandFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-credit-commands-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~CreditCommandFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string db_option() const { return "--db '" + path("billing.db") + "' "; }

  // Runs relaygw with `arguments` (already shell-quoted), standard input empty.
  Run relaygw(const std::string& arguments) {
    return ::relaygw::billing::testing::run_relaygw(arguments);
  }

  // Creates the database and posts collect call c1, whose charges Grace Okafor accepted by TTY
  // text.
  void post_call() {
    REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
    REQUIRE(relaygw("call create " + db_option() +
                    "--id c1 --from 3125550107 --to 2125550101 --billing collect "
                    "--access relay-tty --at 2026-03-10T14:00:00Z")
                .status == 0);
    REQUIRE(relaygw("call event " + db_option() +
                    "--id c1 --event accepted --how tty-text --by 'Grace Okafor' "
                    "--at 2026-03-10T14:00:20Z")
                .status == 0);
    REQUIRE(
        relaygw("call event " + db_option() + "--id c1 --event connected --at 2026-03-10T14:00:21Z")
            .status == 0);
    REQUIRE(
        relaygw("call complete " + db_option() + "--id c1 --at 2026-03-10T14:05:21Z --key end-c1")
            .status == 0);
  }

 private:
  std::filesystem::path dir_;
};

// Runs `sql` on the file through its own connection and returns the first column of the
// first row as text.
std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  std::string value;
  const auto first_column = [](void* out, int columns, char** values, char**) {
    if (columns > 0 && values[0] != nullptr) {
      *static_cast<std::string*>(out) = values[0];
    }
    return 1;  // only the first row
  };
  const int code = sqlite3_exec(db, sql.c_str(), first_column, &value, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  INFO(sql << ": " << message);
  REQUIRE((code == SQLITE_OK || code == SQLITE_ABORT));
  return value;
}

}  // namespace

TEST_CASE_METHOD(CreditCommandFixture, "credit request repeated key applies once",
                 "[billing][commands][credits]") {
  post_call();
  const std::string request = "credit request " + db_option() +
                              "--call c1 --line 1 --reason bad-connection --amount 0.10 "
                              "--key credit-c1 --json";
  const Run first = relaygw(request);
  const Run second = relaygw(request);
  REQUIRE(first.status == 0);
  REQUIRE(second.status == 0);
  CHECK(first.output == second.output);
  const nlohmann::json credit = nlohmann::json::parse(first.output);
  CHECK(credit["state"] == "applied");
  CHECK(credit["amount"] == "0.10");
  CHECK(credit["reason"] == "bad-connection");

  const Run listed = relaygw("credit list " + db_option() + "--call c1 --json");
  REQUIRE(listed.status == 0);
  CHECK(nlohmann::json::parse(listed.output).size() == 1);
  const Run shown =
      relaygw("credit show " + db_option() + "--credit " + credit["id"].get<std::string>());
  CHECK(shown.status == 0);
  CHECK(shown.output.find("applied") != std::string::npos);

  const Run changed = relaygw("credit request " + db_option() +
                              "--call c1 --line 1 --reason bad-connection --amount 0.20 "
                              "--key credit-c1");
  CHECK(changed.status == 1);
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

TEST_CASE_METHOD(CreditCommandFixture, "credit request rejects bad input",
                 "[billing][commands][credits]") {
  post_call();
  const Run too_large = relaygw("credit request " + db_option() +
                                "--call c1 --line 1 --reason bad-connection --amount 999.00 "
                                "--key credit-big");
  CHECK(too_large.status == 1);
  CHECK(too_large.output.find("credit of $999.00 exceeds") != std::string::npos);

  const Run reason = relaygw("credit request " + db_option() +
                             "--call c1 --line 1 --reason weather --amount 0.10 --key k3");
  CHECK(reason.status == 1);
  CHECK(reason.output.find("invalid --reason 'weather'") != std::string::npos);

  const Run line = relaygw("credit request " + db_option() +
                           "--call c1 --line 99 --reason other --text x --amount 0.10 --key k4");
  CHECK(line.status == 1);
  CHECK(line.output.find("charge line 99 is invalid") != std::string::npos);

  const Run listed = relaygw("credit list " + db_option() + "--json");
  REQUIRE(listed.status == 0);
  CHECK(nlohmann::json::parse(listed.output).empty());
}

TEST_CASE_METHOD(CreditCommandFixture, "credit on refused call says refused",
                 "[billing][commands][credits]") {
  post_call();
  const Run refused = relaygw("call create " + db_option() +
                              "--id c2 --from 3125550107 --to +442071234567 --billing collect "
                              "--at 2026-03-10T15:00:00Z");
  REQUIRE(refused.status == 1);
  const Run credit = relaygw("credit request " + db_option() +
                             "--call c2 --line 1 --reason misdialed --amount 0.10 --key k-c2");
  INFO(credit.output);
  CHECK(credit.status == 1);
  CHECK(credit.output.find("call c2 was refused (line-not-billable: ") != std::string::npos);
  CHECK(credit.output.find("and never billed, so it has nothing to credit") !=
        std::string::npos);
}

TEST_CASE_METHOD(CreditCommandFixture, "credit above approval waits for supervisor",
                 "[billing][commands][credits]") {
  post_call();
  std::ofstream(path("policy.toml")) << "[credits]\napproval_above = \"0.05\"\n";
  const Run requested =
      relaygw("credit request " + db_option() + "--policy '" + path("policy.toml") +
              "' --call c1 --line 1 --reason duplicate --amount 0.10 "
              "--key credit-approve --json");
  REQUIRE(requested.status == 0);
  const nlohmann::json credit = nlohmann::json::parse(requested.output);
  CHECK(credit["state"] == "pending");
  const std::string id = credit["id"];
  const Run approved =
      relaygw("credit approve " + db_option() + "--actor staff:sup --credit " + id + " --json");
  REQUIRE(approved.status == 0);
  CHECK(nlohmann::json::parse(approved.output)["state"] == "applied");
  CHECK(nlohmann::json::parse(approved.output)["decided_by"] == "staff:sup");
  const Run rejected = relaygw("credit reject " + db_option() + "--credit " + id);
  CHECK(rejected.status == 1);
  CHECK(rejected.output.find("already applied") != std::string::npos);
}

TEST_CASE_METHOD(CreditCommandFixture, "dispute account masks card number in log",
                 "[billing][commands][disputes]") {
  // A customer's account may quote the card number; the debug log of the command keeps only
  // its last four digits.
  post_call();
  const Run opened = relaygw("--log-level debug dispute open " + db_option() +
                             "--call c1 --line 1 --account 'card 4111111111119876 charged twice' "
                             "--key dispute-c1");
  INFO(opened.output);
  REQUIRE(opened.status == 0);
  CHECK(opened.output.find("--account=card ************9876 charged twice") !=
        std::string::npos);
  CHECK(opened.output.find("started: ") != std::string::npos);
  const std::string log_line = opened.output.substr(opened.output.find("started: "));
  CHECK(log_line.substr(0, log_line.find('\n')).find("4111111111119876") == std::string::npos);
}

TEST_CASE_METHOD(CreditCommandFixture, "dispute stores card numbers masked",
                 "[billing][commands][disputes]") {
  // Card numbers typed into the account, a note or the resolution text, with or without
  // spaces, are stored and printed with only their last four digits.
  post_call();
  const Run opened = relaygw("dispute open " + db_option() +
                             "--call c1 --line 1 --account 'card 4111111111119876 charged twice' "
                             "--key dispute-c1 --json");
  INFO(opened.output);
  REQUIRE(opened.status == 0);
  CHECK(opened.output.find("4111111111119876") == std::string::npos);
  const nlohmann::json dispute = nlohmann::json::parse(opened.output);
  CHECK(dispute["customer_account"] == "card ************9876 charged twice");
  const std::string id = dispute["id"];

  // The same request with the same key returns the same dispute.
  const Run again = relaygw("dispute open " + db_option() +
                            "--call c1 --line 1 --account 'card 4111111111119876 charged twice' "
                            "--key dispute-c1 --json");
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK(nlohmann::json::parse(again.output)["id"] == id);

  const Run noted = relaygw("dispute note " + db_option() + "--dispute " + id +
                            " --text 'customer read 5500 0000 0000 4444 from the back'");
  INFO(noted.output);
  REQUIRE(noted.status == 0);
  CHECK(noted.output.find("5500 0000 0000 4444") == std::string::npos);
  CHECK(noted.output.find("**** **** **** 4444") != std::string::npos);
  const Run resolved = relaygw("dispute resolve " + db_option() + "--dispute " + id +
                               " --adjust 0.05 --key resolve-c1 --text 'refund 4111111111119876'");
  INFO(resolved.output);
  REQUIRE(resolved.status == 0);
  CHECK(resolved.output.find("4111111111119876") == std::string::npos);

  const std::string db = path("billing.db");
  for (const std::string& sql :
       {std::string("SELECT COUNT(*) FROM disputes WHERE customer_account LIKE '%1111%'"),
        std::string("SELECT COUNT(*) FROM dispute_steps WHERE note LIKE '%1111%' OR note LIKE "
                    "'%0000 0000%'"),
        std::string("SELECT COUNT(*) FROM credits WHERE reason_text LIKE '%1111%'"),
        std::string("SELECT COUNT(*) FROM audit_log WHERE payload LIKE '%1111%' OR payload "
                    "LIKE '%0000 0000%'")}) {
    INFO(sql);
    CHECK(raw_query(db, sql) == "0");
  }
  CHECK(raw_query(db, "SELECT customer_account FROM disputes") ==
        "card ************9876 charged twice");
  // The idempotency key keeps a hash of the masked account, not one of the full number.
  const std::string full_hash =
      relaygw::billing::sha256_hex("c1|1|card 4111111111119876 charged twice");
  CHECK(raw_query(db, "SELECT COUNT(*) FROM idempotency_keys WHERE request_hash = '" + full_hash +
                          "'") == "0");
  CHECK(raw_query(db, "SELECT COUNT(*) FROM idempotency_keys WHERE request_hash = '" +
                          relaygw::billing::sha256_hex("c1|1|card ************9876 charged twice") +
                          "'") == "1");

  const Run shown = relaygw("dispute show " + db_option() + "--dispute " + id);
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(shown.output.find("customer's account: card ************9876 charged twice") !=
        std::string::npos);
  CHECK(shown.output.find("refund ************9876") != std::string::npos);
  const Run verified = relaygw("audit verify " + db_option());
  INFO(verified.output);
  CHECK(verified.status == 0);
}

TEST_CASE_METHOD(CreditCommandFixture, "credit text stores card numbers masked",
                 "[billing][commands][credits]") {
  post_call();
  const Run requested = relaygw("credit request " + db_option() +
                                "--call c1 --line 1 --reason other --text 'card 4111111111119876 "
                                "billed twice' --amount 0.05 --key credit-c1 --json");
  INFO(requested.output);
  REQUIRE(requested.status == 0);
  CHECK(requested.output.find("4111111111119876") == std::string::npos);
  const nlohmann::json credit = nlohmann::json::parse(requested.output);
  CHECK(credit["text"] == "card ************9876 billed twice");

  const std::string db = path("billing.db");
  CHECK(raw_query(db, "SELECT reason_text FROM credits") == "card ************9876 billed twice");
  CHECK(raw_query(db, "SELECT COUNT(*) FROM audit_log WHERE payload LIKE '%1111%'") == "0");
  const std::string full_hash =
      relaygw::billing::sha256_hex("c1|1|other|card 4111111111119876 billed twice|500");
  CHECK(raw_query(db, "SELECT COUNT(*) FROM idempotency_keys WHERE request_hash = '" + full_hash +
                          "'") == "0");
  const std::string masked_hash =
      relaygw::billing::sha256_hex("c1|1|other|card ************9876 billed twice|500");
  CHECK(raw_query(db, "SELECT COUNT(*) FROM idempotency_keys WHERE request_hash = '" + masked_hash +
                          "'") == "1");

  // The same request with the same key is the same credit.
  const Run again = relaygw("credit request " + db_option() +
                            "--call c1 --line 1 --reason other --text 'card 4111111111119876 "
                            "billed twice' --amount 0.05 --key credit-c1 --json");
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK(nlohmann::json::parse(again.output)["id"] == credit["id"]);
}

TEST_CASE_METHOD(CreditCommandFixture, "dispute show masks earlier stored numbers",
                 "[billing][commands][disputes]") {
  // A database written before card numbers were masked may hold one in full, and the show
  // and list output, text and JSON, still mask it.
  post_call();
  const Run opened = relaygw("dispute open " + db_option() +
                             "--call c1 --line 1 --account 'double charge' --key dispute-c1 "
                             "--json");
  REQUIRE(opened.status == 0);
  const std::string id = nlohmann::json::parse(opened.output)["id"];
  const std::string db = path("billing.db");
  raw_query(db, "UPDATE disputes SET customer_account = 'card 4111111111119876'");
  raw_query(db, "UPDATE dispute_steps SET note = 'card 4111-1111-1111-9876'");

  for (const std::string& command :
       {"dispute show " + db_option() + "--dispute " + id,
        "dispute show " + db_option() + "--dispute " + id + " --json",
        "dispute list " + db_option(), "dispute list " + db_option() + "--json"}) {
    const Run run = relaygw(command);
    INFO(command << "\n" << run.output);
    REQUIRE(run.status == 0);
    CHECK(run.output.find("card ************9876") != std::string::npos);
    CHECK(run.output.find("4111") == std::string::npos);
  }
}

TEST_CASE_METHOD(CreditCommandFixture, "dispute command steps through resolution",
                 "[billing][commands][disputes]") {
  post_call();
  const Run opened = relaygw("dispute open " + db_option() +
                             "--call c1 --line 1 --account 'never accepted the charges' "
                             "--key dispute-c1 --json");
  REQUIRE(opened.status == 0);
  const std::string id = nlohmann::json::parse(opened.output)["id"];
  const Run again = relaygw("dispute open " + db_option() +
                            "--call c1 --line 1 --account 'never accepted the charges' "
                            "--key dispute-c1 --json");
  REQUIRE(again.status == 0);
  CHECK(nlohmann::json::parse(again.output)["id"] == id);

  CHECK(relaygw("dispute note " + db_option() + "--dispute " + id +
                " --text 'called the customer back'")
            .status == 0);
  const Run investigated = relaygw("dispute investigate " + db_option() + "--dispute " + id);
  REQUIRE(investigated.status == 0);
  CHECK(investigated.output.find("charges accepted by Grace Okafor via tty-text at "
                                 "2026-03-10T14:00:20Z") != std::string::npos);
  CHECK(investigated.output.find("connected") != std::string::npos);
  CHECK(investigated.output.find("record chain verified") != std::string::npos);

  const Run resolved = relaygw("dispute resolve " + db_option() + "--actor staff:sup --dispute " +
                               id + " --adjust 0.05 --key resolve-c1 --json");
  REQUIRE(resolved.status == 0);
  const nlohmann::json dispute = nlohmann::json::parse(resolved.output);
  CHECK(dispute["state"] == "resolved");
  REQUIRE(dispute["steps"].size() == 4);
  CHECK(dispute["steps"][2]["action"] == "investigated");
  CHECK(dispute["steps"][3]["action"] == "adjusted");
  const std::string credit_id = dispute["steps"][3]["credit_id"];
  const Run credit = relaygw("credit show " + db_option() + "--credit " + credit_id + " --json");
  REQUIRE(credit.status == 0);
  CHECK(nlohmann::json::parse(credit.output)["dispute_id"] == id);
  CHECK(nlohmann::json::parse(credit.output)["amount"] == "0.05");

  const Run twice =
      relaygw("dispute resolve " + db_option() + "--dispute " + id + " --deny --key resolve-2");
  CHECK(twice.status == 1);
  CHECK(twice.output.find("already resolved (adjusted) by staff:sup") != std::string::npos);

  const Run overdue = relaygw("dispute list " + db_option() + "--overdue");
  CHECK(overdue.status == 0);
  CHECK(overdue.output.find("0 overdue disputes") != std::string::npos);
  const Run verified = relaygw("audit verify " + db_option());
  CHECK(verified.status == 0);
  CHECK(verified.output.find("audit verify: ok") != std::string::npos);
}

TEST_CASE_METHOD(CreditCommandFixture, "dispute adjustment above approval waits",
                 "[billing][commands][disputes]") {
  post_call();
  std::ofstream(path("policy.toml")) << "[credits]\napproval_above = \"0.05\"\n";
  const std::string policy = "--policy '" + path("policy.toml") + "' ";
  const Run opened = relaygw("dispute open " + db_option() +
                             "--call c1 --line 1 --account 'the line was noisy' "
                             "--key dispute-c1 --json");
  REQUIRE(opened.status == 0);
  const std::string id = nlohmann::json::parse(opened.output)["id"];

  const Run resolved =
      relaygw("dispute resolve " + db_option() + policy + "--actor staff:ana --dispute " + id +
              " --adjust 0.10 --key resolve-c1");
  INFO(resolved.output);
  REQUIRE(resolved.status == 0);
  CHECK(resolved.output.find(", pending-approval,") != std::string::npos);
  CHECK(resolved.output.find("pending approval, not credited yet") != std::string::npos);
  CHECK(resolved.output.find("above the approval amount of $0.05") != std::string::npos);

  const Run shown = relaygw("dispute show " + db_option() + "--dispute " + id + " --json");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  const nlohmann::json dispute = nlohmann::json::parse(shown.output);
  CHECK(dispute["state"] == "pending-approval");
  CHECK(dispute["steps"].back()["credit_state"] == "pending");
  CHECK(dispute["steps"].back()["credit_amount"] == "0.10");
  const std::string credit_id = dispute["steps"].back()["credit_id"];
  const Run credit = relaygw("credit show " + db_option() + "--credit " + credit_id + " --json");
  CHECK(nlohmann::json::parse(credit.output)["state"] == "pending");

  // The requester cannot approve the adjustment.
  const Run self =
      relaygw("credit approve " + db_option() + "--actor staff:ana --credit " + credit_id);
  CHECK(self.status == 1);
  CHECK(self.output.find("cannot approve it") != std::string::npos);
  const Run listed = relaygw("dispute list " + db_option());
  CHECK(listed.output.find("pending-approval") != std::string::npos);
  CHECK(listed.output.find("\n1 dispute\n") != std::string::npos);

  const Run approved =
      relaygw("credit approve " + db_option() + "--actor staff:sup --credit " + credit_id);
  INFO(approved.output);
  REQUIRE(approved.status == 0);
  const Run after = relaygw("dispute show " + db_option() + "--dispute " + id);
  CHECK(after.output.find(", resolved,") != std::string::npos);
  INFO(after.output);
  CHECK(after.output.find("credit " + credit_id + " of $0.10 applied") != std::string::npos);
  CHECK(relaygw("audit verify " + db_option()).status == 0);
}

namespace {

// Writes a deck named `name`, effective on `effective`, that charges 0.0100 a minute in every
// jurisdiction, and returns its path.
std::string write_cheap_deck(const std::string& path, const std::string& name,
                             const std::string& effective) {
  std::string text =
      "name = \"" + name + "\"\n[[version]]\nname = \"v1\"\neffective = " + effective + "\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"0.0100\" }\n";
  }
  std::ofstream(path) << text;
  return path;
}

std::string file_sha256(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return relaygw::billing::sha256_hex(text);
}

}  // namespace

// The call of 2026-03-10 is re-rated with the deck in effect on that date, not with the deck
// stored last, and the credit names the deck.
TEST_CASE_METHOD(CreditCommandFixture, "rating error credit uses deck of call date",
                 "[billing][commands][credits]") {
  post_call();
  const std::string april = write_cheap_deck(path("april.toml"), "April tariff", "2026-04-01");
  REQUIRE(relaygw("db load-deck " + db_option() + "--rates '" + april + "'").status == 0);

  const Run same = relaygw("credit request " + db_option() +
                           "--call c1 --line 1 --reason rating-error --key re-1");
  INFO(same.output);
  CHECK(same.status == 1);
  CHECK(same.output.find("with rate deck 'Example relay center tariff' (effective 2025-01-01, "
                         "sha256 ") != std::string::npos);
  CHECK(same.output.find("April tariff") == std::string::npos);

  // A correction with the call's effective date is the deck in effect on it.
  const std::string fix = write_cheap_deck(path("fix.toml"), "tariff fix", "2025-01-01");
  REQUIRE(relaygw("db load-deck " + db_option() + "--rates '" + fix + "'").status == 0);
  const Run credited = relaygw("credit request " + db_option() +
                               "--call c1 --line 1 --reason rating-error --key re-2 --json");
  INFO(credited.output);
  REQUIRE(credited.status == 0);
  const nlohmann::json credit = nlohmann::json::parse(credited.output);
  CHECK(credit["rule"] == "re-rate");
  CHECK(credit["state"] == "applied");
  const std::string text = credit["text"];
  CHECK(text.find("re-rated to 0.05 against ") != std::string::npos);
  CHECK(text.find("with rate deck 'tariff fix' (effective 2025-01-01, sha256 " +
                  file_sha256(fix).substr(0, 12) + ")") != std::string::npos);
}

TEST_CASE_METHOD(CreditCommandFixture, "rating error amount needs an error",
                 "[billing][commands][credits]") {
  post_call();
  const Run right = relaygw("credit request " + db_option() +
                            "--call c1 --line 1 --reason rating-error --amount 0.10 --key re-1");
  INFO(right.output);
  CHECK(right.status == 1);
  CHECK(right.output.find("with rate deck 'Example relay center tariff' (effective 2025-01-01, "
                          "sha256 ") != std::string::npos);
  CHECK(right.output.find(", the same as the ") != std::string::npos);
  CHECK(right.output.find("no rating error to credit") != std::string::npos);
  CHECK(right.output.find("for a goodwill credit, request reason 'other'") != std::string::npos);

  const Run goodwill = relaygw("credit request " + db_option() +
                               "--call c1 --line 1 --reason other --text 'goodwill' "
                               "--amount 0.10 --key re-2 --json");
  INFO(goodwill.output);
  REQUIRE(goodwill.status == 0);
  CHECK(nlohmann::json::parse(goodwill.output)["amount"] == "0.10");

  const Run listed = relaygw("credit list " + db_option() + "--call c1 --json");
  REQUIRE(listed.status == 0);
  CHECK(nlohmann::json::parse(listed.output).size() == 1);
}
