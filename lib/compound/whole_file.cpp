#include "ringfile/whole_file.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>

#include <fcntl.h>
#include <unistd.h>

#include "api/engine_access.hpp"
#include "api/fs_ops.hpp"
#include "compound/job.hpp"
#include "sys/random_name.hpp"

namespace ringfile::fs {

using detail::EngineCore;
using detail::Job;

namespace {

// Each helper is a small state machine on the heap. Every step's callback owns the
// state (a unique_ptr, so the callback stays within the inline capacity) and hands
// it to the next step; buffers live in the state, so moving it moves no bytes.
// Each is a Job (job.hpp): every step is submitted under the context the helper
// was called in, long gone by the time a completion starts the next step.

struct ReadFile : Job {
  using Job::Job;
  File file;
  std::string data;
  std::size_t have = 0;
  std::size_t limit = 0;  // EngineOptions::max_read_file_size
  char probe[4096];
  std::error_code error;
  StringCallback callback;

  // Room for `size` bytes; false (the op fails with ENOMEM) when there is none.
  bool make_room(std::size_t size) {
    try {
      data.resize(size);
      return true;
    } catch (const std::bad_alloc&) {
      return false;
    }
  }

  static void opened(std::unique_ptr<ReadFile> self, Result<File> file) {
    if (!file) {
      self->callback(file.error());
      return;
    }
    ReadFile* s = self.get();
    s->file = std::move(*file);
    const auto in_context = s->step_scope();
    s->file.stat([self = std::move(self)](Result<FileStat> st) mutable {
      if (!st) return finish(std::move(self), st.error());
      if (st->size > self->limit) return finish(std::move(self), errno_code(EFBIG));
      // One byte more than the size: a file that did not change ends with one short
      // read_exact. Size 0 is also what /proc and /sys report for files with content.
      std::size_t first = st->size > 0 ? static_cast<std::size_t>(st->size) + 1 : 4096;
      if (!self->make_room(std::min(first, self->limit))) return finish(std::move(self), errno_code(ENOMEM));
      read_more(std::move(self));
    });
  }

  static void read_more(std::unique_ptr<ReadFile> self) {
    ReadFile* s = self.get();
    // Pipes, FIFOs and terminals are read in order from where they are.
    const std::int64_t at = s->file.seekable() ? static_cast<std::int64_t>(s->have) : kStreamOffset;
    const auto in_context = s->step_scope();
    s->file.read_exact(s->data.data() + s->have, s->data.size() - s->have, at,
                       [self = std::move(self)](Result<std::size_t> n) mutable {
                         if (!n) return finish(std::move(self), n.error());
                         ReadFile& s = *self;
                         s.have += *n;
                         if (s.have < s.data.size()) {  // end of file
                           s.data.resize(s.have);
                           return finish(std::move(self), {});
                         }
                         if (s.have >= s.limit) return probe_past_limit(std::move(self));
                         // It grew, or it is a size-0 special file: read on, up to the limit.
                         if (!s.make_room(std::min(s.data.size() * 2, s.limit))) {
                           return finish(std::move(self), errno_code(ENOMEM));
                         }
                         read_more(std::move(self));
                       });
  }

  // Exactly `limit` bytes so far: anything more is too much. The probe is a whole
  // block, as files like /proc/self/pagemap refuse reads of odd sizes.
  static void probe_past_limit(std::unique_ptr<ReadFile> self) {
    ReadFile* s = self.get();
    const std::int64_t at = s->file.seekable() ? static_cast<std::int64_t>(s->have) : kStreamOffset;
    const auto in_context = s->step_scope();
    s->file.read(s->probe, sizeof s->probe, at, [self = std::move(self)](Result<std::size_t> n) mutable {
      if (!n) return finish(std::move(self), n.error());
      finish(std::move(self), *n > 0 ? errno_code(EFBIG) : std::error_code{});
    });
  }

