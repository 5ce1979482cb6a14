// SqliteStore::Transaction, shared by the .cpp files that implement SqliteStore.
#pragma once

#include "billing/sqlite_store.hpp"

namespace relaygw::billing {

// BEGIN IMMEDIATE takes the write lock up front, so a read-check-append sequence cannot
// interleave with another connection's. Rolls back unless commit() succeeded. The audit chain
// head and the pending record hashes live only as long as the transaction.
class SqliteStore::Transaction {
 public:
  explicit Transaction(SqliteStore& store) : store_(store) {}
  ~Transaction() {
    if (open_) {
      (void)store_.exec("ROLLBACK");
    }
    clear_write_state();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status begin() {
    clear_write_state();
    Status status = store_.exec("BEGIN IMMEDIATE");
    open_ = status.is_ok();
    return status;
  }
  Status commit() {
    Status status = store_.flush_records();
    if (!status) {
      return status;
    }
    status = store_.exec("COMMIT");
    if (status) {
      open_ = false;
    }
    return status;
  }

 private:
  void clear_write_state() {
    store_.chain_head_.reset();
    store_.pending_records_.clear();
    store_.last_write_context_.reset();
  }

  SqliteStore& store_;
  bool open_ = false;
};

}  // namespace relaygw::billing
