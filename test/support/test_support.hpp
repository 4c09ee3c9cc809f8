#pragma once

// Shared fixtures: a temporary directory on a real filesystem, the list of
// engines this machine can run, and small helpers that wait for one callback.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ops/op_table.hpp"
#include "ringfile/ringfile.hpp"

namespace ringfile::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A tmpfs of `size` (mount(8)'s size=, such as "1m") mounted at `path` (created)
// for the object's lifetime, to run a filesystem out of space. Needs root (or
// CAP_SYS_ADMIN); when the mount fails, reason() says why and tests skip.
class SmallTmpfs {
 public:
  SmallTmpfs(std::string path, const std::string& size);
  ~SmallTmpfs();
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
  const std::string& reason() const { return reason_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  std::string reason_;
  bool mounted_ = false;
};

// ringfile-slow-flush-fs (slow_flush_fs.cpp) mounted on a new directory for the
// object's lifetime: a filesystem whose fsync/fdatasync take set_sync_delay()
// (0 at first) and answer EINTR when interrupted. Needs root, /dev/fuse and a
// build with libfuse3; otherwise reason() says what is missing and tests skip.
class SlowFlushFs {
 public:
  SlowFlushFs();
  ~SlowFlushFs();
  SlowFlushFs(const SlowFlushFs&) = delete;
  SlowFlushFs& operator=(const SlowFlushFs&) = delete;
  const std::string& reason() const { return reason_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Syncs already waiting are re-timed from when they started.
  void set_sync_delay(std::chrono::milliseconds delay);

 private:
  std::string path_;
  std::string reason_;
  int pid_ = -1;
};

// Backends to run conformance tests on: the thread pool always, io_uring when it
// was built; whether io_uring actually runs here is checked per test (skip_reason).
std::vector<Backend> engines_under_test();
std::string backend_name(const ::testing::TestParamInfo<Backend>& info);
// Why `backend` cannot run on this machine, or empty when it can.
std::string skip_reason(Backend backend);
// Whether this kernel's io_uring has IORING_OP_LINK_TIMEOUT (false without io_uring).
bool uring_has_link_timeout();
// Whether this kernel's io_uring has the opcode the op table names for `op`.
bool uring_supports(detail::Op op);

EngineOptions options_for(Backend backend);

// Writes / reads a whole file with plain syscalls, as an independent oracle.
void write_plain(const std::string& path, const std::string& data);
std::string read_plain(const std::string& path);
std::string random_bytes(std::size_t n, std::uint32_t seed = 1);
int open_fds();

// Writes `data` into the FIFO at `path` from a new thread once a reader has it
// open (giving up after 10 s), then closes it: the reader sees end of file.
std::thread feed_fifo(const std::string& path, std::string data);

// Runs the engine until `done` holds a value (fails the test on a 10 s timeout).
template <class T>
T await(Engine& engine, std::optional<T>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    auto r = engine.wait(std::chrono::milliseconds(100));
    if (!r) ADD_FAILURE() << "wait: " << r.error().message();
  }
  if (!done) {
    ADD_FAILURE() << "timed out waiting for a completion";
    std::abort();
  }
  return std::move(*done);
}

Result<File> open_sync(Engine& engine, const std::string& path, int flags, mode_t mode = 0644);
Result<std::size_t> read_sync(Engine& engine, File& file, void* buf, std::size_t len, std::int64_t off);
Result<std::size_t> write_sync(Engine& engine, File& file, const void* buf, std::size_t len, std::int64_t off);
Result<void> fsync_sync(Engine& engine, File& file);
Result<void> close_sync(Engine& engine, File& file);

// A fixture parameterized over engines; SetUp skips with the reason when the
// engine can't run on this machine.
class EngineTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  Engine& engine() { return *engine_; }
  EngineOptions options() const { return options_for(GetParam()); }

  TempDir dir_;
  std::optional<Engine> engine_;
};

}  // namespace ringfile::test
