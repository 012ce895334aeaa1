// A set of digests (`sha256:<64 hex>`) and metadata file stems (`<64 hex>`), each held as its 32
// bytes (plus whether it had the prefix) in one sorted array: a 100,000-image cache's manifest
// digests take 3.3 MB, not ~13 MB of strings and hash nodes, so removals can keep the set between
// calls. Text of any other form (another algorithm, upper-case hex) is kept as text beside it:
// membership is always exact text equality.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace msb {

class DigestSet {
 public:
  void Add(std::string_view s) {
    Key k;
    if (KeyOf(s, &k)) {
      keys_.push_back(k);
      sorted_ = false;
    } else {
      other_.emplace(s);
    }
  }
  void Remove(std::string_view s) {
    Key k;
    if (!KeyOf(s, &k)) {
      other_.erase(std::string(s));
      return;
    }
    Seal();
    auto it = std::lower_bound(keys_.begin(), keys_.end(), k);
    if (it != keys_.end() && *it == k) keys_.erase(it);
  }
  // Sorts what was added: Has() answers only for a sealed set.
  void Seal() {
    if (sorted_) return;
    std::sort(keys_.begin(), keys_.end());
    keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
    keys_.shrink_to_fit();
    sorted_ = true;
  }
  bool Has(std::string_view s) const {
    Key k;
    if (!KeyOf(s, &k)) return other_.count(std::string(s)) != 0;
    return std::binary_search(keys_.begin(), keys_.end(), k);
  }

 private:
  using Key = std::array<uint8_t, 33>;  // [0]: 1 for "sha256:" + hex, 0 for bare hex; then the bytes

  static int Nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // upper case too: "AB" and "ab" are different text
  }
  static bool KeyOf(std::string_view s, Key* k) {
    constexpr std::string_view kPrefix = "sha256:";
    (*k)[0] = 0;
    if (s.size() == kPrefix.size() + 64 && s.substr(0, kPrefix.size()) == kPrefix) {
      (*k)[0] = 1;
      s.remove_prefix(kPrefix.size());
    }
    if (s.size() != 64) return false;
    for (size_t i = 0; i < 32; i++) {
      int hi = Nibble(s[2 * i]), lo = Nibble(s[2 * i + 1]);
      if (hi < 0 || lo < 0) return false;
      (*k)[1 + i] = uint8_t(hi << 4 | lo);
    }
    return true;
  }

  std::vector<Key> keys_;
  bool sorted_ = true;
  std::unordered_set<std::string> other_;
};

}  // namespace msb
