// BufferedReader and BufferedWriter on both engines.

#include <fcntl.h>

#include <functional>
#include <fstream>
#include <sstream>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

class StreamTest : public EngineTest {
 protected:
  File open_file(const std::string& path, int flags) {
    auto f = open_sync(engine(), path, flags);
    EXPECT_TRUE(f) << f.error().message();
    return f ? std::move(*f) : File();
  }

  // Every line through the callback API, and the final nullopt.
  std::vector<std::string> lines_by_callback(const std::string& content, std::size_t buffer) {
    const std::string p = dir_.file("lines");
    write_plain(p, content);
    File f = open_file(p, O_RDONLY);
    BufferedReader reader(f, buffer);
    std::vector<std::string> out;
    bool done = false;
    std::function<void()> next = [&] {
      reader.read_line([&](Result<std::optional<std::string_view>> line) {
        ASSERT_TRUE(line) << line.error().message();
        if (!*line) {
          done = true;
          return;
        }
        out.emplace_back(**line);
        next();
      });
    };
    next();
    EXPECT_TRUE(engine().run());
    EXPECT_TRUE(done);
    return out;
  }

  std::vector<std::string> lines_by_coroutine(const std::string& content, std::size_t buffer) {
    const std::string p = dir_.file("lines");
    write_plain(p, content);
    File f = open_file(p, O_RDONLY);
    BufferedReader reader(f, buffer);
    auto body = [&]() -> Task<std::vector<std::string>> {
      std::vector<std::string> out;
      auto lines = reader.lines();
      while (co_await lines.next()) out.emplace_back(lines.line());
      EXPECT_FALSE(lines.error()) << lines.error().message();
      co_return out;
    };
    return sync_wait(engine(), body());
  }
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_P(StreamTest, LinesAcrossBufferBoundaries) {
  std::string content;
  for (std::size_t len : {0, 1, 15, 16, 17, 31, 32, 33, 0, 100, 5, 0, 250}) {
    content += std::string(len, static_cast<char>('a' + len % 26)) + "\n";
  }
  content += "last line without a newline";
  const auto want = split(content);
  for (std::size_t buffer : {1, 2, 16, 17, 4096}) {
    SCOPED_TRACE("buffer " + std::to_string(buffer));
    EXPECT_EQ(lines_by_callback(content, buffer), want);
    EXPECT_EQ(lines_by_coroutine(content, buffer), want);
  }
}

TEST_P(StreamTest, LinesLongerThanTheBuffer) {
  const std::string a = random_bytes(100000, 1), b = "short";
  std::string clean_a = a;
  for (auto& c : clean_a) if (c == '\n') c = ' ';
  const std::string content = clean_a + "\n" + b + "\n" + clean_a;
  EXPECT_EQ(lines_by_callback(content, 64), (std::vector<std::string>{clean_a, b, clean_a}));
  EXPECT_EQ(lines_by_coroutine(content, 4096), (std::vector<std::string>{clean_a, b, clean_a}));
}

TEST_P(StreamTest, EmptyFileAndTrailingNewline) {
  EXPECT_TRUE(lines_by_callback("", 16).empty());
  EXPECT_TRUE(lines_by_coroutine("", 16).empty());
  EXPECT_EQ(lines_by_callback("a\n", 16), std::vector<std::string>{"a"});
  EXPECT_EQ(lines_by_callback("\n", 16), std::vector<std::string>{""});
  EXPECT_EQ(lines_by_coroutine("a\r\nb\r\n", 3), (std::vector<std::string>{"a\r", "b\r"}));
}

TEST_P(StreamTest, ManyBufferedLinesByCallbackDoNotRecurse) {
  // Each callback asks for the next line; buffered lines complete through the
  // engine, so 200k of them do not grow the stack.
  std::string content;
  for (int i = 0; i < 200000; ++i) content += std::to_string(i % 10) + "\n";
  const auto lines = lines_by_callback(content, 1 << 20);
  ASSERT_EQ(lines.size(), 200000u);
  EXPECT_EQ(lines[123456], "6");
}

TEST_P(StreamTest, ReadLineCallbackRunsInsideWait) {
  const std::string p = dir_.file("f");
  write_plain(p, "one\ntwo\n");
  File f = open_file(p, O_RDONLY);
  BufferedReader reader(f);
  std::optional<Result<std::optional<std::string_view>>> got;
  reader.read_line([&](auto line) { got.emplace(line); });
  auto first = await(engine(), got);
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(**first, "one");
  got.reset();
  reader.read_line([&](auto line) { got.emplace(line); });
  EXPECT_FALSE(got) << "a buffered line still arrives through the engine";
  auto second = await(engine(), got);
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(**second, "two");
}

TEST_P(StreamTest, ReaderStartsAtAnOffsetAndFollowsAGrowingFile) {
  const std::string p = dir_.file("log");
  write_plain(p, "skip\nfirst\n");
  File f = open_file(p, O_RDONLY);
  BufferedReader reader(f, 4096, 5);
  auto body = [&]() -> Task<void> {
    auto a = co_await reader.read_line();
    EXPECT_TRUE(a && *a && **a == "first");
    auto end = co_await reader.read_line();
    EXPECT_TRUE(end && !*end);
    std::ofstream(p, std::ios::app) << "second\n";
    auto b = co_await reader.read_line();
    EXPECT_TRUE(b && *b && **b == "second");
    EXPECT_EQ(reader.offset(), 18);
  };
  sync_wait(engine(), body());
}

TEST_P(StreamTest, ReadBytesAfterLines) {
  const std::string p = dir_.file("f");
  const std::string body_bytes = random_bytes(50000, 9);
  write_plain(p, "header: 1\n\n" + body_bytes);
  File f = open_file(p, O_RDONLY);
  BufferedReader reader(f, 1024);
  auto body = [&]() -> Task<std::string> {
    auto h = co_await reader.read_line();
    EXPECT_TRUE(h && *h && **h == "header: 1");
    auto blank = co_await reader.read_line();
    EXPECT_TRUE(blank && *blank && (*blank)->empty());
    std::string out;
    char buf[700];
    for (;;) {
      auto n = co_await reader.read(buf, sizeof buf);
      EXPECT_TRUE(n);
      if (!n || *n == 0) break;
      out.append(buf, *n);
    }
    // Larger than the buffer: read straight into the caller's memory.
    std::string big(10000, '\0');
    auto n = co_await reader.read(big.data(), big.size());
    EXPECT_TRUE(n && *n == 0);
    co_return out;
  };
  EXPECT_TRUE(sync_wait(engine(), body()) == body_bytes);

  std::optional<Result<std::size_t>> got;
  char c;
  reader.read(&c, 1, [&](Result<std::size_t> r) { got.emplace(r); });
  auto eof = await(engine(), got);
  ASSERT_TRUE(eof);
  EXPECT_EQ(*eof, 0u);
}

TEST_P(StreamTest, ReadErrorsAreReported) {
  File f = open_file(dir_.file("wo"), O_CREAT | O_WRONLY);
  BufferedReader reader(f);
  std::optional<Result<std::optional<std::string_view>>> got;
  reader.read_line([&](auto line) { got.emplace(line); });
  auto r = await(engine(), got);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);

