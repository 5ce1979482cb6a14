// relaygw call create | event | debit | complete | show: staff commands over the call record
// library, one step of a call's life per command. Times are ISO 8601 with an offset and are
// stored in UTC; a missing --at means now.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/call_time.hpp"
#include "billing/cards.hpp"
#include "billing/directory.hpp"
#include "common/card_digits.hpp"
#include "common/json_text.hpp"
#include "common/text_table.hpp"
#include "gateway/command_log.hpp"
#include "gateway/commands.hpp"
#include "gateway/db_support.hpp"

namespace relaygw::gateway {
namespace {

struct CallOptions {
  DatabaseOptions database;
  std::string id;
  std::string from;
  std::string to;
  std::string billing = "sent-paid";
  std::string access = "none";
  std::string handling =
      std::string(relaygw::billing::to_string(relaygw::billing::kDefaultHandling));
  std::string third_number;
  std::string card;
  std::string person;
  std::string at;
  std::string event;
  std::string how;
  std::string by;
  std::string key;
  bool person_reached = false;
  bool unaccepted = false;
  bool json = false;
};

billing::Instant instant_or_now(const CallOptions& options, const std::string& command) {
  return options.at.empty() ? write_context(options.database).at
                            : parse_instant_option(options.at, "--at", command);
}

billing::WriteContext context_at(const CallOptions& options, billing::Instant at) {
  billing::WriteContext context = write_context(options.database);
  context.at = at;
  return context;
}

// The data a call command needs to rate: the number plan, the stored rate deck in effect today
// (UTC date), which rates calls that name no deck, and the other stored decks that the calls
// name (see billing/call_records.hpp).
struct RatingData {
  std::optional<billing::NumberPlan> plan;
  std::optional<billing::RateDeck> deck;
  std::optional<billing::Rater> rater;
  std::optional<billing::RateDeckCache> decks;  // destroyed before `deck`, which it may use
};

void load_rating(RatingData& data, billing::Store& store, const CallOptions& options,
                 const std::string& command) {
  data.plan.emplace(load_number_plan(options.database, command));
  // The gateway picks its first deck by the UTC date too (gateway/server/call_service.cpp).
  const std::string today =
      billing::format_instant(write_context(options.database).at).substr(0, 10);
  data.deck = load_deck_in_effect(store, today, command);
  data.rater.emplace(&*data.plan, data.deck ? &*data.deck : nullptr);
  data.decks.emplace(&*data.plan);
}

billing::RateDeckCache* deck_cache(RatingData& data) {
  return data.decks ? &*data.decks : nullptr;
}

billing::AuthorizationRequest authorization_request(const CallOptions& options,
                                                    const billing::CallRequest& call) {
  billing::AuthorizationRequest request;
  request.call_id = call.id;
  request.from = options.from;
  request.to = options.to;
  request.billing = call.billing;
  request.access = call.access;
  request.handling = call.handling;
  request.third_number = options.third_number;
  request.card_number = options.card;
  request.requested_person = options.person;
  return request;
}

void print_decision(const billing::CallRequest& call, const billing::Authorization& decision) {
  if (decision.granted) {
    // Sent-paid and other calls with nothing to report carry an empty message.
    if (decision.message.empty()) {
      std::cout << fmt::format("call {} authorized\n", call.id);
    } else if (decision.message.rfind("authorized", 0) == 0) {
      std::cout << fmt::format("call {} {}\n", call.id, decision.message);
    } else {
      std::cout << fmt::format("call {} authorized: {}\n", call.id, decision.message);
    }
    if (decision.max_seconds) {
      std::cout << fmt::format("  longest call the card pays for: {} s (held ${})\n",
                               *decision.max_seconds, billing::format_money(decision.held));
    }
    return;
  }
  std::cout << fmt::format("call {} refused: {}\n", call.id, billing::to_string(decision.reason));
  std::cerr << "relaygw call create: " << billing::command_line_message(decision) << "\n";
}

// Rejects an empty or overlong --id and the billing options that the chosen --billing does not
// use, which would otherwise be dropped without a word.
constexpr std::size_t kMaxCallIdChars = 128;

// How far ahead of this machine's clock a --at may be: the default of the gateway's [billing]
// clock_tolerance_seconds, because `call create` reads no configuration file.
constexpr std::chrono::seconds kCreateClockTolerance{5};

void check_call_id(const CLI::App& create, const CallOptions& options, const std::string& command) {
  if (create.count("--id") == 0) {
    return;
  }
  const bool valid_chars = std::all_of(options.id.begin(), options.id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 ||
           std::string_view("-_.:@/").find(static_cast<char>(c)) != std::string_view::npos;
  });
  if (options.id.empty() || options.id.size() > kMaxCallIdChars || !valid_chars) {
    // The message shows at most 40 bytes, cut before a UTF-8 continuation byte, and masks a
    // card number that the id may hold.
    const std::string masked = mask_card_number_runs(options.id);
    std::size_t shown_bytes = std::min<std::size_t>(masked.size(), 40);
    while (shown_bytes > 0 && shown_bytes < masked.size() &&
           (static_cast<unsigned char>(masked[shown_bytes]) & 0xC0) == 0x80) {
      --shown_bytes;
    }
    fail_command(command, "invalid --id '" + masked.substr(0, shown_bytes) +
                              (shown_bytes < masked.size() ? "..." : "") + "': a call id is 1 to " +
                              std::to_string(kMaxCallIdChars) +
                              " letters, digits or - _ . : @ /; leave --id out for a new id");
  }
}

// Rejects a --billing, --access or --handling value that is not one of the accepted names.
void check_call_types(const CallOptions& options, const std::string& command) {
  if (!billing::parse_billing_method(options.billing)) {
    fail_command(command, "invalid --billing '" + options.billing +
                              "'; use sent-paid, collect, third-party, person-to-person or "
                              "calling-card");
  }
  if (!billing::parse_access_tag(options.access)) {
    fail_command(command, "invalid --access '" + options.access +
                              "'; use none, tty, relay-tty, relay-ip, captioned, video or speech");
  }
  if (!billing::parse_handling(options.handling)) {
    fail_command(command,
                 "invalid --handling '" + options.handling + "'; use automated or operator");
  }
}

// Rejects the billing options that --billing does not use and a missing one that it needs.
// An emergency call is authorized whatever its billing options, so it skips these checks.
void check_billing_options(const CLI::App& create, const CallOptions& options,
                           billing::BillingMethod method, const std::string& command) {
  if (billing::is_emergency_number(options.to)) {
    return;
  }
  struct BillingOption {
    const char* option;
    billing::BillingMethod used_with;
    const char* needed;  // what the option names, or nullptr when it is optional
  };
  const BillingOption billing_options[] = {
      {"--card", billing::BillingMethod::CallingCard, "--card NUMBER, the calling card to bill"},
      {"--pin-stdin", billing::BillingMethod::CallingCard, nullptr},
      {"--third-number", billing::BillingMethod::ThirdNumber,
       "--third-number NUMBER, the line to bill"},
      {"--person", billing::BillingMethod::PersonToPerson, "--person NAME, the person to reach"},
  };
  for (const BillingOption& billing_option : billing_options) {
    const std::string option = billing_option.option;
    const std::string used_with(billing::to_string(billing_option.used_with));
    if (create.count(option) > 0 && method != billing_option.used_with) {
      fail_command(command, option + " is used only with --billing " + used_with +
                                ", not with --billing " + options.billing +
                                "; remove it or change --billing");
    }
    if (billing_option.needed != nullptr && method == billing_option.used_with &&
        create.count(option) == 0) {
      fail_command(command, "--billing " + used_with + " requires " + billing_option.needed +
                                "; add it or choose another --billing");
    }
  }
}

// Rejects a call from a line to itself, as `relaygw quote` does.
void check_distinct_lines(const CallOptions& options, const std::string& command) {
  if (const Status distinct = billing::check_distinct_lines(options.from, options.to, "--");
      !distinct) {
    fail_command(command, distinct.message());
  }
}

// Rejects a --at further ahead of this machine's clock than kCreateClockTolerance, because a
// call cannot be requested in the future. A --at that does not parse or lies outside the call
// times that records accept is reported later, with that reason.
void check_not_future(const CallOptions& options, const std::string& command) {
  if (options.at.empty()) {
    return;
  }
  const Result<billing::Instant> at = billing::parse_instant(options.at);
  if (!at || !billing::check_call_time("--at", *at)) {
    return;
  }
  const billing::Instant now = write_context(options.database).at;
  if (*at > now + kCreateClockTolerance) {
    fail_command(command, "--at " + options.at + " (" + billing::format_instant(*at) +
                              ") is in the future: the clock reads " +
                              billing::format_instant(now) + ", and --at may be at most " +
                              std::to_string(kCreateClockTolerance.count()) +
                              " s ahead; give the time the call was requested, or leave --at "
                              "out for now");
  }
}

// Returns whether `value` has no visible character: it is empty, or only spaces and characters
// that display as nothing.
bool is_blank(std::string_view value) {
  for (std::size_t i = 0; i < value.size();) {
    const card_digits_detail::Character character = card_digits_detail::decode_character(value, i);
    if (!character.valid || !card_digits_detail::is_invisible_or_space(character.code_point)) {
      return false;
    }
    i += character.length;
  }
  return true;
}

// Rejects an option given with an empty or blank value before anything is stored. Left in, such
// a value would count as given for some checks and as missing for others: an empty --person
// passes the check that person-to-person names one, and the call is then stored as refused.
void check_no_blank_values(const CLI::App& subcommand, const std::string& command) {
  for (const CLI::Option* option : subcommand.get_options()) {
    if (option->get_type_size() == 0 || option->count() == 0) {
      continue;
    }
    const std::string name = option->get_name(false, true);
    // write_context rejects a blank --actor with its own message.
    if (name == "--actor") {
      continue;
    }
    for (const std::string& value : option->results()) {
      if (is_blank(value)) {
        fail_command(command, name + " is given with " +
                                  (value.empty() ? "an empty value" : "only blank space") +
                                  "; give a value" +
                                  (option->get_required() ? "" : ", or leave " + name + " out"));
      }
    }
  }
}

void check_create_options(const CLI::App& create, const CallOptions& options) {
  const std::string command = "call create";
  check_call_id(create, options, command);
  check_no_blank_values(create, command);
  check_call_types(options, command);
  check_billing_options(create, options, *billing::parse_billing_method(options.billing), command);
  check_distinct_lines(options, command);
  check_not_future(options, command);
}

void run_create(const CallOptions& options) {
  const std::string command = "call create";
  const CommandLog log(command);
  billing::CallRequest call;
  call.id = options.id;
  call.from = options.from;
  call.to = options.to;
  // check_create_options has rejected values that do not parse.
  const auto billing_method = billing::parse_billing_method(options.billing);
  const auto access = billing::parse_access_tag(options.access);
  const auto handling = billing::parse_handling(options.handling);
  call.billing = *billing_method;
  call.access = *access;
  call.handling = *handling;
  call.card_number = options.card;
  call.requested_person = options.person;
  call.emergency = billing::is_emergency_number(options.to);
  // The gateway stores the same billed number. An invalid one stays empty, and the Authorizer
  // below refuses the call with the reason.
  if (!call.emergency) {
    auto billed =
        billing::billed_line_number(call.billing, options.from, options.to, options.third_number);
    if (billed) {
      call.billed_number = *billed;
    }
  }
  const billing::WriteContext context = context_at(options, instant_or_now(options, command));

  // Emergency calls are authorized even when the database cannot be opened.
  if (call.emergency) {
    auto store = billing::SqliteStore::open(options.database.db);
    if (!store) {
      std::cout << "emergency call authorized with no billing checks\n";
      std::cerr << "relaygw call create: not recorded: " << store.status().message() << "\n";
      return;
    }
  }
  std::string pin;
  if (call.billing == billing::BillingMethod::CallingCard && !call.emergency) {
    pin = read_pin_from_stdin("Card PIN: ");
  }
  auto store = open_database(options.database, command);
  // The requested person is stored with the call and printed in full. An emergency call is
  // recorded whatever it names.
  if (!call.emergency && !options.person.empty()) {
    const Status person = billing::check_identifier_card_digits(
        store.get(), "--person", options.person, billing::IdentifierKind::Name);
    if (!person) {
      fail_command(command, person.message());
    }
  }
  RatingData rating;
  if (!call.emergency) {
    load_rating(rating, *store, options, command);
    auto calling = rating.plan->classify(options.from);
    if (!calling) {
      fail_command(command, "--from: " + calling.status().message());
    }
    auto dialed = rating.plan->classify(options.to);
    if (!dialed) {
      fail_command(command, "--to: " + dialed.status().message());
    }
    // Stored in E.164, as the gateway stores them, so `call show`, reports and lookups by
    // number read the same call whichever form staff typed.
    call.from = calling->e164;
    call.to = dialed->e164;
  } else if (auto from = billing::normalize_line_number(options.from); from) {
    call.from = *from;
  }
  const billing::Rater* rater = rating.rater ? &*rating.rater : nullptr;
  billing::Authorizer authorizer(store.get(), rating.plan ? &*rating.plan : nullptr, rater,
                                 deck_cache(rating));
  billing::AuthorizationRequest request = authorization_request(options, call);
  request.pin = pin;
  // Every check that can refuse the call runs before the call is stored, so a refused call is
  // stored with its refusal and no quote or hold, whichever check refused it. The card and
  // its PIN come first, so a wrong PIN counts whatever the destination.
  const Result<billing::Authorizer::CardCheck> card = authorizer.check_card(request, context);
  if (!card) {
    fail_command(command, card.status().message());
  }
  const billing::CardState* verified_card = card->card ? &*card->card : nullptr;
  std::optional<billing::Authorization> refusal = card->refusal;
  if (!refusal) {
    Result<std::optional<billing::Authorization>> found =
        authorizer.find_refusal(request, context, verified_card);
    if (!found) {
      fail_command(command, found.status().message());
    }
    refusal = std::move(*found);
  }
  billing::CallRecords records(store.get(), refusal ? nullptr : rater, deck_cache(rating));
  auto opened = records.open(call, context);
  if (!opened) {
    fail_command(command, opened.status().message());
  }
  (void)records.add_event(
      opened->id,
      billing::CallEventRecord{billing::CallEvent::Validated, context.at, context.actor, {}, {}});

  request.call_id = opened->id;
  // NOTE: a refusal here, after the quote is stored, comes only from a change since
  // find_refusal ran, such as another call taking the card's funds or a new deck in effect.
  const Result<billing::Authorization> decision =
      refusal ? Result<billing::Authorization>(*refusal)
              : authorizer.authorize(request, context, verified_card);
  if (!decision) {
    fail_command(command, decision.status().message());
  }
  const Status recorded = records.record_authorization(opened->id, *decision, context);
  if (!recorded) {
    const Status released = authorizer.release_hold(request, *decision, context);
    fail_command(command, recorded.message() +
                              (released ? "" : "; releasing the call's hold failed too: " +
                                                   released.message()));
  }
  print_decision(*opened, *decision);
  log.done("call " + opened->id + (decision->granted ? " authorized" : " refused: ") +
           (decision->granted ? "" : std::string(billing::to_string(decision->reason))));
  if (!decision->granted) {
    throw CLI::RuntimeError(1);
  }
}

void run_event(const CallOptions& options) {
  const std::string command = "call event";
  const CommandLog log(command);
  auto event = billing::parse_call_event(options.event);
  const bool recorded_elsewhere =
      event &&
      (*event == billing::CallEvent::Authorized || *event == billing::CallEvent::Refused ||
       *event == billing::CallEvent::Disconnected || *event == billing::CallEvent::Requested ||
       *event == billing::CallEvent::PsapAcknowledged);
  if (!event || recorded_elsewhere) {
    fail_command(command, "invalid --event '" + options.event +
                              "'; use validated, quoted, announced, accepted or connected "
                              "(`relaygw call create` records the authorization or refusal, "
                              "`relaygw call complete` the disconnect, and the gateway's "
                              "emergency spool a late PSAP acknowledgement)");
  }
  billing::CallEventRecord record{*event, instant_or_now(options, command), "", {}, {}};
  record.actor = write_context(options.database).actor;
  if (!options.how.empty()) {
    record.acceptance_method = billing::parse_acceptance_method(options.how);
    if (!record.acceptance_method) {
      fail_command(command, "invalid --how '" + options.how + "'; use voice, tty-text or keypad");
    }
    record.accepted_by = options.by;
  }
  if (*event == billing::CallEvent::Disconnected) {
    fail_command(command, "use `relaygw call complete` to disconnect a call, so it is posted");
  }
  auto store = open_database(options.database, command);
  billing::CallRecords records(store.get(), nullptr);
  const Status added = records.add_event(options.id, record);
  if (!added) {
    fail_command(command, added.message());
  }
  std::cout << fmt::format("call {}: {} at {}\n", options.id, options.event,
                           billing::format_instant(record.at));
}

// Prints the charge lines, the total and any uncollected part in columns as wide as their
// longest value, so that a long description never pushes the amounts out of line.
void print_posting(const billing::CallPosting& posting, billing::Money uncollected) {
  using Align = TextTable::Align;
  TextTable table({Align::Left, Align::Left, Align::Right}, "  ");
  for (const billing::PostedChargeLine& line : posting.lines) {
    table.add_row({line.kind, line.description, billing::format_dollars(line.amount)});
  }
  table.add_spanning_row("total", billing::format_dollars(posting.total));
  if (uncollected > 0) {
    table.add_spanning_row("uncollected (beyond the card's hold and funds)",
                           billing::format_dollars(uncollected));
  }
  std::cout << table.render();
}

// Prints the result of an interim debit of a card with no ledger: a postpaid card with no
// credit limit. Its calls are billed in full to its line, so the debit only records `at`.
void print_unfunded_debit(billing::SqliteStore& store, const std::string& call_id,
                          billing::Instant at) {
  auto call = store.find_call(call_id);
  std::string billed_line = "its line";
  std::string masked = "the card";
  if (call && call->has_value()) {
    const std::string& number = (*call)->request.card_number;
    masked = "card " + billing::mask_card_number(number);
    auto card = store.find_card(number);
    if (card && card->has_value() && !(*card)->card.billed_line.empty()) {
      billed_line = "line " + (*card)->card.billed_line;
    }
  }
  std::cout << fmt::format(
      "call {}: recorded up to {}; {} is postpaid with no credit limit, so the call is billed to "
      "{} when it completes and the card has no balance to debit\n",
      call_id, billing::format_instant(at), masked, billed_line);
}

void run_debit(const CallOptions& options) {
  const std::string command = "call debit";
  const CommandLog log(command);
  auto store = open_database(options.database, command);
  RatingData rating;
  load_rating(rating, *store, options, command);
  billing::CallRecords records(store.get(), &*rating.rater, deck_cache(rating));
  const billing::Instant at = instant_or_now(options, command);
  auto funds = records.interim_debit(options.id, at, options.key, context_at(options, at));
  if (!funds) {
    fail_command(command, funds.status().message());
  }
  if (!funds->has_entries) {
    print_unfunded_debit(*store, options.id, at);
    return;
  }
  std::cout << fmt::format("call {}: debited ${} so far; card balance ${}\n", options.id,
                           billing::format_money(funds->debited_for_call),
                           billing::format_money(funds->balance));
}

bool needs_acceptance(const billing::CallRecord& record) {
  return record.request.billing == billing::BillingMethod::Collect ||
         record.request.billing == billing::BillingMethod::ThirdNumber;
}

// Rejects the first completion of a connected collect or third-number call with no acceptance,
// unless --unaccepted states that the billed party declined. Such a call posts zero, and once it is
// disconnected a forgotten acceptance can no longer be recorded.
void check_acceptance(const billing::CallRecord& record, const CallOptions& options,
                      const std::string& command) {
  const bool accepted = billing::event_time(record, billing::CallEvent::Accepted).has_value();
  const std::optional<billing::Instant> connected =
      billing::event_time(record, billing::CallEvent::Connected);
  if (record.request.emergency || !needs_acceptance(record) ||
      billing::event_time(record, billing::CallEvent::Disconnected)) {
    return;
  }
  if (options.unaccepted && accepted) {
    fail_command(command, "call '" + options.id +
                              "' has an accepted event, so --unaccepted does not apply; "
                              "complete it without --unaccepted");
  }
  if (!connected || accepted || options.unaccepted) {
    return;
  }
  fail_command(command,
               "call '" + options.id + "' is a " +
                   std::string(billing::to_string(record.request.billing)) + " call connected at " +
                   billing::format_instant(*connected) +
                   " with no acceptance of its charges, so it would post nothing; record the "
                   "acceptance first with `relaygw call event --id " +
                   options.id +
                   " --event accepted --how voice|tty-text|keypad --by NAME` (billing starts at "
                   "the later of the connect and the acceptance), or add --unaccepted if the "
                   "billed party declined the charges");
}

// Returns why a posted call billed nothing, or "" when it was billed.
std::string zero_charge_reason(const billing::CallRecord& record) {
  if (!record.posting || !record.posting->lines.empty()) {
    return "";
  }
  if (record.request.emergency) {
    return "emergency call";
  }
  if (!billing::event_time(record, billing::CallEvent::Connected)) {
    return "never connected";
  }
  if (needs_acceptance(record) && !billing::event_time(record, billing::CallEvent::Accepted)) {
    return "no acceptance of the charges recorded";
  }
  return "no billable conversation (disconnected in the second it connected or was accepted)";
}

void run_complete(const CallOptions& options) {
  const std::string command = "call complete";
  const CommandLog log(command);
  auto store = open_database(options.database, command);
  auto call = store->find_call(options.id);
  if (!call) {
    fail_command(command, call.status().message());
  }
  // A call refused at `call create` never got an authorized event. Completing it would post a
  // zero total that reads like a billed call, so the command rejects it. Calls refused before
  // schema 10 have no refused event, so no stored reason.
  if (call->has_value() && !(*call)->request.emergency &&
      !billing::event_time(**call, billing::CallEvent::Authorized)) {
    const std::string reason = billing::describe_refusal(**call);
    fail_command(command, "call '" + options.id + "' was refused (" +
                              (reason.empty() ? "it has no authorized event" : reason) +
                              "); there is nothing to complete");
  }
  if (call->has_value()) {
    check_acceptance(**call, options, command);
  }
  // Emergency calls bill zero, so they complete even without numbering data or a rate deck.
  RatingData rating;
  if (!call->has_value() || !(*call)->request.emergency) {
    load_rating(rating, *store, options, command);
  }
  billing::CallRecords records(store.get(), rating.rater ? &*rating.rater : nullptr,
                               deck_cache(rating));
  const billing::Instant at = instant_or_now(options, command);
  auto posting =
      records.complete(billing::Completion{options.id, at, options.person_reached, options.key},
                       context_at(options, at));
  if (!posting) {
    fail_command(command, posting.status().message());
  }
  std::cout << fmt::format("call {} posted\n", options.id);
  auto record = store->find_call(options.id);
  if (!record || !record->has_value()) {
    fail_command(command, "call '" + options.id + "' was posted but cannot be read back");
  }
  const Result<billing::Money> uncollected = records.uncollected(**record);
  if (!uncollected) {
    fail_command(command, uncollected.status().message());
  }
  print_posting(*posting, *uncollected);
  if (const std::string reason = zero_charge_reason(**record); !reason.empty()) {
    std::cout << "  not billed: " << reason << "\n";
  }
  log.done("posted, total " + billing::format_dollars(posting->total) + ", uncollected " +
           billing::format_dollars(*uncollected));
}

// Formats a duration from call_json as "N s", or `missing` when it is null.
std::string describe_seconds(const nlohmann::json& seconds, const std::string& missing) {
  if (seconds.is_null()) {
    return missing;
  }
  return std::to_string(seconds.get<std::int64_t>()) + " s";
}

nlohmann::json call_json(const billing::CallRecord& record, billing::Money uncollected,
                         const std::optional<billing::RateDeckHeader>& deck) {
  const billing::CallRequest& request = record.request;
  nlohmann::json out = {{"id", request.id},
                        {"from", request.from},
                        {"to", request.to},
                        {"billing", billing::to_string(request.billing)},
                        {"access", billing::to_string(request.access)},
                        {"handling", billing::to_string(request.handling)},
                        {"emergency", request.emergency}};
  if (!request.billed_number.empty()) {
    out["billed_number"] = request.billed_number;
  }
  if (!request.card_number.empty()) {
    out["card"] = billing::mask_card_number(request.card_number);
  }
  if (request.quote) {
    out["quote"] = {{"one_minute", billing::format_dollars(request.quote->one_minute, 4)},
                    {"rate_deck_sha256", request.quote->deck_sha256}};
    if (deck) {
      out["quote"]["rate_deck_name"] = deck->name;
      out["quote"]["rate_deck_effective_from"] = deck->effective_from;
    }
  }
  nlohmann::json events = nlohmann::json::array();
  for (const billing::CallEventRecord& event : record.events) {
    nlohmann::json item = {{"event", billing::to_string(event.event)},
                           {"at", billing::format_instant(event.at)},
                           {"actor", event.actor}};
    if (event.acceptance_method) {
      item["how"] = billing::to_string(*event.acceptance_method);
      item["by"] = event.accepted_by;
    }
    if (event.event == billing::CallEvent::Refused) {
      item["reason_code"] = event.reason_code;
      item["reason_message"] = event.reason_message;
    }
    if (event.event == billing::CallEvent::PsapAcknowledged) {
      item["psap"] = event.accepted_by;
      if (const std::optional<billing::Instant> requested =
              billing::event_time(record, billing::CallEvent::Requested)) {
        item["seconds_after_request"] = (event.at - *requested).count();
      }
    }
    events.push_back(item);
  }
  out["events"] = events;
  const billing::CallDurations durations = billing::call_durations(record);
  auto optional_seconds = [](const std::optional<std::int64_t>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  out["session_seconds"] = optional_seconds(durations.session_seconds);
  out["conversation_seconds"] = optional_seconds(durations.conversation_seconds);
  if (record.posting) {
    nlohmann::json lines = nlohmann::json::array();
    for (const billing::PostedChargeLine& line : record.posting->lines) {
      lines.push_back({{"kind", line.kind},
                       {"description", line.description},
                       {"amount", billing::format_dollars(line.amount)}});
    }
    out["lines"] = lines;
    out["total"] = billing::format_dollars(record.posting->total);
    out["uncollected"] = billing::format_dollars(uncollected);
  }
  return out;
}

// Returns why a call has no conversation time. It is still connected, it was never connected,
// or, for an emergency call, its PSAP acknowledged the dispatch only after the call was stored.
std::string missing_conversation(const billing::CallRecord& record) {
  if (billing::event_time(record, billing::CallEvent::Connected)) {
    return "not disconnected yet";
  }
  const std::optional<billing::LatePsapAck> late = billing::late_psap_ack(record);
  if (!late) {
    return "not connected";
  }
  return fmt::format("none: PSAP route {} acknowledged the dispatch at {}, {} s after the request{}",
                     late->psap_route, billing::format_instant(late->at),
                     late->seconds_after_request,
                     late->after_disconnect ? ", after the call ended" : "");
}

// Returns the stored deck that `record` was quoted with, or nullopt when it names none or the
// database no longer lists it.
std::optional<billing::RateDeckHeader> quoted_deck(billing::Store& store,
                                                   const billing::CallRecord& record,
                                                   const std::string& command) {
  if (!record.request.quote || record.request.quote->deck_sha256.empty()) {
    return std::nullopt;
  }
  auto decks = store.list_rate_decks();
  if (!decks) {
    fail_command(command, decks.status().message());
  }
  // The same deck may be stored more than once, so the last one stored is taken, as
  // Store::find_rate_deck takes it.
  for (auto deck = decks->rbegin(); deck != decks->rend(); ++deck) {
    if (deck->sha256_hex == record.request.quote->deck_sha256) {
      return *deck;
    }
  }
  return std::nullopt;
}

// Names the deck of a quote by name, effective date and the first 12 hex digits of its
// SHA-256, which `relaygw db status` prints in full.
std::string describe_quoted_deck(const billing::CallQuote& quote,
                                 const std::optional<billing::RateDeckHeader>& deck) {
  if (quote.deck_sha256.empty()) {
    return "(none stored)";
  }
  const std::string short_sha = "sha256 " + quote.deck_sha256.substr(0, 12);
  if (!deck) {
    return short_sha + " (not found in the database)";
  }
  const std::string effective =
      deck->effective_from.empty() ? "no effective date" : "effective " + deck->effective_from;
  return fmt::format("'{}', {}, {}", deck->name, effective, short_sha);
}

void run_show(const CallOptions& options) {
  const std::string command = "call show";
  const CommandLog log(command);
  auto store = open_database_read_only(options.database, command);
  auto record = store->find_call(options.id);
  if (!record) {
    fail_command(command, record.status().message());
  }
  if (!record->has_value()) {
    fail_command(command, "call '" + options.id + "' not found; check the --id");
  }
  // The part of a card call's charge beyond its hold and the card's funds.
  const billing::CallRecords records(store.get(), nullptr);
  const Result<billing::Money> uncollected = records.uncollected(**record);
  if (!uncollected) {
    fail_command(command, uncollected.status().message());
  }
  const std::optional<billing::RateDeckHeader> deck = quoted_deck(*store, **record, command);
  const nlohmann::json out = call_json(**record, *uncollected, deck);
  if (options.json) {
    std::cout << json_text(out) << "\n";
    return;
  }
  std::cout << fmt::format("call {}: {} to {}, {}, access {}{}\n", options.id,
                           out["from"].get<std::string>(), out["to"].get<std::string>(),
                           out["billing"].get<std::string>(), out["access"].get<std::string>(),
                           (*record)->request.emergency ? ", EMERGENCY" : "");
  if (out.contains("billed_number")) {
    std::cout << fmt::format("  billed to {}\n", out["billed_number"].get<std::string>());
  }
  if (const std::optional<billing::CallQuote>& quote = (*record)->request.quote; quote) {
    std::cout << fmt::format("  quoted ${} for a one-minute call with rate deck {}\n",
                             billing::format_money(quote->one_minute),
                             describe_quoted_deck(*quote, deck));
  }
  for (const nlohmann::json& event : out["events"]) {
    std::cout << fmt::format("  {:<13} {} by {}\n", event["event"].get<std::string>(),
                             event["at"].get<std::string>(), event["actor"].get<std::string>());
    if (event.contains("how")) {
      std::cout << fmt::format("  {:<13} charges accepted by {} ({})\n", "",
                               event["by"].get<std::string>(), event["how"].get<std::string>());
    }
    if (event.contains("reason_code")) {
      std::cout << fmt::format("  {:<13} {}: {}\n", "", event["reason_code"].get<std::string>(),
                               event["reason_message"].get<std::string>());
    }
    if (event.contains("psap")) {
      std::cout << fmt::format("  {:<13} PSAP route {} acknowledged the dispatch late{}\n", "",
                               event["psap"].get<std::string>(),
                               event.contains("seconds_after_request")
                                   ? fmt::format(", {} s after the request",
                                                 event["seconds_after_request"].get<std::int64_t>())
                                   : std::string());
    }
  }
  // `call create` authorizes every call it does not refuse, emergency calls included, so a call
  // with no authorized event was refused and never connected.
  if (!(*record)->request.emergency &&
      !billing::event_time(**record, billing::CallEvent::Authorized)) {
    std::cout << "  refused, so never connected and not billed\n";
  } else {
    std::cout << fmt::format("  session {}, conversation {}\n",
                             describe_seconds(out["session_seconds"], "not disconnected yet"),
                             describe_seconds(out["conversation_seconds"],
                                              missing_conversation(**record)));
  }
  if ((*record)->posting) {
    print_posting(*(*record)->posting, *uncollected);
    if (const std::string reason = zero_charge_reason(**record); !reason.empty()) {
      std::cout << "  not billed: " << reason << "\n";
    }
  }
}

// Adds --db and --id, and --actor, --data-dir and --at as `use` selects. Only a command that
// writes takes --at, the instant its step happened.
void add_call_options(CLI::App& command, CallOptions& options, DatabaseUse use, bool id_required) {
  add_database_options(command, options.database, use);
  auto* id = command.add_option("--id", options.id, "Call id");
  if (id_required) {
    id->required();
  }
  if (use == DatabaseUse::Write || use == DatabaseUse::WriteWithData) {
    command.add_option("--at", options.at,
                       "When it happened, ISO 8601 with an offset (default: now)");
  }
}

}  // namespace

void add_call_commands(CLI::App& app) {
  CLI::App* call = app.add_subcommand("call", "Create, advance, complete and show calls");
  call->require_subcommand(1);

  auto create_options = std::make_shared<CallOptions>();
  CLI::App* create = call->add_subcommand(
      "create",
      "Open and authorize a call; exit status 1 when refused. Calling-card calls read the PIN "
      "from standard input");
  add_call_options(*create, *create_options, DatabaseUse::WriteWithData, false);
  create->add_option("--from", create_options->from, "Calling number")->required();
  create->add_option("--to", create_options->to, "Dialed number")->required();
  create
      ->add_option("--billing", create_options->billing,
                   "sent-paid, collect, third-party, person-to-person or calling-card")
      ->capture_default_str();
  create
      ->add_option("--access", create_options->access,
                   "none, tty, relay-tty, relay-ip, captioned, video or speech")
      ->capture_default_str();
  create->add_option("--handling", create_options->handling, "automated or operator")
      ->capture_default_str();
  create->add_option("--third-number", create_options->third_number, "Line billed (third-party)");
  create->add_option("--card", create_options->card, "Calling card number (calling-card)");
  create->add_option("--person", create_options->person, "Requested person (person-to-person)");
  create->add_flag("--pin-stdin")
      ->description("Read the card PIN from standard input (always the case for calling-card)");
  create->callback([create, create_options] {
    check_create_options(*create, *create_options);
    run_create(*create_options);
  });

  auto event_options = std::make_shared<CallOptions>();
  CLI::App* event = call->add_subcommand("event", "Record a lifecycle event of a call");
  add_call_options(*event, *event_options, DatabaseUse::Write, true);
  event
      ->add_option("--event", event_options->event,
                   "validated, quoted, announced, accepted or connected")
      ->required();
  event->add_option("--how", event_options->how, "accepted: voice, tty-text or keypad");
  event->add_option("--by", event_options->by, "accepted: who accepted the charges");
  event->callback([event, event_options] {
    check_no_blank_values(*event, "call event");
    run_event(*event_options);
  });

  auto debit_options = std::make_shared<CallOptions>();
  CLI::App* debit = call->add_subcommand("debit", "Interim debit of a calling-card call so far");
  add_call_options(*debit, *debit_options, DatabaseUse::WriteWithData, true);
  debit->add_option("--key", debit_options->key, "Idempotency key of this debit")->required();
  debit->callback([debit, debit_options] {
    check_no_blank_values(*debit, "call debit");
    run_debit(*debit_options);
  });

  auto complete_options = std::make_shared<CallOptions>();
  CLI::App* complete = call->add_subcommand(
      "complete", "Disconnect, rate and post a call once; repeat with the same --key safely");
  add_call_options(*complete, *complete_options, DatabaseUse::WriteWithData, true);
  complete->add_option("--key", complete_options->key, "Idempotency key of this completion")
      ->required();
  complete->add_flag("--person-reached", complete_options->person_reached,
                     "person-to-person: the requested person came to the phone");
  complete->add_flag("--unaccepted", complete_options->unaccepted,
                     "collect or third-party: the billed party declined the charges, so the "
                     "connected call posts zero");
  complete->callback([complete, complete_options] {
    check_no_blank_values(*complete, "call complete");
    run_complete(*complete_options);
  });

  auto show_options = std::make_shared<CallOptions>();
  CLI::App* show = call->add_subcommand("show", "Show a call's events, durations and charges");
  add_call_options(*show, *show_options, DatabaseUse::Read, true);
  show->add_flag("--json", show_options->json, "Print JSON");
  show->callback([show, show_options] {
    check_no_blank_values(*show, "call show");
    run_show(*show_options);
  });
  add_staff_command_checks(*call);
}

}  // namespace relaygw::gateway
