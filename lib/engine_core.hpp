#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend.hpp"
#include "file_state.hpp"
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
  bool on_owner_thread() const noexcept { return std::this_thread::get_id() == owner_; }

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
  void post(std::function<void()> fn);
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
  std::error_code foreign_thread() const;
  bool resubmit_if_needed(Request* request);
  void complete(Request* request);
  void file_op_finished(FileState* file);
  void cancel_matching(FileState* file);  // null: every file
  static std::size_t direct_alignment_of(int fd);
  void free_file(FileState* file);
  std::size_t run_posted();
  void shutdown();

  std::unique_ptr<Backend> backend_;
  EngineOptions options_;
  std::string fallback_reason_;
  std::thread::id owner_;

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
  // std::function needs a copyable target; the callbacks are move-only.
  auto boxed = std::make_shared<std::decay_t<Callback>>(std::forward<Callback>(callback));
  post([boxed] {
    if (*boxed) (*boxed)(errno_code(EPERM));
  });
  return {};
}

}  // namespace ringfile::detail
