#include "ringfile/file.hpp"

#include <cassert>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <limits>

#include <fcntl.h>

#include "api/completion.hpp"
#include "api/engine_access.hpp"
#include "api/file_access.hpp"
#include "api/fs_ops.hpp"
#include "compound/group_commit.hpp"
#include "core/file_state.hpp"

namespace ringfile {

using detail::EngineCore;
using detail::fail_detached;
using detail::FileState;
using detail::OpArgs;
using detail::Request;

namespace {

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

// Shared front half of every file op: engine present, right thread, request
// built with its completion. `fill` checks the arguments (returning an errno to
// fail with) and adds what OpArgs can't carry.
template <class Callback, class Fill>
OpHandle start_file_op(EngineCore& core, FileState* state, const OpArgs& args, Callback&& callback, Fill&& fill) {
  Request* r = core.make_request(args);
  detail::set_completion(*r, std::move(callback));
  if (state->fd < 0 || state->closing) return core.fail(r, EBADF);
  if (int err = fill(*r)) return core.fail(r, err);
  return core.submit_file_op(state, r);
}

template <class Callback, class Fill>
OpHandle file_op(FileState* state, const OpArgs& args, Callback&& callback, Fill&& fill) {
  if (!state || !state->core) return fail_detached(callback);
  EngineCore& core = *state->core;
  if (core.rejects_foreign(callback)) return {};
  return start_file_op(core, state, args, std::move(callback), std::forward<Fill>(fill));
}

OpHandle transfer(FileState* state, const OpArgs& args, bool exact, IoCallback&& callback,
                  std::int64_t tried = EngineCore::kNotTried) {
  if (!state || !state->core) return fail_detached(callback);
  EngineCore& core = *state->core;
  if (core.rejects_foreign(callback)) return {};
  const int invalid = check_buffer(*state, args.buf, args.len, args.offset);
  return start_file_op(core, state, args, std::move(callback), [&](Request& r) {
    r.exact = exact;
    if (invalid) return invalid;
    const bool fixed = args.op == detail::Op::ReadFixed || args.op == detail::Op::WriteFixed;
    if (fixed && !state->core->covers_registered(args.buf_index, args.buf, args.len)) {
      return EFAULT;  // what io_uring says; the pool would not notice
    }
    if (tried != EngineCore::kNotTried) core.after_nowait_read(&r, state, tried);
    return 0;
  });
}

int fd_of(const FileState* state) { return state ? state->fd : -1; }

[[gnu::noinline]] OpHandle read_with_request(FileState* state, void* buffer, std::size_t length,
                                             std::int64_t offset, bool exact, IoCallback&& callback,
                                             std::int64_t tried) {
  return transfer(state, OpArgs::read(fd_of(state), buffer, length, offset), exact, std::move(callback), tried);
}

// A read first tries the routes that need no request, before its OpArgs are built.
OpHandle read_transfer(FileState* state, void* buffer, std::size_t length, std::int64_t offset, bool exact,
                       IoCallback&& callback) {
  std::int64_t tried = EngineCore::kNotTried;
  if (state && state->core && state->core->on_owner_thread() && check_buffer(*state, buffer, length, offset) == 0) {
    OpHandle started = state->core->read_without_request(state, buffer, length, offset, exact, callback, tried);
    if (started) return started;
  }
  return read_with_request(state, buffer, length, offset, exact, std::move(callback), tried);
}

OpHandle vector_transfer(FileState* state, const OpArgs& args, IoCallback&& callback) {
  return file_op(state, args, std::move(callback),
                 [&](Request&) { return check_vector(*state, args.iov, args.iovcnt, args.offset); });
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
  if (state->fd >= 0 && state->owns_fd) detail::sys::close(state->fd);
  delete state;
}

OpHandle File::open(Engine& engine, std::string_view path, int flags, mode_t mode, OpenCallback callback) {
  EngineCore* core = detail::EngineAccess::core_if_any(engine);
  if (!core) return fail_detached(callback);  // a moved-from Engine
  return detail::open_path(*core, path, flags, mode, std::move(callback));
}

Result<File> File::adopt(Engine& engine, int fd, Ownership ownership) {
  EngineCore* any = detail::EngineAccess::core_if_any(engine);
  if (!any) return errno_code(EBADF);  // a moved-from Engine
  EngineCore& core = *any;
  if (!core.on_owner_thread()) return core.misuse();
  if (fd < 0) return errno_code(EINVAL);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno_code(errno);
  FileState* state = core.new_file(fd, flags);
  state->owns_fd = ownership == Ownership::Owned;
  return File(state);
}

bool File::seekable() const noexcept { return state_ && state_->fd >= 0 && !state_->stream_only; }
bool File::is_open() const noexcept { return state_ && state_->fd >= 0 && !state_->closing; }
int File::native_handle() const noexcept { return fd_of(state_); }
std::size_t File::direct_alignment() const noexcept { return state_ ? state_->direct_alignment : 1; }

OpHandle File::read(void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return read_transfer(state_, buffer, length, offset, false, std::move(callback));
}

OpHandle File::write(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return transfer(state_, OpArgs::write(fd_of(state_), buffer, length, offset), false, std::move(callback));
}

OpHandle File::read_exact(void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return read_transfer(state_, buffer, length, offset, true, std::move(callback));
}

OpHandle File::write_all(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  return transfer(state_, OpArgs::write(fd_of(state_), buffer, length, offset), true, std::move(callback));
}

OpHandle File::readv(const iovec* iov, int iovcnt, std::int64_t offset, IoCallback callback) {
  return vector_transfer(state_, OpArgs::readv(fd_of(state_), iov, iovcnt, offset), std::move(callback));
}

OpHandle File::writev(const iovec* iov, int iovcnt, std::int64_t offset, IoCallback callback) {
  return vector_transfer(state_, OpArgs::writev(fd_of(state_), iov, iovcnt, offset), std::move(callback));
}

OpHandle File::read_fixed(void* buffer, std::size_t length, std::int64_t offset, unsigned index,
                          IoCallback callback) {
  return transfer(state_, OpArgs::read_fixed(fd_of(state_), buffer, length, offset, index), false,
                  std::move(callback));
}

OpHandle File::write_fixed(const void* buffer, std::size_t length, std::int64_t offset, unsigned index,
                           IoCallback callback) {
  return transfer(state_, OpArgs::write_fixed(fd_of(state_), buffer, length, offset, index), false,
                  std::move(callback));
}

OpHandle File::write_then_fsync(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback,
                                bool data_only) {
  if (!state_ || !state_->core) return fail_detached(callback);
  EngineCore& core = *state_->core;
  if (core.rejects_foreign(callback)) return {};
  Request* sync = core.make_request(OpArgs::fsync(state_->fd, data_only));
  detail::set_completion(*sync, std::move(callback));
  if (state_->fd < 0 || state_->closing) return core.fail(sync, EBADF);
  if (int err = check_buffer(*state_, buffer, length, offset)) return core.fail(sync, err);
  Request* write = core.make_request(OpArgs::write(state_->fd, buffer, length, offset));
  write->link_next = sync;
  sync->link_res_expected = length;
  return core.submit_chain(state_, write);
}

OpHandle File::write_durable(const void* buffer, std::size_t length, std::int64_t offset, IoCallback callback) {
  if (!state_ || !state_->core) return fail_detached(callback);
  EngineCore& core = *state_->core;
  if (core.rejects_foreign(callback)) return {};
  Request* r = core.make_request(OpArgs::write(state_->fd, buffer, length, offset));
  int err = state_->fd < 0 || state_->closing ? EBADF : check_buffer(*state_, buffer, length, offset);
  if (err) {
    detail::set_completion(*r, std::move(callback));
    return core.fail(r, err);
  }
  r->exact = true;
  core.hold(state_);
  group_commit_of(*state_).write_started();
  // The request outlives its completion: its deadline (OpTimeout) bounds the sync too.
  r->completion.set([r, cb = std::move(callback)](std::int64_t res) mutable {
    group_commit_of(*r->file).write_done(*r->file, res, std::move(cb), r->deadline);
  });
  return core.submit_file_op(state_, r);
}

OpHandle File::fsync(DoneCallback callback) {
  return file_op(state_, OpArgs::fsync(fd_of(state_)), std::move(callback), [](Request&) { return 0; });
}

OpHandle File::fdatasync(DoneCallback callback) {
  return file_op(state_, OpArgs::fsync(fd_of(state_), true), std::move(callback), [](Request&) { return 0; });
}

OpHandle File::stat(StatCallback callback) {
  // statx(fd, "", AT_EMPTY_PATH); the completion gives the request its buffer.
  return file_op(state_, OpArgs::statx(fd_of(state_), AT_EMPTY_PATH, detail::kStatMask), std::move(callback),
                 [](Request&) { return 0; });
}

OpHandle File::fallocate(int mode, std::int64_t offset, std::int64_t length, DoneCallback callback) {
  return file_op(state_, OpArgs::fallocate(fd_of(state_), mode, offset, length), std::move(callback),
                 [&](Request&) {
                   if (offset < 0 || length <= 0) return EINVAL;
                   return length > std::numeric_limits<std::int64_t>::max() - offset ? EFBIG : 0;
                 });
}

OpHandle File::truncate(std::int64_t length, DoneCallback callback) {
  return file_op(state_, OpArgs::ftruncate(fd_of(state_), length), std::move(callback),
                 [&](Request&) { return length < 0 ? EINVAL : 0; });
}

OpHandle File::advise(std::int64_t offset, std::int64_t length, int advice, DoneCallback callback) {
  return file_op(state_, OpArgs::call(), std::move(callback), [&](Request& r) {
    if (offset < 0 || length < 0) return EINVAL;
    const int fd = state_->fd;
    r.set_work([fd, offset, length, advice] { return std::int64_t{detail::sys::fadvise(fd, offset, length, advice)}; });
    return 0;
  });
}

OpHandle File::close(DoneCallback callback) {
  if (!state_ || !state_->core) return fail_detached(callback);
  EngineCore& core = *state_->core;
  if (core.rejects_foreign(callback)) return {};
  Request* r = core.make_request(OpArgs::close(state_->fd));
  detail::set_completion(*r, std::move(callback));
  if (state_->fd < 0 || state_->closing) return core.fail(r, EBADF);
  return core.close_file(state_, r);
}

void File::cancel_all() {
  if (state_ && state_->core && state_->core->on_owner_thread()) state_->core->cancel_file(state_);
}

}  // namespace ringfile
