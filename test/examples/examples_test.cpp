// The example programs on real files: ringfile-cp's copy and ringfile-cat's output
// must equal the input byte for byte, on both engines.

#include <string>
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
      EXPECT_NE(err.find("engine: "), std::string::npos) << "names the engine on stderr: " << err;
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
    EXPECT_NE(read_plain(dir_.file("err")).find("engine: "), std::string::npos);
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
