#pragma once

#include <cerrno>

#include "core/file_state.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

// Lets the library's own code make a File and reach a File's engine.
struct FileAccess {
  static File make(FileState* state) noexcept { return File(state); }
  static FileState* state(const File& file) noexcept { return file.state_; }
  static EngineCore* core(const File& file) noexcept { return file.state_ ? file.state_->core : nullptr; }
};

// An op on a File with no engine behind it (default-constructed, moved-from, or
// its engine destroyed) cannot wait for a poll(): its callback runs at once, the
// one exception to "callbacks run inside poll()" (see file.hpp).
template <class Callback>
OpHandle fail_detached(Callback& callback) {
  if (callback) callback(errno_code(EBADF));
  return {};
}

}  // namespace ringfile::detail
