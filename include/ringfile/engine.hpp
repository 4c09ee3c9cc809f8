#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <sys/uio.h>

#include "ringfile/export.hpp"
#include "ringfile/result.hpp"

namespace ringfile {

namespace detail {
class EngineCore;
struct EngineAccess;
}  // namespace detail

class File;

// Identifies one submitted op for Engine::cancel(). Opaque; stays safe to use after
// the op completed: cancelling then does nothing.
class OpHandle {
 public:
  OpHandle() noexcept = default;
  explicit operator bool() const noexcept { return op_ != nullptr; }

 private:
  friend class detail::EngineCore;
  OpHandle(const void* op, std::uint64_t serial) noexcept : op_(op), serial_(serial) {}
  const void* op_ = nullptr;
  std::uint64_t serial_ = 0;
};

enum class Backend : std::uint8_t {
  Auto,        // the build's default: io_uring when the kernel allows it, else the pool
  IoUring,     // io_uring or an error result saying why it can't be had
  ThreadPool,  // blocking syscalls on worker threads
};

RINGFILE_API const char* to_string(Backend backend) noexcept;

struct EngineOptions {
  Backend backend = Backend::Auto;
  // io_uring: submission queue entries (the completion queue gets twice as many).
  // The thread pool ignores it. Ops beyond what the engine can hold in flight wait
  // in a user-space queue; calls never fail for it.
  unsigned queue_depth = 256;
  // Thread-pool workers; 0 picks a default from the core count.
  unsigned workers = 0;
  // Thread pool only: how long a worker waits for work, and the owner waits in
  // wait(), spinning before it sleeps. Spinning turns a ~60 us wake-up into ~2 us at
  // low depth. It is bounded, so an idle engine costs no CPU, and adaptive: while
  // ops take longer than this (device-bound O_DIRECT, cold reads), nobody spins. 0
  // disables it. The io_uring engine waits in the kernel and ignores it.
  unsigned spin_us = 50;
  // Reads first try preadv2(RWF_NOWAIT) on the owner thread: page-cached data
  // returns at once with no hand-off; anything else goes to the engine. It also
  // turns on File::send_to's fast path: sendfile on the owner thread when
  // cachestat(2) says the range is cached and the out fd is O_NONBLOCK.
  bool cached_read_fast_path = true;
  // io_uring only: the fast path is tried only while at most this many ops are
  // outstanding; deeper than that, one batched io_uring_enter for many reads costs
  // less per op than a preadv2 each. The thread pool always tries it: a hand-off
  // never costs less.
  unsigned fast_path_max_in_flight = 4;
  // Buffered reads of data not in the page cache never run on the owner thread:
  // starting one there starts readahead, whose I/O submission can sleep for
  // milliseconds on a busy device. Such reads skip the fast path and, on io_uring,
  // go to the engine's helper thread pool, which is woken once per batch (io-wq,
  // via IOSQE_ASYNC, wakes a worker per read from the submitting thread).
  // Residency comes from cachestat(2) (Linux 6.5+; without it reads behave as if
  // this were off), asked on every read of a file until it has stayed cached for
  // a while, then sampled.
  bool offload_cold_reads = true;
  // io_uring only: cap on io-wq workers per ring (bounded, unbounded); 0 keeps the kernel's.
  unsigned iowq_max_bounded = 0;
  unsigned iowq_max_unbounded = 0;
  // io_uring only: a kernel thread polls the SQ. Costs a busy CPU; off by default.
  // The SQ thread keeps the credentials of the engine's creation: after the process
  // changes its uid, gid or groups, ops fail with EPERM (see "Credentials" below);
  // each op then costs three credential syscalls on the owner thread.
  bool sqpoll = false;
  // Size limits of the helpers that read until end of file, so that /dev/zero,
  // /proc/self/pagemap or a file without a newline cannot take all memory:
  // fs::read_file fails with EFBIG past max_read_file_size bytes, and
  // BufferedReader::read_line with ENOBUFS on a line longer than max_line_length
  // (BufferedReader::set_max_line_length changes it per reader).
  std::size_t max_read_file_size = std::size_t{1} << 30;  // 1 GiB
  std::size_t max_line_length = std::size_t{1} << 20;     // 1 MiB
  // io_uring only: size of a sparse registered-file table; opened files take a slot
  // and their ops use IOSQE_FIXED_FILE. 0 disables it.
  unsigned fixed_file_slots = 0;
};

struct EngineStats {
  std::uint64_t submitted = 0;       // ops accepted from callers
  std::uint64_t completed = 0;       // completions delivered
  std::uint64_t in_flight = 0;       // handed to the kernel or workers, not yet reaped
  std::uint64_t queued = 0;          // waiting in user space for room in flight
  std::uint64_t timers_armed = 0;    // per-op deadlines (OpTimeout) of ops not yet completed
  std::uint64_t fast_path_reads = 0; // reads served by preadv2(RWF_NOWAIT) on the owner
  std::uint64_t retries = 0;         // EINTR/EAGAIN resubmissions
  std::uint64_t fallback_ops = 0;    // io_uring ops re-run on the helper pool
  std::uint64_t kernel_enters = 0;   // io_uring_enter calls (io_uring only)
  std::uint64_t cold_reads = 0;      // buffered reads of uncached data kept off the owner thread
  std::uint64_t fast_path_sends = 0; // File::send_to calls that sent cached data with sendfile on the owner
  // Per-op deadlines (OpTimeout) by the mechanism that enforced them: armed in the
  // kernel as an IORING_OP_LINK_TIMEOUT linked to the op (io_uring), or ops the
  // core's timer cancelled when their deadline passed (the pool, chain members,
  // ops still queued).
  std::uint64_t link_timeouts = 0;
  std::uint64_t timer_expiries = 0;
  // Thread pool: lone positional file ops that wait() ran on the owner, which would
  // otherwise have slept until a worker did them.
  std::uint64_t ran_by_waiting_owner = 0;
  // io_uring: File::read calls sent to the ring as one SQE with none of a request's
  // bookkeeping (past the fast path's depth, nothing queued, no deadline).
  std::uint64_t ring_reads_without_request = 0;
  // Thread pool (the pool engine, and io_uring's helper pool): sleeping workers woken.
  std::uint64_t worker_wakeups = 0;
};

// Rules of use: the one place they are written down (README.md repeats them).
//
// Threads. An Engine belongs to the thread that created it: ops, poll(), wait(),
//   run(), submit(), register_buffers() and cancel() are called there, and every
//   completion callback and posted function runs there, inside poll()/wait()/run().
//   post() is the one thread-safe entry point. A call from another thread asserts
//   in debug builds; in release builds it fails with EPERM (an op delivers EPERM to
//   its callback on the owner thread). A File may be destroyed on any thread while
//   its engine lives: the close is posted to the owner thread.
// Re-entrancy. Callbacks may start ops, call poll() and destroy the Engine (the
//   teardown then waits until the outermost poll()/wait()/run() returns, and
//   delivers what is left). wait() and run() inside a callback or posted function
//   fail at once with EDEADLK: they would wait for themselves.
// Exceptions. An exception thrown by a callback or posted function propagates out
//   of poll()/wait()/run(); the completions and posted functions not yet delivered
//   stay queued and the next call delivers them (nothing is lost; event_fd() is
//   readable). One thrown inside ~Engine has no caller to reach: it is dropped and
//   the teardown goes on.
// Event loops. event_fd() is readable whenever poll() has work: completions or
//   posted functions waiting, and also ops started outside poll() and not yet
//   submitted (signalled once per batch, so bursts still go out together). A loop
//   that starts ops anywhere, sleeps on event_fd() and calls poll() when it fires
//   needs nothing else.
// fork(). Each process makes its own engines. In a forked child, an inherited
//   Engine refuses every call with EPERM (ops call their callback at once with
//   EPERM, post() drops its function) and destroying it releases nothing of the
//   parent's: the parent's ring, workers and eventfds are never touched. A child
//   may create and use a new Engine.
// Size limits. fs::read_file and BufferedReader::read_line stop at
//   EngineOptions::max_read_file_size (EFBIG) and max_line_length (ENOBUFS);
//   memory that cannot be allocated for them is an ENOMEM result.
// Credentials. Ops run with the process's credentials at the time they are
//   submitted. With EngineOptions::sqpoll the kernel's SQ thread would use those
//   of the ring's set-up instead, so once the process's uid, gid or groups differ
//   from them (a privilege drop) every op fails with EPERM: create the engine
//   after dropping privileges.
// Moved-from. Calls on a moved-from Engine fail with EBADF (File::open delivers it
//   at once); ops on a File without an engine run their callback at once with EBADF.
// Signals. The thread pool interrupts a cancelled op blocked in a syscall with the
//   first real-time signal from SIGRTMIN+3 up that has no handler when the first
//   pool starts; an application's handler is never replaced or called.
class RINGFILE_API Engine {
 public:
  static Result<Engine> create(const EngineOptions& options = {});

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  // Cancels what is in flight, delivers every completion (its result or
  // ECANCELED), and only then releases the ring or the workers.
  ~Engine();

