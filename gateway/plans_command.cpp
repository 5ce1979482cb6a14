// relaygw plans advise: compares a line's last 90 days of calls under each calling plan and
// payment method of the stored rate deck, net of applied credits, and recommends the cheapest,
// as text, JSON or short TTY text.
#include <cctype>
#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/call_time.hpp"
#include "billing/deck_cache.hpp"
#include "billing/plans.hpp"
#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"
#include "tty/baudot.hpp"

namespace relaygw::gateway {
namespace {

struct PlansOptions {
  DatabaseOptions database;
  std::string line;
  std::string as_of;
  bool tty = false;
  bool json = false;
};

std::string upper(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

// Short advice for a TTY user: upper case, only Baudot characters, ending with GA (go ahead).
std::string tty_text(const billing::PlanAdvice& advice) {
  const billing::PlanOption& best = advice.options.front();
  std::string text = fmt::format("BEST FOR {} {} WITH {} ABOUT {} DOLLARS FOR {} DAYS.",
                                 best.plan == "no plan" ? "YOU IS" : "YOU IS PLAN", best.plan,
                                 billing::to_string(best.billing),
                                 billing::format_dollars(best.total), advice.window_days);
  if (advice.saving > 0) {
    text += fmt::format(" SAVES {} DOLLARS.", billing::format_dollars(advice.saving));
  } else {
    text += " NO SAVING.";
  }
  text += " GA";
  // Keep only letters, figures, space and the Baudot punctuation used above.
  std::string cleaned;
  for (char c : upper(text)) {
    cleaned +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '.' || c == '-') ? c : ' ';
  }
  return cleaned;
}

void run_advise(const PlansOptions& options) {
  const std::string command = "plans advise";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  const billing::Instant as_of =
      options.as_of.empty()
          ? std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())
          : parse_instant_option(options.as_of, "--as-of", command);
  if (Status in_range = billing::check_call_time("--as-of", as_of); !in_range) {
    fail_command(command, in_range.message());
  }
  const billing::NumberPlan plan = load_number_plan(options.database, command);
  // The deck in effect on the --as-of date prices the plans, so a deck stored for a later
  // date does not stop the advice before that date.
  const std::string as_of_date = billing::format_instant(as_of).substr(0, 10);
  auto in_effect = store->rate_deck_in_effect(as_of_date);
  if (!in_effect) {
    fail_command(command, in_effect.status().message());
  }
  if (in_effect->has_value()) {
    // Every stored deck may start after the date, and then the message names the earliest.
    if (Status checked = billing::check_deck_in_effect(*store, **in_effect, as_of_date,
                                                       "the UTC date of --as-of");
        !checked) {
      fail_command(command, checked.message());
    }
  }
  const std::optional<billing::RateDeck> deck = load_deck_in_effect(*store, as_of_date, command);
  if (!deck) {
    fail_command(command, "the database has no rate deck; load one with `relaygw db init`");
  }
  const billing::Rater rater(&plan, &*deck);
  auto advice = billing::advise_plans(*store, rater, *deck, options.line, as_of);
  if (!advice) {
    fail_command(command, advice.status().message());
  }
  if (options.tty) {
    const std::string text = tty_text(*advice);
    tty::BaudotEncoder encoder;
    const tty::EncodedText encoded = encoder.encode(text);
    if (!encoded.unencodable.empty()) {
      fail_command(command, "the TTY advice has characters Baudot cannot send: " + text);
    }
    std::cout << text << "\n";
    return;
  }
  const billing::PlanOption& best = advice->options.front();
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const billing::PlanOption& option : advice->options) {
      list.push_back({{"plan", option.plan},
                      {"billing", billing::to_string(option.billing)},
                      {"monthly_fees", billing::format_dollars(option.monthly_fees)},
                      {"calls", billing::format_dollars(option.calls)},
                      {"total", billing::format_dollars(option.total)}});
    }
    std::cout << json_text(nlohmann::json{{"line", advice->line},
                                          {"from", billing::format_instant(advice->from)},
                                          {"to", billing::format_instant(advice->to)},
                                          {"calls", advice->calls},
                                          {"billed_minutes", advice->billed_minutes},
                                          {"posted", billing::format_dollars(advice->posted)},
                                          {"credits", billing::format_dollars(advice->credits)},
                                          {"actual", billing::format_dollars(advice->actual)},
                                          {"recommended", list.front()},
                                          {"saving", billing::format_dollars(advice->saving)},
                                          {"currency", "USD"},
                                          {"options", list}})
              << "\n";
    return;
  }
  std::cout << fmt::format("Line {}: {} calls, {} billed minutes from {} to {}\n", advice->line,
                           advice->calls, advice->billed_minutes,
                           billing::format_instant(advice->from),
                           billing::format_instant(advice->to));
  std::cout << fmt::format(
      "Posted charges {} USD, applied credits {} USD, net {} USD. Plan costs below are net of\n"
      "each call's applied credits; pending and rejected credits do not count.\n\n",
      billing::format_dollars(advice->posted), billing::format_dollars(advice->credits),
      billing::format_dollars(advice->actual));
  std::cout << fmt::format("{:<24} {:<16} {:>12} {:>12} {:>12}\n", "plan", "payment", "plan fees",
                           "calls", "total");
  for (const billing::PlanOption& option : advice->options) {
    std::cout << fmt::format(
        "{:<24} {:<16} {:>12} {:>12} {:>12}\n", option.plan, billing::to_string(option.billing),
        billing::format_dollars(option.monthly_fees), billing::format_dollars(option.calls),
        billing::format_dollars(option.total));
  }
  std::cout << fmt::format("\nRecommended: {} with {}, {} USD, saving {} USD\n", best.plan,
                           billing::to_string(best.billing), billing::format_dollars(best.total),
                           billing::format_dollars(advice->saving));
}

}  // namespace

void add_plans_command(CLI::App& app) {
  CLI::App* plans = app.add_subcommand("plans", "Calling plan advice from the rate deck");
  plans->require_subcommand(1);
  auto options = std::make_shared<PlansOptions>();
  CLI::App* advise = plans->add_subcommand(
      "advise", "Cost of a line's last 90 days of calls under each plan and payment method");
  add_database_options(*advise, options->database, DatabaseUse::ReadWithData);
  advise->add_option("--line", options->line, "Line number (10-digit or E.164)")->required();
  advise->add_option("--as-of", options->as_of,
                     "End of the 90-day window, ISO 8601 with an offset (default: now)");
  advise->add_flag("--tty", options->tty, "Print short upper-case TTY text ending with GA");
  advise->add_flag("--json", options->json, "Print JSON");
  advise->callback([options] { run_advise(*options); });
  add_staff_command_checks(*plans);
}

}  // namespace relaygw::gateway
