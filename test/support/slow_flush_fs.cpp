// ringfile-slow-flush-fs MOUNTPOINT: a flat in-memory FUSE filesystem whose
// fsync and fdatasync take as long as its control file says, the slow disk of
// the durability and deadline tests. Write a number of milliseconds to
// MOUNTPOINT/.fsync_delay_ms (0 at start); syncs already waiting are re-timed
// from when they started. A waiting sync answers EINTR when the kernel
// interrupts it (its caller was cancelled or signalled), as an interruptible
// network filesystem does. SIGTERM unmounts; syncs still waiting get EIO.

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

constexpr fuse_ino_t kControlIno = 2;
constexpr const char* kControlName = ".fsync_delay_ms";

struct Node {
  std::string name;
  std::string data;
  mode_t mode = S_IFREG | 0644;
};

// Only the session thread touches the nodes; the delay and the waiting syncs are
// shared with the thread that answers syncs when they are due.
std::map<fuse_ino_t, Node> nodes;
fuse_ino_t next_ino = kControlIno + 1;

std::atomic<long> delay_ms{0};
std::mutex sync_mutex;
std::condition_variable sync_changed;
std::map<fuse_req_t, Clock::time_point> waiting_syncs;  // request -> when it started
bool stopping = false;

Clock::time_point due(Clock::time_point started) { return started + std::chrono::milliseconds(delay_ms.load()); }

void answer_due_syncs() {
  std::unique_lock lock(sync_mutex);
  while (!stopping) {
    auto next = Clock::time_point::max();
    const auto now = Clock::now();
    for (auto it = waiting_syncs.begin(); it != waiting_syncs.end();) {
      if (due(it->second) <= now) {
        fuse_reply_err(it->first, 0);
        it = waiting_syncs.erase(it);
      } else {
        next = std::min(next, due(it->second));
        ++it;
      }
    }
    if (next == Clock::time_point::max()) sync_changed.wait(lock);
    else sync_changed.wait_until(lock, next);
  }
  for (auto& [req, started] : waiting_syncs) fuse_reply_err(req, EIO);
  waiting_syncs.clear();
}

void interrupt_sync(fuse_req_t req, void*) {
  std::lock_guard lock(sync_mutex);
  if (waiting_syncs.erase(req)) fuse_reply_err(req, EINTR);
}

struct stat attributes(fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  st.st_blksize = 4096;
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
    return st;
  }
  const Node& n = nodes.at(ino);
  st.st_mode = n.mode;
  st.st_nlink = 1;
  st.st_size = static_cast<off_t>(n.data.size());
  st.st_blocks = (st.st_size + 511) / 512;
  return st;
}

fuse_entry_param entry(fuse_ino_t ino) {
  fuse_entry_param e{};
  e.ino = ino;
  e.attr = attributes(ino);
  return e;  // no attribute or entry caching: every size the tests read is current
}

fuse_ino_t find(fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID) return 0;
  for (const auto& [ino, n] : nodes)
    if (n.name == name) return ino;
  return 0;
}

void do_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const fuse_ino_t ino = find(parent, name);
  if (!ino) return static_cast<void>(fuse_reply_err(req, ENOENT));
  const fuse_entry_param e = entry(ino);
  fuse_reply_entry(req, &e);
}

void do_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID && !nodes.count(ino)) return static_cast<void>(fuse_reply_err(req, ENOENT));
  const struct stat st = attributes(ino);
  fuse_reply_attr(req, &st, 0);
}

void do_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  auto it = nodes.find(ino);
  if (it == nodes.end()) return static_cast<void>(fuse_reply_err(req, ino == FUSE_ROOT_ID ? EPERM : ENOENT));
  if (to_set & FUSE_SET_ATTR_SIZE) it->second.data.resize(static_cast<std::size_t>(attr->st_size));
  if (to_set & FUSE_SET_ATTR_MODE) it->second.mode = S_IFREG | (attr->st_mode & 07777);
  const struct stat st = attributes(ino);
  fuse_reply_attr(req, &st, 0);
}

void do_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  if (parent != FUSE_ROOT_ID) return static_cast<void>(fuse_reply_err(req, ENOENT));
  fuse_ino_t ino = find(parent, name);
  if (ino && (fi->flags & O_EXCL)) return static_cast<void>(fuse_reply_err(req, EEXIST));
  if (!ino) {
    ino = next_ino++;
    nodes[ino] = Node{name, {}, static_cast<mode_t>(S_IFREG | (mode & 07777))};
  } else if (fi->flags & O_TRUNC) {
    nodes[ino].data.clear();
  }
  const fuse_entry_param e = entry(ino);
  fuse_reply_create(req, &e, fi);
}

