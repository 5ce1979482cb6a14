// relaygw report summary | relay-minutes | emergency | credits: staff reports over the billing
// database, as text, CSV or JSON, with an optional SVG chart of daily minutes and revenue.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "billing/credit_report.hpp"
#include "billing/report_chart.hpp"
#include "billing/report_limits.hpp"
#include "billing/reports.hpp"
#include "common/output_file.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {
namespace {

struct ReportOptions {
  DatabaseOptions database;
  std::string from;
  std::string to;
  std::string by = "day";
  std::string format = "text";
  std::string time_zone = "UTC";
  std::string chart;
  std::string as_of;  // credits report: instant that decides which disputes are overdue
  bool json = false;
};

// Prints progress on standard error once a report has run for more than a second, at most
// every half second, so short reports stay quiet.
class ProgressPrinter {
 public:
  void operator()(std::int64_t done, std::int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(500)) {
      if (done < total || !printed_) {
        return;
      }
    }
    last_ = now;
    printed_ = true;
    const double percent = total > 0 ? 100.0 * static_cast<double>(done) / total : 100.0;
    std::cerr << fmt::format("\rreading calls: {} of {} ({:.0f}%)", done, total, percent)
              << (done >= total ? "\n" : "") << std::flush;
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
  bool printed_ = false;
};

billing::ReportRequest build_request(const ReportOptions& options, const std::string& command,
                                     billing::ReportFormat& format) {
  billing::ReportRequest request;
  auto from = billing::parse_local_date(options.from);
  if (!from) {
    fail_command(command, "--from: " + from.status().message());
  }
  auto to = billing::parse_local_date(options.to);
  if (!to) {
    fail_command(command, "--to: " + to.status().message());
  }
  const Status dates = billing::check_report_dates(*from, *to);
  if (!dates) {
    fail_command(command, dates.message());
  }
  request.from = *from;
  request.to = *to;
  auto by = billing::parse_report_period(options.by);
  if (!by) {
    fail_command(command, "invalid --by '" + options.by + "'; use day or month");
  }
  request.by = *by;
  auto parsed_format = billing::parse_report_format(options.json ? "json" : options.format);
  if (!parsed_format) {
    fail_command(command, "invalid --format '" + options.format + "'; use text, csv or json");
  }
  format = *parsed_format;
  request.time_zone = options.time_zone;
  auto range = billing::report_range(request);
  if (!range) {
    fail_command(command, range.status().message());
  }
  auto progress = std::make_shared<ProgressPrinter>();
  request.progress = [progress](std::int64_t done, std::int64_t total) {
    (*progress)(done, total);
  };
  return request;
}

void write_chart(const billing::SummaryReport& report, const std::string& path,
                 const std::string& command) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    fail_command(command, "--chart '" + path +
                              "' is a folder; give the path of the SVG file to write, such as '" +
                              (std::filesystem::path(path) / "summary.svg").string() + "'");
  }
  const std::string svg = billing::render_daily_chart_svg(
      report.daily, report.request.from, report.request.to,
      fmt::format("Daily conversation minutes and revenue, {} to {} ({})",
                  billing::format_local_date(report.request.from),
                  billing::format_local_date(report.request.to), report.request.time_zone));
  if (const Status written = write_output_file(path, svg); !written) {
    fail_command(command, "--chart: " + written.message());
  }
}

void run_summary(const ReportOptions& options) {
  const std::string command = "report summary";
  const CommandLog log(command);
  billing::ReportFormat format;
  const billing::ReportRequest request = build_request(options, command, format);
  auto store = open_database_read_only(options.database, command);
  auto report = billing::summarize_billing(*store, request);
  if (!report) {
    fail_command(command, report.status().message());
  }
  if (!options.chart.empty()) {
    write_chart(*report, options.chart, command);
  }
  std::cout << billing::render_summary(*report, format);
}

void run_relay_minutes(const ReportOptions& options) {
  const std::string command = "report relay-minutes";
  const CommandLog log(command);
  billing::ReportFormat format;
  const billing::ReportRequest request = build_request(options, command, format);
  auto store = open_database_read_only(options.database, command);
  auto plan = std::make_shared<billing::NumberPlan>(load_number_plan(options.database, command));
  auto rows = billing::relay_minutes(*store, request, [plan](const std::string& number) {
    auto info = plan->classify(number);
    return info ? info->state : std::string();
  });
  if (!rows) {
    fail_command(command, rows.status().message());
  }
  std::cout << billing::render_relay_minutes(*rows, request, format);
}

