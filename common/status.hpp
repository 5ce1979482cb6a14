// Status and Result<T>: the error values that tty/, billing/ and relay-adapters/ return across
// their public headers instead of throwing. A failed Status carries a code and a message that
// names the offending value and the fix, ready to show to staff or a caller.
#pragma once

#include <cassert>
#include <optional>
#include <string>
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

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::Ok; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
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
