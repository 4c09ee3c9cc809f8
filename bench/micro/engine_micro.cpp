// Hot-path costs: one op through each engine's submit and reap, and the request
// pool on its own. Every case reports heap allocations per op.

#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>

#include <benchmark/benchmark.h>

#include "bench_support.hpp"
#include "micro_support.hpp"
#include "ops/request.hpp"
#include "ringfile/ringfile.hpp"

namespace ringfile::bench {
namespace {

void set_per_op(benchmark::State& state, const char* name, double total, double ops) {
  state.counters[name] = benchmark::Counter(ops > 0 ? total / ops : 0);
}

// A 4 KiB read of a page-cached file with the cached-read fast path off, so every
// op takes the whole way through the ring or the pool: the submit+reap cost.
// range(0) ops are issued together, then all of them reaped.
void BM_SubmitReap(benchmark::State& state, Backend backend) {
  const auto batch = static_cast<unsigned>(state.range(0));
  auto made = engine_with_file(state, backend, false, cached_file());
  if (!made) return;
  auto& [engine, file] = *made;

  Workload w;
  w.size = kCachedFileSize;
  w.qd = batch;
  OpPicker picker(w);
  SlotBuffers buffers(batch, w.bs);
  unsigned outstanding = 0;
  bool failed = false;
  auto round = [&] {
    for (unsigned i = 0; i < batch; ++i) {
      file.read(buffers.at(i), w.bs, picker.next().offset, [&outstanding, &failed](Result<std::size_t> r) {
        --outstanding;
        failed |= !r;
      });
    }
    outstanding = batch;
    while (outstanding > 0) (void)engine.wait();
  };
  for (int i = 0; i < 1000; ++i) round();

  const std::uint64_t allocs0 = allocations();
  const EngineStats stats0 = engine.stats();
  for (auto _ : state) round();
  const double allocs = static_cast<double>(allocations() - allocs0);
  const EngineStats stats1 = engine.stats();
  if (failed) state.SkipWithError("a read failed");

  const auto ops = static_cast<double>(state.iterations() * batch);
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
  set_per_op(state, "allocs/op", allocs, ops);
  set_per_op(state, "enters/op", static_cast<double>(stats1.kernel_enters - stats0.kernel_enters), ops);
  set_per_op(state, "wakeups/op", static_cast<double>(stats1.worker_wakeups - stats0.worker_wakeups), ops);
  file.close();
  (void)engine.run();
}
BENCHMARK_CAPTURE(BM_SubmitReap, io_uring, Backend::IoUring)->Arg(1)->Arg(32)->UseRealTime();
BENCHMARK_CAPTURE(BM_SubmitReap, threadpool, Backend::ThreadPool)->Arg(1)->Arg(32)->UseRealTime();

// One request taken from the engine's pool and given back.
void BM_RequestPool(benchmark::State& state) {
  detail::RequestPool pool;
  pool.release(pool.acquire());
  const std::uint64_t allocs0 = allocations();
  for (auto _ : state) {
    detail::Request* r = pool.acquire();
    benchmark::DoNotOptimize(r);
    pool.release(r);
  }
  set_per_op(state, "allocs/op", static_cast<double>(allocations() - allocs0),
             static_cast<double>(state.iterations()));
}
BENCHMARK(BM_RequestPool);

// range(0) requests taken, then all given back: the free list under a burst.
void BM_RequestPoolBurst(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  detail::RequestPool pool;
  std::vector<detail::Request*> held(n);
  for (auto& r : held) r = pool.acquire();
  for (auto* r : held) pool.release(r);
  const std::uint64_t allocs0 = allocations();
  for (auto _ : state) {
    for (auto& r : held) r = pool.acquire();
    benchmark::DoNotOptimize(held.data());
    for (auto* r : held) pool.release(r);
  }
  const auto ops = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
  set_per_op(state, "allocs/op", static_cast<double>(allocations() - allocs0), ops);
}
BENCHMARK(BM_RequestPoolBurst)->Arg(64);

// Proves the counter sees allocations: expect allocs/op = 1.
void BM_AllocCounterCheck(benchmark::State& state) {
  const std::uint64_t allocs0 = allocations();
  for (auto _ : state) {
    auto* p = new int(1);
    benchmark::DoNotOptimize(p);
    delete p;
  }
  set_per_op(state, "allocs/op", static_cast<double>(allocations() - allocs0),
             static_cast<double>(state.iterations()));
}
BENCHMARK(BM_AllocCounterCheck);

}  // namespace
}  // namespace ringfile::bench
