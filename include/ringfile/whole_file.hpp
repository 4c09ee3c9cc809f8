#pragma once

#include <string>
#include <string_view>

#include <sys/types.h>

#include "ringfile/detail/op_awaitable.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file.hpp"
#include "ringfile/fs.hpp"

namespace ringfile::fs {

// Whole-file helpers. Each is several ops in a row (open, stat, reads or writes,
// close...), so none has a single OpHandle; the callback runs once at the end, on
// the engine's thread, after the file has been closed. An error in any step is the
// result, never a partial count or a partial string: a helper that could not do
// all of it failed. An OpTimeout around the call gives each of its ops the timeout.

// The whole content of `path`. The size from statx sizes the first read; a file
// that grew since is read on to its end, one that shrank ends early, and files that
// report size 0 but have content (/proc, /sys) are read until end of file. Pipes,
// FIFOs and character devices are read as streams, in order, until end of file.
// Content past EngineOptions::max_read_file_size fails with EFBIG; memory that
// cannot be had fails with ENOMEM (both delivered to the callback).
RINGFILE_API void read_file(Engine& engine, std::string_view path, StringCallback callback);

// Creates or truncates `path` and writes `data` to it. Not durable and not atomic:
// a crash can leave any prefix; see write_file_atomic.
RINGFILE_API void write_file(Engine& engine, std::string_view path, std::string data, mode_t mode,
                             DoneCallback callback);
inline void write_file(Engine& engine, std::string_view path, std::string data, DoneCallback callback) {
  write_file(engine, path, std::move(data), 0666, std::move(callback));
}

// Replaces `path` with `data` so that after a crash it holds either the old or the
// new content, never a mix: writes a temporary file in the same directory
// (O_CREAT|O_EXCL, random name), fsyncs it, renames it over `path` and fsyncs the
// directory. On any error before the rename the temporary file is removed and
// `path` is untouched. The new file gets `mode` (less the umask), not the old one's.
RINGFILE_API void write_file_atomic(Engine& engine, std::string_view path, std::string data, mode_t mode,
                                    DoneCallback callback);
inline void write_file_atomic(Engine& engine, std::string_view path, std::string data, DoneCallback callback) {
  write_file_atomic(engine, path, std::move(data), 0666, std::move(callback));
}

// Copies `from` to `to` (created or truncated, with `from`'s permission bits less
// the umask) with File::copy_to: in the kernel where it can, else by reads and
// writes; files whose size lies (/proc, /sys) are copied to their end. The
// callback gets the bytes copied. EISDIR when `from` is a directory. EINVAL when
// `to` is `from` itself under any name (the same path, a hard link, a symlink to
// it), as cp's "are the same file": both are compared by device and inode before
// anything is truncated, and the file is left as it was. An error
// part-way (ENOSPC, EIO, ETIMEDOUT) is the result; `to` then holds part of the
// data.
RINGFILE_API void copy_file(Engine& engine, std::string_view from, std::string_view to, IoCallback callback);

// Awaitable forms. `data` is taken by value: it may be a temporary.
inline auto read_file(Engine& engine, std::string_view path) {
  return detail::make_awaitable<std::string>(
      [&engine, path](StringCallback cb) { read_file(engine, path, std::move(cb)); });
}
inline auto copy_file(Engine& engine, std::string_view from, std::string_view to) {
  return detail::make_awaitable<std::size_t>(
      [&engine, from, to](IoCallback cb) { copy_file(engine, from, to, std::move(cb)); });
}
inline auto write_file(Engine& engine, std::string_view path, std::string data, mode_t mode = 0666) {
  return detail::make_awaitable<void>([&engine, path, data = std::move(data), mode](DoneCallback cb) mutable {
    write_file(engine, path, std::move(data), mode, std::move(cb));
  });
}
inline auto write_file_atomic(Engine& engine, std::string_view path, std::string data, mode_t mode = 0666) {
  return detail::make_awaitable<void>([&engine, path, data = std::move(data), mode](DoneCallback cb) mutable {
    write_file_atomic(engine, path, std::move(data), mode, std::move(cb));
  });
}

}  // namespace ringfile::fs
