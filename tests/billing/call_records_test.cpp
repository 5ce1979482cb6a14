// Call records: lifecycle events, durations from UTC instants, acceptance before charges,
// person-to-person surcharges and posting once per completion.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <pwd.h>
#include <unistd.h>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/credits.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::Status;
using relaygw::StatusCode;

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

// $0.10 a minute in 60 s increments everywhere, and a $3.25 person-to-person surcharge.
RateDeck call_deck() {
  std::string text =
      "name = \"call records test\"\n[[version]]\nname = \"v1\"\neffective = 2020-01-01\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"0.1000\" }\n";
  }
  text +=
      "[[version.surcharge]]\nbilling = \"person-to-person\"\namount = \"3.2500\"\n"
      "description = \"person-to-person\"\n";
  auto deck = RateDeck::parse(text, "call-records-test.toml");
  if (!deck) {
    FAIL(deck.status().message());
  }
  return std::move(deck).value();
}

Instant at(const std::string& text) { return parse_instant(text).value(); }

class CallFixture {
 public:
  CallFixture() : deck_(call_deck()), rater_(&number_plan(), &deck_) {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-calls-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open(path(), options);
    REQUIRE(opened);
    store_ = std::move(opened).value();
  }
  ~CallFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path() const { return (dir_ / "calls.db").string(); }
  CallRecords calls() { return CallRecords(store_.get(), &rater_); }
  SqliteStore& store() { return *store_; }

  // Opens a call requested at `requested` and returns its id.
  std::string open_call(BillingMethod billing, const std::string& requested,
                        AccessTag access = AccessTag::None) {
    CallRequest request;
    request.from = "3125550107";
    request.to = "2125550101";
    request.billing = billing;
    request.access = access;
    request.handling = Handling::OperatorAssisted;
    auto opened = calls().open(request, WriteContext{"gateway", at(requested)});
    REQUIRE(opened);
    return opened->id;
  }
  void event(const std::string& id, CallEvent kind, const std::string& when) {
    REQUIRE(calls().add_event(id, CallEventRecord{kind, at(when), "gateway", {}, {}}));
  }
  void accept(const std::string& id, const std::string& when) {
    REQUIRE(calls().add_event(id, CallEventRecord{CallEvent::Accepted, at(when), "adapter:tty0",
                                                  AcceptanceMethod::TtyText, "called party"}));
  }
  Result<CallPosting> complete(const std::string& id, const std::string& when,
                               const std::string& key, bool reached = false) {
    return calls().complete(Completion{id, at(when), reached, key},
                            WriteContext{"gateway", at(when)});
  }
  std::string count(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path().c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    std::string value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }

