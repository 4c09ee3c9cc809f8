#pragma once

#include "core/file_state.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

// Lets the library's own code make a File and reach a File's engine.
struct FileAccess {
  static File make(FileState* state) noexcept { return File(state); }
  static FileState* state(const File& file) noexcept { return file.state_; }
  static EngineCore* core(const File& file) noexcept { return file.state_ ? file.state_->core : nullptr; }
};

}  // namespace ringfile::detail
