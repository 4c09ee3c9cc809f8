// Pipes, FIFOs and character devices on both engines: a positional op fails with
// ESPIPE exactly as pread does, stream ops (kStreamOffset) read in order, and the
// helpers that read to end of file (read_file, BufferedReader) read them whole.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

class Fifo : public EngineTest {
 protected:
  std::string make_fifo(const std::string& name) {
    const std::string path = dir_.file(name);
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0);
    return path;
  }
};

TEST_P(Fifo, PositionalOpsFailWithEspipeLikePread) {
  const std::string path = make_fifo("fifo");
  auto file = open_sync(engine(), path, O_RDWR);  // O_RDWR: opens without a partner
  ASSERT_TRUE(file);
  EXPECT_FALSE(file->seekable());
  char buf[16] = "0123456789";
  errno = 0;
  ASSERT_EQ(::pread(file->native_handle(), buf, sizeof buf, 0), -1);
  const int pread_errno = errno;
  ASSERT_EQ(pread_errno, ESPIPE);

  for (std::int64_t offset : {0, 4096}) {
    auto r = read_sync(engine(), *file, buf, sizeof buf, offset);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().value(), pread_errno);
    auto w = write_sync(engine(), *file, buf, sizeof buf, offset);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().value(), pread_errno);
  }
  iovec iov{buf, sizeof buf};
  std::optional<Result<std::size_t>> vec;
  file->readv(&iov, 1, 0, [&](Result<std::size_t> r) { vec.emplace(r); });
  auto v = await(engine(), vec);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().value(), ESPIPE);
  // A negative offset other than kStreamOffset is EINVAL first, as for pread.
  auto negative = read_sync(engine(), *file, buf, sizeof buf, -2);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error(), std::errc::invalid_argument);
}

TEST_P(Fifo, StreamOpsReadInOrder) {
  const std::string path = make_fifo("fifo");
  auto file = open_sync(engine(), path, O_RDWR);
  ASSERT_TRUE(file);
  const std::string data = random_bytes(4 * 4096, 7);
  for (int block = 0; block < 4; ++block) {
    auto w = write_sync(engine(), *file, data.data() + block * 4096, 4096, kStreamOffset);
    ASSERT_TRUE(w);
    ASSERT_EQ(*w, 4096u);
  }
  std::string back(data.size(), '\0');
  for (int block = 0; block < 4; ++block) {
    auto r = read_sync(engine(), *file, back.data() + block * 4096, 4096, kStreamOffset);
    ASSERT_TRUE(r);
    ASSERT_EQ(*r, 4096u);
  }
  EXPECT_TRUE(back == data) << "blocks came back out of order";
}

TEST_P(Fifo, ReadFileReadsAFifoToItsEnd) {
  const std::string path = make_fifo("fifo");
  const std::string data = random_bytes(300 * 1024, 3);
  std::optional<Result<std::string>> got;
  fs::read_file(engine(), path, [&](Result<std::string> r) { got.emplace(std::move(r)); });
  // The open is with the engine before any writer exists: it must wait for one,
  // as open(2) does, not report an empty FIFO.
  ASSERT_TRUE(engine().submit());
  (void)engine().wait(std::chrono::milliseconds(20));
  std::thread writer = feed_fifo(path, data);
  auto content = await(engine(), got);
  writer.join();
  ASSERT_TRUE(content) << content.error().message();
  EXPECT_EQ(content->size(), data.size());
  EXPECT_TRUE(*content == data);
}

TEST_P(Fifo, ReadFileReadsCharacterDevices) {
  std::optional<Result<std::string>> got;
  fs::read_file(engine(), "/dev/null", [&](Result<std::string> r) { got.emplace(std::move(r)); });
  auto null = await(engine(), got);
  ASSERT_TRUE(null) << null.error().message();
  EXPECT_TRUE(null->empty());
}

TEST_P(Fifo, BufferedReaderReadsLinesFromAFifo) {
  const std::string path = make_fifo("fifo");
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + "\n";
  std::thread writer = feed_fifo(path, text);
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  BufferedReader reader(*file, 4096);
  std::string back;
  for (;;) {
    std::optional<Result<bool>> more;
    reader.read_line([&](Result<std::optional<std::string_view>> r) {
      if (!r) {
        more.emplace(r.error());
        return;
      }
      if (*r) back += std::string(**r) + "\n";
      more.emplace(r->has_value());
    });
    auto r = await(engine(), more);
    ASSERT_TRUE(r) << r.error().message();
    if (!*r) break;
  }
  writer.join();
  EXPECT_EQ(back, text);
}

TEST_P(Fifo, OpeningForWritingWaitsForAReaderOnBothEngines) {
  const std::string path = make_fifo("fifo");
  // O_NONBLOCK with no reader: ENXIO, as open(2) says.
  auto refused = open_sync(engine(), path, O_WRONLY | O_NONBLOCK);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::no_such_device_or_address);

  std::optional<Result<File>> opened;
  File::open(engine(), path, O_WRONLY, [&](Result<File> f) { opened.emplace(std::move(f)); });
  ASSERT_TRUE(engine().submit());
  (void)engine().wait(std::chrono::milliseconds(20));
  const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  auto writer = await(engine(), opened);
  ASSERT_TRUE(writer) << "blocks until a reader comes, then opens: " << writer.error().message();
  auto w = write_sync(engine(), *writer, "hello", 5, kStreamOffset);
  ASSERT_TRUE(w);
  char buf[8] = {};
  EXPECT_EQ(::read(reader, buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  ::close(reader);
}

TEST_P(Fifo, OpeningForReadingWithAWriterAlreadyThereReturnsAtOnce) {
  const std::string path = make_fifo("fifo");
  // A writer that has written nothing yet: open(2) for reading returns at once.
  const int writer = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  auto reader = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(reader) << reader.error().message();
  ASSERT_EQ(::write(writer, "hi", 2), 2);
  char buf[8] = {};
  auto r = read_sync(engine(), *reader, buf, sizeof buf, kStreamOffset);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::string(buf, *r), "hi");
  ::close(writer);
}

INSTANTIATE_TEST_SUITE_P(Engines, Fifo, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
