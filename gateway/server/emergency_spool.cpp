#include "gateway/server/emergency_spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "billing/call_records.hpp"
#include "gateway/logging.hpp"
#include "gateway/server/access_tag.hpp"
#include "gateway/server/emergency.hpp"

namespace relaygw::gateway::server {

namespace {

// A writer that cannot write the spool (disk full, folder missing) tries again this often.
constexpr std::chrono::seconds kWriteRetryInterval{1};

std::string to_line(const nlohmann::json& record) {
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status errno_status(const std::string& what, const std::string& path) {
  return Status(StatusCode::Unavailable, what + " emergency spool '" + path +
                                             "' failed: " + std::strerror(errno) +
                                             "; check that its folder exists and is writable");
}

Status write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t written = ::write(fd, data.data() + done, data.size() - done);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_status("writing", path);
    }
    done += static_cast<std::size_t>(written);
  }
  return Status::ok();
}

// One "acked" record: when the PSAP on `route` acknowledged the dispatch.
struct SpooledAck {
  relay::Instant at;
  std::string route;  // empty in older spools
  std::string line;
  // The record follows the call's close record, so the PSAP acknowledged after the call ended.
  bool after_close = false;
};

// One emergency call as the spool lines describe it.
struct SpooledCall {
  std::optional<nlohmann::json> dispatch;
  // The last ack that came before the close record, which connects a provider's call.
  std::optional<relay::Instant> acked_at;
  std::string acked_route;  // the route of that ack; empty in older spools
  std::optional<relay::Instant> closed_at;
  // The last flush that found the session live, from its "alive" record. One such line is kept
  // per call, outside `lines`, because each flush replaces it.
  std::optional<relay::Instant> alive_at;
  std::string alive_line;
  std::vector<SpooledAck> acks;          // every acked record, in spool order
  std::vector<std::string> lines;        // kept verbatim when the call stays in the spool
  std::vector<std::string> other_lines;  // the lines that are not acked records
};

billing::Instant to_seconds(relay::Instant at) {
  return std::chrono::floor<std::chrono::seconds>(at);
}

std::optional<relay::Instant> instant_field(const nlohmann::json& record, const char* key) {
  if (!record.contains(key) || !record[key].is_string()) {
    return std::nullopt;
  }
  Result<relay::Instant> parsed = relay::parse_instant(record[key].get<std::string>());
  if (!parsed) {
    return std::nullopt;
  }
  return *parsed;
}

// Parses one spool line into `calls`; false when the line is damaged.
bool read_line(const std::string& line, std::map<std::string, SpooledCall>& calls,
               std::vector<std::string>& order) {
  const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
  if (record.is_discarded() || !record.is_object() || !record.contains("record") ||
      !record.contains("call") || !record["call"].is_string() ||
      record["call"].get<std::string>().empty()) {
    return false;
  }
  const std::string kind = record.value("record", "");
  const std::string call_id = record["call"].get<std::string>();
  if (kind == "dispatch") {
    if (!instant_field(record, "received_at")) {
      return false;
    }
  } else if ((kind != "acked" && kind != "close" && kind != "alive") ||
             !instant_field(record, "at")) {
    return false;
  }
  if (!calls.contains(call_id)) {
    order.push_back(call_id);
  }
  SpooledCall& call = calls[call_id];
  if (kind == "alive") {
    call.alive_at = instant_field(record, "at");
    call.alive_line = line + "\n";
    return true;
  }
  if (kind == "dispatch") {
    call.dispatch = record;
  } else if (kind == "acked") {
    SpooledAck ack{*instant_field(record, "at"), "", line + "\n", call.closed_at.has_value()};
    if (record.contains("route") && record["route"].is_string()) {
      ack.route = record["route"].get<std::string>();
    }
    if (!ack.after_close) {
      call.acked_at = ack.at;
      call.acked_route = ack.route;
    }
    call.acks.push_back(std::move(ack));
  } else {
    call.closed_at = instant_field(record, "at");
  }
  call.lines.push_back(line + "\n");
  if (kind != "acked") {
    call.other_lines.push_back(line + "\n");
  }
  return true;
}

Status add_event_once(const billing::CallRecords& records, const billing::CallRecord& record,
                      billing::CallEvent event, billing::Instant at, const std::string& actor) {
  if (billing::event_time(record, event)) {
    return Status::ok();
  }
  return records.add_event(record.request.id, billing::CallEventRecord{event, at, actor, {}, {}});
}

