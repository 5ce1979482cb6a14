// Record-chain hashing on a thread of its own, for a batch of postings in one transaction.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "billing/record_chain.hpp"

namespace relaygw::billing::detail {

// Takes the rows a batch appends, with their canonical bytes, and the audit rows that cover
// them, and computes each audit row's records list and hash on a second thread while the
// writing thread goes on inserting. The writer inserts the hashed audit rows at the end of
// the batch, in submission order. The hashes are those SqliteStore::audit writes row by row;
// only the audit rows' seq values now follow the batch's other rows.
//
// Used by one writing thread. finish() must be called before the rows are read.
class AuditHasher {
 public:
  // One audit row: the fields the writer gives, then what the hashing thread computes.
  struct Row {
    std::string at;
    std::string actor;
    std::string entity;
    std::string entity_id;
    std::string action;
    std::string payload;
    std::string prev_hash;
    std::string row_hash;
    std::string records;  // records entries (append_record_entry), empty for none
  };

  // `chain_head` is the row_hash of the last audit row already written.
  explicit AuditHasher(std::string chain_head);
  ~AuditHasher();
  AuditHasher(const AuditHasher&) = delete;
  AuditHasher& operator=(const AuditHasher&) = delete;

  // Adds row `row_id` of `table` to the records of the next submitted audit row.
  void add_record(ChainedTableId table, std::int64_t row_id, std::string_view canonical);
  bool has_pending_records() const { return !current_.pending.empty(); }
  // Closes the audit row covering every record added since the last submit.
  void submit(std::string_view at, std::string_view actor, std::string_view entity,
              std::string_view entity_id, std::string_view action, std::string payload);
  // Waits until every submitted row is hashed and returns them in submission order.
  const std::deque<Row>& finish();

 private:
  struct PendingRecord {
    ChainedTableId table;
    std::int64_t row_id;
    std::size_t end;  // where its canonical bytes end in Work::canonical
  };
  struct Work {
    Row row;
    std::vector<PendingRecord> pending;
    std::string canonical;
  };

  // Rows handed to the thread at a time, so that the two threads meet once per chunk.
  static constexpr std::size_t kChunkRows = 64;

  void hand_over();
  void run();

  Work current_;
  std::vector<Work> filling_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::vector<Work>> queued_;  // guarded by mutex_
  bool finishing_ = false;                // guarded by mutex_
  // Written by the thread only; read by the writer after the thread is joined.
  std::deque<Row> hashed_;
  std::string head_;
  std::thread thread_;
};

}  // namespace relaygw::billing::detail
