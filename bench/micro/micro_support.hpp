#pragma once

// Shared by the micro benchmarks: a process-wide count of heap allocations (every
// global operator new in this binary, on any thread) and the page-cached test file.

#include <cstdint>
#include <string>

namespace ringfile::bench {

std::uint64_t allocations() noexcept;

// A 256 MiB file of random bytes, created once (RINGFILE_BENCH_FILE, else
// ./ringfile-bench.dat or $TMPDIR/ringfile-bench.dat) and warmed into the page
// cache; throws if it can't be made.
const std::string& cached_file();
constexpr std::uint64_t kCachedFileSize = 256ull << 20;

}  // namespace ringfile::bench
