// File::write_durable: group commit on both engines. The ordering of write
// completions, sync starts and sync ends is read from the syscall seam's trace.

#include <fcntl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

using detail::sys::Call;
using detail::sys::Phase;
using detail::sys::TraceEvent;

constexpr std::size_t kBlock = 4096;

struct Outcome {
  std::int64_t offset;
  Result<std::size_t> result;
  std::size_t trace_position;  // trace length when the callback ran
};

class WriteDurableTest : public SeamTest {
 protected:
  void SetUp() override {
    SeamTest::SetUp();
    if (IsSkipped()) return;
    auto f = open_sync(engine(), dir_.file("durable"), O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_TRUE(f) << f.error().message();
    file_ = std::move(*f);
  }
  // Submits `count` durable writes at once, each its own block, and runs them all.
  std::vector<Outcome> write_all_durably(std::size_t count) {
    data_ = random_bytes(count * kBlock, 7);
    std::vector<Outcome> out;
    for (std::size_t i = 0; i < count; ++i) {
      const auto offset = static_cast<std::int64_t>(i * kBlock);
      file_.write_durable(data_.data() + i * kBlock, kBlock, offset, [&out, offset](Result<std::size_t> r) {
        out.push_back({offset, r, detail::sys::trace_log().size()});
      });
    }
    while (out.size() < count) {
      auto r = engine().wait(std::chrono::milliseconds(100));
      if (!r) ADD_FAILURE() << r.error().message();
    }
    return out;
  }

  File file_;
  std::string data_;
};

// Index of the last `phase` event of `call` at `offset` before `before`, or npos.
std::size_t last_event(const std::vector<TraceEvent>& log, Call call, Phase phase, int fd, std::int64_t offset,
                       std::size_t before) {
  for (std::size_t i = std::min(before, log.size()); i-- > 0;) {
    const TraceEvent& e = log[i];
    if (e.call == call && e.phase == phase && e.fd == fd && (call != Call::write || e.offset == offset)) return i;
  }
  return std::string::npos;
}

// The sync that covered a write: the last one to end before its callback ran (one
// sync runs at a time per file), where it started, and where the write ended.
struct Cover {
  std::size_t wrote = std::string::npos;
  std::size_t start = std::string::npos;
  std::size_t end = std::string::npos;
};
Cover covering_sync(const std::vector<TraceEvent>& log, int fd, const Outcome& o) {
  Cover c;
  c.wrote = last_event(log, Call::write, Phase::end, fd, o.offset, o.trace_position);
  c.end = last_event(log, Call::fsync, Phase::end, fd, 0, o.trace_position);
  if (c.end != std::string::npos) c.start = last_event(log, Call::fsync, Phase::start, fd, 0, c.end);
  return c;
}

TEST_P(WriteDurableTest, ConcurrentWritesShareSyncsAndLandOnDisk) {
  const int fd = file_.native_handle();
  detail::sys::start_trace();
  auto outcomes = write_all_durably(32);
  detail::sys::stop_trace();
  const auto log = detail::sys::trace_log();
  for (const Outcome& o : outcomes) {
    ASSERT_TRUE(o.result) << o.result.error().message();
    EXPECT_EQ(*o.result, kBlock);
  }
  const auto syncs = std::count_if(log.begin(), log.end(), [fd](const TraceEvent& e) {
    return e.call == Call::fsync && e.phase == Phase::start && e.fd == fd;
  });
  EXPECT_GE(syncs, 1);
  EXPECT_LT(syncs, 32) << "every durable write had a sync of its own";
  ASSERT_TRUE(close_sync(engine(), file_));
  EXPECT_EQ(read_plain(dir_.file("durable")), data_);
}

TEST_P(WriteDurableTest, NoCallbackBeforeASyncThatStartedAfterItsWrite) {
  const int fd = file_.native_handle();
  detail::sys::start_trace();
  auto outcomes = write_all_durably(24);
  detail::sys::stop_trace();
  const auto log = detail::sys::trace_log();
  for (const Outcome& o : outcomes) {
    ASSERT_TRUE(o.result) << o.result.error().message();
    const Cover c = covering_sync(log, fd, o);
    ASSERT_NE(c.wrote, std::string::npos) << "no write ended at " << o.offset;
    ASSERT_NE(c.end, std::string::npos) << "the callback for " << o.offset << " ran before any sync ended";
    ASSERT_NE(c.start, std::string::npos);
    EXPECT_GT(c.start, c.wrote) << "the callback for " << o.offset
                                << " ran after a sync that started before its write completed";
    EXPECT_GE(log[c.end].res, 0);
  }
}

TEST_P(WriteDurableTest, AFailingSyncFailsEveryWriteItCovered) {
  const int fd = file_.native_handle();
  detail::sys::inject(fault(Call::fsync, 1, 1, -EIO));
  detail::sys::start_trace();
  auto outcomes = write_all_durably(16);
  detail::sys::stop_trace();
  const auto log = detail::sys::trace_log();
  std::size_t failed = 0;
  for (const Outcome& o : outcomes) {
    const Cover c = covering_sync(log, fd, o);
    ASSERT_NE(c.end, std::string::npos);
    ASSERT_GT(c.start, c.wrote);
    if (log[c.end].res < 0) {
      ++failed;
      ASSERT_FALSE(o.result) << "a write covered by a failed sync reported success";
      EXPECT_EQ(o.result.error(), std::errc::io_error);
    } else {
      EXPECT_TRUE(o.result) << o.result.error().message();
    }
  }
  EXPECT_GE(failed, 1u);
  EXPECT_TRUE(close_sync(engine(), file_));
}

TEST_P(WriteDurableTest, AFailedWriteReportsItsOwnErrorWithoutASync) {
  detail::sys::inject(fault(Call::write, 1, 1, -ENOSPC));
  detail::sys::count_calls();
  auto r = call<std::size_t>(engine(), [&](auto cb) { file_.write_durable("x", 1, 0, std::move(cb)); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::no_space_on_device);
  EXPECT_EQ(detail::sys::calls(Call::fsync), 0u);
}

TEST_P(WriteDurableTest, ShortWritesContinueUntilEveryByteIsDurable) {
  detail::sys::inject(fault(Call::write, 1, 3, 0, 1000));
  const std::string data = random_bytes(3 * kBlock, 3);
  auto r = call<std::size_t>(engine(), [&](auto cb) { file_.write_durable(data.data(), data.size(), 0, std::move(cb)); });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, data.size());
  ASSERT_TRUE(close_sync(engine(), file_));
  EXPECT_EQ(read_plain(dir_.file("durable")), data);
}

TEST_P(WriteDurableTest, CloseWaitsForPendingDurableWrites) {
  std::vector<Result<std::size_t>> results;
  const std::string data = random_bytes(8 * kBlock, 5);
  for (std::size_t i = 0; i < 8; ++i) {
    file_.write_durable(data.data() + i * kBlock, kBlock, static_cast<std::int64_t>(i * kBlock),
                        [&results](Result<std::size_t> r) { results.push_back(r); });
  }
  ASSERT_TRUE(close_sync(engine(), file_));
  ASSERT_TRUE(engine().run());
  ASSERT_EQ(results.size(), 8u);
  for (auto& r : results) EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_plain(dir_.file("durable")), data);
}

