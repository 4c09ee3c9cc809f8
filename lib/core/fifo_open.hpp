#pragma once

#include "ops/request.hpp"

namespace ringfile::detail {

// An open the ring finished as open(2) would not have, on a FIFO: io_uring opens
// without blocking first (O_NONBLOCK), IORING_OP_OPENAT and IORING_OP_OPENAT2
// alike, so a write open with no reader fails with ENXIO instead of waiting, and a
// read open with no writer succeeds at once, so the first read sees end of file.
// True when `r`, an open reaped from the ring, must go to the pool, whose poller
// waits for the partner without holding a worker: a write open as it was asked, a
// read open with the descriptor the ring gave (kept in r.fifo_placeholder, so data
// a writer leaves behind stays in the FIFO), returned once a writer is there.
bool open_waits_for_partner(Request& r);

}  // namespace ringfile::detail
