#include "exec/pool/threadpool_backend.hpp"

#include "exec/pool/peer_wait.hpp"
#include "exec/pool/worker_interrupt.hpp"
#include "sys/eventfd.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <mutex>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace ringfile::detail {

namespace {

using Clock = std::chrono::steady_clock;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

ThreadPoolBackend::ThreadPoolBackend(const EngineOptions& options, Executor* signal_via)
    : spin_(std::chrono::microseconds(options.spin_us)), signal_via_(signal_via) {
  if (!signal_via_) {
    notify_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (notify_fd_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
  }
  // A fixed count when asked for; otherwise start small and grow while every
  // worker is busy and work waits, as device-bound work (O_DIRECT at depth) needs
  // about one blocked worker per op in flight.
  unsigned initial = options.workers;
  max_workers_ = options.workers;
  if (initial == 0) {
    initial = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
    max_workers_ = kDefaultMaxWorkers;
  }
  workers_ = std::make_unique<std::thread[]>(max_workers_);
  running_ = std::make_unique<Running[]>(max_workers_);
  poller_ = std::make_unique<PeerPoller>(PeerPoller::Hooks{
      .complete = [this](Request* r) { complete(r); },
      .resume = [this](Request* r) { resume(r); },
  });
  try {
    for (unsigned i = 0; i < initial; ++i) spawn_worker();
  } catch (...) {
    stop_workers();
    if (notify_fd_ >= 0) ::close(notify_fd_);
    throw;
  }
}

ThreadPoolBackend::~ThreadPoolBackend() {
  poller_.reset();
  stop_workers();
  if (notify_fd_ >= 0) ::close(notify_fd_);
}

void ThreadPoolBackend::spawn_worker() {
  const unsigned index = worker_count_.load(std::memory_order_relaxed);
  workers_[index] = std::thread([this, index] { worker_loop(index); });
  worker_count_.store(index + 1, std::memory_order_release);
}

void ThreadPoolBackend::stop_workers() {
  stop_.store(true);
  grower_seq_.fetch_add(1);
  grower_seq_.notify_all();
  if (grower_.joinable()) grower_.join();  // it may be adding a worker
  sq_seq_.fetch_add(1);
  sq_seq_.notify_all();
  for (unsigned i = 0; i < worker_count(); ++i) {
    if (workers_[i].joinable()) workers_[i].join();
  }
}

std::string ThreadPoolBackend::describe() const {
  return "threadpool (" + std::to_string(worker_count()) + " workers, up to " + std::to_string(max_workers_) +
         ", spin " +
         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(spin_).count()) + " us)";
}

void ThreadPoolBackend::wake() noexcept { notify(); }

void ThreadPoolBackend::signal_event_fd() noexcept {
  if (notify_fd_ < 0) return;  // beside the ring: the ring's event_fd() is the one watched
  work_signalled_ = true;
  write_eventfd(notify_fd_);
}

void ThreadPoolBackend::notify() noexcept {
  if (signal_via_) signal_via_->wake();
  else write_eventfd(notify_fd_);
}

void ThreadPoolBackend::start(Request* request) {
  // Waiting for a descriptor is the poller's, alone or at the head of nothing.
  if (request->args.op == Op::Poll && !request->link_next) {
    poller_->watch(request, request->args.fd, request->args.mode, PeerPoller::Then::Complete);
    return;
  }
  staged_.push_back(request);
}

void ThreadPoolBackend::flush() {
  if (staged_.empty()) return;
  sq_count_.fetch_add(static_cast<std::uint32_t>(staged_.size()));
  intake_.push(staged_);
  wake_worker();
  // More work waits than idle workers can take: the grower watches whether the
  // pool must grow, as the owner may not call poll() again while nothing completes
  // (the idle ones may block on the first ops they take).
  const std::uint32_t idle = static_cast<std::uint32_t>(sleeping_.load()) + (spinner_.load() ? 1u : 0u);
  if (sq_count_.load() > idle && worker_count() < max_workers_ && !growth_watched_.exchange(true)) {
    if (!grower_.joinable()) {
      try {
        grower_ = std::thread([this] { grower_loop(); });
      } catch (const std::system_error&) {
        growth_watched_.store(false);  // out of threads: the workers there serve the queue
      }
    }
    grower_seq_.fetch_add(1);
    grower_seq_.notify_one();
  }
}

void ThreadPoolBackend::grower_loop() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
  while (!stop_.load()) {
    const std::uint32_t seen = grower_seq_.load();
    if (!growth_watched_.load()) {
      grower_seq_.wait(seen);
      continue;
    }
    std::this_thread::sleep_for(kGrowWindow);
    const bool again = grow_if_starved();
    if (!again) {
      growth_watched_.store(false);
      // A flush between the check and here saw the flag still set: look once more.
      if (sq_count_.load() > 0 && worker_count() < max_workers_) growth_watched_.store(true);
    }
  }
}

