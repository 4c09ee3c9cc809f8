#pragma once

#include <cerrno>
#include <vector>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/engine_core.hpp"
#include "core/feature_state.hpp"

namespace ringfile::detail {

struct Pipe {
  int read = -1;
  int write = -1;
};

// Pipes the engine keeps for splicing a file to a socket (send_to on io_uring):
// one per transfer in flight, reused once it is empty again.
class PipeCache final : public FeatureState {
 public:
  PipeCache() = default;
  PipeCache(const PipeCache&) = delete;
  PipeCache& operator=(const PipeCache&) = delete;
  ~PipeCache() {
    for (const Pipe& p : spare_) close(p);
  }

  // A pipe, or -errno of pipe2 (EMFILE, ENFILE).
  int take(Pipe& out) {
    if (!spare_.empty()) {
      out = spare_.back();
      spare_.pop_back();
      return 0;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return -errno;
    out = {fds[0], fds[1]};
    return 0;
  }
  // Back for reuse if it is empty; a pipe still holding bytes (an error midway) is
  // closed. FIONREAD checks rather than trusts the count: bytes left behind would
  // go to the next transfer's socket.
  void give(const Pipe& p, bool empty) {
    if (p.read < 0) return;
    int queued = 0;
    if (empty && spare_.size() < kKept && ::ioctl(p.read, FIONREAD, &queued) == 0 && queued == 0) {
      spare_.push_back(p);
    } else {
      close(p);
    }
  }

 private:
  static constexpr std::size_t kKept = 16;
  static void close(const Pipe& p) {
    ::close(p.read);
    ::close(p.write);
  }
  std::vector<Pipe> spare_;
};

inline PipeCache& send_pipes(EngineCore& core) { return core.feature_state<PipeCache>(EngineFeature::SendPipes); }

}  // namespace ringfile::detail