  RateDeck deck_;
  Rater rater_;

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace

TEST_CASE_METHOD(CallFixture, "call keeps every lifecycle event", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::Collect, "2026-03-10T14:00:00Z");
  event(id, CallEvent::Validated, "2026-03-10T14:00:01Z");
  event(id, CallEvent::Quoted, "2026-03-10T14:00:02Z");
  event(id, CallEvent::Authorized, "2026-03-10T14:00:03Z");
  event(id, CallEvent::Announced, "2026-03-10T14:00:10Z");
  accept(id, "2026-03-10T14:00:20Z");
  event(id, CallEvent::Connected, "2026-03-10T14:00:21Z");
  auto posting = complete(id, "2026-03-10T14:05:21Z", "done-1");
  REQUIRE(posting);
  CHECK(posting->total == 5 * 1'000);
  CHECK(posting->billable_seconds == 300);

  auto record = store().find_call(id);
  REQUIRE(record->has_value());
  const std::vector<CallEvent> expected = {
      CallEvent::Requested, CallEvent::Validated, CallEvent::Quoted,    CallEvent::Authorized,
      CallEvent::Announced, CallEvent::Accepted,  CallEvent::Connected, CallEvent::Disconnected};
  REQUIRE((*record)->events.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("event " << i);
    CHECK((*record)->events[i].event == expected[i]);
  }
  CHECK(format_instant((*record)->events[5].at) == "2026-03-10T14:00:20Z");
  REQUIRE((*record)->events[5].acceptance_method);
  CHECK(*(*record)->events[5].acceptance_method == AcceptanceMethod::TtyText);
  CHECK((*record)->events[5].accepted_by == "called party");
  CHECK((*record)->posting->total == 5'000);
}

TEST_CASE_METHOD(CallFixture, "call event checks order and fields", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::Collect, "2026-03-10T14:00:00Z");
  auto early = calls().add_event(
      id, CallEventRecord{CallEvent::Connected, at("2026-03-10T13:59:59Z"), "gateway", {}, {}});
  CHECK(early.code() == StatusCode::InvalidArgument);
  CHECK(early.message().find("before call") != std::string::npos);
  auto anonymous = calls().add_event(
      id, CallEventRecord{CallEvent::Accepted, at("2026-03-10T14:00:05Z"), "gateway", {}, {}});
  CHECK(anonymous.code() == StatusCode::InvalidArgument);
  REQUIRE(complete(id, "2026-03-10T14:00:09Z", "done-2"));
  auto late = calls().add_event(
      id, CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:10Z"), "gateway", {}, {}});
  CHECK(late.code() == StatusCode::FailedPrecondition);
}

TEST_CASE_METHOD(CallFixture, "relay call keeps session and conversation", "[billing][calls]") {
  const std::string id =
      open_call(BillingMethod::SentPaid, "2026-03-10T14:00:00Z", AccessTag::RelayTty);
  event(id, CallEvent::Authorized, "2026-03-10T14:00:05Z");
  event(id, CallEvent::Connected, "2026-03-10T14:02:30Z");
  auto posting = complete(id, "2026-03-10T14:10:00Z", "relay-1");
  REQUIRE(posting);
  REQUIRE(posting->session_seconds);
  REQUIRE(posting->conversation_seconds);
  CHECK(*posting->session_seconds == 600);
  CHECK(*posting->conversation_seconds == 450);
  CHECK(count("SELECT session_seconds || ' ' || conversation_seconds FROM call_postings") ==
        "600 450");
  auto record = store().find_call(id);
  REQUIRE(record->has_value());
  const CallDurations durations = call_durations(**record);
  REQUIRE(durations.session_seconds);
  REQUIRE(durations.conversation_seconds);
  CHECK(*durations.session_seconds == 600);
  CHECK(*durations.conversation_seconds == 450);
  CHECK((*record)->request.access == AccessTag::RelayTty);
  // No column of a call record can hold relayed conversation text.
  CHECK(count("SELECT COUNT(*) FROM pragma_table_info('calls') WHERE name LIKE '%text%' OR "
              "name LIKE '%transcript%' OR name LIKE '%message%'") == "0");
  // call_events has the 7 columns of schema 2, the refusal reason code and message, which
  // only a refused event may carry (see "refusal reason only on refusals"), and from schema 17
  // the card hold's amount and seconds, integers on the authorized event.
  CHECK(count("SELECT COUNT(*) FROM pragma_table_info('call_events')") == "11");
}

TEST_CASE_METHOD(CallFixture, "collect charged only after acceptance", "[billing][calls]") {
  const std::string accepted = open_call(BillingMethod::Collect, "2026-03-10T14:00:00Z");
  event(accepted, CallEvent::Authorized, "2026-03-10T14:00:01Z");
  accept(accepted, "2026-03-10T14:00:15Z");
  event(accepted, CallEvent::Connected, "2026-03-10T14:00:16Z");
  auto billed = complete(accepted, "2026-03-10T14:02:16Z", "collect-a");
  REQUIRE(billed);
  CHECK(billed->total == 2'000);

  // Connected but never accepted (the called party hung up at the prompt): nothing is charged.
  const std::string refused = open_call(BillingMethod::Collect, "2026-03-10T15:00:00Z");
  event(refused, CallEvent::Authorized, "2026-03-10T15:00:01Z");
  event(refused, CallEvent::Connected, "2026-03-10T15:00:16Z");
  auto free = complete(refused, "2026-03-10T15:02:16Z", "collect-b");
  REQUIRE(free);
  CHECK(free->total == 0);
  CHECK(free->lines.empty());
}

TEST_CASE_METHOD(CallFixture, "person to person surcharge needs person", "[billing][calls]") {
  auto run = [&](const std::string& key, bool reached) {
    const std::string id = open_call(BillingMethod::PersonToPerson, "2026-03-10T14:00:00Z");
    event(id, CallEvent::Authorized, "2026-03-10T14:00:01Z");
    event(id, CallEvent::Connected, "2026-03-10T14:00:30Z");
    auto posting = complete(id, "2026-03-10T14:01:30Z", key, reached);
    REQUIRE(posting);
    return *posting;
  };
  const CallPosting reached = run("p2p-reached", true);
  const CallPosting absent = run("p2p-absent", false);
  auto surcharge_total = [](const CallPosting& posting) {
    Money sum = 0;
    for (const PostedChargeLine& line : posting.lines) {
      if (line.kind == "surcharge") {
        sum += line.amount;
      }
    }
    return sum;
  };
  CHECK(surcharge_total(reached) == 32'500);
  CHECK(surcharge_total(absent) == 0);
  CHECK(reached.total == absent.total + 32'500);
  CHECK(reached.person_reached);
  CHECK_FALSE(absent.person_reached);
}

TEST_CASE_METHOD(CallFixture, "completion delivered twice posts once", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::SentPaid, "2026-03-10T14:00:00Z");
  event(id, CallEvent::Authorized, "2026-03-10T14:00:01Z");
  event(id, CallEvent::Connected, "2026-03-10T14:00:10Z");
  auto first = complete(id, "2026-03-10T14:03:10Z", "end-1");
  const std::string audit_rows = count("SELECT COUNT(*) FROM audit_log");
  auto second = complete(id, "2026-03-10T14:03:10Z", "end-1");
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->total == 3'000);
  CHECK(second->total == first->total);
  CHECK(count("SELECT COUNT(*) FROM call_postings") == "1");
  CHECK(count("SELECT COUNT(*) FROM charge_lines") == std::to_string(first->lines.size()));
  CHECK(count("SELECT COUNT(*) FROM call_events WHERE event = 'disconnected'") == "1");
  CHECK(count("SELECT COUNT(*) FROM audit_log") == audit_rows);

  auto other_key = complete(id, "2026-03-10T14:03:10Z", "end-2");
  REQUIRE_FALSE(other_key);
  CHECK(other_key.status().code() == StatusCode::FailedPrecondition);
  // The message points at commands that exist: show the posting, credit a wrong charge.
  CHECK(other_key.status().message().find("relaygw call show --db ") != std::string::npos);
  CHECK(other_key.status().message().find(" --id " + id) != std::string::npos);
  CHECK(other_key.status().message().find("relaygw credit request --call " + id) !=
        std::string::npos);
  // The admin API and the provider link replace the commands with plain words.
  CHECK(other_key.status().next_step().kind == relaygw::NextStep::Kind::CorrectPostedCall);
  CHECK(other_key.status().next_step().subject == id);
  CHECK(other_key.status().message_before_step() ==
        "call " + id + " is already posted under another idempotency key, so this completion "
        "was not posted; ");
  auto other_time = complete(id, "2026-03-10T14:04:10Z", "end-1");
  REQUIRE_FALSE(other_time);
  CHECK(other_time.status().code() == StatusCode::AlreadyExists);
  CHECK(count("SELECT COUNT(*) FROM call_postings") == "1");
}

TEST_CASE_METHOD(CallFixture, "call event rejects steps of other calls", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::SentPaid, "2026-03-10T14:00:00Z");
  event(id, CallEvent::Authorized, "2026-03-10T14:00:01Z");
  // A sent-paid call has no billed party to accept its charges.
  const Status accepted = calls().add_event(
      id, CallEventRecord{CallEvent::Accepted, at("2026-03-10T14:00:05Z"), "adapter:tty0",
                          AcceptanceMethod::Voice, "called party"});
  CHECK(accepted.code() == StatusCode::FailedPrecondition);
  CHECK(accepted.message().find("record acceptance only on collect and third-number calls") !=
        std::string::npos);
  event(id, CallEvent::Connected, "2026-03-10T14:00:10Z");
  // Validation and quotes come before the connect.
  for (CallEvent kind : {CallEvent::Validated, CallEvent::Quoted}) {
    INFO("event " << to_string(kind));
    const Status late =
        calls().add_event(id, CallEventRecord{kind, at("2026-03-10T14:06:00Z"), "gateway", {}, {}});
    CHECK(late.code() == StatusCode::FailedPrecondition);
    CHECK(late.message().find("already connected") != std::string::npos);
  }
}

TEST_CASE_METHOD(CallFixture, "unauthorized call takes no later events", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::Collect, "2026-03-10T14:00:00Z");
  for (CallEvent kind : {CallEvent::Announced, CallEvent::Accepted, CallEvent::Connected}) {
    INFO("event " << to_string(kind));
    const Status status =
        calls().add_event(id, CallEventRecord{kind, at("2026-03-10T14:00:10Z"), "gateway",
                                              AcceptanceMethod::TtyText, "called party"});
    CHECK(status.code() == StatusCode::FailedPrecondition);
    CHECK(status.message().find("not authorized") != std::string::npos);
  }
  auto posting = complete(id, "2026-03-10T14:05:00Z", "refused-end");
  REQUIRE(posting);
  CHECK(posting->total == 0);
}

TEST_CASE_METHOD(CallFixture, "call step recorded only once", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::Collect, "2026-03-10T14:00:00Z");
  event(id, CallEvent::Authorized, "2026-03-10T14:00:01Z");
  accept(id, "2026-03-10T14:00:15Z");
  const Status second = calls().add_event(
      id, CallEventRecord{CallEvent::Accepted, at("2026-03-10T14:00:18Z"), "adapter:tty0",
                          AcceptanceMethod::Voice, "someone else"});
  CHECK(second.code() == StatusCode::AlreadyExists);
  event(id, CallEvent::Connected, "2026-03-10T14:00:20Z");
  const Status reconnect = calls().add_event(
      id, CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:30Z"), "gateway", {}, {}});
  CHECK(reconnect.code() == StatusCode::AlreadyExists);
}

TEST_CASE_METHOD(CallFixture, "call steps rejected out of order", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::SentPaid, "2026-03-10T14:00:00Z");
  event(id, CallEvent::Authorized, "2026-03-10T14:00:05Z");
  event(id, CallEvent::Connected, "2026-03-10T14:05:00Z");

  auto early_announce = calls().add_event(
      id, CallEventRecord{CallEvent::Announced, at("2026-03-10T14:04:00Z"), "gateway", {}, {}});
  CHECK(early_announce.code() == StatusCode::InvalidArgument);
  CHECK(early_announce.message().find("announced time 2026-03-10T14:04:00Z") != std::string::npos);
  CHECK(early_announce.message().find("connected at 2026-03-10T14:05:00Z") != std::string::npos);

  auto early_completion = complete(id, "2026-03-10T14:03:00Z", "order-1");
  REQUIRE_FALSE(early_completion);
  CHECK(early_completion.status().code() == StatusCode::InvalidArgument);
  CHECK(early_completion.status().message().find(
            "completion time 2026-03-10T14:03:00Z is before the last step") != std::string::npos);
  CHECK(count("SELECT COUNT(*) FROM call_postings") == "0");

  auto on_time = complete(id, "2026-03-10T14:07:00Z", "order-2");
  REQUIRE(on_time);
  CHECK(on_time->billable_seconds == 120);
}

TEST_CASE_METHOD(CallFixture, "call times outside report range", "[billing][calls]") {
  CallRequest request;
  request.from = "3125550107";
  request.to = "2125550101";
  for (const std::string when :
       {"9999-12-31T23:00:00Z", "2099-12-31T10:00:00Z", "2000-01-01T11:59:59Z"}) {
    INFO("request time " << when);
    auto opened = calls().open(request, WriteContext{"gateway", at(when)});
    REQUIRE_FALSE(opened);
    CHECK(opened.status().code() == StatusCode::InvalidArgument);
    CHECK(opened.status().message().find("request time " + when) != std::string::npos);
    CHECK(opened.status().message().find("2000-01-01 to 2099-12-31") != std::string::npos);
  }
  CHECK(count("SELECT COUNT(*) FROM calls") == "0");

  const std::string id = open_call(BillingMethod::SentPaid, "2099-12-31T09:00:00Z");
  event(id, CallEvent::Authorized, "2099-12-31T09:00:05Z");
  auto late_connect = calls().add_event(
      id, CallEventRecord{CallEvent::Connected, at("2100-01-01T00:00:00Z"), "gateway", {}, {}});
  CHECK(late_connect.code() == StatusCode::InvalidArgument);
  CHECK(late_connect.message().find("connected time 2100-01-01T00:00:00Z is outside") !=
        std::string::npos);
  event(id, CallEvent::Connected, "2099-12-31T09:00:10Z");
  auto late_completion = complete(id, "2099-12-31T10:00:00Z", "range-1");
  REQUIRE_FALSE(late_completion);
  CHECK(late_completion.status().message().find("completion time 2099-12-31T10:00:00Z") !=
        std::string::npos);
  REQUIRE(complete(id, "2099-12-31T09:59:59Z", "range-2"));
}

TEST_CASE_METHOD(CallFixture, "call actor rejects control characters", "[billing][calls]") {
  CallRequest request;
  request.from = "3125550107";
  request.to = "2125550101";
  auto escape = calls().open(request, WriteContext{"a\x1b[31mred", at("2026-03-10T14:00:00Z")});
  REQUIRE_FALSE(escape);
  CHECK(escape.status().code() == StatusCode::InvalidArgument);
  CHECK(escape.status().message().find("actor contains control character U+001B at position 2") !=
        std::string::npos);
  CHECK(count("SELECT COUNT(*) FROM calls") == "0");

  const std::string id = open_call(BillingMethod::Collect, "2026-03-10T14:00:00Z");
  event(id, CallEvent::Authorized, "2026-03-10T14:00:01Z");
  auto c1_control = calls().add_event(
      id, CallEventRecord{CallEvent::Accepted, at("2026-03-10T14:00:05Z"), "adapter:tty0",
                          AcceptanceMethod::Voice, "called\xc2\x9bparty"});
  CHECK(c1_control.code() == StatusCode::InvalidArgument);
  CHECK(c1_control.message().find("accepted by contains control character U+009B") !=
        std::string::npos);
  auto del = calls().add_event(
      id, CallEventRecord{CallEvent::Announced, at("2026-03-10T14:00:05Z"), "gate\x7fway", {}, {}});
  CHECK(del.message().find("U+007F") != std::string::npos);
  CHECK(check_name_text("staff", "Zoë O'Neil 李"));
  CHECK_FALSE(check_name_text("staff", std::string("evil\0nul", 8)));
}

TEST_CASE_METHOD(CallFixture, "refused call keeps its reason", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::Collect, "2026-03-10T14:00:00Z");
  Authorization refusal;
  refusal.reason = RefusalReason::CollectBlocked;
  refusal.message = "the called line +12125550101 does not accept collect calls";
  REQUIRE(calls().record_authorization(id, refusal,
                                       WriteContext{"gateway", at("2026-03-10T14:00:05Z")}));
  auto record = store().find_call(id);
  REQUIRE(record);
  REQUIRE(record->has_value());
  REQUIRE((*record)->events.size() == 2);
  const CallEventRecord& refused = (*record)->events[1];
  CHECK(refused.event == CallEvent::Refused);
  CHECK(refused.at == at("2026-03-10T14:00:05Z"));
  CHECK(refused.reason_code == "collect-blocked");
  CHECK(refused.reason_message == refusal.message);
  CHECK(describe_refusal(**record) ==
        "collect-blocked: the called line +12125550101 does not accept collect calls");

