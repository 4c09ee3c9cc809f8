#include "sys/random_name.hpp"

#include <cstdint>
#include <random>

#include <unistd.h>

namespace ringfile::detail {

std::string random_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  thread_local std::uint64_t counter = 0;
  // The pid keeps a forked child, which inherits the generator, off its parent's names.
  std::uint64_t v = rng() ^ (static_cast<std::uint64_t>(::getpid()) << 32) ^ ++counter;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(12, '0');
  for (auto& c : out) {
    c = kDigits[v & 15];
    v >>= 4;
  }
  return out;
}

}  // namespace ringfile::detail
