#pragma once

#include <cstddef>
#include <cstdint>

namespace ringfile::detail {

class EngineCore;
struct FileState;

// Sends up to `len` bytes of `file` at `offset` to `out_fd` on the owner thread
// when that cannot block: the bytes sent, 0 when out_fd is full (EAGAIN), or -1
// when this route does not apply or failed and the engine's route must send them.
std::int64_t send_cached(EngineCore& core, FileState* file, int out_fd, std::int64_t offset, std::size_t len);

}  // namespace ringfile::detail
