// The helpers that read until end of file stop at a limit the caller can change:
// read_file fails with EFBIG, BufferedReader::read_line with ENOBUFS, on both
// engines, instead of growing until memory runs out.

#include <fcntl.h>

#include <string>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

constexpr std::size_t kFileLimit = 1 << 20;
constexpr std::size_t kLineLimit = 4096;

class SizeLimit : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    EngineOptions o = options();
    o.max_read_file_size = kFileLimit;
    o.max_line_length = kLineLimit;
    auto e = Engine::create(o);
    ASSERT_TRUE(e);
    engine_.emplace(std::move(*e));
  }

  Result<std::string> read_whole(const std::string& path) {
    std::optional<Result<std::string>> got;
    fs::read_file(engine(), path, [&](Result<std::string> r) { got.emplace(std::move(r)); });
    return await(engine(), got);
  }
};

TEST(SizeLimitDefaults, AreFiniteAndDocumented) {
  EXPECT_EQ(EngineOptions{}.max_read_file_size, std::size_t{1} << 30);
  EXPECT_EQ(EngineOptions{}.max_line_length, std::size_t{1} << 20);
}

TEST_P(SizeLimit, ReadFileOfEndlessDevicesFailsWithEfbig) {
  for (const char* path : {"/dev/zero", "/proc/self/pagemap"}) {
    SCOPED_TRACE(path);
    auto r = read_whole(path);
    ASSERT_FALSE(r) << "read " << r->size() << " bytes";
    EXPECT_EQ(r.error(), std::errc::file_too_large);
  }
  EXPECT_EQ(engine().pending(), 0u);
}

TEST_P(SizeLimit, ReadFileUpToTheLimitSucceedsAndPastItFails) {
  const std::string at = dir_.file("at"), past = dir_.file("past");
  write_plain(at, std::string(kFileLimit, 'a'));
  write_plain(past, std::string(kFileLimit + 1, 'p'));
  auto fits = read_whole(at);
  ASSERT_TRUE(fits) << fits.error().message();
  EXPECT_EQ(fits->size(), kFileLimit);
  auto too_big = read_whole(past);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error(), std::errc::file_too_large);
}

TEST_P(SizeLimit, OverlongLineFailsWithEnobufsAndReadingGoesOn) {
  const std::string path = dir_.file("lines");
  write_plain(path, "short\n" + std::string(100 * 1024, 'x') + "\nlast\n");
  auto file = open_sync(engine(), path, O_RDONLY);
  ASSERT_TRUE(file);
  BufferedReader reader(*file, 1024);
  std::vector<std::string> lines;
  int overlong = 0;
  for (int i = 0; i < 1000; ++i) {
    std::optional<Result<bool>> more;
    reader.read_line([&](Result<std::optional<std::string_view>> r) {
      if (!r) {
        EXPECT_EQ(r.error(), std::errc::no_buffer_space);
        ++overlong;
        more.emplace(true);
        return;
      }
      if (*r) {
        EXPECT_LE((*r)->size(), kLineLimit);
        lines.emplace_back(**r);
      }
      more.emplace(r->has_value());
    });
    auto r = await(engine(), more);
    ASSERT_TRUE(r);
    if (!*r) break;
  }
  EXPECT_GE(overlong, 1);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front(), "short");
  EXPECT_EQ(lines.back(), "last");

  // A reader's own limit overrides the engine's.
  BufferedReader roomy(*file, 1024);
  roomy.set_max_line_length(200 * 1024);
  std::optional<Result<std::size_t>> second;
  roomy.read_line([&](Result<std::optional<std::string_view>>) {});
  ASSERT_TRUE(engine().run());
  roomy.read_line([&](Result<std::optional<std::string_view>> r) {
    second.emplace(r ? Result<std::size_t>((*r)->size()) : Result<std::size_t>(r.error()));
  });
  auto length = await(engine(), second);
  ASSERT_TRUE(length) << length.error().message();
  EXPECT_EQ(*length, 100u * 1024);
}

INSTANTIATE_TEST_SUITE_P(Engines, SizeLimit, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
