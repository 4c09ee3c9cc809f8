// Running requests on the ring: prep, batched submit, bulk reap.

#include "exec/uring/uring_backend.hpp"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <liburing.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "exec/uring/ring_prep.hpp"
#include "sys/eventfd.hpp"
#include "sys/sys.hpp"

namespace ringfile::detail {

namespace {

using Clock = std::chrono::steady_clock;

// How long a wait() sleeps while SQEs still wait in the overflow for the SQ thread.
constexpr std::chrono::nanoseconds kOverflowRecheck = std::chrono::milliseconds(1);

// The seam's trace of a ring op: nothing is worked out unless a test is tracing.
void trace_ring_op(Op op, int fd, std::int64_t offset, sys::Phase phase, std::int64_t res = 0) {
  if (sys::tracing.load(std::memory_order_relaxed)) [[unlikely]] sys::trace(seam_call(op), phase, fd, offset, res);
}
void trace_ring_op(const Request& r, sys::Phase phase, std::int64_t res = 0) {
  trace_ring_op(r.args.op, r.args.fd, r.args.offset, phase, res);
}

// What the seam makes of a ring op's result: the faults a test programmed.
std::int64_t seam_result(Op op, int cqe_res) {
  if (sys::armed.load(std::memory_order_relaxed)) [[unlikely]] {
    if (const sys::Call call = seam_call(op); call != sys::Call::count_) return sys::complete(call, cqe_res);
  }
  return cqe_res;
}

// The SQE names the file by its registered slot, when it has one.
void use_fixed_file(io_uring_sqe* sqe, int slot) noexcept {
  if (slot < 0) return;
  sqe->fd = slot;
  sqe->flags |= IOSQE_FIXED_FILE;
}

}  // namespace

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

// `head` may lead a chain (link_next): it goes to the kernel as IOSQE_IO_LINK SQEs.
void UringBackend::start(Request* head) {
  const bool untimed = head->deadline == std::chrono::steady_clock::time_point{};
  if (!head->link_next && untimed && !sqpoll_) [[likely]] {  // one op: one SQE
    prep(*head);
    ++ring_requests_;
    return;
  }
  unsigned length = 0;
  for (Request* r = head; r; r = r->link_next) ++length;
  // A single op with a deadline is linked to an IORING_OP_LINK_TIMEOUT; the core's
  // timer covers chain members.
  const bool timed = length == 1 && !untimed && enforces_deadlines();
  // A link does not reach across two submissions: the chain goes in one.
  if (length > 1 || timed) make_room(length + (timed ? 1 : 0));
  for (Request* r = head; r; r = r->link_next) {
    io_uring_sqe* sqe = prep(*r);
    if (r->link_next || timed) sqe->flags |= IOSQE_IO_LINK;
    ++ring_requests_;
  }
  if (timed) link_timeout(*head);
}

void UringBackend::make_room(unsigned sqes) {
  if (sqpoll_) {
    if (!overflowing_ && io_uring_sq_space_left(ring()) < sqes) {
      submit();  // wakes the SQ thread; whatever does not fit now waits in overflow_
      overflowing_ = io_uring_sq_space_left(ring()) < sqes;
    }
    return;
  }
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
}

io_uring_sqe* UringBackend::prep(Request& r) {
  io_uring_sqe* sqe = get_sqe();
  if (r.args.op == Op::Read) {  // the common op, without the table's indirect call
    const OpArgs& a = r.args;
    io_uring_prep_read(sqe, a.fd, a.buf, transfer_len(a.len), static_cast<std::uint64_t>(a.offset));
  } else {
    prep_op(sqe, r.args);
  }
  if (has_trait(r.args.op, kFixedFile)) use_fixed_file(sqe, r.fixed_slot);
  io_uring_sqe_set_data(sqe, &r);
  trace_ring_op(r, sys::Phase::start);
  return sqe;
}

io_uring_sqe* UringBackend::get_sqe() {
  if (!overflowing_) [[likely]] {
    if (io_uring_sqe* sqe = io_uring_get_sqe(ring())) [[likely]] return sqe;
  }
  return get_sqe_after_making_room();
}

io_uring_sqe* UringBackend::get_sqe_after_making_room() {
  if (sqpoll_) return overflow_sqe();
  for (;;) {
    submit_to_make_room();
    if (io_uring_sqe* sqe = io_uring_get_sqe(ring())) return sqe;
  }
}

io_uring_sqe* UringBackend::overflow_sqe() {
  if (!overflowing_) {
    submit();
    if (io_uring_sqe* sqe = io_uring_get_sqe(ring())) return sqe;
    overflowing_ = true;
  }
  return &overflow_.emplace_back();
}

void UringBackend::move_overflow_to_sq() {
  std::size_t moved = 0;
  while (moved < overflow_.size()) {
    std::size_t end = moved;
    while (end + 1 < overflow_.size() && (overflow_[end].flags & IOSQE_IO_LINK)) ++end;
    const std::size_t unit = end + 1 - moved;
    if (io_uring_sq_space_left(ring()) < unit) break;
    for (; moved <= end; ++moved) *io_uring_get_sqe(ring()) = overflow_[moved];
  }
  overflow_.erase(overflow_.begin(), overflow_.begin() + static_cast<std::ptrdiff_t>(moved));
  overflowing_ = !overflow_.empty();
}

int UringBackend::submit() {
  if (!sqpoll_ || (IO_URING_READ_ONCE(*ring()->sq.kflags) & IORING_SQ_NEED_WAKEUP)) ++enters_;
  return io_uring_submit(ring());
}

void UringBackend::flush() {
  if (overflowing_) [[unlikely]] move_overflow_to_sq();
  if (io_uring_sq_ready(ring()) > 0) submit();
}

// With DEFER_TASKRUN (and COOP_TASKRUN) finished requests wait as task work until
// this thread enters the kernel; meanwhile the CQ looks empty although the eventfd
// fired. The kernel flags that state. One enter runs a bounded batch of it (20 on
// 6.x) and leaves the flag up while more waits, so keep entering while it is up;
// the bound on rounds only keeps one reap from running unboundedly long.
void UringBackend::enter_if_needed(bool submit_now) {
  constexpr unsigned kPending = IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW;
  if (!(IO_URING_READ_ONCE(*ring()->sq.kflags) & kPending)) {
    if (submit_now && io_uring_sq_ready(ring()) > 0) submit();
    return;
  }
  ++enters_;
  io_uring_submit_and_get_events(ring());
  for (int round = 0; round < 64 && (IO_URING_READ_ONCE(*ring()->sq.kflags) & kPending); ++round) {
    ++enters_;
    io_uring_get_events(ring());
  }
}

// Also counts tagged results taken out of the CQ while making room: a reap that
// found them must not block.
std::size_t UringBackend::take_early(RequestQueue& done) {
  const std::size_t n = early_.size() + tagged_done_.size();
  done.append(early_);
  return n;
}

void UringBackend::reap(RequestQueue& done, std::chrono::nanoseconds timeout) {
  // Reset before looking: a completion posted after this makes it readable again.
  if (event_fd_watched_) drain_eventfd(event_fd_);
  if (overflowing_) [[unlikely]] {
    move_overflow_to_sq();
    // No CQE may come to say the SQ thread made room: the owner is to come back.
    if (overflowing_) signal_event_fd();
  }
  // A reap that may block submits in the same io_uring_enter as it waits.
  const bool may_block = timeout != std::chrono::nanoseconds::zero();
  enter_if_needed(!may_block);
  const std::size_t got = take_cqes(done) + take_early(done);
  const bool woken = std::exchange(woken_, false);
  if (got == 0 && !woken && may_block) {
    wait(done, timeout);
    return;
  }
  if (may_block && io_uring_sq_ready(ring()) > 0) submit();  // not waiting after all
}

// Blocks in one io_uring_enter that also submits. It returns on any CQE, including
// the wake poll that wake() triggers.
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
    if (overflowing_) {
      move_overflow_to_sq();
      // Back soon for the rest: waiting for a CQE could outlast the room the SQ thread makes.
      if (overflowing_ && (!limit || ts.tv_sec > 0 || ts.tv_nsec > kOverflowRecheck.count())) {
        ts = {0, kOverflowRecheck.count()};
        limit = &ts;
      }
    }
    io_uring_cqe* cqe = nullptr;
    ++enters_;
    int ret = io_uring_submit_and_wait_timeout(ring(), &cqe, 1, limit, nullptr);
    enter_if_needed();  // the wait ran one batch of deferred completions; take the rest too
    const std::size_t got = take_cqes(done) + take_early(done);
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
  // No allocation may fail once CQEs are consumed: they would be seen again.
  tagged_done_.reserve(tagged_done_.size() + io_uring_cq_ready(ring()));
  io_uring_for_each_cqe(ring(), head, cqe) {
    ++seen;
    const std::uint64_t tag = cqe->user_data;
    if (tag == kWakeTag) {
      rearm = true;
    } else if (tag >= kFirstRequestTag && tag != LIBURING_UDATA_TIMEOUT) {
      if (tag & kTaggedReadBit) finish_tagged(tag, cqe->res);
      else finish(reinterpret_cast<Request*>(static_cast<std::uintptr_t>(tag)), cqe->res, done);
      ++got;
    }
  }
  io_uring_cq_advance(ring(), seen);
  if (rearm) {
    woken_ = true;
    // Reset, then re-arm: a wake() in between finds the fd readable at arming time.
    drain_eventfd(wake_fd_);
    if (!closing_) arm_wake();
  }
  return got;
}

