// read_file, write_file and write_file_atomic on both engines, including an
// atomic write that is SIGKILLed at random moments.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "op_helpers.hpp"
#include "sys/sys.hpp"

namespace ringfile::test {
namespace {

namespace sfs = std::filesystem;
namespace sys = ringfile::detail::sys;
using namespace std::chrono_literals;

class WholeFileTest : public EngineTest {
 protected:
  void TearDown() override { sys::clear_faults(); }

  Result<std::string> read_file(const std::string& p) {
    return call<std::string>(engine(), [&](auto cb) { fs::read_file(engine(), p, std::move(cb)); });
  }
  Result<void> write_file(const std::string& p, std::string data, mode_t mode = 0666) {
    return call<void>(engine(), [&](auto cb) { fs::write_file(engine(), p, std::move(data), mode, std::move(cb)); });
  }
  Result<void> write_file_atomic(const std::string& p, std::string data) {
    return call<void>(engine(), [&](auto cb) { fs::write_file_atomic(engine(), p, std::move(data), std::move(cb)); });
  }
  // Names in the test directory other than `keep`.
  std::vector<std::string> others(const std::string& keep) const {
    std::vector<std::string> out;
    for (const auto& e : sfs::directory_iterator(dir_.path())) {
      if (e.path().filename() != keep) out.push_back(e.path().filename().string());
    }
    return out;
  }
};

TEST_P(WholeFileTest, ReadFileOfVariousSizes) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{8 * 1024 * 1024 + 3}}) {
    SCOPED_TRACE(size);
    const std::string p = dir_.file("f");
    const std::string data = random_bytes(size, static_cast<std::uint32_t>(size));
    write_plain(p, data);
    auto got = read_file(p);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_TRUE(*got == data);
  }
}

TEST_P(WholeFileTest, ReadFileClosesTheFile) {
  const std::string p = dir_.file("f");
  write_plain(p, "data");
  const int before = open_fds();
  ASSERT_TRUE(read_file(p));
  EXPECT_FALSE(read_file(dir_.file("missing")));
  EXPECT_EQ(open_fds(), before);
}

TEST_P(WholeFileTest, ReadFileOfProcAndSysFiles) {
  // /proc reports size 0 for files with content.
  auto cmdline = read_file("/proc/self/cmdline");
  ASSERT_TRUE(cmdline) << cmdline.error().message();
  EXPECT_EQ(*cmdline, read_plain("/proc/self/cmdline"));
  auto maps = read_file("/proc/self/maps");
  ASSERT_TRUE(maps);
  EXPECT_GT(maps->size(), 4096u) << "more than the first guess, read until end of file";
  EXPECT_EQ(maps->back(), '\n');
  // sysfs reports 4096 for a few bytes: the file is "shorter than its size".
  const std::string online = "/sys/devices/system/cpu/online";
  if (sfs::exists(online)) {
    auto got = read_file(online);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, read_plain(online));
  }
}

TEST_P(WholeFileTest, ReadFileSurvivesShortReads) {
  const std::string p = dir_.file("f");
  const std::string data = random_bytes(300000, 8);
  write_plain(p, data);
  sys::clear_faults();
  sys::inject(fault(sys::Call::read, 1, 40, 0, 1000));
  sys::inject(fault(sys::Call::read_nowait, 1, 40, 0, 1000));
  auto got = read_file(p);
  sys::clear_faults();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(*got == data);
}

TEST_P(WholeFileTest, ReadFileErrors) {
  auto missing = read_file(dir_.file("missing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
  auto dir = read_file(dir_.path().string());
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error(), std::errc::is_a_directory);
  auto nul = read_file(std::string("a\0b", 3));
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error(), std::errc::invalid_argument);
  write_plain(dir_.file("file"), "x");
  auto under_file = read_file(dir_.file("file/x"));
  ASSERT_FALSE(under_file);
  EXPECT_EQ(under_file.error(), std::errc::not_a_directory);
}

TEST_P(WholeFileTest, WriteFileCreatesAndTruncates) {
  const std::string p = dir_.file("f");
  ASSERT_TRUE(write_file(p, "a long first version", 0600));
  EXPECT_EQ(read_plain(p), "a long first version");
  struct ::stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(write_file(p, "short"));
  EXPECT_EQ(read_plain(p), "short");
  ASSERT_TRUE(write_file(p, ""));
  EXPECT_EQ(read_plain(p), "");
  const std::string big = random_bytes(5 * 1024 * 1024 + 1, 2);
  ASSERT_TRUE(write_file(p, big));
  EXPECT_TRUE(read_plain(p) == big);
}

