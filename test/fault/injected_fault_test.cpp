// Faults programmed through the syscall seam (lib/sys/sys.hpp), on both engines: the
// pool meets them in its syscalls, io_uring in its completions.

#include <fcntl.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fault_support.hpp"
#include "ringfile_config.h"
#include "sys/sys.hpp"

namespace ringfile::test {
namespace {

using detail::sys::Call;
using detail::sys::Fault;

Fault fail_with(Call call, int err, std::uint32_t times = 1, std::uint64_t nth = 1) {
  return {call, nth, times, -err, {}};
}

Fault cap_at(Call call, std::size_t max_bytes, std::uint32_t times = 1, std::uint64_t nth = 1) {
  return {call, nth, times, 0, max_bytes};
}

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : std::to_string(err);
}

class InjectedFault : public EngineTest {
 protected:
  void SetUp() override {
    detail::sys::clear_faults();
    if (auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    EngineOptions o = options();
    // The cached-read fast path would serve reads before they reach Call::read.
    o.cached_read_fast_path = false;
    auto e = Engine::create(o);
    ASSERT_TRUE(e) << e.error().message();
    ASSERT_EQ(e->backend(), GetParam());
    engine_.emplace(std::move(*e));
  }
  void TearDown() override { detail::sys::clear_faults(); }

  File open_file(const std::string& name, const std::string& contents) {
    const std::string path = dir_.file(name);
    write_plain(path, contents);
    auto file = open_sync(engine(), path, O_RDWR);
    if (!file) ADD_FAILURE() << "open " << path << ": " << file.error().message();
    return file ? std::move(*file) : File();
  }

  Result<std::size_t> read(File& f, void* buf, std::size_t len, std::int64_t off) {
    return sync_call<Result<std::size_t>>(engine(), [&](auto done) { f.read(buf, len, off, std::move(done)); });
  }
  Result<std::size_t> read_exact(File& f, void* buf, std::size_t len, std::int64_t off) {
    return sync_call<Result<std::size_t>>(engine(), [&](auto done) { f.read_exact(buf, len, off, std::move(done)); });
  }
  Result<std::size_t> write(File& f, const void* buf, std::size_t len, std::int64_t off) {
    return sync_call<Result<std::size_t>>(engine(), [&](auto done) { f.write(buf, len, off, std::move(done)); });
  }
  Result<std::size_t> write_all(File& f, const void* buf, std::size_t len, std::int64_t off) {
    return sync_call<Result<std::size_t>>(engine(), [&](auto done) { f.write_all(buf, len, off, std::move(done)); });
  }
  Result<std::size_t> readv(File& f, const iovec* iov, int n, std::int64_t off) {
    return sync_call<Result<std::size_t>>(engine(), [&](auto done) { f.readv(iov, n, off, std::move(done)); });
  }
  Result<std::size_t> writev(File& f, const iovec* iov, int n, std::int64_t off) {
    return sync_call<Result<std::size_t>>(engine(), [&](auto done) { f.writev(iov, n, off, std::move(done)); });
  }
};

// --- EINTR and EAGAIN -------------------------------------------------------

class TransientError : public InjectedFault {};

TEST_P(TransientError, OnReadsIsRetriedAndTheDataIsRight) {
  const std::string data = random_bytes(16384, 3);
  File file = open_file("read", data);
  for (int err : {EINTR, EAGAIN}) {
    SCOPED_TRACE(errno_name(err));
    detail::sys::clear_faults();
    const auto retries_before = engine().stats().retries;
    detail::sys::inject(fail_with(Call::read, err, 3));
    std::string back(data.size(), '\0');
    auto got = read(file, back.data(), back.size(), 0);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, data.size());
    EXPECT_TRUE(same_bytes(back, data));
    EXPECT_EQ(detail::sys::calls(Call::read), 4u) << "three refused attempts and one that worked";
    EXPECT_EQ(engine().stats().retries - retries_before, 3u);
  }
}

TEST_P(TransientError, OnWritesIsRetriedAndTheFileIsRight) {
  File file = open_file("write", "");
  const std::string data = random_bytes(20000, 4);
  for (int err : {EINTR, EAGAIN}) {
    SCOPED_TRACE(errno_name(err));
    detail::sys::clear_faults();
    detail::sys::inject(fail_with(Call::write, err, 2));
    auto wrote = write(file, data.data(), data.size(), 0);
    ASSERT_TRUE(wrote) << wrote.error().message();
    EXPECT_EQ(*wrote, data.size());
    EXPECT_EQ(detail::sys::calls(Call::write), 3u);
    EXPECT_TRUE(same_bytes(read_plain(dir_.file("write")), data));
  }
}

TEST_P(TransientError, OnVectoredTransfersIsRetried) {
  File file = open_file("vectored", "");
  const std::string a = random_bytes(3000, 5), b = random_bytes(5000, 6);
  iovec out[] = {{const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
  detail::sys::inject(fail_with(Call::write, EINTR, 2));
  auto wrote = writev(file, out, 2, 100);
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, a.size() + b.size());

  std::string a2(a.size(), '\0'), b2(b.size(), '\0');
  iovec in[] = {{a2.data(), a2.size()}, {b2.data(), b2.size()}};
  detail::sys::inject(fail_with(Call::read, EAGAIN, 2));
  auto got = readv(file, in, 2, 100);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, a.size() + b.size());
  EXPECT_TRUE(same_bytes(a2, a));
  EXPECT_TRUE(same_bytes(b2, b));
}

TEST_P(TransientError, OnMetadataOpsIsRetried) {
  File file = open_file("meta", "abc");
  detail::sys::inject(fail_with(Call::fsync, EINTR, 2));
  auto synced = sync_call<Result<void>>(engine(), [&](auto done) { file.fsync(std::move(done)); });
  EXPECT_TRUE(synced) << synced.error().message();

  detail::sys::inject(fail_with(Call::ftruncate, EINTR));
  auto truncated = sync_call<Result<void>>(engine(), [&](auto done) { file.truncate(10, std::move(done)); });
  EXPECT_TRUE(truncated) << truncated.error().message();

  detail::sys::inject(fail_with(Call::fallocate, EAGAIN));
  auto allocated = sync_call<Result<void>>(engine(), [&](auto done) { file.fallocate(0, 0, 100, std::move(done)); });
  EXPECT_TRUE(allocated) << allocated.error().message();

  detail::sys::inject(fail_with(Call::statx, EINTR));
  auto st = sync_call<Result<FileStat>>(engine(), [&](auto done) { file.stat(std::move(done)); });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->size, 100u);

