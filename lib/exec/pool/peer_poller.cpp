#include "exec/pool/peer_poller.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <system_error>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sys/eventfd.hpp"

namespace ringfile::detail {

namespace {
constexpr std::uint64_t kWakeId = 0;
}  // namespace

PeerPoller::PeerPoller(Hooks hooks) : hooks_(std::move(hooks)) {}

PeerPoller::~PeerPoller() {
  if (thread_.joinable()) {
    stop_.store(true);
    wake();
    thread_.join();
  }
  // The pool completes everything before it goes; whatever is left is only descriptors.
  for (auto& [id, e] : entries_) {
    if (e.fd >= 0) ::close(e.fd);
  }
  RequestQueue unseen;
  incoming_.take_all(unseen);
  while (Request* r = unseen.pop_front()) {
    if (r->peer.fd >= 0) ::close(r->peer.fd);
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void PeerPoller::wake() noexcept { write_eventfd(wake_fd_); }

// Made with the first wait, so an engine whose peers never stall has no thread or
// descriptor for it. Returns 0 or -errno.
int PeerPoller::ensure_thread() {
  if (started_.load(std::memory_order_acquire)) return 0;
  std::lock_guard lock(start_mutex_);
  if (started_.load(std::memory_order_relaxed)) return 0;
  if (epoll_fd_ < 0) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return -errno;
  }
  if (wake_fd_ < 0) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return -errno;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeId;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
      const int err = -errno;
      ::close(wake_fd_);
      wake_fd_ = -1;
      return err;
    }
  }
  try {
    thread_ = std::thread([this] {
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, nullptr);
      run();
    });
  } catch (const std::system_error& e) {
    return -e.code().value();
  }
  started_.store(true, std::memory_order_release);
  return 0;
}

void PeerPoller::watch(Request* r, int fd, std::uint32_t events, Then then, std::chrono::milliseconds retry) {
  // A duplicate of our own: epoll takes one registration per descriptor, several
  // ops may wait on the same one, and the caller may close theirs meanwhile.
  int err = ensure_thread();
  const int dup_fd = !err && fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (!err && fd >= 0 && dup_fd < 0) err = -errno;
  if (err) {
    r->res = err;
    hooks_.complete(r);
    return;
  }
  r->peer = {dup_fd, events, then == Then::Resume, retry};
  incoming_.push(r);
  wake();
}

void PeerPoller::cancel_marked() noexcept {
  if (!started_.load(std::memory_order_acquire)) return;
  cancels_.store(true);
  wake();
}

void PeerPoller::run() {
  std::vector<Ready> ready;
  epoll_event events[64];
  for (;;) {
    take_new_waits(Clock::now(), ready);
    if (cancels_.exchange(false)) take_cancelled(ready);
    for (const Ready& r : ready) (r.then == Then::Complete ? hooks_.complete : hooks_.resume)(r.request);
    ready.clear();
    const int n = ::epoll_wait(epoll_fd_, events, 64, next_timeout_ms(Clock::now()));
    if (stop_.load()) return;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[i].data.u64;
      if (id == kWakeId) {
        drain_eventfd(wake_fd_);
        continue;
      }
      // A stale event of a wait that ended meanwhile finds nothing.
      if (auto it = entries_.find(id); it != entries_.end()) finish(it, events[i].events, it->second.then, ready);
    }
    take_due_retries(Clock::now(), ready);
  }
}

void PeerPoller::take_new_waits(Clock::time_point now, std::vector<Ready>& ready) {
  RequestQueue batch;
  incoming_.take_all(batch);
  while (Request* r = batch.pop_front()) {
    const Request::PeerWatch w = r->peer;
    const Then then = w.resume ? Then::Resume : Then::Complete;
    const std::uint64_t id = next_id_++;
    auto [it, added] = entries_.emplace(id, Entry{r, w.fd, then});
    if (r->cancelled.load()) {
      finish(it, -ECANCELED, Then::Complete, ready);
      continue;
    }
    if (w.retry.count() > 0) retries_.emplace(now + w.retry, id);
    if (w.fd < 0) continue;
    epoll_event ev{};
    ev.events = w.events | EPOLLONESHOT;
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, w.fd, &ev) != 0) {
      // Not pollable (a regular file is always ready): it is ready now.
      ::close(w.fd);
      it->second.fd = -1;
      retries_.emplace(Clock::time_point::min(), id);
    }
  }
}

// Cancels are rare: a scan of the waits beats a second list for them.
void PeerPoller::take_cancelled(std::vector<Ready>& ready) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.request->cancelled.load()) finish(it, -ECANCELED, Then::Complete, ready);
    it = next;
  }
}

void PeerPoller::take_due_retries(Clock::time_point now, std::vector<Ready>& ready) {
  while (!retries_.empty() && retries_.begin()->first <= now) {
    const std::uint64_t id = retries_.begin()->second;
    retries_.erase(retries_.begin());
    // The stale retry time of a wait that ended meanwhile finds nothing.
    if (auto it = entries_.find(id); it != entries_.end()) finish(it, 0, it->second.then, ready);
  }
}

void PeerPoller::finish(std::unordered_map<std::uint64_t, Entry>::iterator it, std::int64_t res, Then then,
                        std::vector<Ready>& ready) {
  Entry& e = it->second;
  if (e.fd >= 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, e.fd, nullptr);
    ::close(e.fd);
  }
  e.request->res = res;
  ready.push_back({e.request, then});
  entries_.erase(it);
}

int PeerPoller::next_timeout_ms(Clock::time_point now) const {
  if (retries_.empty()) return -1;
  const Clock::duration left = retries_.begin()->first <= now ? Clock::duration::zero() : retries_.begin()->first - now;
  // Round up, so a wait never wakes just before its time and spins.
  return static_cast<int>((std::chrono::duration_cast<std::chrono::microseconds>(left).count() + 999) / 1000);
}

}  // namespace ringfile::detail
