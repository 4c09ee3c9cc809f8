#include "sys/sys.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <vector>

#include <linux/openat2.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ringfile::detail::sys {

std::atomic<bool> armed{false};
std::atomic<bool> tracing{false};

namespace {

struct Armed {
  Fault fault;
  std::uint64_t first_call;  // the call count at which it fires
};

struct FaultTable {
  std::mutex mutex;
  std::array<std::uint64_t, static_cast<std::size_t>(Call::count_)> counts{};
  std::vector<Armed> faults;
};

FaultTable& table() {
  static FaultTable t;
  return t;
}

std::int64_t result_of(std::int64_t r) { return r < 0 ? -errno : r; }

}  // namespace

void inject(const Fault& fault) {
  auto& t = table();
  std::lock_guard lock(t.mutex);
  auto seen = t.counts[static_cast<std::size_t>(fault.call)];
  t.faults.push_back({fault, seen + fault.nth});
  armed.store(true, std::memory_order_relaxed);
}

void clear_faults() {
  auto& t = table();
  std::lock_guard lock(t.mutex);
  t.faults.clear();
  t.counts.fill(0);
  armed.store(false, std::memory_order_relaxed);
}

void count_calls() { armed.store(true, std::memory_order_relaxed); }

std::uint64_t calls(Call call) {
  auto& t = table();
  std::lock_guard lock(t.mutex);
  return t.counts[static_cast<std::size_t>(call)];
}

Intercept intercept_slow(Call call) {
  if (call == Call::count_) return {};
  auto& t = table();
  std::unique_lock lock(t.mutex);
  auto n = ++t.counts[static_cast<std::size_t>(call)];
  Intercept out;
  std::chrono::milliseconds stall{0};
  for (const auto& a : t.faults) {
    if (a.fault.call != call || n < a.first_call || n >= a.first_call + a.fault.times) continue;
    stall = std::max(stall, a.fault.stall);
    if (a.fault.short_count) {
      out.max_bytes = *a.fault.short_count;
    } else {
      out.error = a.fault.error;
    }
  }
  lock.unlock();
  if (stall.count() > 0) std::this_thread::sleep_for(stall);
  return out;
}

namespace {
struct TraceLog {
  std::mutex mutex;
  std::vector<TraceEvent> events;
};
TraceLog& trace_table() {
  static TraceLog t;
  return t;
}
}  // namespace

void start_trace() {
  auto& t = trace_table();
  std::lock_guard lock(t.mutex);
  t.events.clear();
  tracing.store(true);
}

void stop_trace() { tracing.store(false); }

std::vector<TraceEvent> trace_log() {
  auto& t = trace_table();
  std::lock_guard lock(t.mutex);
  return t.events;
}

void trace_slow(const TraceEvent& event) {
  auto& t = trace_table();
  std::lock_guard lock(t.mutex);
  t.events.push_back(event);
  t.events.back().thread = std::this_thread::get_id();
}

std::int64_t pread(int fd, void* buf, std::size_t len, off_t offset) {
  auto i = intercept(Call::read);
  if (i.error) return i.error;
  len = std::min(len, i.max_bytes);
  return result_of(offset < 0 ? ::read(fd, buf, len) : ::pread(fd, buf, len, offset));
}

std::int64_t pwrite(int fd, const void* buf, std::size_t len, off_t offset) {
  auto i = intercept(Call::write);
  if (i.error) return i.error;
  len = std::min(len, i.max_bytes);
  return result_of(offset < 0 ? ::write(fd, buf, len) : ::pwrite(fd, buf, len, offset));
}

namespace {
// Applies a short-count fault to a vector by trimming it to max_bytes.
int trimmed_iov(const iovec* iov, int iovcnt, std::size_t max_bytes, std::vector<iovec>& out) {
  out.assign(iov, iov + iovcnt);
  std::size_t left = max_bytes;
  int n = 0;
  for (auto& v : out) {
    if (left == 0) break;
    v.iov_len = std::min(v.iov_len, left);
    left -= v.iov_len;
    ++n;
  }
  return n;
}
}  // namespace

std::int64_t preadv(int fd, const iovec* iov, int iovcnt, off_t offset) {
  auto i = intercept(Call::read);
  if (i.error) return i.error;
  if (i.max_bytes != SIZE_MAX) {
    std::vector<iovec> v;
    int n = trimmed_iov(iov, iovcnt, i.max_bytes, v);
    return result_of(::preadv2(fd, v.data(), n, offset, 0));
  }
  return result_of(::preadv2(fd, iov, iovcnt, offset, 0));
}

std::int64_t pwritev(int fd, const iovec* iov, int iovcnt, off_t offset) {
  auto i = intercept(Call::write);
  if (i.error) return i.error;
  if (i.max_bytes != SIZE_MAX) {
    std::vector<iovec> v;
    int n = trimmed_iov(iov, iovcnt, i.max_bytes, v);
    return result_of(::pwritev2(fd, v.data(), n, offset, 0));
  }
  return result_of(::pwritev2(fd, iov, iovcnt, offset, 0));
}