  detail::sys::inject(fail_with(Call::open, EINTR, 2));
  auto reopened = open_sync(engine(), dir_.file("meta"), O_RDONLY);
  EXPECT_TRUE(reopened) << reopened.error().message();
}

TEST_P(TransientError, ThatNeverEndsIsReportedAfterBoundedRetries) {
  File file = open_file("forever", "data");
  detail::sys::inject(fail_with(Call::read, EAGAIN, 1'000'000));
  char buf[4];
  auto got = read(file, buf, sizeof buf, 0);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::resource_unavailable_try_again);
  EXPECT_EQ(detail::sys::calls(Call::read), 33u) << "one attempt and 32 retries";
}

// close() releases the descriptor even when it reports EINTR (Linux). Retrying it
// could close a descriptor another thread has just been given the same number for.
TEST_P(TransientError, OnCloseIsNotRetried) {
  File file = open_file("close_eintr", "x");
  const int before = open_fds();
  detail::sys::inject(fail_with(Call::close, EINTR));
  auto closed = sync_call<Result<void>>(engine(), [&](auto done) { file.close(std::move(done)); });
  EXPECT_EQ(detail::sys::calls(Call::close), 1u) << "close was retried after EINTR";
  if (!closed) {
    EXPECT_EQ(closed.error(), std::errc::interrupted);
  }
  EXPECT_FALSE(file.is_open());
  EXPECT_EQ(open_fds(), before - 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, TransientError, ::testing::ValuesIn(engines_under_test()), backend_name);

// --- Short transfers ---------------------------------------------------------

class ShortTransfer : public InjectedFault {};

TEST_P(ShortTransfer, ReadReportsThePartialCount) {
  const std::string data = random_bytes(8192, 7);
  File file = open_file("short_read", data);
  detail::sys::inject(cap_at(Call::read, 1000));
  std::string back(4096, '\0');
  auto got = read(file, back.data(), back.size(), 10);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, 1000u);
  EXPECT_TRUE(same_bytes(back.substr(0, 1000), data.substr(10, 1000)));
}

