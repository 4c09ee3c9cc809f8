#include "core/event_set.hpp"

#include <cstdint>

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace ringfile::detail {

EventSet::~EventSet() {
  if (timer_fd_ >= 0) ::close(timer_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

int EventSet::watch(int executor_fd) noexcept {
  if (epoll_fd_ >= 0) return epoll_fd_;
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  bool ok = ep >= 0 && timer >= 0;
  ok = ok && ::epoll_ctl(ep, EPOLL_CTL_ADD, executor_fd, &ev) == 0;
  ok = ok && ::epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev) == 0;
  if (!ok) {
    if (ep >= 0) ::close(ep);
    if (timer >= 0) ::close(timer);
    return executor_fd;
  }
  epoll_fd_ = ep;
  timer_fd_ = timer;
  return epoll_fd_;
}

void EventSet::wake_at(Clock::time_point when) noexcept {
  if (timer_fd_ < 0 || when == armed_for_) return;
  armed_for_ = when;
  // steady_clock is CLOCK_MONOTONIC; setting the timer also clears a past expiry.
  itimerspec spec{};
  if (when != Clock::time_point{}) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  (void)::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

}  // namespace ringfile::detail
