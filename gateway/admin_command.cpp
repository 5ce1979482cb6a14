// relaygw admin: a command-line client of the staff admin API (gateway/server/admin_api.hpp)
// over HTTP on a loopback address. Prints text, or the API's JSON with --json.
#include <cctype>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "billing/call_types.hpp"
#include "billing/credits.hpp"
#include "billing/next_step.hpp"
#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/server/host_port.hpp"
#include "gateway/server/token_file.hpp"

namespace relaygw::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

struct AdminOptions {
  std::string url = "http://127.0.0.1:7080";
  std::string token_file;
  bool json = false;
  std::chrono::seconds timeout{30};
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "relaygw admin: " << message << "\n";
  throw CLI::RuntimeError(1);
}

struct ApiEndpoint {
  std::string host;
  std::uint16_t port = 0;
};

// Accepts http://HOST:PORT with a loopback HOST: 127.x.x.x, [::1] or localhost.
ApiEndpoint parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    fail("invalid --url '" + url + "'; use http://127.0.0.1:PORT");
  }
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') {
    rest.pop_back();
  }
  if (rest.find('/') != std::string::npos) {
    fail("invalid --url '" + url + "'; give only the scheme, host and port, as in "
         "http://127.0.0.1:7080");
  }
  // An IPv6 host is bracketed, as in http://[::1]:7080, so its colons are not the port's.
  std::size_t host_end = 0;
  if (!rest.empty() && rest.front() == '[') {
    host_end = rest.find(']');
    if (host_end == std::string::npos) {
      fail("invalid --url '" + url + "': the IPv6 host has no closing ']'; write it as "
           "http://[::1]:PORT");
    }
    ++host_end;
  } else {
    host_end = rest.find(':');
    if (host_end != std::string::npos && rest.find(':', host_end + 1) != std::string::npos) {
      fail("invalid --url '" + url + "': an IPv6 host needs brackets; write it as "
           "http://[::1]:PORT");
    }
  }
  if (host_end == std::string::npos || host_end >= rest.size() || rest[host_end] != ':') {
    fail("invalid --url '" + url + "'; give the port, as in http://127.0.0.1:7080 or "
         "http://[::1]:7080");
  }
  const std::size_t colon = host_end;
  std::string host = rest.substr(0, colon);
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(host, error);
  if (error || !address.is_loopback()) {
    fail("--url host '" + rest.substr(0, colon) +
         "' is not a loopback address; the admin API listens only on 127.0.0.1 or ::1");
  }
  const Result<std::uint16_t> port =
      server::parse_port(rest.substr(colon + 1), "port", server::PortZero::Reject);
  if (!port) {
    fail("invalid port in --url '" + url + "': " + port.status().message());
  }
  return {address.to_string(), *port};
}

// Where a CLI user finds the right token file.
constexpr std::string_view kTokenFileFix =
    "pass the file that [admin] token_file names in the gateway's configuration";

std::string read_token(const std::string& path) {
  Result<std::string> token = server::read_token_file(path, "--token-file", kTokenFileFix);
  if (!token) {
    fail(token.status().message());
  }
  return *token;
}

// Returns `step` as the `relaygw` command that staff run next, for an error of the admin API,
// or nullopt to keep the API's text. The API names steps for software that cannot run
// relaygw, such as "ask relay center staff to unlock it", but the user of `relaygw admin` is
// relay center staff on the gateway's host, since the API listens only on loopback. Steps
// that change the gateway's configuration ([billing] database, data_dir, credit_policy_file
// or its rate deck) keep the API's text, which names those settings. The switch has no
// default, so the compiler flags a new kind of step until it is handled here.
std::optional<std::string> admin_command_step(const NextStep& step) {
  switch (step.kind) {
    case NextStep::Kind::ApproveAsOtherStaff:
      return "a supervisor other than the requester must run `relaygw admin credit approve "
             "--credit " +
             step.subject + " --staff NAME`";
    case NextStep::Kind::ListCallCredits:
      return "check `relaygw admin credit list --call " + step.subject + "`";
    case NextStep::Kind::ListCredits:
      return "list credits with `relaygw admin credit list`";
    case NextStep::Kind::None:
    case NextStep::Kind::GiveCreditAmount:
    case NextStep::Kind::GiveCreditText:
    case NextStep::Kind::CheckCallId:
    case NextStep::Kind::PickChargeLine:
    case NextStep::Kind::VerifyDatabase:
    case NextStep::Kind::RestoreDatabase:
    case NextStep::Kind::FundCard:
    case NextStep::Kind::RecordCardPayment:
    case NextStep::Kind::UnlockCard:
    case NextStep::Kind::CorrectPostedCall:
      return billing::command_line_step(step);
    case NextStep::Kind::LoadRateDeck:
    case NextStep::Kind::LoadCorrectedRateDeck:
    case NextStep::Kind::LoadRateDeckInEffect:
    case NextStep::Kind::SetDataDir:
    case NextStep::Kind::PassPolicyFile:
    case NextStep::Kind::CreateDatabase:
    case NextStep::Kind::CheckDatabasePath:
      return std::nullopt;
  }
  return std::nullopt;
}

