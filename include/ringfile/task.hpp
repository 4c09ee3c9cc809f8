#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ringfile/engine.hpp"

namespace ringfile {

template <class T = void>
class Task;

namespace detail {

struct TaskFinalAwaiter {
  bool await_ready() const noexcept { return false; }
  // Symmetric transfer: the awaiting coroutine resumes without growing the stack,
  // so long chains of tasks that complete at once do not overflow it.
  template <class Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) const noexcept {
    if (auto next = done.promise().continuation) return next;
    return std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

class TaskPromiseBase {
 public:
  std::suspend_always initial_suspend() const noexcept { return {}; }
  TaskFinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  std::coroutine_handle<> continuation;

 protected:
  void rethrow_if_failed() const {
    if (exception_) std::rethrow_exception(exception_);
  }

 private:
  std::exception_ptr exception_;
};

template <class T>
class TaskPromise final : public TaskPromiseBase {
 public:
  Task<T> get_return_object() noexcept;

  template <class U = T, std::enable_if_t<std::is_constructible_v<T, U&&>, int> = 0>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }

  T take() {
    rethrow_if_failed();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class TaskPromise<void> final : public TaskPromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const { rethrow_if_failed(); }
};

struct TaskAccess;

}  // namespace detail

// A lazy coroutine: nothing runs until it is awaited (or driven by sync_wait),
// and then it runs on the thread that awaits it. With ringfile ops inside, that is
// the engine's owner thread, where every completion resumes it.
//
//   Task<Result<std::size_t>> copy_header(File& in, File& out) {
//     char buf[512];
//     auto n = co_await in.read(buf, sizeof buf, 0);
//     if (!n) co_return n.error();
//     co_return co_await out.write_all(buf, *n, 0);
//   }
//
// A Task is awaited at most once. Destroying a Task that has not finished destroys
// its frame; do that only while it is not waiting for an op.
template <class T>
class [[nodiscard]] Task {
 public:
  static_assert(!std::is_reference_v<T>, "Task<T&> is not supported; return a pointer");
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  Task() noexcept = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { destroy(); }

  bool valid() const noexcept { return static_cast<bool>(handle_); }
  bool done() const noexcept { return !handle_ || handle_.done(); }

  class Awaiter {
   public:
    explicit Awaiter(std::coroutine_handle<promise_type> task) noexcept : task_(task) {}
    bool await_ready() const noexcept { return !task_ || task_.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> waiter) noexcept {
      task_.promise().continuation = waiter;
      return task_;
    }
    T await_resume() {
      if (!task_) throw std::logic_error("ringfile::Task: co_await on an empty task");
      return task_.promise().take();
    }

   private:
    std::coroutine_handle<promise_type> task_;
  };

  Awaiter operator co_await() & noexcept { return Awaiter(handle_); }
  Awaiter operator co_await() && noexcept { return Awaiter(handle_); }

 private:
  friend class detail::TaskPromise<T>;
  friend struct detail::TaskAccess;
  explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  void destroy() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

  std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

struct TaskAccess {
  template <class T>
  static void start(Task<T>& task) {
    task.handle_.resume();
  }
  template <class T>
  static T take(Task<T>& task) {
    return task.handle_.promise().take();
  }
};

template <class T>
Task<void> sync_wait_body(Task<T> task, std::optional<T>& out) {
  out.emplace(co_await std::move(task));
}

inline Task<void> sync_wait_body(Task<void> task) { co_await std::move(task); }

inline void drive(Engine& engine, const Task<void>& body) {
  while (!body.done()) {
    auto r = engine.wait();
    if (!r) throw std::system_error(r.error(), "ringfile::sync_wait");
  }
}

}  // namespace detail

// Runs `task` to completion on the calling thread, which must own `engine`, by
// waiting on the engine until the task finishes; returns its value or rethrows its
// exception. Never call it from inside a task running on the same engine.
template <class T>
T sync_wait(Engine& engine, Task<T> task) {
  if constexpr (std::is_void_v<T>) {
    Task<void> body = detail::sync_wait_body(std::move(task));
    detail::TaskAccess::start(body);
    detail::drive(engine, body);
    detail::TaskAccess::take(body);
  } else {
    std::optional<T> out;
    Task<void> body = detail::sync_wait_body(std::move(task), out);
    detail::TaskAccess::start(body);
    detail::drive(engine, body);
    detail::TaskAccess::take(body);  // rethrows the task's exception
    return std::move(*out);
  }
}

namespace detail {

// Counts the children of a when_all still running, plus one for the parent until
// it has started them all; whoever brings it to zero resumes the parent.
struct WhenAllLatch {
  std::size_t count = 0;
  std::coroutine_handle<> parent;
};

class WhenAllChild {
 public:
  struct promise_type {
    WhenAllLatch* latch = nullptr;

