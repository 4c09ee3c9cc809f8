#pragma once

// Drives the io_uring executor through the core's Router (which adds the pool
// beside the ring, refusals and fixed slots): the small part of the engine core
// these tests need (a request pool, a user-space queue that respects capacity(),
// and a reap loop).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include "core/router.hpp"
#include "exec/uring/probe.hpp"
#include "exec/uring/uring_backend.hpp"
#include "ops/request.hpp"
#include "sys/sys.hpp"
#include "test_support.hpp"

namespace ringfile::test {

// Why io_uring can't be used here, or empty when it can.
std::string uring_unavailable();

#define SKIP_WITHOUT_IO_URING()                                                 \
  do {                                                                          \
    if (auto why = ::ringfile::test::uring_unavailable(); !why.empty()) {        \
      GTEST_SKIP() << why;                                                      \
    }                                                                           \
  } while (0)

// Arms one fault in the syscall seam; every fault is cleared when it goes.
class ScopedFault {
 public:
  ScopedFault(detail::sys::Call call, int error, std::uint32_t times = 1, std::uint64_t nth = 1);
  ~ScopedFault() { detail::sys::clear_faults(); }
  ScopedFault(const ScopedFault&) = delete;
  ScopedFault& operator=(const ScopedFault&) = delete;
};

// Forces the set-up ladder to start at a rung for one scope.
class ScopedRung {
 public:
  explicit ScopedRung(detail::UringRung rung) { detail::uring_testing::first_rung = static_cast<int>(rung); }
  ~ScopedRung() { detail::uring_testing::first_rung = -1; }
  ScopedRung(const ScopedRung&) = delete;
  ScopedRung& operator=(const ScopedRung&) = delete;
};

// For TEST_P over the set-up ladder:
//   INSTANTIATE_TEST_SUITE_P(Rungs, Suite, every_rung(), rung_name);
inline auto every_rung() {
  return ::testing::Values(detail::UringRung::DeferTaskrun, detail::UringRung::CoopTaskrun,
                           detail::UringRung::Plain);
}
std::string rung_name(const ::testing::TestParamInfo<detail::UringRung>& info);

class Pipe {
 public:
  Pipe();
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }

 private:
  int fds_[2];
};

class Driver {
 public:
  explicit Driver(const EngineOptions& options = {});
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  detail::UringBackend& backend() { return *uring_; }
  detail::Router& router() { return *router_; }

  // A request for `op`; path ops start from AT_FDCWD, statx has its buffer.
  detail::Request* make(detail::Op op);
  void release(detail::Request* r) {
    done_.erase(r);
    pool_.release(r);
  }

  // Queues r (and the chain behind it); it goes to the backend when capacity allows.
  void submit(detail::Request* r);
  // Hands queued requests to the backend and flushes.
  void pump();
  // One round: pump, then reap with `timeout`. Returns how many completed.
  std::size_t step(std::chrono::nanoseconds timeout);
  bool is_done(detail::Request* r) const { return done_.count(r) != 0; }
  // Runs until r completed (fails the test after 10 s); returns r->res.
  std::int64_t wait_for(detail::Request* r);
  // Runs until nothing is queued or in flight.
  void drain();
  std::size_t in_flight() const { return in_flight_; }

  // Conveniences: submit one op and wait for it.
  std::int64_t read(int fd, void* buf, std::size_t len, std::int64_t off);
  std::int64_t write(int fd, const void* buf, std::size_t len, std::int64_t off);

 private:
  detail::UringBackend* uring_ = nullptr;
  std::unique_ptr<detail::Router> router_;
  detail::RequestPool pool_;
  detail::RequestQueue queued_;
  std::size_t in_flight_ = 0;
  std::unordered_set<detail::Request*> done_;
};

// Creates `path` holding `size` bytes of a known pattern; returns an O_RDWR fd.
int make_file(const std::string& path, std::size_t size);
char pattern_at(std::size_t offset);

}  // namespace ringfile::test
