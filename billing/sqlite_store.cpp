#include "billing/sqlite_store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <sqlite3.h>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "billing/cards.hpp"
#include "billing/detail/audit_hasher.hpp"
#include "billing/detail/database_file.hpp"
#include "billing/detail/sqlite_error.hpp"
#include "billing/detail/sqlite_read_only.hpp"
#include "billing/detail/sqlite_transaction.hpp"
#include "billing/detail/wal_checkpointer.hpp"
#include "billing/migrations.hpp"
#include "billing/next_step.hpp"
#include "billing/record_chain.hpp"

namespace relaygw::billing {
namespace {

constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Rows per INSERT statement. One row each is the fastest: with SQLite 3.40, posting_bench
// spent about 40% more CPU time per call when a call's events, charge lines and journal
// entries each went in one multi-row INSERT.
constexpr std::size_t kMaxRowsPerInsert = 1;

// SQLite keeps memory statistics (sqlite3_memory_used, soft heap limits) under a global mutex
// that every allocation and free takes. relaygw reads none of them, and without them
// posting_bench runs about 8% fewer instructions per call. sqlite3_config works only before
// SQLite initializes, so this runs during static initialization, before main starts threads.
// If SQLite is already initialized it returns SQLITE_MISUSE and changes nothing.
const int kMemoryStatisticsOff = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);

Status sqlite_error(sqlite3* db, int code, std::string_view what) {
  return detail::sqlite_failure(db, code, what);
}

// Checks what is at `path` before SQLite opens it: a folder or an empty file is no database,
// and without `create` neither is a missing file. None of these is created or changed.
Status check_database_path(const std::string& path, bool create) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (std::filesystem::is_directory(status)) {
    return Status(StatusCode::InvalidArgument,
                  "'" + path +
                      "' is a folder, not a database file; pass the database file itself, such "
                      "as --db " +
                      (std::filesystem::path(path) / "relaygw.db").string());
  }
  // SQLite would wait for ever to read a FIFO, so only regular files are opened.
  const auto special_file = [](const std::string& name) -> std::optional<Status> {
    std::error_code ignored;
    const std::filesystem::file_status found = std::filesystem::status(name, ignored);
    if (!std::filesystem::exists(found) || std::filesystem::is_regular_file(found)) {
      return std::nullopt;
    }
    return Status(StatusCode::FailedPrecondition,
                  "'" + name + "' is a " + (std::filesystem::is_fifo(found) ? "FIFO" : "special file") +
                      ", not a regular file, so SQLite cannot use it; find out what created it, "
                      "then move it aside and run the command again");
  };
  for (const std::string& name : {path, path + "-wal", path + "-shm"}) {
    if (std::optional<Status> special = special_file(name)) {
      return *special;
    }
  }
  if (!std::filesystem::exists(status)) {
    if (create) {
      return Status::ok();
    }
    return failed_with_step(StatusCode::NotFound, "database '" + path + "' does not exist",
                            {NextStep::Kind::CreateDatabase, path});
  }
  // SQLite treats an empty file as an empty database and would build the schema in it, so a
  // command that only reads would turn a stray empty file into a database. A write-ahead log
  // next to it may hold committed pages, so such a file is opened.
  const auto size = std::filesystem::file_size(path, error);
  const auto wal_size = std::filesystem::file_size(path + "-wal", error);
  const bool wal_has_pages = !error && wal_size > 0;
  if (!create && size == 0 && !wal_has_pages) {
    return failed_with_step(StatusCode::NotFound,
                            "there is no database in '" + path + "' (the file is empty)",
                            {NextStep::Kind::CreateDatabase, path});
  }
  return Status::ok();
}

// True when `path` starts with the 16-byte SQLite header string "SQLite format 3\0". The
// file is read through a DatabaseFile, because closing a plain descriptor of it would drop
// the locks that other connections of this process hold on it.
bool has_sqlite_header_string(const std::string& path) {
  std::unique_ptr<detail::DatabaseFile> file = detail::DatabaseFile::open(path, false);
  if (file == nullptr) {
    return false;
  }
  static constexpr char kHeader[] = "SQLite format 3";  // 15 characters and the NUL
  char start[sizeof kHeader] = {};
  return ::pread(file->descriptor(), start, sizeof start, 0) ==
             static_cast<ssize_t>(sizeof start) &&
         std::memcmp(start, kHeader, sizeof start) == 0;
}

// Describes why SQLite could not open or read `path`, from the connection's last error.
// For a connection opened `read_only`, the message names only the read permission.
Status open_error(sqlite3* db, const std::string& path, bool read_only) {
  const int code = sqlite3_extended_errcode(db);
  const int system_error = sqlite3_system_errno(db);
  const bool cannot_open = (code & 0xff) == SQLITE_CANTOPEN || (code & 0xff) == SQLITE_PERM ||
                           (code & 0xff) == SQLITE_READONLY || (code & 0xff) == SQLITE_IOERR;
  if (read_only && cannot_open) {
    const bool denied = system_error == EACCES || system_error == EPERM;
    return Status(denied ? StatusCode::PermissionDenied : StatusCode::Unavailable,
                  detail::read_only_open_error(path, sqlite3_errmsg(db), system_error));
  }
  switch (code & 0xff) {
    case SQLITE_NOTADB:
      if (has_sqlite_header_string(path)) {
        return Status(StatusCode::Corrupt,
                      "database '" + path +
                          "' is damaged: it starts as an SQLite file, but SQLite rejects the rest "
                          "of its header; restore it from a backup");
      }
      return failed_with_step(StatusCode::InvalidArgument,
                              "'" + path + "' is not a relaygw database (it is not an SQLite file)",
                              {NextStep::Kind::CheckDatabasePath, path});
    case SQLITE_CORRUPT:
      return Status(StatusCode::Corrupt,
                    "database '" + path +
                        "' is damaged (SQLite reports it malformed); restore it from a backup");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
      if (system_error == EACCES || system_error == EPERM || (code & 0xff) == SQLITE_PERM ||
          (code & 0xff) == SQLITE_READONLY) {
        return Status(StatusCode::PermissionDenied,
                      "cannot read and write database '" + path +
                          "': permission denied; run relaygw as a user who may read and write "
                          "the file and its folder, or fix their permissions");
      }
      return Status(StatusCode::Unavailable,
                    "cannot open database '" + path + "': " + sqlite3_errmsg(db) +
                        (system_error != 0 ? " (" + std::string(std::strerror(system_error)) + ")"
                                           : std::string()) +
                        "; check that the path and its folder exist and can be read");
    default:
      return sqlite_error(db, code, "cannot open database '" + path + "'");
  }
}

nlohmann::json line_to_json(const Line& line) {
  return {{"number", line.number},        {"listing_name", line.listing_name},
          {"type", to_string(line.type)}, {"screening", to_string(line.screening)},
          {"state", line.state},          {"rate_center", line.rate_center},
          {"time_zone", line.time_zone},  {"pic", line.pic},
          {"is_tty", line.is_tty},        {"tty_discount_eligible", line.tty_discount_eligible}};
}

nlohmann::json funds_to_json(const CardFunds& funds) {
  nlohmann::json json = {{"balance", funds.balance},
                         {"available", funds.available},
                         {"held_for_call", funds.held_for_call},
                         {"debited_for_call", funds.debited_for_call},
                         {"has_entries", funds.has_entries}};
  if (funds.last_debit_covered_until) {
    json["last_debit_covered_until"] = format_instant(*funds.last_debit_covered_until);
  }
  return json;
}

CardFunds funds_from_json(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text);
  CardFunds funds;
  funds.balance = json.at("balance").get<Money>();
  funds.available = json.at("available").get<Money>();
  funds.held_for_call = json.at("held_for_call").get<Money>();
  funds.debited_for_call = json.at("debited_for_call").get<Money>();
  funds.has_entries = json.at("has_entries").get<bool>();
  // Results stored before schema 10 have no debit instant.
  if (json.contains("last_debit_covered_until")) {
    Result<Instant> covered = parse_instant(json.at("last_debit_covered_until").get<std::string>());
    if (covered) {
      funds.last_debit_covered_until = *covered;
    }
  }
  return funds;
}

// Rejects an interim debit whose instant is at or before the latest instant the call's earlier
// debits covered. A conversation's cost only grows, so such a debit is late or replayed.
Status check_debit_order(const CardFunds& before, const std::vector<LedgerEntry>& entries) {
  for (const LedgerEntry& entry : entries) {
    if (!entry.covered_until || !before.last_debit_covered_until ||
        *entry.covered_until > *before.last_debit_covered_until) {
      continue;
    }
    const std::string last = format_instant(*before.last_debit_covered_until);
    return Status(StatusCode::InvalidArgument,
                  "debit time " + format_instant(*entry.covered_until) +
                      " is at or before the last interim debit of call '" + entry.call_id +
                      "', which covered the conversation to " + last +
                      "; send the time of this debit, after " + last +
                      ", or resend an earlier debit with its own idempotency key and time");
  }
  return Status::ok();
}

// The bound on a card's credits, and on its charges, that read_funds accepts: 2^62 units, about
// $461 trillion. No real card comes near it, and below it every sum of the card's amounts, a hold
// and its later release included, stays inside the 64-bit range.
constexpr Money kMaxCardLedgerSum = Money{1} << 62;

// Returns the Corrupt status of a card whose card_ledger credits or charges sum to
// kMaxCardLedgerSum or more. Its next step runs `relaygw audit verify --db` on `db`'s file.
Status card_ledger_out_of_range(sqlite3* db, const std::string& number) {
  return failed_with_step(
      StatusCode::Corrupt,
      "card " + mask_card_number(number) +
          " is damaged: its card_ledger credits or charges sum to $" +
          format_money(kMaxCardLedgerSum) + " or more in size (or the sum overflows)" +
          ", past what any card reaches and too near the 64-bit integer range to sum "
          "safely, so an amount was written or changed outside relaygw",
      {NextStep::Kind::VerifyDatabase, detail::database_path(db)});
}

// Rejects a hold for call `call_id` while the call's earlier hold is still open and `entries`
// do not release it first: a call holds a card's funds once.
Status check_one_hold(const std::string& number, const std::string& call_id,
                      const CardFunds& before, const std::vector<LedgerEntry>& entries) {
  if (call_id.empty()) {
    return Status::ok();
  }
  bool places_hold = false;
  Money released = 0;
  for (const LedgerEntry& entry : entries) {
    if (entry.call_id != call_id) {
      continue;
    }
    places_hold = places_hold || entry.kind == LedgerKind::Hold;
    released += entry.kind == LedgerKind::Release ? entry.amount : 0;
  }
  if (!places_hold || before.held_for_call - released <= 0) {
    return Status::ok();
  }
  return Status(StatusCode::AlreadyExists,
                "call '" + call_id + "' already holds $" + format_money(before.held_for_call) +
                    " on card " + mask_card_number(number) +
                    ", so no second hold was placed; release that hold before holding the card "
                    "for the call again");
}

// Quotes `word` for a POSIX shell when it has characters other than letters, digits and
// "_./:+-", so that a command in a message can be pasted as it is.
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_./:+-") == std::string::npos;
  if (plain) {
    return word;
  }
  std::string quoted = "'";
  for (char c : word) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

// The path of the database `db` has open, or "FILE" for an in-memory database, for a command
// line in a message.
std::string command_database_path(sqlite3* db) {
  std::string path = detail::database_path(db);
  return path == "(in memory)" ? "FILE" : path;
}

// The `relaygw call show` command line that shows `call_id` in the database `db` has open.
std::string call_show_command(sqlite3* db, const std::string& call_id) {
  return "relaygw call show --db " + shell_word(command_database_path(db)) + " --id " +
         shell_word(call_id);
}

}  // namespace

