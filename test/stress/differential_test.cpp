// Randomized differential test: a seeded generator issues open, write, writev,
// read, readv, fsync, truncate, fallocate, stat, close, rename and unlink over a
// handful of files, many ops in flight at once, on each engine, and checks every
// result and the final files against an in-memory model.
//
// Ops in flight together never conflict: each op claims the byte ranges it reads
// or changes (a change of size claims everything from the old end on) and the
// names it touches, and waits while an op in flight holds a conflicting claim.
// So the model, applied in issue order, predicts every result exactly.
//
// Env: RINGFILE_SEED replays a run; RINGFILE_DIFF_OPS sets the ops per engine;
// RINGFILE_OPEN_FILES the file count of the many-files test.

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringfile/fs.hpp"
#include "test_support.hpp"

namespace ringfile::test {
namespace {

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

std::uint64_t chosen_seed() {
  static const std::uint64_t seed = env_number("RINGFILE_SEED", std::random_device{}() * 0x100000001ull ^ std::random_device{}());
  return seed;
}

constexpr std::uint64_t kEnd = UINT64_MAX;  // a claim that runs to the end of the file
constexpr std::size_t kMaxOffset = 256 * 1024;
constexpr std::size_t kMaxLength = 64 * 1024;
constexpr int kNames = 5;
constexpr std::size_t kMaxHandles = 8;

enum Kind : int {
  kOpen, kClose, kDrop, kWrite, kWritev, kRead, kReadv, kFsync, kTruncate, kFallocate, kStat, kRename, kUnlink,
  kKinds
};
constexpr std::array<const char*, kKinds> kKindNames = {"open",  "close",    "drop",      "write", "writev",
                                                        "read",  "readv",    "fsync",     "truncate",
                                                        "fallocate", "stat", "rename", "unlink"};

struct Claim {
  int inode;
  std::uint64_t lo, hi;  // [lo, hi)
  bool writer;
  bool overlaps(const Claim& o) const { return inode == o.inode && lo < o.hi && o.lo < hi && (writer || o.writer); }
};

struct Handle {
  File file;
  int inode = -1;
  int access = O_RDWR;
  bool can_read() const { return access != O_WRONLY; }
  bool can_write() const { return access != O_RDONLY; }
};

// One op in flight: what it keeps alive, what it claims, what it must return.
struct Pending {
  std::uint64_t id = 0;
  std::string what;
  std::vector<Claim> claims;
  std::vector<std::string> names;
  std::string out;                  // data a write sends
  std::string in;                   // buffer a read fills
  std::vector<iovec> iov;
  std::string expect_data;          // what a read must return
  std::int64_t expect = 0;          // >= 0: the count (or size for stat); < 0: -errno
  std::unique_ptr<Handle> closing;  // a handle being closed or dropped
  int open_inode = -1;              // the inode an open will bind to
  int open_access = 0;
};

class Differential {
 public:
  Differential(Engine& engine, const std::filesystem::path& dir, std::uint64_t seed)
      : engine_(engine), dir_(dir), rng_(seed) {
    probe_fallocate_modes();
  }

  // Runs `ops` ops; returns an empty string or the first failure with context.
  std::string run(std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops && failure_.empty(); ++i) {
      if (i % 97 == 0) depth_ = std::array<std::size_t, 8>{1, 2, 4, 8, 16, 32, 64, 128}[pick(8)];
      issue_one();
      if (i > 0 && i % 5000 == 0) {
        drain();
        check_named_files();
      }
    }
    drain();
    if (failure_.empty()) check_named_files();
    if (failure_.empty()) check_through_handles();
    if (failure_.empty()) check_directory();
    close_everything();
    return failure_;
  }

  std::string summary() const {
    std::ostringstream s;
    std::uint64_t total = 0;
    for (auto n : counts_) total += n;
    s << total << " ops (";
    for (int k = 0; k < kKinds; ++k) s << (k ? ", " : "") << kKindNames[static_cast<std::size_t>(k)] << ' ' << counts_[static_cast<std::size_t>(k)];
    s << "), " << refused_ << " expected errors, most in flight " << most_in_flight_;
    return s.str();
  }

 private:
  // --- randomness ---
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return static_cast<int>(pick(100)) < percent; }

