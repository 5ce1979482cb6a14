// relaygw quote: an itemized rate quote for one call, with the bundled rate deck or the deck in
// effect in a billing database (--db).
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "billing/call_types.hpp"
#include "billing/money.hpp"
#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/quote_support.hpp"

namespace relaygw::gateway {
namespace {

using billing::format_dollars;

struct QuoteOptions : QuoteFields {
  bool json = false;
  bool default_handling = false;  // true when --handling was not given
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "relaygw quote: " << message << "\n";
  throw CLI::RuntimeError(1);
}

// Prints which rate deck priced the quote. An emergency quote needs no deck and names none.
void print_deck(const QuoteOutcome& quote) {
  if (!quote.deck) {
    return;
  }
  const QuoteDeck& deck = *quote.deck;
  const std::string effective =
      deck.effective_from.empty() ? "no effective date" : "effective " + deck.effective_from;
  if (deck.database.empty()) {
    std::cout << fmt::format("Rate deck: '{}', {}, read from {} (no --db given)\n", deck.name,
                             effective, deck.path);
    return;
  }
  std::cout << fmt::format("Rate deck: '{}', {}, sha256 {}, in effect in database {}\n", deck.name,
                           effective, deck.sha256.substr(0, 12), deck.database);
}

void print_text(const QuoteOptions& options, const QuoteOutcome& quote) {
  const billing::CallToRate& call = quote.call;
  const billing::RatedCall& rated = quote.rated;
  std::cout << fmt::format("Quote: {} to {}, {}, {} handling{}, access {}\n", options.from,
                           options.to, options.billing, billing::to_string(call.handling),
                           options.default_handling ? " (the default)" : "", options.access);
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
  for (const auto& [method, total] : quote.alternatives) {
    std::cout << fmt::format("  {:<73} {:>9}\n", method, total);
  }
  print_deck(quote);
}

void run_quote(const QuoteOptions& options) {
  const CommandLog log("quote");
  Result<QuoteOutcome> quote = compute_quote(options, "--");
  if (!quote) {
    fail(quote.status().message());
  }
  if (options.json) {
    std::cout << json_text(quote_json(*quote)) << "\n";
  } else {
    print_text(options, *quote);
  }
}

}  // namespace

void add_quote_command(CLI::App& app) {
  auto options = std::make_shared<QuoteOptions>();
  CLI::App* quote =
      app.add_subcommand("quote",
                         "Print an itemized rate quote for one call; needs a database only "
                         "with --db");
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
  CLI::Option* handling =
      quote->add_option("--handling", options->handling, "automated or operator")
          ->capture_default_str();
  CLI::Option* third = quote->add_option("--third-number", options->third_number,
                    "Line billed for third-party calls; with --db its TTY discount eligibility "
                    "applies, as it does to the calling line for sent-paid calls");
  quote->add_flag("--json", options->json, "Print one JSON object instead of text");
  CLI::Option* deck = quote->add_option(
      "--deck", options->deck, "Rate deck .toml file or folder (default: DATA_DIR/rates)");
  CLI::Option* db = quote->add_option(
      "--db", options->db,
      "Billing database whose rate deck in effect on the call's local start date prices the "
      "quote, as `call create` picks it (default: no database, the --deck file or folder)");
  quote->add_option("--data-dir", options->data_dir,
                    "Reference data folder containing nanp/ (default: $RELAYGW_DATA_DIR or "
                    "the repository's data/)");

  quote->callback([options, handling, db, deck, third] {
    options->default_handling = handling->count() == 0;
    if (third->count() > 0 &&
        options->third_number.find_first_not_of(" \t") == std::string::npos) {
      fail("--third-number is blank; give the line a third-party call bills, such as "
           "--third-number 415-555-0108, or leave the option out");
    }
    // An unset shell variable ("--db $CENTER_DB") must not quietly price with the bundled deck.
    for (const CLI::Option* path : {db, deck}) {
      if (path->count() > 0 && path->as<std::string>().empty()) {
        fail(path->get_name() + " is empty; pass a file, such as " +
             (path == db ? "--db relaygw.db" : "--deck data/rates/example.toml") +
             ", or leave the option out");
      }
    }
    run_quote(*options);
  });
  add_staff_command_checks(*quote);
}

}  // namespace relaygw::gateway
