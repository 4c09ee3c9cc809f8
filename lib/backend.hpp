#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>

#include "request.hpp"
#include "ringfile/engine.hpp"

namespace ringfile::detail {

// What both engines implement. The EngineCore owns the requests, the user-space
// queue, retries, short-transfer continuation and callback delivery; a backend only
// moves requests to the kernel or to workers and hands them back with `res` set.
// Every method except wake() is called on the owner thread.
class Backend {
 public:
  virtual ~Backend() = default;

  virtual ringfile::Backend kind() const noexcept = 0;
  virtual std::string describe() const = 0;
  // Readable when completed requests wait to be reaped or wake() was called.
  virtual int event_fd() const noexcept = 0;
  // Thread-safe: makes a blocked reap() return and event_fd() readable.
  virtual void wake() noexcept = 0;
  // Makes event_fd() readable for work the owner queued, without waking a reap()
  // that blocks in the kernel; the next reap() resets it.
  virtual void signal_event_fd() noexcept = 0;

  // Most requests this backend holds in flight at once.
  virtual unsigned capacity() const noexcept = 0;
  // Starts one request; it may sit in the backend until flush().
  virtual void start(Request* request) = 0;
  // Hands started requests to the kernel or the workers.
  virtual void flush() = 0;
  // Hands over what was started, then moves completed requests (res set) into
  // `done`. With a positive timeout, blocks
  // until at least one is there, wake() is called, or the time passes; a negative
  // timeout blocks without limit.
  virtual void reap(RequestQueue& done, std::chrono::nanoseconds timeout) = 0;
  // Asks for an in-flight request to finish early; it still comes back via reap().
  virtual void cancel(Request* request) = 0;

  virtual Result<void> register_buffers(std::span<const iovec> buffers) = 0;
  virtual Result<void> unregister_buffers() = 0;

  // Called when a file opens and before it closes, for fixed-file tables.
  virtual void file_opened(FileState&) {}
  virtual void file_closing(FileState&) {}

  virtual void add_stats(EngineStats&) const noexcept {}
};

// Builds the io_uring engine. On failure returns null and sets err (positive
// errno) and reason (for Engine::fallback_reason()).
std::unique_ptr<Backend> make_uring_backend(const EngineOptions& options, int& err, std::string& reason);

// Runs one request as blocking syscalls through the seam; returns res.
std::int64_t run_blocking(Request& request);

std::unique_ptr<Backend> make_threadpool_backend(const EngineOptions& options, int notify_fd = -1,
                                                int also_notify_fd = -1);

}  // namespace ringfile::detail
