// The engine's table of open files: FileState from open to the close's completion.

#include <algorithm>

#include <fcntl.h>

#include "core/engine_core.hpp"

namespace ringfile::detail {

namespace {

// The O_DIRECT alignment ops are checked against before they are queued.
std::size_t direct_alignment_of(int fd) {
  struct statx s {};
#ifdef STATX_DIOALIGN
  if (sys::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &s) == 0 && (s.stx_mask & STATX_DIOALIGN) &&
      s.stx_dio_offset_align > 0) {
    return std::max<std::size_t>(s.stx_dio_offset_align, s.stx_dio_mem_align);
  }
#endif
  if (sys::statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &s) == 0 && s.stx_blksize >= 512) {
    return s.stx_blksize;
  }
  return 4096;
}

}  // namespace

FileState* EngineCore::new_file(int fd, int open_flags) {
  auto* file = new FileState;
  file->core = this;
  file->fd = fd;
  file->open_flags = open_flags;
  file->stream_only = sys::seek_current(fd) == -ESPIPE;
  if (open_flags & O_DIRECT) file->direct_alignment = direct_alignment_of(fd);
  file->next = files_;
  if (files_) files_->prev = file;
  files_ = file;
  router_.file_opened(*file);
  return file;
}

void EngineCore::free_file(FileState* file) {
  (file->prev ? file->prev->next : files_) = file->next;
  if (file->next) file->next->prev = file->prev;
  delete file;
}

OpHandle EngineCore::close_file(FileState* file, Request* close_request) {
  file->closing = true;
  close_request->args = OpArgs::close(file->fd);
  close_request->file = file;
  OpHandle handle = accept(close_request);
  if (file->in_flight > 0) {
    close_request->where = Where::Parked;
    file->deferred_close = close_request;
  } else {
    start_close(file, close_request);
  }
  return handle;
}

void EngineCore::start_close(FileState* file, Request* close_request) {
  router_.file_closing(*file);
  close_request->args.fd = file->fd;
  if (!file->owns_fd) {
    finish_now(close_request, 0);  // a borrowed descriptor stays open for its owner
    return;
  }
  enqueue(close_request);
}

void EngineCore::start_deferred_close(FileState* file) {
  start_close(file, std::exchange(file->deferred_close, nullptr));
}

void EngineCore::drop_handle(FileState* file) {
  file->has_handle = false;
  if (file->fd < 0) {  // never opened, or its close has completed
    free_file(file);
    return;
  }
  if (file->closing) return;  // freed when the close completes
  close_file(file, pool_.acquire());
}

// File handles that outlive the engine own their descriptor from now on; the
// rest go now.
void EngineCore::detach_files() noexcept {
  while (FileState* f = files_) {
    files_ = f->next;
    if (f->has_handle) {
      f->core = nullptr;
      f->prev = f->next = nullptr;
      continue;
    }
    if (f->fd >= 0 && f->owns_fd) sys::close(f->fd);
    delete f;
  }
}

}  // namespace ringfile::detail
