#include "path_walk.hpp"

#include <cerrno>
#include <deque>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>

#include "sys.hpp"

namespace ringfile::detail {

namespace {

constexpr int kMaxLinks = 40;  // the kernel's MAXSYMLINKS

void push_components(std::deque<std::string>& parts, std::string_view path) {
  std::deque<std::string> front;
  while (!path.empty()) {
    const auto slash = path.find('/');
    std::string_view name = path.substr(0, slash);
    if (!name.empty() && name != ".") front.emplace_back(name);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  parts.insert(parts.begin(), front.begin(), front.end());
}

std::int64_t device_of(int fd) {
  struct statx s {};
  if (int r = sys::statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &s); r < 0) return r;
  return static_cast<std::int64_t>((std::uint64_t{s.stx_dev_major} << 32) | s.stx_dev_minor);
}

// The descriptor the walk stands on; closed when it moves on.
class Cursor {
 public:
  explicit Cursor(int fd) noexcept : fd_(fd) {}
  ~Cursor() {
    if (fd_ >= 0) sys::close(fd_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int fd() const noexcept { return fd_; }
  void move_to(int fd) noexcept {
    if (fd_ >= 0) sys::close(fd_);
    fd_ = fd;
  }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

int walk_open(int dirfd, const std::string& path, int flags, mode_t mode, std::uint64_t resolve) {
  const bool beneath = resolve & RESOLVE_BENEATH;
  if (path.empty()) return -ENOENT;
  if (path[0] == '/' && beneath) return -EXDEV;
  const int start = sys::openat(path[0] == '/' ? AT_FDCWD : dirfd, path[0] == '/' ? "/" : ".",
                                O_PATH | O_DIRECTORY, 0);
  if (start < 0) return start;
  Cursor at(start);
  std::int64_t device = 0;
  if (resolve & RESOLVE_NO_XDEV) {
    device = device_of(at.fd());
    if (device < 0) return static_cast<int>(device);
  }
  std::deque<std::string> parts;
  push_components(parts, path);
  int links = 0;
  while (!parts.empty()) {
    const std::string name = std::move(parts.front());
    parts.pop_front();
    if (name == ".." && beneath) return -EXDEV;
    const bool last = parts.empty();
    const int how = last ? flags | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_NOFOLLOW;
    const int fd = sys::openat(at.fd(), name.c_str(), how, mode);
    if (fd == -ELOOP || (fd == -ENOTDIR && !last)) {
      char target[4096];
      const std::int64_t n = sys::readlinkat(at.fd(), name.c_str(), target, sizeof target);
      if (n < 0) return fd;  // not a symlink: the open's own error
      if (last && (flags & O_NOFOLLOW)) return -ELOOP;
      if (resolve & RESOLVE_NO_SYMLINKS) return -ELOOP;
      if ((resolve & RESOLVE_NO_MAGICLINKS) && sys::fs_type(at.fd()) == PROC_SUPER_MAGIC) return -ELOOP;
      if (++links > kMaxLinks) return -ELOOP;
      const std::string_view link(target, static_cast<std::size_t>(n));
      if (link.front() == '/') {
        if (beneath) return -EXDEV;
        const int root = sys::openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0);
        if (root < 0) return root;
        at.move_to(root);
      }
      push_components(parts, link);
      if (parts.empty()) parts.emplace_back(".");
      continue;
    }
    if (fd < 0) return fd;
    at.move_to(fd);
    if (resolve & RESOLVE_NO_XDEV) {
      const std::int64_t here = device_of(at.fd());
      if (here < 0) return static_cast<int>(here);
      if (here != device) return -EXDEV;
    }
    if (last) return at.release();
  }
  // Nothing but "." components: the directory itself, with the caller's flags.
  return sys::openat(at.fd(), ".", flags, mode);
}

}  // namespace ringfile::detail