    WhenAllChild get_return_object() noexcept {
      return WhenAllChild(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) const noexcept {
        WhenAllLatch* latch = self.promise().latch;
        if (--latch->count == 0) return latch->parent;
        return std::noop_coroutine();
      }
      void await_resume() const noexcept {}
    };
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }  // bodies catch everything
  };

  WhenAllChild(WhenAllChild&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  WhenAllChild& operator=(WhenAllChild&&) = delete;
  ~WhenAllChild() {
    if (handle_) handle_.destroy();
  }

  void start(WhenAllLatch& latch) {
    handle_.promise().latch = &latch;
    handle_.resume();
  }

 private:
  explicit WhenAllChild(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

template <class T>
using WhenAllValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
WhenAllChild when_all_child(Task<T>& task, std::optional<WhenAllValue<T>>& slot, std::exception_ptr& error) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await task;
      slot.emplace();
    } else {
      slot.emplace(co_await task);
    }
  } catch (...) {
    if (!error) error = std::current_exception();
  }
}

// Starts every child and suspends the parent until the last one finishes; does
// not suspend at all when they all finished while being started.
class WhenAllAwaiter {
 public:
  explicit WhenAllAwaiter(WhenAllChild* children, std::size_t n) noexcept : children_(children), n_(n) {}
  bool await_ready() const noexcept { return n_ == 0; }
  bool await_suspend(std::coroutine_handle<> parent) {
    latch_.count = n_ + 1;
    latch_.parent = parent;
    for (std::size_t i = 0; i < n_; ++i) children_[i].start(latch_);
    return --latch_.count != 0;
  }
  void await_resume() const noexcept {}

 private:
  WhenAllChild* children_;
  std::size_t n_;
  WhenAllLatch latch_;
};

template <class... Ts, std::size_t... I>
Task<std::tuple<WhenAllValue<Ts>...>> when_all_tuple(std::index_sequence<I...>, Task<Ts>... tasks) {
  std::tuple<std::optional<WhenAllValue<Ts>>...> slots;
  std::exception_ptr error;
  {
    WhenAllChild children[] = {when_all_child(tasks, std::get<I>(slots), error)...};
    co_await WhenAllAwaiter(children, sizeof...(Ts));
  }
  if (error) std::rethrow_exception(error);
  co_return std::tuple<WhenAllValue<Ts>...>(std::move(*std::get<I>(slots))...);
}

}  // namespace detail

// Runs the tasks concurrently (each until it waits for an op, then the next) and
// finishes when all have; its value holds theirs in order (std::monostate for
// Task<void>). If any threw, the first exception is rethrown after all finished.
template <class... Ts>
Task<std::tuple<detail::WhenAllValue<Ts>...>> when_all(Task<Ts>... tasks) {
  static_assert(sizeof...(Ts) > 0, "when_all() needs at least one task");
  return detail::when_all_tuple(std::index_sequence_for<Ts...>{}, std::move(tasks)...);
}

template <class T>
Task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> when_all(std::vector<Task<T>> tasks) {
  std::vector<std::optional<detail::WhenAllValue<T>>> slots(tasks.size());
  std::exception_ptr error;
  {
    std::vector<detail::WhenAllChild> children;
    children.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) children.push_back(detail::when_all_child(tasks[i], slots[i], error));
    co_await detail::WhenAllAwaiter(children.data(), children.size());
  }
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) {
    std::vector<T> out;
    out.reserve(slots.size());
    for (auto& s : slots) out.push_back(std::move(*s));
    co_return out;
  }
}

}  // namespace ringfile
