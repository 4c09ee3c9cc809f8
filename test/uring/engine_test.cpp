// The io_uring engine behind the public Engine: what only it must show (its
// describe line, batching, a destroyed engine with ops in flight) on every rung.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "ringfile/ringfile.hpp"
#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::UringRung;

EngineOptions uring_options() {
  EngineOptions o;
  o.backend = Backend::IoUring;
  return o;
}

class UringEngine : public ::testing::TestWithParam<UringRung> {};

TEST_P(UringEngine, DescribesItsRing) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  auto engine = Engine::create(uring_options());
  ASSERT_TRUE(engine) << engine.error().message();
  EXPECT_EQ(engine->backend(), Backend::IoUring);
  EXPECT_TRUE(engine->fallback_reason().empty());
  EXPECT_EQ(engine->describe().rfind("io_uring (", 0), 0u) << engine->describe();
}

// Destroying the engine with 10k reads in flight or queued delivers each
// completion exactly once (its result or ECANCELED), then releases the ring.
TEST_P(UringEngine, DestroyedWithTenThousandOpsInFlight) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  TempDir dir;
  ::close(make_file(dir.file("f"), 1 << 20));
  constexpr int kOps = 10000;
  std::vector<char> buffers(static_cast<std::size_t>(kOps) * 512);
  std::vector<int> calls(kOps, 0);
  int ok = 0;
  int cancelled = 0;
  {
    auto engine = Engine::create(uring_options());
    ASSERT_TRUE(engine);
    auto opened = open_sync(*engine, dir.file("f"), O_RDONLY);
    ASSERT_TRUE(opened);
    File file = std::move(*opened);
    for (int i = 0; i < kOps; ++i) {
      char* b = buffers.data() + static_cast<std::size_t>(i) * 512;
      file.read(b, 512, (i * 4096) % (1 << 20), [&, i](Result<std::size_t> r) {
        ++calls[static_cast<std::size_t>(i)];
        if (r) ok += *r == 512;
        else cancelled += r.error() == std::errc::operation_canceled;
      });
    }
    ASSERT_TRUE(engine->submit());
  }
  for (int i = 0; i < kOps; ++i) ASSERT_EQ(calls[static_cast<std::size_t>(i)], 1) << "op " << i;
  EXPECT_EQ(ok + cancelled, kOps);
}

TEST_P(UringEngine, ManyOpsCostFewKernelEntries) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  TempDir dir;
  ::close(make_file(dir.file("f"), 1 << 20));
  EngineOptions options = uring_options();
  options.cached_read_fast_path = false;  // every read through the ring
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine);
  auto opened = open_sync(*engine, dir.file("f"), O_RDONLY);
  ASSERT_TRUE(opened);
  File file = std::move(*opened);
  const auto before = engine->stats().kernel_enters;
  constexpr int kOps = 2000;
  std::vector<char> buffers(static_cast<std::size_t>(kOps) * 512);
  int ok = 0;
  for (int i = 0; i < kOps; ++i) {
    file.read(buffers.data() + static_cast<std::size_t>(i) * 512, 512, (i * 512) % (1 << 20),
              [&](Result<std::size_t> r) { ok += r && *r == 512; });
  }
  ASSERT_TRUE(engine->run());
  EXPECT_EQ(ok, kOps);
  const auto enters = engine->stats().kernel_enters - before;
  EXPECT_GT(enters, 0u);
  EXPECT_LT(enters, static_cast<std::uint64_t>(kOps) / 10) << "not batched";
}

TEST_P(UringEngine, PostFromAnotherThreadWakesWait) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  auto engine = Engine::create(uring_options());
  ASSERT_TRUE(engine);
  std::atomic<bool> ran{false};
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    engine->post([&] { ran = true; });
  });
  const auto t0 = std::chrono::steady_clock::now();
  while (!ran && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    ASSERT_TRUE(engine->wait(std::chrono::seconds(5)));
  }
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

INSTANTIATE_TEST_SUITE_P(Rungs, UringEngine,
                         every_rung(), rung_name);

}  // namespace
}  // namespace ringfile::test
