#include "bench_support.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ringfile::bench {

const char* to_string(Rw rw) noexcept {
  switch (rw) {
    case Rw::RandRead: return "randread";
    case Rw::RandWrite: return "randwrite";
    case Rw::Read: return "read";
    case Rw::Write: return "write";
    case Rw::RandRw: return "randrw";
  }
  return "?";
}

bool parse_rw(const std::string& s, Rw& out) noexcept {
  for (Rw rw : {Rw::RandRead, Rw::RandWrite, Rw::Read, Rw::Write, Rw::RandRw}) {
    if (s == to_string(rw)) {
      out = rw;
      return true;
    }
  }
  return false;
}

OpPicker::OpPicker(const Workload& w) noexcept
    : blocks_(std::max<std::uint64_t>(1, w.size / w.bs)), bs_(w.bs), rw_(w.rw) {}

std::uint64_t OpPicker::rand() noexcept {
  // splitmix64: cheap, and the same stream for every engine.
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

OpPicker::Next OpPicker::next() noexcept {
  std::uint64_t block;
  bool write = false;
  switch (rw_) {
    case Rw::Read:
    case Rw::Write:
      block = cursor_;
      cursor_ = cursor_ + 1 == blocks_ ? 0 : cursor_ + 1;
      write = rw_ == Rw::Write;
      break;
    case Rw::RandRw: {
      std::uint64_t r = rand();
      block = (r >> 1) % blocks_;
      write = (r & 1) != 0;
      break;
    }
    case Rw::RandRead:
    case Rw::RandWrite:
    default:
      block = rand() % blocks_;
      write = rw_ == Rw::RandWrite;
      break;
  }
  return {static_cast<std::int64_t>(block * bs_), write};
}

unsigned Histogram::index(std::uint64_t v) noexcept {
  if (v < 2 * kSub) return static_cast<unsigned>(v);
  unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
  unsigned shift = msb - kSubBits;
  return (shift + 1) * kSub + static_cast<unsigned>((v >> shift) - kSub);
}

double Histogram::midpoint(unsigned i) noexcept {
  if (i < 2 * kSub) return i;
  unsigned shift = i / kSub - 1;
  std::uint64_t sub = i % kSub + kSub;
  double low = std::ldexp(static_cast<double>(sub), static_cast<int>(shift));
  double width = std::ldexp(1.0, static_cast<int>(shift));
  return low + width / 2;
}

void Histogram::add(std::uint64_t ns) noexcept {
  ++buckets_[index(ns)];
  ++count_;
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& other) noexcept {
  for (unsigned i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

void Histogram::clear() noexcept {
  buckets_.fill(0);
  count_ = 0;
  max_ = 0;
}

double Histogram::quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  auto target = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  target = std::clamp<std::uint64_t>(target, 1, count_);
  std::uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= target) return std::min(midpoint(i), static_cast<double>(max_));
  }
  return static_cast<double>(max_);
}

void SlotBuffers::Free::operator()(std::byte* p) const noexcept { std::free(p); }

SlotBuffers::SlotBuffers(unsigned slots, std::size_t bs) : stride_((bs + 4095) / 4096 * 4096) {
  std::size_t total = stride_ * std::max(1u, slots);
  data_.reset(static_cast<std::byte*>(std::aligned_alloc(4096, total)));
  if (!data_) throw std::bad_alloc();
  std::uint64_t x = 0x2545f4914f6cdd1du;
  for (std::size_t i = 0; i < total; i += sizeof x) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(data_.get() + i, &x, std::min(sizeof x, total - i));
  }
}

int open_workload_file(const Workload& w) noexcept {
  int flags = (writes(w.rw) ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  if (w.direct) flags |= O_DIRECT;
  int fd = ::open(w.path.c_str(), flags);
  return fd < 0 ? -errno : fd;
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

PreparedFile prepare_file(const std::string& path, std::uint64_t size) {
  PreparedFile out;
  out.path = path;
  out.size = size;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      out.error = path + ": not a regular file";
      return out;
    }
    if (static_cast<std::uint64_t>(st.st_size) >= size) return out;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    out.error = "cannot create " + path + ": " + errno_text(errno);
    return out;
  }
  out.created = true;
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<std::uint64_t> chunk(kChunk / sizeof(std::uint64_t));
  std::uint64_t x = 0x853c49e6748fea9bu;
  for (std::uint64_t off = 0; off < size && out.error.empty(); off += kChunk) {
    for (auto& word : chunk) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      word = x;
    }
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - off));
    if (::pwrite(fd, chunk.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      out.error = "cannot write " + path + ": " + errno_text(errno);
    }
  }
  if (out.error.empty() && ::fsync(fd) != 0) out.error = "cannot sync " + path + ": " + errno_text(errno);
  ::close(fd);
  if (!out.error.empty()) ::unlink(path.c_str());
  return out;
}

double warm_page_cache(const std::string& path, std::uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<char> buf(kChunk);
  for (std::uint64_t off = 0; off < size; off += kChunk) {
    if (::pread(fd, buf.data(), kChunk, static_cast<off_t>(off)) <= 0) break;
  }
  double resident = -1;
  if (void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0); map != MAP_FAILED) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec((size + page - 1) / page);
    if (::mincore(map, size, vec.data()) == 0) {
      auto in = std::count_if(vec.begin(), vec.end(), [](unsigned char c) { return (c & 1) != 0; });
      resident = static_cast<double>(in) / static_cast<double>(vec.size());
    }
    ::munmap(map, size);
  }
  ::close(fd);
  return resident;
}

std::string default_file_path(const char* name) {
  if (::access(".", W_OK) == 0) {
    if (char* cwd = ::getcwd(nullptr, 0)) {
      std::string p = std::string(cwd) + "/" + name;
      std::free(cwd);
      return p;
    }
  }
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/" + name;
}

}  // namespace ringfile::bench
