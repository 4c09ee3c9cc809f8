#include "backend.hpp"

namespace ringfile::detail {

std::int64_t run_blocking(Request& r) {
  const char* path = r.path.c_str();
  const char* path2 = r.path2.c_str();
  switch (r.op) {
    case Op::Nop: return 0;
    case Op::Read:
    case Op::ReadFixed: return sys::pread(r.fd, r.buf, r.len, r.offset);
    case Op::Write:
    case Op::WriteFixed: return sys::pwrite(r.fd, r.buf, r.len, r.offset);
    case Op::Readv: return sys::preadv(r.fd, r.iov, r.iovcnt, r.offset);
    case Op::Writev: return sys::pwritev(r.fd, r.iov, r.iovcnt, r.offset);
    case Op::Fsync: return sys::fsync(r.fd);
    case Op::Fdatasync: return sys::fdatasync(r.fd);
    case Op::Open: return sys::openat(r.dirfd, path, r.flags, static_cast<mode_t>(r.mode));
    case Op::Close: return sys::close(r.fd);
    case Op::Statx: return sys::statx(r.dirfd, path, r.flags, static_cast<unsigned>(r.mode), &r.stx);
    case Op::Fallocate: return sys::fallocate(r.fd, r.mode, r.offset, r.len2);
    case Op::Ftruncate: return sys::ftruncate(r.fd, r.len2);
    case Op::Rename: return sys::renameat2(r.dirfd, path, r.dirfd, path2, static_cast<unsigned>(r.flags));
    case Op::Unlink: return sys::unlinkat(r.dirfd, path, r.flags);
    case Op::Mkdir: return sys::mkdirat(r.dirfd, path, static_cast<mode_t>(r.mode));
    case Op::Symlink: return sys::symlinkat(path, r.dirfd, path2);
    case Op::Link: return sys::linkat(r.dirfd, path, r.dirfd, path2, r.flags);
    case Op::Call: return r.work ? r.work() : -ENOSYS;
    case Op::count_: break;
  }
  return -ENOSYS;
}

}  // namespace ringfile::detail
