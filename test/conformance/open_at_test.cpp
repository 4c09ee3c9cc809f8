// Dir and open_at on both engines: every escape fails with the kernel's errno,
// through openat2 and through the component walk used when openat2 is missing
// (ENOSYS injected through the seam).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

using namespace std::chrono_literals;
using detail::sys::Call;

enum class Path { Openat2, Walk };

class OpenAtTest : public ::testing::TestWithParam<std::tuple<Backend, Path>> {
 protected:
  void SetUp() override {
    detail::sys::clear_faults();
    if (auto why = skip_reason(backend()); !why.empty()) GTEST_SKIP() << why;
    auto e = Engine::create(options_for(backend()));
    ASSERT_TRUE(e) << e.error().message();
    engine_.emplace(std::move(*e));
    root_ = dir_.file("root");
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/sub").c_str(), 0755), 0);
    write_plain(root_ + "/sub/file", "inside");
    write_plain(dir_.file("outside"), "outside");
    ASSERT_EQ(::symlink("/etc", (root_ + "/link_etc").c_str()), 0);
    ASSERT_EQ(::symlink("../../outside", (root_ + "/sub/up").c_str()), 0);
    ASSERT_EQ(::symlink("sub/file", (root_ + "/rel").c_str()), 0);
    if (std::get<1>(GetParam()) == Path::Walk) {
      detail::sys::inject(fault(Call::openat2, 1, 1u << 30, -ENOSYS));
    }
  }
  void TearDown() override { detail::sys::clear_faults(); }

  Backend backend() const { return std::get<0>(GetParam()); }
  Engine& engine() { return *engine_; }

  Dir open_dir(const std::string& path) {
    auto d = call<Dir>(engine(), [&](auto cb) { Dir::open(engine(), path, std::move(cb)); });
    EXPECT_TRUE(d) << path << ": " << d.error().message();
    return d ? std::move(*d) : Dir{};
  }
  Result<File> open_in(Dir& dir, const std::string& path, Resolve resolve, int flags = O_RDONLY) {
    return call<File>(engine(), [&](auto cb) { open_at(dir, path, flags, 0644, resolve, std::move(cb)); });
  }
  std::string content(File& f) {
    char buf[64];
    auto n = read_sync(engine(), f, buf, sizeof buf, 0);
    EXPECT_TRUE(n);
    return n ? std::string(buf, *n) : std::string();
  }
  // Starts open_at of root/fifo, and checks that it waits, as open(2) does, until
  // `partner` opens the other end; returns the open's result.
  Result<File> open_fifo_with_partner(Dir& root, int flags, const std::function<void()>& partner) {
    std::optional<Result<File>> opened;
    open_at(root, "fifo", flags, 0, Resolve::Beneath, [&](Result<File> f) { opened.emplace(std::move(f)); });
    EXPECT_TRUE(engine().submit());
    const auto until = std::chrono::steady_clock::now() + 20ms;
    while (!opened && std::chrono::steady_clock::now() < until) (void)engine().wait(5ms);
    EXPECT_FALSE(opened.has_value()) << "opened before the other end of the FIFO was";
    partner();
    return await(engine(), opened);
  }
  // Reads a stream to its end.
  std::string drain(File& f) {
    std::string all;
    char buf[64 * 1024];
    for (;;) {
      auto n = read_sync(engine(), f, buf, sizeof buf, kStreamOffset);
      EXPECT_TRUE(n) << n.error().message();
      if (!n || *n == 0) return all;
      all.append(buf, *n);
    }
  }
  ::testing::AssertionResult fails_with(Dir& dir, const std::string& path, Resolve resolve, int err) {
    auto f = open_in(dir, path, resolve);
    if (f) return ::testing::AssertionFailure() << path << " opened";
    if (f.error().value() != err) {
      return ::testing::AssertionFailure() << path << ": " << f.error().message() << " instead of "
                                           << strerrorname_np(err);
    }
    return ::testing::AssertionSuccess();
  }

  TempDir dir_;
  std::optional<Engine> engine_;
  std::string root_;
};

