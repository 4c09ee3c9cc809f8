#include "ringfile/engine.hpp"

// The public facade and the choice of backend (Auto, the environment, fallback).

#include <cstdlib>
#include <string_view>

#include "core/engine_core.hpp"
#include "ringfile_config.h"

namespace ringfile {

const char* to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::Auto: return "auto";
    case Backend::IoUring: return "io_uring";
    case Backend::ThreadPool: return "threadpool";
  }
  return "?";
}

Engine::Engine(std::unique_ptr<detail::EngineCore> core) noexcept : core_(std::move(core)) {}
Engine::Engine(Engine&&) noexcept = default;

Engine& Engine::operator=(Engine&& other) noexcept {
  if (this != &other) {
    destroy_core();
    core_ = std::move(other.core_);
  }
  return *this;
}

Engine::~Engine() { destroy_core(); }

// Inside a callback the delivery loop still runs on the core: it is destroyed
// when the outermost poll()/wait()/run() returns.
void Engine::destroy_core() noexcept {
  if (core_ && core_->destroy_when_unwound()) (void)core_.release();
  core_.reset();
}

namespace {

// The run-time choice for Backend::Auto: RINGFILE_BACKEND, else the build default.
Result<Backend> resolve_auto() {
  if (const char* env = std::getenv("RINGFILE_BACKEND"); env && *env) {
    std::string_view v(env);
    if (v == "io_uring") return Backend::IoUring;
    if (v == "threadpool") return Backend::ThreadPool;
    if (v == "auto") return Backend::Auto;
    return errno_code(EINVAL);
  }
  std::string_view built(RINGFILE_DEFAULT_BACKEND);
  if (built == "threadpool") return Backend::ThreadPool;
  return Backend::Auto;
}

}  // namespace

Result<Engine> Engine::create(const EngineOptions& options) {
  Backend want = options.backend;
  if (want == Backend::Auto) {
    auto resolved = resolve_auto();
    if (!resolved) return resolved.error();
    want = *resolved;
  }
  std::unique_ptr<detail::Executor> backend;
  std::string reason;
  if (want != Backend::ThreadPool) {
#if RINGFILE_HAVE_IO_URING
    int err = 0;
    backend = detail::make_uring_backend(options, err, reason);
    if (!backend && options.backend == Backend::IoUring) return errno_code(err);
#else
    reason = "io_uring engine not built (meson -Dio_uring=disabled or liburing missing)";
    if (options.backend == Backend::IoUring) return errno_code(ENOTSUP);
#endif
  }
  try {
    if (!backend) backend = detail::make_threadpool_backend(options);
  } catch (const std::system_error& e) {
    return e.code();
  }
  return Engine(std::make_unique<detail::EngineCore>(std::move(backend), options, std::move(reason)));
}

namespace {

// A moved-from Engine has no core; every call on it fails with EBADF.
const std::error_code kNoEngine = errno_code(EBADF);

}  // namespace

Backend Engine::backend() const noexcept { return core_ ? core_->backend().kind() : Backend::Auto; }

const std::string& Engine::fallback_reason() const noexcept {
  static const std::string none;
  return core_ ? core_->fallback_reason() : none;
}

std::string Engine::describe() const {
  if (!core_) return "no engine (moved from)";
  std::string s = core_->backend().describe();
  if (!core_->fallback_reason().empty()) s += "; io_uring not used: " + core_->fallback_reason();
  return s;
}

EngineStats Engine::stats() const noexcept { return core_ ? core_->stats() : EngineStats{}; }

Result<void> Engine::submit() {
  if (!core_) return kNoEngine;
  return core_->flush();
}

Result<std::size_t> Engine::poll() {
  if (!core_) return kNoEngine;
  return core_->poll();
}

Result<std::size_t> Engine::wait(std::chrono::nanoseconds timeout) {
  if (!core_) return kNoEngine;
  return core_->wait(timeout);
}

Result<void> Engine::run() {
  if (!core_) return kNoEngine;
  return core_->run();
}

std::size_t Engine::pending() const noexcept { return core_ ? core_->pending() : 0; }
int Engine::event_fd() const noexcept { return core_ ? core_->watch_event_fd() : -1; }

void Engine::post(std::function<void()> fn) {
  if (core_) core_->post(std::move(fn));
}

Result<void> Engine::register_buffers(std::span<const iovec> buffers) {
  if (!core_) return kNoEngine;
  if (!core_->on_owner_thread()) return core_->misuse();
  auto registered = core_->backend().register_buffers(buffers);
  if (registered) core_->set_registered_buffers(buffers);
  return registered;
}

Result<void> Engine::unregister_buffers() {
  if (!core_) return kNoEngine;
  if (!core_->on_owner_thread()) return core_->misuse();
  core_->set_registered_buffers({});
  return core_->backend().unregister_buffers();
}

void Engine::cancel_all() {
  if (core_ && core_->on_owner_thread()) core_->cancel_all();
}

void Engine::cancel(OpHandle op) {
  if (core_) core_->cancel(op);
}

}  // namespace ringfile
