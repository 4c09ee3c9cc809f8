#include "stall.hpp"

#include <cerrno>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ringfile/ringfile.hpp"

namespace ringfile::bench {
namespace {

constexpr std::uint64_t kTickNs = 1'000'000;

struct StallResult {
  const char* engine = "";
  bool direct = false;
  double seconds = 0;
  std::uint64_t ticks = 0;
  std::uint64_t reads = 0;
  double p99_us = 0;
  double max_us = 0;
  double p99_turn_us = 0;  // stretches the loop spent outside epoll_wait
  double max_turn_us = 0;
  double max_turn_cpu_us = 0;  // of a turn, the time the loop actually ran on a CPU
  double max_runq_us = 0;  // longest a late tick's loop sat runnable, waiting for a CPU
  double p99_held_us = 0;  // lateness spent with the loop busy in a turn: the engine's share
  double max_held_us = 0;
  std::uint64_t blocked_turns = 0;  // turns in which the loop slept outside epoll_wait
  bool runq_known = false;
  std::string error;
};

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// The nanoseconds the calling thread has sat runnable on a run queue, waiting for
// a CPU (/proc/thread-self/schedstat, second field), sampled at turn boundaries:
// lateness the machine's scheduler caused, not the loop's own work. The first
// field, the time it ran, leaves out what a hypervisor stole from its vCPU and
// interrupts (paravirt steal and IRQ time accounting).
class RunQueueClock {
 public:
  RunQueueClock() : fd_(::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) { sample(now_ns()); }
  bool known() const noexcept { return fd_.get() >= 0; }

  // Called as the loop leaves epoll_wait and as it goes back.
  void sample(std::uint64_t at) noexcept {
    if (!known()) return;
    char text[96];
    ssize_t n = ::pread(fd_.get(), text, sizeof text - 1, 0);
    if (n <= 0) return;
    text[n] = '\0';
    unsigned long long on_cpu = 0, waited = 0;
    if (std::sscanf(text, "%llu %llu", &on_cpu, &waited) != 2) return;
    samples_[next_++ % samples_.size()] = {at, waited};
    on_cpu_ = on_cpu;
  }
  // The time the thread has run, as of the newest sample.
  std::uint64_t on_cpu() const noexcept { return on_cpu_; }
  // Run-queue wait from the last sample at or before `since` to the newest sample.
  std::uint64_t waited_since(std::uint64_t since) const noexcept {
    if (!known() || next_ == 0) return 0;
    const Sample& newest = samples_[(next_ - 1) % samples_.size()];
    const std::size_t kept = std::min<std::size_t>(next_, samples_.size());
    Sample base = samples_[(next_ - kept) % samples_.size()];
    for (std::size_t i = next_ - kept; i < next_; ++i) {
      const Sample& s = samples_[i % samples_.size()];
      if (s.at > since) break;
      base = s;
    }
    return newest.waited - base.waited;
  }

 private:
  struct Sample {
    std::uint64_t at = 0;
    std::uint64_t waited = 0;
  };
  Fd fd_;
  std::array<Sample, 256> samples_{};
  std::size_t next_ = 0;
  std::uint64_t on_cpu_ = 0;
};

// Voluntary context switches of the calling thread: one inside a turn means the
// loop slept in a syscall (a blocking read, a lock) instead of running.
std::uint64_t voluntary_switches() noexcept {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return static_cast<std::uint64_t>(usage.ru_nvcsw);
}

// Times each turn (a stretch outside epoll_wait) and notes those in which the loop slept.
class TurnMeter {
 public:
  // The loop has left epoll_wait.
  void begin() noexcept {
    start_ = now_ns();
    runq_.sample(start_);
    cpu_at_start_ = runq_.on_cpu();
    switches_ = voluntary_switches();
  }
  // The loop goes back to epoll_wait.
  void end() noexcept {
    const std::uint64_t now = now_ns();
    turns_.add(now - start_);
    previous_slept_ = voluntary_switches() != switches_;
    if (previous_slept_) ++blocked_;
    runq_.sample(now);
    previous_end_ = now;
    previous_runq_ = runq_.waited_since(start_);
    previous_cpu_ = runq_.known() ? runq_.on_cpu() - cpu_at_start_ : now - start_;
    max_turn_cpu_ = std::max(max_turn_cpu_, previous_cpu_);
  }
  // When the last finished turn ended, how long the loop sat on a run queue in it,
  // how long it ran on a CPU in it, and whether it slept in it.
  std::uint64_t previous_end() const noexcept { return previous_end_; }
  std::uint64_t previous_runq() const noexcept { return previous_runq_; }
  std::uint64_t previous_cpu() const noexcept { return previous_cpu_; }
  bool previous_slept() const noexcept { return previous_slept_; }
  std::uint64_t max_turn_cpu() const noexcept { return max_turn_cpu_; }
  const RunQueueClock& runq() const noexcept { return runq_; }
  const Histogram& turns() const noexcept { return turns_; }
  std::uint64_t blocked() const noexcept { return blocked_; }

