// A set of strings stored back to back in one buffer: a big set (every manifest digest of a
// 100,000-image cache) costs two allocations, not one per string.
#pragma once
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace msb {

class TextSet {
 public:
  void Add(std::string_view s) {
    spans_.emplace_back(text_.size(), s.size());
    text_.append(s);
    sealedAt_ = nullptr;
  }
  bool Has(std::string_view s) {
    Seal();
    return set_.count(s) != 0;
  }
  size_t size() const { return spans_.size(); }

 private:
  // Views are made when the buffer stops growing, and again if it moved (a copy, or a move of a
  // short buffer held inside the string).
  void Seal() {
    if (sealedAt_ == text_.data()) return;
    set_.clear();
    set_.reserve(spans_.size());
    for (const auto& [at, n] : spans_) set_.insert(std::string_view(text_).substr(at, n));
    sealedAt_ = text_.data();
  }
  std::string text_;
  std::vector<std::pair<size_t, size_t>> spans_;
  std::unordered_set<std::string_view> set_;
  const char* sealedAt_ = nullptr;
};

}  // namespace msb
