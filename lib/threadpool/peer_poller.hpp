#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "request.hpp"

namespace ringfile::detail {

// The pool's waits on a peer (a socket's room, a pipe's data, a FIFO's partner),
// so that no worker ever blocks on one: one epoll set and one thread serve every
// wait, and a stalled peer costs a registered descriptor, not a worker.
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
  // Complete the result is the ready events, or 0 after the time. Any thread.
  void watch(Request* r, int fd, std::uint32_t events, Then then,
             std::chrono::milliseconds retry = std::chrono::milliseconds(0));
  // A watched request completes at once with -ECANCELED; false if it is not here.
  bool cancel(Request* r);
  std::size_t waiting() const;

 private:
  struct Entry {
    Request* request;
    int fd;  // our duplicate of the caller's descriptor, or -1
    Then then;
    std::chrono::steady_clock::time_point retry_at;
  };
  void run();
  int ensure_thread();
  void wake() noexcept;
  void finish(std::uint64_t id, std::uint32_t ready);  // mutex_ held
  int next_timeout_ms(std::chrono::steady_clock::time_point now);
  void retry_due(std::chrono::steady_clock::time_point now);

  Hooks hooks_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::unordered_map<const Request*, std::uint64_t> ids_;
  std::multimap<std::chrono::steady_clock::time_point, std::uint64_t> retries_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ringfile::detail
