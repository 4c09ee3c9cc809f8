// Extended attributes: File's four ops on its descriptor and fs::'s four by path,
// checked as the kernel would before anything is queued.

#include <algorithm>
#include <cerrno>

#include <linux/limits.h>

#include "api/completion.hpp"
#include "api/engine_access.hpp"
#include "api/file_access.hpp"
#include "api/fs_ops.hpp"
#include "ringfile/fs.hpp"

namespace ringfile {

using detail::EngineCore;
using detail::FileState;
using detail::OpArgs;
using detail::Request;

namespace {

int check_name(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) return EINVAL;
  return name.empty() || name.size() > XATTR_NAME_MAX ? ERANGE : 0;
}

int check_buffer(const void* buffer, std::size_t size) { return !buffer && size > 0 ? EFAULT : 0; }

// The kernel reads or fills at most XATTR_SIZE_MAX bytes of a larger buffer, and
// the ring's size field is 32 bits.
std::size_t clamped(std::size_t size) { return std::min<std::size_t>(size, XATTR_SIZE_MAX); }

int check_get(std::string_view name, const void* buffer, std::size_t size) {
  if (int err = check_name(name)) return err;
  return check_buffer(buffer, size);
}

int check_set(std::string_view name, const void* value, std::size_t size) {
  if (int err = check_name(name)) return err;
  return size > XATTR_SIZE_MAX ? E2BIG : check_buffer(value, size);
}

// One xattr op: on `file`'s descriptor (path empty), or with file null on `path`.
// The path and the name are copied into the request.
template <class Callback>
OpHandle xattr_op(EngineCore& core, FileState* file, const OpArgs& args, Callback&& callback, int err,
                  std::string_view path, std::string_view name) {
  if (core.rejects_foreign(callback)) return {};
  Request* r = core.make_request(args);
  detail::set_completion(*r, std::move(callback));
  if (file && (file->fd < 0 || file->closing)) return core.fail(r, EBADF);
  if (err) return core.fail(r, err);
  r->set_paths(path, name);
  return file ? core.submit_file_op(file, r) : core.submit(r);
}

template <class Callback>
OpHandle file_xattr_op(FileState* file, const OpArgs& args, Callback&& callback, int err, std::string_view name) {
  if (!file || !file->core) return detail::fail_detached(callback);
  return xattr_op(*file->core, file, args, std::move(callback), err, {}, name);
}

template <class Callback>
OpHandle path_xattr_op(Engine& engine, const OpArgs& args, Callback&& callback, int err, std::string_view path,
                       std::string_view name) {
  if (!err) err = detail::check_path(path);
  return xattr_op(detail::EngineAccess::core(engine), nullptr, args, std::move(callback), err, path, name);
}

int fd_of(const FileState* file) { return file ? file->fd : -1; }

}  // namespace

OpHandle File::get_xattr(std::string_view name, void* buffer, std::size_t size, IoCallback callback) {
  const int err = check_get(name, buffer, size);
  return file_xattr_op(state_, OpArgs::get_xattr(fd_of(state_), buffer, clamped(size)), std::move(callback), err,
                       name);
}

OpHandle File::set_xattr(std::string_view name, const void* value, std::size_t size, int flags,
                         DoneCallback callback) {
  const int err = check_set(name, value, size);
  return file_xattr_op(state_, OpArgs::set_xattr(fd_of(state_), value, size, flags), std::move(callback), err,
                       name);
}

OpHandle File::list_xattr(void* buffer, std::size_t size, IoCallback callback) {
  return file_xattr_op(state_, OpArgs::list_xattr(fd_of(state_), buffer, clamped(size)), std::move(callback),
                       check_buffer(buffer, size), {});
}

OpHandle File::remove_xattr(std::string_view name, DoneCallback callback) {
  return file_xattr_op(state_, OpArgs::remove_xattr(fd_of(state_)), std::move(callback), check_name(name), name);
}

namespace fs {

OpHandle get_xattr(Engine& engine, std::string_view path, std::string_view name, void* buffer, std::size_t size,
                   IoCallback callback) {
  const int err = check_get(name, buffer, size);
  return path_xattr_op(engine, OpArgs::get_xattr(OpArgs::kCwd, buffer, clamped(size)), std::move(callback), err,
                       path, name);
}

OpHandle set_xattr(Engine& engine, std::string_view path, std::string_view name, const void* value,
                   std::size_t size, int flags, DoneCallback callback) {
  const int err = check_set(name, value, size);
  return path_xattr_op(engine, OpArgs::set_xattr(OpArgs::kCwd, value, size, flags), std::move(callback), err, path,
                       name);
}

OpHandle list_xattr(Engine& engine, std::string_view path, void* buffer, std::size_t size, IoCallback callback) {
  return path_xattr_op(engine, OpArgs::list_xattr(OpArgs::kCwd, buffer, clamped(size)), std::move(callback),
                       check_buffer(buffer, size), path, {});
}

OpHandle remove_xattr(Engine& engine, std::string_view path, std::string_view name, DoneCallback callback) {
  return path_xattr_op(engine, OpArgs::remove_xattr(OpArgs::kCwd), std::move(callback), check_name(name), path,
                       name);
}

}  // namespace fs

}  // namespace ringfile