  // The decision is made once, and a refused call goes no further.
  const Status authorized = calls().add_event(
      id, CallEventRecord{CallEvent::Authorized, at("2026-03-10T14:00:06Z"), "gateway", {}, {}});
  CHECK(authorized.code() == StatusCode::FailedPrecondition);
  CHECK(authorized.message().find("was already refused (collect-blocked: ") != std::string::npos);
  const Status again = calls().record_authorization(
      id, refusal, WriteContext{"gateway", at("2026-03-10T14:00:07Z")});
  CHECK(again.code() == StatusCode::FailedPrecondition);
  const Status connected = calls().add_event(
      id, CallEventRecord{CallEvent::Connected, at("2026-03-10T14:00:08Z"), "gateway", {}, {}});
  CHECK(connected.code() == StatusCode::FailedPrecondition);
  CHECK(connected.message().find("was refused (collect-blocked: the called line") !=
        std::string::npos);
  CHECK(count("SELECT COUNT(*) FROM call_events WHERE call_id = '" + id + "'") == "2");
}

TEST_CASE_METHOD(CallFixture, "refusal reason only on refusals", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::SentPaid, "2026-03-10T14:00:00Z");
  CallEventRecord bare{CallEvent::Refused, at("2026-03-10T14:00:05Z"), "gateway", {}, {}};
  const Status no_reason = calls().add_event(id, bare);
  CHECK(no_reason.code() == StatusCode::InvalidArgument);
  CHECK(no_reason.message().find("needs a reason code") != std::string::npos);

  CallEventRecord control = bare;
  control.reason_code = "wrong-pin";
  control.reason_message = "wrong PIN\n";
  const Status bad_text = calls().add_event(id, control);
  CHECK(bad_text.code() == StatusCode::InvalidArgument);
  CHECK(bad_text.message().find("refusal message") != std::string::npos);

  CallEventRecord validated{CallEvent::Validated, at("2026-03-10T14:00:05Z"), "gateway", {}, {}};
  validated.reason_code = "wrong-pin";
  const Status stray = calls().add_event(id, validated);
  CHECK(stray.code() == StatusCode::InvalidArgument);
  CHECK(stray.message().find("'wrong-pin'") != std::string::npos);

  // An authorized call cannot be refused afterwards.
  event(id, CallEvent::Authorized, "2026-03-10T14:00:06Z");
  CallEventRecord late = bare;
  late.at = at("2026-03-10T14:00:07Z");
  late.reason_code = "wrong-pin";
  late.reason_message = "wrong PIN";
  CHECK(calls().add_event(id, late).code() == StatusCode::FailedPrecondition);
  CHECK(count("SELECT COUNT(*) FROM call_events WHERE call_id = '" + id + "'") == "2");
}

