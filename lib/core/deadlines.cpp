// Per-op deadlines (OpTimeout). Every op submitted while an OpTimeout lives gets
// an absolute deadline and an entry here until it completes. A single op on the
// ring carries its own IORING_OP_LINK_TIMEOUT; for everything else (the pool,
// chain members, ops still queued) this timer cancels the op when its deadline
// passes, through the executor's usual cancel (the pool interrupts a blocked
// worker), and the core reports ETIMEDOUT. The op still completes exactly once,
// after the executor has let go of its buffer. A ring op the kernel's link
// timeout has not ended kLinkTimeoutGrace after its deadline is cancelled by the
// timer too: Linux 6.18 leaves an fdatasync blocked in an io-wq worker on a FUSE
// file running past its link timeout, with neither completion posted, while an
// explicit cancel interrupts it.

#include "core/engine_core.hpp"

namespace ringfile::detail {

void EngineCore::arm_deadline(Request* r) {
  r->deadline = DeadlineClock::now() + op_timeout_;
  deadlines_.emplace(r->deadline, r);
  sync_deadline_timer();
}

// An event loop sleeping on event_fd() wakes at the earliest deadline and calls
// poll(), which expires it. A deadline that went away early leaves the timer at
// its time: that wake-up finds nothing and the next sync moves the timer on.
void EngineCore::sync_deadline_timer() noexcept {
  if (!event_set_.active()) return;
  event_set_.wake_at(deadlines_.empty() ? DeadlineClock::time_point{} : deadlines_.begin()->first);
}

namespace {
constexpr std::chrono::milliseconds kLinkTimeoutGrace{50};
}

void EngineCore::disarm_deadline(Request* r) noexcept {
  deadlines_.erase({r->link_timeout_overdue ? r->deadline + kLinkTimeoutGrace : r->deadline, r});
}

bool EngineCore::past_deadline(const Request& r) noexcept {
  return r.deadline != DeadlineClock::time_point{} && DeadlineClock::now() >= r.deadline;
}

bool EngineCore::ring_times_out(const Request& r) const noexcept {
  return r.route == Route::Primary && router_.primary().enforces_deadlines() && !r.link_next && !r.link_tail;
}

std::chrono::nanoseconds EngineCore::wait_bound(std::chrono::nanoseconds left) const noexcept {
  if (deadlines_.empty()) return left;
  const auto until = std::max(std::chrono::nanoseconds(0), std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                               deadlines_.begin()->first - DeadlineClock::now()));
  return left < std::chrono::nanoseconds(0) ? until : std::min(left, until);
}

void EngineCore::expire_deadlines() {
  if (deadlines_.empty() && !event_set_.active()) return;
  const auto now = DeadlineClock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    Request* r = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    switch (r->where) {
      case Where::Queued:
        r->timed_out = true;
        ++stats_.timer_expiries;
        queued_.remove(r);
        finish_now(r, -ETIMEDOUT);
        break;
      case Where::Executor:
        if (ring_times_out(*r) && !r->link_timeout_overdue) {  // its link timeout fires in the kernel
          r->link_timeout_overdue = true;
          deadlines_.emplace(r->deadline + kLinkTimeoutGrace, r);
          break;
        }
        r->timed_out = true;
        ++stats_.timer_expiries;
        if (!r->cancelled.exchange(true)) router_.cancel(r);
        break;
      case Where::Free: case Where::Ready: case Where::Parked:
        break;
    }
  }
  sync_deadline_timer();
}

}  // namespace ringfile::detail