TEST_P(WriteDurableTest, BadInputFailsBeforeAnySyscall) {
  detail::sys::clear_faults();
  detail::sys::count_calls();
  auto negative = call<std::size_t>(engine(), [&](auto cb) { file_.write_durable("x", 1, -5, std::move(cb)); });
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error(), std::errc::invalid_argument);
  auto null = call<std::size_t>(engine(), [&](auto cb) { file_.write_durable(nullptr, 4, 0, std::move(cb)); });
  ASSERT_FALSE(null);
  EXPECT_EQ(null.error(), std::errc::bad_address);
  EXPECT_EQ(detail::sys::calls(Call::write), 0u);
  EXPECT_EQ(detail::sys::calls(Call::fsync), 0u);
  File closed;
  auto detached = call<std::size_t>(engine(), [&](auto cb) { closed.write_durable("x", 1, 0, std::move(cb)); });
  ASSERT_FALSE(detached);
  EXPECT_EQ(detached.error(), std::errc::bad_file_descriptor);
}

TEST_P(WriteDurableTest, AwaitableForm) {
  auto r = await_op(engine(), file_.write_durable("durable", 7, 0));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 7u);
  ASSERT_TRUE(close_sync(engine(), file_));
  EXPECT_EQ(read_plain(dir_.file("durable")), "durable");
}

