// libuv's file I/O as Node.js uses it: every uv_fs_read/uv_fs_write hops to libuv's
// thread pool (UV_THREADPOOL_SIZE, default 4) and comes back through uv_run.

#include <optional>
#include <vector>

#include <unistd.h>
#include <uv.h>

#include "runners.hpp"

namespace ringfile::bench {
namespace {

class LibuvRunner final : public Runner {
 public:
  LibuvRunner() { loop_ok_ = uv_loop_init(&loop_) == 0; }

  ~LibuvRunner() override {
    if (loop_ok_) {
      drain();
      uv_loop_close(&loop_);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  std::string open(const Workload& w) override {
    if (!loop_ok_) return "uv_loop_init failed";
    w_ = w;
    fd_ = open_workload_file(w);
    if (fd_ < 0) return "open " + w.path + ": " + errno_text(fd_);
    buffers_.emplace(w.qd, w.bs);
    picker_.emplace(w);
    slots_ = std::vector<Slot>(w.qd);
    for (unsigned i = 0; i < w.qd; ++i) {
      slots_[i].owner = this;
      slots_[i].index = i;
      slots_[i].req.data = &slots_[i];
    }
    return {};
  }

  void run(Pace& pace) override {
    pace_ = &pace;
    std::uint64_t now = now_ns();
    for (unsigned i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].busy && pace.more()) issue(slots_[i], now);
    }
    while (pace.more() && in_flight_ > 0) uv_run(&loop_, UV_RUN_ONCE);
  }

  void drain() override {
    pace_ = &stopped_;
    while (in_flight_ > 0) uv_run(&loop_, UV_RUN_ONCE);
  }

 private:
  struct Slot {
    uv_fs_t req{};
    LibuvRunner* owner = nullptr;
    unsigned index = 0;
    std::uint64_t start = 0;
    bool busy = false;
  };

  void issue(Slot& slot, std::uint64_t start) {
    slot.start = start;
    slot.busy = true;
    ++in_flight_;
    auto op = picker_->next();
    uv_buf_t buf = uv_buf_init(static_cast<char*>(buffers_->at(slot.index)), static_cast<unsigned>(w_.bs));
    int r = op.write ? uv_fs_write(&loop_, &slot.req, fd_, &buf, 1, op.offset, &LibuvRunner::written)
                     : uv_fs_read(&loop_, &slot.req, fd_, &buf, 1, op.offset, &LibuvRunner::finished);
    if (r < 0) {
      --in_flight_;
      slot.busy = false;
      pace_->fail(std::string("uv_fs_read: ") + uv_strerror(r));
    }
  }

  static void written(uv_fs_t* req) {
    auto& slot = *static_cast<Slot*>(req->data);
    LibuvRunner& self = *slot.owner;
    if (req->result >= 0 && self.w_.fsync_every != 0 && ++self.writes_ % self.w_.fsync_every == 0) {
      uv_fs_req_cleanup(req);
      int r = uv_fs_fsync(&self.loop_, req, self.fd_, &LibuvRunner::finished);
      if (r >= 0) return;
      req->result = r;
    }
    finished(req);
  }

  static void finished(uv_fs_t* req) {
    auto& slot = *static_cast<Slot*>(req->data);
    LibuvRunner& self = *slot.owner;
    auto result = req->result;
    uv_fs_req_cleanup(req);
    --self.in_flight_;
    slot.busy = false;
    if (result < 0) {
      self.pace_->fail(std::string("libuv op: ") + uv_strerror(static_cast<int>(result)));
      return;
    }
    std::uint64_t now = self.pace_->done(slot.start);
    if (self.pace_->more()) self.issue(slot, now);
  }

  Workload w_;
  uv_loop_t loop_{};
  bool loop_ok_ = false;
  int fd_ = -1;
  std::optional<SlotBuffers> buffers_;
  std::optional<OpPicker> picker_;
  std::vector<Slot> slots_;
  Pace stopped_{0, 0, nullptr};  // issues nothing: for drain()
  Pace* pace_ = nullptr;
  unsigned in_flight_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace

std::unique_ptr<Runner> make_libuv_runner() { return std::make_unique<LibuvRunner>(); }

}  // namespace ringfile::bench
