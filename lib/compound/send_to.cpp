// File::send_to: a file's bytes to a socket or pipe without a copy through user
// space. On io_uring: IORING_OP_SPLICE file -> pipe linked to pipe -> socket,
// through a pipe the engine keeps. Elsewhere (the pool, or a ring without
// IORING_OP_SPLICE): sendfile(2) on a pool worker. A full non-blocking socket is
// waited for with POLLOUT inside the engine; SIGPIPE never reaches the program
// (io_uring's workers and the pool's block it), so a closed peer is EPIPE.
// Cached data to a non-blocking descriptor goes with sendfile on the owner thread
// (owner_send.cpp), a part each time the socket has room; from the first
// part that is not cached, the route above takes the rest. A peer that stops
// reading never holds a worker (the pool's or the kernel's): a blocking pipe is
// written through a non-blocking descriptor of its own, and a blocking socket is
// sent at most the room POLLOUT found, which it takes without waiting.

#include <cerrno>
#include <climits>
#include <memory>
#include <string>

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "api/completion.hpp"
#include "api/file_access.hpp"
#include "compound/job.hpp"
#include "compound/owner_send.hpp"
#include "compound/pipe_cache.hpp"
#include "core/engine_core.hpp"

namespace ringfile {

using detail::EngineCore;
using detail::FileState;
using detail::Job;
using detail::OpArgs;
using detail::Request;

namespace {

constexpr std::size_t kPipeChunk = 64u << 10;   // a pipe's default capacity
constexpr std::size_t kSendChunk = 16u << 20;   // per sendfile: bounds the time of one op
constexpr unsigned kFullRetries = 16;

struct SendJob : Job {
  using Job::Job;
  FileState* file = nullptr;
  int out = -1;
  std::int64_t offset = 0;
  std::size_t left = 0;
  std::size_t sent = 0;
  detail::Pipe pipe;
  std::size_t in_pipe = 0;  // spliced from the file, not yet to the socket
  std::int64_t head_res = 0;
  // The owner's last sendfile of cached data moved bytes: once the socket has room
  // again the owner sends the next cached part, until data is not cached.
  bool owner_sends = false;
  // POLLOUT said writable, yet the owner's sendfile found no room: how many times
  // in a row (a busy loopback under memory pressure); past kFullRetries the
  // engine's route takes over rather than loop.
  unsigned full_retries = 0;
  bool owns_out = false;         // out is our non-blocking descriptor of the caller's pipe
  bool blocking_socket = false;  // each part waits for POLLOUT and fits the room it found
  std::size_t room = 0;          // what the blocking socket takes now; 0: wait for POLLOUT
  IoCallback callback;

  using Ptr = std::unique_ptr<SendJob>;

  static void step(Ptr job) {
    if (job->owner_sends && job->in_pipe == 0 && job->left > 0) return wait_writable(std::move(job));
    if (job->blocking_socket && job->room == 0 && (job->in_pipe > 0 || job->left > 0)) {
      return wait_writable(std::move(job));
    }
    if (job->pipe.read >= 0) {
      if (job->in_pipe > 0) return drain(std::move(job));
      if (job->left == 0) return finish(std::move(job), 0);
      return splice_chunk(std::move(job));
    }
    if (job->left == 0) return finish(std::move(job), 0);
    send_chunk(std::move(job));
  }

  // Finishes at the next poll, the way every completion arrives: never inside
  // the call that started the transfer.
  static void finish_later(Ptr job, std::int64_t res) {
    EngineCore& core = *job->core;
    Request* r = core.make_request(OpArgs::nop());
    r->completion.set([job = std::move(job)](std::int64_t res) mutable { finish(std::move(job), res); });
    core.complete_now(r, res);
  }

