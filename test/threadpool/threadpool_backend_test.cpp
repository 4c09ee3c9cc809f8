// Thread-pool specifics: worker count, batch hand-off, bounded spinning.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "sys/sys.hpp"
#include "test_support.hpp"

namespace ringfile::test {
namespace {

EngineOptions pool_options(unsigned workers, unsigned spin_us) {
  EngineOptions o;
  o.backend = Backend::ThreadPool;
  o.workers = workers;
  o.spin_us = spin_us;
  return o;
}

int threads_in_process() {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/task")) n += e.is_directory();
  return n;
}

TEST(ThreadPool, RunsTheRequestedNumberOfWorkers) {
  const int before = threads_in_process();
  {
    auto engine = Engine::create(pool_options(3, 0));
    ASSERT_TRUE(engine);
    EXPECT_EQ(threads_in_process(), before + 3);
    EXPECT_NE(engine->describe().find("3 workers"), std::string::npos) << engine->describe();
  }
  EXPECT_EQ(threads_in_process(), before) << "workers are joined when the engine goes";
}

TEST(ThreadPool, ABatchCostsOneWakeUpNotOnePerOp) {
  TempDir dir;
  // No spinning, so workers are asleep and every hand-off needs a wake-up.
  auto engine = Engine::create(pool_options(4, 0));
  ASSERT_TRUE(engine);
  auto file = open_sync(*engine, dir.file("batch"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the workers sleep
  const auto before = engine->stats().worker_wakeups;
  char buf[512] = {};
  int done = 0;
  for (int i = 0; i < 256; ++i) file->write(buf, sizeof buf, i * 512, [&](Result<std::size_t> r) { done += !!r; });
  ASSERT_TRUE(engine->run());
  EXPECT_EQ(done, 256);
  const auto wakeups = engine->stats().worker_wakeups - before;
  // The owner wakes one worker per flush and workers wake each other while work
  // remains, bounded by the pool size per batch rather than by the op count.
  EXPECT_GE(wakeups, 1u);
  EXPECT_LE(wakeups, 16u) << "wake-ups should not scale with the 256 ops";
}

// Which threads ran `call` while the trace was on.
std::set<std::thread::id> threads_that_ran(detail::sys::Call call) {
  std::set<std::thread::id> threads;
  for (const auto& e : detail::sys::trace_log()) {
    if (e.call == call && e.phase == detail::sys::Phase::start) threads.insert(e.thread);
  }
  return threads;
}

struct TracedPool : ::testing::Test {
  void SetUp() override {
    EngineOptions o = pool_options(2, 0);
    o.cached_read_fast_path = false;  // every read goes to the pool
    auto e = Engine::create(o);
    ASSERT_TRUE(e);
    engine.emplace(std::move(*e));
    write_plain(dir.file("f"), data);
    auto f = open_sync(*engine, dir.file("f"), O_RDWR);
    ASSERT_TRUE(f);
    file.emplace(std::move(*f));
    detail::sys::start_trace();
  }
  void TearDown() override { detail::sys::stop_trace(); }

  TempDir dir;
  const std::string data = random_bytes(1 << 16);
  std::optional<Engine> engine;
  std::optional<File> file;
};

// A lone positional op that wait() would only sleep for runs on the waiting owner:
// no worker wake-up and no context switch each way.
TEST_F(TracedPool, ALoneFileOpInWaitRunsOnTheWaitingThread) {
  std::string got(4096, '\0');
  std::optional<Result<std::size_t>> read;
  file->read(got.data(), got.size(), 8192, [&](Result<std::size_t> r) { read = r; });
  const auto stats_before = engine->stats();
  ASSERT_TRUE(engine->wait());
  ASSERT_TRUE(read && *read) << (read ? read->error().message() : "not delivered");
  EXPECT_EQ(got, data.substr(8192, 4096));
  EXPECT_EQ(threads_that_ran(detail::sys::Call::read), std::set{std::this_thread::get_id()});
  EXPECT_EQ(engine->stats().ran_by_waiting_owner - stats_before.ran_by_waiting_owner, 1u);
  EXPECT_EQ(engine->stats().worker_wakeups, stats_before.worker_wakeups) << "no worker was woken";

  std::optional<Result<void>> synced;
  file->fdatasync([&](Result<void> r) { synced = r; });
  ASSERT_TRUE(engine->wait());
  ASSERT_TRUE(synced && *synced);
  EXPECT_EQ(threads_that_ran(detail::sys::Call::fsync), std::set{std::this_thread::get_id()});
}

// Everything else still goes to the workers: several ops at once, ops that can
// block on another party (a pipe), ops with a deadline, and an event loop's poll().
TEST_F(TracedPool, WorkersRunWhatTheOwnerMustNotWaitFor) {
  const auto me = std::this_thread::get_id();
  std::string a(4096, '\0'), b(4096, '\0');
  int done = 0;
  file->read(a.data(), a.size(), 0, [&](Result<std::size_t> r) { done += r && *r == 4096; });
  file->read(b.data(), b.size(), 4096, [&](Result<std::size_t> r) { done += r && *r == 4096; });
  ASSERT_TRUE(engine->run());
  EXPECT_EQ(done, 2);
  EXPECT_EQ(threads_that_ran(detail::sys::Call::read).count(me), 0u) << "two ops in flight: workers run them";

  detail::sys::start_trace();
  {
    OpTimeout limit(*engine, std::chrono::seconds(10));
    file->read(a.data(), a.size(), 0, [&](Result<std::size_t> r) { done += r && *r == 4096; });
  }
  ASSERT_TRUE(engine->run());
  EXPECT_EQ(done, 3);
  EXPECT_EQ(threads_that_ran(detail::sys::Call::read).count(me), 0u) << "a deadline needs the owner free to end it";

  detail::sys::start_trace();
  file->read(a.data(), a.size(), 0, [&](Result<std::size_t> r) { done += r && *r == 4096; });
  while (done < 4) ASSERT_TRUE(engine->poll());
  EXPECT_EQ(threads_that_ran(detail::sys::Call::read).count(me), 0u) << "poll() never blocks on an op";

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto reader = File::adopt(*engine, fds[0], File::Ownership::Owned);
  ASSERT_TRUE(reader);
  detail::sys::start_trace();
  std::optional<Result<std::size_t>> piped;
  reader->read(a.data(), 5, kStreamOffset, [&](Result<std::size_t> r) { piped = r; });
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(::write(fds[1], "hello", 5), 5);
  });
  while (!piped) ASSERT_TRUE(engine->wait());
  writer.join();
  ::close(fds[1]);
  ASSERT_TRUE(*piped);
  EXPECT_EQ(**piped, 5u);
  EXPECT_EQ(threads_that_ran(detail::sys::Call::read).count(me), 0u) << "a pipe read waits on its writer";
}

TEST(ThreadPool, IdleEngineSpendsNoCpu) {
  auto engine = Engine::create(pool_options(4, 200));
  ASSERT_TRUE(engine);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // past the spin bound
  timespec a{}, b{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
  const double cpu_ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  EXPECT_LT(cpu_ms, 20.0) << "idle workers must sleep, not spin";
}

TEST(ThreadPool, WorksWithSpinningDisabledAndEnabled) {
  TempDir dir;
  const std::string data = random_bytes(1 << 16);
  write_plain(dir.file("f"), data);
  for (unsigned spin : {0u, 50u}) {
    EngineOptions o = pool_options(2, spin);
    o.cached_read_fast_path = false;
    auto engine = Engine::create(o);
    ASSERT_TRUE(engine);
    auto file = open_sync(*engine, dir.file("f"), O_RDONLY);
    ASSERT_TRUE(file);
    for (int i = 0; i < 100; ++i) {
      char buf[100];
      auto got = read_sync(*engine, *file, buf, sizeof buf, i * 100);
      ASSERT_TRUE(got);
      ASSERT_EQ(std::string(buf, 100), data.substr(static_cast<std::size_t>(i) * 100, 100));
    }
  }
}
}  // namespace
}  // namespace ringfile::test

namespace ringfile::test {
namespace {

// A default (growing) pool with sixteen reads parked on an empty FIFO, more than
// its starting workers, and a regular file whose read must still get a worker.
class StarvedPool : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string fifo_path = dir_.file("fifo");
    ASSERT_EQ(::mkfifo(fifo_path.c_str(), 0600), 0);
    const std::string path = dir_.file("regular");
    write_plain(path, "payload");
    EngineOptions o;
    o.backend = Backend::ThreadPool;  // workers = 0: the default, growing pool
    o.cached_read_fast_path = false;
    auto engine = Engine::create(o);
    ASSERT_TRUE(engine);
    engine_.emplace(std::move(*engine));
    auto fifo = open_sync(*engine_, fifo_path, O_RDWR);
    auto regular = open_sync(*engine_, path, O_RDONLY);
    ASSERT_TRUE(fifo);
    ASSERT_TRUE(regular);
    fifo_.emplace(std::move(*fifo));
    regular_.emplace(std::move(*regular));
  }
  void park_fifo_read(char (&buf)[8]) {
    fifo_->read(buf, sizeof buf, kStreamOffset, [this](Result<std::size_t> r) { cancelled_ += !r; });
  }
  void release_fifo_reads() {
    fifo_->cancel_all();
    ASSERT_TRUE(engine_->run());
    EXPECT_EQ(cancelled_, 16);
  }

