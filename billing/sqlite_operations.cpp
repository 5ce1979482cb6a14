// SqliteStore methods for billing operations (schema 5): credits, disputes, the double-entry
// journal, reconciliation and the record check. They use raw prepared statements because the
// cached-statement helpers are private to sqlite_store.cpp, and record each inserted row's
// canonical bytes for the record chain themselves.
#include <algorithm>
#include <map>

#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include "billing/cards.hpp"
#include "billing/detail/sqlite_error.hpp"
#include "billing/detail/sqlite_transaction.hpp"
#include "billing/next_step.hpp"
#include "billing/sqlite_store.hpp"
#include "common/card_digits.hpp"

namespace relaygw::billing {
namespace {

// The person an actor string names, for comparing two actors: without surrounding spaces and
// with ASCII letters in lower case, so "Clerk:Bob " and "clerk:bob" are the same person.
std::string actor_key(std::string_view actor) {
  const auto first = actor.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return "";
  }
  actor = actor.substr(first, actor.find_last_not_of(" \t") - first + 1);
  std::string key(actor);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
  });
  return key;
}

// One prepared statement, finalized at the end of its scope.
class Query {
 public:
  Query(sqlite3* db, const char* sql) : db_(db) {
    prepared_ = sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr);
  }
  ~Query() { sqlite3_finalize(statement_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::string_view text) {
    sqlite3_bind_text(statement_, ++index_, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
    append_canonical_text(canonical_, text);
    return *this;
  }
  Query& bind(const std::string& text) { return bind(std::string_view(text)); }
  Query& bind(const char* text) { return bind(std::string_view(text)); }
  Query& bind(std::int64_t value) {
    sqlite3_bind_int64(statement_, ++index_, value);
    append_canonical_integer(canonical_, value);
    return *this;
  }
  Query& bind_null() {
    sqlite3_bind_null(statement_, ++index_);
    append_canonical_null(canonical_);
    return *this;
  }
  Query& bind_optional(const std::optional<std::int64_t>& value) {
    return value ? bind(*value) : bind_null();
  }
  Query& bind_optional_text(const std::string& text) {
    return text.empty() ? bind_null() : bind(text);
  }

  Result<bool> next() {
    if (prepared_ != SQLITE_OK) {
      return Status(StatusCode::Internal, std::string("SQL prepare failed: ") +
                                              sqlite3_errmsg(db_) +
                                              "; the database may be older than schema 5");
    }
    const int code = sqlite3_step(statement_);
    if (code == SQLITE_ROW) {
      return true;
    }
    if (code == SQLITE_DONE) {
      return false;
    }
    return detail::statement_failure(statement_, code, "SQLite statement failed");
  }
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
  std::string type_name(int column) const { return detail::column_type_name(statement_, column); }
  // Canonical bytes of the values bound so far (billing/record_chain.hpp).
  const std::string& canonical() const { return canonical_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
  int prepared_ = SQLITE_OK;
  int index_ = 0;
  std::string canonical_;
};

Instant instant_or_epoch(const std::string& text) {
  Result<Instant> parsed = parse_instant(text);
  return parsed ? *parsed : Instant{};
}

// Reads a stored credit_decisions.state, which the schema limits to these three names.
CreditState parse_credit_state(const std::string& state) {
  return state == "applied"    ? CreditState::Applied
         : state == "rejected" ? CreditState::Rejected
                               : CreditState::Pending;
}

// Returns the state a dispute is in after an adjustment whose credit is in `credit`: waiting
// for approval, resolved once the credit is applied, or back to `before` when it was rejected.
DisputeState state_after_adjustment(CreditState credit, DisputeState before) {
  switch (credit) {
    case CreditState::Pending:
      return DisputeState::PendingApproval;
    case CreditState::Applied:
      return DisputeState::Resolved;
    case CreditState::Rejected:
      break;
  }
  return before;
}

// Rejects a step on `dispute` while its adjustment credit waits for approval.
Status pending_adjustment_error(const Dispute& dispute) {
  const DisputeStep& adjusted = dispute.steps.back();
  return Status(StatusCode::FailedPrecondition,
                "dispute '" + dispute.id + "' was resolved with adjustment credit " +
                    adjusted.credit_id + ", which waits for approval by a staff member other " +
                    "than " + adjusted.actor + ", so the customer is not credited yet; approve " +
                    "it with `relaygw credit approve --credit " + adjusted.credit_id +
                    "`, or reject it with `relaygw credit reject --credit " + adjusted.credit_id +
                    "` to reopen the dispute, before taking another step");
}

constexpr const char* kCreditColumns =
    "SELECT c.id, c.call_id, c.line_no, c.reason, c.reason_text, c.amount, c.rule, "
    "COALESCE(c.dispute_id, ''), c.actor, c.at, d.state, d.actor, d.note FROM credits c "
    "JOIN credit_decisions d ON d.seq = (SELECT MAX(seq) FROM credit_decisions "
    "WHERE credit_id = c.id) ";

// Returns the Corrupt status when the amount of the credit in `row` (kCreditColumns) is not
// stored as an integer, which read_credit would truncate or read as 0.
Status check_credit_amount(sqlite3* db, const Query& row) {
  if (row.type_name(5) == "integer") {
    return Status::ok();
  }
  return detail::non_integer_amount_failure(
      db, "credits",
      "credit " + row.text(0) + " (call " + row.text(1) + " line " + row.text(2) + ")", row.text(5),
      row.type_name(5));
}

CreditRecord read_credit(const Query& row) {
  CreditRecord credit;
  credit.id = row.text(0);
  credit.call_id = row.text(1);
  credit.line_no = row.integer(2);
  credit.reason = parse_credit_reason(row.text(3)).value_or(CreditReason::Other);
  // Text stored before card numbers were masked on the way in is masked on the way out.
  credit.reason_text = mask_card_number_runs(row.text(4));
  credit.amount = row.integer(5);
  credit.rule = row.text(6);
  credit.dispute_id = row.text(7);
  credit.actor = row.text(8);
  credit.at = instant_or_epoch(row.text(9));
  credit.state = parse_credit_state(row.text(10));
  if (credit.state != CreditState::Pending) {
    credit.decided_by = row.text(11);
    credit.decision_note = mask_card_number_runs(row.text(12));
  }
  return credit;
}

nlohmann::json credit_json(const CreditRecord& credit) {
  return {{"call_id", credit.call_id},
          {"line_no", credit.line_no},
          {"reason", to_string(credit.reason)},
          {"reason_text", credit.reason_text},
          {"amount", credit.amount},
          {"rule", credit.rule},
          {"dispute_id", credit.dispute_id},
          {"state", to_string(credit.state)}};
}

}  // namespace

// ---- Journal ----

Status SqliteStore::post_credit_journal(const CreditRecord& credit, const std::string& line_kind,
                                        const WriteContext& context) {
  // A postpaid card's charges are billed to its line, so its credits go to that line's
  // receivable too. A sent-paid call stores no billed number, so its calling line owes it.
  // From schema 13 an old call's numbers are read through its E.164 correction.
  Query call(db_,
             schema_version_ >= kCallNumberCorrectionsSchema
                 ? "SELECT c.card_number, COALESCE(n.billed_number, c.billed_number), "
                   "COALESCE(n.from_number, c.from_number), COALESCE(k.funding, ''), "
                   "COALESCE(k.billed_line, '') FROM calls c "
                   "LEFT JOIN cards k ON k.number = c.card_number "
                   "LEFT JOIN call_number_corrections n ON n.call_id = c.id WHERE c.id = ?"
                 : "SELECT c.card_number, c.billed_number, c.from_number, "
                   "COALESCE(k.funding, ''), COALESCE(k.billed_line, '') "
                   "FROM calls c LEFT JOIN cards k ON k.number = c.card_number WHERE c.id = ?");
  call.bind(credit.call_id);
  Result<bool> row = call.next();
  if (!row) {
    return row.status();
  }
  const std::string card_number = call.text(0);
  const std::string billed = call.text(1).empty() ? call.text(2) : call.text(1);
  const bool postpaid_card = !card_number.empty() && call.text(3) == "postpaid";
  std::string customer =
      card_number.empty() ? "receivable:" + billed : card_account_for(card_number);
  if (postpaid_card) {
    customer = card_line_receivable_account(call.text(4));
  }
  // A credited tax comes back out of taxes payable; anything else is a contra-revenue entry.
  const std::string debit = line_kind == "tax" ? std::string("taxes-payable")
                                               : "credits:" + std::string(to_string(credit.reason));
  const std::string at = format_instant(context.at);
  for (const auto& [account, amount] :
       {std::pair<std::string, Money>{debit, credit.amount}, {customer, -credit.amount}}) {
    Status status =
        insert_journal_entry("credit:" + credit.id, account, amount, credit.call_id, context);
    if (!status) {
      return status;
    }
  }
  if (card_number.empty()) {
    return Status::ok();
  }
  // A postpaid card with no credit limit has no ledger, and a refund entry would give it a
  // balance that limits its next call. A prepaid card, or a postpaid card's limit, gets back
  // what it paid: the card ledger counts refunds in the balance.
  Result<CardFunds> funds = read_funds(card_number, credit.call_id);
  if (!funds) {
    return funds.status();
  }
  if (postpaid_card && !funds->has_entries) {
    return Status::ok();
  }
  // The credit first writes off what the card never paid (the uncollected amount before this
  // credit), and only the rest is refunded, so a write-off never pays the card.
  Query owed(db_,
             "SELECT p.total - COALESCE((SELECT SUM(c.amount) FROM credits c JOIN "
             "credit_decisions d ON d.seq = (SELECT MAX(seq) FROM credit_decisions "
             "WHERE credit_id = c.id) WHERE c.call_id = p.call_id AND d.state = 'applied' "
             "AND c.id <> ?1), 0) FROM call_postings p WHERE p.call_id = ?2");
  owed.bind(credit.id).bind(credit.call_id);
  Result<bool> owed_row = owed.next();
  if (!owed_row) {
    return owed_row.status();
  }
  const Money still_charged = *owed_row ? owed.integer(0) : 0;
  const Money uncollected = std::max(Money{0}, still_charged - funds->debited_for_call);
  const Money refund = credit.amount - std::min(credit.amount, uncollected);
  if (refund <= 0) {
    return Status::ok();
  }
  return insert_ledger(card_number, {LedgerEntry{LedgerKind::Refund, refund, credit.call_id}},
                       context);
}

Result<JournalCheck> SqliteStore::check_journal() {
  JournalCheck check;
  Query totals(db_,
               "SELECT COUNT(DISTINCT journal_id), COUNT(*), COALESCE(SUM(amount), 0) "
               "FROM journal_entries");
  Result<bool> row = totals.next();
  if (!row) {
    return row.status();
  }
  check.journals = totals.integer(0);
  check.entries = totals.integer(1);
  check.total = totals.integer(2);
  Query unbalanced(db_,
                   "SELECT journal_id, SUM(amount) FROM journal_entries GROUP BY journal_id "
                   "HAVING SUM(amount) <> 0 ORDER BY MIN(seq)");
  while (true) {
    Result<bool> next = unbalanced.next();
    if (!next) {
      return next.status();
    }
    if (!*next) {
      break;
    }
    check.imbalances.push_back({unbalanced.text(0), unbalanced.integer(1)});
  }
  return check;
}

Result<std::vector<AccountBalance>> SqliteStore::account_balances() {
  std::vector<AccountBalance> balances;
  Query select(db_,
               "SELECT account, SUM(amount) FROM journal_entries GROUP BY account "
               "ORDER BY account");
  while (true) {
    Result<bool> row = select.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      break;
    }
    balances.push_back({select.text(0), select.integer(1)});
  }
  return balances;
}

