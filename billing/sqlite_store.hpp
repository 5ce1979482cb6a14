// SQLite implementation of the billing Store: WAL journal, foreign keys on, a busy timeout so
// that several connections (threads or processes) can share one file, and BEGIN IMMEDIATE for
// every write so that read-check-append sequences (holds on a card) are serialized.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "billing/credits.hpp"
#include "billing/disputes.hpp"
#include "billing/ledger.hpp"
#include "billing/migrations.hpp"
#include "billing/record_chain.hpp"
#include "billing/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace relaygw::billing {
namespace detail {
class AuditHasher;
class DatabaseFile;
class WalCheckpointer;
}  // namespace detail

struct SqliteOptions {
  // Schema version to migrate to; 0 means the latest. Tests use lower values to build an
  // older database.
  int migrate_to = 0;
  // Create the file when it does not exist. Commands other than `db init` leave this off, so a
  // mistyped --db path fails instead of creating an empty database.
  bool create = false;
  // Open without writing, for commands that only read, such as `db status`: no migration, no
  // journal mode change, and no file created, not even the -wal and -shm files of a WAL
  // database (billing/detail/sqlite_read_only.hpp). An older schema stays as it is, and
  // queries see that version.
  bool read_only = false;
  int busy_timeout_ms = 10'000;
  // FULL syncs the WAL on every commit. NORMAL syncs only at checkpoints: a committed
  // transaction can be lost on power failure (never on a process crash), and the database
  // stays consistent.
  bool synchronous_full = true;
  // Run WAL checkpoints on a thread of their own (billing/detail/wal_checkpointer.hpp) in
  // place of SQLite's automatic checkpoint on the committing thread. For long-running writers
  // such as the gateway; a one-shot command gains nothing from the extra thread.
  bool background_checkpoint = false;
};

class SqliteStore final : public Store {
 public:
  // Opens `path`, applies pending migrations and returns the store. Fails with NotFound for a
  // missing file unless options.create, and with FailedPrecondition for a newer schema.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   const SqliteOptions& options = {});

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  int schema_version() const override { return schema_version_; }
  std::string database_path() const override;
  // The background checkpointer (SqliteOptions::background_checkpoint), or null.
  const detail::WalCheckpointer* checkpointer() const { return checkpointer_.get(); }

  // Returns the counts that migration 13 recorded when it corrected call numbers to E.164, or
  // nullopt when it corrected none and found none that did not normalize.
  Result<std::optional<CallNumberRewrite>> call_number_rewrite();

  // Returns the counts that migration 14 recorded when it back-filled journals, or nullopt when
  // it found nothing to back-fill.
  Result<std::optional<JournalBackfill>> journal_backfill();

