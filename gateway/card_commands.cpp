// relaygw card add | show | fund | payment | refund | close | unlock: calling cards. The PIN is
// read only from standard input (a prompt with echo off on a terminal), never from an argument,
// so it stays out of shell history and process listings. Card numbers are printed masked.
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/call_records.hpp"
#include "billing/cards.hpp"
#include "billing/credits.hpp"
#include "billing/directory.hpp"
#include "common/json_text.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {
namespace {

struct CardOptions {
  DatabaseOptions database;
  std::string number;
  std::string funding = "prepaid";
  std::string balance = "0";
  std::string limit = "0";
  std::string billed_line;
  std::int32_t max_pin_attempts = 3;
  std::string amount;  // card fund and payment: dollars
  std::string key;     // card fund, payment and refund: idempotency key
  std::string reason;  // card close
  bool json = false;
};

// A card and the amounts that its printout shows.
struct CardView {
  billing::CardState state;
  billing::CardFunds funds;
  billing::Money uncollected = 0;
};

// Reads the card, its funds and its uncollected charges. NotFound when the card does not exist.
Result<CardView> read_card_view(billing::Store& store, const std::string& number) {
  auto state = store.find_card(number);
  if (!state) {
    return state.status();
  }
  if (!state->has_value()) {
    return Status(StatusCode::NotFound,
                  "card " + billing::mask_card_number(number) + " does not exist");
  }
  auto funds = store.card_funds(number, "");
  if (!funds) {
    return funds.status();
  }
  const billing::CallRecords records(&store, nullptr);
  const Result<billing::Money> uncollected = records.card_uncollected(number);
  if (!uncollected) {
    return uncollected.status();
  }
  return CardView{**state, *funds, *uncollected};
}

// Prints the card, masked. `extra` adds fields to the JSON form.
void print_card_view(const CardView& view, const std::string& number, bool json,
                     const nlohmann::json& extra) {
  const billing::CardFunds& funds = view.funds;
  const billing::Money uncollected = view.uncollected;
  const billing::CardState& card = view.state;
  const std::string masked = billing::mask_card_number(number);
  // A closed card pays for no more calls, so none of its funds are available. A closed prepaid
  // card's free funds belong to its owner, who gets them back with `card refund`.
  const bool closed = card.status == billing::CardStatus::Closed;
  const billing::Money available = closed ? 0 : funds.available;
  const billing::Money refundable = billing::refundable_funds(card, funds);
  if (json) {
    nlohmann::json out = {{"card", masked},
                          {"status", billing::to_string(card.status)},
                          {"funding", billing::to_string(card.card.funding)},
                          {"billed_line", card.card.billed_line},
                          {"failed_pin_attempts", card.failed_pin_attempts},
                          {"max_pin_attempts", card.card.max_pin_attempts},
                          {"balance", billing::format_dollars(funds.balance, 4)},
                          {"available", billing::format_dollars(available, 4)},
                          {"refundable", billing::format_dollars(refundable, 4)},
                          {"uncollected", billing::format_dollars(uncollected, 4)}};
    out.update(extra);
    std::cout << json_text(out) << "\n";
    return;
  }
  std::cout << fmt::format(
      "card {}: {}, {}{}\n", masked, billing::to_string(card.status),
      billing::to_string(card.card.funding),
      card.card.billed_line.empty() ? "" : " billed to " + card.card.billed_line);
  std::cout << fmt::format("  wrong PINs {} of {}\n", card.failed_pin_attempts,
                           card.card.max_pin_attempts);
  if (!funds.has_entries) {
    std::cout << "  no spending limit\n";
    return;
  }
  std::string refund_note;
  const billing::Money held = funds.balance - funds.available;
  if (closed && card.card.funding == billing::CardFunding::Prepaid) {
    if (refundable > 0) {
      refund_note = fmt::format(", ${} left to refund with `relaygw card refund`",
                                billing::format_money(refundable));
    } else if (held > 0) {
      refund_note = fmt::format(", ${} held for calls in progress, to refund after they complete",
                                billing::format_money(held));
    } else {
      refund_note = ", nothing left to refund";
    }
  }
  std::cout << fmt::format("  balance ${}, available ${}{}, uncollected ${}\n",
                           billing::format_money(funds.balance), billing::format_money(available),
                           refund_note, billing::format_money(uncollected));
  const bool sub_cent = funds.balance % billing::kUnitsPerCent != 0 ||
                        available % billing::kUnitsPerCent != 0 ||
                        uncollected % billing::kUnitsPerCent != 0;
  if (sub_cent) {
    std::cout << "  amounts with four decimals have fractions of a cent, shown as stored so "
                 "that none is hidden\n";
  }
}

// Prints the card, masked, or fails the command when it cannot be read.
void print_card(billing::Store& store, const std::string& number, bool json,
                const std::string& command) {
  const Result<CardView> view = read_card_view(store, number);
  if (!view) {
    fail_command(command, view.status().message());
  }
  print_card_view(*view, number, json, nlohmann::json::object());
}

// Prints the card after the command's write committed. A failed read cannot undo that write,
// and exit status 1 would invite a retry under a new key that stores the change twice. So on a
// failed read it prints `stored` (the line describing the write) or, in JSON, the masked card,
// `extra` and a `warning` field. The error goes to standard error as a warning, and the
// command exits 0.
void print_card_after_write(billing::Store& store, const std::string& number, bool json,
                            const std::string& command, const std::string& stored,
                            const nlohmann::json& extra = nlohmann::json::object()) {
  const Result<CardView> view = read_card_view(store, number);
  if (view) {
    print_card_view(*view, number, json, extra);
    return;
  }
  const std::string warning = "the change was stored, but the card could not be read back: " +
                              view.status().message();
  std::cerr << "relaygw " << command << ": warning: " << warning << "\n";
  if (json) {
    nlohmann::json out = {{"card", billing::mask_card_number(number)}, {"warning", warning}};
    out.update(extra);
    std::cout << json_text(out) << "\n";
  } else if (!stored.empty()) {
    std::cout << stored << "\n";
  }
}

// Rejects a --number that is not a well-formed card number before the database is read, so a
// mistyped number is reported as invalid rather than as a card that does not exist.
void check_card_number_option(const CardOptions& options, const std::string& command) {
  if (const Status valid = billing::validate_card_number(options.number); !valid) {
    fail_command(command, "--number: " + valid.message());
  }
}

void run_add(const CardOptions& options) {
  const std::string command = "card add";
  const CommandLog log(command);
  check_card_number_option(options, command);
  billing::NewCard card;
  card.number = options.number;
  auto funding = billing::parse_card_funding(options.funding);
  if (!funding) {
    fail_command(command, "invalid --funding '" + options.funding + "'; use prepaid or postpaid");
  }
  card.funding = *funding;
  card.opening_balance = parse_money_option(options.balance, "--balance", command);
  card.credit_limit = parse_money_option(options.limit, "--limit", command);
  if (card.opening_balance < 0) {
    fail_command(command, "invalid --balance '" + options.balance +
                              "': an opening balance cannot be negative; give 0 or more dollars "
                              "and cents, such as 25.00");
  }
  if (card.credit_limit < 0) {
    fail_command(command, "invalid --limit '" + options.limit +
                              "': a credit limit cannot be negative; give 0 for no limit or a "
                              "limit such as 250.00");
  }
  const Status balance_cents = billing::check_whole_cents("opening balance", card.opening_balance,
                                                          0, billing::kMaxPrepaidBalance);
  if (!balance_cents) {
    fail_command(command, "--balance: " + balance_cents.message());
  }
  const Status limit_cents =
      billing::check_whole_cents("credit limit", card.credit_limit, 0, billing::kMaxCreditLimit);
  if (!limit_cents) {
    fail_command(command, "--limit: " + limit_cents.message());
  }
  if (card.funding == billing::CardFunding::Postpaid && card.opening_balance != 0) {
    fail_command(command, "--balance is the opening balance of a prepaid card, and a postpaid "
                          "card has none; give its credit limit with --limit, or leave it "
                          "out for no limit");
  }
  if (card.funding == billing::CardFunding::Prepaid && card.credit_limit != 0) {
    fail_command(command, "--limit is the credit limit of a postpaid card; give a prepaid "
                          "card its funds with --balance");
  }
  card.max_pin_attempts = options.max_pin_attempts;
  if (!options.billed_line.empty()) {
    auto line = billing::normalize_line_number(options.billed_line);
    if (!line) {
      fail_command(command, "--billed-line: " + line.status().message());
    }
    card.billed_line = *line;
  }
  const std::string pin = read_pin_from_stdin("New PIN: ");
  auto store = open_database(options.database, command);
  if (card.funding == billing::CardFunding::Postpaid && !card.billed_line.empty()) {
    const Status screened = billing::screen_card_billed_line(*store, card.billed_line);
    if (!screened) {
      fail_command(command, screened.message());
    }
  }
  const Status added = billing::add_card(*store, card, pin, write_context(options.database));
  if (!added) {
    fail_command(command, added.message());
  }
  print_card_after_write(*store, options.number, false, command,
                         "added card " + billing::mask_card_number(options.number));
}

void run_show(const CardOptions& options) {
  const std::string command = "card show";
  const CommandLog log(command);
  check_card_number_option(options, command);
  auto store = open_database_read_only(options.database, command);
  print_card(*store, options.number, options.json, command);
}

void run_fund(const CardOptions& options) {
  const std::string command = "card fund";
  const CommandLog log(command);
  check_card_number_option(options, command);
  const billing::Money amount = parse_money_option(options.amount, "--amount", command);
  // The hash covers the card and the amount, so the same key with another amount is a conflict.
  const billing::IdempotencyKey key{options.key, billing::sha256_hex("card-fund|" + options.number +
                                                                     "|" + std::to_string(amount))};
  auto store = open_database(options.database, command);
  const Result<billing::CardFunds> funded =
      billing::fund_card(*store, options.number, amount, key, write_context(options.database));
  if (!funded) {
    fail_command(command, funded.status().message());
  }
  print_card_after_write(*store, options.number, options.json, command,
                         fmt::format("added ${} to card {}", billing::format_money(amount),
                                     billing::mask_card_number(options.number)));
}

void run_payment(const CardOptions& options) {
  const std::string command = "card payment";
  const CommandLog log(command);
  check_card_number_option(options, command);
  const billing::Money amount = parse_money_option(options.amount, "--amount", command);
  // The hash covers the card and the amount, so the same key with another amount is a conflict.
  const billing::IdempotencyKey key{
      options.key,
      billing::sha256_hex("card-payment|" + options.number + "|" + std::to_string(amount))};
  auto store = open_database(options.database, command);
  const Result<billing::CardFunds> paid = billing::record_card_payment(
      *store, options.number, amount, key, write_context(options.database));
  if (!paid) {
    fail_command(command, paid.status().message());
  }
  print_card_after_write(*store, options.number, options.json, command,
                         fmt::format("recorded a payment of ${} on card {}",
                                     billing::format_money(amount),
                                     billing::mask_card_number(options.number)));
}

void run_refund(const CardOptions& options) {
  const std::string command = "card refund";
  const CommandLog log(command);
  check_card_number_option(options, command);
  // The hash covers the card, so the same key on another card is a conflict. Without a key, a
  // repeat finds nothing left to refund and pays nothing.
  std::optional<billing::IdempotencyKey> key;
  if (!options.key.empty()) {
    key =
        billing::IdempotencyKey{options.key, billing::sha256_hex("card-refund|" + options.number)};
  }
  auto store = open_database(options.database, command);
  const Result<billing::CardRefund> refunded =
      billing::refund_card_balance(*store, options.number, key, write_context(options.database));
  if (!refunded) {
    fail_command(command, refunded.status().message());
  }
  if (!options.json) {
    std::cout << fmt::format("refunded ${} from card {}\n", billing::format_money(refunded->amount),
                             billing::mask_card_number(options.number));
  }
  // The text form printed the refund above. JSON keeps four decimals in every amount, for
  // programs that read it.
  print_card_after_write(*store, options.number, options.json, command, "",
                         {{"refunded", billing::format_dollars(refunded->amount, 4)}});
}

void run_close(const CardOptions& options) {
  const std::string command = "card close";
  const CommandLog log(command);
  check_card_number_option(options, command);
  auto store = open_database(options.database, command);
  const Result<billing::CardState> closed =
      billing::close_card(*store, options.number, options.reason, write_context(options.database));
  if (!closed) {
    fail_command(command, closed.status().message());
  }
  print_card_after_write(*store, options.number, options.json, command,
                         "closed card " + billing::mask_card_number(options.number));
}

void run_unlock(const CardOptions& options) {
  const std::string command = "card unlock";
  const CommandLog log(command);
  check_card_number_option(options, command);
  auto store = open_database(options.database, command);
  auto unlocked = billing::unlock_card(*store, options.number, write_context(options.database));
  if (!unlocked) {
    fail_command(command, unlocked.status().message());
  }
  print_card_after_write(*store, options.number, false, command,
                         "unlocked card " + billing::mask_card_number(options.number));
}

}  // namespace