TEST_P(WholeFileTest, WriteFileErrors) {
  auto missing = write_file(dir_.file("missing/f"), "x");
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
  auto dir = write_file(dir_.path().string(), "x");
  EXPECT_EQ(dir.error(), std::errc::is_a_directory);
  sys::clear_faults();
  sys::inject(fault(sys::Call::write, 1, 1, -ENOSPC));
  auto full = write_file(dir_.file("f"), "x");
  EXPECT_EQ(full.error(), std::errc::no_space_on_device);
}

TEST_P(WholeFileTest, WriteFileAtomicReplacesAndLeavesNothingBehind) {
  const std::string p = dir_.file("target");
  ASSERT_TRUE(write_file_atomic(p, "first"));
  EXPECT_EQ(read_plain(p), "first");
  ASSERT_TRUE(write_file_atomic(p, "second, longer"));
  EXPECT_EQ(read_plain(p), "second, longer");
  ASSERT_TRUE(write_file_atomic(p, ""));
  EXPECT_EQ(read_plain(p), "");
  EXPECT_TRUE(others("target").empty());
}

TEST_P(WholeFileTest, WriteFileAtomicFailuresLeaveTheTargetAndNoTempFile) {
  const std::string p = dir_.file("target");
  write_plain(p, "original");
  struct Case {
    const char* what;
    sys::Fault fault;
    std::errc want;
  };
  const Case cases[] = {
      {"write", fault(sys::Call::write, 1, 1, -ENOSPC), std::errc::no_space_on_device},
      {"fsync", fault(sys::Call::fsync, 1, 1, -EIO), std::errc::io_error},
      {"rename", fault(sys::Call::rename, 1, 1, -EXDEV), std::errc::cross_device_link},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    sys::clear_faults();
    sys::inject(c.fault);
    auto r = write_file_atomic(p, "replacement");
    sys::clear_faults();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), c.want);
    const std::string now = read_plain(p);
    if (c.fault.call == sys::Call::rename && GetParam() == Backend::IoUring) {
      // io_uring's seam rewrites the result after the kernel renamed: the file is
      // whole either way, which is what matters.
      EXPECT_TRUE(now == "original" || now == "replacement") << now;
      write_plain(p, "original");
    } else {
      EXPECT_EQ(now, "original");
    }
    EXPECT_TRUE(others("target").empty()) << others("target").front();
  }
  // The target is a non-empty directory: the rename fails; the temp file goes.
  sfs::create_directory(dir_.file("dir"));
  write_plain(dir_.file("dir/x"), "x");
  auto r = write_file_atomic(dir_.file("dir"), "data");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::is_a_directory);
  auto left = others("target");
  EXPECT_EQ(left, std::vector<std::string>{"dir"});
  auto missing = write_file_atomic(dir_.file("missing/f"), "x");
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
}

TEST_P(WholeFileTest, WriteFileWritesAFifoInOrder) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // a reader, so the open does not wait
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(write_file(fifo, "through a fifo")) << "a FIFO has no offset 0 to write at";
  char buf[64];
  const ssize_t n = ::read(reader, buf, sizeof buf);
  ::close(reader);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0))), "through a fifo");
}

TEST_P(WholeFileTest, WriteFileOntoAFullFilesystemFailsWithENOSPC) {
  SmallTmpfs small(dir_.file("small"), "1m");
  if (!small.reason().empty()) GTEST_SKIP() << small.reason();
  auto plain = write_file(small.file("plain"), random_bytes(4u << 20, 50));
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error(), std::errc::no_space_on_device);
  ::unlink(small.file("plain").c_str());
  write_plain(small.file("target"), "original");
  auto atomic = write_file_atomic(small.file("target"), random_bytes(4u << 20, 51));
  ASSERT_FALSE(atomic);
  EXPECT_EQ(atomic.error(), std::errc::no_space_on_device);
  EXPECT_EQ(read_plain(small.file("target")), "original");
}

// --- Deadlines ---------------------------------------------------------------------
// An OpTimeout around a helper gives each of its ops the deadline, also those
// started from completions after the scope has ended.

TEST_P(WholeFileTest, ReadFileFromAStalledFifoEndsAtTheDeadline) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // stays open, writes no more
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::write(writer, "first", 5), 5);
  std::optional<Result<std::string>> done;
  {
    OpTimeout limit(engine(), 100ms);
    fs::read_file(engine(), fifo, [&](Result<std::string> r) { done.emplace(std::move(r)); });
  }
  const bool ended = await_for(engine(), done, 3s);
  ::close(writer);
  auto got = await(engine(), done);
  EXPECT_TRUE(ended) << "read_file waited on the stalled writer past its deadline";
  ASSERT_FALSE(got) << "read " << *got;
  EXPECT_EQ(got.error(), std::errc::timed_out);
}

