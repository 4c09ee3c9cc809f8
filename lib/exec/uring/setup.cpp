// Setting up the ring: the set-up flag ladder, why the kernel refused it, the
// opcodes the engine can't do without, the eventfds, and registered tables.

#include "exec/uring/uring_backend.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sys/sys.hpp"

namespace ringfile::detail {

namespace uring_testing {
std::atomic<int> first_rung{-1};
}  // namespace uring_testing

namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kMaxEntries = 32768;  // IORING_MAX_ENTRIES

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

std::unique_ptr<Executor> make_uring_backend(const EngineOptions& options, int& err, std::string& reason) {
  return UringBackend::create(options, err, reason);
}

int UringBackend::init(const EngineOptions& options, std::string& reason) {
  ring_ = std::make_unique<io_uring>();
  sqpoll_ = options.sqpoll;
  if (int ret = set_up_ring(std::clamp(options.queue_depth, 4u, kMaxEntries), reason); ret < 0) return ret;
  ring_ready_ = true;
  if (sqpoll_) overflow_.reserve(2 * sq_entries());
  probe_ = probe_ring(*ring());
  if (int ret = check_required_opcodes(reason); ret < 0) return ret;

  // Optional, so failures are ignored: a forked child must not share the ring's
  // memory, and a registered ring fd saves a file lookup on every enter.
  io_uring_ring_dontfork(ring());
  io_uring_register_ring_fd(ring());
  if (options.iowq_max_bounded || options.iowq_max_unbounded) {
    unsigned limits[2] = {options.iowq_max_bounded, options.iowq_max_unbounded};
    io_uring_register_iowq_max_workers(ring(), limits);
  }
  if (int ret = set_up_eventfds(reason); ret < 0) return ret;
  if (options.fixed_file_slots > 0) set_up_fixed_files(options.fixed_file_slots);

  // Room in the CQ for one CQE per request, one per cancel of it, the wake poll and
  // liburing's wait timeout: the CQ cannot overflow.
  capacity_ = std::max(1u, cq_entries() / 2 - 2);
  arm_wake();
  submit();
  return 0;
}

// Walks down the ladder while the kernel says EINVAL (a flag it does not know).
int UringBackend::set_up_ring(unsigned entries, std::string& reason) {
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
      return 0;
    }
    if (ret != -EINVAL) break;
  }
  reason = setup_refusal(-ret);
  return ret;
}

int UringBackend::check_required_opcodes(std::string& reason) const {
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
  return 0;
}

int UringBackend::set_up_eventfds(std::string& reason) {
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0 || wake_fd_ < 0) {
    int err = errno;
    reason = "eventfd: " + std::system_category().message(err);
    return -err;
  }
  if (int ret = io_uring_register_eventfd(ring(), event_fd_); ret < 0) {
    reason = "io_uring_register_eventfd: " + std::system_category().message(-ret);
    return ret;
  }
  return 0;
}

void UringBackend::set_up_fixed_files(unsigned slots) {
  int ret = sys::intercept(sys::Call::uring_register).error;
  if (ret == 0) ret = io_uring_register_files_sparse(ring(), slots);
  if (ret == -EINVAL) {
    // Before 5.19 there is no sparse flag, but a table of -1 is just as empty.
    std::vector<int> empty(slots, -1);
    ret = io_uring_register_files(ring(), empty.data(), slots);
  }
  if (ret != 0) return;
  fixed_file_slots_ = slots;
  free_slots_.reserve(slots);
  for (unsigned s = slots; s-- > 0;) free_slots_.push_back(s);
}

UringBackend::~UringBackend() {
  if (ring_ready_) {
    drain_before_exit();
    io_uring_queue_exit(ring());
  }
  if (event_fd_ >= 0) ::close(event_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

// The core drains everything before it destroys the executor. This only guards
// against a request left behind: the kernel may still write its buffer, so it is
// cancelled and waited for before the ring goes.
void UringBackend::drain_before_exit() {
  closing_ = true;
  for (const io_uring_sqe& waiting : overflow_) {  // never reached the kernel
    if (waiting.user_data >= kFirstRequestTag && waiting.user_data != LIBURING_UDATA_TIMEOUT) --ring_requests_;
  }
  overflow_.clear();
  overflowing_ = false;
  if (ring_requests_ == 0) return;
  if (sqpoll_) {
    while (io_uring_sq_space_left(ring()) == 0) {  // destruction may wait for the SQ thread
      submit();
      io_uring_sqring_wait(ring());
    }
  }
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

int UringBackend::register_file(int fd) {
  if (free_slots_.empty() || fd < 0) return -1;
  if (sys::intercept(sys::Call::uring_register).error) return -1;
  const unsigned slot = free_slots_.back();
  if (io_uring_register_files_update(ring(), slot, &fd, 1) != 1) return -1;
  free_slots_.pop_back();
  return static_cast<int>(slot);
}

void UringBackend::unregister_file(int slot) {
  int none = -1;
  // A slot that could not be cleared still holds the file; it is not reused.
  if (io_uring_register_files_update(ring(), static_cast<unsigned>(slot), &none, 1) == 1) {
    free_slots_.push_back(static_cast<unsigned>(slot));
  }
}

void UringBackend::add_stats(EngineStats& stats) const noexcept {
  stats.kernel_enters += enters_;
  stats.link_timeouts += link_timeouts_;
}

}  // namespace ringfile::detail
