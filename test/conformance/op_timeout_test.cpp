// Per-op deadlines on both engines: a FIFO that never gets a writer, a read that
// completes before its deadline, the awaitable form.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

using namespace std::chrono_literals;

class OpTimeoutTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    fifo_ = dir_.file("fifo");
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
  }
  // Both ends in one descriptor: the FIFO has a writer that never writes.
  File open_fifo_rw() {
    auto f = open_sync(engine(), fifo_, O_RDWR);
    EXPECT_TRUE(f) << f.error().message();
    return f ? std::move(*f) : File{};
  }
  // Reads the FIFO with a deadline `timeout` away, and waits for the result.
  Result<std::size_t> read_within(File& fifo, char* buf, std::size_t len, std::chrono::nanoseconds timeout) {
    std::optional<Result<std::size_t>> got;
    {
      OpTimeout limit(engine(), timeout);
      fifo.read(buf, len, kStreamOffset, [&](Result<std::size_t> r) { got.emplace(r); });
    }
    return await(engine(), got);
  }
  std::string fifo_;
};

TEST_P(OpTimeoutTest, OpeningAFifoThatNeverGetsAWriterTimesOut) {
  std::optional<Result<File>> opened;
  {
    OpTimeout limit(engine(), 50ms);
    File::open(engine(), fifo_, O_RDONLY, [&](Result<File> f) { opened.emplace(std::move(f)); });
  }
  auto f = await(engine(), opened);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error(), std::errc::timed_out);
  EXPECT_EQ(engine().stats().timers_armed, 0u);
  // The engine goes on: the next op has no deadline and works.
  write_plain(dir_.file("plain"), "still fine");
  auto plain = open_sync(engine(), dir_.file("plain"), O_RDONLY);
  ASSERT_TRUE(plain) << plain.error().message();
}

TEST_P(OpTimeoutTest, AReadPastItsDeadlineNeverTouchesItsBufferAgain) {
  File fifo = open_fifo_rw();
  char buf[16];
  std::memset(buf, 'x', sizeof buf);
  auto r = read_within(fifo, buf, sizeof buf, 50ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_EQ(engine().stats().timers_armed, 0u);
  // Data that arrives now is not read into the old buffer, and none of it is lost.
  const int writer = ::open(fifo_.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::write(writer, "late", 4), 4);
  (void)engine().wait(20ms);
  EXPECT_EQ(std::string(buf, sizeof buf), std::string(sizeof buf, 'x'));
  char again[16] = {};
  auto n = read_sync(engine(), fifo, again, sizeof again, kStreamOffset);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(std::string(again, *n), "late");
  ::close(writer);
}

// Which mechanism enforced the deadline: on io_uring an IORING_OP_LINK_TIMEOUT
// linked to the read, which the kernel fires (the core's timer never cancels it);
// on the pool the core's timer, which interrupts the worker.
TEST_P(OpTimeoutTest, TheRingEnforcesADeadlineWithALinkTimeoutAndThePoolWithTheTimer) {
  const bool ring = GetParam() == Backend::IoUring;
  if (ring && !uring_has_link_timeout()) {
    GTEST_SKIP() << "this kernel's io_uring lacks IORING_OP_LINK_TIMEOUT: the core's timer stands in";
  }
  File fifo = open_fifo_rw();
  char buf[16];
  const EngineStats before = engine().stats();
  auto r = read_within(fifo, buf, sizeof buf, 50ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  const EngineStats after = engine().stats();
  EXPECT_EQ(after.link_timeouts - before.link_timeouts, ring ? 1u : 0u);
  EXPECT_EQ(after.timer_expiries - before.timer_expiries, ring ? 0u : 1u);
  EXPECT_EQ(after.timers_armed, 0u);
}

// An op that blocks in the kernel, not on a peer: on io_uring an fdatasync waits
// in an io-wq worker, where some kernels let it outlive its link timeout.
TEST_P(OpTimeoutTest, AnFdatasyncStalledOnASlowDiskTimesOut) {
  SlowFlushFs fs;
  if (!fs.reason().empty()) GTEST_SKIP() << fs.reason();
  auto f = open_sync(engine(), fs.file("synced"), O_RDWR | O_CREAT | O_TRUNC);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_TRUE(write_sync(engine(), *f, "x", 1, 0));
  fs.set_sync_delay(1min);
  std::optional<Result<void>> synced;
  {
    OpTimeout limit(engine(), 100ms);
    f->fdatasync([&](Result<void> r) { synced = r; });
  }
  auto r = await(engine(), synced);  // gives up after 10 s, well before the sync would end
  ASSERT_FALSE(r) << "a sync stalled for a minute reported success";
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_EQ(engine().stats().timers_armed, 0u);
  fs.set_sync_delay(0ms);
  EXPECT_TRUE(close_sync(engine(), *f));
}

TEST_P(OpTimeoutTest, AReadThatCompletesBeforeItsDeadlineIsUnaffected) {
  File fifo = open_fifo_rw();
  const int writer = ::open(fifo_.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  char buf[16] = {};
  std::optional<Result<std::size_t>> got;
  {
    OpTimeout limit(engine(), 30s);
    fifo.read(buf, sizeof buf, kStreamOffset, [&](Result<std::size_t> r) { got.emplace(r); });
  }
  EXPECT_EQ(engine().stats().timers_armed, 1u);
  (void)engine().poll();  // the read is with the kernel or a worker, waiting
  ASSERT_EQ(::write(writer, "in time", 7), 7);
  auto r = await(engine(), got);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::string(buf, *r), "in time");
  EXPECT_EQ(engine().stats().timers_armed, 0u) << "a timer outlived its op";
  ::close(writer);
}

TEST_P(OpTimeoutTest, RegularFileOpsWithADeadlineCompleteNormally) {
  const std::string data = random_bytes(100000, 31);
  write_plain(dir_.file("data"), data);
  auto f = open_sync(engine(), dir_.file("data"), O_RDWR);
  ASSERT_TRUE(f);
  std::string buf(data.size(), '\0');
  std::optional<Result<std::size_t>> read;
  std::optional<Result<void>> synced;
  {
    OpTimeout limit(engine(), 10s);
    f->read_exact(buf.data(), buf.size(), 0, [&](Result<std::size_t> r) { read.emplace(r); });
    f->fsync([&](Result<void> r) { synced.emplace(r); });
  }
  auto n = await(engine(), read);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_TRUE(buf == data);
  EXPECT_TRUE(await(engine(), synced));
  EXPECT_EQ(engine().stats().timers_armed, 0u);
}

TEST_P(OpTimeoutTest, AwaitableForm) {
  File fifo = open_fifo_rw();
  char buf[8];
  auto r = await_op(engine(), with_timeout(engine(), 50ms, fifo.read(buf, sizeof buf, kStreamOffset)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_EQ(engine().stats().timers_armed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, OpTimeoutTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
