#pragma once

#include <cassert>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "backend.hpp"
#include "file_state.hpp"
#include "pipe_cache.hpp"
#include "posted.hpp"
#include "request.hpp"
#include "ringfile/engine.hpp"
#include "router.hpp"

namespace ringfile::detail {

// The engine proper, behind the Engine handle. It takes requests from its pool,
// routes each (the owner-thread fast path for cached reads, else the Router's
// executors), queues them in user space while the executors are at capacity, and
// applies its own rules to results (EINTR/EAGAIN retries, continuation of short
// transfers, chain results, cancel's ECANCELED) before the request's one
// completion runs on the owner thread.
class EngineCore {
 public:
  EngineCore(std::unique_ptr<Backend> backend, const EngineOptions& options, std::string fallback_reason);
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  Backend& backend() noexcept { return router_.primary(); }
  Router& router() noexcept { return router_; }
  PipeCache& pipes() noexcept { return pipes_; }
  const EngineOptions& options() const noexcept { return options_; }
  const std::string& fallback_reason() const noexcept { return fallback_reason_; }
  bool on_owner_thread() const noexcept { return std::this_thread::get_id() == owner_; }

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

  Result<void> flush();
  Result<std::size_t> poll();
  Result<std::size_t> wait(std::chrono::nanoseconds timeout);
  Result<void> run();
  void post(std::function<void()> fn);
  void cancel(OpHandle op);
  void cancel_all() { cancel_matching(nullptr); }
  void cancel_file(FileState* file) { cancel_matching(file); }
  bool shutting_down() const noexcept { return shutting_down_; }

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
    if (--file->in_flight == 0 && file->deferred_close) start_deferred_close(file);
  }

 private:
  static OpHandle handle_of(const Request* r) noexcept { return OpHandle(r, r->serial); }
  OpHandle accept(Request* request);
  void finish_now(Request* head, std::int64_t res);
  void enqueue(Request* request);
  void start_in_backend(Request* head);
  void fill_backend();
  // With io_uring, one batched io_uring_enter costs less per op than a preadv2 each
  // once several ops are outstanding; a pool hand-off never does.
  bool fast_path_open() const noexcept {
    return options_.cached_read_fast_path && (fast_path_any_depth_ || pending_ <= options_.fast_path_max_in_flight);
  }
  bool try_fast_path(Request* request);
  void skip_moved(Request* request, std::size_t moved);
  std::size_t deliver(RequestQueue& done);
  std::size_t deliver_ready(RequestQueue& done);
  void leave_backend(Request* r) noexcept;
  std::error_code foreign_thread() const;
  bool resubmit_if_needed(Request* request);
  std::int64_t final_result(Request& request) const noexcept;
  void complete(Request* request);
  void start_deferred_close(FileState* file);  // its last op finished
  void flush_started();
  void start_close(FileState* file, Request* close_request);
  void cancel_matching(FileState* file);  // null: every file
  void free_file(FileState* file);
  void release_files();
  void drain();
  void shutdown();

  Router router_;
  EngineOptions options_;
  std::string fallback_reason_;
  std::thread::id owner_;
  bool fast_path_any_depth_ = false;  // a pool hand-off never beats preadv2

  RequestPool pool_;
  RequestQueue queued_;      // accepted, waiting for room in the executors
  RequestQueue ready_;       // completed outside the executors (fast path, errors)
  Request* live_ = nullptr;  // requests in an executor, for cancellation
  std::size_t in_backend_ = 0;
  std::size_t pending_ = 0;  // accepted and not yet delivered
  bool shutting_down_ = false;
  bool unflushed_ = false;  // started since the executors were last flushed

  FileState* files_ = nullptr;
  PostedQueue posted_;
  EngineStats stats_;
  PipeCache pipes_;
};

template <class Callback>
[[gnu::noinline]] void reject_foreign(EngineCore& core, Callback& callback) {
  assert(!"ringfile used from a thread that does not own its engine");
  // std::function needs a copyable target; the callbacks are move-only.
  auto boxed = std::make_shared<std::decay_t<Callback>>(std::move(callback));
  core.post([boxed] {
    if (*boxed) (*boxed)(errno_code(EPERM));
  });
}

template <class Callback>
bool EngineCore::rejects_foreign(Callback& callback) {
  if (on_owner_thread()) [[likely]] return false;
  reject_foreign(*this, callback);
  return true;
}

}  // namespace ringfile::detail