// Stores one finished call; sets `already_stored` when the store had posted it before.
// `redirected` is set on the second attempt, under "<call>/emergency".
Status store_call(billing::Store& store, const std::string& actor, const std::string& call_id,
                  const SpooledCall& call, bool& already_stored, bool redirected = false) {
  const nlohmann::json& dispatch = *call.dispatch;
  const billing::Instant requested = to_seconds(*instant_field(dispatch, "received_at"));
  billing::Instant disconnected = requested;
  std::string disconnect_actor = actor;
  if (call.closed_at) {
    disconnected = std::max(requested, to_seconds(*call.closed_at));
  } else {
    // The gateway stopped during this call without closing it (killed or crashed), so its true
    // end is unknown. The call ends at the last instant the spool shows it open, and the
    // disconnect's actor names the cause.
    for (const auto& seen : {call.acked_at, call.alive_at}) {
      if (seen) {
        disconnected = std::max(disconnected, to_seconds(*seen));
      }
    }
    disconnect_actor = actor + "/gateway-stopped";
  }

  Result<std::optional<billing::CallRecord>> found = store.find_call(call_id);
  if (!found) {
    return found.status();
  }
  if (*found && !(*found)->request.emergency) {
    // The provider reused the id of a billed, refused or staff-created call for this emergency
    // call. Events of the emergency must never land on that call, so the record goes under
    // "<call>/emergency", the id the gateway gives an emergency call whose id is taken.
    if (!redirected) {
      logger("gateway")->warn(
          "emergency call={} is a {} call to {}, not an emergency call; the spooled emergency "
          "record is stored as call={}/emergency",
          call_id, billing::to_string((*found)->request.billing), (*found)->request.to, call_id);
      return store_call(store, actor, call_id + "/emergency", call, already_stored, true);
    }
    return Status(StatusCode::FailedPrecondition,
                  "call '" + call_id + "' is a " +
                      std::string(billing::to_string((*found)->request.billing)) + " call to " +
                      (*found)->request.to +
                      ", not an emergency call, so the emergency record cannot be stored under "
                      "that id");
  }
  if (*found && (*found)->posting) {
    already_stored = true;
    return Status::ok();
  }

  const billing::CallRecords records(&store, nullptr);
  if (!*found) {
    billing::CallRequest request;
    request.id = call_id;
    request.from = dispatch.value("caller_number", "");
    request.to = "911";
    request.billing = billing::BillingMethod::SentPaid;
    const auto service = relay::parse_relay_service(dispatch.value("service", "tty"));
    request.access = access_tag(service.value_or(relay::RelayService::Tty));
    request.handling = dispatch.value("agent", "").empty() ? billing::Handling::Automated
                                                           : billing::Handling::OperatorAssisted;
    // The PSAP route that acknowledged the call, or the route it was first sent to.
    request.psap_route = call.acked_route.empty() ? dispatch.value("route", "") : call.acked_route;
    request.emergency = true;
    Result<billing::CallRequest> opened = records.open(request, {actor, requested});
    if (!opened) {
      return opened.status();
    }
    found = store.find_call(call_id);
    if (!found || !*found) {
      return found ? Status(StatusCode::Internal,
                            "emergency call '" + call_id + "' was opened but cannot be read back")
                   : found.status();
    }
  }

  // A flush that stopped halfway may have stored some of these events already.
  const billing::CallRecord& record = **found;
  Status status = add_event_once(records, record, billing::CallEvent::Authorized, requested, actor);
  // A TTY line's caller is connected to the emergency session from its receipt: the gateway
  // carries the line and forwards the caller's text from then on, even when the PSAP's
  // acknowledgement arrives after the caller hung up.
  const bool tty_line = dispatch.value("provider", "").empty();
  std::optional<billing::Instant> connected;
  if (tty_line) {
    connected = requested;
  } else if (call.acked_at) {
    connected = std::clamp(to_seconds(*call.acked_at), requested, disconnected);
  }
  if (status && connected) {
    status = add_event_once(records, record, billing::CallEvent::Connected, *connected, actor);
  }
  if (!status) {
    return status;
  }
  const billing::Completion completion{call_id, disconnected, false, "emergency-close:" + call_id};
  Result<billing::CallPosting> posted =
      records.complete(completion, {disconnect_actor, disconnected});
  return posted ? Status::ok() : posted.status();
}

