// write_then_fsync on both engines: the sync runs only after a complete write.

#include <fcntl.h>

#include "sys/sys.hpp"
#include "test_support.hpp"

namespace ringfile::test {
namespace {

using detail::sys::Call;

class Chain : public EngineTest {
 protected:
  void TearDown() override { detail::sys::clear_faults(); }

  Result<std::size_t> durable_write(File& file, const std::string& data, std::int64_t offset) {
    std::optional<Result<std::size_t>> done;
    file.write_then_fsync(data.data(), data.size(), offset, [&](Result<std::size_t> r) { done.emplace(r); });
    return await(engine(), done);
  }
};

TEST_P(Chain, WriteThenFsyncWritesEverythingAndSyncs) {
  const std::string path = dir_.file("durable");
  auto file = open_sync(engine(), path, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  const std::string data = random_bytes(256 * 1024);
  detail::sys::count_calls();
  auto wrote = durable_write(*file, data, 0);
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, data.size());
  if (GetParam() == Backend::ThreadPool) {
    EXPECT_EQ(detail::sys::calls(Call::fsync), 1u);
  }
  EXPECT_EQ(read_plain(path), data);
}

TEST_P(Chain, ManyDurableAppendsInFlightAllLand) {
  const std::string path = dir_.file("appends");
  auto file = open_sync(engine(), path, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  const std::string record = random_bytes(4096, 5);
  int ok = 0;
  for (int i = 0; i < 64; ++i) {
    file->write_then_fsync(record.data(), record.size(), i * 4096, [&](Result<std::size_t> r) {
      ok += r && *r == record.size();
    }, /*data_only=*/i % 2 == 0);
  }
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(ok, 64);
  std::string expected;
  for (int i = 0; i < 64; ++i) expected += record;
  EXPECT_EQ(read_plain(path), expected);
}

TEST_P(Chain, ShortWriteReportsTheCountAndSkipsTheSync) {
  EngineOptions o = options();
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine);
  const std::string path = dir_.file("short");
  auto file = open_sync(*engine, path, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  const std::string data = random_bytes(8192);
  detail::sys::inject({Call::write, 1, 1, 0, 1000});
  std::optional<Result<std::size_t>> done;
  file->write_then_fsync(data.data(), data.size(), 0, [&](Result<std::size_t> r) { done.emplace(r); });
  auto wrote = await(*engine, done);
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, 1000u) << "a short write is reported as its count";
  // The pool never starts the sync; io_uring's kernel saw a full write here (the
  // seam shortened the completion), so only the pool can show the sync skipped.
  if (GetParam() == Backend::ThreadPool) {
    EXPECT_EQ(detail::sys::calls(Call::fsync), 0u);
  }
}

TEST_P(Chain, FailedWriteReportsItsErrno) {
  auto file = open_sync(engine(), dir_.file("eio"), O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  detail::sys::inject({Call::write, 1, 1, -EIO, {}});
  auto wrote = durable_write(*file, "payload", 0);
  ASSERT_FALSE(wrote);
  EXPECT_EQ(wrote.error(), std::errc::io_error);
}

TEST_P(Chain, FailedSyncReportsItsErrno) {
  auto file = open_sync(engine(), dir_.file("sync_fails"), O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  detail::sys::inject({Call::fsync, 1, 1, -ENOSPC, {}});
  auto wrote = durable_write(*file, "payload", 0);
  ASSERT_FALSE(wrote);
  EXPECT_EQ(wrote.error(), std::errc::no_space_on_device);
}

TEST_P(Chain, ReadOnlyFileFailsTheWriteAndNeverSyncs) {
  const std::string path = dir_.file("ro");
  write_plain(path, "keep");
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  auto wrote = durable_write(*file, "x", 0);
  ASSERT_FALSE(wrote);
  EXPECT_EQ(wrote.error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(read_plain(path), "keep");
}

INSTANTIATE_TEST_SUITE_P(Engines, Chain, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
