// Path operations (fs.hpp) on both engines: each op's success and its errno on
// bad input.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "op_helpers.hpp"
#include "sys/sys.hpp"

namespace ringfile::test {
namespace {

namespace sfs = std::filesystem;
namespace sys = ringfile::detail::sys;

class FsTest : public EngineTest {
 protected:
  Result<FileStat> stat(const std::string& p) {
    return call<FileStat>(engine(), [&](auto cb) { fs::stat(engine(), p, std::move(cb)); });
  }
  Result<FileStat> lstat(const std::string& p) {
    return call<FileStat>(engine(), [&](auto cb) { fs::lstat(engine(), p, std::move(cb)); });
  }
  Result<void> rename(const std::string& a, const std::string& b, RenameFlags f = RenameFlags::None) {
    return call<void>(engine(), [&](auto cb) { fs::rename(engine(), a, b, f, std::move(cb)); });
  }
  Result<void> unlink(const std::string& p) {
    return call<void>(engine(), [&](auto cb) { fs::unlink(engine(), p, std::move(cb)); });
  }
  Result<void> mkdir(const std::string& p, mode_t mode = 0777) {
    return call<void>(engine(), [&](auto cb) { fs::mkdir(engine(), p, mode, std::move(cb)); });
  }
  Result<void> mkdirs(const std::string& p) {
    return call<void>(engine(), [&](auto cb) { fs::create_directories(engine(), p, std::move(cb)); });
  }
  Result<void> rmdir(const std::string& p) {
    return call<void>(engine(), [&](auto cb) { fs::rmdir(engine(), p, std::move(cb)); });
  }
  Result<void> link(const std::string& a, const std::string& b) {
    return call<void>(engine(), [&](auto cb) { fs::link(engine(), a, b, std::move(cb)); });
  }
  Result<void> symlink(const std::string& target, const std::string& p) {
    return call<void>(engine(), [&](auto cb) { fs::symlink(engine(), target, p, std::move(cb)); });
  }
  Result<std::string> readlink(const std::string& p) {
    return call<std::string>(engine(), [&](auto cb) { fs::readlink(engine(), p, std::move(cb)); });
  }
  Result<std::vector<DirEntry>> list(const std::string& p) {
    return call<std::vector<DirEntry>>(engine(), [&](auto cb) { fs::list_directory(engine(), p, std::move(cb)); });
  }
  Result<void> access(const std::string& p, int mode) {
    return call<void>(engine(), [&](auto cb) { fs::access(engine(), p, mode, std::move(cb)); });
  }
  Result<bool> exists(const std::string& p) {
    return call<bool>(engine(), [&](auto cb) { fs::exists(engine(), p, std::move(cb)); });
  }
  Result<FsStats> statvfs(const std::string& p) {
    return call<FsStats>(engine(), [&](auto cb) { fs::statvfs(engine(), p, std::move(cb)); });
  }
};

#define EXPECT_ERRNO(result, code)                                             \
  do {                                                                         \
    auto&& r_ = (result);                                                      \
    ASSERT_FALSE(r_) << "expected " << std::make_error_code(code).message();   \
    EXPECT_EQ(r_.error(), code) << r_.error().message();                       \
  } while (0)

TEST_P(FsTest, StatReportsTypeAndSize) {
  const std::string p = dir_.file("f");
  write_plain(p, std::string(1234, 'x'));
  auto st = stat(p);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(st->is_regular());
  EXPECT_EQ(st->size, 1234u);
  EXPECT_EQ(st->nlink, 1u);
  auto d = stat(dir_.path().string());
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->is_directory());
}

TEST_P(FsTest, StatFollowsSymlinksAndLstatDoesNot) {
  const std::string target = dir_.file("target"), ln = dir_.file("ln");
  write_plain(target, "abc");
  ASSERT_EQ(::symlink(target.c_str(), ln.c_str()), 0);
  auto st = stat(ln);
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->is_regular());
  EXPECT_EQ(st->size, 3u);
  auto l = lstat(ln);
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->is_symlink());
  EXPECT_EQ(l->size, target.size());
}