void UringBackend::finish(Request* request, int cqe_res, RequestQueue& done) {
  --ring_requests_;
  const std::int64_t res = seam_result(request->args.op, cqe_res);
  // The seam failed an open the kernel did: close what the caller will never see.
  if (has_trait(request->args.op, kOpensFile) && cqe_res >= 0 && res < 0) ::close(cqe_res);
  request->res = res;
  trace_ring_op(*request, sys::Phase::end, res);
  done.push_back(request);
}

void UringBackend::start_tagged_read(TaggedRead& r) {
  r.reaped = false;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, r.fd, r.buf, transfer_len(r.len), static_cast<std::uint64_t>(r.offset));
  use_fixed_file(sqe, r.fixed_slot);
  io_uring_sqe_set_data64(sqe, user_data_of(r));
  ++ring_requests_;
  trace_ring_op(Op::Read, r.fd, r.offset, sys::Phase::start);
}

void UringBackend::finish_tagged(std::uint64_t user_data, int cqe_res) {
  --ring_requests_;
  auto* read = reinterpret_cast<TaggedRead*>(static_cast<std::uintptr_t>(user_data & ~kTaggedReadBit));
  read->reaped = true;
  const std::int64_t res = seam_result(Op::Read, cqe_res);
  trace_ring_op(Op::Read, read->fd, read->offset, sys::Phase::end, res);
  tagged_done_.push_back({read, res});
}

