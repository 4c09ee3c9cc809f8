#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/free_list.hpp"
#include "exec/executor.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

struct FileState;

// File::read's reads on the ring that carry no Request: each holds what the ring
// needs (its TaggedRead) and what delivery needs (the callback and the file), so a
// read costs one SQE and one callback. Entries never move while the engine lives.
class RingReads {
 public:
  struct Entry : TaggedRead {
    IoCallback callback;
    FileState* file = nullptr;
    std::uint64_t serial = 0;  // 0 when free: a stale OpHandle no longer matches
    bool cancelled = false;
    // A read the core carried on as a request (a retry, or a re-route to the pool):
    // its handle names this entry, which forwards cancel() to the request.
    OpHandle request;
    Entry* next = nullptr;  // the free list
  };

  // An entry holding `callback`; fill in its TaggedRead.
  Entry* start(FileState* file, IoCallback&& callback) {
    Entry* e = entries_.acquire();
    e->callback = std::move(callback);
    e->file = file;
    e->serial = next_serial_++;
    return e;
  }
  // Back to the free list once its callback ran (or moved elsewhere).
  void recycle(Entry* e) noexcept {
    e->callback.reset();
    e->serial = 0;
    e->cancelled = false;
    e->request = {};
    entries_.release(e);
  }
  // Visits each entry started and not yet recycled (cancel_file() and the like:
  // rare, so no list is kept for them).
  template <class F>
  void for_each_started(F&& f) {
    entries_.for_each([&f](Entry& e) {
      if (e.serial != 0) f(e);
    });
  }

  static Entry* entry_of(const TaggedRead* read) noexcept {
    return static_cast<Entry*>(const_cast<TaggedRead*>(read));
  }

 private:
  FreeList<Entry> entries_;
  std::uint64_t next_serial_ = 1;
};

}  // namespace ringfile::detail