TEST_P(ShortTransfer, ReadExactFinishesTheJob) {
  const std::string data = random_bytes(8192, 8);
  File file = open_file("read_exact", data);
  detail::sys::inject(cap_at(Call::read, 1000, 4));
  std::string back(6000, '\0');
  auto got = read_exact(file, back.data(), back.size(), 1234);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, back.size());
  EXPECT_TRUE(same_bytes(back, data.substr(1234, 6000)));
  EXPECT_EQ(detail::sys::calls(Call::read), 5u) << "four short rounds and one for the rest";
}

TEST_P(ShortTransfer, ReadExactStillStopsAtEndOfFile) {
  const std::string data = random_bytes(3000, 9);
  File file = open_file("read_exact_eof", data);
  detail::sys::inject(cap_at(Call::read, 700, 2));
  std::string back(5000, '\0');
  auto got = read_exact(file, back.data(), back.size(), 0);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, data.size());
  EXPECT_TRUE(same_bytes(back.substr(0, data.size()), data));
}

TEST_P(ShortTransfer, WriteReportsThePartialCount) {
  File file = open_file("short_write", "");
  const std::string data = random_bytes(4096, 10);
  detail::sys::inject(cap_at(Call::write, 1000));
  auto wrote = write(file, data.data(), data.size(), 0);
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, 1000u);
  // The pool moved 1000 bytes; io_uring moved them all and was told 1000. Only the
  // reported part is promised.
  const std::string on_disk = read_plain(dir_.file("short_write"));
  ASSERT_GE(on_disk.size(), 1000u);
  EXPECT_TRUE(same_bytes(on_disk.substr(0, 1000), data.substr(0, 1000)));
}

TEST_P(ShortTransfer, WriteAllFinishesTheJob) {
  File file = open_file("write_all", "");
  const std::string data = random_bytes(10000, 11);
  detail::sys::inject(cap_at(Call::write, 999, 6));
  auto wrote = write_all(file, data.data(), data.size(), 0);
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, data.size());
  EXPECT_TRUE(same_bytes(read_plain(dir_.file("write_all")), data));
  EXPECT_EQ(detail::sys::calls(Call::write), 7u);
}

TEST_P(ShortTransfer, VectoredTransfersReportThePartialCount) {
  File file = open_file("short_vectored", std::string(8000, 'z'));
  const std::string a = random_bytes(1000, 12), b = random_bytes(2000, 13);
  iovec out[] = {{const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
  detail::sys::inject(cap_at(Call::write, 1500));
  auto wrote = writev(file, out, 2, 0);
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, 1500u);
  const std::string on_disk = read_plain(dir_.file("short_vectored"));
  EXPECT_TRUE(same_bytes(on_disk.substr(0, 1500), a + b.substr(0, 500)));

  std::string x(700, '\0'), y(700, '\0');
  iovec in[] = {{x.data(), x.size()}, {y.data(), y.size()}};
  detail::sys::inject(cap_at(Call::read, 900));
  auto got = readv(file, in, 2, 0);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, 900u);
  EXPECT_TRUE(same_bytes(x + y.substr(0, 200), on_disk.substr(0, 900)));
}

