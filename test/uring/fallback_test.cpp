// Per-op fallback: ops the ring can't do (no opcode, or -EOPNOTSUPP / -EINVAL from
// the filesystem) are re-run on the helper pool; the caller sees one completion
// with the real result, and the file remembers what its filesystem refused.

#include <gtest/gtest.h>

#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file_state.hpp"
#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::FileState;
using detail::Op;
using detail::Request;
using detail::sys::Call;

constexpr unsigned bit(Op op) { return 1u << static_cast<unsigned>(op); }

std::uint64_t fallbacks(Driver& d) {
  EngineStats stats;
  d.router().add_stats(stats);
  return stats.fallback_ops;
}

off_t size_of(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  return st.st_size;
}

std::int64_t fallocate(Driver& d, FileState& file, std::int64_t len) {
  Request* r = d.make(Op::Fallocate);
  r->file = &file;
  r->args.fd = file.fd;
  r->args.mode = 0;
  r->args.offset = 0;
  r->args.length = len;
  d.submit(r);
  std::int64_t res = d.wait_for(r);
  d.release(r);
  return res;
}

class UringFallback : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_IO_URING();
    driver_.emplace();
    file_.fd = make_file(dir_.file("f"), 8192);
  }
  void TearDown() override {
    detail::sys::clear_faults();
    if (file_.fd >= 0) ::close(file_.fd);
  }
  Driver& d() { return *driver_; }

  TempDir dir_;
  std::optional<Driver> driver_;
  FileState file_;
};

TEST_F(UringFallback, EopnotsuppIsServedByTheHelperAndRemembered) {
  {
    ScopedFault refuse(Call::fallocate, -EOPNOTSUPP);
    EXPECT_EQ(fallocate(d(), file_, 1 << 20), 0);
    EXPECT_EQ(size_of(file_.fd), 1 << 20);
    EXPECT_EQ(fallbacks(d()), 1u);
    EXPECT_TRUE(file_.refused_ops & bit(Op::Fallocate));

    // Not asked of the ring again: one more seam call (the helper's), not two.
    const auto before = detail::sys::calls(Call::fallocate);
    EXPECT_EQ(fallocate(d(), file_, 2 << 20), 0);
    EXPECT_EQ(detail::sys::calls(Call::fallocate), before + 1);
    EXPECT_EQ(size_of(file_.fd), 2 << 20);
    EXPECT_EQ(fallbacks(d()), 2u);
  }
  // Other ops on the file still use the ring.
  char buf[16];
  EXPECT_EQ(d().read(file_.fd, buf, sizeof buf, 0), 16);
  EXPECT_EQ(fallbacks(d()), 2u);
}

TEST_F(UringFallback, EopnotsuppReadGetsTheRightBytesFromTheHelper) {
  ScopedFault refuse(Call::read, -EOPNOTSUPP);
  char buf[4096] = {};
  Request* r = d().make(Op::Read);
  r->file = &file_;
  r->args.fd = file_.fd;
  r->args.buf = buf;
  r->args.len = sizeof buf;
  r->args.offset = 4096;
  d().submit(r);
  EXPECT_EQ(d().wait_for(r), 4096);
  for (std::size_t i = 0; i < sizeof buf; ++i) ASSERT_EQ(buf[i], pattern_at(4096 + i)) << i;
  EXPECT_EQ(fallbacks(d()), 1u);
}

TEST_F(UringFallback, EinvalFromAMetadataOpIsRetriedAndRememberedWhenTheHelperSucceeds) {
  ScopedFault refuse(Call::statx, -EINVAL);
  Request* r = d().make(Op::Statx);
  r->file = &file_;
  r->set_paths(dir_.file("f"));
  r->args.flags = 0;
  r->args.mode = STATX_SIZE | STATX_TYPE;
  d().submit(r);
  EXPECT_EQ(d().wait_for(r), 0);
  EXPECT_EQ(r->args.statx_out->stx_size, 8192u);
  EXPECT_TRUE(S_ISREG(r->args.statx_out->stx_mode));
  EXPECT_EQ(fallbacks(d()), 1u);
  EXPECT_TRUE(file_.refused_ops & bit(Op::Statx));
}

TEST_F(UringFallback, EinvalTheHelperRepeatsIsRealAndNotRemembered) {
  ScopedFault refuse(Call::fallocate, -EINVAL, 2);  // the ring's, then the helper's
  EXPECT_EQ(fallocate(d(), file_, 1 << 20), -EINVAL);
  EXPECT_EQ(fallbacks(d()), 1u);
  EXPECT_FALSE(file_.refused_ops & bit(Op::Fallocate));
}

// EINVAL from a transfer is usually real (misaligned O_DIRECT): returned as is.
TEST_F(UringFallback, EinvalFromATransferIsNotRetried) {
  ScopedFault refuse(Call::read, -EINVAL);
  char buf[16];
  EXPECT_EQ(d().read(file_.fd, buf, sizeof buf, 0), -EINVAL);
  EXPECT_EQ(fallbacks(d()), 0u);
}