std::int64_t pread_nowait(int fd, void* buf, std::size_t len, off_t offset) {
  auto i = intercept(Call::read_nowait);
  if (i.error) return i.error;
  iovec v{buf, std::min(len, i.max_bytes)};
  // syscall(2), not preadv2(3): libc's wrapper is a cancellation point, which in
  // a process with other threads costs two extra calls around every read. A read
  // that cannot block has nothing to cancel. The offset goes as low and high
  // halves, as the kernel takes it (the high half is ignored on 64-bit).
  const auto pos = static_cast<std::uint64_t>(offset);
  return result_of(::syscall(SYS_preadv2, fd, &v, 1, static_cast<long>(pos), static_cast<long>(pos >> 32), RWF_NOWAIT));
}

int fsync(int fd) {
  auto i = intercept(Call::fsync);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::fsync(fd)));
}

int fdatasync(int fd) {
  auto i = intercept(Call::fsync);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::fdatasync(fd)));
}

int openat(int dirfd, const char* path, int flags, mode_t mode) {
  auto i = intercept(Call::open);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::openat(dirfd, path, flags | O_CLOEXEC, mode)));
}

int close(int fd) {
  auto i = intercept(Call::close);
  if (i.error) {
    // The descriptor is released even when close reports an error (Linux
    // semantics); an injected error must not leak it.
    ::close(fd);
    return i.error;
  }
  return static_cast<int>(result_of(::close(fd)));
}

int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* out) {
  auto i = intercept(Call::statx);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::statx(dirfd, path, flags, mask, out)));
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  auto i = intercept(Call::fallocate);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::fallocate(fd, mode, offset, len)));
}

int ftruncate(int fd, off_t len) {
  auto i = intercept(Call::ftruncate);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::ftruncate(fd, len)));
}

int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned flags) {
  auto i = intercept(Call::rename);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::renameat2(olddirfd, oldpath, newdirfd, newpath, flags)));
}

int unlinkat(int dirfd, const char* path, int flags) {
  auto i = intercept(Call::unlink);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::unlinkat(dirfd, path, flags)));
}

int mkdirat(int dirfd, const char* path, mode_t mode) {
  auto i = intercept(Call::mkdir);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::mkdirat(dirfd, path, mode)));
}

int symlinkat(const char* target, int newdirfd, const char* linkpath) {
  auto i = intercept(Call::symlink);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::symlinkat(target, newdirfd, linkpath)));
}

int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
  auto i = intercept(Call::link);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::linkat(olddirfd, oldpath, newdirfd, newpath, flags)));
}

std::int64_t readlinkat(int dirfd, const char* path, char* buf, std::size_t len) {
  auto i = intercept(Call::readlink);
  if (i.error) return i.error;
  return result_of(::readlinkat(dirfd, path, buf, len));
}

std::int64_t getdents64(int fd, void* buf, std::size_t len) {
  auto i = intercept(Call::getdents);
  if (i.error) return i.error;
  return result_of(::syscall(SYS_getdents64, fd, buf, len));
}

int statvfs(const char* path, struct ::statvfs* out) {
  auto i = intercept(Call::statvfs);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::statvfs(path, out)));
}

int faccessat(int dirfd, const char* path, int mode, int flags) {
  auto i = intercept(Call::access);
  if (i.error) return i.error;
  return static_cast<int>(result_of(::faccessat(dirfd, path, mode, flags)));
}

int fadvise(int fd, off_t offset, off_t len, int advice) {
  auto i = intercept(Call::fadvise);
  if (i.error) return i.error;
  return -::posix_fadvise(fd, offset, len, advice);  // returns the error, not -1/errno
}

std::int64_t copy_file_range(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len) {
  auto i = intercept(Call::copy_range);
  if (i.error) return i.error;
  len = std::min(len, i.max_bytes);
  loff_t in = off_in, out = off_out;
  return result_of(::copy_file_range(fd_in, off_in < 0 ? nullptr : &in, fd_out, off_out < 0 ? nullptr : &out, len, 0));
}

std::int64_t splice(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len, unsigned flags) {
  auto i = intercept(Call::splice);
  if (i.error) return i.error;
  len = std::min(len, i.max_bytes);
  loff_t in = off_in, out = off_out;
  return result_of(::splice(fd_in, off_in < 0 ? nullptr : &in, fd_out, off_out < 0 ? nullptr : &out, len, flags));
}

std::int64_t sendfile(int out_fd, int in_fd, off_t offset, std::size_t len) {
  auto i = intercept(Call::sendfile);
  if (i.error) return i.error;
  len = std::min(len, i.max_bytes);
  off_t off = offset;
  return result_of(::sendfile(out_fd, in_fd, offset < 0 ? nullptr : &off, len));
}

