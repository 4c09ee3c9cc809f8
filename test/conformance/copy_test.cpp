// File::copy_to and fs::copy_file on both engines: copy_file_range where the
// kernel does it, reads and writes where it refuses, files whose size lies,
// FIFOs and pipes on either side.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

using detail::sys::Call;
using namespace std::chrono_literals;

class CopyTest : public SeamTest {
 protected:
  // Source and destination, the source holding `data`.
  void make_pair(const std::string& data) {
    write_plain(dir_.file("src"), data);
    auto s = open_sync(engine(), dir_.file("src"), O_RDONLY);
    auto d = open_sync(engine(), dir_.file("dst"), O_WRONLY | O_CREAT | O_TRUNC);
    ASSERT_TRUE(s && d);
    src_ = std::move(*s);
    dst_ = std::move(*d);
  }
  Result<std::size_t> copy(std::int64_t off, std::int64_t dst_off, std::size_t len) {
    return call<std::size_t>(engine(), [&](auto cb) { src_.copy_to(dst_, off, dst_off, len, std::move(cb)); });
  }
  std::string copied() {
    EXPECT_TRUE(close_sync(engine(), dst_));
    return read_plain(dir_.file("dst"));
  }

  File src_, dst_;
};

TEST_P(CopyTest, CopiesTheWholeFileInTheKernel) {
  const std::string data = random_bytes(3 * 1024 * 1024 + 17, 11);
  make_pair(data);
  count_syscalls();
  auto n = copy(0, 0, kToEnd);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_GE(detail::sys::calls(Call::copy_range), 1u);
  // copy_file_range works here: no fallback but the one read that confirms its 0 is the end.
  EXPECT_LE(detail::sys::calls(Call::read) + detail::sys::calls(Call::read_nowait), 1u);
  EXPECT_EQ(detail::sys::calls(Call::write), 0u);
  EXPECT_EQ(copied(), data);
}

TEST_P(CopyTest, CopiesARangeBetweenOffsets) {
  const std::string data = random_bytes(100000, 12);
  make_pair(data);
  auto n = copy(1000, 500, 50000);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 50000u);
  const std::string out = copied();
  ASSERT_EQ(out.size(), 50500u);
  EXPECT_EQ(out.substr(500), data.substr(1000, 50000));
  EXPECT_EQ(out.substr(0, 500), std::string(500, '\0'));
}

TEST_P(CopyTest, StopsAtEndOfFile) {
  make_pair("short");
  auto n = copy(2, 0, 1000);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(copied(), "ort");
}

// Each errno the kernel uses to refuse copy_file_range between two files falls
// back to reads and writes, and the pair remembers it.
TEST_P(CopyTest, RefusalsFallBackToReadsAndWritesAndAreRemembered) {
  for (int err : {EXDEV, EOPNOTSUPP, EINVAL, ENOSYS}) {
    SCOPED_TRACE(strerrorname_np(err));
    const std::string data = random_bytes(700000, static_cast<std::uint32_t>(err));
    make_pair(data);
    detail::sys::clear_faults();
    detail::sys::inject(fault(Call::copy_range, 1, 1, -err));
    auto n = copy(0, 0, kToEnd);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(*n, data.size());
    EXPECT_EQ(detail::sys::calls(Call::copy_range), 1u);
    // The same pair again: straight to reads and writes.
    auto again = copy(0, 0, kToEnd);
    ASSERT_TRUE(again);
    EXPECT_EQ(detail::sys::calls(Call::copy_range), 1u) << "the refusal was not remembered for the pair";
    EXPECT_EQ(copied(), data);
  }
}

TEST_P(CopyTest, AZeroBeforeEndOfFileIsNotTakenForTheEnd) {
  const std::string data = random_bytes(300000, 13);
  make_pair(data);
  detail::sys::inject(fault(Call::copy_range, 1, 1, 0, std::size_t{0}));
  auto n = copy(0, 0, kToEnd);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(copied(), data);
}

