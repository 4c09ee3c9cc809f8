// ringfile-cp: copies a file through a ringfile engine: in the kernel with
// File::copy_to (copy_file_range, or reads and writes where the kernel refuses),
// or with --direct through a pipeline of coroutines, each reading an aligned block
// and writing it at the same offset, several in flight at once. Files whose size
// lies (/proc, /sys) are copied to their end, and a FIFO or pipe (SOURCE or DEST)
// is read or written until its writer closes. fsyncs a regular DEST at the end.
// A copy that fails part-way (a full disk) exits 1 and says why; a DEST it
// created is removed, one that was there before is left and said to be incomplete.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <ringfile/ringfile.hpp>

#include "common.hpp"

namespace {

using namespace ringfile;

struct Options {
  Backend backend = Backend::Auto;
  std::size_t queue_depth = 16;
  std::size_t block = 256 * 1024;
  bool direct = false;
  bool verbose = false;
  std::string from;
  std::string to;
};

std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

struct Copy {
  File& src;
  File& dst;
  std::size_t block;
  std::size_t align;  // 1 unless O_DIRECT
  std::uint64_t size;
  std::uint64_t next = 0;
};

// Reads up to `want` bytes at `offset`. With O_DIRECT a short read that is not a
// whole number of blocks is the end of the file; reading on from there would use
// an unaligned offset.
Task<Result<std::size_t>> read_block(Copy& c, AlignedBuffer& buf, std::size_t want, std::int64_t offset) {
  std::size_t got = 0;
  while (got < want) {
    auto n = co_await c.src.read(buf.data() + got, want - got, offset + static_cast<std::int64_t>(got));
    if (!n) co_return n.error();
    if (*n == 0) break;
    got += *n;
    if (got % c.align != 0) break;
  }
  co_return got;
}

// One stage of the pipeline: claims the next block, reads it, writes it.
Task<Result<void>> worker(Copy& c) {
  AlignedBuffer buf(c.block, std::max<std::size_t>(c.align, 64));
  while (c.next < c.size) {
    const auto offset = static_cast<std::int64_t>(c.next);
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(c.block, c.size - c.next));
    c.next += c.block;
    auto got = co_await read_block(c, buf, round_up(want, c.align), offset);
    if (!got) co_return got.error();
    if (*got == 0) break;  // the source shrank
    // O_DIRECT writes whole blocks; the file is cut back to size at the end.
    auto wrote = co_await c.dst.write_all(buf.data(), round_up(*got, c.align), offset);
    if (!wrote) co_return wrote.error();
  }
  co_return Result<void>{};
}

Task<Result<File>> open_maybe_direct(Engine& engine, const std::string& path, int flags, mode_t mode, bool& direct) {
  if (direct) {
    auto f = co_await File::open(engine, path, flags | O_DIRECT, mode);
    if (f || f.error() != std::errc::invalid_argument) co_return f;
    std::fprintf(stderr, "ringfile-cp: %s: O_DIRECT not supported here, copying through the page cache\n",
                 path.c_str());
    direct = false;
  }
  co_return co_await File::open(engine, path, flags, mode);
}

Task<Result<void>> finish(File& src, File& dst) {
  if (dst.seekable()) {  // a FIFO has nothing to sync (fsync says EINVAL)
    auto synced = co_await dst.fsync();
    if (!synced) co_return synced.error();
  }
  (void)co_await src.async_close();
  co_return co_await dst.async_close();
}

// The copy's permission bits. Like coreutils, a set-user-ID or set-group-ID bit
// is dropped when the copy's owner or group (ours) is not the source's: root
// copying another user's set-uid program must not make a set-uid root one.
mode_t copy_mode(const FileStat& source) {
  mode_t mode = source.mode & 07777;
  if (source.uid != ::geteuid()) mode &= ~mode_t{S_ISUID};
  if (source.gid != ::getegid()) mode &= ~mode_t{S_ISGID};
  return mode;
}

// What the copy did to DEST, for the message and the clean-up after a failure.
struct Outcome {
  bool same_file = false;  // DEST is SOURCE under another name (or the same one)
  bool created = false;    // DEST did not exist: a partial copy is ours to remove
  bool replaced = false;   // DEST existed and was truncated: its old content is gone
};

Task<Result<void>> remove(Engine& engine, std::string path) { co_return co_await fs::unlink(engine, path); }

