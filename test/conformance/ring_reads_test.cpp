// File::read past the owner's fast path: on io_uring one SQE with no request
// (EngineCore::read_on_ring), on the pool the request path. Both engines must
// give every read the same rules: its own bytes, one callback inside
// poll()/wait(), retries, cancel, close and teardown.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

using detail::sys::Call;

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kBlocks = 64;

class RingReads : public SeamTest {
 protected:
  void SetUp() override {
    SeamTest::SetUp();
    if (IsSkipped()) return;
    // No owner fast path and no residency checks: every read goes where a read
    // past the fast path's depth goes.
    EngineOptions o = options();
    o.cached_read_fast_path = false;
    o.offload_cold_reads = false;
    auto e = Engine::create(o);
    ASSERT_TRUE(e) << e.error().message();
    engine_.emplace(std::move(*e));
    data_ = random_bytes(kBlocks * kBlock, 41);
    write_plain(dir_.file("data"), data_);
    auto f = open_sync(engine(), dir_.file("data"), O_RDONLY);
    ASSERT_TRUE(f);
    file_ = std::move(*f);
  }

  bool on_ring() const { return GetParam() == Backend::IoUring; }
  // Out of the page cache (where the filesystem allows it), so reads stay in
  // flight long enough for a cancel to find them.
  void evict() {
    ASSERT_EQ(::fdatasync(file_.native_handle()), 0);
    ASSERT_EQ(::posix_fadvise(file_.native_handle(), 0, 0, POSIX_FADV_DONTNEED), 0);
  }
  static std::int64_t offset_of(std::size_t i) { return static_cast<std::int64_t>((i % kBlocks) * kBlock); }
  std::string block(std::size_t i) const { return data_.substr(static_cast<std::size_t>(offset_of(i)), kBlock); }

  // Starts reads of blocks [0, n), each recording its result and how often it ran.
  struct Reads {
    std::vector<std::string> backs;
    std::vector<int> calls;
    std::vector<Result<std::size_t>> results;
    std::vector<OpHandle> handles;
  };
  void start_reads(Reads& reads, std::size_t n) {
    reads.backs.assign(n, std::string(kBlock, '\0'));
    reads.calls.assign(n, 0);
    reads.results.assign(n, std::size_t{0});
    for (std::size_t i = 0; i < n; ++i) {
      reads.handles.push_back(file_.read(reads.backs[i].data(), kBlock, offset_of(i), [&reads, i](Result<std::size_t> r) {
        ++reads.calls[i];
        reads.results[i] = r;
      }));
    }
  }
  // Each read ran once and, unless cancelled, brought its own block.
  void expect_each_once(const Reads& reads, bool may_be_cancelled) {
    for (std::size_t i = 0; i < reads.calls.size(); ++i) {
      EXPECT_EQ(reads.calls[i], 1) << "read " << i;
      if (!reads.results[i]) {
        EXPECT_TRUE(may_be_cancelled) << "read " << i << ": " << reads.results[i].error().message();
        EXPECT_EQ(reads.results[i].error(), std::errc::operation_canceled) << "read " << i;
        continue;
      }
      EXPECT_EQ(*reads.results[i], kBlock) << "read " << i;
      EXPECT_EQ(reads.backs[i], block(i)) << "read " << i;
    }
  }

  std::string data_;
  File file_;
};

TEST_P(RingReads, EachReadCompletesOnceInsideTheEngineWithItsOwnBytes) {
  const auto before = engine().stats();
  Reads reads;
  start_reads(reads, 16);
  for (int c : reads.calls) EXPECT_EQ(c, 0) << "a callback never runs inside the call that started its op";
  EXPECT_EQ(engine().pending(), 16u);
  ASSERT_TRUE(engine().run());
  expect_each_once(reads, false);
  const auto after = engine().stats();
  EXPECT_EQ(after.ring_reads_without_request - before.ring_reads_without_request, on_ring() ? 16u : 0u);
  EXPECT_EQ(after.completed - before.completed, 16u);
  EXPECT_EQ(after.in_flight, 0u);
  EXPECT_EQ(engine().pending(), 0u);
}

