#include "backend.hpp"

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

std::int64_t run(const OpArgs& a) {
  switch (a.op) {
    case Op::Nop: return 0;
    case Op::Read:
    case Op::ReadFixed: return sys::pread(a.fd, a.buf, a.len, a.offset);
    case Op::Write:
    case Op::WriteFixed: return sys::pwrite(a.fd, a.buf, a.len, a.offset);
    case Op::Readv: return sys::preadv(a.fd, a.iov, a.iovcnt, a.offset);
    case Op::Writev: return sys::pwritev(a.fd, a.iov, a.iovcnt, a.offset);
    case Op::Fsync: return sys::fsync(a.fd);
    case Op::Fdatasync: return sys::fdatasync(a.fd);
    case Op::Open: return sys::openat(a.fd, a.path, a.flags, static_cast<mode_t>(a.mode));
    case Op::Close: return sys::close(a.fd);
    case Op::Statx: return sys::statx(a.fd, a.path, a.flags, a.mode, a.statx_out);
    case Op::Fallocate: return sys::fallocate(a.fd, static_cast<int>(a.mode), a.offset, a.length);
    case Op::Ftruncate: return sys::ftruncate(a.fd, a.length);
    case Op::Rename: return sys::renameat2(a.fd, a.path, a.fd, a.path2, static_cast<unsigned>(a.flags));
    case Op::Unlink: return sys::unlinkat(a.fd, a.path, a.flags);
    case Op::Mkdir: return sys::mkdirat(a.fd, a.path, static_cast<mode_t>(a.mode));
    case Op::Symlink: return sys::symlinkat(a.path, a.fd, a.path2);
    case Op::Link: return sys::linkat(a.fd, a.path, a.fd, a.path2, a.flags);
    case Op::Call: return a.work && *a.work ? (*a.work)() : -ENOSYS;
    case Op::CopyRange: return sys::copy_file_range(a.fd, a.offset, a.fd2, a.offset2, a.len);
    case Op::Splice: return sys::splice(a.fd, a.offset, a.fd2, a.offset2, a.len, SPLICE_F_MOVE);
    // A full non-blocking socket's EAGAIN goes back to send_to, which waits for
    // POLLOUT without a worker. SIGPIPE is blocked in workers: a closed peer is EPIPE.
    case Op::Sendfile: return sys::sendfile(a.fd2, a.fd, a.offset, a.len);
    case Op::Poll: return poll_now(a);
    case Op::OpenAt2:
      return sys::openat2(a.fd, a.path, static_cast<unsigned>(a.flags), a.mode, a.resolve);
    case Op::count_: break;
  }
  return -ENOSYS;
}

}  // namespace

std::int64_t run_blocking(const OpArgs& a) {
  const sys::Call call = seam_call(a.op);
  sys::trace(call, sys::Phase::start, a.fd, a.offset);
  const std::int64_t res = run(a);
  sys::trace(call, sys::Phase::end, a.fd, a.offset, res);
  return res;
}

}  // namespace ringfile::detail

