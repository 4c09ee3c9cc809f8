#pragma once

// The syscall seam. Every syscall that runs an op, and every probe of what the
// kernel allows, goes through here and returns its result or -errno, so tests can program faults ("the 3rd read returns
// -EINTR") without a mock of the kernel. Faults are keyed by the kind of operation,
// not by the exact syscall, and the io_uring engine passes each completion through
// complete(), so one programmed fault means the same thing on both engines. The
// hooks are internal: tests link the internal archive, and the shared library does
// not export them.
//
// Not seamed, each because it is not an op's own work (a fault there would test
// nothing an op does):
// - the engine's plumbing: its eventfds, epoll sets and timerfd (event_set.cpp,
//   eventfd.hpp, the pool's peer poller), closing them, and the pool's poll() of
//   its own completion eventfd;
// - the process's identity: getresuid/getresgid/getgroups (SQPOLL's credential
//   check), geteuid (the walk's protected-symlink rule), getpid (temp names);
// - closing a descriptor no caller ever saw: the FIFO-open placeholder of the pool
//   and, on the ring, an opened file whose result a programmed fault replaced;
// - the peer poller's F_DUPFD_CLOEXEC of a waiting op's descriptor, and its close:
//   the poller's own handle, so the caller may close theirs meanwhile;
// - probes that pick a route and fall back to the ordinary one when they fail:
//   fstat for "a FIFO?" (fifo_open.cpp, peer_wait.cpp) and "a regular file, how big?"
//   (cache_residency.cpp, owner_send.cpp, send_to.cpp), fcntl(F_GETFL) for
//   O_NONBLOCK and the access mode (owner_send.cpp, peer_wait.cpp, send_to.cpp), and send_to's getsockopt(SO_SNDBUF) and ioctl(SIOCOUTQ) for the
//   room left in a blocking socket;
// - send_to's pipe cache (compound/pipe_cache.hpp): pipe2 for a pipe the engine
//   keeps (its EMFILE is the send's error), FIONREAD before one is reused, and
//   closing them: the engine's own plumbing for the splice route;
// - send_to's open of /proc/self/fd/N (a non-blocking descriptor of the caller's
//   pipe) and its close: without /proc it uses the caller's descriptor as it is;
// - File::adopt's fcntl(F_GETFL) and Dir::adopt's fstat, which check the caller's
//   descriptor on the caller's thread before there is an op.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>


