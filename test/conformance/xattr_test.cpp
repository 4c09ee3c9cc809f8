// Extended attributes (File::*_xattr and fs::*_xattr) on both engines: values
// round-trip by descriptor and by path, each error is the kernel's own (checked
// against the syscall on the same file), and io_uring runs get and set on the
// ring where the kernel has the opcodes, and list, remove and refusals on a worker.

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "op_helpers.hpp"

namespace ringfile::test {
namespace {

namespace sys = ringfile::detail::sys;
using detail::Op;

std::set<std::string> names_in(const char* buffer, std::size_t size) {
  std::set<std::string> out;
  for (std::size_t at = 0; at < size;) {
    std::string name(buffer + at);
    at += name.size() + 1;
    out.insert(std::move(name));
  }
  return out;
}

class XattrTest : public SeamTest {
 protected:
  void SetUp() override {
    SeamTest::SetUp();
    if (IsSkipped()) return;
    path_ = (dir_.path() / "f").string();
    write_plain(path_, "data");
    if (::setxattr(path_.c_str(), "user.probe", "1", 1, 0) != 0) {
      GTEST_SKIP() << "this filesystem refuses user xattrs: " << std::strerror(errno);
    }
    ::removexattr(path_.c_str(), "user.probe");
    auto f = call<File>(engine(), [&](auto cb) { File::open(engine(), path_, O_RDWR, std::move(cb)); });
    ASSERT_TRUE(f) << f.error().message();
    file_ = std::move(*f);
  }

  Result<std::size_t> get(std::string_view name, void* buf, std::size_t size) {
    return call<std::size_t>(engine(), [&](auto cb) { file_.get_xattr(name, buf, size, std::move(cb)); });
  }
  Result<void> set(std::string_view name, std::string_view value, int flags = 0) {
    return call<void>(engine(),
                      [&](auto cb) { file_.set_xattr(name, value.data(), value.size(), flags, std::move(cb)); });
  }
  Result<std::size_t> list(void* buf, std::size_t size) {
    return call<std::size_t>(engine(), [&](auto cb) { file_.list_xattr(buf, size, std::move(cb)); });
  }
  Result<void> remove(std::string_view name) {
    return call<void>(engine(), [&](auto cb) { file_.remove_xattr(name, std::move(cb)); });
  }
  Result<std::size_t> get_path(const std::string& path, std::string_view name, void* buf, std::size_t size) {
    return call<std::size_t>(engine(), [&](auto cb) { fs::get_xattr(engine(), path, name, buf, size, std::move(cb)); });
  }
  Result<void> set_path(const std::string& path, std::string_view name, std::string_view value, int flags = 0) {
    return call<void>(engine(), [&](auto cb) {
      fs::set_xattr(engine(), path, name, value.data(), value.size(), flags, std::move(cb));
    });
  }
  Result<std::size_t> list_path(const std::string& path, void* buf, std::size_t size) {
    return call<std::size_t>(engine(), [&](auto cb) { fs::list_xattr(engine(), path, buf, size, std::move(cb)); });
  }
  Result<void> remove_path(const std::string& path, std::string_view name) {
    return call<void>(engine(), [&](auto cb) { fs::remove_xattr(engine(), path, name, std::move(cb)); });
  }
  std::string value_of(std::string_view name) {
    char buf[256];
    auto n = get(name, buf, sizeof buf);
    EXPECT_TRUE(n) << n.error().message();
    return n ? std::string(buf, *n) : std::string();
  }

