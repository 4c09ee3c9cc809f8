#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "backend.hpp"
#include "file_state.hpp"
#include "fork_generation.hpp"
#include "request.hpp"
#include "ringfile/engine.hpp"

namespace ringfile::detail {

// The engine proper, behind the Engine handle: request pool, user-space queue
// (ops wait there while the backend is at capacity), EINTR/EAGAIN retries,
// continuation of short transfers, and callback delivery on the owner thread.
class EngineCore {
 public:
  EngineCore(std::unique_ptr<Backend> backend, const EngineOptions& options, std::string fallback_reason);
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  Backend& backend() noexcept { return *backend_; }
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
  Request* make_request(Op op) {
    Request* r = pool_.acquire();
    r->op = op;
    return r;
  }
  // Validates and queues `request`; invalid requests complete with their errno.
  OpHandle submit(Request* request);
  // Same, for an op on an open file: checks the file is open, counts it in flight.
  OpHandle submit_file_op(FileState* file, Request* request);
  // Submits a chain (request->link_next...) whose members were made with
  // make_request; `file` counts each member in flight.
  OpHandle submit_chain(FileState* file, Request* head);
  // Completes `request` with -err at the next poll without running it.
  OpHandle fail(Request* request, int err);
  // Completes `request` with `res` at the next poll, without the backend: for
  // results known at once that must still arrive the way every completion does.
  OpHandle complete_now(Request* request, std::int64_t res);
  // An op was attempted from a thread that does not own the engine.
  template <class Callback>
  OpHandle reject_foreign(Callback&& callback);

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
  void cancel_all();
  void cancel_file(FileState* file);
  bool shutting_down() const noexcept { return shutting_down_; }

  std::size_t pending() const noexcept { return pending_; }
  EngineStats stats() const noexcept;

  // File lifetime (owner thread).
  FileState* new_file(int fd, int open_flags);
  void close_file(FileState* file, Request* close_request);
  void drop_handle(FileState* file);  // the File handle went away

 private:
  void enqueue(Request* request);
  void start_in_backend(Request* head);
  static std::size_t chain_length(const Request* head) noexcept;
  void fill_backend();
  bool try_fast_path(Request* request);
  static bool is_buffered_read(const Request& request) noexcept;
  static std::size_t read_length(const Request& request) noexcept;
  std::size_t deliver(RequestQueue& done);
  std::size_t deliver_ready(RequestQueue& done);
  bool resubmit_if_needed(Request* request);
  void complete(Request* request);
  void file_op_finished(FileState* file);
  void cancel_matching(FileState* file);  // null: every file
  static std::size_t direct_alignment_of(int fd);
  void free_file(FileState* file);
  std::size_t run_posted();
  void shutdown();
  void drain_for_shutdown();
  void detach_files() noexcept;
  void unlink_live(Request* r) noexcept;
  void keep_undelivered(RequestQueue& done) noexcept;
  void keep_unrun(std::vector<std::function<void()>>& batch, std::size_t ran) noexcept;
  void work_started();
  void submit_started();
  Result<std::size_t> wait_in_call(std::chrono::nanoseconds timeout);

  // Marks a poll()/wait()/run() (or shutdown) on the stack: callbacks run inside
  // one. The outermost one to unwind performs a deferred destruction.
  class CallScope {
   public:
    CallScope(EngineCore& core, bool polling) noexcept;
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

   private:
    EngineCore& core_;
    bool was_polling_;
  };

  std::unique_ptr<Backend> backend_;
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
  RequestQueue queued_;     // accepted, waiting for room in the backend
  RequestQueue ready_;      // completed outside the backend (fast path, errors)
  Request* live_ = nullptr;  // requests in the backend, for cancellation
  std::size_t in_backend_ = 0;
  std::size_t pending_ = 0; // accepted and not yet delivered
  bool shutting_down_ = false;

  FileState* files_ = nullptr;

  std::mutex posted_mutex_;
  std::atomic<bool> has_posted_{false};
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_posted_;

  EngineStats stats_;
};

template <class Callback>
OpHandle EngineCore::reject_foreign(Callback&& callback) {
  const std::error_code error = misuse();
  if (in_forked_child()) {
    // No poll() of this engine can run here to deliver it.
    if (callback) callback(error);
    return {};
  }
  // std::function needs a copyable target; the callbacks are move-only.
  auto boxed = std::make_shared<std::decay_t<Callback>>(std::forward<Callback>(callback));
  post([boxed] {
    if (*boxed) (*boxed)(errno_code(EPERM));
  });
  return {};
}

}  // namespace ringfile::detail
