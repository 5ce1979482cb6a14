// Stored rate decks, each parsed once while it stays cached, so that every call is quoted, held
// and rated by the deck its record names (CallQuote::deck_sha256) without a deck parse per call.
//
// Thread rules: neither class is thread-safe. The gateway uses one RateDeckCache under its
// billing lock.
#pragma once

#include <cstddef>
#include <list>
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

// Parsed rate decks keyed by StoredRateDeck::sha256_hex, each with a Rater over `plan`. The
// cache keeps at most `capacity` decks. Adding one more evicts the least recently used deck,
// which is parsed again from the store when a call needs it later.
//
// Pointer rules: a `const Rater*` that rater(), add() or find() returns stays valid while
// fewer than `capacity` other decks have been used (found, added or parsed) since it was last
// returned, and while the cache exists. That covers a pointer used within one call's work,
// which uses the deck in effect and the call's own deck. A caller that keeps a Rater between
// calls keeps it through share(), which keeps the Rater and its deck alive after eviction.
class RateDeckCache {
 public:
  // The default capacity: the deck for new calls plus the decks of calls still open from a few
  // deck changes back. A deck evicted too early costs only a second parse.
  static constexpr std::size_t kDefaultCapacity = 8;

  // Keeps the pointer; `plan` must outlive the cache. `capacity` is at least 1.
  explicit RateDeckCache(const NumberPlan* plan, std::size_t capacity = kDefaultCapacity)
      : plan_(plan), capacity_(capacity < 1 ? 1 : capacity) {}

  // Returns the Rater of the stored deck whose SHA-256 is `deck_sha256`. The first request,
  // and the first after the deck was evicted, reads the deck from `store` and parses it. When
  // `known` rates a deck parsed from the same text, that deck is used instead of a second
  // parse. Then `known`'s deck must outlive the cache and every share() of that deck, unless
  // `known` is a Rater of this cache.
  // Fails with NotFound when the store has no such deck and FailedPrecondition when its text
  // does not parse.
  Result<const Rater*> rater(Store& store, const std::string& deck_sha256,
                             const Rater* known = nullptr);
  // Adds `deck`, parsed from the stored deck `sha256_hex`, unless that deck is cached already,
  // and returns the Rater of the cached deck.
  const Rater* add(const std::string& sha256_hex, RateDeck deck);
  // Returns the cached Rater of deck `sha256_hex`, or nullptr. Counts as a use of the deck.
  const Rater* find(std::string_view sha256_hex);
  // Returns a shared owner of the cached Rater of deck `sha256_hex`, which stays valid after
  // the deck is evicted, or null when the deck is not cached. Counts as a use of the deck.
  std::shared_ptr<const Rater> share(std::string_view sha256_hex);
  const NumberPlan* plan() const { return plan_; }
  std::size_t size() const { return entries_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct Parsed {
    std::unique_ptr<RateDeck> owned;  // null when the deck belongs to the caller (`known`)
    // The cached deck that a `known` Rater of this cache rates, kept alive while this deck is.
    std::shared_ptr<const Parsed> known_owner;
    std::unique_ptr<Rater> rater;
  };
  struct Entry {
    std::shared_ptr<Parsed> parsed;
    std::list<std::string>::iterator use;  // this deck's place in `uses_`
  };
  // Stores `parsed` under `sha256_hex` as the most recently used deck, evicting the least
  // recently used one when the cache is full.
  const Rater* insert(const std::string& sha256_hex, std::shared_ptr<Parsed> parsed);
  Entry* touch(std::string_view sha256_hex);

  const NumberPlan* plan_;
  std::size_t capacity_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::list<std::string> uses_;  // cached SHA-256s, the most recently used first
  // Every deck this cache parsed that is still cached or shared, by its Rater, so that a
  // `known` Rater of this cache keeps its deck alive after eviction.
  std::map<const Rater*, std::weak_ptr<const Parsed>> issued_;
};

// Checks that `in_effect`, the deck that Store::rate_deck_in_effect returned for `local_date`
// ("2026-07-01"), is in effect on that date. When every stored deck starts later,
// rate_deck_in_effect still returns one, and then this fails with FailedPrecondition, naming
// the date, the earliest effective date stored and the fix. `date_meaning` names in the
// message which date `local_date` is.
Status check_deck_in_effect(
    Store& store, const RateDeckHeader& in_effect, std::string_view local_date,
    std::string_view date_meaning = "the local date at the calling number's rate center");

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
