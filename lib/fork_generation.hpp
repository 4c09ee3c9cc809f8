#pragma once

#include <cstdint>

namespace ringfile::detail {

// Counts the fork()s this process descends from (a pthread_atfork child handler
// adds one). An engine remembers the count it was made under: a different count
// means it is being used in a forked child, where its ring, workers and eventfds
// are the parent's and must not be touched.
std::uint64_t fork_generation() noexcept;

}  // namespace ringfile::detail
