// File ops on both engines: round trips, partial transfers, errors for bad input.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

class FileTest : public EngineTest {};

TEST_P(FileTest, WriteFsyncReadRoundTrip) {
  const std::string path = dir_.file("round_trip");
  auto file = open_sync(engine(), path, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file) << file.error().message();
  const std::string data = random_bytes(64 * 1024);
  auto wrote = write_sync(engine(), *file, data.data(), data.size(), 0);
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, data.size());
  ASSERT_TRUE(fsync_sync(engine(), *file));

  std::string back(data.size(), '\0');
  auto got = read_sync(engine(), *file, back.data(), back.size(), 0);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, data.size());
  EXPECT_EQ(back, data);
  ASSERT_TRUE(close_sync(engine(), *file));
  EXPECT_FALSE(file->is_open());
  EXPECT_EQ(read_plain(path), data);
}

TEST_P(FileTest, ReadPastEndOfFileReturnsZero) {
  const std::string path = dir_.file("short");
  write_plain(path, "hello");
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  char buf[16];
  auto got = read_sync(engine(), *file, buf, sizeof buf, 100);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 0u);
}

TEST_P(FileTest, PartialReadAtEndOfFileIsReturnedAsIs) {
  const std::string path = dir_.file("partial");
  write_plain(path, "0123456789");
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  char buf[16] = {};
  auto got = read_sync(engine(), *file, buf, sizeof buf, 6);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 4u);
  EXPECT_EQ(std::string(buf, 4), "6789");
}

TEST_P(FileTest, ReadExactStopsAtEndOfFile) {
  const std::string path = dir_.file("exact");
  const std::string data = random_bytes(10000);
  write_plain(path, data);
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  std::string back(20000, '\0');
  std::optional<Result<std::size_t>> done;
  file->read_exact(back.data(), back.size(), 0, [&](Result<std::size_t> r) { done.emplace(r); });
  auto got = await(engine(), done);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, data.size());
  EXPECT_EQ(back.substr(0, data.size()), data);
}

TEST_P(FileTest, WriteAllWritesEverything) {
  const std::string path = dir_.file("write_all");
  auto file = open_sync(engine(), path, O_CREAT | O_WRONLY | O_TRUNC);
  ASSERT_TRUE(file);
  const std::string data = random_bytes(3 * 1024 * 1024 + 7);
  std::optional<Result<std::size_t>> done;
  file->write_all(data.data(), data.size(), 4096, [&](Result<std::size_t> r) { done.emplace(r); });
  auto wrote = await(engine(), done);
  ASSERT_TRUE(wrote);
  EXPECT_EQ(*wrote, data.size());
  ASSERT_TRUE(close_sync(engine(), *file));
  EXPECT_EQ(read_plain(path), std::string(4096, '\0') + data);
}

TEST_P(FileTest, VectoredWriteAndRead) {
  const std::string path = dir_.file("vectored");
  auto file = open_sync(engine(), path, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  std::string a = "first-", b = "second-", c = "third";
  iovec out[] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
  std::optional<Result<std::size_t>> wrote;
  file->writev(out, 3, 0, [&](Result<std::size_t> r) { wrote.emplace(r); });
  auto w = await(engine(), wrote);
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, a.size() + b.size() + c.size());

  char x[6], y[12];
  iovec in[] = {{x, sizeof x}, {y, sizeof y}};
  std::optional<Result<std::size_t>> read;
  file->readv(in, 2, 0, [&](Result<std::size_t> r) { read.emplace(r); });
  auto got = await(engine(), read);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 18u);
  EXPECT_EQ(std::string(x, 6) + std::string(y, 12), "first-second-third");
}

TEST_P(FileTest, StatReportsSizeAndType) {
  const std::string path = dir_.file("stat");
  write_plain(path, std::string(12345, 'x'));
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  std::optional<Result<FileStat>> done;
  file->stat([&](Result<FileStat> s) { done.emplace(s); });
  auto st = await(engine(), done);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->size, 12345u);
  EXPECT_TRUE(st->is_regular());
  EXPECT_GT(st->mtime.tv_sec, 0);
  struct stat plain {};
  ASSERT_EQ(::stat(path.c_str(), &plain), 0);
  EXPECT_EQ(st->device, plain.st_dev);
  EXPECT_EQ(st->special_device, plain.st_rdev);
}

TEST_P(FileTest, AdoptedDescriptorIsReadAndClosedByTheFile) {
  const std::string path = dir_.file("adopted");
  write_plain(path, "adopted bytes");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto file = File::adopt(engine(), fd);
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(file->native_handle(), fd);
  char buf[32] = {};
  auto got = read_sync(engine(), *file, buf, sizeof buf, 0);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string(buf, *got), "adopted bytes");
  ASSERT_TRUE(close_sync(engine(), *file));
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_P(FileTest, AdoptingAClosedDescriptorIsEBADF) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  ::close(fds[1]);
  auto file = File::adopt(engine(), fds[0]);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error(), std::errc::bad_file_descriptor);
}