// A cached prepared statement. Bind values in order with bind(), then step with next() or
// run(); reset() clears both for the next use. A statement SQLite could not prepare (a table
// missing from a damaged file, say) has no sqlite3_stmt: binding it does nothing and stepping
// it returns the prepare error.
class SqliteStore::Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* statement)
      : db_(db),
        statement_(statement),
        bound_bytes_(static_cast<std::size_t>(sqlite3_bind_parameter_count(statement))) {}
  Statement(sqlite3* db, Status prepare_error)
      : db_(db), statement_(nullptr), prepare_error_(std::move(prepare_error)) {}
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& reset() {
    if (statement_ != nullptr) {
      sqlite3_reset(statement_);
      sqlite3_clear_bindings(statement_);
    }
    index_ = 0;
    canonical_.clear();
    row_ends_.clear();
    error_code_ = SQLITE_OK;
    return *this;
  }
  // SQLite's extended result code of the last failed step, SQLITE_OK before any failure.
  int error_code() const { return error_code_; }
  // Marks the end of one row's values in a multi-row INSERT.
  void end_row() { row_ends_.push_back(canonical_.size()); }
  Statement& bind(std::string_view text) {
    const char* copy = keep_bytes(text);
    sqlite3_bind_text(statement_, ++index_, copy, static_cast<int>(text.size()),
                      copy == text.data() ? SQLITE_TRANSIENT : SQLITE_STATIC);
    append_canonical_text(canonical_, text);
    return *this;
  }
  Statement& bind(const char* text) { return bind(std::string_view(text)); }
  Statement& bind(const std::string& text) { return bind(std::string_view(text)); }
  Statement& bind(std::int64_t value) {
    sqlite3_bind_int64(statement_, ++index_, value);
    append_canonical_integer(canonical_, value);
    return *this;
  }
  Statement& bind(int value) { return bind(static_cast<std::int64_t>(value)); }
  Statement& bind(bool value) { return bind(static_cast<std::int64_t>(value ? 1 : 0)); }
  Statement& bind_null() {
    sqlite3_bind_null(statement_, ++index_);
    append_canonical_null(canonical_);
    return *this;
  }
  template <typename T>
  Statement& bind(const std::optional<T>& value) {
    return value ? bind(*value) : bind_null();
  }
  // Binds an appended column's text (ChainedTable::appended_columns), or NULL when empty. A
  // NULL adds nothing to the canonical bytes.
  Statement& bind_appended(std::string_view text) {
    if (text.empty()) {
      sqlite3_bind_null(statement_, ++index_);
      return *this;
    }
    return bind(text);
  }
  // Binds bytes as a BLOB, or NULL when empty. Not part of the canonical bytes.
  Statement& bind_blob(std::string_view bytes) {
    if (bytes.empty()) {
      sqlite3_bind_null(statement_, ++index_);
    } else {
      const char* copy = keep_bytes(bytes);
      sqlite3_bind_blob(statement_, ++index_, copy, static_cast<int>(bytes.size()),
                        copy == bytes.data() ? SQLITE_TRANSIENT : SQLITE_STATIC);
    }
    return *this;
  }

  // Steps once: true with a row, false when done.
  Result<bool> next() {
    if (statement_ == nullptr) {
      error_code_ = SQLITE_ERROR;
      return prepare_error_;
    }
    const int code = sqlite3_step(statement_);
    if (code == SQLITE_ROW) {
      return true;
    }
    if (code == SQLITE_DONE) {
      return false;
    }
    Status error = detail::statement_failure(statement_, code, "SQLite statement failed");
    error_code_ = sqlite3_extended_errcode(db_);
    sqlite3_reset(statement_);
    return error;
  }
  // Steps a statement that returns no rows.
  Status run() {
    Result<bool> stepped = next();
    return stepped ? Status::ok() : stepped.status();
  }

  std::string text(int column) const {
    const auto* value = sqlite3_column_text(statement_, column);
    return value != nullptr ? reinterpret_cast<const char*>(value) : std::string();
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  bool is_integer(int column) const {
    return sqlite3_column_type(statement_, column) == SQLITE_INTEGER;
  }
  std::string type_name(int column) const { return detail::column_type_name(statement_, column); }
  std::optional<std::int64_t> optional_integer(int column) const {
    return is_null(column) ? std::nullopt : std::optional<std::int64_t>(integer(column));
  }
  std::optional<std::string> optional_blob(int column) const {
    if (is_null(column)) {
      return std::nullopt;
    }
    const auto* bytes = static_cast<const char*>(sqlite3_column_blob(statement_, column));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_, column));
    return bytes != nullptr ? std::string(bytes, size) : std::string();
  }
  // Canonical bytes of the values bound so far (billing/record_chain.hpp).
  const std::string& canonical() const { return canonical_; }
  // Offsets in canonical() where each row marked by end_row() ends.
  const std::vector<std::size_t>& row_ends() const { return row_ends_; }

 private:
  // Values up to this size are copied into bound_bytes_. SQLite copies longer ones, such as a
  // rate deck's text, so that a cached statement does not keep them.
  static constexpr std::size_t kMaxKeptBytes = 4096;

  // Copies `bytes` into the buffer of the parameter bound next and returns the copy, which
  // stays unchanged until that parameter is bound again. Returns bytes.data() when the value
  // is too long or the parameter does not exist, for SQLite to copy or to reject.
  const char* keep_bytes(std::string_view bytes) {
    const auto parameter = static_cast<std::size_t>(index_);
    if (bytes.size() > kMaxKeptBytes || parameter >= bound_bytes_.size()) {
      return bytes.data();
    }
    bound_bytes_[parameter].assign(bytes);
    return bound_bytes_[parameter].data();
  }

  sqlite3* db_;
  sqlite3_stmt* statement_;
  // One buffer per parameter for the text and BLOB values bound to it. SQLite reads them in
  // place (SQLITE_STATIC), and each buffer keeps its capacity, so binding a value costs one
  // copy and, after the first uses, no allocation. With SQLITE_TRANSIENT SQLite allocated,
  // copied and freed every value.
  std::vector<std::string> bound_bytes_;
  int index_ = 0;
  std::string canonical_;
  std::vector<std::size_t> row_ends_;
  int error_code_ = SQLITE_OK;
  Status prepare_error_ = Status::ok();
};

// Use of a cached Statement that resets it at the end of its scope. An unreset statement would
// keep its read snapshot open, hiding later commits from this connection.
class SqliteStore::ScopedStatement {
 public:
  explicit ScopedStatement(Statement& statement) : statement_(&statement) {}
  // Takes a statement that failed to prepare. It is not cached, so the next use prepares the
  // SQL again.
  explicit ScopedStatement(std::unique_ptr<Statement> failed)
      : statement_(failed.get()), failed_(std::move(failed)) {}
  ~ScopedStatement() { statement_->reset(); }
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;

  template <typename T>
  ScopedStatement& bind(const T& value) {
    statement_->bind(value);
    return *this;
  }
  ScopedStatement& bind_appended(std::string_view text) {
    statement_->bind_appended(text);
    return *this;
  }
  Result<bool> next() { return statement_->next(); }
  Status run() { return statement_->run(); }
  // Steps through every row and returns the text of each row's first column.
  Result<std::vector<std::string>> first_column_texts() {
    std::vector<std::string> texts;
    while (true) {
      Result<bool> row = statement_->next();
      if (!row) {
        return row.status();
      }
      if (!*row) {
        return texts;
      }
      texts.push_back(statement_->text(0));
    }
  }
  // Runs a one-row INSERT into a chained table and records the row's hash for the next audit
  // entry. The statement must bind every column of the table's ChainedTable, in that order.
  Status append_row(SqliteStore& store, ChainedTableId table) {
    Status status = statement_->run();
    if (status) {
      store.record_appended(table, statement_->canonical());
    }
    return status;
  }
  void end_row() { statement_->end_row(); }
  int error_code() const { return statement_->error_code(); }
  // Runs a multi-row INSERT into a chained table, each row's values closed by end_row(), and
  // records every row's hash. The rows get consecutive rowids ending at the last insert rowid,
  // because SQLite gives a new row the largest rowid plus one and inserts the VALUES rows in
  // order. NOTE: only a table whose largest rowid is 2^63-1 gets random rowids; the record
  // chain would then name wrong rows and verify_records would report them.
  Status append_rows(SqliteStore& store, ChainedTableId table) {
    Status status = statement_->run();
    if (!status) {
      return status;
    }
    const std::vector<std::size_t>& ends = statement_->row_ends();
    const auto rows = static_cast<std::int64_t>(ends.size());
    if (sqlite3_changes64(store.db_) != rows) {
      return Status(StatusCode::Internal,
                    "a multi-row INSERT changed " + std::to_string(sqlite3_changes64(store.db_)) +
                        " rows, not " + std::to_string(rows) + "; this is a bug in SqliteStore");
    }
    const std::int64_t first_row = sqlite3_last_insert_rowid(store.db_) - rows + 1;
    const std::string_view canonical = statement_->canonical();
    std::size_t begin = 0;
    for (std::int64_t row = 0; row < rows; ++row) {
      const std::size_t end = ends[static_cast<std::size_t>(row)];
      store.record_row(table, first_row + row, canonical.substr(begin, end - begin));
      begin = end;
    }
    return status;
  }
  std::string text(int column) const { return statement_->text(column); }
  std::int64_t integer(int column) const { return statement_->integer(column); }
  bool is_null(int column) const { return statement_->is_null(column); }
  bool is_integer(int column) const { return statement_->is_integer(column); }
  std::string type_name(int column) const { return statement_->type_name(column); }
  std::optional<std::int64_t> optional_integer(int column) const {
    return statement_->optional_integer(column);
  }
  std::optional<std::string> optional_blob(int column) const {
    return statement_->optional_blob(column);
  }
  ScopedStatement& bind_blob(std::string_view bytes) {
    statement_->bind_blob(bytes);
    return *this;
  }

