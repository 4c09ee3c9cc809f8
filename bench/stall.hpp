#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace ringfile::bench {

// The event-loop stall benchmark: an epoll loop serves 1 ms timerfd ticks while
// `qd` reads stay in flight, first with O_DIRECT, then buffered on data just
// evicted from the page cache (which exercises the cached-read fast path on cold
// data). Prints a table, or JSON lines; returns the process exit status.
struct StallOptions {
  double seconds = 2;
  bool json = false;
  std::optional<bool> fast_path;          // ringfile engines' cached-read fast path; unset: default
  std::optional<bool> direct;             // only O_DIRECT (true) or only buffered (false); unset: both
  std::vector<std::string> engines;       // which of pread, threadpool and io_uring to run
  bool realtime = false;                  // the loop thread runs SCHED_FIFO
};
int run_stall(const Workload& base, const StallOptions& options);

}  // namespace ringfile::bench
