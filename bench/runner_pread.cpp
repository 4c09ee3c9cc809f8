// The baseline a user has today: one blocking pread/pwrite after another on the
// calling thread. Queue depth means nothing to it; it always runs one op at a time,
// except that with --fsync group it shows the ideal group commit on one thread:
// qd ops back to back, then one fdatasync that makes all of their writes durable.

#include <cerrno>
#include <optional>
#include <vector>

#include <sys/uio.h>
#include <unistd.h>

#include "runners.hpp"

namespace ringfile::bench {
namespace {

class PreadRunner final : public Runner {
 public:
  explicit PreadRunner(bool nowait) : nowait_(nowait) {}
  ~PreadRunner() override {
    if (fd_ >= 0) ::close(fd_);
  }

  std::string open(const Workload& w) override {
    w_ = w;
    fd_ = open_workload_file(w);
    if (fd_ < 0) return "open " + w.path + ": " + errno_text(fd_);
    buffer_.emplace(1, w.bs);
    picker_.emplace(w);
    if (w.fsync_group) unsynced_starts_.reserve(w.qd);
    return {};
  }

  void run(Pace& pace) override {
    if (w_.fsync_group) run_group_commit(pace);
    else run_one_at_a_time(pace);
  }

  void drain() override {}
  std::int64_t syscalls() const override { return static_cast<std::int64_t>(syscalls_); }

 private:
  void run_one_at_a_time(Pace& pace) {
    std::uint64_t start = now_ns();
    while (pace.more()) {
      auto op = picker_->next();
      if (!transfer(pace, op)) return;
      if (op.write && w_.fsync_every != 0 && ++writes_ % w_.fsync_every == 0) {
        ++syscalls_;
        if (::fsync(fd_) != 0) {
          pace.fail("fsync: " + errno_text(errno));
          return;
        }
      }
      start = pace.done(start);
    }
  }

  // Each write's latency runs from its pwrite to the end of the fdatasync covering
  // it; a read's ends when its pread returns.
  void run_group_commit(Pace& pace) {
    while (pace.more()) {
      unsynced_starts_.clear();
      for (unsigned i = 0; i < w_.qd; ++i) {
        const std::uint64_t start = now_ns();
        auto op = picker_->next();
        if (!transfer(pace, op)) return;
        if (op.write) unsynced_starts_.push_back(start);
        else pace.done(start);
      }
      if (unsynced_starts_.empty()) continue;
      ++syscalls_;
      if (::fdatasync(fd_) != 0) {
        pace.fail("fdatasync: " + errno_text(errno));
        return;
      }
      for (std::uint64_t start : unsynced_starts_) pace.done(start);
    }
  }

  // With nowait, preadv2(RWF_NOWAIT) first: the call ringfile's cached-read fast
  // path makes. Data it would have to wait for is then read the blocking way.
  ssize_t read_block(void* buf, std::int64_t offset) {
    if (nowait_) {
      iovec v{buf, w_.bs};
      const ssize_t n = ::preadv2(fd_, &v, 1, offset, RWF_NOWAIT);
      if (n >= 0 || errno != EAGAIN) return n;
      ++syscalls_;
    }
    return ::pread(fd_, buf, w_.bs, offset);
  }

  bool transfer(Pace& pace, const OpPicker::Next& op) {
    void* buf = buffer_->at(0);
    ssize_t n = op.write ? ::pwrite(fd_, buf, w_.bs, op.offset) : read_block(buf, op.offset);
    ++syscalls_;
    if (n < 0) pace.fail(std::string(op.write ? "pwrite: " : "pread: ") + errno_text(errno));
    return n >= 0;
  }

  bool nowait_;
  Workload w_;
  int fd_ = -1;
  std::optional<SlotBuffers> buffer_;
  std::optional<OpPicker> picker_;
  std::vector<std::uint64_t> unsynced_starts_;
  std::uint64_t syscalls_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace

std::unique_ptr<Runner> make_pread_runner(bool nowait) { return std::make_unique<PreadRunner>(nowait); }

}  // namespace ringfile::bench
