// How each op becomes a submission-queue entry.

#include "exec/uring/ring_prep.hpp"

#include <cstdlib>

#include <fcntl.h>

namespace ringfile::detail {

namespace {

std::uint64_t offset_of(const OpArgs& a) noexcept { return static_cast<std::uint64_t>(a.offset); }

// One prep per op with an opcode, looked up through kPrep: an op whose row names
// an opcode but which has no specialisation here does not compile.
template <Op op>
void prep(io_uring_sqe* sqe, const OpArgs& a) = delete;

template <> void prep<Op::Nop>(io_uring_sqe* sqe, const OpArgs&) { io_uring_prep_nop(sqe); }
template <> void prep<Op::Read>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_read(sqe, a.fd, a.buf, transfer_len(a.len), offset_of(a));
}
template <> void prep<Op::Write>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_write(sqe, a.fd, a.buf, transfer_len(a.len), offset_of(a));
}
template <> void prep<Op::Readv>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_readv(sqe, a.fd, a.iov, static_cast<unsigned>(a.iovcnt), offset_of(a));
}
template <> void prep<Op::Writev>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_writev(sqe, a.fd, a.iov, static_cast<unsigned>(a.iovcnt), offset_of(a));
}
template <> void prep<Op::ReadFixed>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_read_fixed(sqe, a.fd, a.buf, transfer_len(a.len), offset_of(a), static_cast<int>(a.buf_index));
}
template <> void prep<Op::WriteFixed>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_write_fixed(sqe, a.fd, a.buf, transfer_len(a.len), offset_of(a), static_cast<int>(a.buf_index));
}
template <> void prep<Op::Fsync>(io_uring_sqe* sqe, const OpArgs& a) { io_uring_prep_fsync(sqe, a.fd, 0); }
template <> void prep<Op::Fdatasync>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_fsync(sqe, a.fd, IORING_FSYNC_DATASYNC);
}
template <> void prep<Op::Open>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_openat(sqe, a.fd, a.path, a.flags, static_cast<mode_t>(a.mode));
}
template <> void prep<Op::Close>(io_uring_sqe* sqe, const OpArgs& a) { io_uring_prep_close(sqe, a.fd); }
template <> void prep<Op::Statx>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_statx(sqe, a.fd, a.path, a.flags, a.mode, a.statx_out);
}
template <> void prep<Op::Fallocate>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_fallocate(sqe, a.fd, static_cast<int>(a.mode), a.offset, a.length);
}
template <> void prep<Op::Rename>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_renameat(sqe, a.fd, a.path, a.fd, a.path2, static_cast<unsigned>(a.flags));
}
template <> void prep<Op::Unlink>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_unlinkat(sqe, a.fd, a.path, a.flags);
}
template <> void prep<Op::Mkdir>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_mkdirat(sqe, a.fd, a.path, static_cast<mode_t>(a.mode));
}
template <> void prep<Op::Symlink>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_symlinkat(sqe, a.path, a.fd, a.path2);
}
template <> void prep<Op::Link>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_linkat(sqe, a.fd, a.path, a.fd, a.path2, a.flags);
}
template <> void prep<Op::Splice>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_splice(sqe, a.fd, a.offset, a.fd2, a.offset2, transfer_len(a.len), SPLICE_F_MOVE);
}
template <> void prep<Op::Poll>(io_uring_sqe* sqe, const OpArgs& a) { io_uring_prep_poll_add(sqe, a.fd, a.mode); }
template <> void prep<Op::OpenAt2>(io_uring_sqe* sqe, const OpArgs& a) {
  io_uring_prep_openat2(sqe, a.fd, a.path, a.how);
}
template <> void prep<Op::GetXattr>(io_uring_sqe* sqe, const OpArgs& a) {
  auto* value = static_cast<char*>(a.buf);
  const auto size = static_cast<unsigned>(a.len);
  if (a.xattr_by_path()) io_uring_prep_getxattr(sqe, a.path2, value, a.path, size);
  else io_uring_prep_fgetxattr(sqe, a.fd, a.path2, value, size);
}
template <> void prep<Op::SetXattr>(io_uring_sqe* sqe, const OpArgs& a) {
  const auto* value = static_cast<const char*>(a.buf);
  const auto size = static_cast<unsigned>(a.len);
  if (a.xattr_by_path()) io_uring_prep_setxattr(sqe, a.path2, value, a.path, a.flags, size);
  else io_uring_prep_fsetxattr(sqe, a.fd, a.path2, value, a.flags, size);
}

using PrepFn = void (*)(io_uring_sqe*, const OpArgs&);

template <Op op>
constexpr PrepFn prep_entry() {
  if constexpr (uring_opcode(op) == uring_op::none) {
    return nullptr;
  } else {
    return &prep<op>;
  }
}

constexpr PrepFn kPrep[] = {
#define RINGFILE_RING_PREP(name, ...) prep_entry<Op::name>(),
    RINGFILE_OP_TABLE(RINGFILE_RING_PREP)
#undef RINGFILE_RING_PREP
};

}  // namespace

void prep_op(io_uring_sqe* sqe, const OpArgs& a) {
  // An op without an opcode here is a routing bug; a NOP would report it done.
  const PrepFn fn = a.op < Op::count_ ? kPrep[static_cast<std::size_t>(a.op)] : nullptr;
  if (!fn) std::abort();
  fn(sqe, a);
}

}  // namespace ringfile::detail
