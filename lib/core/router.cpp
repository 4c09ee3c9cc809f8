#include "core/router.hpp"

#include <algorithm>
#include <new>
#include <system_error>
#include <thread>

#include <unistd.h>

#include "core/fifo_open.hpp"

namespace ringfile::detail {

namespace {

// The pool beside the ring runs what the ring can't and reads of uncached data. A
// fixed few workers, two per core: enough to keep readahead going, and never so
// many runnable threads that they crowd out the event loop on its own core (a pool
// grown to dozens did, by 10-20 ms).
unsigned pool_workers() { return std::clamp(2 * std::thread::hardware_concurrency(), 4u, 16u); }

}  // namespace

Router::Router(std::unique_ptr<Executor> primary) : primary_(std::move(primary)) {
  primary_is_pool_ = primary_->kind() == ringfile::Backend::ThreadPool;
  for (unsigned op = 0; op < static_cast<unsigned>(Op::count_); ++op) {
    if (primary_->supports(static_cast<Op>(op))) primary_ops_ |= op_bit(static_cast<Op>(op));
  }
  capacity_ = primary_->capacity();
  tagged_reads_ = !primary_is_pool_ && (primary_ops_ & op_bit(Op::Read)) && primary_->takes_tagged_reads();
  if (primary_->submits_as_creator()) creator_ = Credentials::current();
}

Router::~Router() {
  // The pool's workers signal through the primary: they go first.
  pool_.reset();
  primary_.reset();
}

bool Router::needs_pool(const Request& r) const noexcept {
  if (primary_is_pool_) return false;
  const std::uint32_t bit = op_bit(r.args.op);
  if (r.offload || !(primary_ops_ & bit)) return true;
  return r.file && (r.file->refused_ops & bit);
}

int Router::fixed_slot_of(const Request& r) noexcept {
  const FileState* f = r.file;
  return f && f->fixed_slot >= 0 && r.args.fd == f->fd ? f->fixed_slot : -1;
}

void Router::start(Request* head) {
  bool to_pool = false;
  for (Request* r = head; r; r = r->link_next) {
    to_pool = to_pool || needs_pool(*r);
    r->fixed_slot = fixed_slot_of(*r);
  }
  if (to_pool) {
    start_on_pool(head);
    return;
  }
  if (creator_.has_value() && refused_as_creator(head)) return;
  for (Request* r = head; r; r = r->link_next) r->route = Route::Primary;
  primary_->start(head);
}

// The primary's kernel thread would run `head` with the identity the engine was
// made with: once the process's own differs (a privilege dropped), EPERM.
bool Router::refused_as_creator(Request* head) {
  if (Credentials::current() == *creator_) return false;
  for (Request* r = head; r; r = r->link_next) {
    r->route = Route::Primary;
    r->res = -EPERM;
    failed_.push_back(r);
  }
  return true;
}

Executor* Router::pool() {
  if (pool_) return pool_.get();
  EngineOptions options;
  options.backend = ringfile::Backend::ThreadPool;
  options.workers = pool_workers();
  options.spin_us = 0;  // rare work: no core spent waiting for it
  pool_ = make_threadpool_backend(options, primary_.get());
  return pool_.get();
}

void Router::start_on_pool(Request* head) {
  int err = 0;
  try {
    pool();
  } catch (const std::system_error& e) {
    err = e.code().value();
  } catch (const std::bad_alloc&) {
    err = ENOMEM;
  }
  for (Request* r = head; r; r = r->link_next) {
    r->route = Route::Pool;
    if (err) {
      r->res = -err;
        failed_.push_back(r);
      continue;
    }
    if (r->args.op != Op::Call && !r->offload) ++fallbacks_;
    ++on_pool_;
  }
  if (err) return;
  pool_->start(head);
  pool_unflushed_ = true;
}

void Router::flush() {
  primary_->flush();
  flush_pool();
}

void Router::flush_pool() {
  if (!pool_unflushed_) return;
  pool_unflushed_ = false;
  pool_->flush();
}

// A refusal from the ring: the op goes to the pool, and the file remembers the op
// kind. After an EINVAL (which may be real) it remembers only if the pool then
// succeeds. A chain member is not re-run alone, as the kernel cancelled the rest
// of its chain; its file remembers, so its next chain goes to the pool whole.
bool Router::rerouted(Request* r) {
  if (r->res >= 0 || primary_is_pool_ || r->route != Route::Primary || r->cancelled.load(std::memory_order_relaxed) ||
      !is_refusal(r->args.op, r->res)) {
    return false;
  }
  FileState* file = r->file;
  if (file) note_refusal(*file, r->args.op, r->res);
  if (r->link_next || r->link_tail) return false;
  r->on_probation = file && r->res == -EINVAL;
  start_on_pool(r);
  return true;
}

void Router::take_primary(RequestQueue& from, RequestQueue& done) {
  while (Request* r = from.pop_front()) {
    if (!primary_is_pool_ && open_waits_for_partner(*r)) {
      start_on_pool(r);
      continue;
    }
    if (!rerouted(r)) done.push_back(r);
  }
  flush_pool();  // re-routed requests go to the pool now, before this thread blocks
}

void Router::take_pool(RequestQueue& done) {
  done.append(failed_);
  if (on_pool_ == 0) return;
  RequestQueue got;
  pool_->reap(got, std::chrono::nanoseconds::zero());
  while (Request* r = got.pop_front()) {
    --on_pool_;
    if (r->on_probation && r->res >= 0) r->file->refused_ops |= op_bit(r->args.op);
    r->on_probation = false;
    done.push_back(r);
  }
}

void Router::reap(RequestQueue& done, std::chrono::nanoseconds timeout) {
  flush_pool();  // the primary's reap submits what it holds; the pool's work must go too
  const std::size_t before = done.size();
  take_pool(done);
  RequestQueue from_primary;
  // The pool wakes the primary when it completes something, so one wait covers both.
  primary_->reap(from_primary, done.size() > before ? std::chrono::nanoseconds::zero() : timeout);
  take_primary(from_primary, done);
  take_pool(done);
}

void Router::cancel(Request* request) {
  if (request->route == Route::Pool) {
    if (pool_) pool_->cancel(request);
    return;
  }
  primary_->cancel(request);
}

void Router::file_opened(FileState& file) {
  if (file.fd >= 0) file.fixed_slot = primary_->register_file(file.fd);
}

void Router::file_closing(FileState& file) {
  if (file.fixed_slot < 0) return;
  primary_->unregister_file(file.fixed_slot);
  file.fixed_slot = -1;
}

void Router::add_stats(EngineStats& stats) const noexcept {
  primary_->add_stats(stats);
  stats.fallback_ops += fallbacks_;
}

}  // namespace ringfile::detail
