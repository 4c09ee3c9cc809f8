#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <sys/types.h>
#include <sys/uio.h>

#include "ringfile/detail/inplace_function.hpp"
#include "ringfile/detail/op_awaitable.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file_stat.hpp"
#include "ringfile/result.hpp"

namespace ringfile {

namespace detail {
struct FileState;
struct FileAccess;
}

class File;

// Read or write at the file's current position (pipes, FIFOs, character devices).
inline constexpr std::int64_t kStreamOffset = -1;
// A length for copy_to: up to the end of the file as it is while copying.
inline constexpr std::size_t kToEnd = static_cast<std::size_t>(-1);

using IoCallback = detail::InplaceFunction<void(Result<std::size_t>)>;
using DoneCallback = detail::InplaceFunction<void(Result<void>)>;
using OpenCallback = detail::InplaceFunction<void(Result<File>)>;
using StatCallback = detail::InplaceFunction<void(Result<FileStat>)>;

// An open file bound to an Engine. Every op is asynchronous: it returns at once and
// its callback runs later on the engine's thread, inside poll()/wait()/run(),
// exactly once, also when the op fails, is cancelled or the engine shuts down.
// One exception: a File with no engine behind it (default-constructed, moved-from,
// or outliving its engine) fails each op with EBADF at once, inside the call.
//
// Buffers and iovec arrays passed to an op must stay valid and untouched until its
// callback has run. Offsets are byte positions (like pread); kStreamOffset (-1)
// means the file's current position, for pipes, FIFOs and other streams. Any other
// negative offset fails with EINVAL, one whose end overflows off_t with EOVERFLOW. read/write return partial counts
// as-is; read_exact/write_all continue until done, end of file or an error.
//
// Closing waits for the file's in-flight ops. A File destroyed while open is
// closed in the background; it may be destroyed on any thread while its engine
// lives (the close is posted to the engine's thread). Ops on a closed File fail
// with EBADF at the next poll(). Ops on a File with no engine (default-constructed,
// moved-from, or outliving its engine) have nothing to deliver through: their
// callback runs at once, inside the call, with EBADF; this is the one exception.
//
// Files opened with O_DIRECT check buffer address, offset and length against the
// filesystem's alignment (statx STATX_DIOALIGN, else the logical block size, else
// 4096) before submission and fail with EINVAL when misaligned.
class RINGFILE_API File {
 public:
  File() noexcept = default;
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  static OpHandle open(Engine& engine, std::string_view path, int flags, mode_t mode,
                       OpenCallback callback);
  static OpHandle open(Engine& engine, std::string_view path, int flags, OpenCallback callback) {
    return open(engine, path, flags, 0644, std::move(callback));
  }

  // Wraps an already open descriptor (a socket, a pipe, a memfd, stdin, a file
  // opened by other code) so every op works on it. With Ownership::Owned closing
  // the File closes the descriptor; with Ownership::Borrowed the File only stops
  // using it and the caller closes it (after the File's close has completed). Its
  // open flags come from fcntl(F_GETFL). EINVAL for a negative fd, EBADF when fd is
  // not open, EPERM off the engine's thread.
  enum class Ownership : std::uint8_t { Owned, Borrowed };
  static Result<File> adopt(Engine& engine, int fd, Ownership ownership = Ownership::Owned);

  bool is_open() const noexcept;
  // False for pipes, FIFOs, sockets and terminals: they take only kStreamOffset,
  // and a positional op on them fails with ESPIPE, as pread does.
  bool seekable() const noexcept;
  // The kernel descriptor, or -1. Valid until the close completes.
  int native_handle() const noexcept;
  // Required O_DIRECT alignment of buffers, offsets and lengths; 1 if not O_DIRECT.
  std::size_t direct_alignment() const noexcept;

