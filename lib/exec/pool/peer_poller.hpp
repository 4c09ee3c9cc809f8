#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "exec/pool/request_stack.hpp"
#include "ops/request.hpp"

namespace ringfile::detail {

// The pool's waits on a peer (a socket's room, a pipe's data, a FIFO's partner),
// so that no worker ever blocks on one: one epoll set and one thread serve every
// wait, and a stalled peer costs a registered descriptor, not a worker. Waits and
// cancels reach that thread through a lock-free stack and a flag: the owner's
// Op::Poll or cancel never waits for a lock the poller's thread holds.
class PeerPoller {
 public:
  // What becomes of a request once its descriptor is ready or its retry is due:
  // completed (the wait was the op) or resumed (back to the workers, to run again).
  enum class Then : std::uint8_t { Complete, Resume };
  struct Hooks {
    std::function<void(Request*)> complete;  // r->res is set
    std::function<void(Request*)> resume;
  };

  explicit PeerPoller(Hooks hooks);
  ~PeerPoller();
  PeerPoller(const PeerPoller&) = delete;
  PeerPoller& operator=(const PeerPoller&) = delete;

  // `r` waits until `fd` is ready for `events` (EPOLLIN, EPOLLOUT) or, with a
  // positive `retry`, that much time has passed, whichever comes first: a FIFO's
  // partner shows itself on no descriptor. fd < 0 waits for the time alone. On
  // Complete the result is the ready events, or 0 after the time. Any thread; the
  // first wait starts the poller's thread.
  void watch(Request* r, int fd, std::uint32_t events, Then then,
             std::chrono::milliseconds retry = std::chrono::milliseconds(0));
  // Watched requests whose `cancelled` is set complete with -ECANCELED on the
  // poller's thread, and so does one that arrives so marked. Any thread.
  void cancel_marked() noexcept;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Request* request;
    int fd;  // our duplicate of the caller's descriptor, or -1
    Then then;
  };
  struct Ready {
    Request* request;
    Then then;
  };
  int ensure_thread();
  void wake() noexcept;
  // The poller's thread:
  void run();
  void take_new_waits(Clock::time_point now, std::vector<Ready>& ready);
  void take_cancelled(std::vector<Ready>& ready);
  void take_due_retries(Clock::time_point now, std::vector<Ready>& ready);
  void finish(std::unordered_map<std::uint64_t, Entry>::iterator it, std::int64_t res, Then then,
              std::vector<Ready>& ready);
  int next_timeout_ms(Clock::time_point now) const;

  Hooks hooks_;
  std::mutex start_mutex_;  // only while the first wait starts the thread
  std::atomic<bool> started_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> cancels_{false};
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  RequestStack incoming_;  // waits handed over, with their parameters in Request::peer
  // The poller's thread alone:
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::multimap<Clock::time_point, std::uint64_t> retries_;
  std::thread thread_;
};

}  // namespace ringfile::detail