 private:
  RunQueueClock runq_;
  Histogram turns_;
  std::uint64_t start_ = 0;
  std::uint64_t switches_ = 0;
  std::uint64_t blocked_ = 0;
  std::uint64_t previous_end_ = 0;
  std::uint64_t previous_runq_ = 0;
  std::uint64_t cpu_at_start_ = 0;
  std::uint64_t previous_cpu_ = 0;
  std::uint64_t max_turn_cpu_ = 0;
  bool previous_slept_ = false;
};

// The loop's 1 ms heartbeat. Lateness of a tick is how long after its due time
// the loop got to it; ticks that piled up while the loop was blocked each count
// with their own (larger) lateness.
class Ticker {
 public:
  explicit Ticker(int epoll_fd) : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
    first_due_ = now_ns() + kTickNs;
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(first_due_ / 1'000'000'000u);
    spec.it_value.tv_nsec = static_cast<long>(first_due_ % 1'000'000'000u);
    spec.it_interval.tv_nsec = static_cast<long>(kTickNs);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = 0;
    ok_ = fd_.get() >= 0 && ::timerfd_settime(fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) == 0 &&
          ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd_.get(), &ev) == 0;
  }
  bool ok() const noexcept { return ok_; }

  // A tick that came due while the loop was busy in the previous turn waited for
  // that turn to end: that wait, less any run-queue wait within the turn, is the
  // part of its lateness the loop's own work (the engine) caused. In a turn the
  // loop did not sleep in, its own work is at most the CPU time it ran: the rest
  // of the turn its vCPU was stolen by the host or serving interrupts.
  void serve(const TurnMeter& meter) noexcept {
    std::uint64_t expirations = 0;
    if (::read(fd_.get(), &expirations, sizeof expirations) != sizeof expirations) return;
    std::uint64_t now = now_ns();
    for (std::uint64_t j = 0; j < expirations; ++j) {
      std::uint64_t due = first_due_ + (served_ + j) * kTickNs;
      std::uint64_t late = now > due ? now - due : 0;
      std::uint64_t held = 0;
      if (due < meter.previous_end()) {
        held = meter.previous_end() - due;
        held -= std::min(held, meter.previous_runq());
        if (!meter.previous_slept()) held = std::min(held, meter.previous_cpu());
      }
      lateness_.add(late);
      held_.add(held);
      max_runq_ = std::max(max_runq_, std::min(late, meter.runq().waited_since(due)));
    }
    served_ += expirations;
  }
  std::uint64_t served() const noexcept { return served_; }
  const Histogram& lateness() const noexcept { return lateness_; }
  const Histogram& held() const noexcept { return held_; }
  std::uint64_t max_runq() const noexcept { return max_runq_; }

