// O_DIRECT on both engines: the alignment is discovered, aligned buffers work,
// and misaligned buffers, offsets and lengths fail with EINVAL before submission.

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "op_helpers.hpp"
#include "sys/sys.hpp"

namespace ringfile::test {
namespace {

namespace sys = ringfile::detail::sys;

class DirectIoTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    path_ = dir_.file("direct");
    auto f = open_sync(engine(), path_, O_CREAT | O_RDWR | O_DIRECT);
    if (!f && f.error() == std::errc::invalid_argument) {
      GTEST_SKIP() << "O_DIRECT is refused (EINVAL) by the filesystem under " << dir_.path();
    }
    ASSERT_TRUE(f) << f.error().message();
    file_.emplace(std::move(*f));
  }

  // Counts the reads and writes that reach a syscall (or an io_uring completion).
  static void count_io() {
    count_syscalls();
  }
  static std::uint64_t io_calls() { return sys::calls(sys::Call::read) + sys::calls(sys::Call::write); }

  void TearDown() override { sys::clear_faults(); }

  std::string path_;
  std::optional<File> file_;
};

TEST_P(DirectIoTest, AlignmentIsDiscovered) {
  const std::size_t a = file_->direct_alignment();
  EXPECT_GT(a, 1u);
  EXPECT_EQ(a & (a - 1), 0u) << a << " is not a power of two";
  auto buffered = open_sync(engine(), path_, O_RDONLY);
  ASSERT_TRUE(buffered);
  EXPECT_EQ(buffered->direct_alignment(), 1u);
}

TEST_P(DirectIoTest, AlignedBufferRoundTrip) {
  const std::size_t a = file_->direct_alignment();
  const std::size_t size = 64 * 1024;
  AlignedBuffer out(size, a);
  const std::string data = random_bytes(size, 5);
  std::memcpy(out.data(), data.data(), size);
  auto wrote = write_sync(engine(), *file_, out.data(), size, static_cast<std::int64_t>(a));
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, size);

  AlignedBuffer in(size, a);
  auto got = read_sync(engine(), *file_, in.data(), size, static_cast<std::int64_t>(a));
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, size);
  EXPECT_EQ(std::memcmp(in.data(), data.data(), size), 0);
  ASSERT_TRUE(close_sync(engine(), *file_));
  EXPECT_EQ(read_plain(path_), std::string(a, '\0') + data);
}

TEST_P(DirectIoTest, AlignedVectoredRoundTrip) {
  const std::size_t a = file_->direct_alignment();
  AlignedBuffer x(a, a), y(2 * a, a);
  std::memset(x.data(), 'x', a);
  std::memset(y.data(), 'y', 2 * a);
  iovec out[] = {{x.data(), a}, {y.data(), 2 * a}};
  auto wrote = call<std::size_t>(engine(), [&](auto cb) { file_->writev(out, 2, 0, std::move(cb)); });
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, 3 * a);
  AlignedBuffer back(3 * a, a);
  iovec in[] = {{back.data(), 3 * a}};
  auto got = call<std::size_t>(engine(), [&](auto cb) { file_->readv(in, 1, 0, std::move(cb)); });
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 3 * a);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(back.data()), 3 * a), std::string(a, 'x') + std::string(2 * a, 'y'));
}

TEST_P(DirectIoTest, MisalignedBufferOffsetOrLengthIsEINVALBeforeSubmission) {
  const std::size_t a = file_->direct_alignment();
  AlignedBuffer buf(4 * a, a);
  count_io();
  struct Case {
    const char* what;
    std::byte* buffer;
    std::size_t length;
    std::int64_t offset;
  };
  const Case cases[] = {
      {"buffer", buf.data() + 1, a, 0},
      {"buffer by half the alignment", buf.data() + a / 2, a, 0},
      {"offset", buf.data(), a, 1},
      {"offset by half the alignment", buf.data(), a, static_cast<std::int64_t>(a / 2)},
      {"length", buf.data(), a + 1, 0},
      {"length below the alignment", buf.data(), a / 2, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = read_sync(engine(), *file_, c.buffer, c.length, c.offset);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
    auto w = write_sync(engine(), *file_, c.buffer, c.length, c.offset);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error(), std::errc::invalid_argument);
  }
  iovec bad[] = {{buf.data() + 1, a}};
  auto v = call<std::size_t>(engine(), [&](auto cb) { file_->readv(bad, 1, 0, std::move(cb)); });
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), std::errc::invalid_argument);
  EXPECT_EQ(io_calls(), 0u) << "a misaligned op reached the kernel";
}

TEST_P(DirectIoTest, AwaitableOpsOnDirectFiles) {
  const std::size_t a = file_->direct_alignment();
  AlignedBuffer buf(a, a);
  std::memset(buf.data(), 'z', a);
  auto body = [&]() -> Task<void> {
    auto w = co_await file_->write_all(buf.data(), a, 0);
    EXPECT_TRUE(w && *w == a);
    auto bad = co_await file_->read(buf.data() + 1, a, 0);
    EXPECT_EQ(bad.error(), std::errc::invalid_argument);
    std::memset(buf.data(), 0, a);
    auto r = co_await file_->read_exact(buf.data(), a, 0);
    EXPECT_TRUE(r && *r == a);
    auto st = co_await file_->stat();
    EXPECT_TRUE(st && st->size == a);
  };
  sync_wait(engine(), body());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), a), std::string(a, 'z'));
}

INSTANTIATE_TEST_SUITE_P(Engines, DirectIoTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
