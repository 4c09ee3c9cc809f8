#pragma once

#include <cassert>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <utility>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/event_set.hpp"
#include "core/feature_state.hpp"
#include "core/file_state.hpp"
#include "core/fork_generation.hpp"
#include "core/free_list.hpp"
#include "core/posted.hpp"
#include "core/ready_reads.hpp"
#include "core/ring_reads.hpp"
#include "core/router.hpp"
#include "exec/executor.hpp"
#include "ops/request.hpp"
#include "ringfile/engine.hpp"

namespace ringfile::detail {

// The engine proper, behind the Engine handle. It takes requests from its pool,
// routes each (the owner-thread fast path for cached reads, else the Router's
// executors), queues them in user space while the executors are at capacity, and
// applies its own rules to results (EINTR/EAGAIN retries, continuation of short
// transfers, chain results, cancel's ECANCELED) before the request's one
// completion runs on the owner thread. A plain File::read that needs none of that
// bookkeeping skips the request altogether: done at once on the owner
// (ReadyReads), or one SQE on the ring (RingReads), delivered under the same rules.
class EngineCore {
 public:
  EngineCore(std::unique_ptr<Executor> backend, const EngineOptions& options, std::string fallback_reason);
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  Executor& backend() noexcept { return router_.primary(); }
  Router& router() noexcept { return router_; }
  // A compound op's state for this engine (feature_state.hpp), made on first use.
  template <class State>
  State& feature_state(EngineFeature feature) {
    return state_in<State>(features_, feature);
  }

  // OpTimeout: ops submitted while it is nonzero carry a deadline (deadlines.cpp).
  std::chrono::nanoseconds op_timeout() const noexcept { return op_timeout_; }
  void set_op_timeout(std::chrono::nanoseconds timeout) noexcept { op_timeout_ = timeout; }
  // What a compound op (send_to, copy_to, read_file, open_at's walk) captures when
  // it starts and restores around every step it submits from a completion, where
  // the caller's scope (OpTimeout) is long gone: each step keeps the promise.
  struct JobContext {
    std::chrono::nanoseconds timeout{0};
  };
  JobContext job_context() const noexcept { return {op_timeout_}; }
  // Submits under `context` for its lifetime (owner thread, nests).
  class InContext {
   public:
    InContext(EngineCore& core, const JobContext& context) noexcept : core_(core), outer_(core.job_context()) {
      core_.op_timeout_ = context.timeout;
    }
    ~InContext() { core_.op_timeout_ = outer_.timeout; }
    InContext(const InContext&) = delete;
    InContext& operator=(const InContext&) = delete;

   private:
    EngineCore& core_;
    JobContext outer_;
  };
  const EngineOptions& options() const noexcept { return options_; }
  const std::string& fallback_reason() const noexcept { return fallback_reason_; }
  // The calling thread owns the engine, in the process that made it.
  bool on_owner_thread() const noexcept { return std::this_thread::get_id() == owner_ && !in_forked_child(); }
  // The engine was inherited through fork(): the ring, workers and eventfds are
  // the parent's, so nothing may touch them.
  bool in_forked_child() const noexcept { return fork_generation() != fork_generation_; }
  // The error for a call from the wrong thread (asserts in debug builds) or from a
  // forked child (EPERM in every build).
  std::error_code misuse() const;

  // Building and submitting ops (owner thread).
  Request* make_request(const OpArgs& args) { return pool_.acquire(args); }
  // Queues `request`; it completes through its completion.
  OpHandle submit(Request* request);
  // Same, for an op on an open file: fails with EBADF unless the file is open, and
  // counts it in flight.
  OpHandle submit_file_op(FileState* file, Request* request);
  // Submits a chain (request->link_next...) whose members were made with
  // make_request; `file` counts each member in flight.
  OpHandle submit_chain(FileState* file, Request* head);
  // Completes `request` with -err at the next poll without running it.
  OpHandle fail(Request* request, int err) { return complete_now(request, -err); }
  // Completes `request` with `res` at the next poll, without an executor: for
  // results known at once that must still arrive the way every completion does.
  OpHandle complete_now(Request* request, std::int64_t res);
  // An op started off the owner thread: its callback gets EPERM on the owner
  // thread. Returns whether it was (asserts in debug builds).
  template <class Callback>
  bool rejects_foreign(Callback& callback);

