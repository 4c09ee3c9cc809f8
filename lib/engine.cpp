#include "ringfile/engine.hpp"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <string_view>

#include <fcntl.h>
#include <sys/sysmacros.h>

#include "engine_core.hpp"
#include "ringfile/file.hpp"
#include "ringfile_config.h"

namespace ringfile {

const char* to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::Auto: return "auto";
    case Backend::IoUring: return "io_uring";
    case Backend::ThreadPool: return "threadpool";
  }
  return "?";
}

namespace detail {

namespace {

// EINTR and EAGAIN are retried; a descriptor that keeps saying EAGAIN (O_NONBLOCK
// on a pipe, say) gets it reported rather than spun on forever.
constexpr std::uint8_t kMaxRetries = 32;

bool is_transfer(Op op) {
  return op == Op::Read || op == Op::Write || op == Op::ReadFixed || op == Op::WriteFixed;
}

FileStat to_file_stat(const struct statx& s) {
  FileStat out;
  out.size = s.stx_size;
  out.mode = s.stx_mode;
  out.nlink = s.stx_nlink;
  out.uid = s.stx_uid;
  out.gid = s.stx_gid;
  out.inode = s.stx_ino;
  out.device = makedev(s.stx_dev_major, s.stx_dev_minor);
  out.special_device = makedev(s.stx_rdev_major, s.stx_rdev_minor);
  out.block_size = s.stx_blksize;
  out.blocks = s.stx_blocks;
  out.atime = {static_cast<time_t>(s.stx_atime.tv_sec), static_cast<long>(s.stx_atime.tv_nsec)};
  out.mtime = {static_cast<time_t>(s.stx_mtime.tv_sec), static_cast<long>(s.stx_mtime.tv_nsec)};
  out.ctime = {static_cast<time_t>(s.stx_ctime.tv_sec), static_cast<long>(s.stx_ctime.tv_nsec)};
#ifdef STATX_DIOALIGN
  if (s.stx_mask & STATX_DIOALIGN) {
    out.dio_mem_align = s.stx_dio_mem_align;
    out.dio_offset_align = s.stx_dio_offset_align;
  }
#endif
  return out;
}

}  // namespace

EngineCore::EngineCore(std::unique_ptr<Backend> backend, const EngineOptions& options,
                       std::string fallback_reason)
    : backend_(std::move(backend)),
      options_(options),
      fallback_reason_(std::move(fallback_reason)),
      owner_(std::this_thread::get_id()),
      fork_generation_(fork_generation()) {}

EngineCore::~EngineCore() {
  if (in_forked_child()) {
    // The ring, the workers and the eventfds belong to the parent: forget them.
    (void)backend_.release();
    detach_files();
    return;
  }
  shutdown();
}

EngineCore::CallScope::CallScope(EngineCore& core, bool polling) noexcept
    : core_(core), was_polling_(core.polling_) {
  ++core_.depth_;
  core_.polling_ = polling;
}

EngineCore::CallScope::~CallScope() {
  core_.polling_ = was_polling_;
  if (--core_.depth_ > 0 || !core_.destroy_requested_) return;
  core_.destroy_requested_ = false;  // the teardown delivers what is left
  delete &core_;
}

bool EngineCore::destroy_when_unwound() noexcept {
  if (depth_ == 0 || !on_owner_thread()) return false;
  destroy_requested_ = true;
  return true;
}

int EngineCore::watch_event_fd() noexcept {
  event_fd_watched_ = true;
  return backend_->event_fd();
}

// Ops started outside poll() (which submits before it returns) wait in user space
// until the engine is next called. A loop asleep on event_fd() would never call
// it: make the descriptor readable, once until the next submission.
void EngineCore::work_started() {
  if (!event_fd_watched_ || work_signalled_ || polling_) return;
  work_signalled_ = true;
  backend_->signal_event_fd();
}

void EngineCore::submit_started() {
  fill_backend();
  backend_->flush();
  work_signalled_ = false;
}

bool EngineCore::covers_registered(unsigned index, const void* buffer, std::size_t length) const noexcept {
  if (index >= registered_.size()) return false;
  const auto* base = static_cast<const char*>(registered_[index].iov_base);
  const auto* start = static_cast<const char*>(buffer);
  return start >= base && length <= registered_[index].iov_len &&
         static_cast<std::size_t>(start - base) <= registered_[index].iov_len - length;
}

OpHandle EngineCore::submit(Request* request) {
  ++stats_.submitted;
  ++pending_;
  work_started();
  OpHandle handle{request, request->serial};
  if (shutting_down_ && request->op != Op::Close) {
    request->res = -ECANCELED;
    request->where = Where::Ready;
    ready_.push_back(request);
    return handle;
  }
  enqueue(request);
  return handle;
}

OpHandle EngineCore::submit_file_op(FileState* file, Request* request) {
  if (file->fd < 0 || file->closing) return fail(request, EBADF);
  request->file = file;
  request->fd = file->fd;
  ++file->in_flight;
  return submit(request);
}

OpHandle EngineCore::submit_chain(FileState* file, Request* head) {
  for (Request* r = head; r; r = r->link_next) {
    ++stats_.submitted;
    ++pending_;
    r->file = file;
    r->fd = file->fd;
    ++file->in_flight;
    r->link_tail = r != head && !r->link_next;
  }
  work_started();
  OpHandle handle{head, head->serial};
  if (shutting_down_) {
    for (Request* r = head; r; r = r->link_next) {
      r->res = -ECANCELED;
      r->where = Where::Ready;
      ready_.push_back(r);
    }
    return handle;
  }
  enqueue(head);
  return handle;
}

OpHandle EngineCore::fail(Request* request, int err) { return complete_now(request, -err); }

OpHandle EngineCore::complete_now(Request* request, std::int64_t res) {
  ++stats_.submitted;
  ++pending_;
  work_started();
  OpHandle handle{request, request->serial};
  request->res = res;
  request->where = Where::Ready;
  ready_.push_back(request);
  return handle;
}

void EngineCore::enqueue(Request* request) {
  request->offload = false;
  if (is_buffered_read(*request)) {
    request->offload = options_.offload_cold_reads &&
                       request->file->residency.should_offload(request->fd, request->offset, read_length(*request));
    if (request->offload) {
      ++stats_.cold_reads;
    } else if (request->op == Op::Read && !request->link_next && try_fast_path(request)) {
      return;
    }
  }
  if (shutting_down_ && request->op == Op::Close) {
    // The backend is being drained: close at once rather than leak the descriptor.
    request->res = sys::close(request->fd);
    request->where = Where::Ready;
    ready_.push_back(request);
    return;
  }
  if (queued_.empty() && in_backend_ + chain_length(request) <= backend_->capacity()) {
    start_in_backend(request);
  } else {
    request->where = Where::Queued;
    queued_.push_back(request);
  }
}

std::size_t EngineCore::chain_length(const Request* head) noexcept {
  std::size_t n = 0;
  for (; head; head = head->link_next) ++n;
  return n;
}

void EngineCore::start_in_backend(Request* head) {
  for (Request* r = head; r; r = r->link_next) {
    r->where = Where::Backend;
    r->live_prev = nullptr;
    r->live_next = live_;
    if (live_) live_->live_prev = r;
    live_ = r;
    ++in_backend_;
  }
  backend_->start(head);
}

bool EngineCore::is_buffered_read(const Request& request) noexcept {
  const bool read = request.op == Op::Read || request.op == Op::Readv || request.op == Op::ReadFixed;
  // A stream has no page cache to ask about; its reads go to the engine.
  return read && request.file && !(request.file->open_flags & O_DIRECT) && !request.file->stream_only;
}

std::size_t EngineCore::read_length(const Request& request) noexcept {
  if (request.op != Op::Readv) return request.len;
  std::size_t total = 0;
  for (int i = 0; i < request.iovcnt; ++i) total += request.iov[i].iov_len;
  return total;
}

bool EngineCore::try_fast_path(Request* request) {
  FileState* file = request->file;
  if (!options_.cached_read_fast_path || request->continuing || file->nowait_unsupported) return false;
  // With io_uring, one batched io_uring_enter costs less per op than a preadv2 each
  // once several ops are outstanding; a pool hand-off never does.
  if (backend_->kind() == ringfile::Backend::IoUring && pending_ > options_.fast_path_max_in_flight) return false;
  std::int64_t n = sys::pread_nowait(request->fd, request->buf, request->len, request->offset);
  if (n == -EAGAIN && options_.offload_cold_reads && file->residency.saw_uncached()) {
    request->offload = true;
    ++stats_.cold_reads;
  }
  if (n < 0) {
    if (n == -EOPNOTSUPP) file->nowait_unsupported = true;
    return false;  // not cached, or an error the real read will report
  }
  ++stats_.fast_path_reads;
  auto got = static_cast<std::size_t>(n);
  if (got == request->len || got == 0) {
    request->res = n;
    request->where = Where::Ready;
    ready_.push_back(request);
    return true;
  }
  // Part of the range was cached: the engine reads the rest.
  request->done += got;
  request->buf = static_cast<char*>(request->buf) + got;
  request->len -= got;
  if (request->offset >= 0) request->offset += n;
  request->continuing = true;
  return false;
}

void EngineCore::fill_backend() {
  while (!queued_.empty() && in_backend_ + chain_length(queued_.front()) <= backend_->capacity()) {
    start_in_backend(queued_.pop_front());
  }
}

std::error_code EngineCore::misuse() const {
  // The wrong thread is a programming error; a forked child (on the thread that
  // forked) is not: its calls just fail.
  if (std::this_thread::get_id() != owner_) assert(!"ringfile::Engine used from a thread that does not own it");
  return errno_code(EPERM);
}

Result<void> EngineCore::flush() {
  if (!on_owner_thread()) return misuse();
  submit_started();
  return {};
}

bool EngineCore::resubmit_if_needed(Request* r) {
  // A chain member cannot be rerun alone: its partner already ran or was cancelled.
  if (r->cancelled.load(std::memory_order_relaxed) || shutting_down_ || r->link_next || r->link_tail) return false;
  // close() releases the descriptor even when it fails: a retry could close a
  // number another open has been given meanwhile.
  if ((r->res == -EINTR || r->res == -EAGAIN) && r->retries < kMaxRetries && r->op != Op::Close) {
    ++r->retries;
    ++stats_.retries;
    enqueue(r);
    return true;
  }
  if (r->exact && is_transfer(r->op) && r->res > 0 && static_cast<std::size_t>(r->res) < r->len) {
    auto got = static_cast<std::size_t>(r->res);
    r->done += got;
    r->buf = static_cast<char*>(r->buf) + got;
    r->len -= got;
    if (r->offset >= 0) r->offset += r->res;
    r->retries = 0;
    enqueue(r);
    return true;
  }
  return false;
}

void EngineCore::complete(Request* r) {
  std::int64_t res = r->res;
  if (r->cancelled.load(std::memory_order_relaxed) && res == -EINTR) res = -ECANCELED;
  if (is_transfer(r->op)) {
    if (res >= 0) {
      res += static_cast<std::int64_t>(r->done);
    } else if (r->done > 0 && !r->exact) {
      res = static_cast<std::int64_t>(r->done);  // like pread: a partial count beats the error
    }
  }
  if (r->link_next) {
    // The head's result travels to the tail, which reports for the whole chain.
    r->link_next->link_res = res;
  } else if (r->link_tail) {
    const std::int64_t head = r->link_res;
    const bool head_short = head >= 0 && r->link_res_expected > 0 &&
                            static_cast<std::size_t>(head) < r->link_res_expected;
    // A failed or short head means the tail did not (or must be taken not to) run:
    // report the head's error or its count.
    if (head < 0 || head_short) res = head;
    else if (res >= 0) res = head;
  }
  FileState* file = r->file;
  Op op = r->op;
  auto callback = std::move(r->callback);
  std::optional<FileStat> stat;
  if (op == Op::Statx && res >= 0) stat = to_file_stat(r->stx);
  int open_flags = r->flags;
  pool_.release(r);
  --pending_;
  ++stats_.completed;

  if (op == Op::Close && file) {
    file->fd = -1;
    if (!file->has_handle) free_file(file);
  } else if (file) {
    file_op_finished(file);
  }

  auto error = [res] { return errno_code(static_cast<int>(-res)); };
  std::visit(
      [&](auto& cb) {
        using T = std::decay_t<decltype(cb)>;
        if constexpr (std::is_same_v<T, IoCallback>) {
          if (!cb) return;
          if (res < 0) cb(error()); else cb(static_cast<std::size_t>(res));
        } else if constexpr (std::is_same_v<T, DoneCallback>) {
          if (!cb) return;
          if (res < 0) cb(error()); else cb(Result<void>{});
        } else if constexpr (std::is_same_v<T, StatCallback>) {
          if (!cb) return;
          if (res < 0) cb(error()); else cb(*stat);
        } else if constexpr (std::is_same_v<T, RawCallback>) {
          if (cb) cb(res);
        } else if constexpr (std::is_same_v<T, OpenCallback>) {
          if (res < 0) {
            if (cb) cb(error());
            return;
          }
          File opened(new_file(static_cast<int>(res), open_flags));
          if (cb) cb(std::move(opened));
        }
      },
      callback);
}

void EngineCore::unlink_live(Request* r) noexcept {
  if (r->where != Where::Backend) return;
  (r->live_prev ? r->live_prev->live_next : live_) = r->live_next;
  if (r->live_next) r->live_next->live_prev = r->live_prev;
  r->live_prev = r->live_next = nullptr;
  --in_backend_;
}

// Delivery stopped early (a callback threw, or destroyed the engine): what is
// left goes back to the front of ready_, for the next call (or the teardown).
void EngineCore::keep_undelivered(RequestQueue& done) noexcept {
  if (done.empty()) return;
  RequestQueue kept;
  while (Request* r = done.pop_front()) {
    unlink_live(r);
    r->where = Where::Ready;
    kept.push_back(r);
  }
  kept.append(ready_);
  ready_.append(kept);
  backend_->wake();  // an event loop's next poll() has work
}

std::size_t EngineCore::deliver(RequestQueue& done) {
  std::size_t delivered = 0;
  try {
    while (!destroy_requested_) {
      Request* r = done.pop_front();
      if (!r) break;
      unlink_live(r);
      r->where = Where::Free;
      if (resubmit_if_needed(r)) continue;
      ++delivered;
      complete(r);
    }
  } catch (...) {
    keep_undelivered(done);
    throw;
  }
  keep_undelivered(done);
  return delivered;
}

std::size_t EngineCore::run_posted() {
  // Most turns have nothing posted: skip the lock. A post() that lands after this
  // look wakes the backend, so the next poll() or wait() runs it.
  if (!has_posted_.load(std::memory_order_acquire)) return 0;
  // A local batch (reusing the member's capacity): a posted function may poll().
  std::vector<std::function<void()>> batch = std::move(running_posted_);
  {
    std::lock_guard lock(posted_mutex_);
    has_posted_.store(false, std::memory_order_relaxed);
    batch.swap(posted_);
  }
  std::size_t ran = 0;
  try {
    while (ran < batch.size() && !destroy_requested_) {
      auto fn = std::move(batch[ran++]);
      fn();
    }
  } catch (...) {
    keep_unrun(batch, ran);
    throw;
  }
  keep_unrun(batch, ran);
  return ran;
}

// Posted functions after one that threw (or destroyed the engine) run next time.
void EngineCore::keep_unrun(std::vector<std::function<void()>>& batch, std::size_t ran) noexcept {
  if (ran < batch.size()) {
    std::lock_guard lock(posted_mutex_);
    posted_.insert(posted_.begin(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(ran)),
                   std::make_move_iterator(batch.end()));
    has_posted_.store(true, std::memory_order_release);
    backend_->wake();
  }
  batch.clear();
  if (running_posted_.capacity() < batch.capacity()) running_posted_ = std::move(batch);
}

// Delivers what is ready now. Completions that callbacks produce while this runs
// (a cached read finished by the fast path) wait for the next call, so one poll()
// never turns into an unbounded loop.
std::size_t EngineCore::deliver_ready(RequestQueue& done) {
  std::size_t n = run_posted();
  done.append(ready_);
  return n + deliver(done);
}

Result<std::size_t> EngineCore::poll() {
  if (!on_owner_thread()) return misuse();
  CallScope scope(*this, true);
  submit_started();
  RequestQueue done;
  backend_->reap(done, std::chrono::nanoseconds(0));
  std::size_t n = 0;
  // An epoll-driven caller sleeps after this: ops its callbacks started must be
  // with the kernel or the workers by then, also when a callback threw.
  try {
    n = deliver_ready(done);
  } catch (...) {
    if (!destroy_requested_) submit_started();
    throw;
  }
  if (!destroy_requested_) submit_started();
  return n;
}

Result<std::size_t> EngineCore::wait(std::chrono::nanoseconds timeout) {
  if (!on_owner_thread()) return misuse();
  if (depth_ > 0) return errno_code(EDEADLK);  // inside a callback: it would wait for itself
  CallScope scope(*this, false);
  return wait_in_call(timeout);
}

Result<std::size_t> EngineCore::wait_in_call(std::chrono::nanoseconds timeout) {
  using Clock = std::chrono::steady_clock;
  RequestQueue done;
  std::size_t n = deliver_ready(done);
  if (destroy_requested_) return n;
  if (n > 0 || timeout == std::chrono::nanoseconds(0)) {
    submit_started();
    return n;
  }
  const bool forever = timeout < std::chrono::nanoseconds(0);
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
  for (;;) {
    auto left = forever ? std::chrono::nanoseconds(-1) : std::chrono::nanoseconds(deadline - Clock::now());
    if (!forever && left <= std::chrono::nanoseconds(0)) return std::size_t{0};
    fill_backend();
    // Submits what is started and waits in one step (one io_uring_enter). Ops that
    // the callbacks below start are submitted by the next poll()/wait()/submit().
    work_signalled_ = false;
    backend_->reap(done, left);
    n = deliver_ready(done);
    if (n > 0 || destroy_requested_) return n;
  }
}

Result<void> EngineCore::run() {
  if (!on_owner_thread()) return misuse();
  if (depth_ > 0) return errno_code(EDEADLK);  // inside a callback: it would wait for itself
  CallScope scope(*this, false);
  for (;;) {
    while (pending_ > 0 && !destroy_requested_) {
      auto r = wait_in_call(std::chrono::nanoseconds(-1));
      if (!r) return r.error();
    }
    // A posted function may start more ops.
    if (destroy_requested_ || (run_posted() == 0 && pending_ == 0)) return {};
  }
}

void EngineCore::post(std::function<void()> fn) {
  if (in_forked_child()) return;  // the parent's queue and eventfd are not ours
  bool was_empty;
  {
    std::lock_guard lock(posted_mutex_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(fn));
    has_posted_.store(true, std::memory_order_release);
  }
  if (was_empty) backend_->wake();
}

void EngineCore::cancel(OpHandle op) {
  Request* r = op.request;
  if (!r || r->serial != op.serial || !on_owner_thread()) return;
  switch (r->where) {
    case Where::Queued:
      queued_.remove(r);
      for (Request* c = r; c; c = c->link_next) {
        c->res = -ECANCELED;
        c->where = Where::Ready;
        ready_.push_back(c);
      }
      break;
    case Where::Backend:
      if (!r->cancelled.exchange(true)) backend_->cancel(r);
      break;
    case Where::Free: case Where::Ready: case Where::Parked:
      break;  // finished already, or a close that must still happen
  }
}

void EngineCore::cancel_matching(FileState* file) {
  RequestQueue keep;
  while (Request* r = queued_.pop_front()) {
    if (file && r->file != file) {
      keep.push_back(r);
      continue;
    }
    if (r->op == Op::Close) {
      keep.push_back(r);
      continue;
    }
    for (Request* c = r; c; c = c->link_next) {
      c->res = -ECANCELED;
      c->where = Where::Ready;
      ready_.push_back(c);
    }
  }
  queued_.append(keep);
  for (Request* r = live_; r; r = r->live_next) {
    if (file && r->file != file) continue;
    if (r->op == Op::Close) continue;
    if (!r->cancelled.exchange(true)) backend_->cancel(r);
  }
  backend_->flush();
}

void EngineCore::cancel_all() { cancel_matching(nullptr); }
void EngineCore::cancel_file(FileState* file) { cancel_matching(file); }

FileState* EngineCore::new_file(int fd, int open_flags) {
  auto* file = new FileState;
  file->core = this;
  file->fd = fd;
  file->open_flags = open_flags;
  file->stream_only = sys::seek_current(fd) == -ESPIPE;
  if (open_flags & O_DIRECT) file->direct_alignment = direct_alignment_of(fd);
  file->next = files_;
  if (files_) files_->prev = file;
  files_ = file;
  backend_->file_opened(*file);
  return file;
}

void EngineCore::free_file(FileState* file) {
  (file->prev ? file->prev->next : files_) = file->next;
  if (file->next) file->next->prev = file->prev;
  delete file;
}

void EngineCore::close_file(FileState* file, Request* close_request) {
  file->closing = true;
  close_request->op = Op::Close;
  close_request->file = file;
  ++stats_.submitted;
  ++pending_;
  work_started();
  if (file->in_flight > 0) {
    close_request->where = Where::Parked;
    file->deferred_close = close_request;
    return;
  }
  backend_->file_closing(*file);
  close_request->fd = file->fd;
  enqueue(close_request);
}

void EngineCore::file_op_finished(FileState* file) {
  if (--file->in_flight > 0 || !file->deferred_close) return;
  Request* close_request = std::exchange(file->deferred_close, nullptr);
  backend_->file_closing(*file);
  close_request->fd = file->fd;
  enqueue(close_request);
}

void EngineCore::drop_handle(FileState* file) {
  file->has_handle = false;
  if (file->fd < 0) {  // never opened, or its close has completed
    free_file(file);
    return;
  }
  if (file->closing) return;  // freed when the close completes
  close_file(file, pool_.acquire());
}

std::size_t EngineCore::direct_alignment_of(int fd) {
  struct statx s {};
#ifdef STATX_DIOALIGN
  if (sys::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &s) == 0 && (s.stx_mask & STATX_DIOALIGN) &&
      s.stx_dio_offset_align > 0) {
    return std::max<std::size_t>(s.stx_dio_offset_align, s.stx_dio_mem_align);
  }
#endif
  if (sys::statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &s) == 0 && s.stx_blksize >= 512) {
    return s.stx_blksize;
  }
  return 4096;
}