  // Store
  Status add_rate_deck(const StoredRateDeck& deck, const WriteContext& context) override;
  Result<RateDeckAddition> add_rate_deck_checked(const StoredRateDeck& deck,
                                                 const UnpostedCallsCheck& check,
                                                 const WriteContext& context) override;
  Result<std::optional<StoredRateDeck>> current_rate_deck() override;
  Result<std::optional<RateDeckHeader>> rate_deck_in_effect(std::string_view local_date) override;
  Result<std::vector<RateDeckHeader>> list_rate_decks() override;
  Result<std::optional<StoredRateDeck>> find_rate_deck(std::string_view sha256_hex) override;
  Result<LineVersion> append_line(const Line& line, std::int64_t expected_version,
                                  const std::string& reason, const WriteContext& context) override;
  Result<std::vector<Result<LineVersion>>> append_lines(const std::vector<LineAppend>& appends,
                                                        const WriteContext& context) override;
  Result<std::optional<LineVersion>> find_line(const std::string& number) override;
  Result<std::vector<LineVersion>> list_lines() override;
  Result<std::vector<LineVersion>> line_history(const std::string& number) override;
  Status add_card(const Card& card, const std::vector<LedgerEntry>& opening,
                  const WriteContext& context) override;
  Result<std::optional<CardState>> find_card(const std::string& number) override;
  Result<CardState> append_card_state(const std::string& number, CardStatus status,
                                      std::int32_t failed_pin_attempts,
                                      std::int64_t expected_version, const std::string& reason,
                                      const WriteContext& context) override;
  Result<CardFunds> card_funds(const std::string& number, const std::string& call_id) override;
  Result<CardFunds> append_ledger(const std::string& number,
                                  const std::vector<LedgerEntry>& entries, bool require_available,
                                  const std::optional<IdempotencyKey>& key,
                                  const WriteContext& context) override;
  Result<CardFunds> append_interim_debit(const std::string& number,
                                         const std::vector<LedgerEntry>& entries,
                                         const CardFunds& expected, const IdempotencyKey& key,
                                         const WriteContext& context) override;
  Result<CardFunds> append_card_payment(const std::string& number, Money amount,
                                        const std::string& journal_id, const IdempotencyKey& key,
                                        const WriteContext& context) override;
  Result<CardRefund> append_card_refund(const std::string& number,
                                        const std::optional<IdempotencyKey>& key,
                                        const WriteContext& context) override;
  Status create_call(const CallRequest& request, const WriteContext& context) override;
  Result<std::optional<CallQuote>> create_quoted_call(const CallRequest& request,
                                                      std::string_view local_date,
                                                      const DeckQuote& quote,
                                                      const WriteContext& context) override;
  Status append_call_event(const std::string& call_id, const CallEventRecord& event) override;
  Status append_call_event_with_response(const std::string& call_id, const CallEventRecord& event,
                                         const StoredResponse& response) override;
  Status create_refused_call(const CallRequest& request, const CallEventRecord& refused,
                             const WriteContext& context) override;
  Result<std::optional<CallRecord>> find_call(const std::string& call_id) override;
  Result<std::optional<std::string>> find_call_id_by_request_key(const std::string& key) override;
  Result<std::vector<CallRecord>> list_unposted_calls() override;
  Result<CallPosting> post_call(const PostingRequest& request, const IdempotencyKey& key,
                                const WriteContext& context) override;
  Status post_completed_calls(const std::vector<BatchPosting>& batch,
                              const WriteContext& context) override;
  Result<std::int64_t> count_calls_requested(Instant from, Instant to) override;
  Status scan_calls_requested(Instant from, Instant to,
                              const std::function<bool(const CallFact&)>& visit) override;
  Result<std::vector<std::string>> call_ids_of_line(const std::string& number, Instant from,
                                                    Instant to) override;
  Result<std::vector<std::string>> posted_call_ids_of_card(const std::string& card_number) override;

  Result<std::int64_t> verify_audit_chain() override;

  // The row of idempotency_keys for one key: the first request's scope and hash, and the
  // result stored for it.
  struct StoredRequest {
    std::string scope;
    std::string request_hash;
    std::string result;
  };

  // Returns the row stored under `key` in any scope, or nullopt when the key is new. For the
  // admin API, which stores its own responses and names a conflict itself.
  Result<std::optional<StoredRequest>> find_stored_request(const std::string& key);

  // Stores `result` for `key` in `scope`, audited as `context`. Fails with AlreadyExists when
  // the key is already stored, whatever its scope or result.
  Status store_request_result(const IdempotencyKey& key, std::string_view scope,
                              const std::string& result, const WriteContext& context);

  // Runs SQLite's PRAGMA quick_check, which reads every page of every table and index, so its
  // time grows with the file size. Returns Corrupt, naming the file and the fix, for the first
  // problem it finds.
  Status quick_check();

  // Billing operations, in billing/sqlite_operations.cpp.
  Result<CreditRecord> request_credit(const CreditRequest& request, const IdempotencyKey& key,
                                      const WriteContext& context) override;
  Result<CreditRecord> decide_credit(const std::string& credit_id, bool approve,
                                     const std::string& note, const WriteContext& context) override;
  Result<std::optional<CreditRecord>> find_credit(const std::string& credit_id) override;
  Result<std::vector<CreditRecord>> list_credits(const std::string& call_id) override;
  Result<Money> credit_remaining(const std::string& call_id, std::int64_t line_no) override;
  Result<Dispute> open_dispute(const DisputeOpenRequest& request, const IdempotencyKey& key,
                               const WriteContext& context) override;
  Result<Dispute> append_dispute_step(const std::string& dispute_id, DisputeAction action,
                                      const std::string& note,
                                      const std::optional<CreditRequest>& adjustment,
                                      const WriteContext& context) override;
  Result<std::optional<Dispute>> find_dispute(const std::string& dispute_id) override;
  Result<std::vector<Dispute>> list_disputes() override;
  Result<JournalCheck> check_journal() override;
  Result<std::vector<AccountBalance>> account_balances() override;
  Result<Reconciliation> reconcile_day(const std::string& date) override;

