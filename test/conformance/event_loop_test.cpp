// An application's own epoll loop on both engines: ops are started from its
// handlers, outside any engine call, then the loop sleeps in epoll_wait on
// event_fd() and calls only poll() when it fires. It never calls submit(): the
// engine must make event_fd() readable for ops it has not submitted yet.

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

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
    const int n = ::epoll_wait(ep, events, 2, 10000);
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

INSTANTIATE_TEST_SUITE_P(Engines, EventLoop, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