EngineStats EngineCore::stats() const noexcept {
  EngineStats s = stats_;
  s.in_flight = in_backend_;
  s.queued = queued_.size();
  backend_->add_stats(s);
  return s;
}

void EngineCore::shutdown() {
  if (!backend_) return;
  ++depth_;  // callbacks run from here on may not wait() for the dying engine
  shutting_down_ = true;
  cancel_all();
  // Closes still queued are not cancelled; run them now rather than leak.
  while (Request* r = queued_.pop_front()) {
    for (Request* c = r; c; c = c->link_next) {
      c->res = c->op == Op::Close ? sys::close(c->fd) : -ECANCELED;
      c->where = Where::Ready;
      ready_.push_back(c);
    }
  }
  drain_for_shutdown();
  detach_files();
  backend_.reset();
}

// Every op completes exactly once, and no buffer is released while the kernel or
// a worker may still write it: drain until nothing is in the backend. Posted
// functions run too (a File dropped on another thread posts its close).
void EngineCore::drain_for_shutdown() {
  for (;;) {
    try {
      RequestQueue done;
      if (in_backend_ > 0) backend_->reap(done, std::chrono::milliseconds(10));
      done.append(ready_);
      deliver(done);
      fill_backend();
      backend_->flush();
      run_posted();
    } catch (...) {
      // A callback threw inside ~Engine: there is no caller left to hand the
      // exception to. The other completions are still delivered.
    }
    if (in_backend_ == 0 && queued_.empty() && ready_.empty() && !has_posted_.load()) break;
  }
  assert(pending_ == 0 && "a request was lost");
}