void do_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto it = nodes.find(ino);
  if (it == nodes.end()) return static_cast<void>(fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT));
  if (fi->flags & O_TRUNC) it->second.data.clear();
  fuse_reply_open(req, fi);
}

void do_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  const std::string& data = nodes.at(ino).data;
  const auto from = std::min(data.size(), static_cast<std::size_t>(offset));
  fuse_reply_buf(req, data.data() + from, std::min(size, data.size() - from));
}

void do_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t offset, fuse_file_info*) {
  std::string& data = nodes.at(ino).data;
  const auto at = static_cast<std::size_t>(offset);
  if (data.size() < at + size) data.resize(at + size);
  std::memcpy(data.data() + at, buf, size);
  if (ino == kControlIno) {
    delay_ms.store(std::strtol(data.c_str(), nullptr, 10));
    sync_changed.notify_all();
  }
  fuse_reply_write(req, size);
}

void do_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  if (delay_ms.load() <= 0) return static_cast<void>(fuse_reply_err(req, 0));
  // Interrupts reach us on this thread, after this returns: the sync is listed by then.
  fuse_req_interrupt_func(req, interrupt_sync, nullptr);
  if (fuse_req_interrupted(req)) return static_cast<void>(fuse_reply_err(req, EINTR));
  std::lock_guard lock(sync_mutex);
  waiting_syncs.emplace(req, Clock::now());
  sync_changed.notify_all();
}

void do_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const fuse_ino_t ino = find(parent, name);
  if (!ino || ino == kControlIno) return static_cast<void>(fuse_reply_err(req, ino ? EPERM : ENOENT));
  nodes.erase(ino);
  fuse_reply_err(req, 0);
}

void do_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent, const char* new_name,
               unsigned int flags) {
  const fuse_ino_t ino = find(parent, name);
  if (!ino || new_parent != FUSE_ROOT_ID) return static_cast<void>(fuse_reply_err(req, ENOENT));
  if (flags) return static_cast<void>(fuse_reply_err(req, EINVAL));
  if (const fuse_ino_t replaced = find(new_parent, new_name); replaced && replaced != ino) nodes.erase(replaced);
  nodes[ino].name = new_name;
  fuse_reply_err(req, 0);
}

void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID) return static_cast<void>(fuse_reply_err(req, ENOTDIR));
  std::vector<std::pair<std::string, fuse_ino_t>> names{{".", FUSE_ROOT_ID}, {"..", FUSE_ROOT_ID}};
  for (const auto& [i, n] : nodes) names.emplace_back(n.name, i);
  std::vector<char> buf(size);
  std::size_t used = 0;
  for (auto i = static_cast<std::size_t>(offset); i < names.size(); ++i) {
    struct stat st {};
    st.st_ino = names[i].second;
    st.st_mode = names[i].second == FUSE_ROOT_ID ? S_IFDIR : S_IFREG;
    const std::size_t len = fuse_add_direntry(req, buf.data() + used, size - used, names[i].first.c_str(), &st,
                                              static_cast<off_t>(i + 1));
    if (len > size - used) break;
    used += len;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void do_ok(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MOUNTPOINT\n", argv[0]);
    return 2;
  }
  // A test that dies leaves no mount behind: SIGTERM unmounts.
  const pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) return 1;
  nodes[kControlIno] = Node{kControlName, "0\n", S_IFREG | 0644};

  fuse_lowlevel_ops ops{};
  ops.lookup = do_lookup;
  ops.getattr = do_getattr;
  ops.setattr = do_setattr;
  ops.create = do_create;
  ops.open = do_open;
  ops.read = do_read;
  ops.write = do_write;
  ops.flush = do_ok;
  ops.release = do_ok;
  ops.fsync = do_fsync;
  ops.unlink = do_unlink;
  ops.rename = do_rename;
  ops.opendir = do_ok;
  ops.readdir = do_readdir;
  ops.releasedir = do_ok;

  char program[] = "ringfile-slow-flush-fs";
  char name[] = "-ofsname=ringfile-slow-flush";
  char* args_v[] = {program, name};
  fuse_args args = FUSE_ARGS_INIT(2, args_v);
  struct ArgsOwner {
    fuse_args* args;
    ~ArgsOwner() { fuse_opt_free_args(args); }
  } args_owner{&args};
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (!se) return 1;
  if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0) {
    fuse_session_destroy(se);
    return 1;
  }
  std::thread answerer(answer_due_syncs);
  const int rc = fuse_session_loop(se);
  {
    std::lock_guard lock(sync_mutex);
    stopping = true;
  }
  sync_changed.notify_all();
  answerer.join();
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return rc < 0 ? 1 : 0;
}
