#include "ringfile/op_timeout.hpp"

#include "api/engine_access.hpp"

namespace ringfile {

OpTimeout::OpTimeout(Engine& engine, std::chrono::nanoseconds timeout) noexcept
    : engine_(&engine), previous_(0) {
  detail::EngineCore* core = detail::EngineAccess::core_if_any(engine);
  if (!core || !core->on_owner_thread()) {
    engine_ = nullptr;  // another thread's engine: its ops are refused anyway
    return;
  }
  previous_ = core->op_timeout();
  core->set_op_timeout(timeout.count() > 0 ? timeout : std::chrono::nanoseconds(0));
}

OpTimeout::~OpTimeout() {
  if (!engine_) return;
  if (detail::EngineCore* core = detail::EngineAccess::core_if_any(*engine_)) core->set_op_timeout(previous_);
}

}  // namespace ringfile
