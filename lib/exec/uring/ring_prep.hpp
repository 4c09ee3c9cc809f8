#pragma once

#include <algorithm>
#include <cstddef>

#include <liburing.h>

#include "ops/request.hpp"

namespace ringfile::detail {

constexpr std::size_t kMaxTransfer = 0x7ffff000;  // MAX_RW_COUNT: the kernel never moves more at once

inline unsigned transfer_len(std::size_t len) noexcept {
  return static_cast<unsigned>(std::min(len, kMaxTransfer));
}

// Fills `sqe` for the op `a` describes. Only ops with an io_uring opcode reach
// the ring: the router sends the rest to the helper pool.
void prep_op(io_uring_sqe* sqe, const OpArgs& a);

}  // namespace ringfile::detail
