// File::send_to on both engines: to pipes and sockets, a full non-blocking socket
// waited out with POLLOUT, a closed peer as EPIPE (never SIGPIPE).

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

using detail::sys::Call;

// Reads everything from fd until EOF on a thread of its own.
class Drain {
 public:
  explicit Drain(int fd) : thread_([this, fd] {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      got_.append(buf, static_cast<std::size_t>(n));
    }
  }) {}
  std::string take() {
    thread_.join();
    return std::move(got_);
  }

 private:
  std::string got_;
  std::thread thread_;
};

class SendToTest : public SeamTest {
 protected:
  File source(const std::string& data) {
    write_plain(dir_.file("src"), data);
    auto f = open_sync(engine(), dir_.file("src"), O_RDONLY);
    EXPECT_TRUE(f) << f.error().message();
    return f ? std::move(*f) : File{};
  }
  Result<std::size_t> send(File& f, int fd, std::int64_t offset, std::size_t length) {
    return call<std::size_t>(engine(), [&](auto cb) { f.send_to(fd, offset, length, std::move(cb)); });
  }
  // A socket pair whose sending end is non-blocking and receiving end blocking.
  static void socket_pair(int s[2]) {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s), 0);
    ASSERT_EQ(::fcntl(s[1], F_SETFL, 0), 0);
  }
  // Reads s[1] from now on, waits for the send that sets `done`, hangs up, and
  // checks that all of `data` arrived once.
  void expect_delivered(std::optional<Result<std::size_t>>& done, int s[2], const std::string& data) {
    Drain reader(s[1]);
    auto n = await(engine(), done);
    const std::string got = hang_up(s, reader);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(*n, data.size());
    EXPECT_TRUE(got == data);
  }
  // Ends the sending side, closes both, and returns what the reader got.
  static std::string hang_up(int s[2], Drain& reader) {
    ::shutdown(s[0], SHUT_WR);
    std::string got = reader.take();
    ::close(s[0]);
    ::close(s[1]);
    return got;
  }
};

TEST_P(SendToTest, SendsAFileToAPipe) {
  const std::string data = random_bytes(700001, 21);
  File f = source(data);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Drain reader(p[0]);
  auto n = send(f, p[1], 0, data.size());
  ::close(p[1]);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_TRUE(reader.take() == data);
  ::close(p[0]);
}

TEST_P(SendToTest, StopsAtEndOfFileAndSendsARange) {
  const std::string data = random_bytes(1000, 22);
  File f = source(data);
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  Drain reader(s[1]);
  auto range = send(f, s[0], 100, 200);
  ASSERT_TRUE(range) << range.error().message();
  EXPECT_EQ(*range, 200u);
  auto to_end = send(f, s[0], 500, 1u << 20);
  ASSERT_TRUE(to_end) << to_end.error().message();
  EXPECT_EQ(*to_end, 500u);
  EXPECT_TRUE(hang_up(s, reader) == data.substr(100, 200) + data.substr(500));
}

// The socket fills while nobody reads: the engine waits for POLLOUT (the op stays
// in flight) instead of spinning on EAGAIN, and every byte arrives once a reader comes.
TEST_P(SendToTest, AFullNonBlockingSocketIsWaitedOnNotSpunOn) {
  const std::string data = random_bytes(8u << 20, 23);
  File f = source(data);
  int s[2];
  socket_pair(s);  // the reader blocks; the sender does not
  count_syscalls();
  std::optional<Result<std::size_t>> done;
  f.send_to(s[0], 0, data.size(), [&](Result<std::size_t> r) { done.emplace(r); });
  for (int i = 0; i < 20 && !done; ++i) (void)engine().wait(std::chrono::milliseconds(5));
  ASSERT_FALSE(done) << "8 MiB fit into a socket nobody reads";
  const std::uint64_t sends_while_full = detail::sys::calls(Call::splice) + detail::sys::calls(Call::sendfile);
  expect_delivered(done, s, data);
  // About 100 ms without a reader: a spinning sender would have made thousands of calls.
  EXPECT_LT(sends_while_full, 400u);
}