Status SqliteStore::non_integer_amount(std::string_view table) {
  // For each table, the query for its first row whose amount is not an integer. It returns the
  // row as the message names it, the amount and its type. Card numbers, which card_ledger rows
  // and the card accounts of journal entries contain, are left out, because messages never show
  // a full card number.
  struct AmountColumn {
    std::string_view table;
    const char* sql;
  };
  static constexpr AmountColumn kColumns[] = {
      {"call_postings",
       "SELECT 'call ' || call_id, total, typeof(total) FROM call_postings "
       "WHERE typeof(total) <> 'integer' ORDER BY rowid LIMIT 1"},
      {"charge_lines",
       "SELECT 'call ' || call_id || ' line ' || line_no, amount, typeof(amount) "
       "FROM charge_lines WHERE typeof(amount) <> 'integer' ORDER BY rowid LIMIT 1"},
      {"credits",
       "SELECT 'credit ' || id || ' (call ' || call_id || ' line ' || line_no || ')', amount, "
       "typeof(amount) FROM credits WHERE typeof(amount) <> 'integer' ORDER BY rowid LIMIT 1"},
      {"journal_entries",
       "SELECT 'entry ' || seq || ' (journal ' || journal_id || ')', amount, typeof(amount) "
       "FROM journal_entries WHERE typeof(amount) <> 'integer' ORDER BY seq LIMIT 1"},
      {"card_ledger",
       "SELECT 'entry ' || seq || CASE WHEN call_id = '' THEN '' ELSE ' (call ' || call_id || "
       "')' END, amount, typeof(amount) FROM card_ledger WHERE typeof(amount) <> 'integer' "
       "ORDER BY seq LIMIT 1"},
  };
  for (const AmountColumn& column : kColumns) {
    if (column.table != table) {
      continue;
    }
    Query query(db_, column.sql);
    Result<bool> row = query.next();
    if (!row) {
      return row.status();
    }
    if (*row) {
      return detail::non_integer_amount_failure(db_, table, query.text(0), query.text(1),
                                                query.text(2));
    }
  }
  // The sum that found the row runs in the same read transaction, so this is not reached
  // unless `table` is not listed above.
  return Status(StatusCode::Corrupt, "table " + std::string(table) + " of database '" +
                                         detail::database_path(db_) +
                                         "' stores an amount that is not an integer; run "
                                         "`relaygw audit verify` on it to list the changed rows");
}