// The fast path's depth on io_uring: the reads past it go to the ring as SQEs.
TEST_P(RingReads, ReadsPastTheFastPathsDepthTakeTheRing) {
  EngineOptions o = options();
  o.offload_cold_reads = false;
  auto e = Engine::create(o);
  ASSERT_TRUE(e);
  engine_.emplace(std::move(*e));
  auto f = open_sync(engine(), dir_.file("data"), O_RDONLY);
  ASSERT_TRUE(f);
  file_ = std::move(*f);
  const std::size_t n = o.fast_path_max_in_flight + 8;
  Reads reads;
  start_reads(reads, n);
  ASSERT_TRUE(engine().run());
  expect_each_once(reads, false);
  const auto s = engine().stats();
  if (on_ring()) {
    // The owner reads while at most fast_path_max_in_flight others are pending
    // (none where the filesystem refuses RWF_NOWAIT: those go as requests).
    EXPECT_GE(s.ring_reads_without_request, n - o.fast_path_max_in_flight - 1);
    EXPECT_LE(s.ring_reads_without_request + s.fast_path_reads, n);
  } else {
    EXPECT_EQ(s.ring_reads_without_request, 0u);
  }
}

TEST_P(RingReads, EintrAndEagainAreRetriedAndTheReadFinishes) {
  for (int error : {-EINTR, -EAGAIN}) {
    SCOPED_TRACE(error);
    count_syscalls();
    detail::sys::inject(fault(Call::read, 1, 1, error));
    const auto retries = engine().stats().retries;
    std::string back(kBlock, '\0');
    auto got = read_sync(engine(), file_, back.data(), kBlock, offset_of(3));
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, kBlock);
    EXPECT_EQ(back, block(3));
    EXPECT_EQ(detail::sys::calls(Call::read), 2u);
    EXPECT_EQ(engine().stats().retries, retries + 1);
  }
}

TEST_P(RingReads, AnIoErrorIsReportedOnceAndNotRetried) {
  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 1, -EIO));
  std::string back(kBlock, '\0');
  auto got = read_sync(engine(), file_, back.data(), kBlock, offset_of(4));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::io_error);
  EXPECT_EQ(detail::sys::calls(Call::read), 1u);
  EXPECT_EQ(engine().pending(), 0u);
}

TEST_P(RingReads, AShortCountIsTheReadsResultAndReadExactGoesOn) {
  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 1, 0, 100));
  std::string back(kBlock, '\0');
  auto got = read_sync(engine(), file_, back.data(), kBlock, offset_of(5));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 100u) << "like pread, File::read reports what moved";
  EXPECT_EQ(back.substr(0, 100), block(5).substr(0, 100));

  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 1, 0, 100));
  std::string whole(kBlock, '\0');
  auto exact = call<std::size_t>(engine(), [&](auto cb) { file_.read_exact(whole.data(), kBlock, offset_of(6), std::move(cb)); });
  ASSERT_TRUE(exact);
  EXPECT_EQ(*exact, kBlock);
  EXPECT_EQ(whole, block(6));
}

TEST_P(RingReads, AReadTheFilesystemRefusesOnTheRingIsRunByThePool) {
  if (!on_ring()) GTEST_SKIP() << "io_uring only: the pool has no other executor to re-route a refusal to";
  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 1, -EOPNOTSUPP));
  std::string back(kBlock, '\0');
  auto got = read_sync(engine(), file_, back.data(), kBlock, offset_of(7));
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, kBlock);
  EXPECT_EQ(back, block(7));
  EXPECT_GE(engine().stats().fallback_ops, 1u);
  // The file remembers: its next read goes to the pool, not to the ring.
  const auto on_ring_before = engine().stats().ring_reads_without_request;
  got = read_sync(engine(), file_, back.data(), kBlock, offset_of(8));
  ASSERT_TRUE(got);
  EXPECT_EQ(back, block(8));
  EXPECT_EQ(engine().stats().ring_reads_without_request, on_ring_before);
}

