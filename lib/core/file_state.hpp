#pragma once

#include <cstddef>
#include <cstdint>

#include <fcntl.h>

#include "core/cache_residency.hpp"
#include "core/feature_state.hpp"

namespace ringfile::detail {

class EngineCore;
struct Request;


// Engine-side state of one open file, which the core consults to route its ops.
// A File handle points at it; the engine keeps it until the close completes. If
// the engine goes away first, the handle owns it and closes the descriptor itself.
struct FileState {
  EngineCore* core = nullptr;  // null once the engine is gone
  int fd = -1;
  int open_flags = 0;
  std::uint32_t in_flight = 0;   // ops submitted and not yet completed
  bool has_handle = true;        // a File refers to this state
  bool owns_fd = true;           // closing closes fd (File::adopt may borrow it)
  bool closing = false;          // close requested; new ops fail with EBADF
  Request* deferred_close = nullptr;  // waits for in_flight to reach 0
  std::size_t direct_alignment = 1;
  bool nowait_unsupported = false;    // RWF_NOWAIT refused; skip the fast path
  bool stream_only = false;           // pipe, FIFO, socket, tty: positional ops fail with ESPIPE
  CacheResidency residency;           // buffered reads: cold ones leave the owner thread
  int fixed_slot = -1;                // io_uring registered-file slot, or -1
  std::uint32_t refused_ops = 0;      // op_bit of each op the filesystem refused via io_uring
  FeatureSlots<FileFeature> features;

  FileState* prev = nullptr;  // the engine's list of live files
  FileState* next = nullptr;
};

// The feature's state of `file`, made on first use.
template <class State>
State& feature_state(FileState& file, FileFeature feature) {
  return state_in<State>(file.features, feature);
}
// Null while the feature has none.
template <class State>
const State* find_feature_state(const FileState& file, FileFeature feature) noexcept {
  return static_cast<const State*>(file.features[static_cast<std::size_t>(feature)].get());
}

// Reads of `file` go through the page cache: not O_DIRECT, not a stream.
inline bool reads_through_page_cache(const FileState& file) noexcept {
  return !(file.open_flags & O_DIRECT) && !file.stream_only;
}

}  // namespace ringfile::detail
