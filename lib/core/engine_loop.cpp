// The engine's calls on the owner thread and its lifetime: poll()/wait()/run() and
// delivery, posted functions, re-entrancy (a callback that destroys the engine or
// throws), event_fd() signalling, and the teardown that drains every op.

#include "core/engine_core.hpp"

namespace ringfile::detail {

EngineCore::~EngineCore() {
  if (in_forked_child()) {
    // The ring, the workers and the eventfds belong to the parent: forget them.
    router_.forget();
    event_set_.forget();
    detach_files();
    return;
  }
  shutdown();
}

// The Engine went away inside a callback; the outermost call is unwinding now.
void EngineCore::destroy_unwound() {
  destroy_requested_ = false;  // the teardown delivers what is left
  delete this;
}

bool EngineCore::destroy_when_unwound() noexcept {
  if (depth_ == 0 || !on_owner_thread()) return false;
  destroy_requested_ = true;
  return true;
}

int EngineCore::watch_event_fd() noexcept {
  event_fd_watched_ = true;
  const int fd = event_set_.watch(router_.primary().event_fd());
  sync_deadline_timer();
  return fd;
}

Result<void> EngineCore::flush() {
  if (!on_owner_thread()) return misuse();
  fill_backend();
  router_.flush();
  unflushed_ = work_signalled_ = false;
  return {};
}

// Hands the executors what was started; a turn that started nothing (every op
// finished on the fast path) skips the flush.
void EngineCore::submit_started() {
  fill_backend();
  work_signalled_ = false;
  if (!unflushed_) return;
  unflushed_ = false;
  router_.flush();
}

// Delivery stopped early (a callback threw, or destroyed the engine): what is
// left goes back to the front of ready_, for the next call (or the teardown).
void EngineCore::keep_undelivered(RequestQueue& done) noexcept {
  if (done.empty()) return;
  RequestQueue kept;
  while (Request* r = done.pop_front()) {
    if (r->where == Where::Executor) leave_backend(r);
    r->where = Where::Ready;
    kept.push_back(r);
  }
  kept.append(ready_);
  ready_.append(kept);
  router_.primary().wake();  // an event loop's next poll() has work
}

struct EngineCore::KeepUndelivered {
  EngineCore& core;
  RequestQueue& done;
  ~KeepUndelivered() { core.keep_undelivered(done); }
};

std::size_t EngineCore::deliver(RequestQueue& done) {
  std::size_t delivered = 0;
  KeepUndelivered keep{*this, done};
  while (!destroy_requested_) {
    Request* r = done.pop_front();
    if (!r) break;
    if (r->where == Where::Executor) leave_backend(r);
    r->where = Where::Free;
    if (resubmit_if_needed(r)) continue;
    ++delivered;
    complete(r);
  }
  return delivered;
}

// Posted functions after one that threw (or destroyed the engine) run next time.
std::size_t EngineCore::run_posted() {
  if (posted_.empty()) return 0;  // most turns
  return posted_.run(destroy_requested_, [this] { router_.primary().wake(); });
}

// Delivers what is ready now. Completions that callbacks produce while this runs
// (a cached read finished by the fast path) wait for the next call, so one poll()
// never turns into an unbounded loop.
std::size_t EngineCore::deliver_ready(RequestQueue& done) {
  // The steady state of a loop of cached reads: nothing but finished reads.
  if (done.empty() && ready_.empty() && posted_.empty() && ring_results_next_ == ring_results_.size()) [[likely]] {
    return ready_reads_.empty() ? 0 : deliver_ready_reads();
  }
  return deliver_all_ready(done);
}

std::size_t EngineCore::deliver_all_ready(RequestQueue& done) {
  // A posted function or a ready read's callback that throws must not lose what
  // the executors handed back in `done`.
  KeepUndelivered keep{*this, done};
  std::size_t n = run_posted();
  if (!ready_reads_.empty()) n += deliver_ready_reads();
  if (ring_results_next_ < ring_results_.size()) n += deliver_ring_reads();
  done.append(ready_);
  return done.empty() ? n : n + deliver(done);
}

Result<std::size_t> EngineCore::poll() {
  if (!on_owner_thread()) return misuse();
  CallScope scope(*this, true);
  (void)flush();
  RequestQueue done;
  reap_executors(done, std::chrono::nanoseconds(0));
  expire_deadlines();
  // An epoll-driven caller sleeps after this: ops its callbacks started must be
  // with the kernel or the workers by then, also when a callback threw, and
  // completions they produced at once (a cached read on the fast path) wait for
  // the next poll(), so event_fd() must say so.
  struct SubmitAfter {
    EngineCore& core;
    ~SubmitAfter() {
      if (core.destroy_requested_) return;
      (void)core.flush();
      if (core.undelivered()) core.router_.primary().wake();
    }
  } submit_after{*this};
  return deliver_ready(done);
}

Result<std::size_t> EngineCore::wait(std::chrono::nanoseconds timeout) {
  if (!on_owner_thread()) return misuse();
  if (depth_ > 0) return errno_code(EDEADLK);  // inside a callback: it would wait for itself
  CallScope scope(*this, false);
  return wait_in_call(timeout);
}

Result<std::size_t> EngineCore::wait_in_call(std::chrono::nanoseconds timeout) {
  RequestQueue done;
  const std::size_t n = deliver_ready(done);
  if (destroy_requested_) return n;
  if (n > 0 || timeout == std::chrono::nanoseconds(0)) {
    submit_started();
    return n;
  }
  return wait_for_completions(done, timeout);
}

// Nothing was ready: submit what is started and wait for the executors.
std::size_t EngineCore::wait_for_completions(RequestQueue& done, std::chrono::nanoseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const bool forever = timeout < std::chrono::nanoseconds(0);
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
  for (;;) {
    auto left = forever ? std::chrono::nanoseconds(-1) : std::chrono::nanoseconds(deadline - Clock::now());
    if (!forever && left <= std::chrono::nanoseconds(0)) return 0;
    fill_backend();
    // Submits what is started and waits in one step (one io_uring_enter). Ops that
    // the callbacks below start are submitted by the next poll()/wait()/submit().
    work_signalled_ = false;
    reap_executors(done, wait_bound(left));
    expire_deadlines();
    const std::size_t n = deliver_ready(done);
    if (n > 0 || destroy_requested_) return n;
  }
}

Result<void> EngineCore::run() {
  if (!on_owner_thread()) return misuse();
  if (depth_ > 0) return errno_code(EDEADLK);  // inside a callback: it would wait for itself
  CallScope scope(*this, false);
  for (;;) {
    while (pending_ > 0 && !destroy_requested_) {
      auto r = wait_in_call(std::chrono::nanoseconds(-1));
      if (!r) return r.error();
    }
    // A posted function may start more ops.
    if (destroy_requested_ || (run_posted() == 0 && pending_ == 0)) return {};
  }
}

void EngineCore::post(std::function<void()> fn) {
  if (in_forked_child()) return;  // the parent's queue and eventfd are not ours
  if (posted_.push(std::move(fn))) router_.primary().wake();
}

void EngineCore::shutdown() {
  ++depth_;  // callbacks run from here on may not wait() for the dying engine
  shutting_down_ = true;
  cancel_all();
  // Closes still queued are not cancelled; run them now rather than leak.
  while (Request* r = queued_.pop_front()) {
    for (Request* c = r; c; c = c->link_next) {
      c->res = c->args.op == Op::Close ? sys::close(c->args.fd) : -ECANCELED;
      c->where = Where::Ready;
      ready_.push_back(c);
    }
  }
  drain_for_shutdown();
  detach_files();
}

// Every op completes exactly once, and no buffer is released while the kernel or
// a worker may still write it: drain until nothing is in an executor. Posted
// functions run too (a File dropped on another thread posts its close).
void EngineCore::drain_for_shutdown() {
  for (;;) {
    try {
      RequestQueue done;
      if (in_backend_ > 0) reap_executors(done, std::chrono::milliseconds(10));
      done.append(ready_);
      deliver(done);
      deliver_ready_reads();
      deliver_ring_reads();
      fill_backend();
      router_.flush();
      run_posted();
    } catch (...) {
      // A callback threw inside ~Engine: there is no caller left to hand the
      // exception to. The other completions are still delivered.
    }
    if (in_backend_ == 0 && queued_.empty() && !undelivered() && posted_.empty()) break;
  }
  assert(pending_ == 0 && "a request was lost");
}

}  // namespace ringfile::detail
