#pragma once

#include <atomic>

#include "ops/request.hpp"

namespace ringfile::detail {

// Requests handed between threads without a lock: any thread pushes, one thread
// at a time takes everything pushed so far, oldest first. The owner thread hands
// work to the pool and takes results back this way, so it never waits for a lock
// a worker holds. Taking the whole list (never one node) leaves no ABA to guard.
class RequestStack {
 public:
  bool empty() const noexcept { return head_.load() == nullptr; }

  void push(Request* r) noexcept {
    Request* head = head_.load(std::memory_order_relaxed);
    do {
      r->next = head;
    } while (!head_.compare_exchange_weak(head, r));
  }

  // Empties `batch` onto the stack; its requests come out in its order.
  void push(RequestQueue& batch) noexcept {
    Request* newest = nullptr;
    Request* oldest = nullptr;
    while (Request* r = batch.pop_front()) {
      r->next = newest;
      newest = r;
      if (!oldest) oldest = r;
    }
    if (!newest) return;
    Request* head = head_.load(std::memory_order_relaxed);
    do {
      oldest->next = head;
    } while (!head_.compare_exchange_weak(head, newest));
  }

  // Appends everything pushed so far to `into`, oldest first. Returns how many.
  std::size_t take_all(RequestQueue& into) noexcept {
    Request* newest = head_.exchange(nullptr);
    Request* oldest_first = nullptr;
    while (newest) {
      Request* next = newest->next;
      newest->next = oldest_first;
      oldest_first = newest;
      newest = next;
    }
    std::size_t n = 0;
    while (oldest_first) {
      Request* next = oldest_first->next;
      into.push_back(oldest_first);
      oldest_first = next;
      ++n;
    }
    return n;
  }

 private:
  std::atomic<Request*> head_{nullptr};
};

}  // namespace ringfile::detail
