// Values keyed by 32-byte digests, for tables with an entry per image of a cache that live between
// calls (the in-flight index): the keys in one sorted array with their values beside them, found
// through their leading bits (KeyBuckets, as in DigestSet), plus a small hash map for keys added
// since that array was built, folded into it once it outgrows an eighth of it. An entry costs its 32
// bytes and its value; a node of a std::unordered_map costs about 100 bytes more than that (the
// node's malloc header and link, the bucket), which at 100,000 images is megabytes a service keeps.
#pragma once
#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/digest_set.h"

namespace msb {

template <typename V>
class DigestTable {
 public:
  size_t size() const { return live_ + added_.size(); }

  // The value of `k`, or null. Valid until the next call that adds a key.
  V* Find(const Digest32& k) {
    size_t i = buckets_.Find(keys_, k, Lead(k));
    if (i != kNone) return gone_[i] ? nullptr : &values_[i];
    auto it = added_.find(k);
    return it == added_.end() ? nullptr : &it->second;
  }
  // The value of `k`, made (V{}) when absent. May fold the added keys in: pointers Find and ForEach
  // gave are then stale.
  V& operator[](const Digest32& k) {
    size_t i = buckets_.Find(keys_, k, Lead(k));
    if (i != kNone) {
      if (gone_[i]) {  // its value was reset when it went
        gone_[i] = false;
        live_++;
      }
      return values_[i];
    }
    auto it = added_.find(k);
    if (it != added_.end()) return it->second;
    if (added_.size() + 1 > kFoldFrom + keys_.size() / 8) Fold();
    return added_.emplace(k, V{}).first->second;
  }
  // May fold the table smaller (once most of it is gone: a prune's): pointers are then stale too.
  void Erase(const Digest32& k) {
    size_t i = buckets_.Find(keys_, k, Lead(k));
    if (i == kNone) {
      added_.erase(k);
      return;
    }
    if (gone_[i]) return;
    MarkGone(i);
    if (keys_.size() >= 2 * kFoldFrom && live_ < keys_.size() / 2) Fold();
  }
  // fn(const Digest32&, V&) for every entry, in no particular order.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (size_t i = 0; i < keys_.size(); i++) {
      if (!gone_[i]) fn(static_cast<const Digest32&>(keys_[i]), values_[i]);
    }
    for (auto& [k, v] : added_) fn(k, v);
  }
  // The same entries by slot, for a pass split over threads (each slot on one): fn(key, value) for the
  // entry of array slot `i` (of Slots(); none when erased), then ForEachAdded for the rest.
  size_t Slots() const { return keys_.size(); }
  template <typename Fn>
  void AtSlot(size_t i, Fn&& fn) {
    if (!gone_[i]) fn(static_cast<const Digest32&>(keys_[i]), values_[i]);
  }
  template <typename Fn>
  void ForEachAdded(Fn&& fn) {
    for (auto& [k, v] : added_) fn(k, v);
  }
  // (Never folds: for a listing's clean-up, which Assign has just sorted.)
  template <typename Pred>
  void EraseIf(Pred&& pred) {
    for (size_t i = 0; i < keys_.size(); i++) {
      if (!gone_[i] && pred(static_cast<const Digest32&>(keys_[i]), values_[i])) MarkGone(i);
    }
    for (auto it = added_.begin(); it != added_.end();) it = pred(it->first, it->second) ? added_.erase(it) : std::next(it);
  }
  // Exactly these keys (duplicates once), each with V{}: a listing's, in one sort.
  void Assign(std::vector<Digest32> keys) {
    Clear();
    KeyBuckets::Sort(keys, 1, Lead);
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    keys.shrink_to_fit();
    keys_ = std::move(keys);
    values_.resize(keys_.size());
    values_.shrink_to_fit();
    gone_.assign(keys_.size(), false);
    live_ = keys_.size();
    buckets_.Build(keys_, 1, Lead);
  }
  void Clear() {  // and give the memory back
    decltype(keys_)().swap(keys_);
    decltype(values_)().swap(values_);
    decltype(gone_)().swap(gone_);
    decltype(added_)().swap(added_);
    buckets_.Clear();
    live_ = 0;
  }

 private:
  static constexpr size_t kNone = KeyBuckets::kNone;
  static uint32_t Lead(const Digest32& k) { return uint32_t(k[0]) << 16 | uint32_t(k[1]) << 8 | uint32_t(k[2]); }
  void MarkGone(size_t i) {
    gone_[i] = true;
    values_[i] = V{};  // what it owned goes now
    live_--;
  }
  // Added keys kept in the hash map before a fold: a fold sorts the whole table, so it waits for an
  // eighth of it (and this many, so that a small table is not re-sorted at every new file).
  static constexpr size_t kFoldFrom = 16;

  // The added keys and the live ones of the array, as one sorted array again.
  void Fold() {
    std::vector<std::pair<Digest32, V>> all;
    all.reserve(live_ + added_.size());
    for (size_t i = 0; i < keys_.size(); i++) {
      if (!gone_[i]) all.emplace_back(keys_[i], std::move(values_[i]));
    }
    for (auto& [k, v] : added_) all.emplace_back(k, std::move(v));
    Clear();
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    keys_.reserve(all.size());
    values_.reserve(all.size());
    for (auto& [k, v] : all) {
      keys_.push_back(k);
      values_.push_back(std::move(v));
    }
    gone_.assign(keys_.size(), false);
    live_ = keys_.size();
    buckets_.Build(keys_, 1, Lead);
  }

  std::vector<Digest32> keys_;  // sorted
  std::vector<V> values_;       // beside keys_
  std::vector<bool> gone_;      // erased since the array was built (its value reset)
  KeyBuckets buckets_;
  size_t live_ = 0;  // keys_ not gone
  std::unordered_map<Digest32, V, Digest32Hash> added_;
};

}  // namespace msb
