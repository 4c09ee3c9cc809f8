// The thread pool interrupts a cancelled op blocked on a worker with a real-time
// signal. An application that already handles SIGRTMIN+3 (the first one the
// pool would take) keeps its handler, which never runs for the pool, and
// cancellation still works. A binary of its own: the pool picks its signal once
// per process, and here the application's handler is there before any engine.

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

std::atomic<int> application_handler_calls{0};
void application_handler(int) { application_handler_calls.fetch_add(1); }

const bool application_handler_installed = [] {
  struct sigaction sa {};
  sa.sa_handler = application_handler;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGRTMIN + 3, &sa, nullptr) == 0;
}();

class CancelSignal : public EngineTest {};

TEST_P(CancelSignal, ApplicationHandlerIsKeptAndCancelStillWorks) {
  ASSERT_TRUE(application_handler_installed);
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto file = open_sync(engine(), fifo, O_RDWR);
  ASSERT_TRUE(file);
  for (int i = 0; i < 3; ++i) {
    char buf[8];
    std::optional<Result<std::size_t>> got;
    OpHandle op = file->read(buf, sizeof buf, kStreamOffset, [&](Result<std::size_t> r) { got.emplace(r); });
    ASSERT_TRUE(engine().submit());
    (void)engine().wait(std::chrono::milliseconds(20));  // let it block in read()
    ASSERT_FALSE(got.has_value()) << "nothing was written: the read must still be blocked";
    engine().cancel(op);
    auto r = await(engine(), got);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::operation_canceled);
  }
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGRTMIN + 3, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, &application_handler) << "the application's handler was replaced";
  EXPECT_EQ(application_handler_calls.load(), 0) << "the pool's signal reached the application's handler";
}

INSTANTIATE_TEST_SUITE_P(Engines, CancelSignal, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
