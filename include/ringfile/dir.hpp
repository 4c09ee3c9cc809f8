#pragma once

#include <cstdint>
#include <string_view>

#include <sys/types.h>

#include "ringfile/detail/inplace_function.hpp"
#include "ringfile/detail/op_awaitable.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file.hpp"
#include "ringfile/result.hpp"

namespace ringfile {

// How open_at may resolve a path: openat2(2)'s RESOLVE_* flags, combined with |.
enum class Resolve : std::uint64_t {
  None = 0,
  NoXdev = 0x01,        // RESOLVE_NO_XDEV: never cross a mount point (EXDEV)
  NoMagicLinks = 0x02,  // RESOLVE_NO_MAGICLINKS: no /proc/self/root-style links (ELOOP)
  NoSymlinks = 0x04,    // RESOLVE_NO_SYMLINKS: no symlinks at all (ELOOP)
  Beneath = 0x08,       // RESOLVE_BENEATH: never leave the directory (EXDEV)
  InRoot = 0x10,        // RESOLVE_IN_ROOT: the directory is "/" for the path and its symlinks
};
constexpr Resolve operator|(Resolve a, Resolve b) noexcept {
  return static_cast<Resolve>(static_cast<std::uint64_t>(a) | static_cast<std::uint64_t>(b));
}
constexpr bool has(Resolve set, Resolve flag) noexcept {
  return (static_cast<std::uint64_t>(set) & static_cast<std::uint64_t>(flag)) != 0;
}

class Dir;
using DirCallback = detail::InplaceFunction<void(Result<Dir>)>;

// An open directory bound to an Engine, to open paths beneath it with open_at: a
// static file server's root, which client-supplied paths must never leave.
class RINGFILE_API Dir {
 public:
  Dir() noexcept = default;

  // Opens `path` (O_RDONLY|O_DIRECTORY) through the engine; ENOTDIR when it is not one.
  static OpHandle open(Engine& engine, std::string_view path, DirCallback callback);
  static auto open(Engine& engine, std::string_view path) {
    return detail::make_awaitable<Dir>([&engine, path](DirCallback cb) { open(engine, path, std::move(cb)); });
  }
  // Wraps an open directory descriptor; EINVAL when it is not a directory or fd is
  // negative, EBADF when it is not open.
  static Result<Dir> adopt(Engine& engine, int fd, File::Ownership ownership = File::Ownership::Owned);

  bool is_open() const noexcept { return file_.is_open(); }
  int native_handle() const noexcept { return file_.native_handle(); }
  OpHandle close(DoneCallback callback = {}) { return file_.close(std::move(callback)); }
  // The directory as a File (fsync it after creating or renaming entries).
  File& file() noexcept { return file_; }

 private:
  explicit Dir(File file) noexcept : file_(std::move(file)) {}
  File file_;
};

// Opens `relative_path` beneath `dir` with open(2)'s flags and mode, resolved
// under `resolve`: IORING_OP_OPENAT2 on io_uring, openat2(2) on the pool. An
// escape fails with the kernel's errno: EXDEV for `..` past the directory, an
// absolute path, or a symlink leading out under Resolve::Beneath; ELOOP for a
// symlink under NoSymlinks or a magic link under NoMagicLinks. Where the kernel
// lacks openat2 (ENOSYS: before Linux 5.6, or refused by a seccomp profile), the
// path is walked one component at a time with the same answers. EINVAL for an empty path,
// EBADF when `dir` is not open. The Dir must stay open until the callback runs.
// A FIFO's open waits for its partner as open(2) does, on both engines, and an
// OpTimeout ends that wait with ETIMEDOUT.
RINGFILE_API OpHandle open_at(Dir& dir, std::string_view relative_path, int flags, mode_t mode, Resolve resolve,
                              OpenCallback callback);
inline auto open_at(Dir& dir, std::string_view relative_path, int flags, mode_t mode, Resolve resolve) {
  return detail::make_awaitable<File>([&dir, relative_path, flags, mode, resolve](OpenCallback cb) {
    open_at(dir, relative_path, flags, mode, resolve, std::move(cb));
  });
}

}  // namespace ringfile
