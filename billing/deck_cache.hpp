// Stored rate decks, each parsed once, so that every call is quoted, held and rated by the deck
// its record names (CallQuote::deck_sha256) without a deck parse per call.
//
// Thread rules: neither class is thread-safe. The gateway uses one RateDeckCache under its
// billing lock. A Rater returned by either class stays valid as long as the cache holding it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "billing/numbering.hpp"
#include "billing/rate_deck.hpp"
#include "billing/rating.hpp"
#include "billing/store.hpp"
#include "common/status.hpp"

namespace relaygw::billing {

// Parsed rate decks keyed by StoredRateDeck::sha256_hex, each with a Rater over `plan`.
class RateDeckCache {
 public:
  // Keeps the pointer; `plan` must outlive the cache.
  explicit RateDeckCache(const NumberPlan* plan) : plan_(plan) {}

  // Returns the Rater of the stored deck whose SHA-256 is `deck_sha256`. The first request
  // reads the deck from `store` and parses it. When `known` rates a deck parsed from the same text, that deck is
  // used instead of a second parse, and then `known`'s deck must outlive the cache. Fails with
  // NotFound when the store has no such deck and FailedPrecondition when its text does not
  // parse.
  Result<const Rater*> rater(Store& store, const std::string& deck_sha256,
                             const Rater* known = nullptr);
  // Adds `deck`, parsed from the stored deck `sha256_hex`, unless that deck is cached already,
  // and returns the Rater of the cached deck.
  const Rater* add(const std::string& sha256_hex, RateDeck deck);
  // Returns the cached Rater of deck `sha256_hex`, or nullptr.
  const Rater* find(std::string_view sha256_hex) const;
  const NumberPlan* plan() const { return plan_; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::unique_ptr<RateDeck> owned;  // null when the deck belongs to the caller (`known`)
    std::unique_ptr<Rater> rater;
  };
  const NumberPlan* plan_;
  // NOTE: entries are never evicted, because an open call may still need any stored deck, so
  // memory grows by one parsed deck for each deck that the cache's owner meets while it runs.
  std::map<std::string, Entry, std::less<>> entries_;
};

// The raters that CallRecords and Authorizer rate with. A call whose record names a stored deck
// is rated by that deck. A call that names none (emergency calls, calls stored before schema
// 12 or while the database held no deck) is rated by `fallback`.
class CallRaters {
 public:
  // Keeps the pointers. `fallback` may be null, and then only calls that bill zero can be
  // rated. Without `decks`, decks are parsed into a cache of this object's own.
  CallRaters(const Rater* fallback, RateDeckCache* decks) : fallback_(fallback), decks_(decks) {}

  const Rater* fallback() const { return fallback_; }
  // Returns the Rater of the stored deck `sha256_hex` (see RateDeckCache::rater), or
  // Unavailable when there is no fallback to take the number plan from.
  Result<const Rater*> for_deck(Store& store, const std::string& sha256_hex) const;
  // Returns the Rater of the deck `call` was quoted with, or the fallback (which may be null)
  // when it names none.
  Result<const Rater*> for_call(Store& store, const CallRequest& call) const;

 private:
  const Rater* fallback_;
  RateDeckCache* decks_;
  mutable std::shared_ptr<RateDeckCache> own_decks_;
};

}  // namespace relaygw::billing
