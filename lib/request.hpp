#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <linux/stat.h>
#include <sys/uio.h>

#include "ringfile/detail/inplace_function.hpp"
#include "ringfile/file.hpp"
#include "sys.hpp"

namespace ringfile::detail {

enum class Op : std::uint8_t {
  Nop,
  Read,
  Write,
  Readv,
  Writev,
  ReadFixed,
  WriteFixed,
  Fsync,
  Fdatasync,
  Open,
  Close,
  Statx,
  Fallocate,
  Ftruncate,
  Rename,
  Unlink,
  Mkdir,
  Symlink,
  Link,
  Call,  // an arbitrary blocking function, always run on a pool worker
  count_
};

const char* to_string(Op op) noexcept;
sys::Call seam_call(Op op) noexcept;

// Receives the raw result (>= 0 or -errno) for library-internal continuations.
using RawCallback = InplaceFunction<void(std::int64_t)>;
// The blocking work of an Op::Call request; returns a result or -errno.
using BlockingWork = InplaceFunction<std::int64_t()>;

struct FileState;

// Where a request is, so cancel() knows what to do with it.
enum class Where : std::uint8_t { Free, Queued, Backend, Ready, Parked };

// One operation from submission to completion. Requests come from the engine's
// pool and are reused, so the strings keep their capacity: steady-state ops
// allocate nothing.
struct Request {
  Op op = Op::Nop;
  bool exact = false;        // read_exact / write_all: continue after short transfers
  bool continuing = false;   // the fast path moved part of a read already
  // Set by the owner, read by a pool worker deciding whether an EINTR means cancel.
  std::atomic<bool> cancelled{false};
  Where where = Where::Free;
  bool on_helper = false;    // io_uring: re-run on the helper pool
  bool offload = false;      // a read of uncached data: never run it on the owner thread
  std::uint8_t retries = 0;

  FileState* file = nullptr;
  int fd = -1;
  int dirfd = -100;  // AT_FDCWD
  int flags = 0;     // open flags, statx flags, rename flags, unlink flags, link flags
  int mode = 0;      // open/mkdir mode, fallocate mode, statx mask
  void* buf = nullptr;
  std::size_t len = 0;
  std::int64_t offset = 0;
  std::int64_t len2 = 0;  // fallocate length, ftruncate length
  const iovec* iov = nullptr;
  int iovcnt = 0;
  unsigned buf_index = 0;
  std::string path;
  std::string path2;
  struct statx stx {};

  // io_uring: a FIFO its non-blocking open gave, kept open while the helper pool
  // repeats the open the blocking way open(2) does; closed when that completes.
  int fifo_placeholder = -1;

  std::size_t done = 0;   // bytes moved by earlier rounds of this op
  std::int64_t res = 0;
  std::uint64_t serial = 0;

  std::variant<std::monostate, IoCallback, DoneCallback, OpenCallback, StatCallback, RawCallback> callback;
  BlockingWork work;

  // Linked ops (write then fsync): the head points at the op that runs only if the
  // head completes in full; backends take a chain as a unit (IOSQE_IO_LINK on
  // io_uring, one worker in order on the pool).
  Request* link_next = nullptr;
  bool link_tail = false;
  std::int64_t link_res = 0;             // the tail keeps the head's final result
  std::size_t link_res_expected = 0;     // bytes the head must move for the tail to count

  Request* next = nullptr;       // the queue it sits in
  Request* live_prev = nullptr;  // the engine's list of requests in the backend
  Request* live_next = nullptr;
};

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
  void push_front(Request* r) noexcept {
    r->next = head_;
    head_ = r;
    if (!tail_) tail_ = r;
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
  bool remove(Request* r) noexcept {
    Request* prev = nullptr;
    for (Request* it = head_; it; prev = it, it = it->next) {
      if (it != r) continue;
      (prev ? prev->next : head_) = it->next;
      if (tail_ == it) tail_ = prev;
      it->next = nullptr;
      --size_;
      return true;
    }
    return false;
  }

 private:
  Request* head_ = nullptr;
  Request* tail_ = nullptr;
  std::size_t size_ = 0;
};

// Engine-owned free list of requests, grown in chunks and never shrunk while the
// engine lives, so steady-state ops do not touch the heap.
class RequestPool {
 public:
  Request* acquire();
  void release(Request* r) noexcept;
  std::size_t capacity() const noexcept { return chunks_.size() * kChunk; }

 private:
  static constexpr std::size_t kChunk = 256;
  std::vector<std::unique_ptr<Request[]>> chunks_;
  Request* free_ = nullptr;
  std::uint64_t next_serial_ = 1;
};

}  // namespace ringfile::detail
