// EmergencySpool: the file where emergency call records wait until the billing database takes
// them. Each record is one JSON line, appended and fsynced by a writer thread of its own, so
// the PSAP dispatch never waits for the disk. The spool stores no caller location and no
// caller text.
//
// Records: {"record":"dispatch", session, call, caller_number, provider, agent, service,
// received_at, route}, {"record":"acked", session, call, at, route} when the PSAP on `route`
// acknowledged, {"record":"close", session, call, at}, and {"record":"alive", session, call,
// at}, which each flush that finds the session open writes in place of the previous one. An
// acked record can come after the close record, or after the call was flushed, when the PSAP
// was down until the call ended.
//
// Thread rules: every method is safe from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "billing/store.hpp"
#include "common/status.hpp"
#include "relay-adapters/events.hpp"

namespace relaygw::gateway::server {

struct EmergencySession;

// What one flush did.
struct SpoolFlushCounts {
  std::uint64_t stored = 0;          // calls added to the store and posted at zero
  std::uint64_t already_stored = 0;  // calls the store had posted before; skipped
  std::uint64_t kept_open = 0;       // calls still live, left in the spool
  // Unreadable lines, and lines of a call with no dispatch record, moved to "<spool>.rejected"
  std::uint64_t rejected_lines = 0;
  // PSAP acks that came after their call closed, moved into the store as psap-acknowledged
  // events (a repeat that the store already had counts too)
  std::uint64_t late_acks = 0;
};

class EmergencySpool {
 public:
  explicit EmergencySpool(std::string path);
  // Writes what is queued, then stops the writer thread.
  ~EmergencySpool();
  EmergencySpool(const EmergencySpool&) = delete;
  EmergencySpool& operator=(const EmergencySpool&) = delete;

  // Queue one record for the writer thread and return at once.
  void append_dispatch(const EmergencySession& session, const std::string& route_id);
  void append_acked(const std::string& session_id, const std::string& call_id, relay::Instant at,
                    const std::string& route_id);
  void append_close(const std::string& session_id, const std::string& call_id, relay::Instant at);

  // Moves every finished emergency call into `store`: opened with its received instant and the
  // PSAP route id in its psap_route field, authorized, connected, and completed rated at zero.
  // A TTY line's call is connected from its receipt, because the gateway itself carries the
  // caller's line. A provider's call is connected when the PSAP acknowledged it before the
  // close. A call whose session is in `live_sessions` and has no close record stays in the
  // spool. A call with no close record that is not live (the gateway stopped during the call)
  // is completed at its last recorded instant (dispatch, ack or alive record) by the actor
  // "ACTOR/gateway-stopped". A call the store rejects for good (its id names a call that is
  // not an emergency call, also under "<call>/emergency") moves to "<spool>.rejected" with a
  // log line, and the flush goes on. A call the store already posted is not stored again, so
  // a flush that stopped halfway can run again.
  // An ack that follows the call's close record, or that has no dispatch record because an
  // earlier flush stored the call, is appended to the stored call as a psap-acknowledged event,
  // once per PSAP route (CallRecords::record_late_psap_ack). It leaves the call's connect and
  // psap_route as they are. The other records of a call with no dispatch record (an unknown
  // call id, or a damaged spool) move to "<spool>.rejected". On a store error that may pass
  // (database busy or unreachable) the unflushed calls stay in the spool and the error is
  // returned.
  Result<SpoolFlushCounts> flush(billing::Store& store, const billing::WriteContext& context,
                                 const std::set<std::string>& live_sessions);

  const std::string& path() const { return path_; }
  std::uint64_t write_failures() const;

 private:
  void enqueue(std::string line);
  void run_writer();
  // Appends `lines` and fsyncs. Requires: file_mutex_ held.
  Status write_lines(const std::deque<std::string>& lines);
  // Replaces the spool with `kept` and appends `rejected` to "<spool>.rejected".
  // Requires: file_mutex_ held.
  Status rewrite(const std::string& kept, const std::vector<std::string>& rejected);

  const std::string path_;
  std::mutex file_mutex_;  // held while the file is written or rewritten
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<std::string> queue_;
  std::uint64_t write_failures_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace relaygw::gateway::server
