#include "api/completion.hpp"

#include <sys/sysmacros.h>

#include "api/file_access.hpp"
#include "core/engine_core.hpp"

namespace ringfile::detail {

FileStat to_file_stat(const struct statx& s) noexcept {
  FileStat out;
  out.size = s.stx_size;
  out.mode = s.stx_mode;
  out.nlink = s.stx_nlink;
  out.uid = s.stx_uid;
  out.gid = s.stx_gid;
  out.inode = s.stx_ino;
  out.device = makedev(s.stx_dev_major, s.stx_dev_minor);
  out.special_device = makedev(s.stx_rdev_major, s.stx_rdev_minor);
  out.block_size = s.stx_blksize;
  out.blocks = s.stx_blocks;
  out.atime = {static_cast<time_t>(s.stx_atime.tv_sec), static_cast<long>(s.stx_atime.tv_nsec)};
  out.mtime = {static_cast<time_t>(s.stx_mtime.tv_sec), static_cast<long>(s.stx_mtime.tv_nsec)};
  out.ctime = {static_cast<time_t>(s.stx_ctime.tv_sec), static_cast<long>(s.stx_ctime.tv_nsec)};
#ifdef STATX_DIOALIGN
  if (s.stx_mask & STATX_DIOALIGN) {
    out.dio_mem_align = s.stx_dio_mem_align;
    out.dio_offset_align = s.stx_dio_offset_align;
  }
#endif
  return out;
}

void set_completion(Request& r, StatCallback&& callback) {
  r.statx_buffer();
  if (!callback) return;
  r.completion.set([cb = std::move(callback), stx = r.args.statx_out](std::int64_t res) mutable {
    if (res < 0) cb(error_of(res));
    else cb(to_file_stat(*stx));
  });
}

void set_open_completion(Request& r, EngineCore& core, OpenCallback&& callback, int open_flags) {
  r.completion.set([cb = std::move(callback), core = &core, open_flags](std::int64_t res) mutable {
    if (res < 0) {
      if (cb) cb(error_of(res));
      return;
    }
    File opened = FileAccess::make(core->new_file(static_cast<int>(res), open_flags));
    if (cb) cb(std::move(opened));
  });
}

}  // namespace ringfile::detail