TEST_P(SendToTest, AClosedPeerIsEPIPENotSIGPIPE) {
  const std::string data = random_bytes(1u << 20, 24);
  File f = source(data);
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  ::close(s[1]);
  auto n = send(f, s[0], 0, data.size());  // SIGPIPE would end this process here
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error() == std::errc::broken_pipe || n.error() == std::errc::connection_reset)
      << n.error().message();
  ::close(s[0]);
  // The engine's pipe is clean for the next transfer.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Drain reader(p[0]);
  auto again = send(f, p[1], 0, 4096);
  ::close(p[1]);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(reader.take() == data.substr(0, 4096));
  ::close(p[0]);
}

// The pool's sendfile: faults the seam injects lose no bytes.
TEST_P(SendToTest, SendfileFaultsLoseNoBytes) {
  if (GetParam() == Backend::IoUring) {
    GTEST_SKIP() << "io_uring splices, and an injected splice result would misstate what the kernel moved; "
                    "its error paths are covered by SpliceErrorsAreReported";
  }
  const std::string data = random_bytes(300000, 25);
  File f = source(data);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Drain reader(p[0]);
  detail::sys::inject(fault(Call::sendfile, 1, 1, -EINTR));
  detail::sys::inject(fault(Call::sendfile, 2, 1, -EAGAIN));
  detail::sys::inject(fault(Call::sendfile, 3, 3, 0, std::size_t{1000}));
  auto n = send(f, p[1], 0, data.size());
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  // A broken pipe stays broken: every sendfile from now on, the owner's and the engine's.
  detail::sys::inject(fault(Call::sendfile, 1, 100, -EPIPE));
  auto broken = send(f, p[1], 0, data.size());
  ASSERT_FALSE(broken) << *broken << " bytes, sendfile calls " << detail::sys::calls(Call::sendfile);
  EXPECT_EQ(broken.error(), std::errc::broken_pipe);
  ::close(p[1]);
  EXPECT_TRUE(reader.take() == data);
  ::close(p[0]);
}

TEST_P(SendToTest, SpliceErrorsAreReported) {
  if (GetParam() == Backend::ThreadPool) GTEST_SKIP() << "the pool sends with sendfile (SendfileFaultsLoseNoBytes)";
  // Cached data would go to the pipe with the owner's sendfile, past the splices.
  EngineOptions no_owner_sends = options();
  no_owner_sends.cached_read_fast_path = false;
  engine_.reset();
  auto made = Engine::create(no_owner_sends);
  ASSERT_TRUE(made) << made.error().message();
  engine_.emplace(std::move(*made));
  const std::string data = random_bytes(200000, 26);
  File f = source(data);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Drain reader(p[0]);
  detail::sys::inject(fault(Call::splice, 1, 1, -EIO));  // file -> pipe
  auto n = send(f, p[1], 0, data.size());
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), std::errc::io_error);
  detail::sys::clear_faults();
  // The injected error stood for a splice the kernel did: what it moved may have
  // reached the reader. The next transfer still sends every byte, in order.
  auto whole = send(f, p[1], 0, data.size());
  ::close(p[1]);
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(*whole, data.size());
  const std::string got = reader.take();
  ASSERT_GE(got.size(), data.size());
  EXPECT_TRUE(got.compare(got.size() - data.size(), data.size(), data) == 0);
  ::close(p[0]);
}

TEST_P(SendToTest, BadInputFailsBeforeAnySyscall) {
  File f = source("abc");
  count_syscalls();
  for (auto [fd, offset, length] : {std::tuple<int, std::int64_t, std::size_t>{-1, 0, 3}, {1, -4, 3},
                                    {1, 0, static_cast<std::size_t>(-5)}}) {
    auto n = send(f, fd, offset, length);
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error(), std::errc::invalid_argument);
  }
  EXPECT_EQ(detail::sys::calls(Call::splice) + detail::sys::calls(Call::sendfile), 0u);
  File closed;
  auto n = send(closed, 1, 0, 3);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), std::errc::bad_file_descriptor);
}