TEST_P(OpenAtTest, OpensPathsBeneathTheDirectory) {
  Dir root = open_dir(root_);
  auto f = open_in(root, "sub/file", Resolve::Beneath);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(content(*f), "inside");
  auto via_link = open_in(root, "rel", Resolve::Beneath);
  ASSERT_TRUE(via_link) << via_link.error().message();
  EXPECT_EQ(content(*via_link), "inside");
  auto created = open_in(root, "sub/new", Resolve::Beneath | Resolve::NoSymlinks, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_EQ(::access((root_ + "/sub/new").c_str(), F_OK), 0);
  EXPECT_TRUE(fails_with(root, "sub/none", Resolve::Beneath, ENOENT));
}

TEST_P(OpenAtTest, DotDotPastTheRootIsEXDEV) {
  Dir root = open_dir(root_);
  EXPECT_TRUE(fails_with(root, "../outside", Resolve::Beneath, EXDEV));
  EXPECT_TRUE(fails_with(root, "sub/../../outside", Resolve::Beneath, EXDEV));
}

TEST_P(OpenAtTest, AnAbsolutePathIsEXDEV) {
  Dir root = open_dir(root_);
  EXPECT_TRUE(fails_with(root, "/etc/passwd", Resolve::Beneath, EXDEV));
  EXPECT_TRUE(fails_with(root, dir_.file("outside"), Resolve::Beneath, EXDEV));
}

TEST_P(OpenAtTest, ASymlinkToEtcIsEXDEVOrELOOP) {
  Dir root = open_dir(root_);
  EXPECT_TRUE(fails_with(root, "link_etc/passwd", Resolve::Beneath, EXDEV));
  EXPECT_TRUE(fails_with(root, "link_etc/passwd", Resolve::NoSymlinks, ELOOP));
}

TEST_P(OpenAtTest, ARelativeSymlinkClimbingOutIsEXDEV) {
  Dir root = open_dir(root_);
  EXPECT_TRUE(fails_with(root, "sub/up", Resolve::Beneath, EXDEV));
  EXPECT_TRUE(fails_with(root, "rel", Resolve::NoSymlinks, ELOOP));
}

TEST_P(OpenAtTest, ProcSelfRootMagicLinksAreRefused) {
  Dir proc_self = open_dir("/proc/self");
  EXPECT_TRUE(fails_with(proc_self, "root/etc/passwd", Resolve::Beneath, EXDEV));
  EXPECT_TRUE(fails_with(proc_self, "root/etc/passwd", Resolve::NoMagicLinks, ELOOP));
  EXPECT_TRUE(fails_with(proc_self, "cwd", Resolve::NoMagicLinks, ELOOP));
}

TEST_P(OpenAtTest, ASymlinkToADirectoryOpensWithODirectory) {
  ASSERT_EQ(::symlink("sub", (root_ + "/dirlink").c_str()), 0);
  Dir root = open_dir(root_);
  auto d = open_in(root, "dirlink", Resolve::Beneath, O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(d) << d.error().message();
  auto f = open_in(root, "dirlink/file", Resolve::Beneath);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(content(*f), "inside");
  auto not_dir = open_in(root, "rel", Resolve::Beneath, O_RDONLY | O_DIRECTORY);
  ASSERT_FALSE(not_dir);
  EXPECT_EQ(not_dir.error(), std::errc::not_a_directory);
}

TEST_P(OpenAtTest, ATrailingSlashAsksForADirectory) {
  Dir root = open_dir(root_);
  EXPECT_TRUE(fails_with(root, "sub/file/", Resolve::Beneath, ENOTDIR));
  EXPECT_TRUE(fails_with(root, "rel/", Resolve::Beneath, ENOTDIR));
  auto d = open_in(root, "sub/", Resolve::Beneath);
  EXPECT_TRUE(d) << d.error().message();
  auto created = open_in(root, "sub/new/", Resolve::Beneath, O_WRONLY | O_CREAT);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error(), std::errc::is_a_directory);
  EXPECT_NE(::access((root_ + "/sub/new").c_str(), F_OK), 0);
}

TEST_P(OpenAtTest, ADotDotThatStaysInsideIsAllowedUnderBeneath) {
  Dir root = open_dir(root_);
  auto f = open_in(root, "sub/../sub/./file", Resolve::Beneath);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(content(*f), "inside");
}

TEST_P(OpenAtTest, InRootResolvesAbsoluteSymlinksInsideTheDirectory) {
  ASSERT_EQ(::symlink("/sub/file", (root_ + "/abs").c_str()), 0);
  Dir root = open_dir(root_);
  for (const char* path : {"abs", "/sub/file", "../../sub/file", "/../sub/./file"}) {
    auto f = open_in(root, path, Resolve::InRoot);
    ASSERT_TRUE(f) << path << ": " << f.error().message();
    EXPECT_EQ(content(*f), "inside") << path;
  }
  EXPECT_TRUE(fails_with(root, "sub/up", Resolve::InRoot, ENOENT));  // ../../outside, from the root
  EXPECT_TRUE(fails_with(root, "abs", Resolve::InRoot | Resolve::Beneath, EINVAL));
}

// The link leads to the open file itself, not to its name, which is gone.
TEST_P(OpenAtTest, AProcFdLinkOfADeletedFileOpensItUnlessMagicLinksAreRefused) {
  const std::string gone = root_ + "/gone";
  write_plain(gone, "deleted");
  const int fd = ::open(gone.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(gone.c_str()), 0);
  Dir fds = open_dir("/proc/self/fd");
  const std::string name = std::to_string(fd);
  auto f = open_in(fds, name, Resolve::None);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(content(*f), "deleted");
  EXPECT_TRUE(fails_with(fds, name, Resolve::NoMagicLinks, ELOOP));
  EXPECT_TRUE(fails_with(fds, name, Resolve::NoSymlinks, ELOOP));
  EXPECT_TRUE(fails_with(fds, name, Resolve::Beneath, EXDEV));
  EXPECT_TRUE(fails_with(fds, name, Resolve::InRoot, EXDEV));
  EXPECT_TRUE(fails_with(fds, name, Resolve::NoXdev, EXDEV));
  ::close(fd);
}

// /proc/self is an ordinary symlink; only what it leads to holds magic links.
TEST_P(OpenAtTest, ProcSelfIsNoMagicLink) {
  Dir proc = open_dir("/proc");
  auto f = open_in(proc, "self/status", Resolve::NoMagicLinks);
  EXPECT_TRUE(f) << f.error().message();
}

TEST_P(OpenAtTest, CrossingAMountIsEXDEVUnderNoXdev) {
  Dir slash = open_dir("/");
  EXPECT_TRUE(fails_with(slash, "proc/version", Resolve::NoXdev, EXDEV));
}

TEST_P(OpenAtTest, BadInputFailsBeforeAnySyscall) {
  Dir root = open_dir(root_);
  count_syscalls();
  if (std::get<1>(GetParam()) == Path::Walk) detail::sys::inject(fault(Call::openat2, 1, 1u << 30, -ENOSYS));
  EXPECT_TRUE(fails_with(root, "", Resolve::Beneath, EINVAL));
  EXPECT_TRUE(fails_with(root, std::string("a\0b", 3), Resolve::Beneath, EINVAL));
  EXPECT_EQ(detail::sys::calls(Call::openat2), 0u);
  EXPECT_EQ(detail::sys::calls(Call::open), 0u);
  Dir closed;
  EXPECT_TRUE(fails_with(closed, "sub/file", Resolve::Beneath, EBADF));
  auto none = Dir::adopt(engine(), -1);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), std::errc::invalid_argument);
  const int file_fd = ::open((root_ + "/sub/file").c_str(), O_RDONLY | O_CLOEXEC);
  auto not_dir = Dir::adopt(engine(), file_fd);
  ASSERT_FALSE(not_dir);
  EXPECT_EQ(not_dir.error(), std::errc::invalid_argument);
  ::close(file_fd);
  auto opened_file = call<Dir>(engine(), [&](auto cb) { Dir::open(engine(), root_ + "/sub/file", std::move(cb)); });
  ASSERT_FALSE(opened_file);
  EXPECT_EQ(opened_file.error(), std::errc::not_a_directory);
}