  static void finish(std::unique_ptr<ReadFile> self, std::error_code error) {
    ReadFile* s = self.get();
    s->error = error;
    s->file.close([self = std::move(self)](Result<void>) mutable {
      if (self->error) self->callback(self->error);
      else self->callback(std::move(self->data));
    });
  }
};

struct WriteFile : Job {
  using Job::Job;
  File file;
  std::string data;
  std::error_code error;
  DoneCallback callback;

  static void opened(std::unique_ptr<WriteFile> self, Result<File> file) {
    if (!file) {
      self->callback(file.error());
      return;
    }
    WriteFile* s = self.get();
    s->file = std::move(*file);
    if (s->data.empty()) return finish(std::move(self), {});
    // A FIFO or a terminal (`> fifo` in a shell) has no offset 0: it is written in order.
    const std::int64_t at = s->file.seekable() ? 0 : kStreamOffset;
    const auto in_context = s->step_scope();
    s->file.write_all(s->data.data(), s->data.size(), at, [self = std::move(self)](Result<std::size_t> n) mutable {
      std::error_code error = n ? std::error_code{} : n.error();
      if (n && *n != self->data.size()) error = errno_code(EIO);
      finish(std::move(self), error);
    });
  }

  static void finish(std::unique_ptr<WriteFile> self, std::error_code error) {
    WriteFile* s = self.get();
    s->error = error;
    s->file.close([self = std::move(self)](Result<void> closed) mutable {
      // A failed close can be the first sign of a failed write (NFS, quotas).
      if (!self->error && !closed) self->error = closed.error();
      if (self->error) self->callback(self->error);
      else self->callback(Result<void>{});
    });
  }
};

struct AtomicWrite : Job {
  using Job::Job;
  std::string target;
  std::string directory;
  std::string base;
  std::string temp;
  std::string data;
  mode_t mode = 0;
  int attempts = 0;
  File file;
  std::error_code error;
  DoneCallback callback;

  static constexpr int kMaxAttempts = 16;

  static void open_temp(std::unique_ptr<AtomicWrite> self) {
    AtomicWrite* s = self.get();
    // A leading dot hides it from globs; keep the name within NAME_MAX.
    s->temp = s->directory + "/." + s->base.substr(0, 200) + ".tmp-" + detail::random_suffix();
    const auto in_context = s->step_scope();
    detail::open_path(*s->core, s->temp, O_WRONLY | O_CREAT | O_EXCL, s->mode,
                      [self = std::move(self)](Result<File> file) mutable {
                        if (!file) {
                          if (file.error() == std::errc::file_exists && ++self->attempts < kMaxAttempts) {
                            return open_temp(std::move(self));
                          }
                          self->callback(file.error());
                          return;
                        }
                        self->file = std::move(*file);
                        write(std::move(self));
                      });
  }

  static void write(std::unique_ptr<AtomicWrite> self) {
    AtomicWrite* s = self.get();
    if (s->data.empty()) return sync(std::move(self));
    const auto in_context = s->step_scope();
    s->file.write_all(s->data.data(), s->data.size(), 0, [self = std::move(self)](Result<std::size_t> n) mutable {
      if (!n) return abandon(std::move(self), n.error());
      if (*n != self->data.size()) return abandon(std::move(self), errno_code(EIO));
      sync(std::move(self));
    });
  }

  static void sync(std::unique_ptr<AtomicWrite> self) {
    AtomicWrite* s = self.get();
    const auto in_context = s->step_scope();
    s->file.fsync([self = std::move(self)](Result<void> r) mutable {
      if (!r) return abandon(std::move(self), r.error());
      AtomicWrite* s = self.get();
      s->file.close([self = std::move(self)](Result<void> closed) mutable {
        if (!closed) return abandon(std::move(self), closed.error());
        rename(std::move(self));
      });
    });
  }

  static void rename(std::unique_ptr<AtomicWrite> self) {
    AtomicWrite* s = self.get();
    const auto in_context = s->step_scope();
    detail::rename_path(*s->core, s->temp, s->target, 0, [self = std::move(self)](Result<void> r) mutable {
      if (!r) return abandon(std::move(self), r.error());
      sync_directory(std::move(self));
    });
  }

