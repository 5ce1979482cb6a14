#include "billing/credit_policy.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <vector>
#include <sstream>

#include <toml++/toml.h>

#include "billing/next_step.hpp"

namespace relaygw::billing {

namespace {

// Rejects a section or key that the policy does not define, so that a misspelt limit is not
// silently replaced by its default.
Status check_policy_keys(const toml::table& table, const std::string& origin) {
  const std::map<std::string, std::vector<std::string>> known = {
      {"credits", {"dropped_call_seconds", "wrong_number_hours", "approval_above"}},
      {"disputes", {"due_days"}}};
  auto joined = [](const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) {
      text += (text.empty() ? "" : ", ") + name;
    }
    return text;
  };
  for (const auto& [name, node] : table) {
    const std::string section(name.str());
    const auto keys = known.find(section);
    if (keys == known.end() || !node.is_table()) {
      return Status(StatusCode::InvalidArgument,
                    "credit policy " + origin + ": unknown " +
                        (node.is_table() ? "section [" + section + "]" : "key " + section) +
                        "; the known sections are [credits] and [disputes]");
    }
    for (const auto& [key, value] : *node.as_table()) {
      if (std::find(keys->second.begin(), keys->second.end(), key.str()) == keys->second.end()) {
        return Status(StatusCode::InvalidArgument,
                      "credit policy " + origin + ": unknown key " + section + "." +
                          std::string(key.str()) + "; the known keys of [" + section + "] are " +
                          joined(keys->second));
      }
    }
  }
  return Status::ok();
}

}  // namespace

Result<CreditPolicy> parse_credit_policy(const std::string& text, const std::string& origin) {
  CreditPolicy policy;
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& error) {
    return Status(StatusCode::InvalidArgument, "credit policy " + origin + " is invalid TOML: " +
                                                   std::string(error.description()));
  }
  if (Status known = check_policy_keys(table, origin); !known) {
    return known;
  }
  // The maxima keep each rule to what a relay center's policy means: a dropped call is a short
  // one, a misdial is reported within a month, and a dispute is due within a year.
  auto integer = [&](const char* section, const char* key, std::int64_t minimum,
                     std::int64_t maximum, std::int64_t& value) -> Status {
    const toml::node_view<toml::node> node = table[section][key];
    if (!node) {
      return Status::ok();
    }
    std::optional<std::int64_t> parsed = node.value<std::int64_t>();
    if (!parsed || *parsed < minimum || *parsed > maximum) {
      return Status(StatusCode::InvalidArgument,
                    "credit policy " + origin + ": " + section + "." + key +
                        (parsed ? " = " + std::to_string(*parsed) : std::string(" is not an integer")) +
                        "; it must be a whole number from " + std::to_string(minimum) + " to " +
                        std::to_string(maximum));
    }
    value = *parsed;
    return Status::ok();
  };
  std::int64_t due_days = policy.dispute_due_days;
  Status status = integer("credits", "dropped_call_seconds", 0, 3600,
                          policy.dropped_call_seconds);
  if (status) {
    status = integer("credits", "wrong_number_hours", 0, 720, policy.wrong_number_hours);
  }
  if (status) {
    status = integer("disputes", "due_days", 1, 365, due_days);
  }
  if (!status) {
    return status;
  }
  policy.dispute_due_days = static_cast<std::int32_t>(due_days);
  if (const toml::node_view<toml::node> node = table["credits"]["approval_above"]; node) {
    std::optional<std::string> value = node.value<std::string>();
    Result<Money> amount = value ? parse_dollars(*value)
                                 : Result<Money>(Status(StatusCode::InvalidArgument, "not text"));
    if (!amount || *amount < 0) {
      return Status(StatusCode::InvalidArgument,
                    "credit policy " + origin +
                        ": credits.approval_above must be a dollar string such as \"25.00\"");
    }
    policy.approval_above = *amount;
  }
  return policy;
}

Result<CreditPolicy> load_credit_policy(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return failed_with_step(StatusCode::NotFound,
                            "credit policy file '" + path + "' cannot be read",
                            {NextStep::Kind::PassPolicyFile, ""});
  }
  std::ostringstream text;
  text << file.rdbuf();
  return parse_credit_policy(text.str(), path);
}

