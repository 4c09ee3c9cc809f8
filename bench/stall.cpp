#include "stall.hpp"

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
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

  void serve() noexcept {
    std::uint64_t expirations = 0;
    if (::read(fd_.get(), &expirations, sizeof expirations) != sizeof expirations) return;
    std::uint64_t now = now_ns();
    for (std::uint64_t j = 0; j < expirations; ++j) {
      std::uint64_t due = first_due_ + (served_ + j) * kTickNs;
      lateness_.add(now > due ? now - due : 0);
    }
    served_ += expirations;
  }
  std::uint64_t served() const noexcept { return served_; }
  const Histogram& lateness() const noexcept { return lateness_; }

 private:
  Fd fd_;
  bool ok_ = false;
  std::uint64_t first_due_ = 0;
  std::uint64_t served_ = 0;
  Histogram lateness_;
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

void finish(StallResult& out, const Ticker& ticker, std::uint64_t start, std::uint64_t reads,
            const Histogram* turns) {
  if (turns) {
    out.p99_turn_us = turns->quantile(0.99) / 1e3;
    out.max_turn_us = static_cast<double>(turns->max()) / 1e3;
  }
  out.seconds = static_cast<double>(now_ns() - start) / 1e9;
  out.ticks = ticker.served();
  out.reads = reads;
  out.p99_us = ticker.lateness().quantile(0.99) / 1e3;
  out.max_us = static_cast<double>(ticker.lateness().max()) / 1e3;
}

// The floor: the same loop with no reads at all, so what the machine's scheduler
// and timer slack cost shows beside the engines' numbers.
StallResult stall_idle(const Workload& w, double seconds, bool realtime) {
  StallResult out;
  out.engine = "none";
  out.direct = w.direct;
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  Ticker ticker(epoll.get());
  if (!ticker.ok()) {
    out.error = "timerfd/epoll: " + errno_text(errno);
    return out;
  }
  LoopPriority priority(realtime);
  const std::uint64_t start = now_ns();
  const auto end = start + static_cast<std::uint64_t>(seconds * 1e9);
  epoll_event events[4];
  for (std::uint64_t now = start; now < end; now = now_ns()) {
    int n = ::epoll_wait(epoll.get(), events, 4, static_cast<int>((end - now) / 1'000'000) + 1);
    for (int i = 0; i < n; ++i) ticker.serve();
  }
  finish(out, ticker, start, 0, nullptr);
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
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  Ticker ticker(epoll.get());
  if (!ticker.ok()) {
    out.error = "timerfd/epoll: " + errno_text(errno);
    return out;
  }
  SlotBuffers buffers(w.qd, w.bs);
  OpPicker picker(w);
  LoopPriority priority(realtime);
  const std::uint64_t start = now_ns();
  const auto end = start + static_cast<std::uint64_t>(seconds * 1e9);
  std::uint64_t reads = 0;
  Histogram turns;
  epoll_event events[4];
  while (now_ns() < end) {
    int n = ::epoll_wait(epoll.get(), events, 4, 0);
    const std::uint64_t turn = now_ns();
    for (int i = 0; i < n; ++i) ticker.serve();
    for (unsigned s = 0; s < w.qd; ++s) {
      if (::pread(file.get(), buffers.at(s), w.bs, picker.next().offset) < 0) {
        out.error = "pread: " + errno_text(errno);
        return out;
      }
      ++reads;
    }
    turns.add(now_ns() - turn);
  }
  finish(out, ticker, start, reads, &turns);
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

  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  Ticker ticker(epoll.get());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = 1;
  if (!ticker.ok() || ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, engine.event_fd(), &ev) != 0) {
    out.error = "timerfd/epoll: " + errno_text(errno);
    return out;
  }

  SlotBuffers buffers(w.qd, w.bs);
  OpPicker picker(w);
  LoopPriority priority(realtime);
  const std::uint64_t start = now_ns();
  const auto end = start + static_cast<std::uint64_t>(seconds * 1e9);
  std::uint64_t reads = 0;
  Histogram turns;
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
  for (unsigned s = 0; s < w.qd; ++s) reader.issue(s);
  (void)engine.submit();

  epoll_event events[4];
  while (out.error.empty()) {
    std::uint64_t now = now_ns();
    if (now >= end) break;
    int timeout_ms = static_cast<int>((end - now) / 1'000'000) + 1;
    int n = ::epoll_wait(epoll.get(), events, 4, timeout_ms);
    const std::uint64_t turn = now_ns();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u32 == 0) {
        ticker.serve();
      } else if (auto r = engine.poll(); !r) {
        out.error = "poll: " + r.error().message();
      }
    }
    turns.add(now_ns() - turn);
  }
  finish(out, ticker, start, reads, &turns);
  stopping = true;
  (void)engine.run();
  file.close();
  (void)engine.run();
  return out;
}

