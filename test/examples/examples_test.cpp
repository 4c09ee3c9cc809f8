// The example programs on real files: ringfile-cp's copy and ringfile-cat's output
// must equal the input byte for byte, on both engines.

#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "example_runner.hpp"

namespace ringfile::test {
namespace {

constexpr std::size_t kSizes[] = {0, 1, 4095, 4096, 4097, 64 * 1024 * 1024 + 1};

TEST_P(ExamplesTest, CpCopiesByteForByte) {
  for (bool direct : {false, true}) {
    for (std::size_t size : kSizes) {
      SCOPED_TRACE("size " + std::to_string(size) + (direct ? " --direct" : ""));
      const std::string src = dir_.file("src"), dst = dir_.file("dst");
      const std::string data = random_bytes(size, static_cast<std::uint32_t>(size + 1));
      write_plain(src, data);
      write_plain(dst, "old content that must go away");
      std::vector<std::string> argv{cp_, engine_flag(GetParam())};
      if (direct) argv.push_back("--direct");
      argv.push_back(src);
      argv.push_back(dst);
      const int status = run(argv, dir_.file("out"), dir_.file("err"));
      const std::string err = read_plain(dir_.file("err"));
      ASSERT_EQ(status, 0) << err;
      EXPECT_TRUE(err.empty()) << "quiet without -v, like cp: " << err;
      const std::string copied = read_plain(dst);
      ASSERT_EQ(copied.size(), data.size());
      EXPECT_TRUE(copied == data) << "content differs";
    }
  }
}

TEST_P(ExamplesTest, CpWithSmallBlocksAndDeepQueue) {
  const std::string src = dir_.file("src"), dst = dir_.file("dst");
  const std::string data = random_bytes(3 * 1024 * 1024 + 12345, 3);
  write_plain(src, data);
  ASSERT_EQ(run({cp_, engine_flag(GetParam()), "--qd=64", "--block=4K", src, dst}, dir_.file("out"), dir_.file("err")), 0)
      << read_plain(dir_.file("err"));
  EXPECT_TRUE(read_plain(dst) == data);
}

TEST_P(ExamplesTest, CpAndCatNameTheEngineOnlyWithV) {
  const std::string src = dir_.file("src"), dst = dir_.file("dst");
  write_plain(src, "x");
  ASSERT_EQ(run({cp_, "-v", engine_flag(GetParam()), src, dst}, dir_.file("out"), dir_.file("err")), 0);
  EXPECT_NE(read_plain(dir_.file("err")).find("engine: "), std::string::npos);
  ASSERT_EQ(run({cat_, "-v", engine_flag(GetParam()), src}, dir_.file("out"), dir_.file("err")), 0);
  EXPECT_NE(read_plain(dir_.file("err")).find("engine: "), std::string::npos);
  EXPECT_EQ(read_plain(dir_.file("out")), "x");
}

// /proc and /sys files report size 0 (or 4096) whatever they hold.
TEST_P(ExamplesTest, CpCopiesProcAndSysFilesByteForByte) {
  for (const char* path : {"/proc/version", "/proc/filesystems", "/sys/kernel/mm/transparent_hugepage/enabled"}) {
    SCOPED_TRACE(path);
    if (::access(path, R_OK) != 0) continue;
    const std::string dst = dir_.file("proc");
    for (bool direct : {false, true}) {
      std::vector<std::string> argv{cp_, engine_flag(GetParam())};
      if (direct) argv.push_back("--direct");
      argv.push_back(path);
      argv.push_back(dst);
      ASSERT_EQ(run(argv, dir_.file("out"), dir_.file("err")), 0) << read_plain(dir_.file("err"));
      const std::string copied = read_plain(dst);
      EXPECT_FALSE(copied.empty());
      EXPECT_EQ(copied, read_plain(path));
    }
  }
}

// Everything a writer sends through a FIFO, until it closes; and into a FIFO.
TEST_P(ExamplesTest, CpCopiesFromAndIntoAFifo) {
  const std::string fifo = dir_.file("fifo"), dst = dir_.file("dst");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string data = random_bytes(2u << 20, 7);
  std::thread writer = feed_fifo(fifo, data);
  ASSERT_EQ(run({cp_, engine_flag(GetParam()), fifo, dst}, dir_.file("out"), dir_.file("err")), 0)
      << read_plain(dir_.file("err"));
  writer.join();
  EXPECT_TRUE(read_plain(dst) == data);

  std::string got;
  std::thread reader([&] {
    const int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
    char buf[65536];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    if (fd >= 0) ::close(fd);
  });
  const int status = run({cp_, engine_flag(GetParam()), dst, fifo}, dir_.file("out"), dir_.file("err"));
  reader.join();
  ASSERT_EQ(status, 0) << read_plain(dir_.file("err"));
  EXPECT_TRUE(got == data);
}

TEST_P(ExamplesTest, CpMissingSourceFails) {
  const int status = run({cp_, engine_flag(GetParam()), dir_.file("missing"), dir_.file("dst")}, dir_.file("out"),
                         dir_.file("err"));
  EXPECT_EQ(status, 1);
  EXPECT_NE(read_plain(dir_.file("err")).find("No such file"), std::string::npos);
}

TEST_P(ExamplesTest, CatStreamsFilesInOrder) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4097}, std::size_t{5 * 1024 * 1024 + 3}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::string a = dir_.file("a"), b = dir_.file("b");
    const std::string da = random_bytes(size, 11), db = random_bytes(size / 2 + 7, 12);
    write_plain(a, da);
    write_plain(b, db);
    const int status =
        run({cat_, engine_flag(GetParam()), "--block=4K", "--qd=16", a, b}, dir_.file("out"), dir_.file("err"));
    ASSERT_EQ(status, 0) << read_plain(dir_.file("err"));
    EXPECT_TRUE(read_plain(dir_.file("out")) == da + db);
    EXPECT_EQ(read_plain(dir_.file("err")), "");
  }
}

TEST_P(ExamplesTest, CatReadsProcFilesToTheEnd) {
  // /proc files report size 0 and return short reads; cat must not stop early.
  const int status = run({cat_, engine_flag(GetParam()), "/proc/self/maps"}, dir_.file("out"), dir_.file("err"));
  ASSERT_EQ(status, 0) << read_plain(dir_.file("err"));
  const std::string out = read_plain(dir_.file("out"));
  EXPECT_GT(out.size(), 0u);
  EXPECT_EQ(out.back(), '\n');
}

TEST_P(ExamplesTest, CatMissingFileFails) {
  EXPECT_EQ(run({cat_, engine_flag(GetParam()), dir_.file("missing")}, dir_.file("out"), dir_.file("err")), 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, ExamplesTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