INSTANTIATE_TEST_SUITE_P(Engines, WriteDurableTest, ::testing::ValuesIn(engines_under_test()), backend_name);

// On a filesystem whose syncs take as long as the test says: the sync step keeps
// the promises the write was made under.
class WriteDurableOnASlowDiskTest : public SeamTest {
 protected:
  void SetUp() override {
    SeamTest::SetUp();
    if (IsSkipped()) return;
    if (!fs_.reason().empty()) GTEST_SKIP() << fs_.reason();
    auto f = open_sync(engine(), fs_.file("durable"), O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_TRUE(f) << f.error().message();
    file_ = std::move(*f);
  }
  void TearDown() override {
    SeamTest::TearDown();
    if (!file_.is_open()) return;
    fs_.set_sync_delay(std::chrono::milliseconds(0));
    EXPECT_TRUE(close_sync(engine(), file_));
  }
  void write_durable(std::int64_t offset, std::optional<Result<std::size_t>>& out) {
    file_.write_durable(block_.data(), kBlock, offset, [&out](Result<std::size_t> r) { out = r; });
  }

  SlowFlushFs fs_;
  File file_;
  std::string block_ = random_bytes(kBlock, 11);
};

// await() gives up after 10 s; a sync that kept the write's callback for its whole
// minute would abort the test.
TEST_P(WriteDurableOnASlowDiskTest, TheSyncHasTheWritersDeadline) {
  fs_.set_sync_delay(std::chrono::minutes(1));
  std::optional<Result<std::size_t>> r;
  {
    OpTimeout limit(engine(), std::chrono::milliseconds(200));
    write_durable(0, r);
  }
  auto result = await(engine(), r);
  ASSERT_FALSE(result) << "a sync stalled for a minute reported success";
  EXPECT_EQ(result.error(), std::errc::timed_out);
}

TEST_P(WriteDurableOnASlowDiskTest, AHurriedWriterDoesNotFailAPatientOne) {
  fs_.set_sync_delay(std::chrono::minutes(1));
  std::optional<Result<std::size_t>> hurried, patient;
  {
    OpTimeout limit(engine(), std::chrono::milliseconds(200));
    write_durable(0, hurried);
  }
  write_durable(kBlock, patient);
  auto h = await(engine(), hurried);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), std::errc::timed_out);
  EXPECT_FALSE(patient) << "the write with no deadline ended with the other's sync";
  fs_.set_sync_delay(std::chrono::milliseconds(0));
  auto p = await(engine(), patient);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(*p, kBlock);
}

TEST_P(WriteDurableOnASlowDiskTest, CancelAllEndsTheWaitForTheSync) {
  fs_.set_sync_delay(std::chrono::minutes(1));
  const int fd = file_.native_handle();
  detail::sys::start_trace();
  std::optional<Result<std::size_t>> r;
  write_durable(0, r);
  auto sync_started = [fd] {
    const auto log = detail::sys::trace_log();
    return std::any_of(log.begin(), log.end(), [fd](const TraceEvent& e) {
      return e.call == Call::fsync && e.phase == Phase::start && e.fd == fd;
    });
  };
  for (int i = 0; i < 1000 && !sync_started(); ++i) ASSERT_TRUE(engine().wait(std::chrono::milliseconds(10)));
  ASSERT_TRUE(sync_started()) << "no sync started within 10 s";
  EXPECT_FALSE(r);
  file_.cancel_all();
  auto result = await(engine(), r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::operation_canceled);
}

INSTANTIATE_TEST_SUITE_P(Engines, WriteDurableOnASlowDiskTest, ::testing::ValuesIn(engines_under_test()),
                         backend_name);

}  // namespace
}  // namespace ringfile::test