  std::size_t random_length() {
    switch (pick(10)) {
      case 0: return 0;
      case 1: case 2: case 3: return 1 + pick(100);
      case 4: return 4096 * (1 + pick(4));
      case 5: case 6: case 7: case 8: return 1 + pick(8192);
      default: return 1 + pick(kMaxLength);
    }
  }
  std::uint64_t random_offset(std::uint64_t size) {
    switch (pick(6)) {
      case 0: return 0;
      case 1: return std::min<std::uint64_t>(size, kMaxOffset);  // at the end: appends
      case 2: return 4096 * pick(kMaxOffset / 4096);            // aligned
      case 3: return std::min<std::uint64_t>(size + pick(20000), kMaxOffset);  // beyond the end
      default: return pick(std::min<std::uint64_t>(size, kMaxOffset) + 1);
    }
  }
  std::string random_data(std::size_t n) {
    std::string s(n, '\0');
    const auto tag = static_cast<char>('A' + pick(26));
    for (std::size_t i = 0; i < n; i += 64) s[i] = static_cast<char>(rng_());
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 64) s[i] = static_cast<char>(tag + static_cast<char>(i % 7));
    }
    return s;
  }

  // --- model ---
  std::string& content(int inode) { return inodes_[inode]; }
  std::string name_of(int i) const { return "f" + std::to_string(i); }
  std::string path_of(const std::string& name) const { return (dir_ / name).string(); }

  void probe_fallocate_modes() {
    const std::string probe = path_of("fallocate-probe");
    int fd = ::open(probe.c_str(), O_CREAT | O_RDWR, 0644);
    for (int mode : {0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE}) {
      if (fd >= 0 && ::fallocate(fd, mode, 0, 4096) == 0) fallocate_modes_.push_back(mode);
    }
    if (fd >= 0) ::close(fd);
    ::unlink(probe.c_str());
  }

  bool conflicts(const std::vector<Claim>& claims, const std::vector<std::string>& names) const {
    for (const auto& [id, p] : pending_) {
      for (const auto& c : claims) {
        for (const auto& o : p->claims) {
          if (c.overlaps(o)) return true;
        }
      }
      for (const auto& n : names) {
        if (std::find(p->names.begin(), p->names.end(), n) != p->names.end()) return true;
      }
    }
    return false;
  }

  void wait_some() {
    auto r = engine_.wait(std::chrono::seconds(30));
    if (!r) fail("wait: " + r.error().message());
    else if (*r == 0) fail("nothing completed for 30 s with " + std::to_string(pending_.size()) + " ops in flight");
  }

  void drain() {
    while (!pending_.empty() && failure_.empty()) wait_some();
    auto r = engine_.run();
    if (!r) fail("run: " + r.error().message());
  }

  // Waits until `p` fits under the depth and conflicts with nothing in flight.
  Pending& admit(std::unique_ptr<Pending> p) {
    while (failure_.empty() && (pending_.size() >= depth_ || conflicts(p->claims, p->names))) wait_some();
    p->id = ++serial_;
    log(p->what);
    Pending& ref = *p;
    pending_.emplace(p->id, std::move(p));
    most_in_flight_ = std::max(most_in_flight_, pending_.size());
    return ref;
  }

  void log(const std::string& what) {
    recent_.push_back("#" + std::to_string(serial_) + " " + what);
    if (recent_.size() > 24) recent_.pop_front();
  }

  void fail(const std::string& why) {
    if (!failure_.empty()) return;
    std::ostringstream s;
    s << why << "\nrecent ops (newest last):\n";
    for (const auto& r : recent_) s << "  " << r << '\n';
    failure_ = s.str();
  }

  void finish(std::uint64_t id, std::int64_t got, const std::string* data) {
    auto it = pending_.find(id);
    if (it == pending_.end()) {
      fail("completion for an op that was not in flight (delivered twice?) id " + std::to_string(id));
      return;
    }
    Pending& p = *it->second;
    if (got != p.expect) {
      fail(p.what + ": got " + describe(got) + ", model says " + describe(p.expect));
    } else if (data && *data != p.expect_data) {
      std::size_t at = 0;
      while (at < data->size() && (*data)[at] == p.expect_data[at]) ++at;
      fail(p.what + ": bytes differ from the model at +" + std::to_string(at));
    }
    pending_.erase(it);
  }

  static std::string describe(std::int64_t v) {
    if (v >= 0) return std::to_string(v);
    return std::string("-") + (strerrorname_np(static_cast<int>(-v)) ? strerrorname_np(static_cast<int>(-v)) : "?");
  }

  template <class R>
  static std::int64_t raw(const R& r) {
    return r ? 0 : -static_cast<std::int64_t>(r.error().value());
  }

  IoCallback io_done(std::uint64_t id, bool check_data) {
    return [this, id, check_data](Result<std::size_t> r) {
      auto it = pending_.find(id);
      const std::string* data = nullptr;
      std::string got;
      if (check_data && r && it != pending_.end()) {
        Pending& p = *it->second;
        got = p.in.substr(0, *r);
        data = &got;
      }
      finish(id, r ? static_cast<std::int64_t>(*r) : raw(r), data);
    };
  }
  DoneCallback done(std::uint64_t id) {
    return [this, id](Result<void> r) { finish(id, raw(r), nullptr); };
  }

  // --- ops ---
  void issue_one() {
    int kind;
    for (;;) {
      // fsync, truncate and fallocate are rarer: on ext4 they wait for the disk
      // (punching a hole writes back dirty pages) and cost milliseconds, the rest
      // microseconds.
      static constexpr std::array<std::size_t, kKinds> weights = {60, 40, 10, 220, 80, 220, 80, 2, 10, 10, 40, 20, 15};
      static constexpr std::size_t sum = [] {
        std::size_t total = 0;
        for (auto w : weights) total += w;
        return total;
      }();
      std::size_t roll = pick(sum), acc = 0;
      kind = 0;
      for (; kind < kKinds; ++kind) {
        acc += weights[static_cast<std::size_t>(kind)];
        if (roll < acc) break;
      }
      if (kind == kOpen || kind == kRename || kind == kUnlink || !handles_.empty()) break;
      kind = kOpen;
      break;
    }
    if (kind == kOpen && handles_.size() >= kMaxHandles) kind = kClose;
    ++counts_[static_cast<std::size_t>(kind)];
    switch (kind) {
      case kOpen: issue_open(); break;
      case kClose: case kDrop: issue_close(kind == kDrop); break;
      case kWrite: case kWritev: issue_write(kind == kWritev); break;
      case kRead: case kReadv: issue_read(kind == kReadv); break;
      case kFsync: issue_fsync(); break;
      case kTruncate: issue_truncate(); break;
      case kFallocate: issue_fallocate(); break;
      case kStat: issue_stat(); break;
      case kRename: issue_rename(); break;
      case kUnlink: issue_unlink(); break;
    }
  }

  std::size_t random_handle() { return pick(handles_.size()); }

  void issue_open() {
    auto p = std::make_unique<Pending>();
    const std::string name = name_of(static_cast<int>(pick(kNames)));
    const int access = std::array<int, 5>{O_RDWR, O_RDWR, O_RDWR, O_RDONLY, O_WRONLY}[pick(5)];
    int flags = access;
    if (chance(70)) flags |= O_CREAT;
    if ((flags & O_CREAT) && chance(5)) flags |= O_EXCL;
    if (access != O_RDONLY && chance(8)) flags |= O_TRUNC;
    p->names.push_back(name);
    p->what = "open " + name + " flags " + std::to_string(flags);
    auto it = names_.find(name);
    if (it == names_.end() && !(flags & O_CREAT)) {
      p->expect = -ENOENT;
    } else if (it != names_.end() && (flags & O_CREAT) && (flags & O_EXCL)) {
      p->expect = -EEXIST;
    } else {
      int inode;
      if (it == names_.end()) {
        inode = next_inode_++;
        inodes_[inode];
        names_[name] = inode;
      } else {
        inode = it->second;
      }
      if (flags & O_TRUNC) {
        p->claims.push_back({inode, 0, kEnd, true});
        content(inode).clear();
      }
      p->open_inode = inode;
      p->open_access = access;
    }
    if (p->expect < 0) ++refused_;
    Pending& ref = admit(std::move(p));
    const std::uint64_t id = ref.id;
    File::open(engine_, path_of(name), flags, 0644, [this, id](Result<File> f) {
      auto it = pending_.find(id);
      if (f && it != pending_.end() && it->second->open_inode >= 0) {
        auto h = std::make_unique<Handle>();
        h->file = std::move(*f);
        h->inode = it->second->open_inode;
        h->access = it->second->open_access;
        handles_.push_back(std::move(h));
      }
      // An open's result is its success, not a descriptor number.
      finish(id, f ? 0 : raw(f), nullptr);
    });
    // Later choices depend on the handles there are: waiting for the open keeps
    // a seed's op sequence the same whatever the timing, so a failure replays.
    while (failure_.empty() && pending_.count(id)) wait_some();
  }

  void issue_close(bool drop) {
    if (handles_.empty()) return;
    const std::size_t i = random_handle();
    std::unique_ptr<Handle> h = std::move(handles_[i]);
    handles_.erase(handles_.begin() + static_cast<std::ptrdiff_t>(i));
    if (drop) {
      log("drop handle of inode " + std::to_string(h->inode));
      h.reset();  // closed in the background once its ops are done
      return;
    }
    auto p = std::make_unique<Pending>();
    p->what = "close handle of inode " + std::to_string(h->inode);
    p->closing = std::move(h);
    Pending& ref = admit(std::move(p));
    ref.closing->file.close(done(ref.id));
  }

  // The claim of a change to [off, end) of an inode whose model size is `size`.
  static Claim change_claim(int inode, std::uint64_t off, std::uint64_t end, std::uint64_t size) {
    if (end > size) return {inode, std::min(off, size), kEnd, true};
    return {inode, off, end, true};
  }

  void issue_write(bool vectored) {
    Handle& h = *handles_[random_handle()];
    auto p = std::make_unique<Pending>();
    std::string& data = content(h.inode);
    const std::uint64_t off = random_offset(data.size());
    std::size_t total = 0;
    std::vector<std::size_t> pieces;
    if (vectored) {
      const std::size_t n = 1 + pick(8);
      for (std::size_t i = 0; i < n; ++i) pieces.push_back(chance(15) ? 0 : random_length() / n);
      for (auto len : pieces) total += len;
    } else {
      total = random_length();
    }
    p->out = random_data(total);
    p->what = std::string(vectored ? "writev " : "write ") + std::to_string(total) + " at " + std::to_string(off) +
              " to inode " + std::to_string(h.inode);
    if (!h.can_write()) {
      p->expect = -EBADF;
      ++refused_;
    } else {
      p->expect = static_cast<std::int64_t>(total);
      if (total > 0) {
        p->claims.push_back(change_claim(h.inode, off, off + total, data.size()));
        if (data.size() < off + total) data.resize(off + total, '\0');
        data.replace(off, total, p->out);
      }
    }
    Pending& ref = admit(std::move(p));
    if (vectored) {
      std::size_t at = 0;
      for (auto len : pieces) {
        ref.iov.push_back({len ? ref.out.data() + at : nullptr, len});
        at += len;
      }
      h.file.writev(ref.iov.data(), static_cast<int>(ref.iov.size()), static_cast<std::int64_t>(off), io_done(ref.id, false));
    } else {
      const void* buf = total == 0 && chance(50) ? nullptr : ref.out.data();
      h.file.write(buf, total, static_cast<std::int64_t>(off), io_done(ref.id, false));
    }
  }

  void issue_read(bool vectored) {
    Handle& h = *handles_[random_handle()];
    auto p = std::make_unique<Pending>();
    const std::string& data = content(h.inode);
    const std::uint64_t off = random_offset(data.size());
    std::vector<std::size_t> pieces;
    std::size_t total = 0;
    if (vectored) {
      const std::size_t n = 1 + pick(8);
      for (std::size_t i = 0; i < n; ++i) pieces.push_back(chance(15) ? 0 : random_length() / n);
      for (auto len : pieces) total += len;
    } else {
      total = random_length();
    }
    p->what = std::string(vectored ? "readv " : "read ") + std::to_string(total) + " at " + std::to_string(off) +
              " of inode " + std::to_string(h.inode);
    if (!h.can_read()) {
      p->expect = -EBADF;
      ++refused_;
    } else {
      const std::size_t n = off >= data.size() ? 0 : std::min<std::size_t>(total, data.size() - off);
      p->expect = static_cast<std::int64_t>(n);
      p->expect_data = data.substr(std::min<std::size_t>(off, data.size()), n);
      if (total > 0) p->claims.push_back({h.inode, off, off + total, false});
    }
    // Poisoned, so bytes the read fails to fill show.
    p->in.assign(total, '\xee');
    Pending& ref = admit(std::move(p));
    const bool check = h.can_read();
    if (vectored) {
      std::size_t at = 0;
      for (auto len : pieces) {
        ref.iov.push_back({len ? ref.in.data() + at : nullptr, len});
        at += len;
      }
      h.file.readv(ref.iov.data(), static_cast<int>(ref.iov.size()), static_cast<std::int64_t>(off), io_done(ref.id, check));
    } else {
      h.file.read(ref.in.data(), total, static_cast<std::int64_t>(off), io_done(ref.id, check));
    }
  }

  void issue_fsync() {
    Handle& h = *handles_[random_handle()];
    auto p = std::make_unique<Pending>();
    const bool data_only = chance(50);
    p->what = std::string(data_only ? "fdatasync" : "fsync") + " inode " + std::to_string(h.inode);
    Pending& ref = admit(std::move(p));
    if (data_only) h.file.fdatasync(done(ref.id));
    else h.file.fsync(done(ref.id));
  }

  void issue_truncate() {
    Handle& h = *handles_[random_handle()];
    auto p = std::make_unique<Pending>();
    std::string& data = content(h.inode);
    const std::uint64_t len = chance(30) ? 0 : pick(kMaxOffset + kMaxLength);
    p->what = "truncate inode " + std::to_string(h.inode) + " to " + std::to_string(len);
    if (!h.can_write()) {
      p->expect = -EINVAL;  // ftruncate(2) on a descriptor not open for writing
      ++refused_;
    } else {
      p->claims.push_back({h.inode, std::min<std::uint64_t>(len, data.size()), kEnd, true});
      data.resize(len, '\0');
    }
    Pending& ref = admit(std::move(p));
    h.file.truncate(static_cast<std::int64_t>(len), done(ref.id));
  }

  void issue_fallocate() {
    if (fallocate_modes_.empty()) return;
    Handle& h = *handles_[random_handle()];
    auto p = std::make_unique<Pending>();
    std::string& data = content(h.inode);
    const int mode = fallocate_modes_[pick(fallocate_modes_.size())];
    const std::uint64_t off = random_offset(data.size());
    const std::uint64_t len = 1 + pick(kMaxLength);
    const std::uint64_t end = off + len;
    p->what = "fallocate mode " + std::to_string(mode) + " " + std::to_string(len) + " at " + std::to_string(off) +
              " of inode " + std::to_string(h.inode);
    if (!h.can_write()) {
      p->expect = -EBADF;
      ++refused_;
    } else if (mode & FALLOC_FL_KEEP_SIZE) {
      p->claims.push_back({h.inode, off, end, true});
      if (mode & FALLOC_FL_PUNCH_HOLE) {
        const std::uint64_t stop = std::min<std::uint64_t>(end, data.size());
        if (off < stop) std::fill(data.begin() + static_cast<std::ptrdiff_t>(off), data.begin() + static_cast<std::ptrdiff_t>(stop), '\0');
      }
    } else {
      p->claims.push_back(change_claim(h.inode, off, end, data.size()));
      if (data.size() < end) data.resize(end, '\0');
      if (mode & FALLOC_FL_ZERO_RANGE) {
        std::fill(data.begin() + static_cast<std::ptrdiff_t>(off), data.begin() + static_cast<std::ptrdiff_t>(end), '\0');
      }
    }
    Pending& ref = admit(std::move(p));
    h.file.fallocate(mode, static_cast<std::int64_t>(off), static_cast<std::int64_t>(len), done(ref.id));
  }

  void issue_stat() {
    Handle& h = *handles_[random_handle()];
    auto p = std::make_unique<Pending>();
    p->what = "stat inode " + std::to_string(h.inode);
    p->expect = static_cast<std::int64_t>(content(h.inode).size());
    p->claims.push_back({h.inode, 0, kEnd, false});
    Pending& ref = admit(std::move(p));
    const std::uint64_t id = ref.id;
    h.file.stat([this, id](Result<FileStat> st) {
      finish(id, st ? static_cast<std::int64_t>(st->size) : raw(st), nullptr);
    });
  }

  void issue_rename() {
    auto p = std::make_unique<Pending>();
    const std::string from = name_of(static_cast<int>(pick(kNames)));
    std::string to = name_of(static_cast<int>(pick(kNames)));
    const bool no_replace = chance(25) && from != to;
    p->names = {from, to};
    p->what = "rename " + from + " -> " + to + (no_replace ? " (no replace)" : "");
    auto src = names_.find(from);
    if (src == names_.end()) {
      p->expect = -ENOENT;
    } else if (no_replace && names_.count(to)) {
      p->expect = -EEXIST;
    } else if (from != to) {
      const int inode = src->second;
      names_.erase(src);
      names_[to] = inode;
    }
    if (p->expect < 0) ++refused_;
    Pending& ref = admit(std::move(p));
    fs::rename(engine_, path_of(from), path_of(to), no_replace ? RenameFlags::NoReplace : RenameFlags::None,
               done(ref.id));
  }

  void issue_unlink() {
    auto p = std::make_unique<Pending>();
    const std::string name = name_of(static_cast<int>(pick(kNames)));
    p->names = {name};
    p->what = "unlink " + name;
    if (names_.erase(name) == 0) {
      p->expect = -ENOENT;
      ++refused_;
    }
    Pending& ref = admit(std::move(p));
    fs::unlink(engine_, path_of(name), done(ref.id));
  }

  // --- final checks ---
  void check_named_files() {
    for (const auto& [name, inode] : names_) {
      const std::string on_disk = read_plain(path_of(name));
      const std::string& model = content(inode);
      if (on_disk != model) {
        std::size_t at = 0;
        while (at < on_disk.size() && at < model.size() && on_disk[at] == model[at]) ++at;
        fail(name + " on disk has " + std::to_string(on_disk.size()) + " bytes, the model " +
             std::to_string(model.size()) + "; first difference at " + std::to_string(at));
        return;
      }
    }
    // Unreachable inodes can go from the model.
    std::set<int> live;
    for (const auto& [name, inode] : names_) live.insert(inode);
    for (const auto& h : handles_) live.insert(h->inode);
    for (const auto& [id, p] : pending_) live.insert(p->open_inode);
    for (auto it = inodes_.begin(); it != inodes_.end();) {
      it = live.count(it->first) ? std::next(it) : inodes_.erase(it);
    }
  }

  void check_through_handles() {
    for (const auto& h : handles_) {
      if (!h->can_read()) continue;
      const std::string& model = content(h->inode);
      std::string back(model.size() + 100, '\xee');
      std::optional<Result<std::size_t>> got;
      h->file.read_exact(back.data(), back.size(), 0, [&](Result<std::size_t> r) { got.emplace(r); });
      auto r = await(engine_, got);
      if (!r || *r != model.size() || back.compare(0, model.size(), model) != 0) {
        fail("reading inode " + std::to_string(h->inode) + " whole through its handle differs from the model");
        return;
      }
    }
  }

  void check_directory() {
    std::set<std::string> on_disk, model;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) on_disk.insert(e.path().filename().string());
    for (const auto& [name, inode] : names_) model.insert(name);
    if (on_disk != model) {
      std::string got, want;
      for (const auto& n : on_disk) got += n + " ";
      for (const auto& n : model) want += n + " ";
      fail("directory holds [" + got + "], the model [" + want + "]");
    }
  }

  void close_everything() {
    for (auto& h : handles_) h->file.close();
    auto r = engine_.run();
    if (!r) fail("run: " + r.error().message());
    handles_.clear();
  }

  Engine& engine_;
  std::filesystem::path dir_;
  std::mt19937_64 rng_;
  std::vector<int> fallocate_modes_;

  std::map<std::string, int> names_;
  std::unordered_map<int, std::string> inodes_;
  int next_inode_ = 0;
  std::vector<std::unique_ptr<Handle>> handles_;

  std::unordered_map<std::uint64_t, std::unique_ptr<Pending>> pending_;
  std::uint64_t serial_ = 0;
  std::size_t depth_ = 1;
  std::size_t most_in_flight_ = 0;
  std::deque<std::string> recent_;
  std::string failure_;
  std::array<std::uint64_t, kKinds> counts_{};
  std::uint64_t refused_ = 0;
};