namespace ringfile::detail::sys {

enum class Call : std::uint8_t {
  read,         // pread, preadv, read_fixed
  write,        // pwrite, pwritev, write_fixed
  read_nowait,  // preadv2(RWF_NOWAIT) of the cached-read fast path
  fsync,        // fsync and fdatasync
  open,
  close,
  statx,
  fallocate,
  ftruncate,
  rename,
  unlink,
  mkdir,
  symlink,
  link,
  readlink,
  getdents,
  statvfs,
  access,
  fadvise,
  cachestat,       // page-cache residency probe before a buffered read
  copy_range,      // copy_file_range
  splice,
  sendfile,
  poll,            // waiting for a descriptor to become writable
  openat2,
  uring_setup,     // io_uring_queue_init_params
  uring_register,  // buffer and file registration
  seek,            // lseek(fd, 0, SEEK_CUR): is a newly opened file seekable?
  getxattr,        // getxattr and fgetxattr
  setxattr,
  listxattr,
  removexattr,
  count_
};

struct Fault {
  Call call;
  // Fires on the nth call of `call` counted from when it was armed (1 = the next one).
  std::uint64_t nth = 1;
  // How many consecutive calls it fires on from there.
  std::uint32_t times = 1;
  // A negative errno to return, or, when short_count is set, the most bytes the
  // call may transfer (a short read or write).
  int error = 0;
  std::optional<std::size_t> short_count;
  // Makes the call take this long before it runs: a slow disk, which holds the
  // thread that makes the call but is no peer's to end.
  std::chrono::milliseconds stall{0};
};

// Test hooks. Thread-safe; cost one relaxed load per syscall while nothing is armed.
void inject(const Fault& fault);
void clear_faults();
// Arms the seam with no fault, so calls() counts.
void count_calls();
// Calls of `call` seen since the last clear_faults() (counted only while armed).
std::uint64_t calls(Call call);

struct Intercept {
  int error = 0;                 // nonzero: fail with this negative errno
  std::size_t max_bytes = SIZE_MAX;
};

extern std::atomic<bool> armed;
Intercept intercept_slow(Call call);
inline Intercept intercept(Call call) {
  if (!armed.load(std::memory_order_relaxed)) return {};
  return intercept_slow(call);
}

// Test hook: the order in which the executors start and finish syscalls, as one
// log across threads. The pool logs around each blocking call; io_uring logs a
// start when it prepares the SQE and an end when it reaps the CQE (after faults).
enum class Phase : std::uint8_t { start, end };
struct TraceEvent {
  Call call;
  Phase phase;
  int fd;
  std::int64_t offset;
  std::int64_t res;  // end only
  std::thread::id thread{};  // filled in by the log
};
extern std::atomic<bool> tracing;
void start_trace();  // clears the log and starts logging
void stop_trace();
std::vector<TraceEvent> trace_log();
void trace_slow(const TraceEvent& event);
inline void trace(Call call, Phase phase, int fd, std::int64_t offset, std::int64_t res = 0) {
  if (tracing.load(std::memory_order_relaxed) && call != Call::count_) trace_slow({call, phase, fd, offset, res});
}

// Passes an io_uring completion result through the programmed faults.
inline std::int64_t complete(Call call, std::int64_t res) {
  if (!armed.load(std::memory_order_relaxed)) return res;
  Intercept i = intercept_slow(call);
  if (i.error) return i.error;
  if (res > 0 && static_cast<std::uint64_t>(res) > i.max_bytes) return static_cast<std::int64_t>(i.max_bytes);
  return res;
}

// An offset of -1 means the current file position (read/write), as in preadv2.
std::int64_t pread(int fd, void* buf, std::size_t len, off_t offset);
std::int64_t pwrite(int fd, const void* buf, std::size_t len, off_t offset);
std::int64_t preadv(int fd, const iovec* iov, int iovcnt, off_t offset);
std::int64_t pwritev(int fd, const iovec* iov, int iovcnt, off_t offset);
std::int64_t pread_nowait(int fd, void* buf, std::size_t len, off_t offset);
int fsync(int fd);
int fdatasync(int fd);
int openat(int dirfd, const char* path, int flags, mode_t mode);
int close(int fd);
int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* out);
int fallocate(int fd, int mode, off_t offset, off_t len);
int ftruncate(int fd, off_t len);
int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned flags);
int unlinkat(int dirfd, const char* path, int flags);
int mkdirat(int dirfd, const char* path, mode_t mode);
int symlinkat(const char* target, int newdirfd, const char* linkpath);
int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags);
std::int64_t readlinkat(int dirfd, const char* path, char* buf, std::size_t len);
std::int64_t getdents64(int fd, void* buf, std::size_t len);
int statvfs(const char* path, struct ::statvfs* out);
int faccessat(int dirfd, const char* path, int mode, int flags);
int fadvise(int fd, off_t offset, off_t len, int advice);
// copy_file_range(2); an offset of -1 means the descriptor's position.
std::int64_t copy_file_range(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len);
// splice(2); an offset of -1 for a pipe (or the descriptor's position).
std::int64_t splice(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len, unsigned flags);
// sendfile(2) from in_fd at `offset` (-1: its position) to out_fd.
std::int64_t sendfile(int out_fd, int in_fd, off_t offset, std::size_t len);
// poll(2) for one descriptor; returns its revents, or -errno.
int poll_one(int fd, short events, int timeout_ms);
// A stream transfer at the current position that never waits for a peer
// (preadv2/pwritev2 with RWF_NOWAIT): -EAGAIN when the peer has nothing or no room,
// -EOPNOTSUPP where the kernel or the file type has no such mode.
std::int64_t stream_transfer_nowait(int fd, const iovec* iov, int iovcnt, bool write);
// Whether a FIFO opened for reading has a writer, or had one that left data or a
// hang-up: tee(2) of one byte to a scratch pipe, which consumes nothing.
bool fifo_has_writer(int fd);
// fcntl(F_SETFL): the open's own status flags, without the O_NONBLOCK a peer-free open added.
int set_status_flags(int fd, int flags);
// The filesystem type (statfs f_type) holding fd, or -errno. Under Call::statvfs.
std::int64_t fs_type(int fd);
// openat2(2); -ENOSYS on kernels before 5.6.
int openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t mode, std::uint64_t resolve);
// The file position, or -errno: -ESPIPE for pipes, FIFOs, sockets and other
// streams that pread/pwrite refuse.
std::int64_t seek_current(int fd);
// Extended attributes of fd, or of path (following symlinks) when path is not null.
std::int64_t getxattr(int fd, const char* path, const char* name, void* value, std::size_t size);
int setxattr(int fd, const char* path, const char* name, const void* value, std::size_t size, int flags);
std::int64_t listxattr(int fd, const char* path, char* names, std::size_t size);
int removexattr(int fd, const char* path, const char* name);
// Pages of [offset, offset + len) not in the page cache (cachestat(2), Linux 6.5),
// or -errno: -ENOSYS on older kernels.
std::int64_t uncached_pages(int fd, off_t offset, std::size_t len);

}  // namespace ringfile::detail::sys
