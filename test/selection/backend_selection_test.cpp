// Which engine runs, and why: build default, RINGFILE_BACKEND, and real refusals
// of io_uring (a seccomp filter, injected set-up errors), each followed by a real
// read/write/fsync round trip on whatever engine was chosen.

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>

#include "ringfile_config.h"
#include "sys/sys.hpp"
#include "test_support.hpp"

namespace ringfile::test {
namespace {

// A write, fsync, read-back on `engine`; returns an empty string or what went wrong.
std::string round_trip(Engine& engine, const std::string& path) {
  auto file = open_sync(engine, path, O_CREAT | O_RDWR | O_TRUNC);
  if (!file) return "open: " + file.error().message();
  const std::string data = random_bytes(10000, 3);
  auto wrote = write_sync(engine, *file, data.data(), data.size(), 0);
  if (!wrote || *wrote != data.size()) return "write failed";
  if (auto s = fsync_sync(engine, *file); !s) return "fsync: " + s.error().message();
  std::string back(data.size(), '\0');
  auto got = read_sync(engine, *file, back.data(), back.size(), 0);
  if (!got || back != data) return "read-back differs";
  return {};
}

// Runs body() in a forked child (seccomp filters can't be removed); the child's
// exit status 0 means success, anything else prints what the child wrote.
template <class Body>
void in_child(Body body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string failure = body();
    if (!failure.empty()) std::fprintf(stderr, "child: %s\n", failure.c_str());
    std::fflush(nullptr);
    ::_exit(failure.empty() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the child's stderr above";
}

class BackendSelection : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("RINGFILE_BACKEND"); }
  TempDir dir_;
};

TEST_F(BackendSelection, ExplicitThreadPoolIsHonoured) {
  auto engine = Engine::create(options_for(Backend::ThreadPool));
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->backend(), Backend::ThreadPool);
  EXPECT_TRUE(engine->fallback_reason().empty());
  EXPECT_EQ(round_trip(*engine, dir_.file("pool")), "");
}

TEST_F(BackendSelection, EnvironmentChoosesThePoolForAuto) {
  ::setenv("RINGFILE_BACKEND", "threadpool", 1);
  auto engine = Engine::create();
  ::unsetenv("RINGFILE_BACKEND");
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->backend(), Backend::ThreadPool);
}

TEST_F(BackendSelection, EnvironmentDoesNotOverrideAnExplicitChoice) {
  ::setenv("RINGFILE_BACKEND", "io_uring", 1);
  auto engine = Engine::create(options_for(Backend::ThreadPool));
  ::unsetenv("RINGFILE_BACKEND");
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->backend(), Backend::ThreadPool);
}

TEST_F(BackendSelection, UnknownEnvironmentValueIsAnError) {
  ::setenv("RINGFILE_BACKEND", "uring", 1);
  auto engine = Engine::create();
  ::unsetenv("RINGFILE_BACKEND");
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error(), std::errc::invalid_argument);
}

TEST_F(BackendSelection, AutoFollowsTheBuildDefault) {
  auto engine = Engine::create();
  ASSERT_TRUE(engine);
  const std::string built = RINGFILE_DEFAULT_BACKEND;
  if (built == "threadpool" || !RINGFILE_HAVE_IO_URING) {
    EXPECT_EQ(engine->backend(), Backend::ThreadPool);
  } else if (engine->backend() == Backend::ThreadPool) {
    EXPECT_FALSE(engine->fallback_reason().empty()) << "a fallback must say why";
  } else {
    EXPECT_EQ(engine->backend(), Backend::IoUring);
  }
  EXPECT_EQ(round_trip(*engine, dir_.file("auto")), "");
}

#if RINGFILE_HAVE_IO_URING

// Makes io_uring_setup fail with `err` in this process, as Docker's default
// seccomp profile does (EPERM) or an old kernel would (ENOSYS).
bool refuse_io_uring_setup(int err) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

// RINGFILE_BACKEND=auto makes Auto try io_uring even in a build whose default is
// the pool, so the fallback is exercised in every build.
class UringRefused : public BackendSelection, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override { ::setenv("RINGFILE_BACKEND", "auto", 1); }
  void TearDown() override { ::unsetenv("RINGFILE_BACKEND"); }
};

