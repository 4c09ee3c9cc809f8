// Which engines this binary has, and runners by name.

#include "runners.hpp"

namespace ringfile::bench {

const std::vector<EngineInfo>& engine_list() {
  static const std::vector<EngineInfo> list{
      {"io_uring", true, "ringfile's io_uring engine (public API, default options)"},
      {"threadpool", true, "ringfile's thread-pool engine (public API, default options)"},
      {"pread", true, "a blocking pread/pwrite loop on the calling thread (one op at a time)"},
      {"preadv2", true,
       "the pread loop reading with preadv2(RWF_NOWAIT) first (pread if not cached): the call ringfile's "
       "cached-read fast path makes, so the floor of that path"},
#if RINGFILE_BENCH_HAVE_LIBURING
      {"liburing", true, "a hand-written raw liburing loop: the reference the io_uring engine must reach"},
#else
      {"liburing", false, "a hand-written raw liburing loop (not built: liburing not found)"},
#endif
#if RINGFILE_BENCH_HAVE_LIBUV
      {"libuv", true, "libuv's uv_fs_read/uv_fs_write on its thread pool (what Node.js uses)"},
#else
      {"libuv", false, "libuv's thread pool (not built: libuv not found)"},
#endif
#if RINGFILE_BENCH_HAVE_ASIO
      {"asio", true, "Boost.Asio random_access_file on io_uring, one file object per in-flight op"},
      {"asio-1file", true, "Boost.Asio with one random_access_file for all ops (Asio runs them one at a time)"},
#else
      {"asio", false, "Boost.Asio random_access_file (not built: needs Boost >= 1.78 and liburing)"},
      {"asio-1file", false, "Boost.Asio, one file object (not built: needs Boost >= 1.78 and liburing)"},
#endif
  };
  return list;
}

std::unique_ptr<Runner> make_runner(std::string_view name, std::optional<bool> fast_path) {
  if (name == "io_uring" || name == "threadpool") {
    EngineOptions o;
    o.backend = name == "io_uring" ? Backend::IoUring : Backend::ThreadPool;
    if (fast_path) o.cached_read_fast_path = *fast_path;
    return make_ringfile_runner(o);
  }
  if (name == "pread") return make_pread_runner();
  if (name == "preadv2") return make_pread_runner(true);
  if (name == "liburing") return make_liburing_runner();
  if (name == "libuv") return make_libuv_runner();
  if (name == "asio") return make_asio_runner(false);
  if (name == "asio-1file") return make_asio_runner(true);
  return nullptr;
}

#if !RINGFILE_BENCH_HAVE_LIBURING
std::unique_ptr<Runner> make_liburing_runner() { return nullptr; }
#endif
#if !RINGFILE_BENCH_HAVE_LIBUV
std::unique_ptr<Runner> make_libuv_runner() { return nullptr; }
#endif
#if !RINGFILE_BENCH_HAVE_ASIO
std::unique_ptr<Runner> make_asio_runner(bool) { return nullptr; }
#endif

}  // namespace ringfile::bench
