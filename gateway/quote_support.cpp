#include "gateway/quote_support.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "billing/authorization.hpp"
#include "billing/call_records.hpp"
#include "billing/call_time.hpp"
#include "billing/call_types.hpp"
#include "billing/deck_cache.hpp"
#include "billing/directory.hpp"
#include "billing/money.hpp"
#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/sqlite_store.hpp"
#include "billing/store.hpp"
#include "gateway/logging.hpp"

namespace relaygw::gateway {
namespace {

using billing::format_dollars;

// Converts decimal minutes ("2", "2.5", "0.75") to whole seconds, rounding a started second
// up. Accepts at most 1440 minutes and four decimals.
std::optional<std::int64_t> parse_minutes(const std::string& text) {
  Result<billing::Money> ten_thousandths = billing::parse_dollars(text);
  if (!ten_thousandths || *ten_thousandths < 0 || *ten_thousandths > 1440 * 10'000) {
    return std::nullopt;
  }
  return (*ten_thousandths * 60 + 9'999) / 10'000;
}

Status invalid(std::string_view prefix, const std::string& name, const std::string& value,
               const std::string& fix) {
  return Status(StatusCode::InvalidArgument,
                "invalid " + std::string(prefix) + name + " '" + value + "'; " + fix);
}

// A number plan or rate deck that fails to load is the server's data problem, whatever the
// loader's code, so callers can tell it apart from a request that cannot be rated. The next
// step is kept, so the admin API names it in its own terms.
Status unavailable(const Status& load_failure) {
  const std::string reason = load_failure.message_before_step();
  return Status(StatusCode::Unavailable, reason, "", load_failure.next_step(),
                std::string_view(load_failure.message()).substr(reason.size()));
}

// Rejects a third number that is not a valid line (a blank one included) or that is the
// calling or called line, as `call create` rejects it. An empty one means none was given.
Status check_third_number(const QuoteFields& fields, std::string_view prefix) {
  if (fields.third_number.empty()) {
    return Status::ok();
  }
  const std::string name = std::string(prefix) + (prefix.empty() ? "third_number" : "third-number");
  const Result<std::string> third = billing::normalize_line_number(fields.third_number);
  if (!third) {
    return Status(StatusCode::InvalidArgument, name + ": " + third.status().message());
  }
  for (const std::string* party : {&fields.from, &fields.to}) {
    const Result<std::string> line = billing::normalize_line_number(*party);
    if (line && *line == *third) {
      return Status(StatusCode::InvalidArgument,
                    name + " " + *third + " is the " +
                        (party == &fields.from ? "calling" : "called") +
                        " line; third-party billing charges a line other than the call's own "
                        "two, so give another " + name + " or another billing method");
    }
  }
  return Status::ok();
}

Result<billing::CallToRate> build_call(const QuoteFields& fields, std::string_view prefix) {
  billing::CallToRate call;
  call.from = fields.from;
  call.to = fields.to;
  // `call create` rejects a call from a line to itself, so the quote does too.
  if (Status distinct = billing::check_distinct_lines(fields.from, fields.to, prefix); !distinct) {
    return distinct;
  }

  const auto billing_method = billing::parse_billing_method(fields.billing);
  if (!billing_method) {
    return invalid(prefix, "billing", fields.billing,
                   "use sent-paid, collect, third-party, person-to-person or calling-card");
  }
  call.billing = *billing_method;
  const auto access = billing::parse_access_tag(fields.access);
  if (!access) {
    return invalid(prefix, "access", fields.access,
                   "use none, tty, relay-tty, relay-ip, captioned, video or speech");
  }
  call.access = *access;
  const auto handling = billing::parse_handling(fields.handling);
  if (!handling) {
    return invalid(prefix, "handling", fields.handling, "use automated or operator");
  }
  call.handling = *handling;
  const Result<billing::Instant> start = billing::parse_instant(fields.start);
  if (!start) {
    return Status(StatusCode::InvalidArgument,
                  std::string(prefix) + "start: " + start.status().message());
  }
  if (Status in_range = billing::check_call_time(std::string(prefix) + "start", *start);
      !in_range) {
    return in_range;
  }
  call.start = *start;
  const auto seconds = parse_minutes(fields.minutes);
  if (!seconds) {
    return invalid(prefix, "minutes", fields.minutes,
                   "give 0 to 1440 minutes with at most four decimals, such as 2.5");
  }
  call.billable_seconds = *seconds;
  if (Status third = check_third_number(fields, prefix); !third) {
    return third;
  }

  // The call's disconnect must be a time that call records accept too.
  const billing::Instant end = call.start + std::chrono::seconds(call.billable_seconds);
  if (end > billing::last_call_instant()) {
    return Status(StatusCode::InvalidArgument,
                  std::string(prefix) + "start " + billing::format_instant(call.start) + " plus " +
                      std::string(prefix) + "minutes " + fields.minutes + " ends the call at " +
                      billing::format_instant(end) + ", after the last accepted time " +
                      billing::format_instant(billing::last_call_instant()) + "; give an earlier " +
                      std::string(prefix) + "start or fewer " + std::string(prefix) + "minutes");
  }
  // No conversation bills nothing, as `call complete` bills a call that connects and
  // disconnects in the same second, so a quote for 0 minutes totals 0.00.
  call.answered = call.billable_seconds > 0;
  call.person_reached = true;  // a quote assumes the requested person comes to the phone
  return call;
}

// Sets `call.tty_discount_eligible` from the directory line that `call.billing` bills, as
// the posting of the call decides it. A billed number that is not a valid line has no
// directory entry, so it is not eligible, and the rater or the authorization reports it.
Status set_line_discount(billing::Store* directory, const QuoteFields& fields,
                         billing::CallToRate& call) {
  call.tty_discount_eligible = false;
  if (directory == nullptr) {
    return Status::ok();
  }
  Result<std::string> billed =
      billing::billed_line_number(call.billing, fields.from, fields.to, fields.third_number);
  if (!billed) {
    return Status::ok();
  }
  Result<bool> eligible = billing::rated_line_tty_discount(*directory, *billed, fields.from);
  if (!eligible) {
    return eligible.status();
  }
  call.tty_discount_eligible = *eligible;
  return Status::ok();
}

std::string first_effective_date(const billing::RateDeck& deck) {
  if (deck.versions().empty()) {
    return "";
  }
  const billing::LocalDate first = deck.versions().front().effective;
  return fmt::format("{:04}-{:02}-{:02}", first.year, first.month, first.day);
}

// Rates the quote with the deck stored in `fields.db` that `call create` would pick: the deck in
// effect on the call's local start date at the calling number's rate center. A start or calling
// number that does not parse leaves the deck unchosen, and rate_quote() reports the field.
Result<QuoteOutcome> quote_with_stored_deck(const QuoteFields& fields,
                                            std::string_view field_prefix,
                                            const billing::NumberPlan* plan,
                                            const Status& missing_plan) {
  billing::SqliteOptions read_only;
  read_only.read_only = true;
  Result<std::unique_ptr<billing::SqliteStore>> store =
      billing::SqliteStore::open(fields.db, read_only);
  if (!store) {
    return store.status();
  }
  const Result<billing::Instant> start = billing::parse_instant(fields.start);
  if (plan == nullptr || !start) {
    return rate_quote(fields, field_prefix, plan, nullptr, missing_plan);
  }
  // As CallRecords::open picks the deck: a calling number with no time zone falls back to the
  // UTC date, and its rating then fails with the reason.
  const Result<std::string> local_date =
      billing::originating_local_date(*plan, fields.from, *start);
  const std::string date = local_date ? *local_date : billing::format_instant(*start).substr(0, 10);
  Result<std::optional<billing::RateDeckHeader>> in_effect = (*store)->rate_deck_in_effect(date);
  if (!in_effect) {
    return in_effect.status();
  }
  if (!in_effect->has_value()) {
    // An emergency call is quoted at zero without a deck, so rate_quote() decides.
    return rate_quote(
        fields, field_prefix, plan, nullptr,
        Status(StatusCode::Unavailable,
               "database '" + fields.db +
                   "' has no rate deck; load one with `relaygw db load-deck --db " + fields.db +
                   " --rates FILE`, or leave --db out to quote with "
                   "the bundled deck"));
  }
  if (local_date) {
    if (Status checked = billing::check_deck_in_effect(**store, **in_effect, *local_date);
        !checked) {
      return rate_quote(fields, field_prefix, plan, nullptr, checked);
    }
  }
  billing::RateDeckCache decks(plan);
  Result<const billing::Rater*> deck_rater = decks.rater(**store, (*in_effect)->sha256_hex);
  if (!deck_rater) {
    return deck_rater.status();
  }
  logger("billing")->info("quote deck from database: db={} deck='{}' sha256={}", fields.db,
                          (*in_effect)->name, (*in_effect)->sha256_hex);
  Result<QuoteOutcome> outcome =
      rate_quote(fields, field_prefix, plan, (*deck_rater)->deck(), Status::ok(), (*store).get());
  if (outcome) {
    const billing::RateDeckHeader& header = **in_effect;
    outcome->deck = QuoteDeck{fields.db, "", header.name, header.effective_from, header.sha256_hex};
  }
  return outcome;
}

}  // namespace

Result<QuoteOutcome> compute_quote(const QuoteFields& fields, std::string_view field_prefix) {
  if (!fields.db.empty() && !fields.deck.empty()) {
    return Status(StatusCode::InvalidArgument,
                  std::string(field_prefix) + "deck " + fields.deck + " and " +
                      std::string(field_prefix) + "db " + fields.db +
                      " both choose the rate deck; give only one of them");
  }
  // Emergency quotes need no data: a missing plan or deck only matters for other calls, and
  // rate_quote() reports it for them.
  const std::filesystem::path data_dir = fields.data_dir.empty()
                                             ? billing::default_data_dir()
                                             : std::filesystem::path(fields.data_dir);
  std::optional<billing::NumberPlan> plan;
  std::optional<billing::RateDeck> deck;
  Status missing_data = Status::ok();
  Result<billing::NumberPlan> loaded_plan = billing::NumberPlan::load(data_dir);
  if (loaded_plan) {
    plan = std::move(loaded_plan).value();
  } else {
    missing_data = loaded_plan.status();
  }
  if (!fields.db.empty()) {
    return quote_with_stored_deck(fields, field_prefix, plan ? &*plan : nullptr, missing_data);
  }
  const std::filesystem::path deck_path =
      fields.deck.empty() ? data_dir / "rates" : std::filesystem::path(fields.deck);
  Result<billing::RateDeck> loaded_deck = billing::RateDeck::load(deck_path);
  if (loaded_deck) {
    deck = std::move(loaded_deck).value();
  } else if (missing_data.is_ok()) {
    missing_data = loaded_deck.status();
  }
  logger("billing")->info("quote data loaded: data_dir={} deck={}", data_dir.string(),
                          deck_path.string());
  Result<QuoteOutcome> outcome = rate_quote(fields, field_prefix, plan ? &*plan : nullptr,
                                            deck ? &*deck : nullptr, missing_data);
  if (outcome && deck) {
    outcome->deck =
        QuoteDeck{"", deck_path.string(), deck->name(), first_effective_date(*deck), ""};
  }
  return outcome;
}

Result<QuoteOutcome> rate_quote(const QuoteFields& fields, std::string_view field_prefix,
                                const billing::NumberPlan* plan, const billing::RateDeck* deck,
                                const Status& missing_data, billing::Store* directory) {
  Result<billing::CallToRate> built = build_call(fields, field_prefix);
  if (!built) {
    return built.status();
  }
  QuoteOutcome outcome;
  outcome.call = std::move(built).value();
  if (Status eligible = set_line_discount(directory, fields, outcome.call); !eligible) {
    return eligible;
  }
  const billing::CallToRate& call = outcome.call;
  const bool emergency = billing::is_emergency_number(call.to);
  if (!emergency && (plan == nullptr || deck == nullptr)) {
    // FailedPrecondition is check_deck_in_effect's: the data loaded, but no stored deck is
    // in effect on the call's date, so the request cannot be rated as asked.
    if (missing_data.code() == StatusCode::FailedPrecondition) {
      return missing_data;
    }
    return unavailable(missing_data.is_ok()
                           ? Status(StatusCode::Unavailable, "no number plan or rate deck loaded")
                           : missing_data);
  }

  // Authorization refuses operator billing of pay-per-call numbers, so the quote does too.
  bool premium = false;
  // Authorization bills a collect call only to a NANP subscriber line, so the quote does too.
  std::optional<billing::NumberKind> unbillable_called;
  if (plan != nullptr && !emergency) {
    Result<billing::NumberInfo> dialed = plan->classify(call.to);
    premium = dialed && dialed->kind == billing::NumberKind::Premium;
    if (dialed && dialed->kind != billing::NumberKind::Geographic &&
        dialed->kind != billing::NumberKind::Fictional) {
      unbillable_called = dialed->kind;
    }
  }
  if (premium && call.billing != billing::BillingMethod::SentPaid) {
    return Status(StatusCode::InvalidArgument,
                  "premium number " + call.to +
                      " can only be billed to the calling line; quote it with " +
                      std::string(field_prefix) + "billing sent-paid");
  }
  if (unbillable_called && call.billing == billing::BillingMethod::Collect) {
    const std::string kind(billing::to_string(*unbillable_called));
    return Status(StatusCode::InvalidArgument,
                  "called number " + call.to + " is " +
                      (kind.find_first_of("aeiou") == 0 ? "an " : "a ") + kind +
                      " number, which cannot be billed collect; quote it with " +
                      std::string(field_prefix) + "billing sent-paid or calling-card");
  }

  const billing::Rater rater(plan, deck);
  Result<billing::RatedCall> rated = rater.rate(call);
  if (!rated) {
    return rated.status();
  }
  outcome.rated = std::move(rated).value();

  for (billing::BillingMethod method :
       {billing::BillingMethod::SentPaid, billing::BillingMethod::Collect,
        billing::BillingMethod::ThirdNumber, billing::BillingMethod::PersonToPerson,
        billing::BillingMethod::CallingCard}) {
    if (method == call.billing) {
      continue;
    }
    if (premium || (unbillable_called && method == billing::BillingMethod::Collect)) {
      outcome.alternatives.emplace_back(std::string(billing::to_string(method)), "not allowed");
      continue;
    }
    billing::CallToRate other = call;
    other.billing = method;
    if (Status eligible = set_line_discount(directory, fields, other); !eligible) {
      return eligible;
    }
    Result<billing::RatedCall> other_rated = rater.rate(other);
    outcome.alternatives.emplace_back(
        std::string(billing::to_string(method)),
        other_rated ? format_dollars(other_rated->total) : "unavailable");
  }
  return outcome;
}

nlohmann::json quote_json(const QuoteOutcome& quote) {
  const billing::RatedCall& rated = quote.rated;
  nlohmann::json out;
  out["total"] = format_dollars(rated.total);
  out["currency"] = rated.currency;
  out["handling"] = billing::to_string(quote.call.handling);
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
  if (quote.deck) {
    const QuoteDeck& deck = *quote.deck;
    nlohmann::json deck_json = {
        {"source", deck.database.empty() ? "file" : "database"},
        {"name", deck.name},
        {"effective_from", deck.effective_from.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(deck.effective_from)}};
    if (deck.database.empty()) {
      deck_json["path"] = deck.path;
    } else {
      deck_json["database"] = deck.database;
      deck_json["sha256"] = deck.sha256;
    }
    out["deck"] = deck_json;
  }
  out["alternatives"] = nlohmann::json::array();
  for (const auto& [method, total] : quote.alternatives) {
    out["alternatives"].push_back({{"billing", method}, {"total", total}});
  }
  return out;
}

}  // namespace relaygw::gateway