TEST_P(SendToTest, AwaitableForm) {
  const std::string data = random_bytes(5000, 27);
  File f = source(data);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Drain reader(p[0]);
  auto n = await_op(engine(), f.send_to(p[1], 0, data.size()));
  ::close(p[1]);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_TRUE(reader.take() == data);
  ::close(p[0]);
}

// The cached-data fast path: sendfile on the owner thread when cachestat says the
// range is cached and the out fd is O_NONBLOCK; the engine's route otherwise.
class SendCachedTest : public SendToTest {
 protected:
  void SetUp() override {
    SendToTest::SetUp();
    if (IsSkipped()) return;
    write_plain(dir_.file("probe"), "x");
    const int fd = ::open(dir_.file("probe").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const bool known = detail::sys::uncached_pages(fd, 0, 1) >= 0;
    ::close(fd);
    if (!known) GTEST_SKIP() << "cachestat(2) (Linux 6.5) is needed to know a range is cached";
  }
  void TearDown() override {
    if (reader_) (void)hang_up();  // a test that stopped early: the reader must still end
    SendToTest::TearDown();
  }
  std::uint64_t fast_sends() { return engine().stats().fast_path_sends; }
  // A socket pair (see socket_pair) into s_, whose receiving end a Drain reads from now on.
  void connect() {
    socket_pair(s_);
    reader_.emplace(s_[1]);
  }
  using SendToTest::hang_up;
  std::string hang_up() {
    std::string got = hang_up(s_, *reader_);
    reader_.reset();
    return got;
  }

  int s_[2] = {-1, -1};
  std::optional<Drain> reader_;
};

TEST_P(SendCachedTest, CachedDataToANonBlockingSocketIsSentOnTheOwnerThread) {
  const std::string data = random_bytes(4096, 41);
  File f = source(data);  // just written: every page is cached
  int s[2];
  socket_pair(s);
  const EngineStats before = engine().stats();
  count_syscalls();
  std::optional<Result<std::size_t>> done;
  f.send_to(s[0], 0, data.size(), [&](Result<std::size_t> r) { done.emplace(r); });
  EXPECT_FALSE(done) << "the callback ran inside send_to";
  EXPECT_EQ(fast_sends(), 1u);
  EXPECT_EQ(detail::sys::calls(Call::sendfile), 1u);
  EXPECT_EQ(detail::sys::calls(Call::splice), 0u);
  auto n = await(engine(), done);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(engine().stats().kernel_enters, before.kernel_enters) << "no kernel hand-off for cached data";
  EXPECT_EQ(engine().stats().worker_wakeups, before.worker_wakeups) << "no worker hand-off for cached data";
  Drain reader(s[1]);
  EXPECT_TRUE(hang_up(s, reader) == data);
}

TEST_P(SendCachedTest, ColdDataIsSentByTheEngine) {
  const std::string data = random_bytes(256u << 10, 42);
  File f = source(data);
  const int fd = ::open(dir_.file("src").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fdatasync(fd), 0);
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  const std::int64_t uncached = detail::sys::uncached_pages(fd, 0, data.size());
  ::close(fd);
  if (uncached <= 0) GTEST_SKIP() << "POSIX_FADV_DONTNEED leaves this filesystem's pages cached (tmpfs?)";
  connect();
  auto n = send(f, s_[0], 0, data.size());
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(fast_sends(), 0u) << "uncached pages were read on the owner thread";
  EXPECT_TRUE(hang_up() == data);
}

// Nobody reads yet: the owner's sendfile fills the socket and stops short; the
// engine sends the rest once it drains, every byte once and in order.
TEST_P(SendCachedTest, AShortOwnerSendGoesOnThroughTheEngine) {
  const std::string data = random_bytes(1u << 20, 43);
  File f = source(data);
  int s[2];
  socket_pair(s);
  std::optional<Result<std::size_t>> done;
  f.send_to(s[0], 0, data.size(), [&](Result<std::size_t> r) { done.emplace(r); });
  int queued = 0;
  ASSERT_EQ(::ioctl(s[1], FIONREAD, &queued), 0);
  EXPECT_GT(queued, 0) << "the owner thread sent nothing";
  EXPECT_LT(static_cast<std::size_t>(queued), data.size()) << "1 MiB fit into an unread socket";
  EXPECT_EQ(fast_sends(), 1u);
  expect_delivered(done, s, data);
}

// Cached data larger than the socket's buffer: after each full socket the engine
// waits for room and the owner sends the next part, with no splice or worker
// sendfile at all, every byte once and in order.
TEST_P(SendCachedTest, CachedDataGoesOnFromTheOwnerEachTimeTheSocketHasRoom) {
  const std::string data = random_bytes(4u << 20, 47);
  File f = source(data);
  connect();
  detail::sys::start_trace();
  auto n = send(f, s_[0], 0, data.size());
  detail::sys::stop_trace();
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_GT(fast_sends(), 1u) << "only the first part went from the owner";
  // The engine's route may take the rest only as send_to's rule says: once the
  // owner found the socket full again after POLLOUT kFullRetries + 1 (17) times
  // in a row, which a loaded machine's loopback can do. Up to there every
  // sendfile ran on the owner.
  const auto log = detail::sys::trace_log();
  const auto first_splice =
      std::find_if(log.begin(), log.end(), [](const detail::sys::TraceEvent& e) { return e.call == Call::splice; });
  int full_in_a_row = 0;
  for (auto e = log.begin(); e != first_splice; ++e) {
    if (e->call != Call::sendfile) continue;
    EXPECT_EQ(e->thread, std::this_thread::get_id()) << "a worker sent cached data";
    if (e->phase == detail::sys::Phase::end) full_in_a_row = e->res == -EAGAIN ? full_in_a_row + 1 : 0;
  }
  if (first_splice != log.end()) {
    EXPECT_GE(full_in_a_row, 17) << "cached data went through the splice route while the owner could send it";
  }
  EXPECT_TRUE(hang_up() == data);
}

// The socket said writable, yet the owner's next sendfile finds it full (EAGAIN):
// the owner waits for room again; the cached rest does not fall to the engine's route.
TEST_P(SendCachedTest, ASocketFullAgainAfterPolloutIsWaitedForNotHandedOver) {
  const std::string data = random_bytes(4u << 20, 53);
  File f = source(data);
  connect();
  detail::sys::inject(fault(Call::sendfile, 2, 1, -EAGAIN));
  detail::sys::start_trace();
  auto n = send(f, s_[0], 0, data.size());
  detail::sys::stop_trace();
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_GT(fast_sends(), 1u);
  for (const auto& e : detail::sys::trace_log()) {
    EXPECT_NE(e.call, Call::splice) << "cached data went through the splice route";
    if (e.call == Call::sendfile) {
      EXPECT_EQ(e.thread, std::this_thread::get_id()) << "a worker sent cached data";
    }
  }
  EXPECT_TRUE(hang_up() == data);
}

// A range past the end of the file is clamped to it, not taken for uncached pages;
// an offset at the end sends nothing.
TEST_P(SendCachedTest, ARangePastTheEndIsSentToTheEnd) {
  const std::string data = random_bytes(10000, 44);
  File f = source(data);
  connect();
  auto n = send(f, s_[0], 3000, 1u << 30);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size() - 3000);
  EXPECT_EQ(fast_sends(), 1u);
  auto none = send(f, s_[0], static_cast<std::int64_t>(data.size()), 100);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(*none, 0u);
  EXPECT_TRUE(hang_up() == data.substr(3000));
}

