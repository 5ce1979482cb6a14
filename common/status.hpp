// Status and Result<T>: the error values that tty/, billing/ and relay-adapters/ return across
// their public headers instead of throwing. A failed Status carries a code and a message that
// names the offending value and the fix, ready to show to staff or a caller.
#pragma once

#include <cassert>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace relaygw {

enum class StatusCode {
  Ok,
  InvalidArgument,   // the input is malformed or out of range
  NotFound,          // a named number, card, call or file does not exist
  AlreadyExists,     // a create request names something that exists
  FailedPrecondition,// the request is valid but the state forbids it (locked card, closed dispute)
  PermissionDenied,  // authorization refused (wrong PIN, blocked collect)
  ResourceExhausted, // balance, capacity or quota used up
  Corrupt,           // stored or received data failed an integrity check
  Unavailable,       // a dependency (database, rate deck, PSAP) cannot be reached now
  Internal,          // a bug or an unexpected library failure
};

const char* to_string(StatusCode code);

// The action that fixes a failed request, kept apart from the message text. Each front end
// names it in its own terms. The command line names a `relaygw` command or option
// (billing/next_step.hpp), and the admin API names an endpoint or a request field. A step
// that only relay center staff can take is named in plain words on the admin API and the
// provider link (billing::operator_step).
struct NextStep {
  enum class Kind {
    None,
    GiveCreditAmount,       // the credit request needs an amount in dollars
    GiveCreditText,         // the credit request needs a text naming its reason
    CheckCallId,            // the request names a call that does not exist
    PickChargeLine,         // the call has no such charge line (subject: the call id)
    ListCallCredits,        // the call's credits explain the refusal (subject: the call id)
    ListCredits,            // the request names a credit that does not exist
    ApproveAsOtherStaff,    // the requester cannot approve (subject: the credit id)
    LoadRateDeck,           // the database has no rate deck
    LoadCorrectedRateDeck,  // a stored rate deck does not parse
    LoadRateDeckInEffect,   // no stored deck is in effect on a date (subject: that date)
    SetDataDir,             // the number plan files are not in the data folder
    PassPolicyFile,         // the credit policy file cannot be read
    CreateDatabase,         // the database file is missing or empty (subject: its path)
    CheckDatabasePath,      // the file is not a relaygw database (subject: its path)
    VerifyDatabase,         // a stored row was changed outside relaygw (subject: the path)
    RestoreDatabase,        // SQLite reports the file damaged (subject: its path)
    FundCard,               // a prepaid card has too little balance for the call
    RecordCardPayment,      // a postpaid card's limit is used up until its line pays
    UnlockCard,             // the card is locked after wrong PINs
    CorrectPostedCall,      // the call is already posted (subject: the call id)
  };

  Kind kind = Kind::None;
  std::string subject;  // the call id, credit id or date that the step names, or empty
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // A failed status whose message is `reason`, `joiner` and `step_text`, the command-line form
  // of `next_step`. Other front ends name the step themselves, after message_before_step().
  Status(StatusCode code, std::string_view reason, std::string_view joiner, NextStep next_step,
         std::string_view step_text)
      : code_(code),
        message_(std::string(reason) + std::string(joiner) + std::string(step_text)),
        next_step_(std::move(next_step)),
        step_offset_(reason.size() + joiner.size()) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::Ok; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  // The whole message, with the next step in command-line form when there is one.
  const std::string& message() const { return message_; }
  const NextStep& next_step() const { return next_step_; }
  // The message up to the next step's text, joiner included. Without a next step it is the
  // whole message.
  std::string message_before_step() const {
    return next_step_.kind == NextStep::Kind::None ? message_ : message_.substr(0, step_offset_);
  }
  // Returns a copy whose message starts with `prefix`, keeping the next step.
  Status with_prefix(std::string_view prefix) const {
    Status prefixed = *this;
    prefixed.message_.insert(0, prefix);
    prefixed.step_offset_ += prefix.size();
    return prefixed;
  }

 private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
  NextStep next_step_;
  std::size_t step_offset_ = 0;  // where the step text starts in message_
};

// Result<T> contains either a value or a failed Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) { assert(!status_.is_ok()); }
  Result(StatusCode code, std::string message) : status_(code, std::move(message)) {}

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }

  // Requires: is_ok().
  T& value() & {
    assert(value_);
    return *value_;
  }
  const T& value() const& {
    assert(value_);
    return *value_;
  }
  T&& value() && {
    assert(value_);
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

inline const char* to_string(StatusCode code) {
  switch (code) {
    case StatusCode::Ok:
      return "ok";
    case StatusCode::InvalidArgument:
      return "invalid argument";
    case StatusCode::NotFound:
      return "not found";
    case StatusCode::AlreadyExists:
      return "already exists";
    case StatusCode::FailedPrecondition:
      return "failed precondition";
    case StatusCode::PermissionDenied:
      return "permission denied";
    case StatusCode::ResourceExhausted:
      return "resource exhausted";
    case StatusCode::Corrupt:
      return "corrupt";
    case StatusCode::Unavailable:
      return "unavailable";
    case StatusCode::Internal:
      return "internal error";
  }
  return "unknown";
}

}  // namespace relaygw
