#pragma once

// Turning a request's res (>= 0 or -errno) into the public Result types: the one
// place that knows both. Each builder wraps a user callback into the request's
// Completion; an empty callback gives an empty Completion.

#include <linux/stat.h>

#include "ops/io_delivery.hpp"
#include "ops/request.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

class EngineCore;

// What File::stat and fs::stat ask statx for.
inline constexpr unsigned kStatMask = STATX_BASIC_STATS | STATX_BTIME
#ifdef STATX_DIOALIGN
                                      | STATX_DIOALIGN
#endif
    ;

FileStat to_file_stat(const struct statx& s) noexcept;

struct DoneDelivery {
  DoneCallback cb;
  void operator()(std::int64_t res) {
    if (res < 0) cb(error_of(res));
    else cb(Result<void>{});
  }
};

// An empty callback leaves the completion empty.
inline void set_completion(Request& r, IoCallback&& cb) {
  if (cb) r.completion.emplace<IoDelivery>(std::move(cb));
}
inline void set_completion(Request& r, DoneCallback&& cb) {
  if (cb) r.completion.emplace<DoneDelivery>(std::move(cb));
}
// Points the request's args at its statx buffer, read when the completion runs.
void set_completion(Request& r, StatCallback&& cb);
// The opened descriptor becomes a File of `core` (closed again if nobody takes it).
void set_open_completion(Request& r, EngineCore& core, OpenCallback&& cb, int open_flags);

}  // namespace ringfile::detail