Status SqliteStore::non_integer_card_ledger_amount(const std::string& number) {
  // The message names the entry by its seq and call, never by the card number.
  Query query(db_,
              "SELECT 'entry ' || seq || CASE WHEN call_id = '' THEN '' ELSE ' (call ' || "
              "call_id || ')' END, amount, typeof(amount) FROM card_ledger WHERE number = ? AND "
              "typeof(amount) <> 'integer' ORDER BY seq LIMIT 1");
  query.bind(number);
  Result<bool> row = query.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return non_integer_amount("card_ledger");
  }
  return detail::non_integer_amount_failure(db_, "card_ledger", query.text(0), query.text(1),
                                            query.text(2));
}

Status SqliteStore::begin_read(bool& began) {
  began = sqlite3_get_autocommit(db_) != 0;
  return began ? exec("BEGIN") : Status::ok();
}

void SqliteStore::end_read(bool began) {
  // A read transaction changed nothing, so ROLLBACK ends it the same way if COMMIT fails.
  if (began && !exec("COMMIT")) {
    (void)exec("ROLLBACK");
  }
}

// The day's sums come from several queries, so they run in one read transaction: a call
// posted between two of them would otherwise show as a mismatch.
Result<Reconciliation> SqliteStore::reconcile_day(const std::string& date) {
  return read_consistently([&] { return reconcile_day_in_transaction(date); });
}

