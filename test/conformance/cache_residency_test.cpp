// Buffered reads of uncached data leave the owner thread (cold-read offload), on
// both engines; cached reads stay on the fast path, and the residency probe
// (cachestat) is sampled, not paid per read, once a file stays cached.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "core/cache_residency.hpp"
#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kFileSize = 1 << 20;

class ColdReads : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    path_ = dir_.file("data");
    data_ = random_bytes(kFileSize, 11);
    write_plain(path_, data_);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
    if (detail::sys::uncached_pages(fd_, 0, kBlock) == -ENOSYS) GTEST_SKIP() << "cachestat(2) needs Linux 6.5";
    evict();
    if (detail::sys::uncached_pages(fd_, 0, kFileSize) <= 0) {
      GTEST_SKIP() << "POSIX_FADV_DONTNEED leaves this filesystem's pages cached (tmpfs?)";
    }
  }
  void TearDown() override {
    detail::sys::clear_faults();
    if (fd_ >= 0) ::close(fd_);
  }

  void evict() {
    ASSERT_EQ(::fdatasync(fd_), 0);
    ASSERT_EQ(::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED), 0);
  }
  void warm() { ASSERT_EQ(read_plain(path_), data_); }

  // Reads `count` blocks in order (wrapping at the end of the file), one at a
  // time, and checks every byte.
  void read_blocks(Engine& engine, File& file, std::size_t count) {
    std::string back(kBlock, '\0');
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t offset = (i * kBlock) % kFileSize;
      auto got = read_sync(engine, file, back.data(), kBlock, static_cast<std::int64_t>(offset));
      ASSERT_TRUE(got);
      ASSERT_EQ(*got, kBlock);
      ASSERT_EQ(back, data_.substr(offset, kBlock)) << "block at " << offset;
    }
  }

  std::string path_;
  std::string data_;
  int fd_ = -1;
};

TEST_P(ColdReads, UncachedReadsSkipTheFastPathAndReturnTheRightBytes) {
  auto file = open_sync(engine(), path_, O_RDONLY);
  ASSERT_TRUE(file);
  read_blocks(engine(), *file, 16);
  const EngineStats stats = engine().stats();
  EXPECT_EQ(stats.cold_reads, 16u) << "a cold file sends every read off the owner thread";
  EXPECT_EQ(stats.fast_path_reads, 0u) << "no preadv2 on the owner thread for uncached data";
}

TEST_P(ColdReads, ACachedFileIsProbedOnlyBySampleOnceWarm) {
  warm();
  auto file = open_sync(engine(), path_, O_RDONLY);
  ASSERT_TRUE(file);
  count_syscalls();
  constexpr std::size_t kReads = 512;
  read_blocks(engine(), *file, kReads);
  EXPECT_EQ(engine().stats().cold_reads, 0u);
  const auto probes = detail::sys::calls(detail::sys::Call::cachestat);
  const auto every = detail::CacheResidency::kSampleEvery;
  const auto warm_after = detail::CacheResidency::kWarmAfter;
  EXPECT_GE(probes, warm_after);
  EXPECT_LE(probes, warm_after + (kReads - warm_after) / every + 1);
  if (options().cached_read_fast_path) {
    EXPECT_GT(engine().stats().fast_path_reads, 0u);
  }
}

// A cold file's reads leave the owner anyway: the owner asks cachestat for one
// in kColdSampleEvery of them, not before every read.
TEST_P(ColdReads, AColdFileIsProbedOnlyBySample) {
  auto file = open_sync(engine(), path_, O_RDONLY);
  ASSERT_TRUE(file);
  read_blocks(engine(), *file, 1);  // finds the file cold
  evict();
  count_syscalls();
  constexpr std::size_t kReads = 48;  // fewer than turn it warm again
  read_blocks(engine(), *file, kReads);
  EXPECT_EQ(engine().stats().cold_reads, kReads + 1);
  const auto probes = detail::sys::calls(detail::sys::Call::cachestat);
  EXPECT_LE(probes, kReads / detail::CacheResidency::kColdSampleEvery + 1);
  EXPECT_GE(probes, 1u);
}

TEST_P(ColdReads, AWarmFileThatIsEvictedIsNoticedWithinOneSample) {
  warm();
  auto file = open_sync(engine(), path_, O_RDONLY);
  ASSERT_TRUE(file);
  read_blocks(engine(), *file, 128);
  ASSERT_EQ(engine().stats().cold_reads, 0u);
  evict();
  read_blocks(engine(), *file, 2 * detail::CacheResidency::kSampleEvery);
  EXPECT_GT(engine().stats().cold_reads, 0u);
}

TEST_P(ColdReads, WithoutCachestatReadsBehaveAsBefore) {
  count_syscalls();
  detail::sys::inject(fault(detail::sys::Call::cachestat, 1, 1000, -ENOSYS));
  auto file = open_sync(engine(), path_, O_RDONLY);
  ASSERT_TRUE(file);
  read_blocks(engine(), *file, 16);
  EXPECT_EQ(engine().stats().cold_reads, 0u);
  EXPECT_EQ(detail::sys::calls(detail::sys::Call::cachestat), 1u) << "an ENOSYS is remembered for the file";
}

TEST_P(ColdReads, OffloadCanBeTurnedOff) {
  EngineOptions o = options();
  o.offload_cold_reads = false;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine);
  auto file = open_sync(*engine, path_, O_RDONLY);
  ASSERT_TRUE(file);
  count_syscalls();
  read_blocks(*engine, *file, 16);
  EXPECT_EQ(engine->stats().cold_reads, 0u);
  EXPECT_EQ(detail::sys::calls(detail::sys::Call::cachestat), 0u);
}

TEST_P(ColdReads, ReadvAndReadExactOfColdDataAreOffloadedToo) {
  auto file = open_sync(engine(), path_, O_RDONLY);
  ASSERT_TRUE(file);
  std::string first(kBlock, '\0');
  std::string second(kBlock, '\0');
  iovec iov[2] = {{first.data(), kBlock}, {second.data(), kBlock}};
  std::optional<Result<std::size_t>> readv_done;
  file->readv(iov, 2, 0, [&](Result<std::size_t> r) { readv_done.emplace(r); });
  auto got = await(engine(), readv_done);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 2 * kBlock);
  EXPECT_EQ(first + second, data_.substr(0, 2 * kBlock));

  std::string whole(kFileSize / 2, '\0');
  std::optional<Result<std::size_t>> exact_done;
  file->read_exact(whole.data(), whole.size(), kFileSize / 2, [&](Result<std::size_t> r) { exact_done.emplace(r); });
  got = await(engine(), exact_done);
  ASSERT_TRUE(got);
  EXPECT_EQ(whole, data_.substr(kFileSize / 2));
  EXPECT_GE(engine().stats().cold_reads, 2u);
}

TEST_P(ColdReads, PipesAreNotProbed) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto file = open_sync(engine(), fifo, O_RDWR);
  ASSERT_TRUE(file);
  ASSERT_EQ(::write(file->native_handle(), "abc", 3), 3);
  count_syscalls();
  char buf[3];
  auto got = read_sync(engine(), *file, buf, sizeof buf, kStreamOffset);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 3u);
  EXPECT_EQ(detail::sys::calls(detail::sys::Call::cachestat), 0u);
  EXPECT_EQ(engine().stats().cold_reads, 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, ColdReads, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
