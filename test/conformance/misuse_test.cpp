// Misuse the way applications commit it, on both engines: the wrong thread,
// calls made from inside callbacks, callbacks that throw, an engine destroyed in
// its own callback, moved-from handles. Each must fail cleanly or work; none may
// crash, hang or lose a completion.

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

class Misuse : public EngineTest {
 protected:
  File open_data(std::size_t size = 64 * 1024) {
    const std::string path = dir_.file("data");
    write_plain(path, random_bytes(size));
    auto file = open_sync(engine(), path, O_RDONLY);
    EXPECT_TRUE(file) << file.error().message();
    return file ? std::move(*file) : File{};
  }
};

TEST_P(Misuse, RunFromAnotherThreadIsRefusedEvenWithNothingPending) {
  std::thread::id ran_on;
  engine().post([&] { ran_on = std::this_thread::get_id(); });
  ASSERT_EQ(engine().pending(), 0u);
#ifdef NDEBUG
  std::optional<Result<void>> run;
  std::optional<Result<std::size_t>> wait, poll;
  std::optional<Result<void>> submit;
  std::thread([&] {
    run.emplace(engine().run());
    wait.emplace(engine().wait(std::chrono::nanoseconds(0)));
    poll.emplace(engine().poll());
    submit.emplace(engine().submit());
  }).join();
  ASSERT_FALSE(*run);
  EXPECT_EQ(run->error(), std::errc::operation_not_permitted);
  EXPECT_EQ(wait->error(), std::errc::operation_not_permitted);
  EXPECT_EQ(poll->error(), std::errc::operation_not_permitted);
  EXPECT_EQ(submit->error(), std::errc::operation_not_permitted);
#else
  EXPECT_DEATH(std::thread([&] { (void)engine().run(); }).join(), "does not own");
#endif
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(ran_on, std::this_thread::get_id()) << "posted functions run on the owner thread only";
}

TEST_P(Misuse, FileDroppedOnAnotherThreadIsClosedByTheOwner) {
  auto shared = std::make_shared<File>(open_data());
  ASSERT_TRUE(shared->is_open());
  const int fd = shared->native_handle();
  char buf[4096];
  std::optional<Result<std::size_t>> got;
  shared->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { got.emplace(r); });
  // The last reference goes away on a worker while the read is in flight.
  std::thread([s = std::move(shared)]() mutable { s.reset(); }).join();
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(engine().pending(), 0u);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, sizeof buf);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "the descriptor is closed";
  // The engine is intact: more ops complete and run() returns.
  File again = open_data();
  auto n = read_sync(engine(), again, buf, sizeof buf, 0);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, sizeof buf);
  ASSERT_TRUE(close_sync(engine(), again));
  EXPECT_EQ(engine().pending(), 0u);
}

TEST_P(Misuse, FilesDroppedOnAnotherThreadBeforeTheEngineIsDestroyed) {
  std::vector<std::shared_ptr<File>> files;
  for (int i = 0; i < 8; ++i) files.push_back(std::make_shared<File>(open_data(4096)));
  std::thread([moved = std::move(files)]() mutable { moved.clear(); }).join();
  engine_.reset();  // the posted closes run during the teardown
  SUCCEED();
}

enum class Drive { Run, Wait, Poll };

void drive(Engine& engine, Drive how) {
  switch (how) {
    case Drive::Run: (void)engine.run(); break;
    case Drive::Wait: (void)engine.wait(std::chrono::seconds(10)); break;
    case Drive::Poll: (void)engine.poll(); break;
  }
}