// A cancelled read that the kernel (or the pool's signal) interrupted reports
// ECANCELED; the seam's EINTR stands in for the interruption, which a read of
// cached data is otherwise too quick to see.
TEST_P(RingReads, ACancelledReadThatWasInterruptedReportsEcanceledOnce) {
  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 1, -EINTR));
  std::string back(kBlock, '\0');
  int calls = 0;
  Result<std::size_t> result = std::size_t{0};
  OpHandle op = file_.read(back.data(), kBlock, offset_of(9), [&](Result<std::size_t> r) {
    ++calls;
    result = r;
  });
  engine().cancel(op);
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(calls, 1);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::operation_canceled);
  EXPECT_LE(detail::sys::calls(Call::read), 1u) << "a cancelled read is not retried (the pool may not start it)";
}

// A finished read's slot is reused by the next read: cancelling through the old
// handle must not reach it (were it marked cancelled, its EINTR would end it).
TEST_P(RingReads, AStaleHandleCancelsNothing) {
  std::string back(kBlock, '\0');
  std::optional<Result<std::size_t>> first;
  OpHandle old = file_.read(back.data(), kBlock, offset_of(10), [&](Result<std::size_t> r) { first.emplace(r); });
  ASSERT_TRUE(engine().run());
  ASSERT_TRUE(first && *first);

  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 1, -EINTR));
  std::optional<Result<std::size_t>> second;
  file_.read(back.data(), kBlock, offset_of(11), [&](Result<std::size_t> r) { second.emplace(r); });
  engine().cancel(old);
  ASSERT_TRUE(engine().run());
  ASSERT_TRUE(second);
  ASSERT_TRUE(*second) << second->error().message();
  EXPECT_EQ(**second, kBlock);
  EXPECT_EQ(back, block(11));
  EXPECT_EQ(detail::sys::calls(Call::read), 2u) << "the interrupted read was retried";
}

// Each read's result is an injected EINTR, which a read that was not cancelled
// retries (and then reads its bytes): every read must end ECANCELED.
TEST_P(RingReads, CancelAllEndsEveryReadOnceWithEcanceled) {
  evict();
  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 32, -EINTR));
  Reads reads;
  start_reads(reads, 32);
  engine().cancel_all();
  ASSERT_TRUE(engine().run());
  for (std::size_t i = 0; i < 32; ++i) {
    EXPECT_EQ(reads.calls[i], 1) << "read " << i;
    ASSERT_FALSE(reads.results[i]) << "read " << i << " was not cancelled";
    EXPECT_EQ(reads.results[i].error(), std::errc::operation_canceled) << "read " << i;
  }
  EXPECT_EQ(engine().pending(), 0u);
}

TEST_P(RingReads, ACloseWaitsForTheReadsInFlightOnItsFile) {
  Reads reads;
  start_reads(reads, 16);
  int reads_done_at_close = -1;
  file_.close([&](Result<void> r) {
    EXPECT_TRUE(r);
    reads_done_at_close = 0;
    for (int c : reads.calls) reads_done_at_close += c;
  });
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(reads_done_at_close, 16);
  expect_each_once(reads, false);
}

TEST_P(RingReads, DestroyingTheEngineCancelsAndDeliversEveryReadInFlight) {
  evict();
  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 32, -EINTR));
  Reads reads;
  start_reads(reads, 32);
  engine_.reset();
  for (std::size_t i = 0; i < 32; ++i) {
    EXPECT_EQ(reads.calls[i], 1) << "read " << i;
    ASSERT_FALSE(reads.results[i]) << "read " << i << " was not cancelled";
    EXPECT_EQ(reads.results[i].error(), std::errc::operation_canceled) << "read " << i;
  }
}

TEST_P(RingReads, AnEngineDestroyedInsideAReadsCallbackDeliversTheOthers) {
  Reads reads;
  reads.backs.assign(16, std::string(kBlock, '\0'));
  reads.calls.assign(16, 0);
  reads.results.assign(16, std::size_t{0});
  for (std::size_t i = 0; i < 16; ++i) {
    file_.read(reads.backs[i].data(), kBlock, offset_of(i), [&, i](Result<std::size_t> r) {
      ++reads.calls[i];
      reads.results[i] = r;
      if (engine_) engine_.reset();  // the first callback to run ends the engine
    });
  }
  for (int round = 0; round < 100 && engine_; ++round) (void)engine().wait(std::chrono::milliseconds(100));
  ASSERT_FALSE(engine_);
  expect_each_once(reads, true);
}

