// In-kernel copies: File::copy_to and fs::copy_file. copy_file_range(2) runs as
// an op of its own (on the pool: io_uring has no opcode for it); where the kernel
// refuses it, the copy goes on with reads and writes through the engine. A pipe,
// FIFO or socket on either side (which copy_file_range refuses with EINVAL) is
// read or written in order, at its stream position, until end of file.
// Overlapping ranges of one file are copied as memmove does: by reads and writes,
// from the end backwards when the destination lies after the source.

#include <algorithm>
#include <cerrno>
#include <climits>
#include <memory>
#include <vector>

#include <fcntl.h>

#include "api/completion.hpp"
#include "api/engine_access.hpp"
#include "api/file_access.hpp"
#include "api/fs_ops.hpp"
#include "compound/job.hpp"
#include "core/engine_core.hpp"
#include "ringfile/whole_file.hpp"

namespace ringfile {

using detail::EngineCore;
using detail::FeatureState;
using detail::feature_state;
using detail::FileAccess;
using detail::FileFeature;
using detail::FileState;
using detail::Job;
using detail::find_feature_state;

namespace {

constexpr std::size_t kRangeChunk = 64u << 20;   // per copy_file_range: bounds the time of one op
constexpr std::size_t kBufferChunk = 256u << 10;  // per read/write of the fallback

// The kernel's ways of saying "not between these two files": copy with reads and writes.
bool copy_range_refused(std::int64_t res) {
  return res == -EXDEV || res == -EOPNOTSUPP || res == -EINVAL || res == -ENOSYS;
}

// Destinations copy_file_range refused from a file: copy_to reads and writes to them.
struct RefusedPairs final : FeatureState {
  std::vector<const FileState*> destinations;
};

bool pair_refused(const FileState& src, const FileState* dst) {
  const auto* refused = find_feature_state<RefusedPairs>(src, FileFeature::Copies);
  return refused && std::find(refused->destinations.begin(), refused->destinations.end(), dst) !=
                        refused->destinations.end();
}

struct CopyJob : Job {
  using Job::Job;
  File* src = nullptr;
  File* dst = nullptr;
  std::int64_t offset = 0;
  std::int64_t dest_offset = 0;
  std::size_t left = 0;
  std::size_t done = 0;
  bool by_buffer = false;
  bool src_stream = false;  // read at the stream position (kStreamOffset)
  bool dst_stream = false;
  bool after_zero = false;  // copy_file_range said 0: a read tells end of file from a lie
  // One file, the destination overlapping the source from after it: chunks go from
  // the end of the range backwards, so none overwrites bytes still to be read.
  // offset and dest_offset stay at the range's start; `left` is what precedes.
  bool backward = false;
  dev_t src_device = 0;  // the source's, while looking for an overlap
  std::uint64_t src_inode = 0;
  std::uint64_t src_size = 0;
  std::unique_ptr<char[]> buffer;
  IoCallback callback;

  static void start(std::unique_ptr<CopyJob> job) {
    // copy_file_range takes regular files only: a stream goes by reads and writes
    // from the start, and the pair is not recorded as refused.
    job->by_buffer = job->src_stream || job->dst_stream ||
                     pair_refused(*FileAccess::state(*job->src), FileAccess::state(*job->dst));
    step(std::move(job));
  }

  static void step(std::unique_ptr<CopyJob> job) {
    if (job->left == 0) return finish(std::move(job), 0);
    if (job->by_buffer) return read_step(std::move(job));
    range_step(std::move(job));
  }

  // Whether the two ranges could overlap if both Files were one file: only then
  // is it worth asking (two statx) whether they are.
  bool may_overlap() const noexcept {
    if (src_stream || dst_stream || offset == dest_offset) return false;
    return left == kToEnd || distance() < left;
  }
  std::uint64_t distance() const noexcept {
    return static_cast<std::uint64_t>(offset > dest_offset ? offset - dest_offset : dest_offset - offset);
  }

  // Two Files may name one inode (a hard link, a second open): their device and
  // inode tell. copy_file_range refuses overlapping ranges of one file (EINVAL),
  // and a front-to-back copy would read what an earlier chunk already overwrote.
  static void find_overlap(std::unique_ptr<CopyJob> job) {
    CopyJob* j = job.get();
    const auto in_context = j->step_scope();
    j->src->stat([job = std::move(job)](Result<FileStat> st) mutable {
      if (!st) return finish(std::move(job), -st.error().value());
      job->src_device = st->device;
      job->src_inode = st->inode;
      job->src_size = st->size;
      if (job->src == job->dst) return one_file(std::move(job));
      CopyJob* j = job.get();
      const auto in_context = j->step_scope();
      j->dst->stat([job = std::move(job)](Result<FileStat> st) mutable {
        if (!st) return finish(std::move(job), -st.error().value());
        if (st->device != job->src_device || st->inode != job->src_inode) return start(std::move(job));
        one_file(std::move(job));
      });
    });
  }

