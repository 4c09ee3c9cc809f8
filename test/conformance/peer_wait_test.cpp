// A peer never pins the engine, on both engines: a socket nobody reads, a pipe
// nobody drains, a FIFO nobody opens or writes slows only its own op. With a pool
// of one worker, every such op is left waiting while a regular file's open and
// read still go through, and each waiting op finishes once its peer acts.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "op_helpers.hpp"
#include "ringfile/op_timeout.hpp"

namespace ringfile::test {
namespace {

using namespace std::chrono_literals;

class PeerWaitTest : public EngineTest {
 protected:
  void SetUp() override {
    if (auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    EngineOptions o = options();
    o.workers = 1;  // one peer holding a worker would stop everything
    auto e = Engine::create(o);
    ASSERT_TRUE(e) << e.error().message();
    engine_.emplace(std::move(*e));
    write_plain(dir_.file("regular"), "payload");
  }

  // A regular file still opens and reads, within a time no queue behind a pinned
  // worker would give.
  void expect_regular_io_goes_on() {
    const auto start = std::chrono::steady_clock::now();
    auto f = open_sync(engine(), dir_.file("regular"), O_RDONLY);
    ASSERT_TRUE(f) << f.error().message();
    char buf[7];
    auto n = read_sync(engine(), *f, buf, sizeof buf, 0);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(std::string(buf, *n), "payload");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << engine().describe();
  }

  // Runs the engine until every flag is set, or 10 s.
  bool run_until(const std::vector<bool>& done) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    auto all = [&] {
      for (bool d : done) {
        if (!d) return false;
      }
      return true;
    };
    while (!all() && std::chrono::steady_clock::now() < give_up) (void)engine().wait(20ms);
    return all();
  }

  std::string make_fifo(const std::string& name) {
    const std::string path = dir_.file(name);
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0);
    return path;
  }
};

// Reads everything from fd until end of file.
std::size_t drain(int fd) {
  std::size_t total = 0;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) total += static_cast<std::size_t>(n);
  return total;
}

TEST_P(PeerWaitTest, ClientsThatStopReadingHoldNoWorker) {
  const std::string data = random_bytes(4u << 20, 61);
  write_plain(dir_.file("big"), data);
  auto big = open_sync(engine(), dir_.file("big"), O_RDONLY);
  ASSERT_TRUE(big) << big.error().message();
  // Non-blocking and blocking sockets, and a blocking pipe: none is read yet.
  struct Peer {
    int send_fd;
    int read_fd;
  };
  std::vector<Peer> peers;
  for (int kind = 0; kind < 3; ++kind) {
    for (int i = 0; i < 2; ++i) {
      int fds[2];
      if (kind == 2) {
        ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        peers.push_back({fds[1], fds[0]});
      } else {
        const int type = SOCK_STREAM | SOCK_CLOEXEC | (kind == 0 ? SOCK_NONBLOCK : 0);
        ASSERT_EQ(::socketpair(AF_UNIX, type, 0, fds), 0);
        ASSERT_EQ(::fcntl(fds[1], F_SETFL, 0), 0);
        peers.push_back({fds[0], fds[1]});
      }
    }
  }
  std::vector<bool> done(peers.size(), false);
  std::vector<Result<std::size_t>> results(peers.size(), Result<std::size_t>(std::size_t{0}));
  for (std::size_t i = 0; i < peers.size(); ++i) {
    big->send_to(peers[i].send_fd, 0, data.size(), [&, i](Result<std::size_t> r) {
      results[i] = r;
      done[i] = true;
    });
  }
  for (int i = 0; i < 10; ++i) (void)engine().wait(10ms);
  for (std::size_t i = 0; i < peers.size(); ++i) ASSERT_FALSE(done[i]) << "4 MiB fit into a peer nobody reads";
  expect_regular_io_goes_on();
  // The peers read at last: every transfer ends whole.
  std::vector<std::thread> readers;
  std::vector<std::size_t> got(peers.size(), 0);
  for (std::size_t i = 0; i < peers.size(); ++i) readers.emplace_back([&, i] { got[i] = drain(peers[i].read_fd); });
  ASSERT_TRUE(run_until(done));
  for (const Peer& p : peers) ::shutdown(p.send_fd, SHUT_WR), ::close(p.send_fd);
  for (auto& t : readers) t.join();
  for (std::size_t i = 0; i < peers.size(); ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << results[i].error().message();
    EXPECT_EQ(*results[i], data.size()) << i;
    EXPECT_EQ(got[i], data.size()) << i;
    ::close(peers[i].read_fd);
  }
}

