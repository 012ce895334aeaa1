// A set of digests (`sha256:<64 hex>`) and metadata file stems (`<64 hex>`), each held as its 32
// bytes (plus whether it had the prefix) in one sorted array: a 100,000-image cache's manifest
// digests take 3.3 MB, not ~13 MB of strings and hash nodes, so removals can keep the set between
// calls. Text of any other form (another algorithm, upper-case hex) is kept as text beside it:
// membership is always exact text equality.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace msb {

// The 32 bytes of a sha256 digest or metadata file stem (64 lower-case hex digits): the compact key
// of the sets and tables that hold one per image.
using Digest32 = std::array<uint8_t, 32>;
struct Digest32Hash {
  size_t operator()(const Digest32& d) const noexcept {  // the bytes of a sha256 are already uniform
    size_t h;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};

constexpr int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: "AB" and "ab" are different text
}
// HexNibble of every byte, 0xff for any but a lower-case hex digit. A first remove at 100,000 images
// parses some 500,000 names and digests; branching on each digit of random hex mispredicts (about
// 270 ns a digest on this project's VM against 18 with the table).
struct HexValues {
  uint8_t of[256];
  constexpr HexValues() : of() {
    for (int c = 0; c < 256; c++) of[c] = uint8_t(HexNibble(char(c)));
  }
};
inline constexpr HexValues kHexValues{};
// Exactly 64 lower-case hex digits, into their bytes.
inline bool ParseHex32(std::string_view hex, Digest32* out) {
  if (hex.size() != 64) return false;
  uint8_t bad = 0;  // 0xff in any digit's value marks a wrong one
  for (size_t i = 0; i < 32; i++) {
    uint8_t hi = kHexValues.of[uint8_t(hex[2 * i])], lo = kHexValues.of[uint8_t(hex[2 * i + 1])];
    bad |= hi | lo;
    (*out)[i] = uint8_t(hi << 4 | lo);
  }
  return (bad & 0xf0) == 0;
}
// `n` bytes as 2n lower-case hex digits at `out`.
inline void WriteHex(const uint8_t* bytes, size_t n, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
}
inline std::string Hex32(const Digest32& d) {
  std::string out(64, '0');
  WriteHex(d.data(), d.size(), out.data());
  return out;
}
constexpr std::string_view kSha256Prefix = "sha256:";
// `sha256:` + 64 lower-case hex digits, into the digest's bytes.
inline bool ParseSha256(std::string_view digest, Digest32* out) {
  return digest.substr(0, kSha256Prefix.size()) == kSha256Prefix && ParseHex32(digest.substr(kSha256Prefix.size()), out);
}
inline std::string Sha256Text(const Digest32& d) { return std::string(kSha256Prefix) + Hex32(d); }