INSTANTIATE_TEST_SUITE_P(Engines, ShortTransfer, ::testing::ValuesIn(engines_under_test()), backend_name);

// --- Hard errors: reported with their errno, earlier data intact ---------------

class TransferError : public InjectedFault {};

TEST_P(TransferError, OnWriteIsReportedAndEarlierDataStaysIntact) {
  for (int err : {EIO, ENOSPC, EDQUOT, EFBIG}) {
    SCOPED_TRACE(errno_name(err));
    detail::sys::clear_faults();
    const std::string name = "write_" + errno_name(err);
    File file = open_file(name, "");
    const std::string first = random_bytes(8192, 14);
    const std::string second = random_bytes(8192, 15);
    auto wrote = write(file, first.data(), first.size(), 0);
    ASSERT_TRUE(wrote);
    detail::sys::inject(fail_with(Call::write, err));
    auto failed = write(file, second.data(), second.size(), static_cast<std::int64_t>(first.size()));
    ASSERT_FALSE(failed) << "a failed write reported " << *failed << " bytes";
    EXPECT_EQ(failed.error().value(), err) << failed.error().message();

    std::string back(first.size(), '\0');
    auto got = read(file, back.data(), back.size(), 0);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, first.size());
    EXPECT_TRUE(same_bytes(back, first));
    EXPECT_TRUE(same_bytes(read_plain(dir_.file(name)).substr(0, first.size()), first));

    // The engine keeps working after the error.
    auto again = write(file, second.data(), second.size(), static_cast<std::int64_t>(first.size()));
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_TRUE(same_bytes(read_plain(dir_.file(name)), first + second));
  }
}

TEST_P(TransferError, OnWriteAllAfterAShortRoundIsReported) {
  File file = open_file("write_all_enospc", "");
  const std::string data = random_bytes(10000, 16);
  detail::sys::inject(cap_at(Call::write, 4000));
  detail::sys::inject(fail_with(Call::write, ENOSPC, 1, 2));
  auto wrote = write_all(file, data.data(), data.size(), 0);
  ASSERT_FALSE(wrote) << "write_all claimed " << *wrote << " bytes";
  EXPECT_EQ(wrote.error(), std::errc::no_space_on_device);
  const std::string on_disk = read_plain(dir_.file("write_all_enospc"));
  ASSERT_GE(on_disk.size(), 4000u);
  EXPECT_TRUE(same_bytes(on_disk.substr(0, 4000), data.substr(0, 4000)));
}

TEST_P(TransferError, OnReadIsReportedAndTheNextReadWorks) {
  const std::string data = random_bytes(4096, 17);
  File file = open_file("read_eio", data);
  detail::sys::inject(fail_with(Call::read, EIO));
  std::string back(data.size(), '\0');
  auto failed = read(file, back.data(), back.size(), 0);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), std::errc::io_error);
  auto got = read(file, back.data(), back.size(), 0);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(same_bytes(back, data));
}

TEST_P(TransferError, OnReadExactAfterAShortRoundIsReported) {
  const std::string data = random_bytes(8192, 18);
  File file = open_file("read_exact_eio", data);
  detail::sys::inject(cap_at(Call::read, 1000));
  detail::sys::inject(fail_with(Call::read, EIO, 1, 2));
  std::string back(data.size(), '\0');
  auto got = read_exact(file, back.data(), back.size(), 0);
  ASSERT_FALSE(got) << "read_exact claimed " << *got << " bytes";
  EXPECT_EQ(got.error(), std::errc::io_error);
}

