#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "ringfile/detail/inplace_function.hpp"
#include "ringfile/detail/op_awaitable.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file.hpp"
#include "ringfile/file_stat.hpp"
#include "ringfile/result.hpp"

namespace ringfile {

enum class FileType : std::uint8_t {
  Unknown,
  Regular,
  Directory,
  Symlink,
  BlockDevice,
  CharacterDevice,
  Fifo,
  Socket,
};

struct DirEntry {
  std::string name;
  FileType type = FileType::Unknown;
  std::uint64_t inode = 0;
};

// What statvfs(3) reports. Block counts are in units of fragment_size.
struct FsStats {
  std::uint64_t block_size = 0;     // preferred I/O size (f_bsize)
  std::uint64_t fragment_size = 0;  // unit of the block counts (f_frsize)
  std::uint64_t blocks = 0;
  std::uint64_t blocks_free = 0;       // free, including blocks reserved for root
  std::uint64_t blocks_available = 0;  // free for unprivileged users
  std::uint64_t files = 0;
  std::uint64_t files_free = 0;
  std::uint64_t files_available = 0;
  std::uint64_t fsid = 0;
  std::uint64_t flags = 0;  // ST_RDONLY, ST_NOSUID, ...
  std::uint64_t name_max = 0;

  std::uint64_t capacity_bytes() const noexcept { return blocks * fragment_size; }
  std::uint64_t available_bytes() const noexcept { return blocks_available * fragment_size; }
};

// renameat2(2) flags.
enum class RenameFlags : unsigned {
  None = 0,
  NoReplace = 1u << 0,  // RENAME_NOREPLACE: fail with EEXIST instead of replacing
  Exchange = 1u << 1,   // RENAME_EXCHANGE: swap the two paths atomically
};

using StringCallback = detail::InplaceFunction<void(Result<std::string>)>;
using DirectoryCallback = detail::InplaceFunction<void(Result<std::vector<DirEntry>>)>;
using BoolCallback = detail::InplaceFunction<void(Result<bool>)>;
using FsStatsCallback = detail::InplaceFunction<void(Result<FsStats>)>;

// Path operations, asynchronous like File's: each returns at once and its callback
// runs later on the engine's thread, inside poll()/wait()/run(), exactly once.
// Paths are copied when the call is made; relative paths resolve against the
// working directory. A path with an embedded NUL fails with EINVAL and one of
// PATH_MAX bytes or more with ENAMETOOLONG, before anything is submitted.
// Errors are the syscall's errno (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ...).
//
// Every op also has an awaitable form without the callback for coroutines
// (task.hpp): `auto st = co_await fs::stat(engine, path);`. Await them at once.
namespace fs {

// statx(2), following a final symlink (stat) or not (lstat).
RINGFILE_API OpHandle stat(Engine& engine, std::string_view path, StatCallback callback);
RINGFILE_API OpHandle lstat(Engine& engine, std::string_view path, StatCallback callback);

// renameat2(2).
RINGFILE_API OpHandle rename(Engine& engine, std::string_view from, std::string_view to, RenameFlags flags,
                             DoneCallback callback);
inline OpHandle rename(Engine& engine, std::string_view from, std::string_view to, DoneCallback callback) {
  return rename(engine, from, to, RenameFlags::None, std::move(callback));
}

// Removes a name that is not a directory (EISDIR for a directory).
RINGFILE_API OpHandle unlink(Engine& engine, std::string_view path, DoneCallback callback);
RINGFILE_API OpHandle mkdir(Engine& engine, std::string_view path, mode_t mode, DoneCallback callback);
inline OpHandle mkdir(Engine& engine, std::string_view path, DoneCallback callback) {
  return mkdir(engine, path, 0777, std::move(callback));
}
// Creates each missing directory of `path` in turn, like `mkdir -p`. Succeeds when
// `path` already is a directory; EEXIST when it is something else, ENOTDIR when a
// parent is not a directory. Several ops in a row: it has no single OpHandle.
RINGFILE_API void create_directories(Engine& engine, std::string_view path, mode_t mode, DoneCallback callback);
inline void create_directories(Engine& engine, std::string_view path, DoneCallback callback) {
  create_directories(engine, path, 0777, std::move(callback));
}
// Removes an empty directory (ENOTEMPTY otherwise, ENOTDIR for a non-directory).
RINGFILE_API OpHandle rmdir(Engine& engine, std::string_view path, DoneCallback callback);
// Hard link: `new_path` becomes another name of `existing`.
RINGFILE_API OpHandle link(Engine& engine, std::string_view existing, std::string_view new_path,
                           DoneCallback callback);
// Creates `link_path` as a symbolic link whose content is `target`.
RINGFILE_API OpHandle symlink(Engine& engine, std::string_view target, std::string_view link_path,
                              DoneCallback callback);
// The content of a symbolic link (EINVAL when `path` is not one).
RINGFILE_API OpHandle readlink(Engine& engine, std::string_view path, StringCallback callback);
// The entries of a directory, "." and ".." left out, in the order the filesystem
// returns them. Types come from the directory itself, or from statx when the
// filesystem does not record them.
RINGFILE_API OpHandle list_directory(Engine& engine, std::string_view path, DirectoryCallback callback);
// faccessat(2): mode is F_OK or a mix of R_OK, W_OK, X_OK.
RINGFILE_API OpHandle access(Engine& engine, std::string_view path, int mode, DoneCallback callback);
// Whether `path` names something, following symlinks (a dangling link does not
// exist). ENOENT and ENOTDIR mean false; other errors (EACCES, ...) are errors.
RINGFILE_API OpHandle exists(Engine& engine, std::string_view path, BoolCallback callback);
// statvfs(3) of the filesystem holding `path`.
RINGFILE_API OpHandle statvfs(Engine& engine, std::string_view path, FsStatsCallback callback);

// Extended attributes of the file at `path`, following a final symlink: File's
// get_xattr, set_xattr, list_xattr and remove_xattr (file.hpp says how each
// answers), by path.
RINGFILE_API OpHandle get_xattr(Engine& engine, std::string_view path, std::string_view name, void* buffer,
                                std::size_t size, IoCallback callback);
RINGFILE_API OpHandle set_xattr(Engine& engine, std::string_view path, std::string_view name, const void* value,
                                std::size_t size, int flags, DoneCallback callback);
RINGFILE_API OpHandle list_xattr(Engine& engine, std::string_view path, void* buffer, std::size_t size,
                                 IoCallback callback);
RINGFILE_API OpHandle remove_xattr(Engine& engine, std::string_view path, std::string_view name,
                                   DoneCallback callback);

// Awaitable forms.
inline auto stat(Engine& engine, std::string_view path) {
  return detail::make_awaitable<FileStat>([&engine, path](StatCallback cb) { stat(engine, path, std::move(cb)); });
}
inline auto lstat(Engine& engine, std::string_view path) {
  return detail::make_awaitable<FileStat>([&engine, path](StatCallback cb) { lstat(engine, path, std::move(cb)); });
}
inline auto rename(Engine& engine, std::string_view from, std::string_view to,
                   RenameFlags flags = RenameFlags::None) {
  return detail::make_awaitable<void>(
      [&engine, from, to, flags](DoneCallback cb) { rename(engine, from, to, flags, std::move(cb)); });
}
inline auto unlink(Engine& engine, std::string_view path) {
  return detail::make_awaitable<void>([&engine, path](DoneCallback cb) { unlink(engine, path, std::move(cb)); });
}
inline auto mkdir(Engine& engine, std::string_view path, mode_t mode = 0777) {
  return detail::make_awaitable<void>(
      [&engine, path, mode](DoneCallback cb) { mkdir(engine, path, mode, std::move(cb)); });
}
inline auto create_directories(Engine& engine, std::string_view path, mode_t mode = 0777) {
  return detail::make_awaitable<void>(
      [&engine, path, mode](DoneCallback cb) { create_directories(engine, path, mode, std::move(cb)); });
}
inline auto rmdir(Engine& engine, std::string_view path) {
  return detail::make_awaitable<void>([&engine, path](DoneCallback cb) { rmdir(engine, path, std::move(cb)); });
}
inline auto link(Engine& engine, std::string_view existing, std::string_view new_path) {
  return detail::make_awaitable<void>(
      [&engine, existing, new_path](DoneCallback cb) { link(engine, existing, new_path, std::move(cb)); });
}
inline auto symlink(Engine& engine, std::string_view target, std::string_view link_path) {
  return detail::make_awaitable<void>(
      [&engine, target, link_path](DoneCallback cb) { symlink(engine, target, link_path, std::move(cb)); });
}
inline auto readlink(Engine& engine, std::string_view path) {
  return detail::make_awaitable<std::string>(
      [&engine, path](StringCallback cb) { readlink(engine, path, std::move(cb)); });
}
inline auto list_directory(Engine& engine, std::string_view path) {
  return detail::make_awaitable<std::vector<DirEntry>>(
      [&engine, path](DirectoryCallback cb) { list_directory(engine, path, std::move(cb)); });
}
inline auto access(Engine& engine, std::string_view path, int mode) {
  return detail::make_awaitable<void>(
      [&engine, path, mode](DoneCallback cb) { access(engine, path, mode, std::move(cb)); });
}
inline auto exists(Engine& engine, std::string_view path) {
  return detail::make_awaitable<bool>([&engine, path](BoolCallback cb) { exists(engine, path, std::move(cb)); });
}
inline auto statvfs(Engine& engine, std::string_view path) {
  return detail::make_awaitable<FsStats>(
      [&engine, path](FsStatsCallback cb) { statvfs(engine, path, std::move(cb)); });
}

inline auto get_xattr(Engine& engine, std::string_view path, std::string_view name, void* buffer, std::size_t size) {
  return detail::make_awaitable<std::size_t>(
      [=, &engine](IoCallback cb) { get_xattr(engine, path, name, buffer, size, std::move(cb)); });
}
inline auto set_xattr(Engine& engine, std::string_view path, std::string_view name, const void* value,
                      std::size_t size, int flags = 0) {
  return detail::make_awaitable<void>(
      [=, &engine](DoneCallback cb) { set_xattr(engine, path, name, value, size, flags, std::move(cb)); });
}
inline auto list_xattr(Engine& engine, std::string_view path, void* buffer, std::size_t size) {
  return detail::make_awaitable<std::size_t>(
      [=, &engine](IoCallback cb) { list_xattr(engine, path, buffer, size, std::move(cb)); });
}
inline auto remove_xattr(Engine& engine, std::string_view path, std::string_view name) {
  return detail::make_awaitable<void>(
      [=, &engine](DoneCallback cb) { remove_xattr(engine, path, name, std::move(cb)); });
}

}  // namespace fs
}  // namespace ringfile