// Returns the message of the API's `error` object with its next step named as a `relaygw`
// command (admin_command_step) in place of the API's text for it.
std::string command_line_message(const json& error) {
  const std::string message = error.value("message", "");
  const auto found = error.find("next_step");
  if (found == error.end() || !found->is_object()) {
    return message;
  }
  const std::optional<NextStep::Kind> kind =
      billing::parse_next_step_kind(found->value("kind", ""));
  const std::string api_text = found->value("text", "");
  if (!kind || api_text.empty() || message.size() < api_text.size() ||
      message.compare(message.size() - api_text.size(), api_text.size(), api_text) != 0) {
    return message;
  }
  const std::optional<std::string> command =
      admin_command_step(NextStep{*kind, found->value("subject", "")});
  if (!command || command->empty()) {
    return message;
  }
  return message.substr(0, message.size() - api_text.size()) + *command;
}

// Sends one request and returns the JSON body of a 2xx response; any other status fails the
// command with the API's error code and its message, whose next step names a command
// (command_line_message).
json call_api(const AdminOptions& options, http::verb method, const std::string& target,
              const std::optional<json>& body = std::nullopt) {
  const ApiEndpoint endpoint = parse_url(options.url);
  const std::string token = read_token(options.token_file);

  asio::io_context io;
  beast::tcp_stream stream(io);
  http::response<http::string_body> response;
  try {
    stream.expires_after(options.timeout);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address(endpoint.host), endpoint.port));
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, server::format_host_port(endpoint.host, endpoint.port));
    request.set(http::field::authorization, "Bearer " + token);
    if (body) {
      request.set(http::field::content_type, "application/json");
      request.body() = body->dump();
    }
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::read(stream, buffer, response);
  } catch (const boost::system::system_error& error) {
    fail(
        fmt::format("request to {} failed: {}; check that `relaygw serve` runs with [admin] "
                    "on that port",
                    options.url, error.code().message()));
  }

  json parsed = json::parse(response.body(), nullptr, false);
  const int status = static_cast<int>(response.result_int());
  // The API's own 401 message names the HTTP header to send. A CLI user sets that header only
  // through --token-file, so this message names the file instead.
  if (status == 401) {
    fail(
        fmt::format("the admin API at {} rejected the token in --token-file '{}' (HTTP 401); "
                    "{}",
                    options.url, options.token_file, kTokenFileFix));
  }
  if (status < 200 || status > 299) {
    if (parsed.is_object() && parsed.contains("error")) {
      fail(fmt::format("HTTP {} {}: {}", status, parsed["error"].value("code", ""),
                       command_line_message(parsed["error"])));
    }
    fail(fmt::format("HTTP {} from {}", status, options.url));
  }
  if (parsed.is_discarded()) {
    fail("the admin API sent a body that is not JSON");
  }
  return parsed;
}

void print_sessions(const json& body) {
  for (const json& session : body["sessions"]) {
    std::cout << fmt::format(
        "{} {} {} caller {} state {}{} open {:.0f} s\n", session.value("session_id", ""),
        session.value("adapter", ""), session.value("service", ""),
        session.value("caller_number", ""), session.value("state", ""),
        session.value("emergency", false) ? " EMERGENCY" : "", session.value("seconds_open", 0.0));
  }
  std::cout << body["sessions"].size() << " sessions\n";
}

