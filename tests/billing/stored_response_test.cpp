// Writes that store a call event or a refused call together with what a retry needs, in one
// transaction of a real SQLite file: either all of it is stored or none of it.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "billing/call_records.hpp"
#include "billing/sqlite_store.hpp"

using namespace relaygw::billing;
using relaygw::Status;
using relaygw::StatusCode;

namespace {

class StoredResponseFixture {
 public:
  StoredResponseFixture() {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("relaygw-stored-response-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.create = true;
    auto opened = SqliteStore::open((dir_ / "billing.db").string(), options);
    REQUIRE(opened);
    store = std::move(opened).value();
  }
  ~StoredResponseFixture() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Stores an authorized collect call `id`, ready for its acceptance.
  void add_authorized_collect(const std::string& id) {
    CallRequest call;
    call.id = id;
    call.from = "+13125550107";
    call.to = "+12125550101";
    call.billed_number = "+12125550101";
    call.billing = BillingMethod::Collect;
    REQUIRE(store->create_call(call, context));
    REQUIRE(store->append_call_event(id, CallEventRecord{CallEvent::Requested, context.at,
                                                         context.actor, {}, {}}));
    REQUIRE(store->append_call_event(id, CallEventRecord{CallEvent::Authorized, context.at,
                                                         context.actor, {}, {}}));
  }

  std::size_t event_count(const std::string& id, CallEvent kind) {
    auto record = store->find_call(id);
    REQUIRE(record);
    REQUIRE(record->has_value());
    std::size_t count = 0;
    for (const CallEventRecord& event : (*record)->events) {
      count += event.event == kind ? 1 : 0;
    }
    return count;
  }

  const WriteContext context{"gateway", parse_instant("2026-03-10T14:00:00Z").value()};
  std::unique_ptr<SqliteStore> store;

 private:
  std::filesystem::path dir_;
};

CallEventRecord acceptance(const WriteContext& context) {
  return CallEventRecord{CallEvent::Accepted, context.at, context.actor, AcceptanceMethod::Voice,
                         "staff:ana"};
}

}  // namespace

TEST_CASE_METHOD(StoredResponseFixture, "event with response stores both", "[billing][store]") {
  add_authorized_collect("c1");
  const StoredResponse response{{"accept:k1", "hash-1"}, "admin-accept", "{\"status\":200}",
                                WriteContext{"staff:ana", context.at}};
  REQUIRE(store->append_call_event_with_response("c1", acceptance(context), response));

  CHECK(event_count("c1", CallEvent::Accepted) == 1);
  auto stored = store->find_stored_request("accept:k1");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->scope == "admin-accept");
  CHECK((*stored)->request_hash == "hash-1");
  CHECK((*stored)->result == "{\"status\":200}");
  auto verified = store->verify_audit_chain();
  INFO((verified ? std::string() : verified.status().message()));
  CHECK(verified);
}

TEST_CASE_METHOD(StoredResponseFixture, "event with used key stores neither", "[billing][store]") {
  add_authorized_collect("c1");
  REQUIRE(store->store_request_result({"accept:k1", "hash-0"}, "credit", "cr-1", context));
  const StoredResponse response{{"accept:k1", "hash-1"}, "admin-accept", "{\"status\":200}",
                                WriteContext{"staff:ana", context.at}};

  const Status appended =
      store->append_call_event_with_response("c1", acceptance(context), response);
  CHECK(appended.code() == StatusCode::FailedPrecondition);
  CHECK_THAT(appended.message(), Catch::Matchers::Contains("'accept:k1'"));
  CHECK(event_count("c1", CallEvent::Accepted) == 0);
  auto stored = store->find_stored_request("accept:k1");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->scope == "credit");
}

TEST_CASE_METHOD(StoredResponseFixture, "refused call stored with refusal", "[billing][store]") {
  CallRequest call;
  call.id = "c-invalid";
  call.from = "+12125550101";
  // A number the plan rejects is stored as sent, because the call is never rated.
  call.to = "+10005550104";
  call.request_key = "acme/k-invalid";
  call.request_hash = std::string(64, 'a');
  Authorization refusal;
  refusal.reason = RefusalReason::InvalidRequest;
  refusal.message = "The dialed number is not valid: area code 000 is not assigned";
  const CallRecords records(store.get(), nullptr);
  auto opened = records.open_refused(call, refusal, context);
  INFO((opened ? std::string() : opened.status().message()));
  REQUIRE(opened);

  auto record = store->find_call("c-invalid");
  REQUIRE(record);
  REQUIRE(record->has_value());
  CHECK((*record)->request.to == "+10005550104");
  CHECK((*record)->request.request_key == "acme/k-invalid");
  REQUIRE((*record)->events.size() == 2);
  CHECK((*record)->events[0].event == CallEvent::Requested);
  CHECK((*record)->events[1].event == CallEvent::Refused);
  CHECK((*record)->events[1].reason_code == "invalid-request");
  CHECK((*record)->events[1].reason_message == refusal.message);

  // A second call under the same request key stores nothing, not even the call row.
  call.id = "c-other";
  auto again = records.open_refused(call, refusal, context);
  CHECK(again.status().code() == StatusCode::AlreadyExists);
  auto other = store->find_call("c-other");
  REQUIRE(other);
  CHECK_FALSE(other->has_value());
}

TEST_CASE_METHOD(StoredResponseFixture, "open refused rejects granted", "[billing][store]") {
  CallRequest call;
  call.id = "c-granted";
  call.from = "+12125550101";
  call.to = "+13125550104";
  Authorization granted;
  granted.granted = true;
  const CallRecords records(store.get(), nullptr);
  auto opened = records.open_refused(call, granted, context);
  CHECK(opened.status().code() == StatusCode::InvalidArgument);
  auto record = store->find_call("c-granted");
  REQUIRE(record);
  CHECK_FALSE(record->has_value());
}