TEST_P(CopyTest, InterruptionsAndShortCopiesLoseNoBytes) {
  const std::string data = random_bytes(200000, 14);
  make_pair(data);
  detail::sys::inject(fault(Call::copy_range, 1, 1, -EINTR));
  detail::sys::inject(fault(Call::copy_range, 2, 1, -EAGAIN));
  detail::sys::inject(fault(Call::copy_range, 3, 4, 0, std::size_t{4096}));
  auto n = copy(0, 0, kToEnd);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(copied(), data);
}

TEST_P(CopyTest, AnIoErrorIsReported) {
  make_pair(random_bytes(5000, 15));
  detail::sys::inject(fault(Call::copy_range, 1, 1, -EIO));
  auto n = copy(0, 0, kToEnd);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), std::errc::io_error);
}

TEST_P(CopyTest, AFileThatGrowsIsCopiedToTheEndSeenWhileReading) {
  const std::string data = random_bytes(600000, 16);
  make_pair(data);
  detail::sys::inject(fault(Call::copy_range, 1, 1, -EXDEV));  // the read/write path, in chunks
  std::optional<Result<std::size_t>> done;
  src_.copy_to(dst_, 0, 0, kToEnd, [&](Result<std::size_t> r) { done.emplace(r); });
  // Appended after the copy started, before it reaches the end.
  const std::string more = random_bytes(5000, 17);
  const int fd = ::open(dir_.file("src").c_str(), O_WRONLY | O_APPEND);
  ASSERT_EQ(::write(fd, more.data(), more.size()), static_cast<ssize_t>(more.size()));
  ::close(fd);
  auto n = await(engine(), done);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size() + more.size());
  EXPECT_EQ(copied(), data + more);
}

TEST_P(CopyTest, ProcFilesWhoseSizeIsZeroAreCopiedByteForByte) {
  for (const char* path : {"/proc/version", "/proc/self/status", "/sys/kernel/mm/transparent_hugepage/enabled"}) {
    SCOPED_TRACE(path);
    if (::access(path, R_OK) != 0) continue;
    const std::string expected = read_plain(path);
    ASSERT_FALSE(expected.empty());
    auto n = call<std::size_t>(engine(), [&](auto cb) { fs::copy_file(engine(), path, dir_.file("proc"), std::move(cb)); });
    ASSERT_TRUE(n) << n.error().message();
    const std::string out = read_plain(dir_.file("proc"));
    if (std::string(path) == "/proc/self/status") {
      EXPECT_EQ(out.substr(0, out.find('\n')), expected.substr(0, expected.find('\n')));  // the first line: its name
      EXPECT_GT(out.size(), 100u);
    } else {
      EXPECT_EQ(out, expected);
    }
    EXPECT_EQ(*n, out.size());
  }
}

