#pragma once

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/time_types.h>
#include <linux/stat.h>
#include <sys/uio.h>

#include "ops/op_table.hpp"
#include "ringfile/detail/inplace_function.hpp"
#include "sys/sys.hpp"

namespace ringfile::detail {

// The blocking work of an Op::Call request; returns a result or -errno.
using BlockingWork = InplaceFunction<std::int64_t()>;
// The one completion of a request: called once, on the owner thread, with the
// final result (>= 0 or -errno), before the request goes back to the pool. The
// callable is built in place (a user's callback is moved once, into the request)
// and destroyed as it returns.
class Completion {
 public:
  static constexpr std::size_t kCapacity = 96;

  Completion() noexcept = default;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion() { reset(); }

  template <class F, class... A>
  void emplace(A&&... a) {
    static_assert(sizeof(F) <= kCapacity && alignof(F) <= alignof(std::max_align_t));
    reset();
    ::new (static_cast<void*>(storage_)) F(std::forward<A>(a)...);
    call_ = [](void* s, std::int64_t res) {
      F& f = *std::launder(static_cast<F*>(s));
      struct Destroy {
        F& f;
        ~Destroy() { f.~F(); }
      } destroy{f};
      f(res);
    };
    destroy_ = [](void* s) noexcept { std::launder(static_cast<F*>(s))->~F(); };
  }
  template <class F>
  void set(F&& f) {
    emplace<std::decay_t<F>>(std::forward<F>(f));
  }

  explicit operator bool() const noexcept { return call_ != nullptr; }
  // Calls it and destroys it (also when it throws).
  void operator()(std::int64_t res) {
    auto call = std::exchange(call_, nullptr);
    call(storage_, res);
  }
  void reset() noexcept {
    if (call_) destroy_(storage_);
    call_ = nullptr;
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[kCapacity];
  void (*call_)(void*, std::int64_t) = nullptr;
  void (*destroy_)(void*) noexcept = nullptr;
};

// What to do: the op and its arguments, as both executors read them. A small value
// built by the named constructors; paths, the statx buffer and blocking work live
// in the request's side slot and are pointed at from here.
struct OpArgs {
  Op op = Op::Nop;
  int fd = -1;        // the descriptor, or the directory a path op starts from
  int flags = 0;      // open, statx, rename, unlink and link flags
  unsigned mode = 0;  // open/mkdir permissions, fallocate mode, statx mask
  void* buf = nullptr;
  std::size_t len = 0;
  std::int64_t offset = 0;
  std::int64_t length = 0;  // fallocate and ftruncate
  const iovec* iov = nullptr;
  int iovcnt = 0;
  unsigned buf_index = 0;  // registered buffer of read_fixed/write_fixed
  const char* path = nullptr;
  const char* path2 = nullptr;
  struct statx* statx_out = nullptr;
  BlockingWork* work = nullptr;
  int fd2 = -1;               // copy, splice, sendfile: the destination
  std::int64_t offset2 = -1;  // its offset, or -1
  std::uint64_t resolve = 0;  // openat2's RESOLVE_* flags
  open_how* how = nullptr;    // openat2 on io_uring: in the side slot

  static OpArgs nop() noexcept { return {}; }
  static OpArgs read(int fd, void* buf, std::size_t len, std::int64_t offset) noexcept;
  static OpArgs write(int fd, const void* buf, std::size_t len, std::int64_t offset) noexcept;
  static OpArgs readv(int fd, const iovec* iov, int iovcnt, std::int64_t offset) noexcept;
  static OpArgs writev(int fd, const iovec* iov, int iovcnt, std::int64_t offset) noexcept;
  static OpArgs read_fixed(int fd, void* buf, std::size_t len, std::int64_t offset, unsigned index) noexcept;
  static OpArgs write_fixed(int fd, const void* buf, std::size_t len, std::int64_t offset, unsigned index) noexcept;
  static OpArgs fsync(int fd, bool data_only = false) noexcept;
  static OpArgs close(int fd) noexcept;
  static OpArgs fallocate(int fd, int mode, std::int64_t offset, std::int64_t length) noexcept;
  static OpArgs ftruncate(int fd, std::int64_t length) noexcept;
  // Path ops: Request::set_paths() gives them their paths. Every open is O_CLOEXEC.
  static OpArgs open(int flags, unsigned mode, int dirfd = kCwd) noexcept;
  static OpArgs statx(int dirfd, int flags, unsigned mask) noexcept;
  static OpArgs rename(unsigned flags) noexcept;
  static OpArgs unlink(int flags) noexcept;
  static OpArgs mkdir(unsigned mode) noexcept;
  static OpArgs symlink() noexcept;
  static OpArgs link(int flags) noexcept;
  static OpArgs call() noexcept;
  static OpArgs copy_range(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out, std::size_t len) noexcept;
  static OpArgs splice(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out, std::size_t len) noexcept;
  static OpArgs sendfile(int in_fd, std::int64_t offset, int out_fd, std::size_t len) noexcept;
  static OpArgs poll(int fd, short events) noexcept;
  // Request::set_paths() gives it its path, Request::open_how_buffer() its open_how.
  static OpArgs openat2(int dirfd, int flags, unsigned mode, std::uint64_t resolve) noexcept;
  // Extended attributes of fd, or with fd kCwd of the file set_paths() names (its
  // path first, the attribute's name second; list_xattr has none).
  static OpArgs get_xattr(int fd, void* value, std::size_t size) noexcept;
  static OpArgs set_xattr(int fd, const void* value, std::size_t size, int flags) noexcept;
  static OpArgs list_xattr(int fd, void* names, std::size_t size) noexcept;
  static OpArgs remove_xattr(int fd) noexcept;
  // Whether an xattr op names its file by path (the fd is kCwd).
  bool xattr_by_path() const noexcept { return fd == kCwd; }

