#include "ringfile/file.hpp"

#include <cassert>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <limits>

#include <fcntl.h>

#include "engine_core.hpp"
#include "file_state.hpp"

namespace ringfile {

using detail::EngineCore;
using detail::FileState;
using detail::Op;
using detail::Request;

namespace {

// An op on a File with no engine behind it (default-constructed, moved-from, or
// its engine destroyed) cannot wait for a poll(): its callback runs at once, the
// one exception to "callbacks run inside poll()" (see file.hpp).
template <class Callback>
OpHandle fail_detached(Callback& callback) {
  if (callback) callback(errno_code(EBADF));
  return {};
}

bool misaligned(std::uintptr_t value, std::size_t alignment) { return value % alignment != 0; }

// Checks an op's range the way the kernel would, before it is queued.
int check_range(std::int64_t offset, std::size_t length) {
  if (offset == kStreamOffset) return length > SSIZE_MAX ? EINVAL : 0;
  if (offset < 0) return EINVAL;
  if (length > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() - offset)) return EOVERFLOW;
  return 0;
}

// Like pread on a pipe: a position means nothing to a stream.
int check_position(const FileState& file, std::int64_t offset) {
  return offset != kStreamOffset && file.stream_only ? ESPIPE : 0;
}

int check_buffer(const FileState& file, const void* buffer, std::size_t length, std::int64_t offset) {
  if (int err = check_range(offset, length)) return err;
  if (int err = check_position(file, offset)) return err;
  if (!buffer && length > 0) return EFAULT;
  const std::size_t a = file.direct_alignment;
  if (a > 1 && (misaligned(reinterpret_cast<std::uintptr_t>(buffer), a) || misaligned(length, a) ||
                (offset != kStreamOffset && misaligned(static_cast<std::uint64_t>(offset), a)))) {
    return EINVAL;
  }
  return 0;
}

int check_vector(const FileState& file, const iovec* iov, int iovcnt, std::int64_t offset) {
  if (iovcnt < 0 || iovcnt > IOV_MAX) return EINVAL;
  if (!iov && iovcnt > 0) return EFAULT;
  std::size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len > SSIZE_MAX - total) return EINVAL;
    total += iov[i].iov_len;
    if (!iov[i].iov_base && iov[i].iov_len > 0) return EFAULT;
    const std::size_t a = file.direct_alignment;
    if (a > 1 && (misaligned(reinterpret_cast<std::uintptr_t>(iov[i].iov_base), a) || misaligned(iov[i].iov_len, a))) {
      return EINVAL;
    }
  }
  if (file.direct_alignment > 1 && offset != kStreamOffset &&
      misaligned(static_cast<std::uint64_t>(offset), file.direct_alignment)) {
    return EINVAL;
  }
  if (int err = check_range(offset, total)) return err;
  return check_position(file, offset);
}

// Shared front half of every file op: engine present, right thread, request built.
template <class Callback, class Fill>
OpHandle file_op(FileState* state, Op op, Callback&& callback, Fill&& fill) {
  if (!state || !state->core) return fail_detached(callback);
  EngineCore& core = *state->core;
  if (!core.on_owner_thread()) return core.reject_foreign(std::move(callback));
  Request* r = core.make_request(op);
  r->callback = std::move(callback);
  if (state->fd < 0 || state->closing) return core.fail(r, EBADF);
  if (int err = fill(*r)) return core.fail(r, err);
  return core.submit_file_op(state, r);
}

OpHandle transfer(FileState* state, Op op, void* buffer, std::size_t length, std::int64_t offset, bool exact,
                  unsigned index, IoCallback&& callback) {
  return file_op(state, op, std::move(callback), [&](Request& r) {
    if (int err = check_buffer(*state, buffer, length, offset)) return err;
    if ((op == Op::ReadFixed || op == Op::WriteFixed) && !state->core->covers_registered(index, buffer, length)) {
      return EFAULT;  // what io_uring says; the pool would not notice
    }
    r.buf = buffer;
    r.len = length;
    r.offset = offset;
    r.exact = exact;
    r.buf_index = index;
    return 0;
  });
}