// Opens DEST, creating it if it is missing; `created` says whether it was.
Task<Result<File>> open_destination(Engine& engine, const std::string& path, mode_t mode, bool& direct,
                                    bool& created) {
  auto made = co_await File::open(engine, path, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (!made && made.error() != std::errc::file_exists) co_return made;
  created = bool(made);
  if (made && !direct) co_return made;
  // O_DIRECT on an open of its own: one the filesystem refuses can have created
  // the file first, which would hide whether it was there before.
  co_return co_await open_maybe_direct(engine, path, O_WRONLY | O_CREAT, mode, direct);
}

Task<Result<void>> copy(Engine& engine, Options o, Outcome& outcome) {
  auto src = co_await open_maybe_direct(engine, o.from, O_RDONLY, 0, o.direct);
  if (!src) co_return src.error();
  auto st = co_await src->stat();
  if (!st) co_return st.error();
  if (st->is_directory()) co_return errno_code(EISDIR);
  // Not O_TRUNC: until its device and inode are known, DEST may be SOURCE itself
  // (the same path, a hard link, a symlink), which truncating would destroy.
  auto dst = co_await open_destination(engine, o.to, copy_mode(*st), o.direct, outcome.created);
  if (!dst) co_return dst.error();
  auto dst_st = co_await dst->stat();
  if (!dst_st) co_return dst_st.error();
  if (dst_st->same_file_as(*st)) {
    outcome.same_file = true;
    co_return errno_code(EINVAL);
  }
  if (dst_st->is_regular() && !outcome.created) {  // a FIFO or device can't be truncated (EINVAL)
    outcome.replaced = true;
    if (auto emptied = co_await dst->truncate(0); !emptied) co_return emptied.error();
  }
  if (!o.direct && (src->direct_alignment() > 1)) {
    // The destination refused O_DIRECT: read the source through the cache too.
    src = co_await File::open(engine, o.from, O_RDONLY);
    if (!src) co_return src.error();
  }

  if (!o.direct || !st->is_regular()) {  // a FIFO's size says nothing: read it to its end
    auto copied = co_await src->copy_to(*dst, 0, 0, kToEnd);
    if (!copied) co_return copied.error();
    co_return co_await finish(*src, *dst);
  }

  const std::size_t align = std::max(src->direct_alignment(), dst->direct_alignment());
  Copy c{*src, *dst, round_up(o.block, align), align, st->size};
  std::vector<Task<Result<void>>> stages;
  const std::size_t blocks = static_cast<std::size_t>((c.size + c.block - 1) / c.block);
  for (std::size_t i = 0; i < std::min(o.queue_depth, std::max<std::size_t>(blocks, 1)); ++i) {
    stages.push_back(worker(c));
  }
  auto results = co_await when_all(std::move(stages));
  for (auto& r : results) {
    if (!r) co_return r.error();
  }
  if (c.size % align != 0) {
    auto cut = co_await dst->truncate(static_cast<std::int64_t>(c.size));
    if (!cut) co_return cut.error();
  }
  co_return co_await finish(*src, *dst);
}

int usage() {
  std::fprintf(stderr,
               "usage: ringfile-cp [-v] [--engine=auto|io_uring|threadpool] [--qd=N] [--block=BYTES[K|M]] [--direct] "
               "SOURCE DEST\n"
               "  -v  name the engine on stderr\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i], value;
    if (example::option(arg, "engine", value)) {
      if (!example::parse_backend(value, o.backend)) return usage();
    } else if (example::option(arg, "qd", value)) {
      if (!example::parse_size(value, o.queue_depth)) return usage();
    } else if (example::option(arg, "block", value)) {
      if (!example::parse_size(value, o.block)) return usage();
    } else if (arg == "--direct") {
      o.direct = true;
    } else if (arg == "-v" || arg == "--verbose") {
      o.verbose = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage();
    } else {
      paths.emplace_back(arg);
    }
  }
  if (paths.size() != 2) return usage();
  o.from = paths[0];
  o.to = paths[1];

  EngineOptions eo;
  eo.backend = o.backend;
  auto engine = Engine::create(eo);
  if (!engine) {
    std::fprintf(stderr, "ringfile-cp: no engine: %s\n", engine.error().message().c_str());
    return 1;
  }
  if (o.verbose) std::fprintf(stderr, "ringfile-cp: engine: %s\n", engine->describe().c_str());

  Outcome outcome;
  auto copied = sync_wait(*engine, copy(*engine, o, outcome));
  if (outcome.same_file) {
    std::fprintf(stderr, "ringfile-cp: '%s' and '%s' are the same file\n", o.from.c_str(), o.to.c_str());
    return 1;
  }
  if (!copied) {
    std::fprintf(stderr, "ringfile-cp: %s -> %s: %s\n", o.from.c_str(), o.to.c_str(), copied.error().message().c_str());
    if (outcome.created) {
      // Ours alone, and a truncated copy left under DEST's name would pass for the file.
      auto removed = sync_wait(*engine, remove(*engine, o.to));
      if (removed) {
        std::fprintf(stderr, "ringfile-cp: removed the incomplete copy '%s'\n", o.to.c_str());
      } else {
        std::fprintf(stderr, "ringfile-cp: '%s' holds an incomplete copy and could not be removed: %s\n",
                     o.to.c_str(), removed.error().message().c_str());
      }
    } else if (outcome.replaced) {
      std::fprintf(stderr, "ringfile-cp: '%s' existed; its old content is gone and it now holds an incomplete copy\n",
                   o.to.c_str());
    }
    return 1;
  }
  return 0;
}
