// Dir and open_at: opening client-supplied paths without leaving a directory.

#include "ringfile/dir.hpp"

#include <cassert>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>

#include "api/completion.hpp"
#include "api/engine_access.hpp"
#include "api/file_access.hpp"
#include "api/fs_ops.hpp"
#include "compound/job.hpp"
#include "compound/path_walk.hpp"
#include "core/engine_core.hpp"

namespace ringfile {

using detail::EngineCore;
using detail::FileAccess;
using detail::OpArgs;
using detail::Request;

OpHandle Dir::open(Engine& engine, std::string_view path, DirCallback callback) {
  return detail::open_path(detail::EngineAccess::core(engine), path, O_RDONLY | O_DIRECTORY, 0,
                           [cb = std::move(callback)](Result<File> file) mutable {
                             if (!cb) return;
                             if (!file) cb(file.error());
                             else cb(Dir(std::move(*file)));
                           });
}

Result<Dir> Dir::adopt(Engine& engine, int fd, File::Ownership ownership) {
  if (fd < 0) return errno_code(EINVAL);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_code(errno);
  if (!S_ISDIR(st.st_mode)) return errno_code(EINVAL);
  auto file = File::adopt(engine, fd, ownership);
  if (!file) return file.error();
  return Dir(std::move(*file));
}

namespace {

// One open_at: openat2 first; the component walk if the kernel has no openat2.
struct OpenAt : detail::Job {
  OpenAt(EngineCore& core, detail::FileState* dir, std::string path, int flags, unsigned mode, std::uint64_t resolve,
         OpenCallback callback)
      : Job(&core), dir(dir), path(std::move(path)), flags(flags), mode(mode), resolve(resolve),
        callback(std::move(callback)) {}

  detail::FileState* dir;
  std::string path;
  int flags;
  unsigned mode;
  std::uint64_t resolve;
  OpenCallback callback;

  static void deliver(std::unique_ptr<OpenAt> self, std::int64_t res) {
    OpenAt& s = *self;
    if (res < 0) {
      if (s.callback) s.callback(detail::error_of(res));
      return;
    }
    File opened = FileAccess::make(s.core->new_file(static_cast<int>(res), s.flags));
    if (s.callback) s.callback(std::move(opened));
  }

  static void opened(std::unique_ptr<OpenAt> self, std::int64_t res) {
    if (res != -ENOSYS) return deliver(std::move(self), res);
    OpenAt& s = *self;
    Request* r = s.core->make_request(OpArgs::call());
    r->set_work([dirfd = s.dir->fd, path = s.path, flags = s.flags, mode = s.mode, resolve = s.resolve] {
      return std::int64_t{detail::walk_open(dirfd, path, flags, mode, resolve)};
    });
    r->completion.set([self = std::move(self)](std::int64_t res) mutable { deliver(std::move(self), res); });
    const auto in_context = s.step_scope();
    s.core->submit_file_op(s.dir, r);
  }
};

int check_relative_path(std::string_view path) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return EINVAL;
  if (path.size() >= PATH_MAX) return ENAMETOOLONG;
  return 0;
}

}  // namespace

OpHandle open_at(Dir& dir, std::string_view relative_path, int flags, mode_t mode, Resolve resolve,
                 OpenCallback callback) {
  detail::FileState* state = FileAccess::state(dir.file());
  if (!state || !state->core) {
    if (callback) callback(errno_code(EBADF));
    return {};
  }
  EngineCore& core = *state->core;
  if (core.rejects_foreign(callback)) return {};
  auto job = std::make_unique<OpenAt>(core, state, std::string(relative_path), flags | O_CLOEXEC, mode,
                                      static_cast<std::uint64_t>(resolve), std::move(callback));
  Request* r = core.make_request(OpArgs::openat2(state->fd, flags, mode, job->resolve));
  const int err = check_relative_path(relative_path);
  if (!err) {
    r->set_paths(relative_path);
    r->open_how_buffer();
  }
  r->completion.set([job = std::move(job)](std::int64_t res) mutable { OpenAt::opened(std::move(job), res); });
  if (err) return core.fail(r, err);
  return core.submit_file_op(state, r);
}

}  // namespace ringfile
