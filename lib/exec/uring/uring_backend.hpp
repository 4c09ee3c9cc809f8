#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "exec/executor.hpp"
#include "exec/uring/probe.hpp"

struct io_uring;
struct io_uring_sqe;

namespace ringfile::detail {

// The set-up ladder, most capable first. Each rung is tried when the kernel refuses
// the one before it with EINVAL (a flag it does not know). Both task-run rungs add
// TASKRUN_FLAG, which tells reap() when deferred completions wait in the kernel.
enum class UringRung : std::uint8_t {
  DeferTaskrun,  // SINGLE_ISSUER|DEFER_TASKRUN|SUBMIT_ALL (6.1+)
  CoopTaskrun,   // COOP_TASKRUN (5.19+)
  Plain,         // no flags (5.10+)
};

namespace uring_testing {
// The rung make_uring_backend() starts at. -1: RINGFILE_URING_RUNG (0, 1 or 2) when
// set, else the top. Lets tests and CI run everything on every rung.
extern std::atomic<int> first_rung;
}  // namespace uring_testing

class UringBackend final : public Executor {
 public:
  // Sets up the ring; on failure returns null with err (positive errno) and reason.
  static std::unique_ptr<UringBackend> create(const EngineOptions& options, int& err, std::string& reason);
  ~UringBackend() override;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;

  ringfile::Backend kind() const noexcept override { return ringfile::Backend::IoUring; }
  std::string describe() const override;
  int event_fd() const noexcept override;
  void wake() noexcept override;
  void signal_event_fd() noexcept override;

  unsigned capacity() const noexcept override { return capacity_; }
  bool supports(Op op) const noexcept override { return probe_.supports(op); }
  bool enforces_deadlines() const noexcept override;
  bool submits_as_creator() const noexcept override { return sqpoll_; }
  void start(Request* request) override;
  void flush() override;
  void reap(RequestQueue& done, std::chrono::nanoseconds timeout) override;
  void cancel(Request* request) override;

  // Not under SQPOLL, whose submissions need the core's credentials check.
  bool takes_tagged_reads() const noexcept override { return !sqpoll_; }
  void start_tagged_read(TaggedRead& read) override;
  void cancel_tagged_read(const TaggedRead& read) override;
  void take_tagged_results(std::vector<TaggedResult>& out) override;

  Result<void> register_buffers(std::span<const iovec> buffers) override;
  Result<void> unregister_buffers() override;

  int register_file(int fd) override;
  void unregister_file(int slot) override;

  void add_stats(EngineStats& stats) const noexcept override;

  UringRung rung() const noexcept { return rung_; }
  const UringProbe& probe() const noexcept { return probe_; }
  unsigned sq_entries() const noexcept;
  unsigned cq_entries() const noexcept;
  bool fixed_files() const noexcept { return fixed_file_slots_ > 0; }

 private:
  UringBackend();
  // Set-up (setup.cpp): the ladder, then what the engine needs of the ring.
  int init(const EngineOptions& options, std::string& reason);
  int set_up_ring(unsigned entries, std::string& reason);
  int check_required_opcodes(std::string& reason) const;
  int set_up_eventfds(std::string& reason);
  void set_up_fixed_files(unsigned slots);

  // user_data of the ring's own SQEs. A Request* is never this small, and liburing's
  // timeout SQE (kernels without EXT_ARG) uses LIBURING_UDATA_TIMEOUT, all ones.
  static constexpr std::uint64_t kWakeTag = 1;
  static constexpr std::uint64_t kCancelTag = 2;
  static constexpr std::uint64_t kLinkTimeoutTag = 3;
  static constexpr std::uint64_t kFirstRequestTag = 4096;
  // Set in a tagged read's user_data (the TaggedRead's address); a Request's is aligned.
  static constexpr std::uint64_t kTaggedReadBit = 1;
  static std::uint64_t user_data_of(const TaggedRead& read) noexcept {
    return reinterpret_cast<std::uintptr_t>(&read) | kTaggedReadBit;
  }

  io_uring* ring() const noexcept { return ring_.get(); }
  io_uring_sqe* prep(Request& request);
  io_uring_sqe* get_sqe();
  [[gnu::noinline]] io_uring_sqe* get_sqe_after_making_room();
  void make_room(unsigned sqes);
  void submit_to_make_room();
  io_uring_sqe* overflow_sqe();
  void move_overflow_to_sq();
  int submit();
  void enter_if_needed(bool submit_now = true);
  void arm_wake();
  void link_timeout(Request& request);
  std::size_t take_cqes(RequestQueue& done);
  void finish(Request* request, int cqe_res, RequestQueue& done);
  void finish_tagged(std::uint64_t user_data, int cqe_res);
  // Asks the kernel to end the op with this user_data; the cancel's own CQE is ignored.
  void cancel_user_data(std::uint64_t user_data);
  std::size_t take_early(RequestQueue& done);
  void wait(RequestQueue& done, std::chrono::nanoseconds timeout);
  void drain_before_exit();

  std::unique_ptr<io_uring> ring_;
  bool ring_ready_ = false;
  UringRung rung_ = UringRung::Plain;
  unsigned setup_flags_ = 0;
  UringProbe probe_;
  unsigned capacity_ = 0;
  bool sqpoll_ = false;

  int event_fd_ = -1;  // registered with the ring: readable when CQEs are posted
  int wake_fd_ = -1;   // polled inside the ring: wake() writes it
  mutable bool event_fd_watched_ = false;
  bool woken_ = false;    // the wake poll fired since reap() last looked
  bool closing_ = false;  // being destroyed: the wake poll is not re-armed

  std::size_t ring_requests_ = 0;  // Requests the kernel holds
  // SQPOLL: once the SQ is found full, SQEs queue here in order until the SQ thread
  // frees slots, so the owner never waits for that thread (io_uring_sqring_wait
  // sleeps). reap(), flush() and wait() move them in, a chain only whole.
  std::vector<io_uring_sqe> overflow_;
  bool overflowing_ = false;
  RequestQueue early_;  // finished outside reap(); the next reap delivers them
  std::vector<TaggedResult> tagged_done_;  // until take_tagged_results()

  unsigned fixed_file_slots_ = 0;
  std::vector<unsigned> free_slots_;
  bool buffers_registered_ = false;

  std::uint64_t enters_ = 0;
  std::uint64_t link_timeouts_ = 0;
};

}  // namespace ringfile::detail