TEST_F(UringFallback, OpenWithoutAFileFallsBackToo) {
  ScopedFault refuse(Call::open, -EOPNOTSUPP);
  Request* r = d().make(Op::Open);
  r->args = detail::OpArgs::open(O_RDONLY, 0);
  r->set_paths(dir_.file("f"));
  d().submit(r);
  const std::int64_t fd = d().wait_for(r);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fcntl(static_cast<int>(fd), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ::close(static_cast<int>(fd));
  EXPECT_EQ(fallbacks(d()), 1u);
}

TEST_F(UringFallback, OpsWithoutAnOpcodeRunOnTheHelper) {
  Request* r = d().make(Op::Ftruncate);
  r->file = &file_;
  r->args.fd = file_.fd;
  r->args.length = 12345;
  d().submit(r);
  EXPECT_EQ(d().wait_for(r), 0);
  EXPECT_EQ(size_of(file_.fd), 12345);
  EXPECT_EQ(fallbacks(d()), 1u);

  // Op::Call is pool work by design, not a fallback.
  Request* c = d().make(Op::Call);
  c->set_work([] { return std::int64_t{7}; });
  d().submit(c);
  EXPECT_EQ(d().wait_for(c), 7);
  EXPECT_EQ(fallbacks(d()), 1u);
}

TEST_F(UringFallback, FileThatRefusedAnOpSendsItToTheHelper) {
  file_.refused_ops |= bit(Op::Read);
  char buf[100];
  Request* r = d().make(Op::Read);
  r->file = &file_;
  r->args.fd = file_.fd;
  r->args.buf = buf;
  r->args.len = sizeof buf;
  r->args.offset = 50;
  d().submit(r);
  EXPECT_EQ(d().wait_for(r), 100);
  for (std::size_t i = 0; i < sizeof buf; ++i) ASSERT_EQ(buf[i], pattern_at(50 + i));
  EXPECT_EQ(fallbacks(d()), 1u);
}

// Every path op through the ring, checked against the filesystem.
TEST_F(UringFallback, PathOpsThroughTheRing) {
  auto run = [&](Op op, const std::string& path, const std::string& path2, int flags, int mode) {
    Request* r = d().make(op);
    r->set_paths(path, path2);
    r->args.flags = flags;
    r->args.mode = mode;
    d().submit(r);
    std::int64_t res = d().wait_for(r);
    d().release(r);
    return res;
  };
  struct stat st {};
  EXPECT_EQ(run(Op::Mkdir, dir_.file("d"), "", 0, 0750), 0);
  ASSERT_EQ(::stat(dir_.file("d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(run(Op::Mkdir, dir_.file("d"), "", 0, 0750), -EEXIST);

  EXPECT_EQ(run(Op::Symlink, "f", dir_.file("sym"), 0, 0), 0);
  char target[16] = {};
  EXPECT_EQ(::readlink(dir_.file("sym").c_str(), target, sizeof target - 1), 1);
  EXPECT_STREQ(target, "f");

  EXPECT_EQ(run(Op::Link, dir_.file("f"), dir_.file("hard"), 0, 0), 0);
  ASSERT_EQ(::stat(dir_.file("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);

  EXPECT_EQ(run(Op::Rename, dir_.file("hard"), dir_.file("moved"), 0, 0), 0);
  EXPECT_NE(::access(dir_.file("hard").c_str(), F_OK), 0);
  EXPECT_EQ(::access(dir_.file("moved").c_str(), F_OK), 0);
  EXPECT_EQ(run(Op::Rename, dir_.file("moved"), dir_.file("f"), RENAME_NOREPLACE, 0), -EEXIST);

  EXPECT_EQ(run(Op::Unlink, dir_.file("moved"), "", 0, 0), 0);
  EXPECT_EQ(run(Op::Unlink, dir_.file("d"), "", AT_REMOVEDIR, 0), 0);
  EXPECT_EQ(run(Op::Unlink, dir_.file("nothing"), "", 0, 0), -ENOENT);

  Request* r = d().make(Op::Statx);
  r->set_paths(dir_.file("sym"));
  r->args.flags = AT_SYMLINK_NOFOLLOW;
  r->args.mode = STATX_TYPE;
  d().submit(r);
  EXPECT_EQ(d().wait_for(r), 0);
  EXPECT_TRUE(S_ISLNK(r->args.statx_out->stx_mode));
  EXPECT_EQ(fallbacks(d()), 0u);
}

TEST_F(UringFallback, DescriptorOpsThroughTheRing) {
  Request* open = d().make(Op::Open);
  open->args = detail::OpArgs::open(O_CREAT | O_RDWR, 0600);
  open->set_paths(dir_.file("new"));
  d().submit(open);
  const auto fd = static_cast<int>(d().wait_for(open));
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

  char a[] = "hello ";
  char b[] = "world";
  iovec out[2] = {{a, 6}, {b, 5}};
  Request* wv = d().make(Op::Writev);
  wv->args.fd = fd;
  wv->args.iov = out;
  wv->args.iovcnt = 2;
  wv->args.offset = 0;
  d().submit(wv);
  EXPECT_EQ(d().wait_for(wv), 11);

  for (Op op : {Op::Fsync, Op::Fdatasync}) {
    Request* s = d().make(op);
    s->args.fd = fd;
    d().submit(s);
    EXPECT_EQ(d().wait_for(s), 0) << detail::to_string(op);
  }

  char x[5] = {}, y[6] = {};
  iovec in[2] = {{x, 5}, {y, 6}};
  Request* rv = d().make(Op::Readv);
  rv->args.fd = fd;
  rv->args.iov = in;
  rv->args.iovcnt = 2;
  rv->args.offset = 0;
  d().submit(rv);
  EXPECT_EQ(d().wait_for(rv), 11);
  EXPECT_EQ(std::string(x, 5) + std::string(y, 6), "hello world");

  Request* st = d().make(Op::Statx);
  st->args.fd = fd;
  st->args.flags = AT_EMPTY_PATH;
  st->args.mode = STATX_SIZE;
  d().submit(st);
  EXPECT_EQ(d().wait_for(st), 0);
  EXPECT_EQ(st->args.statx_out->stx_size, 11u);

  Request* close = d().make(Op::Close);
  close->args.fd = fd;
  d().submit(close);
  EXPECT_EQ(d().wait_for(close), 0);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(fallbacks(d()), 0u);
}

}  // namespace
}  // namespace ringfile::test
