#pragma once

#include <chrono>
#include <cstdint>

#include "ops/request.hpp"

namespace ringfile::detail {

// What a worker waits for instead of blocking on a peer: the pool's PeerPoller
// holds the request until `fd` is ready for `events` or `retry` has passed, then
// hands it back to a worker to run again.
struct PeerWait {
  int fd = -1;
  std::uint32_t events = 0;
  std::chrono::milliseconds retry{0};
};

// Runs a request on a worker the way run_blocking() does, except where that would
// wait on another party: an open of a FIFO without its partner, a stream read with
// nothing to read or a write with no room on a descriptor the caller opened
// blocking. Returns true with r.res set, or false with `wait` saying what to wait
// for before calling it again.
bool run_without_peer_wait(Request& r, PeerWait& wait);

}  // namespace ringfile::detail
