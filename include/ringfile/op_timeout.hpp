#pragma once

#include <chrono>
#include <coroutine>

#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"

namespace ringfile {

// Per-op deadlines. Every op started on `engine` while an OpTimeout lives (on the
// engine's thread) must complete within `timeout` of its start, or it completes
// once with ETIMEDOUT: a hung NFS read, a FIFO nobody opens, a stuck FUSE call.
// io_uring links an IORING_OP_LINK_TIMEOUT to the op; the thread pool's timer
// interrupts the blocked worker. Either way the callback runs after the kernel or
// the worker has let go of the op's buffer, which is never touched afterwards. An
// op that finishes in time is unaffected, and its timer goes with it
// (EngineStats::timers_armed). Several-op helpers (copy_to, send_to, fs::copy_file,
// fs::read_file, fs::write_file, fs::write_file_atomic) give each of their ops the
// timeout, also the ops they start after the scope has ended; the first op past
// its deadline ends the helper with ETIMEDOUT. Closes get none: a descriptor must
// be released. Scopes nest; a zero timeout turns it off.
//
//   { OpTimeout limit(engine, 100ms); file.read(buf, n, off, cb); }
class RINGFILE_API OpTimeout {
 public:
  OpTimeout(Engine& engine, std::chrono::nanoseconds timeout) noexcept;
  ~OpTimeout();
  OpTimeout(const OpTimeout&) = delete;
  OpTimeout& operator=(const OpTimeout&) = delete;

 private:
  Engine* engine_;
  std::chrono::nanoseconds previous_;
};

// The awaitable form: `co_await with_timeout(engine, 100ms, file.read(buf, n, off))`
// gives the op's Result, ETIMEDOUT past the deadline. Await it at once.
template <class Awaitable>
class [[nodiscard]] WithTimeout {
 public:
  WithTimeout(Engine& engine, std::chrono::nanoseconds timeout, Awaitable& inner) noexcept
      : engine_(engine), timeout_(timeout), inner_(inner) {}
  bool await_ready() { return inner_.await_ready(); }
  auto await_suspend(std::coroutine_handle<> waiter) {
    OpTimeout limit(engine_, timeout_);
    return inner_.await_suspend(waiter);
  }
  auto await_resume() { return inner_.await_resume(); }

 private:
  Engine& engine_;
  std::chrono::nanoseconds timeout_;
  Awaitable& inner_;
};

template <class Awaitable>
WithTimeout<Awaitable> with_timeout(Engine& engine, std::chrono::nanoseconds timeout, Awaitable&& inner) noexcept {
  return WithTimeout<Awaitable>(engine, timeout, inner);
}

}  // namespace ringfile
