// A process that drops root after making its engine (setresuid, as servers do
// after start-up) must not keep root's access through the engine, on both
// engines, whether or not the engine's worker threads already ran ops. With
// SQPOLL the kernel's SQ thread would act with the set-up credentials: the engine
// refuses ops once they changed. Each case drops privileges in a forked child,
// so the test process stays root.

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

constexpr uid_t kNobody = 65534;

class Credentials : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges with setresuid";
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
    secret_ = dir_.file("secret");
    write_plain(secret_, "root only");
    ASSERT_EQ(::chmod(secret_.c_str(), 0600), 0);
    public_ = dir_.file("public");
    write_plain(public_, "anyone");
    ASSERT_EQ(::chmod(public_.c_str(), 0644), 0);
    private_dir_ = dir_.file("private");
    ASSERT_EQ(::mkdir(private_dir_.c_str(), 0700), 0);
  }

  // Runs `body` in a forked child with a 20 s limit; returns its exit code.
  template <class Body>
  int in_child(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::alarm(20);
      ::_exit(body());
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // The checks after the drop: 0 when every privileged op was refused.
  int privileged_ops_fail(Engine& engine, std::errc expected) {
    auto opened = open_sync(engine, secret_, O_RDONLY);
    if (opened) return 20;
    if (opened.error() != expected) return 21;
    std::optional<Result<void>> wrote;
    fs::write_file(engine, private_dir_ + "/created", "x", [&](Result<void> r) { wrote.emplace(r); });
    if (await(engine, wrote)) return 22;
    if (::access((private_dir_ + "/created").c_str(), F_OK) == 0) return 23;
    return 0;
  }

  TempDir dir_;
  std::string secret_, public_, private_dir_;
};

int drop_root() {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
      ::setresuid(kNobody, kNobody, kNobody) != 0) {
    return 30;
  }
  return 0;
}

TEST_P(Credentials, DefaultEngineActsWithTheCurrentCredentials) {
  for (bool ops_before_drop : {false, true}) {
    SCOPED_TRACE(ops_before_drop ? "workers busy before the drop" : "no op before the drop");
    const int code = in_child([&] {
      auto engine = Engine::create(options_for(GetParam()));
      if (!engine) return 1;
      if (ops_before_drop) {
        // Start the workers (io-wq, pool threads) while still root.
        for (int i = 0; i < 8; ++i) {
          auto f = open_sync(*engine, public_, O_RDONLY);
          if (!f) return 2;
          std::optional<Result<std::string>> got;
          fs::read_file(*engine, secret_, [&](Result<std::string> r) { got.emplace(std::move(r)); });
          if (!await(*engine, got)) return 3;
        }
      }
      if (int err = drop_root()) return err;
      return privileged_ops_fail(*engine, std::errc::permission_denied);
    });
    EXPECT_EQ(code, 0) << "exit codes: see privileged_ops_fail() and drop_root()";
  }
}

TEST_P(Credentials, SqpollRefusesOpsAfterTheCredentialsChanged) {
  if (GetParam() != Backend::IoUring) GTEST_SKIP() << "SQPOLL is an io_uring option";
  constexpr int kNoSqpoll = 77;
  const int code = in_child([&] {
    EngineOptions options = options_for(GetParam());
    options.sqpoll = true;
    auto engine = Engine::create(options);
    if (!engine) return kNoSqpoll;
    auto before = open_sync(*engine, secret_, O_RDONLY);
    if (!before) return 2;  // still root: allowed
    if (int err = drop_root()) return err;
    return privileged_ops_fail(*engine, std::errc::operation_not_permitted);
  });
  if (code == kNoSqpoll) GTEST_SKIP() << "the kernel refused an SQPOLL ring";
  EXPECT_EQ(code, 0) << "exit codes: see privileged_ops_fail() and drop_root()";
}

INSTANTIATE_TEST_SUITE_P(Engines, Credentials, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
