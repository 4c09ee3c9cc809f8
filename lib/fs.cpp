#include "ringfile/fs.hpp"

#include <cassert>
#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include "engine_core.hpp"
#include "fs_ops.hpp"

namespace ringfile::fs {

using detail::EngineCore;
using detail::Op;
using detail::RawCallback;
using detail::Request;

static_assert(static_cast<unsigned>(RenameFlags::NoReplace) == RENAME_NOREPLACE);
static_assert(static_cast<unsigned>(RenameFlags::Exchange) == RENAME_EXCHANGE);

namespace {

constexpr unsigned kStatMask = STATX_BASIC_STATS | STATX_BTIME
#ifdef STATX_DIOALIGN
                               | STATX_DIOALIGN
#endif
    ;

int check_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return EINVAL;
  if (path.size() >= PATH_MAX) return ENAMETOOLONG;
  return 0;
}

int check_paths(std::string_view a, std::string_view b) {
  if (int err = check_path(a)) return err;
  return check_path(b);
}

// Front half of every path op: right thread, request built, callback attached;
// `fill` validates and copies the arguments, returning an errno to fail with.
template <class Callback, class Fill>
OpHandle path_op(EngineCore& core, Op op, Callback&& callback, Fill&& fill) {
  // A RawCallback cannot take the EPERM error code: its caller checks the thread.
  if constexpr (!std::is_same_v<std::decay_t<Callback>, RawCallback>) {
    if (!core.on_owner_thread()) return core.reject_foreign(std::move(callback));
  }
  Request* r = core.make_request(op);
  r->callback = std::move(callback);
  if (int err = fill(*r)) return core.fail(r, err);
  return core.submit(r);
}

// An op with no opcode of its own runs as an Op::Call on a pool worker. Its
// arguments and output live in `State`, on the heap, shared by the work (on the
// worker) and the completion (on the owner), which runs after the work and frees it.
// State provides `std::int64_t run()` and `void finish(std::int64_t res)`.
template <class State>
OpHandle call_op(EngineCore& core, std::unique_ptr<State> state) {
  Request* r = core.make_request(Op::Call);
  State* s = state.get();
  r->work = [s]() -> std::int64_t {
    try {
      return s->run();
    } catch (const std::bad_alloc&) {
      return -ENOMEM;
    }
  };
  r->callback = RawCallback([state = std::move(state)](std::int64_t res) { state->finish(res); });
  return core.submit(r);
}

// The checks shared by the Call-based ops before their state is built.
template <class Callback>
bool reject_early(EngineCore& core, Callback& callback, int err, OpHandle& out) {
  if (!core.on_owner_thread()) {
    out = core.reject_foreign(std::move(callback));
    return true;
  }
  if (err) {
    Request* r = core.make_request(Op::Nop);
    r->callback = RawCallback([cb = std::move(callback)](std::int64_t res) mutable {
      cb(errno_code(static_cast<int>(-res)));
    });
    out = core.fail(r, err);
    return true;
  }
  return false;
}

std::error_code error_of(std::int64_t res) { return errno_code(static_cast<int>(-res)); }

FileType type_from_dirent(unsigned char d_type) {
  switch (d_type) {
    case DT_REG: return FileType::Regular;
    case DT_DIR: return FileType::Directory;
    case DT_LNK: return FileType::Symlink;
    case DT_BLK: return FileType::BlockDevice;
    case DT_CHR: return FileType::CharacterDevice;
    case DT_FIFO: return FileType::Fifo;
    case DT_SOCK: return FileType::Socket;
    default: return FileType::Unknown;
  }
}

FileType type_from_mode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return FileType::Regular;
    case S_IFDIR: return FileType::Directory;
    case S_IFLNK: return FileType::Symlink;
    case S_IFBLK: return FileType::BlockDevice;
    case S_IFCHR: return FileType::CharacterDevice;
    case S_IFIFO: return FileType::Fifo;
    case S_IFSOCK: return FileType::Socket;
    default: return FileType::Unknown;
  }
}

struct ReadlinkState {
  std::string path;
  std::string target;
  StringCallback callback;