// A blocking socket could hold the owner thread until the peer reads; a blocking
// pipe is written through a non-blocking descriptor of the engine's own, which the
// owner may use, and the caller's descriptor keeps its flags.
TEST_P(SendCachedTest, ABlockingOutFdIsLeftToTheEngine) {
  const std::string data = random_bytes(4096, 45);
  File f = source(data);
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Drain from_socket(s[1]);
  Drain from_pipe(p[0]);
  auto to_socket = send(f, s[0], 0, data.size());
  EXPECT_EQ(fast_sends(), 0u);
  auto to_pipe = send(f, p[1], 0, data.size());
  EXPECT_EQ(::fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
  ::shutdown(s[0], SHUT_WR);
  ::close(p[1]);
  ASSERT_TRUE(to_socket) << to_socket.error().message();
  ASSERT_TRUE(to_pipe) << to_pipe.error().message();
  EXPECT_TRUE(from_socket.take() == data);
  EXPECT_TRUE(from_pipe.take() == data);
  for (int fd : {s[0], s[1], p[0]}) ::close(fd);
}

// sendfile has no MSG_NOSIGNAL: on the calling thread, where SIGPIPE's default
// action ends the program, a peer that is gone must still be EPIPE, with no
// SIGPIPE left pending and the thread's signal mask as it was.
TEST_P(SendCachedTest, AClosedPeerIsEPIPEOnTheOwnerThreadToo) {
  struct sigaction old_action {};
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &default_action, &old_action), 0);
  const std::string data = random_bytes(4096, 47);
  File f = source(data);
  int s[2];
  socket_pair(s);
  ::close(s[1]);
  count_syscalls();
  auto n = send(f, s[0], 0, data.size());
  ::close(s[0]);
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error() == std::errc::broken_pipe || n.error() == std::errc::connection_reset)
      << n.error().message();
  if (GetParam() == Backend::IoUring) {
    EXPECT_EQ(detail::sys::calls(Call::sendfile), 1u) << "the owner thread did not try";
  }
  sigset_t pending;
  ASSERT_EQ(::sigpending(&pending), 0);
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
  sigset_t mask;
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &mask), 0);
  EXPECT_FALSE(sigismember(&mask, SIGPIPE));
  ASSERT_EQ(::sigaction(SIGPIPE, &old_action, nullptr), 0);
}

