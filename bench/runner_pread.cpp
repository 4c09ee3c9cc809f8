// The baseline a user has today: one blocking pread/pwrite after another on the
// calling thread. Queue depth means nothing to it; it always runs one op at a time.

#include <cerrno>
#include <optional>

#include <unistd.h>

#include "runners.hpp"

namespace ringfile::bench {
namespace {

class PreadRunner final : public Runner {
 public:
  ~PreadRunner() override {
    if (fd_ >= 0) ::close(fd_);
  }

  std::string open(const Workload& w) override {
    w_ = w;
    fd_ = open_workload_file(w);
    if (fd_ < 0) return "open " + w.path + ": " + errno_text(fd_);
    buffer_.emplace(1, w.bs);
    picker_.emplace(w);
    return {};
  }

  void run(Pace& pace) override {
    void* buf = buffer_->at(0);
    std::uint64_t start = now_ns();
    while (pace.more()) {
      auto op = picker_->next();
      ssize_t n = op.write ? ::pwrite(fd_, buf, w_.bs, op.offset) : ::pread(fd_, buf, w_.bs, op.offset);
      ++syscalls_;
      if (n < 0) {
        pace.fail(std::string(op.write ? "pwrite: " : "pread: ") + errno_text(errno));
        return;
      }
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

  void drain() override {}
  std::int64_t syscalls() const override { return static_cast<std::int64_t>(syscalls_); }

 private:
  Workload w_;
  int fd_ = -1;
  std::optional<SlotBuffers> buffer_;
  std::optional<OpPicker> picker_;
  std::uint64_t syscalls_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace

std::unique_ptr<Runner> make_pread_runner() { return std::make_unique<PreadRunner>(); }

}  // namespace ringfile::bench
