#pragma once

// What Engine::event_fd() hands an event loop once per-op deadlines need it: an
// epoll instance holding the executor's eventfd and a timerfd set to the earliest
// deadline the core's timer enforces. A loop that sleeps on event_fd() and calls
// poll() when it fires then also wakes when an op's deadline passes (the core
// cancels it there), not only when something completes.

#include <chrono>

namespace ringfile::detail {

class EventSet {
 public:
  using Clock = std::chrono::steady_clock;

  EventSet() = default;
  EventSet(const EventSet&) = delete;
  EventSet& operator=(const EventSet&) = delete;
  ~EventSet();

  // Builds the set around `executor_fd` the first time; returns the descriptor to
  // watch, or executor_fd itself when the set cannot be made (out of descriptors:
  // deadlines then pass only inside poll()/wait(), as without a loop).
  int watch(int executor_fd) noexcept;
  bool active() const noexcept { return epoll_fd_ >= 0; }
  // Makes the set readable at `when` (the epoch: never); a no-op when unchanged.
  // A timer that has fired stays readable until it is set again.
  void wake_at(Clock::time_point when) noexcept;
  // In a forked child: the descriptors are the parent's engine's; leave them be.
  void forget() noexcept { epoll_fd_ = timer_fd_ = -1; }

 private:
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  Clock::time_point armed_for_{};
};

}  // namespace ringfile::detail
