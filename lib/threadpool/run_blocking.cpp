#include "backend.hpp"

namespace ringfile::detail {

namespace {

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