Result<Reconciliation> SqliteStore::reconcile_day_in_transaction(const std::string& date) {
  Reconciliation report;
  report.date = date;
  if (!parse_instant(date + "T00:00:00Z")) {
    return Status(StatusCode::InvalidArgument,
                  "date '" + date + "' is invalid; use YYYY-MM-DD, for example 2026-03-10");
  }
  const std::string pattern = date + "T%";
  // Each query returns a count, a sum of amounts of `table`, and how many of those amounts
  // are not stored as integers, which SUM would add as reals, or as 0 for text, without an
  // error.
  auto single = [&](const char* sql, std::string_view table, std::int64_t& count,
                    Money& sum) -> Status {
    Query query(db_, sql);
    query.bind(pattern);
    Result<bool> row = query.next();
    if (!row) {
      return row.status();
    }
    if (query.integer(2) != 0) {
      return non_integer_amount(table);
    }
    count = query.integer(0);
    sum = query.integer(1);
    return Status::ok();
  };
  std::int64_t ignored = 0;
  Status status = single(
      "SELECT COUNT(*), COALESCE(SUM(total), 0), COALESCE(SUM(typeof(total) <> "
      "'integer'), 0) FROM call_postings WHERE at LIKE ?",
      "call_postings", report.calls_posted, report.call_totals);
  if (status) {
    status = single(
        "SELECT COUNT(*), COALESCE(SUM(l.amount), 0), COALESCE(SUM(typeof(l.amount) <> 'integer'), "
        "0) FROM charge_lines l "
        "JOIN call_postings p ON p.call_id = l.call_id WHERE p.at LIKE ?",
        "charge_lines", ignored, report.charge_lines);
  }
  if (status) {
    status = single(
        "SELECT COUNT(*), COALESCE(SUM(e.amount), 0), COALESCE(SUM(typeof(e.amount) <> 'integer'), "
        "0) FROM journal_entries e "
        "JOIN call_postings p ON e.journal_id = 'call:' || p.call_id "
        "WHERE p.at LIKE ? AND (e.account LIKE 'receivable:%' OR "
        "e.account LIKE 'card:%')",
        "journal_entries", ignored, report.call_journal);
  }
  if (status) {
    status = single(
        "SELECT COUNT(*), COALESCE(SUM(c.amount), 0), COALESCE(SUM(typeof(c.amount) <> 'integer'), "
        "0) FROM credits c "
        "JOIN credit_decisions d ON d.credit_id = c.id AND d.state = 'applied' "
        "WHERE d.at LIKE ?",
        "credits", report.credits_applied, report.credit_amounts);
  }
  if (status) {
    status = single(
        "SELECT COUNT(*), COALESCE(-SUM(e.amount), 0), COALESCE(SUM(typeof(e.amount) <> "
        "'integer'), 0) FROM journal_entries e "
        "JOIN credit_decisions d ON e.journal_id = 'credit:' || d.credit_id "
        "AND d.state = 'applied' WHERE d.at LIKE ? AND (e.account LIKE "
        "'receivable:%' OR e.account LIKE 'card:%')",
        "journal_entries", ignored, report.credit_journal);
  }
  if (status) {
    status = single(
        "SELECT COUNT(*), COALESCE(SUM(e.amount), 0), COALESCE(SUM(typeof(e.amount) <> 'integer'), "
        "0) FROM journal_entries e "
        "JOIN call_postings p ON e.journal_id = 'call:' || p.call_id "
        "WHERE p.at LIKE ? AND e.account LIKE 'relay-fund:%'",
        "journal_entries", ignored, report.relay_fund_entries);
  }
  if (status) {
    status = single(
        "SELECT COUNT(*), COALESCE(-SUM(e.amount), 0), COALESCE(SUM(typeof(e.amount) <> "
        "'integer'), 0) FROM journal_entries e "
        "JOIN call_postings p ON e.journal_id = 'call:' || p.call_id "
        "WHERE p.at LIKE ? AND e.account = 'revenue:relay-service'",
        "journal_entries", ignored, report.relay_service_revenue);
  }
  // Prepaid card top-ups and balance refunds of the day (card_ledger rows with no call), and
  // the card-account entries of the journals named after those rows. Before schema 14 the
  // journal held no card money, so an older database is not checked for it.
  const bool card_money_journaled = schema_version_ >= kCardMoneyJournalSchema;
  if (status && card_money_journaled) {
    status = single(
        "SELECT COUNT(*), COALESCE(SUM(l.amount), 0), COALESCE(SUM(typeof(l.amount) <> 'integer'), "
        "0) FROM card_ledger l "
        "JOIN cards k ON k.number = l.number WHERE l.at LIKE ? AND k.funding = 'prepaid' "
        "AND l.kind = 'credit' AND l.call_id = '' AND l.amount <> 0",
        "card_ledger", report.card_topups, report.card_topup_amounts);
  }
  if (status && card_money_journaled) {
    status = single(
        "SELECT COUNT(*), COALESCE(-SUM(e.amount), 0), COALESCE(SUM(typeof(e.amount) <> "
        "'integer'), 0) FROM card_ledger l "
        "JOIN cards k ON k.number = l.number "
        "JOIN journal_entries e ON e.journal_id = 'card-topup:' || l.seq "
        "AND e.account = 'card:' || l.number WHERE l.at LIKE ? AND k.funding = 'prepaid' "
        "AND l.kind = 'credit' AND l.call_id = ''",
        "journal_entries", ignored, report.card_topup_journal);
  }
  if (status && card_money_journaled) {
    status = single(
        "SELECT COUNT(*), COALESCE(-SUM(l.amount), 0), COALESCE(SUM(typeof(l.amount) <> "
        "'integer'), 0) FROM card_ledger l "
        "JOIN cards k ON k.number = l.number WHERE l.at LIKE ? AND k.funding = 'prepaid' "
        "AND l.kind = 'refund' AND l.call_id = '' AND l.amount <> 0",
        "card_ledger", report.card_refunds, report.card_refund_amounts);
  }
  if (status && card_money_journaled) {
    status = single(
        "SELECT COUNT(*), COALESCE(SUM(e.amount), 0), COALESCE(SUM(typeof(e.amount) <> 'integer'), "
        "0) FROM card_ledger l "
        "JOIN cards k ON k.number = l.number "
        "JOIN journal_entries e ON e.journal_id = 'card-refund:' || l.seq "
        "AND e.account = 'card:' || l.number WHERE l.at LIKE ? AND k.funding = 'prepaid' "
        "AND l.kind = 'refund' AND l.call_id = ''",
        "journal_entries", ignored, report.card_refund_journal);
  }
  if (status) {
    Money day_total = 0;
    status = single(
        "SELECT COUNT(DISTINCT journal_id), COALESCE(SUM(amount), 0), COALESCE(SUM(typeof(amount) "
        "<> 'integer'), 0) "
        "FROM journal_entries WHERE at LIKE ?",
        "journal_entries", report.journal.journals, day_total);
    report.journal.total = day_total;
  }
  if (!status) {
    return status;
  }
  Query unbalanced(db_,
                   "SELECT journal_id, SUM(amount) FROM journal_entries WHERE at LIKE ? "
                   "GROUP BY journal_id HAVING SUM(amount) <> 0");
  unbalanced.bind(pattern);
  while (true) {
    Result<bool> row = unbalanced.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      break;
    }
    report.journal.imbalances.push_back({unbalanced.text(0), unbalanced.integer(1)});
  }

  Query funds(db_,
              "SELECT e.account, SUM(e.amount) FROM journal_entries e "
              "JOIN call_postings p ON e.journal_id = 'call:' || p.call_id "
              "WHERE p.at LIKE ? AND e.account LIKE 'relay-fund:%' "
              "GROUP BY e.account ORDER BY e.account");
  funds.bind(pattern);
  while (true) {
    Result<bool> row = funds.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      break;
    }
    report.relay_funds.push_back({funds.text(0), funds.integer(1)});
  }

  auto mismatch = [&](const std::string& what, Money left, Money right) {
    if (left != right) {
      report.mismatches.push_back({ReconciliationMismatch::Kind::Pair, what, left, right});
    }
  };
  mismatch("call totals against charge lines", report.call_totals, report.charge_lines);
  mismatch("call totals against customer journal entries", report.call_totals, report.call_journal);
  mismatch("credits applied against credit journal entries", report.credit_amounts,
           report.credit_journal);
  mismatch("relay fund entries against relay service revenue", report.relay_fund_entries,
           report.relay_service_revenue);
  mismatch("card top-ups against top-up journal entries", report.card_topup_amounts,
           report.card_topup_journal);
  mismatch("card balance refunds against refund journal entries", report.card_refund_amounts,
           report.card_refund_journal);
  if (report.journal.total != 0) {
    report.mismatches.push_back(
        {ReconciliationMismatch::Kind::DayTotal, "", report.journal.total, 0});
  }
  for (const JournalImbalance& imbalance : report.journal.imbalances) {
    report.mismatches.push_back(
        {ReconciliationMismatch::Kind::Journal, imbalance.journal_id, imbalance.sum, 0});
  }
  return report;
}