namespace {

// Checks that `call` is posted and has the charge line that `ask` names.
Status check_creditable_line(const CallRecord& call, const CreditAsk& ask) {
  if (!call.posting) {
    return Status(StatusCode::FailedPrecondition,
                  "call " + ask.call_id + " " + unposted_state(call) +
                      ", so it has nothing to credit");
  }
  if (call.posting->lines.empty()) {
    return Status(StatusCode::FailedPrecondition,
                  "call " + ask.call_id +
                      " has no charge lines (it was billed nothing), so it has nothing to credit");
  }
  if (ask.line_no < 1 || ask.line_no > static_cast<std::int64_t>(call.posting->lines.size())) {
    return Status(StatusCode::InvalidArgument, "charge line " + std::to_string(ask.line_no) +
                                                   " is invalid; call " + ask.call_id +
                                                   " has lines 1 to " +
                                                   std::to_string(call.posting->lines.size()));
  }
  return Status::ok();
}

// The rating-error rule of apply_credit_policy, once the line was re-rated.
Result<CreditRequest> apply_rerated_amount(const CreditAsk& ask, Money charged,
                                           CreditRequest request) {
  const Money rerated = *ask.rerated_amount;
  const std::string line = "call " + ask.call_id + " line " + std::to_string(ask.line_no);
  if (rerated < 0) {
    return Status(StatusCode::InvalidArgument,
                  "re-rated amount " + format_money(rerated) + " of " + line +
                      " is negative; a re-rated charge is 0.00 or more");
  }
  const std::string rerating = "re-rating " + line +
                               (ask.rerated_with.empty() ? "" : " with " + ask.rerated_with) +
                               " gives " + format_money(rerated);
  if (rerated == charged) {
    return Status(StatusCode::FailedPrecondition,
                  rerating + ", the same as the " + format_money(charged) +
                      " charged, so the charge was right and there is no rating error to "
                      "credit; for a goodwill credit, request reason 'other' with a text that "
                      "says why and an amount");
  }
  if (rerated > charged) {
    return Status(StatusCode::FailedPrecondition,
                  rerating + ", more than the " + format_money(charged) +
                      " charged, so the line was not overcharged and there is nothing to credit "
                      "for a rating error; for another fault request its reason with an amount");
  }
  const Money overcharge = charged - rerated;
  request.overcharge = overcharge;
  if (ask.amount && *ask.amount > overcharge) {
    return Status(StatusCode::InvalidArgument,
                  rerating + " against " + format_money(charged) +
                      " charged, an overcharge of " + format_money(overcharge) +
                      ", so a rating-error credit of " + format_money(*ask.amount) +
                      " is too large; request at most " + format_money(overcharge) +
                      " as rating-error, and any goodwill beyond it under reason 'other' with a "
                      "text that says why");
  }
  if (ask.amount) {
    request.rule = "manual";
    request.amount = ask.amount;
  } else {
    request.rule = "re-rate";
    request.amount = overcharge;
  }
  // The reason text records which deck found the error, because a later deck may re-rate the
  // call differently.
  std::string note = "re-rated to " + format_money(rerated) + " against " +
                     format_money(charged) + " charged";
  if (!ask.rerated_with.empty()) {
    note += " with " + ask.rerated_with;
  }
  request.reason_text = request.reason_text.empty() ? note : request.reason_text + "; " + note;
  return request;
}

}  // namespace

std::string describe_rerating_deck(const RateDeckHeader& deck) {
  const std::string effective =
      deck.effective_from.empty() ? "no effective date" : "effective " + deck.effective_from;
  return "rate deck '" + deck.name + "' (" + effective + ", sha256 " +
         deck.sha256_hex.substr(0, 12) + ")";
}