// Residency unknown (no cachestat), a full socket (EAGAIN), or the fast path
// turned off: the engine sends it all.
TEST_P(SendCachedTest, WhenTheOwnerCannotSendTheEngineDoes) {
  const std::string data = random_bytes(4096, 46);
  File f = source(data);
  connect();
  detail::sys::inject(fault(Call::cachestat, 1, 1000, -ENOSYS));
  auto unknown = send(f, s_[0], 0, data.size());
  detail::sys::clear_faults();
  ASSERT_TRUE(unknown) << unknown.error().message();
  EXPECT_EQ(fast_sends(), 0u);
  File g = source(data);  // a new file: the first one remembers cachestat's ENOSYS
  detail::sys::inject(fault(Call::sendfile, 1, 1, -EAGAIN));
  auto full = send(g, s_[0], 0, data.size());
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_EQ(fast_sends(), 0u);
  EngineOptions o = options();
  o.cached_read_fast_path = false;
  auto other = Engine::create(o);
  ASSERT_TRUE(other) << other.error().message();
  auto h = open_sync(*other, dir_.file("src"), O_RDONLY);
  ASSERT_TRUE(h);
  auto off = call<std::size_t>(*other, [&](auto cb) { h->send_to(s_[0], 0, data.size(), std::move(cb)); });
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_EQ(other->stats().fast_path_sends, 0u);
  EXPECT_TRUE(hang_up() == data + data + data);
}

INSTANTIATE_TEST_SUITE_P(Engines, SendCachedTest, ::testing::ValuesIn(engines_under_test()), backend_name);

INSTANTIATE_TEST_SUITE_P(Engines, SendToTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
