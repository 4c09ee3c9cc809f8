#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "ringfile/file.hpp"

namespace ringfile::detail {

struct FileState;

// Reads the owner thread finished as they were started (File::read of cached
// data): each one's callback, result and file, oldest first, until poll() or
// wait() delivers it. They need none of a request's bookkeeping, so they skip
// it. Entries come from a free list grown in chunks and never move, so a
// callback runs where it was stored while it starts more reads, and steady use
// allocates nothing.
class ReadyReads {
 public:
  struct Entry {
    IoCallback callback;
    std::int64_t res = 0;
    FileState* file = nullptr;
    Entry* next = nullptr;
  };

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }

  void push(IoCallback&& callback, std::int64_t res, FileState* file) {
    if (!free_) [[unlikely]] grow();
    Entry* e = std::exchange(free_, free_->next);
    e->callback = std::move(callback);
    e->res = res;
    e->file = file;
    e->next = nullptr;
    (head_ ? tail_->next : head_) = e;
    tail_ = e;
    ++size_;
  }

  // The oldest entry, unlinked; hand it back with recycle() once its callback ran.
  Entry* pop_front() noexcept {
    Entry* e = head_;
    head_ = e->next;
    --size_;
    return e;
  }
  void recycle(Entry* e) noexcept {
    e->callback.reset();
    e->next = free_;
    free_ = e;
  }

 private:
  void grow() {
    constexpr std::size_t kChunk = 64;
    chunks_.push_back(std::make_unique<Entry[]>(kChunk));
    for (std::size_t i = 0; i < kChunk; ++i) recycle(&chunks_.back()[i]);
  }

  std::vector<std::unique_ptr<Entry[]>> chunks_;
  Entry* free_ = nullptr;
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ringfile::detail
