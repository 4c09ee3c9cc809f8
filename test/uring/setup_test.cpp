// The set-up ladder: each rung can be forced and then works end to end; refusals
// give null with the errno and a reason a person can act on.

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::Op;
using detail::Request;
using detail::UringRung;
using detail::sys::Call;

const char* expected_flags(UringRung rung) {
  switch (rung) {
    case UringRung::DeferTaskrun: return "SINGLE_ISSUER|DEFER_TASKRUN|SUBMIT_ALL";
    case UringRung::CoopTaskrun: return "COOP_TASKRUN";
    case UringRung::Plain: return "no setup flags";
  }
  return "?";
}

class SetupLadder : public ::testing::TestWithParam<UringRung> {};

TEST_P(SetupLadder, ForcedRungTakesEffectAndRoundTrips) {
  SKIP_WITHOUT_IO_URING();
  ScopedRung forced(GetParam());
  Driver d;
  auto& b = d.backend();
  // An older kernel refuses the upper rungs with EINVAL and the ladder slides down.
  ASSERT_GE(static_cast<int>(b.rung()), static_cast<int>(GetParam()));
  if (b.rung() != GetParam()) GTEST_SKIP() << "this kernel refused the rung: " << b.describe();

  const std::string text = b.describe();
  EXPECT_EQ(text.rfind("io_uring (", 0), 0u) << text;
  EXPECT_NE(text.find(expected_flags(GetParam())), std::string::npos) << text;
  EXPECT_NE(text.find("sq=256 cq=512"), std::string::npos) << text;
  EXPECT_NE(text.find("features: "), std::string::npos) << text;
  EXPECT_EQ(text.find('\n'), std::string::npos);

  TempDir dir;
  int fd = make_file(dir.file("f"), 8192);
  char out[4096];
  for (std::size_t i = 0; i < sizeof out; ++i) out[i] = static_cast<char>(i * 31);
  EXPECT_EQ(d.write(fd, out, sizeof out, 4096), 4096);
  Request* sync = d.make(Op::Fsync);
  sync->args.fd = fd;
  d.submit(sync);
  EXPECT_EQ(d.wait_for(sync), 0);
  char in[4096] = {};
  EXPECT_EQ(d.read(fd, in, sizeof in, 4096), 4096);
  EXPECT_EQ(std::string(in, sizeof in), std::string(out, sizeof out));
  ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Rungs, SetupLadder,
                         every_rung(), rung_name);

TEST(UringSetup, EnvironmentPicksTheFirstRung) {
  SKIP_WITHOUT_IO_URING();
  ::setenv("RINGFILE_URING_RUNG", "2", 1);
  Driver d;
  ::unsetenv("RINGFILE_URING_RUNG");
  EXPECT_EQ(d.backend().rung(), UringRung::Plain);
  EXPECT_NE(d.backend().describe().find("no setup flags"), std::string::npos);
}

TEST(UringSetup, EinvalSlidesDownOneRung) {
  SKIP_WITHOUT_IO_URING();
  ScopedFault refuse_top(Call::uring_setup, -EINVAL);
  Driver d;
  EXPECT_EQ(d.backend().rung(), UringRung::CoopTaskrun) << d.backend().describe();
}

TEST(UringSetup, EinvalOnEveryRungFails) {
  ScopedFault refuse_all(Call::uring_setup, -EINVAL, 3);
  int err = 0;
  std::string reason;
  auto b = detail::make_uring_backend(EngineOptions{}, err, reason);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(err, EINVAL);
  EXPECT_NE(reason.find("io_uring_setup: Invalid argument"), std::string::npos) << reason;
}

struct Refusal {
  int err;
  const char* hint;
};

class SetupRefused : public ::testing::TestWithParam<Refusal> {};