  // File::read's shortcuts past the request path (called on the owner thread with
  // checked arguments), for a read that needs none of a request's bookkeeping
  // (no deadline, no residency check due, nothing queued ahead of it):
  // - few ops outstanding: a cached read done at once with preadv2(RWF_NOWAIT),
  //   its callback queued for the next poll()/wait() (owner_fast_path.cpp);
  // - else, on io_uring, one SQE that carries no Request (ring_reads.cpp).
  // Returns an empty handle when the read must take the request path; `tried` then
  // holds what preadv2 said if it ran (a partial count or -errno), for
  // after_nowait_read().
  static constexpr std::int64_t kNotTried = INT64_MIN;
  OpHandle read_without_request(FileState* file, void* buf, std::size_t len, std::int64_t offset, bool exact,
                                IoCallback& callback, std::int64_t& tried);
  // A read tried without blocking that did not finish: the engine takes it over.
  void after_nowait_read(Request* request, FileState* file, std::int64_t n);

  // Counts a send_to sent from the owner thread (compound/owner_send.cpp).
  void count_fast_path_send() noexcept { ++stats_.fast_path_sends; }

  Result<void> flush();
  Result<std::size_t> poll();
  Result<std::size_t> wait(std::chrono::nanoseconds timeout);
  Result<void> run();
  // Engine destroyed inside a callback: the teardown waits until the outermost
  // poll()/wait()/run() unwinds. Returns false when it must happen now.
  bool destroy_when_unwound() noexcept;
  // Engine::event_fd() was asked for: ops started outside the engine's calls make
  // it readable, so a loop sleeping on it comes back to call poll().
  int watch_event_fd() noexcept;
  void post(std::function<void()> fn);
  // The table Engine::register_buffers installed; both engines check fixed ops
  // against it, so an unregistered index fails alike (EFAULT).
  void set_registered_buffers(std::span<const iovec> buffers) { registered_.assign(buffers.begin(), buffers.end()); }
  bool covers_registered(unsigned index, const void* buffer, std::size_t length) const noexcept;
  void cancel(OpHandle op);
  void cancel_all() { cancel_matching(nullptr); }
  void cancel_file(FileState* file) { cancel_matching(file); }

  std::size_t pending() const noexcept { return pending_; }
  EngineStats stats() const noexcept;

  // File lifetime (owner thread; file_table.cpp).
  FileState* new_file(int fd, int open_flags);
  OpHandle close_file(FileState* file, Request* close_request);
  void drop_handle(FileState* file);  // the File handle went away
  // Keeps `file` open (its close parked), and run() running, across work that is
  // not an op in flight, such as a durable write waiting for its group's sync.
  void hold(FileState* file) noexcept {
    ++file->in_flight;
    ++pending_;
  }
  void release(FileState* file) {
    --pending_;
    leave_file(file);
  }

 private:
  // The one op lifecycle. Whatever carries an op (a Request, an owner fast-path
  // read, a ring read), it is accepted once and delivered once: counted in the
  // stats, in pending_ (run() waits for it) and, on a file, in the file's in-flight
  // ops (a close waits for them); accepting one outside poll() makes event_fd()
  // readable. Delivery undoes each, and the carrier goes back to its pool after
  // the callback, also when the callback throws.
  // `file` is a FileState& for the reads, which always have one, or a FileState*
  // that may be null for requests.
  template <class File>
  void accepted(File&& file) {
    ++stats_.submitted;
    ++pending_;
    if (FileState* f = file_of(file)) ++f->in_flight;
    work_started();
  }
  template <class File, class Pool, class Carrier, class Callback>
  void deliver_op(File&& file, Pool& pool, Carrier* carrier, Callback&& callback) {
    --pending_;
    ++stats_.completed;
    if (FileState* f = file_of(file)) leave_file(f);
    RecycleAtExit<Pool, Carrier> recycle{pool, carrier};
    callback();
  }
  static FileState* file_of(FileState* file) noexcept { return file; }
  static FileState* file_of(FileState& file) noexcept { return &file; }
  // A request's file, when the request counts in its in-flight ops: every op on a
  // file but its close, which waits for the others.
  static FileState* counted_file(const Request& r) noexcept {
    return has_trait(r.args.op, kReleasesFd) ? nullptr : r.file;
  }

