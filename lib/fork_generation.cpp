#include "fork_generation.hpp"

#include <atomic>

#include <pthread.h>

namespace ringfile::detail {

namespace {

std::atomic<std::uint64_t> generation{0};

// Registered when the library loads, before any engine exists.
const bool registered = [] {
  pthread_atfork(nullptr, nullptr, [] { generation.fetch_add(1, std::memory_order_relaxed); });
  return true;
}();

}  // namespace

std::uint64_t fork_generation() noexcept {
  (void)registered;
  return generation.load(std::memory_order_relaxed);
}

}  // namespace ringfile::detail
