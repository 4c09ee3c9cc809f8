#include "threadpool/peer_poller.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <system_error>
#include <vector>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "eventfd.hpp"

namespace ringfile::detail {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint64_t kWakeId = 0;

struct Ready {
  Request* request;
  PeerPoller::Then then;
};

}  // namespace

PeerPoller::PeerPoller(Hooks hooks) : hooks_(std::move(hooks)) {}

PeerPoller::~PeerPoller() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake();
    thread_.join();
  }
  // The pool completes everything before it goes; whatever is left is only descriptors.
  for (auto& [id, e] : entries_) {
    if (e.fd >= 0) ::close(e.fd);
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void PeerPoller::wake() noexcept { write_eventfd(wake_fd_); }

// Made with the first wait, so an engine whose peers never stall has no thread or
// descriptor for it. Returns 0 or -errno.
int PeerPoller::ensure_thread() {
  if (thread_.joinable()) return 0;
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
  return 0;
}

void PeerPoller::watch(Request* r, int fd, std::uint32_t events, Then then, std::chrono::milliseconds retry) {
  // A duplicate of our own: epoll takes one registration per descriptor, several
  // ops may wait on the same one, and the caller may close theirs meanwhile.
  std::unique_lock lock(mutex_);
  const int err = ensure_thread();
  const int dup_fd = !err && fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (err || (fd >= 0 && dup_fd < 0)) {
    const int failed = err ? err : -errno;
    lock.unlock();
    r->res = failed;
    hooks_.complete(r);
    return;
  }
  const std::uint64_t id = next_id_++;
  const auto retry_at = retry.count() > 0 ? Clock::now() + retry : Clock::time_point::max();
  entries_.emplace(id, Entry{r, dup_fd, then, retry_at});
  ids_.emplace(r, id);
  if (retry.count() > 0) retries_.emplace(retry_at, id);
  if (dup_fd >= 0) {
    epoll_event ev{};
    ev.events = events | EPOLLONESHOT;
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, dup_fd, &ev) != 0) {
      // Not pollable (a regular file is always ready): it is ready now.
      ::close(dup_fd);
      entries_.at(id).fd = -1;
      retries_.emplace(Clock::time_point::min(), id);
    }
  }
  wake();  // a new retry time, or a first wait, for the thread to take up
}

bool PeerPoller::cancel(Request* r) {
  {
    std::lock_guard lock(mutex_);
    auto it = ids_.find(r);
    if (it == ids_.end()) return false;
    const std::uint64_t id = it->second;
    const Entry e = entries_.at(id);
    if (e.fd >= 0) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, e.fd, nullptr);
      ::close(e.fd);
    }
    entries_.erase(id);
    ids_.erase(it);
  }
  r->res = -ECANCELED;
  hooks_.complete(r);
  return true;
}

std::size_t PeerPoller::waiting() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

// Takes the entry out; its stale retry time or event is ignored when it comes.
void PeerPoller::finish(std::uint64_t id, std::uint32_t ready) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.fd >= 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, e.fd, nullptr);
    ::close(e.fd);
  }
  e.request->res = static_cast<std::int64_t>(ready);
  ids_.erase(e.request);
}

int PeerPoller::next_timeout_ms(Clock::time_point now) {
  Clock::duration left = Clock::duration::max();
  if (!retries_.empty()) left = retries_.begin()->first <= now ? Clock::duration::zero() : retries_.begin()->first - now;
  if (left == Clock::duration::max()) return -1;
  // Round up, so a wait never wakes just before its time and spins.
  return static_cast<int>((std::chrono::duration_cast<std::chrono::microseconds>(left).count() + 999) / 1000);
}

void PeerPoller::run() {
  std::vector<Ready> ready;
  epoll_event events[64];
  for (;;) {
    int timeout_ms;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      timeout_ms = next_timeout_ms(Clock::now());
    }
    const int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
    const auto now = Clock::now();
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      for (int i = 0; i < n; ++i) {
        const std::uint64_t id = events[i].data.u64;
        if (id == kWakeId) {
          drain_eventfd(wake_fd_);
          continue;
        }
        auto it = entries_.find(id);
        if (it == entries_.end()) continue;
        ready.push_back({it->second.request, it->second.then});
        finish(id, events[i].events);
        entries_.erase(it);
      }
      while (!retries_.empty() && retries_.begin()->first <= now) {
        const std::uint64_t id = retries_.begin()->second;
        retries_.erase(retries_.begin());
        auto it = entries_.find(id);
        if (it == entries_.end()) continue;
        ready.push_back({it->second.request, it->second.then});
        finish(id, 0);
        entries_.erase(it);
      }
    }
    for (const Ready& r : ready) (r.then == Then::Complete ? hooks_.complete : hooks_.resume)(r.request);
    ready.clear();
  }
}

}  // namespace ringfile::detail
