// An application's own epoll loop on both engines: ops are started from its
// handlers, outside any engine call, then the loop sleeps in epoll_wait on
// event_fd() and calls only poll() when it fires. It never calls submit(): the
// engine must make event_fd() readable for ops it has not submitted yet.

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

class EventLoop : public EngineTest {};

TEST_P(EventLoop, OpsStartedFromHandlersRunWithoutSubmit) {
  const std::string path = dir_.file("data");
  const std::string data = random_bytes(32 * 4096, 5);
  write_plain(path, data);

  int socket_like[2];
  ASSERT_EQ(::pipe2(socket_like, O_CLOEXEC | O_NONBLOCK), 0);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = engine().event_fd();
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, engine().event_fd(), &ev), 0);
  ev.data.fd = socket_like[0];
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, socket_like[0], &ev), 0);

  std::optional<File> file;
  std::string back(data.size(), '\0');
  int reads_done = 0;
  bool started_reads = false;
  // The "request" arrives on the socket; its handler opens the file.
  ASSERT_EQ(::write(socket_like[1], "GET", 3), 3);

  for (int round = 0; round < 10000 && reads_done < 32; ++round) {
    epoll_event events[2];
    int n;
    do n = ::epoll_wait(ep, events, 2, 10000);  // a signal (a pool's cancel, SIGCHLD) may end it early
    while (n < 0 && errno == EINTR);
    ASSERT_GT(n, 0) << "slept 10 s: event_fd() did not become readable for work waiting to be submitted";
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == socket_like[0]) {
        char buf[8];
        ASSERT_EQ(::read(socket_like[0], buf, sizeof buf), 3);
        File::open(engine(), path, O_RDONLY, [&](Result<File> f) {
          ASSERT_TRUE(f);
          file.emplace(std::move(*f));
        });
      } else {
        ASSERT_TRUE(engine().poll());
      }
    }
    // A handler outside the engine's calls starts a burst of reads.
    if (file && !started_reads) {
      started_reads = true;
      for (int b = 0; b < 32; ++b) {
        file->read(back.data() + b * 4096, 4096, b * 4096, [&](Result<std::size_t> r) {
          EXPECT_TRUE(r && *r == 4096u);
          ++reads_done;
        });
      }
    }
  }
  EXPECT_EQ(reads_done, 32);
  EXPECT_TRUE(back == data);
  file.reset();
  ASSERT_TRUE(engine().run());
  ::close(ep);
  ::close(socket_like[0]);
  ::close(socket_like[1]);
}

// A callback inside poll() that starts a read of cached data gets its result at
// once (the fast path), but delivered by the next poll(): event_fd() must fire for
// it, or a loop that sleeps on it never sees the chain go on.
TEST_P(EventLoop, FastPathCompletionsStartedInsidePollWakeTheLoop) {
  const std::string path = dir_.file("cached");
  const std::string data = random_bytes(16 * 4096, 9);
  write_plain(path, data);
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, engine().event_fd(), &ev), 0);

  std::string back(data.size(), '\0');
  int reads = 0;
  std::function<void()> read_next = [&] {
    const std::size_t at = static_cast<std::size_t>(reads) * 4096;
    file->read(back.data() + at, 4096, static_cast<std::int64_t>(at), [&](Result<std::size_t> r) {
      ASSERT_TRUE(r && *r == 4096);
      if (++reads < 16) read_next();
    });
  };
  read_next();
  while (reads < 16) {
    int n;
    do n = ::epoll_wait(ep, &ev, 1, 10000);
    while (n < 0 && errno == EINTR);
    ASSERT_EQ(n, 1) << "a completion waits for poll() after " << reads << " reads and event_fd() is quiet";
    ASSERT_TRUE(engine().poll());
  }
  EXPECT_EQ(back, data);
  EXPECT_GT(engine().stats().fast_path_reads, 0u);
  ::close(ep);
}

// A deadline passing is work for poll(): a loop that only sleeps on event_fd()
// must wake for it, whichever mechanism enforces it (the ring's link timeout for
// the pipe read on io_uring, the core's timer for everything on the pool and for
// the FIFO open, which io_uring hands to the pool to wait for a writer).
TEST_P(EventLoop, DeadlinesWakeALoopThatOnlyWatchesEventFd) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  auto reader = File::adopt(engine(), pipe_fds[0]);
  ASSERT_TRUE(reader);
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, engine().event_fd(), &ev), 0);

  char buf[8];
  std::optional<Result<std::size_t>> read;
  std::optional<Result<File>> opened;
  {
    OpTimeout limit(engine(), std::chrono::milliseconds(100));
    reader->read(buf, sizeof buf, kStreamOffset, [&](Result<std::size_t> r) { read = r; });
    File::open(engine(), fifo, O_RDONLY, [&](Result<File> f) { opened.emplace(std::move(f)); });
  }
  for (int turn = 0; turn < 100 && !(read && opened); ++turn) {
    // io_uring's task work can end an epoll_wait early with EINTR, as a signal would.
    int n;
    do n = ::epoll_wait(ep, &ev, 1, 10000);
    while (n < 0 && errno == EINTR);
    ASSERT_EQ(n, 1) << (n == 0 ? "10 s past a 100 ms deadline and event_fd() never became readable"
                               : std::strerror(errno));
    ASSERT_TRUE(engine().poll());
  }
  ASSERT_TRUE(read && opened);
  EXPECT_EQ(read->error(), std::errc::timed_out);
  EXPECT_EQ(opened->error(), std::errc::timed_out);
  ::close(pipe_fds[1]);
  ::close(ep);
}

INSTANTIATE_TEST_SUITE_P(Engines, EventLoop, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