TEST_P(CopyTest, CopyFileKeepsPermissionBitsAndRefusesDirectories) {
  write_plain(dir_.file("script"), "#!/bin/sh\n");
  ASSERT_EQ(::chmod(dir_.file("script").c_str(), 0750), 0);
  auto n = call<std::size_t>(engine(), [&](auto cb) {
    fs::copy_file(engine(), dir_.file("script"), dir_.file("copy"), std::move(cb));
  });
  ASSERT_TRUE(n);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.file("copy").c_str(), &st), 0);
  const mode_t mask = ::umask(022);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0750u & ~mask);
  auto dir = call<std::size_t>(engine(), [&](auto cb) { fs::copy_file(engine(), dir_.file(""), dir_.file("d"), std::move(cb)); });
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error(), std::errc::is_a_directory);
  auto missing = call<std::size_t>(engine(), [&](auto cb) { fs::copy_file(engine(), dir_.file("none"), dir_.file("d"), std::move(cb)); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
}

TEST_P(CopyTest, BadInputFailsBeforeAnySyscall) {
  make_pair("data");
  count_syscalls();
  auto negative = copy(-1, 0, 4);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error(), std::errc::invalid_argument);
  auto negative_length = copy(0, 0, static_cast<std::size_t>(-4));
  ASSERT_FALSE(negative_length);
  EXPECT_EQ(negative_length.error(), std::errc::invalid_argument);
  auto negative_dest = copy(0, -7, 4);
  ASSERT_FALSE(negative_dest);
  EXPECT_EQ(negative_dest.error(), std::errc::invalid_argument);
  File closed;
  auto to_closed = call<std::size_t>(engine(), [&](auto cb) { src_.copy_to(closed, 0, 0, 4, std::move(cb)); });
  ASSERT_FALSE(to_closed);
  EXPECT_EQ(to_closed.error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(detail::sys::calls(Call::copy_range), 0u);
  EXPECT_EQ(detail::sys::calls(Call::read), 0u);
}

TEST_P(CopyTest, AwaitableForms) {
  const std::string data = random_bytes(10000, 18);
  make_pair(data);
  auto n = await_op(engine(), src_.copy_to(dst_, 0, 0, kToEnd));
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(copied(), data);
  auto m = await_op(engine(), fs::copy_file(engine(), dir_.file("src"), dir_.file("again")));
  ASSERT_TRUE(m);
  EXPECT_EQ(read_plain(dir_.file("again")), data);
}

// --- A copy onto the source itself ---------------------------------------------
// Truncating the destination would destroy the source: refused with EINVAL, as cp
// refuses "are the same file", before anything is truncated.

TEST_P(CopyTest, CopyFileOntoItsOwnSourceIsRefusedAndTheSourceKept) {
  const std::string src = dir_.file("src");
  const std::string data = random_bytes(200000, 40);
  write_plain(src, data);
  ASSERT_EQ(::link(src.c_str(), dir_.file("hard").c_str()), 0);
  ASSERT_EQ(::symlink(src.c_str(), dir_.file("soft").c_str()), 0);
  ASSERT_EQ(::symlink(dir_.path().c_str(), dir_.file("here").c_str()), 0);
  const std::pair<std::string, std::string> pairs[] = {
      {src, src},
      {src, (dir_.path() / "." / "src").string()},
      {src, dir_.file("hard")},
      {src, dir_.file("soft")},
      {src, dir_.file("here") + "/src"},
      {dir_.file("soft"), src},
      {dir_.file("hard"), dir_.file("soft")},
  };
  for (const auto& [from, to] : pairs) {
    SCOPED_TRACE(from + " -> " + to);
    auto n = call<std::size_t>(engine(), [&](auto cb) { fs::copy_file(engine(), from, to, std::move(cb)); });
    ASSERT_FALSE(n) << "copied " << *n << " bytes onto the source";
    EXPECT_EQ(n.error(), std::errc::invalid_argument);
    EXPECT_TRUE(read_plain(src) == data) << "the source was changed";
  }
}

TEST_P(CopyTest, CopyFileStillReplacesAnotherFilesContent) {
  const std::string data = random_bytes(100000, 41);
  write_plain(dir_.file("src"), data);
  write_plain(dir_.file("dst"), random_bytes(300000, 42));  // longer: must be cut to the copy
  auto n = call<std::size_t>(engine(), [&](auto cb) {
    fs::copy_file(engine(), dir_.file("src"), dir_.file("dst"), std::move(cb));
  });
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_TRUE(read_plain(dir_.file("dst")) == data);
}

// --- Overlapping ranges inside one file ------------------------------------------
// copy_file_range refuses them (EINVAL); the copy behaves as memmove: the
// destination gets the source range as it was before the copy, in both directions.

struct Overlap {
  std::size_t size;  // of the file
  std::int64_t from, to;
  std::size_t length;
};

// What memmove gives, the file growing when the destination runs past its end.
std::string moved(const std::string& data, const Overlap& c) {
  const std::size_t from = static_cast<std::size_t>(c.from), to = static_cast<std::size_t>(c.to);
  const std::size_t n = std::min(c.length, data.size() - std::min(from, data.size()));
  std::string out = data;
  if (out.size() < to + n) out.resize(to + n, '\0');
  std::memmove(out.data() + to, data.data() + from, n);
  return out;
}

TEST_P(CopyTest, AnOverlappingCopyInsideOneFileIsAMemmove) {
  constexpr std::size_t kMiB = 1u << 20;
  const Overlap cases[] = {
      {3 * kMiB + 5, 0, 100000, 2 * kMiB + 3},   // forward, shift below the 256 KiB chunk
      {3 * kMiB + 5, 7, 300007, 2 * kMiB},       // forward, shift above it
      {3 * kMiB + 5, 100000, 0, 2 * kMiB + 3},   // backward
      {3 * kMiB + 5, 300000, 1, kToEnd},         // backward, to the end
      {3 * kMiB, 1, 700000, kToEnd},             // forward to the end: the file grows
      {2 * kMiB, 4096, 8192, 4 * kMiB},          // a length past the end stops there
      {100, 10, 20, 50},
      {100, 20, 10, 50},
      {100, 0, 1, 99},
      {100, 1, 0, kToEnd},
      {100, 50, 60, kToEnd},
  };
  for (bool one_handle : {true, false}) {
    for (const Overlap& c : cases) {
      SCOPED_TRACE(::testing::Message() << (one_handle ? "one File" : "two Files on one inode") << ", size "
                                        << c.size << ", " << c.from << " -> " << c.to << ", length "
                                        << (c.length == kToEnd ? std::string("kToEnd") : std::to_string(c.length)));
      const std::string path = dir_.file("f");
      const std::string data = random_bytes(c.size, static_cast<std::uint32_t>(c.size + c.to));
      write_plain(path, data);
      ::unlink(dir_.file("alias").c_str());
      ASSERT_EQ(::link(path.c_str(), dir_.file("alias").c_str()), 0);
      auto f = open_sync(engine(), path, O_RDWR);
      ASSERT_TRUE(f);
      File other;
      if (!one_handle) {
        auto g = open_sync(engine(), dir_.file("alias"), O_WRONLY);
        ASSERT_TRUE(g);
        other = std::move(*g);
      }
      File& dest = one_handle ? *f : other;
      auto n = call<std::size_t>(engine(), [&](auto cb) { f->copy_to(dest, c.from, c.to, c.length, std::move(cb)); });
      ASSERT_TRUE(n) << n.error().message();
      const std::string expected = moved(data, c);
      EXPECT_EQ(*n, std::min(c.length, c.size - static_cast<std::size_t>(c.from)));
      if (!one_handle) {
        ASSERT_TRUE(close_sync(engine(), other));
      }
      ASSERT_TRUE(close_sync(engine(), *f));
      const std::string out = read_plain(path);
      EXPECT_EQ(out.size(), expected.size());
      EXPECT_TRUE(out == expected) << "wrong bytes from offset "
                                   << std::distance(out.begin(), std::mismatch(out.begin(), out.end(),
                                                                              expected.begin(), expected.end()).first);
    }
  }
}

TEST_P(CopyTest, ACopyToAnotherPartOfTheSameFileStaysInTheKernel) {
  const std::string data = random_bytes(500000, 43);
  write_plain(dir_.file("f"), data);
  auto f = open_sync(engine(), dir_.file("f"), O_RDWR);
  ASSERT_TRUE(f);
  count_syscalls();
  auto n = call<std::size_t>(engine(), [&](auto cb) {
    f->copy_to(*f, 0, static_cast<std::int64_t>(data.size()), data.size(), std::move(cb));
  });
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_GE(detail::sys::calls(Call::copy_range), 1u);
  EXPECT_EQ(detail::sys::calls(Call::write), 0u);
  ASSERT_TRUE(close_sync(engine(), *f));
  EXPECT_TRUE(read_plain(dir_.file("f")) == data + data);
}

// --- Errors part-way ---------------------------------------------------------------
// A copy that stops short because of an error reports the error, not the bytes it
// managed: a partial count would look like a complete copy of a shorter file.

TEST_P(CopyTest, ACopyOntoAFullFilesystemFailsWithENOSPC) {
  SmallTmpfs small(dir_.file("small"), "1m");
  if (!small.reason().empty()) GTEST_SKIP() << small.reason();
  const std::string data = random_bytes(4u << 20, 44);
  write_plain(dir_.file("src"), data);
  for (bool kernel : {true, false}) {
    SCOPED_TRACE(kernel ? "copy_file_range" : "reads and writes");
    for (bool whole_file : {true, false}) {
      SCOPED_TRACE(whole_file ? "fs::copy_file" : "File::copy_to");
      ::unlink(small.file("dst").c_str());
      detail::sys::clear_faults();
      if (!kernel) detail::sys::inject(fault(Call::copy_range, 1, 1000, -EXDEV));
      Result<std::size_t> n = std::size_t{0};
      if (whole_file) {
        n = call<std::size_t>(engine(), [&](auto cb) {
          fs::copy_file(engine(), dir_.file("src"), small.file("dst"), std::move(cb));
        });
      } else {
        auto s = open_sync(engine(), dir_.file("src"), O_RDONLY);
        auto d = open_sync(engine(), small.file("dst"), O_WRONLY | O_CREAT | O_TRUNC);
        ASSERT_TRUE(s && d);
        n = call<std::size_t>(engine(), [&](auto cb) { s->copy_to(*d, 0, 0, kToEnd, std::move(cb)); });
        ASSERT_TRUE(close_sync(engine(), *d));
        ASSERT_TRUE(close_sync(engine(), *s));
      }
      ASSERT_FALSE(n) << "reported " << *n << " bytes copied of " << data.size();
      EXPECT_EQ(n.error(), std::errc::no_space_on_device);
    }
  }
}

TEST_P(CopyTest, AnErrorAfterSomeBytesIsReported) {
  const std::string data = random_bytes(3u << 20, 45);
  make_pair(data);
  detail::sys::inject(fault(Call::copy_range, 1, 1, 0, std::size_t{65536}));
  detail::sys::inject(fault(Call::copy_range, 2, 1, -EIO));
  auto n = copy(0, 0, kToEnd);
  ASSERT_FALSE(n) << "reported " << *n << " bytes copied";
  EXPECT_EQ(n.error(), std::errc::io_error);
  // The same on the read/write path, after a first chunk went through.
  make_pair(data);
  detail::sys::clear_faults();
  detail::sys::inject(fault(Call::copy_range, 1, 1, -EXDEV));
  detail::sys::inject(fault(Call::write, 2, 1, -EIO));
  auto m = copy(0, 0, kToEnd);
  ASSERT_FALSE(m) << "reported " << *m << " bytes copied";
  EXPECT_EQ(m.error(), std::errc::io_error);
}

// --- Deadlines ---------------------------------------------------------------------
// An OpTimeout around copy_to or copy_file gives each op of the copy the deadline,
// also those started from completions after the scope has ended.

TEST_P(CopyTest, CopyToFromAStalledPipeEndsAtTheDeadline) {
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  auto s = File::adopt(engine(), in[0]);
  auto d = open_sync(engine(), dir_.file("dst"), O_WRONLY | O_CREAT | O_TRUNC);
  ASSERT_TRUE(s && d);
  src_ = std::move(*s);
  dst_ = std::move(*d);
  const std::string first = random_bytes(1000, 46);
  ASSERT_EQ(::write(in[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
  // The writer stays open and writes nothing more.
  std::optional<Result<std::size_t>> done;
  {
    OpTimeout limit(engine(), 100ms);
    src_.copy_to(dst_, 0, 0, kToEnd, [&](Result<std::size_t> r) { done.emplace(r); });
  }
  const bool ended = await_for(engine(), done, 3s);
  ::close(in[1]);  // end of file, for a copy that waits on past its deadline
  auto n = await(engine(), done);
  EXPECT_TRUE(ended) << "copy_to waited on the stalled writer past its deadline";
  ASSERT_FALSE(n) << "reported " << *n << " bytes copied";
  EXPECT_EQ(n.error(), std::errc::timed_out);
  EXPECT_TRUE(copied() == first);
}

TEST_P(CopyTest, CopyFileFromAStalledFifoEndsAtTheDeadline) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Our end counts as a writer, so copy_file's open does not wait for one.
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::write(writer, "some bytes", 10), 10);
  std::optional<Result<std::size_t>> done;
  {
    OpTimeout limit(engine(), 100ms);
    fs::copy_file(engine(), fifo, dir_.file("out"), [&](Result<std::size_t> r) { done.emplace(r); });
  }
  const bool ended = await_for(engine(), done, 3s);
  ::close(writer);
  auto n = await(engine(), done);
  EXPECT_TRUE(ended) << "copy_file waited on the stalled writer past its deadline";
  ASSERT_FALSE(n) << "reported " << *n << " bytes copied";
  EXPECT_EQ(n.error(), std::errc::timed_out);
}

// --- FIFOs and pipes -------------------------------------------------------------
// copy_file_range refuses them (EINVAL); the copy reads the stream to its end, in
// order, at its stream position, and writes a stream the same way.

// Reads `fd` (or the FIFO at a path, opened the blocking way) to end of file on a thread.
class StreamReader {
 public:
  explicit StreamReader(int fd) : thread_([this, fd] { drain(fd); }) {}
  explicit StreamReader(const std::string& fifo) : thread_([this, fifo] {
    const int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) drain(fd);
    if (fd >= 0) ::close(fd);
  }) {}
  std::string take() {
    thread_.join();
    return std::move(got_);
  }

 private:
  void drain(int fd) {
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) got_.append(buf, static_cast<std::size_t>(n));
  }
  std::string got_;
  std::thread thread_;
};

