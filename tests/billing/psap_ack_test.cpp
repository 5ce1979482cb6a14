// Late PSAP acknowledgements of emergency calls: the psap-acknowledged event appended once per
// call and PSAP route, on a real SQLite file, and how `call show` and `report emergency` print
// it.
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing/call_records.hpp"
#include "billing/record_chain.hpp"
#include "billing/sqlite_store.hpp"
#include "tests/billing/billing_test_support.hpp"

using namespace relaygw::billing;
using relaygw::Result;
using relaygw::StatusCode;

namespace {

Instant at(const std::string& text) { return parse_instant(text).value(); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A database with emergency call "e1": requested at 15:00:00, authorized, never connected to
// the PSAP and disconnected at 15:00:40 UTC on 2026-03-10, posted at zero.
class PsapAckFixture {
 public:
  PsapAckFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-psap-ack-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    auto opened = SqliteStore::open(path(), SqliteOptions{.create = true});
    REQUIRE(opened);
    store_ = std::move(opened).value();
    open_emergency_call("e1", "psap-east");
    REQUIRE(records().add_event(
        "e1", CallEventRecord{CallEvent::Authorized, at("2026-03-10T15:00:00Z"), "gateway", {}, {}}));
    complete("e1", "2026-03-10T15:00:40Z");
  }
  ~PsapAckFixture() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path() const { return (dir_ / "billing.db").string(); }
  SqliteStore& store() { return *store_; }
  CallRecords records() { return CallRecords(store_.get(), nullptr); }

  void open_emergency_call(const std::string& id, const std::string& route) {
    CallRequest request;
    request.id = id;
    request.from = "+13125550107";
    request.to = "911";
    request.access = AccessTag::RelayIp;
    request.emergency = true;
    request.psap_route = route;
    REQUIRE(records().open(request, WriteContext{"gateway", at("2026-03-10T15:00:00Z")}));
  }
  void complete(const std::string& id, const std::string& when) {
    auto posted =
        records().complete(Completion{id, at(when), false, id + "-end"}, {"gateway", at(when)});
    INFO((posted ? "" : posted.status().message()));
    REQUIRE(posted);
  }
  std::vector<CallEventRecord> psap_events(const std::string& id) {
    auto found = store().find_call(id);
    REQUIRE(found);
    REQUIRE(found->has_value());
    std::vector<CallEventRecord> events;
    for (const CallEventRecord& event : (*found)->events) {
      if (event.event == CallEvent::PsapAcknowledged) {
        events.push_back(event);
      }
    }
    return events;
  }
  // Runs `relaygw ARGUMENTS --db DB` as a separate process.
  testing::CommandRun relaygw(const std::string& arguments) const {
    return testing::run_relaygw(arguments + " --db '" + path() + "'");
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace

TEST_CASE_METHOD(PsapAckFixture, "late PSAP ack appended once", "[billing][calls][emergency]") {
  Result<bool> first = records().record_late_psap_ack("e1", "psap-east",
                                                      at("2026-03-10T15:02:00Z"), "gateway");
  REQUIRE(first);
  CHECK(*first);
  // Nothing more is stored when the spool is flushed again or the PSAP acknowledges twice.
  Result<bool> repeat = records().record_late_psap_ack("e1", "psap-east",
                                                       at("2026-03-10T15:02:05Z"), "gateway");
  REQUIRE(repeat);
  CHECK_FALSE(*repeat);

  std::vector<CallEventRecord> events = psap_events("e1");
  REQUIRE(events.size() == 1);
  CHECK(events[0].at == at("2026-03-10T15:02:00Z"));
  CHECK(events[0].accepted_by == "psap-east");
  CHECK(events[0].actor == "gateway");
  CHECK_FALSE(events[0].acceptance_method);

  // Another PSAP route that acknowledged after a fail-over gets its own event.
  Result<bool> other = records().record_late_psap_ack("e1", "psap-backup",
                                                      at("2026-03-10T15:03:00Z"), "gateway");
  REQUIRE(other);
  CHECK(*other);
  CHECK(psap_events("e1").size() == 2);

  // The late acknowledgement changes neither the connect nor the posting.
  auto found = store().find_call("e1");
  REQUIRE(found);
  REQUIRE(found->has_value());
  const CallRecord& call = **found;
  CHECK_FALSE(event_time(call, CallEvent::Connected));
  REQUIRE(call.posting);
  CHECK(call.posting->total == 0);
  CHECK_FALSE(call.posting->conversation_seconds);
  const std::optional<LatePsapAck> late = late_psap_ack(call);
  REQUIRE(late);
  CHECK(late->psap_route == "psap-east");
  CHECK(late->seconds_after_request == 120);
  CHECK(late->after_disconnect);

  // Each event went through the record chain and the audit log.
  Result<RecordCheck> chain = store().verify_records();
  REQUIRE(chain);
  CHECK(chain->problems.empty());
  Result<std::int64_t> audit = store().verify_audit_chain();
  REQUIRE(audit);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path().c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT COUNT(*) FROM audit_log WHERE entity_id = 'e1' AND "
                             "payload LIKE '%psap-acknowledged%'",
                             -1, &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  CHECK(sqlite3_column_int(statement, 0) == 2);
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

TEST_CASE_METHOD(PsapAckFixture, "late PSAP ack rejects wrong calls", "[billing][calls][emergency]") {
  // An emergency call still open, and a call that is not an emergency call.
  open_emergency_call("open-911", "psap-east");
  CallRequest plain;
  plain.id = "plain";
  plain.from = "+13125550107";
  plain.to = "+12125550101";
  REQUIRE(records().open(plain, WriteContext{"gateway", at("2026-03-10T15:00:00Z")}));

  struct Case {
    std::string call_id;
    std::string route;
    std::string when;
    StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"missing", "psap-east", "2026-03-10T15:02:00Z", StatusCode::NotFound,
       "call 'missing' not found"},
      {"plain", "psap-east", "2026-03-10T15:02:00Z", StatusCode::FailedPrecondition,
       "is not an emergency call"},
      {"open-911", "psap-east", "2026-03-10T15:02:00Z", StatusCode::FailedPrecondition,
       "is not disconnected yet"},
      {"e1", "psap-east", "2026-03-10T14:59:59Z", StatusCode::InvalidArgument,
       "is before call 'e1' was requested at 2026-03-10T15:00:00Z"},
      {"e1", "", "2026-03-10T15:02:00Z", StatusCode::InvalidArgument, "names no PSAP route"},
      {"e1", "psap\x1b[2J", "2026-03-10T15:02:00Z", StatusCode::InvalidArgument, "PSAP route"},
  };
  for (const Case& item : cases) {
    INFO("call " << item.call_id << " route '" << item.route << "' at " << item.when);
    Result<bool> recorded =
        records().record_late_psap_ack(item.call_id, item.route, at(item.when), "gateway");
    REQUIRE_FALSE(recorded);
    CHECK(recorded.status().code() == item.code);
    CHECK_THAT(recorded.status().message(), Catch::Matchers::Contains(item.message));
  }
  CHECK(psap_events("e1").empty());
  CHECK(psap_events("open-911").empty());

  // The lifecycle path takes no psap-acknowledged event.
  const relaygw::Status added = records().add_event(
      "open-911",
      CallEventRecord{CallEvent::PsapAcknowledged, at("2026-03-10T15:00:10Z"), "gateway", {},
                      "psap-east"});
  CHECK(added.code() == StatusCode::InvalidArgument);
  CHECK(psap_events("open-911").empty());
}

TEST_CASE_METHOD(PsapAckFixture, "call show prints late PSAP ack", "[billing][calls][cli]") {
  // Without the acknowledgement the call reads as never connected.
  testing::CommandRun before = relaygw("call show --id e1");
  INFO(before.output);
  REQUIRE(before.status == 0);
  CHECK(contains(before.output, "session 40 s, conversation not connected\n"));

  REQUIRE(records().record_late_psap_ack("e1", "psap-east", at("2026-03-10T15:02:00Z"),
                                         "gateway"));
  testing::CommandRun shown = relaygw("call show --id e1");
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  CHECK(contains(shown.output, "  psap-acknowledged 2026-03-10T15:02:00Z by gateway\n"));
  CHECK(contains(shown.output,
                 "PSAP route psap-east acknowledged the dispatch late, 120 s after the request\n"));
  CHECK(contains(shown.output,
                 "  session 40 s, conversation none: PSAP route psap-east acknowledged the "
                 "dispatch at 2026-03-10T15:02:00Z, 120 s after the request, after the call "
                 "ended\n"));
  CHECK_FALSE(contains(shown.output, "not connected"));
  CHECK(contains(shown.output, "not billed: emergency call"));

  testing::CommandRun json_run = relaygw("call show --id e1 --json");
  INFO(json_run.output);
  REQUIRE(json_run.status == 0);
  const nlohmann::json shown_json = nlohmann::json::parse(json_run.output);
  CHECK(shown_json["conversation_seconds"].is_null());
  CHECK(shown_json["session_seconds"] == 40);
  CHECK(shown_json["total"] == "0.00");
  const nlohmann::json& late = shown_json["events"].back();
  CHECK(late["event"] == "psap-acknowledged");
  CHECK(late["at"] == "2026-03-10T15:02:00Z");
  CHECK(late["actor"] == "gateway");
  CHECK(late["psap"] == "psap-east");
  CHECK(late["seconds_after_request"] == 120);
  CHECK_FALSE(late.contains("how"));

  // Staff cannot record the event by hand.
  testing::CommandRun by_hand =
      relaygw("call event --id e1 --event psap-acknowledged --at 2026-03-10T15:03:00Z");
  INFO(by_hand.output);
  CHECK(by_hand.status != 0);
  CHECK(contains(by_hand.output, "invalid --event 'psap-acknowledged'"));
  CHECK(psap_events("e1").size() == 1);
}

TEST_CASE_METHOD(PsapAckFixture, "report emergency prints late PSAP ack",
                 "[billing][reports][emergency]") {
  // "e2" has no late acknowledgement, so its row stays as it was.
  open_emergency_call("e2", "psap-west");
  complete("e2", "2026-03-10T15:00:30Z");
  REQUIRE(records().record_late_psap_ack("e1", "psap-east", at("2026-03-10T15:02:00Z"),
                                         "gateway"));
  const std::string range = "report emergency --from 2026-03-10 --to 2026-03-10 --time-zone "
                            "America/Chicago --format ";

  testing::CommandRun text = relaygw(range + "text");
  INFO(text.output);
  REQUIRE(text.status == 0);
  CHECK(contains(text.output,
                 "PSAP route psap-east acknowledged late, at 2026-03-10 10:02:00 CDT, 120 s "
                 "after the request, after the call ended\n"));
  CHECK(contains(text.output, "e2 "));
  CHECK_FALSE(contains(text.output, "psap-west acknowledged"));

  testing::CommandRun csv = relaygw(range + "csv");
  INFO(csv.output);
  REQUIRE(csv.status == 0);
  CHECK(contains(csv.output,
                 "call_id,requested_at,local_time,caller,dialed,psap,conversation_seconds,billed,"
                 "late_psap_ack_at,late_psap_ack_psap,late_psap_ack_seconds\n"));
  CHECK(contains(csv.output, ",psap-east,,0.00,2026-03-10T15:02:00Z,psap-east,120\n"));
  CHECK(contains(csv.output, ",psap-west,,0.00,,,\n"));

  testing::CommandRun json_run = relaygw(range + "json");
  INFO(json_run.output);
  REQUIRE(json_run.status == 0);
  const nlohmann::json report = nlohmann::json::parse(json_run.output);
  REQUIRE(report["calls"].size() == 2);
  for (const nlohmann::json& call : report["calls"]) {
    INFO(call.dump());
    CHECK(call["billed"] == "0.00");
    CHECK(call["conversation_seconds"].is_null());
    if (call["call_id"] == "e1") {
      CHECK(call["psap"] == "psap-east");
      CHECK(call["late_psap_ack"]["at"] == "2026-03-10T15:02:00Z");
      CHECK(call["late_psap_ack"]["local_time"] == "2026-03-10 10:02:00 CDT");
      CHECK(call["late_psap_ack"]["psap"] == "psap-east");
      CHECK(call["late_psap_ack"]["seconds_after_request"] == 120);
    } else {
      CHECK(call["late_psap_ack"].is_null());
    }
  }
}