void print_collect_entry(const json& entry) {
  std::cout << fmt::format("{} called {} billed {} state {} waiting {:.0f} s tty tones {}{}\n",
                           entry.value("call_id", ""), entry.value("called_number", ""),
                           entry.value("billed_number", ""), entry.value("state", ""),
                           entry.value("seconds_waiting", 0.0),
                           entry.value("tty_tones_heard", false) ? "heard" : "not heard",
                           entry.value("taken_over_by", "").empty()
                               ? ""
                               : " taken over by " + entry.value("taken_over_by", ""));
}

void print_queues(const json& body) {
  const json& sessions = body["sessions"];
  std::cout << fmt::format("sessions: {} live, {} emergency\n", sessions.value("total", 0),
                           sessions.value("emergency", 0));
  for (const auto& [state, count] : sessions["by_state"].items()) {
    std::cout << fmt::format("  {:<24} {}\n", state, count.get<int>());
  }
  const json& collect = body["collect"];
  std::cout << fmt::format("collect calls: {} waiting, oldest {:.0f} s\n",
                           collect.value("waiting", 0), collect.value("oldest_wait_seconds", 0.0));
  for (const auto& [state, count] : collect["by_state"].items()) {
    std::cout << fmt::format("  {:<24} {}\n", state, count.get<int>());
  }
  if (body["emergency"].is_object()) {
    const json& emergency = body["emergency"];
    std::cout << fmt::format("emergency: {} dispatched, {} redials\n",
                             emergency.value("dispatched", 0), emergency.value("redials", 0));
  }
}

void print_quote(const json& body) {
  for (const json& line : body["lines"]) {
    std::cout << fmt::format("  {:<10} {:<62} {:>9}\n", line.value("kind", ""),
                             line.value("description", ""), line.value("amount", ""));
  }
  std::cout << fmt::format("  {:<73} {:>9}\n", "Total " + body.value("currency", ""),
                           body.value("total", ""));
  std::cout << "Other payment options:\n";
  for (const json& other : body["alternatives"]) {
    std::cout << fmt::format("  {:<73} {:>9}\n", other.value("billing", ""),
                             other.value("total", ""));
  }
}

void print_credit(const json& credit) {
  std::cout << fmt::format(
      "credit {}: call {} line {}, {} ${}, {}, requested by {}\n", credit.value("id", ""),
      credit.value("call_id", ""), credit.value("line", 0), credit.value("reason", ""),
      credit.value("amount", ""), credit.value("state", ""), credit.value("requested_by", ""));
}

void print_summary(const json& body) {
  const json& total = body["total"];
  std::cout << fmt::format("calls {} answered {} emergency {} conversation {} s total ${}\n",
                           total.value("calls", 0), total.value("answered", 0),
                           total.value("emergency", 0), total.value("conversation_seconds", 0),
                           total.value("total", ""));
}