  static constexpr int kCwd = -100;  // AT_FDCWD
};

inline OpArgs OpArgs::read(int fd, void* buf, std::size_t len, std::int64_t offset) noexcept {
  return {.op = Op::Read, .fd = fd, .buf = buf, .len = len, .offset = offset};
}

inline OpArgs OpArgs::write(int fd, const void* buf, std::size_t len, std::int64_t offset) noexcept {
  return {.op = Op::Write, .fd = fd, .buf = const_cast<void*>(buf), .len = len, .offset = offset};
}

inline OpArgs OpArgs::readv(int fd, const iovec* iov, int iovcnt, std::int64_t offset) noexcept {
  return {.op = Op::Readv, .fd = fd, .offset = offset, .iov = iov, .iovcnt = iovcnt};
}

inline OpArgs OpArgs::writev(int fd, const iovec* iov, int iovcnt, std::int64_t offset) noexcept {
  return {.op = Op::Writev, .fd = fd, .offset = offset, .iov = iov, .iovcnt = iovcnt};
}

inline OpArgs OpArgs::read_fixed(int fd, void* buf, std::size_t len, std::int64_t offset, unsigned index) noexcept {
  return {.op = Op::ReadFixed, .fd = fd, .buf = buf, .len = len, .offset = offset, .buf_index = index};
}

inline OpArgs OpArgs::write_fixed(int fd, const void* buf, std::size_t len, std::int64_t offset,
                                  unsigned index) noexcept {
  return {.op = Op::WriteFixed, .fd = fd, .buf = const_cast<void*>(buf), .len = len, .offset = offset,
          .buf_index = index};
}

inline OpArgs OpArgs::fsync(int fd, bool data_only) noexcept {
  return {.op = data_only ? Op::Fdatasync : Op::Fsync, .fd = fd};
}

inline OpArgs OpArgs::close(int fd) noexcept { return {.op = Op::Close, .fd = fd}; }

inline OpArgs OpArgs::fallocate(int fd, int mode, std::int64_t offset, std::int64_t length) noexcept {
  return {.op = Op::Fallocate, .fd = fd, .mode = static_cast<unsigned>(mode), .offset = offset, .length = length};
}

inline OpArgs OpArgs::ftruncate(int fd, std::int64_t length) noexcept {
  return {.op = Op::Ftruncate, .fd = fd, .length = length};
}

inline OpArgs OpArgs::open(int flags, unsigned mode, int dirfd) noexcept {
  return {.op = Op::Open, .fd = dirfd, .flags = flags | O_CLOEXEC, .mode = mode};
}

// With AT_EMPTY_PATH and no path set, dirfd itself.
inline OpArgs OpArgs::statx(int dirfd, int flags, unsigned mask) noexcept {
  return {.op = Op::Statx, .fd = dirfd, .flags = flags, .mode = mask, .path = ""};
}

inline OpArgs OpArgs::rename(unsigned flags) noexcept {
  return {.op = Op::Rename, .fd = kCwd, .flags = static_cast<int>(flags)};
}

inline OpArgs OpArgs::unlink(int flags) noexcept { return {.op = Op::Unlink, .fd = kCwd, .flags = flags}; }
inline OpArgs OpArgs::mkdir(unsigned mode) noexcept { return {.op = Op::Mkdir, .fd = kCwd, .mode = mode}; }
inline OpArgs OpArgs::symlink() noexcept { return {.op = Op::Symlink, .fd = kCwd}; }
inline OpArgs OpArgs::link(int flags) noexcept { return {.op = Op::Link, .fd = kCwd, .flags = flags}; }
inline OpArgs OpArgs::call() noexcept { return {.op = Op::Call}; }

inline OpArgs OpArgs::copy_range(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out,
                                 std::size_t len) noexcept {
  return {.op = Op::CopyRange, .fd = fd_in, .len = len, .offset = off_in, .fd2 = fd_out, .offset2 = off_out};
}

inline OpArgs OpArgs::splice(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out,
                             std::size_t len) noexcept {
  return {.op = Op::Splice, .fd = fd_in, .len = len, .offset = off_in, .fd2 = fd_out, .offset2 = off_out};
}

inline OpArgs OpArgs::sendfile(int in_fd, std::int64_t offset, int out_fd, std::size_t len) noexcept {
  return {.op = Op::Sendfile, .fd = in_fd, .len = len, .offset = offset, .fd2 = out_fd};
}

inline OpArgs OpArgs::poll(int fd, short events) noexcept {
  return {.op = Op::Poll, .fd = fd, .mode = static_cast<unsigned short>(events)};
}

// openat2 refuses a mode (EINVAL) unless the open may create the file.
inline OpArgs OpArgs::openat2(int dirfd, int flags, unsigned mode, std::uint64_t resolve) noexcept {
  const bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
  return {.op = Op::OpenAt2, .fd = dirfd, .flags = flags | O_CLOEXEC, .mode = creates ? mode : 0u, .resolve = resolve};
}

inline OpArgs OpArgs::get_xattr(int fd, void* value, std::size_t size) noexcept {
  return {.op = Op::GetXattr, .fd = fd, .buf = value, .len = size};
}
inline OpArgs OpArgs::set_xattr(int fd, const void* value, std::size_t size, int flags) noexcept {
  return {.op = Op::SetXattr, .fd = fd, .flags = flags, .buf = const_cast<void*>(value), .len = size};
}
inline OpArgs OpArgs::list_xattr(int fd, void* names, std::size_t size) noexcept {
  return {.op = Op::ListXattr, .fd = fd, .buf = names, .len = size};
}
inline OpArgs OpArgs::remove_xattr(int fd) noexcept { return {.op = Op::RemoveXattr, .fd = fd}; }

// The rarely used payloads, apart from the hot request. Allocated the first time a
// request needs one and kept with it, capacity included, for its next use.
struct RequestExtras {
  std::string path;
  std::string path2;
  struct statx stx {};
  BlockingWork work;
  open_how how{};
};

struct FileState;
struct Request;

// Where a request is, so cancel() knows what to do with it.
enum class Where : std::uint8_t { Free, Queued, Executor, Ready, Parked };
// Which executor runs it.
enum class Route : std::uint8_t { Primary, Pool };

// The engine's bookkeeping for one use of a request: plain values, all reset at once
// when the request goes back to the pool.
struct RequestState {
  std::int64_t res = 0;
  FileState* file = nullptr;
  Where where = Where::Free;
  Route route = Route::Primary;
  bool exact = false;         // read_exact / write_all: continue after short transfers
  bool nowait_tried = false;  // the owner tried the read without blocking (EngineCore::after_nowait_read)
  bool offload = false;       // a read of uncached data: never run it on the owner thread
  bool on_probation = false;  // re-run on the pool after an EINVAL from the ring
  // A positional op on a regular file, nothing linked, no deadline, not a cold read:
  // it cannot wait on another party, so a pool whose owner would only sleep in
  // wait() until it is done may let the owner run it (ThreadPoolBackend::reap).
  bool owner_may_run = false;
  std::uint8_t retries = 0;
  std::uint8_t peer_waits = 0;  // the pool's waits for a FIFO's partner so far (its backoff)
  // A wait handed to the pool's PeerPoller: its descriptor (the poller's duplicate),
  // events, whether the op runs again after it, and its retry time.
  struct PeerWatch {
    int fd = -1;
    std::uint32_t events = 0;
    bool resume = false;
    std::chrono::milliseconds retry{0};
  } peer;
  int fixed_slot = -1;        // registered-file slot for args.fd, or -1
  // A FIFO opened for reading, held while the open waits for a writer as open(2)
  // does (in the pool's poller, never on a worker); the executor closes it unless
  // it becomes the result.
  int fifo_placeholder = -1;
  std::size_t done = 0;       // bytes moved by earlier rounds of this op
  std::uint64_t serial = 0;   // 0 when free: a stale OpHandle no longer matches
  // A per-op deadline (OpTimeout), or the epoch for none. Past it the op completes
  // with ETIMEDOUT: IORING_OP_LINK_TIMEOUT on the ring, the core's timer elsewhere.
  std::chrono::steady_clock::time_point deadline{};
  bool timed_out = false;            // the core's timer cancelled it
  bool link_timeout_overdue = false; // past its deadline on the ring, not ended: the timer's backstop waits
  __kernel_timespec link_timeout{};  // the ring's relative timeout, read when it is submitted