 private:
  Statement* statement_;
  std::unique_ptr<Statement> failed_;
};

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       const SqliteOptions& options) {
  // SQLite opens an empty name as a private temporary database, which would lose every write.
  if (path.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "the database path is empty; pass --db FILE, such as --db relaygw.db");
  }
  Status file = check_database_path(path, options.create);
  if (!file) {
    return file;
  }
  detail::ReadOnlyOpen target{
      path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options.create ? SQLITE_OPEN_CREATE : 0),
      nullptr};
  if (options.read_only) {
    Result<detail::ReadOnlyOpen> chosen =
        detail::choose_read_only_open(path, options.busy_timeout_ms);
    if (!chosen) {
      return chosen.status();
    }
    target = std::move(chosen).value();
  }
  sqlite3* db = nullptr;
  const int opened = sqlite3_open_v2(target.name.c_str(), &db, target.flags, nullptr);
  if (opened != SQLITE_OK) {
    Status status = db != nullptr ? open_error(db, path, options.read_only)
                                  : Status(StatusCode::Unavailable,
                                           "cannot open database '" + path + "': out of memory");
    sqlite3_close(db);
    return status;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  // Messages name the file as the caller gave it, not as SQLite's absolute path.
  detail::remember_database_path(db, path);
  if (options.read_only) {
    store->file_ = std::move(target.file);
  } else {
    Result<std::unique_ptr<detail::DatabaseFile>> writer_file =
        detail::open_writer_file(db, path);
    if (!writer_file) {
      return writer_file.status();
    }
    store->file_ = std::move(writer_file).value();
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  // Reading the schema reads the file header, so a file that is not a database fails here,
  // before the pragmas below could write to it.
  if (sqlite3_exec(db, "SELECT COUNT(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    return open_error(db, path, options.read_only);
  }
  // A file with tables but no schema_version table belongs to another program. Migrating it
  // would add relaygw's tables to that program's data, so it is rejected unchanged.
  sqlite3_stmt* probe = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                         "name NOT LIKE 'sqlite!_%' ESCAPE '!'), EXISTS (SELECT 1 FROM "
                         "sqlite_master WHERE type = 'table' AND name = 'schema_version')",
                         -1, &probe, nullptr) != SQLITE_OK) {
    return open_error(db, path, options.read_only);
  }
  const bool probed = sqlite3_step(probe) == SQLITE_ROW;
  const bool has_tables = probed && sqlite3_column_int(probe, 0) != 0;
  const bool has_schema_version = probed && sqlite3_column_int(probe, 1) != 0;
  sqlite3_finalize(probe);
  if (has_tables && !has_schema_version) {
    return failed_with_step(
        StatusCode::InvalidArgument,
        "'" + path +
            "' is not a relaygw database (it is an SQLite file of another program: it has tables "
            "but no relaygw schema_version table), so relaygw leaves it unchanged",
        {NextStep::Kind::CheckDatabasePath, path});
  }
  if (options.read_only) {
    // Reads the version without migrating, so the file stays unchanged.
    int version = 0;
    if (has_schema_version) {
      sqlite3_stmt* read = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &read,
                             nullptr) != SQLITE_OK) {
        return open_error(db, path, options.read_only);
      }
      if (sqlite3_step(read) == SQLITE_ROW) {
        version = sqlite3_column_int(read, 0);
      }
      sqlite3_finalize(read);
    }
    if (version == 0) {
      return failed_with_step(StatusCode::InvalidArgument,
                              "'" + path +
                                  "' is not a relaygw database (it is an SQLite file without the "
                                  "relaygw schema)",
                              {NextStep::Kind::CheckDatabasePath, path});
    }
    if (version > latest_schema_version()) {
      return Status(StatusCode::FailedPrecondition,
                    "database '" + path + "': database schema version " + std::to_string(version) +
                        " is newer than this relaygw supports (" +
                        std::to_string(latest_schema_version()) +
                        "); use a newer relaygw with this database");
    }
    store->schema_version_ = version;
    return store;
  }

  const std::string pragmas =
      std::string("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384; ") +
      (options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
  Status status = store->exec(pragmas.c_str());
  if (!status) {
    return open_error(db, path, options.read_only);
  }
  // The record_chain triggers of schemas 5 and 6 call relaygw_sha256 on every insert, until
  // migration 7 drops them.
  status = register_record_functions(db);
  if (!status) {
    return status;
  }
  Result<int> version = migrate(db, options.migrate_to);
  if (!version) {
    return Status(version.status().code(),
                  "database '" + path + "': " + version.status().message());
  }
  store->schema_version_ = *version;
  if (options.background_checkpoint) {
    auto checkpointer = detail::WalCheckpointer::start(db, path, store->file_.get(),
                                                       options.synchronous_full);
    if (checkpointer) {
      store->checkpointer_ = std::move(checkpointer).value();
    } else {
      spdlog::warn("database '{}': {}; checkpoints run on the committing thread instead",
                   path, checkpointer.status().message());
    }
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db) : db_(db) {}

const std::string& SqliteStore::instant_text(Instant at) {
  if (!cached_instant_ || *cached_instant_ != at) {
    cached_instant_ = at;
    cached_instant_text_ = format_instant(at);
  }
  return cached_instant_text_;
}

SqliteStore::~SqliteStore() {
  statements_.clear();
  checkpointer_.reset();
  detail::forget_database_path(db_);
  sqlite3_close(db_);
  file_.reset();
}

std::string SqliteStore::database_path() const { return command_database_path(db_); }

SqliteStore::ScopedStatement SqliteStore::statement(const char* sql) {
  auto found = statements_.find(sql);
  // Every ScopedStatement resets its statement when it goes away, so a cached one is clean.
  if (found != statements_.end()) {
    return ScopedStatement(*found->second);
  }
  sqlite3_stmt* prepared = nullptr;
  const int code = sqlite3_prepare_v2(db_, sql, -1, &prepared, nullptr);
  if (code != SQLITE_OK) {
    // The SQL is fixed and tested, so a failure means the file lacks a table or column of its
    // schema version: it was changed outside relaygw or is damaged.
    sqlite3_finalize(prepared);
    const std::string path = detail::database_path(db_);
    Status error =
        (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED
            ? sqlite_error(db_, code, "SQLite could not read the schema of '" + path + "'")
            : failed_with_step(StatusCode::Corrupt,
                               "database '" + path + "' cannot run a query (" +
                                   sqlite3_errmsg(db_) +
                                   "): the file was changed outside relaygw or is damaged",
                               {NextStep::Kind::VerifyDatabase, path});
    return ScopedStatement(std::make_unique<Statement>(db_, std::move(error)));
  }
  auto [inserted, _] = statements_.emplace(sql, std::make_unique<Statement>(db_, prepared));
  return ScopedStatement(*inserted->second);
}

Status SqliteStore::exec(const char* sql) {
  char* error = nullptr;
  const int code = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (code != SQLITE_OK) {
    sqlite3_free(error);
    return sqlite_error(db_, code, std::string("SQLite '") + sql + "' failed");
  }
  return Status::ok();
}

Result<std::string> SqliteStore::chain_head() {
  // The write lock is held for the whole transaction, so the chain head read once stays valid
  // until commit or rollback clears it.
  if (!chain_head_) {
    ScopedStatement last = statement("SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    Result<bool> has_row = last.next();
    if (!has_row) {
      return has_row.status();
    }
    chain_head_ = *has_row ? last.text(0) : std::string(kGenesisHash);
  }
  return *chain_head_;
}

Status SqliteStore::insert_audit_row(std::string_view at, std::string_view actor,
                                     std::string_view entity, std::string_view entity_id,
                                     std::string_view action, std::string_view payload,
                                     std::string_view prev_hash, std::string_view row_hash,
                                     std::string_view records) {
  if (schema_version_ >= kRecordsInAuditSchema) {
    ScopedStatement insert = statement(
        "INSERT INTO audit_log (at, actor, entity, entity_id, action, payload, prev_hash, "
        "row_hash, records) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(at).bind(actor).bind(entity).bind(entity_id).bind(action).bind(payload);
    insert.bind(prev_hash).bind(row_hash);
    insert.bind_blob(records);
    return insert.run();
  }
  return statement(
             "INSERT INTO audit_log (at, actor, entity, entity_id, action, payload, "
             "prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(at)
      .bind(actor)
      .bind(entity)
      .bind(entity_id)
      .bind(action)
      .bind(payload)
      .bind(prev_hash)
      .bind(row_hash)
      .run();
}

Status SqliteStore::audit(const WriteContext& context, std::string_view entity,
                          std::string_view entity_id, std::string_view action,
                          const std::string& payload) {
  last_write_context_ = context;
  const std::string& at = instant_text(context.at);
  if (audit_hasher_ != nullptr) {
    audit_hasher_->submit(at, context.actor, entity, entity_id, action, payload);
    return Status::ok();
  }
  Result<std::string> prev_hash = chain_head();
  if (!prev_hash) {
    return prev_hash.status();
  }
  std::optional<std::string_view> records;
  if (!pending_records_.empty()) {
    records = pending_records_;
  }
  std::string row_hash =
      audit_row_hash({*prev_hash, at, context.actor, entity, entity_id, action, payload, records});
  Status inserted = insert_audit_row(at, context.actor, entity, entity_id, action, payload,
                                     *prev_hash, row_hash, pending_records_);
  if (inserted) {
    chain_head_ = std::move(row_hash);
    pending_records_.clear();
  }
  return inserted;
}

void SqliteStore::record_appended(ChainedTableId table, std::string_view canonical) {
  record_row(table, sqlite3_last_insert_rowid(db_), canonical);
}

void SqliteStore::record_row(ChainedTableId table, std::int64_t row_id,
                             std::string_view canonical) {
  // Before schema 7 the record_chain triggers copy the row instead.
  if (audit_hasher_ != nullptr) {
    audit_hasher_->add_record(table, row_id, canonical);
  } else if (schema_version_ >= kRecordsInAuditSchema) {
    append_record_entry(pending_records_, table, row_id, canonical);
  }
}

SqliteStore::ScopedStatement SqliteStore::multi_row_insert(ChainedTableId table, std::size_t rows) {
  std::string& sql = multi_row_sql_[{table, rows}];
  if (sql.empty()) {
    const ChainedTable& chained = chained_tables()[static_cast<std::size_t>(table)];
    sql = "INSERT INTO " + std::string(chained.name) + " (";
    std::string row = "(";
    for (std::size_t column = 0; column < chained.columns.size(); ++column) {
      sql += column == 0 ? "" : ", ";
      sql += chained.columns[column];
      row += column == 0 ? "?" : ", ?";
    }
    row += ")";
    sql += ") VALUES ";
    for (std::size_t i = 0; i < rows; ++i) {
      sql += i == 0 ? row : ", " + row;
    }
  }
  return statement(sql.c_str());
}

Status SqliteStore::flush_records() {
  if (pending_records_.empty()) {
    return Status::ok();
  }
  // Rows appended after the write's own audit entry (an idempotency key stored last) get an
  // entry of their own, so no appended row is left out of the chain.
  if (!last_write_context_) {
    return Status(StatusCode::Internal,
                  "rows were appended without a write context; this is a bug in SqliteStore");
  }
  return audit(*last_write_context_, "records", "", "append", "{}");
}

Status SqliteStore::quick_check() {
  // quick_check(1) stops at the first problem, so a badly damaged file fails fast.
  ScopedStatement check = statement("PRAGMA quick_check(1)");
  Result<bool> row = check.next();
  if (!row) {
    return row.status();
  }
  std::string result = *row ? check.text(0) : std::string("ok");
  if (result == "ok") {
    return Status::ok();
  }
  // SQLite puts the database name and the problem on separate lines.
  std::replace(result.begin(), result.end(), '\n', ' ');
  return detail::sqlite_failure(db_, SQLITE_CORRUPT, "PRAGMA quick_check",
                                "PRAGMA quick_check found: " + result);
}

Result<std::int64_t> SqliteStore::verify_audit_chain() {
  ScopedStatement rows = statement(
      schema_version_ >= kRecordsInAuditSchema
          ? "SELECT seq, at, actor, entity, entity_id, action, payload, prev_hash, row_hash, "
            "records FROM audit_log ORDER BY seq"
          : "SELECT seq, at, actor, entity, entity_id, action, payload, prev_hash, row_hash, "
            "NULL FROM audit_log ORDER BY seq");
  std::string expected_prev(kGenesisHash);
  std::int64_t checked = 0;
  while (true) {
    Result<bool> row = rows.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      break;
    }
    const std::string fields[] = {rows.text(1), rows.text(2), rows.text(3), rows.text(4),
                                  rows.text(5), rows.text(6), rows.text(7)};
    const std::optional<std::string> records = rows.optional_blob(9);
    std::optional<std::string_view> records_view;
    if (records) {
      records_view = *records;
    }
    const std::string computed = audit_row_hash({fields[6], fields[0], fields[1], fields[2],
                                                 fields[3], fields[4], fields[5], records_view});
    if (fields[6] != expected_prev || computed != rows.text(8)) {
      return Status(StatusCode::Corrupt, "audit_log row " + std::to_string(rows.integer(0)) +
                                             " does not match its hash chain; the row or its "
                                             "predecessor was changed after it was written");
    }
    expected_prev = rows.text(8);
    ++checked;
  }
  return checked;
}

Result<std::optional<std::string>> SqliteStore::find_idempotent(const IdempotencyKey& key,
                                                                std::string_view scope) {
  ScopedStatement lookup =
      statement("SELECT scope, request_hash, result FROM idempotency_keys WHERE key = ?");
  lookup.bind(key.key);
  Result<bool> row = lookup.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<std::string>();
  }
  if (lookup.text(0) != scope || lookup.text(1) != key.request_hash) {
    return Status(StatusCode::AlreadyExists,
                  "idempotency key '" + key.key +
                      "' was already used for a different request; send a new key for a new "
                      "request, or repeat the original request unchanged");
  }
  return std::optional<std::string>(lookup.text(2));
}

Status SqliteStore::store_idempotent(const IdempotencyKey& key, std::string_view scope,
                                     const std::string& result, const WriteContext& context) {
  last_write_context_ = context;
  return statement(
             "INSERT INTO idempotency_keys (key, scope, request_hash, result, actor, at) "
             "VALUES (?, ?, ?, ?, ?, ?)")
      .bind(key.key)
      .bind(scope)
      .bind(key.request_hash)
      .bind(result)
      .bind(context.actor)
      .bind(instant_text(context.at))
      .append_row(*this, ChainedTableId::IdempotencyKeys);
}

Result<std::optional<SqliteStore::StoredRequest>> SqliteStore::find_stored_request(
    const std::string& key) {
  ScopedStatement lookup =
      statement("SELECT scope, request_hash, result FROM idempotency_keys WHERE key = ?");
  lookup.bind(key);
  Result<bool> row = lookup.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<StoredRequest>();
  }
  return std::optional<StoredRequest>(
      StoredRequest{lookup.text(0), lookup.text(1), lookup.text(2)});
}

Status SqliteStore::store_request_result(const IdempotencyKey& key, std::string_view scope,
                                         const std::string& result, const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<StoredRequest>> stored = find_stored_request(key.key);
  if (!stored) {
    return stored.status();
  }
  if (*stored) {
    return Status(StatusCode::AlreadyExists,
                  "idempotency key '" + key.key + "' is already stored for scope '" +
                      (*stored)->scope + "'; send a new key for a new request");
  }
  status = store_idempotent(key, scope, result, context);
  if (status) {
    status = audit(context, scope, key.key, "store-result", result);
  }
  if (status) {
    status = transaction.commit();
  }
  return status;
}

// ---- Rate decks ----

Status SqliteStore::add_rate_deck(const StoredRateDeck& deck, const WriteContext& context) {
  return add_rate_deck_checked(deck, nullptr, context).status();
}

Result<RateDeckAddition> SqliteStore::add_rate_deck_checked(const StoredRateDeck& deck,
                                                            const UnpostedCallsCheck& check,
                                                            const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  // BEGIN IMMEDIATE holds the write lock from here, so no call can be created or change state,
  // and no other deck can be stored, between these reads and the commit.
  {
    // Only the deck stored last for a date can be in effect, so an identical deck stored
    // before a correction with the same date is stored again below.
    ScopedStatement latest_of_date = statement(
        "SELECT seq, name, sha256, COALESCE(effective_from, ''), actor, at, "
        "sha256 = ?2 AND COALESCE(effective_to, '') = ?3 FROM rate_decks "
        "WHERE COALESCE(effective_from, '') = ?1 ORDER BY seq DESC LIMIT 1");
    latest_of_date.bind(deck.effective_from).bind(deck.sha256_hex).bind(deck.effective_to);
    Result<bool> found = latest_of_date.next();
    if (!found) {
      return found.status();
    }
    if (*found && latest_of_date.integer(6) != 0) {
      return RateDeckAddition{false, read_deck_header(latest_of_date)};
    }
  }
  if (check) {
    Result<std::vector<CallRecord>> unposted = list_unposted_calls();
    if (!unposted) {
      return unposted.status();
    }
    status = check(*unposted);
    if (!status) {
      return status;
    }
  }
  auto optional_text = [](const std::string& text) {
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
  };
  status = statement(
               "INSERT INTO rate_decks (name, text, sha256, effective_from, effective_to, "
               "source_path, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
               .bind(deck.name)
               .bind(deck.text)
               .bind(deck.sha256_hex)
               .bind(optional_text(deck.effective_from))
               .bind(optional_text(deck.effective_to))
               .bind(deck.source_path)
               .bind(context.actor)
               .bind(instant_text(context.at))
               .append_row(*this, ChainedTableId::RateDecks);
  std::vector<StoredDeckFile> files = deck.files;
  if (files.empty()) {
    files.push_back(StoredDeckFile{std::filesystem::path(deck.source_path).filename().string(),
                                   deck.text, sha256_hex(deck.text)});
  }
  if (status && schema_version_ < kRateDeckFilesSchema) {
    if (files.size() > 1) {
      status = Status(StatusCode::FailedPrecondition,
                      "this database is at schema " + std::to_string(schema_version_) +
                          ", which stores a rate deck of one file only; open it with the "
                          "latest schema to store a deck of " +
                          std::to_string(files.size()) + " files");
    }
    files.clear();
  }
  const std::int64_t deck_seq = sqlite3_last_insert_rowid(db_);
  nlohmann::json file_list = nlohmann::json::array();
  for (std::size_t i = 0; status && i < files.size(); ++i) {
    status = statement(
                 "INSERT INTO rate_deck_files (deck_seq, file_no, name, text, sha256) "
                 "VALUES (?, ?, ?, ?, ?)")
                 .bind(deck_seq)
                 .bind(static_cast<std::int64_t>(i + 1))
                 .bind(files[i].name)
                 .bind(files[i].text)
                 .bind(files[i].sha256_hex)
                 .append_row(*this, ChainedTableId::RateDeckFiles);
    file_list.push_back({{"name", files[i].name}, {"sha256", files[i].sha256_hex}});
  }
  if (status) {
    nlohmann::json payload = {{"name", deck.name},
                              {"sha256", deck.sha256_hex},
                              {"effective_from", deck.effective_from},
                              {"effective_to", deck.effective_to},
                              {"source_path", deck.source_path}};
    if (!file_list.empty()) {
      payload["files"] = file_list;
    }
    status = audit(context, "rate_deck", deck.name, "add", payload.dump());
  }
  if (status) {
    status = transaction.commit();
  }
  if (!status) {
    return status;
  }
  return RateDeckAddition{true, RateDeckHeader{deck_seq, deck.name, deck.sha256_hex,
                                               deck.effective_from, context.actor,
                                               instant_text(context.at)}};
}

Result<std::optional<StoredRateDeck>> SqliteStore::current_rate_deck() {
  ScopedStatement select = statement(
      "SELECT name, text, sha256, COALESCE(effective_from, ''), COALESCE(effective_to, ''), "
      "source_path, seq FROM rate_decks ORDER BY seq DESC LIMIT 1");
  return read_stored_deck(select);
}

Result<std::optional<StoredRateDeck>> SqliteStore::find_rate_deck(std::string_view sha256_hex) {
  ScopedStatement select = statement(
      "SELECT name, text, sha256, COALESCE(effective_from, ''), COALESCE(effective_to, ''), "
      "source_path, seq FROM rate_decks WHERE sha256 = ? ORDER BY seq DESC LIMIT 1");
  select.bind(sha256_hex);
  return read_stored_deck(select);
}

Result<std::optional<RateDeckHeader>> SqliteStore::rate_deck_in_effect(
    std::string_view local_date) {
  // ISO 8601 dates order as text, and an empty effective_from sorts as the earliest date. A
  // deck that starts after `local_date` sorts after every deck in effect, so it is returned
  // only when no deck is in effect yet, and then the most recently stored one is.
  ScopedStatement select = statement(
      "SELECT seq, name, sha256, COALESCE(effective_from, ''), actor, at FROM rate_decks "
      "ORDER BY COALESCE(effective_from, '') <= ?1 DESC, "
      "CASE WHEN COALESCE(effective_from, '') <= ?1 THEN COALESCE(effective_from, '') END DESC, "
      "seq DESC LIMIT 1");
  select.bind(local_date);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<RateDeckHeader>();
  }
  return std::optional<RateDeckHeader>(read_deck_header(select));
}

Result<std::vector<RateDeckHeader>> SqliteStore::list_rate_decks() {
  ScopedStatement select = statement(
      "SELECT seq, name, sha256, COALESCE(effective_from, ''), actor, at FROM rate_decks "
      "ORDER BY seq");
  std::vector<RateDeckHeader> decks;
  while (true) {
    Result<bool> row = select.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      return decks;
    }
    decks.push_back(read_deck_header(select));
  }
}

RateDeckHeader SqliteStore::read_deck_header(ScopedStatement& select) {
  return RateDeckHeader{select.integer(0), select.text(1), select.text(2),
                        select.text(3),    select.text(4), select.text(5)};
}

Result<std::optional<StoredRateDeck>> SqliteStore::read_stored_deck(ScopedStatement& select) {
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<StoredRateDeck>();
  }
  StoredRateDeck deck{select.text(0), select.text(1), select.text(2),
                      select.text(3), select.text(4), select.text(5)};
  const std::int64_t deck_seq = select.integer(6);
  if (schema_version_ < kRateDeckFilesSchema) {
    return std::optional<StoredRateDeck>(std::move(deck));
  }
  ScopedStatement files = statement(
      "SELECT name, text, sha256 FROM rate_deck_files WHERE deck_seq = ? ORDER BY file_no");
  files.bind(deck_seq);
  while (true) {
    Result<bool> file = files.next();
    if (!file) {
      return file.status();
    }
    if (!*file) {
      break;
    }
    deck.files.push_back(StoredDeckFile{files.text(0), files.text(1), files.text(2)});
  }
  return std::optional<StoredRateDeck>(std::move(deck));
}