TEST_P(FsTest, StatErrors) {
  write_plain(dir_.file("file"), "x");
  EXPECT_ERRNO(stat(dir_.file("missing")), std::errc::no_such_file_or_directory);
  EXPECT_ERRNO(stat(dir_.file("file") + "/below"), std::errc::not_a_directory);
  ASSERT_EQ(::symlink("nowhere", dir_.file("dangling").c_str()), 0);
  EXPECT_ERRNO(stat(dir_.file("dangling")), std::errc::no_such_file_or_directory);
  EXPECT_TRUE(lstat(dir_.file("dangling")));
}

TEST_P(FsTest, RenameMovesAFile) {
  const std::string a = dir_.file("a"), b = dir_.file("b");
  write_plain(a, "content");
  ASSERT_TRUE(rename(a, b));
  EXPECT_FALSE(sfs::exists(a));
  EXPECT_EQ(read_plain(b), "content");
}

TEST_P(FsTest, RenameReplacesByDefault) {
  const std::string a = dir_.file("a"), b = dir_.file("b");
  write_plain(a, "new");
  write_plain(b, "old");
  ASSERT_TRUE(rename(a, b));
  EXPECT_EQ(read_plain(b), "new");
}

TEST_P(FsTest, RenameNoReplaceRefusesToClobber) {
  const std::string a = dir_.file("a"), b = dir_.file("b");
  write_plain(a, "new");
  write_plain(b, "old");
  auto r = rename(a, b, RenameFlags::NoReplace);
  if (!r && r.error() == std::errc::invalid_argument) GTEST_SKIP() << "filesystem lacks RENAME_NOREPLACE";
  EXPECT_ERRNO(r, std::errc::file_exists);
  EXPECT_EQ(read_plain(b), "old");
  EXPECT_EQ(read_plain(a), "new");
  ASSERT_TRUE(rename(a, dir_.file("c"), RenameFlags::NoReplace));
  EXPECT_EQ(read_plain(dir_.file("c")), "new");
}

TEST_P(FsTest, RenameExchangeSwaps) {
  const std::string a = dir_.file("a"), b = dir_.file("b");
  write_plain(a, "A");
  write_plain(b, "B");
  auto r = rename(a, b, RenameFlags::Exchange);
  if (!r && r.error() == std::errc::invalid_argument) GTEST_SKIP() << "filesystem lacks RENAME_EXCHANGE";
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_plain(a), "B");
  EXPECT_EQ(read_plain(b), "A");
  EXPECT_ERRNO(rename(a, dir_.file("missing"), RenameFlags::Exchange), std::errc::no_such_file_or_directory);
}

TEST_P(FsTest, RenameErrors) {
  const std::string file = dir_.file("file"), empty = dir_.file("empty"), full = dir_.file("full");
  write_plain(file, "x");
  sfs::create_directory(empty);
  sfs::create_directory(full);
  write_plain(full + "/inside", "y");
  EXPECT_ERRNO(rename(dir_.file("missing"), dir_.file("b")), std::errc::no_such_file_or_directory);
  EXPECT_ERRNO(rename(file, empty), std::errc::is_a_directory);
  EXPECT_ERRNO(rename(empty, file), std::errc::not_a_directory);
  EXPECT_ERRNO(rename(empty, full), std::errc::directory_not_empty);
  EXPECT_ERRNO(rename(file, file + "/x"), std::errc::not_a_directory);
}

TEST_P(FsTest, UnlinkRemovesAName) {
  const std::string p = dir_.file("f");
  write_plain(p, "x");
  ASSERT_TRUE(unlink(p));
  EXPECT_FALSE(sfs::exists(p));
  EXPECT_ERRNO(unlink(p), std::errc::no_such_file_or_directory);
}

TEST_P(FsTest, UnlinkOfADirectoryIsEISDIR) {
  sfs::create_directory(dir_.file("d"));
  EXPECT_ERRNO(unlink(dir_.file("d")), std::errc::is_a_directory);
  EXPECT_TRUE(sfs::is_directory(dir_.file("d")));
}