  static void finish(Ptr job, std::int64_t res) {
    send_pipes(*job->core).give(job->pipe, job->in_pipe == 0);
    job->pipe = {};
    if (job->owns_out) ::close(job->out);
    if (!job->callback) return;
    // An error that stopped the transfer short is the result, whatever was sent
    // before it: a count here would look like a whole file that ended early.
    if (res < 0) job->callback(detail::error_of(res));
    else job->callback(job->sent);
  }

  void advance(std::size_t n) {
    offset += static_cast<std::int64_t>(n);
    left -= n;
  }

  // How much one part may carry: a blocking socket's room, used up by the part.
  std::size_t part(std::size_t most) {
    if (!blocking_socket) return most;
    return std::min(most, std::exchange(room, 0));
  }

  // Half of the send buffer's free bytes: the kernel charges its own overhead
  // against the same limit, and a send that fits never waits for the peer.
  static std::size_t socket_room(int fd) {
    int sndbuf = 0;
    int queued = 0;
    socklen_t len = sizeof sndbuf;
    if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0 || ::ioctl(fd, SIOCOUTQ, &queued) != 0) return 0;
    return sndbuf > queued ? static_cast<std::size_t>(sndbuf - queued) / 2 : 0;
  }

  // A blocking out_fd would make the worker (or the kernel's) that sends to it wait
  // for the peer. Returns 0 or -errno.
  int prepare_blocking_out() {
    const int flags = ::fcntl(out, F_GETFL);
    if (flags < 0) return -errno;
    if (flags & O_NONBLOCK) return 0;
    struct stat st {};
    if (::fstat(out, &st) != 0) return -errno;
    if (S_ISSOCK(st.st_mode)) {
      blocking_socket = true;
      return 0;
    }
    if (!S_ISFIFO(st.st_mode)) return 0;
    // A descriptor of the same pipe that is ours, without touching the caller's flags.
    const std::string self = "/proc/self/fd/" + std::to_string(out);
    const int fd = ::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;  // no /proc: the caller's descriptor as it is
    out = fd;
    owns_out = true;
    return 0;
  }

  // Cached data goes with one sendfile on the owner thread, where the splice route
  // would hand every chunk to the kernel's workers twice over. Sets owner_sends:
  // whether it sent anything, so the next part is tried the same way. After
  // POLLOUT, a socket already full again means waiting once more, not giving the
  // cached rest to the engine's route.
  void send_from_owner(bool after_pollout = false) {
    const std::int64_t n = send_cached(*core, file, out, offset, left);
    if (n == 0 && after_pollout && ++full_retries <= kFullRetries) return;  // owner_sends stays set
    owner_sends = n > 0;
    if (!owner_sends) return;
    full_retries = 0;
    advance(static_cast<std::size_t>(n));
    sent += static_cast<std::size_t>(n);
  }

  // One op on the file; `then` gets the job back with the op's result.
  template <class Then>
  static void submit(Ptr job, const OpArgs& args, Then then) {
    EngineCore& core = *job->core;
    FileState* file = job->file;
    Request* r = core.make_request(args);
    const auto in_context = job->step_scope();
    r->completion.set([job = std::move(job), then](std::int64_t res) mutable { then(std::move(job), res); });
    core.submit_file_op(file, r);
  }

  static void send_chunk(Ptr job) {
    const OpArgs args = OpArgs::sendfile(job->file->fd, job->offset, job->out, job->part(std::min(job->left, kSendChunk)));
    submit(std::move(job), args, [](Ptr job, std::int64_t res) {
      if (res == -EAGAIN) return wait_writable(std::move(job));
      if (res <= 0) return finish(std::move(job), res);  // 0: end of file
      job->advance(static_cast<std::size_t>(res));
      job->sent += static_cast<std::size_t>(res);
      step(std::move(job));
    });
  }

