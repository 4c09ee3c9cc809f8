#include "uring/uring_backend.hpp"

#include "eventfd.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>
#include <thread>
#include <utility>

#include <liburing.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "file_state.hpp"
#include "sys.hpp"

namespace ringfile::detail {

namespace uring_testing {
std::atomic<int> first_rung{-1};
}  // namespace uring_testing

namespace {

using Clock = std::chrono::steady_clock;

// user_data of the ring's own SQEs. A Request* is never this small, and liburing's
// timeout SQE (kernels without EXT_ARG) uses LIBURING_UDATA_TIMEOUT, all ones.
constexpr std::uint64_t kWakeTag = 1;
constexpr std::uint64_t kCancelTag = 2;
constexpr std::uint64_t kFirstRequestTag = 4096;

constexpr unsigned kMaxEntries = 32768;  // IORING_MAX_ENTRIES

// The helper pool runs what the ring can't (ops without an opcode, refused ops)
// and reads of uncached data. A fixed few workers, two per core: enough to keep
// readahead going, and never so many runnable threads that they crowd out the
// event loop on its own core (a pool grown to dozens did, by 10-20 ms).
unsigned helper_workers() { return std::clamp(2 * std::thread::hardware_concurrency(), 4u, 16u); }
constexpr std::size_t kMaxTransfer = 0x7ffff000;  // MAX_RW_COUNT: the kernel never moves more at once

struct RungSpec {
  UringRung rung;
  unsigned flags;
};

// TASKRUN_FLAG makes the kernel raise IORING_SQ_TASKRUN while completions wait as
// task work, so a non-blocking reap enters the kernel only when that is needed.
constexpr RungSpec kRungs[] = {
    {UringRung::DeferTaskrun, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_TASKRUN_FLAG},
    {UringRung::CoopTaskrun, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG},
    {UringRung::Plain, 0},
};
constexpr int kRungCount = static_cast<int>(std::size(kRungs));

struct FlagName {
  unsigned flag;
  const char* name;
};

constexpr FlagName kSetupFlags[] = {
    {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"}, {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
    {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},   {IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL"},
    {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"},   {IORING_SETUP_SQPOLL, "SQPOLL"},
};

std::string setup_flag_names(unsigned flags) {
  std::string out;
  for (const auto& f : kSetupFlags) {
    if (!(flags & f.flag)) continue;
    if (!out.empty()) out += '|';
    out += f.name;
  }
  return out.empty() ? "no setup flags" : out;
}

int start_rung() {
  int rung = uring_testing::first_rung.load();
  if (rung < 0) {
    rung = 0;
    if (const char* env = std::getenv("RINGFILE_URING_RUNG"); env && *env) {
      std::from_chars(env, env + std::strlen(env), rung);
    }
  }
  return std::clamp(rung, 0, kRungCount - 1);
}

// -1 when the sysctl does not exist (kernels before 6.6).
int io_uring_disabled_sysctl() {
  std::FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "re");
  if (!f) return -1;
  int value = -1;
  if (std::fscanf(f, "%d", &value) != 1) value = -1;
  std::fclose(f);
  return value;
}

std::string setup_refusal(int err) {
  std::string out = "io_uring_setup: " + std::system_category().message(err);
  switch (err) {
    case EPERM:
    case EACCES: {
      int disabled = io_uring_disabled_sysctl();
      if (disabled == 2) return out + " (kernel.io_uring_disabled=2)";
      if (disabled == 1) return out + " (kernel.io_uring_disabled=1 and not in kernel.io_uring_group?)";
      if (disabled == 0) return out + " (kernel.io_uring_disabled=0, so a seccomp filter or an LSM?)";
      return out + " (a seccomp filter or an LSM?)";
    }
    case ENOSYS: return out + " (kernel built without io_uring, or a seccomp filter?)";
    case ENOMEM: return out + " (RLIMIT_MEMLOCK too small for the rings?)";
    case EINVAL: return out + " (kernel too old for io_uring?)";
    default: return out;
  }
}

unsigned op_bit(Op op) noexcept { return 1u << static_cast<unsigned>(op); }

unsigned transfer_len(std::size_t len) noexcept {
  return static_cast<unsigned>(std::min(len, kMaxTransfer));
}

// Ops whose fd may be a registered-file slot.
bool takes_file(Op op) noexcept {
  switch (op) {
    case Op::Read: case Op::Write: case Op::Readv: case Op::Writev:
    case Op::ReadFixed: case Op::WriteFixed: case Op::Fsync: case Op::Fdatasync:
    case Op::Fallocate:
      return true;
    default:
      return false;
  }
}

}  // namespace

UringBackend::UringBackend() = default;

std::unique_ptr<UringBackend> UringBackend::create(const EngineOptions& options, int& err,
                                                   std::string& reason) {
  std::unique_ptr<UringBackend> backend(new UringBackend());
  if (int ret = backend->init(options, reason); ret < 0) {
    err = -ret;
    return nullptr;
  }
  err = 0;
  return backend;
}

std::unique_ptr<Backend> make_uring_backend(const EngineOptions& options, int& err, std::string& reason) {
  return UringBackend::create(options, err, reason);
}

int UringBackend::init(const EngineOptions& options, std::string& reason) {
  ring_ = std::make_unique<io_uring>();
  sqpoll_ = options.sqpoll;
  if (sqpoll_) setup_credentials_ = current_credentials();
  const unsigned entries = std::clamp(options.queue_depth, 4u, kMaxEntries);

  int ret = -EINVAL;
  for (int i = start_rung(); i < kRungCount; ++i) {
    io_uring_params params;
    std::memset(&params, 0, sizeof params);
    params.flags = kRungs[i].flags | IORING_SETUP_CQSIZE | (sqpoll_ ? IORING_SETUP_SQPOLL : 0u);
    params.cq_entries = 2 * entries;
    ret = sys::intercept(sys::Call::uring_setup).error;
    if (ret == 0) ret = io_uring_queue_init_params(entries, ring(), &params);
    if (ret == 0) {
      rung_ = kRungs[i].rung;
      setup_flags_ = params.flags & ~IORING_SETUP_CQSIZE;
      break;
    }
    if (ret != -EINVAL) break;
  }
  if (ret < 0) {
    reason = setup_refusal(-ret);
    return ret;
  }
  ring_ready_ = true;

  probe_ = probe_ring(*ring());
  const std::pair<int, const char*> required[] = {
      {IORING_OP_READ, "IORING_OP_READ"},
      {IORING_OP_WRITE, "IORING_OP_WRITE"},
      {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
      {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
  };
  for (const auto& [opcode, name] : required) {
    if (!probe_.supports_opcode(opcode)) {
      reason = std::string("io_uring has no ") + name + " (kernel older than 5.6?)";
      return -ENOSYS;
    }
  }

  // Optional, so failures are ignored: a forked child must not share the ring's
  // memory, and a registered ring fd saves a file lookup on every enter.
  io_uring_ring_dontfork(ring());
  io_uring_register_ring_fd(ring());
  if (options.iowq_max_bounded || options.iowq_max_unbounded) {
    unsigned limits[2] = {options.iowq_max_bounded, options.iowq_max_unbounded};
    io_uring_register_iowq_max_workers(ring(), limits);
  }

  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0 || wake_fd_ < 0) {
    int err = errno;
    reason = "eventfd: " + std::system_category().message(err);
    return -err;
  }
  if (ret = io_uring_register_eventfd(ring(), event_fd_); ret < 0) {
    reason = "io_uring_register_eventfd: " + std::system_category().message(-ret);
    return ret;
  }

  if (options.fixed_file_slots > 0) {
    const unsigned slots = options.fixed_file_slots;
    ret = sys::intercept(sys::Call::uring_register).error;
    if (ret == 0) ret = io_uring_register_files_sparse(ring(), slots);
    if (ret == -EINVAL) {
      // Before 5.19 there is no sparse flag, but a table of -1 is just as empty.
      std::vector<int> empty(slots, -1);
      ret = io_uring_register_files(ring(), empty.data(), slots);
    }
    if (ret == 0) {
      fixed_file_slots_ = slots;
      free_slots_.reserve(slots);
      for (unsigned s = slots; s-- > 0;) free_slots_.push_back(s);
    }
  }

  // Room in the CQ for one CQE per request, one per cancel of it, the wake poll and
  // liburing's wait timeout: the CQ cannot overflow.
  capacity_ = std::max(1u, cq_entries() / 2 - 2);

  arm_wake();
  submit();
  return 0;
}

UringBackend::~UringBackend() {
  if (ring_ready_) drain_before_exit();
  helper_.reset();  // joins its workers, which write wake_fd_
  if (ring_ready_) io_uring_queue_exit(ring());
  if (event_fd_ >= 0) ::close(event_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

// The core drains everything before it destroys the backend. This only guards
// against a request left behind: the kernel may still write its buffer, so it is
// cancelled and waited for before the ring goes.
void UringBackend::drain_before_exit() {
  closing_ = true;
  if (ring_requests_ == 0) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);  // -EINVAL before 5.19: wait instead
  io_uring_sqe_set_data64(sqe, kCancelTag);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (ring_requests_ > 0 && Clock::now() < deadline) {
    __kernel_timespec ts{};
    ts.tv_nsec = 100'000'000;
    io_uring_cqe* cqe = nullptr;
    int ret = io_uring_submit_and_wait_timeout(ring(), &cqe, 1, &ts, nullptr);
    if (ret < 0 && ret != -ETIME && ret != -EINTR) break;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(ring(), head, cqe) {
      ++seen;
      if (cqe->user_data >= kFirstRequestTag && cqe->user_data != LIBURING_UDATA_TIMEOUT) --ring_requests_;
    }
    io_uring_cq_advance(ring(), seen);
  }
}

unsigned UringBackend::sq_entries() const noexcept { return ring_->sq.ring_entries; }
unsigned UringBackend::cq_entries() const noexcept { return ring_->cq.ring_entries; }

std::string UringBackend::describe() const {
  std::string out = "io_uring (" + setup_flag_names(setup_flags_) + ", sq=" + std::to_string(sq_entries()) +
                    " cq=" + std::to_string(cq_entries()) + ", features: " + probe_.feature_names();
  if (fixed_file_slots_ > 0) out += ", fixed files: " + std::to_string(fixed_file_slots_);
  return out + ")";
}

int UringBackend::event_fd() const noexcept {
  // From now on reap() resets the eventfd, so a level-triggered epoll does not spin.
  // Engines nobody watches skip that read.
  event_fd_watched_ = true;
  return event_fd_;
}

void UringBackend::wake() noexcept {
  write_eventfd(wake_fd_);
  write_eventfd(event_fd_);
}

void UringBackend::signal_event_fd() noexcept {
  event_fd_watched_ = true;  // reap() resets it from now on
  write_eventfd(event_fd_);
}

UringBackend::Credentials UringBackend::current_credentials() {
  Credentials c;
  ::getresuid(&c.uid[0], &c.uid[1], &c.uid[2]);
  ::getresgid(&c.gid[0], &c.gid[1], &c.gid[2]);
  const int n = ::getgroups(0, nullptr);
  if (n > 0) {
    c.groups.resize(static_cast<std::size_t>(n));
    c.groups.resize(static_cast<std::size_t>(std::max(0, ::getgroups(n, c.groups.data()))));
  }
  return c;
}

bool UringBackend::credentials_changed() const { return !(current_credentials() == setup_credentials_); }

bool UringBackend::needs_helper(const Request& request) const noexcept {
  if (request.offload) return true;
  if (!probe_.supports_opcode(uring_opcode(request.op))) return true;
  return request.file && (request.file->helper_ops & op_bit(request.op));
}

// `head` may lead a chain (link_next): it goes to the kernel as IOSQE_IO_LINK
// SQEs, or whole to the helper pool, which runs a chain in order on one worker.
void UringBackend::start(Request* head) {
  if (sqpoll_ && credentials_changed()) {
    // The SQ thread would run it with the set-up credentials (libuv's
    // CVE-2024-22017): refuse rather than act with privileges the process dropped.
    for (Request* r = head; r; r = r->link_next) {
      r->res = -EPERM;
      early_.push_back(r);
    }
    return;
  }
  unsigned length = 0;
  bool helper = false;
  for (Request* r = head; r; r = r->link_next) {
    r->on_helper = false;
    helper = helper || needs_helper(*r);
    ++length;
  }
  if (helper) {
    run_on_helper(head);
    return;
  }
  // A link does not reach across two submissions: the chain goes in one.
  if (length > 1) make_room(length);
  for (Request* r = head; r; r = r->link_next) {
    io_uring_sqe* sqe = prep(*r);
    if (r->link_next) sqe->flags |= IOSQE_IO_LINK;
    ++ring_requests_;
  }
}

void UringBackend::make_room(unsigned sqes) {
  while (io_uring_sq_space_left(ring()) < sqes) submit_to_make_room();
}

// The SQ is full: hand it to the kernel and reuse the slots.
void UringBackend::submit_to_make_room() {
  if (submit() < 0) {
    // The kernel wants room in the CQ first (or is short of memory): move what is
    // there aside; the next reap delivers it.
    take_cqes(early_);
    io_uring_get_events(ring());
  }
  if (sqpoll_) io_uring_sqring_wait(ring());
}

io_uring_sqe* UringBackend::prep(Request& r) {
  io_uring_sqe* sqe = get_sqe();
  const auto offset = static_cast<std::uint64_t>(r.offset);
  const char* path = r.path.c_str();
  const char* path2 = r.path2.c_str();
  switch (r.op) {
    case Op::Read: io_uring_prep_read(sqe, r.fd, r.buf, transfer_len(r.len), offset); break;
    case Op::Write: io_uring_prep_write(sqe, r.fd, r.buf, transfer_len(r.len), offset); break;
    case Op::Readv: io_uring_prep_readv(sqe, r.fd, r.iov, static_cast<unsigned>(r.iovcnt), offset); break;
    case Op::Writev: io_uring_prep_writev(sqe, r.fd, r.iov, static_cast<unsigned>(r.iovcnt), offset); break;
    case Op::ReadFixed:
      io_uring_prep_read_fixed(sqe, r.fd, r.buf, transfer_len(r.len), offset, static_cast<int>(r.buf_index));
      break;
    case Op::WriteFixed:
      io_uring_prep_write_fixed(sqe, r.fd, r.buf, transfer_len(r.len), offset, static_cast<int>(r.buf_index));
      break;
    case Op::Fsync: io_uring_prep_fsync(sqe, r.fd, 0); break;
    case Op::Fdatasync: io_uring_prep_fsync(sqe, r.fd, IORING_FSYNC_DATASYNC); break;
    case Op::Open:
      io_uring_prep_openat(sqe, r.dirfd, path, r.flags | O_CLOEXEC, static_cast<mode_t>(r.mode));
      break;
    case Op::Close: io_uring_prep_close(sqe, r.fd); break;
    case Op::Statx:
      io_uring_prep_statx(sqe, r.dirfd, path, r.flags, static_cast<unsigned>(r.mode), &r.stx);
      break;
    case Op::Fallocate: io_uring_prep_fallocate(sqe, r.fd, r.mode, r.offset, r.len2); break;
    case Op::Rename:
      io_uring_prep_renameat(sqe, r.dirfd, path, r.dirfd, path2, static_cast<unsigned>(r.flags));
      break;
    case Op::Unlink: io_uring_prep_unlinkat(sqe, r.dirfd, path, r.flags); break;
    case Op::Mkdir: io_uring_prep_mkdirat(sqe, r.dirfd, path, static_cast<mode_t>(r.mode)); break;
    case Op::Symlink: io_uring_prep_symlinkat(sqe, path, r.dirfd, path2); break;
    case Op::Link: io_uring_prep_linkat(sqe, r.dirfd, path, r.dirfd, path2, r.flags); break;
    case Op::Nop:
    case Op::Ftruncate:  // no opcode: needs_helper() sent these to the pool
    case Op::Call:
    case Op::count_:
      io_uring_prep_nop(sqe);
      break;
  }
  if (takes_file(r.op) && r.file && r.file->fixed_slot >= 0 && r.fd == r.file->fd) {
    sqe->fd = r.file->fixed_slot;
    sqe->flags |= IOSQE_FIXED_FILE;
  }
  io_uring_sqe_set_data(sqe, &r);
  return sqe;
}

io_uring_sqe* UringBackend::get_sqe() {
  for (;;) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(ring())) return sqe;
    submit_to_make_room();
  }
}

int UringBackend::submit() {
  if (!sqpoll_ || (IO_URING_READ_ONCE(*ring()->sq.kflags) & IORING_SQ_NEED_WAKEUP)) ++enters_;
  return io_uring_submit(ring());
}

void UringBackend::flush() {
  if (io_uring_sq_ready(ring()) > 0) submit();
  if (helper_unflushed_) {
    helper_unflushed_ = false;
    helper_->flush();
  }
}

// With DEFER_TASKRUN (and COOP_TASKRUN) finished requests wait as task work until
// this thread enters the kernel; meanwhile the CQ looks empty although the eventfd
// fired. The kernel flags that state. One enter runs a bounded batch of it (20 on
// 6.x) and leaves the flag up while more waits, so keep entering while it is up;
// the bound on rounds only keeps one reap from running unboundedly long.
void UringBackend::enter_if_needed() {
  constexpr unsigned kPending = IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW;
  if (!(IO_URING_READ_ONCE(*ring()->sq.kflags) & kPending)) {
    if (io_uring_sq_ready(ring()) > 0) submit();
    return;
  }
  ++enters_;
  io_uring_submit_and_get_events(ring());
  for (int round = 0; round < 64 && (IO_URING_READ_ONCE(*ring()->sq.kflags) & kPending); ++round) {
    ++enters_;
    io_uring_get_events(ring());
  }
}

void UringBackend::reap(RequestQueue& done, std::chrono::nanoseconds timeout) {
  // Reset before looking: a completion posted after this makes it readable again.
  if (event_fd_watched_) drain_eventfd(event_fd_);
  enter_if_needed();
  std::size_t got = take_cqes(done) + take_helper(done);
  if (!early_.empty()) {
    got += early_.size();
    done.append(early_);
  }
  const bool woken = std::exchange(woken_, false);
  if (got == 0 && !woken && timeout != std::chrono::nanoseconds::zero()) wait(done, timeout);
}

// Blocks in one io_uring_enter that also submits. It returns on any CQE, including
// the wake poll that wake() and the helper pool trigger.
void UringBackend::wait(RequestQueue& done, std::chrono::nanoseconds timeout) {
  const bool forever = timeout < std::chrono::nanoseconds::zero() || timeout > std::chrono::hours(24 * 365);
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
  for (;;) {
    __kernel_timespec ts{};
    __kernel_timespec* limit = nullptr;
    if (!forever) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
      if (left <= 0) return;
      ts.tv_sec = left / 1'000'000'000;
      ts.tv_nsec = left % 1'000'000'000;
      limit = &ts;
    }
    io_uring_cqe* cqe = nullptr;
    ++enters_;
    int ret = io_uring_submit_and_wait_timeout(ring(), &cqe, 1, limit, nullptr);
    enter_if_needed();  // the wait ran one batch of deferred completions; take the rest too
    std::size_t got = take_cqes(done) + take_helper(done);
    if (!early_.empty()) {
      got += early_.size();
      done.append(early_);
    }
    if (got > 0 || std::exchange(woken_, false)) return;
    // Only internal CQEs (a cancel's, an old wait timeout's) arrived: keep waiting.
    // A signal or an error returns to the caller, which comes back if it wants.
    if (ret < 0 && ret != -ETIME) return;
  }
}

std::size_t UringBackend::take_cqes(RequestQueue& done) {
  std::size_t got = 0;
  bool rearm = false;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring(), head, cqe) {
    ++seen;
    const std::uint64_t tag = cqe->user_data;
    if (tag == kWakeTag) {
      rearm = true;
    } else if (tag >= kFirstRequestTag && tag != LIBURING_UDATA_TIMEOUT) {
      got += finish(reinterpret_cast<Request*>(static_cast<std::uintptr_t>(tag)), cqe->res, done);
    }
  }
  io_uring_cq_advance(ring(), seen);
  // Requests that fell back go to the helper now, before this thread blocks.
  if (helper_unflushed_) {
    helper_unflushed_ = false;
    helper_->flush();
  }
  if (rearm) {
    woken_ = true;
    // Reset, then re-arm: a wake() in between finds the fd readable at arming time.
    drain_eventfd(wake_fd_);
    if (!closing_) arm_wake();
  }
  return got;
}

std::size_t UringBackend::finish(Request* request, int cqe_res, RequestQueue& done) {
  --ring_requests_;
  std::int64_t res = cqe_res;
  if (const sys::Call call = seam_call(request->op); call != sys::Call::count_) res = sys::complete(call, res);
  // The seam failed an open the kernel did: close what the caller will never see.
  if (request->op == Op::Open && cqe_res >= 0 && res < 0) ::close(cqe_res);
  const bool cancelled = request->cancelled.load(std::memory_order_relaxed);
  if (!cancelled && request->op == Op::Open && reopen_blocking(*request, static_cast<int>(res))) {
    run_on_helper(request);
    return 0;
  }
  // io-wq interrupts a blocked worker to cancel it; the caller asked for ECANCELED.
  if (cancelled && res == -EINTR) res = -ECANCELED;
  if (!cancelled && should_fall_back(*request, res)) {
    FileState* file = request->file;
    if (request->link_next || request->link_tail) {
      // Not re-run alone: the kernel has cancelled the rest of its chain. The file
      // remembers, so its next chain goes to the helper whole.
      if (file && res == -EOPNOTSUPP) file->helper_ops |= op_bit(request->op);
    } else {
      if (file && res == -EOPNOTSUPP) file->helper_ops |= op_bit(request->op);
      if (file && res == -EINVAL) probation_.push_back(request);
      run_on_helper(request);
      return 0;
    }
  }
  request->res = res;
  done.push_back(request);
  return 1;
}

// io_uring opens without blocking first (O_NONBLOCK), which on a FIFO is not what
// open(2) does: a write open with no reader fails with ENXIO instead of waiting,
// and a read open with no writer succeeds at once, so the first read sees end of
// file. The pool engine blocks as open(2) does, and so must this one: a write
// open is repeated on the helper pool, the blocking way. A read open keeps its
// descriptor while a helper opens the blocking way, which returns once a writer
// is there (at once when one already is); data or a hang-up already waiting on
// the kept descriptor means a writer came and went, so that descriptor is the result.
bool UringBackend::reopen_blocking(Request& request, int res) noexcept {
  if (request.flags & O_NONBLOCK) return false;
  if (res == -ENXIO) return (request.flags & O_ACCMODE) != O_RDONLY;
  if (res < 0 || (request.flags & O_ACCMODE) != O_RDONLY) return false;
  struct stat st {};
  if (::fstat(res, &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  request.fifo_placeholder = res;
  request.op = Op::Call;  // back to Op::Open in take_helper()
  request.work = [r = &request, fd = res]() -> std::int64_t {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) return fd;
    for (;;) {
      const int opened = sys::openat(r->dirfd, r->path.c_str(), r->flags, static_cast<mode_t>(r->mode));
      if (opened != -EINTR || r->cancelled.load(std::memory_order_relaxed)) return opened;
    }
  };
  return true;
}

// EOPNOTSUPP: the filesystem can't do it through io_uring. EINVAL too for metadata
// ops, but not for transfers, where it is usually real (misaligned O_DIRECT).
bool UringBackend::should_fall_back(const Request& request, std::int64_t res) const noexcept {
  if (request.op == Op::Close) return false;  // the kernel released the fd either way
  if (res == -EOPNOTSUPP) return true;
  if (res != -EINVAL) return false;
  switch (request.op) {
    case Op::Fallocate: case Op::Statx: case Op::Open: case Op::Rename:
    case Op::Unlink: case Op::Mkdir: case Op::Symlink: case Op::Link:
      return true;
    default:
      return false;
  }
}

// Takes `head` and the chain behind it, if any.
void UringBackend::run_on_helper(Request* head) {
  if (!helper_) {
    EngineOptions options;
    options.backend = ringfile::Backend::ThreadPool;
    options.workers = helper_workers();
    options.spin_us = 0;  // rare work: no core spent waiting for it
    options.queue_depth = capacity_;
    int err = 0;
    try {
      helper_ = make_threadpool_backend(options, wake_fd_, event_fd_);
    } catch (const std::system_error& e) {
      err = e.code().value();
    } catch (const std::bad_alloc&) {
      err = ENOMEM;
    }
    if (!helper_) {
      for (Request* r = head; r; r = r->link_next) {
        if (r->fifo_placeholder >= 0) ::close(std::exchange(r->fifo_placeholder, -1));
        r->res = -err;
        early_.push_back(r);
      }
      return;
    }
  }
  for (Request* r = head; r; r = r->link_next) {
    if (r->op != Op::Call && !r->offload) ++fallbacks_;
    r->on_helper = true;
    ++helper_requests_;
  }
  helper_->start(head);
  helper_unflushed_ = true;
}

std::size_t UringBackend::take_helper(RequestQueue& done) {
  if (helper_requests_ == 0) return 0;
  RequestQueue got;
  helper_->reap(got, std::chrono::nanoseconds::zero());
  std::size_t n = 0;
  while (Request* r = got.pop_front()) {
    --helper_requests_;
    r->on_helper = false;
    if (r->res == -EINTR && r->cancelled.load(std::memory_order_relaxed)) r->res = -ECANCELED;
    if (r->fifo_placeholder >= 0) {
      r->op = Op::Open;
      r->work.reset();
      const int fd = std::exchange(r->fifo_placeholder, -1);
      if (r->res != fd) ::close(fd);
    }
    if (auto it = std::find(probation_.begin(), probation_.end(), r); it != probation_.end()) {
      if (r->res >= 0) r->file->helper_ops |= op_bit(r->op);
      probation_.erase(it);
    }
    done.push_back(r);
    ++n;
  }
  return n;
}

void UringBackend::arm_wake() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, wake_fd_, POLLIN);
  io_uring_sqe_set_data64(sqe, kWakeTag);
}

