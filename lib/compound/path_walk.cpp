#include "compound/path_walk.hpp"

#include <cerrno>
#include <cstdio>
#include <deque>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/sys.hpp"

namespace ringfile::detail {

namespace {

constexpr int kMaxLinks = 40;  // the kernel's MAXSYMLINKS, counted over the whole walk
constexpr std::uint64_t kKnownResolve =
    RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;
constexpr int kKnownFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |
                            O_SYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME |
                            O_CLOEXEC | O_PATH | O_TMPFILE;
constexpr std::uint64_t kProcRootInode = 1;
constexpr int kStep = O_PATH | O_NOFOLLOW;

class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) sys::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// What the walk needs to know of a descriptor: which mount and inode it is (the
// kernel compares mounts, not devices, so bind mounts count), its type and owner.
struct Place {
  std::uint64_t mount = 0;
  bool has_mount = false;
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint32_t uid = 0;
  std::uint16_t mode = 0;
  std::uint64_t size = 0;

  bool same_mount(const Place& o) const noexcept {
    return has_mount && o.has_mount ? mount == o.mount : dev == o.dev;
  }
  bool same(const Place& o) const noexcept { return same_mount(o) && dev == o.dev && ino == o.ino; }
};

int place_of(int fd, Place& out) {
  struct statx s {};
  unsigned mask = STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO | STATX_SIZE;
#ifdef STATX_MNT_ID
  mask |= STATX_MNT_ID;
#endif
  if (int r = sys::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, mask, &s); r < 0) return r;
  out.dev = (std::uint64_t{s.stx_dev_major} << 32) | s.stx_dev_minor;
  out.ino = s.stx_ino;
  out.uid = s.stx_uid;
  out.mode = s.stx_mode;
  out.size = s.stx_size;
#ifdef STATX_MNT_ID
  out.has_mount = (s.stx_mask & STATX_MNT_ID) != 0;
  out.mount = s.stx_mnt_id;
#endif
  return 0;
}

// fs.protected_symlinks, read once; unreadable counts as on, the stricter answer.
bool symlinks_protected() {
  static const bool on = [] {
    std::FILE* f = std::fopen("/proc/sys/fs/protected_symlinks", "re");
    if (!f) return true;
    int value = 1;
    if (std::fscanf(f, "%d", &value) != 1) value = 1;
    std::fclose(f);
    return value != 0;
  }();
  return on;
}

struct Component {
  std::string name;
  bool slash_after;  // "name/": a last component so written must be a directory
};

