#pragma once

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace ringfile::detail {

// openat2 without openat2 (kernels before 5.6, or a seccomp profile that refuses
// it): opens `path` from `dirfd` one component at a time, each step an openat of
// one name with O_NOFOLLOW, resolving symlinks itself under the RESOLVE_* rules
// and giving the errno openat2 gives, never opening what openat2 refuses. Magic
// links (/proc/PID/fd/N and the like) are followed by the kernel, and only where
// openat2 follows them. RESOLVE_CACHED is EAGAIN: try again without it.
// Blocking: run it on a pool worker. Returns the descriptor or -errno.
int walk_open(int dirfd, const std::string& path, int flags, mode_t mode, std::uint64_t resolve);

}  // namespace ringfile::detail
