// SQPOLL: the kernel's SQ thread takes SQEs from the ring. When the owner fills the
// SQ faster than that thread empties it, the owner must not wait for it
// (io_uring_sqring_wait sleeps): the SQEs queue in user space and go in later.

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "ringfile/ringfile.hpp"
#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using namespace std::chrono_literals;

long voluntary_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_nvcsw;
}

// Pins the SQ threads of this process ("iou-sqp-*") to `cpu`; false if there is
// none or the kernel keeps their affinity to itself.
bool pin_sq_threads(int cpu) {
  DIR* tasks = ::opendir("/proc/self/task");
  if (!tasks) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  bool pinned = false;
  while (dirent* e = ::readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("iou-sqp-", 0) != 0) continue;
    pinned = ::sched_setaffinity(std::stoi(e->d_name), sizeof set, &set) == 0 || pinned;
  }
  ::closedir(tasks);
  return pinned;
}

class CpuAndPriority {
 public:
  explicit CpuAndPriority(int cpu) {
    CPU_ZERO(&old_cpus_);
    sched_getaffinity(0, sizeof old_cpus_, &old_cpus_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~CpuAndPriority() {
    real_time(false);
    if (pinned_) sched_setaffinity(0, sizeof old_cpus_, &old_cpus_);
  }
  CpuAndPriority(const CpuAndPriority&) = delete;
  CpuAndPriority& operator=(const CpuAndPriority&) = delete;
  bool pinned() const noexcept { return pinned_; }
  bool real_time(bool on) {
    sched_param p{};
    p.sched_priority = on ? 1 : 0;
    if (on == fifo_) return true;
    if (pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &p) != 0) return false;
    fifo_ = on;
    return true;
  }

 private:
  cpu_set_t old_cpus_{};
  bool pinned_ = false;
  bool fifo_ = false;
};

// Writes with a deadline take two SQEs each (the write and its link timeout), and a
// cancel of each a third: three times the SQ's size while the SQ thread cannot run.
TEST(UringSqpoll, AFullSqDoesNotPutTheOwnerToSleep) {
  SKIP_WITHOUT_IO_URING();
  const int cpu = sched_getcpu();
  CpuAndPriority owner(cpu);
  if (!owner.pinned()) GTEST_SKIP() << "cannot pin the test thread to one CPU";
  EngineOptions options;
  options.backend = Backend::IoUring;
  options.sqpoll = true;
  options.queue_depth = 16;
  auto engine = Engine::create(options);
  if (!engine || engine->backend() != Backend::IoUring) GTEST_SKIP() << "the kernel refused an SQPOLL ring";
  if (!pin_sq_threads(cpu)) GTEST_SKIP() << "the SQ thread cannot be pinned beside the owner";
  TempDir dir;
  auto file = open_sync(*engine, dir.file("f"), O_RDWR | O_CREAT);
  ASSERT_TRUE(file) << file.error().message();
  if (!owner.real_time(true)) GTEST_SKIP() << "SCHED_FIFO refused: the SQ thread could run beside the owner";

  constexpr int kRounds = 20;
  constexpr int kWrites = 24;  // more than the ring takes in flight: some queue in the core
  std::vector<char> data(4096, 'q');
  int ok = 0, cancelled = 0, failed = 0;
  long slept = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<OpHandle> ops;
    const long before = voluntary_switches();
    {
      OpTimeout limit(*engine, 10s);
      for (int i = 0; i < kWrites; ++i) {
        ops.push_back(file->write(data.data(), data.size(), static_cast<std::int64_t>(i) * 4096,
                                  [&](Result<std::size_t> r) {
                                    if (r && *r == 4096) ++ok;
                                    else if (!r && r.error() == std::errc::operation_canceled) ++cancelled;
                                    else ++failed;
                                  }));
      }
    }
    ASSERT_TRUE(engine->submit());
    for (int i = 0; i < kWrites; i += 2) engine->cancel(ops[static_cast<std::size_t>(i)]);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(engine->poll());
    slept += voluntary_switches() - before;
    // Unmeasured: a sleep lets the SQ thread run, then everything finishes.
    owner.real_time(false);
    ASSERT_TRUE(engine->run());
    owner.real_time(true);
  }
  owner.real_time(false);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(ok + cancelled, kRounds * kWrites);
  EXPECT_GT(ok, 0);
  EXPECT_EQ(slept, 0) << "the owner slept " << slept << " times in " << kRounds << " rounds; " << engine->describe();
}

}  // namespace
}  // namespace ringfile::test