  // Linked ops (write then fsync): the head points at the op that runs only if the
  // head completes in full; executors take a chain as a unit (IOSQE_IO_LINK on
  // io_uring, one worker in order on the pool).
  Request* link_next = nullptr;
  bool link_tail = false;
  std::int64_t link_res = 0;          // the tail keeps the head's final result
  std::size_t link_res_expected = 0;  // bytes the head must move for the tail to count

  Request* next = nullptr;       // the queue it sits in
  Request* live_prev = nullptr;  // the engine's list of requests in an executor
  Request* live_next = nullptr;
};

// One operation from submission to completion: its OpArgs, the engine's
// bookkeeping and its completion. Requests come from the engine's pool and are reused.
struct Request : RequestState {
  OpArgs args;
  // Set by the owner, read by a pool worker deciding whether an EINTR means cancel.
  std::atomic<bool> cancelled{false};
  Completion completion;
  std::unique_ptr<RequestExtras> extras_;  // side slot, kept across reuse

  RequestExtras& extras();
  // Copies the paths into the side slot and points args.path/path2 at them.
  void set_paths(std::string_view path, std::string_view path2 = {});
  // Points args.statx_out at the side slot's buffer.
  struct statx& statx_buffer();
  void set_work(BlockingWork work);
  // Fills the side slot's open_how from args and points args.how at it.
  void open_how_buffer();
};

// Whether a chain goes on after `member` finished with `res`: a failed or short
// member cancels the rest (IOSQE_IO_LINK's rule, which the pool follows too).
inline bool chain_continues(const Request& member, std::int64_t res) noexcept {
  return res >= 0 && (!member.link_next || static_cast<std::size_t>(res) >= member.link_next->link_res_expected);
}

// A cancelled op that was interrupted (by io-wq, or by the pool's cancel signal)
// reports ECANCELED: the core's rule, which executors leave to it.
inline std::int64_t cancel_rule(const Request& r, std::int64_t res) noexcept {
  return res == -EINTR && r.cancelled.load(std::memory_order_relaxed) ? -ECANCELED : res;
}

// Singly linked FIFO of requests, threaded through Request::next.
class RequestQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  Request* front() const noexcept { return head_; }

