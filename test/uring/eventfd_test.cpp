// event_fd() for epoll loops, and wake(). With DEFER_TASKRUN the eventfd fires
// while the CQ is still empty; a non-blocking reap must still deliver.

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::Op;
using detail::Request;
using detail::RequestQueue;
using detail::UringRung;
using Clock = std::chrono::steady_clock;

// io_uring may interrupt this thread's blocking calls with task work (io-wq
// creates its workers that way), so EINTR is retried as in any event loop.
bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return n == 1;
}

// An epoll set watching one descriptor for POLLIN, closed with the test.
class EpollOn {
 public:
  explicit EpollOn(int fd) : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ok_ = ep_ >= 0 && ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  EpollOn(const EpollOn&) = delete;
  EpollOn& operator=(const EpollOn&) = delete;
  ~EpollOn() {
    if (ep_ >= 0) ::close(ep_);
  }
  bool ok() const noexcept { return ok_; }
  // Events that arrived within timeout_ms (0 or 1).
  int wait(int timeout_ms) const {
    epoll_event got{};
    int n;
    while ((n = ::epoll_wait(ep_, &got, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    return n;
  }

 private:
  int ep_;
  bool ok_ = false;
};

class UringEventFd : public ::testing::TestWithParam<UringRung> {};

// A one-byte read from a pipe's read end, which parks in the kernel until written.
Request* start_pipe_read(Driver& d, int fd, char* into) {
  Request* r = d.make(Op::Read);
  r->args.fd = fd;
  r->args.buf = into;
  r->args.len = 1;
  r->args.offset = -1;
  d.backend().start(r);
  return r;
}

TEST_P(UringEventFd, EpollWaitThenNonBlockingReapDelivers) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  Driver d;
  if (d.backend().rung() != GetParam()) GTEST_SKIP() << "kernel refused the rung";
  auto& b = d.backend();
  EpollOn ep(b.event_fd());
  ASSERT_TRUE(ep.ok());

  Pipe pipe;
  for (int round = 0; round < 3; ++round) {
    // A read from an empty pipe parks in the kernel; the write below completes it
    // later, as task work (deferred until this thread enters, on DEFER_TASKRUN).
    char c = 0;
    Request* r = start_pipe_read(d, pipe.read_end(), &c);
    b.flush();
    RequestQueue none;
    b.reap(none, std::chrono::nanoseconds::zero());
    ASSERT_TRUE(none.empty());

    ASSERT_EQ(::write(pipe.write_end(), "x", 1), 1);
    ASSERT_EQ(ep.wait(5000), 1) << "event_fd() never became readable";

    RequestQueue done;
    b.reap(done, std::chrono::nanoseconds::zero());
    ASSERT_EQ(done.size(), 1u) << "the eventfd fired but poll found nothing (round " << round << ")";
    EXPECT_EQ(done.front(), r);
    EXPECT_EQ(r->res, 1);
    EXPECT_EQ(c, 'x');
    d.release(done.pop_front());
  }
  // Reaping reset the eventfd: a level-triggered epoll does not spin on it. The
  // kernel may signal once more for CQEs the reap itself flushed; one more reap
  // settles that.
  RequestQueue rest;
  b.reap(rest, std::chrono::nanoseconds::zero());
  EXPECT_FALSE(readable(b.event_fd(), 0));
}

// The kernel runs deferred completions in bounded batches per enter; one
// non-blocking reap still delivers everything that was waiting.
TEST_P(UringEventFd, OneReapDeliversManyDeferredCompletions) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  Driver d;
  if (d.backend().rung() != GetParam()) GTEST_SKIP() << "kernel refused the rung";
  auto& b = d.backend();
  EpollOn ep(b.event_fd());
  ASSERT_TRUE(ep.ok());

  constexpr std::size_t kReads = 100;
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<char> sink(kReads);
  for (std::size_t i = 0; i < kReads; ++i) {
    pipes.push_back(std::make_unique<Pipe>());
    start_pipe_read(d, pipes.back()->read_end(), &sink[i]);
  }
  b.flush();
  RequestQueue done;
  b.reap(done, std::chrono::nanoseconds::zero());
  ASSERT_TRUE(done.empty());
  for (auto& p : pipes) ASSERT_EQ(::write(p->write_end(), "k", 1), 1);
  ASSERT_EQ(ep.wait(5000), 1);
  b.reap(done, std::chrono::nanoseconds::zero());
  EXPECT_EQ(done.size(), kReads);
  for (char c : sink) EXPECT_EQ(c, 'k');
  while (Request* r = done.pop_front()) d.release(r);
}

TEST_P(UringEventFd, WakeFromAnotherThreadUnblocksReap) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  Driver d;
  if (d.backend().rung() != GetParam()) GTEST_SKIP() << "kernel refused the rung";
  auto& b = d.backend();
  const int efd = b.event_fd();
  for (int round = 0; round < 3; ++round) {
    std::thread waker([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      b.wake();
    });
    const auto t0 = Clock::now();
    RequestQueue done;
    b.reap(done, std::chrono::nanoseconds(-1));
    const auto waited = Clock::now() - t0;
    waker.join();
    EXPECT_TRUE(done.empty());
    EXPECT_GE(waited, std::chrono::milliseconds(30));
    EXPECT_LT(waited, std::chrono::seconds(5));
  }
  // wake() also makes event_fd() readable for an epoll loop.
  RequestQueue done;
  b.reap(done, std::chrono::nanoseconds::zero());
  EXPECT_FALSE(readable(efd, 0));
  std::thread waker([&] { b.wake(); });
  waker.join();
  EXPECT_TRUE(readable(efd, 1000));
}

