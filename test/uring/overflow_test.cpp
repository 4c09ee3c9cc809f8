// More requests than the CQ holds: capacity() keeps the CQ from overflowing and
// the user-space queue holds the rest until completions make room.

#include <gtest/gtest.h>

#include <vector>

#include <unistd.h>

#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::Op;
using detail::Request;

TEST(UringOverflow, CapacityLeavesRoomInTheCq) {
  SKIP_WITHOUT_IO_URING();
  EngineOptions options;
  options.queue_depth = 8;
  Driver d(options);
  auto& b = d.backend();
  EXPECT_EQ(b.sq_entries(), 8u);
  EXPECT_EQ(b.cq_entries(), 16u);
  // One CQE per request plus one per cancel of it, with room for the ring's own.
  EXPECT_GE(b.capacity(), 1u);
  EXPECT_LE(2 * b.capacity() + 2, b.cq_entries());
}

TEST(UringOverflow, ManyMoreOpsThanCqEntriesAllComplete) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  constexpr std::size_t kSize = 1 << 20;
  int fd = make_file(dir.file("data"), kSize);
  EngineOptions options;
  options.queue_depth = 8;
  Driver d(options);
  ASSERT_LT(d.backend().cq_entries(), 100u);

  constexpr std::size_t kOps = 5000;
  constexpr std::size_t kLen = 512;
  std::vector<char> bufs(kOps * kLen);
  std::vector<Request*> reqs;
  for (std::size_t i = 0; i < kOps; ++i) {
    Request* r = d.make(Op::Read);
    r->args.fd = fd;
    r->args.buf = bufs.data() + i * kLen;
    r->args.len = kLen;
    r->args.offset = static_cast<std::int64_t>((i * 4096 + i) % (kSize - kLen));
    d.submit(r);
    reqs.push_back(r);
  }
  d.drain();
  for (std::size_t i = 0; i < kOps; ++i) {
    ASSERT_TRUE(d.is_done(reqs[i]));
    ASSERT_EQ(reqs[i]->res, static_cast<std::int64_t>(kLen)) << "op " << i;
    auto off = static_cast<std::size_t>(reqs[i]->args.offset);
    for (std::size_t j = 0; j < kLen; j += 97) ASSERT_EQ(bufs[i * kLen + j], pattern_at(off + j));
  }
  EngineStats stats;
  d.router().add_stats(stats);
  // Batched: far fewer kernel entries than ops.
  EXPECT_LT(stats.kernel_enters, kOps);
  ::close(fd);
}

// start() beyond the SQ's size (requests plus their cancels) submits what is
// there and carries on instead of failing.
TEST(UringOverflow, StartSubmitsWhenTheSqIsFull) {
  SKIP_WITHOUT_IO_URING();
  EngineOptions options;
  options.queue_depth = 8;
  Driver d(options);
  auto& b = d.backend();
  std::vector<int> pipes;
  std::vector<Request*> reqs;
  char sink[16];
  for (unsigned i = 0; i < b.capacity(); ++i) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    pipes.push_back(p[0]);
    pipes.push_back(p[1]);
    Request* r = d.make(Op::Read);
    r->args.fd = p[0];
    r->args.buf = sink;
    r->args.len = 1;
    r->args.offset = -1;
    d.submit(r);
    reqs.push_back(r);
  }
  d.pump();
  ASSERT_EQ(d.in_flight(), b.capacity());
  for (Request* r : reqs) {
    r->cancelled = true;
    b.cancel(r);
  }
  d.drain();
  for (Request* r : reqs) EXPECT_EQ(r->res, -ECANCELED);
  for (int fd : pipes) ::close(fd);
}

}  // namespace
}  // namespace ringfile::test