TEST_P(FsTest, MkdirCreatesWithMode) {
  const std::string d = dir_.file("d");
  const mode_t old = ::umask(022);
  auto r = mkdir(d, 0750);
  ::umask(old);
  ASSERT_TRUE(r) << r.error().message();
  struct ::stat st {};
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST_P(FsTest, MkdirErrors) {
  write_plain(dir_.file("file"), "x");
  sfs::create_directory(dir_.file("d"));
  EXPECT_ERRNO(mkdir(dir_.file("d")), std::errc::file_exists);
  EXPECT_ERRNO(mkdir(dir_.file("file")), std::errc::file_exists);
  EXPECT_ERRNO(mkdir(dir_.file("missing/d")), std::errc::no_such_file_or_directory);
  EXPECT_ERRNO(mkdir(dir_.file("file/d")), std::errc::not_a_directory);
}

TEST_P(FsTest, CreateDirectoriesMakesEveryLevel) {
  const std::string deep = dir_.file("a/b/c/d/e");
  ASSERT_TRUE(mkdirs(deep));
  EXPECT_TRUE(sfs::is_directory(deep));
  // Existing directories, repeated and trailing slashes are fine.
  ASSERT_TRUE(mkdirs(deep));
  ASSERT_TRUE(mkdirs(dir_.file("a//b/c///x/y/")));
  EXPECT_TRUE(sfs::is_directory(dir_.file("a/b/c/x/y")));
  ASSERT_TRUE(mkdirs("/"));
  ASSERT_TRUE(mkdirs(dir_.path().string()));
}

TEST_P(FsTest, CreateDirectoriesErrors) {
  write_plain(dir_.file("file"), "x");
  EXPECT_ERRNO(mkdirs(dir_.file("file")), std::errc::file_exists);
  EXPECT_ERRNO(mkdirs(dir_.file("file/a/b")), std::errc::not_a_directory);
  EXPECT_ERRNO(mkdirs(""), std::errc::no_such_file_or_directory);
  EXPECT_ERRNO(mkdirs(std::string("a\0b", 3)), std::errc::invalid_argument);
}

TEST_P(FsTest, RmdirRemovesAnEmptyDirectory) {
  sfs::create_directory(dir_.file("d"));
  ASSERT_TRUE(rmdir(dir_.file("d")));
  EXPECT_FALSE(sfs::exists(dir_.file("d")));
}

TEST_P(FsTest, RmdirErrors) {
  sfs::create_directory(dir_.file("full"));
  write_plain(dir_.file("full/x"), "x");
  write_plain(dir_.file("file"), "x");
  EXPECT_ERRNO(rmdir(dir_.file("full")), std::errc::directory_not_empty);
  EXPECT_ERRNO(rmdir(dir_.file("file")), std::errc::not_a_directory);
  EXPECT_ERRNO(rmdir(dir_.file("missing")), std::errc::no_such_file_or_directory);
}

TEST_P(FsTest, LinkAddsAName) {
  const std::string a = dir_.file("a"), b = dir_.file("b");
  write_plain(a, "shared");
  ASSERT_TRUE(link(a, b));
  auto st = stat(a);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->nlink, 2u);
  EXPECT_EQ(read_plain(b), "shared");
  EXPECT_ERRNO(link(a, b), std::errc::file_exists);
  EXPECT_ERRNO(link(dir_.file("missing"), dir_.file("c")), std::errc::no_such_file_or_directory);
  EXPECT_ERRNO(link(a, dir_.file("missing/c")), std::errc::no_such_file_or_directory);
}

TEST_P(FsTest, SymlinkAndReadlink) {
  const std::string ln = dir_.file("ln");
  ASSERT_TRUE(symlink("some/relative/target", ln));
  auto target = readlink(ln);
  ASSERT_TRUE(target) << target.error().message();
  EXPECT_EQ(*target, "some/relative/target");
  EXPECT_ERRNO(symlink("other", ln), std::errc::file_exists);
}

TEST_P(FsTest, ReadlinkOfALongTarget) {
  // Longer than the first guess at the buffer size.
  std::string long_target;
  while (long_target.size() < 3000) long_target += "component/";
  ASSERT_TRUE(symlink(long_target, dir_.file("ln")));
  auto target = readlink(dir_.file("ln"));
  ASSERT_TRUE(target);
  EXPECT_EQ(*target, long_target);
}

TEST_P(FsTest, ReadlinkErrors) {
  write_plain(dir_.file("file"), "x");
  EXPECT_ERRNO(readlink(dir_.file("file")), std::errc::invalid_argument);
  EXPECT_ERRNO(readlink(dir_.file("missing")), std::errc::no_such_file_or_directory);
  EXPECT_ERRNO(readlink(dir_.file("file/x")), std::errc::not_a_directory);
}