int poll_one(int fd, short events, int timeout_ms) {
  auto i = intercept(Call::poll);
  if (i.error) return i.error;
  pollfd p{fd, events, 0};
  const int n = ::poll(&p, 1, timeout_ms);
  if (n < 0) return -errno;
  return n == 0 ? 0 : p.revents;
}

std::int64_t stream_transfer_nowait(int fd, const iovec* iov, int iovcnt, bool write) {
  auto i = intercept(write ? Call::write : Call::read);
  if (i.error) return i.error;
  std::size_t total = 0;
  for (int k = 0; k < iovcnt; ++k) total += iov[k].iov_len;
  iovec one{};
  if (total > i.max_bytes) {  // an injected short transfer: the first buffer, cut
    one = {iov[0].iov_base, std::min(iov[0].iov_len, i.max_bytes)};
    iov = &one;
    iovcnt = 1;
  }
  return result_of(write ? ::pwritev2(fd, iov, iovcnt, -1, RWF_NOWAIT) : ::preadv2(fd, iov, iovcnt, -1, RWF_NOWAIT));
}

// Only a FIFO open that waits for its writer asks, a few times a second at most:
// a scratch pipe each time keeps no descriptor in the workers between asks.
bool fifo_has_writer(int fd) {
  int scratch[2];
  if (::pipe2(scratch, O_CLOEXEC | O_NONBLOCK) != 0) return true;  // cannot tell: let the open finish
  const ssize_t n = ::tee(fd, scratch[1], 1, SPLICE_F_NONBLOCK);
  ::close(scratch[0]);
  ::close(scratch[1]);
  // Data (a copy went to the scratch pipe) or EAGAIN (empty, with a writer there)
  // say a writer came; 0 says empty with none.
  return n != 0;
}

int set_status_flags(int fd, int flags) {
  constexpr int kStatusFlags = O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME;
  return ::fcntl(fd, F_SETFL, flags & kStatusFlags) == 0 ? 0 : -errno;
}

std::int64_t fs_type(int fd) {
  auto i = intercept(Call::statvfs);
  if (i.error) return i.error;
  struct statfs s {};
  if (::fstatfs(fd, &s) != 0) return -errno;
  return static_cast<std::int64_t>(s.f_type);
}

int openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t mode, std::uint64_t resolve) {
  auto i = intercept(Call::openat2);
  if (i.error) return i.error;
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = resolve;
  return static_cast<int>(result_of(::syscall(SYS_openat2, dirfd, path, &how, sizeof how)));
}

std::int64_t seek_current(int fd) {
  auto i = intercept(Call::seek);
  if (i.error) return i.error;
  const off_t at = ::lseek(fd, 0, SEEK_CUR);
  return at < 0 ? -errno : at;
}

std::int64_t getxattr(int fd, const char* path, const char* name, void* value, std::size_t size) {
  auto i = intercept(Call::getxattr);
  if (i.error) return i.error;
  return result_of(path ? ::getxattr(path, name, value, size) : ::fgetxattr(fd, name, value, size));
}

int setxattr(int fd, const char* path, const char* name, const void* value, std::size_t size, int flags) {
  auto i = intercept(Call::setxattr);
  if (i.error) return i.error;
  return static_cast<int>(
      result_of(path ? ::setxattr(path, name, value, size, flags) : ::fsetxattr(fd, name, value, size, flags)));
}

std::int64_t listxattr(int fd, const char* path, char* names, std::size_t size) {
  auto i = intercept(Call::listxattr);
  if (i.error) return i.error;
  return result_of(path ? ::listxattr(path, names, size) : ::flistxattr(fd, names, size));
}

int removexattr(int fd, const char* path, const char* name) {
  auto i = intercept(Call::removexattr);
  if (i.error) return i.error;
  return static_cast<int>(result_of(path ? ::removexattr(path, name) : ::fremovexattr(fd, name)));
}

std::int64_t uncached_pages(int fd, off_t offset, std::size_t len) {
  auto i = intercept(Call::cachestat);
  if (i.error) return i.error;
  // Not in Debian 12's kernel headers; 451 on every architecture (the unified table).
  constexpr long kCachestat = 451;
  struct Range {
    std::uint64_t off, len;
  };
  struct Counts {
    std::uint64_t cache, dirty, writeback, evicted, recently_evicted;
  };
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t first = static_cast<std::uint64_t>(offset) / page;
  const std::uint64_t end = (static_cast<std::uint64_t>(offset) + len + page - 1) / page;
  Range range{first * page, (end - first) * page};
  Counts counts{};
  if (::syscall(kCachestat, fd, &range, &counts, 0) != 0) return -errno;
  return static_cast<std::int64_t>(end - first) - static_cast<std::int64_t>(counts.cache);
}

}  // namespace ringfile::detail::sys
