#include "exec/pool/peer_wait.hpp"

#include <algorithm>
#include <cerrno>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "exec/executor.hpp"

namespace ringfile::detail {

namespace {

// A FIFO's partner shows itself on no descriptor: look again after a while that
// grows, so a FIFO nobody opens costs a few checks a second, not a worker.
std::chrono::milliseconds partner_backoff(Request& r) {
  const unsigned step = std::min<unsigned>(r.peer_waits++, 6);
  return std::chrono::milliseconds(1u << step);  // 1 ms up to 64 ms
}

bool reads_only(const OpArgs& a) { return (a.flags & O_ACCMODE) == O_RDONLY; }

// A read open of a FIFO holds its descriptor (fifo_placeholder) until a writer is
// there, as open(2) waits for one; data arriving wakes it at once.
bool wait_for_writer(Request& r, PeerWait& wait) {
  const int fd = r.fifo_placeholder;
  if (sys::fifo_has_writer(fd)) {
    const int err = sys::set_status_flags(fd, r.args.flags);
    r.res = err ? err : fd;
    if (!err) r.fifo_placeholder = -1;  // the result now; complete() closes it otherwise
    return true;
  }
  wait = {fd, EPOLLIN, partner_backoff(r)};
  return false;
}

// open(2) of a FIFO waits for its partner, so every open here starts non-blocking
// and a FIFO waits in the poller; anything else gets its status flags back.
bool open_without_waiting(Request& r, PeerWait& wait) {
  if (r.fifo_placeholder >= 0) return wait_for_writer(r, wait);
  OpArgs nonblocking = r.args;
  nonblocking.flags |= O_NONBLOCK;
  const std::int64_t res = run_blocking(nonblocking);
  if (res == -ENXIO && !reads_only(r.args)) {  // a write open with no reader yet
    wait = {-1, 0, partner_backoff(r)};
    return false;
  }
  if (res == -EWOULDBLOCK) {  // a lease another process holds: its break is not a peer's stall
    r.res = run_blocking(r.args);
    return true;
  }
  if (res < 0) {
    r.res = res;
    return true;
  }
  const int fd = static_cast<int>(res);
  struct stat st {};
  if (reads_only(r.args) && ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    r.fifo_placeholder = fd;
    return wait_for_writer(r, wait);
  }
  if (!(r.args.flags & O_PATH)) {
    if (const int err = sys::set_status_flags(fd, r.args.flags)) {
      sys::close(fd);
      r.res = err;
      return true;
    }
  }
  r.res = fd;
  return true;
}

bool is_blocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && !(flags & O_NONBLOCK);
}

// A read or write at the stream position of a pipe, FIFO, socket or terminal.
bool stream_without_waiting(Request& r, PeerWait& wait) {
  const OpArgs& a = r.args;
  const bool write = a.op == Op::Write || a.op == Op::Writev;
  const std::uint32_t events = write ? EPOLLOUT : EPOLLIN;
  iovec one{a.buf, a.len};
  const bool vector = a.op == Op::Readv || a.op == Op::Writev;
  std::int64_t res = sys::stream_transfer_nowait(a.fd, vector ? a.iov : &one, vector ? a.iovcnt : 1, write);
  if (res == -EOPNOTSUPP) {
    // No RWF_NOWAIT here: once the peer is ready the plain call returns without
    // waiting on it (a pipe read takes what is there).
    const int revents = sys::poll_one(a.fd, static_cast<short>(write ? POLLOUT : POLLIN), 0);
    if (revents == 0) {
      wait = {a.fd, events, {}};
      return false;
    }
    r.res = run_blocking(a);
    return true;
  }
  // A caller's O_NONBLOCK descriptor gets its EAGAIN, as on io_uring.
  if (res == -EAGAIN && is_blocking(a.fd)) {
    wait = {a.fd, events, {}};
    return false;
  }
  r.res = res;
  return true;
}

}  // namespace

bool run_without_peer_wait(Request& r, PeerWait& wait) {
  const OpArgs& a = r.args;
  const bool alone = !r.link_next && !r.link_tail;
  if (has_trait(a.op, kOpensFile) && (!(a.flags & O_NONBLOCK) || r.fifo_placeholder >= 0)) {
    return open_without_waiting(r, wait);
  }
  if (has_trait(a.op, kStreamWait) && a.offset < 0 && alone) return stream_without_waiting(r, wait);
  r.res = run_blocking(a);
  return true;
}

}  // namespace ringfile::detail
