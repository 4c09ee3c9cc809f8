#include "uring_driver.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace ringfile::test {

std::string uring_unavailable() {
  auto probe = detail::probe_kernel();
  if (!probe) return "io_uring unavailable here: io_uring_setup: " + probe.error().message();
  if (!probe->supports(detail::Op::Read)) return "this kernel's io_uring has no IORING_OP_READ";
  return {};
}

std::string rung_name(const ::testing::TestParamInfo<detail::UringRung>& info) {
  switch (info.param) {
    case detail::UringRung::DeferTaskrun: return "DeferTaskrun";
    case detail::UringRung::CoopTaskrun: return "CoopTaskrun";
    case detail::UringRung::Plain: return "Plain";
  }
  return "Unknown";
}

Pipe::Pipe() {
  if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::system_error(errno, std::system_category(), "pipe2");
}

Pipe::~Pipe() {
  ::close(fds_[0]);
  ::close(fds_[1]);
}

ScopedFault::ScopedFault(detail::sys::Call call, int error, std::uint32_t times, std::uint64_t nth) {
  detail::sys::Fault f;
  f.call = call;
  f.nth = nth;
  f.times = times;
  f.error = error;
  detail::sys::inject(f);
}

Driver::Driver(const EngineOptions& options) {
  int err = 0;
  std::string reason;
  auto uring = detail::UringBackend::create(options, err, reason);
  if (!uring) throw std::system_error(err, std::system_category(), reason);
  uring_ = uring.get();
  router_ = std::make_unique<detail::Router>(std::move(uring));
}

Driver::~Driver() {
  // Like the core: nothing may be left in the backend when it goes.
  if (in_flight_ > 0 || !queued_.empty()) drain();
  router_.reset();
}

detail::Request* Driver::make(detail::Op op) {
  using detail::Op;
  using detail::OpArgs;
  detail::Request* r = pool_.acquire();
  switch (op) {
    case Op::Open: r->args = OpArgs::open(0, 0); break;
    case Op::Statx:
      r->args = OpArgs::statx(OpArgs::kCwd, 0, 0);
      r->statx_buffer();
      break;
    case Op::Rename: r->args = OpArgs::rename(0); break;
    case Op::Unlink: r->args = OpArgs::unlink(0); break;
    case Op::Mkdir: r->args = OpArgs::mkdir(0); break;
    case Op::Symlink: r->args = OpArgs::symlink(); break;
    case Op::Link: r->args = OpArgs::link(0); break;
    default: r->args.op = op; break;
  }
  return r;
}

void Driver::submit(detail::Request* r) { queued_.push_back(r); }

void Driver::pump() {
  auto length = [](const detail::Request* head) {
    std::size_t n = 0;
    for (; head; head = head->link_next) ++n;
    return n;
  };
  while (!queued_.empty() && in_flight_ + length(queued_.front()) <= router_->capacity()) {
    in_flight_ += length(queued_.front());
    router_->start(queued_.pop_front());
  }
  router_->flush();
}

std::size_t Driver::step(std::chrono::nanoseconds timeout) {
  pump();
  detail::RequestQueue done;
  router_->reap(done, timeout);
  std::size_t n = 0;
  while (detail::Request* r = done.pop_front()) {
    r->res = detail::cancel_rule(*r, r->res);  // as the core does
    EXPECT_TRUE(done_.insert(r).second) << "a request completed twice";
    --in_flight_;
    ++n;
  }
  return n;
}

std::int64_t Driver::wait_for(detail::Request* r) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!is_done(r)) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "timed out waiting for a completion";
      std::abort();
    }
    step(std::chrono::milliseconds(100));
  }
  return r->res;
}

void Driver::drain() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (in_flight_ > 0 || !queued_.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "timed out draining " << in_flight_ << " requests";
      std::abort();
    }
    step(std::chrono::milliseconds(100));
  }
}

std::int64_t Driver::read(int fd, void* buf, std::size_t len, std::int64_t off) {
  detail::Request* r = make(detail::Op::Read);
  r->args.fd = fd;
  r->args.buf = buf;
  r->args.len = len;
  r->args.offset = off;
  submit(r);
  std::int64_t res = wait_for(r);
  release(r);
  return res;
}

std::int64_t Driver::write(int fd, const void* buf, std::size_t len, std::int64_t off) {
  detail::Request* r = make(detail::Op::Write);
  r->args.fd = fd;
  r->args.buf = const_cast<void*>(buf);
  r->args.len = len;
  r->args.offset = off;
  submit(r);
  std::int64_t res = wait_for(r);
  release(r);
  return res;
}

char pattern_at(std::size_t offset) { return static_cast<char>('a' + (offset * 7 + offset / 4096) % 26); }

int make_file(const std::string& path, std::size_t size) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "open " + path);
  std::vector<char> data(size);
  for (std::size_t i = 0; i < size; ++i) data[i] = pattern_at(i);
  std::size_t put = 0;
  while (put < size) {
    ssize_t n = ::pwrite(fd, data.data() + put, size - put, static_cast<off_t>(put));
    if (n <= 0) throw std::system_error(errno, std::system_category(), "pwrite " + path);
    put += static_cast<std::size_t>(n);
  }
  return fd;
}

}  // namespace ringfile::test
