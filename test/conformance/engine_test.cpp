// Engine behaviour on both engines: batching, delivery thread, shutdown, eventfd.

#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

class EngineBehaviour : public EngineTest {};

TEST_P(EngineBehaviour, TenThousandOpsInFlightAllComplete) {
  const std::string path = dir_.file("many");
  write_plain(path, random_bytes(1 << 20));
  auto file = open_sync(engine(), path, O_RDWR);
  ASSERT_TRUE(file);
  constexpr int kOps = 10000;
  std::vector<char> buffers(static_cast<std::size_t>(kOps) * 512);
  int ok = 0;
  for (int i = 0; i < kOps; ++i) {
    char* b = buffers.data() + static_cast<std::size_t>(i) * 512;
    std::int64_t off = (i * 4096) % (1 << 20);
    if (i % 3 == 0) {
      file->write(b, 512, off, [&](Result<std::size_t> r) { ok += r && *r == 512; });
    } else {
      file->read(b, 512, off, [&](Result<std::size_t> r) { ok += r && *r == 512; });
    }
  }
  EXPECT_EQ(engine().pending(), static_cast<std::size_t>(kOps));
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(ok, kOps);
  EXPECT_EQ(engine().pending(), 0u);
  auto stats = engine().stats();
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_GE(stats.completed, static_cast<std::uint64_t>(kOps));
}

TEST_P(EngineBehaviour, CallbacksRunOnlyOnTheOwnerThread) {
  auto file = open_sync(engine(), dir_.file("owner"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  std::set<std::thread::id> threads;
  char buf[4096] = {};
  for (int i = 0; i < 200; ++i) {
    file->write(buf, sizeof buf, i * 4096, [&](Result<std::size_t>) { threads.insert(std::this_thread::get_id()); });
    file->fsync([&](Result<void>) { threads.insert(std::this_thread::get_id()); });
  }
  ASSERT_TRUE(engine().run());
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_EQ(*threads.begin(), std::this_thread::get_id());
}

TEST_P(EngineBehaviour, NoCallbackRunsInsideTheCallThatSubmits) {
  const std::string path = dir_.file("no_inline");
  write_plain(path, "cached data");
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  char buf[16];
  bool ran = false;
  file->read(buf, sizeof buf, 0, [&](Result<std::size_t>) { ran = true; });
  EXPECT_FALSE(ran) << "even a page-cached read completes inside poll/wait/run";
  ASSERT_TRUE(engine().run());
  EXPECT_TRUE(ran);
}

TEST_P(EngineBehaviour, DestroyingTheEngineCompletesEveryOpOnce) {
  const std::string path = dir_.file("shutdown");
  write_plain(path, random_bytes(1 << 20));
  std::vector<int> completions(10000, 0);
  std::vector<char> buffers(completions.size() * 256);
  {
    auto engine = Engine::create(options());
    ASSERT_TRUE(engine);
    auto file = open_sync(*engine, path, O_RDWR);
    ASSERT_TRUE(file);
    for (std::size_t i = 0; i < completions.size(); ++i) {
      char* b = buffers.data() + i * 256;
      auto cb = [&completions, i](auto r) {
        ++completions[i];
        if (!r) { EXPECT_EQ(r.error(), std::errc::operation_canceled); }
      };
      switch (i % 3) {
        case 0: file->read(b, 256, static_cast<std::int64_t>(i * 64), cb); break;
        case 1: file->write(b, 256, static_cast<std::int64_t>(i * 64), cb); break;
        default: file->fsync(cb); break;
      }
    }
    ASSERT_TRUE(engine->submit());
  }
  for (std::size_t i = 0; i < completions.size(); ++i) ASSERT_EQ(completions[i], 1) << "op " << i;
}

TEST_P(EngineBehaviour, FileOutlivingItsEngineClosesItsDescriptor) {
  const int before = open_fds();
  File survivor;
  {
    auto engine = Engine::create(options());
    ASSERT_TRUE(engine);
    auto file = open_sync(*engine, dir_.file("survivor"), O_CREAT | O_RDWR);
    ASSERT_TRUE(file);
    survivor = std::move(*file);
  }
  // The engine's own descriptors are gone; the file's is still open.
  EXPECT_EQ(open_fds(), before + 1);
  std::optional<Result<void>> done;
  survivor.fsync([&](Result<void> r) { done.emplace(r); });
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->error(), std::errc::bad_file_descriptor);
  survivor = File();
  EXPECT_EQ(open_fds(), before);
}

TEST_P(EngineBehaviour, EventFdBecomesReadableAndPollDelivers) {
  const std::string path = dir_.file("eventfd");
  write_plain(path, random_bytes(8192));
  auto file = open_sync(engine(), path, O_RDWR);
  ASSERT_TRUE(file);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, engine().event_fd(), &ev), 0);

  for (int round = 0; round < 20; ++round) {
    bool done = false;
    char buf[4096];
    file->write(buf, sizeof buf, 0, [&](Result<std::size_t> r) {
      EXPECT_TRUE(r);
      done = true;
    });
    ASSERT_TRUE(engine().submit());
    // An epoll-driven loop: sleep on the eventfd, then poll() without blocking.
    int spins = 0;
    while (!done) {
      epoll_event out{};
      // io_uring interrupts the owner's blocking calls with task work (io-wq
      // starting its workers), so an epoll loop retries EINTR.
      int n;
      do {
        n = ::epoll_wait(ep, &out, 1, 5000);
      } while (n < 0 && errno == EINTR);
      ASSERT_EQ(n, 1) << "event_fd never became readable (round " << round << ")";
      auto polled = engine().poll();
      ASSERT_TRUE(polled);
      ASSERT_LT(++spins, 100) << "eventfd readable but poll() delivers nothing";
    }
  }
  ::close(ep);
}

