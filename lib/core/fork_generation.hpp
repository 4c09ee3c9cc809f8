#pragma once

#include <atomic>
#include <cstdint>

namespace ringfile::detail {

// Counts the fork()s this process descends from (a pthread_atfork child handler
// adds one). An engine remembers the count it was made under: a different count
// means it is being used in a forked child, where its ring, workers and eventfds
// are the parent's and must not be touched. Read on every call: inline.
extern std::atomic<std::uint64_t> fork_generation_count;

inline std::uint64_t fork_generation() noexcept { return fork_generation_count.load(std::memory_order_relaxed); }

}  // namespace ringfile::detail