  std::int64_t run() {
    // Link targets are almost always short; grow only for the rare long one.
    std::size_t size = 256;
    for (;;) {
      target.resize(size);
      std::int64_t n = detail::sys::readlinkat(AT_FDCWD, path.c_str(), target.data(), target.size());
      if (n < 0) return n;
      if (static_cast<std::size_t>(n) < size) {
        target.resize(static_cast<std::size_t>(n));
        return n;
      }
      if (size >= (1u << 20)) return -ENAMETOOLONG;
      size *= 2;
    }
  }
  void finish(std::int64_t res) {
    if (res < 0) callback(error_of(res));
    else callback(std::move(target));
  }
};

// linux_dirent64, as getdents64(2) lays records out.
struct DirentHeader {
  std::uint64_t ino;
  std::int64_t off;
  unsigned short reclen;
  unsigned char type;
};
constexpr std::size_t kDirentNameOffset = offsetof(DirentHeader, type) + 1;

struct ListState {
  std::string path;
  std::vector<DirEntry> entries;
  DirectoryCallback callback;

  std::int64_t run() {
    int fd = detail::sys::openat(AT_FDCWD, path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return fd;
    std::int64_t res = read_all(fd);
    detail::sys::close(fd);
    return res;
  }

  std::int64_t read_all(int fd) {
    constexpr std::size_t kBufferSize = 32 * 1024;
    auto buffer = std::make_unique<char[]>(kBufferSize);
    for (;;) {
      std::int64_t n = detail::sys::getdents64(fd, buffer.get(), kBufferSize);
      if (n < 0) return n;
      if (n == 0) return 0;
      for (std::size_t pos = 0; pos < static_cast<std::size_t>(n);) {
        DirentHeader h;
        std::memcpy(&h, buffer.get() + pos, sizeof h);
        const char* name = buffer.get() + pos + kDirentNameOffset;
        pos += h.reclen;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        DirEntry& e = entries.emplace_back();
        e.name.assign(name);
        e.inode = h.ino;
        e.type = type_from_dirent(h.type);
        if (h.type == DT_UNKNOWN) {
          struct statx s {};
          if (detail::sys::statx(fd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &s) == 0) {
            e.type = type_from_mode(s.stx_mode);
          }
        }
      }
    }
  }

  void finish(std::int64_t res) {
    if (res < 0) callback(error_of(res));
    else callback(std::move(entries));
  }
};

struct AccessState {
  std::string path;
  int mode = 0;
  DoneCallback callback;

  std::int64_t run() { return detail::sys::faccessat(AT_FDCWD, path.c_str(), mode, 0); }
  void finish(std::int64_t res) {
    if (res < 0) callback(error_of(res));
    else callback(Result<void>{});
  }
};

struct StatvfsState {
  std::string path;
  struct ::statvfs out {};
  FsStatsCallback callback;

  std::int64_t run() { return detail::sys::statvfs(path.c_str(), &out); }
  void finish(std::int64_t res) {
    if (res < 0) {
      callback(error_of(res));
      return;
    }
    FsStats s;
    s.block_size = out.f_bsize;
    s.fragment_size = out.f_frsize;
    s.blocks = out.f_blocks;
    s.blocks_free = out.f_bfree;
    s.blocks_available = out.f_bavail;
    s.files = out.f_files;
    s.files_free = out.f_ffree;
    s.files_available = out.f_favail;
    s.fsid = out.f_fsid;
    s.flags = out.f_flag;
    s.name_max = out.f_namemax;
    callback(s);
  }
};

OpHandle statx_path(Engine& engine, std::string_view path, int flags, StatCallback&& callback) {
  return path_op(engine.core(), Op::Statx, std::move(callback), [&](Request& r) {
    if (int err = check_path(path)) return err;
    r.path.assign(path);
    r.flags = flags;
    r.mode = static_cast<int>(kStatMask);
    return 0;
  });
}

// create_directories: one mkdir per component, in order, each continuing the next.
struct MakeDirs {
  EngineCore* core = nullptr;
  std::string path;
  std::vector<std::size_t> ends;  // where each component's prefix ends
  std::size_t next = 0;           // index into ends
  mode_t mode = 0;
  int error = 0;                  // the mkdir error being checked with a stat
  DoneCallback callback;