// A request whose peer is ready goes back to the workers.
void ThreadPoolBackend::resume(Request* r) {
  sq_count_.fetch_add(1);
  intake_.push(r);
  wake_worker();
}

// Run by the grower's thread every window while work waits and no worker is free,
// whether or not the owner calls poll(). Work has waited for a whole window: if the
// workers took few ops in it, each op blocks (a device read), so another worker
// adds depth; if they took many, the work is CPU-bound and more threads than cores
// would only take turns. Judging by what was taken, not by a busy count, ignores
// the instant between a worker posting a completion and going back for more.
bool ThreadPoolBackend::grow_if_starved() {
  if (sq_count_.load() == 0 || worker_count() >= max_workers_) {
    window_start_ = Clock::time_point{};
    return false;
  }
  const std::uint64_t taken = taken_.load();
  const auto now = Clock::now();
  if (window_start_ == Clock::time_point{}) {
    window_start_ = now;
    taken_at_window_start_ = taken;
    return true;
  }
  if (now - window_start_ < kGrowWindow) return true;
  const std::uint64_t taken_in_window = taken - taken_at_window_start_;
  window_start_ = now;
  taken_at_window_start_ = taken;
  if (sleeping_.load() > 0 || spinner_.load()) return true;
  if (taken_in_window >= worker_count() * kFastOpsPerWindow) return true;
  try {
    spawn_worker();
  } catch (const std::system_error&) {
    // Out of threads: the workers there are still serve the queue.
  }
  return true;
}

// One wake-up per batch: the woken worker wakes the next while work remains, so a
// batch of many ops costs the owner one futex call, not one per op.
void ThreadPoolBackend::wake_worker() {
  sq_seq_.fetch_add(1);
  if (spinner_.load()) return;  // the spinning worker will see the work
  // Wake a sleeper only if none is already on its way up: without this, every
  // take() that sees work left would notify the same not-yet-running sleeper.
  int waking = waking_.load();
  while (sleeping_.load() > waking) {
    if (waking_.compare_exchange_weak(waking, waking + 1)) {
      wakeups_.fetch_add(1, std::memory_order_relaxed);
      sq_seq_.notify_one();
      return;
    }
  }
}

Request* ThreadPoolBackend::take(unsigned index) {
  for (;;) {
    if (sq_count_.load() > 0) {
      std::unique_lock lock(sq_mutex_);
      if (sq_.empty()) intake_.take_all(sq_);
      if (Request* r = sq_.pop_front()) {
        sq_count_.fetch_sub(1);
        taken_.fetch_add(1);
        running_[index].request.store(r);
        bool more = !sq_.empty() || !intake_.empty();
        lock.unlock();
        if (more) wake_worker();
        return r;
      }
    }
    if (stop_.load()) return nullptr;
    // One worker at a time spins; the rest sleep at once, so a 2-core machine is not
    // eaten by idle workers and an idle engine costs nothing after spin_us.
    bool expected = false;
    if (spin_pays() && spinner_.compare_exchange_strong(expected, true)) {
      const auto until = Clock::now() + spin_;
      bool found = false;
      while (Clock::now() < until && !stop_.load()) {
        if (sq_count_.load() > 0) {
          found = true;
          break;
        }
        for (int i = 0; i < 64; ++i) cpu_relax();
      }
      spinner_.store(false);
      if (found) continue;
    }
    std::uint32_t seen = sq_seq_.load();
    sleeping_.fetch_add(1);
    if (sq_count_.load() == 0 && !stop_.load()) sq_seq_.wait(seen);
    sleeping_.fetch_sub(1);
    int waking = waking_.load();
    while (waking > 0 && !waking_.compare_exchange_weak(waking, waking - 1)) {
    }
  }
}

