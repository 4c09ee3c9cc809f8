#pragma once

#include "core/engine_core.hpp"

namespace ringfile::detail {

// Runs `completion` at the next poll()/wait()/run() on the owner thread, without an
// executor: for results known at once (a buffered line) that must still arrive the
// way every completion does, and so that a callback loop does not recurse.
template <class F>
void complete_later(EngineCore& core, F&& completion) {
  Request* r = core.make_request(OpArgs::nop());
  r->completion.set(std::forward<F>(completion));
  core.complete_now(r, 0);
}

}  // namespace ringfile::detail