// ---- Directory ----

namespace {

constexpr const char* kLineColumns =
    "number, version, listing_name, line_type, screening, state, rate_center, time_zone, pic, "
    "is_tty, tty_discount_eligible, actor, at, reason";

}  // namespace

Result<LineVersion> SqliteStore::append_line(const Line& line, std::int64_t expected_version,
                                             const std::string& reason,
                                             const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  Result<LineVersion> outcome = Status(StatusCode::Internal, "line not appended");
  status = append_line_row(LineAppend{line, expected_version, reason}, context, outcome);
  if (status && outcome) {
    status = transaction.commit();
  }
  if (!status) {
    return status;
  }
  return outcome;
}

Result<std::vector<Result<LineVersion>>> SqliteStore::append_lines(
    const std::vector<LineAppend>& appends, const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  std::vector<Result<LineVersion>> outcomes;
  outcomes.reserve(appends.size());
  for (const LineAppend& append : appends) {
    Result<LineVersion> outcome = Status(StatusCode::Internal, "line not appended");
    status = append_line_row(append, context, outcome);
    if (!status) {
      return status;
    }
    outcomes.push_back(std::move(outcome));
  }
  status = transaction.commit();
  if (!status) {
    return status;
  }
  return outcomes;
}

Status SqliteStore::append_line_row(const LineAppend& append, const WriteContext& context,
                                    Result<LineVersion>& outcome) {
  const Line& line = append.line;
  const std::int64_t expected_version = append.expected_version;
  const std::string& reason = append.reason;
  Result<std::optional<LineVersion>> current = find_line(line.number);
  if (!current) {
    return current.status();
  }
  const std::int64_t current_version = *current ? (*current)->version : 0;
  if (expected_version == 0 && current_version != 0) {
    outcome = Status(StatusCode::AlreadyExists, "line " + line.number +
                                                    " is already in the directory; use `relaygw "
                                                    "line change` to change it");
    return Status::ok();
  }
  if (expected_version != current_version) {
    outcome = Status(StatusCode::FailedPrecondition,
                     "line " + line.number + " is at version " + std::to_string(current_version) +
                         ", not " + std::to_string(expected_version) +
                         "; it changed meanwhile, so reread it and apply the change again");
    return Status::ok();
  }

  LineVersion stored{line, current_version + 1, context.actor, context.at, reason};
  Status status =
      statement(
          "INSERT INTO line_versions (number, version, supersedes_version, listing_name, "
          "line_type, screening, state, rate_center, time_zone, pic, is_tty, "
          "tty_discount_eligible, reason, actor, at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .bind(line.number)
          .bind(stored.version)
          .bind(current_version == 0 ? std::nullopt : std::optional<std::int64_t>(current_version))
          .bind(line.listing_name)
          .bind(to_string(line.type))
          .bind(to_string(line.screening))
          .bind(line.state)
          .bind(line.rate_center)
          .bind(line.time_zone)
          .bind(line.pic)
          .bind(line.is_tty)
          .bind(line.tty_discount_eligible)
          .bind(reason)
          .bind(context.actor)
          .bind(instant_text(context.at))
          .append_row(*this, ChainedTableId::LineVersions);
  if (!status) {
    return status;
  }

  nlohmann::json payload = {{"version", stored.version}, {"reason", reason}};
  payload["old"] = *current ? line_to_json((*current)->line) : nlohmann::json(nullptr);
  payload["new"] = line_to_json(line);
  status =
      audit(context, "line", line.number, current_version == 0 ? "add" : "change", payload.dump());
  if (!status) {
    return status;
  }
  outcome = std::move(stored);
  return Status::ok();
}

namespace {

template <typename Statement>
LineVersion read_line_row(const Statement& row) {
  LineVersion version;
  version.line.number = row.text(0);
  version.version = row.integer(1);
  version.line.listing_name = row.text(2);
  version.line.type = parse_line_type(row.text(3)).value_or(LineType::Residential);
  version.line.screening = parse_screening(row.text(4)).value_or(Screening::None);
  version.line.state = row.text(5);
  version.line.rate_center = row.text(6);
  version.line.time_zone = row.text(7);
  version.line.pic = row.text(8);
  version.line.is_tty = row.integer(9) != 0;
  version.line.tty_discount_eligible = row.integer(10) != 0;
  version.actor = row.text(11);
  version.at = parse_instant(row.text(12)).value();
  version.reason = row.text(13);
  return version;
}

}  // namespace

Result<std::optional<LineVersion>> SqliteStore::find_line(const std::string& number) {
  static const std::string kSql = std::string("SELECT ") + kLineColumns +
                                  " FROM line_versions WHERE number = ? ORDER BY version DESC "
                                  "LIMIT 1";
  ScopedStatement select = statement(kSql.c_str());
  select.bind(number);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<LineVersion>();
  }
  return std::optional<LineVersion>(read_line_row(select));
}

Result<std::vector<LineVersion>> SqliteStore::list_lines() {
  static const std::string kSql =
      std::string("SELECT ") + kLineColumns +
      " FROM line_versions AS v WHERE version = (SELECT MAX(version) FROM line_versions WHERE "
      "number = v.number) ORDER BY number";
  ScopedStatement select = statement(kSql.c_str());
  std::vector<LineVersion> lines;
  while (true) {
    Result<bool> row = select.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      return lines;
    }
    lines.push_back(read_line_row(select));
  }
}

Result<std::vector<LineVersion>> SqliteStore::line_history(const std::string& number) {
  static const std::string kSql = std::string("SELECT ") + kLineColumns +
                                  " FROM line_versions WHERE number = ? ORDER BY version";
  ScopedStatement select = statement(kSql.c_str());
  select.bind(number);
  std::vector<LineVersion> versions;
  while (true) {
    Result<bool> row = select.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      return versions;
    }
    versions.push_back(read_line_row(select));
  }
}

// ---- Cards ----