TEST_P(TransferError, OnOneOfManyOpsInFlightHitsOnlyThatOp) {
  File file = open_file("many", "");
  constexpr int kOps = 64;
  const std::string data = random_bytes(kOps * 512, 19);
  // The 10th write the engine issues fails; which op that is depends on the order
  // the pool's workers or the kernel pick them up.
  detail::sys::inject(fail_with(Call::write, EIO, 1, 10));
  int failed = -1, ok = 0, completions = 0;
  for (int i = 0; i < kOps; ++i) {
    file.write(data.data() + i * 512, 512, i * 512, [&, i](Result<std::size_t> r) {
      ++completions;
      if (r) {
        ok += *r == 512;
      } else {
        EXPECT_EQ(r.error(), std::errc::io_error);
        EXPECT_EQ(failed, -1) << "more than one op failed";
        failed = i;
      }
    });
  }
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(completions, kOps);
  EXPECT_EQ(ok, kOps - 1);
  ASSERT_NE(failed, -1);
  const std::string on_disk = read_plain(dir_.file("many"));
  for (int i = 0; i < kOps; ++i) {
    if (i == failed) continue;
    const auto at = static_cast<std::size_t>(i) * 512;
    EXPECT_TRUE(same_bytes(on_disk.substr(at, 512), data.substr(at, 512))) << "block " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, TransferError, ::testing::ValuesIn(engines_under_test()), backend_name);

// --- Errors of the other ops reach their caller --------------------------------

class OpError : public InjectedFault {};

TEST_P(OpError, FsyncAndFdatasync) {
  File file = open_file("fsync", "data");
  detail::sys::inject(fail_with(Call::fsync, EIO));
  auto synced = sync_call<Result<void>>(engine(), [&](auto done) { file.fsync(std::move(done)); });
  ASSERT_FALSE(synced);
  EXPECT_EQ(synced.error(), std::errc::io_error);
  detail::sys::inject(fail_with(Call::fsync, ENOSPC));
  auto dsynced = sync_call<Result<void>>(engine(), [&](auto done) { file.fdatasync(std::move(done)); });
  ASSERT_FALSE(dsynced);
  EXPECT_EQ(dsynced.error(), std::errc::no_space_on_device);
  std::string back(4, '\0');
  auto got = read(file, back.data(), back.size(), 0);
  ASSERT_TRUE(got);
  EXPECT_EQ(back, "data");
}

TEST_P(OpError, Stat) {
  File file = open_file("stat", "data");
  detail::sys::inject(fail_with(Call::statx, ENOMEM));
  auto st = sync_call<Result<FileStat>>(engine(), [&](auto done) { file.stat(std::move(done)); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error(), std::errc::not_enough_memory);
}

TEST_P(OpError, FallocateAndTruncate) {
  File file = open_file("space", "0123456789");
  detail::sys::inject(fail_with(Call::fallocate, ENOSPC));
  auto allocated = sync_call<Result<void>>(engine(), [&](auto done) { file.fallocate(0, 0, 1 << 20, std::move(done)); });
  ASSERT_FALSE(allocated);
  EXPECT_EQ(allocated.error(), std::errc::no_space_on_device);

  detail::sys::inject(fail_with(Call::ftruncate, EPERM));
  auto truncated = sync_call<Result<void>>(engine(), [&](auto done) { file.truncate(2, std::move(done)); });
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error(), std::errc::operation_not_permitted);
  // io_uring ran the fallocate and was told it failed, so only the bytes are promised.
  EXPECT_EQ(read_plain(dir_.file("space")).substr(0, 10), "0123456789");
}

TEST_P(OpError, OpenReportsTheErrnoAndLeaksNoDescriptor) {
  write_plain(dir_.file("exists"), "x");
  const int before = open_fds();
  for (int err : {EACCES, EMFILE, ENFILE, EIO}) {
    SCOPED_TRACE(errno_name(err));
    detail::sys::inject(fail_with(Call::open, err));
    auto file = open_sync(engine(), dir_.file("exists"), O_RDONLY);
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().value(), err);
  }
  // The io_uring engine opened the file before the seam rewrote the completion.
  EXPECT_EQ(open_fds(), before) << "a descriptor whose open was reported failed stayed open";
}

