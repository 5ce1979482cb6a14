#include "billing/plans.hpp"

#include <algorithm>

#include <date/date.h>

#include "billing/call_records.hpp"
#include "billing/credits.hpp"
#include "billing/directory.hpp"

namespace relaygw::billing {
namespace {

constexpr BillingMethod kPaymentMethods[] = {BillingMethod::SentPaid, BillingMethod::CallingCard,
                                             BillingMethod::Collect, BillingMethod::ThirdNumber};

// One call as rated under one payment method.
struct RatedOption {
  RatedCall rated;
  Money usage = 0;
  Money discount = 0;
  Money taxes = 0;
  Money other = 0;  // surcharges and fees
};

RatedOption split(const RatedCall& rated) {
  RatedOption option{rated};
  for (const ChargeLine& line : rated.lines) {
    switch (line.kind) {
      case ChargeKind::Usage:
        option.usage += line.amount;
        break;
      case ChargeKind::Discount:
        option.discount += line.amount;
        break;
      case ChargeKind::Tax:
        option.taxes += line.amount;
        break;
      default:
        option.other += line.amount;
    }
  }
  return option;
}

// Scales `amount` by numerator / denominator, rounded half up to whole cents.
Money scale(Money amount, Money numerator, Money denominator) {
  if (denominator == 0 || amount == 0) {
    return 0;
  }
  const bool negative = (amount < 0) != (numerator < 0);
  const Money magnitude = round_to_cents(std::abs(amount) * std::abs(numerator),
                                         std::abs(denominator), CentRounding::HalfUp);
  return negative ? -magnitude : magnitude;
}

// Returns what one call costs under `plan`, using up `included_seconds`.
Money plan_cost(const RatedOption& option, const CallingPlan& plan,
                std::int64_t& included_seconds) {
  Money usage = 0;
  for (const ChargeLine& line : option.rated.lines) {
    if (line.kind != ChargeKind::Usage) {
      continue;
    }
    const std::int64_t covered = std::min(included_seconds, line.seconds);
    included_seconds -= covered;
    Money rate = line.per_minute;
    for (const auto& [jurisdiction, price] : plan.per_minute) {
      if (option.rated.jurisdiction == jurisdiction) {
        rate = price;
      }
    }
    usage += round_to_cents(rate * (line.seconds - covered), 60, CentRounding::HalfUp);
  }
  const Money discount = plan.tty_discount ? scale(option.discount, usage, option.usage) : 0;
  // NOTE: taxes are scaled with the taxable charges, an estimate of what the Rater would print;
  // a tax that applies only to some lines can differ by a cent or so.
  const Money before_tax_old = option.usage + option.discount + option.other;
  const Money before_tax_new = usage + discount + option.other;
  return usage + discount + option.other + scale(option.taxes, before_tax_new, before_tax_old);
}

// One compared call: its rating under each payment method, and its posted total and applied
// credits.
struct ComparedCall {
  std::vector<RatedOption> per_method;  // in kPaymentMethods order
  Money posted = 0;
  Money credited = 0;
};

// Returns `cost` reduced in the proportion that `call`'s applied credits took off its posted
// total, rounded half up to whole cents.
Money net_of_credits(Money cost, const ComparedCall& call) {
  if (call.credited == 0) {
    return cost;
  }
  if (call.credited >= call.posted) {
    return 0;
  }
  return scale(cost, call.posted - call.credited, call.posted);
}

// Returns the sum of the applied credits of call `call_id`.
Result<Money> applied_credits(Store& store, const std::string& call_id) {
  Result<std::vector<CreditRecord>> credits = store.list_credits(call_id);
  if (!credits) {
    return credits.status();
  }
  Money applied = 0;
  for (const CreditRecord& credit : *credits) {
    if (credit.state == CreditState::Applied) {
      applied += credit.amount;
    }
  }
  return applied;
}

}  // namespace

Result<PlanAdvice> advise_plans(Store& store, const Rater& rater, const RateDeck& deck,
                                const std::string& line, Instant as_of, int window_days) {
  Result<std::string> number = normalize_line_number(line);
  if (!number) {
    return number.status();
  }
  Result<std::optional<LineVersion>> found = store.find_line(*number);
  if (!found) {
    return found.status();
  }
  if (!*found) {
    return Status(StatusCode::NotFound, "line " + *number +
                                            " is not in the directory; add it with `relaygw "
                                            "line add`");
  }
  const Line& profile = (*found)->line;
  const auto as_of_day = date::year_month_day{date::floor<date::days>(as_of)};
  const RateDeckVersion* version =
      deck.version_for({static_cast<int>(as_of_day.year()),
                        static_cast<int>(static_cast<unsigned>(as_of_day.month())),
                        static_cast<int>(static_cast<unsigned>(as_of_day.day()))});
  if (version == nullptr) {
    return Status(StatusCode::Unavailable, "the rate deck has no version in force on " +
                                               format_instant(as_of) +
                                               "; load a deck that covers that date");
  }

  PlanAdvice advice;
  advice.line = *number;
  advice.to = as_of;
  advice.window_days = window_days;
  advice.from = as_of - date::days{window_days};

  // Calls are stored in E.164 form, and calls stored as typed before schema 12 are found
  // through the E.164 corrections of schema 13, so one lookup finds them all.
  Result<std::vector<std::string>> ids = store.call_ids_of_line(*number, advice.from, as_of);
  if (!ids) {
    return ids.status();
  }

  // Rate each answered call under every payment method.
  std::vector<ComparedCall> rated_calls;
  for (const std::string& id : *ids) {
    Result<std::optional<CallRecord>> record = store.find_call(id);
    if (!record) {
      return record.status();
    }
    if (!*record || !(*record)->posting) {
      continue;
    }
    const CallRecord& call = **record;
    // Only calls this line pays count: a collect or third-number call billed to another line,
    // and a call paid from a prepaid card, are not the line's to save on. find_call reports a
    // postpaid card's billed line as the billed number.
    const std::string& payer = !call.request.billed_number.empty() ? call.request.billed_number
                               : call.request.card_number.empty()  ? call.request.from
                                                                   : std::string();
    if (payer != *number) {
      continue;
    }
    Result<Money> credited = applied_credits(store, id);
    if (!credited) {
      return credited.status();
    }
    advice.posted += call.posting->total;
    advice.credits += *credited;
    const std::optional<Instant> connected = event_time(call, CallEvent::Connected);
    const std::int64_t seconds = call.posting->conversation_seconds.value_or(0);
    const bool declined = is_declined_call(call.request.billing, call.request.emergency,
                                           event_time(call, CallEvent::Accepted).has_value(),
                                           call.posting->billable_seconds.value_or(0));
    if (call.request.emergency || !connected || seconds <= 0 || declined) {
      continue;
    }
    ComparedCall compared{{}, call.posting->total, *credited};
    std::vector<RatedOption>& per_method = compared.per_method;
    for (BillingMethod method : kPaymentMethods) {
      CallToRate to_rate;
      to_rate.from = call.request.from;
      to_rate.to = call.request.to;
      to_rate.billing = method;
      to_rate.access = call.request.access;
      to_rate.handling = call.request.handling;
      to_rate.start = *connected;
      to_rate.billable_seconds = seconds;
      to_rate.tty_discount_eligible = profile.tty_discount_eligible;
      Result<RatedCall> rated = rater.rate(to_rate);
      if (!rated) {
        return Status(rated.status().code(),
                      "call " + id + " cannot be re-rated: " + rated.status().message());
      }
      per_method.push_back(split(*rated));
    }
    advice.billed_minutes += per_method.front().rated.billed_seconds / 60;
    rated_calls.push_back(std::move(compared));
    ++advice.calls;
  }
  advice.actual = advice.posted - advice.credits;

  // Pay per call, then every plan, under every payment method.
  const std::int64_t months = std::max(1, (window_days + 15) / 30);
  for (std::size_t m = 0; m < std::size(kPaymentMethods); ++m) {
    PlanOption per_call{"no plan", kPaymentMethods[m]};
    for (const ComparedCall& compared : rated_calls) {
      per_call.calls += net_of_credits(compared.per_method[m].rated.total, compared);
    }
    per_call.total = per_call.calls;
    advice.options.push_back(per_call);
    for (const CallingPlan& plan : version->plans) {
      PlanOption option{plan.name, kPaymentMethods[m]};
      option.monthly_fees = plan.monthly_fee * months;
      std::int64_t included_seconds = plan.included_minutes * 60 * months;
      for (const ComparedCall& compared : rated_calls) {
        // A call credited in full uses none of the plan's included minutes.
        if (compared.credited > 0 && compared.credited >= compared.posted) {
          continue;
        }
        option.calls +=
            net_of_credits(plan_cost(compared.per_method[m], plan, included_seconds), compared);
      }
      option.total = option.monthly_fees + option.calls;
      advice.options.push_back(option);
    }
  }
  std::stable_sort(advice.options.begin(), advice.options.end(),
                   [](const PlanOption& a, const PlanOption& b) { return a.total < b.total; });
  advice.saving = advice.actual - advice.options.front().total;
  return advice;
}

}  // namespace relaygw::billing