  TempDir dir_;
  std::optional<Engine> engine_;
  std::optional<File> fifo_;
  std::optional<File> regular_;
  char parked_[16][8];
  int cancelled_ = 0;
};

TEST_F(StarvedPool, GrowsSoBlockedWorkersDoNotStarveOtherOps) {
  for (auto& b : parked_) {
    park_fifo_read(b);
    ASSERT_TRUE(engine_->wait(std::chrono::milliseconds(2)));
  }
  char buf[7];
  auto got = read_sync(*engine_, *regular_, buf, sizeof buf, 0);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(std::string(buf, *got), "payload");
  release_fifo_reads();
}

// An epoll-driven owner never blocks in wait(); it polls when the eventfd fires
// or its own timers do. The pool must still grow past workers stuck in syscalls.
TEST_F(StarvedPool, GrowsWhenTheOwnerOnlyPolls) {
  for (auto& b : parked_) park_fifo_read(b);
  char buf[7];
  std::optional<Result<std::size_t>> done;
  regular_->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { done.emplace(r); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < give_up) {
    ASSERT_TRUE(engine_->poll());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(done) << "the read queued behind 16 blocked FIFO reads never ran: " << engine_->describe();
  ASSERT_TRUE(*done);
  EXPECT_EQ(std::string(buf, **done), "payload");
  release_fifo_reads();
}

// Ops that block on a slow disk (no peer's to end) fill the starting workers; the
// pool grows past them while the owner is away from the engine altogether, as an
// epoll loop is while nothing completes.
TEST(PoolGrowth, GrowsPastSlowOpsWhileTheOwnerIsAway) {
  TempDir dir;
  write_plain(dir.file("f"), "payload");
  EngineOptions o = pool_options(0, 0);  // the default, growing pool
  o.cached_read_fast_path = false;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine);
  auto f = open_sync(*engine, dir.file("f"), O_RDWR);
  ASSERT_TRUE(f) << f.error().message();
  detail::sys::clear_faults();
  detail::sys::count_calls();
  constexpr int kSlow = 8;
  detail::sys::inject({.call = detail::sys::Call::fsync, .nth = 1, .times = kSlow, .error = 0, .short_count = std::nullopt, .stall = std::chrono::milliseconds(400)});
  int synced = 0;
  for (int i = 0; i < kSlow; ++i) f->fsync([&](Result<void> r) { synced += bool(r); });
  char buf[7];
  std::optional<Result<std::size_t>> read;
  f->read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { read.emplace(r); });
  ASSERT_TRUE(engine->submit());
  // Two starting workers would reach the read only after four rounds of slow
  // fsyncs (1.6 s); a pool that grows while nobody calls the engine runs it at once.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
  while (detail::sys::calls(detail::sys::Call::read) == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(detail::sys::calls(detail::sys::Call::read), 1u) << engine->describe();
  ASSERT_TRUE(engine->run());
  detail::sys::clear_faults();
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(std::string(buf, **read), "payload");
  EXPECT_EQ(synced, kSlow);
}

}  // namespace
}  // namespace ringfile::test