  static void one_file(std::unique_ptr<CopyJob> job) {
    // The range ends where the file ends when the copy starts (kToEnd too): a
    // destination after the source moves the end as the copy goes.
    const auto from = static_cast<std::uint64_t>(job->offset);
    const std::uint64_t to_end = job->src_size > from ? job->src_size - from : 0;
    job->left = static_cast<std::size_t>(std::min<std::uint64_t>(job->left, to_end));
    if (job->distance() >= job->left) return start(std::move(job));  // disjoint: copy_file_range takes them
    // Front to back is right when the destination comes first; backwards otherwise.
    job->by_buffer = true;
    job->backward = job->dest_offset > job->offset;
    step(std::move(job));
  }

  // An error ends the copy with that error, whatever was copied before it: a
  // count would pass for the complete copy of a shorter file (a full disk).
  static void finish(std::unique_ptr<CopyJob> job, std::int64_t res) {
    if (!job->callback) return;
    if (res < 0) job->callback(detail::error_of(res));
    else job->callback(job->done);
  }

  void advance(std::size_t n) {
    done += n;
    left -= n;
    offset += static_cast<std::int64_t>(n);
    dest_offset += static_cast<std::int64_t>(n);
  }

  // Where a chunk of `want` bytes starts, from offset and dest_offset.
  std::int64_t chunk_start(std::size_t want) const noexcept {
    return backward ? static_cast<std::int64_t>(left - want) : 0;
  }

  void fall_back(FileState* from, FileState* to) {
    by_buffer = true;
    if (!pair_refused(*from, to)) feature_state<RefusedPairs>(*from, FileFeature::Copies).destinations.push_back(to);
  }

  static void range_step(std::unique_ptr<CopyJob> job) {
    FileState* from = FileAccess::state(*job->src);
    FileState* to = FileAccess::state(*job->dst);
    if (!from || !from->core || !to || to->fd < 0 || to->closing) return finish(std::move(job), -EBADF);
    EngineCore& core = *from->core;
    const std::size_t n = std::min(job->left, kRangeChunk);
    detail::Request* r =
        core.make_request(detail::OpArgs::copy_range(from->fd, job->offset, to->fd, job->dest_offset, n));
    // The destination stays open while the op may write it.
    core.hold(to);
    const auto in_context = job->step_scope();
    r->completion.set([job = std::move(job), from, to, &core](std::int64_t res) mutable {
      core.release(to);
      range_done(std::move(job), from, to, res);
    });
    core.submit_file_op(from, r);
  }

  static void range_done(std::unique_ptr<CopyJob> job, FileState* from, FileState* to, std::int64_t res) {
    if (res > 0) {
      job->advance(static_cast<std::size_t>(res));
      return step(std::move(job));
    }
    if (res == 0) {
      // End of file, or a filesystem that copies nothing (/proc, /sys: size 0).
      job->by_buffer = true;
      job->after_zero = true;
      return step(std::move(job));
    }
    if (copy_range_refused(res)) {
      job->fall_back(from, to);
      return step(std::move(job));
    }
    finish(std::move(job), res);
  }

  static void read_step(std::unique_ptr<CopyJob> job) {
    if (!job->buffer) job->buffer = std::make_unique<char[]>(kBufferChunk);
    CopyJob* j = job.get();
    const std::size_t want = std::min(j->left, kBufferChunk);
    const std::int64_t at = j->src_stream ? kStreamOffset : j->offset + j->chunk_start(want);
    IoCallback read = [job = std::move(job), want](Result<std::size_t> n) mutable {
      if (!n) return finish(std::move(job), -n.error().value());
      if (*n == 0) return finish(std::move(job), 0);  // end of file as seen now
      if (job->after_zero) {
        // copy_file_range's 0 was not the end: never ask it again for this pair.
        job->after_zero = false;
        job->fall_back(FileAccess::state(*job->src), FileAccess::state(*job->dst));
      }
      write_step(std::move(job), *n, want);
    };
    const auto in_context = j->step_scope();
    // Backwards, a short read would leave a gap below the chunk copied before.
    if (j->backward) j->src->read_exact(j->buffer.get(), want, at, std::move(read));
    else j->src->read(j->buffer.get(), want, at, std::move(read));
  }

