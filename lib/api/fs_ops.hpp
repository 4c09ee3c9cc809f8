#pragma once

#include <string_view>

#include <sys/types.h>

#include "ringfile/engine.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

class EngineCore;

// Path ops on the engine core rather than the Engine handle, for helpers that run
// several ops in a row: the core stays put when the Engine handle is moved.
OpHandle open_path(EngineCore& core, std::string_view path, int flags, mode_t mode, OpenCallback callback);
OpHandle rename_path(EngineCore& core, std::string_view from, std::string_view to, unsigned flags,
                     DoneCallback callback);
OpHandle unlink_path(EngineCore& core, std::string_view path, int flags, DoneCallback callback);

}  // namespace ringfile::detail