  static OpHandle handle_of(const Request* r) noexcept { return OpHandle(r, r->serial); }
  // A ring read's handle names its entry, marked in the low bit apart from a Request.
  static constexpr std::uintptr_t kRingReadHandle = 1;
  static const void* tagged_handle(const RingReads::Entry* e) noexcept {
    return reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(e) | kRingReadHandle);
  }
  OpHandle accept(Request* request);
  void finish_now(Request* head, std::int64_t res);
  void enqueue(Request* request);
  void start_in_backend(Request* head);
  bool owner_may_run(const Request& r) const noexcept;
  void fill_backend();
  // With io_uring, one batched io_uring_enter costs less per op than a preadv2 each
  // once several ops are outstanding; a pool hand-off never does.
  bool fast_path_open() const noexcept {
    return options_.cached_read_fast_path && (router_.primary_is_pool() || pending_ <= options_.fast_path_max_in_flight);
  }
  bool may_skip_queue(Request& request) noexcept;
  OpHandle submit_to_ring(Request* request);
  bool start_buffered_read(Request* request);
  bool try_fast_path(Request* request);
  OpHandle read_at_once(FileState* file, void* buf, std::size_t len, std::int64_t offset, IoCallback& callback,
                        std::int64_t& tried);
  std::size_t deliver_ready_reads();
  OpHandle read_on_ring(FileState* file, void* buf, std::size_t len, std::int64_t offset, IoCallback& callback);
  void reap_executors(RequestQueue& done, std::chrono::nanoseconds timeout);
  std::size_t deliver_ring_reads();
  bool ring_read_to_request(RingReads::Entry* e, std::int64_t res);
  void cancel_ring_read(RingReads::Entry* e, std::uint64_t serial);
  void cancel_ring_reads(FileState* file);  // null: every file
  // Completions reaped or finished at once and not yet delivered.
  bool undelivered() const noexcept {
    return !ready_.empty() || !ready_reads_.empty() || ring_results_next_ < ring_results_.size();
  }
  void skip_moved(Request* request, std::size_t moved);
  std::size_t deliver(RequestQueue& done);
  std::size_t deliver_ready(RequestQueue& done);
  [[gnu::noinline]] std::size_t deliver_all_ready(RequestQueue& done);
  std::size_t run_posted();
  void enter_backend(Request* r) noexcept;  // on the list cancel() walks
  void leave_backend(Request* r) noexcept;
  // Delivery stopped early: what is left in `done` goes back to the front of ready_.
  void keep_undelivered(RequestQueue& done) noexcept;
  struct KeepUndelivered;
  void work_started() {
    if (event_fd_watched_ && !work_signalled_ && !polling_) [[unlikely]] signal_work_started();
  }
  void signal_work_started();
  Result<std::size_t> wait_in_call(std::chrono::nanoseconds timeout);
  [[gnu::noinline]] std::size_t wait_for_completions(RequestQueue& done, std::chrono::nanoseconds timeout);
  bool resubmit_if_needed(Request* request);
  std::int64_t final_result(Request& request) const noexcept;
  void complete(Request* request);
  void start_deferred_close(FileState* file);  // its last op finished
  // One op (or held piece of work) on `file` is over; the last one starts a parked close.
  void leave_file(FileState* file) {
    if (--file->in_flight == 0 && file->deferred_close) start_deferred_close(file);
  }
  void submit_started();
  void start_close(FileState* file, Request* close_request);
  void cancel_matching(FileState* file);  // null: every file
  void free_file(FileState* file);
  void detach_files() noexcept;
  void drain_for_shutdown();
  void shutdown();

