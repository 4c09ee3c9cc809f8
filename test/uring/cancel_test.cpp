// Cancellation completes a request exactly once: -ECANCELED, or its own result when
// the cancel came too late. Ops that never finish on their own (an empty pipe) too.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::Op;
using detail::Request;
using detail::RequestQueue;
using detail::UringRung;

Request* pipe_read(Driver& d, const Pipe& p, char* c) {
  Request* r = d.make(Op::Read);
  r->args.fd = p.read_end();
  r->args.buf = c;
  r->args.len = 1;
  r->args.offset = -1;
  return r;
}

void cancel(Driver& d, Request* r) {
  r->cancelled = true;  // as the core does before it asks the executor
  d.router().cancel(r);
}

class UringCancel : public ::testing::TestWithParam<UringRung> {};

TEST_P(UringCancel, ReadFromAnEmptyPipeIsCancelled) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  Driver d;
  Pipe p;
  char c;
  Request* r = pipe_read(d, p, &c);
  d.submit(r);
  d.step(std::chrono::milliseconds(20));
  ASSERT_FALSE(d.is_done(r));
  cancel(d, r);
  EXPECT_EQ(d.wait_for(r), -ECANCELED);
}

TEST_P(UringCancel, CancelAfterCompletionKeepsTheResult) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  Driver d;
  TempDir dir;
  int fd = make_file(dir.file("f"), 4096);
  char buf[4096];
  Request* r = d.make(Op::Read);
  r->args.fd = fd;
  r->args.buf = buf;
  r->args.len = sizeof buf;
  r->args.offset = 0;
  d.submit(r);
  d.pump();  // a cached read finishes during submission
  cancel(d, r);
  EXPECT_EQ(d.wait_for(r), 4096);
  d.drain();
  ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Rungs, UringCancel,
                         every_rung(), rung_name);

TEST(UringCancelMany, EveryPipeReadCompletesExactlyOnce) {
  SKIP_WITHOUT_IO_URING();
  EngineOptions options;
  options.queue_depth = 16;
  Driver d(options);
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<Request*> reqs;
  std::vector<char> sink(200);
  for (int i = 0; i < 200; ++i) {
    pipes.push_back(std::make_unique<Pipe>());
    reqs.push_back(pipe_read(d, *pipes.back(), &sink[static_cast<std::size_t>(i)]));
    d.submit(reqs.back());
  }
  d.pump();
  // Those in the ring are cancelled; the rest still wait in user space, as in the
  // core, and go to the ring as room appears: they get a byte to read.
  std::size_t cancelled = 0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    if (i < d.backend().capacity()) {
      cancel(d, reqs[i]);
      ++cancelled;
    } else {
      ASSERT_EQ(::write(pipes[i]->write_end(), "z", 1), 1);
    }
  }
  d.drain();
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_TRUE(d.is_done(reqs[i]));
    EXPECT_EQ(reqs[i]->res, i < cancelled ? -ECANCELED : 1) << i;
  }
}

// A request on the helper pool is cancelled there: a worker blocked in read(2) is
// interrupted.
TEST(UringCancelHelper, BlockedHelperWorkIsInterrupted) {
  SKIP_WITHOUT_IO_URING();
  Driver d;
  Pipe p;
  Request* r = d.make(Op::Call);
  const int fd = p.read_end();
  r->set_work([fd] {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    return n < 0 ? std::int64_t{-errno} : std::int64_t{n};
  });
  d.submit(r);
  d.step(std::chrono::milliseconds(50));
  ASSERT_FALSE(d.is_done(r));
  ASSERT_EQ(r->route, detail::Route::Pool);
  cancel(d, r);
  EXPECT_EQ(d.wait_for(r), -ECANCELED);
}

// The core drains before it destroys the backend; if something is left anyway the
// destructor cancels and waits for it rather than leave the kernel a buffer to
// write after it is gone.
TEST(UringDestroy, LeftoverRequestsAreCancelledAndDrained) {
  SKIP_WITHOUT_IO_URING();
  detail::RequestPool pool;  // outlives the backend, as the core's does
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<char> sink(64);
  {
    int err = 0;
    std::string reason;
    auto b = detail::UringBackend::create(EngineOptions{}, err, reason);
    ASSERT_TRUE(b) << reason;
    for (std::size_t i = 0; i < sink.size(); ++i) {
      pipes.push_back(std::make_unique<Pipe>());
      Request* r = pool.acquire();
      r->args.op = Op::Read;
      r->args.fd = pipes.back()->read_end();
      r->args.buf = &sink[i];
      r->args.len = 1;
      r->args.offset = -1;
      b->start(r);
    }
    b->flush();
    const auto t0 = std::chrono::steady_clock::now();
    b.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  }
  // Nothing was written into the buffers after the ring went away.
  for (auto& p : pipes) ASSERT_EQ(::write(p->write_end(), "q", 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (char c : sink) EXPECT_EQ(c, 0);
}

}  // namespace
}  // namespace ringfile::test