Status SqliteStore::add_card(const Card& card, const std::vector<LedgerEntry>& opening,
                             const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<CardState>> existing = find_card(card.number);
  if (!existing) {
    return existing.status();
  }
  if (*existing) {
    return Status(StatusCode::AlreadyExists, "card " + mask_card_number(card.number) +
                                                 " already exists; use `relaygw card show` "
                                                 "to see it");
  }
  status = statement(
               "INSERT INTO cards (number, funding, billed_line, pin_salt, pin_iterations, "
               "pin_hash, max_pin_attempts, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
               .bind(card.number)
               .bind(to_string(card.funding))
               .bind(card.billed_line)
               .bind(card.pin.salt_hex)
               .bind(card.pin.iterations)
               .bind(card.pin.hash_hex)
               .bind(card.max_pin_attempts)
               .bind(context.actor)
               .bind(instant_text(context.at))
               .append_row(*this, ChainedTableId::Cards);
  if (status) {
    status = statement(
                 "INSERT INTO card_states (number, version, status, failed_pin_attempts, reason, "
                 "actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                 .bind(card.number)
                 .bind(std::int64_t{1})
                 .bind(to_string(CardStatus::Active))
                 .bind(std::int64_t{0})
                 .bind("card added")
                 .bind(context.actor)
                 .bind(instant_text(context.at))
                 .append_row(*this, ChainedTableId::CardStates);
  }
  if (status) {
    status = card.funding == CardFunding::Prepaid
                 ? insert_prepaid_ledger(card.number, opening, context)
                 : insert_ledger(card.number, opening, context);
  }
  if (status) {
    Money opening_total = 0;
    for (const LedgerEntry& entry : opening) {
      opening_total += entry.amount;
    }
    const nlohmann::json payload = {{"funding", to_string(card.funding)},
                                    {"billed_line", card.billed_line},
                                    {"max_pin_attempts", card.max_pin_attempts},
                                    {"opening_credit", opening_total}};
    status = audit(context, "card", mask_card_number(card.number), "add", payload.dump());
  }
  return status ? transaction.commit() : status;
}

Result<std::optional<CardState>> SqliteStore::find_card(const std::string& number) {
  ScopedStatement select = statement(
      "SELECT c.funding, c.billed_line, c.pin_salt, c.pin_iterations, c.pin_hash, "
      "c.max_pin_attempts, s.status, s.failed_pin_attempts, s.version FROM cards AS c "
      "JOIN card_states AS s ON s.number = c.number WHERE c.number = ? "
      "ORDER BY s.version DESC LIMIT 1");
  select.bind(number);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<CardState>();
  }
  CardState state;
  state.card.number = number;
  state.card.funding = parse_card_funding(select.text(0)).value_or(CardFunding::Prepaid);
  state.card.billed_line = select.text(1);
  state.card.pin =
      PinHash{select.text(2), static_cast<std::int32_t>(select.integer(3)), select.text(4)};
  state.card.max_pin_attempts = static_cast<std::int32_t>(select.integer(5));
  state.status = parse_card_status(select.text(6)).value_or(CardStatus::Locked);
  state.failed_pin_attempts = static_cast<std::int32_t>(select.integer(7));
  state.version = select.integer(8);
  return std::optional<CardState>(state);
}

Result<CardState> SqliteStore::append_card_state(const std::string& number, CardStatus status,
                                                 std::int32_t failed_pin_attempts,
                                                 std::int64_t expected_version,
                                                 const std::string& reason,
                                                 const WriteContext& context) {
  Transaction transaction(*this);
  Status begun = transaction.begin();
  if (!begun) {
    return begun;
  }
  Result<std::optional<CardState>> current = find_card(number);
  if (!current) {
    return current.status();
  }
  if (!*current) {
    return Status(StatusCode::NotFound, "card " + mask_card_number(number) + " does not exist");
  }
  CardState state = **current;
  if (state.version != expected_version) {
    return Status(StatusCode::FailedPrecondition,
                  "card " + mask_card_number(number) + " changed meanwhile; reread and retry");
  }
  const CardStatus old_status = state.status;
  state.status = status;
  state.failed_pin_attempts = failed_pin_attempts;
  state.version = expected_version + 1;
  Status written = statement(
                       "INSERT INTO card_states (number, version, status, failed_pin_attempts, "
                       "reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                       .bind(number)
                       .bind(state.version)
                       .bind(to_string(status))
                       .bind(failed_pin_attempts)
                       .bind(reason)
                       .bind(context.actor)
                       .bind(instant_text(context.at))
                       .append_row(*this, ChainedTableId::CardStates);
  if (written) {
    const nlohmann::json payload = {{"old_status", to_string(old_status)},
                                    {"new_status", to_string(status)},
                                    {"failed_pin_attempts", failed_pin_attempts},
                                    {"reason", reason}};
    written = audit(context, "card", mask_card_number(number), "state", payload.dump());
  }
  if (written) {
    written = transaction.commit();
  }
  if (!written) {
    return written;
  }
  return state;
}

Result<CardFunds> SqliteStore::read_funds(const std::string& number, const std::string& call_id) {
  // NOTE: sums the card's whole ledger on every read. That is fast for thousands of entries;
  // past that, a running-balance row would be needed.
  // A postpaid card with no credit entry has no limit, and counts as having no ledger while its
  // entries net to zero. Its zero debits only record the instants that interim debits covered.
  // Settlement before schema 10 debited such cards, and a card whose debits are paid back in
  // full (`card payment`) or credited has no ledger again.
  ScopedStatement totals = statement(
      schema_version_ >= kDebitInstantSchema
          ? "SELECT COALESCE(SUM(amount), 0), "
            "COALESCE(SUM(CASE WHEN kind IN ('credit', 'debit', 'refund', 'payment') THEN amount "
            "ELSE 0 END), "
            "0), "
            "COALESCE(SUM(CASE WHEN kind = 'credit' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN call_id = ?1 AND kind IN ('hold', 'release') THEN -amount "
            "ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN call_id = ?1 AND kind IN ('debit', 'refund') THEN -amount "
            "ELSE 0 END), 0), "
            "MAX(CASE WHEN call_id = ?1 AND kind = 'debit' THEN covered_until END), "
            "(SELECT funding FROM cards WHERE number = ?2), "
            "COALESCE(SUM(typeof(amount) <> 'integer'), 0), "
            "COALESCE(SUM(CASE WHEN kind = 'credit' THEN amount ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN amount < 0 THEN amount ELSE 0 END), 0) "
            "FROM card_ledger WHERE number = ?2"
          : "SELECT COALESCE(SUM(amount), 0), "
            "COALESCE(SUM(CASE WHEN kind IN ('credit', 'debit', 'refund', 'payment') THEN amount "
            "ELSE 0 END), "
            "0), "
            "COALESCE(SUM(CASE WHEN kind = 'credit' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN call_id = ?1 AND kind IN ('hold', 'release') THEN -amount "
            "ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN call_id = ?1 AND kind IN ('debit', 'refund') THEN -amount "
            "ELSE 0 END), 0), "
            "NULL, (SELECT funding FROM cards WHERE number = ?2), "
            "COALESCE(SUM(typeof(amount) <> 'integer'), 0), "
            "COALESCE(SUM(CASE WHEN kind = 'credit' THEN amount ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN amount < 0 THEN amount ELSE 0 END), 0) "
            "FROM card_ledger WHERE number = ?2");
  totals.bind(call_id).bind(number);
  Result<bool> row = totals.next();
  // SQLite's SUM fails with "integer overflow", a Corrupt status whose step is
  // VerifyDatabase, when the credits (column 9) or the charges (column 10) sum past the
  // 64-bit range. No other failure of this read has that step.
  if (!row && row.status().code() == StatusCode::Corrupt &&
      row.status().next_step().kind == NextStep::Kind::VerifyDatabase) {
    return card_ledger_out_of_range(db_, number);
  }
  if (!row) {
    return row.status();
  }
  // SUM adds an amount stored as a real as a real, and one stored as text as 0, without an
  // error, so such a ledger entry is reported instead of summed.
  if (totals.integer(7) != 0) {
    return non_integer_card_ledger_amount(number);
  }
  // Every sum of the card's amounts lies between its charges and its credits. With both under
  // 2^62 in size, any such sum, and any difference of two, fits in 64 bits.
  if (totals.integer(9) >= kMaxCardLedgerSum || totals.integer(10) <= -kMaxCardLedgerSum) {
    return card_ledger_out_of_range(db_, number);
  }
  CardFunds funds;
  funds.available = totals.integer(0);
  funds.balance = totals.integer(1);
  const bool prepaid = totals.text(6) == to_string(CardFunding::Prepaid);
  funds.has_entries =
      prepaid || totals.integer(2) > 0 || funds.available != 0 || funds.balance != 0;
  if (!prepaid) {
    funds.credit_limit = totals.integer(8);
    funds.owed = std::max(Money{0}, funds.credit_limit - funds.balance);
  }
  funds.held_for_call = call_id.empty() ? 0 : totals.integer(3);
  funds.debited_for_call = call_id.empty() ? 0 : totals.integer(4);
  if (!call_id.empty() && !totals.is_null(5)) {
    Result<Instant> covered = parse_instant(totals.text(5));
    if (!covered) {
      return failed_with_step(StatusCode::Corrupt,
                              "card_ledger of call '" + call_id +
                                  "' has an invalid covered_until '" + totals.text(5) + "'",
                              {NextStep::Kind::VerifyDatabase, detail::database_path(db_)});
    }
    funds.last_debit_covered_until = *covered;
  }
  (void)totals.next();  // step to SQLITE_DONE so the read ends
  return funds;
}

Result<CardFunds> SqliteStore::card_funds(const std::string& number, const std::string& call_id) {
  return read_funds(number, call_id);
}

Status SqliteStore::insert_ledger(const std::string& number,
                                  const std::vector<LedgerEntry>& entries,
                                  const WriteContext& context,
                                  std::vector<std::int64_t>* row_ids) {
  const std::string& at = instant_text(context.at);
  for (const LedgerEntry& entry : entries) {
    if (!entry.covered_until) {
      Status status = statement(
                          "INSERT INTO card_ledger (number, kind, amount, call_id, actor, at) "
                          "VALUES (?, ?, ?, ?, ?, ?)")
                          .bind(number)
                          .bind(to_string(entry.kind))
                          .bind(entry.amount)
                          .bind(entry.call_id)
                          .bind(context.actor)
                          .bind(at)
                          .append_row(*this, ChainedTableId::CardLedger);
      if (!status) {
        return status;
      }
      if (row_ids != nullptr) {
        row_ids->push_back(sqlite3_last_insert_rowid(db_));
      }
      continue;
    }
    if (schema_version_ < kDebitInstantSchema) {
      return Status(StatusCode::FailedPrecondition,
                    "this database is at schema " + std::to_string(schema_version_) +
                        ", which cannot store the instant of an interim debit of call '" +
                        entry.call_id + "'; open it with the latest schema (" +
                        std::to_string(latest_schema_version()) + ") to take interim debits");
    }
    Status status = statement(
                        "INSERT INTO card_ledger (number, kind, amount, call_id, actor, at, "
                        "covered_until) VALUES (?, ?, ?, ?, ?, ?, ?)")
                        .bind(number)
                        .bind(to_string(entry.kind))
                        .bind(entry.amount)
                        .bind(entry.call_id)
                        .bind(context.actor)
                        .bind(at)
                        .bind_appended(format_instant(*entry.covered_until))
                        .append_row(*this, ChainedTableId::CardLedger);
    if (!status) {
      return status;
    }
    if (row_ids != nullptr) {
      row_ids->push_back(sqlite3_last_insert_rowid(db_));
    }
  }
  return Status::ok();
}

Status SqliteStore::insert_prepaid_ledger(const std::string& number,
                                          const std::vector<LedgerEntry>& entries,
                                          const WriteContext& context) {
  // Before schema 14 the journal held no card money; migration 14 adds these journals then.
  if (schema_version_ < kCardMoneyJournalSchema) {
    return insert_ledger(number, entries, context);
  }
  std::vector<std::int64_t> row_ids;
  Status status = insert_ledger(number, entries, context, &row_ids);
  const std::string account = card_account_for(number);
  for (std::size_t i = 0; status && i < entries.size(); ++i) {
    const LedgerEntry& entry = entries[i];
    if (!entry.call_id.empty() || entry.amount == 0) {
      continue;  // a call's card money is in the call's own journal
    }
    std::string journal_id;
    if (entry.kind == LedgerKind::Credit) {
      journal_id = card_topup_journal_id(row_ids[i]);
    } else if (entry.kind == LedgerKind::Refund) {
      journal_id = card_refund_journal_id(row_ids[i]);
    } else {
      continue;
    }
    // A top-up (positive) debits cash and credits the card's liability account. A balance
    // refund is a negative entry, so the same two rows debit the card and credit cash.
    status = insert_journal_entry(journal_id, std::string(kCashAccount), entry.amount, "", context);
    if (status) {
      status = insert_journal_entry(journal_id, account, -entry.amount, "", context);
    }
  }
  return status;
}

Result<CardFunds> SqliteStore::append_ledger(const std::string& number,
                                             const std::vector<LedgerEntry>& entries,
                                             bool require_available,
                                             const std::optional<IdempotencyKey>& key,
                                             const WriteContext& context) {
  return write_ledger(number, entries, require_available, nullptr, key, context);
}

Result<CardFunds> SqliteStore::append_interim_debit(const std::string& number,
                                                    const std::vector<LedgerEntry>& entries,
                                                    const CardFunds& expected,
                                                    const IdempotencyKey& key,
                                                    const WriteContext& context) {
  return write_ledger(number, entries, false, &expected, key, context);
}

Result<CardFunds> SqliteStore::append_card_payment(const std::string& number, Money amount,
                                                   const std::string& journal_id,
                                                   const IdempotencyKey& key,
                                                   const WriteContext& context) {
  const std::string masked = mask_card_number(number);
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<std::string>> stored = find_idempotent(key, "card_payment");
  if (!stored) {
    return stored.status();
  }
  if (*stored) {
    return funds_from_json(**stored);
  }
  Result<std::optional<CardState>> card = find_card(number);
  if (!card) {
    return card.status();
  }
  if (!*card) {
    return Status(StatusCode::NotFound, "card " + masked + " does not exist");
  }
  const std::string& line = (*card)->card.billed_line;
  if ((*card)->card.funding != CardFunding::Postpaid || line.empty()) {
    return Status(StatusCode::FailedPrecondition,
                  "card " + masked +
                      " is prepaid and has no billed line to take a payment from; add funds "
                      "with `relaygw card fund`");
  }
  // Read as every other card read is, so a damaged ledger gets the same message.
  Result<CardFunds> before = read_funds(number, "");
  if (!before) {
    return before.status();
  }
  const Money owed = before->owed;
  if (before->credit_limit <= 0 && owed <= 0) {
    return Status(StatusCode::FailedPrecondition,
                  "card " + masked + " has no credit limit: its calls are billed in full to "
                      "line " + line + ", so it needs no payment to stay usable");
  }
  if (amount > owed) {
    // Payments are whole cents, so the most that may be recorded is `owed` cut to cents.
    const Money most = owed - owed % kUnitsPerCent;
    return Status(StatusCode::FailedPrecondition,
                  "payment $" + format_money(amount) + " on card " + masked +
                      " is more than the $" + format_money(std::max(owed, Money{0})) +
                      " the card owes against its limit" +
                      (most >= kUnitsPerCent ? "; record at most $" + format_money(most)
                                             : std::string(", so no payment is due")));
  }

  status = insert_ledger(number, {LedgerEntry{LedgerKind::Payment, amount, ""}}, context);
  if (status) {
    status = insert_journal_entry(journal_id, std::string(kCashAccount), amount, "", context);
  }
  if (status) {
    status = insert_journal_entry(journal_id, card_line_receivable_account(line), -amount, "",
                                  context);
  }
  Result<CardFunds> after = status ? read_funds(number, "") : Result<CardFunds>(status);
  if (!after) {
    return after;
  }
  const nlohmann::json payload = funds_to_json(*after);
  status = audit(context, "card", masked, "payment",
                 nlohmann::json{{"amount", amount}, {"journal_id", journal_id},
                                {"billed_line", line}, {"after", payload}}
                     .dump());
  if (status) {
    status = store_idempotent(key, "card_payment", payload.dump(), context);
  }
  if (status) {
    status = transaction.commit();
  }
  if (!status) {
    return status;
  }
  return after;
}

Result<CardRefund> SqliteStore::append_card_refund(const std::string& number,
                                                   const std::optional<IdempotencyKey>& key,
                                                   const WriteContext& context) {
  const std::string masked = mask_card_number(number);
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  if (key) {
    Result<std::optional<std::string>> stored = find_idempotent(*key, "card_refund");
    if (!stored) {
      return stored.status();
    }
    if (*stored) {
      const nlohmann::json json = nlohmann::json::parse(**stored);
      return CardRefund{json.at("amount").get<Money>(), funds_from_json(json.at("funds").dump())};
    }
  }
  Result<std::optional<CardState>> card = find_card(number);
  if (!card) {
    return card.status();
  }
  if (!*card) {
    return Status(StatusCode::NotFound, "card " + masked + " does not exist");
  }
  const CardState& state = **card;
  if (state.card.funding != CardFunding::Prepaid) {
    return Status(StatusCode::FailedPrecondition,
                  "card " + masked + " is postpaid and bills line " + state.card.billed_line +
                      ", so it has no balance to refund; the line pays the card's charges, "
                      "recorded with `relaygw card payment`");
  }
  if (state.status != CardStatus::Closed) {
    return Status(StatusCode::FailedPrecondition,
                  state.status == CardStatus::Locked
                      ? "card " + masked +
                            " is locked after wrong PINs, not closed, so its balance can still "
                            "pay for calls once it is unlocked; to refund the balance, close the "
                            "card first with `relaygw card close --number NUMBER --reason TEXT`"
                      : "card " + masked + " is " + std::string(to_string(state.status)) +
                            " and its balance can still pay for calls; close it with `relaygw "
                            "card close --number NUMBER --reason TEXT` before refunding its "
                            "balance");
  }
  Result<CardFunds> before = read_funds(number, "");
  if (!before) {
    return before.status();
  }
  const Money amount = refundable_funds(state, *before);
  if (amount <= 0) {
    std::string message = "card " + masked + " has nothing left to refund";
    const Money held = before->balance - before->available;
    if (held > 0) {
      message += "; $" + format_money(held) +
                 " is held for calls in progress, and what they leave can be refunded after "
                 "they complete";
    }
    ScopedStatement last = statement(
        "SELECT -amount, actor, at FROM card_ledger WHERE number = ? AND kind = 'refund' AND "
        "call_id = '' ORDER BY seq DESC LIMIT 1");
    last.bind(number);
    Result<bool> row = last.next();
    if (!row) {
      return row.status();
    }
    if (*row) {
      message += "; $" + format_money(last.integer(0)) + " was refunded at " + last.text(2) +
                 " by " + last.text(1);
      (void)last.next();  // step to SQLITE_DONE so the read ends
    }
    return Status(StatusCode::FailedPrecondition, message);
  }

  status = insert_prepaid_ledger(number, {LedgerEntry{LedgerKind::Refund, -amount, ""}}, context);
  Result<CardFunds> after = status ? read_funds(number, "") : Result<CardFunds>(status);
  if (!after) {
    return after.status();
  }
  const nlohmann::json result = {{"amount", amount}, {"funds", funds_to_json(*after)}};
  status = audit(context, "card", masked, "refund", result.dump());
  if (status && key) {
    status = store_idempotent(*key, "card_refund", result.dump(), context);
  }
  if (status) {
    status = transaction.commit();
  }
  if (!status) {
    return status;
  }
  return CardRefund{amount, *after};
}

Result<CardFunds> SqliteStore::write_ledger(const std::string& number,
                                            const std::vector<LedgerEntry>& entries,
                                            bool require_available, const CardFunds* expected,
                                            const std::optional<IdempotencyKey>& key,
                                            const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  if (key) {
    Result<std::optional<std::string>> stored = find_idempotent(*key, "ledger");
    if (!stored) {
      return stored.status();
    }
    if (*stored) {
      return funds_from_json(**stored);
    }
  }
  // A card closed after the caller's checks (a lost card closed while a call was being
  // authorized, or while staff were funding it) takes no new hold or top-up. Checked inside
  // the write transaction, so the close and the hold cannot both pass.
  const bool opens_funds = std::any_of(entries.begin(), entries.end(), [](const LedgerEntry& e) {
    return e.kind == LedgerKind::Hold || (e.kind == LedgerKind::Credit && e.call_id.empty());
  });
  bool prepaid = false;
  if (opens_funds) {
    Result<std::optional<CardState>> card = find_card(number);
    if (!card) {
      return card.status();
    }
    if (*card && (*card)->status == CardStatus::Closed) {
      return Status(StatusCode::FailedPrecondition,
                    "card " + mask_card_number(number) +
                        " was closed while this request was checked; bill the call another way");
    }
    prepaid = *card && (*card)->card.funding == CardFunding::Prepaid;
  }
  const std::string call_id = entries.empty() ? std::string() : entries.front().call_id;
  Result<CardFunds> before = read_funds(number, call_id);
  if (!before) {
    return before;
  }
  // Top-ups (credits with no call) are checked against the prepaid maximum balance here, inside
  // the write transaction, so two top-ups racing cannot together pass it.
  if (prepaid) {
    Money balance = before->balance;
    for (const LedgerEntry& entry : entries) {
      if (entry.kind != LedgerKind::Credit || !entry.call_id.empty()) {
        continue;
      }
      if (Status within_max = check_max_prepaid_balance(number, balance, entry.amount);
          !within_max) {
        return within_max;
      }
      balance += entry.amount;
    }
  }
  // Checked here, inside the write transaction, so two debits racing cannot both pass. A
  // retry of an earlier debit returned its stored result above and never gets here.
  if (Status ordered = check_debit_order(*before, entries); !ordered) {
    return ordered;
  }
  // Checked inside the write transaction, so two authorizations of one call, even from two
  // processes, never both hold the card's funds.
  if (Status once = check_one_hold(number, call_id, *before, entries); !once) {
    return once;
  }
  if (expected != nullptr && (before->held_for_call != expected->held_for_call ||
                              before->debited_for_call != expected->debited_for_call)) {
    return Status(StatusCode::Unavailable,
                  "card funds of call " + call_id +
                      " changed while its interim debit was priced; retry the debit");
  }
  Money change = 0;
  for (const LedgerEntry& entry : entries) {
    change += entry.amount;
  }
  if (require_available && before->available + change < 0) {
    return Status(StatusCode::ResourceExhausted,
                  "card " + mask_card_number(number) + " has $" + format_money(before->available) +
                      " available, less than the $" + format_money(-change) + " needed");
  }

  // A prepaid card's top-ups get their journals here. `prepaid` is only known when the entries
  // open funds, and every top-up does.
  status = prepaid ? insert_prepaid_ledger(number, entries, context)
                   : insert_ledger(number, entries, context);
  Result<CardFunds> after = status ? read_funds(number, call_id) : Result<CardFunds>(status);
  if (!after) {
    return after;
  }
  nlohmann::json payload = funds_to_json(*after);
  nlohmann::json entry_list = nlohmann::json::array();
  for (const LedgerEntry& entry : entries) {
    nlohmann::json item = {
        {"kind", to_string(entry.kind)}, {"amount", entry.amount}, {"call_id", entry.call_id}};
    if (entry.covered_until) {
      item["covered_until"] = format_instant(*entry.covered_until);
    }
    entry_list.push_back(item);
  }
  status = audit(context, "card", mask_card_number(number), "ledger",
                 nlohmann::json{{"entries", entry_list}, {"after", payload}}.dump());
  if (status && key) {
    status = store_idempotent(*key, "ledger", payload.dump(), context);
  }
  if (status) {
    status = transaction.commit();
  }
  if (!status) {
    return status;
  }
  return after;
}

// ---- Calls ----

Status SqliteStore::insert_call(const CallRequest& request, const WriteContext& context) {
  const bool has_psap_route = schema_version_ >= kCallPsapRouteSchema;
  if (!has_psap_route && !request.psap_route.empty()) {
    return Status(StatusCode::FailedPrecondition,
                  "this database is at schema " + std::to_string(schema_version_) +
                      ", which cannot store the PSAP route '" + request.psap_route + "' of call '" +
                      request.id + "'; open it with the latest schema (" +
                      std::to_string(latest_schema_version()) + ") to store PSAP routes");
  }
  // Calls stored before schema 12 have no quote and calls stored before schema 17 no request
  // key, so an older schema drops them.
  const bool has_request_key = schema_version_ >= kCallRequestKeySchema;
  const bool has_quote = schema_version_ >= kCallQuoteSchema;
  const char* sql = nullptr;
  if (has_request_key) {
    sql =
        "INSERT INTO calls (id, from_number, to_number, billing, access, handling, billed_number, "
        "card_number, requested_person, emergency, actor, at, psap_route, quote_deck_sha256, "
        "quote_total, request_key, request_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  } else if (has_quote) {
    sql =
        "INSERT INTO calls (id, from_number, to_number, billing, access, handling, billed_number, "
        "card_number, requested_person, emergency, actor, at, psap_route, quote_deck_sha256, "
        "quote_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  } else if (has_psap_route) {
    sql =
        "INSERT INTO calls (id, from_number, to_number, billing, access, handling, billed_number, "
        "card_number, requested_person, emergency, actor, at, psap_route) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  } else {
    sql =
        "INSERT INTO calls (id, from_number, to_number, billing, access, handling, billed_number, "
        "card_number, requested_person, emergency, actor, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }
  ScopedStatement insert = statement(sql);
  insert.bind(request.id)
      .bind(request.from)
      .bind(request.to)
      .bind(to_string(request.billing))
      .bind(to_string(request.access))
      .bind(to_string(request.handling))
      .bind(request.billed_number)
      .bind(request.card_number)
      .bind(request.requested_person)
      .bind(request.emergency)
      .bind(context.actor)
      .bind(instant_text(context.at));
  if (has_psap_route) {
    insert.bind_appended(request.psap_route);
  }
  if (has_quote) {
    insert.bind_appended(request.quote ? request.quote->deck_sha256 : std::string());
    insert.bind_appended(request.quote ? std::to_string(request.quote->one_minute) : std::string());
  }
  if (has_request_key) {
    insert.bind_appended(request.request_key);
    insert.bind_appended(request.request_hash);
  }
  Status status = insert.append_row(*this, ChainedTableId::Calls);
  if (!status && insert.error_code() == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Status(StatusCode::AlreadyExists, "call id '" + request.id +
                                                 "' already exists; use another id, or see "
                                                 "that call with `" +
                                                 call_show_command(db_, request.id) + "`");
  }
  if (!status && insert.error_code() == SQLITE_CONSTRAINT_UNIQUE) {
    return Status(StatusCode::AlreadyExists,
                  "idempotency key '" + request.request_key + "' of call '" + request.id +
                      "' already belongs to another call; use a new key for a new call");
  }
  return status;
}

Status SqliteStore::insert_event(const std::string& call_id, const CallEventRecord& event) {
  std::optional<std::string> method;
  std::optional<std::string> accepted_by;
  if (event.acceptance_method) {
    method = std::string(to_string(*event.acceptance_method));
  }
  // A psap-acknowledged event names its PSAP route in accepted_by with no acceptance method.
  if (event.acceptance_method || !event.accepted_by.empty()) {
    accepted_by = event.accepted_by;
  }
  // Events stored before schema 17 have no hold, so an older schema drops it.
  const bool has_hold = schema_version_ >= kCallRequestKeySchema &&
                        (event.hold_amount.has_value() || event.hold_max_seconds.has_value());
  if (event.reason_code.empty() && event.reason_message.empty() && !has_hold) {
    return statement(
               "INSERT INTO call_events (call_id, event, at, actor, acceptance_method, "
               "accepted_by) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(call_id)
        .bind(to_string(event.event))
        .bind(format_instant(event.at))
        .bind(event.actor)
        .bind(method)
        .bind(accepted_by)
        .append_row(*this, ChainedTableId::CallEvents);
  }
  if (schema_version_ < kDebitInstantSchema) {
    return Status(StatusCode::FailedPrecondition,
                  "this database is at schema " + std::to_string(schema_version_) +
                      ", which cannot store the refusal reason '" + event.reason_code +
                      "' of call '" + call_id + "'; open it with the latest schema (" +
                      std::to_string(latest_schema_version()) + ") to record refusals");
  }
  if (!has_hold) {
    return statement(
               "INSERT INTO call_events (call_id, event, at, actor, acceptance_method, "
               "accepted_by, reason_code, reason_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(call_id)
        .bind(to_string(event.event))
        .bind(format_instant(event.at))
        .bind(event.actor)
        .bind(method)
        .bind(accepted_by)
        .bind_appended(event.reason_code)
        .bind_appended(event.reason_message)
        .append_row(*this, ChainedTableId::CallEvents);
  }
  const auto optional_text = [](const std::optional<std::int64_t>& value) {
    return value ? std::to_string(*value) : std::string();
  };
  return statement(
             "INSERT INTO call_events (call_id, event, at, actor, acceptance_method, "
             "accepted_by, reason_code, reason_message, hold_amount, hold_max_seconds) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(call_id)
      .bind(to_string(event.event))
      .bind(format_instant(event.at))
      .bind(event.actor)
      .bind(method)
      .bind(accepted_by)
      .bind_appended(event.reason_code)
      .bind_appended(event.reason_message)
      .bind_appended(optional_text(event.hold_amount))
      .bind_appended(optional_text(event.hold_max_seconds))
      .append_row(*this, ChainedTableId::CallEvents);
}

Status SqliteStore::insert_events(const std::string& call_id,
                                  const std::vector<CallEventRecord>& events) {
  // The multi-row INSERT binds only the columns every schema has, so an event with a refusal
  // reason or a hold goes in on its own.
  const bool has_reasons = std::any_of(events.begin(), events.end(), [](const auto& event) {
    return !event.reason_code.empty() || !event.reason_message.empty() ||
           event.hold_amount.has_value() || event.hold_max_seconds.has_value();
  });
  if (has_reasons) {
    for (const CallEventRecord& event : events) {
      if (Status inserted = insert_event(call_id, event); !inserted) {
        return inserted;
      }
    }
    return Status::ok();
  }
  Status status = Status::ok();
  for (std::size_t first = 0; status && first < events.size(); first += kMaxRowsPerInsert) {
    const std::size_t rows = std::min(kMaxRowsPerInsert, events.size() - first);
    ScopedStatement insert = multi_row_insert(ChainedTableId::CallEvents, rows);
    for (std::size_t i = first; i < first + rows; ++i) {
      const CallEventRecord& event = events[i];
      std::optional<std::string_view> method;
      std::optional<std::string_view> accepted_by;
      if (event.acceptance_method) {
        method = to_string(*event.acceptance_method);
      }
      if (event.acceptance_method || !event.accepted_by.empty()) {
        accepted_by = event.accepted_by;
      }
      insert.bind(call_id)
          .bind(to_string(event.event))
          .bind(format_instant(event.at))
          .bind(event.actor)
          .bind(method)
          .bind(accepted_by)
          .end_row();
    }
    status = insert.append_rows(*this, ChainedTableId::CallEvents);
  }
  return status;
}

Status SqliteStore::insert_call_audited(const CallRequest& request, const WriteContext& context) {
  Status status = insert_call(request, context);
  if (status) {
    nlohmann::json payload = {{"billing", to_string(request.billing)},
                              {"access", to_string(request.access)},
                              {"emergency", request.emergency}};
    if (request.quote) {
      payload["quote_deck_sha256"] = request.quote->deck_sha256;
      payload["quote_total"] = request.quote->one_minute;
    }
    if (!request.request_key.empty()) {
      payload["request_key"] = request.request_key;
    }
    status = audit(context, "call", request.id, "create", payload.dump());
  }
  return status;
}

Status SqliteStore::create_call(const CallRequest& request, const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (status) {
    status = insert_call_audited(request, context);
  }
  return status ? transaction.commit() : status;
}

Result<std::optional<CallQuote>> SqliteStore::create_quoted_call(const CallRequest& request,
                                                                 std::string_view local_date,
                                                                 const DeckQuote& quote,
                                                                 const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  // BEGIN IMMEDIATE holds the write lock from here, so no deck can be stored between this read
  // and the commit.
  Result<std::optional<RateDeckHeader>> in_effect = rate_deck_in_effect(local_date);
  if (!in_effect) {
    return in_effect.status();
  }
  Result<std::optional<CallQuote>> quoted = quote(*in_effect);
  if (!quoted) {
    return quoted.status();
  }
  CallRequest stored = request;
  stored.quote = *quoted;
  status = insert_call_audited(stored, context);
  if (status) {
    status = transaction.commit();
  }
  if (!status) {
    return status;
  }
  return *quoted;
}

Status SqliteStore::append_call_event(const std::string& call_id, const CallEventRecord& event) {
  return append_call_event_storing(call_id, event, nullptr);
}

Status SqliteStore::append_call_event_with_response(const std::string& call_id,
                                                    const CallEventRecord& event,
                                                    const StoredResponse& response) {
  return append_call_event_storing(call_id, event, &response);
}

Status SqliteStore::append_call_event_storing(const std::string& call_id,
                                              const CallEventRecord& event,
                                              const StoredResponse* response) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  ScopedStatement exists = statement("SELECT 1 FROM calls WHERE id = ?");
  exists.bind(call_id);
  Result<bool> row = exists.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return Status(StatusCode::NotFound, "call '" + call_id + "' does not exist");
  }
  (void)exists.next();
  if (event.event == CallEvent::PsapAcknowledged) {
    // Checked under the write lock, so two deliveries of one acknowledgement store one event.
    ScopedStatement recorded = statement(
        "SELECT at FROM call_events WHERE call_id = ? AND event = ? AND accepted_by = ?");
    recorded.bind(call_id).bind(to_string(event.event)).bind(event.accepted_by);
    Result<bool> found = recorded.next();
    if (!found) {
      return found.status();
    }
    if (*found) {
      return Status(StatusCode::AlreadyExists,
                    "call '" + call_id + "' already has a psap-acknowledged event from PSAP route '" +
                        event.accepted_by + "' at " + recorded.text(0) + "; it is stored once");
    }
  }
  if (response != nullptr) {
    Result<std::optional<StoredRequest>> stored = find_stored_request(response->key.key);
    if (!stored) {
      return stored.status();
    }
    if (*stored) {
      return Status(StatusCode::FailedPrecondition,
                    "idempotency key '" + response->key.key + "' is already stored for scope '" +
                        (*stored)->scope + "', so the " + std::string(to_string(event.event)) +
                        " event was not stored; repeat the request to get the stored response");
    }
  }
  status = insert_event_audited(call_id, event);
  if (status && response != nullptr) {
    status = store_idempotent(response->key, response->scope, response->result, response->context);
    if (status) {
      status = audit(response->context, response->scope, response->key.key, "store-result",
                     response->result);
    }
  }
  return status ? transaction.commit() : status;
}

Status SqliteStore::create_refused_call(const CallRequest& request, const CallEventRecord& refused,
                                        const WriteContext& context) {
  if (refused.event != CallEvent::Refused) {
    return Status(StatusCode::InvalidArgument,
                  "create_refused_call takes a refused event, not " +
                      std::string(to_string(refused.event)) + "; this is a bug in the caller");
  }
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (status) {
    status = insert_call_audited(request, context);
  }
  if (status) {
    status = insert_event_audited(
        request.id, CallEventRecord{CallEvent::Requested, context.at, context.actor, {}, {}});
  }
  if (status) {
    status = insert_event_audited(request.id, refused);
  }
  return status ? transaction.commit() : status;
}

Status SqliteStore::insert_event_audited(const std::string& call_id, const CallEventRecord& event) {
  Status status = insert_event(call_id, event);
  if (!status) {
    return status;
  }
  nlohmann::json payload = {{"event", to_string(event.event)}, {"at", format_instant(event.at)}};
  if (event.acceptance_method) {
    payload["how"] = to_string(*event.acceptance_method);
    payload["by"] = event.accepted_by;
  } else if (event.event == CallEvent::PsapAcknowledged) {
    payload["psap"] = event.accepted_by;
  }
  if (event.hold_amount) {
    payload["hold_amount"] = *event.hold_amount;
  }
  if (event.hold_max_seconds) {
    payload["hold_max_seconds"] = *event.hold_max_seconds;
  }
  return audit(WriteContext{event.actor, event.at}, "call", call_id, "event", payload.dump());
}

Result<std::optional<CallPosting>> SqliteStore::read_posting(const std::string& call_id) {
  ScopedStatement select = statement(
      "SELECT total, billable_seconds, person_reached, session_seconds, conversation_seconds "
      "FROM call_postings WHERE call_id = ?");
  select.bind(call_id);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<CallPosting>();
  }
  // A total or amount stored as a real or as text would be truncated or read as 0 here.
  if (!select.is_integer(0)) {
    return detail::non_integer_amount_failure(db_, "call_postings", "call " + call_id,
                                              select.text(0), select.type_name(0));
  }
  CallPosting posting;
  posting.call_id = call_id;
  posting.total = select.integer(0);
  posting.billable_seconds = select.optional_integer(1);
  posting.person_reached = select.integer(2) != 0;
  posting.session_seconds = select.optional_integer(3);
  posting.conversation_seconds = select.optional_integer(4);
  (void)select.next();

  ScopedStatement lines = statement(
      "SELECT kind, description, amount, line_no FROM charge_lines WHERE call_id = ? "
      "ORDER BY line_no");
  lines.bind(call_id);
  while (true) {
    Result<bool> line = lines.next();
    if (!line) {
      return line.status();
    }
    if (!*line) {
      break;
    }
    if (!lines.is_integer(2)) {
      return detail::non_integer_amount_failure(db_, "charge_lines",
                                                "call " + call_id + " line " + lines.text(3),
                                                lines.text(2), lines.type_name(2));
    }
    posting.lines.push_back(PostedChargeLine{lines.text(0), lines.text(1), lines.integer(2)});
  }
  return std::optional<CallPosting>(posting);
}

Status SqliteStore::read_quote_and_request_key(CallRequest& request) {
  ScopedStatement select = statement(
      schema_version_ >= kCallRequestKeySchema
          ? "SELECT COALESCE(quote_deck_sha256, ''), quote_total, COALESCE(request_key, ''), "
            "COALESCE(request_hash, '') FROM calls WHERE id = ?"
          : "SELECT COALESCE(quote_deck_sha256, ''), quote_total, '', '' FROM calls WHERE id = ?");
  select.bind(request.id);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return Status::ok();
  }
  if (!select.is_null(1) && !select.is_integer(1)) {
    return detail::non_integer_amount_failure(db_, "calls", "the quote of call " + request.id,
                                              select.text(1), select.type_name(1));
  }
  if (!select.is_null(1)) {
    request.quote = CallQuote{select.text(0), select.integer(1)};
  }
  request.request_key = select.text(2);
  request.request_hash = select.text(3);
  (void)select.next();
  return Status::ok();
}

Result<std::optional<std::string>> SqliteStore::find_call_id_by_request_key(
    const std::string& key) {
  if (key.empty() || schema_version_ < kCallRequestKeySchema) {
    return std::optional<std::string>();
  }
  ScopedStatement select = statement("SELECT id FROM calls WHERE request_key = ?");
  select.bind(key);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<std::string>();
  }
  std::optional<std::string> call_id = select.text(0);
  (void)select.next();
  return call_id;
}

Result<std::optional<CallNumberRewrite>> SqliteStore::call_number_rewrite() {
  return read_call_number_rewrite(db_);
}

Result<std::optional<JournalBackfill>> SqliteStore::journal_backfill() {
  return read_journal_backfill(db_);
}

Result<std::optional<CallRecord>> SqliteStore::find_call(const std::string& call_id) {
  // From schema 13 a call's numbers are read through its call_number_corrections row.
  const char* sql = nullptr;
  if (schema_version_ >= kCallNumberCorrectionsSchema) {
    sql =
        "SELECT COALESCE(n.from_number, c.from_number), COALESCE(n.to_number, c.to_number), "
        "c.billing, c.access, "
        "COALESCE(NULLIF(COALESCE(n.billed_number, c.billed_number), ''), k.billed_line, ''), "
        "c.card_number, c.requested_person, c.emergency, c.handling, c.psap_route FROM calls c "
        "LEFT JOIN cards k ON k.number = c.card_number AND k.funding = 'postpaid' "
        "LEFT JOIN call_number_corrections n ON n.call_id = c.id WHERE c.id = ?";
  } else if (schema_version_ >= kCallPsapRouteSchema) {
    sql =
        "SELECT c.from_number, c.to_number, c.billing, c.access, "
        "COALESCE(NULLIF(c.billed_number, ''), k.billed_line, ''), c.card_number, "
        "c.requested_person, c.emergency, c.handling, c.psap_route FROM calls c "
        "LEFT JOIN cards k ON k.number = c.card_number AND k.funding = 'postpaid' "
        "WHERE c.id = ?";
  } else {
    sql =
        "SELECT c.from_number, c.to_number, c.billing, c.access, "
        "COALESCE(NULLIF(c.billed_number, ''), k.billed_line, ''), c.card_number, "
        "c.requested_person, c.emergency, c.handling, NULL FROM calls c "
        "LEFT JOIN cards k ON k.number = c.card_number AND k.funding = 'postpaid' "
        "WHERE c.id = ?";
  }
  ScopedStatement select = statement(sql);
  select.bind(call_id);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<CallRecord>();
  }
  CallRecord record;
  record.request.id = call_id;
  record.request.from = select.text(0);
  record.request.to = select.text(1);
  record.request.billing = parse_billing_method(select.text(2)).value_or(BillingMethod::SentPaid);
  record.request.access = parse_access_tag(select.text(3)).value_or(AccessTag::None);
  record.request.billed_number = select.text(4);
  record.request.card_number = select.text(5);
  record.request.requested_person = select.text(6);
  record.request.emergency = select.integer(7) != 0;
  record.request.handling = parse_handling(select.text(8)).value_or(Handling::Automated);
  record.request.psap_route = select.text(9);
  (void)select.next();
  if (schema_version_ >= kCallQuoteSchema) {
    if (Status read = read_quote_and_request_key(record.request); !read) {
      return read;
    }
  }

  const char* events_sql = nullptr;
  if (schema_version_ >= kCallRequestKeySchema) {
    events_sql =
        "SELECT event, at, actor, acceptance_method, accepted_by, reason_code, reason_message, "
        "hold_amount, hold_max_seconds FROM call_events WHERE call_id = ? ORDER BY seq";
  } else if (schema_version_ >= kDebitInstantSchema) {
    events_sql =
        "SELECT event, at, actor, acceptance_method, accepted_by, reason_code, reason_message, "
        "NULL, NULL FROM call_events WHERE call_id = ? ORDER BY seq";
  } else {
    events_sql =
        "SELECT event, at, actor, acceptance_method, accepted_by, NULL, NULL, NULL, NULL "
        "FROM call_events WHERE call_id = ? ORDER BY seq";
  }
  ScopedStatement events = statement(events_sql);
  events.bind(call_id);
  while (true) {
    Result<bool> event_row = events.next();
    if (!event_row) {
      return event_row.status();
    }
    if (!*event_row) {
      break;
    }
    CallEventRecord event;
    event.event = parse_call_event(events.text(0)).value_or(CallEvent::Requested);
    event.at = parse_instant(events.text(1)).value();
    event.actor = events.text(2);
    if (!events.is_null(3)) {
      event.acceptance_method = parse_acceptance_method(events.text(3));
    }
    if (!events.is_null(4)) {
      event.accepted_by = events.text(4);
    }
    event.reason_code = events.text(5);
    event.reason_message = events.text(6);
    if (!events.is_null(7) && !events.is_integer(7)) {
      return detail::non_integer_amount_failure(
          db_, "call_events", "the " + events.text(0) + " event's hold of call " + call_id,
          events.text(7), events.type_name(7));
    }
    event.hold_amount = events.optional_integer(7);
    event.hold_max_seconds = events.optional_integer(8);
    record.events.push_back(event);
  }

  Result<std::optional<CallPosting>> posting = read_posting(call_id);
  if (!posting) {
    return posting.status();
  }
  record.posting = *posting;
  return std::optional<CallRecord>(record);
}