 private:
  Fd fd_;
  bool ok_ = false;
  std::uint64_t first_due_ = 0;
  std::uint64_t served_ = 0;
  Histogram lateness_;
  Histogram held_;
  std::uint64_t max_runq_ = 0;
};

// Runs the calling thread SCHED_FIFO while it lives, when asked: on a shared
// machine other processes then can't show up as tick lateness, while anything
// the loop blocks on still does. Raised after the engine exists, so its workers
// keep the normal policy.
class LoopPriority {
 public:
  explicit LoopPriority(bool realtime) noexcept {
    if (!realtime) return;
    sched_param param{};
    param.sched_priority = 10;
    raised_ = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param) == 0;
  }
  LoopPriority(const LoopPriority&) = delete;
  LoopPriority& operator=(const LoopPriority&) = delete;
  ~LoopPriority() {
    if (!raised_) return;
    sched_param param{};
    ::pthread_setschedparam(::pthread_self(), SCHED_OTHER, &param);
  }

 private:
  bool raised_ = false;
};

void evict(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// Keeps a file out of the page cache while it lives, evicting it every 100 ms from
// a thread of its own: the buffered case then stays a cold-data case for its whole
// run, instead of turning into a cached-read case once readahead has pulled the
// file in (which takes a fraction of a second for 256 MiB).
class KeepCold {
 public:
  KeepCold(const std::string& path, bool active) {
    if (!active) return;
    thread_ = std::jthread([path](std::stop_token stop) {
      while (!stop.stop_requested()) {
        evict(path);
        for (int i = 0; i < 10 && !stop.stop_requested(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
  }

 private:
  std::jthread thread_;
};

// What every variant of the loop shares: an epoll set with the 1 ms ticker in it
// (tagged 0; other sources use other tags), the measured run's deadline, and the
// turn meter. A turn runs from begin_turn() to end_turn().
class StallLoop {
 public:
  StallLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), ticker_(epoll_.get()) {}
  bool ok() const noexcept { return ticker_.ok(); }
  bool watch(int fd, std::uint32_t tag) noexcept {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = tag;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void start(double seconds) noexcept {
    start_ = now_ns();
    end_ = start_ + static_cast<std::uint64_t>(seconds * 1e9);
  }
  bool running() const noexcept { return now_ns() < end_; }

  // Waits for events (until the deadline when `block`, else not at all), then
  // begins a turn and handles them in order: ticks here, the rest by on_event(tag).
  template <class OnEvent>
  void begin_turn(bool block, OnEvent&& on_event) {
    int timeout_ms = 0;
    if (block) {
      const std::uint64_t now = now_ns();
      timeout_ms = now < end_ ? static_cast<int>((end_ - now) / 1'000'000) + 1 : 0;
    }
    epoll_event events[4];
    int n = ::epoll_wait(epoll_.get(), events, 4, timeout_ms);
    meter_.begin();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u32 == 0) ticker_.serve(meter_);
      else on_event(events[i].data.u32);
    }
  }
  void end_turn() noexcept { meter_.end(); }

  void finish(StallResult& out, std::uint64_t reads) const {
    const RunQueueClock& runq = meter_.runq();
    out.p99_turn_us = meter_.turns().quantile(0.99) / 1e3;
    out.max_turn_us = static_cast<double>(meter_.turns().max()) / 1e3;
    out.max_turn_cpu_us = static_cast<double>(meter_.max_turn_cpu()) / 1e3;
    out.blocked_turns = meter_.blocked();
    out.seconds = static_cast<double>(now_ns() - start_) / 1e9;
    out.ticks = ticker_.served();
    out.reads = reads;
    out.p99_us = ticker_.lateness().quantile(0.99) / 1e3;
    out.max_us = static_cast<double>(ticker_.lateness().max()) / 1e3;
    out.runq_known = runq.known();
    out.max_runq_us = static_cast<double>(ticker_.max_runq()) / 1e3;
    out.p99_held_us = ticker_.held().quantile(0.99) / 1e3;
    out.max_held_us = static_cast<double>(ticker_.held().max()) / 1e3;
  }

 private:
  Fd epoll_;
  Ticker ticker_;
  TurnMeter meter_;
  std::uint64_t start_ = 0;
  std::uint64_t end_ = 0;
};

// The floor: the same loop with no reads at all, so what the machine's scheduler
// and timer slack cost shows beside the engines' numbers.
StallResult stall_idle(const Workload& w, double seconds, bool realtime) {
  StallResult out;
  out.engine = "none";
  out.direct = w.direct;
  StallLoop loop;
  if (!loop.ok()) {
    out.error = "timerfd/epoll: " + errno_text(errno);
    return out;
  }
  LoopPriority priority(realtime);
  loop.start(seconds);
  while (loop.running()) {
    loop.begin_turn(true, [](std::uint32_t) {});
    loop.end_turn();
  }
  loop.finish(out, 0);
  return out;
}

// (a) The loop itself calls pread: each turn reads once for every one of the qd
// clients, then serves the ticks that came due meanwhile.
StallResult stall_pread(const Workload& w, double seconds, bool realtime) {
  StallResult out;
  out.engine = "pread";
  out.direct = w.direct;
  Fd file(open_workload_file(w));
  if (file.get() < 0) {
    out.error = "open: " + errno_text(file.get());
    return out;
  }
  StallLoop loop;
  if (!loop.ok()) {
    out.error = "timerfd/epoll: " + errno_text(errno);
    return out;
  }
  SlotBuffers buffers(w.qd, w.bs);
  OpPicker picker(w);
  LoopPriority priority(realtime);
  std::uint64_t reads = 0;
  loop.start(seconds);
  while (loop.running()) {
    loop.begin_turn(false, [](std::uint32_t) {});
    for (unsigned s = 0; s < w.qd; ++s) {
      if (::pread(file.get(), buffers.at(s), w.bs, picker.next().offset) < 0) {
        out.error = "pread: " + errno_text(errno);
        return out;
      }
      ++reads;
    }
    loop.end_turn();
  }
  loop.finish(out, reads);
  return out;
}

// (b), (c) One of ringfile's engines keeps qd reads in flight; its event_fd() sits in
// the same epoll set as the timer and poll() runs when it fires.
StallResult stall_engine(Backend backend, const Workload& w, double seconds, std::optional<bool> fast_path,
                         bool realtime) {
  StallResult out;
  out.engine = to_string(backend);
  out.direct = w.direct;
  EngineOptions options;
  options.backend = backend;
  if (fast_path) options.cached_read_fast_path = *fast_path;
  auto created = Engine::create(options);
  if (!created) {
    out.error = std::string(to_string(backend)) + " engine: " + created.error().message();
    return out;
  }
  Engine engine = std::move(*created);

  std::optional<Result<File>> opened;
  File::open(engine, w.path, O_RDONLY | O_CLOEXEC | (w.direct ? O_DIRECT : 0),
             [&](Result<File> f) { opened.emplace(std::move(f)); });
  while (!opened) (void)engine.wait();
  if (!*opened) {
    out.error = "open: " + opened->error().message();
    return out;
  }
  File file = std::move(**opened);

  constexpr std::uint32_t kEngineTag = 1;
  StallLoop loop;
  if (!loop.ok() || !loop.watch(engine.event_fd(), kEngineTag)) {
    out.error = "timerfd/epoll: " + errno_text(errno);
    return out;
  }

  SlotBuffers buffers(w.qd, w.bs);
  OpPicker picker(w);
  LoopPriority priority(realtime);
  std::uint64_t reads = 0;
  bool stopping = false;

  struct Reader {
    File* file;
    SlotBuffers* buffers;
    OpPicker* picker;
    std::uint64_t* reads;
    bool* stopping;
    std::string* error;
    std::size_t bs;
    void issue(unsigned slot) {
      file->read(buffers->at(slot), bs, picker->next().offset, [this, slot](Result<std::size_t> r) {
        if (!r) {
          if (error->empty()) *error = "read: " + r.error().message();
          return;
        }
        ++*reads;
        if (!*stopping) issue(slot);
      });
    }
  } reader{&file, &buffers, &picker, &reads, &stopping, &out.error, w.bs};
  loop.start(seconds);
  for (unsigned s = 0; s < w.qd; ++s) reader.issue(s);
  (void)engine.submit();

  while (out.error.empty() && loop.running()) {
    loop.begin_turn(true, [&](std::uint32_t) {
      if (auto r = engine.poll(); !r) out.error = "poll: " + r.error().message();
    });
    loop.end_turn();
  }
  loop.finish(out, reads);
  stopping = true;
  (void)engine.run();
  file.close();
  (void)engine.run();
  return out;
}

void print_json(const StallResult& r) {
  std::printf(
      "{\"stall\": true, \"engine\": \"%s\", \"direct\": %s, \"seconds\": %.3f, \"ticks\": %llu, "
      "\"reads\": %llu, \"p99_late_us\": %.1f, \"max_late_us\": %.1f, \"max_runq_us\": %.1f, "
      "\"p99_held_us\": %.1f, \"max_held_us\": %.1f, \"p99_turn_us\": %.1f, \"max_turn_us\": %.1f, "
      "\"max_turn_cpu_us\": %.1f, \"blocked_turns\": %llu}\n",
      r.engine, r.direct ? "true" : "false", r.seconds, static_cast<unsigned long long>(r.ticks),
      static_cast<unsigned long long>(r.reads), r.p99_us, r.max_us, r.max_runq_us, r.p99_held_us, r.max_held_us,
      r.p99_turn_us, r.max_turn_us, r.max_turn_cpu_us, static_cast<unsigned long long>(r.blocked_turns));
  std::fflush(stdout);
}

}  // namespace

int run_stall(const Workload& base, const StallOptions& options) {
  const double seconds = options.seconds;
  const bool json = options.json;
  const auto& engines = options.engines;
  const auto fast_path = options.fast_path;
  std::vector<StallResult> results;
  unsigned done = 0;
  auto wanted = [&](std::string_view name) {
    return std::find(engines.begin(), engines.end(), name) != engines.end();
  };
  auto record = [&](const char* name, const char* data, auto&& run) {
    if (name != std::string_view("none") && !wanted(name)) return;
    std::fprintf(stderr, "[stall %u] %s, %s, %.1f s ... ", ++done, name, data, seconds);
    std::fflush(stderr);
    StallResult r = run();
    if (r.error.empty()) {
      std::fprintf(stderr, "max tick lateness %.0f us\n", r.max_us);
      if (json) print_json(r);
    } else {
      std::fprintf(stderr, "skipped: %s\n", r.error.c_str());
    }
    results.push_back(std::move(r));
  };
  if (options.realtime) {
    LoopPriority probe(true);
    sched_param param{};
    int policy = SCHED_OTHER;
    if (::pthread_getschedparam(::pthread_self(), &policy, &param) != 0 || policy != SCHED_FIFO) {
      std::fprintf(stderr, "ringfile-bench: --rt: cannot run the loop SCHED_FIFO (needs root or CAP_SYS_NICE)\n");
      return 2;
    }
  }
  const bool rt = options.realtime;
  record("none", "timer only", [&] { return stall_idle(base, seconds, rt); });
  for (bool direct : {true, false}) {
    if (options.direct && *options.direct != direct) continue;
    Workload w = base;
    w.direct = direct;
    w.rw = Rw::RandRead;
    w.fsync_every = 0;
    if (direct) {
      int fd = open_workload_file(w);
      if (fd < 0) {
        std::fprintf(stderr, "stall: O_DIRECT pass skipped: open(%s, O_DIRECT): %s\n", w.path.c_str(),
                     errno_text(fd).c_str());
        continue;
      }
      ::close(fd);
    }
    const char* data = direct ? "O_DIRECT" : "buffered cold";
    // Cold data every time: O_DIRECT never touches the cache, and the buffered
    // cases start from an evicted file.
    auto cold = [&](auto&& run) {
      evict(w.path);
      KeepCold keep_cold(w.path, !direct);
      return run();
    };
    record("pread", data, [&] { return cold([&] { return stall_pread(w, seconds, rt); }); });
    record("threadpool", data,
           [&] { return cold([&] { return stall_engine(Backend::ThreadPool, w, seconds, fast_path, rt); }); });
    record("io_uring", data,
           [&] { return cold([&] { return stall_engine(Backend::IoUring, w, seconds, fast_path, rt); }); });
  }
  if (json) return 0;

  std::printf("Event-loop stall: an epoll loop serves a 1 ms timerfd while %u reads of %zu B stay in flight%s\n",
              base.qd, base.bs, options.realtime ? " (loop thread SCHED_FIFO)" : "");
  std::printf("%-11s %-14s %6s %8s %9s %9s %9s %9s %9s %9s %9s %9s %8s\n", "", "", "", "", "late us", "", "run-q us",
              "held us", "", "turn us", "", "on-cpu us", "blocked");
  std::printf("%-11s %-14s %6s %8s %9s %9s %9s %9s %9s %9s %9s %9s %8s\n", "engine", "data", "ticks", "reads/s", "p99",
              "max", "max", "p99", "max", "p99", "max", "max", "turns");
  bool runq_known = true;
  for (const auto& r : results) {
    const char* data = r.reads == 0 && r.error.empty() ? "timer only" : r.direct ? "O_DIRECT" : "buffered cold";
    if (!r.error.empty()) {
      std::printf("%-11s %-14s skipped: %s\n", r.engine, data, r.error.c_str());
      continue;
    }
    runq_known = runq_known && r.runq_known;
    std::printf("%-11s %-14s %6llu %8.0f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %8llu\n", r.engine, data,
                static_cast<unsigned long long>(r.ticks), static_cast<double>(r.reads) / r.seconds, r.p99_us, r.max_us,
                r.max_runq_us, r.p99_held_us, r.max_held_us, r.p99_turn_us, r.max_turn_us, r.max_turn_cpu_us,
                static_cast<unsigned long long>(r.blocked_turns));
  }
  std::printf(
      "\nMethod: one thread runs the epoll loop. pread: each loop turn does one blocking read per in-flight\n"
      "slot, then serves the ticks that came due. threadpool, io_uring: the engine's event_fd() is in the\n"
      "same epoll set and poll() runs when it fires; every completion issues that slot's next read.\n"
      "late: time from a tick's due time to the loop reading the timerfd (piled-up ticks count each).\n"
      "run-q: of that, the time the loop sat runnable waiting for a CPU (/proc/thread-self/schedstat): the\n"
      "machine's share (other threads, kernel threads, a busy host), which no engine controls.\n"
      "held: of late, the time the tick waited for a turn (the loop's own work in poll() and callbacks,\n"
      "or in pread) to end, less run-q within that turn, and in a turn without a sleep at most the\n"
      "turn's on-cpu time: the engine's share of the lateness.\n"
      "on-cpu: the longest a turn ran on a CPU (schedstat; time a hypervisor stole or interrupts took\n"
      "is not in it, so turn minus on-cpu minus run-q in a turn without a sleep is the host's).\n"
      "The rest of late is wake-up delay: the timer interrupt and the wake-up reaching the loop.\n"
      "turn: a stretch outside epoll_wait (in pread, or in poll() and callbacks); blocked turns: turns in\n"
      "which the loop slept (a voluntary context switch), i.e. the engine blocked the loop.\n"
      "Buffered cold: the file is evicted (POSIX_FADV_DONTNEED) first, so the cached-read fast path\n"
      "meets uncached pages and must hand them off instead of blocking.\n"
      "Target: max late < 2000 us for both engines; held shows whether a miss is the engine's.\n");
  if (!runq_known) std::printf("(/proc/thread-self/schedstat is not readable here: run-q reads 0.)\n");
  return 0;
}

}  // namespace ringfile::bench