// Prints `body` as JSON with --json, otherwise with `print_text`.
template <typename Printer>
void output(const AdminOptions& options, const json& body, Printer print_text) {
  if (options.json) {
    std::cout << json_text(body) << "\n";
  } else {
    print_text(body);
  }
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// Checks a --staff value as the API checks its staff field (billing::check_staff_name), so a
// blank name or one with a control character fails before any request is sent.
CLI::Validator staff_name_check() {
  return CLI::Validator(
      [](std::string& value) {
        return billing::check_staff_name("the value", value,
                                         "pass the staff member's name, such as --staff ana")
            .message();
      },
      "", "STAFF NAME");
}

struct CallOptions {
  std::string call_id;
  std::string staff;
  std::string how = "voice";
  std::string key;
};

struct QuoteOptions {
  std::string from, to, billing, start, minutes, access = "none", third_number;
  std::string handling =
      std::string(relaygw::billing::to_string(relaygw::billing::kDefaultHandling));
};

struct CreditOptions {
  std::string call_id, reason, text, amount, key, staff, credit_id, note;
  std::int64_t line_no = 0;
};

struct ReportOptions {
  std::string from, to, by = "day", time_zone = "UTC";
};

void add_call_subcommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  admin.add_subcommand("health", "Check that the admin API answers")->callback([options] {
    output(*options, call_api(*options, http::verb::get, "/health"),
           [](const json& body) { std::cout << "status " << body.value("status", "") << "\n"; });
  });
  admin.add_subcommand("sessions", "List live sessions")->callback([options] {
    output(*options, call_api(*options, http::verb::get, "/sessions"), print_sessions);
  });
  admin.add_subcommand("queues", "Count sessions and collect calls by state")->callback([options] {
    output(*options, call_api(*options, http::verb::get, "/queues"), print_queues);
  });
  admin.add_subcommand("collect", "List automated collect calls")->callback([options] {
    output(*options, call_api(*options, http::verb::get, "/collect"), [](const json& body) {
      for (const json& entry : body["collect"]) {
        print_collect_entry(entry);
      }
      std::cout << body["collect"].size() << " collect calls\n";
    });
  });

  auto take_over_options = std::make_shared<CallOptions>();
  CLI::App* take_over =
      admin.add_subcommand("take-over", "Hand a waiting collect call to a staff member");
  take_over->add_option("call", take_over_options->call_id, "Call id")->required();
  take_over->add_option("--staff", take_over_options->staff, "Staff name")
      ->required()
      ->check(staff_name_check());
  take_over->callback([options, take_over_options] {
    const json body = call_api(*options, http::verb::post,
                               "/collect/" + url_encode(take_over_options->call_id) + "/take-over",
                               json{{"staff", take_over_options->staff}});
    output(*options, body, print_collect_entry);
  });

  auto accept_options = std::make_shared<CallOptions>();
  CLI::App* accept =
      admin.add_subcommand("accept", "Record that the billed party accepted a collect call");
  accept->add_option("call", accept_options->call_id, "Call id")->required();
  accept->add_option("--staff", accept_options->staff, "Staff name")
      ->required()
      ->check(staff_name_check());
  accept->add_option("--how", accept_options->how, "voice, tty-text or keypad")
      ->capture_default_str();
  accept->add_option("--key", accept_options->key,
                     "Idempotency key (default: one per call, so a repeat records nothing)");
  accept->callback([options, accept_options] {
    json request = {{"staff", accept_options->staff}, {"how", accept_options->how}};
    if (!accept_options->key.empty()) {
      request["key"] = accept_options->key;
    }
    const json body =
        call_api(*options, http::verb::post,
                 "/collect/" + url_encode(accept_options->call_id) + "/accept", request);
    output(*options, body, [](const json& reply) {
      std::cout << "call " << reply.value("call_id", "") << " accepted\n";
    });
  });
}

void add_quote_subcommand(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  auto quote_options = std::make_shared<QuoteOptions>();
  CLI::App* quote = admin.add_subcommand("quote", "Quote a call through the admin API");
  quote->add_option("--from", quote_options->from, "Calling number")->required();
  quote->add_option("--to", quote_options->to, "Called number")->required();
  quote
      ->add_option("--billing", quote_options->billing,
                   "sent-paid, collect, third-party, person-to-person or calling-card")
      ->required();
  quote->add_option("--start", quote_options->start, "Answer time, ISO 8601 with an offset")
      ->required();
  quote->add_option("--minutes", quote_options->minutes, "Conversation time in minutes")
      ->required();
  quote
      ->add_option("--access", quote_options->access,
                   "none, tty, relay-tty, relay-ip, captioned, video or speech")
      ->capture_default_str();
  quote->add_option("--handling", quote_options->handling, "automated or operator")
      ->capture_default_str();
  quote->add_option("--third-number", quote_options->third_number,
                    "Line billed for third-party calls, whose TTY discount eligibility applies");
  quote->callback([options, quote_options] {
    const QuoteOptions& q = *quote_options;
    json request = {{"from", q.from},       {"to", q.to},         {"billing", q.billing},
                    {"start", q.start},     {"minutes", q.minutes}, {"access", q.access},
                    {"handling", q.handling}};
    if (!q.third_number.empty()) {
      request["third_number"] = q.third_number;
    }
    const json body = call_api(*options, http::verb::post, "/quote", request);
    output(*options, body, print_quote);
  });
}