  std::string path_;
  File file_;
};

TEST_P(XattrTest, ASetValueReadsBackByDescriptorAndByPath) {
  ASSERT_TRUE(set("user.checksum", "crc32:1234abcd"));
  char buf[64];
  auto size_only = get("user.checksum", nullptr, 0);
  ASSERT_TRUE(size_only) << size_only.error().message();
  EXPECT_EQ(*size_only, 14u);
  EXPECT_EQ(value_of("user.checksum"), "crc32:1234abcd");
  auto by_path = get_path(path_, "user.checksum", buf, sizeof buf);
  ASSERT_TRUE(by_path) << by_path.error().message();
  EXPECT_EQ(std::string(buf, *by_path), "crc32:1234abcd");
  // What the kernel keeps, read by the syscall itself.
  char ref[64];
  const ssize_t n = ::getxattr(path_.c_str(), "user.checksum", ref, sizeof ref);
  ASSERT_EQ(n, 14);
  EXPECT_EQ(std::string(ref, 14), "crc32:1234abcd");

  ASSERT_TRUE(set_path(path_, "user.origin", "backup-7"));
  EXPECT_EQ(value_of("user.origin"), "backup-7");
  ASSERT_TRUE(set("user.origin", "backup-8", XATTR_REPLACE));
  EXPECT_EQ(value_of("user.origin"), "backup-8");
}

TEST_P(XattrTest, ABinaryValueOfSeveralKilobytesRoundTrips) {
  std::string value(3000, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7 + 1);
  value[10] = '\0';
  ASSERT_TRUE(set("user.blob", value));
  std::vector<char> big(1 << 20);  // past XATTR_SIZE_MAX: the kernel fills what the value needs
  auto n = get("user.blob", big.data(), big.size());
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(std::string(big.data(), *n), value);
}

TEST_P(XattrTest, ListGivesTheNamesTheKernelLists) {
  ASSERT_TRUE(set("user.a", "1"));
  ASSERT_TRUE(set("user.bb", "2"));
  ASSERT_TRUE(set_path(path_, "user.ccc", "3"));
  char ref[1024];
  const ssize_t want = ::listxattr(path_.c_str(), ref, sizeof ref);
  ASSERT_GT(want, 0);
  auto size_only = list(nullptr, 0);
  ASSERT_TRUE(size_only) << size_only.error().message();
  EXPECT_EQ(*size_only, static_cast<std::size_t>(want));
  char buf[1024];
  auto by_fd = list(buf, sizeof buf);
  ASSERT_TRUE(by_fd) << by_fd.error().message();
  EXPECT_EQ(names_in(buf, *by_fd), names_in(ref, static_cast<std::size_t>(want)));
  auto by_path = list_path(path_, buf, sizeof buf);
  ASSERT_TRUE(by_path) << by_path.error().message();
  const auto names = names_in(buf, *by_path);
  EXPECT_EQ(names, names_in(ref, static_cast<std::size_t>(want)));
  for (const char* name : {"user.a", "user.bb", "user.ccc"}) EXPECT_TRUE(names.count(name)) << name;
}

TEST_P(XattrTest, RemoveTakesTheAttributeAway) {
  ASSERT_TRUE(set("user.a", "1"));
  ASSERT_TRUE(set("user.b", "2"));
  ASSERT_TRUE(remove("user.a"));
  ASSERT_TRUE(remove_path(path_, "user.b"));
  char buf[8];
  EXPECT_EQ(::getxattr(path_.c_str(), "user.a", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
  auto gone = get("user.b", buf, sizeof buf);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), errno_code(ENODATA));
}

// Each case run through ringfile and through the syscall on the same file: the
// same errno.
TEST_P(XattrTest, ErrorsAreTheKernels) {
  ASSERT_EQ(::setxattr(path_.c_str(), "user.here", "12345", 5, 0), 0);
  const char* p = path_.c_str();
  const std::string gone = path_ + ".gone";
  const std::string too_long = "user." + std::string(300, 'n');
  const std::string huge(70000, 'v');
  char small[2];
  char buf[64];
  struct Case {
    const char* what;
    std::error_code got;
    int want;  // the syscall's errno
  };
  auto error_of = [](const auto& result) { return result ? std::error_code{} : result.error(); };
  auto errno_of = [](auto ret) { return ret < 0 ? errno : 0; };
  const Case cases[] = {
      {"get: missing", error_of(get("user.none", buf, sizeof buf)), errno_of(::getxattr(p, "user.none", buf, 64))},
      {"get: too small", error_of(get("user.here", small, sizeof small)), errno_of(::getxattr(p, "user.here", small, 2))},
      {"get: empty name", error_of(get("", buf, sizeof buf)), errno_of(::getxattr(p, "", buf, 64))},
      {"get: long name", error_of(get(too_long, buf, sizeof buf)), errno_of(::getxattr(p, too_long.c_str(), buf, 64))},
      {"get: unknown namespace", error_of(get("nosuch.name", buf, sizeof buf)),
       errno_of(::getxattr(p, "nosuch.name", buf, 64))},
      {"get: no such file", error_of(get_path(gone, "user.here", buf, sizeof buf)),
       errno_of(::getxattr(gone.c_str(), "user.here", buf, 64))},
      {"list: too small", error_of(list(small, sizeof small)), errno_of(::listxattr(p, small, 2))},
      {"set: create an existing one", error_of(set("user.here", "x", XATTR_CREATE)),
       errno_of(::setxattr(p, "user.here", "x", 1, XATTR_CREATE))},
      {"set: replace a missing one", error_of(set("user.none", "x", XATTR_REPLACE)),
       errno_of(::setxattr(p, "user.none", "x", 1, XATTR_REPLACE))},
      {"set: a value over 64 KiB", error_of(set("user.big", huge)),
       errno_of(::setxattr(p, "user.big", huge.data(), huge.size(), 0))},
      {"set: bad flags", error_of(set("user.x", "x", 0x100)), errno_of(::setxattr(p, "user.x", "x", 1, 0x100))},
      {"remove: missing", error_of(remove("user.none")), errno_of(::removexattr(p, "user.none"))},
      {"remove: no such file", error_of(remove_path(gone, "user.here")),
       errno_of(::removexattr(gone.c_str(), "user.here"))},
  };
  for (const Case& c : cases) {
    ASSERT_NE(c.want, 0) << c.what << ": the syscall succeeded";
    EXPECT_EQ(c.got, errno_code(c.want)) << c.what << ": " << c.got.message();
  }
  // Checked before anything is queued: the kernel would read a C string.
  EXPECT_EQ(error_of(get(std::string_view("user.a\0b", 8), buf, sizeof buf)), errno_code(EINVAL));
  EXPECT_EQ(error_of(get_path(std::string("a\0b", 3), "user.here", buf, sizeof buf)), errno_code(EINVAL));
  EXPECT_EQ(error_of(get("user.here", nullptr, 8)), errno_code(EFAULT));
}

TEST_P(XattrTest, AFilesystemWithoutXattrsSaysENOTSUP) {
  const char* proc = "/proc/self/status";
  char buf[16];
  errno = 0;
  if (::getxattr(proc, "user.x", buf, sizeof buf) >= 0 || errno != ENOTSUP) {
    GTEST_SKIP() << "procfs here answers getxattr with " << std::strerror(errno);
  }
  auto by_path = get_path(proc, "user.x", buf, sizeof buf);
  ASSERT_FALSE(by_path);
  EXPECT_EQ(by_path.error(), errno_code(ENOTSUP));
  auto f = call<File>(engine(), [&](auto cb) { File::open(engine(), proc, O_RDONLY, std::move(cb)); });
  ASSERT_TRUE(f) << f.error().message();
  for (int round = 0; round < 2; ++round) {  // the second after io_uring's refusal is remembered
    auto got = call<std::size_t>(engine(), [&](auto cb) { f->get_xattr("user.x", buf, sizeof buf, std::move(cb)); });
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error(), errno_code(ENOTSUP));
    auto set = call<void>(engine(), [&](auto cb) { f->set_xattr("user.x", "1", 1, 0, std::move(cb)); });
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error(), errno_code(ENOTSUP));
  }
}

