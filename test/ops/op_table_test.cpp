// Every op's name, seam call, io_uring opcode and refusal rule, written out by
// hand: the op table must keep giving these answers.
#include <cerrno>
#include <cstdint>
#include <string_view>

#include <gtest/gtest.h>

#include "core/router.hpp"
#include "ops/request.hpp"
#include "ringfile_config.h"
#include "sys/sys.hpp"

#if RINGFILE_HAVE_IO_URING
#include <liburing.h>

#include "exec/uring/probe.hpp"
#define RINGFILE_OPCODE(name) IORING_OP_##name
#else
#define RINGFILE_OPCODE(name) -1
#endif

namespace ringfile::detail {
namespace {

constexpr int kNoOpcode = -1;

struct Golden {
  Op op;
  std::string_view name;
  sys::Call seam;
  int opcode;
  bool einval_is_refusal;
};

using sys::Call;
const Golden kGolden[] = {
    {Op::Nop, "nop", Call::count_, RINGFILE_OPCODE(NOP), false},
    {Op::Read, "read", Call::read, RINGFILE_OPCODE(READ), false},
    {Op::Write, "write", Call::write, RINGFILE_OPCODE(WRITE), false},
    {Op::Readv, "readv", Call::read, RINGFILE_OPCODE(READV), false},
    {Op::Writev, "writev", Call::write, RINGFILE_OPCODE(WRITEV), false},
    {Op::ReadFixed, "read_fixed", Call::read, RINGFILE_OPCODE(READ_FIXED), false},
    {Op::WriteFixed, "write_fixed", Call::write, RINGFILE_OPCODE(WRITE_FIXED), false},
    {Op::Fsync, "fsync", Call::fsync, RINGFILE_OPCODE(FSYNC), false},
    {Op::Fdatasync, "fdatasync", Call::fsync, RINGFILE_OPCODE(FSYNC), false},
    {Op::Open, "open", Call::open, RINGFILE_OPCODE(OPENAT), true},
    {Op::Close, "close", Call::close, RINGFILE_OPCODE(CLOSE), false},
    {Op::Statx, "statx", Call::statx, RINGFILE_OPCODE(STATX), true},
    {Op::Fallocate, "fallocate", Call::fallocate, RINGFILE_OPCODE(FALLOCATE), true},
    {Op::Ftruncate, "ftruncate", Call::ftruncate, kNoOpcode, false},
    {Op::Rename, "rename", Call::rename, RINGFILE_OPCODE(RENAMEAT), true},
    {Op::Unlink, "unlink", Call::unlink, RINGFILE_OPCODE(UNLINKAT), true},
    {Op::Mkdir, "mkdir", Call::mkdir, RINGFILE_OPCODE(MKDIRAT), true},
    {Op::Symlink, "symlink", Call::symlink, RINGFILE_OPCODE(SYMLINKAT), true},
    {Op::Link, "link", Call::link, RINGFILE_OPCODE(LINKAT), true},
    {Op::Call, "call", Call::count_, kNoOpcode, false},
    {Op::CopyRange, "copy_range", Call::copy_range, kNoOpcode, false},
    {Op::Splice, "splice", Call::splice, RINGFILE_OPCODE(SPLICE), false},
    {Op::Sendfile, "sendfile", Call::sendfile, kNoOpcode, false},
    {Op::Poll, "poll", Call::poll, RINGFILE_OPCODE(POLL_ADD), false},
    {Op::OpenAt2, "openat2", Call::openat2, RINGFILE_OPCODE(OPENAT2), true},
    {Op::GetXattr, "get_xattr", Call::getxattr, RINGFILE_OPCODE(FGETXATTR), false},
    {Op::SetXattr, "set_xattr", Call::setxattr, RINGFILE_OPCODE(FSETXATTR), false},
    {Op::ListXattr, "list_xattr", Call::listxattr, kNoOpcode, false},
    {Op::RemoveXattr, "remove_xattr", Call::removexattr, kNoOpcode, false},
};

TEST(OpTable, EveryOpIsWrittenOutHere) {
  ASSERT_EQ(std::size(kGolden), static_cast<std::size_t>(Op::count_));
  for (std::size_t i = 0; i < std::size(kGolden); ++i) EXPECT_EQ(static_cast<std::size_t>(kGolden[i].op), i);
}

TEST(OpTable, NamesAndSeamCalls) {
  for (const Golden& g : kGolden) {
    EXPECT_EQ(std::string_view(to_string(g.op)), g.name);
    EXPECT_EQ(seam_call(g.op), g.seam) << g.name;
  }
  EXPECT_EQ(std::string_view(to_string(Op::count_)), "?");
}

#if RINGFILE_HAVE_IO_URING
TEST(OpTable, IoUringOpcodes) {
  for (const Golden& g : kGolden) EXPECT_EQ(uring_opcode(g.op), g.opcode) << g.name;
}
#endif

TEST(OpTable, RefusalRule) {
  for (const Golden& g : kGolden) {
    const bool is_close = g.op == Op::Close;  // the kernel released the fd either way
    EXPECT_EQ(is_refusal(g.op, -EOPNOTSUPP), !is_close) << g.name;
    EXPECT_EQ(is_refusal(g.op, -EINVAL), g.einval_is_refusal) << g.name;
    for (std::int64_t other : {std::int64_t{0}, std::int64_t{4096}, std::int64_t{-EIO}, std::int64_t{-EAGAIN},
                               std::int64_t{-ENOSYS}, std::int64_t{-EBADF}}) {
      EXPECT_FALSE(is_refusal(g.op, other)) << g.name << " " << other;
    }
  }
}

TEST(OpTable, TransfersAreTheOneBufferOps) {
  for (const Golden& g : kGolden) {
    const bool one_buffer =
        g.op == Op::Read || g.op == Op::Write || g.op == Op::ReadFixed || g.op == Op::WriteFixed;
    EXPECT_EQ(is_transfer(g.op), one_buffer) << g.name;
  }
}

// Rules the core spelled out op by op before they were traits.
TEST(OpTable, ReadsOpensAndEagainRules) {
  for (const Golden& g : kGolden) {
    const Op op = g.op;
    EXPECT_EQ(has_trait(op, kReads), op == Op::Read || op == Op::Readv || op == Op::ReadFixed) << g.name;
    EXPECT_EQ(has_trait(op, kOpensFile), op == Op::Open || op == Op::OpenAt2) << g.name;
    EXPECT_EQ(has_trait(op, kEagainIsFinal), op == Op::Splice || op == Op::Sendfile) << g.name;
    EXPECT_EQ(has_trait(op, kReleasesFd), op == Op::Close) << g.name;
  }
}

}  // namespace
}  // namespace ringfile::detail
