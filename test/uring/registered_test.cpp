// Registered buffers and fixed files: the opt-in fast path, and its failures
// (ENOMEM over RLIMIT_MEMLOCK) as results that leave plain I/O working.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/file_state.hpp"
#include "uring_driver.hpp"

namespace ringfile::test {
namespace {

using detail::FileState;
using detail::Op;
using detail::Request;
using detail::sys::Call;

std::int64_t run_fixed(Driver& d, Op op, int fd, void* buf, std::size_t len, std::int64_t off, unsigned index) {
  Request* r = d.make(op);
  r->args.fd = fd;
  r->args.buf = buf;
  r->args.len = len;
  r->args.offset = off;
  r->args.buf_index = index;
  d.submit(r);
  std::int64_t res = d.wait_for(r);
  d.release(r);
  return res;
}

std::int64_t read_via(Driver& d, FileState& file, void* buf, std::size_t len, std::int64_t off) {
  Request* r = d.make(Op::Read);
  r->file = &file;
  r->args.fd = file.fd;
  r->args.buf = buf;
  r->args.len = len;
  r->args.offset = off;
  d.submit(r);
  std::int64_t res = d.wait_for(r);
  d.release(r);
  return res;
}

bool matches_pattern(const char* buf, std::size_t len, std::size_t off) {
  for (std::size_t i = 0; i < len; ++i) {
    if (buf[i] != pattern_at(off + i)) return false;
  }
  return true;
}

TEST(UringRegisteredBuffers, FixedWriteAndReadRoundTrip) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  int fd = make_file(dir.file("f"), 65536);
  Driver d;
  auto& b = d.backend();
  std::vector<char> out(16384), in(16384);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 13 + 1);
  const iovec iov[2] = {{out.data(), out.size()}, {in.data(), in.size()}};
  ASSERT_TRUE(b.register_buffers(iov));

  EXPECT_EQ(run_fixed(d, Op::WriteFixed, fd, out.data(), out.size(), 8192, 0), 16384);
  EXPECT_EQ(run_fixed(d, Op::ReadFixed, fd, in.data(), in.size(), 8192, 1), 16384);
  EXPECT_EQ(in, out);
  // A buffer outside the registered range is refused by the kernel, not a crash.
  char stray[64];
  EXPECT_EQ(run_fixed(d, Op::ReadFixed, fd, stray, sizeof stray, 0, 0), -EFAULT);

  // Registering again replaces the set; unregistering twice is harmless.
  ASSERT_TRUE(b.register_buffers(std::span<const iovec>(iov, 1)));
  EXPECT_TRUE(b.unregister_buffers());
  EXPECT_TRUE(b.unregister_buffers());
  ::close(fd);
}

TEST(UringRegisteredBuffers, RegistrationFailureIsAResult) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  int fd = make_file(dir.file("f"), 8192);
  Driver d;
  auto& b = d.backend();
  std::vector<char> buf(4096);
  const iovec iov{buf.data(), buf.size()};
  {
    ScopedFault refuse(Call::uring_register, -ENOMEM);
    auto r = b.register_buffers(std::span<const iovec>(&iov, 1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::not_enough_memory);
  }
  EXPECT_EQ(d.read(fd, buf.data(), 4096, 4096), 4096);
  EXPECT_TRUE(matches_pattern(buf.data(), 4096, 4096));
  EXPECT_TRUE(b.register_buffers(std::span<const iovec>(&iov, 1)));
  ::close(fd);
}

// Registered memory is pinned and counts against RLIMIT_MEMLOCK, unless the process
// holds CAP_IPC_LOCK. A child drops the capability, lowers the limit, and checks
// that going over it is ENOMEM and that unregistered reads still work.
enum ChildExit { kOk = 0, kSetupFailed = 10, kRegistered, kWrongError, kReadFailed, kNoSkipCap };

int memlock_child(const std::string& path) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2]{};
  if (::syscall(SYS_capget, &hdr, caps) != 0) return kNoSkipCap;
  caps[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
  if (::syscall(SYS_capset, &hdr, caps) != 0) return kNoSkipCap;
  rlimit lim{};
  ::getrlimit(RLIMIT_MEMLOCK, &lim);
  lim.rlim_cur = 1 << 20;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < lim.rlim_cur) lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_MEMLOCK, &lim) != 0) return kNoSkipCap;

  int err = 0;
  std::string reason;
  auto b = detail::UringBackend::create(EngineOptions{}, err, reason);
  if (!b) return kSetupFailed;
  std::vector<char> big(16u << 20, 1);
  const iovec iov{big.data(), big.size()};
  auto r = b->register_buffers(std::span<const iovec>(&iov, 1));
  if (r) return kRegistered;
  if (r.error() != std::errc::not_enough_memory) return kWrongError;
  b.reset();

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  Driver d;
  char buf[4096];
  if (d.read(fd, buf, sizeof buf, 0) != 4096 || !matches_pattern(buf, sizeof buf, 0)) return kReadFailed;
  return kOk;
}

