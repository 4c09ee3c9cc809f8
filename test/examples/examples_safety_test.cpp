// The example programs on the files that used to defeat them, on both engines:
// ringfile-cp never destroys its source (the destination is the source under
// another name) and never hands out set-id bits it should not; ringfile-cat
// reads FIFOs and character devices as streams.

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "example_runner.hpp"

namespace ringfile::test {
namespace {

class ExamplesSafety : public ExamplesTest {};

TEST_P(ExamplesSafety, CpRefusesToCopyAFileOntoItself) {
  const std::string src = dir_.file("src");
  const std::string data = random_bytes(100 * 1024, 21);
  write_plain(src, data);
  const std::string hard = dir_.file("hard"), soft = dir_.file("soft");
  ASSERT_EQ(::link(src.c_str(), hard.c_str()), 0);
  ASSERT_EQ(::symlink(src.c_str(), soft.c_str()), 0);
  for (const std::string& dst : {src, hard, soft}) {
    SCOPED_TRACE(dst);
    const int status = run({cp_, engine_flag(GetParam()), src, dst}, dir_.file("out"), dir_.file("err"));
    EXPECT_EQ(status, 1);
    EXPECT_NE(read_plain(dir_.file("err")).find("are the same file"), std::string::npos) << read_plain(dir_.file("err"));
    EXPECT_TRUE(read_plain(src) == data) << "the source was changed";
  }
}

TEST_P(ExamplesSafety, CpClearsSetIdBitsWhenRootCopiesAnotherUsersFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the copy must belong to another user than the source";
  const std::string src = dir_.file("tool"), dst = dir_.file("copy");
  write_plain(src, "#!/bin/sh\n");
  ASSERT_EQ(::chown(src.c_str(), 12345, 12345), 0);
  ASSERT_EQ(::chmod(src.c_str(), 06755), 0);
  const int status = run({cp_, engine_flag(GetParam()), src, dst}, dir_.file("out"), dir_.file("err"));
  ASSERT_EQ(status, 0) << read_plain(dir_.file("err"));
  struct stat st {};
  ASSERT_EQ(::stat(dst.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << "a set-id copy owned by root";
  EXPECT_EQ(st.st_mode & 0111, 0111u) << "the other permission bits are kept";
  EXPECT_EQ(read_plain(dst), "#!/bin/sh\n");
}

// A full filesystem: cp must fail, say why, and leave nothing that looks complete.
TEST_P(ExamplesSafety, CpOntoAFullFilesystemFailsAndSaysWhy) {
  SmallTmpfs small(dir_.file("small"), "1m");
  if (!small.reason().empty()) GTEST_SKIP() << small.reason();
  const std::string src = dir_.file("src");
  write_plain(src, random_bytes(4u << 20, 23));
  for (const char* mode : {"", "--direct"}) {
    SCOPED_TRACE(*mode ? mode : "through the page cache");
    std::vector<std::string> argv{cp_, engine_flag(GetParam())};
    if (*mode) argv.emplace_back(mode);
    // A destination cp creates: its partial copy is its own to remove.
    const std::string fresh = small.file("fresh");
    argv.push_back(src);
    argv.push_back(fresh);
    int status = run(argv, dir_.file("out"), dir_.file("err"));
    std::string err = read_plain(dir_.file("err"));
    EXPECT_NE(status, 0) << "exit 0 after copying part of the file";
    EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
    EXPECT_NE(::access(fresh.c_str(), F_OK), 0) << "the partial copy it made was left behind";
    // A destination that was there before: kept, and cp says what became of it.
    const std::string old = small.file("old");
    write_plain(old, "the user's file");
    argv.back() = old;
    status = run(argv, dir_.file("out"), dir_.file("err"));
    err = read_plain(dir_.file("err"));
    EXPECT_NE(status, 0) << "exit 0 after copying part of the file";
    EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
    EXPECT_EQ(::access(old.c_str(), F_OK), 0) << "removed a file cp did not create";
    EXPECT_NE(err.find("incomplete"), std::string::npos) << "does not say what became of DEST: " << err;
    ::unlink(old.c_str());
  }
}

TEST_P(ExamplesSafety, CatReadsAFifoInOrder) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string data = random_bytes(1024 * 1024 + 77, 22);
  std::thread writer = feed_fifo(fifo, data);
  const int status = run({cat_, engine_flag(GetParam()), "--block=16K", fifo}, dir_.file("out"), dir_.file("err"));
  writer.join();
  ASSERT_EQ(status, 0) << read_plain(dir_.file("err"));
  const std::string out = read_plain(dir_.file("out"));
  EXPECT_EQ(out.size(), data.size());
  EXPECT_TRUE(out == data) << "scrambled or truncated";
}

TEST_P(ExamplesSafety, CatReadsCharacterDevices) {
  const int status = run({cat_, engine_flag(GetParam()), "/dev/null"}, dir_.file("out"), dir_.file("err"));
  ASSERT_EQ(status, 0) << read_plain(dir_.file("err"));
  EXPECT_TRUE(read_plain(dir_.file("out")).empty());
}

INSTANTIATE_TEST_SUITE_P(Engines, ExamplesSafety, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
