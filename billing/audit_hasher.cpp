#include "billing/detail/audit_hasher.hpp"

#include <optional>
#include <utility>

namespace relaygw::billing::detail {

AuditHasher::AuditHasher(std::string chain_head)
    : head_(std::move(chain_head)), thread_([this] { run(); }) {}

AuditHasher::~AuditHasher() {
  {
    const std::lock_guard lock(mutex_);
    finishing_ = true;
  }
  ready_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void AuditHasher::add_record(ChainedTableId table, std::int64_t row_id,
                             std::string_view canonical) {
  current_.canonical += canonical;
  current_.pending.push_back({table, row_id, current_.canonical.size()});
}

void AuditHasher::submit(std::string_view at, std::string_view actor, std::string_view entity,
                         std::string_view entity_id, std::string_view action,
                         std::string payload) {
  Row& row = current_.row;
  row.at = at;
  row.actor = actor;
  row.entity = entity;
  row.entity_id = entity_id;
  row.action = action;
  row.payload = std::move(payload);
  filling_.push_back(std::move(current_));
  current_ = Work{};
  if (filling_.size() == kChunkRows) {
    hand_over();
  }
}

void AuditHasher::hand_over() {
  if (filling_.empty()) {
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    queued_.push_back(std::move(filling_));
  }
  filling_ = {};
  filling_.reserve(kChunkRows);
  ready_.notify_one();
}

const std::deque<AuditHasher::Row>& AuditHasher::finish() {
  hand_over();
  {
    const std::lock_guard lock(mutex_);
    finishing_ = true;
  }
  ready_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
  return hashed_;
}

void AuditHasher::run() {
  while (true) {
    std::vector<Work> chunk;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return !queued_.empty() || finishing_; });
      if (queued_.empty()) {
        return;
      }
      chunk = std::move(queued_.front());
      queued_.pop_front();
    }
    for (Work& work : chunk) {
      Row& row = work.row;
      std::size_t begin = 0;
      for (const PendingRecord& record : work.pending) {
        append_record_entry(row.records, record.table, record.row_id,
                            std::string_view(work.canonical).substr(begin, record.end - begin));
        begin = record.end;
      }
      std::optional<std::string_view> records;
      if (!row.records.empty()) {
        records = row.records;
      }
      row.prev_hash = head_;
      row.row_hash = audit_row_hash({row.prev_hash, row.at, row.actor, row.entity, row.entity_id,
                                     row.action, row.payload, records});
      head_ = row.row_hash;
      hashed_.push_back(std::move(row));
    }
  }
}

}  // namespace relaygw::billing::detail
