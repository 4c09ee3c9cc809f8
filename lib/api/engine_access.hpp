#pragma once

#include "core/engine_core.hpp"
#include "ringfile/engine.hpp"

namespace ringfile::detail {

// The library's own way from the public Engine handle to its core.
struct EngineAccess {
  static EngineCore& core(Engine& engine) noexcept { return *engine.core_; }
  // Null for a moved-from Engine.
  static EngineCore* core_if_any(Engine& engine) noexcept { return engine.core_.get(); }
};

}  // namespace ringfile::detail