  // Runs `reads` (returning a Result) in one read transaction, so all of its queries see one
  // committed state while other connections write. Inside a transaction, runs it there.
  template <typename Reads>
  auto read_consistently(Reads reads) -> decltype(reads()) {
    bool began = false;
    if (Status status = begin_read(began); !status) {
      return status;
    }
    auto result = reads();
    end_read(began);
    return result;
  }
  Result<RecordCheck> verify_records() override;

 private:
  class Statement;
  class ScopedStatement;
  class Transaction;

  // The call fields that decide a posting's journal accounts.
  struct JournalParties {
    std::string card_number;
    std::string billed_number;  // empty for a sent-paid call
    std::string from_number;
    std::string access;
  };

  explicit SqliteStore(sqlite3* db);

  // Begins a read transaction unless one is open, and sets `began` when it did.
  Status begin_read(bool& began);
  // Ends the read transaction begin_read began.
  void end_read(bool began);
  Result<Reconciliation> reconcile_day_in_transaction(const std::string& date);
  // Returns the Corrupt status for the first row of `table` (call_postings, charge_lines,
  // credits, journal_entries or card_ledger) whose amount is not stored as an integer.
  Status non_integer_amount(std::string_view table);
  // Returns the Corrupt status for the first card_ledger entry of card `number` whose amount is
  // not stored as an integer.
  Status non_integer_card_ledger_amount(const std::string& number);

  // Runs append_line's checks and writes inside the caller's transaction. A rejected append
  // (the line exists, or changed meanwhile) writes nothing and is returned in `outcome`. The
  // Status is an error only when a write failed, and then the transaction must roll back.
  Status append_line_row(const LineAppend& append, const WriteContext& context,
                         Result<LineVersion>& outcome);

  // Returns the cached statement for `sql`; it is reset when the returned object goes away, so
  // no read stays open past its use.
  ScopedStatement statement(const char* sql);
  // Returns format_instant(at), cached for the last instant asked for: one write stamps many
  // rows with the same context.at. The reference stays valid until the next call.
  const std::string& instant_text(Instant at);
  Status exec(const char* sql);
  Status audit(const WriteContext& context, std::string_view entity, std::string_view entity_id,
               std::string_view action, const std::string& payload);
  // Looks `key` up in scope; returns the stored result, nullopt when new, or AlreadyExists
  // when the key was used for a different request.
  Result<std::optional<std::string>> find_idempotent(const IdempotencyKey& key,
                                                     std::string_view scope);
  Status store_idempotent(const IdempotencyKey& key, std::string_view scope,
                          const std::string& result, const WriteContext& context);
  Result<CardFunds> read_funds(const std::string& number, const std::string& call_id);
  // append_ledger and append_interim_debit: with `expected`, the call's funds must still match.
  Result<CardFunds> write_ledger(const std::string& number, const std::vector<LedgerEntry>& entries,
                                 bool require_available, const CardFunds* expected,
                                 const std::optional<IdempotencyKey>& key,
                                 const WriteContext& context);
  // Inserts `entries` into card_ledger and, when `row_ids` is given, stores the rowid (seq) of
  // each inserted row there in order.
  Status insert_ledger(const std::string& number, const std::vector<LedgerEntry>& entries,
                       const WriteContext& context,
                       std::vector<std::int64_t>* row_ids = nullptr);
  // Inserts `entries` of a prepaid card into card_ledger with a journal for each top-up (a
  // credit with no call) and each balance refund (a refund with no call) among them.
  Status insert_prepaid_ledger(const std::string& number, const std::vector<LedgerEntry>& entries,
                               const WriteContext& context);
  Status insert_call(const CallRequest& request, const WriteContext& context);
  // Inserts the call row and its audit entry, in the caller's transaction.
  Status insert_call_audited(const CallRequest& request, const WriteContext& context);
  Status insert_event(const std::string& call_id, const CallEventRecord& event);
  // Inserts `event` and its audit entry, in the caller's transaction.
  Status insert_event_audited(const std::string& call_id, const CallEventRecord& event);
  // append_call_event and append_call_event_with_response; `response` may be null.
  Status append_call_event_storing(const std::string& call_id, const CallEventRecord& event,
                                   const StoredResponse* response);
  // Appends `events` of one call with multi-row INSERTs.
  Status insert_events(const std::string& call_id, const std::vector<CallEventRecord>& events);
  Result<std::optional<CallPosting>> read_posting(const std::string& call_id);
  // Reads a RateDeckHeader from the current row of `select`, whose first columns are seq, name,
  // sha256, effective_from (NULL read as ''), actor and at.
  RateDeckHeader read_deck_header(ScopedStatement& select);
  // Reads the deck of the first row of `select`, which lists the columns current_rate_deck
  // lists, with its files; nullopt when there is no row.
  Result<std::optional<StoredRateDeck>> read_stored_deck(ScopedStatement& select);
  // Fills in request.quote (schema 12 on), request_key and request_hash (schema 17 on) from
  // the call row of request.id. A call stored without a quote keeps quote empty.
  Status read_quote_and_request_key(CallRequest& request);
  Status check_disconnect(const std::string& call_id, const CallEventRecord& disconnect,
                          bool& already_stored);
  Status check_card_funds(const PostingRequest& request);
  Status insert_posting(const CallPosting& posting, const std::string& card_number,
                        const std::vector<LedgerEntry>& card_entries, const IdempotencyKey& key,
                        const JournalParties* parties, const WriteContext& context);

