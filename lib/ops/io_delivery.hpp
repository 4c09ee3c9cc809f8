#pragma once

// How an op's res (bytes, or -errno) reaches a transfer's callback as a Result.
// Every carrier that ends a read or a write uses it: api's completions and the
// core's ring reads.

#include <cstdint>

#include "ringfile/file.hpp"

namespace ringfile::detail {

inline std::error_code error_of(std::int64_t res) { return errno_code(static_cast<int>(-res)); }

inline void deliver_io(IoCallback& cb, std::int64_t res) {
  if (res < 0) cb(error_of(res));
  else cb(static_cast<std::size_t>(res));
}

// The user's callback, moved once into the carrier.
struct IoDelivery {
  IoCallback cb;
  void operator()(std::int64_t res) { deliver_io(cb, res); }
};

}  // namespace ringfile::detail
