#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace ringfile::detail {

// Objects handed out from chunks that are never moved or freed while the list
// lives: steady use allocates nothing, and an object stays where it is while a
// callback stored in it runs and starts more work. T links the free ones through
// its `next` member, which is its own to use while the object is handed out.
template <class T, std::size_t Chunk = 64>
class FreeList {
 public:
  T* acquire() {
    if (!free_) [[unlikely]] grow();
    T* t = free_;
    free_ = t->next;
    t->next = nullptr;
    return t;
  }
  void release(T* t) noexcept {
    t->next = free_;
    free_ = t;
  }
  // Visits every object, handed out or free.
  template <class F>
  void for_each(F&& f) {
    for (auto& chunk : chunks_) {
      for (std::size_t i = 0; i < Chunk; ++i) f(chunk[i]);
    }
  }

 private:
  void grow() {
    chunks_.push_back(std::make_unique<T[]>(Chunk));
    for (std::size_t i = 0; i < Chunk; ++i) release(&chunks_.back()[i]);
  }

  std::vector<std::unique_ptr<T[]>> chunks_;
  T* free_ = nullptr;
};

// Gives `object` back to `owner` (owner.recycle(object)) when the scope ends,
// also when the callback stored in it throws.
template <class Owner, class T>
struct RecycleAtExit {
  Owner& owner;
  T* object;
  ~RecycleAtExit() { owner.recycle(object); }
};

}  // namespace ringfile::detail