TEST_P(RingReads, EventFdIsReadableForAReadStartedOutsidePoll) {
  const int fd = engine().event_fd();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(engine().poll());  // start from a quiet descriptor
  Reads reads;
  start_reads(reads, 8);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "an event loop asleep on event_fd() would never call poll()";
  for (int round = 0; round < 200 && engine().pending() > 0; ++round) {
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    ASSERT_TRUE(engine().poll());
  }
  expect_each_once(reads, false);
}

// A read the ring refused goes on as a request on the pool; the handle the caller
// holds still cancels it (the pool's read is interrupted, as the EINTR stands for).
TEST_P(RingReads, TheHandleOfAReadCarriedOnAsARequestStillCancelsIt) {
  if (!on_ring()) GTEST_SKIP() << "io_uring only: the pool takes every read as a request from the start";
  count_syscalls();
  detail::sys::inject(fault(Call::read, 1, 1, -EOPNOTSUPP));
  detail::sys::inject(fault(Call::read, 2, 1, -EINTR));
  std::string back(kBlock, '\0');
  std::optional<Result<std::size_t>> done;
  const auto fallbacks = engine().stats().fallback_ops;
  OpHandle op = file_.read(back.data(), kBlock, offset_of(12), [&](Result<std::size_t> r) { done.emplace(r); });
  // poll(), not wait(): wait() would go on waiting for the pool's result.
  for (int round = 0; round < 1000 && engine().stats().fallback_ops == fallbacks; ++round) {
    ASSERT_TRUE(engine().poll());
    if (engine().stats().fallback_ops == fallbacks) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(engine().stats().fallback_ops, fallbacks) << "the refused read went to the pool";
  ASSERT_FALSE(done);
  engine().cancel(op);
  ASSERT_TRUE(engine().run());
  ASSERT_TRUE(done);
  ASSERT_FALSE(*done) << "the read was retried instead of cancelled";
  EXPECT_EQ(done->error(), std::errc::operation_canceled);
}

TEST_P(RingReads, ACallbackThatThrowsLeavesTheOtherReadsForTheNextCall) {
  std::vector<std::string> backs(3, std::string(kBlock, '\0'));
  std::vector<std::size_t> ran;
  for (std::size_t i = 0; i < 3; ++i) {
    file_.read(backs[i].data(), kBlock, offset_of(i), [&ran, i](Result<std::size_t> r) {
      ASSERT_TRUE(r);
      ran.push_back(i);
      if (i == 0) throw std::runtime_error("from a callback");
    });
  }
  bool threw = false;
  for (int round = 0; round < 100 && ran.size() < 3; ++round) {
    try {
      (void)engine().wait(std::chrono::milliseconds(100));
    } catch (const std::runtime_error&) {
      threw = true;
    }
  }
  EXPECT_TRUE(threw);
  std::sort(ran.begin(), ran.end());
  EXPECT_EQ(ran, (std::vector<std::size_t>{0, 1, 2}));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(backs[i], block(i));
  EXPECT_EQ(engine().pending(), 0u);
}

TEST_P(RingReads, ReadsStartedByCallbacksKeepGoingUntilTheLast) {
  // A QD-8 loop: each completion starts the slot's next read, as a server does.
  constexpr std::size_t kSlots = 8;
  constexpr std::size_t kTotal = 400;
  std::vector<std::string> backs(kSlots, std::string(kBlock, '\0'));
  std::size_t started = 0;
  std::size_t done = 0;
  std::size_t wrong = 0;
  std::function<void(std::size_t)> issue = [&](std::size_t slot) {
    const std::size_t n = started++;
    file_.read(backs[slot].data(), kBlock, offset_of(n), [&, slot, n](Result<std::size_t> r) {
      ++done;
      if (!r || *r != kBlock || backs[slot] != block(n)) ++wrong;
      if (started < kTotal) issue(slot);
    });
  };
  for (std::size_t s = 0; s < kSlots; ++s) issue(s);
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(done, kTotal);
  EXPECT_EQ(wrong, 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, RingReads, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