TEST_P(OpError, CloseReportsTheErrnoAndStillReleasesTheDescriptor) {
  const int before = open_fds();
  File file = open_file("close_eio", "x");
  ASSERT_EQ(open_fds(), before + 1);
  detail::sys::inject(fail_with(Call::close, EIO));
  auto closed = sync_call<Result<void>>(engine(), [&](auto done) { file.close(std::move(done)); });
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error(), std::errc::io_error);
  EXPECT_FALSE(file.is_open());
  EXPECT_EQ(open_fds(), before);
  char buf[1];
  auto after = read(file, buf, 1, 0);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error(), std::errc::bad_file_descriptor);
}

TEST_P(OpError, CloseOfADroppedFileStillReleasesTheDescriptor) {
  const int before = open_fds();
  {
    File file = open_file("dropped", "x");
    detail::sys::inject(fail_with(Call::close, ENOSPC));
  }
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(detail::sys::calls(Call::close), 1u);
  EXPECT_EQ(open_fds(), before);
}

INSTANTIATE_TEST_SUITE_P(Engines, OpError, ::testing::ValuesIn(engines_under_test()), backend_name);

// --- io_uring set-up refused ---------------------------------------------------
// test/selection covers Auto's fallback on EPERM, ENOSYS, ENOMEM and EACCES, and
// test/uring the ladder itself; this adds Auto's fallback when every rung says
// EINVAL (a kernel too old for io_uring).

#if RINGFILE_HAVE_IO_URING

class SetupRefused : public ::testing::Test {
 protected:
  void SetUp() override {
    detail::sys::clear_faults();
    if (auto why = skip_reason(Backend::IoUring); !why.empty()) GTEST_SKIP() << why;
    if (std::string_view(RINGFILE_DEFAULT_BACKEND) == "threadpool") GTEST_SKIP() << "Auto means the pool in this build";
    if (const char* env = std::getenv("RINGFILE_BACKEND"); env && std::string_view(env) == "threadpool") {
      GTEST_SKIP() << "RINGFILE_BACKEND=threadpool: Auto does not try io_uring";
    }
  }
  void TearDown() override { detail::sys::clear_faults(); }

  static std::string round_trip(Engine& engine, const std::string& path) {
    auto file = open_sync(engine, path, O_CREAT | O_RDWR | O_TRUNC);
    if (!file) return "open: " + file.error().message();
    const std::string data = random_bytes(5000, 20);
    auto wrote = write_sync(engine, *file, data.data(), data.size(), 0);
    if (!wrote || *wrote != data.size()) return "write failed";
    std::string back(data.size(), '\0');
    auto got = read_sync(engine, *file, back.data(), back.size(), 0);
    if (!got || back != data) return "read back differs";
    return {};
  }

  TempDir dir_;
};

TEST_F(SetupRefused, EinvalOnEveryRungFallsBackToThePool) {
  detail::sys::inject(fail_with(Call::uring_setup, EINVAL, 100));
  auto fallback = Engine::create();
  auto strict = Engine::create(options_for(Backend::IoUring));
  const auto attempts = detail::sys::calls(Call::uring_setup);
  detail::sys::clear_faults();
  ASSERT_TRUE(fallback) << fallback.error().message();
  EXPECT_EQ(fallback->backend(), Backend::ThreadPool);
  EXPECT_NE(fallback->fallback_reason().find(std::strerror(EINVAL)), std::string::npos) << fallback->fallback_reason();
  EXPECT_GT(attempts, 2u) << "EINVAL moves down the set-up ladder before giving up";
  EXPECT_EQ(round_trip(*fallback, dir_.file("einval")), "");
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error(), std::errc::invalid_argument);
}

#endif

}  // namespace
}  // namespace ringfile::test