// File handles that outlive the engine own their descriptor from now on.
void EngineCore::detach_files() noexcept {
  while (FileState* f = files_) {
    files_ = f->next;
    if (f->has_handle) {
      f->core = nullptr;  // the File handle closes the descriptor itself
      f->prev = f->next = nullptr;
      continue;
    }
    if (f->fd >= 0) sys::close(f->fd);
    delete f;
  }
}

}  // namespace detail

Engine::Engine(std::unique_ptr<detail::EngineCore> core) noexcept : core_(std::move(core)) {}
Engine::Engine(Engine&&) noexcept = default;

Engine& Engine::operator=(Engine&& other) noexcept {
  if (this != &other) {
    destroy_core();
    core_ = std::move(other.core_);
  }
  return *this;
}

Engine::~Engine() { destroy_core(); }

// Inside a callback the delivery loop still runs on the core: it is destroyed
// when the outermost poll()/wait()/run() returns.
void Engine::destroy_core() noexcept {
  if (core_ && core_->destroy_when_unwound()) (void)core_.release();
  core_.reset();
}

namespace {

// The run-time choice for Backend::Auto: RINGFILE_BACKEND, else the build default.
Result<Backend> resolve_auto() {
  if (const char* env = std::getenv("RINGFILE_BACKEND"); env && *env) {
    std::string_view v(env);
    if (v == "io_uring") return Backend::IoUring;
    if (v == "threadpool") return Backend::ThreadPool;
    if (v == "auto") return Backend::Auto;
    return errno_code(EINVAL);
  }
  std::string_view built(RINGFILE_DEFAULT_BACKEND);
  if (built == "threadpool") return Backend::ThreadPool;
  return Backend::Auto;
}

}  // namespace

