#pragma once

// Runs the example programs (paths from the environment meson test sets) on
// real files, for the examples' tests.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace ringfile::test {

inline std::string program(const char* env) {
  const char* path = std::getenv(env);
  return path ? path : "";
}

inline std::string engine_flag(Backend b) { return b == Backend::IoUring ? "--engine=io_uring" : "--engine=threadpool"; }

// Runs argv with stdout and stderr sent to files; returns the exit status.
inline int run(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class ExamplesTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    cp_ = program("RINGFILE_CP");
    cat_ = program("RINGFILE_CAT");
    if (cp_.empty() || cat_.empty()) GTEST_SKIP() << "RINGFILE_CP / RINGFILE_CAT not set (run through meson test)";
  }
  std::string cp_, cat_;
  TempDir dir_;
};

}  // namespace ringfile::test