void add_credit_subcommands(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* credit = admin.add_subcommand("credit", "Request, list and decide credits");
  credit->require_subcommand(1);

  auto request_options = std::make_shared<CreditOptions>();
  CLI::App* request = credit->add_subcommand("request", "Request a credit on a charge line");
  request->add_option("--call", request_options->call_id, "Call id")->required();
  request->add_option("--line", request_options->line_no, "Charge line number, from 1")->required();
  request
      ->add_option("--reason", request_options->reason,
                   "misdialed, dropped, bad-connection, duplicate, rating-error or other")
      ->required();
  request->add_option("--text", request_options->text, "Reason in words");
  request->add_option("--amount", request_options->amount, "Credit in dollars, such as 1.25");
  request->add_option("--key", request_options->key, "Idempotency key")->required();
  request->add_option("--staff", request_options->staff, "Staff name")
      ->required()
      ->check(staff_name_check());
  request->callback([options, request_options] {
    const CreditOptions& c = *request_options;
    json ask = {{"call", c.call_id}, {"line", c.line_no}, {"reason", c.reason},
                {"text", c.text},    {"key", c.key},      {"staff", c.staff}};
    if (!c.amount.empty()) {
      ask["amount"] = c.amount;
    }
    output(*options, call_api(*options, http::verb::post, "/credits", ask), print_credit);
  });

  auto list_options = std::make_shared<CreditOptions>();
  CLI::App* list = credit->add_subcommand("list", "List credits");
  list->add_option("--call", list_options->call_id, "Only the credits of this call");
  list->callback([options, list_options] {
    const json body =
        call_api(*options, http::verb::get, "/credits?call=" + url_encode(list_options->call_id));
    output(*options, body, [](const json& reply) {
      for (const json& entry : reply["credits"]) {
        print_credit(entry);
      }
      std::cout << reply["credits"].size() << (reply["credits"].size() == 1 ? " credit\n" : " credits\n");
    });
  });

  for (const bool approve : {true, false}) {
    auto decide_options = std::make_shared<CreditOptions>();
    CLI::App* decide =
        credit->add_subcommand(approve ? "approve" : "reject",
                               approve ? "Approve a pending credit" : "Reject a pending credit");
    decide->add_option("--credit", decide_options->credit_id, "Credit id")->required();
    decide->add_option("--staff", decide_options->staff, "Staff name")
        ->required()
        ->check(staff_name_check());
    decide->add_option("--note", decide_options->note, "Note recorded with the decision");
    decide->callback([options, decide_options, approve] {
      const json body = call_api(
          *options, http::verb::post,
          "/credits/" + url_encode(decide_options->credit_id) + (approve ? "/approve" : "/reject"),
          json{{"staff", decide_options->staff}, {"note", decide_options->note}});
      output(*options, body, print_credit);
    });
  }
}

void add_report_subcommand(CLI::App& admin, const std::shared_ptr<AdminOptions>& options) {
  CLI::App* report = admin.add_subcommand("report", "Run a report through the admin API");
  report->require_subcommand(1);
  auto report_options = std::make_shared<ReportOptions>();
  CLI::App* summary = report->add_subcommand("summary", "Billing summary for a range of days");
  summary->add_option("--from", report_options->from, "First day, YYYY-MM-DD")->required();
  summary->add_option("--to", report_options->to, "Last day, YYYY-MM-DD (inclusive)")->required();
  summary->add_option("--by", report_options->by, "day or month")->capture_default_str();
  summary->add_option("--time-zone", report_options->time_zone, "IANA zone of reporting days")
      ->capture_default_str();
  summary->callback([options, report_options] {
    const ReportOptions& r = *report_options;
    const std::string target = "/reports/summary?from=" + url_encode(r.from) +
                               "&to=" + url_encode(r.to) + "&by=" + url_encode(r.by) +
                               "&time_zone=" + url_encode(r.time_zone);
    output(*options, call_api(*options, http::verb::get, target), print_summary);
  });
}

}  // namespace

void add_admin_command(CLI::App& app) {
  auto options = std::make_shared<AdminOptions>();
  CLI::App* admin =
      app.add_subcommand("admin", "Use the staff admin API of a running gateway (loopback only)");
  admin->require_subcommand(1);
  admin->fallthrough();
  admin->add_option("--url", options->url, "Admin API address, http://127.0.0.1:PORT")
      ->capture_default_str();
  admin->add_option("--token-file", options->token_file, "File whose first line is the admin token")
      ->required();
  admin->add_flag("--json", options->json, "Print the API's JSON instead of text");

  add_call_subcommands(*admin, options);
  add_quote_subcommand(*admin, options);
  add_credit_subcommands(*admin, options);
  add_report_subcommand(*admin, options);
  add_staff_command_checks(*admin);
}

}  // namespace relaygw::gateway
