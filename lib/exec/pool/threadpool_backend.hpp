#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

#include "exec/executor.hpp"
#include "exec/pool/peer_poller.hpp"
#include "exec/pool/request_stack.hpp"

namespace ringfile::detail {

// Blocking syscalls on worker threads, with io_uring's shape: requests are handed
// over in batches at flush(), completions come back on a queue and make an eventfd
// readable, and the owner reaps them. A wait on a peer (a socket's room, a pipe's
// data, a FIFO's partner) is never a worker's: the PeerPoller holds the request
// and hands it back once the peer is ready.
class ThreadPoolBackend final : public Executor {
 public:
  // signal_via: tell of completions through that executor's wake() instead of an
  // eventfd of our own (the io_uring engine's pool wakes the ring).
  ThreadPoolBackend(const EngineOptions& options, Executor* signal_via);
  ~ThreadPoolBackend() override;

  ringfile::Backend kind() const noexcept override { return ringfile::Backend::ThreadPool; }
  std::string describe() const override;
  int event_fd() const noexcept override { return notify_fd_; }
  bool supports(Op) const noexcept override { return true; }
  void wake() noexcept override;
  void signal_event_fd() noexcept override;
  unsigned capacity() const noexcept override { return 1u << 16; }
  void start(Request* request) override;
  void flush() override;
  void reap(RequestQueue& done, std::chrono::nanoseconds timeout) override;
  void cancel(Request* request) override;
  // Blocking syscalls take any buffer: there is nothing to register.
  Result<void> register_buffers(std::span<const iovec>) override { return {}; }
  Result<void> unregister_buffers() override { return {}; }
  void add_stats(EngineStats& stats) const noexcept override;

 private:
  struct Running {
    std::atomic<Request*> request{nullptr};
    pthread_t thread{};
  };

  void worker_loop(unsigned index);
  void run_on_worker(Request* r, unsigned index);
  void resume(Request* r);
  void note_op_time(std::chrono::nanoseconds took) noexcept;
  bool spin_pays() const noexcept;
  Request* take(unsigned index);
  void wake_worker();
  void complete(Request* request);
  bool take_completions(RequestQueue& done);
  bool run_lone_op_here(RequestQueue& done);
  bool interrupt_cancelled();
  std::size_t in_flight() const noexcept;
  unsigned busy_count() const noexcept;
  void stop_workers();
  void spawn_worker();
  bool grow_if_starved();  // the grower's thread; false: no work waits
  void grower_loop();
  unsigned worker_count() const noexcept { return worker_count_.load(std::memory_order_acquire); }
  std::atomic<std::uint64_t> taken_{0};     // requests workers have taken, ever
  // The grower's thread only: the window over which grow_if_starved() counts ops taken.
  std::chrono::steady_clock::time_point window_start_{};
  std::uint64_t taken_at_window_start_ = 0;
  static constexpr std::chrono::microseconds kGrowWindow{200};
  // Fewer ops per worker than this in a window (ops of 20 us or more) means they block.
  static constexpr std::uint64_t kFastOpsPerWindow = 10;

  static constexpr unsigned kDefaultMaxWorkers = 64;
  unsigned max_workers_ = 0;

  const std::chrono::nanoseconds spin_;
  std::atomic<std::int64_t> recent_op_ns_{0};  // how long ops take on a worker, lately
  Executor* signal_via_;
  int notify_fd_ = -1;
  void notify() noexcept;
  bool work_signalled_ = false;  // owner only: signal_event_fd() wrote notify_fd_

  RequestQueue staged_;  // owner only: started, not yet flushed

  // Work goes to the workers through intake_, which the owner pushes onto without
  // a lock; the workers move it into sq_ under sq_mutex_, which is theirs alone
  // (the owner only ever tries it, to take back a cancelled request).
  RequestStack intake_;
  std::mutex sq_mutex_;
  RequestQueue sq_;
  std::atomic<std::uint32_t> sq_count_{0};  // in intake_ and sq_
  std::atomic<std::uint32_t> sq_seq_{0};  // futex word workers sleep on
  std::atomic<int> sleeping_{0};
  std::atomic<int> waking_{0};  // notified sleepers not yet running
  std::atomic<bool> spinner_{false};
  std::atomic<bool> stop_{false};

  RequestStack completed_;             // workers push, the owner takes: no lock
  std::atomic<bool> signaled_{false};  // an eventfd write is owed or done for completed_
  std::atomic<bool> owner_spinning_{false};

  std::unique_ptr<Running[]> running_;
  // Room for max_workers_ threads from the start: the poller's thread adds workers
  // while the owner reads the count.
  std::unique_ptr<std::thread[]> workers_;
  std::atomic<unsigned> worker_count_{0};
  // The grower: a thread that checks every window whether the pool must grow while
  // work waits and no worker is free, since the owner may not call poll() again
  // while nothing completes. Started the first time it is needed.
  std::atomic<bool> growth_watched_{false};
  std::atomic<std::uint32_t> grower_seq_{0};  // futex word the idle grower sleeps on
  std::thread grower_;
  std::unique_ptr<PeerPoller> poller_;
  std::atomic<std::uint64_t> wakeups_{0};
  std::uint64_t ran_by_owner_ = 0;  // owner only
};

}  // namespace ringfile::detail
