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

#include "api/completion.hpp"
#include "api/engine_access.hpp"
#include "api/fs_ops.hpp"

namespace ringfile::fs {

using detail::EngineAccess;
using detail::check_path;
using detail::EngineCore;
using detail::error_of;
using detail::OpArgs;
using detail::Request;

static_assert(static_cast<unsigned>(RenameFlags::NoReplace) == RENAME_NOREPLACE);
static_assert(static_cast<unsigned>(RenameFlags::Exchange) == RENAME_EXCHANGE);

namespace {

int check_paths(std::string_view a, std::string_view b) {
  if (int err = check_path(a)) return err;
  return check_path(b);
}

// Submits a path op whose arguments passed `err`'s checks (0), with paths copied
// into the request.
template <class F>
OpHandle submit_path(EngineCore& core, const OpArgs& args, F&& completion, int err, std::string_view path,
                     std::string_view path2 = {}) {
  Request* r = core.make_request(args);
  r->completion.set(std::forward<F>(completion));
  if (err) return core.fail(r, err);
  r->set_paths(path, path2);
  if (args.op == detail::Op::Statx) r->statx_buffer();
  return core.submit(r);
}

// Front half of every public path op: right thread, then the request.
template <class Callback>
OpHandle path_op(EngineCore& core, const OpArgs& args, Callback&& callback, int err, std::string_view path,
                 std::string_view path2 = {}) {
  if (core.rejects_foreign(callback)) return {};
  Request* r = core.make_request(args);
  detail::set_completion(*r, std::move(callback));
  if (err) return core.fail(r, err);
  r->set_paths(path, path2);
  return core.submit(r);
}

// An op with no opcode of its own runs as an Op::Call on a pool worker. Its
// arguments and output live in `State`, on the heap, shared by the work (on the
// worker) and the completion (on the owner), which runs after the work and frees it.
// State provides `std::int64_t run()` and `void finish(std::int64_t res)`.
template <class State>
OpHandle call_op(EngineCore& core, std::unique_ptr<State> state) {
  Request* r = core.make_request(OpArgs::call());
  State* s = state.get();
  r->set_work([s]() -> std::int64_t {
    try {
      return s->run();
    } catch (const std::bad_alloc&) {
      return -ENOMEM;
    }
  });
  r->completion.set([state = std::move(state)](std::int64_t res) { state->finish(res); });
  return core.submit(r);
}

// The checks shared by the Call-based ops before their state is built.
template <class Callback>
bool reject_early(EngineCore& core, Callback& callback, int err, OpHandle& out) {
  if (core.rejects_foreign(callback)) return true;
  if (err) {
    Request* r = core.make_request(OpArgs::nop());
    r->completion.set([cb = std::move(callback)](std::int64_t res) mutable { cb(error_of(res)); });
    out = core.fail(r, err);
    return true;
  }
  return false;
}

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
    int fd = detail::sys::openat(AT_FDCWD, path.c_str(), O_RDONLY | O_DIRECTORY, 0);
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
  return path_op(EngineAccess::core(engine), OpArgs::statx(OpArgs::kCwd, flags, detail::kStatMask),
                 std::move(callback), check_path(path), path);
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
    const std::string_view prefix = std::string_view(s.path).substr(0, s.ends[s.next]);
    submit_path(*s.core, OpArgs::mkdir(s.mode),
                [self = std::move(self)](std::int64_t res) mutable { made(std::move(self), res); }, 0, prefix);
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
    const std::string_view prefix = std::string_view(s.path).substr(0, s.ends[s.next]);
    EngineCore& core = *s.core;
    Request* r = core.make_request(OpArgs::statx(OpArgs::kCwd, 0, STATX_TYPE));
    r->completion.set([self = std::move(self), r](std::int64_t got) mutable {
      if (got >= 0 && S_ISDIR(r->args.statx_out->stx_mode)) {
        advance(std::move(self));
      } else {
        self->callback(errno_code(self->error));
      }
    });
    r->set_paths(prefix);
    r->statx_buffer();
    core.submit(r);
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
  return detail::rename_path(EngineAccess::core(engine), from, to, static_cast<unsigned>(flags), std::move(callback));
}

OpHandle unlink(Engine& engine, std::string_view path, DoneCallback callback) {
  return detail::unlink_path(EngineAccess::core(engine), path, 0, std::move(callback));
}

OpHandle rmdir(Engine& engine, std::string_view path, DoneCallback callback) {
  return detail::unlink_path(EngineAccess::core(engine), path, AT_REMOVEDIR, std::move(callback));
}

OpHandle mkdir(Engine& engine, std::string_view path, mode_t mode, DoneCallback callback) {
  return path_op(EngineAccess::core(engine), OpArgs::mkdir(mode), std::move(callback), check_path(path), path);
}

void create_directories(Engine& engine, std::string_view path, mode_t mode, DoneCallback callback) {
  EngineCore& core = EngineAccess::core(engine);
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
  return path_op(EngineAccess::core(engine), OpArgs::link(0), std::move(callback), check_paths(existing, new_path),
                 existing, new_path);
}

OpHandle symlink(Engine& engine, std::string_view target, std::string_view link_path, DoneCallback callback) {
  return path_op(EngineAccess::core(engine), OpArgs::symlink(), std::move(callback), check_paths(target, link_path),
                 target, link_path);
}

// A path op run on a pool worker through its State (path, callback, and what
// `fill` sets), after the same early checks as every path op.
template <class State, class Callback, class Fill = void (*)(State&)>
OpHandle path_call(
    Engine& engine, std::string_view path, Callback callback, Fill fill = [](State&) {}) {
  EngineCore& core = EngineAccess::core(engine);
  OpHandle out;
  if (reject_early(core, callback, check_path(path), out)) return out;
  auto s = std::make_unique<State>();
  s->path.assign(path);
  s->callback = std::move(callback);
  fill(*s);
  return call_op(core, std::move(s));
}

OpHandle readlink(Engine& engine, std::string_view path, StringCallback callback) {
  return path_call<ReadlinkState>(engine, path, std::move(callback));
}

OpHandle list_directory(Engine& engine, std::string_view path, DirectoryCallback callback) {
  return path_call<ListState>(engine, path, std::move(callback));
}

OpHandle access(Engine& engine, std::string_view path, int mode, DoneCallback callback) {
  return path_call<AccessState>(engine, path, std::move(callback), [mode](AccessState& s) { s.mode = mode; });
}

OpHandle exists(Engine& engine, std::string_view path, BoolCallback callback) {
  EngineCore& core = EngineAccess::core(engine);
  OpHandle out;
  if (reject_early(core, callback, 0, out)) return out;
  auto answer = [cb = std::move(callback)](std::int64_t res) mutable {
    if (res == 0) cb(true);
    else if (res == -ENOENT || res == -ENOTDIR) cb(false);
    else cb(error_of(res));
  };
  return submit_path(core, OpArgs::statx(OpArgs::kCwd, 0, STATX_TYPE), std::move(answer), check_path(path), path);
}

OpHandle statvfs(Engine& engine, std::string_view path, FsStatsCallback callback) {
  return path_call<StatvfsState>(engine, path, std::move(callback));
}

}  // namespace ringfile::fs

namespace ringfile::detail {

OpHandle open_path(EngineCore& core, std::string_view path, int flags, mode_t mode, OpenCallback callback) {
  if (core.rejects_foreign(callback)) return {};
  Request* r = core.make_request(OpArgs::open(flags, mode));
  set_open_completion(*r, core, std::move(callback), r->args.flags);
  if (int err = fs::check_path(path)) return core.fail(r, err);
  r->set_paths(path);
  return core.submit(r);
}

OpHandle rename_path(EngineCore& core, std::string_view from, std::string_view to, unsigned flags,
                     DoneCallback callback) {
  return fs::path_op(core, OpArgs::rename(flags), std::move(callback), fs::check_paths(from, to), from, to);
}

OpHandle unlink_path(EngineCore& core, std::string_view path, int flags, DoneCallback callback) {
  return fs::path_op(core, OpArgs::unlink(flags), std::move(callback), fs::check_path(path), path);
}

}  // namespace ringfile::detail
