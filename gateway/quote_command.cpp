// relaygw quote: an itemized rate quote for one call, with no database or directory record.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <date/date.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "billing/call_types.hpp"
#include "billing/money.hpp"
#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/rating.hpp"
#include "gateway/commands.hpp"
#include "gateway/logging.hpp"

namespace relaygw::gateway {
namespace {

using billing::format_dollars;

struct QuoteOptions {
  std::string from;
  std::string to;
  std::string billing = "sent-paid";
  std::string start;
  std::string minutes;
  std::string access = "none";
  std::string handling = "automated";
  bool json = false;
  std::string deck;
  std::string data_dir;
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "relaygw quote: " << message << "\n";
  throw CLI::RuntimeError(1);
}

// Parses ISO 8601 with seconds optional and an offset or "Z": 2026-03-10T09:30:00-05:00.
std::optional<std::chrono::sys_seconds> parse_start(const std::string& text) {
  for (const char* format : {"%FT%T%Ez", "%FT%R%Ez", "%FT%TZ", "%FT%RZ"}) {
    std::istringstream in(text);
    date::sys_seconds instant;
    in >> date::parse(format, instant);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      return instant;
    }
  }
  return std::nullopt;
}

// Converts decimal minutes ("2", "2.5", "0.75") to whole seconds, rounding a started second
// up. Accepts at most 1440 minutes and four decimals.
std::optional<std::int64_t> parse_minutes(const std::string& text) {
  Result<billing::Money> ten_thousandths = billing::parse_dollars(text);
  if (!ten_thousandths || *ten_thousandths < 0 || *ten_thousandths > 1440 * 10'000) {
    return std::nullopt;
  }
  return (*ten_thousandths * 60 + 9'999) / 10'000;
}

billing::CallToRate build_call(const QuoteOptions& options) {
  billing::CallToRate call;
  call.from = options.from;
  call.to = options.to;

  const auto billing_method = billing::parse_billing_method(options.billing);
  if (!billing_method) {
    fail("invalid --billing '" + options.billing +
         "'; use sent-paid, collect, third-party, person-to-person or calling-card");
  }
  call.billing = *billing_method;
  const auto access = billing::parse_access_tag(options.access);
  if (!access) {
    fail("invalid --access '" + options.access +
         "'; use none, tty, relay-tty, relay-ip, captioned, video or speech");
  }
  call.access = *access;
  const auto handling = billing::parse_handling(options.handling);
  if (!handling) {
    fail("invalid --handling '" + options.handling + "'; use automated or operator");
  }
  call.handling = *handling;
  const auto start = parse_start(options.start);
  if (!start) {
    fail("invalid --start '" + options.start +
         "'; write ISO 8601 with an offset, such as 2026-03-10T09:30:00-05:00 or "
         "2026-03-10T14:30:00Z");
  }
  call.start = *start;
  const auto seconds = parse_minutes(options.minutes);
  if (!seconds) {
    fail("invalid --minutes '" + options.minutes +
         "'; give 0 to 1440 minutes with at most four decimals, such as 2.5");
  }
  call.billable_seconds = *seconds;
  call.answered = true;
  call.person_reached = true;  // a quote assumes the requested person comes to the phone
  return call;
}

nlohmann::json to_json(const billing::RatedCall& rated,
                       const std::vector<std::pair<std::string, std::string>>& alternatives) {
  nlohmann::json out;
  out["total"] = format_dollars(rated.total);
  out["currency"] = rated.currency;
  out["emergency"] = rated.emergency;
  out["lines"] = nlohmann::json::array();
  for (const billing::ChargeLine& line : rated.lines) {
    out["lines"].push_back({{"kind", std::string(billing::to_string(line.kind))},
                            {"description", line.description},
                            {"amount", format_dollars(line.amount)}});
  }
  out["jurisdiction"] = rated.jurisdiction
                            ? nlohmann::json(std::string(billing::to_string(*rated.jurisdiction)))
                            : nlohmann::json(nullptr);
  out["miles"] = rated.miles ? nlohmann::json(*rated.miles) : nlohmann::json(nullptr);
  out["periods"] = rated.periods;
  out["billed_seconds"] = rated.billed_seconds;
  out["deck_version"] = rated.deck_version;
  out["time_zone"] = rated.time_zone;
  out["alternatives"] = nlohmann::json::array();
  for (const auto& [method, total] : alternatives) {
    out["alternatives"].push_back({{"billing", method}, {"total", total}});
  }
  return out;
}

void print_text(const QuoteOptions& options, const billing::CallToRate& call,
                const billing::RatedCall& rated,
                const std::vector<std::pair<std::string, std::string>>& alternatives) {
  std::cout << fmt::format("Quote: {} to {}, {}, {} handling, access {}\n", options.from,
                           options.to, options.billing, billing::to_string(call.handling),
                           options.access);
  if (rated.jurisdiction) {
    std::cout << fmt::format("Jurisdiction: {}{}; rate periods in {}; deck version '{}'\n",
                             billing::to_string(*rated.jurisdiction),
                             rated.miles ? fmt::format(", {} miles", *rated.miles) : "",
                             rated.time_zone, rated.deck_version);
    std::cout << fmt::format("Billed: {} s of {} s\n", rated.billed_seconds, call.billable_seconds);
  }
  for (const billing::ChargeLine& line : rated.lines) {
    std::cout << fmt::format("  {:<10} {:<62} {:>9}\n", billing::to_string(line.kind),
                             line.description, format_dollars(line.amount));
  }
  std::cout << fmt::format("  {:<73} {:>9}\n", "Total " + rated.currency,
                           format_dollars(rated.total));
  std::cout << "Other payment options:\n";
  for (const auto& [method, total] : alternatives) {
    std::cout << fmt::format("  {:<73} {:>9}\n", method, total);
  }
}

void run_quote(const QuoteOptions& options) {
  const billing::CallToRate call = build_call(options);
  const bool emergency = billing::is_emergency_number(call.to);

  // Emergency quotes need no data: a missing plan or deck only matters for other calls.
  const std::filesystem::path data_dir = options.data_dir.empty()
                                             ? billing::default_data_dir()
                                             : std::filesystem::path(options.data_dir);
  std::optional<billing::NumberPlan> plan;
  std::optional<billing::RateDeck> deck;
  Result<billing::NumberPlan> loaded_plan = billing::NumberPlan::load(data_dir);
  if (loaded_plan) {
    plan = std::move(loaded_plan).value();
  } else if (!emergency) {
    fail(loaded_plan.status().message());
  }
  const std::filesystem::path deck_path =
      options.deck.empty() ? data_dir / "rates" : std::filesystem::path(options.deck);
  Result<billing::RateDeck> loaded_deck = billing::RateDeck::load(deck_path);
  if (loaded_deck) {
    deck = std::move(loaded_deck).value();
  } else if (!emergency) {
    fail(loaded_deck.status().message());
  }
  logger("billing")->info("quote data loaded: data_dir={} deck={}", data_dir.string(),
                          deck_path.string());

  // Authorization refuses operator billing of pay-per-call numbers, so the quote does too.
  bool premium = false;
  if (plan && !emergency) {
    Result<billing::NumberInfo> dialed = plan->classify(call.to);
    premium = dialed && dialed->kind == billing::NumberKind::Premium;
  }
  if (premium && call.billing != billing::BillingMethod::SentPaid) {
    fail("premium number " + call.to +
         " can only be billed to the calling line; quote it with "
         "--billing sent-paid");
  }

  const billing::Rater rater(plan ? &*plan : nullptr, deck ? &*deck : nullptr);
  Result<billing::RatedCall> rated = rater.rate(call);
  if (!rated) {
    fail(rated.status().message());
  }

  std::vector<std::pair<std::string, std::string>> alternatives;
  for (billing::BillingMethod method :
       {billing::BillingMethod::SentPaid, billing::BillingMethod::Collect,
        billing::BillingMethod::ThirdNumber, billing::BillingMethod::PersonToPerson,
        billing::BillingMethod::CallingCard}) {
    if (method == call.billing) {
      continue;
    }
    if (premium) {
      alternatives.emplace_back(std::string(billing::to_string(method)), "not allowed");
      continue;
    }
    billing::CallToRate other = call;
    other.billing = method;
    Result<billing::RatedCall> other_rated = rater.rate(other);
    alternatives.emplace_back(std::string(billing::to_string(method)),
                              other_rated ? format_dollars(other_rated->total) : "unavailable");
  }

  if (options.json) {
    std::cout << to_json(*rated, alternatives).dump(2) << "\n";
  } else {
    print_text(options, call, *rated, alternatives);
  }
}

}  // namespace

void add_quote_command(CLI::App& app) {
  auto options = std::make_shared<QuoteOptions>();
  CLI::App* quote =
      app.add_subcommand("quote", "Print an itemized rate quote for one call; needs no database");
  quote->add_option("--from", options->from, "Calling number, such as 212-555-0107")->required();
  quote->add_option("--to", options->to, "Called number: 10 digits, 1+, 0+, 011+, +E.164 or N11")
      ->required();
  quote
      ->add_option("--billing", options->billing,
                   "Payment: sent-paid, collect, third-party, person-to-person or calling-card")
      ->required();
  quote
      ->add_option("--start", options->start,
                   "Answer time, ISO 8601 with an offset: 2026-03-10T09:30:00-05:00 or ...Z")
      ->required();
  quote
      ->add_option("--minutes", options->minutes,
                   "Conversation time in minutes; decimals allowed, rounded up to whole seconds")
      ->required();

  quote
      ->add_option("--access", options->access,
                   "Access tag: none, tty, relay-tty, relay-ip, captioned, video or speech")
      ->capture_default_str();
  quote->add_option("--handling", options->handling, "automated or operator")
      ->capture_default_str();
  quote->add_flag("--json", options->json, "Print one JSON object instead of text");
  quote->add_option("--deck", options->deck,
                    "Rate deck .toml file or folder (default: DATA_DIR/rates)");
  quote->add_option("--data-dir", options->data_dir,
                    "Reference data folder containing nanp/ (default: $RELAYGW_DATA_DIR or "
                    "the repository's data/)");

  quote->callback([options] { run_quote(*options); });
}

}  // namespace relaygw::gateway
