#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ringfile/file.hpp"

namespace ringfile::detail {

struct FileState;

// Group commit for File::write_durable. A durable write's callback runs only once
// an fdatasync that started after the write completed has finished. While one
// sync is in flight, writes that complete wait for the next, and that one sync
// covers them all; a failing sync fails every write it covered. A sync waits for
// the durable writes still being written, so writes submitted together share one
// (up to kMaxGroup waiting writes, so a steady stream cannot postpone it forever).
class GroupCommit {
 public:
  static constexpr std::size_t kMaxGroup = 64;

  // A durable write of `file` was submitted.
  void write_started() noexcept { ++writing_; }
  // It finished with `res` (bytes or -errno). Each durable write holds its file
  // open (EngineCore::hold) until its callback has run.
  void write_done(FileState& file, std::int64_t res, IoCallback callback);

 private:
  struct Waiter {
    IoCallback callback;
    std::size_t bytes;
  };
  void maybe_start_sync(FileState& file);
  void start_sync(FileState& file);
  void sync_done(FileState& file, std::int64_t res);

  std::vector<Waiter> waiting_;  // completed writes no started sync covers yet
  std::vector<Waiter> covered_;  // the writes the sync in flight covers
  std::size_t writing_ = 0;  // durable writes submitted and not yet completed
  bool syncing_ = false;
};

}  // namespace ringfile::detail
