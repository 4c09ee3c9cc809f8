#include "core/engine_core.hpp"

#include <algorithm>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

namespace ringfile::detail {

namespace {

// EINTR and EAGAIN are retried; a descriptor that keeps saying EAGAIN (O_NONBLOCK
// on a pipe, say) gets it reported rather than spun on forever.
constexpr std::uint8_t kMaxRetries = 32;

bool is_buffered_read(const Request& r) noexcept {
  // A stream has no page cache to ask about; its reads go to the engine.
  return has_trait(r.args.op, kReads) && r.file && reads_through_page_cache(*r.file);
}

std::size_t read_length(const OpArgs& a) noexcept {
  if (a.op != Op::Readv) return a.len;
  std::size_t total = 0;
  for (int i = 0; i < a.iovcnt; ++i) total += a.iov[i].iov_len;
  return total;
}

}  // namespace

EngineCore::EngineCore(std::unique_ptr<Executor> backend, const EngineOptions& options,
                       std::string fallback_reason)
    : router_(std::move(backend)),
      options_(options),
      fallback_reason_(std::move(fallback_reason)),
      owner_(std::this_thread::get_id()),
      fork_generation_(fork_generation()) {}

// Ops started outside poll() (which submits before it returns) wait in user space
// until the engine is next called. A loop asleep on event_fd() would never call
// it: make the descriptor readable, once until the next submission.
void EngineCore::signal_work_started() {
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
  accepted(counted_file(*request));
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
  if (request->args.op == Op::Read && may_skip_queue(*request)) return submit_to_ring(request);
  return submit(request);
}

// A read the ring can take now, which enqueue() would only pass through: nothing
// queued ahead of it, room in the ring, no deadline, and (buffered) a file whose
// residency needs no check for it, so it is neither cold nor due a sample.
bool EngineCore::may_skip_queue(Request& r) noexcept {
  if (router_.primary_is_pool() || op_timeout_.count() > 0 || shutting_down_ || r.nowait_tried) return false;
  if (!queued_.empty() || in_backend_ >= router_.capacity() || !router_.primary_runs(r)) return false;
  return !is_buffered_read(r) || !options_.offload_cold_reads || r.file->residency.stays_on_owner(r.args.offset);
}

OpHandle EngineCore::submit_to_ring(Request* request) {
  OpHandle handle = accept(request);
  enter_backend(request);
  router_.start_on_primary(request);
  unflushed_ = true;
  return handle;
}

OpHandle EngineCore::submit_chain(FileState* file, Request* head) {
  for (Request* r = head; r; r = r->link_next) {
    r->file = file;  // members name their own descriptors (send_to's splice a pipe)
    accept(r);
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
  // A read the owner already tried without blocking keeps what that found.
  if (is_buffered_read(*request) && !request->nowait_tried && start_buffered_read(request)) return;
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
  if (router_.primary_is_pool()) head->owner_may_run = owner_may_run(*head);
  for (Request* r = head; r; r = r->link_next) enter_backend(r);
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

// Cold data leaves the owner thread; cached data is read at once (the fast path).
// Returns whether the read finished so.
bool EngineCore::start_buffered_read(Request* r) {
  r->offload = options_.offload_cold_reads &&
               r->file->residency.should_offload(r->args.fd, r->args.offset, read_length(r->args));
  if (r->offload) {
    ++stats_.cold_reads;
    return false;
  }
  return r->args.op == Op::Read && !r->link_next && fast_path_open() && try_fast_path(r);
}

// Moves a transfer's window past `moved` bytes already done.
void EngineCore::skip_moved(Request* r, std::size_t moved) {
  r->done += moved;
  r->args.buf = static_cast<char*>(r->args.buf) + moved;
  r->args.len -= moved;
  if (r->args.offset >= 0) r->args.offset += static_cast<std::int64_t>(moved);
}

bool EngineCore::owner_may_run(const Request& r) const noexcept {
  if (r.link_next || r.link_tail || r.offload || !r.file || r.file->stream_only) return false;
  if (r.deadline != DeadlineClock::time_point{}) return false;  // only the core's timer can end it
  if (!has_trait(r.args.op, kOwnerMayRun)) return false;
  return !has_trait(r.args.op, kPositional) || r.args.offset >= 0;
}

std::error_code EngineCore::misuse() const {
  // The wrong thread is a programming error; a forked child (on the thread that
  // forked) is not: its calls just fail.
  if (std::this_thread::get_id() != owner_) assert(!"ringfile::Engine used from a thread that does not own it");
  return errno_code(EPERM);
}

bool EngineCore::resubmit_if_needed(Request* r) {
  if (r->res >= 0 && !r->exact) return false;  // the common case
  // A chain member cannot be rerun alone: its partner already ran or was cancelled.
  if (r->cancelled.load(std::memory_order_relaxed) || shutting_down_ || r->link_next || r->link_tail) return false;
  if (past_deadline(*r)) return false;  // interrupted by its timeout: no second try
  // close() releases the descriptor even when it fails: a retry could close a
  // number another open has been given meanwhile.
  // A full non-blocking socket's EAGAIN is send_to's to wait out (POLLOUT), not to spin on.
  const bool retry_eagain = r->res == -EAGAIN && !has_trait(r->args.op, kEagainIsFinal);
  if ((r->res == -EINTR || retry_eagain) && r->retries < kMaxRetries && !has_trait(r->args.op, kReleasesFd)) {
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
  // read_exact/write_all that the core's timer cut short inside a syscall (a pipe
  // write interrupted after some bytes) did not finish: it timed out.
  if (r.exact && r.timed_out && res >= 0 && is_transfer(r.args.op) && static_cast<std::size_t>(res) < r.args.len) {
    res = -ETIMEDOUT;
  }
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
  deliver_op(counted_file(*r), pool_, r, [&] {
    if (r->file && has_trait(r->args.op, kReleasesFd)) {  // the close of a file: its descriptor is gone
      r->file->fd = -1;
      if (!r->file->has_handle) free_file(r->file);
    }
    if (r->completion) r->completion(res);
  });
}

void EngineCore::enter_backend(Request* r) noexcept {
  r->where = Where::Executor;
  r->live_prev = nullptr;
  r->live_next = live_;
  if (live_) live_->live_prev = r;
  live_ = r;
  ++in_backend_;
}

void EngineCore::leave_backend(Request* r) noexcept {
  (r->live_prev ? r->live_prev->live_next : live_) = r->live_next;
  if (r->live_next) r->live_next->live_prev = r->live_prev;
  r->live_prev = r->live_next = nullptr;
  --in_backend_;
}

void EngineCore::cancel(OpHandle op) {
  if (!op.op_ || !on_owner_thread()) return;
  if (const auto bits = reinterpret_cast<std::uintptr_t>(op.op_); bits & kRingReadHandle) {
    cancel_ring_read(reinterpret_cast<RingReads::Entry*>(bits & ~kRingReadHandle), op.serial_);
    return;
  }
  auto* r = const_cast<Request*>(static_cast<const Request*>(op.op_));
  if (r->serial != op.serial_) return;
  switch (r->where) {
    case Where::Queued:
      queued_.remove(r);
      finish_now(r, -ECANCELED);
      break;
    case Where::Executor:
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
  cancel_ring_reads(file);
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

}  // namespace ringfile::detail

