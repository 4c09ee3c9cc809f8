// send_to's owner-thread route: cached file data sent with one sendfile on the
// engine's thread, where the splice route would hand every chunk to the kernel's
// workers twice over.

#include "compound/owner_send.hpp"

#include <algorithm>
#include <cerrno>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "core/engine_core.hpp"
#include "sys/sys.hpp"

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

}  // namespace

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
std::int64_t send_cached(EngineCore& core, FileState* file, int out_fd, std::int64_t offset, std::size_t len) {
  constexpr std::size_t kOwnerSend = 1u << 20;
  if (!core.options().cached_read_fast_path || file->stream_only || file->open_flags & O_DIRECT) return -1;
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
    sys::trace(sys::Call::sendfile, sys::Phase::start, file->fd, offset);
    sent = sys::sendfile(out_fd, file->fd, offset, len);
    sys::trace(sys::Call::sendfile, sys::Phase::end, file->fd, offset, sent);
    if (sent == -EPIPE) no_sigpipe.take_back_raised();
  }
  if (sent == -EAGAIN) return 0;
  if (sent <= 0) return -1;  // an error the engine's route reports, or end of file
  core.count_fast_path_send();
  return sent;
}

}  // namespace ringfile::detail