void print_json(const StallResult& r) {
  std::printf(
      "{\"stall\": true, \"engine\": \"%s\", \"direct\": %s, \"seconds\": %.3f, \"ticks\": %llu, "
      "\"reads\": %llu, \"p99_late_us\": %.1f, \"max_late_us\": %.1f, \"p99_turn_us\": %.1f, "
      "\"max_turn_us\": %.1f}\n",
      r.engine, r.direct ? "true" : "false", r.seconds, static_cast<unsigned long long>(r.ticks),
      static_cast<unsigned long long>(r.reads), r.p99_us, r.max_us, r.p99_turn_us, r.max_turn_us);
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
    evict(w.path);
    record("pread", data, [&] { return stall_pread(w, seconds, rt); });
    evict(w.path);
    record("threadpool", data, [&] { return stall_engine(Backend::ThreadPool, w, seconds, fast_path, rt); });
    evict(w.path);
    record("io_uring", data, [&] { return stall_engine(Backend::IoUring, w, seconds, fast_path, rt); });
  }
  if (json) return 0;

  std::printf("Event-loop stall: an epoll loop serves a 1 ms timerfd while %u reads of %zu B stay in flight%s\n",
              base.qd, base.bs, options.realtime ? " (loop thread SCHED_FIFO)" : "");
  std::printf("%-11s %-14s %7s %9s %12s %12s %12s %12s\n", "engine", "data", "ticks", "reads/s", "p99 late us",
              "max late us", "p99 turn us", "max turn us");
  for (const auto& r : results) {
    const char* data = r.reads == 0 && r.error.empty() ? "timer only" : r.direct ? "O_DIRECT" : "buffered cold";
    if (!r.error.empty()) {
      std::printf("%-11s %-14s skipped: %s\n", r.engine, data, r.error.c_str());
      continue;
    }
    std::printf("%-11s %-14s %7llu %9.0f %12.1f %12.1f %12.1f %12.1f\n", r.engine, data,
                static_cast<unsigned long long>(r.ticks), static_cast<double>(r.reads) / r.seconds, r.p99_us,
                r.max_us, r.p99_turn_us, r.max_turn_us);
  }
  std::printf(
      "\nMethod: one thread runs the epoll loop. pread: each loop turn does one blocking read per in-flight\n"
      "slot, then serves the ticks that came due. threadpool, io_uring: the engine's event_fd() is in the\n"
      "same epoll set and poll() runs when it fires; every completion issues that slot's next read.\n"
      "Lateness = time from a tick's due time to the loop reading the timerfd (piled-up ticks count each).\n"
      "Turn = a stretch the loop spent outside epoll_wait (in pread, or in poll() and callbacks):\n"
      "the part of the lateness the engine itself causes; the rest is scheduling (see the timer-only row).\n"
      "Buffered cold: the file is evicted (POSIX_FADV_DONTNEED) first, so the cached-read fast path\n"
      "meets uncached pages and must hand them off instead of blocking. Target: max < 2000 us for both engines.\n");
  return 0;
}

}  // namespace ringfile::bench