class DifferentialTest : public EngineTest {};

TEST_P(DifferentialTest, RandomOpsMatchTheModel) {
  const std::uint64_t seed = chosen_seed();
  const std::uint64_t ops = env_number("RINGFILE_DIFF_OPS", 100'000);
  // Each engine also gets a seeded engine configuration: a tiny queue forces the
  // user-space overflow queue, the fast path on or off.
  std::mt19937_64 config_rng(seed);
  EngineOptions o = options();
  o.queue_depth = std::array<unsigned, 3>{4, 32, 256}[config_rng() % 3];
  o.cached_read_fast_path = config_rng() % 4 != 0;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message();

  const std::string config = "queue_depth " + std::to_string(o.queue_depth) + ", fast path " +
                             (o.cached_read_fast_path ? "on" : "off");
  const std::string engine_name = backend_name(::testing::TestParamInfo<Backend>(GetParam(), 0));
  // Printed first, so a crash or a hang still shows how to replay it.
  std::printf("[ %s ] seed %" PRIu64 " (replay with RINGFILE_SEED), %s, %" PRIu64 " ops\n", engine_name.c_str(), seed,
              config.c_str(), ops);
  std::fflush(stdout);
  Differential run(*engine, dir_.path(), seed);
  const std::string failure = run.run(ops);
  std::printf("[ %s ] %s\n", engine_name.c_str(), run.summary().c_str());
  RecordProperty("seed", std::to_string(seed));
  RecordProperty("ops", run.summary());
  EXPECT_TRUE(failure.empty()) << failure << "replay with RINGFILE_SEED=" << seed;
}

// Many files open at once, each with its own data, all in flight together.
TEST_P(DifferentialTest, ManyFilesOpenAtOnce) {
  const std::size_t count = env_number("RINGFILE_OPEN_FILES", 1000);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const rlim_t needed = static_cast<rlim_t>(count) + static_cast<rlim_t>(open_fds()) + 64;
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < needed) {
    GTEST_SKIP() << count << " open files need RLIMIT_NOFILE " << needed << ", the hard limit is " << saved.rlim_max;
  }
  struct Restore {
    rlimit limit;
    ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{saved};
  if (saved.rlim_cur < needed) {
    rlimit raised = saved;
    raised.rlim_cur = needed;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0) << std::strerror(errno);
  }

  const int before = open_fds();
  std::vector<File> files(count);
  std::size_t opened = 0;
  for (std::size_t i = 0; i < count; ++i) {
    File::open(engine(), dir_.file("many" + std::to_string(i)), O_CREAT | O_RDWR | O_TRUNC, 0644,
               [&, i](Result<File> f) {
                 ASSERT_TRUE(f) << "file " << i << ": " << f.error().message();
                 files[i] = std::move(*f);
                 ++opened;
               });
  }
  ASSERT_TRUE(engine().run());
  ASSERT_EQ(opened, count);
  EXPECT_EQ(open_fds(), before + static_cast<int>(count));

  std::vector<std::string> data(count);
  std::size_t wrote = 0;
  for (std::size_t i = 0; i < count; ++i) {
    data[i] = random_bytes(100 + i % 3000, static_cast<std::uint32_t>(i));
    files[i].write_all(data[i].data(), data[i].size(), 0, [&, i](Result<std::size_t> r) {
      ASSERT_TRUE(r) << "file " << i << ": " << r.error().message();
      EXPECT_EQ(*r, data[i].size());
      ++wrote;
    });
  }
  ASSERT_TRUE(engine().run());
  ASSERT_EQ(wrote, count);

  std::vector<std::string> back(count);
  std::size_t matched = 0;
  for (std::size_t i = 0; i < count; ++i) {
    back[i].assign(data[i].size() + 10, '\0');
    files[i].read(back[i].data(), back[i].size(), 0, [&, i](Result<std::size_t> r) {
      ASSERT_TRUE(r) << "file " << i << ": " << r.error().message();
      ASSERT_EQ(*r, data[i].size()) << "file " << i;
      matched += back[i].compare(0, data[i].size(), data[i]) == 0;
    });
  }
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(matched, count);

  std::size_t closed = 0;
  for (auto& f : files) {
    f.close([&](Result<void> r) {
      EXPECT_TRUE(r) << r.error().message();
      ++closed;
    });
  }
  ASSERT_TRUE(engine().run());
  EXPECT_EQ(closed, count);
  EXPECT_EQ(open_fds(), before);
  for (std::size_t i = 0; i < count; i += 97) {
    EXPECT_TRUE(read_plain(dir_.file("many" + std::to_string(i))) == data[i]) << "file " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, DifferentialTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
