#include "core/cache_residency.hpp"

#include <algorithm>

#include <sys/stat.h>

#include "sys/sys.hpp"

namespace ringfile::detail {

bool CacheResidency::check(int fd, std::int64_t offset, std::size_t len) noexcept {
  switch (state_) {
    case State::Unknowable:
      return false;
    case State::Unchecked:
      return classify(fd, offset) && probe(fd, offset, len);
    case State::Warm:  // a sample is due (should_offload counted down)
      sample_every_ = std::min(sample_every_ * 2, kMaxSampleEvery);
      until_sample_ = sample_every_;
      return probe(fd, offset, len);
    case State::New:
      if (offset < 0) return false;
      return probe(fd, offset, len);
    case State::Cold:
      if (offset < 0 || --until_sample_ > 0) return true;
      until_sample_ = kColdSampleEvery;
      return probe(fd, offset, len);
  }
  return false;
}

// First look at a file: only a regular file read at an offset has a page cache to ask about.
bool CacheResidency::classify(int fd, std::int64_t offset) noexcept {
  struct stat st {};
  if (offset < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    state_ = State::Unknowable;
    return false;
  }
  state_ = State::New;
  return true;
}

bool CacheResidency::range_resident(int fd, std::int64_t offset, std::size_t len, bool learn) noexcept {
  if (offset < 0 || state_ == State::Unknowable) return false;
  if (state_ == State::Unchecked && !classify(fd, offset)) return false;
  return measure(fd, offset, len, learn) == 0;
}

bool CacheResidency::saw_uncached() noexcept {
  if (state_ == State::Unknowable || state_ == State::Unchecked) return false;
  become_cold();
  return true;
}

void CacheResidency::become_cold() noexcept {
  state_ = State::Cold;
  cached_streak_ = 0;
  until_sample_ = kColdSampleEvery;
  sample_every_ = kSampleEvery;
}

bool CacheResidency::probe(int fd, std::int64_t offset, std::size_t len) noexcept {
  const std::int64_t missing = measure(fd, offset, len);
  return missing > 0 || (missing == 0 && state_ == State::Cold);
}

// Asks cachestat and moves the state by what it says; returns the uncached page
// count, or -1 when residency can't be known.
std::int64_t CacheResidency::measure(int fd, std::int64_t offset, std::size_t len, bool learn) noexcept {
  const std::int64_t missing = sys::uncached_pages(fd, offset, len);
  if (missing > 0 && !learn) return missing;
  if (missing < 0) {
    // ENOSYS before Linux 6.5; EOPNOTSUPP on hugetlbfs. Nothing more to learn.
    state_ = State::Unknowable;
    return -1;
  }
  if (missing > 0) {
    become_cold();
  } else if (state_ != State::Warm && (cached_streak_ += state_ == State::Cold ? kColdSampleEvery : 1) >= kWarmAfter) {
    state_ = State::Warm;
    until_sample_ = sample_every_;
  }
  return missing;
}

}  // namespace ringfile::detail
