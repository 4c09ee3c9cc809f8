#include "micro_support.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>

#include <fcntl.h>

#include <benchmark/benchmark.h>

#include "bench_support.hpp"

namespace {

std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}

void* counted_alloc(std::size_t n, std::align_val_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  auto a = static_cast<std::size_t>(align);
  if (a < sizeof(void*)) a = sizeof(void*);
  return std::aligned_alloc(a, (n + a - 1) / a * a);
}

}  // namespace

// Replacing the global allocation functions counts every C++ allocation in the
// process, the library's and the worker threads' included.
void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_alloc(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_alloc(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_alloc(n, a); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_alloc(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace ringfile::bench {

std::uint64_t allocations() noexcept { return g_allocations.load(std::memory_order_relaxed); }

const std::string& cached_file() {
  static const std::string path = [] {
    const char* env = std::getenv("RINGFILE_BENCH_FILE");
    std::string p = env && *env ? env : default_file_path("ringfile-bench.dat");
    PreparedFile f = prepare_file(p, kCachedFileSize);
    if (!f.error.empty()) throw std::runtime_error(f.error);
    double resident = warm_page_cache(p, kCachedFileSize);
    std::fprintf(stderr, "file: %s (%s, %.0f%% in the page cache)\n", p.c_str(), f.created ? "created" : "reused",
                 resident * 100);
    return p;
  }();
  return path;
}

std::optional<std::pair<Engine, File>> engine_with_file(benchmark::State& state, Backend backend, bool fast_path,
                                                        const std::string& path) {
  EngineOptions options;
  options.backend = backend;
  options.cached_read_fast_path = fast_path;
  auto engine = Engine::create(options);
  if (!engine) {
    state.SkipWithError((std::string(to_string(backend)) + " engine: " + engine.error().message()).c_str());
    return std::nullopt;
  }
  std::optional<Result<File>> opened;
  File::open(*engine, path, O_RDONLY | O_CLOEXEC, [&](Result<File> f) { opened.emplace(std::move(f)); });
  while (!opened) (void)engine->wait();
  if (!*opened) {
    state.SkipWithError(("open: " + opened->error().message()).c_str());
    return std::nullopt;
  }
  return std::pair<Engine, File>(std::move(*engine), std::move(**opened));
}

}  // namespace ringfile::bench

BENCHMARK_MAIN();
