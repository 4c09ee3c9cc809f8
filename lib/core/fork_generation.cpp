#include "core/fork_generation.hpp"

#include <pthread.h>

namespace ringfile::detail {

std::atomic<std::uint64_t> fork_generation_count{0};

namespace {

// Registered when the library loads, before any engine exists.
[[maybe_unused]] const bool registered = [] {
  pthread_atfork(nullptr, nullptr, [] { fork_generation_count.fetch_add(1, std::memory_order_relaxed); });
  return true;
}();

}  // namespace

}  // namespace ringfile::detail
