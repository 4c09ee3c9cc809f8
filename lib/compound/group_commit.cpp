#include "compound/group_commit.hpp"

#include <algorithm>
#include <cerrno>
#include <exception>

#include "api/completion.hpp"
#include "core/engine_core.hpp"

namespace ringfile::detail {

void GroupCommit::write_done(FileState& file, std::int64_t res, IoCallback callback, Clock::time_point deadline) {
  --writing_;
  if (res >= 0) {
    waiting_.push_back({std::move(callback), static_cast<std::size_t>(res), deadline});
    maybe_start_sync(file);
    return;
  }
  // Nothing of it needs a sync: the error goes back at once, and the writes
  // that waited for this one may be synced now.
  maybe_start_sync(file);
  EngineCore& core = *file.core;
  struct Release {
    EngineCore& core;
    FileState& file;
    ~Release() { core.release(&file); }
  } release{core, file};
  if (callback) callback(error_of(res));
}

void GroupCommit::maybe_start_sync(FileState& file) {
  if (syncing_ || waiting_.empty()) return;
  if (writing_ == 0 || waiting_.size() >= kMaxGroup) start_sync(file);
}

void GroupCommit::start_sync(FileState& file) {
  syncing_ = true;
  covered_.swap(waiting_);
  sync_deadline_ = {};
  for (const Waiter& w : covered_)
    if (w.deadline != Clock::time_point{} && (sync_deadline_ == Clock::time_point{} || w.deadline < sync_deadline_))
      sync_deadline_ = w.deadline;
  std::chrono::nanoseconds timeout{0};
  if (sync_deadline_ != Clock::time_point{})  // at least 1 ns: a deadline already past times out at once
    timeout = std::max(std::chrono::nanoseconds(1), sync_deadline_ - Clock::now());
  EngineCore& core = *file.core;
  const EngineCore::InContext scope(core, {timeout});
  Request* sync = core.make_request(OpArgs::fsync(file.fd, true));
  sync->completion.set([this, f = &file](std::int64_t res) { sync_done(*f, res); });
  // Not submit_file_op: a close the user asked for meanwhile waits for this sync
  // (the writes' holds keep it parked), so the file being "closing" is no refusal.
  sync->file = &file;  // counted in its in-flight ops once submitted
  core.submit(sync);
}

void GroupCommit::sync_done(FileState& file, std::int64_t res) {
  std::vector<Waiter> covered;
  covered.swap(covered_);
  syncing_ = false;
  if (res == -ETIMEDOUT && sync_deadline_ != Clock::time_point{}) wait_again_within_deadline(covered);
  maybe_start_sync(file);
  EngineCore& core = *file.core;
  // Every covered write gets its callback, also when an earlier one throws.
  std::exception_ptr thrown;
  for (Waiter& w : covered) {
    try {
      if (w.callback) {
        if (res < 0) w.callback(error_of(res));
        else w.callback(w.bytes);
      }
    } catch (...) {
      if (!thrown) thrown = std::current_exception();
    }
    core.release(&file);
  }
  if (thrown) std::rethrow_exception(thrown);
}

void GroupCommit::wait_again_within_deadline(std::vector<Waiter>& covered) {
  auto later = std::stable_partition(covered.begin(), covered.end(), [this](const Waiter& w) {
    return w.deadline != Clock::time_point{} && w.deadline <= sync_deadline_;
  });
  waiting_.insert(waiting_.begin(), std::make_move_iterator(later), std::make_move_iterator(covered.end()));
  covered.erase(later, covered.end());
}

}  // namespace ringfile::detail
