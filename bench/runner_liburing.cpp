// The reference: a hand-written liburing loop with the set-up flags the io_uring
// engine asks for, one io_uring_submit_and_wait per round (submit and wait in one
// syscall) and bulk reaping. It does nothing a wrapper must do (no callbacks, no
// request pool, no fast path), so it is the ceiling for the io_uring engine.

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include <liburing.h>
#include <unistd.h>

#include "runners.hpp"

// Headers older than the running kernel may lack these; the kernel refuses what it
// doesn't know with EINVAL and the ladder below moves on.
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

namespace ringfile::bench {
namespace {

constexpr std::uint64_t kFsyncTag = 1ull << 63;

class LiburingRunner final : public Runner {
 public:
  ~LiburingRunner() override {
    if (ring_ready_) {
      drain();
      io_uring_queue_exit(&ring_);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  std::string open(const Workload& w) override {
    w_ = w;
    unsigned entries = 8;
    while (entries < 2 * w.qd) entries *= 2;
    // The same ladder as the engine: the newest flags first, down to none.
    const unsigned ladder[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                               IORING_SETUP_COOP_TASKRUN, 0};
    int ret = -EINVAL;
    for (unsigned flags : ladder) {
      io_uring_params p{};
      p.flags = flags;
      ret = io_uring_queue_init_params(entries, &ring_, &p);
      if (ret != -EINVAL) {
        flags_ = flags;
        break;
      }
    }
    if (ret < 0) return "io_uring_queue_init: " + errno_text(ret);
    ring_ready_ = true;
    io_uring_register_ring_fd(&ring_);  // an optimisation; fine to lack

    fd_ = open_workload_file(w);
    if (fd_ < 0) return "open " + w.path + ": " + errno_text(fd_);
    buffers_.emplace(w.qd, w.bs);
    picker_.emplace(w);
    slots_.assign(w.qd, Slot{});
    return {};
  }

  void run(Pace& pace) override {
    std::uint64_t now = now_ns();
    for (unsigned i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].busy && pace.more()) issue(i, now);
    }
    while (pace.more() && in_flight_ > 0) round(&pace);
  }

  void drain() override {
    while (in_flight_ > 0) round(nullptr);
  }

  std::int64_t syscalls() const override { return static_cast<std::int64_t>(enters_); }

  std::string notes() const override {
    return std::string("liburing setup flags: ") +
           (flags_ & IORING_SETUP_DEFER_TASKRUN ? "SINGLE_ISSUER|DEFER_TASKRUN"
            : flags_ ? "COOP_TASKRUN" : "none");
  }

 private:
  struct Slot {
    std::uint64_t start = 0;
    bool busy = false;
    std::uint8_t cqes = 0;  // still to come: 2 for a write with its linked fsync
    int res = 0;            // the first error among them
  };

  void issue(unsigned i, std::uint64_t start) {
    Slot& slot = slots_[i];
    slot.start = start;
    slot.busy = true;
    slot.cqes = 1;
    slot.res = 0;
    ++in_flight_;
    auto op = picker_->next();
    io_uring_sqe* sqe = next_sqe();
    if (op.write) {
      io_uring_prep_write(sqe, fd_, buffers_->at(i), static_cast<unsigned>(w_.bs),
                          static_cast<std::uint64_t>(op.offset));
      if (w_.fsync_every != 0 && ++writes_ % w_.fsync_every == 0) {
        // Linked: the fsync starts when the write has completed, in the same round.
        sqe->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data64(sqe, i);
        sqe = next_sqe();
        io_uring_prep_fsync(sqe, fd_, 0);
        io_uring_sqe_set_data64(sqe, kFsyncTag | i);
        slot.cqes = 2;
        return;
      }
    } else {
      io_uring_prep_read(sqe, fd_, buffers_->at(i), static_cast<unsigned>(w_.bs),
                         static_cast<std::uint64_t>(op.offset));
    }
    io_uring_sqe_set_data64(sqe, i);
  }

  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {  // the SQ holds 2*qd entries, so only a linked pair can find it full
      io_uring_submit(&ring_);
      ++enters_;
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void round(Pace* pace) {
    int ret = io_uring_submit_and_wait(&ring_, 1);
    ++enters_;
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      if (pace) pace->fail("io_uring_submit_and_wait: " + errno_text(ret));
      in_flight_ = 0;
      return;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      auto i = static_cast<unsigned>(io_uring_cqe_get_data64(cqe) & ~kFsyncTag);
      Slot& slot = slots_[i];
      if (cqe->res < 0 && slot.res == 0) slot.res = cqe->res;
      if (--slot.cqes == 0) complete(pace, i, slot.res);
    }
    io_uring_cq_advance(&ring_, seen);
  }

  void complete(Pace* pace, unsigned i, int res) {
    --in_flight_;
    slots_[i].busy = false;
    if (!pace) return;
    if (res < 0) {
      pace->fail("liburing op: " + errno_text(res));
      return;
    }
    std::uint64_t now = pace->done(slots_[i].start);
    if (pace->more()) issue(i, now);
  }

  Workload w_;
  io_uring ring_{};
  bool ring_ready_ = false;
  unsigned flags_ = 0;
  int fd_ = -1;
  std::optional<SlotBuffers> buffers_;
  std::optional<OpPicker> picker_;
  std::vector<Slot> slots_;
  unsigned in_flight_ = 0;
  std::uint64_t enters_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace

std::unique_ptr<Runner> make_liburing_runner() { return std::make_unique<LiburingRunner>(); }

}  // namespace ringfile::bench