// Any error but EINVAL stops the ladder at once: no other rung would fare better.
TEST_P(SetupRefused, GivesNullErrnoAndReason) {
  ScopedFault refuse(Call::uring_setup, -GetParam().err, 3);
  int err = 0;
  std::string reason;
  auto b = detail::make_uring_backend(EngineOptions{}, err, reason);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(err, GetParam().err);
  EXPECT_EQ(detail::sys::calls(Call::uring_setup), 1u) << "the ladder went on after a refusal";
  const std::string expected = "io_uring_setup: " + std::system_category().message(GetParam().err);
  EXPECT_EQ(reason.rfind(expected, 0), 0u) << reason;
  EXPECT_NE(reason.find(GetParam().hint), std::string::npos) << reason;
}

INSTANTIATE_TEST_SUITE_P(Errnos, SetupRefused,
                         ::testing::Values(Refusal{EPERM, "seccomp"}, Refusal{EACCES, "seccomp"},
                                           Refusal{ENOSYS, "kernel built without io_uring"},
                                           Refusal{ENOMEM, "RLIMIT_MEMLOCK"}),
                         [](const ::testing::TestParamInfo<Refusal>& info) {
                           switch (info.param.err) {
                             case EPERM: return std::string("EPERM");
                             case EACCES: return std::string("EACCES");
                             case ENOSYS: return std::string("ENOSYS");
                             default: return std::string("ENOMEM");
                           }
                         });

// The reason names the sysctl when it is what refuses.
TEST(UringSetup, EpermReasonReportsTheSysctl) {
  ScopedFault refuse(Call::uring_setup, -EPERM, 3);
  int err = 0;
  std::string reason;
  auto b = detail::make_uring_backend(EngineOptions{}, err, reason);
  ASSERT_EQ(b, nullptr);
  if (::access("/proc/sys/kernel/io_uring_disabled", F_OK) != 0) {
    GTEST_SKIP() << "no kernel.io_uring_disabled sysctl on this kernel";
  }
  EXPECT_NE(reason.find("kernel.io_uring_disabled="), std::string::npos) << reason;
}

TEST(UringSetup, OptionsShapeTheRing) {
  SKIP_WITHOUT_IO_URING();
  EngineOptions options;
  options.queue_depth = 100;  // rounded up to a power of two by the kernel
  options.iowq_max_bounded = 2;
  options.iowq_max_unbounded = 2;
  Driver d(options);
  EXPECT_EQ(d.backend().sq_entries(), 128u);
  EXPECT_EQ(d.backend().cq_entries(), 256u);
  EXPECT_EQ(d.backend().kind(), Backend::IoUring);
  EXPECT_FALSE(d.backend().fixed_files());
}

// SQPOLL (opt-in) does not combine with the task-run flags: the ladder ends on the
// plain rung, and a kernel thread picks the SQEs up.
TEST(UringSetup, SqpollOptionRoundTrips) {
  SKIP_WITHOUT_IO_URING();
  EngineOptions options;
  options.sqpoll = true;
  int err = 0;
  std::string reason;
  if (!detail::UringBackend::create(options, err, reason)) GTEST_SKIP() << "SQPOLL refused here: " << reason;
  Driver d(options);
  EXPECT_NE(d.backend().describe().find("SQPOLL"), std::string::npos) << d.backend().describe();
  TempDir dir;
  int fd = make_file(dir.file("f"), 1 << 16);
  std::vector<char> bufs(64 * 512);
  std::vector<Request*> reqs;
  for (std::size_t i = 0; i < 64; ++i) {
    Request* r = d.make(Op::Read);
    r->args.fd = fd;
    r->args.buf = bufs.data() + i * 512;
    r->args.len = 512;
    r->args.offset = static_cast<std::int64_t>(i * 1024);
    d.submit(r);
    reqs.push_back(r);
  }
  d.drain();
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_EQ(reqs[i]->res, 512);
    EXPECT_EQ(bufs[i * 512], pattern_at(i * 1024));
  }
  ::close(fd);
}

}  // namespace
}  // namespace ringfile::test