OpHandle vector_transfer(FileState* state, Op op, const iovec* iov, int iovcnt, std::int64_t offset,
                         IoCallback&& callback) {
  return file_op(state, op, std::move(callback), [&](Request& r) {
    if (int err = check_vector(*state, iov, iovcnt, offset)) return err;
    r.iov = iov;
    r.iovcnt = iovcnt;
    r.offset = offset;
    return 0;
  });
}

}  // namespace

File::File(File&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

File::~File() { release(); }

void File::release() noexcept {
  FileState* state = std::exchange(state_, nullptr);
  if (!state) return;
  if (EngineCore* core = state->core) {
    if (core->on_owner_thread()) {
      core->drop_handle(state);
    } else if (core->in_forked_child()) {
      state->has_handle = false;  // the inherited engine's teardown here frees it
    } else {
      // The last shared_ptr<File> dropped on a worker: the engine's state is the
      // owner thread's alone, so the close is handed to it.
      core->post([core, state] { core->drop_handle(state); });
    }
    return;
  }
  // The engine is gone; this handle owns what is left.
  if (state->fd >= 0) detail::sys::close(state->fd);
  delete state;
}

OpHandle File::open(Engine& engine, std::string_view path, int flags, mode_t mode, OpenCallback callback) {
  if (!engine.core_if_any()) return fail_detached(callback);  // a moved-from Engine
  EngineCore& core = engine.core();
  if (!core.on_owner_thread()) return core.reject_foreign(std::move(callback));
  Request* r = core.make_request(Op::Open);
  r->callback = std::move(callback);
  if (path.find('\0') != std::string_view::npos) return core.fail(r, EINVAL);
  if (path.size() >= PATH_MAX) return core.fail(r, ENAMETOOLONG);
  r->path.assign(path);
  r->flags = flags | O_CLOEXEC;
  r->mode = static_cast<int>(mode);
  return core.submit(r);
}

Result<File> File::adopt(Engine& engine, int fd) {
  if (!engine.core_if_any()) return errno_code(EBADF);  // a moved-from Engine
  EngineCore& core = engine.core();
  if (!core.on_owner_thread()) return core.misuse();
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno_code(errno);
  return File(core.new_file(fd, flags));
}

bool File::seekable() const noexcept { return state_ && state_->fd >= 0 && !state_->stream_only; }
bool File::is_open() const noexcept { return state_ && state_->fd >= 0 && !state_->closing; }
int File::native_handle() const noexcept { return state_ ? state_->fd : -1; }
std::size_t File::direct_alignment() const noexcept { return state_ ? state_->direct_alignment : 1; }

OpHandle File::read(void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return transfer(state_, Op::Read, buffer, length, offset, false, 0, std::move(callback));
}

OpHandle File::write(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return transfer(state_, Op::Write, const_cast<void*>(buffer), length, offset, false, 0, std::move(callback));
}

OpHandle File::read_exact(void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return transfer(state_, Op::Read, buffer, length, offset, true, 0, std::move(callback));
}

OpHandle File::write_all(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return transfer(state_, Op::Write, const_cast<void*>(buffer), length, offset, true, 0, std::move(callback));
}

OpHandle File::readv(const iovec* iov, int iovcnt, std::int64_t offset, IoCallback callback) {
  return vector_transfer(state_, Op::Readv, iov, iovcnt, offset, std::move(callback));
}

OpHandle File::writev(const iovec* iov, int iovcnt, std::int64_t offset, IoCallback callback) {
  return vector_transfer(state_, Op::Writev, iov, iovcnt, offset, std::move(callback));
}

OpHandle File::read_fixed(void* buffer, std::size_t length, std::int64_t offset, unsigned index,
                          IoCallback callback) {
  return transfer(state_, Op::ReadFixed, buffer, length, offset, false, index, std::move(callback));
}

OpHandle File::write_fixed(const void* buffer, std::size_t length, std::int64_t offset, unsigned index,
                           IoCallback callback) {
  return transfer(state_, Op::WriteFixed, const_cast<void*>(buffer), length, offset, false, index,
                  std::move(callback));
}

OpHandle File::write_then_fsync(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback,
                                bool data_only) {
  if (!state_ || !state_->core) return fail_detached(callback);
  EngineCore& core = *state_->core;
  if (!core.on_owner_thread()) return core.reject_foreign(std::move(callback));
  Request* sync = core.make_request(data_only ? Op::Fdatasync : Op::Fsync);
  sync->callback = std::move(callback);
  if (state_->fd < 0 || state_->closing) return core.fail(sync, EBADF);
  if (int err = check_buffer(*state_, buffer, length, offset)) return core.fail(sync, err);
  Request* write = core.make_request(Op::Write);
  write->buf = const_cast<void*>(buffer);
  write->len = length;
  write->offset = offset;
  write->link_next = sync;
  sync->link_res_expected = length;
  return core.submit_chain(state_, write);
}

OpHandle File::fsync(DoneCallback callback) {
  return file_op(state_, Op::Fsync, std::move(callback), [](Request&) { return 0; });
}

OpHandle File::fdatasync(DoneCallback callback) {
  return file_op(state_, Op::Fdatasync, std::move(callback), [](Request&) { return 0; });
}

OpHandle File::stat(StatCallback callback) {
  return file_op(state_, Op::Statx, std::move(callback), [this](Request& r) {
    r.dirfd = state_->fd;  // statx(fd, "", AT_EMPTY_PATH)
    r.flags = AT_EMPTY_PATH;
    r.mode = static_cast<int>(STATX_BASIC_STATS | STATX_BTIME
#ifdef STATX_DIOALIGN
                              | STATX_DIOALIGN
#endif
    );
    return 0;
  });
}

OpHandle File::fallocate(int mode, std::int64_t offset, std::int64_t length, DoneCallback callback) {
  return file_op(state_, Op::Fallocate, std::move(callback), [&](Request& r) {
    if (offset < 0 || length <= 0) return EINVAL;
    if (length > std::numeric_limits<std::int64_t>::max() - offset) return EFBIG;
    r.mode = mode;
    r.offset = offset;
    r.len2 = length;
    return 0;
  });
}

OpHandle File::truncate(std::int64_t length, DoneCallback callback) {
  return file_op(state_, Op::Ftruncate, std::move(callback), [&](Request& r) {
    if (length < 0) return EINVAL;
    r.len2 = length;
    return 0;
  });
}

OpHandle File::advise(std::int64_t offset, std::int64_t length, int advice, DoneCallback callback) {
  return file_op(state_, Op::Call, std::move(callback), [&](Request& r) {
    if (offset < 0 || length < 0) return EINVAL;
    const int fd = state_->fd;
    r.work = [fd, offset, length, advice] { return std::int64_t{detail::sys::fadvise(fd, offset, length, advice)}; };
    return 0;
  });
}

OpHandle File::close(DoneCallback callback) {
  if (!state_ || !state_->core) return fail_detached(callback);
  EngineCore& core = *state_->core;
  if (!core.on_owner_thread()) return core.reject_foreign(std::move(callback));
  Request* r = core.make_request(Op::Close);
  r->callback = std::move(callback);
  if (state_->fd < 0 || state_->closing) return core.fail(r, EBADF);
  OpHandle handle{r, r->serial};
  core.close_file(state_, r);
  return handle;
}

void File::cancel_all() {
  if (state_ && state_->core && state_->core->on_owner_thread()) state_->core->cancel_file(state_);
}

}  // namespace ringfile
