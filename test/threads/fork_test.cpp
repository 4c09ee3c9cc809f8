// fork() in a process with a running engine, on both engines: the child finds
// its inherited engine refusing every call (EPERM) and can destroy it, without
// touching the parent's ring, workers or eventfds; the parent carries on, and
// its wait() still wakes. A child that makes its own engine can use it.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "test_support.hpp"

namespace ringfile::test {
namespace {

class ForkTest : public EngineTest {};

// What the child checks; the exit code names the first check that failed.
int child_checks(std::optional<Engine>& inherited, File& file, const std::string& path, EngineOptions options) {
  auto poll = inherited->poll();
  if (poll || poll.error() != std::errc::operation_not_permitted) return 10;
  auto wait = inherited->wait(std::chrono::milliseconds(10));
  if (wait || wait.error() != std::errc::operation_not_permitted) return 11;
  auto run = inherited->run();
  if (run || run.error() != std::errc::operation_not_permitted) return 12;
  std::optional<Result<std::size_t>> got;
  char buf[16];
  file.read(buf, sizeof buf, 0, [&](Result<std::size_t> r) { got.emplace(r); });
  if (!got) return 13;  // nothing can deliver it later in this process
  if (*got || got->error() != std::errc::operation_not_permitted) return 14;
  inherited->post([] { ::_exit(15); });  // must never run
  inherited.reset();
  // The child's own engine works.
  auto own = Engine::create(options);
  if (!own) return 16;
  auto mine = open_sync(*own, path, O_RDONLY);
  if (!mine) return 17;
  auto n = read_sync(*own, *mine, buf, sizeof buf, 0);
  if (!n || *n != sizeof buf) return 18;
  return 0;
}

// Waits for the child for up to 20 s; kills it (a hang) after that.
int reap(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 2000; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    ::usleep(10'000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

TEST_P(ForkTest, ChildFailsCleanlyAndParentKeepsWorking) {
  const std::string fifo = dir_.file("fifo"), data = dir_.file("data");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  write_plain(data, random_bytes(8192));
  auto stream = open_sync(engine(), fifo, O_RDWR);
  auto file = open_sync(engine(), data, O_RDONLY);
  ASSERT_TRUE(stream && file);

  // One op blocked in the backend across the fork, one completed and not yet
  // delivered when it happens.
  char blocked[5];
  std::optional<Result<std::size_t>> stream_read;
  stream->read(blocked, sizeof blocked, kStreamOffset, [&](Result<std::size_t> r) { stream_read.emplace(r); });
  char early[4096];
  std::optional<Result<std::size_t>> early_read;
  file->read(early, sizeof early, 0, [&](Result<std::size_t> r) { early_read.emplace(r); });
  ASSERT_TRUE(engine().submit());

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(10);  // a hang fails the test instead of hanging it
    ::_exit(child_checks(engine_, *file, data, options()));
  }
  EXPECT_EQ(reap(pid), 0) << "exit codes: see child_checks()";

  auto early_result = await(engine(), early_read);
  ASSERT_TRUE(early_result);
  EXPECT_EQ(*early_result, sizeof early);
  const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::write(writer, "hello", 5), 5);
  auto woke = await(engine(), stream_read);
  ::close(writer);
  ASSERT_TRUE(woke) << woke.error().message();
  EXPECT_EQ(std::string(blocked, *woke), "hello");
  EXPECT_TRUE(engine().run());
  EXPECT_EQ(engine().pending(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, ForkTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
