#include "request.hpp"

#include <fcntl.h>

namespace ringfile::detail {

const char* to_string(Op op) noexcept {
  switch (op) {
    case Op::Nop: return "nop";
    case Op::Read: return "read";
    case Op::Write: return "write";
    case Op::Readv: return "readv";
    case Op::Writev: return "writev";
    case Op::ReadFixed: return "read_fixed";
    case Op::WriteFixed: return "write_fixed";
    case Op::Fsync: return "fsync";
    case Op::Fdatasync: return "fdatasync";
    case Op::Open: return "open";
    case Op::Close: return "close";
    case Op::Statx: return "statx";
    case Op::Fallocate: return "fallocate";
    case Op::Ftruncate: return "ftruncate";
    case Op::Rename: return "rename";
    case Op::Unlink: return "unlink";
    case Op::Mkdir: return "mkdir";
    case Op::Symlink: return "symlink";
    case Op::Link: return "link";
    case Op::Call: return "call";
    case Op::CopyRange: return "copy_range";
    case Op::Splice: return "splice";
    case Op::Sendfile: return "sendfile";
    case Op::PollOut: return "poll_out";
    case Op::OpenAt2: return "openat2";
    case Op::count_: break;
  }
  return "?";
}

sys::Call seam_call(Op op) noexcept {
  using sys::Call;
  switch (op) {
    case Op::Read: case Op::Readv: case Op::ReadFixed: return Call::read;
    case Op::Write: case Op::Writev: case Op::WriteFixed: return Call::write;
    case Op::Fsync: case Op::Fdatasync: return Call::fsync;
    case Op::Open: return Call::open;
    case Op::Close: return Call::close;
    case Op::Statx: return Call::statx;
    case Op::Fallocate: return Call::fallocate;
    case Op::Ftruncate: return Call::ftruncate;
    case Op::Rename: return Call::rename;
    case Op::Unlink: return Call::unlink;
    case Op::Mkdir: return Call::mkdir;
    case Op::Symlink: return Call::symlink;
    case Op::Link: return Call::link;
    case Op::CopyRange: return Call::copy_range;
    case Op::Splice: return Call::splice;
    case Op::Sendfile: return Call::sendfile;
    case Op::PollOut: return Call::poll;
    case Op::OpenAt2: return Call::openat2;
    case Op::Nop: case Op::Call: case Op::count_: break;
  }
  return Call::count_;
}

bool is_transfer(Op op) noexcept {
  return op == Op::Read || op == Op::Write || op == Op::ReadFixed || op == Op::WriteFixed;
}

namespace {

OpArgs transfer(Op op, int fd, void* buf, std::size_t len, std::int64_t offset) noexcept {
  OpArgs a;
  a.op = op;
  a.fd = fd;
  a.buf = buf;
  a.len = len;
  a.offset = offset;
  return a;
}

OpArgs vector(Op op, int fd, const iovec* iov, int iovcnt, std::int64_t offset) noexcept {
  OpArgs a;
  a.op = op;
  a.fd = fd;
  a.iov = iov;
  a.iovcnt = iovcnt;
  a.offset = offset;
  return a;
}

OpArgs on_path(Op op, int flags, unsigned mode) noexcept {
  OpArgs a;
  a.op = op;
  a.fd = OpArgs::kCwd;
  a.flags = flags;
  a.mode = mode;
  return a;
}

}  // namespace

OpArgs OpArgs::read(int fd, void* buf, std::size_t len, std::int64_t offset) noexcept {
  return transfer(Op::Read, fd, buf, len, offset);
}

OpArgs OpArgs::write(int fd, const void* buf, std::size_t len, std::int64_t offset) noexcept {
  return transfer(Op::Write, fd, const_cast<void*>(buf), len, offset);
}

OpArgs OpArgs::readv(int fd, const iovec* iov, int iovcnt, std::int64_t offset) noexcept {
  return vector(Op::Readv, fd, iov, iovcnt, offset);
}

OpArgs OpArgs::writev(int fd, const iovec* iov, int iovcnt, std::int64_t offset) noexcept {
  return vector(Op::Writev, fd, iov, iovcnt, offset);
}

OpArgs OpArgs::read_fixed(int fd, void* buf, std::size_t len, std::int64_t offset, unsigned index) noexcept {
  OpArgs a = transfer(Op::ReadFixed, fd, buf, len, offset);
  a.buf_index = index;
  return a;
}

OpArgs OpArgs::write_fixed(int fd, const void* buf, std::size_t len, std::int64_t offset, unsigned index) noexcept {
  OpArgs a = transfer(Op::WriteFixed, fd, const_cast<void*>(buf), len, offset);
  a.buf_index = index;
  return a;
}

OpArgs OpArgs::fsync(int fd, bool data_only) noexcept {
  OpArgs a;
  a.op = data_only ? Op::Fdatasync : Op::Fsync;
  a.fd = fd;
  return a;
}

OpArgs OpArgs::close(int fd) noexcept {
  OpArgs a;
  a.op = Op::Close;
  a.fd = fd;
  return a;
}

OpArgs OpArgs::fallocate(int fd, int mode, std::int64_t offset, std::int64_t length) noexcept {
  OpArgs a;
  a.op = Op::Fallocate;
  a.fd = fd;
  a.mode = static_cast<unsigned>(mode);
  a.offset = offset;
  a.length = length;
  return a;
}

OpArgs OpArgs::ftruncate(int fd, std::int64_t length) noexcept {
  OpArgs a;
  a.op = Op::Ftruncate;
  a.fd = fd;
  a.length = length;
  return a;
}

OpArgs OpArgs::open(int flags, unsigned mode, int dirfd) noexcept {
  OpArgs a = on_path(Op::Open, flags | O_CLOEXEC, mode);
  a.fd = dirfd;
  return a;
}

OpArgs OpArgs::statx(int dirfd, int flags, unsigned mask) noexcept {
  OpArgs a = on_path(Op::Statx, flags, mask);
  a.fd = dirfd;
  a.path = "";  // with AT_EMPTY_PATH: dirfd itself
  return a;
}

OpArgs OpArgs::rename(unsigned flags) noexcept { return on_path(Op::Rename, static_cast<int>(flags), 0); }
OpArgs OpArgs::unlink(int flags) noexcept { return on_path(Op::Unlink, flags, 0); }
OpArgs OpArgs::mkdir(unsigned mode) noexcept { return on_path(Op::Mkdir, 0, mode); }
OpArgs OpArgs::symlink() noexcept { return on_path(Op::Symlink, 0, 0); }
OpArgs OpArgs::link(int flags) noexcept { return on_path(Op::Link, flags, 0); }

OpArgs OpArgs::call() noexcept {
  OpArgs a;
  a.op = Op::Call;
  return a;
}

namespace {
OpArgs between(Op op, int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out, std::size_t len) noexcept {
  OpArgs a;
  a.op = op;
  a.fd = fd_in;
  a.offset = off_in;
  a.fd2 = fd_out;
  a.offset2 = off_out;
  a.len = len;
  return a;
}
}  // namespace

OpArgs OpArgs::copy_range(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out, std::size_t len) noexcept {
  return between(Op::CopyRange, fd_in, off_in, fd_out, off_out, len);
}

OpArgs OpArgs::splice(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out, std::size_t len) noexcept {
  return between(Op::Splice, fd_in, off_in, fd_out, off_out, len);
}

OpArgs OpArgs::sendfile(int in_fd, std::int64_t offset, int out_fd, std::size_t len) noexcept {
  return between(Op::Sendfile, in_fd, offset, out_fd, -1, len);
}

OpArgs OpArgs::poll_out(int fd) noexcept {
  OpArgs a;
  a.op = Op::PollOut;
  a.fd = fd;
  return a;
}

OpArgs OpArgs::openat2(int dirfd, int flags, unsigned mode, std::uint64_t resolve) noexcept {
  OpArgs a = on_path(Op::OpenAt2, flags | O_CLOEXEC, mode);
  a.fd = dirfd;
  a.resolve = resolve;
  return a;
}

void Request::open_how_buffer() {
  open_how& how = extras().how;
  how = {};
  how.flags = static_cast<std::uint64_t>(static_cast<unsigned>(args.flags));
  how.mode = args.mode;
  how.resolve = args.resolve;
  args.how = &how;
}

RequestExtras& Request::extras() {
  if (!extras_) extras_ = std::make_unique<RequestExtras>();
  return *extras_;
}

void Request::set_paths(std::string_view path, std::string_view path2) {
  RequestExtras& x = extras();
  x.path.assign(path);
  x.path2.assign(path2);
  args.path = x.path.c_str();
  args.path2 = x.path2.c_str();
}

struct statx& Request::statx_buffer() {
  args.statx_out = &extras().stx;
  return *args.statx_out;
}

void Request::set_work(BlockingWork work) {
  extras().work = std::move(work);
  args.work = &extras_->work;
}

bool RequestQueue::remove(Request* r) noexcept {
  Request* prev = nullptr;
  for (Request* it = head_; it; prev = it, it = it->next) {
    if (it != r) continue;
    (prev ? prev->next : head_) = it->next;
    if (tail_ == it) tail_ = prev;
    it->next = nullptr;
    --size_;
    return true;
  }
  return false;
}

Request* RequestPool::acquire(const OpArgs& args) {
  if (!free_) {
    auto chunk = std::make_unique<Request[]>(kChunk);
    for (std::size_t i = 0; i < kChunk; ++i) {
      chunk[i].next = free_;
      free_ = &chunk[i];
    }
    chunks_.push_back(std::move(chunk));
  }
  Request* r = free_;
  free_ = r->next;
  r->next = nullptr;
  r->args = args;
  r->serial = next_serial_++;
  return r;
}

void RequestPool::release(Request* r) noexcept {
  // Rebuilt whole, so no field is forgotten; the side slot keeps its capacity.
  std::unique_ptr<RequestExtras> extras = std::move(r->extras_);
  if (extras) extras->work.reset();
  std::destroy_at(r);
  std::construct_at(r);  // serial 0: a stale OpHandle no longer matches
  r->extras_ = std::move(extras);
  r->next = free_;
  free_ = r;
}

}  // namespace ringfile::detail
