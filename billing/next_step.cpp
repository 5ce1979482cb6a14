#include "billing/next_step.hpp"

#include <array>
#include <utility>

namespace relaygw::billing {
namespace {

using Kind = NextStep::Kind;

constexpr std::array<std::pair<Kind, std::string_view>, 21> kKindNames = {{
    {Kind::None, "none"},
    {Kind::GiveCreditAmount, "give-credit-amount"},
    {Kind::GiveCreditText, "give-credit-text"},
    {Kind::CheckCallId, "check-call-id"},
    {Kind::PickChargeLine, "pick-charge-line"},
    {Kind::ListCallCredits, "list-call-credits"},
    {Kind::ListCredits, "list-credits"},
    {Kind::ApproveAsOtherStaff, "approve-as-other-staff"},
    {Kind::LoadRateDeck, "load-rate-deck"},
    {Kind::LoadCorrectedRateDeck, "load-corrected-rate-deck"},
    {Kind::LoadRateDeckInEffect, "load-rate-deck-in-effect"},
    {Kind::SetDataDir, "set-data-dir"},
    {Kind::PassPolicyFile, "pass-policy-file"},
    {Kind::CreateDatabase, "create-database"},
    {Kind::CheckDatabasePath, "check-database-path"},
    {Kind::VerifyDatabase, "verify-database"},
    {Kind::RestoreDatabase, "restore-database"},
    {Kind::FundCard, "fund-card"},
    {Kind::RecordCardPayment, "record-card-payment"},
    {Kind::UnlockCard, "unlock-card"},
    {Kind::CorrectPostedCall, "correct-posted-call"},
}};

}  // namespace

std::string_view to_string(NextStep::Kind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) {
      return name;
    }
  }
  return "none";
}

std::optional<NextStep::Kind> parse_next_step_kind(std::string_view name) {
  for (const auto& [value, text] : kKindNames) {
    if (text == name) {
      return value;
    }
  }
  return std::nullopt;
}

std::string command_line_step(const NextStep& step) {
  switch (step.kind) {
    case NextStep::Kind::None:
      return "";
    case NextStep::Kind::GiveCreditAmount:
      return "pass --amount DOLLARS";
    case NextStep::Kind::GiveCreditText:
      return "pass --text";
    case NextStep::Kind::CheckCallId:
      return "check the id with `relaygw call show`";
    case NextStep::Kind::PickChargeLine:
      return "list the call's lines with `relaygw call show` and pick one";
    case NextStep::Kind::ListCallCredits:
      return "check `relaygw credit list --call " + step.subject + "`";
    case NextStep::Kind::ListCredits:
      return "list credits with `relaygw credit list`";
    case NextStep::Kind::ApproveAsOtherStaff:
      return "a supervisor other than the requester must run `relaygw credit approve`";
    case NextStep::Kind::LoadRateDeck:
      return "load one with `relaygw db load-deck`";
    case NextStep::Kind::LoadCorrectedRateDeck:
      return "load a corrected deck with `relaygw db load-deck`";
    case NextStep::Kind::LoadRateDeckInEffect:
      return "load a deck whose first [[version]] is effective on or before " + step.subject +
             " with `relaygw db load-deck`";
    case NextStep::Kind::SetDataDir:
      return "pass --data-dir or set RELAYGW_DATA_DIR to the folder that contains nanp/";
    case NextStep::Kind::PassPolicyFile:
      return "pass --policy with a readable file or omit it for the defaults";
    case NextStep::Kind::CreateDatabase:
      return "create one with `relaygw db init --db " + step.subject +
             "` or pass the right --db path";
    case NextStep::Kind::CheckDatabasePath:
      return "check the --db path, or create a new database with `relaygw db init --db NEW-FILE`";
    case NextStep::Kind::VerifyDatabase:
      return "run `relaygw audit verify" + (step.subject.empty() ? "" : " --db " + step.subject) +
             "` to find the row, then restore the database from a backup";
    case NextStep::Kind::RestoreDatabase:
      return "restore it from a backup, and run `relaygw audit verify --db " + step.subject +
             "` on the copy you restore";
    case NextStep::Kind::FundCard:
      return "add funds with `relaygw card fund`";
    case NextStep::Kind::RecordCardPayment:
      return "record the line's payment with `relaygw card payment`";
    case NextStep::Kind::UnlockCard:
      return "staff can unlock it with `relaygw card unlock --number NUMBER`";
    case NextStep::Kind::CorrectPostedCall:
      return "see the posted charges with `relaygw call show --id " + step.subject +
             "`, and correct them with `relaygw credit request --call " + step.subject + "`";
  }
  return "";
}

std::string operator_step(const NextStep& step) {
  switch (step.kind) {
    case NextStep::Kind::FundCard:
      return "ask relay center staff to add funds to the card";
    case NextStep::Kind::RecordCardPayment:
      return "ask relay center staff to record the billed line's payment";
    case NextStep::Kind::UnlockCard:
      return "ask relay center staff to unlock it";
    case NextStep::Kind::CorrectPostedCall:
      return "ask relay center staff to check the call's posted charges and to credit any "
             "wrong charge";
    case NextStep::Kind::VerifyDatabase:
      return "ask relay center staff to find the billing database row that was changed by hand "
             "and to restore the database from a backup";
    default:
      return "";
  }
}

Status failed_with_step(StatusCode code, std::string_view reason, NextStep step,
                        std::string_view joiner) {
  const std::string step_text = command_line_step(step);
  return Status(code, reason, joiner, std::move(step), step_text);
}

}  // namespace relaygw::billing
