#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace ringfile::detail {

// Functions handed to the owner thread by Engine::post(), the one thread-safe entry.
class PostedQueue {
 public:
  // Returns whether the queue was empty: then the owner must be woken.
  bool push(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    const bool was_empty = posted_.empty();
    posted_.push_back(std::move(fn));
    has_posted_.store(true, std::memory_order_release);
    return was_empty;
  }

  // Runs what was posted before this call (owner thread); returns how many ran.
  std::size_t run() {
    // Most turns have nothing posted: skip the lock. A post() that lands after this
    // look wakes the engine, so the next poll() or wait() runs it.
    if (!has_posted_.load(std::memory_order_acquire)) return 0;
    {
      std::lock_guard lock(mutex_);
      has_posted_.store(false, std::memory_order_relaxed);
      if (posted_.empty()) return 0;
      running_.swap(posted_);
    }
    const std::size_t n = running_.size();
    for (auto& fn : running_) fn();
    running_.clear();
    return n;
  }

 private:
  std::mutex mutex_;
  std::atomic<bool> has_posted_{false};
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;
};

}  // namespace ringfile::detail