namespace {

class CallCommandFixture {
 public:
  CallCommandFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-call-commands-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  ~CallCommandFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string db_option() const { return "--db '" + (dir_ / "billing.db").string() + "' "; }
  // Writes `text` to a file to use as a command's standard input, and returns its path.
  std::string input(const std::string& name, const std::string& text) const {
    const std::filesystem::path path = dir_ / name;
    FILE* file = std::fopen(path.string().c_str(), "w");
    REQUIRE(file != nullptr);
    std::fputs(text.c_str(), file);
    std::fclose(file);
    return path.string();
  }
  testing::CommandRun relaygw(const std::string& arguments,
                              const std::string& stdin_path = "/dev/null") const {
    return testing::run_relaygw(arguments, stdin_path);
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE_METHOD(CallCommandFixture, "call commands show refusal reason", "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  const testing::CommandRun added = relaygw(
      "card add " + db_option() + "--number 5550142000004 --balance 10.00 --max-pin-attempts 1",
      input("pin", "739164\n"));
  INFO(added.output);
  REQUIRE(added.status == 0);
  // One wrong PIN locks the card, so the next call is refused as card-locked.
  const std::string call =
      "--from 3125550107 --to 2125550101 --billing calling-card --card 5550142000004 ";
  REQUIRE(relaygw("call create " + db_option() + "--id r1 " + call + "--at 2026-03-10T14:00:00Z",
                  input("wrong", "111111\n"))
              .status == 1);
  const testing::CommandRun locked =
      relaygw("call create " + db_option() + "--id r2 " + call + "--at 2026-03-10T14:01:00Z",
              input("right", "739164\n"));
  INFO(locked.output);
  REQUIRE(locked.status == 1);
  CHECK(locked.output.find("call r2 refused: card-locked") != std::string::npos);

  const testing::CommandRun completed =
      relaygw("call complete " + db_option() + "--id r2 --key r2-end --at 2026-03-10T14:05:00Z");
  INFO(completed.output);
  CHECK(completed.status == 1);
  // The stored refusal names the staff step in plain words, because the provider link sends
  // the same text.
  CHECK(completed.output.find("call 'r2' was refused (card-locked: card *********0004 is locked "
                              "after wrong PINs; ask relay center staff to unlock it); there is "
                              "nothing to complete") != std::string::npos);
  CHECK(completed.output.find("posted") == std::string::npos);

  const testing::CommandRun shown = relaygw("call show " + db_option() + "--id r2");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(shown.output.find("refused       2026-03-10T14:01:00Z by ") != std::string::npos);
  CHECK(shown.output.find("card-locked: card *********0004 is locked after wrong PINs") !=
        std::string::npos);
  CHECK(shown.output.find("5550142000004") == std::string::npos);

  const testing::CommandRun json = relaygw("call show " + db_option() + "--id r1 --json");
  INFO(json.output);
  REQUIRE(json.status == 0);
  const nlohmann::json out = nlohmann::json::parse(json.output);
  const nlohmann::json& events = out.at("events");
  REQUIRE(events.size() == 3);
  CHECK(events[2].at("event") == "refused");
  CHECK(events[2].at("reason_code") == "wrong-pin");
  CHECK(events[2].at("reason_message").get<std::string>().find("wrong PIN for card") !=
        std::string::npos);
  CHECK_FALSE(events[1].contains("reason_code"));

  // The command that records other events does not take a refusal.
  const testing::CommandRun manual =
      relaygw("call event " + db_option() + "--id r1 --event refused --at 2026-03-10T14:02:00Z");
  CHECK(manual.status != 0);
  CHECK(manual.output.find("invalid --event 'refused'") != std::string::npos);
}

TEST_CASE_METHOD(CallCommandFixture, "call commands name missing call", "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  const std::vector<std::string> commands = {
      "call debit " + db_option() + "--id nosuch --key ns-d --actor staff:test",
      "call complete " + db_option() + "--id nosuch --key ns-c --actor staff:test",
      "call event " + db_option() + "--id nosuch --event connected --actor staff:test",
      "call show " + db_option() + "--id nosuch"};
  for (const std::string& command : commands) {
    const testing::CommandRun run = relaygw(command);
    INFO(command << "\n" << run.output);
    CHECK(run.status == 1);
    CHECK(run.output.find("call 'nosuch' not found") != std::string::npos);
    CHECK(run.output.find("calling-card") == std::string::npos);
  }