TEST_P(WholeFileTest, WriteFileToAStalledFifoEndsAtTheDeadline) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);  // reads nothing until told
  ASSERT_GE(reader, 0);
  std::optional<Result<void>> done;
  {
    OpTimeout limit(engine(), 100ms);
    // Far more than a pipe holds.
    fs::write_file(engine(), fifo, random_bytes(4u << 20, 52), [&](Result<void> r) { done.emplace(r); });
  }
  const bool ended = await_for(engine(), done, 3s);
  // A write that waits on past its deadline gets its reader now.
  char sink[65536];
  while (!done) {
    while (::read(reader, sink, sizeof sink) > 0) {
    }
    (void)await_for(engine(), done, 10ms);
  }
  ::close(reader);
  EXPECT_TRUE(ended) << "write_file waited on the stalled reader past its deadline";
  ASSERT_FALSE(*done);
  EXPECT_EQ(done->error(), std::errc::timed_out);
}

// The steps of a helper run (numbered by the completions delivered before them)
// during which the engine held an op with no deadline.
template <class T>
std::set<std::uint64_t> steps_without_deadline(Engine& engine, std::optional<T>& done, std::uint64_t first) {
  std::set<std::uint64_t> out;
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (!done && std::chrono::steady_clock::now() < limit) {
    const EngineStats s = engine.stats();
    if (engine.pending() > 0 && s.timers_armed == 0) out.insert(s.completed - first);
    auto r = engine.wait(10ms);
    if (!r) ADD_FAILURE() << "wait: " << r.error().message();
  }
  EXPECT_TRUE(done) << "the helper did not finish";
  return out;
}

TEST_P(WholeFileTest, EveryStepOfWriteFileAtomicHasTheDeadline) {
  const std::uint64_t first = engine().stats().completed;
  std::optional<Result<void>> done;
  {
    OpTimeout limit(engine(), 30s);
    fs::write_file_atomic(engine(), dir_.file("target"), "content", [&](Result<void> r) { done.emplace(r); });
  }
  const auto bare = steps_without_deadline(engine(), done, first);
  ASSERT_TRUE(done && *done);
  // Its ops: open, write, fsync, close, rename, open the directory, fsync, close.
  // A close never times out: it must happen.
  for (std::uint64_t step : bare) EXPECT_TRUE(step == 3 || step == 7) << "step " << step << " has no deadline";
  EXPECT_EQ(read_plain(dir_.file("target")), "content");
}

TEST_P(WholeFileTest, AwaitableForms) {
  const std::string p = dir_.file("f");
  auto body = [&]() -> Task<void> {
    EXPECT_TRUE(co_await fs::write_file(engine(), p, "plain"));
    auto a = co_await fs::read_file(engine(), p);
    EXPECT_TRUE(a && *a == "plain");
    EXPECT_TRUE(co_await fs::write_file_atomic(engine(), p, std::string(100000, 'q')));
    auto b = co_await fs::read_file(engine(), p);
    EXPECT_TRUE(b && *b == std::string(100000, 'q'));
  };
  sync_wait(engine(), body());
}

// The child: replaces `target` with alternating contents as fast as it can.
[[noreturn]] void rewrite_forever(Backend backend, const std::string& target, const std::string& a,
                                  const std::string& b) {
  auto engine = Engine::create(options_for(backend));
  if (!engine) ::_exit(3);
  for (unsigned i = 0;; ++i) {
    std::optional<Result<void>> done;
    fs::write_file_atomic(*engine, target, i % 2 == 0 ? b : a, [&](Result<void> r) { done.emplace(r); });
    while (!done) (void)engine->wait();
    if (!*done) ::_exit(4);
  }
}

TEST_P(WholeFileTest, AtomicWriteIsWhollyOldOrNewAfterSigkill) {
  const std::string target = dir_.file("target");
  const std::string a(64 * 1024, 'A'), b(96 * 1024, 'B');
  write_plain(target, a);
  std::mt19937 rng(12345);
  int saw_a = 0, saw_b = 0;
  for (int i = 0; i < 200; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) rewrite_forever(GetParam(), target, a, b);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself: status " << status;
    const std::string content = read_plain(target);
    if (content == a) {
      ++saw_a;
    } else if (content == b) {
      ++saw_b;
    } else {
      FAIL() << "kill " << i << ": the file holds " << content.size() << " bytes, neither version";
    }
    for (const auto& name : others("target")) sfs::remove(dir_.path() / name);  // temp files of killed writers
  }
  std::printf("after 200 kills: %d times the 'A' version, %d times the 'B' version\n", saw_a, saw_b);
  EXPECT_GT(saw_b, 0) << "the child never completed a write: the test proved nothing";
}

INSTANTIATE_TEST_SUITE_P(Engines, WholeFileTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