TEST(UringRegisteredBuffers, OverMemlockIsEnomemAndPlainReadsStillWork) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  ::close(make_file(dir.file("f"), 8192));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(memlock_child(dir.file("f")));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with status " << status;
  switch (WEXITSTATUS(status)) {
    case kOk: break;
    case kNoSkipCap: GTEST_SKIP() << "could not drop CAP_IPC_LOCK or lower RLIMIT_MEMLOCK here";
    case kSetupFailed: FAIL() << "io_uring set-up failed under a 1 MiB memlock limit"; break;
    case kRegistered: FAIL() << "16 MiB registered over a 1 MiB RLIMIT_MEMLOCK"; break;
    case kWrongError: FAIL() << "registration over RLIMIT_MEMLOCK failed, but not with ENOMEM"; break;
    case kReadFailed: FAIL() << "a plain read failed after the refused registration"; break;
    default: FAIL() << "child exited with " << WEXITSTATUS(status); break;
  }
}

TEST(UringFixedFiles, OpenedFilesTakeSlotsAndOpsUseThem) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  EngineOptions options;
  options.fixed_file_slots = 2;
  Driver d(options);
  auto& b = d.backend();
  ASSERT_TRUE(b.fixed_files());
  EXPECT_NE(b.describe().find("fixed files: 2"), std::string::npos) << b.describe();

  FileState files[3];
  for (int i = 0; i < 3; ++i) {
    files[i].fd = make_file(dir.file("f" + std::to_string(i)), 8192);
    d.router().file_opened(files[i]);
  }
  EXPECT_EQ(files[0].fixed_slot, 0);
  EXPECT_EQ(files[1].fixed_slot, 1);
  EXPECT_EQ(files[2].fixed_slot, -1);  // table full: plain descriptor

  char buf[4096];
  for (auto& f : files) {
    EXPECT_EQ(read_via(d, f, buf, sizeof buf, 4096), 4096);
    EXPECT_TRUE(matches_pattern(buf, sizeof buf, 4096));
  }

  // The op really goes through the slot: the table keeps the file open after the
  // descriptor number is gone.
  const int fd0 = files[0].fd;
  const int spare = ::dup(fd0);
  ::close(fd0);
  EXPECT_EQ(read_via(d, files[0], buf, sizeof buf, 0), 4096);
  EXPECT_TRUE(matches_pattern(buf, sizeof buf, 0));

  // Closing frees the slot for the next file.
  d.router().file_closing(files[0]);
  EXPECT_EQ(files[0].fixed_slot, -1);
  files[0].fd = spare;
  d.router().file_closing(files[2]);  // never had a slot: nothing to do
  d.router().file_opened(files[2]);
  EXPECT_EQ(files[2].fixed_slot, 0);
  EXPECT_EQ(read_via(d, files[2], buf, sizeof buf, 0), 4096);
  for (auto& f : files) {
    d.router().file_closing(f);
    ::close(f.fd);
  }
}

TEST(UringFixedFiles, RefusedTableMeansPlainDescriptors) {
  SKIP_WITHOUT_IO_URING();
  TempDir dir;
  EngineOptions options;
  options.fixed_file_slots = 4;
  FileState f;
  f.fd = make_file(dir.file("f"), 8192);
  {
    ScopedFault refuse(Call::uring_register, -ENOMEM);
    Driver d(options);
    EXPECT_FALSE(d.backend().fixed_files());
    EXPECT_EQ(d.backend().describe().find("fixed files"), std::string::npos);
  }
  Driver d(options);
  ASSERT_TRUE(d.backend().fixed_files());
  {
    ScopedFault refuse(Call::uring_register, -EBADF);
    d.router().file_opened(f);
  }
  EXPECT_EQ(f.fixed_slot, -1);
  char buf[4096];
  EXPECT_EQ(read_via(d, f, buf, sizeof buf, 0), 4096);
  EXPECT_TRUE(matches_pattern(buf, sizeof buf, 0));
  ::close(f.fd);
}

}  // namespace
}  // namespace ringfile::test