// Where each bucket of a sorted array of digest keys begins. A key's bucket is its group (DigestSet's
// two forms of text; 0 where there is one form), then its leading `bits_` bits, about log2(size) - 1 of
// them: a digest's bytes are uniform, so a bucket holds two to four keys, and a look-up touches the
// bucket's bounds and a cache line or two of keys, not the 17 levels of a binary search over 100,000.
class KeyBuckets {
 public:
  static constexpr size_t kNone = SIZE_MAX;
  // `keys` sorted by group, then bytes; lead(key) = its group << 24 | its digest's first three bytes.
  template <typename Key, typename Lead>
  void Build(const std::vector<Key>& keys, unsigned groups, Lead&& lead) {
    bits_ = 0;
    while (bits_ < 20 && (size_t(4) << bits_) <= keys.size()) bits_++;
    starts_.assign((size_t(groups) << bits_) + 1, 0);
    for (const Key& k : keys) starts_[Of(lead(k)) + 1]++;
    for (size_t b = 1; b < starts_.size(); b++) starts_[b] += starts_[b - 1];
  }
  // Sorts `keys` (by group, then bytes; duplicates stay) through the buckets a set of their size has:
  // counted into them, then each sorted on its own. A digest's bytes are uniform, so a bucket holds a
  // few keys: about 4 ms at 100,000 digests against 20 for std::sort (a listing of a big cache sorts two).
  template <typename Key, typename Lead>
  static void Sort(std::vector<Key>& keys, unsigned groups, Lead&& lead) {
    KeyBuckets b;
    b.Build(keys, groups, lead);
    std::vector<Key> out(keys.size());
    std::vector<uint32_t> next(b.starts_.begin(), b.starts_.end() - 1);
    for (const Key& k : keys) out[next[b.Of(lead(k))]++] = k;
    for (size_t q = 0; q + 1 < b.starts_.size(); q++) {
      if (b.starts_[q + 1] - b.starts_[q] > 1) std::sort(out.begin() + b.starts_[q], out.begin() + b.starts_[q + 1]);
    }
    keys.swap(out);
  }
  // The index of `k` (whose lead is `lead`) in the `keys` built on, or kNone.
  template <typename Key>
  size_t Find(const std::vector<Key>& keys, const Key& k, uint32_t lead) const {
    if (starts_.empty()) return kNone;  // never built with a key in it
    size_t b = Of(lead);
    auto first = keys.begin() + starts_[b], last = keys.begin() + starts_[b + 1];
    auto it = std::lower_bound(first, last, k);
    return it != last && *it == k ? size_t(it - keys.begin()) : kNone;
  }
  // A key whose lead is `lead` was taken out of the array.
  void Removed(uint32_t lead) {
    for (size_t q = Of(lead) + 1; q < starts_.size(); q++) starts_[q]--;
  }
  void Clear() {
    decltype(starts_)().swap(starts_);
    bits_ = 0;
  }

 private:
  size_t Of(uint32_t lead) const { return size_t(lead >> 24) << bits_ | (lead & 0xFFFFFFu) >> (24 - bits_); }

  std::vector<uint32_t> starts_;
  unsigned bits_ = 0;
};

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
    size_t i = buckets_.Find(keys_, k, Lead(k));
    if (i == KeyBuckets::kNone) return;
    keys_.erase(keys_.begin() + i);
    buckets_.Removed(Lead(k));
  }
  // A digest (`sha256:` + hex) or a stem (bare hex) given as its bytes.
  void AddBytes(const Digest32& d, bool sha256) {
    keys_.push_back(KeyOfBytes(d, sha256));
    sorted_ = false;
  }
  // Sorts what was added: Has() answers only for a sealed set.
  void Seal() {
    if (sorted_) return;
    KeyBuckets::Sort(keys_, 2, Lead);
    keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
    keys_.shrink_to_fit();
    buckets_.Build(keys_, 2, Lead);
    sorted_ = true;
  }
  bool Has(std::string_view s) const {
    Key k;
    if (!KeyOf(s, &k)) return other_.count(std::string(s)) != 0;
    return HasKey(k);
  }
  bool HasBytes(const Digest32& d, bool sha256) const { return HasKey(KeyOfBytes(d, sha256)); }

 private:
  using Key = std::array<uint8_t, 33>;  // [0]: 1 for "sha256:" + hex, 0 for bare hex; then the bytes

  static Key KeyOfBytes(const Digest32& d, bool sha256) {
    Key k;
    k[0] = sha256 ? 1 : 0;
    std::memcpy(k.data() + 1, d.data(), d.size());
    return k;
  }
  static bool KeyOf(std::string_view s, Key* k) {
    bool sha256 = s.size() == kSha256Prefix.size() + 64 && s.substr(0, kSha256Prefix.size()) == kSha256Prefix;
    if (sha256) s.remove_prefix(kSha256Prefix.size());
    Digest32 d;
    if (!ParseHex32(s, &d)) return false;
    *k = KeyOfBytes(d, sha256);
    return true;
  }

  // A key's group is its flag (KeyBuckets).
  static uint32_t Lead(const Key& k) {
    return uint32_t(k[0]) << 24 | uint32_t(k[1]) << 16 | uint32_t(k[2]) << 8 | uint32_t(k[3]);
  }
  bool HasKey(const Key& k) const { return buckets_.Find(keys_, k, Lead(k)) != KeyBuckets::kNone; }

  std::vector<Key> keys_;
  KeyBuckets buckets_;
  bool sorted_ = true;
  std::unordered_set<std::string> other_;
};

}  // namespace msb
