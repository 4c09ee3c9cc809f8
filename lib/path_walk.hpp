#pragma once

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace ringfile::detail {

// openat2's resolve rules without openat2 (kernels before 5.6): opens `path`
// beneath `dirfd` one component at a time with O_NOFOLLOW|O_DIRECTORY, following
// relative symlinks itself. Under RESOLVE_BENEATH every `..` and every absolute
// path or symlink is refused with EXDEV (stricter than the kernel, which allows a
// `..` that stays inside); RESOLVE_NO_SYMLINKS refuses any symlink and
// RESOLVE_NO_MAGICLINKS any symlink in procfs with ELOOP; RESOLVE_NO_XDEV refuses
// a step onto another device with EXDEV. Blocking: run it on a pool worker.
// Returns the descriptor or -errno.
int walk_open(int dirfd, const std::string& path, int flags, mode_t mode, std::uint64_t resolve);

}  // namespace ringfile::detail
