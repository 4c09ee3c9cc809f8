#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "sys/sys.hpp"

namespace ringfile::detail {

// The IORING_OP_* numbers the table names: the kernel's ABI, written out so that
// no header outside lib/exec/uring/ needs liburing. lib/exec/uring/probe.cpp checks each one
// against liburing's header.
namespace uring_op {
inline constexpr int none = -1;  // no opcode: the op always runs on a pool worker
inline constexpr int nop = 0;
inline constexpr int readv = 1;
inline constexpr int writev = 2;
inline constexpr int fsync = 3;
inline constexpr int read_fixed = 4;
inline constexpr int write_fixed = 5;
inline constexpr int poll_add = 6;
inline constexpr int fallocate = 17;
inline constexpr int openat = 18;
inline constexpr int close = 19;
inline constexpr int statx = 21;
inline constexpr int read = 22;
inline constexpr int write = 23;
inline constexpr int openat2 = 28;
inline constexpr int splice = 30;
inline constexpr int renameat = 35;
inline constexpr int unlinkat = 36;
inline constexpr int mkdirat = 37;
inline constexpr int symlinkat = 38;
inline constexpr int linkat = 39;
inline constexpr int fsetxattr = 41;
inline constexpr int fgetxattr = 43;
}  // namespace uring_op

// What the core and the executors need to know about an op, beyond its arguments.
enum OpTrait : unsigned {
  kTransfer = 1u << 0,    // one buffer: a short transfer can continue where it stopped
  kOwnerMayRun = 1u << 1, // wait() may run it on the owner thread (transfers only at an offset)
  kPositional = 1u << 2,  // moves data at an offset, or at the fd's position when it is -1
  kFixedFile = 1u << 3,   // its fd may be a registered-file slot on the ring
  kEinvalRefusal = 1u << 4,  // EINVAL from the ring means "not here": the pool retries it
  kReleasesFd = 1u << 5,     // the fd is gone once it ran, failed or not: never retried or rerun
  kOpensFile = 1u << 6,      // open or openat2: gives a new fd, and may meet a FIFO waiting for a partner
  kStreamWait = 1u << 7,     // at offset -1 on a pipe or socket, the pool waits for the peer, not a worker
  kReads = 1u << 8,          // moves data from the fd into memory
  kEagainIsFinal = 1u << 9,  // EAGAIN is a full peer for the compound op to wait out, not to retry
};

// One row per op: X(name, text, seam call, io_uring opcode, traits). Adding an op
// is a row here, its prep in lib/exec/uring/ring_prep.cpp (if it has an opcode) and
// its run in lib/exec/pool/run_blocking.cpp: both dispatch tables are built from
// this list and do not compile while an op lacks its entry.
#define RINGFILE_OP_TABLE(X)                                                                                 \
  X(Nop, "nop", count_, nop, 0)                                                                              \
  X(Read, "read", read, read, kTransfer | kOwnerMayRun | kPositional | kFixedFile | kStreamWait | kReads)    \
  X(Write, "write", write, write, kTransfer | kOwnerMayRun | kPositional | kFixedFile | kStreamWait)         \
  X(Readv, "readv", read, readv, kOwnerMayRun | kPositional | kFixedFile | kStreamWait | kReads)             \
  X(Writev, "writev", write, writev, kOwnerMayRun | kPositional | kFixedFile | kStreamWait)                  \
  X(ReadFixed, "read_fixed", read, read_fixed, kTransfer | kOwnerMayRun | kPositional | kFixedFile | kReads) \
  X(WriteFixed, "write_fixed", write, write_fixed, kTransfer | kOwnerMayRun | kPositional | kFixedFile)      \
  X(Fsync, "fsync", fsync, fsync, kOwnerMayRun | kFixedFile)                                                 \
  X(Fdatasync, "fdatasync", fsync, fsync, kOwnerMayRun | kFixedFile)                                         \
  X(Open, "open", open, openat, kEinvalRefusal | kOpensFile)                                                 \
  X(Close, "close", close, close, kReleasesFd)                                                               \
  X(Statx, "statx", statx, statx, kEinvalRefusal)                                                            \
  X(Fallocate, "fallocate", fallocate, fallocate, kFixedFile | kEinvalRefusal)                               \
  X(Ftruncate, "ftruncate", ftruncate, none, 0)                                                              \
  X(Rename, "rename", rename, renameat, kEinvalRefusal)                                                      \
  X(Unlink, "unlink", unlink, unlinkat, kEinvalRefusal)                                                      \
  X(Mkdir, "mkdir", mkdir, mkdirat, kEinvalRefusal)                                                          \
  X(Symlink, "symlink", symlink, symlinkat, kEinvalRefusal)                                                  \
  X(Link, "link", link, linkat, kEinvalRefusal)                                                              \
  /* an arbitrary blocking function, always run on a pool worker */                                          \
  X(Call, "call", count_, none, 0)                                                                           \
  /* copy_file_range: fd/offset to fd2/offset2 */                                                            \
  X(CopyRange, "copy_range", copy_range, none, 0)                                                            \
  /* fd/offset to fd2/offset2 (-1 offsets for pipes) */                                                      \
  X(Splice, "splice", splice, splice, kEagainIsFinal)                                                        \
  /* from the file fd at offset to fd2; EAGAIN on a full non-blocking socket */                              \
  X(Sendfile, "sendfile", sendfile, none, kEagainIsFinal)                                                    \
  /* fd is ready for `mode` (POLLIN, POLLOUT): a wait on a peer, never on a worker */                        \
  X(Poll, "poll", poll, poll_add, 0)                                                                         \
  /* openat2 with resolve flags */                                                                           \
  X(OpenAt2, "openat2", openat2, openat2, kEinvalRefusal | kOpensFile)                                      \
  /* extended attributes of fd, or of path when fd is OpArgs::kCwd (IORING_OP_GETXATTR/SETXATTR, */         \
  /* which came with the f forms in 5.19); the name in path2, the value in buf/len */                        \
  X(GetXattr, "get_xattr", getxattr, fgetxattr, 0)                                                           \
  X(SetXattr, "set_xattr", setxattr, fsetxattr, 0)                                                           \
  X(ListXattr, "list_xattr", listxattr, none, 0)                                                             \
  X(RemoveXattr, "remove_xattr", removexattr, none, 0)

enum class Op : std::uint8_t {
#define RINGFILE_OP_ENUM(name, ...) name,
  RINGFILE_OP_TABLE(RINGFILE_OP_ENUM)
#undef RINGFILE_OP_ENUM
  count_
};

constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::count_);