  // The rename is durable only once the directory that records it is.
  static void sync_directory(std::unique_ptr<AtomicWrite> self) {
    AtomicWrite* s = self.get();
    const auto in_context = s->step_scope();
    detail::open_path(*s->core, s->directory, O_RDONLY | O_DIRECTORY, 0,
                      [self = std::move(self)](Result<File> dir) mutable {
                        if (!dir) return done(std::move(self), dir.error());
                        self->file = std::move(*dir);
                        const auto in_context = self->step_scope();
                        self->file.fsync([self = std::move(self)](Result<void> r) mutable {
                          // Some filesystems cannot fsync a directory; the rename is all they offer.
                          std::error_code error;
                          if (!r && r.error() != std::errc::invalid_argument) error = r.error();
                          AtomicWrite* s = self.get();
                          s->error = error;
                          s->file.close([self = std::move(self)](Result<void>) mutable {
                            const std::error_code error = self->error;  // before self is moved
                            done(std::move(self), error);
                          });
                        });
                      });
  }

  // Gives up before the rename: the target is untouched; remove the temporary file.
  static void abandon(std::unique_ptr<AtomicWrite> self, std::error_code error) {
    AtomicWrite* s = self.get();
    s->error = error;
    if (s->file.is_open()) {
      s->file.close([self = std::move(self)](Result<void>) mutable { unlink_temp(std::move(self)); });
      return;
    }
    unlink_temp(std::move(self));
  }

  static void unlink_temp(std::unique_ptr<AtomicWrite> self) {
    AtomicWrite* s = self.get();
    const auto in_context = s->step_scope();
    detail::unlink_path(*s->core, s->temp, 0, [self = std::move(self)](Result<void>) mutable {
      const std::error_code error = self->error;  // before self is moved
      done(std::move(self), error);
    });
  }

  static void done(std::unique_ptr<AtomicWrite> self, std::error_code error) {
    if (error) self->callback(error);
    else self->callback(Result<void>{});
  }
};

}  // namespace

void read_file(Engine& engine, std::string_view path, StringCallback callback) {
  detail::EngineCore* core = detail::EngineAccess::core_if_any(engine);
  auto s = std::make_unique<ReadFile>(core);
  s->callback = std::move(callback);
  s->limit = core ? core->options().max_read_file_size : EngineOptions{}.max_read_file_size;
  File::open(engine, path, O_RDONLY, [s = std::move(s)](Result<File> file) mutable {
    ReadFile::opened(std::move(s), std::move(file));
  });
}

void write_file(Engine& engine, std::string_view path, std::string data, mode_t mode, DoneCallback callback) {
  auto s = std::make_unique<WriteFile>(detail::EngineAccess::core_if_any(engine));
  s->data = std::move(data);
  s->callback = std::move(callback);
  File::open(engine, path, O_WRONLY | O_CREAT | O_TRUNC, mode, [s = std::move(s)](Result<File> file) mutable {
    WriteFile::opened(std::move(s), std::move(file));
  });
}

void write_file_atomic(Engine& engine, std::string_view path, std::string data, mode_t mode,
                       DoneCallback callback) {
  detail::EngineCore* core = detail::EngineAccess::core_if_any(engine);
  if (!core) {
    // A moved-from Engine: nothing could deliver the error later (as File::open).
    if (callback) callback(errno_code(EBADF));
    return;
  }
  auto s = std::make_unique<AtomicWrite>(core);
  s->target.assign(path);
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    s->directory.assign(1, '.');
    s->base.assign(path);
  } else {
    s->directory.assign(path.substr(0, slash == 0 ? 1 : slash));
    s->base.assign(path.substr(slash + 1));
  }
  s->data = std::move(data);
  s->mode = mode;
  s->callback = std::move(callback);
  AtomicWrite::open_temp(std::move(s));
}

}  // namespace ringfile::fs