  bool last() const { return next + 1 == ends.size(); }

  static void step(std::unique_ptr<MakeDirs> self) {
    MakeDirs& s = *self;
    Request* r = s.core->make_request(Op::Mkdir);
    r->path.assign(s.path, 0, s.ends[s.next]);
    r->mode = static_cast<int>(s.mode);
    r->callback = RawCallback([self = std::move(self)](std::int64_t res) mutable { made(std::move(self), res); });
    s.core->submit(r);
  }

  static void made(std::unique_ptr<MakeDirs> self, std::int64_t res) {
    MakeDirs& s = *self;
    if (res == 0 || (res == -EEXIST && !s.last())) {
      // An existing non-directory in the middle shows up as ENOTDIR on the next mkdir.
      advance(std::move(self));
      return;
    }
    if (res == -ENOENT || res == -ENOTDIR || res == -ENAMETOOLONG || res == -ECANCELED) {
      s.callback(error_of(res));
      return;
    }
    // EEXIST on the last component, or EACCES/EROFS/EPERM on one that may exist
    // already (mkdir of an existing /home as a user): a directory there is fine.
    s.error = static_cast<int>(-res);
    Request* r = s.core->make_request(Op::Statx);
    r->path.assign(s.path, 0, s.ends[s.next]);
    r->mode = STATX_TYPE;
    r->callback = StatCallback([self = std::move(self)](Result<FileStat> st) mutable {
      if (st && st->is_directory()) {
        advance(std::move(self));
      } else {
        self->callback(errno_code(self->error));
      }
    });
    s.core->submit(r);
  }

  static void advance(std::unique_ptr<MakeDirs> self) {
    if (self->last()) {
      self->callback(Result<void>{});
      return;
    }
    ++self->next;
    step(std::move(self));
  }
};

}  // namespace

OpHandle stat(Engine& engine, std::string_view path, StatCallback callback) {
  return statx_path(engine, path, 0, std::move(callback));
}

OpHandle lstat(Engine& engine, std::string_view path, StatCallback callback) {
  return statx_path(engine, path, AT_SYMLINK_NOFOLLOW, std::move(callback));
}

OpHandle rename(Engine& engine, std::string_view from, std::string_view to, RenameFlags flags,
                DoneCallback callback) {
  return detail::rename_path(engine.core(), from, to, static_cast<unsigned>(flags), std::move(callback));
}

OpHandle unlink(Engine& engine, std::string_view path, DoneCallback callback) {
  return detail::unlink_path(engine.core(), path, 0, std::move(callback));
}

OpHandle rmdir(Engine& engine, std::string_view path, DoneCallback callback) {
  return detail::unlink_path(engine.core(), path, AT_REMOVEDIR, std::move(callback));
}

OpHandle mkdir(Engine& engine, std::string_view path, mode_t mode, DoneCallback callback) {
  return path_op(engine.core(), Op::Mkdir, std::move(callback), [&](Request& r) {
    if (int err = check_path(path)) return err;
    r.path.assign(path);
    r.mode = static_cast<int>(mode);
    return 0;
  });
}

void create_directories(Engine& engine, std::string_view path, mode_t mode, DoneCallback callback) {
  EngineCore& core = engine.core();
  OpHandle ignored;
  if (reject_early(core, callback, check_path(path), ignored)) return;
  auto s = std::make_unique<MakeDirs>();
  s->core = &core;
  s->path.assign(path);
  s->mode = mode;
  s->callback = std::move(callback);
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '/' && (i + 1 == path.size() || path[i + 1] == '/')) s->ends.push_back(i + 1);
  }
  // "" fails with mkdir's own ENOENT; "/" is an existing directory.
  if (s->ends.empty()) s->ends.push_back(path.size());
  MakeDirs::step(std::move(s));
}

