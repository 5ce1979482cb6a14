// Rate quotes shared by `relaygw quote` and the admin API's POST /quote: the same fields, the
// same checks and the same JSON, so both return the same quote for the same call and rate deck.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "billing/call_types.hpp"
#include "billing/rating.hpp"
#include "billing/store.hpp"
#include "common/status.hpp"

namespace relaygw::gateway {

// One call to quote, as text in the command-line forms ("sent-paid", "2.5" minutes,
// "2026-03-10T09:30:00-05:00").
struct QuoteFields {
  std::string from;
  std::string to;
  std::string billing = "sent-paid";
  std::string start;
  std::string minutes;
  std::string access = "none";
  std::string handling =
      std::string(relaygw::billing::to_string(relaygw::billing::kDefaultHandling));
  // The line a third-party call bills; empty quotes third-party billing with no line's TTY
  // discount eligibility.
  std::string third_number;
  std::string deck;      // rate deck file or folder; empty: DATA_DIR/rates
  std::string data_dir;  // empty: billing::default_data_dir()
  // Billing database whose deck in effect prices the quote, as `call create` picks it; empty:
  // the deck file or folder above.
  std::string db;
};

// The rate deck that priced a quote.
struct QuoteDeck {
  std::string database;        // the --db file, or empty for a deck read from `path`
  std::string path;            // the deck file or folder read, or the stored deck's source
  std::string name;            // the deck's `name`
  std::string effective_from;  // ISO 8601 date, empty when the deck states none
  std::string sha256;          // StoredRateDeck::sha256_hex; empty for a deck read from `path`
};

struct QuoteOutcome {
  billing::CallToRate call;
  billing::RatedCall rated;
  // The total under each other billing method: (method, dollars, "not allowed" or
  // "unavailable").
  std::vector<std::pair<std::string, std::string>> alternatives;
  // Set by compute_quote(); rate_quote() leaves it empty.
  std::optional<QuoteDeck> deck;
};

// Checks `fields`, loads the number plan and rate deck, and rates the call and its
// alternatives. With `fields.db` the deck is the one stored in that database in effect on the
// call's local start date at the calling number's rate center (Store::rate_deck_in_effect), as
// `call create` picks it, and the directory of that database decides whether each billing
// method's billed line gets its state TTY discount, as the posted call would. The database is opened read-only, and a missing file or one that is
// not a relaygw database fails with the open error, which names the file and the fix. Errors
// name the field as `field_prefix` + name ("--billing" on the command line, "billing" in JSON)
// and the value. Bad input fails with InvalidArgument, and a number
// plan or rate deck that cannot be loaded with Unavailable. A call the rater cannot rate keeps
// the rater's code, such as NotFound when no deck version is in force on the start date.
Result<QuoteOutcome> compute_quote(const QuoteFields& fields, std::string_view field_prefix);

// Checks `fields` and rates the call and its alternatives with an already loaded number plan
// and rate deck, ignoring `fields.deck` and `fields.data_dir`. With a `directory`, each billing
// method is rated with the TTY discount eligibility of the line it bills
// (billing::rated_line_tty_discount). That is the calling line for sent-paid,
// person-to-person and calling-card, the called line for collect, and `fields.third_number`
// for third-party. A quote names no card, so a calling-card quote is priced as a prepaid
// card's call.
// Without one, no line is eligible and only the access tag can give the discount. A null `plan` or `deck`
// fails a non-emergency call with Unavailable and the message of `missing_data` (the load
// failure), as compute_quote() does, except that a FailedPrecondition `missing_data` (no
// stored deck in effect on the start date) is returned as it is. Other errors are those of
// compute_quote().
Result<QuoteOutcome> rate_quote(const QuoteFields& fields, std::string_view field_prefix,
                                const billing::NumberPlan* plan, const billing::RateDeck* deck,
                                const Status& missing_data,
                                billing::Store* directory = nullptr);

// The `relaygw quote --json` object.
nlohmann::json quote_json(const QuoteOutcome& quote);

}  // namespace relaygw::gateway
