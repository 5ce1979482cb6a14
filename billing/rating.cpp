#include "billing/rating.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

namespace relaygw::billing {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr std::array<std::string_view, 7> kWeekdayNames = {"Sun", "Mon", "Tue", "Wed",
                                                           "Thu", "Fri", "Sat"};

// The rate period in force at one instant, and the UTC instant at which it may next change:
// the next period edge, local midnight or time zone transition, whichever comes first.
struct PeriodWindow {
  const std::string* period = nullptr;
  sys_seconds until{};
  std::string local_label;  // "Wed 09:05 EST", for line descriptions
};

struct LocalTime {
  date::local_days day{};
  std::int64_t second_of_day = 0;
  date::sys_info info;
};

LocalTime to_local(const date::time_zone& zone, sys_seconds instant) {
  LocalTime local;
  local.info = zone.get_info(instant);
  const auto local_instant = date::local_seconds{instant.time_since_epoch() + local.info.offset};
  local.day = date::floor<date::days>(local_instant);
  local.second_of_day = (local_instant - local.day).count();
  return local;
}

LocalDate to_local_date(date::local_days day) {
  const date::year_month_day ymd{day};
  return LocalDate{static_cast<int>(ymd.year()),
                   static_cast<int>(static_cast<unsigned>(ymd.month())),
                   static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

PeriodWindow period_at(const RateDeckVersion& version, const date::time_zone& zone,
                       sys_seconds instant) {
  const LocalTime local = to_local(zone, instant);
  const unsigned weekday = date::weekday{local.day}.c_encoding();
  std::int64_t next_edge = 86'400;  // local midnight
  PeriodWindow window;

  const LocalDate today = to_local_date(local.day);
  if (std::binary_search(version.holidays.begin(), version.holidays.end(), today)) {
    window.period = &version.holiday_period;
  } else {
    for (const PeriodRule& rule : version.period_rules) {
      if ((rule.weekday_mask & (1u << weekday)) == 0) {
        continue;
      }
      const std::int64_t start = rule.start_minute * 60;
      const std::int64_t end = rule.end_minute * 60;
      if (window.period == nullptr && start <= local.second_of_day && local.second_of_day < end) {
        window.period = &rule.period;
      }
      for (std::int64_t edge : {start, end}) {
        if (edge > local.second_of_day) {
          next_edge = std::min(next_edge, edge);
        }
      }
    }
    if (window.period == nullptr) {
      window.period = &version.default_period;
    }
  }

  // The local edge converts back with the current offset unless a transition comes first.
  window.until =
      sys_seconds{(local.day + seconds{next_edge}).time_since_epoch() - local.info.offset};
  window.until = std::min(window.until, sys_seconds{local.info.end});
  const std::int64_t minute_of_day = local.second_of_day / 60;
  window.local_label = fmt::format("{} {:02}:{:02} {}", kWeekdayNames[weekday], minute_of_day / 60,
                                   minute_of_day % 60, local.info.abbrev);
  return window;
}

std::int64_t billed_seconds_for(std::int64_t actual, const RateDeckVersion& version, int initial,
                                int additional) {
  const std::int64_t requested = std::max<std::int64_t>(actual, version.minimum_seconds);
  if (requested <= 0) {
    return 0;
  }
  if (requested <= initial) {
    return initial;
  }
  const std::int64_t extra = requested - initial;
  return initial + (extra + additional - 1) / additional * additional;
}

bool applies(const std::vector<Jurisdiction>& jurisdictions, Jurisdiction jurisdiction) {
  return jurisdictions.empty() ||
         std::find(jurisdictions.begin(), jurisdictions.end(), jurisdiction) != jurisdictions.end();
}

bool applies(const std::vector<std::string>& states, const std::string& state) {
  return states.empty() || std::find(states.begin(), states.end(), state) != states.end();
}

Money price_for(const UsageRate& rate, const std::string& period) {
  for (const PeriodPrice& price : rate.prices) {
    if (price.period == period) {
      return price.per_minute;
    }
  }
  return 0;  // the deck parser makes every rate price every period
}

std::string describe_duration(std::int64_t seconds_count) {
  if (seconds_count % 60 == 0) {
    return fmt::format("{} min", seconds_count / 60);
  }
  return fmt::format("{} s", seconds_count);
}

std::string capitalized(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') {
    text[0] = static_cast<char>(text[0] - 'a' + 'A');
  }
  return text;
}

Jurisdiction decide_jurisdiction(const NumberInfo& from, const NumberInfo& to) {
  if (!from.is_nanp() || !to.is_nanp()) {
    return Jurisdiction::International;
  }
  // Toll-free, premium 900 and other non-geographic NANP codes have no state or country of
  // their own; they are carried across state lines, so they rate as interstate.
  if (to.country.empty()) {
    return Jurisdiction::Interstate;
  }
  if (from.country != to.country) {
    return Jurisdiction::International;
  }
  if (from.state != to.state) {
    return Jurisdiction::Interstate;
  }
  if (from.npa != to.npa) {
    return Jurisdiction::InterLataIntrastate;
  }
  if (from.rate_center_exact && to.rate_center_exact && from.rate_center == to.rate_center) {
    return Jurisdiction::Local;
  }
  return Jurisdiction::IntraLata;
}

RatedCall free_call(std::string description) {
  RatedCall rated;
  rated.lines.push_back({ChargeKind::Usage, std::move(description), 0, "", 0});
  return rated;
}

// Everything the rating of one call needs, looked up once.
struct CallContext {
  const CallToRate* call = nullptr;
  NumberInfo from;
  NumberInfo to;
  const date::time_zone* zone = nullptr;
  const RateDeckVersion* version = nullptr;
  const UsageRate* rate = nullptr;
  UsageRate premium_rate;  // used when `to` is a premium number
  Jurisdiction jurisdiction = Jurisdiction::Interstate;
  std::optional<int> miles;
};

Result<const UsageRate*> select_rate(const CallContext& context) {
  const std::vector<UsageRate>& rates = context.version->rates;
  const UsageRate* best = nullptr;
  if (context.jurisdiction == Jurisdiction::International) {
    // The longest matching destination prefix wins. An entry without prefixes is the fallback.
    const std::string digits = context.to.e164.substr(1);
    std::size_t best_length = 0;
    for (const UsageRate& rate : rates) {
      if (rate.jurisdiction != Jurisdiction::International) {
        continue;
      }
      if (rate.prefixes.empty() && best == nullptr) {
        best = &rate;
      }
      for (const std::string& prefix : rate.prefixes) {
        if (digits.starts_with(prefix) && prefix.size() > best_length) {
          best = &rate;
          best_length = prefix.size();
        }
      }
    }
  } else {
    // The narrowest mileage band that covers the distance; otherwise the unbanded entry.
    const UsageRate* unbanded = nullptr;
    for (const UsageRate& rate : rates) {
      if (rate.jurisdiction != context.jurisdiction) {
        continue;
      }
      if (!rate.max_miles) {
        unbanded = unbanded != nullptr ? unbanded : &rate;
      } else if (context.miles && *context.miles <= *rate.max_miles &&
                 (best == nullptr || *rate.max_miles < *best->max_miles)) {
        best = &rate;
      }
    }
    best = best != nullptr ? best : unbanded;
  }
  if (best == nullptr) {
    return Result<const UsageRate*>(
        StatusCode::NotFound,
        fmt::format("rate deck version '{}' has no {} rate for a call from {} to {}{}; add a "
                    "[[version.rate]] entry for it",
                    context.version->name, to_string(context.jurisdiction), context.from.e164,
                    context.to.e164,
                    context.miles ? fmt::format(" ({} miles)", *context.miles) : ""));
  }
  return best;
}

// Usage lines: one per rate period window the billed increments start in.
void add_usage_lines(const CallContext& context, RatedCall& rated) {
  const RateDeckVersion& version = *context.version;
  const UsageRate& rate = *context.rate;
  const int initial = rate.initial_seconds.value_or(version.initial_seconds);
  const int additional = rate.additional_seconds.value_or(version.additional_seconds);
  const std::int64_t billed =
      billed_seconds_for(context.call->billable_seconds, version, initial, additional);
  rated.billed_seconds = billed;

  std::int64_t offset = 0;
  std::string first_label;  // where the current usage line starts
  while (offset < billed) {
    const sys_seconds segment_start = context.call->start + seconds{offset};
    const PeriodWindow window = period_at(version, *context.zone, segment_start);
    std::int64_t segment_seconds = 0;
    if (offset == 0) {
      segment_seconds = initial;
    }
    // Each increment belongs to the window in which it starts.
    const std::int64_t next_start = offset + segment_seconds;
    if (next_start < billed) {
      const std::int64_t until = (window.until - context.call->start).count();
      if (until > next_start) {
        const std::int64_t increments = std::min((until - next_start + additional - 1) / additional,
                                                 (billed - next_start) / additional);
        segment_seconds += increments * additional;
      }
    }
    if (segment_seconds == 0) {
      segment_seconds = additional;  // the window ends exactly where this increment starts
    }

    const Money per_minute = price_for(rate, *window.period);
    // A window that ends at local midnight or a time zone change without a new period or price
    // continues the line before it, so the same minutes cost the same wherever they fall.
    if (offset > 0 && rated.lines.back().period == *window.period &&
        rated.lines.back().per_minute == per_minute) {
      ChargeLine& line = rated.lines.back();
      line.seconds += segment_seconds;
      line.amount = round_to_cents(per_minute * line.seconds, 60, version.rounding);
      line.description =
          fmt::format("{} rate, {} from {} at ${}/min", capitalized(line.period),
                      describe_duration(line.seconds), first_label, format_dollars(per_minute, 4));
      offset += segment_seconds;
      continue;
    }
    first_label = window.local_label;
    const Money amount = round_to_cents(per_minute * segment_seconds, 60, version.rounding);
    rated.lines.push_back(
        {ChargeKind::Usage,
         fmt::format("{} rate, {} from {} at ${}/min", capitalized(*window.period),
                     describe_duration(segment_seconds), window.local_label,
                     format_dollars(per_minute, 4)),
         amount, *window.period, segment_seconds, per_minute});
    if (rated.periods.empty() || rated.periods.back() != *window.period) {
      rated.periods.push_back(*window.period);
    }
    offset += segment_seconds;
  }
}

bool surcharge_applies(const Surcharge& surcharge, const CallToRate& call, AccessTag access,
                       Handling handling) {
  if (surcharge.billing != call.billing) {
    return false;
  }
  if (call.billing == BillingMethod::PersonToPerson && !call.person_reached) {
    return false;
  }
  if (surcharge.handling && *surcharge.handling != handling) {
    return false;
  }
  return surcharge.access.empty() || std::find(surcharge.access.begin(), surcharge.access.end(),
                                               access) != surcharge.access.end();
}

// Usage, connect charge and surcharges: the toll charges before discounts and taxes.
void add_toll_lines(const CallContext& context, AccessTag access, RatedCall& rated) {
  const CallToRate& call = *context.call;
  const RateDeckVersion& version = *context.version;
  add_usage_lines(context, rated);
  if (context.rate->connect > 0) {
    rated.lines.push_back({ChargeKind::Surcharge, "Connect charge",
                           round_to_cents(context.rate->connect, 1, version.rounding), "", 0});
  }
  // A relay communications assistant's work is the relay service, not operator assistance.
  const Handling handling =
      is_relay_service(access) ? version.accessibility.relay_handling : call.handling;
  for (const Surcharge& surcharge : version.surcharges) {
    if (surcharge_applies(surcharge, call, access, handling)) {
      rated.lines.push_back({ChargeKind::Surcharge, surcharge.description,
                             round_to_cents(surcharge.amount, 1, version.rounding), "", 0});
    }
  }
}

Money sum_lines(const RatedCall& rated) {
  Money total = 0;
  for (const ChargeLine& line : rated.lines) {
    total += line.amount;
  }
  return total;
}

void add_tty_discount(const CallContext& context, RatedCall& rated) {
  const CallToRate& call = *context.call;
  const RateDeckVersion& version = *context.version;
  Money usage = 0;
  for (const ChargeLine& line : rated.lines) {
    if (line.kind == ChargeKind::Usage) {
      usage += line.amount;
    }
  }
  for (const TtyDiscount& discount : version.accessibility.tty_discounts) {
    const bool tagged = std::find(discount.access.begin(), discount.access.end(), call.access) !=
                        discount.access.end();
    const bool eligible = discount.eligible_line_qualifies && call.tty_discount_eligible;
    if (discount.state != context.from.state ||
        !applies(discount.jurisdictions, context.jurisdiction) || !(tagged || eligible) ||
        usage <= 0) {
      continue;
    }
    const Money amount = round_to_cents(usage * discount.basis_points, 10'000, version.rounding);
    rated.lines.push_back({ChargeKind::Discount,
                           fmt::format("{} TTY toll discount ({}% of usage)", discount.state,
                                       format_dollars(discount.basis_points * 100, 2)),
                           -amount, "", 0});
    return;  // one state discount per call
  }
}

void add_taxes_and_fees(const CallContext& context, RatedCall& rated) {
  const RateDeckVersion& version = *context.version;
  const Money taxable = sum_lines(rated);
  for (const Tax& tax : version.taxes) {
    if (taxable > 0 && applies(tax.jurisdictions, context.jurisdiction) &&
        applies(tax.states, context.from.state)) {
      rated.lines.push_back(
          {ChargeKind::Tax,
           fmt::format("{} ({}%)", tax.name, format_dollars(tax.basis_points * 100, 2)),
           round_to_cents(taxable * tax.basis_points, 10'000, version.rounding), "", 0});
    }
  }
  for (const Fee& fee : version.fees) {
    if (applies(fee.jurisdictions, context.jurisdiction) &&
        applies(fee.states, context.from.state)) {
      rated.lines.push_back(
          {ChargeKind::Fee, fee.name, round_to_cents(fee.amount, 1, version.rounding), "", 0});
    }
  }
}

// Rates a call whose numbers, zone and deck version are known.
Result<RatedCall> rate_in_context(CallContext& context, const RateDeck& deck) {
  const CallToRate& call = *context.call;
  const RateDeckVersion& version = *context.version;
  const NumberInfo& to = context.to;

  // Calls that never reach a toll rate.
  switch (to.kind) {
    case NumberKind::Relay:
      return free_call("Relay service call (711): no charge");
    case NumberKind::TollFree:
      return free_call("Toll-free call: no charge to the caller");
    case NumberKind::NonGeographic:
      return Result<RatedCall>(StatusCode::InvalidArgument,
                               fmt::format("cannot rate a call to '{}': area code {} is a "
                                           "non-geographic service code with no tariff here",
                                           call.to, to.npa));
    default:
      break;
  }
  if (!call.answered) {
    return free_call("Call not answered: no charge");
  }
  if (to.kind == NumberKind::DirectoryAssistance || to.kind == NumberKind::ServiceCode) {
    const std::string code = to.kind == NumberKind::DirectoryAssistance ? "411" : to.e164;
    for (const ServiceCodeCharge& charge : version.service_codes) {
      if (charge.code == code) {
        RatedCall rated;
        rated.deck_version = version.name;
        rated.lines.push_back({ChargeKind::Usage, charge.description,
                               round_to_cents(charge.amount, 1, version.rounding), "", 0});
        rated.total = sum_lines(rated);
        return rated;
      }
    }
    return Result<RatedCall>(
        StatusCode::NotFound,
        fmt::format("rate deck version '{}' has no charge for service code {}; add a "
                    "[[version.service_code]] with code = \"{}\"",
                    version.name, code, code));
  }

  // Jurisdiction, distance and the usage rate.
  context.jurisdiction = decide_jurisdiction(context.from, to);
  if (context.from.rate_center_exact && to.rate_center_exact) {
    const RateCenterCoordinates* a = deck.coordinates(context.from.rate_center);
    const RateCenterCoordinates* b = deck.coordinates(to.rate_center);
    if (a != nullptr && b != nullptr) {
      context.miles = vh_distance_miles(a->v, a->h, b->v, b->h);
    }
  }
  if (to.kind == NumberKind::Premium) {
    if (!version.premium_per_minute) {
      return Result<RatedCall>(
          StatusCode::NotFound,
          fmt::format("rate deck version '{}' has no premium_per_minute for the premium number "
                      "'{}'; add one or block the call",
                      version.name, call.to));
    }
    context.premium_rate.jurisdiction = context.jurisdiction;
    for (const std::string* period : {&version.default_period, &version.holiday_period}) {
      context.premium_rate.prices.push_back({*period, *version.premium_per_minute});
    }
    for (const PeriodRule& rule : version.period_rules) {
      context.premium_rate.prices.push_back({rule.period, *version.premium_per_minute});
    }
    context.rate = &context.premium_rate;
  } else {
    Result<const UsageRate*> rate = select_rate(context);
    if (!rate) {
      return rate.status();
    }
    context.rate = *rate;
  }

  RatedCall rated;
  rated.deck_version = version.name;
  rated.jurisdiction = context.jurisdiction;
  rated.miles = context.miles;
  rated.time_zone = context.from.time_zone;
  add_toll_lines(context, call.access, rated);
  add_tty_discount(context, rated);

  // Toll charges never above the same call made by voice.
  if (call.access != AccessTag::None) {
    RatedCall voice;
    add_toll_lines(context, AccessTag::None, voice);
    rated.voice_equivalent = sum_lines(voice);
    const Money charged = sum_lines(rated);
    if (version.accessibility.cap_at_voice && charged > rated.voice_equivalent) {
      rated.lines.push_back({ChargeKind::Discount,
                             "Capped at the charge for the same call by voice",
                             rated.voice_equivalent - charged, "", 0});
    }
  } else {
    rated.voice_equivalent = sum_lines(rated);
  }

  add_taxes_and_fees(context, rated);
  rated.total = sum_lines(rated);
  return rated;
}

}  // namespace

std::string_view to_string(ChargeKind kind) {
  switch (kind) {
    case ChargeKind::Usage:
      return "usage";
    case ChargeKind::Surcharge:
      return "surcharge";
    case ChargeKind::Discount:
      return "discount";
    case ChargeKind::Tax:
      return "tax";
    case ChargeKind::Fee:
      return "fee";
  }
  return "unknown";
}

Result<RatedCall> Rater::rate(const CallToRate& call) const {
  // Emergency calls are free and need no data at all, so they rate even without a deck.
  if (call.emergency || is_emergency_number(call.to)) {
    RatedCall rated = free_call("Emergency call: no charge");
    rated.emergency = true;
    return rated;
  }
  if (call.billable_seconds < 0) {
    return Result<RatedCall>(StatusCode::InvalidArgument,
                             fmt::format("billable seconds {} is negative; compute the duration "
                                         "from the UTC answer and hang-up instants",
                                         call.billable_seconds));
  }
  if (plan_ == nullptr || deck_ == nullptr) {
    return Result<RatedCall>(StatusCode::Unavailable,
                             "no number plan or rate deck is loaded; only emergency calls can "
                             "be rated until they are");
  }

  CallContext context;
  context.call = &call;
  Result<NumberInfo> from = plan_->classify(call.from);
  if (!from) {
    return from.status();
  }
  Result<NumberInfo> to = plan_->classify(call.to);
  if (!to) {
    return to.status();
  }
  context.from = std::move(from).value();
  context.to = std::move(to).value();
  if (!context.from.is_placed()) {
    return Result<RatedCall>(
        StatusCode::InvalidArgument,
        fmt::format("calling number '{}' is {}, which has no rate center or time zone; rate "
                    "periods need the calling line's local time, so give a geographic number",
                    call.from, to_string(context.from.kind)));
  }
  try {
    context.zone = date::locate_zone(context.from.time_zone);
  } catch (const std::runtime_error&) {
    return Result<RatedCall>(StatusCode::Unavailable,
                             fmt::format("time zone '{}' of '{}' is not in the system time zone "
                                         "database; install or update tzdata",
                                         context.from.time_zone, call.from));
  }

  const LocalDate start_date = to_local_date(to_local(*context.zone, call.start).day);
  context.version = deck_->version_for(start_date);
  if (context.version == nullptr) {
    return Result<RatedCall>(
        StatusCode::NotFound,
        fmt::format("rate deck '{}' has no version in force on {:04}-{:02}-{:02}; add a "
                    "[[version]] with an earlier effective date",
                    deck_->name(), start_date.year, start_date.month, start_date.day));
  }
  Result<RatedCall> rated = rate_in_context(context, *deck_);
  if (rated && call.answered && is_relay_service(call.access)) {
    for (const auto& [tag, per_minute] : context.version->accessibility.relay_fund_per_minute) {
      if (tag == call.access) {
        const std::int64_t tenths = (call.billable_seconds + 3) / 6;
        rated->relay_fund = round_to_cents(per_minute * tenths, 10, CentRounding::HalfUp);
      }
    }
  }
  return rated;
}

Result<std::string> originating_local_date(const NumberPlan& plan, std::string_view from,
                                           sys_seconds at) {
  Result<NumberInfo> calling = plan.classify(from);
  if (!calling) {
    return calling.status();
  }
  if (!calling->is_placed()) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("calling number '{}' is {}, which has no rate center or time zone",
                              from, to_string(calling->kind)));
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(calling->time_zone);
  } catch (const std::runtime_error&) {
    return Status(StatusCode::Unavailable,
                  fmt::format("time zone '{}' of '{}' is not in the system time zone database; "
                              "install or update tzdata",
                              calling->time_zone, from));
  }
  const LocalDate local = to_local_date(to_local(*zone, at).day);
  return fmt::format("{:04}-{:02}-{:02}", local.year, local.month, local.day);
}

Result<Money> Rater::minimum_charge(const CallToRate& call) const {
  CallToRate first_block = call;
  first_block.answered = true;
  first_block.billable_seconds = 1;
  Result<RatedCall> rated = rate(first_block);
  if (!rated) {
    return rated.status();
  }
  return rated->total;
}

Result<std::int64_t> Rater::max_seconds_for_balance(const CallToRate& call, Money balance,
                                                    std::int64_t limit_seconds) const {
  if (call.emergency || is_emergency_number(call.to)) {
    return limit_seconds;  // emergency calls are free whatever the balance
  }
  CallToRate probe = call;
  probe.answered = true;
  auto cost = [this, &probe](std::int64_t seconds_count) -> Result<Money> {
    probe.billable_seconds = seconds_count;
    Result<RatedCall> rated = rate(probe);
    if (!rated) {
      return rated.status();
    }
    return rated->total;
  };

  Result<Money> longest = cost(limit_seconds);
  if (!longest) {
    return longest.status();
  }
  if (*longest <= balance) {
    return limit_seconds;
  }
  Result<Money> shortest = cost(1);
  if (!shortest) {
    return shortest.status();
  }
  if (*shortest > balance) {
    return std::int64_t{0};
  }
  // Charges grow with duration, so search for the last affordable second.
  std::int64_t affordable = 1;
  std::int64_t too_long = limit_seconds;
  while (too_long - affordable > 1) {
    const std::int64_t middle = affordable + (too_long - affordable) / 2;
    Result<Money> middle_cost = cost(middle);
    if (!middle_cost) {
      return middle_cost.status();
    }
    (*middle_cost <= balance ? affordable : too_long) = middle;
  }
  return affordable;
}

}  // namespace relaygw::billing
