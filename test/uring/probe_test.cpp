// The capability probe: queryable, and it reports every opcode the engine uses.

#include <gtest/gtest.h>

#include <string>

#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::Op;

TEST(UringProbe, KernelProbeReportsFeatures) {
  SKIP_WITHOUT_IO_URING();
  auto probe = detail::probe_kernel();
  ASSERT_TRUE(probe) << probe.error().message();
  // NODROP (5.5) and SUBMIT_STABLE (5.5) predate every kernel we run on.
  EXPECT_TRUE(probe->has_feature("NODROP")) << probe->feature_names();
  EXPECT_TRUE(probe->has_feature("SUBMIT_STABLE")) << probe->feature_names();
  EXPECT_FALSE(probe->has_feature("NO_SUCH_FEATURE"));
  EXPECT_NE(probe->feature_names().find("NODROP"), std::string::npos);
}

TEST(UringProbe, EveryOpTheEngineUsesIsReported) {
  SKIP_WITHOUT_IO_URING();
  auto probe = detail::probe_kernel();
  ASSERT_TRUE(probe);
  // In io_uring since 5.6 at the latest; older kernels are not supported.
  for (Op op : {Op::Nop, Op::Read, Op::Write, Op::Readv, Op::Writev, Op::ReadFixed, Op::WriteFixed,
                Op::Fsync, Op::Fdatasync, Op::Open, Op::Close, Op::Statx, Op::Fallocate}) {
    EXPECT_TRUE(probe->supports(op)) << detail::to_string(op);
  }
  // Path ops arrived in 5.11 (rename, unlink) and 5.15 (mkdir, symlink, link); where
  // they are missing the engine runs them on its helper pool.
  for (Op op : {Op::Rename, Op::Unlink, Op::Mkdir, Op::Symlink, Op::Link}) {
    EXPECT_GE(detail::uring_opcode(op), 0) << detail::to_string(op);
    if (!probe->supports(op)) std::printf("note: no io_uring opcode for %s here\n", detail::to_string(op));
  }
}

TEST(UringProbe, OpsWithoutAnOpcodeAreNeverSupported) {
  SKIP_WITHOUT_IO_URING();
  auto probe = detail::probe_kernel();
  ASSERT_TRUE(probe);
  EXPECT_EQ(detail::uring_opcode(Op::Ftruncate), -1);
  EXPECT_EQ(detail::uring_opcode(Op::Call), -1);
  EXPECT_FALSE(probe->supports(Op::Ftruncate));
  EXPECT_FALSE(probe->supports(Op::Call));
  EXPECT_FALSE(probe->supports_opcode(-1));
  EXPECT_FALSE(probe->supports_opcode(100000));
}

TEST(UringProbe, BackendProbesItsOwnRing) {
  SKIP_WITHOUT_IO_URING();
  auto kernel = detail::probe_kernel();
  ASSERT_TRUE(kernel);
  Driver d;
  EXPECT_EQ(d.backend().probe().opcodes, kernel->opcodes);
  EXPECT_NE(d.backend().describe().find(d.backend().probe().feature_names()), std::string::npos);
}

}  // namespace
}  // namespace ringfile::test