void ThreadPoolBackend::worker_loop(unsigned index) {
  accept_only_worker_interrupt();
  running_[index].thread = pthread_self();
  while (Request* head = take(index)) {
    // A chain runs in order on this worker; a failed or short member cancels the rest.
    bool broken = false;
    for (Request* r = head; r;) {
      Request* next = r->link_next;
      if (broken || r->cancelled.load()) {
        r->res = -ECANCELED;
        broken = true;
        complete(r);
      } else if (r == head && !next) {
        run_on_worker(r, index);
        break;
      } else {
        running_[index].request.store(r);
        r->res = run_blocking(r->args);
        running_[index].request.store(nullptr);
        broken = !chain_continues(*r, r->res);
        complete(r);
      }
      r = next;
    }
  }
}

// A lone request: it completes, or waits for its peer in the poller.
void ThreadPoolBackend::run_on_worker(Request* r, unsigned index) {
  running_[index].request.store(r);
  const auto started = spin_.count() > 0 ? Clock::now() : Clock::time_point{};
  PeerWait wait;
  const bool done = run_without_peer_wait(*r, wait);
  // Idle before the owner can see the completion: a wait() that then finds one
  // op staged and every worker idle may run that op itself.
  running_[index].request.store(nullptr);
  if (spin_.count() > 0) note_op_time(Clock::now() - started);
  if (done) return complete(r);
  // A cancel that came while it ran found it nowhere: the poller sees the mark.
  poller_->watch(r, wait.fd, wait.events, PeerPoller::Then::Resume, wait.retry);
}

// A moving average over the last few ops; racy updates from several workers only
// blur it. One long op (a blocked pipe read) counts as a few spin windows, so a
// handful of fast ops bring spinning back.
void ThreadPoolBackend::note_op_time(std::chrono::nanoseconds took) noexcept {
  const std::int64_t sample = std::min<std::int64_t>(took.count(), 4 * spin_.count());
  const std::int64_t before = recent_op_ns_.load(std::memory_order_relaxed);
  recent_op_ns_.store((3 * before + sample) / 4, std::memory_order_relaxed);
}

// Spinning pays only while ops finish well within the spin window (a quarter of
// it: cached data, metadata): then the next op or completion comes before a
// sleeper could have been woken. Ops that take longer (an O_DIRECT read on the
// device, a cold read) are waited for asleep; spinning through them would burn a
// core for every op in flight and win nothing.
bool ThreadPoolBackend::spin_pays() const noexcept {
  return spin_.count() > 0 && 4 * recent_op_ns_.load(std::memory_order_relaxed) < spin_.count();
}

void ThreadPoolBackend::complete(Request* request) {
  if (request->fifo_placeholder >= 0) {
    if (request->res != request->fifo_placeholder) ::close(request->fifo_placeholder);
    request->fifo_placeholder = -1;
  }
  completed_.push(request);
  // The owner spinning in reap() sees the completion and needs no eventfd write;
  // when it stops spinning it looks again before it sleeps.
  if (!signaled_.exchange(true) && !owner_spinning_.load()) notify();
}

bool ThreadPoolBackend::take_completions(RequestQueue& done) {
  // The flag says a worker signalled since the last clear. Drained, then cleared:
  // a completion pushed after the clear signals again, one pushed before it is
  // taken below, so the flag never stays set over a descriptor already drained.
  if (signaled_.load()) {
    if (notify_fd_ >= 0) drain_eventfd(notify_fd_);
    signaled_.store(false);
  }
  if (completed_.empty()) return false;
  completed_.take_all(done);
  return true;
}