Result<RecordCheck> SqliteStore::verify_records() { return billing::verify_records(db_); }

// ---- Credits ----

Result<Money> SqliteStore::credit_remaining(const std::string& call_id, std::int64_t line_no) {
  Query line(db_, "SELECT amount FROM charge_lines WHERE call_id = ? AND line_no = ?");
  line.bind(call_id).bind(line_no);
  Result<bool> row = line.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return failed_with_step(
        StatusCode::NotFound,
        "call " + call_id + " has no posted charge line " + std::to_string(line_no),
        {NextStep::Kind::PickChargeLine, call_id});
  }
  const Money charged = line.integer(0);
  // Pending credits count against the line too, so two waiting requests cannot together
  // exceed the charge once both are approved.
  Query given(db_,
              "SELECT COALESCE(SUM(c.amount), 0) FROM credits c JOIN credit_decisions d "
              "ON d.seq = (SELECT MAX(seq) FROM credit_decisions WHERE credit_id = c.id) "
              "WHERE c.call_id = ? AND c.line_no = ? AND d.state IN ('pending', 'applied')");
  given.bind(call_id).bind(line_no);
  row = given.next();
  if (!row) {
    return row.status();
  }
  return charged - given.integer(0);
}

Result<CreditRecord> SqliteStore::insert_credit(const CreditRequest& request,
                                                const WriteContext& context) {
  if (request.reason == CreditReason::Other && request.reason_text.empty()) {
    return failed_with_step(StatusCode::InvalidArgument,
                            "credit reason 'other' needs a text naming the reason",
                            {NextStep::Kind::GiveCreditText, request.call_id});
  }
  Query kind(db_, "SELECT kind FROM charge_lines WHERE call_id = ? AND line_no = ?");
  kind.bind(request.call_id).bind(request.line_no);
  Result<bool> kind_row = kind.next();
  if (!kind_row) {
    return kind_row.status();
  }
  const std::string line_kind = *kind_row ? kind.text(0) : std::string();
  Result<Money> remaining = credit_remaining(request.call_id, request.line_no);
  if (!remaining) {
    return remaining.status();
  }
  const std::string where = "call " + request.call_id + " line " + std::to_string(request.line_no);
  if (*remaining <= 0) {
    return failed_with_step(StatusCode::FailedPrecondition,
                            where + " has nothing left to credit (" + format_money(*remaining) +
                                " after earlier credits)",
                            {NextStep::Kind::ListCallCredits, request.call_id});
  }
  Money amount = request.amount.value_or(*remaining);
  if (request.overcharge) {
    Query given(db_,
                "SELECT COALESCE(SUM(c.amount), 0) FROM credits c JOIN credit_decisions d "
                "ON d.seq = (SELECT MAX(seq) FROM credit_decisions WHERE credit_id = c.id) "
                "WHERE c.call_id = ? AND c.line_no = ? AND c.reason = 'rating-error' "
                "AND d.state IN ('pending', 'applied')");
    given.bind(request.call_id).bind(request.line_no);
    Result<bool> row = given.next();
    if (!row) {
      return row.status();
    }
    const Money credited = given.integer(0);
    const Money unclaimed = *request.overcharge - credited;
    if (unclaimed <= 0) {
      return failed_with_step(
          StatusCode::FailedPrecondition,
          where + " was overcharged $" + format_money(*request.overcharge) +
              ", and earlier rating-error credits on it total $" + format_money(credited) +
              ", so no rating error is left to credit",
          {NextStep::Kind::ListCallCredits, request.call_id});
    }
    if (amount > unclaimed) {
      if (request.rule != "re-rate") {
        return Status(StatusCode::InvalidArgument,
                      "a rating-error credit of $" + format_money(amount) + " on " +
                          where + " is too large: of its $" +
                          format_money(*request.overcharge) + " overcharge, $" +
                          format_money(credited) +
                          " was credited already; request at most $" +
                          format_money(unclaimed));
      }
      amount = unclaimed;
    }
  }
  if (amount <= 0) {
    return Status(StatusCode::InvalidArgument,
                  "credit amount " + format_money(amount) + " is invalid; give a positive amount");
  }
  if (Status cents = check_whole_cents("credit amount", amount, kUnitsPerCent, *remaining);
      !cents) {
    return cents;
  }
  if (amount > *remaining) {
    return Status(StatusCode::FailedPrecondition,
                  "credit of $" + format_money(amount) + " exceeds the $" +
                      format_money(*remaining) + " left to credit on " + where +
                      "; request at most that amount");
  }

  CreditRecord credit;
  credit.id = request.id;
  credit.call_id = request.call_id;
  credit.line_no = request.line_no;
  credit.reason = request.reason;
  credit.reason_text = mask_card_number_runs(request.reason_text);
  credit.amount = amount;
  credit.rule = request.rule;
  credit.dispute_id = request.dispute_id;
  credit.actor = context.actor;
  credit.at = context.at;
  // The threshold counts the call's earlier pending and applied credits, so splitting one
  // large credit into pieces below the threshold still needs a supervisor.
  Query earlier(db_,
                "SELECT COALESCE(SUM(c.amount), 0) FROM credits c JOIN credit_decisions d "
                "ON d.seq = (SELECT MAX(seq) FROM credit_decisions WHERE credit_id = c.id) "
                "WHERE c.call_id = ? AND d.state IN ('pending', 'applied')");
  earlier.bind(request.call_id);
  Result<bool> earlier_row = earlier.next();
  if (!earlier_row) {
    return earlier_row.status();
  }
  const Money call_credits = amount + earlier.integer(0);
  const bool needs_approval = request.approval_above && call_credits > *request.approval_above;
  credit.state = needs_approval ? CreditState::Pending : CreditState::Applied;
  if (!needs_approval) {
    credit.decided_by = context.actor;
    credit.decision_note = "applied by policy rule " + request.rule;
  }

  const std::string at = format_instant(context.at);
  Query insert(db_,
               "INSERT INTO credits (id, call_id, line_no, reason, reason_text, amount, "
               "rule, dispute_id, idempotency_key, actor, at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  Status status = insert.bind(credit.id)
                      .bind(credit.call_id)
                      .bind(credit.line_no)
                      .bind(to_string(credit.reason))
                      .bind(credit.reason_text)
                      .bind(credit.amount)
                      .bind(credit.rule)
                      .bind_optional_text(credit.dispute_id)
                      .bind(request.id)
                      .bind(context.actor)
                      .bind(at)
                      .run();
  if (status) {
    record_appended(ChainedTableId::Credits, insert.canonical());
  }
  if (!status) {
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return Status(StatusCode::AlreadyExists,
                    "credit id '" + credit.id + "' is taken; choose another id");
    }
    return status;
  }
  Query decision(db_,
                 "INSERT INTO credit_decisions (credit_id, state, note, actor, at) "
                 "VALUES (?, ?, ?, ?, ?)");
  status = decision.bind(credit.id)
               .bind(to_string(credit.state))
               .bind(needs_approval ? "waiting for a supervisor" : credit.decision_note)
               .bind(context.actor)
               .bind(at)
               .run();
  if (status) {
    record_appended(ChainedTableId::CreditDecisions, decision.canonical());
  }
  if (status && credit.state == CreditState::Applied) {
    status = post_credit_journal(credit, line_kind, context);
  }
  if (status) {
    status = audit(context, "credit", credit.id, "request", credit_json(credit).dump());
  }
  if (!status) {
    return status;
  }
  return credit;
}

