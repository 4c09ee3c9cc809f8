// Cancellation on both engines. Reads from an empty FIFO never finish on their
// own, so they show that cancel really interrupts an op blocked in the kernel or
// on a worker, and that shutdown with such an op in flight does not hang.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

class Cancel : public EngineTest {
 protected:
  std::string make_fifo(const std::string& name) {
    std::string path = dir_.file(name);
    if (::mkfifo(path.c_str(), 0600) != 0) ADD_FAILURE() << "mkfifo: " << std::strerror(errno);
    return path;
  }
};

TEST_P(Cancel, ReadBlockedOnAnEmptyFifoCompletesOnceWithECANCELED) {
  auto fifo = open_sync(engine(), make_fifo("fifo"), O_RDWR);
  ASSERT_TRUE(fifo) << fifo.error().message();
  char buf[64];
  std::memset(buf, 'z', sizeof buf);
  int calls = 0;
  std::optional<Result<std::size_t>> result;
  OpHandle op = fifo->read(buf, sizeof buf, kStreamOffset, [&](Result<std::size_t> r) {
    ++calls;
    result.emplace(r);
  });
  // Give the read time to block in the kernel (io_uring) or on a worker (pool).
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(engine().wait(std::chrono::milliseconds(10)));
  ASSERT_FALSE(result.has_value()) << "a read on an empty FIFO should still be waiting";
  engine().cancel(op);
  auto r = await(engine(), result);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::operation_canceled);

  // The cancelled read must never land in its buffer: data written now is read
  // by the next read, not the cancelled one.
  ASSERT_EQ(::write(fifo->native_handle(), "hello", 5), 5);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine().wait(std::chrono::milliseconds(5)));
  EXPECT_EQ(std::string(buf, 5), "zzzzz");
  auto got = read_sync(engine(), *fifo, buf, sizeof buf, kStreamOffset);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string(buf, *got), "hello");
  EXPECT_EQ(calls, 1);
}

TEST_P(Cancel, CancelAllForAFileLeavesOtherFilesAlone) {
  auto fifo = open_sync(engine(), make_fifo("blocked"), O_RDWR);
  ASSERT_TRUE(fifo);
  const std::string path = dir_.file("regular");
  write_plain(path, random_bytes(4096));
  auto regular = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(regular);

  int cancelled = 0, fifo_calls = 0;
  char fifo_bufs[4][16];
  for (auto& b : fifo_bufs) {
    fifo->read(b, sizeof b, kStreamOffset, [&](Result<std::size_t> r) {
      ++fifo_calls;
      cancelled += !r && r.error() == std::errc::operation_canceled;
    });
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine().wait(std::chrono::milliseconds(10)));
  char buf[4096];
  std::optional<Result<std::size_t>> regular_read;
  regular->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { regular_read.emplace(r); });
  fifo->cancel_all();
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(fifo_calls, 4);
  EXPECT_EQ(cancelled, 4);
  ASSERT_TRUE(regular_read.has_value());
  ASSERT_TRUE(*regular_read);
  EXPECT_EQ(**regular_read, sizeof buf);
}

TEST_P(Cancel, EngineShutdownWithBlockedReadsDoesNotHang) {
  const std::string path = make_fifo("shutdown");
  int calls = 0;
  char bufs[8][32];
  const auto start = std::chrono::steady_clock::now();
  {
    auto engine = Engine::create(options());
    ASSERT_TRUE(engine);
    auto fifo = open_sync(*engine, path, O_RDWR);
    ASSERT_TRUE(fifo);
    for (auto& b : bufs) {
      fifo->read(b, sizeof b, kStreamOffset, [&](Result<std::size_t> r) {
        ++calls;
        EXPECT_FALSE(r);
      });
    }
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine->wait(std::chrono::milliseconds(10)));
  }
  EXPECT_EQ(calls, 8);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_P(Cancel, CancelAfterCompletionChangesNothing) {
  const std::string path = dir_.file("done");
  write_plain(path, "abc");
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  char buf[3];
  int calls = 0;
  OpHandle op = file->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) {
    ++calls;
    EXPECT_TRUE(r);
  });
  ASSERT_TRUE(engine().run());
  engine().cancel(op);
  // A new op reuses the pooled request; the stale handle must not cancel it.
  std::optional<Result<std::size_t>> second;
  file->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { second.emplace(r); });
  engine().cancel(op);
  auto r = await(engine(), second);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(calls, 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, Cancel, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
