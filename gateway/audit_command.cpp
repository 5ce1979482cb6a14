// relaygw audit verify / reconcile: checks the audit chain, the record chain and the journal,
// and reconciles one UTC day's calls, charges, credits, card top-ups and refunds and journal
// entries.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {
namespace {

struct AuditOptions {
  DatabaseOptions database;
  std::string date;
  bool json = false;
};

// Returns `report` with an "error" object of the status's code ("corrupt", "not-found") and
// message, the form of the admin API's errors.
nlohmann::json with_error(nlohmann::json report, const Status& status) {
  std::string code = to_string(status.code());
  std::replace(code.begin(), code.end(), ' ', '-');
  report["error"] = {{"code", code}, {"message", status.message()}};
  return report;
}

// Fails `command` with the message of `status`. With --json it first prints `report` with the
// error (with_error), so a program that reads standard output gets JSON for every outcome.
[[noreturn]] void fail_audit(const AuditOptions& options, const std::string& command,
                             nlohmann::json report, const Status& status) {
  if (options.json) {
    std::cout << json_text(with_error(std::move(report), status)) << "\n";
  }
  fail_command(command, status.message());
}

// Opens the database read-only for an audit command, or fails it through fail_audit.
std::unique_ptr<billing::SqliteStore> open_audit_store(const AuditOptions& options,
                                                       const std::string& command,
                                                       const nlohmann::json& failed_report) {
  auto store = open_read_only_store(options.database);
  if (!store) {
    fail_audit(options, command, failed_report, store.status());
  }
  return std::move(store).value();
}

void run_verify(const AuditOptions& options) {
  const CommandLog log("audit verify");
  const nlohmann::json failed = {{"ok", false}};
  auto store = open_audit_store(options, "audit verify", failed);
  nlohmann::json report = {{"ok", true}};
  std::string first_problem;

  // The three checks read in one transaction, so rows that another connection commits
  // meanwhile do not show up as rows without an audit entry.
  std::optional<Result<std::int64_t>> chain_read;
  std::optional<Result<billing::RecordCheck>> records_read;
  std::optional<Result<billing::JournalCheck>> journal_read;
  Result<bool> read = store->read_consistently([&]() -> Result<bool> {
    chain_read.emplace(store->verify_audit_chain());
    records_read.emplace(store->verify_records());
    journal_read.emplace(store->check_journal());
    return true;
  });
  if (!read) {
    fail_audit(options, "audit verify", failed, read.status());
  }
  Result<std::int64_t>& chain = *chain_read;
  report["audit_log_rows"] = chain ? nlohmann::json(*chain) : nlohmann::json(nullptr);
  if (!chain) {
    first_problem = chain.status().message();
    report["problems"].push_back({{"table", "audit_log"}, {"detail", first_problem}});
  }
  Result<billing::RecordCheck>& records = *records_read;
  if (!records) {
    fail_audit(options, "audit verify", failed, records.status());
  }
  report["rows_checked"] = records->rows_checked;
  for (const billing::RecordProblem& problem : records->problems) {
    report["problems"].push_back({{"table", problem.table},
                                  {"row_id", problem.row_id},
                                  {"kind", problem.kind},
                                  {"detail", problem.detail}});
    if (first_problem.empty()) {
      first_problem = problem.table + " row " + std::to_string(problem.row_id) + " " +
                      problem.kind + ": " + problem.detail;
    }
  }
  Result<billing::JournalCheck>& journal = *journal_read;
  if (!journal) {
    // A journal amount too large to sum is reported after the record problems, which name
    // the row that was changed.
    if (journal.status().code() != StatusCode::Corrupt) {
      fail_audit(options, "audit verify", failed, journal.status());
    }
    report["problems"].push_back(
        {{"table", "journal_entries"}, {"detail", journal.status().message()}});
    if (first_problem.empty()) {
      first_problem = journal.status().message();
    }
    report["journal_total"] = nullptr;
    journal = billing::JournalCheck{};
  } else {
    report["journal_total"] = billing::format_dollars(journal->total, 4);
  }
  for (const billing::JournalImbalance& imbalance : journal->imbalances) {
    report["problems"].push_back(
        {{"table", "journal_entries"},
         {"journal_id", imbalance.journal_id},
         {"kind", "unbalanced"},
         {"detail", "sums to " + billing::format_dollars(imbalance.sum, 4)}});
    if (first_problem.empty()) {
      first_problem = "journal " + imbalance.journal_id + " sums to " +
                      billing::format_dollars(imbalance.sum, 4) + ", not zero";
    }
  }
  report["ok"] = first_problem.empty();
  if (options.json) {
    std::cout << json_text(report) << "\n";
  } else if (first_problem.empty()) {
    std::cout << "audit verify: ok, " << records->rows_checked << " rows and "
              << (chain ? *chain : 0) << " audit entries match their hashes; journal balances\n";
  }
  if (!first_problem.empty()) {
    fail_command("audit verify", "first problem: " + first_problem);
  }
}

// Formats `amount` as the card and credit commands print money: "$1,000.00", "-$12.50", or
// four places when it has sub-cent units ("$0.2250").
std::string dollars_text(billing::Money amount) {
  return amount < 0 ? "-$" + billing::format_money(-amount) : "$" + billing::format_money(amount);
}

// Prints the sums of a reconciliation as text. The JSON report keeps four places in every
// amount, its mismatch sentences included, for programs that read it.
void print_reconciliation_sums(const billing::Reconciliation& day) {
  std::cout << "Reconciliation for " << day.date << " (UTC)\n"
            << "  calls posted      " << day.calls_posted << "\n"
            << "  call totals       " << dollars_text(day.call_totals) << "\n"
            << "  charge lines      " << dollars_text(day.charge_lines) << "\n"
            << "  call journal      " << dollars_text(day.call_journal) << "\n"
            << "  credits applied   " << day.credits_applied << " totalling "
            << dollars_text(day.credit_amounts) << "\n"
            << "  credit journal    " << dollars_text(day.credit_journal) << "\n"
            << "  relay fund owed   " << dollars_text(day.relay_fund_entries)
            << " (relay service revenue " << dollars_text(day.relay_service_revenue) << ")\n";
  for (const billing::AccountBalance& fund : day.relay_funds) {
    std::cout << "    " << fund.account << "  " << dollars_text(fund.balance) << "\n";
  }
  std::cout << "  card top-ups      " << day.card_topups << " totalling "
            << dollars_text(day.card_topup_amounts) << " (journal "
            << dollars_text(day.card_topup_journal) << ")\n"
            << "  card refunds      " << day.card_refunds << " totalling "
            << dollars_text(day.card_refund_amounts) << " (journal "
            << dollars_text(day.card_refund_journal) << ")\n";
}

void run_reconcile(const AuditOptions& options) {
  const CommandLog log("audit reconcile");
  const nlohmann::json failed = {{"date", options.date}, {"agrees", false}};
  auto store = open_audit_store(options, "audit reconcile", failed);
  Result<billing::Reconciliation> day = store->reconcile_day(options.date);
  if (!day) {
    // A sum that overflows (Corrupt) or an invalid date ends here.
    fail_audit(options, "audit reconcile", failed, day.status());
  }
  using billing::format_dollars;
  if (options.json) {
    nlohmann::json report = {
        {"date", day->date},
        {"agrees", day->agrees()},
        {"calls_posted", day->calls_posted},
        {"call_totals", format_dollars(day->call_totals, 4)},
        {"charge_lines", format_dollars(day->charge_lines, 4)},
        {"call_journal", format_dollars(day->call_journal, 4)},
        {"credits_applied", day->credits_applied},
        {"credit_amounts", format_dollars(day->credit_amounts, 4)},
        {"credit_journal", format_dollars(day->credit_journal, 4)},
        {"journal_total", format_dollars(day->journal.total, 4)},
        {"relay_fund_entries", format_dollars(day->relay_fund_entries, 4)},
        {"relay_service_revenue", format_dollars(day->relay_service_revenue, 4)},
        {"card_topups", day->card_topups},
        {"card_topup_amounts", format_dollars(day->card_topup_amounts, 4)},
        {"card_topup_journal", format_dollars(day->card_topup_journal, 4)},
        {"card_refunds", day->card_refunds},
        {"card_refund_amounts", format_dollars(day->card_refund_amounts, 4)},
        {"card_refund_journal", format_dollars(day->card_refund_journal, 4)},
        {"mismatches", nlohmann::json::array()}};
    for (const billing::ReconciliationMismatch& mismatch : day->mismatches) {
      report["mismatches"].push_back(
          billing::describe_mismatch(mismatch, billing::format_four_places));
    }
    nlohmann::json funds = nlohmann::json::object();
    for (const billing::AccountBalance& fund : day->relay_funds) {
      funds[fund.account] = format_dollars(fund.balance, 4);
    }
    report["relay_funds"] = funds;
    std::cout << json_text(report) << "\n";
  } else {
    print_reconciliation_sums(*day);
    for (const billing::ReconciliationMismatch& mismatch : day->mismatches) {
      std::cout << "  MISMATCH: " << billing::describe_mismatch(mismatch, dollars_text) << "\n";
    }
    std::cout << (day->agrees() ? "  everything agrees\n" : "");
  }
  if (!day->agrees()) {
    fail_command("audit reconcile",
                 std::to_string(day->mismatches.size()) +
                     (day->mismatches.size() == 1 ? " mismatch on " : " mismatches on ") +
                     day->date + "; run `relaygw audit verify --db " + options.database.db +
                     "` to find the rows changed");
  }
}

}  // namespace

