// Boost.Asio's random_access_file on its io_uring backend (built with
// BOOST_ASIO_HAS_IO_URING and BOOST_ASIO_DISABLE_EPOLL, so io_uring is the
// io_context's only backend), driven by one thread calling run_one(). Asio keeps
// one op at a time in the ring per file object and queues the rest behind it. So
// "asio" gives each in-flight slot its own random_access_file on a dup() of the
// descriptor (Asio's best case), and "asio-1file" issues every op on one object,
// as an application holding one random_access_file per open file does.

#include <cerrno>
#include <optional>
#include <vector>

#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/random_access_file.hpp>

#include "runners.hpp"

namespace ringfile::bench {
namespace {

namespace asio = boost::asio;

class AsioRunner final : public Runner {
 public:
  explicit AsioRunner(bool one_file) : one_file_(one_file) {}
  ~AsioRunner() override {
    if (!files_.empty()) drain();
  }

  std::string open(const Workload& w) override {
    w_ = w;
    int fd = open_workload_file(w);
    if (fd < 0) return "open " + w.path + ": " + errno_text(fd);
    const unsigned objects = one_file_ ? 1 : w.qd;
    files_.reserve(objects);
    for (unsigned i = 0; i < objects; ++i) {
      int slot_fd = i + 1 == objects ? fd : ::dup(fd);
      if (slot_fd < 0) {
        ::close(fd);
        return "dup: " + errno_text(errno);
      }
      try {
        files_.emplace_back(context_, slot_fd);  // takes the descriptor
      } catch (const std::exception& e) {
        ::close(slot_fd);
        if (slot_fd != fd) ::close(fd);
        return std::string("asio random_access_file: ") + e.what();
      }
    }
    buffers_.emplace(w.qd, w.bs);
    picker_.emplace(w);
    slots_.assign(w.qd, Slot{});
    return {};
  }

  void run(Pace& pace) override {
    pace_ = &pace;
    context_.restart();
    std::uint64_t now = now_ns();
    for (unsigned i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].busy && pace.more()) issue(i, now);
    }
    while (pace.more() && in_flight_ > 0) context_.run_one();
  }

  void drain() override {
    pace_ = &stopped_;
    context_.restart();
    while (in_flight_ > 0) context_.run_one();
  }

 private:
  struct Slot {
    std::uint64_t start = 0;
    bool busy = false;
  };

  void issue(unsigned i, std::uint64_t start) {
    slots_[i].start = start;
    slots_[i].busy = true;
    ++in_flight_;
    auto op = picker_->next();
    auto offset = static_cast<std::uint64_t>(op.offset);
    auto& file = files_[one_file_ ? 0 : i];
    if (op.write) {
      file.async_write_some_at(offset, asio::buffer(buffers_->at(i), w_.bs),
                                 [this, i, &file](const boost::system::error_code& ec, std::size_t) {
                                   if (!ec && w_.fsync_every != 0 && ++writes_ % w_.fsync_every == 0) {
                                     // Asio offers no asynchronous fsync.
                                     boost::system::error_code sync_ec;
                                     file.sync_all(sync_ec);
                                     finished(i, sync_ec);
                                     return;
                                   }
                                   finished(i, ec);
                                 });
    } else {
      file.async_read_some_at(offset, asio::buffer(buffers_->at(i), w_.bs),
                                [this, i](const boost::system::error_code& ec, std::size_t) { finished(i, ec); });
    }
  }

  void finished(unsigned i, const boost::system::error_code& ec) {
    --in_flight_;
    slots_[i].busy = false;
    if (ec) {
      pace_->fail("asio op: " + ec.message());
      return;
    }
    std::uint64_t now = pace_->done(slots_[i].start);
    if (pace_->more()) issue(i, now);
  }

  bool one_file_;
  Workload w_;
  asio::io_context context_{1};
  std::vector<asio::random_access_file> files_;
  std::optional<SlotBuffers> buffers_;
  std::optional<OpPicker> picker_;
  std::vector<Slot> slots_;
  Pace stopped_{0, 0, nullptr};  // issues nothing: for drain()
  Pace* pace_ = nullptr;
  unsigned in_flight_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace

std::unique_ptr<Runner> make_asio_runner(bool one_file) { return std::make_unique<AsioRunner>(one_file); }

}  // namespace ringfile::bench