OpHandle link(Engine& engine, std::string_view existing, std::string_view new_path, DoneCallback callback) {
  return path_op(engine.core(), Op::Link, std::move(callback), [&](Request& r) {
    if (int err = check_paths(existing, new_path)) return err;
    r.path.assign(existing);
    r.path2.assign(new_path);
    return 0;
  });
}

OpHandle symlink(Engine& engine, std::string_view target, std::string_view link_path, DoneCallback callback) {
  return path_op(engine.core(), Op::Symlink, std::move(callback), [&](Request& r) {
    if (int err = check_paths(target, link_path)) return err;
    r.path.assign(target);
    r.path2.assign(link_path);
    return 0;
  });
}

OpHandle readlink(Engine& engine, std::string_view path, StringCallback callback) {
  EngineCore& core = engine.core();
  OpHandle out;
  if (reject_early(core, callback, check_path(path), out)) return out;
  auto s = std::make_unique<ReadlinkState>();
  s->path.assign(path);
  s->callback = std::move(callback);
  return call_op(core, std::move(s));
}

OpHandle list_directory(Engine& engine, std::string_view path, DirectoryCallback callback) {
  EngineCore& core = engine.core();
  OpHandle out;
  if (reject_early(core, callback, check_path(path), out)) return out;
  auto s = std::make_unique<ListState>();
  s->path.assign(path);
  s->callback = std::move(callback);
  return call_op(core, std::move(s));
}

OpHandle access(Engine& engine, std::string_view path, int mode, DoneCallback callback) {
  EngineCore& core = engine.core();
  OpHandle out;
  if (reject_early(core, callback, check_path(path), out)) return out;
  auto s = std::make_unique<AccessState>();
  s->path.assign(path);
  s->mode = mode;
  s->callback = std::move(callback);
  return call_op(core, std::move(s));
}

OpHandle exists(Engine& engine, std::string_view path, BoolCallback callback) {
  EngineCore& core = engine.core();
  OpHandle out;
  if (reject_early(core, callback, 0, out)) return out;
  RawCallback raw([cb = std::move(callback)](std::int64_t res) mutable {
    if (res == 0) cb(true);
    else if (res == -ENOENT || res == -ENOTDIR) cb(false);
    else cb(error_of(res));
  });
  return path_op(core, Op::Statx, std::move(raw), [&](Request& r) {
    if (int err = check_path(path)) return err;
    r.path.assign(path);
    r.mode = STATX_TYPE;
    return 0;
  });
}

OpHandle statvfs(Engine& engine, std::string_view path, FsStatsCallback callback) {
  EngineCore& core = engine.core();
  OpHandle out;
  if (reject_early(core, callback, check_path(path), out)) return out;
  auto s = std::make_unique<StatvfsState>();
  s->path.assign(path);
  s->callback = std::move(callback);
  return call_op(core, std::move(s));
}

}  // namespace ringfile::fs

namespace ringfile::detail {

OpHandle open_path(EngineCore& core, std::string_view path, int flags, mode_t mode, OpenCallback callback) {
  return fs::path_op(core, Op::Open, std::move(callback), [&](Request& r) {
    if (int err = fs::check_path(path)) return err;
    r.path.assign(path);
    r.flags = flags | O_CLOEXEC;
    r.mode = static_cast<int>(mode);
    return 0;
  });
}

OpHandle rename_path(EngineCore& core, std::string_view from, std::string_view to, unsigned flags,
                     DoneCallback callback) {
  return fs::path_op(core, Op::Rename, std::move(callback), [&](Request& r) {
    if (int err = fs::check_paths(from, to)) return err;
    r.path.assign(from);
    r.path2.assign(to);
    r.flags = static_cast<int>(flags);
    return 0;
  });
}

OpHandle unlink_path(EngineCore& core, std::string_view path, int flags, DoneCallback callback) {
  return fs::path_op(core, Op::Unlink, std::move(callback), [&](Request& r) {
    if (int err = fs::check_path(path)) return err;
    r.path.assign(path);
    r.flags = flags;
    return 0;
  });
}

}  // namespace ringfile::detail