std::string audit_parse_failure_report(const CLI::App& app, const std::string& message) {
  const std::string path = parsed_command_path(app);
  const bool verify = path == "relaygw audit verify";
  if (!verify && path != "relaygw audit reconcile") {
    return {};
  }
  const CLI::App* command =
      app.get_subcommand("audit")->get_subcommand(verify ? "verify" : "reconcile");
  const CLI::Option* json = command->get_option_no_throw("--json");
  if (json == nullptr || json->count() == 0) {
    return {};
  }
  nlohmann::json report = {{"ok", false}};
  if (!verify) {
    // The report of a failed reconcile names the date given, or null when none was parsed.
    const CLI::Option* date = command->get_option_no_throw("--date");
    const bool has_date = date != nullptr && date->count() > 0 && !date->results().empty();
    report = {{"date", has_date ? nlohmann::json(date->results().front()) : nlohmann::json()},
              {"agrees", false}};
  }
  return json_text(with_error(report, Status(StatusCode::InvalidArgument, message)));
}

void add_audit_command(CLI::App& app) {
  CLI::App* audit = app.add_subcommand("audit", "Verify stored records and reconcile a day");
  audit->require_subcommand(1);
  auto options = std::make_shared<AuditOptions>();

  CLI::App* verify = audit->add_subcommand(
      "verify", "Report the first record edited, removed or reordered, and journal imbalances");
  add_database_options(*verify, options->database, DatabaseUse::Read);
  verify->add_flag("--json", options->json, "Print the result as JSON");
  verify->callback([options] { run_verify(*options); });

  CLI::App* reconcile = audit->add_subcommand(
      "reconcile", "Check that one UTC day's calls, charges, credits and journal agree");
  add_database_options(*reconcile, options->database, DatabaseUse::Read);
  reconcile->add_option("--date", options->date, "UTC day, YYYY-MM-DD")->required();
  reconcile->add_flag("--json", options->json, "Print the report as JSON");
  reconcile->callback([options] { run_reconcile(*options); });
  add_staff_command_checks(*audit);
}

}  // namespace relaygw::gateway