  OpHandle read(void* buffer, std::size_t length, std::int64_t offset, IoCallback callback);
  OpHandle write(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback);
  OpHandle read_exact(void* buffer, std::size_t length, std::int64_t offset, IoCallback callback);
  OpHandle write_all(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback);
  OpHandle readv(const iovec* iov, int iovcnt, std::int64_t offset, IoCallback callback);
  OpHandle writev(const iovec* iov, int iovcnt, std::int64_t offset, IoCallback callback);
  // Buffers registered with Engine::register_buffers; index names the buffer.
  OpHandle read_fixed(void* buffer, std::size_t length, std::int64_t offset, unsigned index,
                      IoCallback callback);
  OpHandle write_fixed(const void* buffer, std::size_t length, std::int64_t offset, unsigned index,
                       IoCallback callback);

  // fsync covers the writes that completed before it was submitted.
  OpHandle fsync(DoneCallback callback);
  // A durable write: the data, then fsync (fdatasync when data_only), linked so the
  // sync starts only once the write has moved every byte (IOSQE_IO_LINK on io_uring,
  // in order on one worker on the pool). The result is the byte count written; a
  // count below `length` means the write was short and the sync did not run, and an
  // error is the write's or the sync's errno.
  OpHandle write_then_fsync(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback,
                            bool data_only = false);
  OpHandle fdatasync(DoneCallback callback);
  // A durable write with group commit: the whole buffer is written (like
  // write_all), and the callback runs only once an fdatasync that started after
  // the write completed has finished. Durable writes on one file that complete
  // while a sync runs share the next sync, so N concurrent writes cost far fewer
  // than N syncs. A failed sync fails every write it covered with its errno.
  // Under an OpTimeout write and sync together have that long: ETIMEDOUT after
  // the write means written but not known durable. The handle
  // cancels the write; cancel_all() also ends the wait for the sync (ECANCELED).
  OpHandle write_durable(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback);
  OpHandle stat(StatCallback callback);
  OpHandle fallocate(int mode, std::int64_t offset, std::int64_t length, DoneCallback callback);
  OpHandle truncate(std::int64_t length, DoneCallback callback);
  // An access-pattern hint for a byte range (POSIX_FADV_WILLNEED to start readahead,
  // POSIX_FADV_DONTNEED to drop cached pages, ...); length 0 means to the end.
  OpHandle advise(std::int64_t offset, std::int64_t length, int advice, DoneCallback callback);

  // Extended attributes (xattr(7)): metadata a filesystem keeps beside the data,
  // such as "user.checksum". get_xattr copies attribute `name`'s value into
  // `buffer` and gives its length; with size 0 it gives the length alone, to size
  // a buffer. list_xattr gives the names the same way, each ending in a NUL.
  // set_xattr's flags: 0 (create or replace), XATTR_CREATE (EEXIST if it exists)
  // or XATTR_REPLACE (ENODATA if it does not). Errors, as the kernel gives them:
  // ENODATA (no such attribute), ERANGE (the buffer is too small, or a name is
  // empty or over 255 bytes), E2BIG (a value over 64 KiB), ENOTSUP (the
  // filesystem keeps none, or none in that namespace), EPERM and EACCES; a name
  // with an embedded NUL is EINVAL. fs:: has the same four by path.
  OpHandle get_xattr(std::string_view name, void* buffer, std::size_t size, IoCallback callback);
  OpHandle set_xattr(std::string_view name, const void* value, std::size_t size, int flags, DoneCallback callback);
  OpHandle list_xattr(void* buffer, std::size_t size, IoCallback callback);
  OpHandle remove_xattr(std::string_view name, DoneCallback callback);