Result<CreditRecord> SqliteStore::request_credit(const CreditRequest& request,
                                                 const IdempotencyKey& key,
                                                 const WriteContext& context) {
  Transaction scope(*this);
  Status status = scope.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<std::string>> stored = find_idempotent(key, "credit");
  if (!stored) {
    return stored.status();
  }
  if (*stored) {
    Result<std::optional<CreditRecord>> earlier = find_credit(**stored);
    if (!earlier) {
      return earlier.status();
    }
    return **earlier;
  }
  Result<CreditRecord> credit = insert_credit(request, context);
  if (!credit) {
    return credit;
  }
  status = store_idempotent(key, "credit", credit->id, context);
  if (status) {
    status = scope.commit();
  }
  if (!status) {
    return status;
  }
  return credit;
}

Result<CreditRecord> SqliteStore::decide_credit(const std::string& credit_id, bool approve,
                                                const std::string& note,
                                                const WriteContext& context) {
  Transaction scope(*this);
  Status status = scope.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<CreditRecord>> found = find_credit(credit_id);
  if (!found) {
    return found.status();
  }
  if (!*found) {
    return failed_with_step(StatusCode::NotFound, "credit '" + credit_id + "' does not exist",
                            {NextStep::Kind::ListCredits, ""});
  }
  CreditRecord credit = **found;
  if (credit.state != CreditState::Pending) {
    return Status(StatusCode::FailedPrecondition,
                  "credit '" + credit_id + "' was already " + std::string(to_string(credit.state)) +
                      " by " + credit.decided_by + "; a decided credit cannot change");
  }
  // A credit above the approval threshold needs a second person. The requester may still
  // reject (withdraw) it.
  if (approve && actor_key(context.actor) == actor_key(credit.actor)) {
    return failed_with_step(StatusCode::PermissionDenied,
                            "credit '" + credit_id + "' was requested by " + credit.actor +
                                ", so " + context.actor + " cannot approve it",
                            {NextStep::Kind::ApproveAsOtherStaff, credit_id});
  }
  credit.state = approve ? CreditState::Applied : CreditState::Rejected;
  credit.decided_by = context.actor;
  credit.decision_note = mask_card_number_runs(note);
  Query insert(db_,
               "INSERT INTO credit_decisions (credit_id, state, note, actor, at) "
               "VALUES (?, ?, ?, ?, ?)");
  status = insert.bind(credit.id)
               .bind(to_string(credit.state))
               .bind(credit.decision_note)
               .bind(context.actor)
               .bind(format_instant(context.at))
               .run();
  if (status) {
    record_appended(ChainedTableId::CreditDecisions, insert.canonical());
  }
  if (status && approve) {
    Query kind(db_, "SELECT kind FROM charge_lines WHERE call_id = ? AND line_no = ?");
    kind.bind(credit.call_id).bind(credit.line_no);
    Result<bool> row = kind.next();
    status = row ? post_credit_journal(credit, *row ? kind.text(0) : "", context) : row.status();
  }
  if (status) {
    status =
        audit(context, "credit", credit.id, approve ? "approve" : "reject",
              nlohmann::json{{"note", credit.decision_note}, {"amount", credit.amount}}.dump());
  }
  if (status) {
    status = scope.commit();
  }
  if (!status) {
    return status;
  }
  return credit;
}

Result<std::optional<CreditRecord>> SqliteStore::find_credit(const std::string& credit_id) {
  Query select(db_, (std::string(kCreditColumns) + "WHERE c.id = ?").c_str());
  select.bind(credit_id);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<CreditRecord>();
  }
  if (Status amount = check_credit_amount(db_, select); !amount) {
    return amount;
  }
  return std::optional<CreditRecord>(read_credit(select));
}

