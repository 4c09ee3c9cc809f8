// File::send_to of a hot 4 KiB file to a non-blocking socket pair, drained by the
// same thread: with the cached-data fast path (sendfile on the owner thread) and
// without it (EngineOptions::cached_read_fast_path off: the engine's route, a
// worker's sendfile on the pool, two linked splices on io_uring), on each engine,
// beside a plain sendfile loop, the floor.

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include "micro_support.hpp"
#include "ringfile/ringfile.hpp"

namespace ringfile::bench {
namespace {

constexpr std::size_t kFileSize = 4096;

// A 4 KiB file, written once and so in the page cache.
const std::string& hot_file() {
  static const std::string path = [] {
    const std::string p = (std::filesystem::temp_directory_path() / "ringfile-send-micro.dat").string();
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const std::string data(kFileSize, 'h');
    if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) std::abort();
    ::close(fd);
    return p;
  }();
  return path;
}

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) std::abort();
  }
  ~SocketPair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  // Reads back what one send put in, so the socket never fills.
  bool drain(std::size_t n) {
    char buf[kFileSize];
    while (n > 0) {
      const ssize_t got = ::read(fd[1], buf, std::min(n, sizeof buf));
      if (got <= 0) return false;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }
};

void BM_SendToHot(benchmark::State& state, Backend backend, bool fast_path) {
  auto made = engine_with_file(state, backend, fast_path, hot_file());
  if (!made) return;
  auto& [engine, file] = *made;
  SocketPair sockets;
  bool failed = false;
  auto one = [&] {
    bool done = false;
    file.send_to(sockets.fd[0], 0, kFileSize, [&](Result<std::size_t> n) {
      done = true;
      failed |= !n || *n != kFileSize;
    });
    while (!done) (void)engine.wait();
    failed |= !sockets.drain(kFileSize);
  };
  for (int i = 0; i < 1000; ++i) one();
  const EngineStats before = engine.stats();
  for (auto _ : state) one();
  const EngineStats after = engine.stats();
  if (failed) state.SkipWithError("a send failed");
  const auto sends = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.counters["owner/send"] = benchmark::Counter(static_cast<double>(after.fast_path_sends - before.fast_path_sends) / sends);
  file.close();
  (void)engine.run();
}
BENCHMARK_CAPTURE(BM_SendToHot, io_uring_fast_path, Backend::IoUring, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_SendToHot, io_uring_engine_route, Backend::IoUring, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_SendToHot, threadpool_fast_path, Backend::ThreadPool, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_SendToHot, threadpool_engine_route, Backend::ThreadPool, false)->UseRealTime();

void BM_SendfileLoop(benchmark::State& state) {
  const int fd = ::open(hot_file().c_str(), O_RDONLY | O_CLOEXEC);
  SocketPair sockets;
  bool failed = fd < 0;
  for (auto _ : state) {
    off_t offset = 0;
    failed |= ::sendfile(sockets.fd[0], fd, &offset, kFileSize) != static_cast<ssize_t>(kFileSize);
    failed |= !sockets.drain(kFileSize);
  }
  if (failed) state.SkipWithError("sendfile failed");
  state.SetItemsProcessed(state.iterations());
  ::close(fd);
}
BENCHMARK(BM_SendfileLoop)->UseRealTime();

}  // namespace
}  // namespace ringfile::bench