TEST_P(EngineBehaviour, PostFromOtherThreadsRunsOnOwner) {
  std::atomic<int> posted{0};
  int ran = 0;
  std::set<std::thread::id> where;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) {
        engine().post([&] {
          ++ran;
          where.insert(std::this_thread::get_id());
        });
        ++posted;
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ran < 1000 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(engine().wait(std::chrono::milliseconds(50)));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ran, 1000);
  ASSERT_EQ(where.size(), 1u);
  EXPECT_EQ(*where.begin(), std::this_thread::get_id());
}

TEST_P(EngineBehaviour, PostWakesABlockedWait) {
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    engine().post([] {});
  });
  auto n = engine().wait(std::chrono::seconds(10));
  poster.join();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
}

TEST_P(EngineBehaviour, WaitTimesOutWhenNothingHappens) {
  auto start = std::chrono::steady_clock::now();
  auto n = engine().wait(std::chrono::milliseconds(30));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(25));
}

TEST_P(EngineBehaviour, CallbacksCanSubmitMoreOps) {
  const std::string path = dir_.file("chain");
  auto file = open_sync(engine(), path, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  int written = 0;
  std::function<void(Result<std::size_t>)> next;
  next = [&](Result<std::size_t> r) {
    ASSERT_TRUE(r);
    if (++written < 100) file->write("x", 1, written, [&](Result<std::size_t> r2) { next(r2); });
  };
  file->write("x", 1, 0, [&](Result<std::size_t> r) { next(r); });
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(written, 100);
  EXPECT_EQ(read_plain(path), std::string(100, 'x'));
}

TEST_P(EngineBehaviour, CancelQueuedOrFinishedOpsCompleteOnce) {
  const std::string path = dir_.file("cancel");
  write_plain(path, random_bytes(1 << 16));
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  std::vector<int> calls(500, 0);
  std::vector<char> buf(500 * 128);
  std::vector<OpHandle> handles;
  for (int i = 0; i < 500; ++i) {
    handles.push_back(file->read(buf.data() + i * 128, 128, i * 128, [&calls, i](Result<std::size_t> r) {
      ++calls[static_cast<std::size_t>(i)];
      if (!r) { EXPECT_EQ(r.error(), std::errc::operation_canceled); }
    }));
  }
  for (std::size_t i = 0; i < handles.size(); i += 2) engine().cancel(handles[i]);
  ASSERT_TRUE(engine().run());
  for (auto& h : handles) engine().cancel(h);  // after completion: a no-op
  ASSERT_TRUE(engine().run());
  for (int c : calls) EXPECT_EQ(c, 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineBehaviour, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