TEST_P(OpenAtTest, SeamFaultsAreReportedAndLeakNothing) {
  Dir root = open_dir(root_);
  const int fds = open_fds();
  const bool walk = std::get<1>(GetParam()) == Path::Walk;
  // EINTR is retried; EMFILE is reported, from openat2 or from the walk's openat.
  detail::sys::inject(fault(walk ? Call::open : Call::openat2, 1, 1, -EINTR));
  auto retried = open_in(root, "sub/file", Resolve::Beneath);
  ASSERT_TRUE(retried) << retried.error().message();
  EXPECT_EQ(content(*retried), "inside");
  ASSERT_TRUE(close_sync(engine(), *retried));
  detail::sys::clear_faults();
  if (walk) {
    detail::sys::inject(fault(Call::openat2, 1, 1u << 30, -ENOSYS));
    detail::sys::inject(fault(Call::open, 2, 1, -EMFILE));  // the walk's step into sub/
  } else {
    detail::sys::inject(fault(Call::openat2, 1, 1, -EMFILE));
  }
  EXPECT_TRUE(fails_with(root, "sub/file", Resolve::Beneath, EMFILE));
  EXPECT_EQ(open_fds(), fds);
}

TEST_P(OpenAtTest, AwaitableForms) {
  auto root = await_op(engine(), Dir::open(engine(), root_));
  ASSERT_TRUE(root) << root.error().message();
  auto f = await_op(engine(), open_at(*root, "sub/file", O_RDONLY, 0, Resolve::Beneath));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(content(*f), "inside");
}