void run_emergency(const ReportOptions& options) {
  const std::string command = "report emergency";
  const CommandLog log(command);
  billing::ReportFormat format;
  const billing::ReportRequest request = build_request(options, command, format);
  auto store = open_database_read_only(options.database, command);
  auto rows = billing::emergency_calls(*store, request);
  if (!rows) {
    fail_command(command, rows.status().message());
  }
  std::cout << billing::render_emergency_calls(*rows, request, format);
}

void run_credits(const ReportOptions& options) {
  const std::string command = "report credits";
  const CommandLog log(command);
  billing::ReportFormat format;
  const billing::ReportRequest request = build_request(options, command, format);
  billing::Instant as_of =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (!options.as_of.empty()) {
    Result<billing::Instant> parsed = billing::parse_instant(options.as_of);
    if (!parsed) {
      fail_command(command, "--as-of: " + parsed.status().message());
    }
    as_of = *parsed;
  }
  auto store = open_database_read_only(options.database, command);
  auto report = billing::credits_and_disputes(*store, request, as_of);
  if (!report) {
    fail_command(command, report.status().message());
  }
  std::cout << billing::render_credits_report(*report, format);
}

void add_range_options(CLI::App& command, ReportOptions& options, DatabaseUse use) {
  add_database_options(command, options.database, use);
  command.add_option("--from", options.from, "First reporting day, YYYY-MM-DD (inclusive)")
      ->required();
  command.add_option("--to", options.to, "Last reporting day, YYYY-MM-DD (inclusive)")->required();
  CLI::Option* format =
      command.add_option("--format", options.format, "Output: text, csv or json")
          ->capture_default_str();
  // Two output formats are a mistake, so --json with --format is rejected, not resolved.
  command.add_flag("--json", options.json, "Same as --format json")->excludes(format);
  command
      .add_option("--time-zone", options.time_zone,
                  "IANA zone whose days and months the report uses, such as America/Chicago")
      ->capture_default_str();
}

}  // namespace

void add_report_command(CLI::App& app) {
  CLI::App* report = app.add_subcommand(
      "report", "Billing summary, relay minutes, emergency calls, credits and disputes");
  report->require_subcommand(1);

  auto summary_options = std::make_shared<ReportOptions>();
  CLI::App* summary = report->add_subcommand(
      "summary", "Calls, minutes and charges by period, billing method and access tag");
  add_range_options(*summary, *summary_options, DatabaseUse::Read);
  summary->add_option("--by", summary_options->by, "Period: day or month")->capture_default_str();
  summary->add_option("--chart", summary_options->chart,
                      "Also write an SVG chart of daily minutes and revenue to this file");
  summary->callback([summary_options] { run_summary(*summary_options); });

  auto relay_options = std::make_shared<ReportOptions>();
  CLI::App* relay = report->add_subcommand(
      "relay-minutes", "Relay conversation minutes by month, relay service and caller state");
  add_range_options(*relay, *relay_options, DatabaseUse::ReadWithData);
  relay->callback([relay_options] { run_relay_minutes(*relay_options); });

  auto emergency_options = std::make_shared<ReportOptions>();
  CLI::App* emergency = report->add_subcommand(
      "emergency", "Emergency calls: time, caller, answering point and amount billed");
  add_range_options(*emergency, *emergency_options, DatabaseUse::Read);
  emergency->callback([emergency_options] { run_emergency(*emergency_options); });

  auto credits_options = std::make_shared<ReportOptions>();
  CLI::App* credits = report->add_subcommand(
      "credits", "Credits by reason and state, disputes by state, and overdue disputes");
  add_range_options(*credits, *credits_options, DatabaseUse::Read);
  credits->add_option("--as-of", credits_options->as_of,
                      "ISO 8601 instant at which disputes count as overdue (default: now)");
  credits->callback([credits_options] { run_credits(*credits_options); });
  add_staff_command_checks(*report);
}

}  // namespace relaygw::gateway
