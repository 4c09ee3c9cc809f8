#pragma once

// Waits for one callback-style op: `call<FileStat>(engine, [&](auto cb) { fs::stat(engine, p, std::move(cb)); })`.

#include <chrono>
#include <optional>
#include <utility>

#include "sys/sys.hpp"
#include "test_support.hpp"

namespace ringfile::test {

template <class T, class Start>
Result<T> call(Engine& engine, Start&& start) {
  std::optional<Result<T>> done;
  start([&done](Result<T> r) { done.emplace(std::move(r)); });
  return await(engine, done);
}

// Runs the engine until `done` holds a value or `limit` has passed; whether it
// holds one. For ops that must end by themselves (a deadline) where waiting on
// would hang: the test then unblocks the op and awaits it.
template <class T>
bool await_for(Engine& engine, std::optional<T>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    auto r = engine.wait(std::chrono::milliseconds(10));
    if (!r) ADD_FAILURE() << "wait: " << r.error().message();
  }
  return done.has_value();
}

// A fault for the syscall seam: `times` calls from the nth on fail with `error`
// (negative errno), or move at most `short_count` bytes.
inline detail::sys::Fault fault(detail::sys::Call call, std::uint64_t nth, std::uint32_t times, int error,
                                std::optional<std::size_t> short_count = std::nullopt) {
  detail::sys::Fault f{call, nth, times, error, short_count};
  return f;
}

// Arms the seam with no fault, so it counts calls from zero.
inline void count_syscalls() {
  detail::sys::clear_faults();
  detail::sys::count_calls();
}

// An EngineTest whose syscall seam starts and ends with no fault or trace armed.
class SeamTest : public EngineTest {
 protected:
  void SetUp() override {
    detail::sys::clear_faults();
    EngineTest::SetUp();
  }
  void TearDown() override {
    detail::sys::stop_trace();
    detail::sys::clear_faults();
  }
};

// Runs an awaitable to completion from a one-off task.
template <class Awaitable>
auto await_op(Engine& engine, Awaitable&& awaitable) {
  using R = decltype(awaitable.await_resume());
  auto body = [](Awaitable& a) -> Task<R> { co_return co_await a; };
  return sync_wait(engine, body(awaitable));
}

}  // namespace ringfile::test
