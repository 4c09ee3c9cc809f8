// The io_uring engine issue's benchmark: 4 KiB random reads of a 256 MiB
// page-cached file from one thread at QD 1 and 32, on the io_uring engine, the
// thread-pool engine, a plain pread loop and a raw liburing loop, in one run.
// The engines are the same code ringfile-bench runs.

#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "micro_support.hpp"
#include "runners.hpp"

namespace ringfile::bench {
namespace {

constexpr std::uint64_t kOpsPerIteration = 8192;

std::unique_ptr<Runner> make(const std::string& name) {
  if (name == "pread") return make_pread_runner();
#if RINGFILE_BENCH_HAVE_LIBURING
  if (name == "liburing") return make_liburing_runner();
#endif
  EngineOptions options;
  options.backend = name == "io_uring" ? Backend::IoUring : Backend::ThreadPool;
  return make_ringfile_runner(options);
}

void BM_CachedRandRead(benchmark::State& state, const std::string& engine) {
  Workload w;
  w.path = cached_file();
  w.size = kCachedFileSize;
  w.bs = 4096;
  w.qd = static_cast<unsigned>(state.range(0));
  w.rw = Rw::RandRead;
  auto runner = make(engine);
  if (!runner) {
    state.SkipWithError((engine + " not built").c_str());
    return;
  }
  if (auto err = runner->open(w); !err.empty()) {
    state.SkipWithError(err.c_str());
    return;
  }
  {
    Pace warm(~0ull, now_ns() + 100'000'000, nullptr);
    runner->run(warm);
  }
  std::uint64_t ops = 0;
  const std::uint64_t allocs0 = allocations();
  const std::int64_t sys0 = runner->syscalls();
  for (auto _ : state) {
    Pace pace(kOpsPerIteration, ~0ull, nullptr);
    runner->run(pace);
    if (!pace.error().empty()) {
      state.SkipWithError(pace.error().c_str());
      break;
    }
    ops += pace.ops();
  }
  const double allocs = static_cast<double>(allocations() - allocs0);
  const std::int64_t sys1 = runner->syscalls();
  runner->drain();
  const auto n = static_cast<double>(ops);
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
  state.counters["IOPS"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["allocs/op"] = benchmark::Counter(n > 0 ? allocs / n : 0);
  if (sys0 >= 0) state.counters["sys/op"] = benchmark::Counter(n > 0 ? static_cast<double>(sys1 - sys0) / n : 0);
}

BENCHMARK_CAPTURE(BM_CachedRandRead, io_uring, std::string("io_uring"))->Arg(1)->Arg(32)->UseRealTime();
BENCHMARK_CAPTURE(BM_CachedRandRead, threadpool, std::string("threadpool"))->Arg(1)->Arg(32)->UseRealTime();
BENCHMARK_CAPTURE(BM_CachedRandRead, pread, std::string("pread"))->Arg(1)->Arg(32)->UseRealTime();
#if RINGFILE_BENCH_HAVE_LIBURING
BENCHMARK_CAPTURE(BM_CachedRandRead, liburing, std::string("liburing"))->Arg(1)->Arg(32)->UseRealTime();
#endif

}  // namespace
}  // namespace ringfile::bench