void UringBackend::take_tagged_results(std::vector<TaggedResult>& out) {
  if (tagged_done_.empty()) return;
  if (out.empty()) {
    out.swap(tagged_done_);  // the usual case: no copy, and both keep their capacity
    return;
  }
  out.insert(out.end(), tagged_done_.begin(), tagged_done_.end());
  tagged_done_.clear();
}

// Relative to now, from the request's absolute deadline (it may have waited in the
// queue). The kernel reads the timespec when the SQE is submitted: it lives in the
// request until then. Its own CQE (-ETIME or -ECANCELED) is not a request's.
void UringBackend::link_timeout(Request& r) {
  const auto left = std::max<std::chrono::nanoseconds::rep>(
      1, std::chrono::duration_cast<std::chrono::nanoseconds>(r.deadline - std::chrono::steady_clock::now()).count());
  r.link_timeout.tv_sec = left / 1'000'000'000;
  r.link_timeout.tv_nsec = left % 1'000'000'000;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_link_timeout(sqe, &r.link_timeout, 0);
  io_uring_sqe_set_data64(sqe, kLinkTimeoutTag);
  ++link_timeouts_;
}

// Since Linux 5.5, so any kernel that passed set-up (5.6's probe) has it; the
// core's timer stands in otherwise.
bool UringBackend::enforces_deadlines() const noexcept { return probe_.supports_opcode(IORING_OP_LINK_TIMEOUT); }

void UringBackend::arm_wake() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, wake_fd_, POLLIN);
  io_uring_sqe_set_data64(sqe, kWakeTag);
}

void UringBackend::cancel(Request* request) {
  // Its CQE comes back through reap with -ECANCELED, or with its own result if the
  // cancel came too late.
  cancel_user_data(reinterpret_cast<std::uintptr_t>(request));
}

void UringBackend::cancel_tagged_read(const TaggedRead& read) { cancel_user_data(user_data_of(read)); }

void UringBackend::cancel_user_data(std::uint64_t user_data) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, kCancelTag);
}

}  // namespace ringfile::detail