TEST_P(PeerWaitTest, FifoOpensWaitingForAPartnerHoldNoWorker) {
  std::vector<std::string> readers_wanted, writers_wanted;
  for (int i = 0; i < 3; ++i) readers_wanted.push_back(make_fifo("r" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) writers_wanted.push_back(make_fifo("w" + std::to_string(i)));
  std::vector<std::optional<Result<File>>> opened(6);
  for (int i = 0; i < 3; ++i) {
    File::open(engine(), readers_wanted[i], O_RDONLY, 0, [&, i](Result<File> f) { opened[i].emplace(std::move(f)); });
    File::open(engine(), writers_wanted[i], O_WRONLY, 0,
               [&, i](Result<File> f) { opened[3 + i].emplace(std::move(f)); });
  }
  for (int i = 0; i < 10; ++i) (void)engine().wait(10ms);
  for (const auto& o : opened) ASSERT_FALSE(o) << "a FIFO open returned without its partner";
  expect_regular_io_goes_on();
  // Partners come: a writer for each read open, a reader for each write open.
  std::vector<std::thread> partners;
  for (const auto& path : readers_wanted) partners.push_back(feed_fifo(path, "from " + path));
  std::vector<int> reader_fds;
  for (const auto& path : writers_wanted) {
    reader_fds.push_back(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_GE(reader_fds.back(), 0);
  }
  std::vector<bool> done(6, false);
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  for (bool all = false; !all && std::chrono::steady_clock::now() < give_up;) {
    (void)engine().wait(20ms);
    all = true;
    for (const auto& o : opened) all = all && o.has_value();
  }
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(opened[i]) << i << " never opened";
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(*opened[i]) << opened[i]->error().message();
    File& f = **opened[i];
    // The descriptor blocks as open(2) would have made it.
    EXPECT_EQ(::fcntl(f.native_handle(), F_GETFL) & O_NONBLOCK, 0);
    char buf[64];
    std::string text;
    for (;;) {
      auto n = read_sync(engine(), f, buf, sizeof buf, kStreamOffset);
      ASSERT_TRUE(n) << n.error().message();
      if (*n == 0) break;
      text.append(buf, *n);
    }
    EXPECT_EQ(text, "from " + readers_wanted[i]);
  }
  for (int i = 3; i < 6; ++i) {
    ASSERT_TRUE(*opened[i]) << opened[i]->error().message();
    EXPECT_EQ(::fcntl((*opened[i])->native_handle(), F_GETFL) & O_NONBLOCK, 0);
  }
  for (auto& t : partners) t.join();
  for (int fd : reader_fds) ::close(fd);
}

TEST_P(PeerWaitTest, StreamReadsAndWritesWaitingOnAPeerHoldNoWorker) {
  // O_RDWR opens a FIFO without a partner; its reads then wait for data.
  std::vector<File> fifos;
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    paths.push_back(make_fifo("s" + std::to_string(i)));
    auto f = open_sync(engine(), paths.back(), O_RDWR);
    ASSERT_TRUE(f) << f.error().message();
    fifos.push_back(std::move(*f));
  }
  char bufs[3][16];
  std::vector<bool> done(4, false);
  std::vector<Result<std::size_t>> results(4, Result<std::size_t>(std::size_t{0}));
  for (int i = 0; i < 3; ++i) {
    fifos[i].read(bufs[i], sizeof bufs[i], kStreamOffset, [&, i](Result<std::size_t> r) {
      results[i] = r;
      done[i] = true;
    });
  }
  // A write into a full pipe waits for room.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(::fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
  std::string filler(1u << 20, 'f');
  std::size_t queued = 0;
  for (ssize_t n; (n = ::write(p[1], filler.data(), filler.size())) > 0;) queued += static_cast<std::size_t>(n);
  ASSERT_EQ(::fcntl(p[1], F_SETFL, 0), 0);
  const std::string self = "/proc/self/fd/" + std::to_string(p[1]);
  auto pipe_out = open_sync(engine(), self, O_WRONLY);
  ASSERT_TRUE(pipe_out) << pipe_out.error().message();
  const char tail[] = "tail";
  pipe_out->write(tail, 4, kStreamOffset, [&](Result<std::size_t> r) {
    results[3] = r;
    done[3] = true;
  });
  for (int i = 0; i < 10; ++i) (void)engine().wait(10ms);
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(done[i]) << i << " did not wait for its peer";
  expect_regular_io_goes_on();
  // The peers act: data into each FIFO, and the pipe drained.
  for (int i = 0; i < 3; ++i) {
    const int w = ::open(paths[i].c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(w, 0);
    ASSERT_EQ(::write(w, "ready", 5), 5);
    ::close(w);
  }
  std::thread drainer([&] {
    std::string got;
    char buf[65536];
    while (got.size() < queued + 4) {
      const ssize_t n = ::read(p[0], buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got.size(), queued + 4);
    EXPECT_EQ(got.substr(queued), "tail");
  });
  ASSERT_TRUE(run_until(done));
  drainer.join();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().message();
    EXPECT_EQ(std::string(bufs[i], *results[i]), "ready");
  }
  ASSERT_TRUE(results[3]) << results[3].error().message();
  EXPECT_EQ(*results[3], 4u);
  ::close(p[0]);
  ::close(p[1]);
}

// Cancel and teardown reach ops that wait on a peer, and leave no descriptor.
TEST_P(PeerWaitTest, OpsWaitingOnAPeerAreCancelledAndLeaveNothingBehind) {
  const std::string fifo = make_fifo("fifo");
  auto rw = open_sync(engine(), fifo, O_RDWR);
  ASSERT_TRUE(rw) << rw.error().message();
  // A FIFO without even the O_RDWR reader, for write opens that wait.
  const std::string lonely = make_fifo("lonely");
  // The first wait for a partner makes the engine's poller (on io_uring, in its
  // helper pool): count descriptors from then on.
  {
    std::optional<Result<File>> first;
    File::open(engine(), lonely, O_WRONLY, 0, [&](Result<File> f) { first.emplace(std::move(f)); });
    (void)engine().wait(20ms);
    engine().cancel_all();
    EXPECT_FALSE(await(engine(), first));
  }
  const int fds = open_fds();
  std::optional<Result<File>> read_open, write_open;
  File::open(engine(), fifo, O_RDONLY, 0, [&](Result<File> f) { read_open.emplace(std::move(f)); });
  File::open(engine(), lonely, O_WRONLY, 0, [&](Result<File> f) { write_open.emplace(std::move(f)); });
  char b[8];
  std::optional<Result<std::size_t>> read;
  rw->read(b, sizeof b, kStreamOffset, [&](Result<std::size_t> r) { read.emplace(r); });
  for (int i = 0; i < 5; ++i) (void)engine().wait(10ms);
  ASSERT_FALSE(read);
  rw->cancel_all();
  auto cancelled = await(engine(), read);
  ASSERT_FALSE(cancelled);
  EXPECT_EQ(cancelled.error(), std::errc::operation_canceled);
  // The read open is satisfied by the O_RDWR writer there; the write open waits.
  auto r = await(engine(), read_open);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(close_sync(engine(), *r));
  engine().cancel_all();
  auto w = await(engine(), write_open);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), std::errc::operation_canceled);
  EXPECT_EQ(open_fds(), fds) << "a cancelled wait kept a descriptor";
}

// OpTimeout holds for every step of send_to, the waits for the peer included.
TEST_P(PeerWaitTest, SendToAStalledPeerTimesOutUnderOpTimeout) {
  const std::string data = random_bytes(8u << 20, 62);
  write_plain(dir_.file("big"), data);
  auto big = open_sync(engine(), dir_.file("big"), O_RDONLY);
  ASSERT_TRUE(big) << big.error().message();
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s), 0);
  std::optional<Result<std::size_t>> done;
  const auto start = std::chrono::steady_clock::now();
  {
    OpTimeout limit(engine(), 100ms);
    big->send_to(s[0], 0, data.size(), [&](Result<std::size_t> r) { done.emplace(r); });
  }
  auto r = await(engine(), done);
  ASSERT_FALSE(r) << *r << " bytes reported as if the transfer were whole";
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(engine().stats().timers_armed, 0u);
  ::close(s[0]);
  ::close(s[1]);
}

INSTANTIATE_TEST_SUITE_P(Engines, PeerWaitTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