TEST_P(FsTest, ListDirectoryNamesAndTypes) {
  write_plain(dir_.file("file"), "x");
  sfs::create_directory(dir_.file("dir"));
  ASSERT_EQ(::symlink("file", dir_.file("link").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir_.file("fifo").c_str(), 0600), 0);
  auto entries = list(dir_.path().string());
  ASSERT_TRUE(entries) << entries.error().message();
  std::map<std::string, FileType> got;
  for (const auto& e : *entries) {
    got[e.name] = e.type;
    EXPECT_NE(e.inode, 0u);
  }
  std::map<std::string, FileType> want{{"file", FileType::Regular},
                                       {"dir", FileType::Directory},
                                       {"link", FileType::Symlink},
                                       {"fifo", FileType::Fifo}};
  EXPECT_EQ(got, want);
}

TEST_P(FsTest, ListDirectoryBeyondOneBuffer) {
  // Far more than fits in one getdents64 buffer.
  std::set<std::string> want;
  for (int i = 0; i < 3000; ++i) {
    std::string name = "entry-with-a-fairly-long-name-" + std::to_string(i);
    write_plain(dir_.file(name), "");
    want.insert(name);
  }
  auto entries = list(dir_.path().string());
  ASSERT_TRUE(entries);
  std::set<std::string> got;
  for (const auto& e : *entries) got.insert(e.name);
  EXPECT_EQ(got.size(), entries->size()) << "no duplicates";
  EXPECT_EQ(got, want);
}

TEST_P(FsTest, ListDirectoryEmptyAndErrors) {
  sfs::create_directory(dir_.file("empty"));
  auto entries = list(dir_.file("empty"));
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty());
  write_plain(dir_.file("file"), "x");
  EXPECT_ERRNO(list(dir_.file("file")), std::errc::not_a_directory);
  EXPECT_ERRNO(list(dir_.file("missing")), std::errc::no_such_file_or_directory);
}

TEST_P(FsTest, AccessAndExists) {
  const std::string p = dir_.file("f");
  write_plain(p, "x");
  ASSERT_EQ(::chmod(p.c_str(), 0644), 0);
  EXPECT_TRUE(access(p, F_OK));
  EXPECT_TRUE(access(p, R_OK | W_OK));
  EXPECT_ERRNO(access(p, X_OK), std::errc::permission_denied);
  EXPECT_ERRNO(access(dir_.file("missing"), F_OK), std::errc::no_such_file_or_directory);
  EXPECT_ERRNO(access(p + "/x", F_OK), std::errc::not_a_directory);

  auto yes = exists(p);
  ASSERT_TRUE(yes);
  EXPECT_TRUE(*yes);
  auto no = exists(dir_.file("missing"));
  ASSERT_TRUE(no);
  EXPECT_FALSE(*no);
  auto through_file = exists(p + "/x");
  ASSERT_TRUE(through_file);
  EXPECT_FALSE(*through_file);
  ASSERT_EQ(::symlink("nowhere", dir_.file("dangling").c_str()), 0);
  auto dangling = exists(dir_.file("dangling"));
  ASSERT_TRUE(dangling);
  EXPECT_FALSE(*dangling);
}

TEST_P(FsTest, StatvfsReportsTheFilesystem) {
  auto s = statvfs(dir_.path().string());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_GT(s->block_size, 0u);
  EXPECT_GT(s->fragment_size, 0u);
  EXPECT_GT(s->blocks, 0u);
  EXPECT_LE(s->blocks_available, s->blocks);
  EXPECT_GT(s->name_max, 0u);
  EXPECT_GT(s->capacity_bytes(), 0u);
  EXPECT_ERRNO(statvfs(dir_.file("missing")), std::errc::no_such_file_or_directory);
}