// Whether a store error may pass (a busy or unreachable database), so the record stays in the
// spool for the next flush. Other errors reject the record for good.
bool is_transient(const Status& status) {
  const StatusCode code = status.code();
  return code == StatusCode::Unavailable || code == StatusCode::ResourceExhausted ||
         code == StatusCode::Internal || code == StatusCode::Corrupt;
}

// The outcome of the acked records of a call that has no dispatch record in the spool.
struct LateAckResult {
  bool call_stored = false;  // the store has the call, so these are late acknowledgements
  std::uint64_t recorded = 0;              // stored as psap-acknowledged events, or already there
  std::vector<std::string> rejected_lines;  // acked records the store rejected
};

// Records each of `acks` as a psap-acknowledged event of the stored emergency call `call_id`,
// because its PSAP acknowledged the dispatch after the call ended. Leaves `call_stored` false
// when the store has no such call. An ack that the store rejects (not an emergency call, not
// disconnected) is logged and returned in `rejected_lines`. A store failure is returned, so the
// lines stay in the spool and a later flush records them once.
Result<LateAckResult> record_late_acks(billing::Store& store, const std::string& actor,
                                       const std::string& call_id,
                                       const std::vector<SpooledAck>& acks) {
  LateAckResult result;
  if (acks.empty()) {
    return result;
  }
  Result<std::optional<billing::CallRecord>> found = store.find_call(call_id);
  if (!found) {
    return found.status();
  }
  if (!*found) {
    return result;
  }
  result.call_stored = true;
  const billing::CallRecord& record = **found;
  const billing::CallRecords records(&store, nullptr);
  const std::optional<billing::Instant> requested =
      billing::event_time(record, billing::CallEvent::Requested);
  for (const SpooledAck& ack : acks) {
    // An ack in an older spool names no route, so the call's stored route is used instead.
    const std::string route = ack.route.empty() ? record.request.psap_route : ack.route;
    // NOTE: an ack timed before the request (the clock stepped back) is recorded at the
    // request, as the connect of an on-time ack is.
    billing::Instant at = to_seconds(ack.at);
    if (requested) {
      at = std::max(at, *requested);
    }
    Result<bool> stored = records.record_late_psap_ack(call_id, route, at, actor);
    if (stored) {
      ++result.recorded;
      logger("gateway")->log(
          *stored ? spdlog::level::info : spdlog::level::debug,
          "emergency call={} acknowledged by psap route={} at {} after the call ended; {}", call_id,
          route, billing::format_instant(at),
          *stored ? "recorded as a psap-acknowledged event" : "the store already had it");
      continue;
    }
    const StatusCode code = stored.status().code();
    if (code != StatusCode::FailedPrecondition && code != StatusCode::InvalidArgument) {
      return stored.status();
    }
    logger("gateway")->warn(
        "emergency spool ack of call={} by psap route={} cannot be recorded: {}; it moves to the "
        "spool's .rejected file",
        call_id, route, stored.status().message());
    result.rejected_lines.push_back(ack.line);
  }
  return result;
}

// Returns the acks of `call` that came after its close record, so they are late
// acknowledgements, as they would be had the call been flushed before they arrived. An ack
// from the route whose ack before the close connected the call repeats that ack and is left
// out.
std::vector<SpooledAck> acks_after_close(const SpooledCall& call) {
  std::vector<SpooledAck> late;
  for (const SpooledAck& ack : call.acks) {
    const bool repeats_connect = call.acked_at && ack.route == call.acked_route;
    if (ack.after_close && !repeats_connect) {
      late.push_back(ack);
    }
  }
  return late;
}

}  // namespace

EmergencySpool::EmergencySpool(std::string path) : path_(std::move(path)) {
  writer_ = std::thread([this] { run_writer(); });
}

EmergencySpool::~EmergencySpool() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
  writer_.join();
}

void EmergencySpool::append_dispatch(const EmergencySession& session, const std::string& route_id) {
  enqueue(to_line({{"record", "dispatch"},
                   {"session", session.session_id},
                   {"call", session.call_id},
                   {"caller_number", session.caller_number},
                   {"provider", session.provider_id},
                   {"agent", session.agent_id},
                   {"service", relay::to_string(session.service)},
                   {"received_at", relay::format_instant(session.received_at)},
                   {"route", route_id}}));
}