  // A call that exists but is billed another way is named as such.
  REQUIRE(relaygw("call create " + db_option() +
                  "--id o1 --from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z "
                  "--actor staff:test")
              .status == 0);
  const testing::CommandRun sent_paid = relaygw("call debit " + db_option() +
                                                "--id o1 --key o1-d --at 2026-03-10T14:01:00Z "
                                                "--actor staff:test");
  INFO(sent_paid.output);
  CHECK(sent_paid.status == 1);
  CHECK(sent_paid.output.find("call 'o1' is not a calling-card call") != std::string::npos);
}

TEST_CASE_METHOD(CallCommandFixture, "sent-paid call create prints plain line",
                 "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  const testing::CommandRun created = relaygw(
      "call create " + db_option() +
      "--id o1 --from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z --actor staff:test");
  INFO(created.output);
  REQUIRE(created.status == 0);
  CHECK(created.output.find("call o1 authorized\n") != std::string::npos);
  CHECK(created.output.find("authorized:") == std::string::npos);
}

TEST_CASE_METHOD(CallCommandFixture, "refused call debit and show", "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  REQUIRE(relaygw("card add " + db_option() +
                      "--number 5550142000004 --balance 10.00 --max-pin-attempts 1",
                  input("pin", "739164\n"))
              .status == 0);
  const std::string call =
      "--from 3125550107 --to 2125550101 --billing calling-card --card 5550142000004 ";
  REQUIRE(relaygw("call create " + db_option() + "--id r1 " + call + "--at 2026-03-10T14:00:00Z",
                  input("wrong", "111111\n"))
              .status == 1);
  const testing::CommandRun locked =
      relaygw("call create " + db_option() + "--id r2 " + call + "--at 2026-03-10T14:01:00Z",
              input("right", "739164\n"));
  INFO(locked.output);
  REQUIRE(locked.status == 1);
  CHECK(locked.output.find("staff can unlock it with `relaygw card unlock --number NUMBER`") !=
        std::string::npos);
  CHECK(locked.output.find("5550142000004") == std::string::npos);

  const testing::CommandRun debit =
      relaygw("call debit " + db_option() + "--id r2 --key r2-d --at 2026-03-10T14:02:00Z");
  INFO(debit.output);
  CHECK(debit.status == 1);
  CHECK(debit.output.find("call 'r2' was refused (card-locked: card *********0004 is locked "
                          "after wrong PINs") != std::string::npos);
  CHECK(debit.output.find("so nothing can be debited") != std::string::npos);
  CHECK(debit.output.find("5550142000004") == std::string::npos);

  const testing::CommandRun wrong_pin =
      relaygw("call debit " + db_option() + "--id r1 --key r1-d --at 2026-03-10T14:02:00Z");
  INFO(wrong_pin.output);
  CHECK(wrong_pin.status == 1);
  CHECK(wrong_pin.output.find("call 'r1' was refused (wrong-pin: ") != std::string::npos);

  const testing::CommandRun shown = relaygw("call show " + db_option() + "--id r2");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(shown.output.find("refused, so never connected and not billed") != std::string::npos);
  CHECK(shown.output.find("not disconnected yet") == std::string::npos);
  CHECK(shown.output.find("session") == std::string::npos);

  // The command the refusal names exists and lets the card pay again.
  const testing::CommandRun unlocked =
      relaygw("card unlock " + db_option() + "--number 5550142000004 --actor staff:test");
  INFO(unlocked.output);
  CHECK(unlocked.status == 0);
  const testing::CommandRun retried =
      relaygw("call create " + db_option() + "--id r3 " + call + "--at 2026-03-10T14:03:00Z",
              input("again", "739164\n"));
  INFO(retried.output);
  CHECK(retried.status == 0);
  CHECK(retried.output.find("call r3 authorized") != std::string::npos);
}