Result<std::vector<CallRecord>> SqliteStore::list_unposted_calls() {
  // The scan reads the covering index of calls.id and probes call_postings by its primary key.
  Result<std::vector<std::string>> ids = [this] {
    ScopedStatement select = statement(
        "SELECT c.id FROM calls c WHERE NOT EXISTS "
        "(SELECT 1 FROM call_postings p WHERE p.call_id = c.id) ORDER BY c.id");
    return select.first_column_texts();
  }();
  if (!ids) {
    return ids.status();
  }
  std::vector<CallRecord> calls;
  calls.reserve(ids->size());
  for (const std::string& id : *ids) {
    Result<std::optional<CallRecord>> record = find_call(id);
    if (!record) {
      return record.status();
    }
    if (record->has_value()) {
      calls.push_back(std::move(**record));
    }
  }
  return calls;
}

namespace {

// The audit payload of a posting, the same text that nlohmann::json would dump for
// {"billable_seconds", "lines": [{"amount", "kind"}], "total"}, built without a JSON tree
// because it is written once per posted call.
std::string posting_payload(const CallPosting& posting) {
  std::string payload = "{\"billable_seconds\":";
  payload += posting.billable_seconds ? std::to_string(*posting.billable_seconds) : "null";
  payload += ",\"lines\":[";
  for (std::size_t i = 0; i < posting.lines.size(); ++i) {
    if (i > 0) {
      payload += ',';
    }
    payload += "{\"amount\":";
    payload += std::to_string(posting.lines[i].amount);
    payload += ",\"kind\":";
    payload += nlohmann::json(posting.lines[i].kind).dump();
    payload += '}';
  }
  payload += "],\"total\":";
  payload += std::to_string(posting.total);
  payload += '}';
  return payload;
}

}  // namespace

