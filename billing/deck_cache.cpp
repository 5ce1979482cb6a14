#include "billing/deck_cache.hpp"

#include "billing/next_step.hpp"

namespace relaygw::billing {

Result<const Rater*> RateDeckCache::rater(Store& store, const std::string& deck_sha256,
                                          const Rater* known) {
  if (const Rater* cached = find(deck_sha256)) {
    return cached;
  }
  Result<std::optional<StoredRateDeck>> stored = store.find_rate_deck(deck_sha256);
  if (!stored) {
    return stored.status();
  }
  if (!stored->has_value()) {
    return Status(StatusCode::NotFound, "no rate deck with SHA-256 " + deck_sha256 +
                                            " is stored in the database, so the calls quoted "
                                            "with it cannot be rated; restore the database "
                                            "from a backup that has it");
  }
  const RateDeck* known_deck = known != nullptr ? known->deck() : nullptr;
  if (known_deck != nullptr && !known_deck->text_sha256().empty() &&
      known_deck->text_sha256() == sha256_hex((*stored)->text)) {
    auto parsed = std::make_shared<Parsed>();
    parsed->rater = std::make_unique<Rater>(plan_, known_deck);
    // The gateway passes a Rater of this cache as `known`, whose deck is freed on eviction.
    if (auto issued = issued_.find(known); issued != issued_.end()) {
      parsed->known_owner = issued->second.lock();
    }
    return insert(deck_sha256, std::move(parsed));
  }
  Result<RateDeck> parsed = RateDeck::parse((*stored)->text, (*stored)->source_path);
  if (!parsed) {
    return failed_with_step(StatusCode::FailedPrecondition,
                            "the stored rate deck '" + (*stored)->name + "' (sha256 " +
                                deck_sha256 + ") does not parse: " + parsed.status().message(),
                            {NextStep::Kind::LoadCorrectedRateDeck, ""});
  }
  return add(deck_sha256, std::move(parsed).value());
}

const Rater* RateDeckCache::add(const std::string& sha256_hex, RateDeck deck) {
  if (const Rater* cached = find(sha256_hex)) {
    return cached;
  }
  auto parsed = std::make_shared<Parsed>();
  parsed->owned = std::make_unique<RateDeck>(std::move(deck));
  parsed->rater = std::make_unique<Rater>(plan_, parsed->owned.get());
  return insert(sha256_hex, std::move(parsed));
}

const Rater* RateDeckCache::find(std::string_view sha256_hex) {
  Entry* entry = touch(sha256_hex);
  return entry == nullptr ? nullptr : entry->parsed->rater.get();
}

std::shared_ptr<const Rater> RateDeckCache::share(std::string_view sha256_hex) {
  Entry* entry = touch(sha256_hex);
  if (entry == nullptr) {
    return nullptr;
  }
  // The aliasing constructor shares ownership of the whole entry, deck included.
  return std::shared_ptr<const Rater>(entry->parsed, entry->parsed->rater.get());
}

RateDeckCache::Entry* RateDeckCache::touch(std::string_view sha256_hex) {
  auto found = entries_.find(sha256_hex);
  if (found == entries_.end()) {
    return nullptr;
  }
  uses_.splice(uses_.begin(), uses_, found->second.use);
  return &found->second;
}

const Rater* RateDeckCache::insert(const std::string& sha256_hex, std::shared_ptr<Parsed> parsed) {
  while (entries_.size() >= capacity_) {
    entries_.erase(uses_.back());
    uses_.pop_back();
  }
  std::erase_if(issued_, [](const auto& issued) { return issued.second.expired(); });
  uses_.push_front(sha256_hex);
  const Rater* rater = parsed->rater.get();
  issued_[rater] = parsed;
  entries_[sha256_hex] = Entry{std::move(parsed), uses_.begin()};
  return rater;
}

Status check_deck_in_effect(Store& store, const RateDeckHeader& in_effect,
                            std::string_view local_date, std::string_view date_meaning) {
  // ISO 8601 dates order as text, and an empty effective date sorts before every date.
  if (in_effect.effective_from <= local_date) {
    return Status::ok();
  }
  Result<std::vector<RateDeckHeader>> decks = store.list_rate_decks();
  if (!decks) {
    return decks.status();
  }
  // Every stored deck starts after `local_date`, so the message names the earliest one.
  const RateDeckHeader* earliest = &in_effect;
  for (const RateDeckHeader& deck : *decks) {
    if (deck.effective_from <= earliest->effective_from) {
      earliest = &deck;
    }
  }
  const std::string date(local_date);
  return failed_with_step(StatusCode::FailedPrecondition,
                          "no stored rate deck is in effect on " + date + " (" +
                              std::string(date_meaning) +
                              "): the earliest effective date stored is " +
                              earliest->effective_from + ", of deck '" + earliest->name + "'",
                          {NextStep::Kind::LoadRateDeckInEffect, date});
}

Result<const Rater*> CallRaters::for_deck(Store& store, const std::string& sha256_hex) const {
  if (fallback_ == nullptr) {
    return Status(StatusCode::Unavailable,
                  "no number plan or rate deck is loaded, so rate deck " + sha256_hex +
                      " cannot be used; load them and retry");
  }
  RateDeckCache* decks = decks_;
  if (decks == nullptr) {
    if (!own_decks_) {
      own_decks_ = std::make_shared<RateDeckCache>(fallback_->plan());
    }
    decks = own_decks_.get();
  }
  return decks->rater(store, sha256_hex, fallback_);
}

Result<const Rater*> CallRaters::for_call(Store& store, const CallRequest& call) const {
  if (!call.quote || call.quote->deck_sha256.empty() || fallback_ == nullptr) {
    return fallback_;
  }
  return for_deck(store, call.quote->deck_sha256);
}

}  // namespace relaygw::billing
