#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/file_state.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

// Group commit for File::write_durable. A durable write's callback runs only once
// an fdatasync that started after the write completed has finished. While one
// sync is in flight, writes that complete wait for the next, and that one sync
// covers them all; a failing sync fails every write it covered. A sync waits for
// the durable writes still being written, so writes submitted together share one
// (up to kMaxGroup waiting writes, so a steady stream cannot postpone it forever).
// A write made under an OpTimeout has that long for write and sync together: a
// sync runs under the earliest deadline of the writes it covers. When that passes, the writes past their deadline get ETIMEDOUT and the
// others wait for the next sync, so a hurried writer never fails a patient one.
class GroupCommit final : public FeatureState {
 public:
  static constexpr std::size_t kMaxGroup = 64;

  // A durable write of `file` was submitted.
  void write_started() noexcept { ++writing_; }
  using Clock = std::chrono::steady_clock;
  // It finished with `res` (bytes or -errno); `deadline` is its OpTimeout's, or the
  // epoch for none. Each durable write holds its file open (EngineCore::hold)
  // until its callback has run.
  void write_done(FileState& file, std::int64_t res, IoCallback callback, Clock::time_point deadline);

 private:
  struct Waiter {
    IoCallback callback;
    std::size_t bytes;
    Clock::time_point deadline;  // the epoch for none
  };
  void maybe_start_sync(FileState& file);
  void start_sync(FileState& file);
  void sync_done(FileState& file, std::int64_t res);
  // After a sync that ran out of time: the covered writes with time left wait again.
  void wait_again_within_deadline(std::vector<Waiter>& covered);

  std::vector<Waiter> waiting_;  // completed writes no started sync covers yet
  std::vector<Waiter> covered_;  // the writes the sync in flight covers
  Clock::time_point sync_deadline_;  // of the sync in flight; the epoch for none
  std::size_t writing_ = 0;  // durable writes submitted and not yet completed
  bool syncing_ = false;
};

inline GroupCommit& group_commit_of(FileState& file) {
  return feature_state<GroupCommit>(file, FileFeature::DurableWrites);
}

}  // namespace ringfile::detail
