#include "ops/request.hpp"

namespace ringfile::detail {

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
