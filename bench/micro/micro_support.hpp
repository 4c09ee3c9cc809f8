#pragma once

// Shared by the micro benchmarks: a process-wide count of heap allocations (every
// global operator new in this binary, on any thread) and the page-cached test file.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "ringfile/ringfile.hpp"

namespace benchmark {
class State;
}

namespace ringfile::bench {

// An engine of `backend` (its cached-data fast path on or off) and `path` opened
// read-only on it, or nothing after telling `state` why (SkipWithError).
std::optional<std::pair<Engine, File>> engine_with_file(benchmark::State& state, Backend backend, bool fast_path,
                                                        const std::string& path);

std::uint64_t allocations() noexcept;

// A 256 MiB file of random bytes, created once (RINGFILE_BENCH_FILE, else
// ./ringfile-bench.dat or $TMPDIR/ringfile-bench.dat) and warmed into the page
// cache; throws if it can't be made.
const std::string& cached_file();
constexpr std::uint64_t kCachedFileSize = 256ull << 20;

}  // namespace ringfile::bench