Status SqliteStore::insert_posting(const CallPosting& posting, const std::string& card_number,
                                   const std::vector<LedgerEntry>& card_entries,
                                   const IdempotencyKey& key, const JournalParties* parties,
                                   const WriteContext& context) {
  const std::string& at = instant_text(context.at);
  Status status = statement(
                      "INSERT INTO call_postings (call_id, total, billable_seconds, "
                      "session_seconds, conversation_seconds, person_reached, idempotency_key, "
                      "actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                      .bind(posting.call_id)
                      .bind(posting.total)
                      .bind(posting.billable_seconds)
                      .bind(posting.session_seconds)
                      .bind(posting.conversation_seconds)
                      .bind(posting.person_reached)
                      .bind(key.key)
                      .bind(context.actor)
                      .bind(at)
                      .append_row(*this, ChainedTableId::CallPostings);
  for (std::size_t first = 0; status && first < posting.lines.size(); first += kMaxRowsPerInsert) {
    const std::size_t rows = std::min(kMaxRowsPerInsert, posting.lines.size() - first);
    ScopedStatement insert = multi_row_insert(ChainedTableId::ChargeLines, rows);
    for (std::size_t i = first; i < first + rows; ++i) {
      const PostedChargeLine& line = posting.lines[i];
      insert.bind(posting.call_id)
          .bind(static_cast<std::int64_t>(i + 1))
          .bind(line.kind)
          .bind(line.description)
          .bind(line.amount)
          .end_row();
    }
    status = insert.append_rows(*this, ChainedTableId::ChargeLines);
  }
  if (status && !card_entries.empty()) {
    status = insert_ledger(card_number, card_entries, context);
  }
  if (status) {
    status = insert_call_journal(posting, parties, context);
  }
  if (status) {
    status = store_idempotent(key, "post_call", posting.call_id, context);
  }
  if (status) {
    status = audit(context, "call", posting.call_id, "post", posting_payload(posting));
  }
  return status;
}

Status SqliteStore::insert_journal_entry(const std::string& journal_id, const std::string& account,
                                         Money amount, const std::string& call_id,
                                         const WriteContext& context) {
  return statement(
             "INSERT INTO journal_entries (journal_id, account, amount, call_id, actor, at) "
             "VALUES (?, ?, ?, ?, ?, ?)")
      .bind(journal_id)
      .bind(account)
      .bind(amount)
      .bind(call_id)
      .bind(context.actor)
      .bind(instant_text(context.at))
      .append_row(*this, ChainedTableId::JournalEntries);
}

Status SqliteStore::insert_call_journal(const CallPosting& posting, const JournalParties* parties,
                                        const WriteContext& context) {
  Money lines_total = 0;
  for (const PostedChargeLine& line : posting.lines) {
    lines_total += line.amount;
  }
  if (lines_total != posting.total) {
    return Status(StatusCode::InvalidArgument,
                  "call " + posting.call_id +
                      " total differs from the sum of its charge lines by " +
                      format_dollars(posting.total - lines_total, 4) +
                      "; post a total equal to the sum of the lines");
  }
  JournalParties read;
  if (parties == nullptr) {
    // From schema 13 an old call's numbers are read through its E.164 correction, so its
    // journal uses the same receivable account as calls stored since.
    ScopedStatement call = statement(
        schema_version_ >= kCallNumberCorrectionsSchema
            ? "SELECT c.card_number, COALESCE(n.billed_number, c.billed_number), c.access, "
              "COALESCE(n.from_number, c.from_number) FROM calls c "
              "LEFT JOIN call_number_corrections n ON n.call_id = c.id WHERE c.id = ?"
            : "SELECT card_number, billed_number, access, from_number FROM calls WHERE id = ?");
    call.bind(posting.call_id);
    Result<bool> row = call.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      return Status(StatusCode::NotFound, "call '" + posting.call_id + "' does not exist");
    }
    read = JournalParties{call.text(0), call.text(1), call.text(3), call.text(2)};
    parties = &read;
  }
  // A sent-paid call has no billed number of its own, so the calling line owes it.
  const std::string& card_number = parties->card_number;
  const std::string& billed =
      parties->billed_number.empty() ? parties->from_number : parties->billed_number;
  std::string customer =
      card_number.empty() ? "receivable:" + billed : card_account_for(card_number);
  if (!card_number.empty()) {
    // A postpaid card's charges belong to the line it bills, not to a card account.
    ScopedStatement card =
        statement("SELECT billed_line FROM cards WHERE number = ? AND funding = 'postpaid'");
    card.bind(card_number);
    Result<bool> row = card.next();
    if (!row) {
      return row.status();
    }
    if (*row && !card.text(0).empty()) {
      customer = card_line_receivable_account(card.text(0));
    }
  }
  const std::string& access = parties->access;

  // The customer account is debited with the total and each charge line is credited to its
  // revenue or tax account.
  std::vector<std::pair<std::string, Money>> entries;
  if (posting.total != 0) {
    entries.emplace_back(customer, posting.total);
  }
  for (const PostedChargeLine& line : posting.lines) {
    if (line.amount != 0) {
      entries.emplace_back(revenue_account_for(line.kind), -line.amount);
    }
  }
  // The relay service part, which the caller never pays, is owed by the relay service fund.
  if (posting.relay_fund != 0) {
    entries.emplace_back(relay_fund_account_for(access), posting.relay_fund);
    entries.emplace_back(std::string(kRelayServiceRevenueAccount), -posting.relay_fund);
  }

  const std::string journal_id = "call:" + posting.call_id;
  const std::string& at = instant_text(context.at);
  Status status = Status::ok();
  for (std::size_t first = 0; status && first < entries.size(); first += kMaxRowsPerInsert) {
    const std::size_t rows = std::min(kMaxRowsPerInsert, entries.size() - first);
    ScopedStatement insert = multi_row_insert(ChainedTableId::JournalEntries, rows);
    for (std::size_t i = first; i < first + rows; ++i) {
      insert.bind(journal_id)
          .bind(entries[i].first)
          .bind(entries[i].second)
          .bind(posting.call_id)
          .bind(context.actor)
          .bind(at)
          .end_row();
    }
    status = insert.append_rows(*this, ChainedTableId::JournalEntries);
  }
  return status;
}