  static void write_step(std::unique_ptr<CopyJob> job, std::size_t n, std::size_t want) {
    CopyJob* j = job.get();
    const std::int64_t at = j->dst_stream ? kStreamOffset : j->dest_offset + j->chunk_start(want);
    const auto in_context = j->step_scope();
    j->dst->write_all(j->buffer.get(), n, at, [job = std::move(job), n, want](Result<std::size_t> w) mutable {
      if (!w) return finish(std::move(job), -w.error().value());
      if (job->backward) {
        job->done += n;
        job->left -= want;
      } else {
        job->advance(n);
      }
      step(std::move(job));
    });
  }
};

// The errno copy_to fails with before any syscall, or 0. Lengths above SSIZE_MAX
// (a negative length cast to size_t) are EINVAL, except kToEnd.
int copy_args_error(const File& src, const File& dst, std::int64_t offset, std::int64_t dest_offset,
                    std::size_t length) {
  if (offset < 0 || dest_offset < 0 || (length > SSIZE_MAX && length != kToEnd)) return EINVAL;
  // A File that outlived its engine has no engine to copy with.
  if (!src.is_open() || !dst.is_open() || !FileAccess::core(src)) return EBADF;
  if (FileAccess::core(src) != FileAccess::core(dst)) return EXDEV;
  return 0;
}

}  // namespace

void File::copy_to(File& dest, std::int64_t offset, std::int64_t dest_offset, std::size_t length,
                   IoCallback callback) {
  EngineCore* core = FileAccess::core(*this);
  if (core && core->rejects_foreign(callback)) return;
  auto job = std::make_unique<CopyJob>(core);
  job->src = this;
  job->dst = &dest;
  job->offset = offset;
  job->dest_offset = dest_offset;
  job->left = length;
  job->callback = std::move(callback);
  if (int err = copy_args_error(*this, dest, offset, dest_offset, length)) {
    // A File with no engine behind it has no poll to wait for: its callback runs at once.
    if (!core) return CopyJob::finish(std::move(job), -err);
    // Through the engine, like every other op's error: the callback runs in a poll.
    detail::Request* r = core->make_request(detail::OpArgs::nop());
    r->completion.set([job = std::move(job)](std::int64_t res) mutable { CopyJob::finish(std::move(job), res); });
    core->fail(r, err);
    return;
  }
  job->src_stream = state_->stream_only;
  job->dst_stream = dest.state_->stream_only;
  if (job->may_overlap()) return CopyJob::find_overlap(std::move(job));
  CopyJob::start(std::move(job));
}

namespace fs {

namespace {

struct CopyFile : Job {
  using Job::Job;
  std::string to;
  File src;
  File dst;
  FileStat source;
  std::size_t copied = 0;
  std::error_code error;
  IoCallback callback;

  static void opened_source(std::unique_ptr<CopyFile> self, Result<File> file) {
    if (!file) return self->callback(file.error());
    self->src = std::move(*file);
    CopyFile* s = self.get();
    const auto in_context = s->step_scope();
    s->src.stat([self = std::move(self)](Result<FileStat> st) mutable {
      if (!st) return close_all(std::move(self), st.error());
      if (st->is_directory()) return close_all(std::move(self), errno_code(EISDIR));
      self->source = *st;
      open_destination(std::move(self));
    });
  }

  // Without O_TRUNC: `to` may be the source under another name (the same path, a
  // hard link, a symlink), which truncating would empty. The opened file's own
  // device and inode say so, with no window for a rename between a stat and the open.
  static void open_destination(std::unique_ptr<CopyFile> self) {
    CopyFile* s = self.get();
    const auto in_context = s->step_scope();
    detail::open_path(*s->core, s->to, O_WRONLY | O_CREAT, s->source.mode & 07777,
                      [self = std::move(self)](Result<File> dst) mutable {
                        if (!dst) return close_all(std::move(self), dst.error());
                        self->dst = std::move(*dst);
                        CopyFile* s = self.get();
                        const auto in_context = s->step_scope();
                        s->dst.stat([self = std::move(self)](Result<FileStat> st) mutable {
                          if (!st) return close_all(std::move(self), st.error());
                          if (st->same_file_as(self->source)) return close_all(std::move(self), errno_code(EINVAL));
                          // A FIFO or a device has nothing to cut (ftruncate says EINVAL).
                          if (!st->is_regular()) return copy(std::move(self));
                          CopyFile* s = self.get();
                          const auto in_context = s->step_scope();
                          s->dst.truncate(0, [self = std::move(self)](Result<void> emptied) mutable {
                            if (!emptied) return close_all(std::move(self), emptied.error());
                            copy(std::move(self));
                          });
                        });
                      });
  }

  static void copy(std::unique_ptr<CopyFile> self) {
    CopyFile* s = self.get();
    const auto in_context = s->step_scope();
    s->src.copy_to(s->dst, 0, 0, kToEnd, [self = std::move(self)](Result<std::size_t> n) mutable {
      if (n) self->copied = *n;
      close_all(std::move(self), n ? std::error_code{} : n.error());
    });
  }

  static void close_all(std::unique_ptr<CopyFile> self, std::error_code error) {
    self->error = error;
    CopyFile* s = self.get();
    if (s->src.is_open()) s->src.close();
    if (!s->dst.is_open()) return done(std::move(self));
    s->dst.close([self = std::move(self)](Result<void> closed) mutable {
      // A failed close can be the first sign of a failed write (NFS, quotas).
      if (!self->error && !closed) self->error = closed.error();
      done(std::move(self));
    });
  }

  static void done(std::unique_ptr<CopyFile> self) {
    if (!self->callback) return;
    if (self->error) self->callback(self->error);
    else self->callback(self->copied);
  }
};

}  // namespace

void copy_file(Engine& engine, std::string_view from, std::string_view to, IoCallback callback) {
  auto s = std::make_unique<CopyFile>(detail::EngineAccess::core_if_any(engine));
  s->to.assign(to);
  s->callback = std::move(callback);
  File::open(engine, from, O_RDONLY, [s = std::move(s)](Result<File> file) mutable {
    CopyFile::opened_source(std::move(s), std::move(file));
  });
}

}  // namespace fs
}  // namespace ringfile