TEST_CASE_METHOD(CallCommandFixture, "unlimited postpaid card debit message",
                 "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  REQUIRE(relaygw("card add " + db_option() +
                      "--number 5550142000004 --funding postpaid --billed-line 3125550107",
                  input("pin", "739164\n"))
              .status == 0);
  REQUIRE(relaygw("call create " + db_option() +
                      "--id p1 --from 3125550107 --to 2125550101 --billing calling-card "
                      "--card 5550142000004 --at 2026-03-10T14:00:00Z",
                  input("right", "739164\n"))
              .status == 0);
  REQUIRE(
      relaygw("call event " + db_option() + "--id p1 --event connected --at 2026-03-10T14:00:10Z")
          .status == 0);
  const testing::CommandRun debit =
      relaygw("call debit " + db_option() + "--id p1 --key p1-d --at 2026-03-10T14:03:00Z");
  INFO(debit.output);
  REQUIRE(debit.status == 0);
  CHECK(debit.output.find("call p1: recorded up to 2026-03-10T14:03:00Z") != std::string::npos);
  CHECK(debit.output.find("card *********0004 is postpaid with no credit limit") !=
        std::string::npos);
  CHECK(debit.output.find("billed to line +13125550107") != std::string::npos);
  CHECK(debit.output.find("card balance $") == std::string::npos);
  CHECK(debit.output.find("5550142000004") == std::string::npos);
}

TEST_CASE_METHOD(CallCommandFixture, "card number USER actor rejected", "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  const testing::ScopedUserVariable user("4111111111111111");
  const testing::CommandRun run = relaygw("call create " + db_option() +
                                          "--id u1 --from 3125550107 --to 2125550101 "
                                          "--at 2026-03-10T14:00:00Z");
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(run.output.find("the actor from $USER") != std::string::npos);
  CHECK(run.output.find("--actor staff:alice") != std::string::npos);
  CHECK(run.output.find("4111111111111111") == std::string::npos);
  const testing::CommandRun shown = relaygw("call show " + db_option() + "--id u1");
  CHECK(shown.status != 0);
}

TEST_CASE_METHOD(CallCommandFixture, "invalid USER actor names source", "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  const testing::ScopedUserVariable user("bad\xff\xfe");
  const testing::CommandRun run = relaygw("call create " + db_option() +
                                          "--id u1 --from 3125550107 --to 2125550101 "
                                          "--at 2026-03-10T14:00:00Z");
  const testing::CommandRun with_actor = relaygw("call create " + db_option() +
                                                 "--id u2 --from 3125550107 --to 2125550101 "
                                                 "--at 2026-03-10T14:00:00Z --actor staff:test");
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(run.output.find("$USER is not valid UTF-8 at byte 4") != std::string::npos);
  CHECK(run.output.find("pass --actor NAME") != std::string::npos);
  INFO(with_actor.output);
  CHECK(with_actor.status == 0);
}

// Services and containers often run without $USER; the actor is then the login name of the
// user relaygw runs as, never "staff:unknown" while that user has a name.
TEST_CASE_METHOD(CallCommandFixture, "actor falls back to the login name",
                 "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  const passwd* entry = getpwuid(geteuid());
  REQUIRE(entry != nullptr);
  const testing::ScopedUserVariable user(nullptr);
  const testing::CommandRun run = relaygw("call create " + db_option() +
                                          "--id u1 --from 3125550107 --to 2125550101 "
                                          "--at 2026-03-10T14:00:00Z");
  const testing::CommandRun shown = relaygw("call show " + db_option() + "--id u1 --json");
  INFO(run.output);
  REQUIRE(run.status == 0);
  INFO(shown.output);
  const nlohmann::json call = nlohmann::json::parse(shown.output);
  CHECK(call["events"][0]["actor"] == "staff:" + std::string(entry->pw_name));
}