struct OpRow {
  const char* name;
  sys::Call seam;    // the syscall-seam call that stands for it; count_ when none
  int uring_opcode;  // IORING_OP_*, or uring_op::none
  unsigned traits;
};

inline constexpr OpRow kOpRows[] = {
#define RINGFILE_OP_ROW(name, text, seam, opcode, traits) {text, sys::Call::seam, uring_op::opcode, traits},
    RINGFILE_OP_TABLE(RINGFILE_OP_ROW)
#undef RINGFILE_OP_ROW
};
static_assert(std::size(kOpRows) == kOpCount);

constexpr const OpRow& op_row(Op op) noexcept { return kOpRows[static_cast<std::size_t>(op)]; }
constexpr bool has_trait(Op op, OpTrait trait) noexcept { return op < Op::count_ && (op_row(op).traits & trait); }

constexpr const char* to_string(Op op) noexcept { return op < Op::count_ ? op_row(op).name : "?"; }
constexpr sys::Call seam_call(Op op) noexcept { return op < Op::count_ ? op_row(op).seam : sys::Call::count_; }
constexpr int uring_opcode(Op op) noexcept { return op < Op::count_ ? op_row(op).uring_opcode : uring_op::none; }
constexpr bool is_transfer(Op op) noexcept { return has_trait(op, kTransfer); }
constexpr std::uint32_t op_bit(Op op) noexcept { return 1u << static_cast<unsigned>(op); }
static_assert(kOpCount <= 32, "op_bit sets are 32 bits wide");

// Whether a ring op's result means the kernel or filesystem refused the op there,
// so the pool runs it: EOPNOTSUPP, and EINVAL for the metadata ops, but not for
// transfers, where it is usually real (misaligned O_DIRECT).
constexpr bool is_refusal(Op op, std::int64_t res) noexcept {
  if (has_trait(op, kReleasesFd)) return false;
  if (res == -EOPNOTSUPP) return true;
  return res == -EINVAL && has_trait(op, kEinvalRefusal);
}

}  // namespace ringfile::detail
