// Real faults, no seam, on both engines: a full filesystem, files closed or
// dropped with ops in flight, running out of descriptors, and descriptor leaks.

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fault_support.hpp"

namespace ringfile::test {
namespace {

class RealFault : public EngineTest {};

// --- A full filesystem --------------------------------------------------------

// A 1 MiB tmpfs under the test's directory, lazily unmounted when it goes away.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const std::filesystem::path& where) : path_(where) {
    if (::geteuid() != 0) {
      why_not_ = "mounting a tmpfs needs root";
      return;
    }
    std::filesystem::create_directory(path_);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=1m") != 0) {
      why_not_ = std::string("mount tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  const std::string& why_not() const { return why_not_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
  bool mounted_ = false;
  std::string why_not_;
};

TEST_P(RealFault, FullFilesystemReportsENOSPCAndKeepsEarlierFiles) {
  SmallTmpfs fs(dir_.path() / "tmpfs");
  if (!fs.why_not().empty()) GTEST_SKIP() << fs.why_not();

  // 48 KiB does not divide 1 MiB: the write that meets the end is cut short.
  constexpr std::size_t kChunk = 48 * 1024;
  std::vector<File> files;
  std::vector<std::string> contents;
  Result<std::size_t> last = std::size_t{0};
  for (int i = 0; i < 64; ++i) {
    auto file = open_sync(engine(), fs.file("f" + std::to_string(i)), O_CREAT | O_RDWR | O_TRUNC);
    ASSERT_TRUE(file) << file.error().message();
    const std::string data = random_bytes(kChunk, static_cast<std::uint32_t>(100 + i));
    last = sync_call<Result<std::size_t>>(
        engine(), [&](auto done) { file->write_all(data.data(), data.size(), 0, std::move(done)); });
    files.push_back(std::move(*file));
    if (!last) break;
    ASSERT_EQ(*last, kChunk);
    contents.push_back(data);
  }
  ASSERT_FALSE(last) << "1 MiB tmpfs took 64 x 48 KiB";
  EXPECT_EQ(last.error(), std::errc::no_space_on_device) << last.error().message();
  ASSERT_GE(contents.size(), 10u) << "the tmpfs filled up far too early";

  // Once full, a plain write of a fresh page and a fallocate also say ENOSPC.
  File& partial = files.back();
  const std::string page(4096, 'p');
  auto more = sync_call<Result<std::size_t>>(
      engine(), [&](auto done) { partial.write(page.data(), page.size(), 1 << 20, std::move(done)); });
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error(), std::errc::no_space_on_device);
  auto allocated = sync_call<Result<void>>(
      engine(), [&](auto done) { partial.fallocate(0, 0, 1 << 20, std::move(done)); });
  ASSERT_FALSE(allocated);
  EXPECT_EQ(allocated.error(), std::errc::no_space_on_device);

  for (std::size_t i = 0; i < contents.size(); ++i) {
    std::string back(kChunk, '\0');
    auto got = sync_call<Result<std::size_t>>(
        engine(), [&](auto done) { files[i].read_exact(back.data(), back.size(), 0, std::move(done)); });
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, kChunk);
    EXPECT_TRUE(same_bytes(back, contents[i])) << "file f" << i << " changed after the filesystem filled up";
  }

  // Free two files' worth of space: writes succeed again.
  for (int i : {0, 1}) {
    ASSERT_TRUE(close_sync(engine(), files[static_cast<std::size_t>(i)]));
    ASSERT_EQ(::unlink(fs.file("f" + std::to_string(i)).c_str()), 0);
  }
  const std::string again = random_bytes(kChunk, 99);
  auto wrote = sync_call<Result<std::size_t>>(
      engine(), [&](auto done) { partial.write_all(again.data(), again.size(), 0, std::move(done)); });
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_EQ(*wrote, kChunk);
  ASSERT_TRUE(fsync_sync(engine(), partial));
  EXPECT_TRUE(same_bytes(read_plain(fs.file("f" + std::to_string(files.size() - 1))).substr(0, kChunk), again));
  for (auto& f : files) {
    if (f.is_open()) {
      ASSERT_TRUE(close_sync(engine(), f));
    }
  }
}