  // Journal entries of a call being posted; InvalidArgument when its total is not the sum of
  // its lines, so the journal never takes an unbalanced posting. Without `parties` the call
  // row is read for them.
  Status insert_call_journal(const CallPosting& posting, const JournalParties* parties,
                             const WriteContext& context);
  Status insert_journal_entry(const std::string& journal_id, const std::string& account,
                              Money amount, const std::string& call_id,
                              const WriteContext& context);
  // Adds the hash of a row just inserted into `table` to the records of the next audit entry.
  void record_appended(ChainedTableId table, std::string_view canonical);
  // Adds the hash of row `row_id` of `table` to the records of the next audit entry.
  void record_row(ChainedTableId table, std::int64_t row_id, std::string_view canonical);
  // Returns the cached INSERT of `rows` rows into `table`, binding every ChainedTable column.
  ScopedStatement multi_row_insert(ChainedTableId table, std::size_t rows);
  // Writes an audit entry for records still pending at commit.
  Status flush_records();
  // The row_hash of the last audit row, read once per write transaction.
  Result<std::string> chain_head();
  // Inserts one audit_log row whose hash is already computed.
  Status insert_audit_row(std::string_view at, std::string_view actor, std::string_view entity,
                          std::string_view entity_id, std::string_view action,
                          std::string_view payload, std::string_view prev_hash,
                          std::string_view row_hash, std::string_view records);
  Status post_credit_journal(const CreditRecord& credit, const std::string& line_kind,
                             const WriteContext& context);
  Result<CreditRecord> insert_credit(const CreditRequest& request, const WriteContext& context);
  // True when `action` with `adjustment` repeats the resolution `last`: the same action and,
  // for an adjustment, a credit on the same line for the same reason and amount.
  Result<bool> is_repeated_resolution(const DisputeStep& last, DisputeAction action,
                                      const std::optional<CreditRequest>& adjustment);
  Status insert_dispute_step(const std::string& dispute_id, DisputeStep step,
                             const WriteContext& context);

  sqlite3* db_ = nullptr;
  // The database file for relaygw's checkpoint and read locks, or nullptr. See
  // billing/detail/sqlite_read_only.hpp. Destroyed after db_ is closed.
  std::unique_ptr<detail::DatabaseFile> file_;
  // Background checkpoints of db_, or null. Destroyed before db_ is closed.
  std::unique_ptr<detail::WalCheckpointer> checkpointer_;
  int schema_version_ = 0;
  // Last audit_log row_hash, cached inside a write transaction only.
  std::optional<std::string> chain_head_;
  // Records entries (billing/record_chain.hpp) of rows appended since the last audit entry.
  std::string pending_records_;
  std::optional<WriteContext> last_write_context_;
  // While post_completed_calls runs: takes the appended rows and audit rows to hash on its
  // thread, in place of pending_records_ and audit's own hashing.
  detail::AuditHasher* audit_hasher_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements_;
  // SQL text of the multi-row INSERTs; statements_ is keyed by these strings' addresses.
  std::map<std::pair<ChainedTableId, std::size_t>, std::string> multi_row_sql_;
  std::optional<Instant> cached_instant_;
  std::string cached_instant_text_;
};

}  // namespace relaygw::billing
