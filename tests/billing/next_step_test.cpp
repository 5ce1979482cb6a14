// Failed statuses that carry their next step apart from the message text.
#include <string>

#include <catch2/catch.hpp>

#include "billing/credit_policy.hpp"
#include "billing/next_step.hpp"

using relaygw::NextStep;
using relaygw::Status;
using relaygw::StatusCode;
using relaygw::billing::failed_with_step;

TEST_CASE("next step ends the message", "[billing][next-step]") {
  const Status status =
      failed_with_step(StatusCode::FailedPrecondition, "call c1 line 1 has nothing left to credit",
                       {NextStep::Kind::ListCallCredits, "c1"});
  CHECK(status.code() == StatusCode::FailedPrecondition);
  CHECK(status.message() ==
        "call c1 line 1 has nothing left to credit; check `relaygw credit list --call c1`");
  CHECK(status.message_before_step() == "call c1 line 1 has nothing left to credit; ");
  CHECK(status.next_step().kind == NextStep::Kind::ListCallCredits);
  CHECK(status.next_step().subject == "c1");

  const Status joined = failed_with_step(StatusCode::InvalidArgument, "call c1 ended at T",
                                         {NextStep::Kind::GiveCreditAmount, "c1"}, ", so ");
  CHECK(joined.message() == "call c1 ended at T, so pass --amount DOLLARS");
  CHECK(joined.message_before_step() == "call c1 ended at T, so ");
}

TEST_CASE("next step survives a prefix", "[billing][next-step]") {
  const Status inner = failed_with_step(StatusCode::NotFound, "number plan file 'x' not found",
                                        {NextStep::Kind::SetDataDir, ""});
  const Status outer = inner.with_prefix("cannot re-rate call c1: ");
  CHECK(outer.code() == StatusCode::NotFound);
  CHECK(outer.message() == "cannot re-rate call c1: " + inner.message());
  CHECK(outer.message_before_step() == "cannot re-rate call c1: number plan file 'x' not found; ");
  CHECK(outer.next_step().kind == NextStep::Kind::SetDataDir);

  // A status without a next step keeps its whole message.
  const Status plain = Status(StatusCode::Internal, "failed").with_prefix("step: ");
  CHECK(plain.message() == "step: failed");
  CHECK(plain.message_before_step() == "step: failed");
  CHECK(plain.next_step().kind == NextStep::Kind::None);
}

TEST_CASE("credit policy file names next step", "[billing][next-step]") {
  const auto policy = relaygw::billing::load_credit_policy("/nonexistent/credit-policy.toml");
  REQUIRE_FALSE(policy);
  CHECK(policy.status().message() ==
        "credit policy file '/nonexistent/credit-policy.toml' cannot be read; pass --policy with "
        "a readable file or omit it for the defaults");
  CHECK(policy.status().next_step().kind == NextStep::Kind::PassPolicyFile);
}

TEST_CASE("staff steps have plain words", "[billing][next-step]") {
  using relaygw::billing::command_line_step;
  using relaygw::billing::operator_step;
  for (const NextStep::Kind kind :
       {NextStep::Kind::FundCard, NextStep::Kind::RecordCardPayment, NextStep::Kind::UnlockCard,
        NextStep::Kind::CorrectPostedCall, NextStep::Kind::VerifyDatabase}) {
    const NextStep step{kind, "c1"};
    INFO(command_line_step(step));
    CHECK(command_line_step(step).find("`relaygw ") != std::string::npos);
    CHECK_THAT(operator_step(step), Catch::Matchers::StartsWith("ask relay center staff to "));
    CHECK(operator_step(step).find("relaygw") == std::string::npos);
  }
  // Steps that name a request field or a gateway setting have no plain-words form here.
  CHECK(operator_step({NextStep::Kind::CreateDatabase, "/var/lib/relaygw.db"}).empty());
  CHECK(operator_step({NextStep::Kind::None, ""}).empty());
}