Status SqliteStore::check_disconnect(const std::string& call_id, const CallEventRecord& disconnect,
                                     bool& already_stored) {
  ScopedStatement select =
      statement("SELECT at FROM call_events WHERE call_id = ? AND event = 'disconnected'");
  select.bind(call_id);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  already_stored = *row;
  const std::string wanted = format_instant(disconnect.at);
  if (*row && select.text(0) != wanted) {
    return Status(StatusCode::AlreadyExists,
                  "call '" + call_id + "' was already disconnected at " + select.text(0) +
                      ", not " + wanted + "; a repeated completion must carry the same time");
  }
  return Status::ok();
}

Status SqliteStore::check_card_funds(const PostingRequest& request) {
  if (request.card_number.empty()) {
    return Status::ok();
  }
  Result<CardFunds> funds = read_funds(request.card_number, request.posting.call_id);
  if (!funds) {
    return funds.status();
  }
  if (funds->held_for_call != request.expected_funds.held_for_call ||
      funds->debited_for_call != request.expected_funds.debited_for_call ||
      funds->last_debit_covered_until != request.expected_funds.last_debit_covered_until) {
    return Status(StatusCode::Unavailable,
                  "card funds of call " + request.posting.call_id +
                      " changed while it was being settled; retry the completion");
  }
  return Status::ok();
}

Result<CallPosting> SqliteStore::post_call(const PostingRequest& request, const IdempotencyKey& key,
                                           const WriteContext& context) {
  const CallPosting& posting = request.posting;
  Transaction transaction(*this);
  Status status = transaction.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<std::string>> stored = find_idempotent(key, "post_call");
  if (!stored) {
    return stored.status();
  }
  if (*stored) {
    Result<std::optional<CallPosting>> earlier = read_posting(**stored);
    if (!earlier) {
      return earlier.status();
    }
    return **earlier;
  }
  Result<std::optional<CallPosting>> existing = read_posting(posting.call_id);
  if (!existing) {
    return existing.status();
  }
  if (*existing) {
    // The command line names the database it opened. The admin API and the provider link
    // name the step in plain words, because the reply reaches a relay provider's software.
    const std::string step_text = "see the posted charges with `" +
                                  call_show_command(db_, posting.call_id) +
                                  "`, and correct them with `relaygw credit request --call " +
                                  posting.call_id + "`";
    return Status(StatusCode::FailedPrecondition,
                  "call " + posting.call_id +
                      " is already posted under another idempotency key, so this completion was "
                      "not posted",
                  "; ", {NextStep::Kind::CorrectPostedCall, posting.call_id}, step_text);
  }

  bool disconnect_stored = false;
  if (request.disconnect) {
    status = check_disconnect(posting.call_id, *request.disconnect, disconnect_stored);
  }
  if (status && request.disconnect && !disconnect_stored) {
    status = insert_event(posting.call_id, *request.disconnect);
  }
  if (status) {
    status = check_card_funds(request);
  }
  if (status) {
    status =
        insert_posting(posting, request.card_number, request.card_entries, key, nullptr, context);
  }
  if (status) {
    status = transaction.commit();
  }
  if (!status) {
    return status;
  }
  return posting;
}

Status SqliteStore::post_completed_calls(const std::vector<BatchPosting>& batch,
                                         const WriteContext& context) {
  Transaction transaction(*this);
  Status status = transaction.begin();
  // From schema 7 the record and audit hashes are computed on a second thread while this one
  // inserts, and the audit rows go in after the batch's other rows.
  std::optional<detail::AuditHasher> hasher;
  if (status && schema_version_ >= kRecordsInAuditSchema) {
    Result<std::string> head = chain_head();
    if (!head) {
      return head.status();
    }
    hasher.emplace(*head);
    audit_hasher_ = &*hasher;
  }
  struct StopHashing {
    SqliteStore& store;
    ~StopHashing() { store.audit_hasher_ = nullptr; }
  } stop_hashing{*this};

  for (const BatchPosting& item : batch) {
    if (!status) {
      break;
    }
    Result<std::optional<std::string>> stored = find_idempotent(item.key, "post_call");
    if (!stored) {
      return stored.status();
    }
    if (*stored) {
      continue;  // posted by an earlier delivery of the same request
    }
    status = insert_call(item.request, context);
    if (status) {
      status = insert_events(item.request.id, item.events);
    }
    if (status) {
      const JournalParties parties{item.request.card_number, item.request.billed_number,
                                   item.request.from, std::string(to_string(item.request.access))};
      status =
          insert_posting(item.posting, item.request.card_number, {}, item.key, &parties, context);
    }
  }
  if (status && hasher) {
    if (hasher->has_pending_records()) {
      status = audit(context, "records", "", "append", "{}");
    }
    audit_hasher_ = nullptr;
    for (const detail::AuditHasher::Row& row : hasher->finish()) {
      if (!status) {
        break;
      }
      status = insert_audit_row(row.at, row.actor, row.entity, row.entity_id, row.action,
                                row.payload, row.prev_hash, row.row_hash, row.records);
      chain_head_ = row.row_hash;
    }
  }
  return status ? transaction.commit() : status;
}

// ---- Read-only queries ----

Result<std::int64_t> SqliteStore::count_calls_requested(Instant from, Instant to) {
  ScopedStatement select = statement(
      "SELECT COUNT(*) FROM call_events WHERE event = 'requested' AND at >= ? AND at < ?");
  select.bind(format_instant(from)).bind(format_instant(to));
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  return *row ? select.integer(0) : 0;
}

// The calls requested in [?1, ?2) that have an accepted event, each once, found by one lookup
// per call in call_events_by_call. The unary + keeps SQLite 3.40 from reading every accepted
// event in call_events_by_event_time instead. It chose that plan for the per-row EXISTS
// subquery this replaces, so a scan's time grew with its charge lines times accepted events.
#define ACCEPTED_CALLS_IN_RANGE                                                                  \
  "SELECT r.call_id FROM call_events r JOIN call_events a ON a.call_id = r.call_id AND "         \
  "+a.event = 'accepted' WHERE r.event = 'requested' AND r.at >= ?1 AND r.at < ?2 "            \
  "GROUP BY r.call_id"

// One row per charge line (or one row for a call without lines), in the order of the index of
// requested events by time (call_events_requested_by_time from schema 15). The rows of one
// call are therefore adjacent and SQLite needs no sort. The instants are ISO 8601 UTC text of one fixed width, so text order is time order.
Status SqliteStore::scan_calls_requested(Instant from, Instant to,
                                         const std::function<bool(const CallFact&)>& visit) {
  // From schema 13 a call's numbers are read through its call_number_corrections row.
  ScopedStatement select = statement(
      schema_version_ >= kCallNumberCorrectionsSchema
          ? "SELECT e.call_id, e.at, COALESCE(n.from_number, c.from_number), "
            "COALESCE(n.to_number, c.to_number), c.billing, c.access, c.handling, "
            "COALESCE(n.billed_number, c.billed_number), c.emergency, p.call_id IS NOT NULL, "
            "p.total, p.billable_seconds, p.session_seconds, p.conversation_seconds, l.kind, "
            "l.amount, accepted.call_id IS NOT NULL, l.line_no "
            "FROM call_events e JOIN calls c ON c.id = e.call_id "
            "LEFT JOIN call_number_corrections n ON n.call_id = e.call_id "
            "LEFT JOIN (" ACCEPTED_CALLS_IN_RANGE
            ") accepted ON accepted.call_id = e.call_id "
            "LEFT JOIN call_postings p ON p.call_id = e.call_id "
            "LEFT JOIN charge_lines l ON l.call_id = p.call_id "
            "WHERE e.event = 'requested' AND e.at >= ?1 AND e.at < ?2 "
            "ORDER BY e.at, e.call_id"
          : "SELECT e.call_id, e.at, c.from_number, c.to_number, c.billing, c.access, c.handling, "
            "c.billed_number, c.emergency, p.call_id IS NOT NULL, p.total, p.billable_seconds, "
            "p.session_seconds, p.conversation_seconds, l.kind, l.amount, "
            "accepted.call_id IS NOT NULL, l.line_no "
            "FROM call_events e JOIN calls c ON c.id = e.call_id "
            "LEFT JOIN (" ACCEPTED_CALLS_IN_RANGE
            ") accepted ON accepted.call_id = e.call_id "
            "LEFT JOIN call_postings p ON p.call_id = e.call_id "
            "LEFT JOIN charge_lines l ON l.call_id = p.call_id "
            "WHERE e.event = 'requested' AND e.at >= ?1 AND e.at < ?2 "
            "ORDER BY e.at, e.call_id");
  select.bind(format_instant(from)).bind(format_instant(to));

  std::optional<CallFact> fact;
  while (true) {
    Result<bool> row = select.next();
    if (!row) {
      return row.status();
    }
    if (*row && fact && fact->call_id == select.text(0)) {
      // Another charge line of the same call.
    } else {
      if (fact && !visit(*fact)) {
        return Status::ok();
      }
      if (!*row) {
        return Status::ok();
      }
      fact.emplace();
      fact->call_id = select.text(0);
      Result<Instant> requested = parse_instant(select.text(1));
      if (!requested) {
        return Status(StatusCode::Corrupt,
                      "call " + fact->call_id +
                          " has an unreadable requested instant: " + requested.status().message());
      }
      fact->requested_at = *requested;
      fact->from = select.text(2);
      fact->to = select.text(3);
      fact->billing = parse_billing_method(select.text(4)).value_or(BillingMethod::SentPaid);
      fact->access = parse_access_tag(select.text(5)).value_or(AccessTag::None);
      fact->handling = parse_handling(select.text(6)).value_or(Handling::Automated);
      fact->billed_number = select.text(7);
      fact->emergency = select.integer(8) != 0;
      fact->posted = select.integer(9) != 0;
      // A total or amount stored as a real or as text would be truncated or read as 0 here.
      if (fact->posted && !select.is_integer(10)) {
        return detail::non_integer_amount_failure(db_, "call_postings", "call " + fact->call_id,
                                                  select.text(10), select.type_name(10));
      }
      fact->total = select.integer(10);
      fact->billable_seconds = select.optional_integer(11);
      fact->session_seconds = select.optional_integer(12);
      fact->conversation_seconds = select.optional_integer(13);
      fact->accepted = select.integer(16) != 0;
    }
    if (select.is_null(14)) {
      continue;
    }
    const std::string kind = select.text(14);
    if (!select.is_integer(15)) {
      return detail::non_integer_amount_failure(
          db_, "charge_lines", "call " + fact->call_id + " line " + select.text(17),
          select.text(15), select.type_name(15));
    }
    const Money amount = select.integer(15);
    Money* column = &fact->fees;
    if (kind == "usage") {
      column = &fact->usage;
    } else if (kind == "surcharge") {
      column = &fact->surcharges;
    } else if (kind == "discount") {
      column = &fact->discounts;
    } else if (kind == "tax") {
      column = &fact->taxes;
    }
    if (__builtin_add_overflow(*column, amount, column)) {
      const std::string file = detail::database_path(db_);
      return failed_with_step(StatusCode::Corrupt,
                              "the " + kind + " charge lines of call " + fact->call_id +
                                  " sum past the 64-bit integer range, so one was written or "
                                  "changed outside relaygw",
                              {NextStep::Kind::VerifyDatabase, file});
    }
  }
}

Result<std::vector<std::string>> SqliteStore::call_ids_of_line(const std::string& number,
                                                               Instant from, Instant to) {
  // From schema 13 a call's numbers are read through its call_number_corrections row. The
  // inner lookups find candidates through calls_by_from_number, calls_by_billed_number,
  // calls_by_card_number and the corrections' indexes, and the outer test keeps those whose
  // numbers as read match. Each lookup is its own UNION arm because one OR over the three
  // calls columns made SQLite 3.40 scan every call. The `<> ''` terms repeat the WHERE clauses
  // of the partial indexes of schema 15, so SQLite can use them. Before schema 15 there is no
  // calls_by_card_number, so the card arm reads every call when the line has a postpaid card.
  ScopedStatement select = statement(
      schema_version_ >= kCallNumberCorrectionsSchema
          ? "SELECT c.id FROM calls c JOIN call_events e ON e.call_id = c.id AND "
            "e.event = 'requested' LEFT JOIN call_number_corrections n ON n.call_id = c.id "
            "WHERE c.id IN (SELECT id FROM calls WHERE from_number = ?1 "
            "UNION SELECT id FROM calls WHERE billed_number = ?1 AND billed_number <> '' "
            "UNION SELECT d.id FROM cards k CROSS JOIN calls d ON d.card_number = k.number "
            "AND d.card_number <> '' WHERE k.funding = 'postpaid' AND k.billed_line = ?1 "
            "UNION SELECT call_id FROM call_number_corrections WHERE "
            "from_number = ?1 OR billed_number = ?1) "
            "AND (COALESCE(n.from_number, c.from_number) = ?1 OR "
            "COALESCE(n.billed_number, c.billed_number) = ?1 OR c.card_number IN "
            "(SELECT number FROM cards WHERE funding = 'postpaid' AND billed_line = ?1)) "
            "AND e.at >= ?2 AND e.at < ?3 ORDER BY e.at, c.id"
          : "SELECT c.id FROM calls c JOIN call_events e ON e.call_id = c.id AND "
            "e.event = 'requested' "
            "WHERE (c.from_number = ?1 OR c.billed_number = ?1 OR c.card_number IN "
            "(SELECT number FROM cards WHERE funding = 'postpaid' AND billed_line = ?1)) "
            "AND e.at >= ?2 AND e.at < ?3 ORDER BY e.at, c.id");
  select.bind(number).bind(format_instant(from)).bind(format_instant(to));
  return select.first_column_texts();
}

Result<std::vector<std::string>> SqliteStore::posted_call_ids_of_card(
    const std::string& card_number) {
  // The `<> ''` term repeats the WHERE clause of the partial index calls_by_card_number, so
  // SQLite can use it. Only the posting's key is read, so a damaged amount of another call
  // cannot fail this lookup. Before schema 15 there is no such index and SQLite reads every
  // row of calls, though still none of their charge lines.
  ScopedStatement select = statement(
      "SELECT c.id FROM calls c JOIN call_postings p ON p.call_id = c.id "
      "WHERE c.card_number = ?1 AND c.card_number <> '' ORDER BY c.id");
  select.bind(card_number);
  return select.first_column_texts();
}

}  // namespace relaygw::billing