TEST_P(UringRefused, BySeccompAutoFallsBackToThePool) {
  const int err = GetParam();
  const std::string path = dir_.file("seccomp");
  in_child([&]() -> std::string {
    if (!refuse_io_uring_setup(err)) return "could not install the seccomp filter";
    EngineOptions o;
    o.backend = Backend::Auto;
    auto engine = Engine::create(o);
    if (!engine) return "Auto engine failed: " + engine.error().message();
    if (engine->backend() != Backend::ThreadPool) return "expected the thread pool";
    const std::string why = engine->fallback_reason();
    if (why.find("io_uring_setup") == std::string::npos || why.find(std::strerror(err)) == std::string::npos) {
      return "fallback reason does not name io_uring_setup and the errno: " + why;
    }
    if (engine->describe().find(why) == std::string::npos) return "describe() omits the reason";
    return round_trip(*engine, path);
  });
}

TEST_P(UringRefused, BySeccompExplicitIoUringIsAnError) {
  const int err = GetParam();
  in_child([&]() -> std::string {
    if (!refuse_io_uring_setup(err)) return "could not install the seccomp filter";
    auto engine = Engine::create(options_for(Backend::IoUring));
    if (engine) return "explicit io_uring must not silently switch engines";
    if (engine.error().value() != err) return "wrong errno: " + engine.error().message();
    return {};
  });
}

TEST_P(UringRefused, ByInjectedSetupErrorAutoFallsBack) {
  const int err = GetParam();
  detail::sys::inject({detail::sys::Call::uring_setup, 1, 1000, -err, {}});
  auto fallback = Engine::create();
  auto strict = Engine::create(options_for(Backend::IoUring));
  detail::sys::clear_faults();
  ASSERT_TRUE(fallback);
  EXPECT_EQ(fallback->backend(), Backend::ThreadPool);
  EXPECT_NE(fallback->fallback_reason().find(std::strerror(err)), std::string::npos) << fallback->fallback_reason();
  EXPECT_EQ(round_trip(*fallback, dir_.file("injected")), "");
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().value(), err);
}

INSTANTIATE_TEST_SUITE_P(Errors, UringRefused, ::testing::Values(EPERM, ENOSYS, ENOMEM, EACCES),
                         [](const ::testing::TestParamInfo<int>& info) {
                           switch (info.param) {
                             case EPERM: return std::string("EPERM");
                             case ENOSYS: return std::string("ENOSYS");
                             case ENOMEM: return std::string("ENOMEM");
                             default: return std::string("EACCES");
                           }
                         });

TEST_F(BackendSelection, TinyMemlockLimitFallsBackWhereRingsCountAgainstIt) {
  if (!skip_reason(Backend::IoUring).empty()) GTEST_SKIP() << skip_reason(Backend::IoUring);
  const std::string path = dir_.file("memlock");
  // Kernels since 5.12 charge rings to the memory cgroup, not RLIMIT_MEMLOCK; there
  // the limit cannot refuse a ring, and this test has nothing to show.
  pid_t probe = ::fork();
  ASSERT_GE(probe, 0);
  if (probe == 0) {
    rlimit tiny{0, 0};
    ::setrlimit(RLIMIT_MEMLOCK, &tiny);
    auto engine = Engine::create(options_for(Backend::IoUring));
    ::_exit(engine ? 0 : 1);
  }
  int status = 0;
  ::waitpid(probe, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    GTEST_SKIP() << "this kernel does not account io_uring rings to RLIMIT_MEMLOCK (5.12+)";
  }
  in_child([&]() -> std::string {
    rlimit tiny{0, 0};
    ::setrlimit(RLIMIT_MEMLOCK, &tiny);
    ::setenv("RINGFILE_BACKEND", "auto", 1);  // try io_uring whatever the build default
    auto engine = Engine::create();
    if (!engine) return "Auto failed: " + engine.error().message();
    if (engine->backend() != Backend::ThreadPool) return "expected the pool";
    return round_trip(*engine, path);
  });
}

#else

TEST_F(BackendSelection, IoUringNotBuiltIsAClearError) {
  auto engine = Engine::create(options_for(Backend::IoUring));
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error(), std::errc::not_supported);
  auto fallback = Engine::create();
  ASSERT_TRUE(fallback);
  EXPECT_EQ(fallback->backend(), Backend::ThreadPool);
}

#endif

}  // namespace
}  // namespace ringfile::test
