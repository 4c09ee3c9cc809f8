#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "core/credentials.hpp"
#include "core/file_state.hpp"
#include "exec/executor.hpp"

namespace ringfile::detail {

// The core's choice of executor for each request that leaves the owner thread:
// the primary executor (the ring, or the pool on a thread-pool engine) or the
// thread-pool executor beside the ring, which runs what the ring can't (opcodes
// the probe lacks, op kinds a file's filesystem refused) and reads of uncached
// data. Executors never see FileState: the router reads it (refusals, fixed slot)
// and writes it (a refusal it recorded).
class Router {
 public:
  explicit Router(std::unique_ptr<Executor> primary);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  Executor& primary() noexcept { return *primary_; }
  const Executor& primary() const noexcept { return *primary_; }
  bool primary_is_pool() const noexcept { return primary_is_pool_; }
  unsigned capacity() const noexcept { return capacity_; }

  // Starts `head` (and the chain behind it) on the executor its ops need.
  void start(Request* head);
  // A lone request the primary executor runs: false when it needs the pool.
  bool primary_runs(const Request& r) const noexcept { return !needs_pool(r); }
  // Starts a lone request primary_runs() said yes to, without the chain walk.
  void start_on_primary(Request* r) {
    if (creator_.has_value() && refused_as_creator(r)) [[unlikely]] return;
    r->fixed_slot = fixed_slot_of(*r);
    r->route = Route::Primary;
    primary_->start(r);
  }
  // A read of `file` may go to the ring as a tagged read (no Request): the ring
  // runs reads and takes tagged ones, and the file's filesystem did not refuse them.
  bool ring_takes_read(const FileState& file) const noexcept {
    return tagged_reads_ && !(file.refused_ops & op_bit(Op::Read));
  }
  // The ring refused an op on `file` with `res`: its next ones of that kind go to
  // the pool. After an EINVAL (which may be real) only a success there records it.
  static void note_refusal(FileState& file, Op op, std::int64_t res) noexcept {
    if (res == -EOPNOTSUPP) file.refused_ops |= op_bit(op);
  }
  void flush();
  // Completed requests into `done`; refused ones are re-routed to the pool instead.
  void reap(RequestQueue& done, std::chrono::nanoseconds timeout);
  void cancel(Request* request);

  // A file's registered slot with the primary executor, taken and given back.
  void file_opened(FileState& file);
  void file_closing(FileState& file);

  void add_stats(EngineStats& stats) const noexcept;
  // In a forked child: the executors are the parent's; let go of them untouched.
  void forget() noexcept {
    (void)primary_.release();
    (void)pool_.release();
  }

 private:
  bool needs_pool(const Request& r) const noexcept;
  // The registered slot of the file `r` works on, when its descriptor is that file's.
  static int fixed_slot_of(const Request& r) noexcept;
  void start_on_pool(Request* head);
  bool refused_as_creator(Request* head);
  void flush_pool();
  Executor* pool();
  bool rerouted(Request* r);
  void take_pool(RequestQueue& done);
  void take_primary(RequestQueue& from, RequestQueue& done);

  std::unique_ptr<Executor> primary_;
  std::unique_ptr<Executor> pool_;  // beside the ring: made on first use
  bool primary_is_pool_ = false;
  bool tagged_reads_ = false;
  unsigned capacity_ = 0;  // the primary's, fixed once it is set up
  std::uint32_t primary_ops_ = 0;  // op_bit of every op the primary can run
  bool pool_unflushed_ = false;
  std::size_t on_pool_ = 0;
  RequestQueue failed_;  // completed with an errno before any executor saw them
  // The identity the primary submits with, when it is not the caller's (SQPOLL).
  std::optional<Credentials> creator_;
  std::uint64_t fallbacks_ = 0;
};


}  // namespace ringfile::detail
