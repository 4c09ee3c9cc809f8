#pragma once

#include <coroutine>
#include <optional>
#include <type_traits>
#include <utility>

#include "ringfile/result.hpp"

namespace ringfile::detail {

// What `co_await file.read(...)` and the other callback-less overloads return.
// The op starts when the coroutine suspends; its callback captures only a pointer
// to this awaiter, which lives in the coroutine frame, stores the result here and
// resumes the coroutine: no allocation per op. An op that completes while it is
// being started (a File with no engine fails at once) does not suspend at all.
//
// Meant to be awaited at once, in the full-expression that made it: string_view
// arguments are read when the op starts.
template <class T, class Start>
class [[nodiscard]] OpAwaitable {
 public:
  explicit OpAwaitable(Start start) noexcept(std::is_nothrow_move_constructible_v<Start>)
      : start_(std::move(start)) {}
  // Pinned: the running op points at it.
  OpAwaitable(const OpAwaitable&) = delete;
  OpAwaitable& operator=(const OpAwaitable&) = delete;

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> waiter) {
    waiter_ = waiter;
    starting_ = true;
    start_([this](Result<T> r) { finish(std::move(r)); });
    starting_ = false;
    return !result_.has_value();
  }

  Result<T> await_resume() { return std::move(*result_); }

 private:
  void finish(Result<T>&& r) {
    result_.emplace(std::move(r));
    if (!starting_) waiter_.resume();
  }

  Start start_;
  std::optional<Result<T>> result_;
  std::coroutine_handle<> waiter_;
  bool starting_ = false;
};

// `start` is called with a callback taking Result<T> and begins the op.
template <class T, class Start>
OpAwaitable<T, Start> make_awaitable(Start start) {
  return OpAwaitable<T, Start>(std::move(start));
}

}  // namespace ringfile::detail
