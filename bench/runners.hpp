#pragma once

// The engines ringfile-bench compares. Each keeps `qd` ops in flight from one
// thread and reports every completion to a Pace.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.hpp"
#include "ringfile/engine.hpp"

namespace ringfile::bench {

class Runner {
 public:
  virtual ~Runner() = default;
  // Sets the engine up and opens the workload's file; an error message, or empty.
  virtual std::string open(const Workload& w) = 0;
  // Keeps w.qd ops in flight while pace.more(); ops still in flight when it
  // returns complete in the next run() or in drain().
  virtual void run(Pace& pace) = 0;
  // Waits for every op in flight, issuing no new ones.
  virtual void drain() = 0;
  // Syscalls made so far (io_uring_enter calls for the io_uring loops), or -1
  // when the engine can't tell.
  virtual std::int64_t syscalls() const { return -1; }
  // Engine-specific counters for the method notes (empty if none).
  virtual std::string notes() const { return {}; }
};

struct EngineInfo {
  const char* name;
  bool built;
  const char* what;  // one line for --help
};

// Every engine this binary knows, in table order, built or not.
const std::vector<EngineInfo>& engine_list();
// A runner for a built engine by name, or null. fast_path, when set, overrides
// EngineOptions::cached_read_fast_path for ringfile's engines.
std::unique_ptr<Runner> make_runner(std::string_view name, std::optional<bool> fast_path = {});

std::unique_ptr<Runner> make_ringfile_runner(const EngineOptions& options);
// nowait: reads try preadv2(RWF_NOWAIT) first, as ringfile's fast path does.
std::unique_ptr<Runner> make_pread_runner(bool nowait = false);
std::unique_ptr<Runner> make_liburing_runner();  // null when not built
std::unique_ptr<Runner> make_libuv_runner();     // null when not built
std::unique_ptr<Runner> make_asio_runner(bool one_file);  // null when not built

}  // namespace ringfile::bench