  // Marks a poll()/wait()/run() (or shutdown) on the stack: callbacks run inside
  // one. The outermost one to unwind performs a deferred destruction.
  void destroy_unwound();  // the last CallScope of an Engine destroyed inside a callback
  class CallScope {
   public:
    // Inline: every poll() and wait() passes here (callgrind counts the call).
    CallScope(EngineCore& core, bool polling) noexcept : core_(core), was_polling_(core.polling_) {
      ++core_.depth_;
      core_.polling_ = polling;
    }
    ~CallScope() {
      core_.polling_ = was_polling_;
      if (--core_.depth_ == 0 && core_.destroy_requested_) [[unlikely]] core_.destroy_unwound();
    }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

   private:
    EngineCore& core_;
    bool was_polling_;
  };

  Router router_;
  EngineOptions options_;
  std::string fallback_reason_;
  std::thread::id owner_;
  std::uint64_t fork_generation_;
  int depth_ = 0;                   // poll()/wait()/run() calls on the stack
  bool polling_ = false;            // inside poll(), which submits before it returns
  bool destroy_requested_ = false;  // the Engine went away inside a callback
  bool event_fd_watched_ = false;
  bool work_signalled_ = false;     // event_fd() made readable for unsubmitted work
  std::vector<iovec> registered_;

  RequestPool pool_;
  RequestQueue queued_;      // accepted, waiting for room in the executors
  RequestQueue ready_;       // completed outside the executors (fast path, errors)
  ReadyReads ready_reads_;   // File::read's shortcut: finished without a request
  Request finished_at_once_; // what their OpHandles name: a request that is never in use
  RingReads ring_reads_;     // File::read's reads on the ring without a request
  std::vector<TaggedResult> ring_results_;  // their results, reaped
  std::size_t ring_results_next_ = 0;       // the first not yet delivered
  Request* live_ = nullptr;  // requests in an executor, for cancellation
  std::size_t in_backend_ = 0;
  std::size_t pending_ = 0;  // accepted and not yet delivered
  bool shutting_down_ = false;
  bool unflushed_ = false;  // started since the executors were last flushed

  FileState* files_ = nullptr;
  PostedQueue posted_;
  EngineStats stats_;
  FeatureSlots<EngineFeature> features_;

  // Per-op deadlines (deadlines.cpp): each armed op, by deadline, until it completes.
  using DeadlineClock = std::chrono::steady_clock;
  void arm_deadline(Request* r);
  void disarm_deadline(Request* r) noexcept;
  bool ring_times_out(const Request& r) const noexcept;
  void expire_deadlines();
  // Points event_fd()'s timer at the earliest deadline left.
  void sync_deadline_timer() noexcept;
  std::chrono::nanoseconds wait_bound(std::chrono::nanoseconds left) const noexcept;
  static bool past_deadline(const Request& r) noexcept;
  std::chrono::nanoseconds op_timeout_{0};
  std::set<std::pair<DeadlineClock::time_point, Request*>> deadlines_;
  EventSet event_set_;
};

template <class Callback>
[[gnu::noinline]] void reject_foreign(EngineCore& core, Callback& callback) {
  const std::error_code error = core.misuse();
  if (core.in_forked_child()) {
    // No poll() of this engine can run here to deliver it.
    if (callback) callback(error);
    return;
  }
  // std::function needs a copyable target; the callbacks are move-only.
  auto boxed = std::make_shared<std::decay_t<Callback>>(std::move(callback));
  core.post([boxed, error] {
    if (*boxed) (*boxed)(error);
  });
}

template <class Callback>
bool EngineCore::rejects_foreign(Callback& callback) {
  if (on_owner_thread()) [[likely]] return false;
  reject_foreign(*this, callback);
  return true;
}

}  // namespace ringfile::detail
