// A cancellation flag shared with JavaScript: an Int32Array over a SharedArrayBuffer that the
// facade sets when the caller's AbortSignal fires. Workers poll it between steps.
#pragma once
#include <cstdint>

namespace msb {

class CancelFlag {
 public:
  explicit CancelFlag(const int32_t* cell = nullptr) : cell_(cell) {}
  bool IsSet() const { return cell_ != nullptr && __atomic_load_n(cell_, __ATOMIC_RELAXED) != 0; }

 private:
  const int32_t* cell_;
};

}  // namespace msb
