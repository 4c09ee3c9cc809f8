// Linked ops: a chain reaches the kernel as IOSQE_IO_LINK SQEs in one submission;
// a failed or short member cancels the rest; a chain with an op the ring can't do
// runs whole, in order, on the helper pool.

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

Request* transfer(Driver& d, Op op, int fd, void* buf, std::size_t len, std::int64_t off) {
  Request* r = d.make(op);
  r->args.fd = fd;
  r->args.buf = buf;
  r->args.len = len;
  r->args.offset = off;
  return r;
}

void link(Request* head, Request* tail) {
  head->link_next = tail;
  tail->link_tail = true;
  if (head->args.op == Op::Write || head->args.op == Op::Read) tail->link_res_expected = head->args.len;
}

std::uint64_t fallbacks(Driver& d) {
  EngineStats stats;
  d.router().add_stats(stats);
  return stats.fallback_ops;
}

TEST(UringLink, WriteThenFsync) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  int fd = make_file(dir.file("f"), 8192);
  Driver d;
  std::string data(4096, 'w');
  Request* w = transfer(d, Op::Write, fd, data.data(), data.size(), 4096);
  Request* s = d.make(Op::Fsync);
  s->args.fd = fd;
  link(w, s);
  d.submit(w);
  EXPECT_EQ(d.wait_for(s), 0);
  EXPECT_EQ(d.wait_for(w), 4096);
  EXPECT_EQ(fallbacks(d), 0u);
  ::close(fd);
}

TEST(UringLink, FailedHeadCancelsTheTail) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  int fd = make_file(dir.file("f"), 8192);
  int ro = ::open(dir.file("f").c_str(), O_RDONLY | O_CLOEXEC);
  Driver d;
  std::string data(100, 'x');
  Request* bad = transfer(d, Op::Write, ro, data.data(), data.size(), 0);  // EBADF
  Request* tail = transfer(d, Op::Write, fd, data.data(), data.size(), 0);
  link(bad, tail);
  d.submit(bad);
  EXPECT_EQ(d.wait_for(bad), -EBADF);
  EXPECT_EQ(d.wait_for(tail), -ECANCELED);
  char first;
  ASSERT_EQ(::pread(fd, &first, 1, 0), 1);
  EXPECT_EQ(first, pattern_at(0)) << "the tail ran after its head failed";
  ::close(ro);
  ::close(fd);
}

TEST(UringLink, ShortReadCancelsTheTail) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  int fd = make_file(dir.file("f"), 6000);
  Driver d;
  std::vector<char> a(4096), b(4096);
  Request* head = transfer(d, Op::Read, fd, a.data(), a.size(), 4096);  // 1904 bytes left
  Request* tail = transfer(d, Op::Read, fd, b.data(), b.size(), 0);
  link(head, tail);
  d.submit(head);
  EXPECT_EQ(d.wait_for(head), 6000 - 4096);
  EXPECT_EQ(d.wait_for(tail), -ECANCELED);
  ::close(fd);
}

// A link must not be split across two io_uring_enter calls, or the kernel would
// run the tail as an independent op. Fill the SQ nearly full first.
TEST(UringLink, ChainIsNotSplitWhenTheSqIsNearlyFull) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  int fd = make_file(dir.file("f"), 8192);
  int ro = ::open(dir.file("f").c_str(), O_RDONLY | O_CLOEXEC);
  EngineOptions options;
  options.queue_depth = 8;
  Driver d(options);
  auto& backend = d.backend();
  char sink[7][16];
  std::vector<Request*> fillers;
  for (auto& s : sink) {
    fillers.push_back(transfer(d, Op::Read, fd, s, sizeof s, 0));
    backend.start(fillers.back());  // started directly: no flush in between
  }
  std::string data(100, 'x');
  Request* bad = transfer(d, Op::Write, ro, data.data(), data.size(), 0);
  Request* tail = transfer(d, Op::Write, fd, data.data(), data.size(), 0);
  link(bad, tail);
  backend.start(bad);
  backend.flush();
  std::size_t seen = 0;
  detail::RequestQueue done;
  while (seen < fillers.size() + 2) {
    backend.reap(done, std::chrono::seconds(5));
    seen = done.size();
  }
  EXPECT_EQ(bad->res, -EBADF);
  EXPECT_EQ(tail->res, -ECANCELED);
  for (Request* r : fillers) EXPECT_EQ(r->res, 16);
  ::close(ro);
  ::close(fd);
}

TEST(UringLink, ChainWithAnOpTheRingCantDoRunsOnTheHelperInOrder) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  int fd = make_file(dir.file("f"), 8192);
  Driver d;
  std::string data(4096, 'w');
  Request* w = transfer(d, Op::Write, fd, data.data(), data.size(), 0);
  Request* t = d.make(Op::Ftruncate);  // no opcode in liburing 2.3
  t->args.fd = fd;
  t->args.length = 100;
  link(w, t);
  d.submit(w);
  EXPECT_EQ(d.wait_for(w), 4096);
  EXPECT_EQ(d.wait_for(t), 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 100) << "the truncate ran before the write";
  EXPECT_EQ(fallbacks(d), 2u);
  ::close(fd);
}

TEST(UringLink, FileThatRefusedAMemberSendsTheWholeChainToTheHelper) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  FileState file;
  file.fd = make_file(dir.file("f"), 8192);
  file.refused_ops |= 1u << static_cast<unsigned>(Op::Fsync);
  Driver d;
  std::string data(512, 'z');
  Request* w = transfer(d, Op::Write, file.fd, data.data(), data.size(), 0);
  w->file = &file;
  Request* s = d.make(Op::Fsync);
  s->file = &file;
  s->args.fd = file.fd;
  link(w, s);
  d.submit(w);
  EXPECT_EQ(d.wait_for(w), 512);
  EXPECT_EQ(d.wait_for(s), 0);
  EXPECT_EQ(fallbacks(d), 2u);
  ::close(file.fd);
}

}  // namespace
}  // namespace ringfile::test
