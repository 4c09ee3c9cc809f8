#pragma once

#include <cerrno>
#include <climits>
#include <string_view>

#include <sys/types.h>

#include "ringfile/engine.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

class EngineCore;

// Every path an op takes, before anything is queued: an embedded NUL would cut it
// short (EINVAL), and the kernel refuses PATH_MAX bytes or more.
inline int check_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return EINVAL;
  if (path.size() >= PATH_MAX) return ENAMETOOLONG;
  return 0;
}

// Path ops on the engine core rather than the Engine handle, for helpers that run
// several ops in a row: the core stays put when the Engine handle is moved.
OpHandle open_path(EngineCore& core, std::string_view path, int flags, mode_t mode, OpenCallback callback);
OpHandle rename_path(EngineCore& core, std::string_view from, std::string_view to, unsigned flags,
                     DoneCallback callback);
OpHandle unlink_path(EngineCore& core, std::string_view path, int flags, DoneCallback callback);

}  // namespace ringfile::detail