// A FIFO opened for reading waits for its writer on both engines, as open(2)
// does: io_uring opens it the non-blocking way first, which must not show.
TEST_P(OpenAtTest, AFifoOpenedForReadingWaitsForItsWriter) {
  ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0600), 0);
  Dir root = open_dir(root_);
  const std::string data = random_bytes(200 * 1024, 5);
  std::thread writer;
  auto f = open_fifo_with_partner(root, O_RDONLY, [&] { writer = feed_fifo(root_ + "/fifo", data); });
  ASSERT_TRUE(f) << f.error().message();
  const std::string got = drain(*f);
  writer.join();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST_P(OpenAtTest, AWriterThatComesBeforeTheDeadlineGivesAWorkingFile) {
  ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0600), 0);
  Dir root = open_dir(root_);
  std::thread writer;
  Result<File> f = errno_code(EINVAL);
  {
    OpTimeout limit(engine(), 10s);
    f = open_fifo_with_partner(root, O_RDONLY, [&] { writer = feed_fifo(root_ + "/fifo", "in time"); });
  }
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(drain(*f), "in time");
  writer.join();
  EXPECT_EQ(engine().stats().timers_armed, 0u);
}

TEST_P(OpenAtTest, AFifoThatNeverGetsAPartnerTimesOut) {
  ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0600), 0);
  Dir root = open_dir(root_);
  // The first wait on a partner makes the engine's poller (the pool's epoll set):
  // the second round must leave the descriptors as the first found them.
  int fds = -1;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) fds = open_fds();
    for (int flags : {O_RDONLY, O_WRONLY}) {
      std::optional<Result<File>> opened;
      {
        OpTimeout limit(engine(), 50ms);
        open_at(root, "fifo", flags, 0, Resolve::Beneath, [&](Result<File> f) { opened.emplace(std::move(f)); });
      }
      auto f = await(engine(), opened);
      ASSERT_FALSE(f) << (flags == O_RDONLY ? "a read open" : "a write open") << " returned without a partner";
      EXPECT_EQ(f.error(), std::errc::timed_out);
    }
  }
  EXPECT_EQ(engine().stats().timers_armed, 0u);
  EXPECT_EQ(open_fds(), fds) << "a descriptor of a timed-out open was kept";
  // The engine goes on: the next open_at has no deadline and works.
  auto plain = open_in(root, "sub/file", Resolve::Beneath);
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(content(*plain), "inside");
}

TEST_P(OpenAtTest, AFifoOpenedForWritingWaitsForAReader) {
  ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0600), 0);
  Dir root = open_dir(root_);
  // O_NONBLOCK with no reader: ENXIO, as open(2) says.
  auto refused = open_in(root, "fifo", Resolve::Beneath, O_WRONLY | O_NONBLOCK);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::no_such_device_or_address);

  int reader = -1;
  auto f = open_fifo_with_partner(root, O_WRONLY, [&] {
    reader = ::open((root_ + "/fifo").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  });
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(f) << "blocks until a reader comes, then opens: " << f.error().message();
  auto w = write_sync(engine(), *f, "hello", 5, kStreamOffset);
  ASSERT_TRUE(w) << w.error().message();
  char buf[8] = {};
  EXPECT_EQ(::read(reader, buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  ::close(reader);
}

std::string name(const ::testing::TestParamInfo<std::tuple<Backend, Path>>& info) {
  return std::string(std::get<0>(info.param) == Backend::IoUring ? "io_uring" : "threadpool") +
         (std::get<1>(info.param) == Path::Walk ? "_walk" : "_openat2");
}

INSTANTIATE_TEST_SUITE_P(Engines, OpenAtTest,
                         ::testing::Combine(::testing::ValuesIn(engines_under_test()),
                                            ::testing::Values(Path::Openat2, Path::Walk)),
                         name);

}  // namespace
}  // namespace ringfile::test