  static void splice_chunk(Ptr job) {
    EngineCore& core = *job->core;
    FileState* file = job->file;
    const std::size_t n = job->part(std::min(job->left, kPipeChunk));
    Request* head = core.make_request(OpArgs::splice(file->fd, job->offset, job->pipe.write, -1, n));
    Request* tail = core.make_request(OpArgs::splice(job->pipe.read, -1, job->out, -1, n));
    head->link_next = tail;
    tail->link_res_expected = n;
    SendJob* raw = job.get();
    const auto in_context = job->step_scope();
    head->completion.set([raw](std::int64_t res) { raw->head_res = res; });
    // The tail's own result, not the chain's: what reached the socket.
    tail->completion.set([job = std::move(job), tail](std::int64_t) mutable { spliced(std::move(job), tail->res); });
    core.submit_chain(file, head);
  }

  static void spliced(Ptr job, std::int64_t to_socket) {
    const std::int64_t from_file = job->head_res;
    if (from_file <= 0) return finish(std::move(job), from_file);  // an error or end of file; the pipe is empty
    job->advance(static_cast<std::size_t>(from_file));
    job->in_pipe = static_cast<std::size_t>(from_file);
    if (to_socket > 0) {
      job->in_pipe -= static_cast<std::size_t>(to_socket);
      job->sent += static_cast<std::size_t>(to_socket);
      return step(std::move(job));
    }
    // Cancelled by a short splice from the file, or interrupted: the bytes wait in the pipe.
    if (to_socket == -ECANCELED || to_socket == -EINTR || to_socket == 0) return step(std::move(job));
    if (to_socket == -EAGAIN) return wait_writable(std::move(job));
    finish(std::move(job), to_socket);
  }

  static void drain(Ptr job) {
    const OpArgs args = OpArgs::splice(job->pipe.read, -1, job->out, -1, job->part(job->in_pipe));
    submit(std::move(job), args, [](Ptr job, std::int64_t res) {
      if (res == -EAGAIN) return wait_writable(std::move(job));
      if (res <= 0) return finish(std::move(job), res < 0 ? res : -EPIPE);
      job->in_pipe -= static_cast<std::size_t>(res);
      job->sent += static_cast<std::size_t>(res);
      step(std::move(job));
    });
  }

  // A full non-blocking socket: wait inside the engine, never spin.
  static void wait_writable(Ptr job) {
    const OpArgs args = OpArgs::poll(job->out, POLLOUT);
    submit(std::move(job), args, [](Ptr job, std::int64_t res) {
      if (res < 0) return finish(std::move(job), res);
      if (job->blocking_socket) {
        job->room = socket_room(job->out);
        // Writable yet no room to tell: one byte fits, as POLLOUT promised.
        if (job->room == 0) job->room = 1;
      }
      if (job->owner_sends) job->send_from_owner(/*after_pollout=*/true);
      step(std::move(job));
    });
  }
};

}  // namespace

void File::send_to(int out_fd, std::int64_t offset, std::size_t length, IoCallback callback) {
  EngineCore* core = state_ ? state_->core : nullptr;
  if (!core) {
    if (callback) callback(errno_code(EBADF));
    return;
  }
  if (core->rejects_foreign(callback)) return;
  auto job = std::make_unique<SendJob>(core);
  job->file = state_;
  job->out = out_fd;
  job->offset = offset;
  job->left = length;
  job->callback = std::move(callback);
  int err = 0;
  if (out_fd < 0 || offset < 0 || length > SSIZE_MAX) err = EINVAL;
  else if (state_->fd < 0 || state_->closing) err = EBADF;
  else if (length > 0) err = -job->prepare_blocking_out();
  if (!err && length > 0) {
    job->send_from_owner();
    if (job->left == 0) return SendJob::finish_later(std::move(job), 0);
  }
  const detail::Executor& primary = core->router().primary();
  const bool splice = primary.kind() == Backend::IoUring && primary.supports(detail::Op::Splice);
  if (!err && splice) err = -send_pipes(*core).take(job->pipe);
  if (err) return SendJob::finish_later(std::move(job), -err);
  SendJob::step(std::move(job));
}

}  // namespace ringfile
