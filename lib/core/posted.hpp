#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <iterator>
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

  bool empty() const noexcept { return !has_posted_.load(std::memory_order_acquire); }

  // Runs what was posted before this call (owner thread) until `stop` turns true.
  // What did not run (stopped, or one threw) stays queued, first in line, and
  // `requeued` is called to wake the next poll. Returns how many ran.
  template <class Requeued>
  std::size_t run(const bool& stop, Requeued&& requeued) {
    // Most turns have nothing posted: skip the lock. A post() that lands after this
    // look wakes the engine, so the next poll() or wait() runs it.
    if (empty()) return 0;
    // A local batch (reusing the member's capacity): a posted function may poll().
    std::vector<std::function<void()>> batch = std::move(running_);
    {
      std::lock_guard lock(mutex_);
      has_posted_.store(false, std::memory_order_relaxed);
      batch.swap(posted_);
    }
    struct KeepUnrun {
      PostedQueue& q;
      std::vector<std::function<void()>>& batch;
      std::size_t ran = 0;
      Requeued& requeued;
      ~KeepUnrun() { q.keep_unrun(batch, ran, requeued); }
    } keep{*this, batch, 0, requeued};
    while (keep.ran < batch.size() && !stop) {
      auto fn = std::move(batch[keep.ran++]);
      fn();
    }
    return keep.ran;
  }

 private:
  template <class Requeued>
  void keep_unrun(std::vector<std::function<void()>>& batch, std::size_t ran, Requeued& requeued) noexcept {
    if (ran < batch.size()) {
      {
        std::lock_guard lock(mutex_);
        posted_.insert(posted_.begin(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(ran)),
                       std::make_move_iterator(batch.end()));
        has_posted_.store(true, std::memory_order_release);
      }
      requeued();
    }
    batch.clear();
    if (running_.capacity() < batch.capacity()) running_ = std::move(batch);
  }

  std::mutex mutex_;
  std::atomic<bool> has_posted_{false};
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;
};

}  // namespace ringfile::detail
