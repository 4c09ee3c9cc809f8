// TempFile on both engines: created in a directory, usable, gone afterwards.

#include <fcntl.h>

#include <filesystem>

#include "op_helpers.hpp"
#include "sys/sys.hpp"

namespace ringfile::test {
namespace {

namespace sfs = std::filesystem;
namespace sys = ringfile::detail::sys;

class TempFileTest : public EngineTest {
 protected:
  void TearDown() override { sys::clear_faults(); }

  Result<TempFile> create(const std::string& dir) {
    return call<TempFile>(engine(), [&](auto cb) { TempFile::create(engine(), dir, std::move(cb)); });
  }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(sfs::directory_iterator(dir_.path()), sfs::directory_iterator()));
  }
};

TEST_P(TempFileTest, UsableAndGoneAfterDestruction) {
  {
    auto t = create(dir_.path().string());
    ASSERT_TRUE(t) << t.error().message();
    RecordProperty("anonymous", t->anonymous() ? "yes (O_TMPFILE)" : "no");
    EXPECT_TRUE(t->file().is_open());
    EXPECT_EQ(entries(), t->anonymous() ? 0u : 1u);
    auto w = write_sync(engine(), t->file(), "temporary", 9, 0);
    ASSERT_TRUE(w);
    char buf[16];
    auto r = read_sync(engine(), t->file(), buf, sizeof buf, 0);
    ASSERT_TRUE(r);
    EXPECT_EQ(std::string(buf, *r), "temporary");
  }
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(entries(), 0u);
}

TEST_P(TempFileTest, NamedFallbackIsUnlinkedOnDestruction) {
  // As if the kernel had no O_TMPFILE: the first open fails with EISDIR. (Not
  // EOPNOTSUPP: io_uring re-runs that on its helper pool, which then succeeds. On
  // io_uring the seam rewrites the completion after the kernel ran the open, so the
  // real descriptor of that first open is lost; a test-only leak.)
  sys::clear_faults();
  sys::inject(fault(sys::Call::open, 1, 1, -EISDIR));
  auto t = create(dir_.path().string());
  sys::clear_faults();
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_FALSE(t->anonymous());
  EXPECT_EQ(sfs::path(t->path()).parent_path(), dir_.path());
  EXPECT_TRUE(sfs::exists(t->path()));
  const std::string path = t->path();
  TempFile moved = std::move(*t);
  EXPECT_TRUE(t->path().empty());
  EXPECT_EQ(moved.path(), path);
  EXPECT_TRUE(sfs::exists(path)) << "moving does not unlink";
  { TempFile gone = std::move(moved); }
  EXPECT_FALSE(sfs::exists(path));
}

TEST_P(TempFileTest, CloseUnlinksThroughTheEngine) {
  sys::clear_faults();
  sys::inject(fault(sys::Call::open, 1, 1, -EISDIR));  // no O_TMPFILE: a named file
  auto t = create(dir_.path().string());
  sys::clear_faults();
  ASSERT_TRUE(t);
  ASSERT_FALSE(t->anonymous());
  const std::string path = t->path();
  auto closed = call<void>(engine(), [&](auto cb) { t->close(std::move(cb)); });
  EXPECT_TRUE(closed) << closed.error().message();
  EXPECT_FALSE(sfs::exists(path));
  EXPECT_FALSE(t->file().is_open());
  EXPECT_TRUE(t->path().empty());
}

TEST_P(TempFileTest, AwaitableCreateAndClose) {
  auto body = [&]() -> Task<void> {
    auto t = co_await TempFile::create(engine(), dir_.path().string());
    EXPECT_TRUE(t);
    if (!t) co_return;
    auto w = co_await t->file().write_all("abc", 3, 0);
    EXPECT_TRUE(w);
    EXPECT_TRUE(co_await t->async_close());
  };
  sync_wait(engine(), body());
  EXPECT_EQ(entries(), 0u);
}

TEST_P(TempFileTest, Errors) {
  auto missing = create(dir_.file("missing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
  write_plain(dir_.file("file"), "x");
  auto not_dir = create(dir_.file("file"));
  ASSERT_FALSE(not_dir);
  EXPECT_EQ(not_dir.error(), std::errc::not_a_directory);
}

INSTANTIATE_TEST_SUITE_P(Engines, TempFileTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
