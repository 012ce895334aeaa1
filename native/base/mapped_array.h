// An array mapped from the system, not the heap, and given back whole when it goes. For a removal's
// passing arrays made on one thread and freed on another (a listing's 100,000 stems and what their reads
// found): in glibc, memory freed into the top of a thread's own malloc arena stays resident, and
// malloc_trim does not trim those tops (measured: +9 MB kept at 100,000 images when they were vectors).
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <utility>

namespace msb {

template <typename T>
class MappedArray {
 public:
  // Room for `capacity` elements, none made yet (capacity() is 0 when the system gave none). Pages the
  // elements never reach are never touched.
  explicit MappedArray(size_t capacity) {
    if (capacity == 0) return;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_NORESERVE
    flags |= MAP_NORESERVE;
#endif
    void* p = mmap(nullptr, capacity * sizeof(T), PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return;
    data_ = static_cast<T*>(p);
    capacity_ = capacity;
  }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;
  ~MappedArray() {
    for (size_t i = 0; i < made_; i++) data_[i].~T();
    if (data_ != nullptr) munmap(data_, capacity_ * sizeof(T));
  }
  size_t capacity() const { return capacity_; }
  size_t made() const { return made_; }
  // Makes the next element from `args` (made() < capacity()).
  template <typename... Args>
  T& Make(Args&&... args) {
    return *new (&data_[made_++]) T(std::forward<Args>(args)...);
  }
  // Makes default elements up to `n` (at most capacity()).
  void MakeUpTo(size_t n) {
    while (made_ < n) Make();
  }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  size_t capacity_ = 0;
  size_t made_ = 0;
};

}  // namespace msb