Result<Engine> Engine::create(const EngineOptions& options) {
  Backend want = options.backend;
  if (want == Backend::Auto) {
    auto resolved = resolve_auto();
    if (!resolved) return resolved.error();
    want = *resolved;
  }
  std::unique_ptr<detail::Backend> backend;
  std::string reason;
  if (want != Backend::ThreadPool) {
#if RINGFILE_HAVE_IO_URING
    int err = 0;
    backend = detail::make_uring_backend(options, err, reason);
    if (!backend && options.backend == Backend::IoUring) return errno_code(err);
#else
    reason = "io_uring engine not built (meson -Dio_uring=disabled or liburing missing)";
    if (options.backend == Backend::IoUring) return errno_code(ENOTSUP);
#endif
  }
  try {
    if (!backend) backend = detail::make_threadpool_backend(options);
  } catch (const std::system_error& e) {
    return e.code();
  }
  return Engine(std::make_unique<detail::EngineCore>(std::move(backend), options, std::move(reason)));
}

namespace {

// A moved-from Engine has no core; every call on it fails with EBADF.
const std::error_code kNoEngine = errno_code(EBADF);

}  // namespace

Backend Engine::backend() const noexcept { return core_ ? core_->backend().kind() : Backend::Auto; }

const std::string& Engine::fallback_reason() const noexcept {
  static const std::string none;
  return core_ ? core_->fallback_reason() : none;
}

