// SqliteStore::Transaction, shared by the .cpp files that implement SqliteStore.
#pragma once

#include "billing/sqlite_store.hpp"

namespace relaygw::billing {

// BEGIN IMMEDIATE takes the write lock up front, so a read-check-append sequence cannot
// interleave with another connection's. Rolls back unless commit() succeeded.
class SqliteStore::Transaction {
 public:
  explicit Transaction(SqliteStore& store) : store_(store) {}
  ~Transaction() {
    if (open_) {
      (void)store_.exec("ROLLBACK");
    }
    store_.chain_head_.reset();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status begin() {
    store_.chain_head_.reset();
    Status status = store_.exec("BEGIN IMMEDIATE");
    open_ = status.is_ok();
    return status;
  }
  Status commit() {
    Status status = store_.exec("COMMIT");
    if (status) {
      open_ = false;
    }
    return status;
  }

 private:
  SqliteStore& store_;
  bool open_ = false;
};

}  // namespace relaygw::billing