Result<CreditRequest> apply_credit_policy(const CreditPolicy& policy, const CallRecord& call,
                                          const CreditAsk& ask) {
  if (Status creditable = check_creditable_line(call, ask); !creditable) {
    return creditable;
  }
  const Money charged = call.posting->lines[static_cast<std::size_t>(ask.line_no - 1)].amount;

  CreditRequest request;
  request.id = ask.id;
  request.call_id = ask.call_id;
  request.line_no = ask.line_no;
  request.reason = ask.reason;
  request.reason_text = ask.reason_text;
  request.amount = ask.amount;
  request.approval_above = policy.approval_above;

  std::optional<Instant> disconnected;
  for (const CallEventRecord& event : call.events) {
    if (event.event == CallEvent::Disconnected) {
      disconnected = event.at;
    }
  }
  const std::optional<std::int64_t> conversation = call.posting->conversation_seconds;

  if (ask.reason == CreditReason::DroppedCall && conversation &&
      *conversation <= policy.dropped_call_seconds) {
    request.rule = "dropped-call";
    request.amount = std::nullopt;
    request.approval_above = std::nullopt;
    return request;
  }
  if (ask.reason == CreditReason::Misdialed && disconnected &&
      ask.reported_at <= *disconnected + std::chrono::hours(policy.wrong_number_hours)) {
    request.rule = "wrong-number";
    request.amount = std::nullopt;
    return request;
  }
  if (ask.reason == CreditReason::RatingError && ask.rerated_amount) {
    return apply_rerated_amount(ask, charged, std::move(request));
  }
  if (!ask.amount && ask.reason == CreditReason::Misdialed && disconnected) {
    return failed_with_step(StatusCode::InvalidArgument,
                            "a misdialed call is credited in full without an amount only when "
                            "reported within " +
                                std::to_string(policy.wrong_number_hours) +
                                " hours of its end; call " + ask.call_id + " ended at " +
                                format_instant(*disconnected),
                            {NextStep::Kind::GiveCreditAmount, ask.call_id}, ", so ");
  }
  if (!ask.amount) {
    return failed_with_step(StatusCode::InvalidArgument,
                            "no policy rule sets the amount of this " +
                                std::string(to_string(ask.reason)) + " credit on call " +
                                ask.call_id,
                            {NextStep::Kind::GiveCreditAmount, ask.call_id});
  }
  request.rule = "manual";
  return request;
}

Money rerated_line_amount(const CallPosting& charged, const CallPosting& rerated,
                          std::int64_t line_no) {
  if (line_no < 1 || line_no > static_cast<std::int64_t>(charged.lines.size())) {
    return 0;
  }
  const auto index = static_cast<std::size_t>(line_no - 1);
  const PostedChargeLine& line = charged.lines[index];
  // Usage descriptions name the rate applied, so a corrected rate changes the description:
  // a line at the same position matches on its kind alone.
  if (index < rerated.lines.size() && rerated.lines[index].kind == line.kind) {
    return rerated.lines[index].amount;
  }
  for (const PostedChargeLine& other : rerated.lines) {
    if (other.kind == line.kind && other.description == line.description) {
      return other.amount;
    }
  }
  return 0;
}

Result<CreditRequest> apply_credit_policy(const CreditPolicy& policy, const CallRecord& call,
                                          CreditAsk ask, const CallRecords& records) {
  if (ask.reason != CreditReason::RatingError || ask.rerated_amount) {
    return apply_credit_policy(policy, call, ask);
  }
  // A call with no line to credit is rejected for that reason before any re-rating.
  if (Status creditable = check_creditable_line(call, ask); !creditable) {
    return creditable;
  }
  Result<Rerating> rerated = records.rerate_call(call.request.id);
  if (!rerated) {
    return rerated.status().with_prefix("cannot re-rate call " + call.request.id +
                                        " for a rating-error credit: ");
  }
  ask.rerated_amount = rerated_line_amount(*call.posting, rerated->posting, ask.line_no);
  if (rerated->deck) {
    ask.rerated_with = describe_rerating_deck(*rerated->deck);
  }
  return apply_credit_policy(policy, call, ask);
}

Result<CreditRequest> apply_credit_policy(const CreditPolicy& policy, const CallRecord& call,
                                          CreditAsk ask, Store& store,
                                          const std::filesystem::path& data_dir) {
  if (ask.reason != CreditReason::RatingError || ask.rerated_amount) {
    return apply_credit_policy(policy, call, ask);
  }
  Result<std::vector<RateDeckHeader>> decks = store.list_rate_decks();
  if (!decks) {
    return decks.status();
  }
  if (decks->empty()) {
    return failed_with_step(
        StatusCode::FailedPrecondition,
        "the database has no rate deck to re-rate call " + call.request.id + " with",
        {NextStep::Kind::LoadRateDeck, ""});
  }
  Result<NumberPlan> plan = NumberPlan::load(data_dir);
  if (!plan) {
    return plan.status();
  }
  // The rater supplies only the number plan, because rerate_call rates with the stored deck in
  // effect on the call's date.
  const Rater plan_only(&*plan, nullptr);
  return apply_credit_policy(policy, call, std::move(ask), CallRecords(&store, &plan_only));
}

}  // namespace relaygw::billing