// Ops the ring can't run (ftruncate has no opcode in liburing 2.3) complete on the
// helper pool. An epoll-driven loop only polls when event_fd() fires, so the
// helper's completions must make it readable every time, not just the first.
TEST_P(UringEventFd, EpollDrivenLoopKeepsGettingHelperCompletions) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  EngineOptions options;
  options.backend = Backend::IoUring;
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine) << engine.error().message();
  TempDir dir;
  auto file = open_sync(*engine, dir.file("truncated"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  EpollOn ep(engine->event_fd());
  ASSERT_TRUE(ep.ok());

  constexpr int kTarget = 2000;
  int done = 0;
  int failed = 0;
  struct Truncator {
    File* file;
    int* done;
    int* failed;
    std::int64_t length;
    void go() {
      file->truncate(length, [this](Result<void> r) {
        ++*done;
        *failed += !r;
        if (*done < kTarget) go();
      });
    }
  };
  std::vector<Truncator> truncators;
  for (int i = 0; i < 16; ++i) truncators.push_back({&*file, &done, &failed, 4096 * i});
  for (auto& t : truncators) t.go();
  ASSERT_TRUE(engine->submit());
  while (done < kTarget) {
    ASSERT_EQ(ep.wait(5000), 1) << "event_fd() went quiet with helper ops in flight after " << done;
    ASSERT_TRUE(engine->poll());
  }
  EXPECT_EQ(failed, 0);
  EXPECT_GT(engine->stats().fallback_ops, 0u);
  ASSERT_TRUE(engine->run());
}

INSTANTIATE_TEST_SUITE_P(Rungs, UringEventFd,
                         every_rung(), rung_name);

TEST(UringWake, WakeBeforeReapIsNotLost) {
  SKIP_WITHOUT_IO_URING();
  Driver d;
  auto& b = d.backend();
  b.wake();
  const auto t0 = Clock::now();
  RequestQueue done;
  b.reap(done, std::chrono::seconds(5));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
}

TEST(UringWake, ReapTimeoutExpiresWithNothingDone) {
  SKIP_WITHOUT_IO_URING();
  Driver d;
  auto& b = d.backend();
  Pipe pipe;
  char c;
  Request* r = d.make(Op::Read);
  r->args.fd = pipe.read_end();
  r->args.buf = &c;
  r->args.len = 1;
  r->args.offset = -1;
  d.submit(r);
  d.pump();
  const auto t0 = Clock::now();
  RequestQueue done;
  b.reap(done, std::chrono::milliseconds(50));
  const auto waited = Clock::now() - t0;
  EXPECT_TRUE(done.empty());
  EXPECT_GE(waited, std::chrono::milliseconds(45));
  EXPECT_LT(waited, std::chrono::seconds(2));
  ASSERT_EQ(::write(pipe.write_end(), "y", 1), 1);
  EXPECT_EQ(d.wait_for(r), 1);
}

// The helper pool signals the ring's wake descriptor, so a reap blocked in the
// kernel returns with the helper's completion.
TEST(UringWake, HelperCompletionUnblocksReap) {
  SKIP_WITHOUT_IO_URING();
  Driver d;
  Request* r = d.make(Op::Call);
  r->set_work([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return std::int64_t{42};
  });
  d.submit(r);
  const auto t0 = Clock::now();
  while (!d.is_done(r) && Clock::now() - t0 < std::chrono::seconds(5)) d.step(std::chrono::nanoseconds(-1));
  ASSERT_TRUE(d.is_done(r));
  EXPECT_EQ(r->res, 42);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
}

}  // namespace
}  // namespace ringfile::test