// --- Files closed, dropped or cancelled with ops in flight ----------------------

// Submits a mix of ops on `file`; each callback bumps its own counter, so a
// completion delivered twice or never shows.
struct InFlightMix {
  static constexpr int kOps = 3000;
  std::vector<int> calls = std::vector<int>(kOps, 0);
  std::vector<std::error_code> errors = std::vector<std::error_code>(kOps);
  std::vector<char> buffers = std::vector<char>(static_cast<std::size_t>(kOps) * 512, 'w');

  void submit(File& file) {
    for (int i = 0; i < kOps; ++i) {
      char* b = buffers.data() + static_cast<std::size_t>(i) * 512;
      const std::int64_t off = static_cast<std::int64_t>(i % 512) * 512;
      auto io = [this, i](Result<std::size_t> r) { record(i, r.error()); };
      auto done = [this, i](Result<void> r) { record(i, r.error()); };
      switch (i % 6) {
        case 0: case 1: file.read(b, 512, off, io); break;
        case 2: case 3: file.write(b, 512, off, io); break;
        case 4: file.fsync(done); break;
        default: file.stat([this, i](Result<FileStat> r) { record(i, r.error()); }); break;
      }
    }
  }
  void record(int i, std::error_code ec) {
    ++calls[static_cast<std::size_t>(i)];
    errors[static_cast<std::size_t>(i)] = ec;
  }
  // Each op completed once; with `cancel_ok` ECANCELED is an allowed outcome.
  void expect_each_once(bool cancel_ok) const {
    for (int i = 0; i < kOps; ++i) {
      ASSERT_EQ(calls[static_cast<std::size_t>(i)], 1) << "op " << i;
      const auto& ec = errors[static_cast<std::size_t>(i)];
      if (ec) {
        ASSERT_TRUE(cancel_ok && ec == std::errc::operation_canceled) << "op " << i << ": " << ec.message();
      }
    }
  }
};

TEST_P(RealFault, ClosingWithOpsInFlightDeliversEveryCompletionOnce) {
  const std::string path = dir_.file("close_in_flight");
  write_plain(path, random_bytes(512 * 512));
  const int before = open_fds();
  auto file = open_sync(engine(), path, O_RDWR);
  ASSERT_TRUE(file);
  InFlightMix mix;
  mix.submit(*file);
  int closed = 0;
  file->close([&](Result<void> r) {
    EXPECT_TRUE(r) << r.error().message();
    for (int c : mix.calls) ASSERT_EQ(c, 1) << "the close completed before an op it should wait for";
    ++closed;
  });
  // Ops after close() are refused, each once.
  int late = 0;
  char b[8];
  file->read(b, sizeof b, 0, [&](Result<std::size_t> r) {
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    ++late;
  });
  ASSERT_TRUE(engine().run());
  mix.expect_each_once(false);
  EXPECT_EQ(closed, 1);
  EXPECT_EQ(late, 1);
  EXPECT_EQ(open_fds(), before);
  EXPECT_TRUE(same_bytes(read_plain(path).substr(0, 512), std::string(512, 'w')));
}

TEST_P(RealFault, DroppingAFileWithOpsInFlightDeliversEveryCompletionOnce) {
  const std::string path = dir_.file("drop_in_flight");
  write_plain(path, random_bytes(512 * 512));
  const int before = open_fds();
  InFlightMix mix;
  {
    auto file = open_sync(engine(), path, O_RDWR);
    ASSERT_TRUE(file);
    mix.submit(*file);
  }
  ASSERT_TRUE(engine().run());
  mix.expect_each_once(false);
  EXPECT_EQ(open_fds(), before);
}

TEST_P(RealFault, CancellingThenClosingDeliversEveryCompletionOnce) {
  const std::string path = dir_.file("cancel_close");
  write_plain(path, random_bytes(512 * 512));
  const int before = open_fds();
  auto file = open_sync(engine(), path, O_RDWR);
  ASSERT_TRUE(file);
  InFlightMix mix;
  mix.submit(*file);
  ASSERT_TRUE(engine().submit());
  file->cancel_all();
  int closed = 0;
  file->close([&](Result<void> r) {
    EXPECT_TRUE(r) << r.error().message();
    ++closed;
  });
  ASSERT_TRUE(engine().run());
  mix.expect_each_once(true);
  EXPECT_EQ(closed, 1);
  EXPECT_EQ(open_fds(), before);
}

