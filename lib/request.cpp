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
    case Op::CopyRange: return "copy_range";
    case Op::Splice: return "splice";
    case Op::Sendfile: return "sendfile";
    case Op::Poll: return "poll";
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
    case Op::Poll: return Call::poll;
    case Op::OpenAt2: return Call::openat2;
    case Op::Nop: case Op::Call: case Op::count_: break;
  }
  return Call::count_;
}

bool is_transfer(Op op) noexcept {
  return op == Op::Read || op == Op::Write || op == Op::ReadFixed || op == Op::WriteFixed;
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

void Request::open_how_buffer() {
  open_how& how = extras().how;
  how = {};
  how.flags = static_cast<std::uint64_t>(static_cast<unsigned>(args.flags));
  how.mode = args.mode;
  how.resolve = args.resolve;
  args.how = &how;
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

void RequestPool::grow() {
  auto chunk = std::make_unique<Request[]>(kChunk);
  for (std::size_t i = 0; i < kChunk; ++i) {
    chunk[i].next = free_;
    free_ = &chunk[i];
  }
  chunks_.push_back(std::move(chunk));
}

}  // namespace ringfile::detail