  // Copies `length` bytes (kToEnd: to the end of file seen while copying, so a
  // file that grows meanwhile is copied up to where reading found its end) from
  // this file at `offset` to `dest` at `dest_offset`, in the kernel where it can:
  // copy_file_range(2). Where the kernel refuses the pair (EXDEV, EOPNOTSUPP,
  // EINVAL, ENOSYS) or copies nothing before the end (/proc and /sys report size
  // 0), it goes on with reads and writes through the engine, and remembers that
  // for the pair. The callback gets the bytes copied, which is `length` unless end
  // of file came first. An error ends the copy and the callback gets that error
  // even after some bytes were copied (unlike read and write, which give the
  // count): ENOSPC half-way is a failed copy, not a shorter one. The destination
  // then holds an unknown part of the range. Several ops in a row: no OpHandle.
  // Both Files must stay open until the callback runs. EINVAL for a negative
  // offset or a length above SSIZE_MAX other than kToEnd (a negative length cast
  // to size_t), EBADF when either File is not open, EXDEV for Files of two engines.
  // A pipe, FIFO or socket on either side is read or written in order at its
  // stream position (its offset argument is ignored) until end of file or
  // `length`: copy_file_range refuses them, so the copy is by reads and writes.
  // Within one file (the same File, or two on one inode: a hard link, a second
  // open) the copy behaves as memmove: overlapping ranges in either direction end
  // with the destination holding the source range as it was before the copy
  // (copied by reads and writes, from the end backwards when the destination lies
  // after the source), and the range stops at the end the file had when the copy
  // started, kToEnd too, though the copy may move the end. Finding out costs two
  // stat ops, made only when the offsets differ and the ranges could overlap.
  void copy_to(File& dest, std::int64_t offset, std::int64_t dest_offset, std::size_t length, IoCallback callback);

  // Sends `length` bytes of this file from `offset` to `out_fd` (a socket, a pipe,
  // any descriptor) without copying them through user space: IORING_OP_SPLICE
  // file -> pipe -> out_fd through a pipe the engine keeps on io_uring,
  // sendfile(2) on the pool. The callback runs when every byte is sent or at end
  // of file, with the bytes sent, or with the error that stopped the transfer
  // (even after some bytes went: a short count always means end of file). A
  // socket or pipe that fills up is waited on inside the engine (POLLOUT) without
  // holding a worker, blocking or not: a blocking socket is sent at most the room
  // POLLOUT found, a blocking pipe through a non-blocking descriptor of the
  // engine's own. A peer that closes gives EPIPE or ECONNRESET, never SIGPIPE.
  // Under an OpTimeout every step has the deadline, each wait for room included.
  // Cached data to an O_NONBLOCK out_fd is sent with sendfile(2) on the calling
  // thread when cachestat(2) says the first chunk (up to 1 MiB) is in the page
  // cache: no hand-off (EngineStats::fast_path_sends); what the socket did not
  // take goes on through the engine, and the callback still runs inside
  // poll()/wait()/run(). Several ops in a row: no OpHandle. The File and out_fd must stay open until
  // the callback runs. EINVAL for out_fd < 0, a negative offset, or a length
  // above SSIZE_MAX (a negative length cast to size_t).
  void send_to(int out_fd, std::int64_t offset, std::size_t length, IoCallback callback);

  // Waits for the file's in-flight ops, then closes the descriptor.
  OpHandle close(DoneCallback callback = {});
  // Cancels every op of this file that is queued or in flight.
  void cancel_all();