TEST_P(FileTest, FdatasyncSucceeds) {
  auto file = open_sync(engine(), dir_.file("fdatasync"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  ASSERT_TRUE(write_sync(engine(), *file, "abc", 3, 0));
  std::optional<Result<void>> done;
  file->fdatasync([&](Result<void> r) { done.emplace(r); });
  EXPECT_TRUE(await(engine(), done));
}

TEST_P(FileTest, MissingFileIsENOENT) {
  auto file = open_sync(engine(), dir_.file("does-not-exist"), O_RDONLY);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error(), std::errc::no_such_file_or_directory);
}

TEST_P(FileTest, DirectoryOpenedForWriteIsEISDIR) {
  auto file = open_sync(engine(), dir_.path().string(), O_WRONLY);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error(), std::errc::is_a_directory);
}

TEST_P(FileTest, ReadOnWriteOnlyFileIsEBADF) {
  auto file = open_sync(engine(), dir_.file("wronly"), O_CREAT | O_WRONLY);
  ASSERT_TRUE(file);
  char buf[8];
  auto got = read_sync(engine(), *file, buf, sizeof buf, 0);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::bad_file_descriptor);
}

TEST_P(FileTest, WriteOnReadOnlyFileIsEBADF) {
  const std::string path = dir_.file("rdonly");
  write_plain(path, "data");
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  auto wrote = write_sync(engine(), *file, "x", 1, 0);
  ASSERT_FALSE(wrote);
  EXPECT_EQ(wrote.error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(read_plain(path), "data");
}

TEST_P(FileTest, UseOfClosedFileIsEBADF) {
  auto file = open_sync(engine(), dir_.file("closed"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  ASSERT_TRUE(close_sync(engine(), *file));
  char buf[4];
  auto got = read_sync(engine(), *file, buf, sizeof buf, 0);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::bad_file_descriptor);
  auto again = close_sync(engine(), *file);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), std::errc::bad_file_descriptor);
}

