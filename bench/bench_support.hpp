#pragma once

// What every benchmark engine shares: the workload description, the per-op pacing
// and latency histogram, and the test file.

#include <array>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

namespace ringfile::bench {

inline std::uint64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

enum class Rw : std::uint8_t { RandRead, RandWrite, Read, Write, RandRw };

const char* to_string(Rw rw) noexcept;
bool parse_rw(const std::string& s, Rw& out) noexcept;
inline bool writes(Rw rw) noexcept { return rw == Rw::RandWrite || rw == Rw::Write || rw == Rw::RandRw; }

struct Workload {
  std::string path;
  std::uint64_t size = 0;  // bytes of the file the ops cover
  std::size_t bs = 4096;
  unsigned qd = 1;
  Rw rw = Rw::RandRead;
  bool direct = false;
  unsigned fsync_every = 0;  // fsync after every N writes; 0: never
  bool fsync_group = false;  // every write durable through File::write_durable (group commit)
};

// --fsync's value for a workload: "N", or "group".
inline std::string fsync_text(const Workload& w) {
  return w.fsync_group ? std::string("group") : std::to_string(w.fsync_every);
}

// The next op's offset and direction. Every engine draws the same sequence.
class OpPicker {
 public:
  explicit OpPicker(const Workload& w) noexcept;
  struct Next {
    std::int64_t offset;
    bool write;
  };
  Next next() noexcept;

 private:
  std::uint64_t rand() noexcept;
  std::uint64_t blocks_;
  std::size_t bs_;
  Rw rw_;
  std::uint64_t cursor_ = 0;
  std::uint64_t state_ = 0x9e3779b97f4a7c15u;
};

// Log-linear latency histogram in nanoseconds: 32 sub-buckets per power of two
// (~3% resolution), fixed storage, so recording allocates nothing.
class Histogram {
 public:
  void add(std::uint64_t ns) noexcept;
  void merge(const Histogram& other) noexcept;
  void clear() noexcept;
  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  // Nanoseconds at the given quantile (0..1); 0 when empty.
  double quantile(double q) const noexcept;

 private:
  static constexpr unsigned kSubBits = 5;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;
  static unsigned index(std::uint64_t v) noexcept;
  static double midpoint(unsigned i) noexcept;
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

// Tells an engine's loop when to stop issuing ops and records each completion.
// An engine keeps `qd` ops in flight while more() holds; what is still in flight
// when it stops carries over to its next run() (or drain()).
class Pace {
 public:
  Pace(std::uint64_t max_ops, std::uint64_t deadline_ns, Histogram* histogram) noexcept
      : max_ops_(max_ops), deadline_(deadline_ns), histogram_(histogram), now_(now_ns()) {}

  // An op issued at start_ns finished; returns the time now, which an engine uses
  // as the issue time of the op it starts next.
  std::uint64_t done(std::uint64_t start_ns) noexcept {
    now_ = now_ns();
    if (histogram_) histogram_->add(now_ - start_ns);
    ++ops_;
    return now_;
  }
  bool more() const noexcept { return ops_ < max_ops_ && now_ < deadline_ && error_.empty(); }
  std::uint64_t now() const noexcept { return now_; }
  std::uint64_t ops() const noexcept { return ops_; }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  const std::string& error() const noexcept { return error_; }

 private:
  std::uint64_t max_ops_;
  std::uint64_t deadline_;
  Histogram* histogram_;
  std::uint64_t now_;
  std::uint64_t ops_ = 0;
  std::string error_;
};

// qd buffers of bs bytes each, 4096-aligned (good for O_DIRECT), random contents.
class SlotBuffers {
 public:
  SlotBuffers(unsigned slots, std::size_t bs);
  void* at(unsigned slot) const noexcept { return data_.get() + stride_ * slot; }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept;
  };
  std::size_t stride_;
  std::unique_ptr<std::byte, Free> data_;
};

// Opens the workload's file with the flags its rw and direct call for; -errno on failure.
int open_workload_file(const Workload& w) noexcept;

struct PreparedFile {
  std::string path;
  std::uint64_t size = 0;
  bool created = false;
  std::string error;  // empty on success
};
// Makes sure `path` holds at least `size` bytes: a file that already does is reused
// as it is, otherwise it is (re)written with random bytes and synced to disk, so
// O_DIRECT reads meet no dirty pages.
PreparedFile prepare_file(const std::string& path, std::uint64_t size);
// Reads the first `size` bytes once so they sit in the page cache; returns the
// fraction of those pages resident afterwards (mincore), or a negative value if unknown.
double warm_page_cache(const std::string& path, std::uint64_t size);
// Where a benchmark file goes by default: the current directory when writable, else
// $TMPDIR (or /tmp).
std::string default_file_path(const char* name);

std::string errno_text(int err);

}  // namespace ringfile::bench