// wait() with no time limit and one op started while no worker has anything: the
// owner would only sleep until a worker finished it, paying a wake-up each way
// (four context switches an op, over twice pread's CPU for a device read at
// depth 1). It runs the op itself instead. The core allows only ops that cannot
// wait on another party (a positional op on a regular file, see owner_may_run).
bool ThreadPoolBackend::run_lone_op_here(RequestQueue& done) {
  Request* r = staged_.front();
  if (!r || staged_.size() != 1 || !r->owner_may_run) return false;
  if (sq_count_.load() > 0 || !completed_.empty() || busy_count() > 0) return false;
  staged_.pop_front();
  r->res = run_blocking(r->args);
  done.push_back(r);
  ++ran_by_owner_;
  return true;
}

void ThreadPoolBackend::reap(RequestQueue& done, std::chrono::nanoseconds timeout) {
  if (timeout < std::chrono::nanoseconds(0) && run_lone_op_here(done)) return;
  flush();
  // The work signal has done its job: poll() is here. A completion's write that
  // this also clears is found by take_completions() below, which looks at the
  // queue, not the descriptor. A blocking reap leaves it (one early return), so
  // it can never swallow a post()'s wake-up it would then sleep through.
  if (timeout == std::chrono::nanoseconds(0) && std::exchange(work_signalled_, false)) drain_eventfd(notify_fd_);
  if (take_completions(done) || timeout == std::chrono::nanoseconds(0)) return;
  const bool forever = timeout < std::chrono::nanoseconds(0);
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;

  if (spin_pays() && in_flight() > 0) {
    owner_spinning_.store(true);
    const auto until = std::min(deadline, Clock::now() + spin_);
    while (completed_.empty() && Clock::now() < until) cpu_relax();
    owner_spinning_.store(false);
    if (take_completions(done)) return;
  }

  for (;;) {
    if (take_completions(done)) return;
    int wait_ms = -1;
    if (!forever) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return;
      wait_ms = static_cast<int>(std::min<long long>(left.count(), 1000));
    }
    // A cancel signal can slip in before its worker enters the syscall; send it
    // again every few milliseconds while a cancelled op is still running.
    if (interrupt_cancelled()) wait_ms = wait_ms < 0 ? 5 : std::min(wait_ms, 5);
    pollfd p{notify_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, wait_ms);
    if (r > 0) {
      if (!take_completions(done) && notify_fd_ >= 0) drain_eventfd(notify_fd_);
      return;  // a completion, or wake() for a posted function
    }
    if (r == 0 && !forever && Clock::now() >= deadline) return;
  }
}

std::size_t ThreadPoolBackend::in_flight() const noexcept {
  return sq_count_.load() + static_cast<std::size_t>(busy_count());
}

unsigned ThreadPoolBackend::busy_count() const noexcept {
  unsigned n = 0;
  for (unsigned i = 0; i < worker_count(); ++i) n += running_[i].request.load() != nullptr;
  return n;
}

void ThreadPoolBackend::cancel(Request* request) {
  poller_->cancel_marked();  // in case it waits on a peer there
  if (!staged_.remove(request)) {
    // The workers' lock is only tried: when a worker holds it, the request is
    // marked cancelled, and the worker that takes it completes it so.
    std::unique_lock lock(sq_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    intake_.take_all(sq_);
    if (!sq_.remove(request)) {
      lock.unlock();
      interrupt_cancelled();
      return;
    }
    sq_count_.fetch_sub(1);
  }
  // The request (and any chain behind it) is ours alone now.
  for (Request* r = request; r;) {
    Request* next = r->link_next;
    r->res = -ECANCELED;
    complete(r);
    r = next;
  }
}

bool ThreadPoolBackend::interrupt_cancelled() {
  bool any = false;
  for (unsigned i = 0; i < worker_count(); ++i) {
    Request* r = running_[i].request.load();
    if (r && r->cancelled.load() && interrupt_worker(running_[i].thread)) any = true;
  }
  return any;
}

void ThreadPoolBackend::add_stats(EngineStats& stats) const noexcept {
  stats.worker_wakeups += wakeups_.load(std::memory_order_relaxed);
  stats.ran_by_waiting_owner += ran_by_owner_;
}

std::unique_ptr<Executor> make_threadpool_backend(const EngineOptions& options, Executor* signal_via) {
  return std::make_unique<ThreadPoolBackend>(options, signal_via);
}

}  // namespace ringfile::detail