  void push_back(Request* r) noexcept {
    r->next = nullptr;
    if (tail_) tail_->next = r; else head_ = r;
    tail_ = r;
    ++size_;
  }
  Request* pop_front() noexcept {
    Request* r = head_;
    if (!r) return nullptr;
    head_ = r->next;
    if (!head_) tail_ = nullptr;
    r->next = nullptr;
    --size_;
    return r;
  }
  void append(RequestQueue& other) noexcept {
    if (other.empty()) return;
    if (tail_) tail_->next = other.head_; else head_ = other.head_;
    tail_ = other.tail_;
    size_ += other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
  }
  // Unlinks r if it is queued here; returns whether it was.
  bool remove(Request* r) noexcept;

 private:
  Request* head_ = nullptr;
  Request* tail_ = nullptr;
  std::size_t size_ = 0;
};

// Engine-owned free list of requests, grown in chunks and never shrunk while the
// engine lives, so steady-state ops do not touch the heap.
class RequestPool {
 public:
  Request* acquire(const OpArgs& args = {}) {
    if (!free_) [[unlikely]] grow();
    Request* r = free_;
    free_ = r->next;
    r->next = nullptr;
    r->args = args;
    r->serial = next_serial_++;
    return r;
  }
  // Back on the free list as a fresh request: the state is reset whole, so no
  // field is forgotten; args are rewritten by acquire(); the side slot keeps its
  // capacity.
  void release(Request* r) noexcept {
    static_cast<RequestState&>(*r) = RequestState{};
    r->cancelled.store(false, std::memory_order_relaxed);
    r->completion.reset();
    if (r->args.work) r->args.work->reset();
    r->next = free_;
    free_ = r;
  }
  void recycle(Request* r) noexcept { release(r); }  // RecycleAtExit's name for it

 private:
  void grow();

  static constexpr std::size_t kChunk = 256;
  std::vector<std::unique_ptr<Request[]>> chunks_;
  Request* free_ = nullptr;
  std::uint64_t next_serial_ = 1;
};

}  // namespace ringfile::detail