  // Awaitable forms for coroutines (see task.hpp): the same ops without the
  // callback; `co_await file.read(buf, n, off)` gives the Result the callback would
  // get. The op starts when the coroutine suspends and resumes it on the engine's
  // thread. Await them at once; the File must outlive the op.
  static auto open(Engine& engine, std::string_view path, int flags, mode_t mode = 0644) {
    return detail::make_awaitable<File>([&engine, path, flags, mode](OpenCallback cb) {
      open(engine, path, flags, mode, std::move(cb));
    });
  }
  auto read(void* buffer, std::size_t length, std::int64_t offset) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { read(buffer, length, offset, std::move(cb)); });
  }
  auto write(const void* buffer, std::size_t length, std::int64_t offset) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { write(buffer, length, offset, std::move(cb)); });
  }
  auto read_exact(void* buffer, std::size_t length, std::int64_t offset) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { read_exact(buffer, length, offset, std::move(cb)); });
  }
  auto write_all(const void* buffer, std::size_t length, std::int64_t offset) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { write_all(buffer, length, offset, std::move(cb)); });
  }
  auto readv(const iovec* iov, int iovcnt, std::int64_t offset) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { readv(iov, iovcnt, offset, std::move(cb)); });
  }
  auto writev(const iovec* iov, int iovcnt, std::int64_t offset) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { writev(iov, iovcnt, offset, std::move(cb)); });
  }
  auto read_fixed(void* buffer, std::size_t length, std::int64_t offset, unsigned index) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { read_fixed(buffer, length, offset, index, std::move(cb)); });
  }
  auto write_fixed(const void* buffer, std::size_t length, std::int64_t offset, unsigned index) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { write_fixed(buffer, length, offset, index, std::move(cb)); });
  }
  auto write_then_fsync(const void* buffer, std::size_t length, std::int64_t offset, bool data_only = false) {
    return detail::make_awaitable<std::size_t>([=, this](IoCallback cb) {
      write_then_fsync(buffer, length, offset, std::move(cb), data_only);
    });
  }
  auto write_durable(const void* buffer, std::size_t length, std::int64_t offset) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { write_durable(buffer, length, offset, std::move(cb)); });
  }
  auto copy_to(File& dest, std::int64_t offset, std::int64_t dest_offset, std::size_t length) {
    return detail::make_awaitable<std::size_t>([=, this, &dest](IoCallback cb) {
      copy_to(dest, offset, dest_offset, length, std::move(cb));
    });
  }
  auto send_to(int out_fd, std::int64_t offset, std::size_t length) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { send_to(out_fd, offset, length, std::move(cb)); });
  }
  auto advise(std::int64_t offset, std::int64_t length, int advice) {
    return detail::make_awaitable<void>(
        [=, this](DoneCallback cb) { advise(offset, length, advice, std::move(cb)); });
  }
  auto fsync() {
    return detail::make_awaitable<void>([this](DoneCallback cb) { fsync(std::move(cb)); });
  }
  auto fdatasync() {
    return detail::make_awaitable<void>([this](DoneCallback cb) { fdatasync(std::move(cb)); });
  }
  auto stat() {
    return detail::make_awaitable<FileStat>([this](StatCallback cb) { stat(std::move(cb)); });
  }
  auto fallocate(int mode, std::int64_t offset, std::int64_t length) {
    return detail::make_awaitable<void>(
        [=, this](DoneCallback cb) { fallocate(mode, offset, length, std::move(cb)); });
  }
  auto truncate(std::int64_t length) {
    return detail::make_awaitable<void>([=, this](DoneCallback cb) { truncate(length, std::move(cb)); });
  }
  auto get_xattr(std::string_view name, void* buffer, std::size_t size) {
    return detail::make_awaitable<std::size_t>(
        [=, this](IoCallback cb) { get_xattr(name, buffer, size, std::move(cb)); });
  }
  auto set_xattr(std::string_view name, const void* value, std::size_t size, int flags = 0) {
    return detail::make_awaitable<void>(
        [=, this](DoneCallback cb) { set_xattr(name, value, size, flags, std::move(cb)); });
  }
  auto list_xattr(void* buffer, std::size_t size) {
    return detail::make_awaitable<std::size_t>([=, this](IoCallback cb) { list_xattr(buffer, size, std::move(cb)); });
  }
  auto remove_xattr(std::string_view name) {
    return detail::make_awaitable<void>([=, this](DoneCallback cb) { remove_xattr(name, std::move(cb)); });
  }
  // close() without a callback already means "close in the background".
  auto async_close() {
    return detail::make_awaitable<void>([this](DoneCallback cb) { close(std::move(cb)); });
  }

 private:
  friend struct detail::FileAccess;
  explicit File(detail::FileState* state) noexcept : state_(state) {}
  void release() noexcept;

  detail::FileState* state_ = nullptr;
};

}  // namespace ringfile
