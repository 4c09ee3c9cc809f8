// File::read's reads on the ring without a Request (ring_reads.hpp): started,
// delivered, cancelled, and handed to the request path when the engine's rules
// for a result (retry, re-route) need one.

#include <new>

#include "core/engine_core.hpp"
#include "ops/io_delivery.hpp"

namespace ringfile::detail {

namespace {

// The completion of a request that carries a ring read on: the read's callback,
// then its entry back to the free list (its handle forwarded cancel() so far).
struct ForwardedRead {
  IoDelivery delivery;
  RingReads& reads;
  RingReads::Entry* entry;
  void operator()(std::int64_t res) {
    RecycleAtExit<RingReads, RingReads::Entry> recycle{reads, entry};
    delivery(res);
  }
};

// Results the request path knows what to do with: EINTR and EAGAIN are retried,
// a refusal re-routes the read to the pool.
bool needs_request_path(std::int64_t res) noexcept {
  return res == -EINTR || res == -EAGAIN || is_refusal(Op::Read, res);
}

}  // namespace

// A positional read of a page-cache file the ring can take now, which the request
// path would only pass through: nothing queued ahead of it, room in the ring, no
// deadline, not an exact read (its short count needs continuing), and no residency
// check due for it.
OpHandle EngineCore::read_on_ring(FileState* file, void* buf, std::size_t len, std::int64_t offset,
                                  IoCallback& callback) {
  if (!queued_.empty() || in_backend_ >= router_.capacity() || !router_.ring_takes_read(*file) || offset < 0) {
    return {};
  }
  RingReads::Entry* e = ring_reads_.start(file, std::move(callback));
  e->buf = buf;
  e->len = len;
  e->offset = offset;
  e->fd = file->fd;
  e->fixed_slot = file->fixed_slot;
  ++stats_.ring_reads_without_request;
  accepted(*file);
  ++in_backend_;
  router_.primary().start_tagged_read(*e);
  unflushed_ = true;
  return OpHandle(tagged_handle(e), e->serial);
}

void EngineCore::reap_executors(RequestQueue& done, std::chrono::nanoseconds timeout) {
  router_.reap(done, timeout);
  router_.primary().take_tagged_results(ring_results_);
}

// Like deliver(): a callback that throws leaves the rest for the next call, and
// reads the callbacks start complete in a later reap.
std::size_t EngineCore::deliver_ring_reads() {
  std::size_t delivered = 0;
  while (ring_results_next_ < ring_results_.size() && !destroy_requested_) {
    const TaggedResult result = ring_results_[ring_results_next_++];
    RingReads::Entry* e = RingReads::entry_of(result.read);
    --in_backend_;
    std::int64_t res = result.res;
    if (res == -EINTR && e->cancelled) res = -ECANCELED;
    if (needs_request_path(res) && !e->cancelled && !shutting_down_) [[unlikely]] {
      if (ring_read_to_request(e, res)) continue;
    }
    ++delivered;
    deliver_op(*e->file, ring_reads_, e, [e, res] {
      if (e->callback) deliver_io(e->callback, res);
    });
  }
  if (ring_results_next_ == ring_results_.size()) {
    ring_results_.clear();
    ring_results_next_ = 0;
  }
  return delivered;
}

// The read goes on as a request, still counted as pending and in flight on its
// file: retried after EINTR/EAGAIN, or run by the pool after a refusal. Without
// memory for a request, `res` is its result after all.
bool EngineCore::ring_read_to_request(RingReads::Entry* e, std::int64_t res) {
  Router::note_refusal(*e->file, Op::Read, res);
  Request* r;
  try {
    r = make_request(OpArgs::read(e->fd, e->buf, e->len, e->offset));
  } catch (const std::bad_alloc&) {
    return false;
  }
  r->completion.emplace<ForwardedRead>(ForwardedRead{{std::move(e->callback)}, ring_reads_, e});
  r->file = e->file;
  if (res == -EINTR || res == -EAGAIN) {
    r->retries = 1;
    ++stats_.retries;
  }
  e->request = handle_of(r);
  enqueue(r);
  return true;
}

// Only while the kernel holds the read: once its result is taken there is nothing
// to cancel, and the cancel's own CQE would take a slot the CQ was not sized for.
void EngineCore::cancel_ring_read(RingReads::Entry* e, std::uint64_t serial) {
  if (e->serial != serial) return;
  if (e->request) {
    cancel(e->request);
    return;
  }
  if (e->cancelled || e->reaped) return;
  e->cancelled = true;
  router_.primary().cancel_tagged_read(*e);
  unflushed_ = true;  // a cancel SQE waits to be submitted
}

void EngineCore::cancel_ring_reads(FileState* file) {
  // Reads carried on as requests are among the requests cancel_matching() walks.
  ring_reads_.for_each_started([this, file](RingReads::Entry& e) {
    if ((!file || e.file == file) && !e.request) cancel_ring_read(&e, e.serial);
  });
}

}  // namespace ringfile::detail
