#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ops/request.hpp"
#include "ringfile/engine.hpp"

namespace ringfile::detail {

// A read that carries no Request (the core's ring reads, ring_reads.hpp): what
// the executor needs to run it. It stays where it is until its result has been
// taken, so the executor may name it to the kernel (user_data) and find it again.
struct TaggedRead {
  void* buf = nullptr;
  std::size_t len = 0;
  std::int64_t offset = 0;
  int fd = -1;
  int fixed_slot = -1;  // registered-file slot for fd, or -1
  bool reaped = false;  // set by the executor once its result is taken: nothing left to cancel
};
struct TaggedResult {
  TaggedRead* read;
  std::int64_t res;  // >= 0 or -errno, passed through the syscall seam
};

// An executor: "execute these requests, give back res". It reads a request's
// OpArgs (and fixed_slot), runs it, sets res (>= 0 or -errno, passed through the
// syscall seam) and hands it back from reap(). It makes no policy: routing,
// retries, continuation, chain results and cancel's ECANCELED are the core's, and a
// refusal (-EOPNOTSUPP, -EINVAL) is handed back like any result for the core to
// record and re-route. Every method except wake() is called on the owner thread.
class Executor {
 public:
  virtual ~Executor() = default;

  virtual ringfile::Backend kind() const noexcept = 0;
  virtual std::string describe() const = 0;
  // Readable when completed requests wait to be reaped or wake() was called.
  virtual int event_fd() const noexcept = 0;
  // Thread-safe: makes a blocked reap() return and event_fd() readable.
  virtual void wake() noexcept = 0;
  // Makes event_fd() readable for work the owner queued, without waking a reap()
  // that blocks in the kernel; the next reap() resets it.
  virtual void signal_event_fd() noexcept = 0;

  // Most requests this executor holds in flight at once.
  virtual unsigned capacity() const noexcept = 0;
  // Whether it can run `op` at all (io_uring: the kernel's probe has the opcode).
  virtual bool supports(Op op) const noexcept = 0;
  // Whether a lone request with a deadline gets it enforced in the kernel
  // (io_uring's IORING_OP_LINK_TIMEOUT); otherwise the core's timer cancels it.
  virtual bool enforces_deadlines() const noexcept { return false; }
  // Whether a kernel thread submits its ops with the identity the executor was
  // made with (io_uring's SQPOLL), not the caller's: the core checks credentials.
  virtual bool submits_as_creator() const noexcept { return false; }
  // Starts one request, or a chain (link_next) as a unit; it may wait until flush().
  virtual void start(Request* request) = 0;
  // Hands started requests to the kernel or the workers.
  virtual void flush() = 0;
  // Hands over what was started, then moves completed requests (res set) into
  // `done`. With a positive timeout, blocks until at least one is there, wake() is
  // called, or the time passes; a negative timeout blocks without limit.
  virtual void reap(RequestQueue& done, std::chrono::nanoseconds timeout) = 0;
  // Asks for an in-flight request to finish early; it still comes back via reap().
  virtual void cancel(Request* request) = 0;

  // Tagged reads: the same contract for a read without a Request. Only an
  // executor that says it takes them is given any.
  virtual bool takes_tagged_reads() const noexcept { return false; }
  virtual void start_tagged_read(TaggedRead&) {}
  virtual void cancel_tagged_read(const TaggedRead&) {}
  // Appends the results reaped so far.
  virtual void take_tagged_results(std::vector<TaggedResult>&) {}

  virtual Result<void> register_buffers(std::span<const iovec> buffers) = 0;
  virtual Result<void> unregister_buffers() = 0;

  // A registered-file slot for fd, or -1 (no table, or it is full).
  virtual int register_file(int /*fd*/) { return -1; }
  virtual void unregister_file(int /*slot*/) {}

  virtual void add_stats(EngineStats&) const noexcept {}
};

// Builds the io_uring executor. On failure returns null and sets err (positive
// errno) and reason (for Engine::fallback_reason()).
std::unique_ptr<Executor> make_uring_backend(const EngineOptions& options, int& err, std::string& reason);

// Runs one request's OpArgs as blocking syscalls through the seam; returns res.
std::int64_t run_blocking(const OpArgs& args);

// The thread-pool executor. With `signal_via` set it owns no eventfd: it tells of
// completions through that executor's wake() (the io_uring engine's pool does, so
// a completion wakes a wait in the ring).
std::unique_ptr<Executor> make_threadpool_backend(const EngineOptions& options, Executor* signal_via = nullptr);

}  // namespace ringfile::detail