TEST_CASE_METHOD(CallFixture, "refusal quoting control characters recorded", "[billing][calls]") {
  const std::string id = open_call(BillingMethod::ThirdNumber, "2026-03-10T14:00:00Z");
  Authorization refusal;
  refusal.reason = RefusalReason::InvalidRequest;
  refusal.message = "invalid third number '312\n555\xff'";
  REQUIRE(calls().record_authorization(id, refusal,
                                       WriteContext{"gateway", at("2026-03-10T14:00:05Z")}));
  auto record = store().find_call(id);
  REQUIRE(record);
  REQUIRE(record->has_value());
  REQUIRE((*record)->events.size() == 2);
  CHECK((*record)->events[1].reason_code == "invalid-request");
  CHECK((*record)->events[1].reason_message == "invalid third number '312?555?'");
}

namespace {

// A rate deck of `per_minute` dollars a minute everywhere, in force from `effective`.
std::string flat_deck_text(const std::string& per_minute,
                           const std::string& effective = "2020-01-01") {
  std::string text = "name = \"quote test " + per_minute + "\"\n[[version]]\nname = \"v1\"\n" +
                     "effective = " + effective + "\n";
  for (const char* jurisdiction :
       {"local", "intralata", "interlata-intrastate", "interstate", "international"}) {
    text += std::string("[[version.rate]]\njurisdiction = \"") + jurisdiction +
            "\"\nper_minute = { night = \"" + per_minute + "\" }\n";
  }
  return text;
}

StoredRateDeck stored_deck(const std::string& text, const std::string& name) {
  return StoredRateDeck{name, text, sha256_hex(text), "", "", name + ".toml"};
}

}  // namespace

TEST_CASE_METHOD(CallFixture, "call quoted with deck current at store", "[billing][calls][quote]") {
  const std::string deck_a = flat_deck_text("0.1000");
  const std::string deck_b = flat_deck_text("0.2500");
  const WriteContext staff{"staff:test", at("2026-03-10T13:00:00Z")};
  REQUIRE(store().add_rate_deck(stored_deck(deck_a, "a"), staff));

  // `call create` reads the current deck, deck A, and builds its rater from it.
  const RateDeck read = RateDeck::parse(deck_a, "a.toml").value();
  const Rater rater(&number_plan(), &read);
  CallRequest request;
  request.from = "+13125550107";
  request.to = "+12125550101";

  // With no deck stored since, the call is quoted with deck A: $0.10 for one minute.
  request.id = "before";
  auto before = CallRecords(&store(), &rater)
                    .open(request, WriteContext{"gateway", at("2026-03-10T14:00:00Z")});
  REQUIRE(before);
  REQUIRE(before->quote);
  CHECK(before->quote->deck_sha256 == sha256_hex(deck_a));
  CHECK(before->quote->one_minute == 1'000);

  // Another connection stores deck B between that read and the write that stores the call.
  {
    auto other = SqliteStore::open(path());
    REQUIRE(other);
    REQUIRE((*other)->add_rate_deck(stored_deck(deck_b, "b"), staff));
  }
  request.id = "after";
  auto after = CallRecords(&store(), &rater)
                   .open(request, WriteContext{"gateway", at("2026-03-10T14:00:00Z")});
  REQUIRE(after);
  auto stored = store().find_call("after");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  REQUIRE((*stored)->request.quote);
  CHECK((*stored)->request.quote->deck_sha256 == sha256_hex(deck_b));
  CHECK((*stored)->request.quote->one_minute == 2'500);
  // The call stored earlier keeps the quote of deck A.
  CHECK(store().find_call("before").value()->request.quote->one_minute == 1'000);
  auto records = store().verify_records();
  REQUIRE(records);
  CHECK(records->problems.empty());
}

TEST_CASE_METHOD(CallFixture, "call rejected by deck stored meanwhile", "[billing][calls][quote]") {
  const std::string deck_a = flat_deck_text("0.1000");
  // Deck B has no version in force in 2026, so it cannot rate a call made then.
  const std::string deck_b = flat_deck_text("0.2500", "2030-01-01");
  const WriteContext staff{"staff:test", at("2026-03-10T13:00:00Z")};
  REQUIRE(store().add_rate_deck(stored_deck(deck_a, "a"), staff));
  const RateDeck read = RateDeck::parse(deck_a, "a.toml").value();
  const Rater rater(&number_plan(), &read);
  {
    auto other = SqliteStore::open(path());
    REQUIRE(other);
    REQUIRE((*other)->add_rate_deck(stored_deck(deck_b, "b"), staff));
  }
  CallRequest request;
  request.id = "late";
  request.from = "+13125550107";
  request.to = "+12125550101";
  auto opened = CallRecords(&store(), &rater)
                    .open(request, WriteContext{"gateway", at("2026-03-10T14:00:00Z")});
  REQUIRE_FALSE(opened);
  CHECK(opened.status().message().find("cannot be billed with the current rate deck") !=
        std::string::npos);
  auto stored = store().find_call("late");
  REQUIRE(stored);
  CHECK_FALSE(stored->has_value());
}

TEST_CASE_METHOD(CallFixture, "emergency call stores no quote", "[billing][calls][quote]") {
  CallRequest request;
  request.id = "e1";
  request.from = "+13125550107";
  request.to = "911";
  request.emergency = true;
  auto opened = calls().open(request, WriteContext{"gateway", at("2026-03-10T14:00:00Z")});
  REQUIRE(opened);
  CHECK_FALSE(opened->quote);
  CHECK_FALSE(store().find_call("e1").value()->request.quote);
}

TEST_CASE_METHOD(CallCommandFixture, "call complete hint is a working command",
                 "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  REQUIRE(relaygw("call create " + db_option() +
                  "--id r4 --from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z")
              .status == 0);
  REQUIRE(relaygw("call event " + db_option() +
                  "--id r4 --event connected --at 2026-03-10T14:01:00Z")
              .status == 0);
  REQUIRE(relaygw("call complete " + db_option() +
                  "--id r4 --key r4-end --at 2026-03-10T14:05:00Z")
              .status == 0);
  const testing::CommandRun other = relaygw("call complete " + db_option() +
                                            "--id r4 --key r4-x --at 2026-03-10T14:05:00Z");
  INFO(other.output);
  CHECK(other.status == 1);
  const std::size_t start = other.output.find("`relaygw call show --db ");
  REQUIRE(start != std::string::npos);
  const std::size_t end = other.output.find('`', start + 1);
  REQUIRE(end != std::string::npos);
  const std::string hint = other.output.substr(start + 1, end - start - 1);
  CHECK_THAT(hint, Catch::Matchers::EndsWith(" --id r4"));

  // The hint runs as printed, without the leading program name.
  const testing::CommandRun shown = relaygw(hint.substr(std::string("relaygw ").size()));
  INFO(shown.output);
  CHECK(shown.status == 0);
  CHECK_THAT(shown.output, Catch::Matchers::Contains("r4"));
}

TEST_CASE_METHOD(CallCommandFixture, "call show takes no write options",
                 "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  REQUIRE(relaygw("call create " + db_option() +
                  "--id o1 --from 3125550107 --to 2125550101 --at 2026-03-10T14:00:00Z")
              .status == 0);
  for (const char* extra :
       {"--at garbage", "--at 2026-03-10T14:00:00Z", "--actor staff:x", "--data-dir /tmp"}) {
    const testing::CommandRun run = relaygw("call show " + db_option() + "--id o1 " + extra);
    INFO(extra << "\n" << run.output);
    CHECK(run.status != 0);
  }
  CHECK(relaygw("call show " + db_option() + "--id o1").status == 0);
}

