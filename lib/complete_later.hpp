#pragma once

#include "engine_core.hpp"

namespace ringfile::detail {

// Runs `callback` at the next poll()/wait()/run() on the owner thread, without the
// backend: for results known at once (a buffered line) that must still arrive the
// way every completion does, and so that a callback loop does not recurse.
inline void complete_later(EngineCore& core, RawCallback callback) {
  Request* r = core.make_request(Op::Nop);
  r->callback = std::move(callback);
  core.complete_now(r, 0);
}

}  // namespace ringfile::detail