void add_card_commands(CLI::App& app) {
  CLI::App* card = app.add_subcommand(
      "card",
      "Add, show, fund, close, refund and unlock calling cards, and record postpaid payments");
  card->require_subcommand(1);

  auto add_options = std::make_shared<CardOptions>();
  CLI::App* add = card->add_subcommand(
      "add", "Add a calling card; the PIN (4 to 8 digits) is read from standard input");
  add_database_options(*add, add_options->database, DatabaseUse::Write);
  add->add_option("--number", add_options->number, "Card number, 10 to 19 digits")->required();
  add->add_option("--funding", add_options->funding, "prepaid or postpaid")->capture_default_str();
  add->add_option("--balance", add_options->balance, "Prepaid opening balance in dollars")
      ->capture_default_str();
  add->add_option("--limit", add_options->limit,
                  "Postpaid spending limit in dollars; 0 for no limit")
      ->capture_default_str();
  add->add_option("--billed-line", add_options->billed_line, "Line billed for a postpaid card");
  add->add_option("--max-pin-attempts", add_options->max_pin_attempts,
                  "Consecutive wrong PINs that lock the card (1 to 10)")
      ->capture_default_str();
  // Accepted so scripts can state where the PIN comes from; standard input is the only source.
  add->add_flag("--pin-stdin")->description("Read the PIN from standard input (always the case)");
  add->callback([add_options] { run_add(*add_options); });

  auto show_options = std::make_shared<CardOptions>();
  CLI::App* show = card->add_subcommand("show", "Show a card's status and funds (masked)");
  add_database_options(*show, show_options->database, DatabaseUse::Read);
  show->add_option("--number", show_options->number, "Card number")->required();
  show->add_flag("--json", show_options->json, "Print JSON");
  show->callback([show_options] { run_show(*show_options); });

  auto fund_options = std::make_shared<CardOptions>();
  CLI::App* fund = card->add_subcommand(
      "fund", "Add funds to a prepaid card; a repeat with the same --key adds them once");
  add_database_options(*fund, fund_options->database, DatabaseUse::Write);
  fund->add_option("--number", fund_options->number, "Card number")->required();
  fund->add_option("--amount", fund_options->amount, "Dollars and cents to add, such as 25.00")
      ->required();
  fund->add_option("--key", fund_options->key, "Idempotency key, unique per top-up")->required();
  fund->add_flag("--json", fund_options->json, "Print the card as JSON");
  fund->callback([fund_options] { run_fund(*fund_options); });

  auto payment_options = std::make_shared<CardOptions>();
  CLI::App* payment = card->add_subcommand(
      "payment",
      "Record the billed line's payment of a postpaid card's charges, which gives that much of "
      "the card's credit limit back; a repeat with the same --key records it once");
  add_database_options(*payment, payment_options->database, DatabaseUse::Write);
  payment->add_option("--number", payment_options->number, "Card number")->required();
  payment->add_option("--amount", payment_options->amount, "Dollars paid, in whole cents")
      ->required();
  payment->add_option("--key", payment_options->key, "Idempotency key, unique per payment")
      ->required();
  payment->add_flag("--json", payment_options->json, "Print the card as JSON");
  payment->callback([payment_options] { run_payment(*payment_options); });

  auto refund_options = std::make_shared<CardOptions>();
  CLI::App* refund = card->add_subcommand(
      "refund",
      "Pay a closed prepaid card's remaining balance back to its owner as a refund entry in the "
      "card's ledger");
  add_database_options(*refund, refund_options->database, DatabaseUse::Write);
  refund->add_option("--number", refund_options->number, "Card number")->required();
  refund->add_option("--key", refund_options->key,
                     "Idempotency key; a repeat with the same key prints the first refund again");
  refund->add_flag("--json", refund_options->json, "Print the card as JSON");
  refund->callback([refund_options] { run_refund(*refund_options); });

  auto close_options = std::make_shared<CardOptions>();
  CLI::App* close = card->add_subcommand(
      "close", "Close a card for good; every later call is rejected with card-closed");
  add_database_options(*close, close_options->database, DatabaseUse::Write);
  close->add_option("--number", close_options->number, "Card number")->required();
  close->add_option("--reason", close_options->reason, "Why, such as lost or stolen")->required();
  close->add_flag("--json", close_options->json, "Print the card as JSON");
  close->callback([close_options] { run_close(*close_options); });

  auto unlock_options = std::make_shared<CardOptions>();
  CLI::App* unlock = card->add_subcommand("unlock", "Unlock a card locked by wrong PINs");
  add_database_options(*unlock, unlock_options->database, DatabaseUse::Write);
  unlock->add_option("--number", unlock_options->number, "Card number")->required();
  unlock->callback([unlock_options] { run_unlock(*unlock_options); });
  add_staff_command_checks(*card);
}

}  // namespace relaygw::gateway