void EmergencySpool::append_acked(const std::string& session_id, const std::string& call_id,
                                  relay::Instant at, const std::string& route_id) {
  enqueue(to_line({{"record", "acked"},
                   {"session", session_id},
                   {"call", call_id},
                   {"at", relay::format_instant(at)},
                   {"route", route_id}}));
}

void EmergencySpool::append_close(const std::string& session_id, const std::string& call_id,
                                  relay::Instant at) {
  enqueue(to_line({{"record", "close"},
                   {"session", session_id},
                   {"call", call_id},
                   {"at", relay::format_instant(at)}}));
}

void EmergencySpool::enqueue(std::string line) {
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(std::move(line));
  }
  queue_changed_.notify_all();
}

std::uint64_t EmergencySpool::write_failures() const {
  std::lock_guard lock(queue_mutex_);
  return write_failures_;
}

Status EmergencySpool::write_lines(const std::deque<std::string>& lines) {
  std::string data;
  for (const std::string& line : lines) {
    data += line;
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return errno_status("opening", path_);
  }
  Status status = write_all(fd, data, path_);
  if (status && ::fsync(fd) != 0) {
    status = errno_status("syncing", path_);
  }
  ::close(fd);
  return status;
}

void EmergencySpool::run_writer() {
  while (true) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping with nothing left to write
      }
    }
    // The file lock comes first, so a flush never reads the file while a batch taken from the
    // queue is still unwritten.
    std::deque<std::string> batch;
    Status status;
    {
      std::lock_guard file_lock(file_mutex_);
      {
        std::lock_guard lock(queue_mutex_);
        batch.swap(queue_);
      }
      if (batch.empty()) {
        continue;  // a flush wrote them
      }
      status = write_lines(batch);
    }
    if (status) {
      continue;
    }

    // Keep the records and try again; they are lost only if the process stops first.
    std::unique_lock lock(queue_mutex_);
    ++write_failures_;
    logger("gateway")->error("emergency spool write of {} record(s) failed: {}; retrying in {} s",
                             batch.size(), status.message(), kWriteRetryInterval.count());
    queue_.insert(queue_.begin(), batch.begin(), batch.end());
    if (stopping_) {
      logger("gateway")->critical("emergency spool stopping with {} record(s) never written",
                                  queue_.size());
      return;
    }
    queue_changed_.wait_for(lock, kWriteRetryInterval, [this] { return stopping_; });
  }
}