void UringBackend::cancel(Request* request) {
  if (request->on_helper) {
    helper_->cancel(request);
    return;
  }
  // Its CQE comes back through reap with -ECANCELED, or with its own result if the
  // cancel came too late.
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, reinterpret_cast<std::uintptr_t>(request), 0);
  io_uring_sqe_set_data64(sqe, kCancelTag);
}

Result<void> UringBackend::register_buffers(std::span<const iovec> buffers) {
  if (int err = sys::intercept(sys::Call::uring_register).error; err < 0) return errno_code(-err);
  if (buffers_registered_) {
    io_uring_unregister_buffers(ring());
    buffers_registered_ = false;
  }
  int ret = io_uring_register_buffers(ring(), buffers.data(), static_cast<unsigned>(buffers.size()));
  if (ret < 0) return errno_code(-ret);  // ENOMEM: over RLIMIT_MEMLOCK
  buffers_registered_ = true;
  return {};
}

Result<void> UringBackend::unregister_buffers() {
  if (!buffers_registered_) return {};
  buffers_registered_ = false;
  if (int ret = io_uring_unregister_buffers(ring()); ret < 0) return errno_code(-ret);
  return {};
}

void UringBackend::file_opened(FileState& file) {
  if (free_slots_.empty() || file.fd < 0) return;
  if (sys::intercept(sys::Call::uring_register).error) return;
  const unsigned slot = free_slots_.back();
  int fd = file.fd;
  if (io_uring_register_files_update(ring(), slot, &fd, 1) != 1) return;
  free_slots_.pop_back();
  file.fixed_slot = static_cast<int>(slot);
}

void UringBackend::file_closing(FileState& file) {
  if (file.fixed_slot < 0) return;
  const auto slot = static_cast<unsigned>(file.fixed_slot);
  file.fixed_slot = -1;
  int none = -1;
  // A slot that could not be cleared still holds the file; it is not reused.
  if (io_uring_register_files_update(ring(), slot, &none, 1) == 1) free_slots_.push_back(slot);
}

void UringBackend::add_stats(EngineStats& stats) const noexcept {
  stats.kernel_enters += enters_;
  stats.fallback_ops += fallbacks_;
}

}  // namespace ringfile::detail
