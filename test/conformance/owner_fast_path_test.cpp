// File::read's shortcut for cached data of a warm file (EngineCore::read_at_once):
// done at once on the owner thread without a request, its callback still run
// later, inside poll()/wait(), with every rule a request's completion follows.

#include <fcntl.h>
#include <sys/uio.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/cache_residency.hpp"
#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

using detail::sys::Call;

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kFileSize = 64 * kBlock;

class ReadAtOnce : public SeamTest {
 protected:
  void SetUp() override {
    SeamTest::SetUp();
    if (IsSkipped()) return;
    data_ = random_bytes(kFileSize, 23);
    write_plain(dir_.file("data"), data_);
    auto f = open_sync(engine(), dir_.file("data"), O_RDONLY);
    ASSERT_TRUE(f);
    file_ = std::move(*f);
    warm_up();
  }

  // Enough cached reads in a row that the file counts as warm: from here on its
  // reads need no residency check, so they take the shortcut.
  void warm_up() {
    std::string back(kBlock, '\0');
    for (std::size_t i = 0; i <= detail::CacheResidency::kWarmAfter; ++i) {
      ASSERT_EQ(read_sync(engine(), file_, back.data(), kBlock, block_offset(i)).value(), kBlock);
    }
  }
  static std::int64_t block_offset(std::size_t i) { return static_cast<std::int64_t>((i * kBlock) % kFileSize); }
  std::string block(std::size_t i) const { return data_.substr(static_cast<std::size_t>(block_offset(i)), kBlock); }

  std::string data_;
  File file_;
};

TEST_P(ReadAtOnce, ACachedReadOfAWarmFileCompletesInsidePollNotInline) {
  count_syscalls();
  const auto fast_before = engine().stats().fast_path_reads;
  std::string back(kBlock, '\0');
  std::optional<Result<std::size_t>> done;
  EXPECT_TRUE(file_.read(back.data(), kBlock, block_offset(3), [&](Result<std::size_t> r) { done.emplace(r); }));
  EXPECT_FALSE(done) << "a callback never runs inside the call that started its op";
  EXPECT_EQ(engine().stats().fast_path_reads, fast_before + 1);
  EXPECT_EQ(detail::sys::calls(Call::read_nowait), 1u);
  EXPECT_EQ(detail::sys::calls(Call::cachestat), 0u) << "a warm file between samples is not probed";
  EXPECT_EQ(engine().pending(), 1u);
  ASSERT_EQ(engine().poll().value(), 1u);
  ASSERT_TRUE(done && *done);
  EXPECT_EQ(**done, kBlock);
  EXPECT_EQ(back, block(3));
  EXPECT_EQ(engine().pending(), 0u);
}

// Past the fast path's depth (io_uring) reads of the warm file go straight to the
// ring; every one completes once with its own bytes, cancelled or not.
TEST_P(ReadAtOnce, ManyReadsInFlightCompleteOnceWithTheirOwnBytes) {
  constexpr std::size_t kReads = 64;
  std::vector<std::string> backs(kReads, std::string(kBlock, '\0'));
  std::vector<int> calls(kReads, 0);
  std::vector<Result<std::size_t>> results(kReads, std::size_t{0});
  std::vector<OpHandle> handles;
  for (std::size_t i = 0; i < kReads; ++i) {
    handles.push_back(file_.read(backs[i].data(), kBlock, block_offset(i), [&calls, &results, i](Result<std::size_t> r) {
      ++calls[i];
      results[i] = r;
    }));
  }
  engine().cancel(handles[kReads - 1]);
  ASSERT_TRUE(engine().run());
  for (std::size_t i = 0; i < kReads; ++i) {
    EXPECT_EQ(calls[i], 1) << "read " << i;
    if (i == kReads - 1 && !results[i]) {
      EXPECT_EQ(results[i].error(), std::errc::operation_canceled);
      continue;
    }
    ASSERT_TRUE(results[i]) << "read " << i << ": " << results[i].error().message();
    EXPECT_EQ(*results[i], kBlock);
    EXPECT_EQ(backs[i], block(i)) << "read " << i;
  }
}

TEST_P(ReadAtOnce, ReadsStartedByACallbackWaitForTheNextCall) {
  std::string back(kBlock, '\0');
  std::vector<std::size_t> order;
  file_.read(back.data(), kBlock, block_offset(1), [&](Result<std::size_t> r) {
    ASSERT_TRUE(r);
    order.push_back(1);
    file_.read(back.data(), kBlock, block_offset(2), [&](Result<std::size_t> r2) {
      ASSERT_TRUE(r2);
      order.push_back(2);
    });
  });
  EXPECT_EQ(engine().poll().value(), 1u);
  EXPECT_EQ(order, std::vector<std::size_t>{1});
  EXPECT_EQ(engine().poll().value(), 1u);
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(back, block(2));
}

