#pragma once

// Turning a request's res (>= 0 or -errno) into the public Result types: the one
// place that knows both. Each builder wraps a user callback into the request's
// Completion; an empty callback gives an empty Completion.

#include <linux/stat.h>

#include "request.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

class EngineCore;

// What File::stat and fs::stat ask statx for.
inline constexpr unsigned kStatMask = STATX_BASIC_STATS | STATX_BTIME
#ifdef STATX_DIOALIGN
                                      | STATX_DIOALIGN
#endif
    ;

inline std::error_code error_of(std::int64_t res) { return errno_code(static_cast<int>(-res)); }

FileStat to_file_stat(const struct statx& s) noexcept;

Completion io_completion(IoCallback callback);
Completion done_completion(DoneCallback callback);
// Reads the result from `request`'s statx buffer, which the completion runs before
// the request is reused.
Completion stat_completion(StatCallback callback, Request& request);
// The opened descriptor becomes a File of `core` (closed again if nobody takes it).
Completion open_completion(EngineCore& core, OpenCallback callback, int open_flags);

inline Completion completion_for(IoCallback&& cb, Request&) { return io_completion(std::move(cb)); }
inline Completion completion_for(DoneCallback&& cb, Request&) { return done_completion(std::move(cb)); }
inline Completion completion_for(StatCallback&& cb, Request& r) { return stat_completion(std::move(cb), r); }

}  // namespace ringfile::detail