Result<SpoolFlushCounts> EmergencySpool::flush(billing::Store& store,
                                               const billing::WriteContext& context,
                                               const std::set<std::string>& live_sessions) {
  std::lock_guard file_lock(file_mutex_);
  // Records still queued go to the file first, so the flush sees every call.
  {
    std::deque<std::string> pending;
    {
      std::lock_guard lock(queue_mutex_);
      pending.swap(queue_);
    }
    if (!pending.empty()) {
      Status status = write_lines(pending);
      std::lock_guard lock(queue_mutex_);
      if (!status) {
        queue_.insert(queue_.begin(), pending.begin(), pending.end());
        return status;
      }
    }
  }

  std::map<std::string, SpooledCall> calls;
  std::vector<std::string> order;
  std::vector<std::string> rejected;
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && !read_line(line, calls, order)) {
        rejected.push_back(line + "\n");
      }
    }
  }

  if (!rejected.empty()) {
    logger("gateway")->warn(
        "emergency spool {} has {} unreadable line(s); they move to {}.rejected", path_,
        rejected.size(), path_);
  }
  SpoolFlushCounts counts;
  std::string kept;
  std::vector<std::string> orphans;  // calls with no dispatch record
  Status store_status;
  for (const std::string& call_id : order) {
    SpooledCall& call = calls[call_id];
    const std::string session_id = call.dispatch ? call.dispatch->value("session", "") : "";
    const bool live = !call.closed_at && live_sessions.contains(session_id);
    // After one store error the rest stay in the spool for the next flush.
    if (store_status.is_ok() && call.dispatch && !live) {
      bool already_stored = false;
      store_status = store_call(store, context.actor, call_id, call, already_stored);
      if (store_status.is_ok()) {
        // Also on a call stored before, because a flush may have stopped between the two.
        Result<LateAckResult> late =
            record_late_acks(store, context.actor, call_id, acks_after_close(call));
        if (late) {
          ++(already_stored ? counts.already_stored : counts.stored);
          counts.late_acks += late->recorded;
          rejected.insert(rejected.end(), late->rejected_lines.begin(), late->rejected_lines.end());
          continue;
        }
        store_status = late.status();
      }
      if (!is_transient(store_status)) {
        // A record the store rejects would fail again on every flush, so it moves aside and
        // the calls after it are still stored.
        logger("gateway")->error(
            "emergency spool record session={} call={} cannot be stored: {}; its {} line(s) "
            "move to {}.rejected",
            session_id, call_id, store_status.message(), call.lines.size(), path_);
        rejected.insert(rejected.end(), call.lines.begin(), call.lines.end());
        if (!call.alive_line.empty()) {
          rejected.push_back(call.alive_line);
        }
        store_status = Status::ok();
        continue;
      }
      logger("gateway")->error("emergency spool flush failed session={} call={}: {}", session_id,
                               call_id, store_status.message());
    } else if (!call.dispatch && (store_status.is_ok() || call.acks.empty())) {
      // When the PSAP was down until an earlier flush stored the call, its ack comes with no
      // dispatch record and is recorded on the stored call.
      Result<LateAckResult> late = record_late_acks(store, context.actor, call_id, call.acks);
      if (!late) {
        store_status = late.status();
        logger("gateway")->error("emergency spool flush of the PSAP ack of call={} failed: {}",
                                 call_id, store_status.message());
      } else {
        // Nothing else can be recorded without the dispatch, and keeping the lines would report
        // them on every flush, so they are moved aside once.
        const std::vector<std::string>& unrecorded =
            late->call_stored ? call.other_lines : call.lines;
        if (!unrecorded.empty()) {
          orphans.push_back(call_id);
        }
        counts.late_acks += late->recorded;
        rejected.insert(rejected.end(), late->rejected_lines.begin(), late->rejected_lines.end());
        rejected.insert(rejected.end(), unrecorded.begin(), unrecorded.end());
        continue;
      }
    }
    counts.kept_open += live ? 1 : 0;
    for (const std::string& line : call.lines) {
      kept += line;
    }
    if (live && call.dispatch) {
      // The session is open at this flush. If the gateway stops without closing it, the call
      // is completed at this instant.
      kept += to_line({{"record", "alive"},
                       {"session", session_id},
                       {"call", call_id},
                       {"at", billing::format_instant(context.at)}});
    } else {
      kept += call.alive_line;
    }
  }

  if (!orphans.empty()) {
    std::string ids;
    for (const std::string& id : orphans) {
      ids += ids.empty() ? id : ", " + id;
    }
    logger("gateway")->warn(
        "emergency spool {} has records of {} call(s) with no dispatch record ({}); nothing can "
        "be stored for them, so they move to {}.rejected",
        path_, orphans.size(), ids, path_);
  }
  counts.rejected_lines = rejected.size();
  const Status rewritten = rewrite(kept, rejected);
  if (!rewritten.is_ok()) {
    return rewritten;
  }
  if (!store_status.is_ok()) {
    return store_status;
  }
  return counts;
}

Status EmergencySpool::rewrite(const std::string& kept, const std::vector<std::string>& rejected) {
  if (!rejected.empty()) {
    const std::string rejected_path = path_ + ".rejected";
    const int fd = ::open(rejected_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return errno_status("opening the rejected lines of", path_);
    }
    std::string data;
    for (const std::string& line : rejected) {
      data += line;
    }
    Status status = write_all(fd, data, rejected_path);
    if (status.is_ok() && ::fsync(fd) != 0) {
      status = errno_status("syncing the rejected lines of", path_);
    }
    ::close(fd);
    if (!status.is_ok()) {
      return status;
    }
  }

  // Write the calls that stay to a new file and rename it over the spool, so a crash leaves
  // either the old spool or the new one, never half of each.
  const std::string temporary = path_ + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return errno_status("creating a new", path_);
  }
  Status status = write_all(fd, kept, temporary);
  if (status.is_ok() && ::fsync(fd) != 0) {
    status = errno_status("syncing a new", path_);
  }
  ::close(fd);
  if (status.is_ok() && ::rename(temporary.c_str(), path_.c_str()) != 0) {
    status = errno_status("replacing", path_);
  }
  if (!status.is_ok()) {
    return status;
  }
  std::filesystem::path folder = std::filesystem::path(path_).parent_path();
  if (folder.empty()) {
    folder = ".";
  }
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
  return Status::ok();
}

}  // namespace relaygw::gateway::server
