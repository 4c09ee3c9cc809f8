#pragma once

#include <cerrno>
#include <cstdint>

#include <unistd.h>

namespace ringfile::detail {

// Makes an eventfd readable (both engines' completion and wake-up signal).
inline void write_eventfd(int fd) noexcept {
  std::uint64_t one = 1;
  while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

// Resets a non-blocking eventfd; EAGAIN (already reset) is fine.
inline void drain_eventfd(int fd) noexcept {
  std::uint64_t value;
  while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

}  // namespace ringfile::detail
