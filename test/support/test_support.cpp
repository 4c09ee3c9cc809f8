#include "test_support.hpp"

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringfile_config.h"
#if RINGFILE_HAVE_IO_URING
#include <liburing.h>

#include "exec/uring/probe.hpp"
#endif

namespace ringfile::test {

std::thread feed_fifo(const std::string& path, std::string data) {
  return std::thread([path, data = std::move(data)] {
    // O_NONBLOCK: ENXIO until a reader exists, so a reader that never comes
    // cannot hang the test here.
    int fd = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 && errno == ENXIO &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (fd < 0) return;
    ::fcntl(fd, F_SETFL, 0);
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  });
}

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "ringfile-test-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::system_error(errno, std::system_category(), "mkdtemp");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

SmallTmpfs::SmallTmpfs(std::string path, const std::string& size) : path_(std::move(path)) {
  if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST) {
    reason_ = "mkdir " + path_ + ": " + std::strerror(errno);
    return;
  }
  const std::string data = "size=" + size;
  if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    reason_ = "cannot mount a " + size + " tmpfs at " + path_ + " (needs root): " + std::strerror(errno);
    return;
  }
  mounted_ = true;
}

SmallTmpfs::~SmallTmpfs() {
  // MNT_DETACH: a descriptor a failed test left open must not keep it mounted.
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

SlowFlushFs::SlowFlushFs() {
#ifndef RINGFILE_SLOW_FLUSH_FS
  reason_ = "built without libfuse3: no slow-flush filesystem";
#else
  char dir[] = "/tmp/ringfile-slowfs-XXXXXX";
  if (!::mkdtemp(dir)) {
    reason_ = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  path_ = dir;
  char program[] = RINGFILE_SLOW_FLUSH_FS;
  char* argv[] = {program, dir, nullptr};
  if (int err = ::posix_spawn(&pid_, program, nullptr, nullptr, argv, environ)) {
    reason_ = std::string("cannot start ") + program + ": " + std::strerror(err);
    pid_ = -1;
    return;
  }
  constexpr long kFuseSuperMagic = 0x65735546;
  for (int i = 0; i < 1000; ++i) {  // up to 10 s
    struct statfs fs {};
    if (::statfs(dir, &fs) == 0 && fs.f_type == kFuseSuperMagic) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      reason_ = "ringfile-slow-flush-fs could not mount (needs root and /dev/fuse), exit status " +
                std::to_string(WEXITSTATUS(status));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reason_ = "ringfile-slow-flush-fs did not mount within 10 s";
#endif
}

SlowFlushFs::~SlowFlushFs() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  if (!path_.empty()) {
    ::umount2(path_.c_str(), MNT_DETACH);  // only if the daemon could not unmount
    ::rmdir(path_.c_str());
  }
}

void SlowFlushFs::set_sync_delay(std::chrono::milliseconds delay) {
  write_plain(file(".fsync_delay_ms"), std::to_string(delay.count()) + "\n");
}

std::vector<Backend> engines_under_test() {
  std::vector<Backend> out{Backend::ThreadPool};
#if RINGFILE_HAVE_IO_URING
  out.insert(out.begin(), Backend::IoUring);
#endif
  return out;
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::IoUring ? "io_uring" : "threadpool";
}

std::string skip_reason(Backend backend) {
  if (backend != Backend::IoUring) return {};
  auto engine = Engine::create(options_for(backend));
  if (engine) return {};
  return "io_uring unavailable here: " + engine.error().message();
}

bool uring_has_link_timeout() {
#if RINGFILE_HAVE_IO_URING
  auto probe = detail::probe_kernel();
  return probe && probe->supports_opcode(IORING_OP_LINK_TIMEOUT);
#else
  return false;
#endif
}

bool uring_supports(detail::Op op) {
#if RINGFILE_HAVE_IO_URING
  auto probe = detail::probe_kernel();
  return probe && detail::uring_opcode(op) != detail::uring_op::none && probe->supports_opcode(detail::uring_opcode(op));
#else
  (void)op;
  return false;
#endif
}

EngineOptions options_for(Backend backend) {
  EngineOptions o;
  o.backend = backend;
  return o;
}

void write_plain(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("write_plain " + path);
}

std::string read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

int open_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the DIR's own descriptor
}

Result<File> open_sync(Engine& engine, const std::string& path, int flags, mode_t mode) {
  std::optional<Result<File>> done;
  File::open(engine, path, flags, mode, [&](Result<File> f) { done.emplace(std::move(f)); });
  return await(engine, done);
}

Result<std::size_t> read_sync(Engine& engine, File& file, void* buf, std::size_t len, std::int64_t off) {
  std::optional<Result<std::size_t>> done;
  file.read(buf, len, off, [&](Result<std::size_t> r) { done.emplace(r); });
  return await(engine, done);
}

Result<std::size_t> write_sync(Engine& engine, File& file, const void* buf, std::size_t len, std::int64_t off) {
  std::optional<Result<std::size_t>> done;
  file.write(buf, len, off, [&](Result<std::size_t> r) { done.emplace(r); });
  return await(engine, done);
}

Result<void> fsync_sync(Engine& engine, File& file) {
  std::optional<Result<void>> done;
  file.fsync([&](Result<void> r) { done.emplace(r); });
  return await(engine, done);
}

Result<void> close_sync(Engine& engine, File& file) {
  std::optional<Result<void>> done;
  file.close([&](Result<void> r) { done.emplace(r); });
  return await(engine, done);
}

void EngineTest::SetUp() {
  if (auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
  auto e = Engine::create(options());
  ASSERT_TRUE(e) << e.error().message();
  ASSERT_EQ(e->backend(), GetParam());
  engine_.emplace(std::move(*e));
}

}  // namespace ringfile::test