Result<std::vector<CreditRecord>> SqliteStore::list_credits(const std::string& call_id) {
  // One text per case, so a call's credits are found through credits_by_line.
  Query select(db_, (std::string(kCreditColumns) +
                     (call_id.empty() ? "ORDER BY c.rowid" : "WHERE c.call_id = ? ORDER BY c.rowid"))
                        .c_str());
  if (!call_id.empty()) {
    select.bind(call_id);
  }
  std::vector<CreditRecord> credits;
  while (true) {
    Result<bool> row = select.next();
    if (!row) {
      return row.status();
    }
    if (!*row) {
      break;
    }
    if (Status amount = check_credit_amount(db_, select); !amount) {
      return amount;
    }
    credits.push_back(read_credit(select));
  }
  return credits;
}

// ---- Disputes ----

Result<std::optional<Dispute>> SqliteStore::find_dispute(const std::string& dispute_id) {
  Query select(db_,
               "SELECT call_id, line_no, customer_account, due_at, actor, at FROM disputes "
               "WHERE id = ?");
  select.bind(dispute_id);
  Result<bool> row = select.next();
  if (!row) {
    return row.status();
  }
  if (!*row) {
    return std::optional<Dispute>();
  }
  Dispute dispute;
  dispute.id = dispute_id;
  dispute.call_id = select.text(0);
  if (!select.is_null(1)) {
    dispute.line_no = select.integer(1);
  }
  // Text stored before card numbers were masked on the way in is masked on the way out.
  dispute.customer_account = mask_card_number_runs(select.text(2));
  dispute.due_at = instant_or_epoch(select.text(3));
  dispute.actor = select.text(4);
  dispute.at = instant_or_epoch(select.text(5));

  // The latest decision of an adjustment's credit sets the state that adjustment leads to.
  Query steps(db_,
              "SELECT s.action, s.state, s.note, COALESCE(s.credit_id, ''), s.actor, s.at, "
              "(SELECT d.state FROM credit_decisions d WHERE d.credit_id = s.credit_id "
              "ORDER BY d.seq DESC LIMIT 1), "
              "(SELECT c.amount FROM credits c WHERE c.id = s.credit_id) "
              "FROM dispute_steps s WHERE s.dispute_id = ? ORDER BY s.seq");
  steps.bind(dispute_id);
  while (true) {
    Result<bool> step_row = steps.next();
    if (!step_row) {
      return step_row.status();
    }
    if (!*step_row) {
      break;
    }
    DisputeStep step;
    step.action = parse_dispute_action(steps.text(0)).value_or(DisputeAction::Note);
    const std::string state = steps.text(1);
    step.state = state == "resolved"    ? DisputeState::Resolved
                 : state == "escalated" ? DisputeState::Escalated
                                        : DisputeState::Open;
    step.note = mask_card_number_runs(steps.text(2));
    step.credit_id = steps.text(3);
    step.actor = steps.text(4);
    step.at = instant_or_epoch(steps.text(5));
    if (step.action == DisputeAction::Adjusted && !steps.is_null(6)) {
      step.credit_state = parse_credit_state(steps.text(6));
      step.state = state_after_adjustment(*step.credit_state, dispute.state());
    }
    if (step.action == DisputeAction::Adjusted && !steps.is_null(7)) {
      step.credit_amount = steps.integer(7);
    }
    dispute.steps.push_back(std::move(step));
  }
  return std::optional<Dispute>(std::move(dispute));
}

Result<std::vector<Dispute>> SqliteStore::list_disputes() {
  std::vector<std::string> ids;
  {
    Query select(db_, "SELECT id FROM disputes ORDER BY rowid");
    while (true) {
      Result<bool> row = select.next();
      if (!row) {
        return row.status();
      }
      if (!*row) {
        break;
      }
      ids.push_back(select.text(0));
    }
  }
  std::vector<Dispute> disputes;
  for (const std::string& id : ids) {
    Result<std::optional<Dispute>> dispute = find_dispute(id);
    if (!dispute) {
      return dispute.status();
    }
    disputes.push_back(std::move(**dispute));
  }
  return disputes;
}

