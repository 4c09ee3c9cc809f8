#include "request.hpp"

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
    case Op::Nop: case Op::Call: case Op::count_: break;
  }
  return Call::count_;
}

Request* RequestPool::acquire() {
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
  r->serial = next_serial_++;
  return r;
}

void RequestPool::release(Request* r) noexcept {
  r->callback = std::monostate{};
  r->work.reset();
  r->op = Op::Nop;
  r->exact = r->continuing = r->on_helper = false;
  r->cancelled.store(false, std::memory_order_relaxed);
  r->where = Where::Free;
  r->retries = 0;
  r->file = nullptr;
  r->fd = -1;
  r->fifo_placeholder = -1;
  r->dirfd = -100;
  r->flags = r->mode = 0;
  r->buf = nullptr;
  r->len = 0;
  r->offset = r->len2 = 0;
  r->iov = nullptr;
  r->iovcnt = 0;
  r->buf_index = 0;
  r->path.clear();
  r->path2.clear();
  r->link_next = nullptr;
  r->link_tail = false;
  r->link_res = 0;
  r->link_res_expected = 0;
  r->done = 0;
  r->res = 0;
  r->serial = 0;  // a stale OpHandle no longer matches
  r->next = free_;
  free_ = r;
}

}  // namespace ringfile::detail