  Backend backend() const noexcept;
  // Why Auto did not get io_uring (empty when it did, or when it was not asked for).
  const std::string& fallback_reason() const noexcept;
  // One line: which engine runs, its set-up flags and features.
  std::string describe() const;
  EngineStats stats() const noexcept;

  // Hands queued ops to the kernel or workers without waiting.
  Result<void> submit();
  // Submits, then delivers the completions that are ready. Never blocks.
  Result<std::size_t> poll();
  // Submits, then blocks until at least one completion (or posted function) is
  // delivered or the timeout passes; a negative timeout waits without limit.
  // Submitting and waiting cost one io_uring_enter. Ops that callbacks start inside
  // wait() are submitted by the next poll(), wait() or submit(): a loop that sleeps
  // on event_fd() instead calls poll(), which submits them before it returns.
  Result<std::size_t> wait(std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1));
  // Delivers completions until no op is queued or in flight (and nothing posted
  // is left to run).
  Result<void> run();
  // Ops accepted and not yet completed.
  std::size_t pending() const noexcept;

  // Readable whenever poll() has work: completions or posted functions waiting,
  // ops started outside poll() not yet submitted, or a per-op deadline passed.
  // Watch it with epoll and call poll() when it fires; like any fd it can end an
  // epoll_wait with EINTR (io_uring task work), which the loop just retries.
  int event_fd() const noexcept;

  // Thread-safe: runs fn on the owner thread inside a later poll()/wait()/run().
  void post(std::function<void()> fn);

  // Registers buffers for File::read_fixed/write_fixed. Registered memory counts
  // against RLIMIT_MEMLOCK; ENOMEM is returned as an error and unregistered ops
  // keep working. The thread pool needs no registration: it accepts them and its
  // read_fixed/write_fixed take any buffer.
  Result<void> register_buffers(std::span<const iovec> buffers);
  Result<void> unregister_buffers();

  // Cancels every op in flight or queued; each completes with ECANCELED or with the
  // result it already had.
  void cancel_all();
  // Cancels one op: it completes exactly once, with ECANCELED or with the result it
  // already had. Does nothing if the op has completed.
  void cancel(OpHandle op);

 private:
  friend struct detail::EngineAccess;
  explicit Engine(std::unique_ptr<detail::EngineCore> core) noexcept;
  void destroy_core() noexcept;
  std::unique_ptr<detail::EngineCore> core_;
};

}  // namespace ringfile
