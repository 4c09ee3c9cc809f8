// The owner thread never sleeps inside the engine, on both engines: with workers
// busy on cold buffered reads and O_DIRECT reads, or reads waiting on pipes being
// cancelled, no poll() and no op call (nor the callbacks inside poll() that start
// the next ops) makes a voluntary context switch. Counted with
// getrusage(RUSAGE_THREAD) around every call.

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "op_helpers.hpp"

#if defined(__SANITIZE_THREAD__)
#define RINGFILE_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGFILE_UNDER_TSAN 1
#endif
#endif

namespace ringfile::test {
namespace {

using namespace std::chrono_literals;

// A real-time owner, as a latency-bound loop runs: it preempts a worker on its own
// core at any instant, in the middle of whatever that worker holds, which is when
// a lock it then wanted would put it to sleep. Off again at scope end.
class RealTimeOwner {
 public:
  RealTimeOwner() {
    sched_param p{};
    p.sched_priority = 1;
    on_ = pthread_getschedparam(pthread_self(), &policy_, &old_) == 0 &&
          pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0;
  }
  ~RealTimeOwner() {
    if (on_) pthread_setschedparam(pthread_self(), policy_, &old_);
  }
  RealTimeOwner(const RealTimeOwner&) = delete;
  RealTimeOwner& operator=(const RealTimeOwner&) = delete;
  bool on() const noexcept { return on_; }

 private:
  bool on_ = false;
  int policy_ = SCHED_OTHER;
  sched_param old_{};
};

long voluntary_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_nvcsw;
}

class OwnerNeverSleeps : public EngineTest {
 protected:
  static constexpr std::size_t kFileSize = 32u << 20;
  static constexpr std::size_t kBlock = 4096;
  static constexpr int kDepth = 8;  // per kind of read

  void SetUp() override {
#if defined(RINGFILE_UNDER_TSAN)
    // ThreadSanitizer tracks each atomic under mutexes of its own runtime, which
    // the owner and the workers then contend for: its sleeps, not the engine's.
    GTEST_SKIP() << "ThreadSanitizer's runtime locks count as the owner's sleeps";
#endif
    EngineTest::SetUp();
    if (IsSkipped()) return;
    path_ = dir_.file("data");
    write_plain(path_, random_bytes(kFileSize, 71));
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fdatasync(fd), 0);
    ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    const bool evicted = detail::sys::uncached_pages(fd, 0, kFileSize) > 0;
    ::close(fd);
    if (!evicted) GTEST_SKIP() << "this filesystem keeps its pages cached (tmpfs?), so no read is cold";
    const int direct = ::open(path_.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (direct < 0) GTEST_SKIP() << "O_DIRECT is refused here: " << std::strerror(errno);
    ::close(direct);
  }

  // Starts a read of a random block; its callback starts the next until `left` runs out.
  void start(File& file, char* buf, unsigned& seed) {
    if (left_ == 0) {
      --in_flight_;
      return;
    }
    --left_;
    const auto block = static_cast<std::int64_t>(rand_r(&seed) % (kFileSize / kBlock));
    measured([&] {
      file.read(buf, kBlock, block * static_cast<std::int64_t>(kBlock), [this, &file, buf, &seed](Result<std::size_t> r) {
        if (!r || *r != kBlock) ++failed_;
        start(file, buf, seed);
      });
    });
  }

  template <class Call>
  void measured(Call&& call) {
    const long before = voluntary_switches();
    call();
    slept_ += voluntary_switches() - before;
    ++calls_;
  }

  std::string path_;
  std::size_t left_ = 0;
  int in_flight_ = 0;
  int failed_ = 0;
  long slept_ = 0;
  std::size_t calls_ = 0;
};

TEST_P(OwnerNeverSleeps, WhileWorkersReadColdAndDirectData) {
  auto cold = open_sync(engine(), path_, O_RDONLY);
  auto direct = open_sync(engine(), path_, O_RDONLY | O_DIRECT);
  ASSERT_TRUE(cold) << cold.error().message();
  ASSERT_TRUE(direct) << direct.error().message();
  // Buffers touched now, so no page fault on them waits on a worker's.
  constexpr std::size_t kBuffers = 2 * kDepth;
  void* raw = nullptr;
  ASSERT_EQ(::posix_memalign(&raw, 4096, kBuffers * kBlock), 0);
  std::unique_ptr<char, decltype(&std::free)> buffers(static_cast<char*>(raw), &std::free);
  std::memset(buffers.get(), 0, kBuffers * kBlock);
  unsigned seeds[kBuffers];
  for (std::size_t i = 0; i < kBuffers; ++i) seeds[i] = static_cast<unsigned>(i + 1);

  for (int round = 0; round < 2; ++round) {
    // The first round grows the request pool and the workers; the second counts.
    left_ = round == 0 ? 256 : 4000;
    slept_ = 0;
    calls_ = 0;
    in_flight_ = static_cast<int>(kBuffers);
    for (std::size_t i = 0; i < kBuffers; ++i) {
      start(i < kDepth ? *cold : *direct, buffers.get() + i * kBlock, seeds[i]);
    }
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    std::optional<RealTimeOwner> rt;
    if (round == 1) rt.emplace();
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < give_up) {
      measured([&] { ASSERT_TRUE(engine().poll()); });
    }
    if (round == 1 && !rt->on()) std::printf("[   NOTE   ] SCHED_FIFO refused: the owner ran at normal priority\n");
    rt.reset();
    ASSERT_EQ(in_flight_, 0) << "reads did not finish";
  }
  EXPECT_EQ(failed_, 0);
  EXPECT_EQ(slept_, 0) << "the owner slept in " << slept_ << " of " << calls_ << " engine calls; "
                       << engine().describe();
}