void push_components(std::deque<Component>& parts, std::string_view path) {
  std::deque<Component> front;
  while (!path.empty()) {
    const auto slash = path.find('/');
    std::string_view name = path.substr(0, slash);
    if (!name.empty()) front.push_back({std::string(name), slash != std::string_view::npos});
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  parts.insert(parts.begin(), front.begin(), front.end());
}

// The walk follows fs/namei.c's order of checks, so that where several refusals
// apply it gives the errno openat2 gives. Every step is an openat of one name
// with O_NOFOLLOW, so the kernel never resolves a symlink's text for the walk;
// only a magic link (whose target is no text) is followed by the kernel, and only
// where openat2 would follow it too.
class Walk {
 public:
  Walk(int flags, mode_t mode, std::uint64_t resolve) noexcept
      : flags_(flags), mode_(mode), resolve_(resolve) {}

  int run(int dirfd, const std::string& path) {
    if (int r = start(dirfd, path); r < 0) return r;
    std::deque<Component> parts;
    push_components(parts, path);
    while (!parts.empty()) {
      Component part = std::move(parts.front());
      parts.pop_front();
      const bool last = parts.empty();
      if (part.name == "." || part.name == "..") {
        if (int r = dots(part.name == ".."); r < 0) return r;
        continue;
      }
      if (last && part.slash_after) {
        if (creates_) return -EISDIR;
        follow_ = must_dir_ = true;
      }
      Fd entry(sys::openat(at_.get(), part.name.c_str(), kStep, 0));
      if (entry.get() < 0) {
        if (last && entry.get() == -ENOENT) return finish(part.name, O_NOFOLLOW);
        return entry.get();
      }
      Place seen;
      if (int r = place_of(entry.get(), seen); r < 0) return r;
      if (no_xdev() && !seen.same_mount(start_)) return -EXDEV;
      if (S_ISLNK(seen.mode) && (!last || follow_)) {
        if (int r = count_link(last, seen); r < 0) return r;
        char target[PATH_MAX];
        const std::int64_t n = sys::readlinkat(entry.get(), "", target, sizeof target);
        if (n < 0) return static_cast<int>(n);
        if (static_cast<std::size_t>(n) >= sizeof target) return -ENAMETOOLONG;
        const std::string_view text(target, static_cast<std::size_t>(n));
        if (is_magic(seen, text)) {
          if (int r = magic(part.name, last); r != 0) return r;
          continue;
        }
        if (!text.empty() && text.front() == '/') {
          if (int r = jump_to_root(); r < 0) return r;
        }
        push_components(parts, text);
        continue;
      }
      if (last) return finish(part.name, O_NOFOLLOW);
      if (!S_ISDIR(seen.mode)) return -ENOTDIR;
      move_to(std::move(entry), seen);
      ++depth_;
    }
    return finish(".", 0);
  }

 private:
  bool scoped() const noexcept { return resolve_ & (RESOLVE_BENEATH | RESOLVE_IN_ROOT); }
  bool no_xdev() const noexcept { return resolve_ & RESOLVE_NO_XDEV; }

  // openat2's argument checks (build_open_flags), made before any lookup.
  int check_arguments() {
    if (resolve_ & ~kKnownResolve) return -EINVAL;
    if ((resolve_ & RESOLVE_BENEATH) && (resolve_ & RESOLVE_IN_ROOT)) return -EINVAL;
    if (flags_ & ~kKnownFlags) return -EINVAL;
    if ((flags_ & O_PATH) && (flags_ & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))) return -EINVAL;
    const bool will_create = (flags_ & O_CREAT) || (flags_ & O_TMPFILE) == O_TMPFILE;
    if (!will_create) mode_ = 0;  // as open_at hands openat2 its mode
    if ((flags_ & O_CREAT) || (flags_ & O_TMPFILE & ~O_DIRECTORY)) {
      if (mode_ & ~07777u) return -EINVAL;
    }
    if ((flags_ & (O_DIRECTORY | O_CREAT)) == (O_DIRECTORY | O_CREAT)) return -EINVAL;
    if (flags_ & O_TMPFILE & ~O_DIRECTORY) {
      if ((flags_ & (O_TMPFILE | O_CREAT)) != O_TMPFILE) return -EINVAL;
      if ((flags_ & O_ACCMODE) == O_RDONLY) return -EINVAL;
    }
    // No promise that the walk needs no I/O: "try again without", as openat2 says.
    if (resolve_ & RESOLVE_CACHED) return -EAGAIN;
    creates_ = flags_ & O_CREAT;
    follow_ = !(flags_ & O_NOFOLLOW) && !(creates_ && (flags_ & O_EXCL));
    must_dir_ = flags_ & O_DIRECTORY;
    return 0;
  }

  int start(int dirfd, const std::string& path) {
    if (int r = check_arguments(); r < 0) return r;
    if (path.empty()) return -ENOENT;
    const bool absolute = path.front() == '/';
    if (absolute && (resolve_ & RESOLVE_BENEATH)) return -EXDEV;
    const bool from_root = absolute && !(resolve_ & RESOLVE_IN_ROOT);
    Fd at(sys::openat(from_root ? AT_FDCWD : dirfd, from_root ? "/" : ".", O_PATH | O_DIRECTORY, 0));
    if (at.get() < 0) return at.get();
    Place here;
    if (int r = place_of(at.get(), here); r < 0) return r;
    start_ = here;
    root_known_ = absolute || scoped();
    if (scoped()) {
      root_ = here;
      root_fd_ = Fd(sys::openat(at.get(), ".", O_PATH | O_DIRECTORY, 0));
      if (root_fd_.get() < 0) return root_fd_.get();
    }
    move_to(std::move(at), here);
    return 0;
  }

  void move_to(Fd fd, const Place& place) {
    at_ = std::move(fd);
    here_ = place;
  }

  // "." and "..": the kernel checks search permission on the directory for these too.
  int dots(bool dotdot) {
    Fd self(sys::openat(at_.get(), ".", O_PATH | O_DIRECTORY, 0));
    if (self.get() < 0) return self.get();
    if (!dotdot) return 0;
    root_known_ = true;
    if (scoped() && here_.same(root_)) return resolve_ & RESOLVE_BENEATH ? -EXDEV : 0;
    Fd up(sys::openat(at_.get(), "..", O_PATH | O_DIRECTORY | O_NOFOLLOW, 0));
    if (up.get() < 0) return up.get();
    Place there;
    if (int r = place_of(up.get(), there); r < 0) return r;
    if (no_xdev() && !there.same_mount(start_)) return -EXDEV;
    if (scoped()) {
      // The kernel refuses a `..` raced by a rename (EAGAIN); here the same
      // race shows as the walk's depth no longer leading back to the root.
      if (depth_ == 0) return -EAGAIN;
      --depth_;
      if (int r = check_beneath(up.get(), there); r < 0) return r;
    }
    move_to(std::move(up), there);
    return 0;
  }

  int check_beneath(int fd, const Place& place) {
    Place p = place;
    Fd up;
    int from = fd;
    for (int level = depth_; level > 0; --level) {
      if (p.same(root_)) return -EAGAIN;
      up = Fd(sys::openat(from, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW, 0));
      if (up.get() < 0) return up.get();
      from = up.get();
      if (int r = place_of(from, p); r < 0) return r;
    }
    return p.same(root_) ? 0 : -EAGAIN;
  }

  int count_link(bool last, const Place& link) {
    if (++links_ > kMaxLinks) return -ELOOP;
    if (resolve_ & RESOLVE_NO_SYMLINKS) return -ELOOP;
    // may_follow_link(): a trailing symlink in a sticky world-writable directory
    // is followed only by its owner or the directory's.
    if (last && symlinks_protected() && link.uid != ::geteuid() &&
        (here_.mode & (S_ISVTX | S_IWOTH)) == (S_ISVTX | S_IWOTH) && here_.uid != link.uid) {
      return -EACCES;
    }
    return 0;
  }

  // Magic links (/proc/PID/fd/N, cwd, root, exe, ns/...) lead to an object, not
  // to their text. procfs's ordinary symlinks are the ones in its root (self,
  // thread-self, mounts, net) and those made by proc_symlink(), which have inode
  // numbers from procfs's dynamic range and their text's length as their size.
  bool is_magic(const Place& link, std::string_view text) {
    constexpr std::uint64_t kProcDynamicFirst = 0xF0000000;
    if (sys::fs_type(at_.get()) != PROC_SUPER_MAGIC) return false;
    if (here_.ino == kProcRootInode) return false;
    return !(link.ino >= kProcDynamicFirst && link.size == text.size());
  }

  // Returns 0 when the walk goes on from the link's target, else the result.
  int magic(const std::string& name, bool last) {
    if (resolve_ & RESOLVE_NO_MAGICLINKS) return -ELOOP;
    if (scoped()) return -EXDEV;
    Fd target(sys::openat(at_.get(), name.c_str(), O_PATH, 0));
    if (target.get() < 0) return target.get();
    Place there;
    if (int r = place_of(target.get(), there); r < 0) return r;
    if (no_xdev() && !there.same_mount(start_)) return -EXDEV;
    if (last) return finish(name, 0);
    if (!S_ISDIR(there.mode)) return -ENOTDIR;
    move_to(std::move(target), there);
    return 0;
  }

  int jump_to_root() {
    if (resolve_ & RESOLVE_BENEATH) return -EXDEV;
    Fd root(resolve_ & RESOLVE_IN_ROOT ? sys::openat(root_fd_.get(), ".", O_PATH | O_DIRECTORY, 0)
                                       : sys::openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0));
    if (root.get() < 0) return root.get();
    Place there;
    if (int r = place_of(root.get(), there); r < 0) return r;
    // Until a `..` or an absolute path has made the kernel look its root up,
    // openat2 compares the mount with none, and refuses.
    if (no_xdev() && (!root_known_ || !there.same_mount(here_))) return -EXDEV;
    root_known_ = true;
    move_to(std::move(root), there);
    depth_ = 0;
    return 0;
  }

  // The one open with the caller's flags, of a name in the directory the walk
  // stands on (which openat2 would open there too).
  int finish(const std::string& name, int nofollow) {
    const int how = flags_ | nofollow | (must_dir_ ? O_DIRECTORY : 0);
    Fd opened(sys::openat(at_.get(), name.c_str(), how, mode_));
    if (opened.get() < 0) return opened.get();
    if (no_xdev()) {
      Place there;
      if (int r = place_of(opened.get(), there); r < 0) return r;
      if (!there.same_mount(start_)) return -EXDEV;
    }
    return opened.release();
  }

  int flags_;
  mode_t mode_;
  std::uint64_t resolve_;
  bool creates_ = false;
  bool follow_ = true;     // the last component, if a symlink, is followed
  bool must_dir_ = false;  // what the walk ends on must be a directory
  bool root_known_ = false;
  int links_ = 0;
  int depth_ = 0;  // levels below the root (scoped walks)
  Fd at_;
  Place here_;
  Place start_;
  Fd root_fd_;
  Place root_;
};

}  // namespace

int walk_open(int dirfd, const std::string& path, int flags, mode_t mode, std::uint64_t resolve) {
  return Walk(flags, mode, resolve).run(dirfd, path);
}

}  // namespace ringfile::detail