TEST_P(ReadAtOnce, ACallbackThatThrowsLeavesTheOtherReadsForTheNextCall) {
  std::vector<std::string> backs(3, std::string(kBlock, '\0'));
  std::vector<std::size_t> ran;
  for (std::size_t i = 0; i < 3; ++i) {
    file_.read(backs[i].data(), kBlock, block_offset(i), [&ran, i](Result<std::size_t> r) {
      ASSERT_TRUE(r);
      ran.push_back(i);
      if (i == 0) throw std::runtime_error("from a callback");
    });
  }
  EXPECT_THROW((void)engine().poll(), std::runtime_error);
  EXPECT_EQ(ran, std::vector<std::size_t>{0});
  EXPECT_EQ(engine().poll().value(), 2u);
  EXPECT_EQ(ran, (std::vector<std::size_t>{0, 1, 2}));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(backs[i], block(i));
}

// A readv of cached data on io_uring completes inside the submitting poll(), so
// it is reaped in the same call as the throwing callback runs.
TEST_P(ReadAtOnce, AThrowingCallbackLosesNoCompletionReapedInTheSameCall) {
  std::string back(kBlock, '\0');
  std::string vector_back(kBlock, '\0');
  iovec iov{vector_back.data(), kBlock};
  int vector_done = 0;
  file_.readv(&iov, 1, block_offset(4), [&](Result<std::size_t> r) {
    EXPECT_TRUE(r);
    ++vector_done;
  });
  file_.read(back.data(), kBlock, block_offset(5),
             [](Result<std::size_t>) { throw std::runtime_error("from a callback"); });
  EXPECT_THROW((void)engine().poll(), std::runtime_error);
  for (int i = 0; i < 50 && vector_done == 0; ++i) (void)engine().wait(std::chrono::milliseconds(100));
  EXPECT_EQ(vector_done, 1);
  EXPECT_EQ(vector_back, block(4));
  EXPECT_EQ(engine().pending(), 0u);
}

TEST_P(ReadAtOnce, DestroyingTheEngineDeliversFinishedReads) {
  std::string back(kBlock, '\0');
  std::optional<Result<std::size_t>> done;
  file_.read(back.data(), kBlock, block_offset(5), [&](Result<std::size_t> r) { done.emplace(r); });
  engine_.reset();
  ASSERT_TRUE(done && *done);
  EXPECT_EQ(**done, kBlock);
  EXPECT_EQ(back, block(5));
}

TEST_P(ReadAtOnce, AReadFinishedAtOnceIsDeliveredBeforeTheCloseThatFollowsIt) {
  std::string back(kBlock, '\0');
  std::vector<std::string> order;
  file_.read(back.data(), kBlock, block_offset(6), [&](Result<std::size_t> r) {
    EXPECT_TRUE(r);
    order.push_back("read");
  });
  file_.close([&](Result<void> r) {
    EXPECT_TRUE(r);
    order.push_back("close");
  });
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(order, (std::vector<std::string>{"read", "close"}));
  EXPECT_EQ(back, block(6));
}

TEST_P(ReadAtOnce, ThePartThatWasCachedIsKeptAndTheEngineReadsTheRest) {
  count_syscalls();
  detail::sys::inject(fault(Call::read_nowait, 1, 1, 0, 1000));
  std::string back(2 * kBlock, '\0');
  auto got = read_sync(engine(), file_, back.data(), back.size(), block_offset(8));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, back.size());
  EXPECT_EQ(back, data_.substr(8 * kBlock, 2 * kBlock));
  EXPECT_EQ(detail::sys::calls(Call::read_nowait), 1u) << "the cached part is not read twice";
}

TEST_P(ReadAtOnce, UncachedDataFoundByTheShortcutSendsTheReadToTheEngine) {
  count_syscalls();
  detail::sys::inject(fault(Call::read_nowait, 1, 1, -EAGAIN));
  const auto fast_before = engine().stats().fast_path_reads;
  std::string back(kBlock, '\0');
  auto got = read_sync(engine(), file_, back.data(), kBlock, block_offset(9));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, kBlock);
  EXPECT_EQ(back, block(9));
  EXPECT_EQ(detail::sys::calls(Call::read_nowait), 1u) << "the engine does not ask again at once";
  EXPECT_EQ(engine().stats().fast_path_reads, fast_before);
}

TEST_P(ReadAtOnce, AReadWithADeadlineTakesTheRequestPathAndStillFinishes) {
  OpTimeout timeout(engine(), std::chrono::seconds(5));
  std::string back(kBlock, '\0');
  auto got = read_sync(engine(), file_, back.data(), kBlock, block_offset(10));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, kBlock);
  EXPECT_EQ(back, block(10));
  EXPECT_EQ(engine().stats().timers_armed, 0u) << "no timer outlives its op";
}

INSTANTIATE_TEST_SUITE_P(Engines, ReadAtOnce, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