TEST_P(CopyTest, CopyFileReadsAFifoToItsEnd) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string data = random_bytes(3u << 20, 19);  // many pipe-fulls, written as the reader goes
  std::thread writer = feed_fifo(fifo, data);
  count_syscalls();
  auto n = call<std::size_t>(engine(), [&](auto cb) { fs::copy_file(engine(), fifo, dir_.file("out"), std::move(cb)); });
  writer.join();
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  EXPECT_TRUE(read_plain(dir_.file("out")) == data);
  EXPECT_EQ(detail::sys::calls(Call::copy_range), 0u) << "copy_file_range is for regular files only";
}

TEST_P(CopyTest, CopyToWritesIntoAFifo) {
  const std::string data = random_bytes(1u << 20, 20);
  write_plain(dir_.file("src"), data);
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  StreamReader reader(fifo);
  auto s = open_sync(engine(), dir_.file("src"), O_RDONLY);
  auto d = open_sync(engine(), fifo, O_WRONLY);  // waits for the reader, as open(2) does
  ASSERT_TRUE(s && d);
  src_ = std::move(*s);
  dst_ = std::move(*d);
  EXPECT_FALSE(dst_.seekable());
  auto n = copy(4096, 0, kToEnd);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size() - 4096);
  ASSERT_TRUE(close_sync(engine(), dst_));
  EXPECT_TRUE(reader.take() == data.substr(4096));
}

// Adopted pipe ends on both sides, and a length that stops before the writer does.
TEST_P(CopyTest, CopyToBetweenPipesStopsAtLengthOrEndOfFile) {
  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  auto s = File::adopt(engine(), in[0]);
  auto d = File::adopt(engine(), out[1]);
  ASSERT_TRUE(s && d);
  src_ = std::move(*s);
  dst_ = std::move(*d);
  StreamReader reader(out[0]);
  const std::string data = random_bytes(700001, 21);
  std::thread writer([&] {
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t n = ::write(in[1], data.data() + done, std::min<std::size_t>(data.size() - done, 10007));
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(in[1]);
  });
  auto first = copy(0, 0, 100000);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, 100000u);
  auto rest = copy(0, 0, kToEnd);
  writer.join();
  ASSERT_TRUE(rest) << rest.error().message();
  EXPECT_EQ(*rest, data.size() - 100000);
  ASSERT_TRUE(close_sync(engine(), dst_));
  EXPECT_TRUE(reader.take() == data);
  ::close(out[0]);
}

INSTANTIATE_TEST_SUITE_P(Engines, CopyTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
