#include "exec/executor.hpp"

#include <fcntl.h>
#include <poll.h>

namespace ringfile::detail {

namespace {

// The pool's poller waits for descriptors (ThreadPoolBackend::start): this runs
// only a check that is ready at once. EINTR (the cancel signal) goes back to the
// core, which reports a cancel or a timeout.
std::int64_t poll_now(const OpArgs& a) {
  const int revents = sys::poll_one(a.fd, static_cast<short>(a.mode), 0);
  if (revents < 0) return revents;
  if (revents & POLLNVAL) return -EBADF;
  return revents;
}

// One run per op, looked up through kRun: an op without its specialisation here
// does not compile.
template <Op op>
std::int64_t run(const OpArgs& a) = delete;

template <> std::int64_t run<Op::Nop>(const OpArgs&) { return 0; }
template <> std::int64_t run<Op::Read>(const OpArgs& a) { return sys::pread(a.fd, a.buf, a.len, a.offset); }
template <> std::int64_t run<Op::Write>(const OpArgs& a) { return sys::pwrite(a.fd, a.buf, a.len, a.offset); }
template <> std::int64_t run<Op::Readv>(const OpArgs& a) { return sys::preadv(a.fd, a.iov, a.iovcnt, a.offset); }
template <> std::int64_t run<Op::Writev>(const OpArgs& a) { return sys::pwritev(a.fd, a.iov, a.iovcnt, a.offset); }
template <> std::int64_t run<Op::ReadFixed>(const OpArgs& a) { return run<Op::Read>(a); }
template <> std::int64_t run<Op::WriteFixed>(const OpArgs& a) { return run<Op::Write>(a); }
template <> std::int64_t run<Op::Fsync>(const OpArgs& a) { return sys::fsync(a.fd); }
template <> std::int64_t run<Op::Fdatasync>(const OpArgs& a) { return sys::fdatasync(a.fd); }
template <> std::int64_t run<Op::Open>(const OpArgs& a) {
  return sys::openat(a.fd, a.path, a.flags, static_cast<mode_t>(a.mode));
}
template <> std::int64_t run<Op::Close>(const OpArgs& a) { return sys::close(a.fd); }
template <> std::int64_t run<Op::Statx>(const OpArgs& a) {
  return sys::statx(a.fd, a.path, a.flags, a.mode, a.statx_out);
}
template <> std::int64_t run<Op::Fallocate>(const OpArgs& a) {
  return sys::fallocate(a.fd, static_cast<int>(a.mode), a.offset, a.length);
}
template <> std::int64_t run<Op::Ftruncate>(const OpArgs& a) { return sys::ftruncate(a.fd, a.length); }
template <> std::int64_t run<Op::Rename>(const OpArgs& a) {
  return sys::renameat2(a.fd, a.path, a.fd, a.path2, static_cast<unsigned>(a.flags));
}
template <> std::int64_t run<Op::Unlink>(const OpArgs& a) { return sys::unlinkat(a.fd, a.path, a.flags); }
template <> std::int64_t run<Op::Mkdir>(const OpArgs& a) {
  return sys::mkdirat(a.fd, a.path, static_cast<mode_t>(a.mode));
}
template <> std::int64_t run<Op::Symlink>(const OpArgs& a) { return sys::symlinkat(a.path, a.fd, a.path2); }
template <> std::int64_t run<Op::Link>(const OpArgs& a) { return sys::linkat(a.fd, a.path, a.fd, a.path2, a.flags); }
template <> std::int64_t run<Op::Call>(const OpArgs& a) { return a.work && *a.work ? (*a.work)() : -ENOSYS; }
template <> std::int64_t run<Op::CopyRange>(const OpArgs& a) {
  return sys::copy_file_range(a.fd, a.offset, a.fd2, a.offset2, a.len);
}
template <> std::int64_t run<Op::Splice>(const OpArgs& a) {
  return sys::splice(a.fd, a.offset, a.fd2, a.offset2, a.len, SPLICE_F_MOVE);
}
// A full non-blocking socket's EAGAIN goes back to send_to, which waits for
// POLLOUT without a worker. SIGPIPE is blocked in workers: a closed peer is EPIPE.
template <> std::int64_t run<Op::Sendfile>(const OpArgs& a) { return sys::sendfile(a.fd2, a.fd, a.offset, a.len); }
template <> std::int64_t run<Op::Poll>(const OpArgs& a) { return poll_now(a); }
template <> std::int64_t run<Op::OpenAt2>(const OpArgs& a) {
  return sys::openat2(a.fd, a.path, static_cast<unsigned>(a.flags), a.mode, a.resolve);
}
template <> std::int64_t run<Op::GetXattr>(const OpArgs& a) {
  return sys::getxattr(a.fd, a.xattr_by_path() ? a.path : nullptr, a.path2, a.buf, a.len);
}
template <> std::int64_t run<Op::SetXattr>(const OpArgs& a) {
  return sys::setxattr(a.fd, a.xattr_by_path() ? a.path : nullptr, a.path2, a.buf, a.len, a.flags);
}
template <> std::int64_t run<Op::ListXattr>(const OpArgs& a) {
  return sys::listxattr(a.fd, a.xattr_by_path() ? a.path : nullptr, static_cast<char*>(a.buf), a.len);
}
template <> std::int64_t run<Op::RemoveXattr>(const OpArgs& a) {
  return sys::removexattr(a.fd, a.xattr_by_path() ? a.path : nullptr, a.path2);
}

using RunFn = std::int64_t (*)(const OpArgs&);
constexpr RunFn kRun[] = {
#define RINGFILE_POOL_RUN(name, ...) &run<Op::name>,
    RINGFILE_OP_TABLE(RINGFILE_POOL_RUN)
#undef RINGFILE_POOL_RUN
};

}  // namespace

std::int64_t run_blocking(const OpArgs& a) {
  const sys::Call call = seam_call(a.op);
  sys::trace(call, sys::Phase::start, a.fd, a.offset);
  const std::int64_t res = a.op < Op::count_ ? kRun[static_cast<std::size_t>(a.op)](a) : -ENOSYS;
  sys::trace(call, sys::Phase::end, a.fd, a.offset, res);
  return res;
}

}  // namespace ringfile::detail