INSTANTIATE_TEST_SUITE_P(Engines, OwnerNeverSleeps, ::testing::ValuesIn(engines_under_test()), backend_name);

class OwnerNeverSleepsOnPeers : public EngineTest {
 protected:
  void SetUp() override {
#if defined(RINGFILE_UNDER_TSAN)
    GTEST_SKIP() << "ThreadSanitizer's runtime locks count as the owner's sleeps";
#endif
    EngineTest::SetUp();
  }
};

// Reads wait on pipes that a feeder thread fills now and then, so the pool's peer
// poller keeps handling readiness while the owner cancels waiting reads and starts
// new ones: neither the cancels nor the hand-over of the new waits sleeps.
TEST_P(OwnerNeverSleepsOnPeers, WhileReadsWaitOnPipesAndAreCancelled) {
  constexpr int kPipes = 16;
  struct Waiter {
    int write_fd = -1;
    File file;
    OpHandle op;
    char buf[64];
    bool done = true;
  };
  std::vector<Waiter> waiters(kPipes);
  for (Waiter& w : waiters) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ASSERT_EQ(::fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    w.write_fd = fds[1];
    auto f = File::adopt(engine(), fds[0]);
    ASSERT_TRUE(f) << f.error().message();
    w.file = std::move(*f);
  }
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    for (unsigned i = 0; !stop.load(); ++i) {
      (void)!::write(waiters[i % kPipes].write_fd, "x", 1);
      std::this_thread::sleep_for(100us);
    }
  });
  long slept = 0;
  std::size_t calls = 0, data = 0, cancelled = 0, failed = 0;
  auto measured = [&](auto&& call) {
    const long before = voluntary_switches();
    call();
    slept += voluntary_switches() - before;
    ++calls;
  };
  auto start = [&](Waiter& w) {
    w.done = false;
    w.op = w.file.read(w.buf, sizeof w.buf, kStreamOffset, [&w, &data, &cancelled, &failed](Result<std::size_t> r) {
      w.done = true;
      if (r) ++data;
      else if (r.error() == std::errc::operation_canceled) ++cancelled;
      else ++failed;
    });
  };
  for (int round = 0; round < 2; ++round) {
    // The first round starts the poller and grows the request pool; the second counts.
    slept = 0;
    calls = 0;
    std::optional<RealTimeOwner> rt;
    if (round == 1) rt.emplace();
    for (int i = 0; i < (round == 0 ? 300 : 3000); ++i) {
      Waiter& w = waiters[static_cast<std::size_t>(i % kPipes)];
      if (w.done) measured([&] { start(w); });
      else measured([&] { engine().cancel(w.op); });
      measured([&] { ASSERT_TRUE(engine().poll()); });
      if (i % kPipes == 0) std::this_thread::sleep_for(50us);  // unmeasured: time for the peers
    }
  }
  stop.store(true);
  feeder.join();
  for (Waiter& w : waiters) {
    if (!w.done) engine().cancel(w.op);
  }
  ASSERT_TRUE(engine().run());
  for (Waiter& w : waiters) ::close(w.write_fd);
  EXPECT_EQ(failed, 0u);
  EXPECT_GT(data, 0u) << "no read got the feeder's data";
  EXPECT_GT(cancelled, 0u) << "no read was cancelled while it waited";
  EXPECT_EQ(slept, 0) << "the owner slept in " << slept << " of " << calls << " engine calls; "
                      << engine().describe();
}

INSTANTIATE_TEST_SUITE_P(Engines, OwnerNeverSleepsOnPeers, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
