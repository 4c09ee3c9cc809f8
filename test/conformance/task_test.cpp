// Coroutines: Task, sync_wait, when_all, and the awaitable form of every File op,
// on both engines.

#include <fcntl.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "op_helpers.hpp"

// Counts heap allocations made on a thread while it asks to: awaiting an op must
// not allocate.
namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace

// GCC cannot tell that these replace the global pair and warns on every inlined use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
// The nothrow form is replaced too: the library's own new(nothrow) (std::stable_partition's
// buffer) would otherwise come from the default allocator and be freed here.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (counting) ++allocations;
  return std::malloc(size ? size : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace ringfile::test {
namespace {

// Engine-free behaviour of Task itself.

Task<int> forty_two() { co_return 42; }
Task<void> nothing() { co_return; }
Task<int> add(int a) { co_return a + co_await forty_two(); }
Task<int> throws() {
  throw std::runtime_error("boom");
  co_return 0;
}
// Not `co_return n == 0 ? 0 : 1 + co_await deep(n - 1)`: GCC 12 compiles a
// co_await inside a conditional expression into something that takes seconds and
// gigabytes at this depth.
Task<int> deep(int n) {
  if (n == 0) co_return 0;
  const int below = co_await deep(n - 1);
  co_return below + 1;
}
Task<long> many_sequential(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await forty_two();
  co_return sum;
}

class TaskTest : public EngineTest {};

TEST_P(TaskTest, ValuesVoidAndNesting) {
  EXPECT_EQ(sync_wait(engine(), forty_two()), 42);
  sync_wait(engine(), nothing());
  EXPECT_EQ(sync_wait(engine(), add(1)), 43);
}

TEST_P(TaskTest, ExceptionsPropagateThroughAwaitsAndSyncWait) {
  auto outer = []() -> Task<int> { co_return co_await throws() + 1; };
  EXPECT_THROW(sync_wait(engine(), outer()), std::runtime_error);
}

TEST_P(TaskTest, TasksAreLazy) {
  bool ran = false;
  // A named lambda: a coroutine lambda's captures live in the closure, which must
  // outlive the lazy task.
  auto body = [&]() -> Task<void> {
    ran = true;
    co_return;
  };
  auto t = body();
  EXPECT_FALSE(ran);
  sync_wait(engine(), std::move(t));
  EXPECT_TRUE(ran);
}

TEST_P(TaskTest, SymmetricTransferKeepsTheStackFlat) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer instrumentation stops the compiler from making symmetric transfer a tail "
                  "call, so a 20000-deep chain overflows the stack by construction; the plain build runs it";
#endif
  EXPECT_EQ(sync_wait(engine(), many_sequential(1000000)), 42000000L);
  EXPECT_EQ(sync_wait(engine(), deep(20000)), 20000);
}

TEST_P(TaskTest, WhenAllTuple) {
  auto [a, b, c] = sync_wait(engine(), when_all(forty_two(), nothing(), add(2)));
  EXPECT_EQ(a, 42);
  EXPECT_EQ(b, std::monostate{});
  EXPECT_EQ(c, 44);
}

TEST_P(TaskTest, WhenAllRethrowsAfterEveryTaskFinished) {
  int finished = 0;
  auto counted = [&]() -> Task<int> {
    ++finished;
    co_return 1;
  };
  std::vector<Task<int>> tasks;
  tasks.push_back(counted());
  tasks.push_back(throws());
  tasks.push_back(counted());
  EXPECT_THROW(sync_wait(engine(), when_all(std::move(tasks))), std::runtime_error);
  EXPECT_EQ(finished, 2);
}

TEST_P(TaskTest, WhenAllOfNothing) {
  EXPECT_TRUE(sync_wait(engine(), when_all(std::vector<Task<int>>{})).empty());
  sync_wait(engine(), when_all(std::vector<Task<void>>{}));
}

// One task: write a slice, read it back, compare, stat the file.
Task<Result<std::size_t>> round_trip(Engine& engine, File& file, std::size_t i) {
  char out[512], in[512];
  std::memset(out, static_cast<int>('A' + i % 26), sizeof out);
  std::snprintf(out, sizeof out, "task %zu", i);
  const auto offset = static_cast<std::int64_t>(i * sizeof out);
  auto w = co_await file.write_all(out, sizeof out, offset);
  if (!w) co_return w.error();
  auto r = co_await file.read_exact(in, sizeof in, offset);
  if (!r) co_return r.error();
  if (*r != sizeof in || std::memcmp(in, out, sizeof in) != 0) co_return errno_code(EIO);
  auto st = co_await file.stat();
  if (!st) co_return st.error();
  if (st->size < static_cast<std::uint64_t>(offset) + sizeof out) co_return errno_code(ERANGE);
  auto exists = co_await fs::exists(engine, "/");
  if (!exists || !*exists) co_return errno_code(ENOENT);
  co_return *r;
}

TEST_P(TaskTest, ThousandConcurrentTasksWithWhenAll) {
  const std::string p = dir_.file("shared");
  auto file = open_sync(engine(), p, O_CREAT | O_RDWR | O_TRUNC);
  ASSERT_TRUE(file);
  constexpr std::size_t kTasks = 1000;
  std::vector<Task<Result<std::size_t>>> tasks;
  for (std::size_t i = 0; i < kTasks; ++i) tasks.push_back(round_trip(engine(), *file, i));
  auto results = sync_wait(engine(), when_all(std::move(tasks)));
  ASSERT_EQ(results.size(), kTasks);
  for (std::size_t i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(results[i]) << "task " << i << ": " << results[i].error().message();
    EXPECT_EQ(*results[i], 512u);
  }
  const std::string content = read_plain(p);
  ASSERT_EQ(content.size(), kTasks * 512);
  EXPECT_EQ(content.substr(999 * 512, 8), "task 999");
  EXPECT_GT(engine().stats().submitted, kTasks * 4);
}

TEST_P(TaskTest, EveryFileOpHasAnAwaitableForm) {
  const std::string p = dir_.file("ops");
  auto body = [&]() -> Task<void> {
    Engine& e = engine();
    auto opened = co_await File::open(e, p, O_CREAT | O_RDWR | O_TRUNC, 0600);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    File& f = *opened;
    EXPECT_TRUE(f.is_open());

    auto w = co_await f.write("hello world", 11, 0);
    EXPECT_TRUE(w && *w == 11);
    char a[5], b[6];
    iovec in[] = {{a, sizeof a}, {b, sizeof b}};
    auto rv = co_await f.readv(in, 2, 0);
    EXPECT_TRUE(rv && *rv == 11);
    EXPECT_EQ(std::string(a, 5) + std::string(b, 6), "hello world");
    const char x[] = "XY";
    iovec out[] = {{const_cast<char*>(x), 2}};
    auto wv = co_await f.writev(out, 1, 11);
    EXPECT_TRUE(wv && *wv == 2);
    char buf[32] = {};
    auto r = co_await f.read(buf, sizeof buf, 0);
    EXPECT_TRUE(r && *r == 13);
    EXPECT_EQ(std::string(buf, 13), "hello worldXY");
    auto re = co_await f.read_exact(buf, 5, 6);
    EXPECT_TRUE(re && *re == 5);
    EXPECT_TRUE(co_await f.fsync());
    EXPECT_TRUE(co_await f.fdatasync());
    EXPECT_TRUE(co_await f.fallocate(0, 0, 8192));
    auto st = co_await f.stat();
    EXPECT_TRUE(st && st->size == 8192);
    EXPECT_TRUE(co_await f.truncate(4));
    st = co_await f.stat();
    EXPECT_TRUE(st && st->size == 4);
    auto wa = co_await f.write_all("0123456789", 10, 4);
    EXPECT_TRUE(wa && *wa == 10);
    EXPECT_TRUE(co_await f.async_close());
    EXPECT_FALSE(f.is_open());

    auto ro = co_await File::open(e, p, O_RDONLY);
    EXPECT_TRUE(ro);
    auto missing = co_await File::open(e, dir_.file("missing"), O_RDONLY);
    EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
  };
  sync_wait(engine(), body());
  EXPECT_EQ(read_plain(p), "hell0123456789");
}

TEST_P(TaskTest, FixedBufferOpsHaveAwaitableForms) {
  const std::string p = dir_.file("fixed");
  static char region[8192];
  iovec reg{region, sizeof region};
  ASSERT_TRUE(engine().register_buffers({&reg, 1}));
  auto body = [&]() -> Task<void> {
    auto f = co_await File::open(engine(), p, O_CREAT | O_RDWR | O_TRUNC);
    EXPECT_TRUE(f);
    if (!f) co_return;
    std::memset(region, 'f', 4096);
    auto w = co_await f->write_fixed(region, 4096, 0, 0);
    EXPECT_TRUE(w && *w == 4096) << (w ? "" : w.error().message());
    std::memset(region, 0, 4096);
    auto r = co_await f->read_fixed(region + 4096, 4096, 0, 0);
    EXPECT_TRUE(r && *r == 4096);
  };
  sync_wait(engine(), body());
  EXPECT_EQ(std::string(region + 4096, 4096), std::string(4096, 'f'));
  ASSERT_TRUE(engine().unregister_buffers());
}

TEST_P(TaskTest, AwaitingAClosedFileIsEBADF) {
  auto file = open_sync(engine(), dir_.file("closed"), O_CREAT | O_RDWR);
  ASSERT_TRUE(file);
  ASSERT_TRUE(close_sync(engine(), *file));
  File detached;
  auto body = [&]() -> Task<void> {
    char buf[8];
    auto r = co_await file->read(buf, sizeof buf, 0);
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    auto s = co_await file->fsync();
    EXPECT_EQ(s.error(), std::errc::bad_file_descriptor);
    // No engine behind it: fails while being started, without suspending.
    auto d = co_await detached.write(buf, sizeof buf, 0);
    EXPECT_EQ(d.error(), std::errc::bad_file_descriptor);
    auto c = co_await detached.async_close();
    EXPECT_EQ(c.error(), std::errc::bad_file_descriptor);
  };
  sync_wait(engine(), body());
}

TEST_P(TaskTest, AwaitingAnOpDoesNotAllocate) {
  const std::string p = dir_.file("noalloc");
  write_plain(p, random_bytes(1 << 16));
  // A fixed pool: a growing one may start a thread (a one-off allocation, not a
  // per-op one) whenever a loaded machine leaves work untaken for a moment.
  EngineOptions o = options();
  o.workers = 2;
  auto fixed = Engine::create(o);
  ASSERT_TRUE(fixed);
  Engine& engine = *fixed;
  auto file = open_sync(engine, p, O_RDWR);
  ASSERT_TRUE(file);
  std::size_t during = 0;
  auto body = [&]() -> Task<void> {
    char buf[4096];
    // Warm up with the same mix: the request pool and queues reach their steady size.
    for (int i = 0; i < 300; ++i) {
      (void)co_await file->read(buf, sizeof buf, (i % 16) * 4096);
      (void)co_await file->write(buf, 512, 0);
      (void)co_await file->stat();
    }
    counting = true;
    for (int i = 0; i < 1000; ++i) {
      auto r = co_await file->read(buf, sizeof buf, (i % 16) * 4096);
      EXPECT_TRUE(r && *r == sizeof buf);
      auto w = co_await file->write(buf, 512, 0);
      EXPECT_TRUE(w);
      auto st = co_await file->stat();
      EXPECT_TRUE(st);
    }
    counting = false;
    during = allocations;
  };
  // The counter sees the library's allocations (it is linked in statically).
  allocations = 0;
  counting = true;
  auto probe = std::make_unique<AlignedBuffer>(64);
  counting = false;
  ASSERT_GE(allocations, 1u);

  allocations = 0;
  sync_wait(engine, body());
  EXPECT_EQ(during, 0u) << "heap allocations on the owner thread while awaiting 3000 ops";
}

INSTANTIATE_TEST_SUITE_P(Engines, TaskTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