TEST_P(FileTest, MovedFromFileIsEBADF) {
  auto file = open_sync(engine(), dir_.file("moved"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  File taken = std::move(*file);
  EXPECT_TRUE(taken.is_open());
  EXPECT_FALSE(file->is_open());
  std::optional<Result<std::size_t>> done;
  char buf[4];
  file->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { done.emplace(r); });
  ASSERT_TRUE(done.has_value()) << "a File without an engine fails at once";
  EXPECT_EQ(done->error(), std::errc::bad_file_descriptor);
}

TEST_P(FileTest, NegativeOffsetIsEINVAL) {
  auto file = open_sync(engine(), dir_.file("neg"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  char buf[4];
  auto got = read_sync(engine(), *file, buf, sizeof buf, -2);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::invalid_argument);
  auto wrote = write_sync(engine(), *file, buf, sizeof buf, -4096);
  ASSERT_FALSE(wrote);
  EXPECT_EQ(wrote.error(), std::errc::invalid_argument);
}

TEST_P(FileTest, OffsetPlusLengthOverflowIsEOVERFLOW) {
  auto file = open_sync(engine(), dir_.file("overflow"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  char buf[16];
  auto got = read_sync(engine(), *file, buf, sizeof buf, INT64_MAX - 4);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::value_too_large);
}

TEST_P(FileTest, NullBufferWithLengthIsEFAULT) {
  auto file = open_sync(engine(), dir_.file("null"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  auto got = read_sync(engine(), *file, nullptr, 16, 0);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::bad_address);
}

TEST_P(FileTest, ReadingADirectoryIsEISDIR) {
  auto dir = open_sync(engine(), dir_.path().string(), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir);
  char buf[16];
  auto got = read_sync(engine(), *dir, buf, sizeof buf, 0);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::is_a_directory);
}

TEST_P(FileTest, PathWithEmbeddedNulIsEINVAL) {
  auto file = open_sync(engine(), std::string("bad\0name", 8), O_RDONLY);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error(), std::errc::invalid_argument);
}

TEST_P(FileTest, OverlongPathIsENAMETOOLONG) {
  auto file = open_sync(engine(), std::string(PATH_MAX + 10, 'a'), O_RDONLY);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error(), std::errc::filename_too_long);
}

TEST_P(FileTest, DescriptorClosedBehindTheEnginesBackIsEBADF) {
  auto file = open_sync(engine(), dir_.file("stolen"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  ASSERT_EQ(::close(file->native_handle()), 0);
  char buf[4];
  auto got = read_sync(engine(), *file, buf, sizeof buf, 0);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::bad_file_descriptor);
}

TEST_P(FileTest, CloseWaitsForInFlightOps) {
  const std::string path = dir_.file("close_waits");
  auto file = open_sync(engine(), path, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  const std::string data = random_bytes(4096);
  int writes_done = 0;
  bool closed = false;
  for (int i = 0; i < 64; ++i) {
    file->write(data.data(), data.size(), i * 4096, [&](Result<std::size_t> r) {
      EXPECT_TRUE(r) << r.error().message();
      EXPECT_FALSE(closed) << "close completed before a write it should wait for";
      ++writes_done;
    });
  }
  file->close([&](Result<void> r) {
    EXPECT_TRUE(r);
    closed = true;
  });
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(writes_done, 64);
  EXPECT_TRUE(closed);
  EXPECT_EQ(read_plain(path).size(), 64u * 4096);
}

TEST_P(FileTest, DroppedFileIsClosedInTheBackground) {
  const int before = open_fds();
  {
    auto file = open_sync(engine(), dir_.file("dropped"), O_CREAT | O_RDWR);
    ASSERT_TRUE(file);
    EXPECT_EQ(open_fds(), before + 1);
  }
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(open_fds(), before);
}

TEST_P(FileTest, CachedAndColdReadsGiveTheSameBytes) {
  const std::string path = dir_.file("cold");
  const std::string data = random_bytes(1 << 20, 7);
  write_plain(path, data);
  for (bool fast_path : {true, false}) {
    EngineOptions o = options();
    o.cached_read_fast_path = fast_path;
    auto engine = Engine::create(o);
    ASSERT_TRUE(engine);
    auto file = open_sync(*engine, path, O_RDONLY);
    ASSERT_TRUE(file);
    for (bool cold : {false, true}) {
      if (cold) {
        ASSERT_EQ(::fdatasync(file->native_handle()), 0);
        ASSERT_EQ(::posix_fadvise(file->native_handle(), 0, 0, POSIX_FADV_DONTNEED), 0);
      }
      std::string back(data.size(), '\0');
      std::optional<Result<std::size_t>> done;
      file->read_exact(back.data(), back.size(), 0, [&](Result<std::size_t> r) { done.emplace(r); });
      auto got = await(*engine, done);
      ASSERT_TRUE(got);
      EXPECT_EQ(*got, data.size());
      EXPECT_EQ(back, data) << "fast_path=" << fast_path << " cold=" << cold;
    }
    if (fast_path) EXPECT_GT(engine->stats().fast_path_reads, 0u);
    else EXPECT_EQ(engine->stats().fast_path_reads, 0u);
  }
}

TEST_P(FileTest, OpsFromAnotherThreadAreRejected) {
  auto file = open_sync(engine(), dir_.file("foreign"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
#ifdef NDEBUG
  std::optional<Result<std::size_t>> done;
  std::thread::id ran_on;
  std::thread([&] {
    char buf[4];
    file->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) {
      ran_on = std::this_thread::get_id();
      done.emplace(r);
    });
    auto polled = engine().poll();
    ASSERT_FALSE(polled);
    EXPECT_EQ(polled.error(), std::errc::operation_not_permitted);
  }).join();
  auto got = await(engine(), done);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::operation_not_permitted);
  EXPECT_EQ(ran_on, std::this_thread::get_id()) << "the EPERM completion runs on the owner thread";
#else
  EXPECT_DEATH(std::thread([&] { (void)engine().poll(); }).join(), "does not own");
#endif
}

INSTANTIATE_TEST_SUITE_P(Engines, FileTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test

namespace ringfile::test {
namespace {

class Advise : public EngineTest {};

TEST_P(Advise, DontNeedDropsCachedPagesAndReadsStillMatch) {
  const std::string path = dir_.file("advise");
  const std::string data = random_bytes(1 << 20, 11);
  write_plain(path, data);
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  std::optional<Result<void>> willneed, dontneed, bad;
  file->advise(0, 0, POSIX_FADV_WILLNEED, [&](Result<void> r) { willneed.emplace(r); });
  EXPECT_TRUE(await(engine(), willneed));
  ASSERT_EQ(::fdatasync(file->native_handle()), 0);
  file->advise(0, 0, POSIX_FADV_DONTNEED, [&](Result<void> r) { dontneed.emplace(r); });
  EXPECT_TRUE(await(engine(), dontneed));
  std::string back(data.size(), '\0');
  std::optional<Result<std::size_t>> read;
  file->read_exact(back.data(), back.size(), 0, [&](Result<std::size_t> r) { read.emplace(r); });
  auto got = await(engine(), read);
  ASSERT_TRUE(got);
  EXPECT_EQ(back, data);
  file->advise(0, 0, 12345, [&](Result<void> r) { bad.emplace(r); });
  auto invalid = await(engine(), bad);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error(), std::errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Engines, Advise, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
