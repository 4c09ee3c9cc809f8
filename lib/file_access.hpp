#pragma once

#include "file_state.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

// Lets the library's own helpers (streams, temp files) reach a File's engine.
struct FileAccess {
  static FileState* state(const File& file) noexcept { return file.state_; }
  static EngineCore* core(const File& file) noexcept { return file.state_ ? file.state_->core : nullptr; }
};

}  // namespace ringfile::detail
