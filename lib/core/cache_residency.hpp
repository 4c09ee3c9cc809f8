#pragma once

#include <cstddef>
#include <cstdint>

namespace ringfile::detail {

// Whether a buffered read of one file would meet data outside the page cache.
// Such a read must leave the owner thread: submitting it there (preadv2 or an
// inline io_uring read) starts readahead, and issuing that I/O can sleep for
// milliseconds waiting for a free request on a busy device. The answer comes from
// cachestat(2), asked for every read while the file is new or cold; once it has
// stayed cached for kWarmAfter reads in a row, for one read in kSampleEvery,
// the gap doubling (up to kMaxSampleEvery) while the samples keep finding it
// cached, so a file that stays warm costs next to nothing.
// A cold file sends even its cached reads away: pages that readahead brought in
// carry the marker that starts the next readahead window when read. Its reads
// leave the owner without asking; one in kColdSampleEvery asks, so the file turns
// warm again after about kWarmAfter cached reads at a syscall per sample, not per read.
class CacheResidency {
 public:
  // Called on the owner thread before a read is started. False when the kernel
  // or the file (not a regular file) can't say: reads then behave as before.
  bool should_offload(int fd, std::int64_t offset, std::size_t len) noexcept {
    // The common case, inline: a warm file between samples.
    if (state_ == State::Warm && (offset < 0 || --until_sample_ > 0)) return false;
    return state_ != State::Unknowable && check(fd, offset, len);
  }
  // For a read that skips should_offload (File::read's shortcut): true, counting
  // down as should_offload does, when should_offload would say false without
  // asking the kernel (a warm file with no sample due, or one that can't be known).
  bool stays_on_owner(std::int64_t offset) noexcept {
    if (state_ == State::Unknowable) return true;
    if (state_ != State::Warm || offset < 0 || until_sample_ <= 1) return false;
    --until_sample_;
    return true;
  }
  // A read found uncached data some other way (preadv2(RWF_NOWAIT) said EAGAIN).
  // Returns whether that read should leave the owner thread: false for files
  // whose residency can't be known (a pipe says EAGAIN when it is empty).
  bool saw_uncached() noexcept;
  // Whether every page of [offset, offset + len) is cached now: a fresh
  // cachestat for the exact range, never the sampled answer reads get. For
  // File::send_to's owner-thread sendfile, which has no RWF_NOWAIT to stop it at an
  // uncached page. False when residency can't be known; len must be nonzero.
  // With learn = false an uncached answer leaves the file's state alone (a range
  // that may run past the end of the file, whose pages always count as uncached).
  bool range_resident(int fd, std::int64_t offset, std::size_t len, bool learn = true) noexcept;

  static constexpr std::uint32_t kWarmAfter = 64;
  static constexpr std::uint32_t kSampleEvery = 32;
  static constexpr std::uint32_t kMaxSampleEvery = 1024;
  static constexpr std::uint32_t kColdSampleEvery = 8;

 private:
  enum class State : std::uint8_t { Unchecked, New, Warm, Cold, Unknowable };
  bool check(int fd, std::int64_t offset, std::size_t len) noexcept;
  bool classify(int fd, std::int64_t offset) noexcept;
  bool probe(int fd, std::int64_t offset, std::size_t len) noexcept;
  std::int64_t measure(int fd, std::int64_t offset, std::size_t len, bool learn = true) noexcept;
  void become_cold() noexcept;

  State state_ = State::Unchecked;
  std::uint32_t cached_streak_ = 0;
  std::uint32_t until_sample_ = 0;
  std::uint32_t sample_every_ = kSampleEvery;
};

}  // namespace ringfile::detail
