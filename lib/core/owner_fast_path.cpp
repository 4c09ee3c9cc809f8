// The owner-thread fast path: cached data read (preadv2 with RWF_NOWAIT) at once
// on the engine's thread, where no hand-off to an executor can beat it. Cold data
// never starts I/O here. (send_to's counterpart is compound/owner_send.cpp.)

#include <algorithm>

#include <fcntl.h>

#include "core/engine_core.hpp"

namespace ringfile::detail {

namespace {

// A non-blocking read that moved the whole range, or found the end of the file,
// is done; anything else (a part, EAGAIN, an error) leaves work for the engine.
bool finished(std::int64_t n, std::size_t len) noexcept { return n == static_cast<std::int64_t>(len) || n == 0; }

}  // namespace

bool EngineCore::try_fast_path(Request* request) {
  if (request->nowait_tried || request->file->nowait_unsupported) return false;
  const OpArgs& a = request->args;
  const std::int64_t n = sys::pread_nowait(a.fd, a.buf, a.len, a.offset);
  if (finished(n, a.len)) {
    ++stats_.fast_path_reads;
    finish_now(request, n);
    return true;
  }
  after_nowait_read(request, request->file, n);
  return false;
}

// The engine takes over a read the owner started: the part that was cached is
// done, and uncached data (EAGAIN) marks a cold file's read to leave the owner.
void EngineCore::after_nowait_read(Request* request, FileState* file, std::int64_t n) {
  request->nowait_tried = true;
  if (n > 0) {
    ++stats_.fast_path_reads;
    skip_moved(request, static_cast<std::size_t>(n));
    return;
  }
  if (n == -EAGAIN && options_.offload_cold_reads && file->residency.saw_uncached()) {
    request->offload = true;
    ++stats_.cold_reads;
  }
  if (n == -EOPNOTSUPP) file->nowait_unsupported = true;
}

OpHandle EngineCore::read_without_request(FileState* file, void* buf, std::size_t len, std::int64_t offset, bool exact,
                                          IoCallback& callback, std::int64_t& tried) {
  if (shutting_down_ || op_timeout_.count() > 0) return {};
  if (file->fd < 0 || file->closing || !reads_through_page_cache(*file)) return {};
  if (options_.offload_cold_reads && !file->residency.stays_on_owner(offset)) return {};
  if (fast_path_open()) {
    return file->nowait_unsupported ? OpHandle{} : read_at_once(file, buf, len, offset, callback, tried);
  }
  return exact || router_.primary_is_pool() ? OpHandle{} : read_on_ring(file, buf, len, offset, callback);
}

// Nothing that could time out, queue or be cancelled: the read is done or not.
OpHandle EngineCore::read_at_once(FileState* file, void* buf, std::size_t len, std::int64_t offset,
                                  IoCallback& callback, std::int64_t& tried) {
  const std::int64_t n = sys::pread_nowait(file->fd, buf, len, offset);
  if (!finished(n, len)) {
    tried = n;
    return {};
  }
  ++stats_.fast_path_reads;
  ready_reads_.push(std::move(callback), n, file);
  accepted(*file);
  return handle_of(&finished_at_once_);
}

std::size_t EngineCore::deliver_ready_reads() {
  std::size_t delivered = 0;
  // Reads the callbacks below finish wait for the next call.
  for (std::size_t n = ready_reads_.size(); delivered < n && !destroy_requested_; ++delivered) {
    ReadyReads::Entry* e = ready_reads_.pop_front();
    deliver_op(*e->file, ready_reads_, e, [e] {
      if (e->callback) e->callback(static_cast<std::size_t>(e->res));
    });
  }
  return delivered;
}

}  // namespace ringfile::detail