  File closed;
  BufferedReader on_nothing(closed);
  auto body = [&]() -> Task<void> {
    auto lines = on_nothing.lines();
    EXPECT_FALSE(co_await lines.next());
    EXPECT_EQ(lines.error(), std::errc::bad_file_descriptor);
  };
  sync_wait(engine(), body());
}

TEST_P(StreamTest, WriterBuffersAndFlushes) {
  const std::string p = dir_.file("out");
  File f = open_file(p, O_CREAT | O_WRONLY | O_TRUNC);
  BufferedWriter writer(f, 64);
  std::string want;
  int pending = 0;
  std::function<void(int)> write_next = [&](int i) {
    if (i == 1000) {
      writer.flush([&](Result<void> r) { EXPECT_TRUE(r); --pending; });
      return;
    }
    std::string piece = "line " + std::to_string(i) + "\n";
    want += piece;
    auto keep = std::make_shared<std::string>(std::move(piece));
    writer.write(*keep, [&, i, keep](Result<void> r) {
      ASSERT_TRUE(r) << r.error().message();
      write_next(i + 1);
    });
  };
  pending = 1;
  write_next(0);
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(pending, 0);
  EXPECT_EQ(writer.buffered(), 0u);
  EXPECT_EQ(writer.offset(), static_cast<std::int64_t>(want.size()));
  EXPECT_EQ(read_plain(p), want);
}

TEST_P(StreamTest, WriterCoroutineWithLargeAndSmallWrites) {
  const std::string p = dir_.file("out");
  File f = open_file(p, O_CREAT | O_WRONLY | O_TRUNC);
  BufferedWriter writer(f, 4096, 10);
  const std::string big = random_bytes(100000, 4), small = "tiny", mid = random_bytes(4000, 5);
  auto body = [&]() -> Task<void> {
    EXPECT_TRUE(co_await writer.write(small));
    EXPECT_EQ(writer.buffered(), small.size());
    EXPECT_TRUE(co_await writer.write(big));  // flushes "tiny", then goes straight to the file
    EXPECT_EQ(writer.buffered(), 0u);
    EXPECT_TRUE(co_await writer.write(mid));
    EXPECT_TRUE(co_await writer.write(mid));  // does not fit: the first is written out
    EXPECT_EQ(writer.buffered(), mid.size());
    EXPECT_TRUE(co_await writer.flush());
    EXPECT_TRUE(co_await writer.flush());  // nothing left: completes at once
  };
  sync_wait(engine(), body());
  EXPECT_TRUE(read_plain(p) == std::string(10, '\0') + small + big + mid + mid);
}

TEST_P(StreamTest, WriterErrorsAreReported) {
  const std::string p = dir_.file("ro");
  write_plain(p, "x");
  File f = open_file(p, O_RDONLY);
  BufferedWriter writer(f, 16);
  auto body = [&]() -> Task<void> {
    EXPECT_TRUE(co_await writer.write("abc"));  // buffered, no I/O yet
    auto flushed = co_await writer.flush();
    EXPECT_EQ(flushed.error(), std::errc::bad_file_descriptor);
    EXPECT_EQ(writer.buffered(), 3u) << "kept for another try";
    auto big = co_await writer.write(std::string(100, 'x'));
    EXPECT_EQ(big.error(), std::errc::bad_file_descriptor);
  };
  sync_wait(engine(), body());
}

INSTANTIATE_TEST_SUITE_P(Engines, StreamTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
