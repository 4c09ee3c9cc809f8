// ringfile's own engines through the public API, as a user would drive them: each
// completion callback records the op and issues the slot's next one.

#include <optional>
#include <vector>

#include <fcntl.h>

#include "runners.hpp"
#include "ringfile/ringfile.hpp"

namespace ringfile::bench {
namespace {

class RingfileRunner final : public Runner {
 public:
  explicit RingfileRunner(const EngineOptions& options) : options_(options) {}

  ~RingfileRunner() override {
    if (!engine_) return;
    drain();
    if (file_.is_open()) {
      file_.close([](Result<void>) {});
      (void)engine_->run();
    }
  }

  std::string open(const Workload& w) override {
    w_ = w;
    auto engine = Engine::create(options_);
    if (!engine) return std::string(to_string(options_.backend)) + " engine: " + engine.error().message();
    engine_.emplace(std::move(*engine));

    int flags = (writes(w.rw) ? O_RDWR : O_RDONLY) | O_CLOEXEC | (w.direct ? O_DIRECT : 0);
    std::optional<Result<File>> opened;
    File::open(*engine_, w.path, flags, [&](Result<File> f) { opened.emplace(std::move(f)); });
    while (!opened) {
      if (auto r = engine_->wait(); !r) return "wait: " + r.error().message();
    }
    if (!*opened) return "open " + w.path + ": " + opened->error().message();
    file_ = std::move(**opened);

    buffers_.emplace(w.qd, w.bs);
    picker_.emplace(w);
    slots_.assign(w.qd, Slot{});
    return {};
  }

  void run(Pace& pace) override {
    pace_ = &pace;
    for (unsigned i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].busy && pace.more()) issue(i, now_ns());
    }
    while (pace.more() && in_flight_ > 0) {
      if (auto r = engine_->wait(); !r) pace.fail("wait: " + r.error().message());
    }
  }

  void drain() override {
    pace_ = &stopped_;
    while (in_flight_ > 0) {
      if (auto r = engine_->wait(); !r) break;
    }
  }

  std::int64_t syscalls() const override {
    if (!engine_) return -1;
    auto s = engine_->stats();
    if (engine_->backend() != Backend::IoUring) return -1;  // its syscalls are the workers'
    return static_cast<std::int64_t>(s.kernel_enters + s.fast_path_reads);
  }

  std::string notes() const override { return engine_ ? engine_->describe() : std::string(); }

 private:
  struct Slot {
    std::uint64_t start = 0;
    bool busy = false;
  };

  void issue(unsigned i, std::uint64_t start) {
    Slot& slot = slots_[i];
    slot.start = start;
    slot.busy = true;
    ++in_flight_;
    auto op = picker_->next();
    void* buf = buffers_->at(i);
    if (op.write && w_.fsync_group) {
      // Every write durable, the syncs shared by the writes that complete together.
      file_.write_durable(buf, w_.bs, op.offset, [this, i](Result<std::size_t> r) { finished(i, r); });
    } else if (op.write && w_.fsync_every == 1) {
      // Every write durable: one linked write+fsync (IOSQE_IO_LINK on io_uring).
      file_.write_then_fsync(buf, w_.bs, op.offset, [this, i](Result<std::size_t> r) { finished(i, r); });
    } else if (op.write) {
      file_.write(buf, w_.bs, op.offset, [this, i](Result<std::size_t> r) { written(i, r); });
    } else {
      file_.read(buf, w_.bs, op.offset, [this, i](Result<std::size_t> r) { finished(i, r); });
    }
  }

  void written(unsigned i, Result<std::size_t> r) {
    if (r && w_.fsync_every != 0 && ++writes_ % w_.fsync_every == 0) {
      // An fsync every N writes goes out from the Nth write's completion.
      file_.fsync([this, i](Result<void> s) {
        if (s) finished(i, std::size_t{0});
        else finished(i, s.error());
      });
      return;
    }
    finished(i, r);
  }

  void finished(unsigned i, Result<std::size_t> r) {
    --in_flight_;
    slots_[i].busy = false;
    if (!r) {
      pace_->fail(std::string(to_string(options_.backend)) + " op: " + r.error().message());
      return;
    }
    std::uint64_t now = pace_->done(slots_[i].start);
    if (pace_->more()) issue(i, now);
  }

  EngineOptions options_;
  Workload w_;
  std::optional<Engine> engine_;
  File file_;
  std::optional<SlotBuffers> buffers_;
  std::optional<OpPicker> picker_;
  std::vector<Slot> slots_;
  Pace stopped_{0, 0, nullptr};  // issues nothing: for drain()
  Pace* pace_ = nullptr;
  unsigned in_flight_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace

std::unique_ptr<Runner> make_ringfile_runner(const EngineOptions& options) {
  return std::make_unique<RingfileRunner>(options);
}

}  // namespace ringfile::bench