TEST_P(FsTest, BadPathsFailBeforeSubmission) {
  const std::string nul("bad\0path", 8);
  const std::string long_path(PATH_MAX + 1, 'a');
  const std::string ok = dir_.file("ok");
  write_plain(ok, "x");
  struct Case {
    const char* op;
    std::function<std::error_code(const std::string&)> run;
  };
  auto code = [](const auto& r) { return r ? std::error_code{} : r.error(); };
  std::vector<Case> cases{
      {"stat", [&](const std::string& p) { return code(stat(p)); }},
      {"lstat", [&](const std::string& p) { return code(lstat(p)); }},
      {"rename from", [&](const std::string& p) { return code(rename(p, ok)); }},
      {"rename to", [&](const std::string& p) { return code(rename(ok, p)); }},
      {"unlink", [&](const std::string& p) { return code(unlink(p)); }},
      {"mkdir", [&](const std::string& p) { return code(mkdir(p)); }},
      {"create_directories", [&](const std::string& p) { return code(mkdirs(p)); }},
      {"rmdir", [&](const std::string& p) { return code(rmdir(p)); }},
      {"link", [&](const std::string& p) { return code(link(ok, p)); }},
      {"symlink target", [&](const std::string& p) { return code(symlink(p, dir_.file("ln"))); }},
      {"symlink path", [&](const std::string& p) { return code(symlink("t", p)); }},
      {"readlink", [&](const std::string& p) { return code(readlink(p)); }},
      {"list_directory", [&](const std::string& p) { return code(list(p)); }},
      {"access", [&](const std::string& p) { return code(access(p, F_OK)); }},
      {"exists", [&](const std::string& p) { return code(exists(p)); }},
      {"statvfs", [&](const std::string& p) { return code(statvfs(p)); }},
  };
  count_syscalls();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.op);
    EXPECT_EQ(c.run(nul), std::errc::invalid_argument);
    EXPECT_EQ(c.run(long_path), std::errc::filename_too_long);
  }
  for (auto call : {sys::Call::statx, sys::Call::rename, sys::Call::unlink, sys::Call::mkdir, sys::Call::link,
                    sys::Call::symlink, sys::Call::readlink, sys::Call::open, sys::Call::statvfs, sys::Call::access}) {
    EXPECT_EQ(sys::calls(call), 0u) << "syscall " << static_cast<int>(call) << " was made";
  }
  sys::clear_faults();
  EXPECT_FALSE(sfs::exists(dir_.file("ln")));
}

TEST_P(FsTest, CallbacksRunInsideWaitNotInTheCall) {
  bool ran = false;
  fs::stat(engine(), dir_.path().string(), [&](Result<FileStat>) { ran = true; });
  fs::mkdir(engine(), std::string("a\0b", 3), [&](Result<void>) { ran = true; });
  EXPECT_FALSE(ran);
  ASSERT_TRUE(engine().run());
  EXPECT_TRUE(ran);
}

TEST_P(FsTest, AwaitableForms) {
  const std::string d = dir_.file("d");
  auto body = [&]() -> Task<void> {
    Engine& e = engine();
    EXPECT_TRUE(co_await fs::mkdir(e, d));
    EXPECT_TRUE(co_await fs::create_directories(e, d + "/x/y"));
    auto st = co_await fs::stat(e, d + "/x");
    EXPECT_TRUE(st && st->is_directory());
    EXPECT_TRUE(co_await fs::symlink(e, "x", d + "/ln"));
    auto target = co_await fs::readlink(e, d + "/ln");
    EXPECT_TRUE(target && *target == "x");
    auto l = co_await fs::lstat(e, d + "/ln");
    EXPECT_TRUE(l && l->is_symlink());
    EXPECT_TRUE(co_await fs::rename(e, d + "/ln", d + "/ln2"));
    EXPECT_TRUE(co_await fs::link(e, d + "/ln2", d + "/ln3"));
    auto entries = co_await fs::list_directory(e, d);
    EXPECT_TRUE(entries && entries->size() == 3);
    auto there = co_await fs::exists(e, d + "/ln3");
    EXPECT_TRUE(there && *there);
    EXPECT_TRUE(co_await fs::access(e, d, R_OK));
    auto space = co_await fs::statvfs(e, d);
    EXPECT_TRUE(space && space->blocks > 0);
    EXPECT_TRUE(co_await fs::unlink(e, d + "/ln2"));
    EXPECT_TRUE(co_await fs::unlink(e, d + "/ln3"));
    EXPECT_TRUE(co_await fs::rmdir(e, d + "/x/y"));
    auto not_empty = co_await fs::rmdir(e, d);
    EXPECT_EQ(not_empty.error(), std::errc::directory_not_empty);
  };
  sync_wait(engine(), body());
}

INSTANTIATE_TEST_SUITE_P(Engines, FsTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
