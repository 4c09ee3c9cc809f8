#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/free_list.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

struct FileState;

// Reads the owner thread finished as they were started (File::read of cached
// data): each one's callback, result and file, oldest first, until poll() or
// wait() delivers it. They need none of a request's bookkeeping, so they skip it.
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
    Entry* e = entries_.acquire();
    e->callback = std::move(callback);
    e->res = res;
    e->file = file;
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
    entries_.release(e);
  }

 private:
  FreeList<Entry> entries_;
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ringfile::detail