Status SqliteStore::insert_dispute_step(const std::string& dispute_id, DisputeStep step,
                                        const WriteContext& context) {
  // A note is free text, so a card number typed into it is stored masked.
  step.note = mask_card_number_runs(step.note);
  Query insert(db_,
               "INSERT INTO dispute_steps (dispute_id, action, state, note, credit_id, "
               "actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  Status status = insert.bind(dispute_id)
                      .bind(to_string(step.action))
                      .bind(to_string(step.state))
                      .bind(step.note)
                      .bind_optional_text(step.credit_id)
                      .bind(context.actor)
                      .bind(format_instant(context.at))
                      .run();
  if (status) {
    record_appended(ChainedTableId::DisputeSteps, insert.canonical());
  }
  if (status) {
    status = audit(
        context, "dispute", dispute_id, to_string(step.action),
        nlohmann::json{
            {"state", to_string(step.state)}, {"note", step.note}, {"credit_id", step.credit_id}}
            .dump());
  }
  return status;
}

Result<Dispute> SqliteStore::open_dispute(const DisputeOpenRequest& request,
                                          const IdempotencyKey& key, const WriteContext& context) {
  if (request.customer_account.empty()) {
    return Status(StatusCode::InvalidArgument,
                  "a dispute needs the customer's account of it; pass --account TEXT");
  }
  if (request.due_days < 1) {
    return Status(StatusCode::InvalidArgument,
                  "due days " + std::to_string(request.due_days) + " is invalid; give at least 1");
  }
  Transaction scope(*this);
  Status status = scope.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<std::string>> stored = find_idempotent(key, "dispute");
  if (!stored) {
    return stored.status();
  }
  if (*stored) {
    Result<std::optional<Dispute>> earlier = find_dispute(**stored);
    if (!earlier) {
      return earlier.status();
    }
    return **earlier;
  }
  Query call(db_, "SELECT 1 FROM calls WHERE id = ?");
  call.bind(request.call_id);
  Result<bool> exists = call.next();
  if (!exists) {
    return exists.status();
  }
  if (!*exists) {
    return Status(StatusCode::NotFound,
                  "call '" + request.call_id + "' does not exist; check the call id");
  }
  if (request.line_no) {
    Query line(db_, "SELECT 1 FROM charge_lines WHERE call_id = ? AND line_no = ?");
    line.bind(request.call_id).bind(*request.line_no);
    Result<bool> line_exists = line.next();
    if (!line_exists) {
      return line_exists.status();
    }
    if (!*line_exists) {
      return Status(StatusCode::NotFound, "call " + request.call_id + " has no charge line " +
                                              std::to_string(*request.line_no) +
                                              "; omit --line to dispute the whole call");
    }
  }
  const Instant due = context.at + std::chrono::days(request.due_days);
  // The customer's account is free text, so a card number quoted in it is stored masked.
  const std::string account = mask_card_number_runs(request.customer_account);
  Query insert(db_,
               "INSERT INTO disputes (id, call_id, line_no, customer_account, due_at, "
               "idempotency_key, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  status = insert.bind(request.id)
               .bind(request.call_id)
               .bind_optional(request.line_no)
               .bind(account)
               .bind(format_instant(due))
               .bind(key.key)
               .bind(context.actor)
               .bind(format_instant(context.at))
               .run();
  if (status) {
    record_appended(ChainedTableId::Disputes, insert.canonical());
  }
  if (!status && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Status(StatusCode::AlreadyExists,
                  "dispute id '" + request.id + "' is taken; choose another id");
  }
  DisputeStep opened{DisputeAction::Opened, DisputeState::Open, account, "",
                     context.actor,         context.at};
  if (status) {
    status = insert_dispute_step(request.id, opened, context);
  }
  if (status) {
    status = store_idempotent(key, "dispute", request.id, context);
  }
  if (status) {
    status = scope.commit();
  }
  if (!status) {
    return status;
  }
  Result<std::optional<Dispute>> dispute = find_dispute(request.id);
  if (!dispute) {
    return dispute.status();
  }
  return **dispute;
}

Result<bool> SqliteStore::is_repeated_resolution(const DisputeStep& last, DisputeAction action,
                                                 const std::optional<CreditRequest>& adjustment) {
  if (action != last.action) {
    return false;
  }
  if (action == DisputeAction::Denied) {
    return true;
  }
  if (action != DisputeAction::Adjusted || !adjustment) {
    return false;
  }
  Result<std::optional<CreditRecord>> credit = find_credit(last.credit_id);
  if (!credit) {
    return credit.status();
  }
  // The same charge line, and the same amount unless the request left it to the policy.
  return *credit && (*credit)->line_no == adjustment->line_no &&
         (!adjustment->amount || *adjustment->amount == (*credit)->amount) &&
         adjustment->reason == (*credit)->reason;
}

Result<Dispute> SqliteStore::append_dispute_step(const std::string& dispute_id,
                                                 DisputeAction action, const std::string& note,
                                                 const std::optional<CreditRequest>& adjustment,
                                                 const WriteContext& context) {
  Transaction scope(*this);
  Status status = scope.begin();
  if (!status) {
    return status;
  }
  Result<std::optional<Dispute>> found = find_dispute(dispute_id);
  if (!found) {
    return found.status();
  }
  if (!*found) {
    return Status(StatusCode::NotFound, "dispute '" + dispute_id +
                                            "' does not exist; list disputes with "
                                            "`relaygw dispute list`");
  }
  const Dispute& dispute = **found;
  if (dispute.state() == DisputeState::PendingApproval) {
    Result<bool> repeated = is_repeated_resolution(dispute.steps.back(), action, adjustment);
    if (!repeated) {
      return repeated.status();
    }
    if (*repeated) {
      return dispute;  // a repeated resolve is the same resolution, written once
    }
    return pending_adjustment_error(dispute);
  }
  if (dispute.state() == DisputeState::Resolved) {
    const DisputeStep& last = dispute.steps.back();
    Result<bool> repeated = is_repeated_resolution(last, action, adjustment);
    if (!repeated) {
      return repeated.status();
    }
    if (*repeated) {
      return dispute;  // a repeated resolve is the same resolution, written once
    }
    if (action == DisputeAction::Adjusted || action == DisputeAction::Denied) {
      return Status(StatusCode::FailedPrecondition,
                    "dispute '" + dispute_id + "' was already resolved (" +
                        std::string(to_string(last.action)) + ") by " + last.actor + " at " +
                        format_instant(last.at) + " with a different outcome than this " +
                        std::string(to_string(action)) +
                        " request; open a new dispute if the customer disagrees");
    }
    return Status(StatusCode::FailedPrecondition,
                  "dispute '" + dispute_id + "' was already resolved (" +
                      std::string(to_string(last.action)) + ") by " + last.actor + " at " +
                      format_instant(last.at) + "; open a new dispute if the customer disagrees");
  }
  DisputeStep step;
  step.action = action;
  step.note = note;
  step.actor = context.actor;
  step.at = context.at;
  switch (action) {
    case DisputeAction::Opened:
      return Status(StatusCode::InvalidArgument,
                    "dispute '" + dispute_id + "' is already open; add a note instead");
    case DisputeAction::Note:
    case DisputeAction::Investigated:
      step.state = dispute.state();
      break;
    case DisputeAction::Escalated:
      step.state = DisputeState::Escalated;
      break;
    case DisputeAction::Denied:
      step.state = DisputeState::Resolved;
      break;
    case DisputeAction::Adjusted: {
      if (!adjustment) {
        return Status(StatusCode::InvalidArgument,
                      "resolving dispute '" + dispute_id + "' with an adjustment needs a credit");
      }
      CreditRequest credit = *adjustment;
      credit.dispute_id = dispute_id;
      credit.call_id = dispute.call_id;
      Result<CreditRecord> inserted = insert_credit(credit, context);
      if (!inserted) {
        return inserted.status();
      }
      step.credit_id = inserted->id;
      step.state = DisputeState::Resolved;
      break;
    }
  }
  status = insert_dispute_step(dispute_id, step, context);
  if (status) {
    status = scope.commit();
  }
  if (!status) {
    return status;
  }
  Result<std::optional<Dispute>> updated = find_dispute(dispute_id);
  if (!updated) {
    return updated.status();
  }
  return **updated;
}

}  // namespace relaygw::billing