TEST_P(RealFault, EngineDestroyedWhileACloseWaitsForOpsDeliversEverythingOnce) {
  const std::string path = dir_.file("close_then_destroy");
  write_plain(path, random_bytes(512 * 512));
  const int before = open_fds();
  InFlightMix mix;
  int closed = 0;
  {
    auto engine = Engine::create(options());
    ASSERT_TRUE(engine);
    auto file = open_sync(*engine, path, O_RDWR);
    ASSERT_TRUE(file);
    mix.submit(*file);
    ASSERT_TRUE(engine->submit());
    file->close([&](Result<void> r) {
      EXPECT_TRUE(r) << r.error().message();
      ++closed;
    });
  }
  mix.expect_each_once(true);
  EXPECT_EQ(closed, 1);
  EXPECT_EQ(open_fds(), before);
}

// --- Descriptors --------------------------------------------------------------

int highest_fd() {
  int highest = -1;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') highest = std::max(highest, std::atoi(e->d_name));
  }
  ::closedir(d);
  return highest;
}

TEST_P(RealFault, RunningOutOfDescriptorsIsEMFILEAndRecovers) {
  const std::string path = dir_.file("emfile");
  write_plain(path, "x");
  const int before = open_fds();
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  constexpr int kRoom = 32;
  // The limit bounds descriptor numbers, not their count: fill the gaps below the
  // highest one so that exactly kRoom numbers stay free under the limit.
  const int top = highest_fd();
  std::vector<int> fillers;
  for (;;) {
    const int fd = ::fcntl(0, F_DUPFD_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    if (fd > top) {
      ::close(fd);
      break;
    }
    fillers.push_back(fd);
  }
  std::vector<File> opened;
  int emfile = 0, other = 0;
  {
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(top + 1 + kRoom);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    for (int i = 0; i < 4 * kRoom; ++i) {
      File::open(engine(), path, O_RDONLY, [&](Result<File> f) {
        if (f) opened.push_back(std::move(*f));
        else if (f.error() == std::errc::too_many_files_open) ++emfile;
        else ++other;
      });
    }
    auto ran = engine().run();
    opened.clear();  // drops them: closed in the background
    auto drained = engine().run();
    ::setrlimit(RLIMIT_NOFILE, &saved);
    for (int fd : fillers) ::close(fd);
    ASSERT_TRUE(ran);
    ASSERT_TRUE(drained);
  }
  EXPECT_EQ(other, 0);
  EXPECT_EQ(emfile, 3 * kRoom) << "kRoom opens fit under the limit, the rest are refused";
  EXPECT_EQ(open_fds(), before);
  auto file = open_sync(engine(), path, O_RDONLY);
  EXPECT_TRUE(file) << "opening works again with room: " << file.error().message();
}

// Cycles of open/close mixed with errors (missing files, O_EXCL clashes, a
// directory opened for writing, closing twice, files dropped with a read in
// flight), many in flight at once, must leave /proc/self/fd as it was.
std::size_t leak_cycles() {
  if (const char* env = std::getenv("RINGFILE_FD_CYCLES"); env && *env) return std::strtoull(env, nullptr, 10);
  return 100'000;
}

TEST_P(RealFault, OpenCloseCyclesMixedWithErrorsLeakNoDescriptor) {
  const std::string existing = dir_.file("existing");
  const std::string missing = dir_.file("missing");
  const std::string directory = dir_.path().string();
  write_plain(existing, "leak check");
  const std::size_t cycles = leak_cycles();
  constexpr std::size_t kWave = 512;

  const int before = open_fds();
  std::size_t done = 0, unexpected = 0;
  std::vector<File> keep;  // files whose close is issued after the wave's opens
  std::vector<std::array<char, 4>> sinks(kWave);  // one per op in flight: reads must not share a buffer
  auto check = [&](bool ok, const char* what) {
    if (!ok && ++unexpected <= 10) ADD_FAILURE() << what;
  };
  for (std::size_t started = 0; started < cycles;) {
    const std::size_t wave_end = std::min(cycles, started + kWave);
    for (; started < wave_end; ++started) {
      switch (started % 7) {
        case 0:  // open, close, close again
          File::open(engine(), existing, O_RDONLY, [&](Result<File> f) {
            check(f.has_value(), "open existing");
            if (!f) return;
            auto file = std::make_shared<File>(std::move(*f));
            file->close([&, file](Result<void> r) {
              check(r.has_value(), "first close");
              file->close([&, file](Result<void> again) {
                check(again.error() == std::errc::bad_file_descriptor, "second close is EBADF");
                ++done;
              });
            });
          });
          break;
        case 1:
          File::open(engine(), missing, O_RDONLY, [&](Result<File> f) {
            check(f.error() == std::errc::no_such_file_or_directory, "missing file is ENOENT");
            ++done;
          });
          break;
        case 2:
          File::open(engine(), existing, O_CREAT | O_EXCL | O_WRONLY, [&](Result<File> f) {
            check(f.error() == std::errc::file_exists, "O_EXCL on an existing file is EEXIST");
            ++done;
          });
          break;
        case 3:
          File::open(engine(), directory, O_WRONLY, [&](Result<File> f) {
            check(f.error() == std::errc::is_a_directory, "a directory for writing is EISDIR");
            ++done;
          });
          break;
        case 4:  // dropped inside its callback: closed in the background
          File::open(engine(), existing, O_RDWR, [&](Result<File> f) {
            check(f.has_value(), "open existing rw");
            ++done;
          });
          break;
        case 5:  // dropped with a read in flight
          File::open(engine(), existing, O_RDONLY, [&, slot = started % kWave](Result<File> f) {
            check(f.has_value(), "open for a read");
            if (!f) return;
            auto& sink = sinks[slot];
            f->read(sink.data(), sink.size(), 0, [&](Result<std::size_t> r) {
              check(r.has_value() && *r == 4, "read before the drop");
              ++done;
            });
          });
          break;
        default:  // kept open until the wave ends, then closed with a stat in flight
          File::open(engine(), existing, O_RDONLY, [&](Result<File> f) {
            check(f.has_value(), "open to keep");
            if (f) keep.push_back(std::move(*f));
          });
          break;
      }
    }
    ASSERT_TRUE(engine().run());
    for (auto& f : keep) {
      f.stat([&](Result<FileStat> st) { check(st.has_value() && st->size == 10, "stat before close"); });
      f.close([&](Result<void> r) {
        check(r.has_value(), "close a kept file");
        ++done;
      });
    }
    ASSERT_TRUE(engine().run());
    keep.clear();
    ASSERT_EQ(unexpected, 0u) << "after " << started << " cycles";
  }
  EXPECT_EQ(done, cycles);
  EXPECT_EQ(open_fds(), before);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
std::size_t heap_in_use() { return __sanitizer_get_current_allocated_bytes(); }
#else
std::size_t heap_in_use() { return ::mallinfo2().uordblks; }
#endif

// The engine's per-file state must go when a closed File goes, not at engine
// shutdown: a server opening and closing files for days would grow without bound.
TEST_P(RealFault, ClosedFilesDoNotAccumulateInTheEngine) {
  const std::string path = dir_.file("cycle");
  write_plain(path, "x");
  auto cycle = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto file = open_sync(engine(), path, O_RDONLY);
      ASSERT_TRUE(file);
      ASSERT_TRUE(close_sync(engine(), *file));
    }
  };
  cycle(1000);  // warms the request pool and the allocator
  const std::size_t before = heap_in_use();
  constexpr int kCycles = 10'000;
  cycle(kCycles);
  const std::size_t after = heap_in_use();
  const std::size_t growth = after > before ? after - before : 0;
  EXPECT_LT(growth, 256u * 1024) << growth / kCycles << " bytes kept per file opened and closed";
}

INSTANTIATE_TEST_SUITE_P(Engines, RealFault, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