TEST_P(XattrTest, AFileWithoutAnEngineOrClosedIsEBADF) {
  File detached;
  char buf[8];
  std::optional<Result<std::size_t>> got;
  detached.get_xattr("user.x", buf, sizeof buf, [&](Result<std::size_t> r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error(), errno_code(EBADF));
  file_.close();
  auto after_close = get("user.x", buf, sizeof buf);
  ASSERT_FALSE(after_close);
  EXPECT_EQ(after_close.error(), errno_code(EBADF));
}

TEST_P(XattrTest, AwaitableForms) {
  char buf[32];
  ASSERT_TRUE(await_op(engine(), file_.set_xattr("user.k", "v1", 2)));
  auto n = await_op(engine(), file_.get_xattr("user.k", buf, sizeof buf));
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(std::string(buf, *n), "v1");
  ASSERT_TRUE(await_op(engine(), fs::set_xattr(engine(), path_, "user.k", "v22", 3)));
  auto m = await_op(engine(), fs::get_xattr(engine(), path_, "user.k", buf, sizeof buf));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(std::string(buf, *m), "v22");
  auto listed = await_op(engine(), file_.list_xattr(buf, sizeof buf));
  ASSERT_TRUE(listed) << listed.error().message();
  EXPECT_TRUE(names_in(buf, *listed).count("user.k"));
  ASSERT_TRUE(await_op(engine(), fs::remove_xattr(engine(), path_, "user.k")));
  auto gone = await_op(engine(), file_.get_xattr("user.k", buf, sizeof buf));
  EXPECT_EQ(gone.error(), errno_code(ENODATA));
}

// Where each op ran: the seam's trace logs a ring op's start on the owner thread
// (its SQE is prepared there) and a pool op's on the worker that runs it.
TEST_P(XattrTest, GetAndSetAreRingOpsWhereTheKernelHasThem) {
  const bool ring = GetParam() == Backend::IoUring && uring_supports(Op::GetXattr) && uring_supports(Op::SetXattr);
  if (GetParam() == Backend::IoUring && !ring) GTEST_SKIP() << "this kernel's io_uring lacks the xattr opcodes";
  char buf[16];
  sys::start_trace();
  ASSERT_TRUE(set("user.k", "v"));
  ASSERT_TRUE(get("user.k", buf, sizeof buf));
  ASSERT_TRUE(set_path(path_, "user.k", "w"));
  ASSERT_TRUE(get_path(path_, "user.k", buf, sizeof buf));
  ASSERT_TRUE(list(buf, sizeof buf));
  ASSERT_TRUE(remove("user.k"));
  sys::stop_trace();
  std::vector<std::pair<sys::Call, bool>> starts;  // (call, on this thread)
  for (const auto& e : sys::trace_log()) {
    if (e.phase == sys::Phase::start) starts.emplace_back(e.call, e.thread == std::this_thread::get_id());
  }
  const std::vector<std::pair<sys::Call, bool>> want = {
      {sys::Call::setxattr, ring},  {sys::Call::getxattr, ring},   {sys::Call::setxattr, ring},
      {sys::Call::getxattr, ring},  {sys::Call::listxattr, false}, {sys::Call::removexattr, false},
  };
  EXPECT_EQ(starts, want);
}

// A filesystem that refuses the op on the ring (EOPNOTSUPP) gets it from the pool.
TEST_P(XattrTest, ARefusalOnTheRingIsRunByThePool) {
  ASSERT_TRUE(set("user.k", "value"));
  const auto fallbacks = engine().stats().fallback_ops;
  sys::inject(fault(sys::Call::getxattr, 1, 1, -EOPNOTSUPP));
  char buf[16];
  auto n = get("user.k", buf, sizeof buf);
  sys::clear_faults();
  if (GetParam() == Backend::IoUring && uring_supports(Op::GetXattr)) {
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(std::string(buf, *n), "value");
    EXPECT_EQ(engine().stats().fallback_ops, fallbacks + 1);
  } else {
    // The pool's own call was the one refused: that is the answer.
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error(), errno_code(EOPNOTSUPP));
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, XattrTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