TEST_CASE_METHOD(CallCommandFixture, "card call text prints cents", "[billing][calls][cli]") {
  const std::string pin = input("pin", "1234\n");
  const std::string card = "6011000990139424";
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  REQUIRE(relaygw("card add " + db_option() + "--number " + card + " --balance 15.00", pin)
              .status == 0);
  const testing::CommandRun created =
      relaygw("call create " + db_option() +
                  "--id k1 --at 2026-03-10T17:29:00Z --from 3125550107 --to 2125550101 "
                  "--billing calling-card --card " + card,
              pin);
  REQUIRE(created.status == 0);
  REQUIRE(relaygw("call event " + db_option() + "--id k1 --event connected "
                  "--at 2026-03-10T17:30:00Z")
              .status == 0);
  const testing::CommandRun debited = relaygw("call debit " + db_option() +
                                              "--id k1 --key k1-d --at 2026-03-10T17:35:00Z");
  REQUIRE(debited.status == 0);
  const testing::CommandRun shown = relaygw("call show " + db_option() + "--id k1");
  REQUIRE(shown.status == 0);

  // Whole-cent amounts print as dollars and cents; four places are only for sub-cent units.
  const std::regex four_places(R"(\$[0-9,]+\.[0-9]{2}00\b)");
  for (const testing::CommandRun* run : {&created, &debited, &shown}) {
    INFO(run->output);
    CHECK_FALSE(std::regex_search(run->output, four_places));
  }
  CHECK_THAT(created.output, Catch::Matchers::Contains("(held $"));
  CHECK_THAT(debited.output, Catch::Matchers::Contains("so far; card balance $"));
  CHECK_THAT(shown.output, Catch::Matchers::Contains("quoted $"));
}

TEST_CASE_METHOD(CallCommandFixture, "short card refusal stored without command",
                 "[billing][calls][cli]") {
  REQUIRE(relaygw("db init " + db_option() + "--actor staff:test").status == 0);
  REQUIRE(relaygw("card add " + db_option() + "--number 5550142000004 --balance 0.01",
                  input("pin", "739164\n"))
              .status == 0);
  const testing::CommandRun refused = relaygw(
      "call create " + db_option() +
          "--id f1 --from 3125550107 --to 2125550101 --billing calling-card --card "
          "5550142000004 --at 2026-03-10T14:00:00Z",
      input("right", "739164\n"));
  INFO(refused.output);
  REQUIRE(refused.status == 1);
  CHECK(refused.output.find("call f1 refused: insufficient-funds") != std::string::npos);
  // The command line prints the command that fixes the refusal.
  CHECK(refused.output.find("choose another billing method, or add funds with `relaygw card "
                            "fund`") != std::string::npos);

  // The stored message, which the provider link repeats on a retry, names no command.
  const testing::CommandRun shown = relaygw("call show " + db_option() + "--id f1 --json");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  const nlohmann::json events = nlohmann::json::parse(shown.output).at("events");
  REQUIRE_FALSE(events.empty());
  const nlohmann::json& last = events.back();
  CHECK(last.at("reason_code") == "insufficient-funds");
  const std::string stored = last.at("reason_message").get<std::string>();
  CHECK(stored.find("relaygw") == std::string::npos);
  CHECK_THAT(stored, Catch::Matchers::EndsWith(
                         "choose another billing method, or ask relay center staff to add funds "
                         "to the card"));
}
