#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "backend.hpp"
#include "free_list.hpp"
#include "ringfile/file.hpp"

namespace ringfile::detail {

struct FileState;

// File::read's reads on the ring that carry no Request: each holds what the ring
// needs (its TaggedRead) and what delivery needs (the callback and the file), so a
// read costs one SQE and one callback. Those in flight are on a list that
// cancel_file() walks. Entries never move while the engine lives.
class RingReads {
 public:
  struct Entry : TaggedRead {
    IoCallback callback;
    FileState* file = nullptr;
    std::uint64_t serial = 0;  // 0 when free: a stale OpHandle no longer matches
    bool cancelled = false;
    Entry* prev = nullptr;  // the in-flight list
    Entry* next = nullptr;  // the in-flight list, or the free list
  };

  // An entry on the in-flight list, holding `callback`; fill in its TaggedRead.
  Entry* start(FileState* file, IoCallback&& callback) {
    Entry* e = entries_.acquire();
    e->callback = std::move(callback);
    e->file = file;
    e->serial = next_serial_++;
    e->next = live_;
    if (live_) live_->prev = e;
    live_ = e;
    return e;
  }
  // Off the in-flight list: its result came back.
  void finish(Entry* e) noexcept {
    (e->prev ? e->prev->next : live_) = e->next;
    if (e->next) e->next->prev = e->prev;
    e->prev = e->next = nullptr;
  }
  // Back to the free list once its callback ran (or moved elsewhere).
  void recycle(Entry* e) noexcept {
    e->callback.reset();
    e->serial = 0;
    e->cancelled = false;
    entries_.release(e);
  }

  Entry* in_flight() const noexcept { return live_; }
  static Entry* entry_of(const TaggedRead* read) noexcept {
    return static_cast<Entry*>(const_cast<TaggedRead*>(read));
  }

 private:
  FreeList<Entry> entries_;
  Entry* live_ = nullptr;
  std::uint64_t next_serial_ = 1;
};

}  // namespace ringfile::detail