std::string Engine::describe() const {
  if (!core_) return "no engine (moved from)";
  std::string s = core_->backend().describe();
  if (!core_->fallback_reason().empty()) s += "; io_uring not used: " + core_->fallback_reason();
  return s;
}

EngineStats Engine::stats() const noexcept { return core_ ? core_->stats() : EngineStats{}; }

Result<void> Engine::submit() {
  if (!core_) return kNoEngine;
  return core_->flush();
}

Result<std::size_t> Engine::poll() {
  if (!core_) return kNoEngine;
  return core_->poll();
}

Result<std::size_t> Engine::wait(std::chrono::nanoseconds timeout) {
  if (!core_) return kNoEngine;
  return core_->wait(timeout);
}

Result<void> Engine::run() {
  if (!core_) return kNoEngine;
  return core_->run();
}

std::size_t Engine::pending() const noexcept { return core_ ? core_->pending() : 0; }
int Engine::event_fd() const noexcept { return core_ ? core_->watch_event_fd() : -1; }

void Engine::post(std::function<void()> fn) {
  if (core_) core_->post(std::move(fn));
}

Result<void> Engine::register_buffers(std::span<const iovec> buffers) {
  if (!core_) return kNoEngine;
  if (!core_->on_owner_thread()) return core_->misuse();
  auto registered = core_->backend().register_buffers(buffers);
  if (registered) core_->set_registered_buffers(buffers);
  return registered;
}

Result<void> Engine::unregister_buffers() {
  if (!core_) return kNoEngine;
  if (!core_->on_owner_thread()) return core_->misuse();
  core_->set_registered_buffers({});
  return core_->backend().unregister_buffers();
}

void Engine::cancel_all() {
  if (core_ && core_->on_owner_thread()) core_->cancel_all();
}

void Engine::cancel(OpHandle op) {
  if (core_) core_->cancel(op);
}

}  // namespace ringfile
