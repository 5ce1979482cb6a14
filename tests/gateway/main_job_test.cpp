// The main job end to end: scripts/demo decodes the bundled TTY recordings, starts a PSAP
// console and `relaygw serve` on loopback, replays data/day/day.toml through them and stops
// the gateway with SIGTERM. The billing database it leaves must hold the day's calls by
// billing method and access tag, the totals, the credits and every emergency call billed zero,
// and a second run must bill exactly the same.
#include <catch2/catch.hpp>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "billing/sqlite_store.hpp"

namespace {

// A new folder under the system temporary folder, removed with its contents at the end.
class DemoDir {
 public:
  DemoDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "relaygw_main_job_XXXXXX");
    path_ = ::mkdtemp(pattern.data());
  }
  ~DemoDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  DemoDir(const DemoDir&) = delete;
  DemoDir& operator=(const DemoDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Runs relaygw with `arguments` (no shell quoting needed: each is single-quoted) and returns
// its exit status, with standard output in `output`.
int run_relaygw(const std::vector<std::string>& arguments, std::string& output) {
  std::string command = std::string("'") + RELAYGW_BINARY + "'";
  for (const std::string& argument : arguments) {
    command += " '" + argument + "'";
  }
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return -1;
  }
  std::array<char, 4096> buffer{};
  std::size_t count = 0;
  while ((count = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    output.append(buffer.data(), count);
  }
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

const std::string kDay = "2026-03-10";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs scripts/demo with its output folder in `dir`, on this build's relaygw and in fast mode
// (the gateway sends its TTY audio as fast as the socket takes it). Returns the exit status and
// leaves the demo's output in dir/demo.log.
int run_demo(const DemoDir& dir) {
  const std::string command = std::string("RELAYGW_BIN='") + RELAYGW_BINARY +
                              "' RELAYGW_DEMO_DIR='" + dir.path().string() +
                              "' RELAYGW_DEMO_FAST=1 '" + RELAYGW_SOURCE_DIR +
                              "/scripts/demo' > '" + dir.file("demo.log") + "' 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

nlohmann::json relaygw_json(const std::vector<std::string>& arguments) {
  std::string output;
  const int status = run_relaygw(arguments, output);
  INFO("relaygw output: " << output);
  REQUIRE(status == 0);
  return nlohmann::json::parse(output);
}

nlohmann::json summary_report(const DemoDir& dir) {
  return relaygw_json({"report", "summary", "--db", dir.file("relaygw.db"), "--from", kDay, "--to",
                       kDay, "--json"});
}

// Maps each row's group (billing method or access tag) to the row.
std::map<std::string, nlohmann::json> rows_by_group(const nlohmann::json& rows) {
  std::map<std::string, nlohmann::json> out;
  for (const nlohmann::json& row : rows) {
    out[row.at("group").get<std::string>()] = row;
  }
  return out;
}

// Keeps the fields of a summary row, or of each row of an array, that billing decides: calls,
// answers, billable seconds and amounts.
nlohmann::json billed_fields(const nlohmann::json& rows) {
  if (rows.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const nlohmann::json& row : rows) {
      out.push_back(billed_fields(row));
    }
    return out;
  }
  nlohmann::json out;
  for (const char* field : {"group", "calls", "answered", "emergency", "billable_seconds", "usage",
                            "surcharges", "discounts", "taxes", "fees", "total"}) {
    out[field] = rows.at(field);
  }
  return out;
}

int answered(const std::map<std::string, nlohmann::json>& rows, const std::string& group) {
  auto found = rows.find(group);
  return found == rows.end() ? 0 : found->second.at("answered").get<int>();
}

}  // namespace

// One test runs the demo twice, because each run takes a minute or more on 2 cores and the
// first run's database is what the checks read.
TEST_CASE("main job replays bundled day twice", "[gateway][main-job]") {
  DemoDir first;
  const int status = run_demo(first);
  INFO("demo output:\n" << read_file(first.file("demo.log")));
  REQUIRE(status == 0);

  const nlohmann::json summary = summary_report(first);
  const auto by_billing = rows_by_group(summary.at("by_billing"));
  const auto by_access = rows_by_group(summary.at("by_access"));

  // Calls answered by billing method. Collect: the provider's collect and dropped collect
  // calls and the TTY line's. Sent-paid: the provider's relay IP, captioned and misdialed
  // calls and the TTY line's.
  CHECK(answered(by_billing, "collect") == 3);
  // Sent-paid also counts the TTY line's 911 call, which is stored as sent-paid. The provider
  // emergency calls end before the gateway clock reaches them, so they record no answer.
  CHECK(answered(by_billing, "sent-paid") == 5);
  CHECK(answered(by_billing, "third-party") == 2);
  CHECK(answered(by_billing, "person-to-person") == 2);
  CHECK(answered(by_billing, "calling-card") == 2);

  // Calls answered by access tag. tty: five TTY line calls, the TTY line's 911 call and the
  // provider's direct TTY card call.
  CHECK(answered(by_access, "tty") == 7);
  CHECK(answered(by_access, "relay-tty") == 2);
  CHECK(answered(by_access, "relay-ip") == 2);
  CHECK(answered(by_access, "captioned") == 1);
  CHECK(answered(by_access, "video") == 1);
  CHECK(answered(by_access, "speech") == 1);

  // Day totals: three emergency calls, and revenue from the billed calls.
  const nlohmann::json& total = summary.at("total");
  CHECK(total.at("emergency").get<int>() == 3);
  CHECK(total.at("calls").get<int>() == 22);
  CHECK(total.at("total").get<std::string>() == "41.74");

  // Two credits and the dispute's adjustment, all applied.
  const nlohmann::json credits =
      relaygw_json({"credit", "list", "--db", first.file("relaygw.db"), "--json"});
  REQUIRE(credits.size() == 3);
  std::map<std::string, std::string> amount_by_reason;
  for (const nlohmann::json& credit : credits) {
    CHECK(credit.at("state").get<std::string>() == "applied");
    amount_by_reason[credit.at("reason").get<std::string>()] =
        credit.at("amount").get<std::string>();
  }
  CHECK(amount_by_reason.count("misdialed") == 1);
  CHECK(amount_by_reason.count("dropped-call") == 1);
  CHECK(amount_by_reason["misdialed"] == "0.22");

  // Every emergency call reached the PSAP console and was billed zero.
  const nlohmann::json emergency =
      relaygw_json({"report", "emergency", "--db", first.file("relaygw.db"), "--from", kDay, "--to",
                    kDay, "--json"});
  REQUIRE(emergency.at("count").get<int>() == 3);
  auto store = relaygw::billing::SqliteStore::open(first.file("relaygw.db"));
  REQUIRE(store.is_ok());
  for (const nlohmann::json& call : emergency.at("calls")) {
    INFO("emergency call " << call.dump());
    CHECK(call.at("billed").get<std::string>() == "0.00");
    CHECK(call.at("psap").get<std::string>() == "psap-demo");
    // The route is the call's PSAP, not a person asked for on a person-to-person call.
    auto record = (*store)->find_call(call.at("call_id").get<std::string>());
    REQUIRE(record.is_ok());
    REQUIRE(record->has_value());
    CHECK((*record)->request.psap_route == "psap-demo");
    CHECK((*record)->request.requested_person.empty());
  }
  store->reset();
  const std::string psap_log = read_file(first.file("psap.log"));
  INFO("PSAP console output:\n" << psap_log);
  for (const char* caller : {"+12125550101", "+16175550114", "+13125550107"}) {
    CHECK(psap_log.find(caller) != std::string::npos);
  }

  // A second run bills exactly the same.
  DemoDir second;
  const int second_status = run_demo(second);
  INFO("second demo output:\n" << read_file(second.file("demo.log")));
  REQUIRE(second_status == 0);
  const nlohmann::json second_summary = summary_report(second);
  // Conversation seconds may differ by a second or two, because TTY line calls and the TTY
  // 911 call run on the gateway clock at real speed; every billed amount must be equal.
  CHECK(billed_fields(second_summary.at("total")) == billed_fields(summary.at("total")));
  CHECK(billed_fields(second_summary.at("by_billing")) == billed_fields(summary.at("by_billing")));
  CHECK(billed_fields(second_summary.at("by_access")) == billed_fields(summary.at("by_access")));
}
