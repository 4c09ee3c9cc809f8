// The owner-thread fast paths: cached data read (preadv2 with RWF_NOWAIT) or sent
// (sendfile) at once on the engine's thread, where no hand-off to an executor can
// beat it. Cold data never starts I/O here.

#include <algorithm>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "core/engine_core.hpp"

namespace ringfile::detail {

namespace {

// sendfile has no MSG_NOSIGNAL: to a peer that is gone it raises SIGPIPE on the
// calling thread, here the program's own, where the default action ends the
// process. The signal is blocked around the call, and one the call raised is
// taken back before the mask is restored (unless the program itself blocks
// SIGPIPE on this thread: then what is pending is its to see).
class SigpipeBlocked {
 public:
  SigpipeBlocked() noexcept {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

  void take_back_raised() noexcept {
    if (sigismember(&old_, SIGPIPE)) return;
    const timespec now{};
    while (sigtimedwait(&pipe_, nullptr, &now) < 0 && errno == EINTR) {
    }
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
};

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

// Unlike a read, sendfile has no RWF_NOWAIT to stop it at an uncached page, and a
// blocking out fd holds the caller until the peer reads (poll() saying writable
// does not bound how much fits). So it runs here only when neither can happen:
// a fresh cachestat says every page of the range is cached, and out_fd is
// O_NONBLOCK, where a full socket or pipe returns a short count or EAGAIN. SIGPIPE
// is kept from the program's thread (SigpipeBlocked). One
// fcntl per call rather than a remembered answer: a descriptor number is reused,
// and its flags change. The range is capped at kOwnerSend, which bounds the
// cachestat walk and the time the loop spends copying. cachestat counts pages
// past the end as uncached, so a range it calls uncached is clamped to a regular
// file's size and asked again (a caller that sends what stat said pays no fstat).
std::int64_t EngineCore::send_cached(FileState* file, int out_fd, std::int64_t offset, std::size_t len) {
  constexpr std::size_t kOwnerSend = 1u << 20;
  if (!options_.cached_read_fast_path || file->stream_only || file->open_flags & O_DIRECT) return -1;
  const int out_flags = ::fcntl(out_fd, F_GETFL);
  if (out_flags < 0 || !(out_flags & O_NONBLOCK)) return -1;
  len = std::min(len, kOwnerSend);
  if (!file->residency.range_resident(file->fd, offset, len, /*learn=*/false)) {
    struct stat st {};
    if (::fstat(file->fd, &st) != 0 || !S_ISREG(st.st_mode) || offset >= st.st_size) return -1;
    const auto to_end = static_cast<std::size_t>(st.st_size - offset);
    if (to_end >= len || !file->residency.range_resident(file->fd, offset, to_end)) return -1;
    len = to_end;
  }
  std::int64_t sent;
  {
    SigpipeBlocked no_sigpipe;
    sent = sys::sendfile(out_fd, file->fd, offset, len);
    if (sent == -EPIPE) no_sigpipe.take_back_raised();
  }
  if (sent == -EAGAIN) return 0;
  if (sent <= 0) return -1;  // an error the engine's route reports, or end of file
  ++stats_.fast_path_sends;
  return sent;
}

}  // namespace ringfile::detail
