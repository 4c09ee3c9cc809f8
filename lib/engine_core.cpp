#include "engine_core.hpp"

#include <fcntl.h>

namespace ringfile::detail {

namespace {

// EINTR and EAGAIN are retried; a descriptor that keeps saying EAGAIN (O_NONBLOCK
// on a pipe, say) gets it reported rather than spun on forever.
constexpr std::uint8_t kMaxRetries = 32;

bool is_buffered_read(const Request& r) noexcept {
  const Op op = r.args.op;
  const bool read = op == Op::Read || op == Op::Readv || op == Op::ReadFixed;
  // A stream has no page cache to ask about; its reads go to the engine.
  return read && r.file && !(r.file->open_flags & O_DIRECT) && !r.file->stream_only;
}

std::size_t read_length(const OpArgs& a) noexcept {
  if (a.op != Op::Readv) return a.len;
  std::size_t total = 0;
  for (int i = 0; i < a.iovcnt; ++i) total += a.iov[i].iov_len;
  return total;
}

}  // namespace

EngineCore::EngineCore(std::unique_ptr<Backend> backend, const EngineOptions& options,
                       std::string fallback_reason)
    : router_(std::move(backend)),
      options_(options),
      fallback_reason_(std::move(fallback_reason)),
      owner_(std::this_thread::get_id()),
      fork_generation_(fork_generation()),
      fast_path_any_depth_(router_.primary().kind() == ringfile::Backend::ThreadPool) {}

EngineCore::~EngineCore() {
  if (in_forked_child()) {
    // The ring, the workers and the eventfds belong to the parent: forget them.
    router_.forget();
    detach_files();
    return;
  }
  shutdown();
}

EngineCore::CallScope::CallScope(EngineCore& core, bool polling) noexcept
    : core_(core), was_polling_(core.polling_) {
  ++core_.depth_;
  core_.polling_ = polling;
}

EngineCore::CallScope::~CallScope() {
  core_.polling_ = was_polling_;
  if (--core_.depth_ > 0 || !core_.destroy_requested_) return;
  core_.destroy_requested_ = false;  // the teardown delivers what is left
  delete &core_;
}

bool EngineCore::destroy_when_unwound() noexcept {
  if (depth_ == 0 || !on_owner_thread()) return false;
  destroy_requested_ = true;
  return true;
}

int EngineCore::watch_event_fd() noexcept {
  event_fd_watched_ = true;
  return router_.primary().event_fd();
}

// Ops started outside poll() (which submits before it returns) wait in user space
// until the engine is next called. A loop asleep on event_fd() would never call
// it: make the descriptor readable, once until the next submission.
void EngineCore::work_started() {
  if (!event_fd_watched_ || work_signalled_ || polling_) return;
  work_signalled_ = true;
  router_.primary().signal_event_fd();
}

bool EngineCore::covers_registered(unsigned index, const void* buffer, std::size_t length) const noexcept {
  if (index >= registered_.size()) return false;
  const auto* base = static_cast<const char*>(registered_[index].iov_base);
  const auto* start = static_cast<const char*>(buffer);
  return start >= base && length <= registered_[index].iov_len &&
         static_cast<std::size_t>(start - base) <= registered_[index].iov_len - length;
}

OpHandle EngineCore::accept(Request* request) {
  ++stats_.submitted;
  ++pending_;
  work_started();
  return handle_of(request);
}

// Completes a request, and the chain behind it, at the next poll without running it.
void EngineCore::finish_now(Request* head, std::int64_t res) {
  for (Request* r = head; r; r = r->link_next) {
    r->res = res;
    r->where = Where::Ready;
    ready_.push_back(r);
  }
}

OpHandle EngineCore::submit(Request* request) {
  if (op_timeout_.count() > 0) [[unlikely]] arm_deadline(request);
  OpHandle handle = accept(request);
  if (shutting_down_ && request->args.op != Op::Close) {
    finish_now(request, -ECANCELED);
  } else {
    enqueue(request);
  }
  return handle;
}

OpHandle EngineCore::submit_file_op(FileState* file, Request* request) {
  if (file->fd < 0 || file->closing) return fail(request, EBADF);
  request->file = file;  // args name the descriptors: send_to's ops use a pipe and a socket
  ++file->in_flight;
  return submit(request);
}

OpHandle EngineCore::submit_chain(FileState* file, Request* head) {
  for (Request* r = head; r; r = r->link_next) {
    accept(r);
    r->file = file;  // members name their own descriptors (send_to's splice a pipe)
    ++file->in_flight;
    if (op_timeout_.count() > 0) [[unlikely]] arm_deadline(r);
    r->link_tail = r != head && !r->link_next;
  }
  if (shutting_down_) finish_now(head, -ECANCELED);
  else enqueue(head);
  return handle_of(head);
}

OpHandle EngineCore::complete_now(Request* request, std::int64_t res) {
  OpHandle handle = accept(request);
  request->link_next = nullptr;
  finish_now(request, res);
  return handle;
}

// Routes one request (or chain): the fast path, else an executor or the queue.
void EngineCore::enqueue(Request* request) {
  request->offload = false;
  if (is_buffered_read(*request)) {
    request->offload = options_.offload_cold_reads &&
                       request->file->residency.should_offload(request->args.fd, request->args.offset,
                                                               read_length(request->args));
    if (request->offload) {
      ++stats_.cold_reads;
    } else if (request->args.op == Op::Read && !request->link_next && fast_path_open() && try_fast_path(request)) {
      return;
    }
  }
  if (shutting_down_ && request->args.op == Op::Close) {
    // The executors are being drained: close at once rather than leak the descriptor.
    finish_now(request, sys::close(request->args.fd));
    return;
  }
  std::size_t length = 0;
  for (Request* r = request; r; r = r->link_next) ++length;
  if (queued_.empty() && in_backend_ + length <= router_.capacity()) {
    start_in_backend(request);
  } else {
    request->where = Where::Queued;
    queued_.push_back(request);
  }
}

void EngineCore::start_in_backend(Request* head) {
  for (Request* r = head; r; r = r->link_next) {
    r->where = Where::Backend;
    r->live_prev = nullptr;
    r->live_next = live_;
    if (live_) live_->live_prev = r;
    live_ = r;
    ++in_backend_;
  }
  router_.start(head);
  unflushed_ = true;
}

void EngineCore::fill_backend() {
  while (Request* head = queued_.front()) {
    std::size_t length = 0;
    for (Request* r = head; r; r = r->link_next) ++length;
    if (in_backend_ + length > router_.capacity()) return;
    start_in_backend(queued_.pop_front());
  }
}

// Moves a transfer's window past `moved` bytes already done.
void EngineCore::skip_moved(Request* r, std::size_t moved) {
  r->done += moved;
  r->args.buf = static_cast<char*>(r->args.buf) + moved;
  r->args.len -= moved;
  if (r->args.offset >= 0) r->args.offset += static_cast<std::int64_t>(moved);
}

bool EngineCore::try_fast_path(Request* request) {
  FileState* file = request->file;
  if (request->continuing || file->nowait_unsupported) return false;
  const OpArgs& a = request->args;
  const std::int64_t n = sys::pread_nowait(a.fd, a.buf, a.len, a.offset);
  if (n < 0) {
    if (n == -EAGAIN && options_.offload_cold_reads && file->residency.saw_uncached()) {
      request->offload = true;
      ++stats_.cold_reads;
    }
    if (n == -EOPNOTSUPP) file->nowait_unsupported = true;
    return false;  // not cached, or an error the real read will report
  }
  ++stats_.fast_path_reads;
  const auto got = static_cast<std::size_t>(n);
  if (got == a.len || got == 0) {
    finish_now(request, n);
    return true;
  }
  // Part of the range was cached: the engine reads the rest.
  skip_moved(request, got);
  request->continuing = true;
  return false;
}

std::error_code EngineCore::misuse() const {
  // The wrong thread is a programming error; a forked child (on the thread that
  // forked) is not: its calls just fail.
  if (std::this_thread::get_id() != owner_) assert(!"ringfile::Engine used from a thread that does not own it");
  return errno_code(EPERM);
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

bool EngineCore::resubmit_if_needed(Request* r) {
  if (r->res >= 0 && !r->exact) return false;  // the common case
  // A chain member cannot be rerun alone: its partner already ran or was cancelled.
  if (r->cancelled.load(std::memory_order_relaxed) || shutting_down_ || r->link_next || r->link_tail) return false;
  if (past_deadline(*r)) return false;  // interrupted by its timeout: no second try
  // close() releases the descriptor even when it fails: a retry could close a
  // number another open has been given meanwhile.
  // A full non-blocking socket's EAGAIN is send_to's to wait out (POLLOUT), not to spin on.
  const bool retry_eagain = r->res == -EAGAIN && r->args.op != Op::Splice;
  if ((r->res == -EINTR || retry_eagain) && r->retries < kMaxRetries && r->args.op != Op::Close) {
    ++r->retries;
    ++stats_.retries;
    enqueue(r);
    return true;
  }
  if (r->exact && is_transfer(r->args.op) && r->res > 0 && static_cast<std::size_t>(r->res) < r->args.len) {
    skip_moved(r, static_cast<std::size_t>(r->res));
    r->retries = 0;
    enqueue(r);
    return true;
  }
  return false;
}

// The core's rules for a result, in one place: cancel, continuation, chains.
std::int64_t EngineCore::final_result(Request& r) const noexcept {
  std::int64_t res = cancel_rule(r, r.res);
  // Cancelled or interrupted by its deadline (the ring's link timeout or the
  // core's timer): the op timed out.
  if ((res == -ECANCELED || res == -EINTR) && (r.timed_out || past_deadline(r))) res = -ETIMEDOUT;
  if (r.done == 0 && !r.link_next && !r.link_tail) return res;  // the common case
  if (r.done > 0 && is_transfer(r.args.op)) {
    if (res >= 0) res += static_cast<std::int64_t>(r.done);
    else if (!r.exact) res = static_cast<std::int64_t>(r.done);  // like pread: a partial count beats the error
  }
  if (r.link_next) {
    // The head's result travels to the tail, which reports for the whole chain.
    r.link_next->link_res = res;
  } else if (r.link_tail) {
    const std::int64_t head = r.link_res;
    const bool head_short = head >= 0 && r.link_res_expected > 0 &&
                            static_cast<std::size_t>(head) < r.link_res_expected;
    // A failed or short head means the tail did not (or must be taken not to) run:
    // report the head's error or its count.
    if (head < 0 || head_short || res >= 0) res = head;
  }
  return res;
}

void EngineCore::complete(Request* r) {
  const std::int64_t res = final_result(*r);
  if (r->deadline != DeadlineClock::time_point{}) [[unlikely]] disarm_deadline(r);
  --pending_;
  ++stats_.completed;
  if (FileState* file = r->file) {
    if (r->args.op != Op::Close) {
      if (--file->in_flight == 0 && file->deferred_close) start_deferred_close(file);
    } else {
      file->fd = -1;
      if (!file->has_handle) free_file(file);
    }
  }
  // Back to the pool after the completion ran, also when it throws.
  struct Release {
    RequestPool& pool;
    Request* r;
    ~Release() { pool.release(r); }
  } release{pool_, r};
  if (r->completion) r->completion(res);
}

void EngineCore::leave_backend(Request* r) noexcept {
  (r->live_prev ? r->live_prev->live_next : live_) = r->live_next;
  if (r->live_next) r->live_next->live_prev = r->live_prev;
  r->live_prev = r->live_next = nullptr;
  --in_backend_;
}

// Delivery stopped early (a callback threw, or destroyed the engine): what is
// left goes back to the front of ready_, for the next call (or the teardown).
void EngineCore::keep_undelivered(RequestQueue& done) noexcept {
  if (done.empty()) return;
  RequestQueue kept;
  while (Request* r = done.pop_front()) {
    if (r->where == Where::Backend) leave_backend(r);
    r->where = Where::Ready;
    kept.push_back(r);
  }
  kept.append(ready_);
  ready_.append(kept);
  router_.primary().wake();  // an event loop's next poll() has work
}

std::size_t EngineCore::deliver(RequestQueue& done) {
  std::size_t delivered = 0;
  struct KeepUndelivered {
    EngineCore& core;
    RequestQueue& done;
    ~KeepUndelivered() { core.keep_undelivered(done); }
  } keep{*this, done};
  while (!destroy_requested_) {
    Request* r = done.pop_front();
    if (!r) break;
    if (r->where == Where::Backend) leave_backend(r);
    r->where = Where::Free;
    if (resubmit_if_needed(r)) continue;
    ++delivered;
    complete(r);
  }
  return delivered;
}

// Posted functions after one that threw (or destroyed the engine) run next time.
std::size_t EngineCore::run_posted() {
  return posted_.run(destroy_requested_, [this] { router_.primary().wake(); });
}

// Delivers what is ready now. Completions that callbacks produce while this runs
// (a cached read finished by the fast path) wait for the next call, so one poll()
// never turns into an unbounded loop.
std::size_t EngineCore::deliver_ready(RequestQueue& done) {
  const std::size_t n = run_posted();
  done.append(ready_);
  return n + deliver(done);
}

Result<std::size_t> EngineCore::poll() {
  if (!on_owner_thread()) return misuse();
  CallScope scope(*this, true);
  (void)flush();
  RequestQueue done;
  router_.reap(done, std::chrono::nanoseconds(0));
  expire_deadlines();
  // An epoll-driven caller sleeps after this: ops its callbacks started must be
  // with the kernel or the workers by then, also when a callback threw.
  struct SubmitAfter {
    EngineCore& core;
    ~SubmitAfter() {
      if (!core.destroy_requested_) (void)core.flush();
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
  using Clock = std::chrono::steady_clock;
  RequestQueue done;
  std::size_t n = deliver_ready(done);
  if (destroy_requested_) return n;
  if (n > 0 || timeout == std::chrono::nanoseconds(0)) {
    submit_started();
    return n;
  }
  const bool forever = timeout < std::chrono::nanoseconds(0);
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
  for (;;) {
    auto left = forever ? std::chrono::nanoseconds(-1) : std::chrono::nanoseconds(deadline - Clock::now());
    if (!forever && left <= std::chrono::nanoseconds(0)) return std::size_t{0};
    fill_backend();
    // Submits what is started and waits in one step (one io_uring_enter). Ops that
    // the callbacks below start are submitted by the next poll()/wait()/submit().
    work_signalled_ = false;
    router_.reap(done, wait_bound(left));
    expire_deadlines();
    n = deliver_ready(done);
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

void EngineCore::cancel(OpHandle op) {
  auto* r = const_cast<Request*>(static_cast<const Request*>(op.op_));
  if (!r || r->serial != op.serial_ || !on_owner_thread()) return;
  switch (r->where) {
    case Where::Queued:
      queued_.remove(r);
      finish_now(r, -ECANCELED);
      break;
    case Where::Backend:
      if (!r->cancelled.exchange(true)) router_.cancel(r);
      unflushed_ = true;  // a cancel SQE waits to be submitted
      break;
    case Where::Free: case Where::Ready: case Where::Parked:
      break;  // finished already, or a close that must still happen
  }
}

void EngineCore::cancel_matching(FileState* file) {
  RequestQueue keep;
  while (Request* r = queued_.pop_front()) {
    if ((file && r->file != file) || r->args.op == Op::Close) keep.push_back(r);
    else finish_now(r, -ECANCELED);
  }
  queued_.append(keep);
  for (Request* r = live_; r; r = r->live_next) {
    if ((file && r->file != file) || r->args.op == Op::Close) continue;
    if (!r->cancelled.exchange(true)) router_.cancel(r);
  }
  router_.flush();
}

EngineStats EngineCore::stats() const noexcept {
  EngineStats s = stats_;
  s.in_flight = in_backend_;
  s.queued = queued_.size();
  s.timers_armed = deadlines_.size();
  router_.add_stats(s);
  return s;
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
      if (in_backend_ > 0) router_.reap(done, std::chrono::milliseconds(10));
      done.append(ready_);
      deliver(done);
      fill_backend();
      router_.flush();
      run_posted();
    } catch (...) {
      // A callback threw inside ~Engine: there is no caller left to hand the
      // exception to. The other completions are still delivered.
    }
    if (in_backend_ == 0 && queued_.empty() && ready_.empty() && posted_.empty()) break;
  }
  assert(pending_ == 0 && "a request was lost");
}

}  // namespace ringfile::detail