TEST_P(Misuse, EngineDestroyedInsideItsOwnCallback) {
  const std::string path = dir_.file("data");
  write_plain(path, random_bytes(8192));
  for (Drive how : {Drive::Run, Drive::Wait, Drive::Poll}) {
    SCOPED_TRACE(static_cast<int>(how));
    auto created = Engine::create(options());
    ASSERT_TRUE(created);
    std::optional<Engine> engine(std::move(*created));
    auto file = open_sync(*engine, path, O_RDONLY);
    ASSERT_TRUE(file);
    char a[4096], b[4096];
    int destroying_calls = 0;
    std::optional<Result<std::size_t>> other;
    file->read(a, sizeof a, 0, [&](Result<std::size_t>) {
      ++destroying_calls;
      engine.reset();
    });
    file->read(b, sizeof b, 4096, [&](Result<std::size_t> r) { other.emplace(r); });
    Engine& handle = *engine;
    if (how == Drive::Poll) {
      // Poll until the destroying callback has run; the handle is gone after that.
      for (int i = 0; i < 10000 && destroying_calls == 0; ++i) {
        (void)handle.poll();
        if (destroying_calls == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    } else {
      drive(handle, how);
      if (how == Drive::Wait) {
        for (int i = 0; i < 100 && destroying_calls == 0; ++i) drive(handle, how);
      }
    }
    EXPECT_EQ(destroying_calls, 1);
    EXPECT_FALSE(engine.has_value());
    ASSERT_TRUE(other.has_value()) << "the other op completed, at the latest during the deferred teardown";
    if (*other) EXPECT_EQ(**other, sizeof b);
    else EXPECT_EQ(other->error(), std::errc::operation_canceled);
  }
}

TEST_P(Misuse, ThrowingCallbackLosesNoOtherCompletion) {
  File file = open_data();
  constexpr int kOps = 16;
  std::vector<std::vector<char>> bufs(kOps, std::vector<char>(4096));
  int delivered = 0;
  bool thrown = false;
  for (int i = 0; i < kOps; ++i) {
    file.read(bufs[i].data(), 4096, i * 4096, [&](Result<std::size_t> r) {
      EXPECT_TRUE(r);
      ++delivered;
      if (!std::exchange(thrown, true)) throw std::runtime_error("from a callback");
    });
  }
  int caught = 0;
  for (int round = 0; round < 1000 && delivered < kOps; ++round) {
    try {
      (void)engine().wait(std::chrono::milliseconds(100));
    } catch (const std::runtime_error&) {
      ++caught;
    }
  }
  EXPECT_EQ(caught, 1) << "the exception propagates out of wait(), once";
  EXPECT_EQ(delivered, kOps) << "every other completion is delivered by later calls";
  EXPECT_EQ(engine().pending(), 0u);
  ASSERT_TRUE(engine().run());
}

TEST_P(Misuse, ThrowingPostedFunctionLosesNoOtherPostedFunction) {
  int ran = 0;
  engine().post([&] {
    ++ran;
    throw std::runtime_error("from a posted function");
  });
  for (int i = 0; i < 3; ++i) engine().post([&] { ++ran; });
  EXPECT_THROW((void)engine().poll(), std::runtime_error);
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(ran, 4);
}

// On io_uring a readv of cached data completes inside the poll() that submits it,
// so it is reaped in the same call in which the posted function throws.
TEST_P(Misuse, ThrowingPostedFunctionLosesNoCompletionReapedInTheSameCall) {
  const std::string data = random_bytes(4096, 5);
  write_plain(dir_.file("cached"), data);
  auto file = open_sync(engine(), dir_.file("cached"), O_RDONLY);
  ASSERT_TRUE(file);
  std::string back(data.size(), '\0');
  iovec iov{back.data(), back.size()};
  int read_done = 0;
  file->readv(&iov, 1, 0, [&](Result<std::size_t> r) {
    EXPECT_TRUE(r);
    ++read_done;
  });
  engine().post([] { throw std::runtime_error("from a posted function"); });
  EXPECT_THROW((void)engine().poll(), std::runtime_error);
  for (int i = 0; i < 50 && read_done == 0; ++i) (void)engine().wait(std::chrono::milliseconds(100));
  EXPECT_EQ(read_done, 1);
  EXPECT_EQ(back, data);
  EXPECT_EQ(engine().pending(), 0u);
}

TEST_P(Misuse, NestedRunAndWaitInsideACallbackFailWithEdeadlk) {
  File file = open_data();
  std::optional<Result<void>> nested_run;
  std::optional<Result<std::size_t>> nested_wait, nested_poll;
  char buf[4096];
  file.read(buf, sizeof buf, 0, [&](Result<std::size_t>) {
    nested_run.emplace(engine().run());
    nested_wait.emplace(engine().wait());
    nested_poll.emplace(engine().poll());
  });
  std::optional<Result<void>> posted_run;
  engine().post([&] { posted_run.emplace(engine().run()); });
  ASSERT_TRUE(engine().run());
  ASSERT_TRUE(nested_run && nested_wait && nested_poll && posted_run);
  EXPECT_EQ(nested_run->error(), std::errc::resource_deadlock_would_occur);
  EXPECT_EQ(nested_wait->error(), std::errc::resource_deadlock_would_occur);
  EXPECT_EQ(posted_run->error(), std::errc::resource_deadlock_would_occur);
  EXPECT_TRUE(*nested_poll) << "poll() never blocks, so it may be nested";
}

TEST_P(Misuse, MovedFromEngineFailsWithEbadf) {
  Engine moved = std::move(*engine_);
  Engine& old = *engine_;
  EXPECT_EQ(old.run().error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(old.poll().error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(old.wait(std::chrono::milliseconds(1)).error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(old.submit().error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(old.unregister_buffers().error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(old.pending(), 0u);
  EXPECT_EQ(old.event_fd(), -1);
  old.cancel_all();
  std::optional<Result<File>> opened;
  File::open(old, dir_.file("x"), O_RDONLY, [&](Result<File> f) { opened.emplace(std::move(f)); });
  ASSERT_TRUE(opened.has_value()) << "no engine to deliver through: the callback runs at once";
  EXPECT_EQ(opened->error(), std::errc::bad_file_descriptor);
  write_plain(dir_.file("y"), "still works");
  auto file = open_sync(moved, dir_.file("y"), O_RDONLY);
  EXPECT_TRUE(file);
}

TEST_P(Misuse, OpsOnAFileWithoutAnEngineCompleteAtOnceWithEbadf) {
  char buf[16];
  File none;
  std::optional<Result<std::size_t>> got;
  none.read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { got.emplace(r); });
  ASSERT_TRUE(got.has_value()) << "documented in file.hpp: runs inside the call";
  EXPECT_EQ(got->error(), std::errc::bad_file_descriptor);

  File source = open_data(4096);
  File target = std::move(source);
  got.reset();
  source.read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { got.emplace(r); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->error(), std::errc::bad_file_descriptor);
}

TEST_P(Misuse, FixedOpsNeedARegisteredBufferOnBothEngines) {
  File file = open_data(8192);
  std::vector<char> registered(4096), other(4096);
  std::optional<Result<std::size_t>> got;
  file.read_fixed(other.data(), other.size(), 0, 0, [&](Result<std::size_t> r) { got.emplace(r); });
  auto unregistered = await(engine(), got);
  ASSERT_FALSE(unregistered);
  EXPECT_EQ(unregistered.error(), std::errc::bad_address);

  const iovec iov{registered.data(), registered.size()};
  ASSERT_TRUE(engine().register_buffers({&iov, 1}));
  got.reset();
  file.read_fixed(registered.data(), registered.size(), 0, 1, [&](Result<std::size_t> r) { got.emplace(r); });
  auto bad_index = await(engine(), got);
  ASSERT_FALSE(bad_index);
  EXPECT_EQ(bad_index.error(), std::errc::bad_address);
  got.reset();
  file.read_fixed(other.data(), other.size(), 0, 0, [&](Result<std::size_t> r) { got.emplace(r); });
  auto outside = await(engine(), got);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error(), std::errc::bad_address);
  got.reset();
  file.read_fixed(registered.data(), registered.size(), 0, 0, [&](Result<std::size_t> r) { got.emplace(r); });
  auto inside = await(engine(), got);
  ASSERT_TRUE(inside) << inside.error().message();
  EXPECT_EQ(*inside, registered.size());
  ASSERT_TRUE(engine().unregister_buffers());
}

INSTANTIATE_TEST_SUITE_P(Engines, Misuse, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
